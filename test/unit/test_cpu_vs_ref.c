/* test/unit/test_cpu_vs_ref.c — the CPU backend (cvnets-backend-cpu.so) against
 * the reference backend (cvnets-backend-ref.so) on every op kind, forward,
 * backward and updates: the same fresh random inputs go to both, outputs of the
 * CPU backend start as NaN (so an element it forgets fails), and every output
 * must match the reference within the bound stated with each case.  Three CPU
 * instances run every case: conv_layout=blocked (oneDNN picks blocked layouts,
 * reorders inside the op) with conv_algorithm=auto (Winograd where oneDNN likes
 * it) and batch_norm=own on 2 threads; blocked, direct, batch_norm=onednn on 1
 * thread; conv_layout=plain, batch_norm=own on 1 thread.
 *
 * Bounds (relative rtol, absolute atol): 1e-5/1e-5 for data movement and exact
 * elementwise math; 1e-4/1e-5 for transcendental elementwise functions (float
 * libm vs the reference's double); 1e-4/1e-4 for reductions, norms, softmax and
 * losses (float vs double accumulation order); 2e-4/2e-4 for convolution and
 * matmul (oneDNN's blocked summation order, K up to a few hundred). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support/kcase.h"
#include "support/kernel_util.h"
#include "support/testhost.h"

/* LeakSanitizer (GCC 12) crashes while reading the dynamic TLS that the dlopen'd
 * oneDNN creates in its threads ("Tracer caught signal 11"), which would leave
 * those test processes unchecked.  Scanning without TLS roots only makes the
 * check stricter; the one false report that follows is glibc's dlerror buffer,
 * which lives in TLS.  These hooks are read by the sanitizer runtime only. */
const char *__lsan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void) { return "use_tls=0"; }
const char *__lsan_default_suppressions(void) { return "leak:_dlerror_run\n"; }

static cv_ctx *ctx;
#define N_CPU 3
static ku_backend ref, cpu[N_CPU];
static ku_rng rng;
static kc_bench bench; /* ref and the three CPU instances */

static ku_backend open_cpu(const char *layout, const char *alg, const char *bn, int threads) {
    const cv_component_desc *d = th_load(ctx, "backend", "cpu");
    cv_create_args extra;
    memset(&extra, 0, sizeof extra);
    extra.struct_size = sizeof extra;
    extra.threads = threads;
    char kv[64], kv2[64], kv3[64];
    snprintf(kv, sizeof kv, "conv_layout=%s", layout);
    snprintf(kv2, sizeof kv2, "batch_norm=%s", bn);
    snprintf(kv3, sizeof kv3, "conv_algorithm=%s", alg);
    const char *const kvs[] = { kv, kv2, kv3, NULL };
    ku_backend be = { d->vtable, th_create(ctx, d, kvs, &extra), d };
    return be;
}

static void setup(void) {
    ctx = th_ctx_new();
    ref = ku_backend_open(ctx, "ref");
    cpu[0] = open_cpu("blocked", "auto", "own", 2);
    cpu[1] = open_cpu("blocked", "direct", "onednn", 1);
    cpu[2] = open_cpu("plain", "auto", "own", 1);
    rng = ku_rng_make(20261128);
    bench = (kc_bench){ ref, N_CPU, { cpu[0], cpu[1], cpu[2] },
                        { "cpu blocked/auto/own bn", "cpu blocked/direct/onednn bn", "cpu plain/own bn" }, &rng };
}
static void teardown(void) {
    for (int b = 0; b < N_CPU; b++) ku_backend_close(cpu[b]);
    ku_backend_close(ref);
    th_ctx_free(ctx);
}
TestSuite(cpu_vs_ref, .init = setup, .fini = teardown);

static int64_t numel(const cv_shape *s) { return cv_shape_numel(s); }

#define CASE(...) KC_CASE(&bench, __VA_ARGS__)
#define P(x) KC_P(x)

/* ---- convolution ------------------------------------------------------------------ */
Test(cpu_vs_ref, conv2d_plain_3x3_bias) { kc_conv_cases(&bench, 2, 3, 9, 7, 4, 3, 1, 1, 1, 1, 1); }
Test(cpu_vs_ref, conv2d_depthwise_stride2_odd) { kc_conv_cases(&bench, 2, 8, 11, 10, 8, 3, 2, 1, 1, 8, 0); }
Test(cpu_vs_ref, conv2d_groups_dilation) { kc_conv_cases(&bench, 1, 6, 12, 13, 9, 3, 1, 2, 2, 3, 1); }
Test(cpu_vs_ref, conv2d_pointwise) { kc_conv_cases(&bench, 3, 5, 7, 7, 6, 1, 1, 0, 1, 1, 0); }
Test(cpu_vs_ref, conv2d_k5_stride3) { kc_conv_cases(&bench, 2, 4, 9, 8, 4, 5, 3, 2, 1, 2, 1); }
Test(cpu_vs_ref, conv2d_blocked_channels) { kc_conv_cases(&bench, 2, 16, 10, 10, 32, 3, 1, 1, 1, 1, 1); }
/* a ResNet-like 3x3 layer where conv_algorithm=auto makes oneDNN use Winograd */
Test(cpu_vs_ref, conv2d_winograd_sized) { kc_conv_cases(&bench, 16, 64, 14, 14, 64, 3, 1, 1, 1, 1, 0); }
Test(cpu_vs_ref, conv2d_stem_stride2) { kc_conv_cases(&bench, 2, 3, 15, 15, 16, 7, 2, 3, 1, 1, 0); }
/* output planes of <= 16 pixels: the weight gradient runs as one GEMM over im2col */
Test(cpu_vs_ref, conv2d_small_planes) {
    kc_conv_cases(&bench, 3, 24, 4, 4, 20, 3, 1, 1, 1, 1, 1);
    kc_conv_cases(&bench, 2, 16, 7, 7, 8, 3, 2, 1, 1, 1, 0);
    kc_conv_cases(&bench, 2, 8, 4, 4, 8, 3, 1, 2, 2, 1, 0);
}

