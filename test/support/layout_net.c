/* test/support/layout_net.c — the layout tests' model, rig, consistency check
 * and comparisons (layout_net.h). */
#include "layout_net.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ce_loss.h"
#include "kernel_util.h"
#include "cuda_open.h"
#include "engine/internal.h"

/* ---- the model: stem, a projection block, an identity block, global pool, fc ------------------- */
/* a parameter; CV_INIT_UNIFORM draws from [-0.5, 1.5) so scales and shifts are
 * random and non-zero (every gradient differs from zero) */
static cv_tensor *prm(const cv_ops_v1 *o, cv_graph *g, const char *n, cv_shape s, int kind, uint32_t tags) {
    cv_init init = { kind, kind == CV_INIT_UNIFORM ? -0.5f : 0.0f, kind == CV_INIT_UNIFORM ? 1.5f : 0.0f };
    return o->param(g, n, &s, init, tags);
}

/* a convolution; the stem's has a bias (its gradient: a REDUCE over N, H, W of dy) */
static cv_tensor *conv(const cv_ops_v1 *o, cv_graph *g, const char *name, cv_tensor *x, int cin, int cout, int k, int stride) {
    o->scope_push(g, "%s", name);
    cv_tensor *b = strcmp(name, "conv1") || cin != 3 ? NULL : prm(o, g, "bias", CV_SHAPE(cout), CV_INIT_UNIFORM, CV_TAG_BIAS);
    cv_tensor *y = cv_conv2d(o, g, x, prm(o, g, "weight", CV_SHAPE(cout, cin, k, k), CV_INIT_KAIMING_NORMAL_FAN_OUT, 0),
                             b, stride, k / 2, 1, 1);
    o->scope_pop(g);
    return y;
}

static cv_tensor *bn(const cv_ops_v1 *o, cv_graph *g, const char *name, cv_tensor *x, int c) {
    o->scope_push(g, "%s", name);
    /* random-ish affine params so the gradient of every channel differs */
    cv_tensor *in[5] = { x, prm(o, g, "weight", CV_SHAPE(c), CV_INIT_UNIFORM, CV_TAG_NORM),
                         prm(o, g, "bias", CV_SHAPE(c), CV_INIT_UNIFORM, CV_TAG_NORM),
                         prm(o, g, "running_mean", CV_SHAPE(c), CV_INIT_ZEROS, CV_TAG_BUFFER),
                         prm(o, g, "running_var", CV_SHAPE(c), CV_INIT_ONES, CV_TAG_BUFFER) };
    cv_norm_params np = { 1e-5f, 0.1f, o->training(g), 0, 0 };
    o->scope_pop(g);
    return o->op(g, CV_OP_BATCH_NORM, in, 5, &np, sizeof np);
}

static cv_tensor *block(const cv_ops_v1 *o, cv_graph *g, const char *name, cv_tensor *x, int cin, int cout) {
    o->scope_push(g, "%s", name);
    cv_tensor *y = cv_unary(o, g, bn(o, g, "bn1", conv(o, g, "conv1", x, cin, cout, 3, 1), cout), CV_RELU, 0);
    y = bn(o, g, "bn2", conv(o, g, "conv2", y, cout, cout, 3, 1), cout);
    cv_tensor *s = cin == cout ? x : bn(o, g, "down_bn", conv(o, g, "down", x, cin, cout, 1, 1), cout);
    o->scope_pop(g);
    return cv_unary(o, g, cv_add(o, g, y, s), CV_RELU, 0);
}

/* global pool and the classifier */
static cv_tensor *head(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x, int adaptive) {
    cv_shape hs;
    o->shape(x, &hs);
    if (adaptive) {
        cv_resize_params rp = { 1, 1, 0, 0 };
        x = cv_reshape(o, g, CV_OP1(o, g, CV_OP_ADAPTIVE_AVG_POOL2D, x, &rp), CV_SHAPE(hs.dim[0], hs.dim[1]));
    } else
        x = cv_reduce(o, g, x, CV_R_MEAN, 0xC, 0);
    o->scope_push(g, "fc");
    x = cv_linear(o, g, x, prm(o, g, "weight", CV_SHAPE(5, hs.dim[1]), CV_INIT_KAIMING_UNIFORM, 0),
                  prm(o, g, "bias", CV_SHAPE(5), CV_INIT_UNIFORM, CV_TAG_BIAS));
    o->scope_pop(g);
    return x;
}

