/* sdk/lib/nn_transformer.c — attention building blocks of the SDK helper library
 * (cvnets/nn.h): multi-head self-attention, the pre-norm transformer encoder
 * block, MobileViT's patch unfolding/folding and the MobileViT v1 / v2 blocks. */
#include "nn_internal.h"

#include <math.h>
#include <stdio.h>

const cv_transformer_names cv_transformer_names_torchvision = {
    "ln_1", "self_attention", "ln_2", "mlp.0", "mlp.3", { "in_proj_weight", "in_proj_bias", "out_proj" }
};
const cv_transformer_names cv_transformer_names_cvnets = {
    "pre_norm_mha.0", "pre_norm_mha.1", "pre_norm_ffn.0", "pre_norm_ffn.1", "pre_norm_ffn.4",
    { "qkv_proj.weight", "qkv_proj.bias", "out_proj" }
};

static cv_tensor *slice(const cv_nn *nn, cv_tensor *x, int axis, int64_t start, int64_t len) {
    cv_slice_params p = { axis, 0, start, len };
    return CV_OP1(nn->ops, nn->g, CV_OP_SLICE, x, &p);
}

static cv_tensor *resize(const cv_nn *nn, cv_tensor *x, int64_t h, int64_t w) {
    cv_resize_params p = { (int32_t)h, (int32_t)w, CV_RESIZE_BILINEAR, 0 };
    return CV_OP1(nn->ops, nn->g, CV_OP_RESIZE, x, &p);
}

cv_tensor *cv_nn_mhsa(const cv_nn *nn, const char *name, const cv_mhsa_names *names, cv_tensor *x, int heads,
                      float attn_dropout) {
    if (!x) return NULL;
    int64_t b = cv_nn_dim(nn, x, 0), n = cv_nn_dim(nn, x, 1), d = cv_nn_dim(nn, x, 2);
    if (heads <= 0 || d % heads != 0) {
        nn->ops->fail(nn->g, CV_ERR_INVALID, "attention %s: embedding dim %lld not divisible by %d heads",
                      name ? name : "", (long long)d, heads);
        return NULL;
    }
    int64_t hd = d / heads;
    int np = cv_nn_push_path_(nn, name);
    cv_tensor *qkv = cv_nn_linear_named(nn, names->qkv_weight, names->qkv_bias, x, (int)(3 * d), CV_INIT_LINEAR_TRUNC);
    qkv = cv_reshape(nn->ops, nn->g, qkv, CV_SHAPE(b, n, 3, heads, hd));
    qkv = cv_permute(nn->ops, nn->g, qkv, 5, (const int32_t[]){ 2, 0, 3, 1, 4 }); /* [3, B, H, N, hd] */
    cv_tensor *t[3];
    for (int i = 0; i < 3; i++) t[i] = cv_reshape(nn->ops, nn->g, slice(nn, qkv, 0, i, 1), CV_SHAPE(b, heads, n, hd));
    float scale = 1.0f / sqrtf((float)hd);
    cv_tensor *o;
    if (attn_dropout > 0.0f && nn->ops->training(nn->g)) {
        cv_tensor *s = cv_scalar(nn->ops, nn->g, cv_matmul(nn->ops, nn->g, t[0], t[1], 0, 1), CV_S_MUL, scale);
        s = cv_nn_dropout(nn, cv_softmax(nn->ops, nn->g, s, -1, 0), attn_dropout);
        o = cv_matmul(nn->ops, nn->g, s, t[2], 0, 0);
    } else {
        o = cv_attention(nn->ops, nn->g, t[0], t[1], t[2], scale);
    }
    o = cv_permute(nn->ops, nn->g, o, 4, (const int32_t[]){ 0, 2, 1, 3 }); /* [B, N, H, hd] */
    o = cv_reshape(nn->ops, nn->g, o, CV_SHAPE(b, n, d));
    o = cv_nn_linear(nn, names->out_proj, o, (int)d, 1, CV_INIT_LINEAR_TRUNC);
    cv_nn_pop_n_(nn, np);
    return o;
}

