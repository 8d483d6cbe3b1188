/* test/unit/test_cuda.c — every op kind of the CUDA backend (cvnets-backend-cuda.so,
 * built by `make CUDA=1`) against the reference backend.  Without a device (or
 * without CUDA=1) every test is skipped — reported as skipped with the reason,
 * never as passed; test_cuda_plugin.c checks what can be checked without one.
 *
 * With a device, every op kind runs on the CUDA backend and on the reference
 * backend with the same fresh random inputs; outputs of the CUDA side start as
 * NaN (so an element it forgets fails) and must match within the bound stated
 * with each case (the cases and bounds of test_cpu_vs_ref.c, shared through
 * test/support/kcase_ops.c; TF32 is off by default, so FP32 convolutions and
 * matmuls stay within 2e-4). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/kcase_ops.h"
#include "support/cuda_open.h"
#include "support/kernel_util.h"
#include "support/testhost.h"

/* CUDA's libraries keep process-lifetime allocations; not ours to report under LSan */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libcuda\nleak:libcudart\nleak:libcudnn\nleak:libcublas\nleak:libnccl\nleak:_dlerror_run\n";
}

static cu_fixture fx; /* ctx, ref, cuda (when have_cuda), rng */
static kc_bench bench; /* ref and cuda (n = 0 without a device) */

static void setup(void) {
    cu_fixture_open(&fx);
    bench = (kc_bench){ fx.ref, fx.have_cuda, { fx.cuda }, { "cuda" }, &fx.rng };
}
static void teardown(void) { cu_fixture_close(&fx); }
TestSuite(cuda_vs_ref, .init = setup, .fini = teardown);

/* every comparison needs a device: skipped (not passed) without one */
#define NEED_CUDA() do { if (!fx.have_cuda) cr_skip_test("%s", fx.no_cuda); } while (0)

#define CASE(...) KC_CASE(&bench, __VA_ARGS__)

/* ---- convolution ------------------------------------------------------------------ */
Test(cuda_vs_ref, conv2d_plain_3x3_bias) { NEED_CUDA(); kc_conv_cases(&bench, 2, 3, 9, 7, 4, 3, 1, 1, 1, 1, 1); }
Test(cuda_vs_ref, conv2d_depthwise_stride2_odd) { NEED_CUDA(); kc_conv_cases(&bench, 2, 8, 11, 10, 8, 3, 2, 1, 1, 8, 0); }
Test(cuda_vs_ref, conv2d_groups_dilation) { NEED_CUDA(); kc_conv_cases(&bench, 1, 6, 12, 13, 9, 3, 1, 2, 2, 3, 1); }
Test(cuda_vs_ref, conv2d_pointwise) { NEED_CUDA(); kc_conv_cases(&bench, 3, 5, 7, 7, 6, 1, 1, 0, 1, 1, 0); }
Test(cuda_vs_ref, conv2d_k5_stride3) { NEED_CUDA(); kc_conv_cases(&bench, 2, 4, 9, 8, 4, 5, 3, 2, 1, 2, 1); }
Test(cuda_vs_ref, conv2d_blocked_channels) { NEED_CUDA(); kc_conv_cases(&bench, 2, 16, 10, 10, 32, 3, 1, 1, 1, 1, 1); }
Test(cuda_vs_ref, conv2d_stem_stride2) { NEED_CUDA(); kc_conv_cases(&bench, 2, 3, 15, 15, 16, 7, 2, 3, 1, 1, 0); }
/* output planes of <= 16 pixels: the weight gradient runs as one GEMM over im2col */
Test(cuda_vs_ref, conv2d_small_planes) { NEED_CUDA();
    kc_conv_cases(&bench, 3, 24, 4, 4, 20, 3, 1, 1, 1, 1, 1);
    kc_conv_cases(&bench, 2, 16, 7, 7, 8, 3, 2, 1, 1, 1, 0);
    kc_conv_cases(&bench, 2, 8, 4, 4, 8, 3, 1, 2, 2, 1, 0);
}

/* ---- matmul / linear ------------------------------------------------------------------ */
Test(cuda_vs_ref, matmul) { NEED_CUDA(); kc_ops_matmul(&bench); }