/* A random network: the stem, then one layer per code (convolutions of 16 / 32
 * channels, stride 1 / 2, 1x1 / 3x3; batch norm; activations; residual blocks;
 * max and average pooling incl. ceil mode and count_include_pad, so that the own
 * pooling loop runs too; a view round trip; a squeeze-excitation multiply; concat;
 * adaptive pooling to half size; a scalar op; a channel slice; dropout), then the
 * head.  Layers that do not fit the current size are skipped. */
static cv_tensor *fuzz_forward(const mspec *m, const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    x = conv(o, g, "conv1", x, 3, 16, 3, 1);
    int c = 16;
    for (int i = 0; i < m->n_fuzz; i++) {
        const int code = m->fuzz[i], kind = code % F_KINDS, a = (code / F_KINDS) % 2, b = (code / (2 * F_KINDS)) % 2;
        cv_shape s;
        o->shape(x, &s);
        const int h = (int)s.dim[2];
        o->scope_push(g, "f%d", i);
        switch (kind) {
        case F_CONV: {
            int co = a ? 32 : 16;
            x = conv(o, g, "conv", x, c, co, b ? 1 : 3, h >= 6 && code % 3 == 0 ? 2 : 1);
            c = co;
            break;
        }
        case F_BN: x = bn(o, g, "bn", x, c); break;
        case F_ACT: x = cv_unary(o, g, x, a ? CV_HARDSWISH : b ? CV_SIGMOID : CV_RELU, 0); break;
        case F_RESID: x = cv_add(o, g, bn(o, g, "bn", conv(o, g, "conv", x, c, c, 3, 1), c), x); break;
        case F_MAXPOOL:
            if (h >= 4) x = cv_pool2d(o, g, x, CV_POOL_MAX, 3, 2, 1, a);
            break;
        case F_AVGPOOL:
            if (h >= 4) {
                cv_pool_params pp = { CV_POOL_AVG, { 3, 3 }, { 2, 2 }, { 1, 1 }, a, b };
                x = CV_OP1(o, g, CV_OP_POOL2D, x, &pp);
            }
            break;
        case F_VIEW: x = cv_reshape(o, g, cv_reshape(o, g, x, CV_SHAPE(s.dim[0], c * s.dim[2] * s.dim[3])), s); break;
        case F_SE: x = cv_mul(o, g, x, cv_unary(o, g, cv_reduce(o, g, x, CV_R_MEAN, 0xC, 1), CV_SIGMOID, 0)); break;
        case F_CONCAT:
            if (c <= 32) {
                x = CV_OP2(o, g, CV_OP_CONCAT, x, cv_unary(o, g, x, CV_RELU, 0), (&(cv_axis_params){ 1 }));
                c *= 2;
            }
            break;
        case F_ADAPT:
            if (h >= 4) {
                cv_resize_params rp = { h / 2, (int)s.dim[3] / 2, 0, 0 };
                x = CV_OP1(o, g, CV_OP_ADAPTIVE_AVG_POOL2D, x, &rp);
            }
            break;
        case F_SCALAR: x = cv_scalar(o, g, x, CV_S_MUL, 0.5f); break;
        case F_SLICE:
            if (c >= 32) {
                cv_slice_params sp = { 1, 0, a ? c / 2 : 0, c / 2 };
                x = CV_OP1(o, g, CV_OP_SLICE, x, &sp);
                c /= 2;
            }
            break;
        default: x = CV_OP1(o, g, CV_OP_DROPOUT, x, (&(cv_dropout_params){ 0.2f })); break;
        }
        o->scope_pop(g);
    }
    return head(o, g, x, m->adaptive);
}

