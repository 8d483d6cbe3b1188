/* test_ref_dispatch.c — the reference backend's vtable and dispatcher: memory,
 * supports(), prepare(), strided and non-f32 operands (gathered to dense f32
 * and stored back), and bad input (unknown op, missing params, wrong operand
 * counts, bad sizes) giving a status and a message that names the op. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include "support/testhost.h"
#include "support/kernel_util.h"

static cv_ctx *ctx;
static ku_backend be;
static void setup(void) { ctx = th_ctx_new(); be = ku_backend_open(ctx, "ref"); }
static void teardown(void) { ku_backend_close(be); th_ctx_free(ctx); }
TestSuite(ref_dispatch, .init = setup, .fini = teardown);

Test(ref_dispatch, memory_and_capabilities) {
    cr_assert_eq(be.vt->host_accessible, 1);
    float *p = be.vt->alloc(be.self, 100);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % 64, 0, "64-byte aligned");
    float src[3] = { 1, 2, 3 }, dst[3] = { 0 };
    cv_error err = { sizeof err, 0, "" };
    cr_assert_eq(be.vt->upload(be.self, p, src, sizeof src, &err), CV_OK);
    cr_assert_eq(be.vt->download(be.self, dst, p, sizeof dst, &err), CV_OK);
    cr_assert_eq(dst[2], 3.0f);
    be.vt->free(be.self, p);
    cr_assert_eq(be.vt->sync(be.self, &err), CV_OK);
    /* every op kind of ops.h except the reserved CONV3D */
    static const int ops[] = { 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
                               26, 27, 28, 29, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 96, 97, 98,
                               99, 100, 101, 102, 103, 104 };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) cr_assert(be.vt->supports(be.self, ops[i], CV_F32), "op %d", ops[i]);
    cr_assert_not(be.vt->supports(be.self, CV_OP_CONV3D, CV_F32));
    cr_assert_not(be.vt->supports(be.self, 63, CV_F32));
    cr_assert(be.vt->supports(be.self, CV_OP_CAST, CV_U8));
    cr_assert(be.vt->supports(be.self, CV_OP_PERMUTE, CV_I32));
    cr_assert(be.vt->supports(be.self, CV_OP_CONV2D, CV_BF16));
    cr_assert_not(be.vt->supports(be.self, CV_OP_CONV2D, CV_U8));
    cr_assert_not(be.vt->supports(be.self, CV_OP_UNARY, 17));
    /* prepare asks for no workspace and keeps no state */
    cv_kernel k = { .struct_size = sizeof k, .op = CV_OP_UNARY };
    void *prep = (void *)1;
    size_t ws = 99;
    cr_assert_eq(be.vt->prepare(be.self, &k, &prep, &ws, &err), CV_OK);
    cr_assert_null(prep);
    cr_assert_eq(ws, 0);
}

