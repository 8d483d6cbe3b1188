/* test/unit/test_cpu_bf16_storage.c — activations stored in bf16 between kernels
 * (ABI 1.4) by the CPU backend with precision = bf16.  The plan: the blocked
 * values whose every kernel takes bf16 are bf16 (the ResNet-style test model from
 * the stem convolution to the last block), the classifier's [N,C] input, the graph
 * input and the logits stay f32, CVNETS_LAYOUT=f32 stores nothing in 16 bits, the
 * planned peak shrinks, and a group one of whose nodes lacks the flag stays f32.  Training: one step against the same backend with
 * f32 storage and against the reference backend, and SGD steps against f32
 * storage, all within bf16 bounds (norm-wise relative errors) and not equal to
 * the f32 result (so bf16 storage was used).  The kernels: batch norm (forward
 * and backward), relu and its gradient, add, a scalar op and GELU (the generic
 * path), max and average pooling (forward and backward; a NaN in a max window), adaptive pooling and
 * the global pool's REDUCE and BROADCAST_TO, and a small-plane weight gradient (one
 * GEMM) on bf16 C16 operands give the f32
 * kernel's results on the same values, rounded to bf16, also over several blocks
 * of the generic element-wise path; the global pool and its gradient between a
 * plain f32 side and a bf16 side, and a squeeze-excitation block that needs them;
 * the depthwise 5x5 weight gradient on C16 operands.
 * And the errors for
 * bf16 operands a kernel does not take.  Skips without AVX512-BF16. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine/internal.h"
#include "support/layout_net.h"

/* see test_cpu_vs_ref.c: LSan cannot scan oneDNN's dynamic TLS */
const char *__lsan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void) { return "use_tls=0"; }
const char *__lsan_default_suppressions(void) { return "leak:_dlerror_run\n"; }

static const char *const bf16_opts[] = { "precision=bf16", NULL };
static const ln_target bf = { "cpu", CV_LAYOUT_C16, NULL, bf16_opts };
static const ln_target ref = { "ref", CV_LAYOUT_PLAIN, NULL, NULL };
static const uint8_t c16[6] = { CV_LAYOUT_C16, CV_LAYOUT_C16, CV_LAYOUT_C16, CV_LAYOUT_C16, CV_LAYOUT_C16, CV_LAYOUT_C16 };

/* the bf16 backend, or a skip on a CPU without AVX512-BF16 */
static ku_backend open_bf16(cv_ctx *ctx) { return ku_backend_open_cpu_bf16(ctx); }
static void need_bf16(void) {
    cv_ctx *ctx = th_ctx_new();
    ku_backend_close(open_bf16(ctx));
    th_ctx_free(ctx);
}

/* ---- the plan ----------------------------------------------------------------------------------- */
Test(bf16_storage, blocks_are_stored_in_bf16_and_the_peak_shrinks) {
    need_bf16();
    ln_expect_half_storage(bf, CV_BF16);
}

/* a group is stored in bf16 only when every node touching it takes bf16: the CPU
 * backend's vtable with the flag taken off its pooling classes keeps the stem (conv,
 * bn, relu, max pool: one group through the uniform nodes) f32, the blocks bf16 */
static cv_backend_vtable no_pool_flag;
static int (*cpu_class)(void *self, const cv_kernel *k);
static int class_without_pool_flag(void *self, const cv_kernel *k) {
    const int c = cpu_class(self, k);
    return k->op == CV_OP_POOL2D || k->op == CV_OP_POOL2D_BWD ? c & ~CV_LAYOUT_CLASS_BF16 : c;
}
static void strip_pool_flag(net_rig *r) {
    no_pool_flag = *r->be.vt;
    cpu_class = no_pool_flag.layout_class;
    no_pool_flag.layout_class = class_without_pool_flag;
    r->be.vt = &no_pool_flag;
    r->e->be.vt = &no_pool_flag;
}