/* ---- matmul / linear ------------------------------------------------------------------ */
Test(cpu_vs_ref, matmul) {
    cv_matmul_params nn = { 0, 0 }, tn = { 1, 0 }, nt = { 0, 1 }, tt = { 1, 1 };
    CASE(.name = "matmul 2d", .op = CV_OP_MATMUL, .p = P(nn), .n_in = 2, .in = { F32(5, 7), F32(7, 3) }, .n_out = 1,
         .out = { F32(5, 3) }, .rtol = 2e-4, .atol = 2e-4);
    CASE(.name = "matmul trans_a", .op = CV_OP_MATMUL, .p = P(tn), .n_in = 2, .in = { F32(2, 7, 5), F32(2, 7, 3) },
         .n_out = 1, .out = { F32(2, 5, 3) }, .rtol = 2e-4, .atol = 2e-4);
    CASE(.name = "matmul trans_b", .op = CV_OP_MATMUL, .p = P(nt), .n_in = 2, .in = { F32(3, 4, 6), F32(3, 5, 6) },
         .n_out = 1, .out = { F32(3, 4, 5) }, .rtol = 2e-4, .atol = 2e-4);
    CASE(.name = "matmul trans both", .op = CV_OP_MATMUL, .p = P(tt), .n_in = 2, .in = { F32(2, 9, 4), F32(2, 5, 9) },
         .n_out = 1, .out = { F32(2, 4, 5) }, .rtol = 2e-4, .atol = 2e-4);
    CASE(.name = "matmul broadcast batch", .op = CV_OP_MATMUL, .p = P(nn), .n_in = 2,
         .in = { F32(3, 1, 5, 7), F32(4, 7, 6) }, .n_out = 1, .out = { F32(3, 4, 5, 6) }, .rtol = 2e-4, .atol = 2e-4);
    CASE(.name = "matmul broadcast 2d b", .op = CV_OP_MATMUL, .p = P(nt), .n_in = 2,
         .in = { F32(2, 3, 5, 7), F32(6, 7) }, .n_out = 1, .out = { F32(2, 3, 5, 6) }, .rtol = 2e-4, .atol = 2e-4);
}

Test(cpu_vs_ref, linear) {
    CASE(.name = "linear bias", .op = CV_OP_LINEAR, .n_in = 3, .in = { F32(5, 7), F32(3, 7), F32(3) }, .n_out = 1,
         .out = { F32(5, 3) }, .rtol = 2e-4, .atol = 2e-4);
    CASE(.name = "linear 3d", .op = CV_OP_LINEAR, .n_in = 2, .in = { F32(2, 3, 8), F32(4, 8) }, .n_out = 1,
         .out = { F32(2, 3, 4) }, .rtol = 2e-4, .atol = 2e-4);
    CASE(.name = "linear K=0 gives the bias", .op = CV_OP_LINEAR, .n_in = 3, .in = { F32(3, 0), F32(4, 0), F32(4) },
         .n_out = 1, .out = { F32(3, 4) }, .rtol = 0, .atol = 0);
    CASE(.name = "linear wide", .op = CV_OP_LINEAR, .n_in = 3, .in = { F32(17, 130), F32(33, 130), F32(33) },
         .n_out = 1, .out = { F32(17, 33) }, .rtol = 2e-4, .atol = 2e-4);
}

/* ---- normalisation ------------------------------------------------------------------------ */
static const float pos_var[6] = { 0.5f, 1.5f, 0.8f, 2.0f, 1.1f, 0.3f };

Test(cpu_vs_ref, batch_norm) {
    cv_norm_params tr = { 1e-5f, 0.1f, 1, 0, 0 }, ev = { 1e-3f, 0.1f, 0, 0, 0 };
    opd x = F32(4, 6, 5, 3), c = F32(6), var = OPD(CV_F32, pos_var, 6);
    CASE(.name = "bn train, running stats in place", .op = CV_OP_BATCH_NORM, .p = P(tr), .n_in = 5,
         .in = { x, c, c, c, var }, .n_out = 3, .out = { x, c, c }, .rtol = 1e-4, .atol = 1e-4, .check_in = 3u << 3);
    CASE(.name = "bn train, running stats out", .op = CV_OP_BATCH_NORM, .p = P(tr), .n_in = 5,
         .in = { F32(8, 6), c, c, c, var }, .n_out = 5, .out = { F32(8, 6), c, c, c, c }, .rtol = 1e-4, .atol = 1e-4,
         .check_in = 3u << 3);
    CASE(.name = "bn train, y only", .op = CV_OP_BATCH_NORM, .p = P(tr), .n_in = 5, .in = { x, c, c, c, var },
         .n_out = 1, .out = { x }, .rtol = 1e-4, .atol = 1e-4, .check_in = 3u << 3);
    CASE(.name = "bn eval", .op = CV_OP_BATCH_NORM, .p = P(ev), .n_in = 5, .in = { x, c, c, c, var }, .n_out = 1,
         .out = { x }, .rtol = 1e-4, .atol = 1e-4);
    CASE(.name = "bn eval, stats out", .op = CV_OP_BATCH_NORM, .p = P(ev), .n_in = 5, .in = { x, c, c, c, var },
         .n_out = 3, .out = { x, c, c }, .rtol = 1e-4, .atol = 1e-4);
    static const float mean[6] = { 0.1f, -0.2f, 0.05f, 0.3f, -0.1f, 0 }, rstd[6] = { 1.2f, 0.7f, 1.9f, 1.0f, 0.5f, 2.5f };
    opd m = OPD(CV_F32, mean, 6), r = OPD(CV_F32, rstd, 6);
    CASE(.name = "bn bwd train", .op = CV_OP_BATCH_NORM_BWD, .p = P(tr), .n_in = 5, .in = { x, x, c, m, r }, .n_out = 3,
         .out = { x, c, c }, .rtol = 1e-4, .atol = 1e-4);
    CASE(.name = "bn bwd eval", .op = CV_OP_BATCH_NORM_BWD, .p = P(ev), .n_in = 5, .in = { x, x, c, m, r }, .n_out = 3,
         .out = { x, c, c }, .rtol = 1e-4, .atol = 1e-4);
    CASE(.name = "bn bwd dx only", .op = CV_OP_BATCH_NORM_BWD, .p = P(tr), .n_in = 5, .in = { x, x, c, m, r },
         .n_out = 1, .out = { x }, .rtol = 1e-4, .atol = 1e-4);
}