Test(cuda_vs_ref, linear) { NEED_CUDA();
    CASE(.name = "linear bias", .op = CV_OP_LINEAR, .n_in = 3, .in = { F32(5, 7), F32(3, 7), F32(3) }, .n_out = 1,
         .out = { F32(5, 3) }, .rtol = 2e-4, .atol = 2e-4);
    CASE(.name = "linear 3d", .op = CV_OP_LINEAR, .n_in = 2, .in = { F32(2, 3, 8), F32(4, 8) }, .n_out = 1,
         .out = { F32(2, 3, 4) }, .rtol = 2e-4, .atol = 2e-4);
    CASE(.name = "linear wide", .op = CV_OP_LINEAR, .n_in = 3, .in = { F32(17, 130), F32(33, 130), F32(33) },
         .n_out = 1, .out = { F32(17, 33) }, .rtol = 2e-4, .atol = 2e-4);
    CASE(.name = "linear k=1", .op = CV_OP_LINEAR, .n_in = 3, .in = { F32(9, 1), F32(6, 1), F32(6) }, .n_out = 1,
         .out = { F32(9, 6) }, .rtol = 2e-4, .atol = 2e-4);
}

/* LINEAR when cuBLASLt offers no algorithm (the emulated heuristic answers NOT_SUPPORTED with
 * CVNETS_EMU_LT_NO_ALGO set; a real GPU ignores it and runs cuBLASLt): a bias fill and a GEMM */
Test(cuda_vs_ref, linear_without_a_cublaslt_algorithm) { NEED_CUDA();
    setenv("CVNETS_EMU_LT_NO_ALGO", "1", 1);
    CASE(.name = "linear bias, no Lt algorithm", .op = CV_OP_LINEAR, .n_in = 3, .in = { F32(5, 7), F32(3, 7), F32(3) },
         .n_out = 1, .out = { F32(5, 3) }, .rtol = 2e-4, .atol = 2e-4);
    CASE(.name = "linear 3d, no Lt algorithm", .op = CV_OP_LINEAR, .n_in = 2, .in = { F32(2, 3, 8), F32(4, 8) },
         .n_out = 1, .out = { F32(2, 3, 4) }, .rtol = 2e-4, .atol = 2e-4);
    unsetenv("CVNETS_EMU_LT_NO_ALGO");
}

/* LINEAR on operands one element into their buffers (less aligned than a prepared cuBLASLt plan
 * assumes: run() makes a plan for the call), and run() without prepare() or workspace */
Test(cuda_vs_ref, linear_unaligned_and_unprepared) { NEED_CUDA();
    ku_backend bes[2] = { fx.ref, fx.cuda };
    float *vals = ku_random(&fx.rng, 1 + 11 * 5 + 3 * 5 + 3, -2, 2), *got[2];
    for (int b = 0; b < 2; b++) {
        ku_backend be = bes[b];
        ku_tensor base = ku_make(be, CV_F32, CV_SHAPE(1 + 11 * 5 + 3 * 5 + 3), vals);
        ku_tensor in[3] = { ku_view(&base, 2, (int64_t[]){ 11, 5 }, (int64_t[]){ 5, 1 }, 1),
                            ku_view(&base, 2, (int64_t[]){ 3, 5 }, (int64_t[]){ 5, 1 }, 1 + 55),
                            ku_view(&base, 1, (int64_t[]){ 3 }, (int64_t[]){ 1 }, 1 + 55 + 15) };
        ku_tensor y[2] = { ku_make(be, CV_F32, CV_SHAPE(11, 3), NULL), ku_make(be, CV_F32, CV_SHAPE(11, 3), NULL) };
        ku_run_ok(be, CV_OP_LINEAR, NULL, 0, in, 3, &y[0], 1, 0);
        /* unprepared: the kernel as ku_run hands it to run(), without prepared state or workspace */
        cv_kernel k = { .struct_size = sizeof k, .op = CV_OP_LINEAR, .n_in = 3, .n_out = 1,
                        .in = (cv_ktensor[]){ in[0].kt, in[1].kt, in[2].kt }, .out = &y[1].kt };
        cv_error err = { sizeof err, 0, "" };
        int st = be.vt->run(be.self, &k, &err);
        if (st == CV_OK && be.vt->sync) st = be.vt->sync(be.self, &err);
        cr_assert(st == CV_OK, "LINEAR without prepare: %s", err.message);
        got[b] = malloc(sizeof(float) * 66);
        cr_assert(got[b]);
        for (int i = 0; i < 2; i++) {
            float *v = ku_get_new(be, &y[i]);
            memcpy(got[b] + 33 * i, v, sizeof(float) * 33);
            free(v);
            ku_free(be, &y[i]);
        }
        ku_free(be, &base);
    }
    ku_assert_close(got[1], got[0], 66, 2e-4, 2e-4, "LINEAR unaligned / unprepared (cuda)");
    for (int b = 0; b < 2; b++) free(got[b]);
    free(vals);
}

