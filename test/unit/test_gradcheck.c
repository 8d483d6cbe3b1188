/* test/unit/test_gradcheck.c — graph-level finite-difference gradient checks
 * through the whole engine (tracing, autograd rules, planner with in-place reuse,
 * execution on the reference backend), for every forward op kind that has a
 * gradient and for composites (broadcast add, linear+bias, conv+bn+relu,
 * attention).
 *
 * Every op input that should get a gradient is a trainable parameter of a small
 * inline model, filled with fresh random values (never zeros, kept away from
 * kinks).  The loss is L = sum(y * r) with r a random buffer, so dL/dp comes out
 * in the gradient buffer; it is compared with central differences of L obtained
 * by re-running the same training plan with one parameter element moved by ±eps
 * (the dropout step is pinned so masks repeat). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "support/kernel_util.h"
#include "support/testhost.h"

/* the backend under test: the reference one unless CVNETS_ENGINE_BACKEND names another */
static const char *engine_backend(void) {
    const char *b = getenv("CVNETS_ENGINE_BACKEND");
    return b && *b ? b : "ref";
}

#define MAXP 6

typedef struct gc_param {
    cv_shape shape;
    float lo, hi;
    float kinks[3];
    int n_kinks;
    int buffer;           /* 1: a buffer (no gradient): a constant input such as a target */
} gc_param;

typedef struct gc_case {
    const char *name;
    int n_params;
    gc_param p[MAXP];
    cv_tensor *(*build)(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg);
    const void *arg;
    int soft;              /* soft f32 [N,C] targets at input 1 (else i32 [N] labels) */
    int N, C;              /* targets: batch and classes */
    double eps, rtol, atol;
} gc_case;

/* ---- the inline model (params -> build) and loss (sum(y * r)) ------------------------------ */
static cv_tensor *gc_forward(void *self, const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    const gc_case *c = self;
    (void)x;
    cv_tensor *p[MAXP];
    for (int i = 0; i < c->n_params; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "p%d", i);
        cv_init init = { CV_INIT_UNIFORM, c->p[i].lo, c->p[i].hi };
        p[i] = o->param(g, nm, &c->p[i].shape, init, c->p[i].buffer ? CV_TAG_BUFFER : 0);
    }
    return c->build(o, g, p, c->arg);
}

static cv_tensor *gc_loss(void *self, const cv_ops_v1 *o, cv_graph *g, const cv_loss_inputs *in) {
    (void)self;
    cv_shape s;
    if (!in->logits || o->shape(in->logits, &s) != CV_OK) return NULL;
    cv_init init = { CV_INIT_UNIFORM, -1.0f, 1.0f };
    cv_tensor *r = o->param(g, "loss_weights", &s, init, CV_TAG_BUFFER);
    cv_tensor *y = cv_mul(o, g, in->logits, r);
    if (s.ndim == 0) return y;
    return cv_reduce(o, g, y, CV_R_SUM, (1u << s.ndim) - 1, 0);
}

static const cv_model_vtable gc_model_vt = { sizeof(cv_model_vtable), gc_forward, NULL };
static const cv_loss_vtable gc_loss_vt = { sizeof(cv_loss_vtable), 0, 0, gc_loss };
static const cv_component_desc gc_model = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL,
                                            "gc", "any", "gradcheck model", NULL, NULL, NULL, NULL, NULL, &gc_model_vt };
static const cv_component_desc gc_lossd = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_LOSS,
                                            "gcl", "any", "sum(y*r)", NULL, NULL, NULL, NULL, NULL, &gc_loss_vt };

/* ---- the checker --------------------------------------------------------------------------- */
static double run_loss(cv_net *n, cv_plan *p, const float *img, const void *tg, cv_error *err, const char *name) {
    cv_step_io io = { img, tg, NULL, 0, 0 };
    cv_net_set_step(n, 0);
    int st = cv_net_run(p, &io, err);
    cr_assert_eq(st, CV_OK, "%s: run failed: %s", name, err->message);
    return io.loss;
}