static cv_tensor *m_forward(void *self, const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    mspec *m = self;
    if (m->n_fuzz) return fuzz_forward(m, o, g, x);
    cv_shape xs;
    o->shape(x, &xs);
    const int w = m->variant == V_C24 ? 24 : m->variant == V_W64 ? 64 : 32;
    x = m->t[T_CONV1] = conv(o, g, "conv1", x, (int)xs.dim[1], 16, 3, 1);
    x = m->t[T_BN1] = bn(o, g, "bn1", x, 16);
    x = m->t[T_RELU1] = cv_unary(o, g, x, CV_RELU, 0);
    x = m->t[T_POOL] = cv_pool2d(o, g, x, CV_POOL_MAX, 3, 2, 1, 0);
    x = m->t[T_BLOCK1] = block(o, g, "layer1", x, 16, w);
    x = m->t[T_BLOCK2] = block(o, g, "layer2", x, w, w);
    cv_shape hs;
    o->shape(x, &hs);
    if (m->variant == V_VIEW) { /* read through a view, and back */
        x = cv_reshape(o, g, x, CV_SHAPE(hs.dim[0], hs.dim[1], hs.dim[2] * hs.dim[3]));
        x = cv_reshape(o, g, x, hs);
    } else if (m->variant == V_BCAST) { /* squeeze-excitation style N,C,1,1 multiply */
        cv_tensor *s = cv_unary(o, g, cv_reduce(o, g, x, CV_R_MEAN, 0xC, 1), CV_SIGMOID, 0);
        x = cv_mul(o, g, x, s);
    } else if (m->variant == V_SE) { /* squeeze-excitation as the zoo builds it: 1x1 convolutions on the pool */
        cv_tensor *s = cv_reduce(o, g, x, CV_R_MEAN, 0xC, 1);
        s = cv_unary(o, g, conv(o, g, "se_fc1", s, (int)hs.dim[1], 16, 1, 1), CV_RELU, 0);
        s = cv_unary(o, g, conv(o, g, "se_fc2", s, 16, (int)hs.dim[1], 1, 1), CV_HARDSIGMOID, 0);
        x = cv_mul(o, g, x, s);
    } else if (m->variant == V_CONCAT) {
        x = CV_OP2(o, g, CV_OP_CONCAT, x, m->t[T_BLOCK1], (&(cv_axis_params){ 1 }));
    } else if (m->variant == V_OUTPUT) { /* kept to the end of the step, as a graph output is */
        x->is_output = 1;
        g->storages[x->storage].pinned = 1;
    }
    x = head(o, g, x, m->adaptive);
    m->t[T_HEAD] = cv_graph_tensor(g, cv_node_in(g, &g->nodes[g->n_nodes - 1])[0]); /* the linear's input */
    return x;
}

static const cv_model_vtable m_vt = { sizeof(cv_model_vtable), m_forward, NULL };
static const cv_component_desc m_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL,
                                          "blocks", "classification", "test model", NULL, NULL, NULL, NULL, NULL, &m_vt };

/* ---- rig ------------------------------------------------------------------------------------- */
static ku_backend open_backend(cv_ctx *ctx, const ln_target *t) {
    if (strcmp(t->backend, "cuda") && !t->options) return ku_backend_open(ctx, t->backend);
    if (strcmp(t->backend, "cuda")) {
        const cv_component_desc *d = th_load(ctx, "backend", t->backend);
        cv_create_args a = { .struct_size = sizeof a, .threads = 2 };
        cv_error err;
        cv_error_init(&err);
        void *self = NULL;
        cr_assert_eq(th_try_create(ctx, d, t->options, &a, &self, &err), CV_OK, "backend %s: %s", t->backend, err.message);
        return (ku_backend){ d->vtable, self, d };
    }
    ku_backend be;
    char why[CV_ERROR_MESSAGE_MAX + 64];
    cr_assert(cu_open(ctx, t->options, &be, why, sizeof why), "backend cuda: %s", why);
    return be;
}

void ln_rig_open(net_rig *r, mspec *m, ln_target t, int variant, int adaptive) {
    memset(m, 0, sizeof *m);
    m->variant = variant;
    m->adaptive = adaptive;
    cv_ctx *ctx = th_ctx_new();
    net_rig_open(r, ctx, open_backend(ctx, &t), 7, (cv_component_ref){ &m_desc, m }, ce_loss(), 5);
    if (t.opened) t.opened(r);
}

cv_plan *ln_plan(net_rig *r, int n, int hw, cv_mode mode) { return net_rig_plan(r, CV_SHAPE(n, 3, hw, hw), mode); }

/* ---- what a plan's layouts must be --------------------------------------------------------- */
static const char *layout_name(int l) { return l == CV_LAYOUT_PLAIN ? "plain" : l == CV_LAYOUT_C16 ? "C16" : "NHWC"; }