Test(cpu_vs_ref, layer_norm) {
    cv_norm_params p1 = { 1e-5f, 0, 0, 0, 1 }, p2 = { 1e-5f, 0, 0, 0, 2 };
    kc_norm_pair(&bench, "layer norm axes 1", CV_OP_LAYER_NORM, CV_OP_LAYER_NORM_BWD, &p1, F32(3, 4, 10), F32(10), 1, 12);
    kc_norm_pair(&bench, "layer norm axes 2", CV_OP_LAYER_NORM, CV_OP_LAYER_NORM_BWD, &p2, F32(3, 4, 10), F32(4, 10), 1, 3);
    kc_norm_pair(&bench, "layer norm no affine", CV_OP_LAYER_NORM, CV_OP_LAYER_NORM_BWD, &p1, F32(7, 33), F32(33), 0, 7);
}

Test(cpu_vs_ref, group_norm) {
    cv_norm_params g3 = { 1e-5f, 0, 0, 3, 0 }, g1 = { 1e-5f, 0, 0, 1, 0 }, g6 = { 1e-5f, 0, 0, 6, 0 };
    kc_norm_pair(&bench, "group norm 3", CV_OP_GROUP_NORM, CV_OP_GROUP_NORM_BWD, &g3, F32(2, 6, 4, 5), F32(6), 1, 6);
    kc_norm_pair(&bench, "group norm 1", CV_OP_GROUP_NORM, CV_OP_GROUP_NORM_BWD, &g1, F32(2, 6, 3, 3), F32(6), 1, 2);
    kc_norm_pair(&bench, "group norm 6 no affine", CV_OP_GROUP_NORM, CV_OP_GROUP_NORM_BWD, &g6, F32(3, 6, 7), F32(6), 0, 18);
}

/* ---- elementwise ------------------------------------------------------------------------------ */
Test(cpu_vs_ref, unary_and_grad) {
    static const float kinks[] = { 0, 6, 3, -3 };
    for (int fn = CV_RELU; fn <= CV_IDENTITY; fn++) {
        cv_unary_params p = { fn, 0.1f };
        int positive = fn == CV_LOG || fn == CV_SQRT || fn == CV_RSQRT;
        float lo = positive ? 0.2f : -8, hi = positive ? 4 : 8;
        double rtol = fn <= CV_RELU6 || fn >= CV_NEG ? 1e-6 : 1e-4;
        char name[64];
        snprintf(name, sizeof name, "unary fn %d", fn);
        CASE(.name = name, .op = CV_OP_UNARY, .p = P(p), .n_in = 1, .in = { F32(3, 5, 7, 9) }, .n_out = 1,
             .out = { F32(3, 5, 7, 9) }, .rtol = rtol, .atol = 1e-5, .lo = lo, .hi = hi, .away = kinks, .n_away = 4);
        snprintf(name, sizeof name, "unary_bwd fn %d", fn);
        CASE(.name = name, .op = CV_OP_UNARY_BWD, .p = P(p), .n_in = 2, .in = { F32(4, 1001), F32(4, 1001) },
             .n_out = 1, .out = { F32(4, 1001) }, .rtol = rtol, .atol = 1e-5, .lo = lo, .hi = hi, .away = kinks,
             .n_away = 4);
    }
}

Test(cpu_vs_ref, binary_broadcast) {
    for (int fn = CV_ADD; fn <= CV_MIN; fn++) {
        cv_binary_params p = { fn };
        float lo = fn == CV_DIV ? 0.5f : -2, hi = 2;
        CASE(.name = "binary same shape", .op = CV_OP_BINARY, .p = P(p), .n_in = 2, .in = { F32(3, 4, 5), F32(3, 4, 5) },
             .n_out = 1, .out = { F32(3, 4, 5) }, .rtol = 1e-6, .atol = 1e-6, .lo = lo, .hi = hi);
        CASE(.name = "binary [2,3,4,5] op [3,1,5]", .op = CV_OP_BINARY, .p = P(p), .n_in = 2,
             .in = { F32(2, 3, 4, 5), F32(3, 1, 5) }, .n_out = 1, .out = { F32(2, 3, 4, 5) }, .rtol = 1e-6,
             .atol = 1e-6, .lo = lo, .hi = hi);
        CASE(.name = "binary [4,1] op [1,6]", .op = CV_OP_BINARY, .p = P(p), .n_in = 2, .in = { F32(4, 1), F32(1, 6) },
             .n_out = 1, .out = { F32(4, 6) }, .rtol = 1e-6, .atol = 1e-6, .lo = lo, .hi = hi);
        CASE(.name = "binary SE scale [N,C,1,1]", .op = CV_OP_BINARY, .p = P(p), .n_in = 2,
             .in = { F32(2, 8, 9, 7), F32(2, 8, 1, 1) }, .n_out = 1, .out = { F32(2, 8, 9, 7) }, .rtol = 1e-6,
             .atol = 1e-6, .lo = lo, .hi = hi);
        CASE(.name = "binary scalar first", .op = CV_OP_BINARY, .p = P(p), .n_in = 2, .in = { F32(1), F32(5, 3) },
             .n_out = 1, .out = { F32(5, 3) }, .rtol = 1e-6, .atol = 1e-6, .lo = lo, .hi = hi);
    }
}

Test(cpu_vs_ref, scalar) {
    for (int fn = CV_S_ADD; fn <= CV_S_CLAMP_MAX; fn++) {
        cv_scalar_params p = { fn, fn == CV_S_POW ? 1.7f : 0.3f };
        CASE(.name = "scalar", .op = CV_OP_SCALAR, .p = P(p), .n_in = 1, .in = { F32(6, 7, 5) }, .n_out = 1,
             .out = { F32(6, 7, 5) }, .rtol = 1e-5, .atol = 1e-6, .lo = fn == CV_S_POW ? 0.1f : -2, .hi = 2);
    }
}