static void gradcheck(const gc_case *c) {
    cv_ctx *ctx = th_ctx_new();
    ku_backend be = ku_backend_open(ctx, engine_backend());
    cv_error err;
    cv_error_init(&err);
    cv_engine *e = cv_engine_create(&ctx->host, (cv_backend_ref){ be.vt, be.self }, 1234, &err);
    int C = c->C ? c->C : 3, N = c->N ? c->N : 2;
    cv_net *n = cv_net_create(e, (cv_component_ref){ &gc_model, (void *)c }, (cv_component_ref){ &gc_lossd, NULL }, C, &err);
    cr_assert(e && n, "%s: %s", c->name, err.message);
    cv_shape in = CV_SHAPE(N, 1, 1, 1);
    cv_plan *p = cv_net_plan_get(n, &in, CV_MODE_TRAIN, c->soft, &err);
    cr_assert_not_null(p, "%s: plan: %s", c->name, err.message);
    float img[64] = { 0 };
    float soft[64];
    int32_t lab[16];
    ku_rng rng = ku_rng_make(99);
    for (int i = 0; i < N; i++) lab[i] = (int32_t)(ku_uniform(&rng) * C) % C;
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int k = 0; k < C; k++) s += soft[i * C + k] = 0.1f + (float)ku_uniform(&rng);
        for (int k = 0; k < C; k++) soft[i * C + k] = (float)(soft[i * C + k] / s);
    }
    const void *tg = c->soft ? (const void *)soft : (const void *)lab;
    /* fresh values, away from kinks */
    for (int i = 0; i < c->n_params; i++) {
        int64_t cnt = cv_shape_numel(&c->p[i].shape);
        float *v = ku_random(&rng, cnt, c->p[i].lo, c->p[i].hi);
        if (c->p[i].n_kinks) ku_keep_away(v, cnt, c->p[i].kinks, c->p[i].n_kinks, 0.05f);
        cr_assert_eq(cv_net_param_write(n, i, v, &err), CV_OK, "%s", err.message);
        free(v);
    }
    double eps = c->eps ? c->eps : 1e-2, rtol = c->rtol ? c->rtol : 2e-2, atol = c->atol ? c->atol : 2e-3;
    run_loss(n, p, img, tg, &err, c->name);
    int64_t nt = cv_net_trainable_elems(n);
    float *grad = calloc((size_t)nt + 1, sizeof(float));
    cr_assert_eq(cv_net_buffer_read(n, 1, grad, nt, &err), CV_OK);
    int checked = 0;
    for (int i = 0; i < c->n_params; i++) {
        if (c->p[i].buffer) continue;
        const cv_param_info *pi = cv_net_param(n, i);
        int64_t cnt = cv_shape_numel(&pi->shape);
        float *v = malloc((size_t)cnt * sizeof(float));
        cr_assert_eq(cv_net_param_read(n, i, v, &err), CV_OK);
        int64_t step = cnt > 16 ? cnt / 16 : 1;
        for (int64_t j = (int64_t)(ku_uniform(&rng) * (double)step); j < cnt; j += step) {
            float keep = v[j];
            v[j] = (float)(keep + eps);
            cv_net_param_write(n, i, v, &err);
            double lp = run_loss(n, p, img, tg, &err, c->name);
            v[j] = (float)(keep - eps);
            cv_net_param_write(n, i, v, &err);
            double lm = run_loss(n, p, img, tg, &err, c->name);
            v[j] = keep;
            cv_net_param_write(n, i, v, &err);
            double num = (lp - lm) / (2 * eps), ana = grad[pi->offset + j];
            cr_assert(fabs(num - ana) <= atol + rtol * fmax(fabs(num), fabs(ana)),
                      "%s: d/d%s[%lld]: analytic %.6g vs numeric %.6g", c->name, pi->name, (long long)j, ana, num);
            checked++;
        }
        free(v);
    }
    cr_assert_gt(checked, 0, "%s: nothing checked", c->name);
    if (getenv("GC_VERBOSE")) fprintf(stderr, "%s: %d checked\n", c->name, checked);
    double gs = 0;
    for (int64_t i = 0; i < nt; i++) gs += fabs(grad[i]);
    cr_assert_gt(gs, 0, "%s: every gradient is zero", c->name);
    free(grad);
    cv_net_destroy(n);
    cv_engine_destroy(e);
    ku_backend_close(be);
    th_ctx_free(ctx);
}

