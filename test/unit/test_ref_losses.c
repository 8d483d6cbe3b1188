/* test_ref_losses.c — the reference backend's losses (cross entropy with label
 * smoothing, ignore_index, class weights, segmentation logits and soft targets;
 * BCE-with-logits; smooth L1) against PyTorch values, plus embedding, dropout /
 * drop path masks and dtype conversion (CAST / COPY).
 *
 * PyTorch arrays were generated once with Debian's python3-torch (1.13) from
 * pat(n, salt)[i] = (((i*37 + salt*11) % 17) - 8) / 8; the generating call is
 * next to each test.  The tests do not need torch. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include "support/testhost.h"
#include "support/kernel_util.h"

static cv_ctx *ctx;
static ku_backend be;
static void setup(void) { ctx = th_ctx_new(); be = ku_backend_open(ctx, "ref"); }
static void teardown(void) { ku_backend_close(be); th_ctx_free(ctx); }
TestSuite(ref_losses, .init = setup, .fini = teardown);

static ku_tensor tpat(cv_shape s, int salt, float scale) {
    int64_t n = cv_shape_numel(&s);
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = (float)((((i * 37 + salt * 11) % 17) - 8)) / 8.0f * scale;
    ku_tensor t = ku_make(be, CV_F32, s, x);
    free(x);
    return t;
}

/* run a loss-like op and return its single output value */
static float run_scalar(int op, const void *p, size_t ps, const ku_tensor *in, int n_in) {
    ku_tensor y = ku_make(be, CV_F32, CV_SHAPE(1), NULL);
    ku_run_ok(be, op, p, ps, in, n_in, &y, 1, 0);
    float v;
    ku_get(be, &y, &v);
    ku_free(be, &y);
    return v;
}

static void free_all(ku_tensor *t, int n) {
    for (int i = 0; i < n; i++) ku_free(be, &t[i]);
}

/* ---- expected values (PyTorch 1.13) ------------------------------------------------ */
/* ce_plain [1] */
static const float ce_plain[] = {
    2.6018465
};
/* ce_ls_ign [1] */
static const float ce_ls_ign[] = {
    2.9358239
};
/* ce_w_ls_ign [1] */
static const float ce_w_ls_ign[] = {
    3.115288
};
/* ce_w [5] */
static const float ce_w[] = {
    0.875, 0.5, 0.375, 0.75, 1.125
};
/* ce_seg [1] */
static const float ce_seg[] = {
    1.2351482
};
/* ce_soft_t [4, 5] */
static const float ce_soft_t[] = {
    0.12468005, 0.26394767, 0.55877721, 0.016873609, 0.035721432, 0.057560816, 0.12185626, 0.25796968,
    0.54612184, 0.01649145, 0.026901998, 0.05695153, 0.1205664, 0.25523904, 0.54034108, 0.026901998,
    0.05695153, 0.1205664, 0.25523904, 0.54034108
};
/* ce_soft [1] */
static const float ce_soft[] = {
    1.6201015
};
/* ce_soft_w [1] */
static const float ce_soft_w[] = {
    1.2837334
};
/* bce_t [6] */
static const float bce_t[] = {
    0.8125, 1.0, 0.125, 0.3125, 0.5, 0.6875
};
/* bce [1] */
static const float bce[] = {
    1.7383415
};
/* sl1 [1] */
static const float sl1[] = {
    2.2421875
};
/* sl1_b0 [1] */
static const float sl1_b0[] = {
    2.46875
};

/* lg = pat(20,24).reshape(4,5)*2;
 * ce_plain = F.cross_entropy(lg, [1,4,2,0]);
 * ce_ls_ign = F.cross_entropy(lg, [1,4,-100,0], ignore_index=-100, label_smoothing=0.1);
 * ce_w_ls_ign = the same with weight=ce_w (= |pat(5,25)|+0.25), label_smoothing=0.2 */