/* ---- normalisation ------------------------------------------------------------------------ */
Test(cuda_vs_ref, batch_norm) { NEED_CUDA(); kc_ops_batch_norm(&bench); }
/* cuDNN's batch norm in training (the GPU default; fx.cuda may use ours: the emulation's default) */
Test(cuda_vs_ref, batch_norm_through_cudnn) {
    NEED_CUDA();
    const char *const kv[] = { "batch_norm=cudnn", NULL };
    char why[CV_ERROR_MESSAGE_MAX + 64];
    ku_backend be;
    cr_assert(cu_open(fx.ctx, kv, &be, why, sizeof why), "%s", why);
    kc_bench b = { fx.ref, 1, { be }, { "cuda batch_norm=cudnn" }, &fx.rng };
    kc_ops_batch_norm(&b);
    ku_backend_close(be);
}
Test(cuda_vs_ref, layer_norm) { NEED_CUDA(); kc_ops_layer_norm(&bench); }
Test(cuda_vs_ref, group_norm) { NEED_CUDA(); kc_ops_group_norm(&bench); }

/* ---- elementwise ------------------------------------------------------------------------------ */
Test(cuda_vs_ref, unary_and_grad) { NEED_CUDA(); kc_ops_unary_and_grad(&bench); }
Test(cuda_vs_ref, binary_broadcast) { NEED_CUDA(); kc_ops_binary_broadcast(&bench); }
Test(cuda_vs_ref, scalar) { NEED_CUDA(); kc_ops_scalar(&bench); }
Test(cuda_vs_ref, reduce_and_sum_to) { NEED_CUDA(); kc_ops_reduce_and_sum_to(&bench); }
Test(cuda_vs_ref, softmax) { NEED_CUDA(); kc_ops_softmax(&bench); }

/* ---- pooling, resize ---------------------------------------------------------------------------- */
Test(cuda_vs_ref, pool2d) { NEED_CUDA(); kc_ops_pool2d(&bench); }
Test(cuda_vs_ref, adaptive_avg_pool) { NEED_CUDA(); kc_ops_adaptive_avg_pool(&bench); }
Test(cuda_vs_ref, resize) { NEED_CUDA(); kc_ops_resize(&bench); }

/* ---- data movement ------------------------------------------------------------------------------ */
Test(cuda_vs_ref, shape_ops) { NEED_CUDA(); kc_ops_shape_ops(&bench); }