Test(bf16_storage, a_node_without_the_flag_keeps_its_group_f32) {
    need_bf16();
    net_rig r;
    mspec m;
    ln_rig_open(&r, &m, (ln_target){ "cpu", CV_LAYOUT_C16, strip_pool_flag, bf16_opts }, V_RESNET, 0);
    for (int mode = 0; mode < 2; mode++) {
        cv_plan *p = ln_plan_storage(&r, 4, 12, mode ? CV_MODE_EVAL : CV_MODE_TRAIN, 0);
        cr_assert_gt(ln_check_consistent(&r, p, CV_LAYOUT_C16), 0);
        for (int t = T_CONV1; t <= T_POOL; t++) {
            cr_expect_eq(cv_tensor_layout(p, m.t[t]), CV_LAYOUT_C16, "stem tensor %d: still blocked", t);
            cr_expect_eq(m.t[t]->dtype, CV_F32, "mode %d: stem tensor %d next to the pool", mode, t);
        }
        for (int t = T_BLOCK1; t <= T_BLOCK2; t++) cr_expect_eq(m.t[t]->dtype, CV_BF16, "mode %d: block tensor %d", mode, t);
        float img[4 * 3 * 12 * 12], logits[4 * 5];
        int32_t lab[4];
        ln_batch(img, lab, 4, 12, 5);
        cv_step_io io = { img, lab, logits, 0, 0 };
        cr_assert_eq(cv_net_run(p, &io, &r.err), CV_OK, "%s", r.err.message);
    }
    net_rig_close(&r);
}

/* ---- training ------------------------------------------------------------------------------------ */
/* One step of V_W64 at 24x24, whose blocks' 64 -> 64 channel 3x3 convolutions (12x12
 * planes, 288 tiles) run through the bf16 Winograd of wino.c (test_cpu_wino.c tests
 * its kernels).  Bounds (measured against f32 storage / the reference: loss 1.5e-4 /
 * 4.0e-4, logits 1.6e-3 / 1.9e-3, gradients 9.9e-3 / 1.0e-2 (V_RESNET at 12x12, no
 * Winograd: 5.8e-3 / 7.2e-3), running statistics 2.9e-4 / 2.3e-4): the gradients
 * within twice issue 7's per-op bf16 bound (layout_net.h).  The SGD steps run
 * V_RESNET at 12x12 (V_W64's loss falls too slowly in 8 steps for that test's
 * check). */
Test(bf16_storage, a_training_step_stays_close_to_f32_storage) {
    need_bf16();
    ln_half_step_close(bf, CV_BF16, NULL, V_W64, 24);
}
Test(bf16_storage, a_training_step_stays_close_to_the_reference) {
    need_bf16();
    ln_half_step_close(bf, CV_BF16, &ref, V_W64, 24);
}
/* A squeeze-excitation block (V_SE) as MobileNetV3's: its input is plain (the
 * broadcast multiply), its pooled values feed 1x1 convolutions and are blocked, so
 * the pool's REDUCE goes from plain f32 to bf16 and its gradient's BROADCAST_TO from
 * bf16 to plain f32 (until 2026-11-29 the REDUCE refused that: "only f32 is
 * supported", and a MobileNetV3 could not train in bf16) */
/* the nodes of kind op in p that read a 4-D x of dtype xt and write a 4-D y of dtype yt */
static int nodes_between(const cv_plan *p, int op, int xt, int yt) {
    int n = 0;
    for (int32_t i = 0; i < p->g->n_nodes; i++) {
        const cv_node *nd = &p->g->nodes[i];
        if (nd->op != op) continue;
        const cv_tensor *x = cv_graph_tensor(p->g, cv_node_in(p->g, nd)[0]), *y = cv_graph_tensor(p->g, cv_node_out(p->g, nd)[0]);
        n += x->dtype == xt && y->dtype == yt && x->shape.ndim == 4 && y->shape.ndim == 4;
    }
    return n;
}
Test(bf16_storage, a_squeeze_excitation_block_trains) {
    need_bf16();
    net_rig r;
    mspec m;
    ln_rig_open(&r, &m, bf, V_SE, 0);
    cv_plan *p = ln_plan_storage(&r, 8, 12, CV_MODE_TRAIN, 0);
    ln_check_consistent(&r, p, CV_LAYOUT_C16);
    cr_assert_eq(nodes_between(p, CV_OP_REDUCE, CV_F32, CV_BF16), 1, "the pool: plain f32 in, bf16 out");
    cr_assert_eq(nodes_between(p, CV_OP_BROADCAST_TO, CV_BF16, CV_F32), 1, "its gradient: bf16 in, plain f32 out");
    net_rig_close(&r);
    ln_half_step_close(bf, CV_BF16, NULL, V_SE, 12);
    ln_half_step_close(bf, CV_BF16, &ref, V_SE, 12);
}

/* SyncBN with precision = bf16, through the doubling fake collective of
 * test_syncbn.c (two ranks holding the same batch: the global statistics are the
 * local ones).  Its decomposition's broadcasting ops are plain, so the values
 * around each batch norm stay plain f32 while the convolutions still compute in
 * bf16; one step of V_RESNET matches the same net's fused batch norms with bf16
 * storage (norm-wise: loss within 5e-3, gradients 3e-2; measured 5.3e-4 and 1.5e-2). */