Test(ref_losses, cross_entropy_smoothing_ignore_weights) {
    ku_tensor lg = tpat(CV_SHAPE(4, 5), 24, 2);
    ku_tensor t1 = ku_make(be, CV_I32, CV_SHAPE(4), (float[]){ 1, 4, 2, 0 });
    ku_tensor t2 = ku_make(be, CV_I32, CV_SHAPE(4), (float[]){ 1, 4, -100, 0 });
    ku_tensor w = ku_make(be, CV_F32, CV_SHAPE(5), ce_w);
    cv_ce_params plain = { 0.0f, -100 }, ls = { 0.1f, -100 }, ls2 = { 0.2f, -100 };
    cr_assert_float_eq(run_scalar(CV_OP_CROSS_ENTROPY, &plain, sizeof plain, (ku_tensor[]){ lg, t1 }, 2), ce_plain[0], 1e-5);
    cr_assert_float_eq(run_scalar(CV_OP_CROSS_ENTROPY, &ls, sizeof ls, (ku_tensor[]){ lg, t2 }, 2), ce_ls_ign[0], 1e-5);
    cr_assert_float_eq(run_scalar(CV_OP_CROSS_ENTROPY, &ls2, sizeof ls2, (ku_tensor[]){ lg, t2, w }, 3), ce_w_ls_ign[0],
                       1e-5);
    free_all((ku_tensor[]){ lg, t1, t2, w }, 4);
}

/* ce_seg = F.cross_entropy(pat(24,26).reshape(2,3,2,2)*2,
 *          [[[0,2],[255,1]],[[1,1],[2,255]]], ignore_index=255, label_smoothing=0.1) */
Test(ref_losses, cross_entropy_segmentation_logits) {
    ku_tensor lg = tpat(CV_SHAPE(2, 3, 2, 2), 26, 2);
    ku_tensor t = ku_make(be, CV_I32, CV_SHAPE(2, 2, 2), (float[]){ 0, 2, 255, 1, 1, 1, 2, 255 });
    cv_ce_params p = { 0.1f, 255 };
    cr_assert_float_eq(run_scalar(CV_OP_CROSS_ENTROPY, &p, sizeof p, (ku_tensor[]){ lg, t }, 2), ce_seg[0], 1e-5);
    free_all((ku_tensor[]){ lg, t }, 2);
}

/* ce_soft = F.cross_entropy(lg, ce_soft_t, label_smoothing=0.1); ce_soft_w = F.cross_entropy(lg, ce_soft_t, weight=ce_w) */
Test(ref_losses, cross_entropy_soft_targets) {
    ku_tensor lg = tpat(CV_SHAPE(4, 5), 24, 2);
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(4, 5), ce_soft_t);
    ku_tensor w = ku_make(be, CV_F32, CV_SHAPE(5), ce_w);
    cv_ce_params ls = { 0.1f, -100 }, plain = { 0.0f, -100 };
    cr_assert_float_eq(run_scalar(CV_OP_CROSS_ENTROPY, &ls, sizeof ls, (ku_tensor[]){ lg, t }, 2), ce_soft[0], 1e-5);
    cr_assert_float_eq(run_scalar(CV_OP_CROSS_ENTROPY, &plain, sizeof plain, (ku_tensor[]){ lg, t, w }, 3), ce_soft_w[0],
                       1e-5);
    free_all((ku_tensor[]){ lg, t, w }, 3);
}

/* documented deviation: PyTorch gives NaN when every target is ignored; we give 0
 * and a zero gradient so an all-"ignore" crop does not stop training */