Test(cpu_vs_ref, reduce_and_sum_to) {
    cv_reduce_params all = { CV_R_SUM, 0, 0 }, last = { CV_R_MEAN, 1u << 3, 0 }, bias = { CV_R_SUM, 1u | 4u | 8u, 1 };
    cv_reduce_params head = { CV_R_MEAN, 1u, 0 }, mid = { CV_R_SUM, 2u, 1 }, hw = { CV_R_MEAN, 12u, 1 };
    const cv_reduce_params *ps[] = { &all, &last, &bias, &head, &mid, &hw };
    const opd outs[] = { F32(1), F32(3, 4, 5), F32(1, 4, 1, 1), F32(4, 5, 6), F32(3, 1, 5, 6), F32(3, 4, 1, 1) };
    for (int i = 0; i < 6; i++)
        CASE(.name = "reduce", .op = CV_OP_REDUCE, .p = ps[i], .ps = sizeof all, .n_in = 1, .in = { F32(3, 4, 5, 6) },
             .n_out = 1, .out = { outs[i] }, .rtol = 1e-4, .atol = 1e-5);
    CASE(.name = "sum_to [C,1,1]", .op = CV_OP_SUM_TO, .n_in = 1, .in = { F32(3, 4, 5, 6) }, .n_out = 1,
         .out = { F32(4, 1, 1) }, .rtol = 1e-4, .atol = 1e-5);
    CASE(.name = "sum_to [N]", .op = CV_OP_SUM_TO, .n_in = 1, .in = { F32(33, 17) }, .n_out = 1, .out = { F32(17) },
         .rtol = 1e-4, .atol = 1e-5);
    CASE(.name = "sum_to [N,1]", .op = CV_OP_SUM_TO, .n_in = 1, .in = { F32(5, 7) }, .n_out = 1, .out = { F32(5, 1) },
         .rtol = 1e-4, .atol = 1e-5);
    CASE(.name = "broadcast_to", .op = CV_OP_BROADCAST_TO, .n_in = 1, .in = { F32(4, 1, 3) }, .n_out = 1,
         .out = { F32(2, 4, 5, 3) }, .rtol = 0, .atol = 0);
    static const float bad[12] = { 1, NAN, 2, INFINITY, 3, -INFINITY, 0, 0, NAN, 1, 1, 1 };
    CASE(.name = "nonfinite", .op = CV_OP_NONFINITE, .n_in = 1, .in = { OPD(CV_F32, bad, 12) }, .n_out = 1,
         .out = { F32(1) }, .rtol = 0, .atol = 0);
    CASE(.name = "sumsq", .op = CV_OP_SUMSQ, .n_in = 1, .in = { F32(100003) }, .n_out = 1, .out = { F32(1) },
         .rtol = 1e-5, .atol = 0);
}

Test(cpu_vs_ref, softmax) {
    for (int log_ = 0; log_ < 2; log_++) {
        cv_softmax_params last = { -1, log_ }, ch = { 1, log_ };
        CASE(.name = "softmax last", .op = CV_OP_SOFTMAX, .p = P(last), .n_in = 1, .in = { F32(6, 37) }, .n_out = 1,
             .out = { F32(6, 37) }, .rtol = 1e-5, .atol = 1e-6, .lo = -6, .hi = 6);
        CASE(.name = "softmax channels", .op = CV_OP_SOFTMAX, .p = P(ch), .n_in = 1, .in = { F32(2, 5, 9, 11) },
             .n_out = 1, .out = { F32(2, 5, 9, 11) }, .rtol = 1e-5, .atol = 1e-6, .lo = -6, .hi = 6);
        CASE(.name = "softmax_bwd last", .op = CV_OP_SOFTMAX_BWD, .p = P(last), .n_in = 2, .in = { F32(6, 37), F32(6, 37) },
             .n_out = 1, .out = { F32(6, 37) }, .rtol = 1e-4, .atol = 1e-5, .lo = -1, .hi = 1);
        CASE(.name = "softmax_bwd channels", .op = CV_OP_SOFTMAX_BWD, .p = P(ch), .n_in = 2,
             .in = { F32(2, 5, 9, 11), F32(2, 5, 9, 11) }, .n_out = 1, .out = { F32(2, 5, 9, 11) }, .rtol = 1e-4,
             .atol = 1e-5, .lo = -1, .hi = 1);
    }
}

/* ---- pooling, resize ---------------------------------------------------------------------------- */
static int64_t pool_out(int64_t in, int k, int s, int p, int ceil_mode) {
    int64_t num = in + 2 * p - k + (ceil_mode ? s - 1 : 0), out = num / s + 1;
    if (ceil_mode && (out - 1) * s >= in + p) out--;
    return out;
}

static void pool_cases(int64_t N, int64_t C, int64_t H, int64_t W, int k, int s, int pad) {
    for (int fn = 0; fn < 2; fn++)
        for (int ceil_mode = 0; ceil_mode < 2; ceil_mode++)
            for (int incl = 0; incl < 2; incl++) {
                cv_pool_params p = { fn, { k, k }, { s, s }, { pad, pad }, ceil_mode, incl };
                opd x = F32(N, C, H, W), y = F32(N, C, pool_out(H, k, s, pad, ceil_mode), pool_out(W, k, s, pad, ceil_mode));
                char name[96];
                snprintf(name, sizeof name, "pool fn %d k%d s%d p%d ceil %d incl %d", fn, k, s, pad, ceil_mode, incl);
                CASE(.name = name, .op = CV_OP_POOL2D, .p = P(p), .n_in = 1, .in = { x }, .n_out = 1, .out = { y },
                     .rtol = 1e-5, .atol = 1e-6);
                CASE(.name = name, .op = CV_OP_POOL2D_BWD, .p = P(p), .n_in = 3, .in = { x, y, y }, .n_out = 1,
                     .out = { x }, .rtol = 1e-5, .atol = 1e-6);
            }
}

/* max-pool backward with the true forward output (the CPU backend finds the first
 * element equal to it), including ties: x holds few distinct values */
Test(cpu_vs_ref, max_pool_bwd_with_forward_output) {
    cv_pool_params p = { CV_POOL_MAX, { 3, 3 }, { 2, 2 }, { 1, 1 }, 1, 1 };
    cv_shape xs = CV_SHAPE(2, 3, 9, 10), ys = CV_SHAPE(2, 3, pool_out(9, 3, 2, 1, 1), pool_out(10, 3, 2, 1, 1));
    float *xv = ku_random(&rng, numel(&xs), -2, 2);
    for (int64_t i = 0; i < numel(&xs); i++) if (i % 3 == 0) xv[i] = (float)(int)(xv[i] * 2) / 2; /* ties */
    ku_tensor tx = ku_make(ref, CV_F32, xs, xv), ty = ku_make(ref, CV_F32, ys, NULL);
    ku_run_ok(ref, CV_OP_POOL2D, &p, sizeof p, &tx, 1, &ty, 1, 0);
    float *yv = ku_get_new(ref, &ty);
    opd x = { CV_F32, xs, xv }, y = { CV_F32, ys, yv };
    CASE(.name = "max pool bwd, true y", .op = CV_OP_POOL2D_BWD, .p = P(p), .n_in = 3, .in = { x, y, { CV_F32, ys, NULL } },
         .n_out = 1, .out = { { CV_F32, xs, NULL } }, .rtol = 1e-6, .atol = 1e-7);
    ku_free(ref, &tx); ku_free(ref, &ty);
    free(xv); free(yv);
}