static int doubling(void *ctx, float *buf, int64_t n, cv_error *err) {
    (void)ctx;
    (void)err;
    for (int64_t i = 0; i < n; i++) buf[i] *= 2.0f;
    return CV_OK;
}
static void set_doubling(net_rig *r) { cv_net_set_collective(r->n, doubling, NULL); }
Test(bf16_storage, sync_bn_keeps_its_values_f32) {
    need_bf16();
    net_rig r[2];
    mspec m[2];
    ln_rig_open(&r[0], &m[0], (ln_target){ "cpu", CV_LAYOUT_C16, set_doubling, bf16_opts }, V_RESNET, 0);
    ln_rig_open(&r[1], &m[1], bf, V_RESNET, 0);
    static float img[8 * 3 * 12 * 12], logits[2][8 * 5];
    int32_t lab[8];
    ln_batch(img, lab, 8, 12, 4242);
    double loss[2];
    for (int k = 0; k < 2; k++) {
        cv_plan *p = ln_plan(&r[k], 8, 12, CV_MODE_TRAIN);
        if (k == 0) cr_expect_eq(ln_count_dtype(p, CV_BF16), 0, "a value next to a SyncBN layer was stored in bf16");
        else cr_expect_gt(ln_count_dtype(p, CV_BF16), 0);
        cv_step_io io = { img, lab, logits[k], 0, 0 };
        cr_assert_eq(cv_net_run(p, &io, &r[k].err), CV_OK, "%s", r[k].err.message);
        loss[k] = io.loss;
    }
    const double dl = fabs(loss[0] - loss[1]) / (1 + fabs(loss[1])), gr = ln_buffers_rel(&r[0], &r[1], 1);
    cr_log_info("SyncBN against fused batch norms, bf16: loss %.3g, gradients %.3g (relative errors)", dl, gr);
    cr_expect(dl <= 5e-3, "loss %g, fused %g", loss[0], loss[1]);
    cr_expect(gr <= 3e-2, "gradients: relative error %.3g", gr);
    net_rig_close(&r[0]);
    net_rig_close(&r[1]);
}

Test(bf16_storage, sgd_steps_follow_f32_storage) {
    need_bf16();
    ln_half_sgd_follows_f32(bf, CV_BF16, V_RESNET, 12);
}

/* ---- the kernels ------------------------------------------------------------------------------------ */
enum { KN = 2, KC = 32, KH = 5, KW = 5, KE = KN * KC * KH * KW };

static cv_ktensor kt(int dt, void *data, int64_t n, int64_t c, int64_t h, int64_t w) {
    return (cv_ktensor){ dt, 4, { n, c, h, w }, { c * h * w, h * w, w, 1 }, data };
}
static cv_ktensor vec(float *data, int64_t n) { return (cv_ktensor){ CV_F32, 1, { n }, { 1 }, data }; }
/* an operand of the kernel pair: the f32 values (bf16-exact for 4-D ones) and their bf16 copy */
typedef struct pair_op {
    int act;            /* 4-D C16 activation [KN,KC,ph,pw]: bf16 in the bf16 run */
    int64_t ph, pw, n;
    float f[KE];
    uint16_t h[KE];
} pair_op;

static void fill_hw(pair_op *o, int act, int64_t h, int64_t w, int64_t n, ku_rng *g, float lo, float hi) {
    o->act = act;
    o->ph = h;
    o->pw = w;
    o->n = act ? KN * KC * h * w : n;
    for (int64_t i = 0; i < o->n; i++) {
        o->f[i] = lo + (hi - lo) * (float)ku_uniform(g);
        if (act) o->f[i] = ku_from_bf16(o->h[i] = ku_to_bf16(o->f[i]));
    }
}
static void fill(pair_op *o, int act, int64_t n, ku_rng *g, float lo, float hi) { fill_hw(o, act, KH, KW, n, g, lo, hi); }

/* run op on the bf16 backend twice — activations f32, then bf16 — from the same values
 * (inputs copied, so in-place updates start equal); every output of the bf16 run is
 * the f32 run's rounded to bf16 (1 bf16 ulp, 2^-7 relative) or, for f32 outputs and
 * f32 inputs updated in place, within 1e-5 */