Test(ref_losses, cross_entropy_all_ignored_is_zero) {
    ku_tensor lg = tpat(CV_SHAPE(2, 3), 1, 1);
    ku_tensor t = ku_make(be, CV_I32, CV_SHAPE(2), (float[]){ -1, -1 });
    ku_tensor dl = ku_make(be, CV_F32, CV_SHAPE(1), (float[]){ 1 });
    cv_ce_params p = { 0.1f, -1 };
    cr_assert_eq(run_scalar(CV_OP_CROSS_ENTROPY, &p, sizeof p, (ku_tensor[]){ lg, t }, 2), 0.0f);
    ku_tensor g = ku_make(be, CV_F32, CV_SHAPE(2, 3), (float[]){ 9, 9, 9, 9, 9, 9 });
    ku_run_ok(be, CV_OP_CROSS_ENTROPY_BWD, &p, sizeof p, (ku_tensor[]){ lg, t, dl }, 3, &g, 1, 0);
    float gv[6], zero[6] = { 0 };
    ku_get(be, &g, gv);
    ku_assert_close(gv, zero, 6, 0, 0, "all-ignored gradient");
    free_all((ku_tensor[]){ lg, t, dl, g }, 4);
}

Test(ref_losses, cross_entropy_rejects_bad_target) {
    ku_tensor lg = tpat(CV_SHAPE(2, 3), 1, 1);
    ku_tensor t = ku_make(be, CV_I32, CV_SHAPE(2), (float[]){ 0, 3 });
    ku_tensor y = ku_make(be, CV_F32, CV_SHAPE(1), NULL);
    cv_ce_params p = { 0.0f, -100 };
    cv_error err = { sizeof err, 0, "" };
    cr_assert_eq(ku_run(be, CV_OP_CROSS_ENTROPY, &p, sizeof p, (ku_tensor[]){ lg, t }, 2, &y, 1, 0, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "CROSS_ENTROPY") && strstr(err.message, "target 3"), "%s", err.message);
    free_all((ku_tensor[]){ lg, t, y }, 3);
}

/* x = pat(6,28)*4, t = bce_t = (pat(6,29)+1)/2;
 * bce = F.binary_cross_entropy_with_logits(x, t); sl1 = F.smooth_l1_loss(x, t, beta=0.5); sl1_b0: beta=0 */
Test(ref_losses, bce_with_logits_and_smooth_l1) {
    ku_tensor x = tpat(CV_SHAPE(2, 3), 28, 4);
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(2, 3), bce_t);
    cr_assert_float_eq(run_scalar(CV_OP_BCE_LOGITS, NULL, 0, (ku_tensor[]){ x, t }, 2), bce[0], 1e-5);
    cv_smooth_l1_params b5 = { 0.5f }, b0 = { 0.0f };
    cr_assert_float_eq(run_scalar(CV_OP_SMOOTH_L1, &b5, sizeof b5, (ku_tensor[]){ x, t }, 2), sl1[0], 1e-5);
    cr_assert_float_eq(run_scalar(CV_OP_SMOOTH_L1, &b0, sizeof b0, (ku_tensor[]){ x, t }, 2), sl1_b0[0], 1e-5);
    free_all((ku_tensor[]){ x, t }, 2);
}

Test(ref_losses, bce_with_logits_is_stable_for_large_logits) {
    /* x = +-100 with matching targets: loss ~ log1p(exp(-100)) ~ 0, never inf/NaN */
    ku_tensor x = ku_make(be, CV_F32, CV_SHAPE(2), (float[]){ 100, -100 });
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(2), (float[]){ 1, 0 });
    float v = run_scalar(CV_OP_BCE_LOGITS, NULL, 0, (ku_tensor[]){ x, t }, 2);
    cr_assert(isfinite(v) && v >= 0 && v < 1e-30, "loss %g", v);
    free_all((ku_tensor[]){ x, t }, 2);
}