Test(cpu_vs_ref, pool2d) {
    pool_cases(2, 3, 9, 10, 3, 2, 1);   /* ResNet stem pool on odd sizes: ceil mode adds a window */
    pool_cases(1, 4, 8, 8, 2, 2, 0);
    pool_cases(2, 2, 7, 6, 3, 1, 1);
    pool_cases(1, 3, 12, 11, 5, 3, 2);
}

Test(cpu_vs_ref, adaptive_avg_pool) {
    const int sizes[][4] = { { 7, 9, 3, 4 }, { 5, 5, 1, 1 }, { 4, 6, 6, 8 }, { 13, 13, 6, 6 } };
    for (int i = 0; i < 4; i++) {
        cv_resize_params p = { sizes[i][2], sizes[i][3], 0, 0 };
        opd x = F32(2, 3, sizes[i][0], sizes[i][1]), y = F32(2, 3, sizes[i][2], sizes[i][3]);
        CASE(.name = "adaptive", .op = CV_OP_ADAPTIVE_AVG_POOL2D, .p = P(p), .n_in = 1, .in = { x }, .n_out = 1,
             .out = { y }, .rtol = 1e-5, .atol = 1e-6);
        CASE(.name = "adaptive bwd", .op = CV_OP_ADAPTIVE_AVG_POOL2D_BWD, .p = P(p), .n_in = 1, .in = { y }, .n_out = 1,
             .out = { x }, .rtol = 1e-5, .atol = 1e-6);
    }
}

Test(cpu_vs_ref, resize) {
    const int sizes[][4] = { { 5, 7, 11, 13 }, { 12, 10, 5, 4 }, { 1, 3, 4, 6 }, { 8, 8, 16, 16 } };
    for (int i = 0; i < 4; i++)
        for (int mode = 0; mode < 2; mode++)
            for (int ac = 0; ac < 2; ac++) {
                cv_resize_params p = { sizes[i][2], sizes[i][3], mode, ac };
                opd x = F32(2, 3, sizes[i][0], sizes[i][1]), y = F32(2, 3, sizes[i][2], sizes[i][3]);
                char name[96];
                snprintf(name, sizeof name, "resize %d mode %d align_corners %d", i, mode, ac);
                CASE(.name = name, .op = CV_OP_RESIZE, .p = P(p), .n_in = 1, .in = { x }, .n_out = 1, .out = { y },
                     .rtol = 1e-5, .atol = 1e-5);
                CASE(.name = name, .op = CV_OP_RESIZE_BWD, .p = P(p), .n_in = 1, .in = { y }, .n_out = 1, .out = { x },
                     .rtol = 1e-5, .atol = 1e-5);
            }
}

/* ---- data movement ------------------------------------------------------------------------------ */
Test(cpu_vs_ref, shape_ops) {
    cv_axis_params ax1 = { 1 }, axm1 = { -1 };
    CASE(.name = "concat axis 1", .op = CV_OP_CONCAT, .p = P(ax1), .n_in = 3,
         .in = { F32(2, 3, 4, 5), F32(2, 1, 4, 5), F32(2, 4, 4, 5) }, .n_out = 1, .out = { F32(2, 8, 4, 5) });
    CASE(.name = "concat last", .op = CV_OP_CONCAT, .p = P(axm1), .n_in = 2, .in = { F32(3, 2), F32(3, 5) }, .n_out = 1,
         .out = { F32(3, 7) });
    cv_slice_params sl = { 1, 0, 2, 3 }, sn = { -1, 0, -4, 2 };
    CASE(.name = "slice", .op = CV_OP_SLICE, .p = P(sl), .n_in = 1, .in = { F32(2, 6, 3) }, .n_out = 1,
         .out = { F32(2, 3, 3) });
    CASE(.name = "slice negative start", .op = CV_OP_SLICE, .p = P(sn), .n_in = 1, .in = { F32(3, 7) }, .n_out = 1,
         .out = { F32(3, 2) });
    cv_pad_params pd = { { 0, 1, 2, -1 }, { 0, 0, 1, 2 }, 0.5f };
    CASE(.name = "pad and crop", .op = CV_OP_PAD, .p = P(pd), .n_in = 1, .in = { F32(2, 3, 4, 5) }, .n_out = 1,
         .out = { F32(2, 4, 7, 6) });
    cv_reshape_params rs = { CV_SHAPE(6, 20) };
    CASE(.name = "reshape", .op = CV_OP_RESHAPE, .p = P(rs), .n_in = 1, .in = { F32(2, 3, 4, 5) }, .n_out = 1,
         .out = { F32(6, 20) });
    cv_permute_params pm = { { 0, 2, 3, 1 } }, pt = { { 1, 0 } };
    CASE(.name = "permute nhwc", .op = CV_OP_PERMUTE, .p = P(pm), .n_in = 1, .in = { F32(2, 3, 4, 5) }, .n_out = 1,
         .out = { F32(2, 4, 5, 3) });
    CASE(.name = "permute transpose", .op = CV_OP_PERMUTE, .p = P(pt), .n_in = 1, .in = { F32(33, 17) }, .n_out = 1,
         .out = { F32(17, 33) });
    static const float ints[6] = { 3, -2, 255, 0, 7, 100 };
    CASE(.name = "cast f32->bf16", .op = CV_OP_CAST, .n_in = 1, .in = { F32(4, 9) }, .n_out = 1,
         .out = { { CV_BF16, CV_SHAPE(4, 9), NULL } }, .rtol = 0, .atol = 0);
    CASE(.name = "cast f32->f16", .op = CV_OP_CAST, .n_in = 1, .in = { F32(4, 9) }, .n_out = 1,
         .out = { { CV_F16, CV_SHAPE(4, 9), NULL } }, .rtol = 0, .atol = 0, .lo = -70000, .hi = 70000);
    CASE(.name = "cast f16->f32", .op = CV_OP_CAST, .n_in = 1, .in = { { CV_F16, CV_SHAPE(4, 9), NULL } }, .n_out = 1,
         .out = { F32(4, 9) }, .rtol = 0, .atol = 0);
    CASE(.name = "cast i32->f32", .op = CV_OP_CAST, .n_in = 1, .in = { OPD(CV_I32, ints, 6) }, .n_out = 1,
         .out = { F32(6) }, .rtol = 0, .atol = 0);
    CASE(.name = "copy u8->f32", .op = CV_OP_COPY, .n_in = 1, .in = { OPD(CV_U8, ints, 2, 3) }, .n_out = 1,
         .out = { F32(2, 3) }, .rtol = 0, .atol = 0);
    CASE(.name = "copy f32", .op = CV_OP_COPY, .n_in = 1, .in = { F32(5, 7) }, .n_out = 1, .out = { F32(5, 7) });
    cv_scalar_params fv = { CV_S_ADD, 1.25f };
    CASE(.name = "fill", .op = CV_OP_FILL, .p = P(fv), .n_in = 0, .n_out = 1, .out = { F32(3, 11) });
}

