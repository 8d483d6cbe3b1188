/* sdk/lib/nn_blocks.c — convolutional building blocks of the SDK helper library
 * (cvnets/nn.h): parameters, convolution, normalisation, activations, linear,
 * conv-norm-activation, dropout, pooling, squeeze-excitation, inverted residual,
 * and CVNets' make_divisible.  Transformer and MobileViT blocks are in
 * nn_transformer.c. */
#include "nn_internal.h"

#include <stdio.h>
#include <string.h>

int cv_make_divisible(double v, int divisor, int min_value) {
    if (divisor <= 0) divisor = 1;
    if (min_value <= 0) min_value = divisor;
    int new_v = (int)(v + divisor / 2.0) / divisor * divisor;
    if (new_v < min_value) new_v = min_value;
    if (new_v < 0.9 * v) new_v += divisor; /* never round down by more than 10 % */
    return new_v;
}

int64_t cv_nn_dim(const cv_nn *nn, cv_tensor *x, int i) {
    cv_shape s;
    if (!x || nn->ops->shape(x, &s) != CV_OK) return 0;
    if (i < 0) i += s.ndim;
    return i >= 0 && i < s.ndim ? s.dim[i] : 0;
}

/* Push the dot-separated parts of name as scopes; returns how many were pushed. */
int cv_nn_push_path_(const cv_nn *nn, const char *name) {
    if (!name || !*name) return 0;
    int n = 0;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        nn->ops->scope_push(nn->g, "%.*s", (int)len, p);
        n++;
        p += len;
        if (*p == '.') p++;
    }
    return n;
}
void cv_nn_pop_n_(const cv_nn *nn, int n) {
    while (n-- > 0) nn->ops->scope_pop(nn->g);
}

cv_tensor *cv_nn_param(const cv_nn *nn, const char *name, cv_shape shape, cv_init init, uint32_t tags) {
    /* a dotted name ("qkv_proj.weight") becomes scopes plus the last part */
    const char *last = strrchr(name, '.');
    if (!last) return nn->ops->param(nn->g, name, &shape, init, tags);
    char prefix[256];
    size_t len = (size_t)(last - name);
    if (len >= sizeof prefix) len = sizeof prefix - 1;
    memcpy(prefix, name, len);
    prefix[len] = 0;
    int n = cv_nn_push_path_(nn, prefix);
    cv_tensor *t = nn->ops->param(nn->g, last + 1, &shape, init, tags);
    cv_nn_pop_n_(nn, n);
    return t;
}

static cv_tensor *zeros_bias(const cv_nn *nn, const char *name, int64_t n) {
    return cv_nn_param(nn, name, CV_SHAPE(n), cv_init_const(CV_INIT_ZEROS, 0, 0), CV_TAG_BIAS);
}

cv_tensor *cv_nn_conv2d(const cv_nn *nn, const char *name, cv_tensor *x, int out_ch, int k, int stride, int pad,
                        int dilation, int groups, int bias) {
    if (!x) return NULL;
    if (groups <= 0) groups = 1;
    if (dilation <= 0) dilation = 1;
    int64_t c = cv_nn_dim(nn, x, 1);
    if (c % groups != 0 || out_ch % groups != 0) {
        nn->ops->fail(nn->g, CV_ERR_INVALID, "conv2d %s: %lld input / %d output channels not divisible by %d groups",
                      name ? name : "", (long long)c, out_ch, groups);
        return NULL;
    }
    if (pad == CV_PAD_SAME) pad = dilation * (k - 1) / 2;
    int n = cv_nn_push_path_(nn, name);
    cv_tensor *w = cv_nn_param(nn, "weight", CV_SHAPE(out_ch, c / groups, k, k), CV_INIT_CONV, 0);
    cv_tensor *b = bias ? zeros_bias(nn, "bias", out_ch) : NULL;
    cv_tensor *y = cv_conv2d(nn->ops, nn->g, x, w, b, stride, pad, dilation, groups);
    cv_nn_pop_n_(nn, n);
    return y;
}

cv_tensor *cv_nn_batch_norm(const cv_nn *nn, const char *name, cv_tensor *x, int zero_gamma) {
    return cv_nn_batch_norm_ex(nn, name, x, zero_gamma, 0.0f, 0.0f);
}

