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
 * matmul (oneDNN's blocked summation order, K up to a few hundred).  The case groups
 * test_cuda.c runs too live in test/support/kcase_ops.c; the runner in kcase.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support/kcase_ops.h"
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

#define CASE(...) KC_CASE(&bench, __VA_ARGS__)
#define P(x) KC_P(x)

/* ---- convolution ------------------------------------------------------------------ */
Test(cpu_vs_ref, conv2d_plain_3x3_bias) { kc_conv_cases(&bench, 2, 3, 9, 7, 4, 3, 1, 1, 1, 1, 1); }
Test(cpu_vs_ref, conv2d_depthwise_stride2_odd) { kc_conv_cases(&bench, 2, 8, 11, 10, 8, 3, 2, 1, 1, 8, 0); }
/* depthwise kernels other than 3x3: our weight gradient (dwconv.c), also with a partial
 * block of 16 channels, stride 2, dilation, and (bias: oneDNN's) */
Test(cpu_vs_ref, conv2d_depthwise_5x5_7x7) {
    kc_conv_cases(&bench, 3, 24, 10, 9, 24, 5, 1, 2, 1, 24, 0);
    kc_conv_cases(&bench, 2, 40, 11, 11, 40, 5, 2, 2, 1, 40, 0);
    kc_conv_cases(&bench, 2, 16, 9, 9, 16, 7, 1, 3, 1, 16, 0);
    kc_conv_cases(&bench, 2, 16, 12, 12, 16, 3, 1, 2, 2, 16, 0);
    kc_conv_cases(&bench, 2, 16, 8, 8, 16, 5, 1, 2, 1, 16, 1);
}
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
Test(cpu_vs_ref, matmul) { kc_ops_matmul(&bench); }

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
Test(cpu_vs_ref, batch_norm) { kc_ops_batch_norm(&bench); }
Test(cpu_vs_ref, layer_norm) { kc_ops_layer_norm(&bench); }
Test(cpu_vs_ref, group_norm) { kc_ops_group_norm(&bench); }

/* ---- elementwise ------------------------------------------------------------------------------ */
Test(cpu_vs_ref, unary_and_grad) { kc_ops_unary_and_grad(&bench); }
Test(cpu_vs_ref, binary_broadcast) { kc_ops_binary_broadcast(&bench); }
Test(cpu_vs_ref, scalar) { kc_ops_scalar(&bench); }
Test(cpu_vs_ref, reduce_and_sum_to) { kc_ops_reduce_and_sum_to(&bench); }
Test(cpu_vs_ref, softmax) { kc_ops_softmax(&bench); }

/* ---- pooling, resize ---------------------------------------------------------------------------- */
/* max-pool backward with the true forward output (the CPU backend finds the first
 * element equal to it), including ties: x holds few distinct values */
Test(cpu_vs_ref, max_pool_bwd_with_forward_output) {
    cv_pool_params p = { CV_POOL_MAX, { 3, 3 }, { 2, 2 }, { 1, 1 }, 1, 1 };
    cv_shape xs = CV_SHAPE(2, 3, 9, 10), ys = CV_SHAPE(2, 3, kc_pool_out(9, 3, 2, 1, 1), kc_pool_out(10, 3, 2, 1, 1));
    kc_pool_bwd_true_y(&bench, "max pool bwd, true y", &p, xs, ys, 1e-6, 1e-7);
}

Test(cpu_vs_ref, pool2d) { kc_ops_pool2d(&bench); }
Test(cpu_vs_ref, adaptive_avg_pool) { kc_ops_adaptive_avg_pool(&bench); }
Test(cpu_vs_ref, resize) { kc_ops_resize(&bench); }

/* ---- data movement ------------------------------------------------------------------------------ */
Test(cpu_vs_ref, shape_ops) { kc_ops_shape_ops(&bench); }

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

/* SiLU, sigmoid and GELU (and their gradients) run on the CPU through a polynomial e^x and erf: at
 * the edges of its range, infinities and NaN they give the reference's values (NaN where it gives NaN) */
Test(cpu_vs_ref, silu_sigmoid_and_gelu_at_the_edges) {
    static const float v[] = { -INFINITY, -1e30f, -100, -88.5f, -87.5f, -20, -1, -0.0f, 0, 1e-30f, 1, 20, 87.5f, 88.5f,
                               100, 1e30f, INFINITY, NAN };
    enum { N = sizeof v / sizeof v[0] };
    float ones[N];
    for (int i = 0; i < N; i++) ones[i] = 0.5f;
    ku_backend bes[3] = { ref, cpu[0], cpu[1] };
    static const int fns[] = { CV_SILU, CV_SIGMOID, CV_GELU };
    for (int f = 0; f < 3; f++)
        for (int bwd = 0; bwd < 2; bwd++) {
            const int fn = fns[f];
            float got[3][N];
            for (int b = 0; b < 3; b++) {
                ku_tensor t[3] = { ku_make(bes[b], CV_F32, CV_SHAPE(N), v), ku_make(bes[b], CV_F32, CV_SHAPE(N), ones),
                                   ku_make(bes[b], CV_F32, CV_SHAPE(N), NULL) };
                cv_unary_params p = { fn, 0 };
                ku_run_ok(bes[b], bwd ? CV_OP_UNARY_BWD : CV_OP_UNARY, &p, sizeof p, t, bwd ? 2 : 1, &t[2], 1, 0);
                ku_get(bes[b], &t[2], got[b]);
                for (int i = 0; i < 3; i++) ku_free(bes[b], &t[i]);
            }
            for (int b = 1; b < 3; b++)
                for (int i = 0; i < N; i++) {
                    const float want = got[0][i], g = got[b][i];
                    /* f32 arithmetic: 1 - sigmoid(20) is 0 here, 1e-9 in the reference's doubles */
                    cr_expect(want != want ? g != g : g == want || fabsf(g - want) <= 1e-5f * fabsf(want) + 1e-8f,
                              "%s fn %d%s at %g: %g, reference %g", bench.label[b - 1], fn, bwd ? " gradient" : "", v[i], g,
                              want);
                }
        }
}

/* ---- dropout (same counter-hash mask on both backends) -------------------------------------------- */
Test(cpu_vs_ref, dropout) { kc_ops_dropout(&bench); }

/* ---- losses ------------------------------------------------------------------------------------------ */
Test(cpu_vs_ref, cross_entropy) { kc_ops_cross_entropy(&bench); }
Test(cpu_vs_ref, bce_and_smooth_l1) { kc_ops_bce_and_smooth_l1(&bench); }
Test(cpu_vs_ref, embedding) { kc_ops_embedding(&bench); }

/* ---- optimizer updates (in place on the outputs) ------------------------------------------------------ */
Test(cpu_vs_ref, updates) { kc_ops_updates(&bench); }

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