/* the same random inputs through strided views (a transposed or offset window of a bigger buffer) */
Test(cpu_vs_ref, strided_inputs) {
    ku_backend bes[3] = { ref, cpu[0], cpu[1] };
    float *vals = ku_random(&rng, 8 * 6, -2, 2), *got[3];
    for (int b = 0; b < 3; b++) {
        ku_tensor base = ku_make(bes[b], CV_F32, CV_SHAPE(8, 6), vals);
        int64_t shape[2] = { 5, 7 }, stride[2] = { 1, 6 }; /* 5x7 transposed window at offset 1 */
        ku_tensor x = ku_view(&base, 2, shape, stride, 1), y = ku_make(bes[b], CV_F32, CV_SHAPE(5, 7), NULL);
        cv_unary_params p = { CV_SILU, 0 };
        ku_run_ok(bes[b], CV_OP_UNARY, &p, sizeof p, &x, 1, &y, 1, 0);
        ku_tensor w = ku_make(bes[b], CV_F32, CV_SHAPE(3, 7), vals), z = ku_make(bes[b], CV_F32, CV_SHAPE(5, 3), NULL);
        ku_tensor in[2] = { x, w };
        ku_run_ok(bes[b], CV_OP_LINEAR, NULL, 0, in, 2, &z, 1, 0);
        float *a = ku_get_new(bes[b], &y), *c = ku_get_new(bes[b], &z);
        got[b] = malloc(sizeof(float) * 50);
        memcpy(got[b], a, sizeof(float) * 35);
        memcpy(got[b] + 35, c, sizeof(float) * 15);
        free(a); free(c);
        ku_free(bes[b], &y); ku_free(bes[b], &z); ku_free(bes[b], &w); ku_free(bes[b], &base);
    }
    ku_assert_close(got[1], got[0], 50, 1e-4, 1e-5, bench.label[0]);
    ku_assert_close(got[2], got[0], 50, 1e-4, 1e-5, bench.label[1]);
    for (int b = 0; b < 3; b++) free(got[b]);
    free(vals);
}

/* ---- dropout (same counter-hash mask on both backends) -------------------------------------------- */
Test(cpu_vs_ref, dropout) {
    cv_dropout_params p = { 0.3f }, p0 = { 0.0f }, p1 = { 1.0f };
    CASE(.name = "dropout", .op = CV_OP_DROPOUT, .p = P(p), .n_in = 1, .in = { F32(4, 5, 6, 7) }, .n_out = 2,
         .out = { F32(4, 5, 6, 7), F32(4, 5, 6, 7) }, .rtol = 1e-6, .atol = 0);
    CASE(.name = "dropout p=0", .op = CV_OP_DROPOUT, .p = P(p0), .n_in = 1, .in = { F32(50) }, .n_out = 2,
         .out = { F32(50), F32(50) }, .rtol = 0, .atol = 0);
    CASE(.name = "dropout p=1", .op = CV_OP_DROPOUT, .p = P(p1), .n_in = 1, .in = { F32(50) }, .n_out = 1,
         .out = { F32(50) }, .rtol = 0, .atol = 0);
    CASE(.name = "drop_path", .op = CV_OP_DROP_PATH, .p = P(p), .n_in = 1, .in = { F32(16, 3, 4, 5) }, .n_out = 2,
         .out = { F32(16, 3, 4, 5), F32(16, 1, 1, 1) }, .rtol = 1e-6, .atol = 0);
    CASE(.name = "dropout_bwd", .op = CV_OP_DROPOUT_BWD, .n_in = 2, .in = { F32(4, 9), F32(4, 9) }, .n_out = 1,
         .out = { F32(4, 9) }, .rtol = 1e-6, .atol = 0);
    CASE(.name = "dropout_bwd per sample", .op = CV_OP_DROPOUT_BWD, .n_in = 2, .in = { F32(4, 1, 1), F32(4, 3, 5) },
         .n_out = 1, .out = { F32(4, 3, 5) }, .rtol = 1e-6, .atol = 0);
}

