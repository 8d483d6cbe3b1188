/* test/unit/test_cpu_bf16.c — the CPU backend's bf16 compute (`[run] precision =
 * bf16`, the backend option `precision`): convolutions (forward, backward-data,
 * backward-weights, grouped and depthwise) and matmul/linear read bf16 copies of
 * their inputs and accumulate and write in f32.  Each is compared with the
 * reference backend on fresh random inputs by the norm-wise relative error
 * ||got - want|| / ||want||, which must stay <= 1e-2 (issue 7's bf16 bound) and
 * must also be above 1e-6 — an fp32 result would mean bf16 was never used.
 * Skips when the CPU has no AVX512-BF16 (the backend refuses the option there,
 * which is checked too). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support/kernel_util.h"
#include "support/testhost.h"

/* see test_cpu_vs_ref.c: LeakSanitizer and oneDNN's thread-local storage */
const char *__lsan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void) { return "use_tls=0"; }
const char *__lsan_default_suppressions(void) { return "leak:_dlerror_run\n"; }

static cv_ctx *ctx;
static ku_backend ref, bf;
static int have_bf16;
static ku_rng rng;

static void setup(void) {
    ctx = th_ctx_new();
    ref = ku_backend_open(ctx, "ref");
    const cv_component_desc *d = th_load(ctx, "backend", "cpu");
    cv_create_args a;
    memset(&a, 0, sizeof a);
    a.struct_size = sizeof a;
    a.threads = 2;
    cv_error err;
    cv_error_init(&err);
    void *self = NULL;
    int st = th_try_create(ctx, d, (const char *const[]){ "precision=bf16", NULL }, &a, &self, &err);
    have_bf16 = st == CV_OK;
    if (!have_bf16)
        cr_assert(st == CV_ERR_UNSUPPORTED && strstr(err.message, "AVX512-BF16"),
                  "without AVX512-BF16 the backend must refuse bf16 clearly, got %d: %s", st, err.message);
    bf = (ku_backend){ d->vtable, self, d };
    rng = ku_rng_make(7);
}

static void teardown(void) {
    if (have_bf16) ku_backend_close(bf);
    ku_backend_close(ref);
    th_ctx_free(ctx);
}
TestSuite(cpu_bf16, .init = setup, .fini = teardown);

/* op on backend be with inputs v (shapes in); its output 0 (shape out), malloc'd */
static float *run_op(ku_backend be, int op, const void *p, size_t ps, const cv_shape *in, float *const *v, int n_in,
                     cv_shape out) {
    ku_tensor ti[4], to = ku_make(be, CV_F32, out, NULL);
    for (int i = 0; i < n_in; i++) ti[i] = ku_make(be, CV_F32, in[i], v[i]);
    ku_run_ok(be, op, p, ps, ti, n_in, &to, 1, 0);
    float *got = ku_get_new(be, &to);
    for (int i = 0; i < n_in; i++) ku_free(be, &ti[i]);
    ku_free(be, &to);
    return got;
}

/* run op on ref and on the bf16 backend with the same random inputs; output 0 compared */
static void compare(const char *name, int op, const void *p, size_t ps, const cv_shape *in, int n_in, cv_shape out) {
    if (!have_bf16) cr_skip_test("this CPU has no AVX512-BF16");
    float *v[4], *got[2];
    for (int i = 0; i < n_in; i++) v[i] = ku_random(&rng, cv_shape_numel(&in[i]), -2, 2);
    got[0] = run_op(ref, op, p, ps, in, v, n_in, out);
    got[1] = run_op(bf, op, p, ps, in, v, n_in, out);
    const double rel = ku_rel_err(name, got[1], got[0], cv_shape_numel(&out));
    cr_expect(rel <= 1e-2, "%s: relative error %.3g above the bf16 bound 1e-2", name, rel);
    cr_expect(rel > 1e-6, "%s: relative error %.3g: the result is fp32-exact, bf16 was not used", name, rel);
    for (int i = 0; i < n_in; i++) free(v[i]);
    free(got[0]);
    free(got[1]);
}

static void conv_all(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int k, int s, int pad, int g) {
    cv_conv_params p = { { s, s, 1 }, { pad, pad, 0 }, { 1, 1, 1 }, g };
    int64_t Ho = (H + 2 * pad - k) / s + 1, Wo = (W + 2 * pad - k) / s + 1;
    cv_shape x = CV_SHAPE(N, C, H, W), w = CV_SHAPE(O, C / g, k, k), y = CV_SHAPE(N, O, Ho, Wo);
    compare("conv2d", CV_OP_CONV2D, &p, sizeof p, (cv_shape[]){ x, w }, 2, y);
    compare("conv2d_bwd_data", CV_OP_CONV2D_BWD_DATA, &p, sizeof p, (cv_shape[]){ y, w }, 2, x);
    compare("conv2d_bwd_weight", CV_OP_CONV2D_BWD_WEIGHT, &p, sizeof p, (cv_shape[]){ y, x }, 2, w);
}