#define P(...) { CV_SHAPE(__VA_ARGS__), -1.0f, 1.0f, { 0 }, 0, 0 }
#define PR(lo_, hi_, ...) { CV_SHAPE(__VA_ARGS__), lo_, hi_, { 0 }, 0, 0 }
#define PK(k, ...) { CV_SHAPE(__VA_ARGS__), -1.0f, 1.0f, { k }, 1, 0 }
#define PB(lo_, hi_, ...) { CV_SHAPE(__VA_ARGS__), lo_, hi_, { 0 }, 0, 1 }

/* ---- op builders ------------------------------------------------------------------------------ */
typedef struct conv_arg { int stride, pad, dil, groups, bias; } conv_arg;
static cv_tensor *b_conv(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    const conv_arg *a = arg;
    return cv_conv2d(o, g, p[0], p[1], a->bias ? p[2] : NULL, a->stride, a->pad, a->dil, a->groups);
}
static cv_tensor *b_matmul(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    const int *t = arg;
    return cv_matmul(o, g, p[0], p[1], t[0], t[1]);
}
static cv_tensor *b_linear(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    return cv_linear(o, g, p[0], p[1], arg ? p[2] : NULL);
}
static cv_tensor *b_norm(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    const cv_norm_params *np = arg;
    int op = np->axes ? CV_OP_LAYER_NORM : np->groups ? CV_OP_GROUP_NORM : CV_OP_BATCH_NORM;
    cv_tensor *in[5] = { p[0], p[1], p[2], p[3], p[4] };
    return o->op(g, op, in, op == CV_OP_BATCH_NORM ? 5 : 3, np, sizeof *np);
}
static cv_tensor *b_unary(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    const cv_unary_params *u = arg;
    return cv_unary(o, g, p[0], u->fn, u->alpha);
}
static cv_tensor *b_binary(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    return cv_binary(o, g, p[0], p[1], *(const int *)arg);
}
static cv_tensor *b_scalar(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    const cv_scalar_params *s = arg;
    return cv_scalar(o, g, p[0], s->fn, s->value);
}
typedef struct op1 { int op; const void *params; size_t size; int n_in; } op1;
static cv_tensor *b_op1(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    const op1 *a = arg;
    cv_tensor *in[MAXP];
    for (int i = 0; i < a->n_in; i++) in[i] = p[i];
    return o->op(g, a->op, in, a->n_in ? a->n_in : 1, a->params, a->size);
}
static cv_tensor *b_ce_w(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    const cv_ce_params *cp = arg;
    cv_tensor *in[3] = { p[0], o->input(g, 1), p[1] };
    return o->op(g, CV_OP_CROSS_ENTROPY, in, 3, cp, sizeof *cp);
}
static cv_tensor *b_ce_nw(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    const cv_ce_params *cp = arg;
    cv_tensor *in[2] = { p[0], o->input(g, 1) };
    return o->op(g, CV_OP_CROSS_ENTROPY, in, 2, cp, sizeof *cp);
}
static cv_tensor *b_embedding(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    (void)arg;
    cv_tensor *in[2] = { p[0], o->input(g, 1) };
    return o->op(g, CV_OP_EMBEDDING, in, 2, NULL, 0);
}
static cv_tensor *b_cast(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    cv_cast_params h = { CV_F16 }, f = { CV_F32 };
    (void)arg;
    return CV_OP1(o, g, CV_OP_CAST, CV_OP1(o, g, CV_OP_CAST, p[0], &h), &f);
}