int ln_check_consistent(const net_rig *r, const cv_plan *p, int layout) {
    const cv_graph *g = p->g;
    int blocked = 0;
    cv_ktensor kt[16];
    for (int32_t i = 0; i < g->n_nodes; i++) {
        const cv_node *n = &g->nodes[i];
        const int32_t *io = g->ids + n->io;
        cr_assert_leq(n->n_in + n->n_out, 16);
        for (int j = 0; j < n->n_in + n->n_out; j++) cv_fill_ktensor(&kt[j], cv_graph_tensor((cv_graph *)g, io[j]));
        cv_kernel k = { .struct_size = sizeof k, .op = n->op, .params = cv_node_params(g, n), .params_size = n->params_size,
                        .n_in = n->n_in, .n_out = n->n_out, .in = kt, .out = kt + n->n_in };
        int cls = n->is_view ? CV_LAYOUT_CLASS_PLAIN : r->be.vt->layout_class(r->be.self, &k);
        int shared = -1;
        for (int j = 0; j < n->n_in + n->n_out; j++) {
            int l = p->layout ? p->layout[n->io + j] : CV_LAYOUT_PLAIN;
            const cv_tensor *t = cv_graph_tensor((cv_graph *)g, io[j]);
            cr_assert_eq(l, cv_tensor_layout(p, t), "one layout per tensor");
            if (l == CV_LAYOUT_PLAIN) continue;
            blocked++;
            cr_assert_eq(l, layout, "%s: layout %d, the backend's is %s", cv_op_name(n->op), l, layout_name(layout));
            const int half = t->dtype == CV_BF16 ? CV_LAYOUT_CLASS_BF16 : t->dtype == CV_F16 ? CV_LAYOUT_CLASS_F16 : 0;
            cr_assert(t->shape.ndim == 4 && (layout != CV_LAYOUT_C16 || t->shape.dim[1] % 16 == 0) &&
                          (t->dtype == CV_F32 || (half && (cls & half))),
                      "%s: %s on a bad operand (%s)", cv_op_name(n->op), layout_name(l), cv_dtype_name(t->dtype));
            cr_assert_neq(cls & CV_LAYOUT_CLASS_MASK, CV_LAYOUT_CLASS_PLAIN, "%s%s: a plain-only node has a %s operand",
                          cv_op_name(n->op), n->backward ? " (backward)" : "", layout_name(l));
        }
        if ((cls & CV_LAYOUT_CLASS_MASK) != CV_LAYOUT_CLASS_UNIFORM) continue;
        int shared_dt = -1;
        for (int j = 0; j < n->n_in + n->n_out; j++) {
            if (kt[j].ndim != 4) continue;
            int l = p->layout ? p->layout[n->io + j] : CV_LAYOUT_PLAIN;
            if (shared < 0) {
                shared = l;
                shared_dt = kt[j].dtype;
            }
            cr_assert_eq(l, shared, "%s: a uniform node mixes layouts", cv_op_name(n->op));
            cr_assert_eq(kt[j].dtype, shared_dt, "%s: a uniform node mixes dtypes", cv_op_name(n->op));
        }
    }
    return blocked;
}

void ln_expect_blocked_chain(const net_rig *r, const mspec *m, const cv_plan *p, int layout) {
    cr_assert_gt(ln_check_consistent(r, p, layout), 0, "variant %d: no %s operands", m->variant, layout_name(layout));
    for (int t = T_CONV1; t <= T_BLOCK2; t++)
        cr_expect_eq(cv_tensor_layout(p, m->t[t]), layout, "tensor %d (variant %d, adaptive %d)", t, m->variant, m->adaptive);
    cr_expect_eq(cv_tensor_layout(p, m->t[T_HEAD]), CV_LAYOUT_PLAIN, "the [N,C] head");
    cr_expect_eq(cv_tensor_layout(p, p->g->inputs[0]), CV_LAYOUT_PLAIN, "the graph input");
    cr_expect_eq(cv_tensor_layout(p, p->g->logits), CV_LAYOUT_PLAIN, "the logits");
}

void ln_expect_plain_tail(const net_rig *r, const mspec *m, const cv_plan *p, int layout) {
    ln_check_consistent(r, p, layout);
    /* the last block's value and, through the residual add, the block before */
    cr_expect_eq(cv_tensor_layout(p, m->t[T_BLOCK2]), CV_LAYOUT_PLAIN, "variant %d", m->variant);
    if (m->variant != V_CONCAT) cr_expect_eq(cv_tensor_layout(p, m->t[T_BLOCK1]), CV_LAYOUT_PLAIN, "variant %d", m->variant);
    /* the stem is untouched */
    cr_expect_eq(cv_tensor_layout(p, m->t[T_BN1]), layout, "variant %d", m->variant);
    cr_expect_eq(cv_tensor_layout(p, m->t[T_POOL]), layout, "variant %d", m->variant);
}