cv_tensor *cv_nn_transformer_block(const cv_nn *nn, cv_tensor *x, const cv_transformer_config *c) {
    if (!x) return NULL;
    const cv_transformer_names *nm = c->names ? c->names : &cv_transformer_names_torchvision;
    int d = (int)cv_nn_dim(nn, x, -1);
    float eps = c->ln_eps > 0 ? c->ln_eps : 1e-6f;
    cv_tensor *y = cv_nn_layer_norm(nn, nm->ln1, x, eps);
    y = cv_nn_mhsa(nn, nm->attn, &nm->mhsa, y, c->heads, c->attn_dropout);
    y = cv_nn_drop_path(nn, cv_nn_dropout(nn, y, c->dropout), c->drop_path);
    x = cv_add(nn->ops, nn->g, x, y);
    y = cv_nn_layer_norm(nn, nm->ln2, x, eps);
    y = cv_nn_act(nn, cv_nn_linear(nn, nm->fc1, y, c->mlp_dim, 1, CV_INIT_LINEAR_TRUNC), c->act);
    y = cv_nn_dropout(nn, y, c->dropout);
    y = cv_nn_dropout(nn, cv_nn_linear(nn, nm->fc2, y, d, 1, CV_INIT_LINEAR_TRUNC), c->dropout);
    y = cv_nn_drop_path(nn, y, c->drop_path);
    return cv_add(nn->ops, nn->g, x, y);
}

/* [B, C, H, W] -> [B, C, P, N] (P = ph*pw positions inside a patch, N patches),
 * the order of torch's F.unfold with kernel = stride = patch. */
static cv_tensor *unfold_bcpn(const cv_nn *nn, cv_tensor *x, int ph, int pw) {
    int64_t b = cv_nn_dim(nn, x, 0), c = cv_nn_dim(nn, x, 1), h = cv_nn_dim(nn, x, 2), w = cv_nn_dim(nn, x, 3);
    if (ph <= 0 || pw <= 0 || h % ph || w % pw) {
        nn->ops->fail(nn->g, CV_ERR_INVALID, "unfold: %lldx%lld map is not a multiple of the %dx%d patch",
                      (long long)h, (long long)w, ph, pw);
        return NULL;
    }
    int64_t nh = h / ph, nw = w / pw;
    cv_tensor *y = cv_reshape(nn->ops, nn->g, x, CV_SHAPE(b * c, nh, ph, nw, pw));
    y = cv_permute(nn->ops, nn->g, y, 5, (const int32_t[]){ 0, 2, 4, 1, 3 }); /* [BC, ph, pw, nh, nw] */
    return cv_reshape(nn->ops, nn->g, y, CV_SHAPE(b, c, (int64_t)ph * pw, nh * nw));
}

static cv_tensor *fold_bcpn(const cv_nn *nn, cv_tensor *p, int h, int w, int ph, int pw) {
    int64_t b = cv_nn_dim(nn, p, 0), c = cv_nn_dim(nn, p, 1);
    if (!p) return NULL;
    cv_tensor *y = cv_reshape(nn->ops, nn->g, p, CV_SHAPE(b * c, ph, pw, h / ph, w / pw));
    y = cv_permute(nn->ops, nn->g, y, 5, (const int32_t[]){ 0, 3, 1, 4, 2 }); /* [BC, nh, ph, nw, pw] */
    return cv_reshape(nn->ops, nn->g, y, CV_SHAPE(b, c, h, w));
}

cv_tensor *cv_nn_unfold_patches(const cv_nn *nn, cv_tensor *x, int ph, int pw) {
    cv_tensor *y = unfold_bcpn(nn, x, ph, pw);
    return y ? cv_permute(nn->ops, nn->g, y, 4, (const int32_t[]){ 0, 2, 3, 1 }) : NULL;
}

cv_tensor *cv_nn_fold_patches(const cv_nn *nn, cv_tensor *p, int h, int w, int ph, int pw) {
    if (!p) return NULL;
    cv_tensor *y = cv_permute(nn->ops, nn->g, p, 4, (const int32_t[]){ 0, 3, 1, 2 });
    return fold_bcpn(nn, y, h, w, ph, pw);
}