cv_tensor *cv_nn_batch_norm_ex(const cv_nn *nn, const char *name, cv_tensor *x, int zero_gamma, float eps,
                               float momentum) {
    if (!x) return NULL;
    int64_t c = cv_nn_dim(nn, x, 1);
    int n = cv_nn_push_path_(nn, name);
    cv_tensor *in[5];
    in[0] = x;
    in[1] = cv_nn_param(nn, "weight", CV_SHAPE(c), cv_init_const(zero_gamma ? CV_INIT_ZEROS : CV_INIT_ONES, 0, 0),
                        CV_TAG_NORM);
    in[2] = cv_nn_param(nn, "bias", CV_SHAPE(c), cv_init_const(CV_INIT_ZEROS, 0, 0), CV_TAG_NORM);
    in[3] = cv_nn_param(nn, "running_mean", CV_SHAPE(c), cv_init_const(CV_INIT_ZEROS, 0, 0), CV_TAG_BUFFER);
    in[4] = cv_nn_param(nn, "running_var", CV_SHAPE(c), cv_init_const(CV_INIT_ONES, 0, 0), CV_TAG_BUFFER);
    cv_norm_params p = { eps > 0 ? eps : 1e-5f, momentum > 0 ? momentum : 0.1f, nn->ops->training(nn->g), 0, 0 };
    cv_tensor *y = nn->ops->op(nn->g, CV_OP_BATCH_NORM, in, 5, &p, sizeof p);
    cv_nn_pop_n_(nn, n);
    return y;
}

cv_tensor *cv_nn_layer_norm(const cv_nn *nn, const char *name, cv_tensor *x, float eps) {
    if (!x) return NULL;
    int64_t d = cv_nn_dim(nn, x, -1);
    int n = cv_nn_push_path_(nn, name);
    cv_tensor *in[3] = {
        x, cv_nn_param(nn, "weight", CV_SHAPE(d), cv_init_const(CV_INIT_ONES, 0, 0), CV_TAG_NORM),
        cv_nn_param(nn, "bias", CV_SHAPE(d), cv_init_const(CV_INIT_ZEROS, 0, 0), CV_TAG_NORM)
    };
    cv_norm_params p = { eps, 0, 0, 0, 1 };
    cv_tensor *y = nn->ops->op(nn->g, CV_OP_LAYER_NORM, in, 3, &p, sizeof p);
    cv_nn_pop_n_(nn, n);
    return y;
}

cv_tensor *cv_nn_group_norm(const cv_nn *nn, const char *name, cv_tensor *x, int groups, float eps) {
    if (!x) return NULL;
    int64_t c = cv_nn_dim(nn, x, 1);
    int n = cv_nn_push_path_(nn, name);
    cv_tensor *in[3] = {
        x, cv_nn_param(nn, "weight", CV_SHAPE(c), cv_init_const(CV_INIT_ONES, 0, 0), CV_TAG_NORM),
        cv_nn_param(nn, "bias", CV_SHAPE(c), cv_init_const(CV_INIT_ZEROS, 0, 0), CV_TAG_NORM)
    };
    cv_norm_params p = { eps, 0, 0, groups, 0 };
    cv_tensor *y = nn->ops->op(nn->g, CV_OP_GROUP_NORM, in, 3, &p, sizeof p);
    cv_nn_pop_n_(nn, n);
    return y;
}

cv_tensor *cv_nn_act(const cv_nn *nn, cv_tensor *x, int act) {
    if (act == CV_ACT_NONE || !x) return x;
    return cv_unary(nn->ops, nn->g, x, act, 0.0f);
}

cv_tensor *cv_nn_linear_named(const cv_nn *nn, const char *weight_name, const char *bias_name, cv_tensor *x,
                              int out, cv_init init) {
    if (!x) return NULL;
    int64_t k = cv_nn_dim(nn, x, -1);
    cv_tensor *w = cv_nn_param(nn, weight_name, CV_SHAPE(out, k), init, 0);
    cv_tensor *b = bias_name ? zeros_bias(nn, bias_name, out) : NULL;
    return cv_linear(nn->ops, nn->g, x, w, b);
}

cv_tensor *cv_nn_linear(const cv_nn *nn, const char *name, cv_tensor *x, int out, int bias, cv_init init) {
    int n = cv_nn_push_path_(nn, name);
    cv_tensor *y = cv_nn_linear_named(nn, "weight", bias ? "bias" : NULL, x, out, init);
    cv_nn_pop_n_(nn, n);
    return y;
}

cv_tensor *cv_nn_conv_norm_act(const cv_nn *nn, const char *name, cv_tensor *x, int out_ch, int k, int stride,
                               int dilation, int groups, int act) {
    return cv_nn_conv_norm_act_ex(nn, name, x, out_ch, k, stride, dilation, groups, act, 0.0f, 0.0f);
}