void ln_expect_blocked_chains(ln_target t, const int *variants, int n) {
    for (int v = 0; v < n; v++)
        for (int adaptive = 0; adaptive < 2; adaptive++) {
            net_rig r;
            mspec m;
            ln_rig_open(&r, &m, t, variants[v], adaptive);
            for (int mode = 0; mode < 2; mode++)
                ln_expect_blocked_chain(&r, &m, ln_plan(&r, 4, 12, mode ? CV_MODE_EVAL : CV_MODE_TRAIN), t.layout);
            net_rig_close(&r);
        }
}

void ln_expect_plain_tails(ln_target t, const int *variants, int n) {
    for (int v = 0; v < n; v++) {
        net_rig r;
        mspec m;
        ln_rig_open(&r, &m, t, variants[v], 0);
        ln_expect_plain_tail(&r, &m, ln_plan(&r, 4, 12, CV_MODE_TRAIN), t.layout);
        net_rig_close(&r);
    }
}

/* ---- comparisons ----------------------------------------------------------------------------- */
void ln_batch(float *img, int32_t *lab, int n, int hw, uint64_t seed) {
    ku_rng g = ku_rng_make(seed);
    for (int i = 0; i < n * 3 * hw * hw; i++) img[i] = (float)(2.0 * ku_uniform(&g) - 1.0);
    for (int i = 0; i < n; i++) lab[i] = (int32_t)(ku_uniform(&g) * 5) % 5;
}

void ln_expect_buffers_close(net_rig *a, net_rig *b, int which, double rtol, double atol, const char *what) {
    int64_t na, nb;
    float *va = net_rig_read(a, which, &na), *vb = net_rig_read(b, which, &nb);
    cr_assert_eq(na, nb);
    ku_assert_close(va, vb, na, rtol, atol, what);
    free(va);
    free(vb);
}

void ln_compare_with_ref(ln_target t, int adaptive, int n, int hw) {
    net_rig be, ref;
    mspec mb, mr;
    cr_assert_leq(n, 64);
    ln_rig_open(&be, &mb, t, V_RESNET, adaptive);
    ln_rig_open(&ref, &mr, (ln_target){ "ref", CV_LAYOUT_PLAIN, NULL, NULL }, V_RESNET, adaptive);
    float *img = malloc(sizeof(float) * (size_t)(n * 3 * hw * hw));
    int32_t lab[64];
    float lb[64 * 5], lr[64 * 5];
    ln_batch(img, lab, n, hw, 1000 + (uint64_t)(adaptive * 10 + n));
    cv_plan *pb = ln_plan(&be, n, hw, CV_MODE_TRAIN), *pr = ln_plan(&ref, n, hw, CV_MODE_TRAIN);
    cr_assert_gt(ln_check_consistent(&be, pb, t.layout), 0, "the plan has blocked operands");
    ln_expect_buffers_close(&be, &ref, 0, 0, 0, "same initial parameters");
    cv_step_io ib = { img, lab, lb, 0, 0 }, ir = { img, lab, lr, 0, 0 };
    cr_assert_eq(cv_net_run(pb, &ib, &be.err), CV_OK, "%s", be.err.message);
    cr_assert_eq(cv_net_run(pr, &ir, &ref.err), CV_OK, "%s", ref.err.message);
    cr_expect(fabs(ib.loss - ir.loss) <= 2e-4 + 2e-3 * fabs(ir.loss), "loss %g vs %g", ib.loss, ir.loss);
    ku_assert_close(lb, lr, n * 5, 2e-3, 2e-4, "training logits");
    ln_expect_buffers_close(&be, &ref, 1, 2e-3, 2e-4, "every gradient");
    ln_expect_buffers_close(&be, &ref, 3, 2e-3, 2e-4, "running statistics");
    pb = ln_plan(&be, n, hw, CV_MODE_EVAL);
    pr = ln_plan(&ref, n, hw, CV_MODE_EVAL);
    cr_assert_gt(ln_check_consistent(&be, pb, t.layout), 0);
    cv_step_io eb = { img, lab, lb, 0, 0 }, er = { img, lab, lr, 0, 0 };
    cr_assert_eq(cv_net_run(pb, &eb, &be.err), CV_OK, "%s", be.err.message);
    cr_assert_eq(cv_net_run(pr, &er, &ref.err), CV_OK, "%s", ref.err.message);
    ku_assert_close(lb, lr, n * 5, 2e-3, 2e-4, "eval logits");
    free(img);
    net_rig_close(&be);
    net_rig_close(&ref);
}