Test(ref_dispatch, strided_inputs_and_outputs) {
    float base[24];
    for (int i = 0; i < 24; i++) base[i] = (float)i;
    ku_tensor b = ku_make(be, CV_F32, CV_SHAPE(4, 6), base);
    /* the transpose [6,4], strides (1, 6) */
    ku_tensor tr = ku_view(&b, 2, (int64_t[]){ 6, 4 }, (int64_t[]){ 1, 6 }, 0);
    ku_tensor y = ku_make(be, CV_F32, CV_SHAPE(6, 4), NULL);
    cv_unary_params neg = { CV_NEG, 0 };
    ku_run_ok(be, CV_OP_UNARY, &neg, sizeof neg, &tr, 1, &y, 1, 0);
    float got[24], want[24];
    ku_get(be, &y, got);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++) want[i * 4 + j] = -base[j * 6 + i];
    ku_assert_close(got, want, 24, 0, 0, "unary of a transposed view");
    /* every other column of rows 1..2, offset 1: [2,3] strides (6, 2) */
    ku_tensor sub = ku_view(&b, 2, (int64_t[]){ 2, 3 }, (int64_t[]){ 6, 2 }, 7);
    ku_tensor c = ku_make(be, CV_F32, CV_SHAPE(2, 3), NULL);
    ku_run_ok(be, CV_OP_COPY, NULL, 0, &sub, 1, &c, 1, 0);
    float gc[6], wc[6] = { 7, 9, 11, 13, 15, 17 };
    ku_get(be, &c, gc);
    ku_assert_close(gc, wc, 6, 0, 0, "copy of a strided view");
    /* binary with a broadcast-by-stride-0 operand and a strided one */
    ku_tensor row = ku_view(&b, 2, (int64_t[]){ 2, 3 }, (int64_t[]){ 0, 1 }, 0); /* rows repeat 0,1,2 */
    ku_tensor s = ku_make(be, CV_F32, CV_SHAPE(2, 3), NULL);
    cv_binary_params add = { CV_ADD };
    ku_run_ok(be, CV_OP_BINARY, &add, sizeof add, (ku_tensor[]){ sub, row }, 2, &s, 1, 0);
    float gs[6], ws[6] = { 7, 10, 13, 13, 16, 19 };
    ku_get(be, &s, gs);
    ku_assert_close(gs, ws, 6, 0, 0, "binary of strided views");
    /* permute of the transposed view gives the original back */
    cv_permute_params pm = { { 1, 0 } };
    ku_tensor back = ku_make(be, CV_F32, CV_SHAPE(4, 6), NULL);
    ku_run_ok(be, CV_OP_PERMUTE, &pm, sizeof pm, &tr, 1, &back, 1, 0);
    float gb[24];
    ku_get(be, &back, gb);
    ku_assert_close(gb, base, 24, 0, 0, "permute of a view");
    /* a strided output: fill column 1 of b through a [4] view with stride 6 */
    ku_tensor col = ku_view(&b, 1, (int64_t[]){ 4 }, (int64_t[]){ 6 }, 1);
    cv_scalar_params f = { 0, -1.0f };
    ku_run_ok(be, CV_OP_FILL, &f, sizeof f, NULL, 0, &col, 1, 0);
    float all[24];
    ku_get(be, &b, all);
    for (int i = 0; i < 24; i++) cr_assert_eq(all[i], i % 6 == 1 ? -1.0f : base[i], "element %d", i);
    ku_free(be, &b);
    ku_free(be, &y);
    ku_free(be, &c);
    ku_free(be, &s);
    ku_free(be, &back);
}

Test(ref_dispatch, half_precision_operands_compute_in_f32) {
    float x[4] = { -1.5f, 0.25f, 2.0f, 3.0f };
    ku_tensor t = ku_make(be, CV_BF16, CV_SHAPE(4), x), y = ku_make(be, CV_F16, CV_SHAPE(4), NULL);
    cv_scalar_params mul = { CV_S_MUL, 3.0f };
    ku_run_ok(be, CV_OP_SCALAR, &mul, sizeof mul, &t, 1, &y, 1, 0);
    float got[4], want[4] = { -4.5f, 0.75f, 6.0f, 9.0f };
    ku_get(be, &y, got);
    ku_assert_close(got, want, 4, 0, 0, "bf16 * 3 -> f16");
    /* batch norm running stats kept in bf16 are updated in place through the conversion */
    ku_tensor in[5] = { ku_make(be, CV_F32, CV_SHAPE(2, 1), (float[]){ 1, 3 }), ku_make(be, CV_F32, CV_SHAPE(1), (float[]){ 1 }),
                        ku_make(be, CV_F32, CV_SHAPE(1), (float[]){ 0 }), ku_make(be, CV_BF16, CV_SHAPE(1), (float[]){ 0 }),
                        ku_make(be, CV_BF16, CV_SHAPE(1), (float[]){ 1 }) };
    ku_tensor bn_y = ku_make(be, CV_F32, CV_SHAPE(2, 1), NULL);
    cv_norm_params p = { 0.0f, 0.5f, 1, 0, 0 };
    ku_run_ok(be, CV_OP_BATCH_NORM, &p, sizeof p, in, 5, &bn_y, 1, 0);
    float rm, rv;
    ku_get(be, &in[3], &rm);
    ku_get(be, &in[4], &rv);
    cr_assert_eq(rm, 1.0f, "running mean 0.5*0 + 0.5*2");
    cr_assert_eq(rv, 1.5f, "running var 0.5*1 + 0.5*2 (unbiased)");
    ku_free(be, &t);
    ku_free(be, &y);
    ku_free(be, &bn_y);
    for (int i = 0; i < 5; i++) ku_free(be, &in[i]);
}

static void expect_error(int op, const void *p, size_t ps, const ku_tensor *in, int n_in, const ku_tensor *out, int n_out,
                         int status, const char *needle) {
    cv_error err = { sizeof err, 0, "" };
    int st = ku_run(be, op, p, ps, in, n_in, out, n_out, 0, &err);
    cr_assert_eq(st, status, "op %d: status %d, message %s", op, st, err.message);
    cr_assert(strstr(err.message, needle), "message \"%s\" lacks \"%s\"", err.message, needle);
}