static int64_t round_up(int64_t v, int m) { return (v + m - 1) / m * m; }

cv_tensor *cv_nn_mobilevit_block(const cv_nn *nn, cv_tensor *x, const cv_mobilevit_config *c) {
    if (!x) return NULL;
    int ch = (int)cv_nn_dim(nn, x, 1);
    int64_t b = cv_nn_dim(nn, x, 0), h = cv_nn_dim(nn, x, 2), w = cv_nn_dim(nn, x, 3);
    int dil = c->dilation > 0 ? c->dilation : 1;
    cv_tensor *fm = cv_nn_conv_norm_act(nn, "local_rep.conv_3x3", x, ch, 3, 1, dil, 1, c->act);
    fm = cv_nn_conv2d(nn, "local_rep.conv_1x1", fm, c->dim, 1, 1, 0, 1, 1, 0);
    int64_t nh = round_up(h, c->patch), nw = round_up(w, c->patch);
    if (nh != h || nw != w) fm = resize(nn, fm, nh, nw);
    int64_t p = (int64_t)c->patch * c->patch, n = (nh / c->patch) * (nw / c->patch);
    cv_tensor *t = cv_nn_unfold_patches(nn, fm, c->patch, c->patch); /* [B, P, N, d] */
    t = cv_reshape(nn->ops, nn->g, t, CV_SHAPE(b * p, n, c->dim));
    cv_transformer_config tc = { c->heads, c->mlp_dim, c->act, 1e-5f, c->dropout, c->attn_dropout, c->drop_path,
                                 &cv_transformer_names_cvnets };
    char idx[24];
    for (int i = 0; i < c->blocks; i++) {
        nn->ops->scope_push(nn->g, "global_rep");
        nn->ops->scope_push(nn->g, "%d", i);
        t = cv_nn_transformer_block(nn, t, &tc);
        nn->ops->scope_pop(nn->g);
        nn->ops->scope_pop(nn->g);
    }
    snprintf(idx, sizeof idx, "global_rep.%d", c->blocks);
    t = cv_nn_layer_norm(nn, idx, t, 1e-5f);
    t = cv_reshape(nn->ops, nn->g, t, CV_SHAPE(b, p, n, c->dim));
    fm = cv_nn_fold_patches(nn, t, (int)nh, (int)nw, c->patch, c->patch);
    if (nh != h || nw != w) fm = resize(nn, fm, h, w);
    fm = cv_nn_conv_norm_act(nn, "conv_proj", fm, ch, 1, 1, 1, 1, c->act);
    cv_tensor *cat[2] = { x, fm };
    cv_axis_params ap = { 1 };
    fm = nn->ops->op(nn->g, CV_OP_CONCAT, cat, 2, &ap, sizeof ap);
    return cv_nn_conv_norm_act(nn, "fusion", fm, ch, 3, 1, dil, 1, c->act);
}

/* CVNets' LinearSelfAttention on x [B, d, P, N]: one context vector per patch
 * position from softmax-weighted keys, gating relu(values). */
static cv_tensor *linear_self_attention(const cv_nn *nn, const char *name, cv_tensor *x, float attn_dropout) {
    int64_t d = cv_nn_dim(nn, x, 1);
    int np = cv_nn_push_path_(nn, name);
    cv_tensor *qkv = cv_nn_conv2d(nn, "qkv_proj", x, (int)(1 + 2 * d), 1, 1, 0, 1, 1, 1);
    cv_tensor *q = slice(nn, qkv, 1, 0, 1), *k = slice(nn, qkv, 1, 1, d), *v = slice(nn, qkv, 1, 1 + d, d);
    cv_tensor *scores = cv_nn_dropout(nn, cv_softmax(nn->ops, nn->g, q, -1, 0), attn_dropout); /* [B,1,P,N] */
    cv_tensor *ctx = cv_reduce(nn->ops, nn->g, cv_mul(nn->ops, nn->g, k, scores), CV_R_SUM, 1u << 3, 1);
    cv_tensor *o = cv_mul(nn->ops, nn->g, cv_nn_act(nn, v, CV_RELU), ctx);
    o = cv_nn_conv2d(nn, "out_proj", o, (int)d, 1, 1, 0, 1, 1, 1);
    cv_nn_pop_n_(nn, np);
    return o;
}