/* `steps` SGD steps of plan p (training) of rig r on one batch (from seed): their losses */
/* `steps` SGD steps on one batch of 8 x 3 x hw x hw */
static void sgd_losses(net_rig *r, cv_plan *p, uint64_t seed, float lr, double *loss, int steps, int hw) {
    cr_assert_eq(cv_net_alloc_state(r->n, 1, &r->err), CV_OK, "%s", r->err.message);
    float *img = malloc(sizeof(float) * (size_t)(8 * 3 * hw * hw));
    int32_t lab[8];
    ln_batch(img, lab, 8, hw, seed);
    for (int s = 0; s < steps; s++) {
        cv_step_io io = { img, lab, NULL, 0, 0 };
        cr_assert_eq(cv_net_run(p, &io, &r->err), CV_OK, "%s", r->err.message);
        loss[s] = io.loss;
        net_rig_sgd(r, &(cv_sgd_params){ lr, 0.9f, 0.0f, 1e-4f, 0 });
    }
    free(img);
}

/* the losses of `steps` SGD steps of V_RESNET on t's backend, with layouts or plain, on one
 * batch (so the loss must fall) */
static void train_losses(ln_target t, int plain, double *loss, int steps) {
    net_rig r;
    mspec m;
    if (plain) setenv("CVNETS_LAYOUT", "plain", 1);
    ln_rig_open(&r, &m, t, V_RESNET, 0);
    cv_plan *p = ln_plan(&r, 8, 12, CV_MODE_TRAIN);
    unsetenv("CVNETS_LAYOUT");
    cr_assert_eq(p->layout == NULL, plain != 0);
    sgd_losses(&r, p, 77, 0.1f, loss, steps, 12);
    net_rig_close(&r);
}

void ln_expect_sgd_steps_match_plain(ln_target t, int steps) {
    double a[16], b[16];
    cr_assert(steps >= 2 && steps <= 16);
    train_losses(t, 0, a, steps);
    train_losses(t, 1, b, steps);
    for (int s = 0; s < steps; s++)
        cr_expect(fabs(a[s] - b[s]) <= 1e-4 * (1 + fabs(b[s])), "step %d: %.7f vs %.7f", s, a[s], b[s]);
    cr_expect_lt(a[steps - 1], 0.9 * a[0], "%d steps on one batch: loss %.4f -> %.4f", steps, a[0], a[steps - 1]);
}

/* one random network (a with layouts, b plain) in mode on the same batch */
static void run_both(ln_target t, net_rig *a, net_rig *b, cv_mode mode, const float *img, const int32_t *lab, int seed) {
    cv_plan *pa = ln_plan(a, 4, 12, mode);
    setenv("CVNETS_LAYOUT", "plain", 1);
    cv_plan *pb = ln_plan(b, 4, 12, mode);
    unsetenv("CVNETS_LAYOUT");
    cr_assert_null(pb->layout);
    ln_check_consistent(a, pa, t.layout);
    float la[4 * 5], lb[4 * 5];
    cv_step_io ia = { img, lab, la, 0, 0 }, ib = { img, lab, lb, 0, 0 };
    cr_assert_eq(cv_net_run(pa, &ia, &a->err), CV_OK, "seed %d: %s", seed, a->err.message);
    cr_assert_eq(cv_net_run(pb, &ib, &b->err), CV_OK, "seed %d: %s", seed, b->err.message);
    cr_expect(fabs(ia.loss - ib.loss) <= 1e-4 * (1 + fabs(ib.loss)), "seed %d mode %d: loss %g vs %g", seed, mode, ia.loss,
              ib.loss);
    ku_assert_close(la, lb, 4 * 5, 1e-4, 1e-4, "logits");
    if (mode == CV_MODE_TRAIN) ln_expect_buffers_close(a, b, 1, 1e-3, 1e-4, "gradients");
    ln_expect_buffers_close(a, b, 3, 1e-4, 1e-5, "running statistics");
}