/* ---- embedding ------------------------------------------------------------------------- */
Test(ref_losses, embedding_lookup_and_gradient) {
    float wv[8] = { 0, 1, 10, 11, 20, 21, 30, 31 }; /* V=4, D=2 */
    ku_tensor w = ku_make(be, CV_F32, CV_SHAPE(4, 2), wv);
    ku_tensor idx = ku_make(be, CV_I32, CV_SHAPE(3), (float[]){ 2, 0, 2 });
    ku_tensor y = ku_make(be, CV_F32, CV_SHAPE(3, 2), NULL);
    ku_run_ok(be, CV_OP_EMBEDDING, NULL, 0, (ku_tensor[]){ w, idx }, 2, &y, 1, 0);
    float got[6], want[6] = { 20, 21, 0, 1, 20, 21 };
    ku_get(be, &y, got);
    ku_assert_close(got, want, 6, 0, 0, "embedding");
    ku_tensor dy = ku_make(be, CV_F32, CV_SHAPE(3, 2), (float[]){ 1, 2, 3, 4, 5, 6 });
    ku_tensor dw = ku_make(be, CV_F32, CV_SHAPE(4, 2), NULL);
    ku_run_ok(be, CV_OP_EMBEDDING_BWD, NULL, 0, (ku_tensor[]){ idx, dy }, 2, &dw, 1, 0);
    float g[8], gw[8] = { 3, 4, 0, 0, 6, 8, 0, 0 };
    ku_get(be, &dw, g);
    ku_assert_close(g, gw, 8, 0, 0, "embedding grad (rows 2 accumulate)");
    ku_tensor bad = ku_make(be, CV_I32, CV_SHAPE(3), (float[]){ 2, 4, 0 });
    cv_error err = { sizeof err, 0, "" };
    cr_assert_eq(ku_run(be, CV_OP_EMBEDDING, NULL, 0, (ku_tensor[]){ w, bad }, 2, &y, 1, 0, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "index 4"), "%s", err.message);
    free_all((ku_tensor[]){ w, idx, y, dy, dw, bad }, 6);
}

/* ---- dropout / drop path ----------------------------------------------------------------- */
Test(ref_losses, dropout_mask_statistics_and_determinism) {
    enum { N = 4000 };
    float *x = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) x[i] = 1.0f + (float)(i % 7);
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(N), x);
    ku_tensor out[2] = { ku_make(be, CV_F32, CV_SHAPE(N), NULL), ku_make(be, CV_F32, CV_SHAPE(N), NULL) };
    cv_dropout_params p = { 0.25f };
    ku_run_ok(be, CV_OP_DROPOUT, &p, sizeof p, &t, 1, out, 2, 1234);
    float *y = ku_get_new(be, &out[0]), *m = ku_get_new(be, &out[1]);
    int kept = 0;
    for (int i = 0; i < N; i++) {
        cr_assert(m[i] == 0.0f || fabsf(m[i] - 1.0f / 0.75f) < 1e-6f, "mask value %g", m[i]);
        cr_assert(fabsf(y[i] - x[i] * m[i]) < 1e-5f, "y = x * mask at %d", i);
        kept += m[i] != 0.0f;
    }
    /* 3000 expected; 4 sigma of a binomial(4000, 0.75) is ~110 */
    cr_assert(kept > 2890 && kept < 3110, "kept %d of %d at p = 0.25", kept, N);
    /* the same seed gives the same mask, another seed a different one */
    ku_run_ok(be, CV_OP_DROPOUT, &p, sizeof p, &t, 1, out, 2, 1234);
    float *m2 = ku_get_new(be, &out[1]);
    ku_assert_close(m2, m, N, 0, 0, "same seed, same mask");
    ku_run_ok(be, CV_OP_DROPOUT, &p, sizeof p, &t, 1, out, 2, 1235);
    float *m3 = ku_get_new(be, &out[1]);
    int differ = 0;
    for (int i = 0; i < N; i++) differ += m3[i] != m[i];
    cr_assert(differ > 500, "another seed changed only %d mask values", differ);
    /* the mask is exactly the documented counter hash, so other backends can match it */
    for (int i = 0; i < N; i++)
        cr_assert_eq(m[i] != 0.0f, ku_hash_uniform(1234, (uint64_t)i) >= 0.25, "mask element %d vs the hash", i);
    free(x); free(y); free(m); free(m2); free(m3);
    ku_free(be, &t);
    free_all(out, 2);
}