static void kernel_pair(ku_backend be, const char *name, int op, const void *p, size_t ps, pair_op *in, int n_in,
                        pair_op *out, int n_out) {
    static pair_op ci[2][6], co[2][6];
    cv_ktensor ti[2][6], to[2][6];
    uint8_t lin[6], lout[6];
    for (int run = 0; run < 2; run++) {
        for (int i = 0; i < n_in + n_out; i++) {
            const int is_in = i < n_in, j = is_in ? i : i - n_in;
            pair_op *c = is_in ? &ci[run][j] : &co[run][j];
            *c = is_in ? in[j] : out[j];
            cv_ktensor *t = is_in ? &ti[run][j] : &to[run][j];
            const int half = run && c->act;
            *t = c->act ? kt(half ? CV_BF16 : CV_F32, half ? (void *)c->h : (void *)c->f, KN, KC, c->ph, c->pw) : vec(c->f, c->n);
            if (!c->act && c->n == KN * KC) *t = kt(CV_F32, c->f, KN, KC, 1, 1); /* a [N,C,1,1] side */
            if (!c->act && c->n == KC * KC) *t = kt(CV_F32, c->f, KC, KC, 1, 1); /* 1x1 convolution weights */
            (is_in ? lin : lout)[j] = c->act ? CV_LAYOUT_C16 : CV_LAYOUT_PLAIN;
        }
        cv_kernel k = { .struct_size = sizeof k, .op = op, .params = p, .params_size = (uint32_t)ps, .n_in = n_in,
                        .n_out = n_out, .in = ti[run], .out = to[run], .in_layout = lin, .out_layout = lout };
        cv_error err;
        cv_error_init(&err);
        cr_assert_eq(be.vt->run(be.self, &k, &err), CV_OK, "%s (run %d): %s", name, run, err.message);
    }
    for (int j = 0; j < n_out; j++)
        for (int64_t i = 0; i < co[0][j].n; i++) {
            const float want = co[0][j].f[i], got = co[1][j].act ? ku_from_bf16(co[1][j].h[i]) : co[1][j].f[i];
            const double tol = co[1][j].act ? ldexp(fabs(want), -7) + 1e-6 : 1e-5 * (1 + fabs(want));
            cr_assert(fabs(got - want) <= tol, "%s: output %d element %lld: %g with bf16 storage, %g in f32", name, j,
                      (long long)i, got, want);
        }
    for (int j = 0; j < n_in; j++) /* f32 inputs updated in place (batch norm's running statistics) */
        for (int64_t i = 0; !ci[0][j].act && i < ci[0][j].n; i++)
            cr_assert(fabs(ci[1][j].f[i] - ci[0][j].f[i]) <= 1e-5 * (1 + fabs(ci[0][j].f[i])),
                      "%s: input %d element %lld (updated in place): %g with bf16 storage, %g in f32", name, j,
                      (long long)i, ci[1][j].f[i], ci[0][j].f[i]);
}