/* ---- composites ------------------------------------------------------------------------------- */
static cv_tensor *b_conv_bn_relu(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    (void)arg;
    cv_tensor *y = cv_conv2d(o, g, p[0], p[1], NULL, 1, 1, 1, 1);
    cv_shape c = CV_SHAPE(3);
    cv_init z = { CV_INIT_ZEROS, 0, 0 }, one = { CV_INIT_ONES, 0, 0 };
    cv_tensor *rm = o->param(g, "rm", &c, z, CV_TAG_BUFFER), *rv = o->param(g, "rv", &c, one, CV_TAG_BUFFER);
    cv_norm_params np = { 1e-5f, 0.1f, 1, 0, 0 };
    cv_tensor *in[5] = { y, p[2], p[3], rm, rv };
    y = o->op(g, CV_OP_BATCH_NORM, in, 5, &np, sizeof np);
    return cv_unary(o, g, y, CV_RELU, 0);
}
static cv_tensor *b_attention(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    (void)arg;
    return cv_attention(o, g, p[0], p[1], p[2], 0.5f);
}
/* a residual block shape: x used twice (gradient accumulation), in-place chains */
static cv_tensor *b_residual(const cv_ops_v1 *o, cv_graph *g, cv_tensor **p, const void *arg) {
    (void)arg;
    cv_tensor *x = p[0];
    cv_tensor *y = cv_unary(o, g, cv_conv2d(o, g, x, p[1], NULL, 1, 1, 1, 1), CV_SILU, 0);
    y = cv_scalar(o, g, y, CV_S_MUL, 0.5f);
    y = cv_add(o, g, y, x);
    return cv_unary(o, g, cv_mul(o, g, y, x), CV_TANH, 0);
}

/* ---- tests ------------------------------------------------------------------------------------- */
Test(gradcheck, conv2d) {
    static const conv_arg a1 = { 1, 1, 1, 1, 1 }, a2 = { 2, 1, 1, 2, 0 }, a3 = { 2, 2, 2, 4, 1 };
    gc_case c1 = { "conv2d 3x3 pad 1 + bias", 3, { P(2, 3, 5, 5), P(4, 3, 3, 3), P(4) }, b_conv, &a1 };
    gc_case c2 = { "conv2d stride 2 groups 2", 2, { P(2, 4, 6, 5), P(6, 2, 3, 3) }, b_conv, &a2 };
    gc_case c3 = { "conv2d depthwise dilation 2", 3, { P(1, 4, 7, 7), P(4, 1, 3, 3), P(4) }, b_conv, &a3 };
    gradcheck(&c1);
    gradcheck(&c2);
    gradcheck(&c3);
}

Test(gradcheck, matmul_and_linear) {
    static const int nn[2] = { 0, 0 }, tt[2] = { 1, 1 }, tn[2] = { 1, 0 }, nt[2] = { 0, 1 };
    gc_case c1 = { "matmul batch-broadcast", 2, { P(2, 3, 4), P(4, 5) }, b_matmul, nn };
    gc_case c2 = { "matmul trans_a trans_b", 2, { P(2, 1, 4, 3), P(3, 5, 4) }, b_matmul, tt };
    gc_case c3 = { "matmul trans_a", 2, { P(4, 3), P(2, 4, 5) }, b_matmul, tn };
    gc_case c4 = { "matmul trans_b", 2, { P(2, 3, 4), P(2, 5, 4) }, b_matmul, nt };
    gc_case c5 = { "linear + bias", 3, { P(2, 3, 4), P(5, 4), P(5) }, b_linear, "bias" };
    gc_case c6 = { "linear 1-D input", 2, { P(4), P(3, 4) }, b_linear, NULL };
    gradcheck(&c1);
    gradcheck(&c2);
    gradcheck(&c3);
    gradcheck(&c4);
    gradcheck(&c5);
    gradcheck(&c6);
}