/* the same random inputs through strided views (a transposed or offset window of a bigger buffer) */
Test(cuda_vs_ref, strided_inputs) { NEED_CUDA();
    ku_backend bes[2] = { fx.ref, fx.cuda };
    float *vals = ku_random(&fx.rng, 8 * 6, -2, 2), *got[2];
    for (int b = 0; b < 2; b++) {
        ku_tensor base = ku_make(bes[b], CV_F32, CV_SHAPE(8, 6), vals);
        int64_t shape[2] = { 5, 7 }, stride[2] = { 1, 6 }; /* 5x7 transposed window at offset 1 */
        ku_tensor x = ku_view(&base, 2, shape, stride, 1), y = ku_make(bes[b], CV_F32, CV_SHAPE(5, 7), NULL);
        cv_unary_params p = { CV_SILU, 0 };
        ku_run_ok(bes[b], CV_OP_UNARY, &p, sizeof p, &x, 1, &y, 1, 0);
        ku_tensor w = ku_make(bes[b], CV_F32, CV_SHAPE(3, 7), vals), z = ku_make(bes[b], CV_F32, CV_SHAPE(5, 3), NULL);
        ku_tensor in[2] = { x, w };
        ku_run_ok(bes[b], CV_OP_LINEAR, NULL, 0, in, 2, &z, 1, 0);
        /* a strided output: silu(x) written through a transposed view of a fresh buffer */
        ku_tensor tb = ku_make(bes[b], CV_F32, CV_SHAPE(7, 5), NULL);
        int64_t tshape[2] = { 5, 7 }, tstride[2] = { 1, 5 };
        ku_tensor tv = ku_view(&tb, 2, tshape, tstride, 0);
        ku_run_ok(bes[b], CV_OP_UNARY, &p, sizeof p, &x, 1, &tv, 1, 0);
        float *a = ku_get_new(bes[b], &y), *c = ku_get_new(bes[b], &z), *t = ku_get_new(bes[b], &tb);
        got[b] = malloc(sizeof(float) * 85);
        memcpy(got[b], a, sizeof(float) * 35);
        memcpy(got[b] + 35, c, sizeof(float) * 15);
        memcpy(got[b] + 50, t, sizeof(float) * 35);
        free(a); free(c); free(t);
        ku_free(bes[b], &y); ku_free(bes[b], &z); ku_free(bes[b], &w); ku_free(bes[b], &base); ku_free(bes[b], &tb);
    }
    ku_assert_close(got[1], got[0], 85, 1e-5, 1e-6, "strided views (cuda)");
    for (int b = 0; b < 2; b++) free(got[b]);
    free(vals);
}

/* element-wise ops on dense operands one element into their buffers (not 16-byte aligned: the
 * scalar path) next to aligned ones (the float4 path), 103 elements (a tail of 3 after the groups) */
Test(cuda_vs_ref, elementwise_unaligned_and_tails) { NEED_CUDA();
    enum { N = 103 };
    ku_backend bes[2] = { fx.ref, fx.cuda };
    float *vals = ku_random(&fx.rng, 2 * N + 1, -2, 2), *got[2], nan[N];
    for (int i = 0; i < N; i++) nan[i] = NAN;
    cv_unary_params up = { CV_SILU, 0 };
    cv_binary_params bp = { CV_MUL };
    cv_scalar_params sp = { CV_S_RSUB, 0.75f };
    cv_axpby_params ap = { 0.5f, -2.0f };
    for (int b = 0; b < 2; b++) {
        ku_backend be = bes[b];
        ku_tensor base = ku_make(be, CV_F32, CV_SHAPE(2 * N + 1), vals);
        ku_tensor off = ku_view(&base, 1, (int64_t[]){ N }, (int64_t[]){ 1 }, 1); /* vals[1 .. N] */
        ku_tensor al = ku_view(&base, 1, (int64_t[]){ N }, (int64_t[]){ 1 }, N + 1); /* vals[N+1 ..] */
        ku_tensor y[5];
        for (int i = 0; i < 5; i++) y[i] = ku_make(be, CV_F32, CV_SHAPE(N), i == 1 ? vals : b ? nan : NULL); /* outputs NaN */
        ku_run_ok(be, CV_OP_UNARY, &up, sizeof up, &off, 1, &y[0], 1, 0);
        ku_run_ok(be, CV_OP_UNARY, &up, sizeof up, &y[1], 1, &y[1], 1, 0); /* aligned, in place */
        ku_run_ok(be, CV_OP_BINARY, &bp, sizeof bp, (ku_tensor[]){ y[1], off }, 2, &y[2], 1, 0);
        ku_run_ok(be, CV_OP_SCALAR, &sp, sizeof sp, &al, 1, &y[3], 1, 0);
        ku_run_ok(be, CV_OP_UNARY_BWD, &up, sizeof up, (ku_tensor[]){ off, al }, 2, &y[4], 1, 0);
        ku_run_ok(be, CV_OP_AXPBY, &ap, sizeof ap, &y[3], 1, &off, 1, 0); /* y = off, unaligned, in place */
        got[b] = malloc(sizeof(float) * (6 * N));
        cr_assert(got[b]);
        for (int i = 0; i < 5; i++) {
            float *v = ku_get_new(be, &y[i]);
            memcpy(got[b] + i * N, v, sizeof(float) * N);
            free(v);
            ku_free(be, &y[i]);
        }
        float *v = ku_get_new(be, &base);
        memcpy(got[b] + 5 * N, v + 1, sizeof(float) * N);
        free(v);
        ku_free(be, &base);
    }
    ku_assert_close(got[1], got[0], 6 * N, 1e-5, 1e-6, "unaligned element-wise views (cuda)");
    for (int b = 0; b < 2; b++) free(got[b]);
    free(vals);
}