Test(bf16_storage, kernels_give_the_f32_results_rounded) {
    cv_ctx *ctx = th_ctx_new();
    ku_backend be = open_bf16(ctx);
    ku_rng g = ku_rng_make(5);
    static pair_op x, dy, y, gam, bet, rm, rv, mean, rstd, dg, db, nc;
    fill(&x, 1, KE, &g, -2, 2);
    fill(&dy, 1, KE, &g, -1, 1);
    fill(&y, 1, KE, &g, 0, 0);
    fill(&gam, 0, KC, &g, 0.5f, 1.5f);
    fill(&bet, 0, KC, &g, -0.5f, 0.5f);
    fill(&rm, 0, KC, &g, -0.1f, 0.1f);
    fill(&rv, 0, KC, &g, 0.9f, 1.1f);
    fill(&mean, 0, KC, &g, 0, 0);
    fill(&rstd, 0, KC, &g, 0, 0);
    fill(&dg, 0, KC, &g, 0, 0);
    fill(&db, 0, KC, &g, 0, 0);
    cv_norm_params np = { 1e-5f, 0.1f, 1, 0, 0 };
    kernel_pair(be, "batch_norm", CV_OP_BATCH_NORM, &np, sizeof np, (pair_op[]){ x, gam, bet, rm, rv }, 5,
                (pair_op[]){ y, mean, rstd }, 3);
    fill(&mean, 0, KC, &g, -0.2f, 0.2f);
    fill(&rstd, 0, KC, &g, 0.8f, 1.2f);
    kernel_pair(be, "batch_norm_bwd", CV_OP_BATCH_NORM_BWD, &np, sizeof np, (pair_op[]){ x, dy, gam, mean, rstd }, 5,
                (pair_op[]){ y, dg, db }, 3);
    cv_unary_params relu = { CV_RELU, 0 }, gelu = { CV_GELU, 0 };
    kernel_pair(be, "relu", CV_OP_UNARY, &relu, sizeof relu, &x, 1, &y, 1);
    kernel_pair(be, "relu_bwd", CV_OP_UNARY_BWD, &relu, sizeof relu, (pair_op[]){ x, dy }, 2, &y, 1);
    kernel_pair(be, "gelu", CV_OP_UNARY, &gelu, sizeof gelu, &x, 1, &y, 1);
    kernel_pair(be, "gelu_bwd", CV_OP_UNARY_BWD, &gelu, sizeof gelu, (pair_op[]){ x, dy }, 2, &y, 1);
    cv_binary_params add = { CV_ADD }, mul = { CV_MUL };
    kernel_pair(be, "add", CV_OP_BINARY, &add, sizeof add, (pair_op[]){ x, dy }, 2, &y, 1);
    kernel_pair(be, "mul", CV_OP_BINARY, &mul, sizeof mul, (pair_op[]){ x, dy }, 2, &y, 1);
    cv_scalar_params half = { CV_S_MUL, 0.5f };
    kernel_pair(be, "scalar", CV_OP_SCALAR, &half, sizeof half, &x, 1, &y, 1);
    fill(&nc, 0, KN * KC, &g, 0, 0);
    cv_reduce_params mean_hw = { CV_R_MEAN, 0xCu, 1 };
    kernel_pair(be, "reduce", CV_OP_REDUCE, &mean_hw, sizeof mean_hw, &x, 1, &nc, 1);
    fill(&nc, 0, KN * KC, &g, -3, 3);
    cv_reshape_params to4 = { CV_SHAPE(KN, KC, KH, KW) };
    kernel_pair(be, "broadcast_to", CV_OP_BROADCAST_TO, &to4, sizeof to4, &nc, 1, &y, 1);
    static pair_op py, pdy, px;
    for (int fn = 0; fn < 2; fn++) { /* max (oneDNN forward), then average; 3x3 stride 2 pad 1: 5x5 -> 3x3 */
        cv_pool_params pp = { fn ? CV_POOL_AVG : CV_POOL_MAX, { 3, 3 }, { 2, 2 }, { 1, 1 }, 0, 1 };
        fill_hw(&py, 1, 3, 3, 0, &g, 0, 0);
        kernel_pair(be, fn ? "avg_pool" : "max_pool", CV_OP_POOL2D, &pp, sizeof pp, &x, 1, &py, 1);
        fill_hw(&pdy, 1, 3, 3, 0, &g, -1, 1);
        fill_hw(&px, 1, KH, KW, 0, &g, 0, 0);
        /* y as the forward computes it (bf16-exact values of x's maxima) */
        cv_ktensor tx = kt(CV_F32, x.f, KN, KC, KH, KW), ty = kt(CV_F32, py.f, KN, KC, 3, 3);
        cv_kernel fk = { .struct_size = sizeof fk, .op = CV_OP_POOL2D, .params = &pp, .params_size = sizeof pp, .n_in = 1,
                         .n_out = 1, .in = &tx, .out = &ty, .in_layout = c16, .out_layout = c16 };
        cv_error err;
        cv_error_init(&err);
        cr_assert_eq(be.vt->run(be.self, &fk, &err), CV_OK, "%s", err.message);
        for (int64_t i = 0; i < py.n; i++) py.f[i] = ku_from_bf16(py.h[i] = ku_to_bf16(py.f[i]));
        kernel_pair(be, fn ? "avg_pool_bwd" : "max_pool_bwd", CV_OP_POOL2D_BWD, &pp, sizeof pp,
                    (pair_op[]){ x, py, pdy }, 3, &px, 1);
        if (fn) continue;
        /* a NaN in a window: the bf16 row kernel hands its row to the f32 loop, whose
         * rule (the NaN is the maximum) the f32 run follows too */
        static pair_op xn, yn;
        xn = x;
        xn.f[7] = NAN;
        xn.h[7] = ku_to_bf16(NAN);
        yn = py;
        cv_ktensor tn = kt(CV_F32, xn.f, KN, KC, KH, KW), tyn = kt(CV_F32, yn.f, KN, KC, 3, 3);
        fk.in = &tn;
        fk.out = &tyn;
        cr_assert_eq(be.vt->run(be.self, &fk, &err), CV_OK, "%s", err.message);
        for (int64_t i = 0; i < yn.n; i++) yn.h[i] = ku_to_bf16(yn.f[i]), yn.f[i] = ku_from_bf16(yn.h[i]);
        kernel_pair(be, "max_pool_bwd with a NaN", CV_OP_POOL2D_BWD, &pp, sizeof pp, (pair_op[]){ xn, yn, pdy }, 3, &px, 1);
    }
    /* a 1x1 stride-2 weight gradient, 5x5 -> 3x3: a small plane, so one bf16 GEMM whose
     * operands are gathered from the stored activations (dnn_ops.c) */
    static pair_op dw;
    cv_conv_params cp = { { 2, 2, 1 }, { 0, 0, 0 }, { 1, 1, 1 }, 1 };
    fill_hw(&pdy, 1, 3, 3, 0, &g, -1, 1);
    fill(&dw, 0, KC * KC, &g, 0, 0);
    kernel_pair(be, "conv2d_bwd_weight", CV_OP_CONV2D_BWD_WEIGHT, &cp, sizeof cp, (pair_op[]){ pdy, x }, 2, &dw, 1);
    cv_resize_params ap = { 2, 2, 0, 0 }; /* adaptive 5x5 -> 2x2: overlapping windows */
    fill_hw(&py, 1, 2, 2, 0, &g, 0, 0);
    kernel_pair(be, "adaptive_pool", CV_OP_ADAPTIVE_AVG_POOL2D, &ap, sizeof ap, &x, 1, &py, 1);
    fill_hw(&pdy, 1, 2, 2, 0, &g, -1, 1);
    kernel_pair(be, "adaptive_pool_bwd", CV_OP_ADAPTIVE_AVG_POOL2D_BWD, &ap, sizeof ap, &pdy, 1, &px, 1);
    ku_backend_close(be);
    th_ctx_free(ctx);
}