Test(gradcheck, norms) {
    static const cv_norm_params bn = { 1e-5f, 0.1f, 1, 0, 0 }, ln = { 1e-5f, 0, 0, 0, 1 }, ln2 = { 1e-5f, 0, 0, 0, 2 },
                                gn = { 1e-5f, 0, 0, 2, 0 };
    static const cv_norm_params fbn = { 1e-3f, 0.1f, 0, 0, 0 };
    gc_case c0 = { "batch_norm frozen (training=0) in a training graph", 5,
                   { P(3, 2, 2, 3), PR(0.5f, 1.5f, 2), P(2), PB(-0.5f, 0.5f, 2), PB(0.5f, 2, 2) }, b_norm, &fbn };
    gradcheck(&c0);
    gc_case c1 = { "batch_norm train", 5, { P(4, 3, 2, 2), PR(0.5f, 1.5f, 3), P(3), PB(0, 1, 3), PB(1, 2, 3) }, b_norm, &bn };
    gc_case c2 = { "layer_norm 1 axis", 3, { P(2, 3, 5), PR(0.5f, 1.5f, 5), P(5) }, b_norm, &ln };
    gc_case c3 = { "layer_norm 2 axes", 3, { P(2, 3, 4), PR(0.5f, 1.5f, 3, 4), P(3, 4) }, b_norm, &ln2 };
    gc_case c4 = { "group_norm", 3, { P(2, 4, 3, 2), PR(0.5f, 1.5f, 4), P(4) }, b_norm, &gn };
    gradcheck(&c1);
    gradcheck(&c2);
    gradcheck(&c3);
    gradcheck(&c4);
}

Test(gradcheck, unary) {
    static const struct { int fn; float alpha, lo, hi, k1, k2; int nk; } u[] = {
        { CV_RELU, 0, -1, 1, 0, 0, 1 },        { CV_RELU6, 0, -1, 7, 0, 6, 2 },
        { CV_LEAKY_RELU, 0.1f, -1, 1, 0, 0, 1 }, { CV_GELU, 0, -2, 2, 0, 0, 0 },
        { CV_GELU_TANH, 0, -2, 2, 0, 0, 0 },   { CV_SILU, 0, -2, 2, 0, 0, 0 },
        { CV_HARDSWISH, 0, -4, 4, -3, 3, 2 },  { CV_HARDSIGMOID, 0, -4, 4, -3, 3, 2 },
        { CV_SIGMOID, 0, -2, 2, 0, 0, 0 },     { CV_TANH, 0, -2, 2, 0, 0, 0 },
        { CV_EXP, 0, -1, 1, 0, 0, 0 },         { CV_LOG, 0, 0.5f, 2, 0, 0, 0 },
        { CV_SQRT, 0, 0.5f, 2, 0, 0, 0 },      { CV_RSQRT, 0, 0.5f, 2, 0, 0, 0 },
        { CV_NEG, 0, -1, 1, 0, 0, 0 },         { CV_ABS, 0, -1, 1, 0, 0, 1 },
        { CV_SQUARE, 0, -1, 1, 0, 0, 0 },      { CV_IDENTITY, 0, -1, 1, 0, 0, 0 },
    };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        cv_unary_params up = { u[i].fn, u[i].alpha };
        char name[64];
        snprintf(name, sizeof name, "unary fn %d", u[i].fn);
        gc_case c = { name, 1, { { CV_SHAPE(2, 3, 4), u[i].lo, u[i].hi, { u[i].k1, u[i].k2 }, u[i].nk, 0 } }, b_unary, &up };
        gradcheck(&c);
    }
}

Test(gradcheck, binary_broadcast) {
    static const int fns[] = { CV_ADD, CV_SUB, CV_MUL, CV_DIV, CV_MAX, CV_MIN };
    for (int i = 0; i < 6; i++) {
        char name[64];
        snprintf(name, sizeof name, "binary fn %d broadcast", fns[i]);
        gc_case c = { name, 2, { P(2, 3, 4), PR(0.5f, 1.5f, 3, 1) }, b_binary, &fns[i] };
        if (fns[i] == CV_MAX || fns[i] == CV_MIN) { /* no broadcast: ties need distinct values; small eps */
            c.p[1] = (gc_param)P(3, 4);
            c.eps = 1e-3;
            c.atol = 5e-3;
        }
        gradcheck(&c);
    }
    static const int add = CV_ADD;
    gc_case c = { "broadcast add [2,1,4]+[3,1]", 2, { P(2, 1, 4), P(3, 1) }, b_binary, &add };
    gradcheck(&c);
}