Test(ref_losses, drop_path_is_per_sample) {
    enum { N = 64, P = 6 };
    float x[N * P];
    for (int i = 0; i < N * P; i++) x[i] = 1.0f;
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(N, 2, 3), x);
    ku_tensor out[2] = { ku_make(be, CV_F32, CV_SHAPE(N, 2, 3), NULL), ku_make(be, CV_F32, CV_SHAPE(N), NULL) };
    cv_dropout_params p = { 0.5f };
    ku_run_ok(be, CV_OP_DROP_PATH, &p, sizeof p, &t, 1, out, 2, 99);
    float y[N * P], m[N];
    ku_get(be, &out[0], y);
    ku_get(be, &out[1], m);
    int dropped = 0;
    for (int n = 0; n < N; n++) {
        cr_assert(m[n] == 0.0f || m[n] == 2.0f, "sample mask %g", m[n]);
        for (int k = 0; k < P; k++) cr_assert_eq(y[n * P + k], m[n], "sample %d element %d", n, k);
        dropped += m[n] == 0.0f;
        cr_assert_eq(m[n] != 0.0f, ku_hash_uniform(99, (uint64_t)n) >= 0.5, "sample %d vs the hash", n);
    }
    cr_assert(dropped > 8 && dropped < 56, "dropped %d of %d samples", dropped, N);
    /* the per-sample mask also drives DROPOUT_BWD */
    ku_tensor dx = ku_make(be, CV_F32, CV_SHAPE(N, 2, 3), NULL);
    ku_run_ok(be, CV_OP_DROPOUT_BWD, NULL, 0, (ku_tensor[]){ out[1], t }, 2, &dx, 1, 0);
    float g[N * P];
    ku_get(be, &dx, g);
    ku_assert_close(g, y, N * P, 0, 0, "drop path gradient");
    ku_free(be, &t);
    ku_free(be, &dx);
    free_all(out, 2);
}

Test(ref_losses, dropout_edge_probabilities) {
    float x[4] = { 1, 2, 3, 4 }, zero[4] = { 0 };
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(4), x), y = ku_make(be, CV_F32, CV_SHAPE(4), NULL);
    cv_dropout_params p0 = { 0.0f }, p1 = { 1.0f }, bad = { 1.5f };
    float got[4];
    ku_run_ok(be, CV_OP_DROPOUT, &p0, sizeof p0, &t, 1, &y, 1, 7);
    ku_get(be, &y, got);
    ku_assert_close(got, x, 4, 0, 0, "p = 0 is the identity");
    ku_run_ok(be, CV_OP_DROPOUT, &p1, sizeof p1, &t, 1, &y, 1, 7);
    ku_get(be, &y, got);
    ku_assert_close(got, zero, 4, 0, 0, "p = 1 drops everything");
    cv_error err = { sizeof err, 0, "" };
    cr_assert_eq(ku_run(be, CV_OP_DROPOUT, &bad, sizeof bad, &t, 1, &y, 1, 7, &err), CV_ERR_INVALID);
    ku_free(be, &t);
    ku_free(be, &y);
}