/* The global pool and its gradient between a plain f32 side and a bf16 side (the
 * engine's storage of a blocked [N,C,1,1] group next to a plain one, as in V_SE):
 * REDUCE mean over H, W from a strided f32 view (every other plane of a larger
 * buffer) into bf16 [N,C,1,1] and the sum over N, H, W into bf16 [1,C,1,1]; and
 * BROADCAST_TO from bf16 [N,C,1,1] into plain f32.  Sums in double, rounded once. */
Test(bf16_storage, the_global_pool_between_plain_f32_and_bf16_sides) {
    cv_ctx *ctx = th_ctx_new();
    ku_backend be = open_bf16(ctx);
    static float big[KN * 2 * KC * KH * KW], wide[KE];
    static uint16_t pooled[KN * KC], src[KN * KC];
    ku_rng g = ku_rng_make(11);
    for (int64_t i = 0; i < KN * 2 * KC * KH * KW; i++) big[i] = (float)(4 * ku_uniform(&g) - 2);
    /* x: [KN,KC,KH,KW] over planes 0, 2, 4, .. of big ([KN,2KC,KH,KW]) */
    cv_ktensor x = { CV_F32, 4, { KN, KC, KH, KW }, { 2 * KC * KH * KW, 2 * KH * KW, KW, 1 }, big };
    cv_ktensor y = kt(CV_BF16, pooled, KN, KC, 1, 1);
    static const uint8_t plain1[1] = { CV_LAYOUT_PLAIN };
    cv_reduce_params mean_hw = { CV_R_MEAN, 0xCu, 1 };
    cv_kernel k = { .struct_size = sizeof k, .op = CV_OP_REDUCE, .params = &mean_hw, .params_size = sizeof mean_hw,
                    .n_in = 1, .n_out = 1, .in = &x, .out = &y, .in_layout = plain1, .out_layout = c16 };
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(be.vt->run(be.self, &k, &err), CV_OK, "reduce: %s", err.message);
    for (int64_t n = 0; n < KN; n++)
        for (int64_t c = 0; c < KC; c++) {
            double sum = 0;
            for (int64_t i = 0; i < KH * KW; i++) sum += big[(n * 2 * KC + 2 * c) * KH * KW + i];
            const float want = (float)(sum / (KH * KW)), got = ku_from_bf16(pooled[n * KC + c]);
            cr_assert(fabs(got - want) <= ldexp(fabs(want), -8) + 1e-7, "reduce (%lld, %lld): %g, want %g", (long long)n,
                      (long long)c, got, want);
        }
    /* the sum over N, H, W, kept 4-D as [1,C,1,1] */
    static uint16_t per_c[KC];
    cv_reduce_params sum_nhw = { CV_R_SUM, 0xDu, 1 };
    cv_ktensor yc = kt(CV_BF16, per_c, 1, KC, 1, 1);
    k.params = &sum_nhw;
    k.out = &yc;
    cr_assert_eq(be.vt->run(be.self, &k, &err), CV_OK, "reduce over N, H, W: %s", err.message);
    for (int64_t c = 0; c < KC; c++) {
        double sum = 0;
        for (int64_t n = 0; n < KN; n++)
            for (int64_t i = 0; i < KH * KW; i++) sum += big[(n * 2 * KC + 2 * c) * KH * KW + i];
        const float got = ku_from_bf16(per_c[c]);
        cr_assert(fabs(got - sum) <= ldexp(fabs(sum), -8) + 1e-6, "reduce over N, H, W (%lld): %g, want %g", (long long)c,
                  got, sum);
    }
    for (int64_t i = 0; i < KN * KC; i++) src[i] = ku_to_bf16((float)(2 * ku_uniform(&g) - 1));
    cv_ktensor bx = kt(CV_BF16, src, KN, KC, 1, 1), by = kt(CV_F32, wide, KN, KC, KH, KW);
    cv_reshape_params to4 = { CV_SHAPE(KN, KC, KH, KW) };
    cv_kernel bk = { .struct_size = sizeof bk, .op = CV_OP_BROADCAST_TO, .params = &to4, .params_size = sizeof to4,
                     .n_in = 1, .n_out = 1, .in = &bx, .out = &by, .in_layout = c16, .out_layout = plain1 };
    cr_assert_eq(be.vt->run(be.self, &bk, &err), CV_OK, "broadcast_to: %s", err.message);
    for (int64_t i = 0; i < KE; i++)
        cr_assert_eq(wide[i], ku_from_bf16(src[i / (KH * KW)]), "broadcast_to element %lld", (long long)i);
    ku_backend_close(be);
    th_ctx_free(ctx);
}