Test(gradcheck, scalar) {
    static const cv_scalar_params s[] = { { CV_S_ADD, 0.5f }, { CV_S_MUL, -1.5f }, { CV_S_POW, 2.5f },
                                          { CV_S_RSUB, 1.0f }, { CV_S_CLAMP_MIN, 0.2f }, { CV_S_CLAMP_MAX, -0.1f } };
    for (int i = 0; i < 6; i++) {
        char name[64];
        snprintf(name, sizeof name, "scalar fn %d", s[i].fn);
        gc_case c = { name, 1, { { CV_SHAPE(3, 4), s[i].fn == CV_S_POW ? 0.5f : -1.0f, 1.0f, { s[i].value }, 1, 0 } },
                      b_scalar, &s[i] };
        gradcheck(&c);
    }
}

Test(gradcheck, reduce_pool_resize) {
    static const cv_reduce_params r1 = { CV_R_SUM, 0x5, 0 }, r2 = { CV_R_MEAN, 0x2, 1 };
    static const cv_pool_params mp = { CV_POOL_MAX, { 3, 3 }, { 2, 2 }, { 1, 1 }, 1, 1 },
                                ap = { CV_POOL_AVG, { 2, 3 }, { 2, 1 }, { 1, 1 }, 0, 0 };
    static const cv_resize_params aap = { 2, 3, 0, 0 }, bl0 = { 7, 5, CV_RESIZE_BILINEAR, 0 },
                                  bl1 = { 7, 5, CV_RESIZE_BILINEAR, 1 }, nn = { 6, 4, CV_RESIZE_NEAREST, 0 };
    op1 o[] = {
        { CV_OP_REDUCE, &r1, sizeof r1, 1 }, { CV_OP_REDUCE, &r2, sizeof r2, 1 },
        { CV_OP_POOL2D, &mp, sizeof mp, 1 }, { CV_OP_POOL2D, &ap, sizeof ap, 1 },
        { CV_OP_ADAPTIVE_AVG_POOL2D, &aap, sizeof aap, 1 }, { CV_OP_RESIZE, &bl0, sizeof bl0, 1 },
        { CV_OP_RESIZE, &bl1, sizeof bl1, 1 }, { CV_OP_RESIZE, &nn, sizeof nn, 1 },
    };
    const char *names[] = { "reduce sum", "reduce mean keepdim", "max pool ceil", "avg pool", "adaptive avg pool",
                            "bilinear", "bilinear align_corners", "nearest" };
    for (int i = 0; i < 8; i++) {
        gc_case c = { names[i], 1, { P(2, 2, 5, 5) }, b_op1, &o[i] };
        if (i < 2) c.p[0] = (gc_param)P(3, 4, 2);
        gradcheck(&c);
    }
}

Test(gradcheck, shape_ops) {
    static const cv_axis_params ax = { 1 };
    static const cv_slice_params s0 = { 0, 0, 1, 2 }, s2 = { 2, 0, 1, 3 }, sn = { -1, 0, 0, 2 };
    static cv_pad_params pad = { { 0, 1, 0 }, { 0, 2, -1 }, 0.5f };
    static const cv_reshape_params rs = { { 2, 0, { 4, -1 } } }, bt = { { 3, 0, { 2, 3, 4 } } }, st = { { 2, 0, { 3, 1 } } };
    static const cv_permute_params pm = { { 2, 0, 1 } };
    static const cv_softmax_params sm = { -1, 0 }, lsm = { 1, 1 };
    op1 o[] = {
        { CV_OP_CONCAT, &ax, sizeof ax, 3 }, { CV_OP_SLICE, &s0, sizeof s0, 1 }, { CV_OP_SLICE, &s2, sizeof s2, 1 },
        { CV_OP_SLICE, &sn, sizeof sn, 1 }, { CV_OP_PAD, &pad, sizeof pad, 1 }, { CV_OP_RESHAPE, &rs, sizeof rs, 1 },
        { CV_OP_PERMUTE, &pm, sizeof pm, 1 }, { CV_OP_SOFTMAX, &sm, sizeof sm, 1 }, { CV_OP_SOFTMAX, &lsm, sizeof lsm, 1 },
        { CV_OP_BROADCAST_TO, &bt, sizeof bt, 1 }, { CV_OP_SUM_TO, &st, sizeof st, 1 },
    };
    const char *names[] = { "concat", "slice view", "slice kernel", "slice last axis", "pad", "reshape", "permute",
                            "softmax", "log_softmax", "broadcast_to", "sum_to" };
    for (int i = 0; i < 11; i++) {
        gc_case c = { names[i], 1, { P(3, 2, 4) }, b_op1, &o[i] };
        if (i == 0) {
            c.n_params = 3;
            c.p[1] = (gc_param)P(3, 1, 4);
            c.p[2] = (gc_param)P(3, 3, 4);
        }
        if (i == 9) c.p[0] = (gc_param)P(3, 1);
        if (i == 10) c.p[0] = (gc_param)P(2, 3, 4);
        gradcheck(&c);
    }
}