int ln_random_graphs(ln_target t, int seeds) {
    int blocked = 0;
    float img[4 * 3 * 12 * 12];
    int32_t lab[4];
    for (int seed = 0; seed < seeds; seed++) {
        ku_rng r = ku_rng_make(900 + (uint64_t)seed);
        uint8_t codes[8];
        const int n = 3 + seed % 6;
        /* layers that keep values plain (view, SE, concat, slice, dropout) drawn less often */
        static const uint8_t kinds[] = { F_CONV, F_CONV, F_CONV, F_BN, F_BN, F_ACT, F_ACT, F_RESID, F_RESID, F_MAXPOOL,
                                         F_AVGPOOL, F_AVGPOOL, F_ADAPT, F_SCALAR, F_VIEW, F_SE, F_CONCAT, F_SLICE, F_DROPOUT };
        for (int i = 0; i < n; i++)
            codes[i] = (uint8_t)(kinds[(int)(ku_uniform(&r) * sizeof kinds)] + F_KINDS * (int)(ku_uniform(&r) * 4));
        net_rig a, b;
        mspec ma, mb;
        ln_rig_open(&a, &ma, t, V_RESNET, seed % 2);
        ln_rig_open(&b, &mb, t, V_RESNET, seed % 2);
        ma.fuzz = mb.fuzz = codes;
        ma.n_fuzz = mb.n_fuzz = n;
        ln_batch(img, lab, 4, 12, 3000 + (uint64_t)seed);
        run_both(t, &a, &b, CV_MODE_TRAIN, img, lab, seed);
        blocked += a.n->plans[0]->layout != NULL;
        run_both(t, &a, &b, CV_MODE_EVAL, img, lab, seed);
        net_rig_close(&a);
        net_rig_close(&b);
    }
    return blocked;
}

void ln_expect_kernel_error(ku_backend be, int op, const void *p, size_t ps, const cv_ktensor *in, int n_in,
                           const uint8_t *lin, const cv_ktensor *out, const uint8_t *lout, const char *want) {
    cv_kernel k = { .struct_size = sizeof k, .op = op, .params = p, .params_size = (uint32_t)ps, .n_in = n_in,
                    .n_out = 1, .in = in, .out = out, .in_layout = lin, .out_layout = lout };
    cv_error err;
    cv_error_init(&err);
    cr_expect_eq(be.vt->run(be.self, &k, &err), CV_ERR_INVALID, "%s: accepted", want);
    cr_expect(strstr(err.message, want) != NULL, "'%s' lacks '%s'", err.message, want);
}

/* ---- 16-bit storage between kernels (ABI 1.4) ------------------------------------------------------ */
cv_plan *ln_plan_storage(net_rig *r, int n, int hw, cv_mode mode, int f32) {
    if (f32) setenv("CVNETS_LAYOUT", "f32", 1);
    cv_plan *p = ln_plan(r, n, hw, mode);
    unsetenv("CVNETS_LAYOUT");
    return p;
}

int ln_count_dtype(const cv_plan *p, int dt) {
    int c = 0;
    for (int32_t t = 0; t < p->g->n_tensors; t++) c += cv_graph_tensor(p->g, t)->dtype == dt;
    return c;
}

double ln_buffers_rel(net_rig *a, net_rig *b, int which) {
    int64_t na, nb;
    float *va = net_rig_read(a, which, &na), *vb = net_rig_read(b, which, &nb);
    cr_assert_eq(na, nb);
    double r = ku_rel_err("layout_net", va, vb, na);
    free(va);
    free(vb);
    return r;
}

void ln_expect_half_storage(ln_target t, int dt) {
    for (int mode = 0; mode < 2; mode++) {
        net_rig r, f;
        mspec m, mf;
        ln_rig_open(&r, &m, t, V_RESNET, mode); /* the global pool: REDUCE, then adaptive pooling */
        ln_rig_open(&f, &mf, t, V_RESNET, mode);
        cv_plan *p = ln_plan_storage(&r, 4, 12, mode ? CV_MODE_EVAL : CV_MODE_TRAIN, 0);
        cr_assert_gt(ln_check_consistent(&r, p, t.layout), 0);
        for (int i = T_CONV1; i <= T_BLOCK2; i++)
            cr_expect_eq(m.t[i]->dtype, dt, "mode %d: tensor %d is %s", mode, i, cv_dtype_name(m.t[i]->dtype));
        cr_expect_eq(m.t[T_HEAD]->dtype, CV_F32, "the [N,C] head");
        cr_expect_eq(p->g->inputs[0]->dtype, CV_F32, "the graph input");
        cr_expect_eq(p->g->logits->dtype, CV_F32, "the logits");
        cv_plan *pf = ln_plan_storage(&f, 4, 12, mode ? CV_MODE_EVAL : CV_MODE_TRAIN, 1);
        cr_assert_gt(ln_check_consistent(&f, pf, t.layout), 0, "CVNETS_LAYOUT=f32 keeps the blocked layout");
        cr_expect_eq(ln_count_dtype(pf, dt), 0, "CVNETS_LAYOUT=f32 stores nothing in 16 bits");
        cr_expect_gt(ln_count_dtype(p, dt), 4);
        cv_plan_info ih, iff;
        cv_plan_info_get(p, &ih);
        cv_plan_info_get(pf, &iff);
        cr_expect_lt(ih.peak_bytes, iff.peak_bytes, "mode %d: planned peak %zu with 16-bit storage, %zu without", mode,
                     ih.peak_bytes, iff.peak_bytes);
        net_rig_close(&r);
        net_rig_close(&f);
    }
}