/* ---- losses ------------------------------------------------------------------------------------------ */
Test(cpu_vs_ref, cross_entropy) {
    static const float labels[6] = { 2, 0, 4, -100, 1, 3 }, all_ignored[2] = { -100, -100 };
    static float seg[2 * 5 * 4];
    for (int i = 0; i < 40; i++) seg[i] = (float)((i * 7) % 6 == 5 ? -100 : (i * 7) % 5);
    cv_ce_params plain = { 0, -100 }, smooth = { 0.1f, -100 };
    const cv_ce_params *ps[2] = { &plain, &smooth };
    static const float dloss[1] = { 0.7f };
    opd dl = OPD(CV_F32, dloss, 1);
    for (int i = 0; i < 2; i++) {
        opd lg = F32(6, 5), t = OPD(CV_I32, labels, 6), w = F32(5);
        CASE(.name = "ce hard", .op = CV_OP_CROSS_ENTROPY, .p = ps[i], .ps = sizeof plain, .n_in = 2, .in = { lg, t },
             .n_out = 1, .out = { F32(1) }, .rtol = 1e-4, .atol = 1e-5, .lo = -4, .hi = 4);
        CASE(.name = "ce hard weighted", .op = CV_OP_CROSS_ENTROPY, .p = ps[i], .ps = sizeof plain, .n_in = 3,
             .in = { lg, t, w }, .n_out = 1, .out = { F32(1) }, .rtol = 1e-4, .atol = 1e-5, .lo = 0.2f, .hi = 3);
        CASE(.name = "ce hard bwd", .op = CV_OP_CROSS_ENTROPY_BWD, .p = ps[i], .ps = sizeof plain, .n_in = 3,
             .in = { lg, t, dl }, .n_out = 1, .out = { lg }, .rtol = 1e-4, .atol = 1e-6, .lo = -4, .hi = 4);
        CASE(.name = "ce weighted bwd", .op = CV_OP_CROSS_ENTROPY_BWD, .p = ps[i], .ps = sizeof plain, .n_in = 4,
             .in = { lg, t, w, dl }, .n_out = 1, .out = { lg }, .rtol = 1e-4, .atol = 1e-6, .lo = 0.2f, .hi = 3);
        CASE(.name = "ce soft", .op = CV_OP_CROSS_ENTROPY, .p = ps[i], .ps = sizeof plain, .n_in = 2, .in = { lg, lg },
             .n_out = 1, .out = { F32(1) }, .rtol = 1e-4, .atol = 1e-5, .lo = 0, .hi = 1);
        CASE(.name = "ce soft bwd", .op = CV_OP_CROSS_ENTROPY_BWD, .p = ps[i], .ps = sizeof plain, .n_in = 3,
             .in = { lg, lg, dl }, .n_out = 1, .out = { lg }, .rtol = 1e-4, .atol = 1e-6, .lo = 0, .hi = 1);
        opd sl = F32(2, 5, 4), st = OPD(CV_I32, seg, 2, 4);
        CASE(.name = "ce segmentation", .op = CV_OP_CROSS_ENTROPY, .p = ps[i], .ps = sizeof plain, .n_in = 2,
             .in = { sl, st }, .n_out = 1, .out = { F32(1) }, .rtol = 1e-4, .atol = 1e-5, .lo = -4, .hi = 4);
        CASE(.name = "ce segmentation bwd", .op = CV_OP_CROSS_ENTROPY_BWD, .p = ps[i], .ps = sizeof plain, .n_in = 3,
             .in = { sl, st, dl }, .n_out = 1, .out = { sl }, .rtol = 1e-4, .atol = 1e-6, .lo = -4, .hi = 4);
    }
    CASE(.name = "ce all ignored", .op = CV_OP_CROSS_ENTROPY, .p = P(plain), .n_in = 2,
         .in = { F32(2, 3), OPD(CV_I32, all_ignored, 2) }, .n_out = 1, .out = { F32(1) }, .rtol = 0, .atol = 0);
    CASE(.name = "ce all ignored bwd", .op = CV_OP_CROSS_ENTROPY_BWD, .p = P(plain), .n_in = 3,
         .in = { F32(2, 3), OPD(CV_I32, all_ignored, 2), dl }, .n_out = 1, .out = { F32(2, 3) }, .rtol = 0, .atol = 0);
}

Test(cpu_vs_ref, bce_and_smooth_l1) {
    static const float dloss[1] = { 1.3f };
    opd dl = OPD(CV_F32, dloss, 1), x = F32(7, 9);
    cv_smooth_l1_params b1 = { 1.0f }, b0 = { 0.0f }, bs = { 0.11f };
    CASE(.name = "bce", .op = CV_OP_BCE_LOGITS, .n_in = 2, .in = { x, x }, .n_out = 1, .out = { F32(1) }, .rtol = 1e-4,
         .atol = 1e-6, .lo = -5, .hi = 5);
    CASE(.name = "bce bwd", .op = CV_OP_BCE_LOGITS_BWD, .n_in = 3, .in = { x, x, dl }, .n_out = 1, .out = { x },
         .rtol = 1e-4, .atol = 1e-7, .lo = -5, .hi = 5);
    const cv_smooth_l1_params *ps[3] = { &b1, &b0, &bs };
    for (int i = 0; i < 3; i++) {
        CASE(.name = "smooth l1", .op = CV_OP_SMOOTH_L1, .p = ps[i], .ps = sizeof b1, .n_in = 2, .in = { x, x },
             .n_out = 1, .out = { F32(1) }, .rtol = 1e-4, .atol = 1e-6);
        CASE(.name = "smooth l1 bwd", .op = CV_OP_SMOOTH_L1_BWD, .p = ps[i], .ps = sizeof b1, .n_in = 3,
             .in = { x, x, dl }, .n_out = 1, .out = { x }, .rtol = 1e-4, .atol = 1e-7);
    }
}

Test(cpu_vs_ref, embedding) {
    static const float idx[6] = { 3, 0, 9, 3, 5, 3 };
    opd w = F32(10, 7), ix = OPD(CV_I32, idx, 2, 3), y = F32(2, 3, 7);
    CASE(.name = "embedding", .op = CV_OP_EMBEDDING, .n_in = 2, .in = { w, ix }, .n_out = 1, .out = { y }, .rtol = 0,
         .atol = 0);
    CASE(.name = "embedding bwd", .op = CV_OP_EMBEDDING_BWD, .n_in = 2, .in = { ix, y }, .n_out = 1, .out = { w },
         .rtol = 1e-6, .atol = 1e-6);
}