/* The depthwise 5x5 weight gradient (dwconv.c) on C16 operands, stride 1 and 2: on
 * the bf16 backend with bf16 activations and on the f32 backend with f32 ones,
 * against sums in double of the same bf16-exact values (every product exact in f32:
 * norm-wise within 1e-5).  Plain operands are test_cpu_vs_ref.c's and test_cpu_bf16.c's. */
Test(bf16_storage, the_depthwise_5x5_weight_gradient_on_c16) {
    cv_ctx *ctx = th_ctx_new();
    ku_backend be[2] = { open_bf16(ctx), ku_backend_open(ctx, "cpu") };
    enum { DN = 3, DC = 32, DH = 9, DW = 9 };
    ku_rng g = ku_rng_make(31);
    for (int s = 1; s <= 2; s++) {
        const int64_t OH = (DH + 4 - 5) / s + 1, OW = (DW + 4 - 5) / s + 1;
        static float x[DN * DC * DH * DW], dy[DN * DC * DH * DW], xf[DN * DC * DH * DW], dyf[DN * DC * DH * DW];
        static uint16_t xh[DN * DC * DH * DW], dyh[DN * DC * DH * DW];
        static float got[DC * 25];
        double want[DC * 25] = { 0 };
        for (int64_t i = 0; i < DN * DC * DH * DW; i++) x[i] = ku_from_bf16(ku_to_bf16((float)(4 * ku_uniform(&g) - 2)));
        for (int64_t i = 0; i < DN * DC * OH * OW; i++) dy[i] = ku_from_bf16(ku_to_bf16((float)(2 * ku_uniform(&g) - 1)));
        for (int64_t n = 0; n < DN; n++)
            for (int64_t c = 0; c < DC; c++)
                for (int64_t oh = 0; oh < OH; oh++)
                    for (int64_t ow = 0; ow < OW; ow++)
                        for (int i = 0; i < 5; i++)
                            for (int j = 0; j < 5; j++) {
                                const int64_t ih = oh * s - 2 + i, iw = ow * s - 2 + j;
                                if (ih < 0 || ih >= DH || iw < 0 || iw >= DW) continue;
                                want[c * 25 + i * 5 + j] += (double)dy[((n * DC + c) * OH + oh) * OW + ow] *
                                                            x[((n * DC + c) * DH + ih) * DW + iw];
                            }
        ku_to_c16(x, DN, DC, DH * DW, xf, xh);
        ku_to_c16(dy, DN, DC, OH * OW, dyf, dyh);
        cv_conv_params cp = { { s, s, 1 }, { 2, 2, 0 }, { 1, 1, 1 }, DC };
        static const uint8_t wplain[1] = { CV_LAYOUT_PLAIN };
        for (int half = 0; half < 2; half++) {
            cv_ktensor in[2] = { kt(half ? CV_BF16 : CV_F32, half ? (void *)dyh : (void *)dyf, DN, DC, OH, OW),
                                 kt(half ? CV_BF16 : CV_F32, half ? (void *)xh : (void *)xf, DN, DC, DH, DW) };
            cv_ktensor w = kt(CV_F32, got, DC, 1, 5, 5);
            cv_kernel k = { .struct_size = sizeof k, .op = CV_OP_CONV2D_BWD_WEIGHT, .params = &cp, .params_size = sizeof cp,
                            .n_in = 2, .n_out = 1, .in = in, .out = &w, .in_layout = c16, .out_layout = wplain };
            cv_error err;
            cv_error_init(&err);
            memset(got, 0xff, sizeof got);
            cr_assert_eq(be[!half].vt->run(be[!half].self, &k, &err), CV_OK, "%s", err.message);
            double e = 0, n2 = 0;
            for (int i = 0; i < DC * 25; i++) e += (got[i] - want[i]) * (got[i] - want[i]), n2 += want[i] * want[i];
            cr_assert(sqrt(e / n2) <= 1e-5, "stride %d, %s: relative error %.3g", s, half ? "bf16" : "f32", sqrt(e / n2));
        }
    }
    ku_backend_close(be[1]);
    ku_backend_close(be[0]);
    th_ctx_free(ctx);
}