cv_tensor *cv_nn_conv_norm_act_ex(const cv_nn *nn, const char *name, cv_tensor *x, int out_ch, int k, int stride,
                                  int dilation, int groups, int act, float bn_eps, float bn_momentum) {
    int n = cv_nn_push_path_(nn, name);
    cv_tensor *y = cv_nn_conv2d(nn, "0", x, out_ch, k, stride, CV_PAD_SAME, dilation, groups, 0);
    y = cv_nn_act(nn, cv_nn_batch_norm_ex(nn, "1", y, 0, bn_eps, bn_momentum), act);
    cv_nn_pop_n_(nn, n);
    return y;
}

cv_tensor *cv_nn_dropout(const cv_nn *nn, cv_tensor *x, float p) {
    if (!x || p <= 0.0f || !nn->ops->training(nn->g)) return x;
    cv_dropout_params dp = { p };
    return CV_OP1(nn->ops, nn->g, CV_OP_DROPOUT, x, &dp);
}

cv_tensor *cv_nn_drop_path(const cv_nn *nn, cv_tensor *x, float p) {
    if (!x || p <= 0.0f || !nn->ops->training(nn->g)) return x;
    cv_dropout_params dp = { p };
    return CV_OP1(nn->ops, nn->g, CV_OP_DROP_PATH, x, &dp);
}

cv_tensor *cv_nn_global_avg_pool(const cv_nn *nn, cv_tensor *x) {
    return cv_reduce(nn->ops, nn->g, x, CV_R_MEAN, (1u << 2) | (1u << 3), 0);
}

cv_tensor *cv_nn_squeeze_excite(const cv_nn *nn, const char *name, cv_tensor *x, int squeeze_ch, int act,
                                int gate) {
    if (!x) return NULL;
    int c = (int)cv_nn_dim(nn, x, 1);
    int n = cv_nn_push_path_(nn, name);
    cv_tensor *s = cv_reduce(nn->ops, nn->g, x, CV_R_MEAN, (1u << 2) | (1u << 3), 1);
    s = cv_nn_act(nn, cv_nn_conv2d(nn, "fc1", s, squeeze_ch, 1, 1, 0, 1, 1, 1), act);
    s = cv_nn_act(nn, cv_nn_conv2d(nn, "fc2", s, c, 1, 1, 0, 1, 1, 1), gate);
    cv_nn_pop_n_(nn, n);
    return cv_mul(nn->ops, nn->g, x, s);
}

cv_tensor *cv_nn_inverted_residual(const cv_nn *nn, cv_tensor *x, const cv_ir_config *c) {
    if (!x) return NULL;
    int in = (int)cv_nn_dim(nn, x, 1);
    int v3 = c->layout == CV_IR_TV_V3;
    char idx[16];
    int i = 0;
    nn->ops->scope_push(nn->g, "%s", v3 ? "block" : "conv");
    cv_tensor *y = x;
    if (c->hidden != in) {
        snprintf(idx, sizeof idx, "%d", i++);
        y = cv_nn_conv_norm_act_ex(nn, idx, y, c->hidden, 1, 1, 1, 1, c->act, c->bn_eps, c->bn_momentum);
    }
    snprintf(idx, sizeof idx, "%d", i++);
    y = cv_nn_conv_norm_act_ex(nn, idx, y, c->hidden, c->kernel, c->stride, c->dilation, c->hidden, c->act, c->bn_eps,
                               c->bn_momentum);
    if (v3) {
        if (c->se_ch > 0) {
            snprintf(idx, sizeof idx, "%d", i++);
            y = cv_nn_squeeze_excite(nn, idx, y, c->se_ch, c->se_act, c->se_gate);
        }
        snprintf(idx, sizeof idx, "%d", i++);
        nn->ops->scope_push(nn->g, "%s", idx);
        y = cv_nn_conv2d(nn, "0", y, c->out, 1, 1, 0, 1, 1, 0);
        y = cv_nn_batch_norm_ex(nn, "1", y, c->zero_gamma, c->bn_eps, c->bn_momentum);
        nn->ops->scope_pop(nn->g);
    } else {
        snprintf(idx, sizeof idx, "%d", i++);
        y = cv_nn_conv2d(nn, idx, y, c->out, 1, 1, 0, 1, 1, 0);
        snprintf(idx, sizeof idx, "%d", i++);
        y = cv_nn_batch_norm_ex(nn, idx, y, c->zero_gamma, c->bn_eps, c->bn_momentum);
    }
    nn->ops->scope_pop(nn->g);
    if (c->stride == 1 && in == c->out) y = cv_add(nn->ops, nn->g, x, cv_nn_drop_path(nn, y, c->drop_path));
    return y;
}
