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

/* run op on ref and on the bf16 backend with the same random inputs; output 0 compared */
static void compare(const char *name, int op, const void *p, size_t ps, const cv_shape *in, int n_in, cv_shape out) {
    if (!have_bf16) cr_skip_test("this CPU has no AVX512-BF16");
    ku_tensor ti[2][4], to[2];
    float *v[4];
    for (int i = 0; i < n_in; i++) v[i] = ku_random(&rng, cv_shape_numel(&in[i]), -2, 2);
    ku_backend be[2] = { ref, bf };
    float *got[2];
    for (int b = 0; b < 2; b++) {
        for (int i = 0; i < n_in; i++) ti[b][i] = ku_make(be[b], CV_F32, in[i], v[i]);
        to[b] = ku_make(be[b], CV_F32, out, NULL);
        ku_run_ok(be[b], op, p, ps, ti[b], n_in, &to[b], 1, 0);
        got[b] = ku_get_new(be[b], &to[b]);
        for (int i = 0; i < n_in; i++) ku_free(be[b], &ti[b][i]);
        ku_free(be[b], &to[b]);
    }
    double num = 0, den = 0;
    int64_t n = cv_shape_numel(&out);
    for (int64_t j = 0; j < n; j++) {
        cr_assert(isfinite(got[1][j]), "%s: element %lld is %g", name, (long long)j, got[1][j]);
        num += ((double)got[1][j] - got[0][j]) * ((double)got[1][j] - got[0][j]);
        den += (double)got[0][j] * got[0][j];
    }
    double rel = sqrt(num / (den > 0 ? den : 1));
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