cv_tensor *cv_nn_mobilevit2_block(const cv_nn *nn, cv_tensor *x, const cv_mobilevit2_config *c) {
    if (!x) return NULL;
    int ch = (int)cv_nn_dim(nn, x, 1);
    int64_t h = cv_nn_dim(nn, x, 2), w = cv_nn_dim(nn, x, 3);
    int dil = c->dilation > 0 ? c->dilation : 1;
    int64_t nh = round_up(h, c->patch), nw = round_up(w, c->patch);
    if (nh != h || nw != w) x = resize(nn, x, nh, nw);
    cv_tensor *fm = cv_nn_conv_norm_act(nn, "local_rep.conv_3x3", x, ch, 3, 1, dil, ch, c->act);
    fm = cv_nn_conv2d(nn, "local_rep.conv_1x1", fm, c->dim, 1, 1, 0, 1, 1, 0);
    cv_tensor *t = unfold_bcpn(nn, fm, c->patch, c->patch); /* [B, d, P, N] */
    char idx[24];
    for (int i = 0; i < c->blocks; i++) {
        nn->ops->scope_push(nn->g, "global_rep");
        nn->ops->scope_push(nn->g, "%d", i);
        cv_tensor *y = cv_nn_group_norm(nn, "pre_norm_attn.0", t, 1, 1e-5f);
        y = cv_nn_dropout(nn, linear_self_attention(nn, "pre_norm_attn.1", y, c->attn_dropout), c->dropout);
        t = cv_add(nn->ops, nn->g, t, y);
        y = cv_nn_group_norm(nn, "pre_norm_ffn.0", t, 1, 1e-5f);
        y = cv_nn_act(nn, cv_nn_conv2d(nn, "pre_norm_ffn.1", y, c->ffn_dim, 1, 1, 0, 1, 1, 1), c->act);
        y = cv_nn_dropout(nn, y, c->dropout);
        y = cv_nn_dropout(nn, cv_nn_conv2d(nn, "pre_norm_ffn.3", y, c->dim, 1, 1, 0, 1, 1, 1), c->dropout);
        t = cv_add(nn->ops, nn->g, t, y);
        nn->ops->scope_pop(nn->g);
        nn->ops->scope_pop(nn->g);
    }
    snprintf(idx, sizeof idx, "global_rep.%d", c->blocks);
    t = cv_nn_group_norm(nn, idx, t, 1, 1e-5f);
    fm = fold_bcpn(nn, t, (int)nh, (int)nw, c->patch, c->patch);
    if (nh != h || nw != w) fm = resize(nn, fm, h, w);
    fm = cv_nn_conv2d(nn, "conv_proj.0", fm, ch, 1, 1, 0, 1, 1, 0);
    return cv_nn_batch_norm(nn, "conv_proj.1", fm, 0);
}

/* sin and cos of x (|x| <= 1) by Horner-form Taylor series; 7 terms keep the
 * error below float precision on that range. */
static void sincos_small(const cv_nn *nn, cv_tensor *x, cv_tensor **s, cv_tensor **c) {
    const cv_ops_v1 *o = nn->ops;
    cv_tensor *x2 = cv_unary(o, nn->g, x, CV_SQUARE, 0);
    cv_tensor *ps = NULL, *pc = NULL;
    for (int k = 7; k >= 1; k--) { /* sin: 1 - x2/((2k)(2k+1)) * (...) ; cos: 1 - x2/((2k-1)(2k)) * (...) */
        cv_tensor *ts = cv_scalar(o, nn->g, x2, CV_S_MUL, -1.0f / (float)((2 * k) * (2 * k + 1)));
        cv_tensor *tc = cv_scalar(o, nn->g, x2, CV_S_MUL, -1.0f / (float)((2 * k - 1) * (2 * k)));
        ps = cv_scalar(o, nn->g, ps ? cv_mul(o, nn->g, ts, ps) : ts, CV_S_ADD, 1.0f);
        pc = cv_scalar(o, nn->g, pc ? cv_mul(o, nn->g, tc, pc) : tc, CV_S_ADD, 1.0f);
    }
    *s = cv_mul(o, nn->g, x, ps);
    *c = pc;
}