/* ---- CAST / COPY ---------------------------------------------------------------------------- */
Test(ref_losses, cast_rounds_to_nearest_even) {
    /* bf16 keeps 8 mantissa bits: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 -> 1 (even);
     * 1 + 3*2^-8 ties between 1 + 2^-7 and 1 + 2^-6 -> 1 + 2^-6 (even); 1 + 2^-8 + 2^-20 rounds up */
    float x[5] = { 1.0f + 1.0f / 256, 1.0f + 3.0f / 256, 1.0f + 1.0f / 256 + 1.0f / 1048576, -2.5f, 65504.0f };
    float want_bf16[5] = { 1.0f, 1.0f + 4.0f / 256, 1.0f + 2.0f / 256, -2.5f, 65536.0f };
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(5), x);
    ku_tensor b = ku_make(be, CV_BF16, CV_SHAPE(5), NULL), back = ku_make(be, CV_F32, CV_SHAPE(5), NULL);
    cv_cast_params cb = { CV_BF16 };
    ku_run_ok(be, CV_OP_CAST, &cb, sizeof cb, &t, 1, &b, 1, 0);
    ku_run_ok(be, CV_OP_COPY, NULL, 0, &b, 1, &back, 1, 0);
    float got[5];
    ku_get(be, &back, got);
    ku_assert_close(got, want_bf16, 5, 0, 0, "f32 -> bf16 -> f32");
    /* f16: 2049 ties between 2048 and 2050 -> 2048; 2051 -> 2052; 1e-7 is subnormal; 70000 overflows */
    float h[4] = { 2049.0f, 2051.0f, 1e-7f, 70000.0f };
    float want_h[4] = { 2048.0f, 2052.0f, 1.1920929e-07f, INFINITY };
    ku_tensor th = ku_make(be, CV_F32, CV_SHAPE(4), h), f16 = ku_make(be, CV_F16, CV_SHAPE(4), NULL);
    ku_tensor hb = ku_make(be, CV_F32, CV_SHAPE(4), NULL);
    cv_cast_params ch = { CV_F16 };
    ku_run_ok(be, CV_OP_CAST, &ch, sizeof ch, &th, 1, &f16, 1, 0);
    ku_run_ok(be, CV_OP_CAST, &(cv_cast_params){ CV_F32 }, sizeof(cv_cast_params), &f16, 1, &hb, 1, 0);
    ku_get(be, &hb, got);
    ku_assert_close(got, want_h, 4, 0, 0, "f32 -> f16 -> f32");
    free_all((ku_tensor[]){ t, b, back, th, f16, hb }, 6);
}

Test(ref_losses, cast_integers_truncate_and_saturate) {
    float x[5] = { -1.7f, 2.9f, 300.0f, -5.0f, 16777217.0f };
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(5), x);
    ku_tensor i = ku_make(be, CV_I32, CV_SHAPE(5), NULL), u = ku_make(be, CV_U8, CV_SHAPE(5), NULL);
    ku_run_ok(be, CV_OP_CAST, &(cv_cast_params){ CV_I32 }, sizeof(cv_cast_params), &t, 1, &i, 1, 0);
    ku_run_ok(be, CV_OP_COPY, NULL, 0, &t, 1, &u, 1, 0);
    float gi[5], gu[5], wi[5] = { -1, 2, 300, -5, 16777216.0f }, wu[5] = { 0, 2, 255, 0, 255 };
    ku_get(be, &i, gi);
    ku_get(be, &u, gu);
    ku_assert_close(gi, wi, 5, 0, 0, "f32 -> i32 truncates");
    ku_assert_close(gu, wu, 5, 0, 0, "f32 -> u8 saturates");
    /* i32 -> i32 copies are exact beyond 2^24 */
    ku_tensor big = ku_make(be, CV_I32, CV_SHAPE(1), NULL), big2 = ku_make(be, CV_I32, CV_SHAPE(1), NULL);
    int32_t v = 16777217, back = 0;
    cv_error err = { sizeof err, 0, "" };
    cr_assert_eq(be.vt->upload(be.self, big.kt.data, &v, 4, &err), CV_OK);
    ku_run_ok(be, CV_OP_COPY, NULL, 0, &big, 1, &big2, 1, 0);
    cr_assert_eq(be.vt->download(be.self, &back, big2.kt.data, 4, &err), CV_OK);
    cr_assert_eq(back, 16777217);
    cr_assert_eq(ku_run(be, CV_OP_CAST, &(cv_cast_params){ CV_F16 }, sizeof(cv_cast_params), &t, 1, &i, 1, 0, &err),
                 CV_ERR_INVALID, "CAST params dtype must match the output");
    free_all((ku_tensor[]){ t, i, u, big, big2 }, 5);
}