/* ---- optimizer updates (in place on the outputs) ------------------------------------------------------ */
Test(cpu_vs_ref, updates) {
    opd g = F32(1031);
    cv_sgd_params sgd0 = { 0.1f, 0, 0, 1e-4f, 0 }, sgdm = { 0.1f, 0.9f, 0, 5e-4f, 0 }, sgdn = { 0.05f, 0.9f, 0.1f, 1e-4f, 1 };
    CASE(.name = "sgd", .op = CV_OP_SGD_UPDATE, .p = P(sgd0), .n_in = 1, .in = { g }, .n_out = 1, .out = { g },
         .rtol = 1e-5, .atol = 1e-6, .init_out = 1);
    CASE(.name = "sgd momentum", .op = CV_OP_SGD_UPDATE, .p = P(sgdm), .n_in = 1, .in = { g }, .n_out = 2,
         .out = { g, g }, .rtol = 1e-5, .atol = 1e-6, .init_out = 3);
    CASE(.name = "sgd nesterov", .op = CV_OP_SGD_UPDATE, .p = P(sgdn), .n_in = 1, .in = { g }, .n_out = 2,
         .out = { g, g }, .rtol = 1e-5, .atol = 1e-6, .init_out = 3);
    static float v0[1031];
    for (int i = 0; i < 1031; i++) v0[i] = 0.01f + 0.001f * (float)(i % 17);
    opd v = OPD(CV_F32, v0, 1031);
    for (int dec = 0; dec < 2; dec++) {
        cv_adam_params a = { 1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f, dec, 7 };
        CASE(.name = "adam", .op = CV_OP_ADAM_UPDATE, .p = P(a), .n_in = 1, .in = { g }, .n_out = 3, .out = { g, g, v },
             .rtol = 1e-5, .atol = 1e-6, .init_out = 3);
        CASE(.name = "lamb", .op = CV_OP_LAMB_UPDATE, .p = P(a), .n_in = 1, .in = { g }, .n_out = 3, .out = { g, g, v },
             .rtol = 1e-5, .atol = 1e-6, .init_out = 3);
    }
    cv_rmsprop_params r1 = { 1e-2f, 0.9f, 1e-8f, 0, 1e-4f, 0 }, r2 = { 1e-2f, 0.9f, 1e-3f, 0.9f, 0, 1 };
    CASE(.name = "rmsprop", .op = CV_OP_RMSPROP_UPDATE, .p = P(r1), .n_in = 1, .in = { g }, .n_out = 2, .out = { g, v },
         .rtol = 1e-5, .atol = 1e-6, .init_out = 1);
    CASE(.name = "rmsprop tf momentum", .op = CV_OP_RMSPROP_UPDATE, .p = P(r2), .n_in = 1, .in = { g }, .n_out = 3,
         .out = { g, v, g }, .rtol = 1e-5, .atol = 1e-6, .init_out = 5);
    cv_axpby_params ab = { 0.5f, -2.0f }, a0 = { 0.0f, 3.0f };
    CASE(.name = "axpby", .op = CV_OP_AXPBY, .p = P(ab), .n_in = 1, .in = { g }, .n_out = 1, .out = { g }, .rtol = 1e-6,
         .atol = 1e-7, .init_out = 1);
    CASE(.name = "axpby a=0 ignores NaN y", .op = CV_OP_AXPBY, .p = P(a0), .n_in = 1, .in = { g }, .n_out = 1,
         .out = { g }, .rtol = 1e-6, .atol = 1e-7);
}

/* ---- bad input: a clear error, never a crash -------------------------------------------------------------- */
Test(cpu_vs_ref, bad_shapes_are_errors) {
    cv_conv_params p = { { 1, 1, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, 1 };
    ku_tensor x = ku_make(cpu[0], CV_F32, CV_SHAPE(1, 3, 5, 5), NULL), w = ku_make(cpu[0], CV_F32, CV_SHAPE(4, 2, 3, 3), NULL);
    ku_tensor y = ku_make(cpu[0], CV_F32, CV_SHAPE(1, 4, 5, 5), NULL), in[2] = { x, w };
    cv_error err = { sizeof err, 0, "" };
    int st = ku_run(cpu[0], CV_OP_CONV2D, &p, sizeof p, in, 2, &y, 1, 0, &err);
    cr_expect(st != CV_OK, "a conv with 3 input channels and weights for 2 must fail");
    cr_expect(strstr(err.message, "conv2d") != NULL, "message names the op: %s", err.message);
    static const float bad_idx[2] = { 1, 12 };
    ku_tensor wt = ku_make(cpu[0], CV_F32, CV_SHAPE(10, 4), NULL), ix = ku_make(cpu[0], CV_I32, CV_SHAPE(2), bad_idx);
    ku_tensor e = ku_make(cpu[0], CV_F32, CV_SHAPE(2, 4), NULL), ein[2] = { wt, ix };
    cv_error err2 = { sizeof err2, 0, "" };
    st = ku_run(cpu[0], CV_OP_EMBEDDING, NULL, 0, ein, 2, &e, 1, 0, &err2);
    cr_expect(st == CV_ERR_INVALID && strstr(err2.message, "12") != NULL, "out-of-range index: %s", err2.message);
    cv_error err3 = { sizeof err3, 0, "" };
    st = ku_run(cpu[0], CV_OP_CONV2D, &p, sizeof p - 4, in, 2, &y, 1, 0, &err3);
    cr_expect(st == CV_ERR_INVALID && strstr(err3.message, "params") != NULL, "short params: %s", err3.message);
    ku_tensor neg = ku_view(&x, 2, (int64_t[]){ 3, -1 }, (int64_t[]){ 1, 1 }, 0), ny = ku_make(cpu[0], CV_F32, CV_SHAPE(3), NULL);
    cv_unary_params up = { CV_RELU, 0 };
    cv_error err4 = { sizeof err4, 0, "" };
    st = ku_run(cpu[0], CV_OP_UNARY, &up, sizeof up, &neg, 1, &ny, 1, 0, &err4);
    cr_expect(st == CV_ERR_INVALID && strstr(err4.message, "-1") != NULL, "negative size: %s", err4.message);
    ku_free(cpu[0], &ny);
    /* a pooled output of the wrong size, a binary op whose operands do not broadcast */
    cv_pool_params pp = { CV_POOL_MAX, { 3, 3 }, { 2, 2 }, { 1, 1 }, 0, 1 };
    ku_tensor py = ku_make(cpu[0], CV_F32, CV_SHAPE(1, 3, 4, 4), NULL);
    cv_error err5 = { sizeof err5, 0, "" };
    st = ku_run(cpu[0], CV_OP_POOL2D, &pp, sizeof pp, &x, 1, &py, 1, 0, &err5);
    cr_expect(st == CV_ERR_INVALID && strstr(err5.message, "pool2d") != NULL, "pool output size: %s", err5.message);
    cv_binary_params bp = { CV_ADD };
    ku_tensor bin2[2] = { x, w };
    cv_error err6 = { sizeof err6, 0, "" };
    st = ku_run(cpu[0], CV_OP_BINARY, &bp, sizeof bp, bin2, 2, &y, 1, 0, &err6);
    cr_expect(st == CV_ERR_INVALID && strstr(err6.message, "broadcast") != NULL, "broadcast: %s", err6.message);
    ku_free(cpu[0], &py);
    ku_free(cpu[0], &x); ku_free(cpu[0], &w); ku_free(cpu[0], &y); ku_free(cpu[0], &wt); ku_free(cpu[0], &ix); ku_free(cpu[0], &e);
}