Test(gradcheck, dropout_and_drop_path) {
    static const cv_dropout_params d = { 0.3f };
    op1 o1 = { CV_OP_DROPOUT, &d, sizeof d, 1 }, o2 = { CV_OP_DROP_PATH, &d, sizeof d, 1 };
    gc_case c1 = { "dropout", 1, { P(4, 3, 4) }, b_op1, &o1 };
    gc_case c2 = { "drop_path", 1, { P(6, 2, 3) }, b_op1, &o2 };
    gradcheck(&c1);
    gradcheck(&c2);
}

Test(gradcheck, losses) {
    static const cv_ce_params ce = { 0.0f, -100 }, ls = { 0.1f, 1 };
    static const cv_smooth_l1_params sl = { 0.5f };
    gc_case c1 = { "cross_entropy", 1, { PR(-2, 2, 5, 4) }, b_ce_nw, &ce, 0, 5, 4 };
    gc_case c2 = { "cross_entropy smoothing + ignore_index", 1, { PR(-2, 2, 6, 3) }, b_ce_nw, &ls, 0, 6, 3 };
    gc_case c3 = { "cross_entropy class weights", 2, { PR(-2, 2, 5, 4), PB(0.5f, 2, 4) }, b_ce_w, &ce, 0, 5, 4 };
    gc_case c4 = { "cross_entropy soft targets", 1, { PR(-2, 2, 4, 3) }, b_ce_nw, &ce, 1, 4, 3 };
    op1 bce = { CV_OP_BCE_LOGITS, NULL, 0, 2 }, sl1 = { CV_OP_SMOOTH_L1, &sl, sizeof sl, 2 };
    gc_case c5 = { "bce_with_logits", 2, { PR(-2, 2, 3, 4), PB(0, 1, 3, 4) }, b_op1, &bce };
    gc_case c6 = { "smooth_l1", 2, { PR(-2, 2, 3, 4), PB(-2, 2, 3, 4) }, b_op1, &sl1 };
    gradcheck(&c1);
    gradcheck(&c2);
    gradcheck(&c3);
    gradcheck(&c4);
    gradcheck(&c5);
    gradcheck(&c6);
}

Test(gradcheck, embedding_and_cast) {
    gc_case c1 = { "embedding", 1, { P(5, 3) }, b_embedding, NULL, 0, 4, 5 };
    gc_case c2 = { "cast f32->f16->f32", 1, { P(3, 4) }, b_cast, NULL, 0, 0, 0, 5e-2, 5e-2, 2e-2 };
    gradcheck(&c1);
    gradcheck(&c2);
}

Test(gradcheck, composites) {
    gc_case c1 = { "conv+bn+relu", 4, { P(2, 2, 4, 4), P(3, 2, 3, 3), PR(0.5f, 1.5f, 3), P(3) }, b_conv_bn_relu };
    gc_case c2 = { "attention", 3, { P(2, 3, 4), P(2, 5, 4), P(2, 5, 3) }, b_attention };
    gc_case c3 = { "residual (reuse, in-place chain)", 2, { P(1, 2, 4, 4), P(2, 2, 3, 3) }, b_residual };
    gradcheck(&c1);
    gradcheck(&c2);
    gradcheck(&c3);
}