/* The bf16 copies of the weights (oneDNN's reorder into its blocked bf16 layouts)
 * round to nearest even: with bf16-exact activations the products are exact, so
 * forward and backward-data must match the reference on the weights rounded that
 * way up to f32 summation (weights off by a tenth of a percent before rounding
 * measured 2.2e-3).  Channel counts that leave partial 16-channel blocks; 1x1, 3x3
 * and 5x5. */
static void conv_rounding(int64_t N, int64_t C, int64_t H, int64_t O, int k, int s) {
    if (!have_bf16) cr_skip_test("this CPU has no AVX512-BF16");
    const int pad = k / 2;
    cv_conv_params p = { { s, s, 1 }, { pad, pad, 0 }, { 1, 1, 1 }, 1 };
    const int64_t Ho = (H + 2 * pad - k) / s + 1;
    const cv_shape xs = CV_SHAPE(N, C, H, H), ws = CV_SHAPE(O, C, k, k), ys = CV_SHAPE(N, O, Ho, Ho);
    for (int d = 0; d < 2; d++) {
        const cv_shape in[2] = { d ? ys : xs, ws }, out = d ? xs : ys;
        const int64_t na = cv_shape_numel(&in[0]), nw = cv_shape_numel(&ws);
        float *a = ku_random(&rng, na, -2, 2), *w = ku_random(&rng, nw, -2, 2), *wr = malloc((size_t)nw * 4);
        for (int64_t i = 0; i < na; i++) a[i] = ku_from_bf16(ku_to_bf16(a[i]));
        for (int64_t i = 0; i < nw; i++) wr[i] = ku_from_bf16(ku_to_bf16(w[i]));
        const int op = d ? CV_OP_CONV2D_BWD_DATA : CV_OP_CONV2D;
        float *got = run_op(bf, op, &p, sizeof p, in, (float *[]){ a, w }, 2, out);
        float *want = run_op(ref, op, &p, sizeof p, in, (float *[]){ a, wr }, 2, out);
        char name[96];
        snprintf(name, sizeof name, "%s %lld -> %lld channels, %dx%d stride %d", d ? "backward-data" : "forward",
                 (long long)C, (long long)O, k, k, s);
        const double rel = ku_rel_err(name, got, want, cv_shape_numel(&out));
        cr_expect(rel <= 1e-5, "%s: relative error %.3g against the reference on round-to-nearest-even weights", name, rel);
        free(a); free(w); free(wr); free(got); free(want);
    }
}
Test(cpu_bf16, conv_weights_round_to_nearest_even) {
    conv_rounding(2, 24, 6, 40, 1, 1);
    conv_rounding(2, 40, 9, 24, 3, 2);
    conv_rounding(2, 64, 4, 32, 3, 1);
    conv_rounding(2, 24, 9, 40, 5, 1);
}

Test(cpu_bf16, conv_3x3_resnet_layer) { conv_all(8, 32, 12, 12, 32, 3, 1, 1, 1); }
Test(cpu_bf16, conv_1x1_and_stride2) {
    conv_all(4, 64, 8, 8, 32, 1, 1, 0, 1);
    conv_all(4, 16, 15, 15, 32, 3, 2, 1, 1);
}
Test(cpu_bf16, conv_odd_channels_and_stem) {
    conv_all(2, 3, 17, 17, 16, 7, 2, 3, 1);
    conv_all(3, 5, 9, 9, 7, 3, 1, 1, 1);
}
Test(cpu_bf16, conv_depthwise) { conv_all(4, 32, 10, 10, 32, 3, 1, 1, 32); }
/* 5x5 depthwise: the weight gradient is ours (dwconv.c) */
Test(cpu_bf16, conv_depthwise_5x5) {
    conv_all(4, 32, 10, 10, 32, 5, 1, 2, 32);
    conv_all(4, 24, 11, 11, 24, 5, 2, 2, 24);
}
/* 4x4 output planes: the backend computes these weight gradients as one GEMM (bf16
 * operands here) */
Test(cpu_bf16, conv_small_planes) {
    conv_all(8, 32, 4, 4, 32, 3, 1, 1, 1);
    conv_all(4, 32, 7, 7, 48, 3, 1, 1, 1);   /* 7x7: the bf16 GEMM weight gradient too */
    conv_all(4, 32, 14, 14, 32, 3, 2, 1, 1); /* 14x14 -> 7x7 */
    conv_all(8, 32, 8, 8, 48, 3, 2, 1, 1);
    conv_all(8, 64, 8, 8, 32, 1, 2, 0, 1);
}

Test(cpu_bf16, linear_and_matmul) {
    compare("linear", CV_OP_LINEAR, NULL, 0, (cv_shape[]){ CV_SHAPE(16, 96), CV_SHAPE(40, 96), CV_SHAPE(40) }, 3,
            CV_SHAPE(16, 40));
    cv_matmul_params mp = { 0, 1 };
    compare("matmul", CV_OP_MATMUL, &mp, sizeof mp, (cv_shape[]){ CV_SHAPE(3, 20, 48), CV_SHAPE(3, 24, 48) }, 2,
            CV_SHAPE(3, 20, 24));
}