cv_tensor *cv_nn_sinusoidal_table(const cv_nn *nn, int n, int d) {
    const cv_ops_v1 *o = nn->ops;
    if (n < 1 || d < 2 || d % 2) {
        o->fail(nn->g, CV_ERR_INVALID, "sinusoidal table: %d positions x %d channels (channels must be even)", n, d);
        return NULL;
    }
    int h = d / 2;
    cv_axis_params last = { -1 }, seq = { 1 };
    /* ramp i / h for i = 0..h-1: resize [0, 1] (align corners) to h points, scaled */
    cv_tensor *ends[2] = { o->constant(nn->g, &(cv_shape){ 4, 0, { 1, 1, 1, 1 } }, CV_F32, 0.0f),
                           o->constant(nn->g, &(cv_shape){ 4, 0, { 1, 1, 1, 1 } }, CV_F32, 1.0f) };
    cv_tensor *ramp;
    if (h > 1) {
        cv_resize_params rp = { 1, h, CV_RESIZE_BILINEAR, 1 };
        ramp = CV_OP1(o, nn->g, CV_OP_RESIZE, o->op(nn->g, CV_OP_CONCAT, ends, 2, &last, sizeof last), &rp);
        ramp = cv_scalar(o, nn->g, ramp, CV_S_MUL, (float)(h - 1) / (float)h);
    } else {
        ramp = ends[0];
    }
    ramp = cv_reshape(o, nn->g, ramp, CV_SHAPE(1, 1, h));
    cv_tensor *w = cv_unary(o, nn->g, cv_scalar(o, nn->g, ramp, CV_S_MUL, -9.210340371976184f /* ln 1e4 */), CV_EXP, 0);
    cv_tensor *sa, *ca; /* sin / cos of (shift * w) */
    sincos_small(nn, w, &sa, &ca);
    cv_tensor *s = o->constant(nn->g, &(cv_shape){ 3, 0, { 1, 1, h } }, CV_F32, 0.0f);
    cv_tensor *c = o->constant(nn->g, &(cv_shape){ 3, 0, { 1, 1, h } }, CV_F32, 1.0f);
    for (int count = 1; count < n; count *= 2) {
        /* positions [count, 2 count) from [0, count) by angle addition */
        cv_tensor *s2 = cv_add(o, nn->g, cv_mul(o, nn->g, s, ca), cv_mul(o, nn->g, c, sa));
        cv_tensor *c2 = cv_binary(o, nn->g, cv_mul(o, nn->g, c, ca), cv_mul(o, nn->g, s, sa), CV_SUB);
        cv_tensor *ps[2] = { s, s2 }, *pc[2] = { c, c2 };
        s = o->op(nn->g, CV_OP_CONCAT, ps, 2, &seq, sizeof seq);
        c = o->op(nn->g, CV_OP_CONCAT, pc, 2, &seq, sizeof seq);
        cv_tensor *sa2 = cv_scalar(o, nn->g, cv_mul(o, nn->g, sa, ca), CV_S_MUL, 2.0f);
        ca = cv_binary(o, nn->g, cv_mul(o, nn->g, ca, ca), cv_mul(o, nn->g, sa, sa), CV_SUB);
        sa = sa2;
    }
    if (cv_nn_dim(nn, s, 1) != n) {
        s = slice(nn, s, 1, 0, n);
        c = slice(nn, c, 1, 0, n);
    }
    cv_tensor *sc[2] = { s, c };
    return o->op(nn->g, CV_OP_CONCAT, sc, 2, &last, sizeof last);
}