/* ---- dropout (same counter-hash mask on both backends) -------------------------------------------- */
Test(cuda_vs_ref, dropout) { NEED_CUDA(); kc_ops_dropout(&bench); }

/* ---- losses ------------------------------------------------------------------------------------------ */
Test(cuda_vs_ref, cross_entropy) { NEED_CUDA(); kc_ops_cross_entropy(&bench); }
Test(cuda_vs_ref, bce_and_smooth_l1) { NEED_CUDA(); kc_ops_bce_and_smooth_l1(&bench); }
Test(cuda_vs_ref, embedding) { NEED_CUDA(); kc_ops_embedding(&bench); }

/* ---- optimizer updates (in place on the outputs) ------------------------------------------------------ */
Test(cuda_vs_ref, updates) { NEED_CUDA(); kc_ops_updates(&bench); }

/* ---- bad input: a clear error, never a crash -------------------------------------------------------------- */
Test(cuda_vs_ref, bad_shapes_are_errors) { NEED_CUDA();
    cv_conv_params p = { { 1, 1, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, 1 };
    ku_tensor x = ku_make(fx.cuda, CV_F32, CV_SHAPE(1, 3, 5, 5), NULL), w = ku_make(fx.cuda, CV_F32, CV_SHAPE(4, 2, 3, 3), NULL);
    ku_tensor y = ku_make(fx.cuda, CV_F32, CV_SHAPE(1, 4, 5, 5), NULL), in[2] = { x, w };
    cv_error err = { sizeof err, 0, "" };
    int st = ku_run(fx.cuda, CV_OP_CONV2D, &p, sizeof p, in, 2, &y, 1, 0, &err);
    cr_expect(st != CV_OK, "a conv with 3 input channels and weights for 2 must fail");
    cr_expect(strstr(err.message, "CONV2D") != NULL, "message names the op: %s", err.message);
    static const float bad_idx[2] = { 1, 12 };
    ku_tensor wt = ku_make(fx.cuda, CV_F32, CV_SHAPE(10, 4), NULL), ix = ku_make(fx.cuda, CV_I32, CV_SHAPE(2), bad_idx);
    ku_tensor e = ku_make(fx.cuda, CV_F32, CV_SHAPE(2, 4), NULL), ein[2] = { wt, ix };
    cv_error err2 = { sizeof err2, 0, "" };
    st = ku_run(fx.cuda, CV_OP_EMBEDDING, NULL, 0, ein, 2, &e, 1, 0, &err2);
    cr_expect(st == CV_ERR_INVALID && strstr(err2.message, "12") != NULL, "out-of-range index: %s", err2.message);
    cv_error err3 = { sizeof err3, 0, "" };
    st = ku_run(fx.cuda, CV_OP_CONV2D, &p, sizeof p - 4, in, 2, &y, 1, 0, &err3);
    cr_expect(st == CV_ERR_INVALID && strstr(err3.message, "params") != NULL, "short params: %s", err3.message);
    ku_tensor neg = ku_view(&x, 2, (int64_t[]){ 3, -1 }, (int64_t[]){ 1, 1 }, 0), ny = ku_make(fx.cuda, CV_F32, CV_SHAPE(3), NULL);
    cv_unary_params up = { CV_RELU, 0 };
    cv_error err4 = { sizeof err4, 0, "" };
    st = ku_run(fx.cuda, CV_OP_UNARY, &up, sizeof up, &neg, 1, &ny, 1, 0, &err4);
    cr_expect(st == CV_ERR_INVALID && strstr(err4.message, "-1") != NULL, "negative size: %s", err4.message);
    ku_free(fx.cuda, &ny);
    ku_free(fx.cuda, &x); ku_free(fx.cuda, &w); ku_free(fx.cuda, &y); ku_free(fx.cuda, &wt); ku_free(fx.cuda, &ix); ku_free(fx.cuda, &e);
}