void ln_half_step_close(ln_target t, int dt, const ln_target *other, int variant, int hw) {
    const double loss_bound = 5e-3, logit_bound = 1e-2, grad_bound = 2e-2, stat_bound = 2e-3;
    net_rig a, b;
    mspec ma, mb;
    ln_rig_open(&a, &ma, t, variant, 0);
    ln_rig_open(&b, &mb, other ? *other : t, variant, 0);
    float *img = malloc(sizeof(float) * (size_t)(8 * 3 * hw * hw)), la[8 * 5], lb[8 * 5];
    int32_t lab[8];
    ln_batch(img, lab, 8, hw, 4242);
    cv_plan *pa = ln_plan_storage(&a, 8, hw, CV_MODE_TRAIN, 0), *pb = ln_plan_storage(&b, 8, hw, CV_MODE_TRAIN, !other);
    cr_assert_gt(ln_count_dtype(pa, dt), 0);
    cr_assert_eq(ln_count_dtype(pb, dt), 0);
    ln_expect_buffers_close(&a, &b, 0, 0, 0, "same initial parameters");
    cv_step_io ia = { img, lab, la, 0, 0 }, ib = { img, lab, lb, 0, 0 };
    cr_assert_eq(cv_net_run(pa, &ia, &a.err), CV_OK, "%s", a.err.message);
    cr_assert_eq(cv_net_run(pb, &ib, &b.err), CV_OK, "%s", b.err.message);
    const double dl = fabs(ia.loss - ib.loss) / (1 + fabs(ib.loss)), lr = ku_rel_err("layout_net losses", la, lb, 8 * 5);
    const double gr = ln_buffers_rel(&a, &b, 1), sr = ln_buffers_rel(&a, &b, 3);
    cr_log_info("%s %s against %s: loss %.3g, logits %.3g, gradients %.3g, running statistics %.3g (relative errors)",
                t.backend, cv_dtype_name(dt), other ? other->backend : "f32 storage", dl, lr, gr, sr);
    cr_expect(dl <= loss_bound, "loss %.6f vs %.6f", ia.loss, ib.loss);
    cr_expect(lr <= logit_bound, "logits: relative error %.3g", lr);
    cr_expect(gr <= grad_bound, "gradients: relative error %.3g", gr);
    cr_expect(sr <= stat_bound, "running statistics: relative error %.3g", sr);
    cr_expect(gr > 1e-6, "gradients: relative error %.3g, so 16-bit storage made no difference", gr);
    free(img);
    net_rig_close(&a);
    net_rig_close(&b);
}

static void half_sgd_losses(ln_target t, int dt, int f32, double *loss, int steps, int variant, int hw) {
    net_rig r;
    mspec m;
    ln_rig_open(&r, &m, t, variant, 0);
    cv_plan *p = ln_plan_storage(&r, 8, hw, CV_MODE_TRAIN, f32);
    cr_assert_eq(ln_count_dtype(p, dt) > 0, !f32);
    sgd_losses(&r, p, 99, 0.05f, loss, steps, hw); /* one batch, so the loss must fall */
    net_rig_close(&r);
}

void ln_half_sgd_follows_f32(ln_target t, int dt, int variant, int hw) {
    double a[8], b[8];
    half_sgd_losses(t, dt, 0, a, 8, variant, hw);
    half_sgd_losses(t, dt, 1, b, 8, variant, hw);
    cr_log_info("losses with 16-bit storage %.4f .. %.4f, without %.4f .. %.4f", a[0], a[7], b[0], b[7]);
    for (int s = 0; s < 8; s++)
        cr_expect(fabs(a[s] - b[s]) <= 3e-2 * (1 + fabs(b[s])), "step %d: %.5f with 16-bit storage, %.5f without", s,
                  a[s], b[s]);
    cr_expect_lt(a[7], a[0] * 0.8, "8 steps on one batch: loss %.4f -> %.4f", a[0], a[7]);
}