Test(ref_dispatch, bad_input_is_an_error_naming_the_op) {
    ku_tensor x = ku_make(be, CV_F32, CV_SHAPE(2, 3), NULL), y = ku_make(be, CV_F32, CV_SHAPE(2, 3), NULL);
    cv_unary_params u = { CV_RELU, 0 };
    expect_error(CV_OP_CONV3D, NULL, 0, &x, 1, &y, 1, CV_ERR_UNSUPPORTED, "CONV3D");
    expect_error(200, NULL, 0, &x, 1, &y, 1, CV_ERR_UNSUPPORTED, "200");
    expect_error(CV_OP_UNARY, NULL, 0, &x, 1, &y, 1, CV_ERR_INVALID, "UNARY: params");
    expect_error(CV_OP_UNARY, &u, 4, &x, 1, &y, 1, CV_ERR_INVALID, "too small");
    expect_error(CV_OP_UNARY, &u, sizeof u, NULL, 0, &y, 1, CV_ERR_INVALID, "UNARY: expects 1..1 inputs");
    cv_unary_params bad_fn = { 99, 0 };
    expect_error(CV_OP_UNARY, &bad_fn, sizeof bad_fn, &x, 1, &y, 1, CV_ERR_INVALID, "unknown unary fn 99");
    ku_tensor neg = x;
    neg.kt.shape[1] = -3;
    expect_error(CV_OP_UNARY, &u, sizeof u, &neg, 1, &y, 1, CV_ERR_INVALID, "bad size -3");
    ku_tensor huge = x;
    huge.kt.ndim = 5;
    for (int d = 0; d < 5; d++) huge.kt.shape[d] = (int64_t)1 << 20;
    expect_error(CV_OP_UNARY, &u, sizeof u, &huge, 1, &y, 1, CV_ERR_INVALID, "bad size");
    ku_tensor nodata = x;
    nodata.kt.data = NULL;
    expect_error(CV_OP_UNARY, &u, sizeof u, &nodata, 1, &y, 1, CV_ERR_INVALID, "no data");
    ku_tensor dt = x;
    dt.kt.dtype = 9;
    expect_error(CV_OP_UNARY, &u, sizeof u, &dt, 1, &y, 1, CV_ERR_INVALID, "unknown dtype 9");
    ku_tensor small = ku_make(be, CV_F32, CV_SHAPE(3, 2), NULL);
    expect_error(CV_OP_UNARY, &u, sizeof u, &x, 1, &small, 1, CV_ERR_INVALID, "[2,3] and y [3,2]");
    ku_free(be, &x);
    ku_free(be, &y);
    ku_free(be, &small);
}

/* ku_compare_backends as another backend's test would use it: here a second
 * instance of the reference, on a conv and an in-place Adam step */
Test(ref_dispatch, compare_backends_helper) {
    void *other = th_create(ctx, be.desc, NULL, NULL);
    ku_backend be2 = { be.vt, other, be.desc };
    ku_rng r = ku_rng_make(5);
    float *x = ku_random(&r, 2 * 3 * 5 * 5, -1, 1), *w = ku_random(&r, 4 * 3 * 3 * 3, -1, 1);
    cv_conv_params p = { { 1, 1, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, 1 };
    ku_spec in[2] = { { CV_F32, CV_SHAPE(2, 3, 5, 5), x }, { CV_F32, CV_SHAPE(4, 3, 3, 3), w } };
    ku_spec out[1] = { { CV_F32, CV_SHAPE(2, 4, 5, 5), NULL } };
    ku_compare_backends(be2, be, CV_OP_CONV2D, &p, sizeof p, in, 2, out, 1, 0, 0, 0);
    cv_adam_params ap = { 0.01f, 0.9f, 0.999f, 1e-8f, 0.01f, 1, 3 };
    ku_spec st[3] = { { CV_F32, CV_SHAPE(20), x }, { CV_F32, CV_SHAPE(20), w }, { CV_F32, CV_SHAPE(20), x + 20 } };
    for (int i = 0; i < 20; i++) x[20 + i] = fabsf(x[20 + i]); /* v >= 0 */
    ku_compare_backends(be2, be, CV_OP_ADAM_UPDATE, &ap, sizeof ap, (ku_spec[]){ { CV_F32, CV_SHAPE(20), w + 20 } }, 1,
                        st, 3, 0, 0, 0);
    free(x);
    free(w);
    th_destroy(be.desc, other);
}