/* more than one block of the generic path (65536 elements): SiLU on [2,32,48,48] */
Test(bf16_storage, the_generic_element_wise_path_spans_blocks) {
    cv_ctx *ctx = th_ctx_new();
    ku_backend be = open_bf16(ctx);
    enum { N = 2 * 32 * 48 * 48 };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    uint16_t *xh = malloc(N * 2), *yh = malloc(N * 2);
    ku_rng g = ku_rng_make(3);
    for (int i = 0; i < N; i++) x[i] = ku_from_bf16(xh[i] = ku_to_bf16((float)(4 * ku_uniform(&g) - 2)));
    cv_unary_params silu = { CV_SILU, 0 };
    for (int half = 0; half < 2; half++) {
        cv_ktensor tx = kt(half ? CV_BF16 : CV_F32, half ? (void *)xh : (void *)x, 2, 32, 48, 48);
        cv_ktensor ty = kt(half ? CV_BF16 : CV_F32, half ? (void *)yh : (void *)y, 2, 32, 48, 48);
        cv_kernel k = { .struct_size = sizeof k, .op = CV_OP_UNARY, .params = &silu, .params_size = sizeof silu, .n_in = 1,
                        .n_out = 1, .in = &tx, .out = &ty, .in_layout = c16, .out_layout = c16 };
        cv_error err;
        cv_error_init(&err);
        cr_assert_eq(be.vt->run(be.self, &k, &err), CV_OK, "%s", err.message);
    }
    for (int i = 0; i < N; i++)
        cr_assert(fabs(ku_from_bf16(yh[i]) - y[i]) <= ldexp(fabs(y[i]), -7) + 1e-6, "element %d: %g, f32 %g", i,
                  ku_from_bf16(yh[i]), y[i]);
    free(x);
    free(y);
    free(xh);
    free(yh);
    ku_backend_close(be);
    th_ctx_free(ctx);
}

/* ---- errors --------------------------------------------------------------------------------------- */
Test(bf16_storage, kernels_name_bf16_operands_they_do_not_take) {
    cv_ctx *ctx = th_ctx_new();
    ku_backend be = open_bf16(ctx), f32 = ku_backend_open(ctx, "cpu");
    static uint16_t a[KE], b[KE];
    static float fa[KE];
    cv_ktensor x = kt(CV_BF16, a, KN, KC, KH, KW), y = kt(CV_BF16, b, KN, KC, KH, KW), yf = kt(CV_F32, fa, KN, KC, KH, KW);
    cv_unary_params relu = { CV_RELU, 0 };
    ln_expect_kernel_error(f32, CV_OP_UNARY, &relu, sizeof relu, &x, 1, c16, &y, c16, "unary: input 0 [2,32,5,5] is given the blocked layout (C16), which this op does not take stored in 16 bits");
    ln_expect_kernel_error(be, CV_OP_UNARY, &relu, sizeof relu, &x, 1, c16, &yf, c16, "takes only when all its 4-D operands share it (and one dtype)");
    cv_softmax_params sp = { 1, 0 };
    ln_expect_kernel_error(be, CV_OP_SOFTMAX, &sp, sizeof sp, &x, 1, c16, &y, c16, "softmax: input 0 [2,32,5,5] is given the blocked layout (C16), which this op does not take with these operands");
    ku_backend_close(f32);
    ku_backend_close(be);
    th_ctx_free(ctx);
}
