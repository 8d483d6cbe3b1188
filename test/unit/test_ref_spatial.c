/* test_ref_spatial.c — the reference backend's pooling, adaptive pooling, resize
 * and softmax against PyTorch values, and its elementwise / shape ops (binary
 * broadcasting, scalar, reduce, broadcast_to, sum_to, concat, slice, pad,
 * permute, reshape) against values worked out by hand in the comments.
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
TestSuite(ref_spatial, .init = setup, .fini = teardown);

static float *pat(int64_t n, int salt, float scale, float add) {
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = (float)((((i * 37 + salt * 11) % 17) - 8)) / 8.0f * scale + add;
    return x;
}

static ku_tensor tpat(cv_shape s, int salt, float scale) {
    float *v = pat(cv_shape_numel(&s), salt, scale, 0);
    ku_tensor t = ku_make(be, CV_F32, s, v);
    free(v);
    return t;
}

static void expect_op(int op, const void *p, size_t ps, const ku_tensor *in, int n_in, cv_shape oshape,
                      const float *want, double tol, const char *what) {
    ku_tensor y = ku_make(be, CV_F32, oshape, NULL);
    ku_run_ok(be, op, p, ps, in, n_in, &y, 1, 0);
    float *got = ku_get_new(be, &y);
    ku_assert_close(got, want, cv_shape_numel(&oshape), tol, tol, what);
    free(got);
    ku_free(be, &y);
}

static int expect_fail(int op, const void *p, size_t ps, const ku_tensor *in, int n_in, cv_shape oshape, const char *needle) {
    ku_tensor y = ku_make(be, CV_F32, oshape, NULL);
    cv_error err = { sizeof err, 0, "" };
    int st = ku_run(be, op, p, ps, in, n_in, &y, 1, 0, &err);
    cr_assert(st != CV_OK, "op %d should have failed", op);
    cr_assert(strstr(err.message, needle), "message \"%s\" lacks \"%s\"", err.message, needle);
    ku_free(be, &y);
    return st;
}

/* ---- expected values (PyTorch 1.13) ------------------------------------------------ */
/* pool_x [1, 1, 5, 5] */
static const float pool_x[] = {
    0.25, 0.63499999, 1.02, -0.72000003, -0.33500001, 0.049999997, 0.435, 0.81999999, -0.92000002,
    -0.53500003, -0.15000001, 0.235, 0.62, 1.005, -0.73500001, -0.35000002, 0.034999996, 0.42000002,
    0.80500001, 1.1900001, -0.55000001, -0.16500001, 0.22, 0.60500002, 0.99000001
};
/* maxpool_ceil [1, 1, 3, 3] */
static const float maxpool_ceil[] = {
    0.63499999, 1.02, -0.33500001, 0.235, 1.005, 1.1900001, -0.16500001, 0.60500002, 0.99000001
};
/* avgpool_nopad [1, 1, 3, 3] */
static const float avgpool_nopad[] = {
    0.3425, 0.21166663, -0.62750006, 0.042499993, 0.38388893, 0.13500001, -0.25749999, 0.32000002,
    0.89750004
};
/* avgpool_pad [1, 1, 3, 3] */
static const float avgpool_pad[] = {
    0.15222222, 0.14111108, -0.27888891, 0.028333329, 0.38388893, 0.090000004, -0.11444444, 0.21333334,
    0.39888892
};
/* avgpool_ceil_pad [1, 1, 3, 3] */
static const float avgpool_ceil_pad[] = {
    0.15222222, 0.14111108, -0.27888891, 0.028333329, 0.38388893, 0.090000004, -0.11444444, 0.21333334,
    0.39888892
};
/* adaptive [1, 1, 3, 2] */
static const float adaptive[] = {
    0.53499997, -0.11166668, 0.23500003, 0.29666668, -0.065000005, 0.70499998
};
/* rs_x [1, 2, 3, 4] */
static const float rs_x[] = {
    -0.5, -0.125, 0.25, 0.625, 1.0, -0.75, -0.375, 0.0, 0.375, 0.75, -1.0, -0.625, -0.25, 0.125, 0.5,
    0.875, -0.875, -0.5, -0.125, 0.25, 0.625, 1.0, -0.75, -0.375
};
/* bilinear_ac0 [1, 2, 5, 7] */
static const float bilinear_ac0[] = {
    -0.5, -0.3660714, -0.1517857, 0.062500045, 0.27678576, 0.49107149, 0.625, 0.10000005, -0.069642849,
    -0.34107149, -0.18749997, 0.026785733, 0.24107148, 0.37499997, 0.99999994, 0.37499991, -0.625,
    -0.56249994, -0.3482143, -0.13392855, -3.7252903e-08, 0.62499994, 0.4553571, 0.18392864,
    -0.30000007, -0.72321433, -0.5089286, -0.37500006, 0.375, 0.50892854, 0.72321427, -0.12500021,
    -0.97321427, -0.75892854, -0.625, -0.25, -0.1160714, 0.098214298, 0.31250006, 0.52678579,
    0.74107146, 0.875, -0.5, -0.36607143, -0.15178573, 0.062500037, 0.27678576, 0.49107146, 0.625,
    -0.87499988, -0.74107134, -0.52678561, -0.31249991, -0.098214284, 0.11607146, 0.24999997,
    0.025000133, 0.15892869, 0.37321439, -0.050000068, -0.4732143, -0.25892857, -0.12500004, 0.625,
    0.75892854, 0.97321427, 0.12499979, -0.72321427, -0.50892854, -0.375
};
/* bilinear_ac1 [1, 2, 5, 7] */
static const float bilinear_ac1[] = {
    -0.5, -0.3125, -0.125, 0.0625, 0.25, 0.4375, 0.625, 0.25, -0.09375, -0.4375, -0.25, -0.0625, 0.125,
    0.3125, 1.0, 0.125, -0.75, -0.5625, -0.375, -0.1875, 0.0, 0.6875, 0.34375, 0.0, -0.34375, -0.6875,
    -0.5, -0.3125, 0.375, 0.5625, 0.75, -0.125, -1.0, -0.8125, -0.625, -0.25, -0.0625, 0.125, 0.3125,
    0.5, 0.6875, 0.875, -0.5625, -0.375, -0.1875, 0.0, 0.1875, 0.375, 0.5625, -0.875, -0.6875, -0.5,
    -0.3125, -0.125, 0.0625, 0.25, -0.125, 0.0625, 0.25, -0.09375, -0.4375, -0.25, -0.0625, 0.625,
    0.8125, 1.0, 0.125, -0.75, -0.5625, -0.375
};
/* bilinear_down [1, 2, 2, 3] */
static const float bilinear_down[] = {
    -0.15104167, -0.093749985, 0.40625, 0.50520831, -0.23437507, -0.53124994, -0.34375, 0.15625003,
    0.65625, 0.3125, 0.015624918, -0.28124994
};
/* nearest [1, 2, 5, 3] */
static const float nearest[] = {
    -0.5, -0.125, 0.25, -0.5, -0.125, 0.25, 1.0, -0.75, -0.375, 1.0, -0.75, -0.375, 0.375, 0.75, -1.0,
    -0.25, 0.125, 0.5, -0.25, 0.125, 0.5, -0.875, -0.5, -0.125, -0.875, -0.5, -0.125, 0.625, 1.0, -0.75
};
/* softmax1 [2, 3, 4] */
static const float softmax1[] = {
    0.84970957, 0.0095400084, 0.0095400084, 0.066854171, 0.13030718, 0.85876423, 0.85876423,
    0.010252419, 0.019983254, 0.13169576, 0.13169576, 0.9228934, 0.0095400084, 0.0095400084,
    0.066854171, 0.066854171, 0.85876423, 0.85876423, 0.010252419, 0.010252419, 0.13169576, 0.13169576,
    0.9228934, 0.9228934
};
/* logsoftmax2 [2, 3, 4] */
static const float logsoftmax2[] = {
    -0.068777636, -5.3187776, -4.1937776, -3.0687776, -2.6113734, -1.4863733, -0.36137331, -5.6113734,
    -3.7563567, -2.6313567, -1.5063567, -0.38135675, -3.7563567, -2.6313567, -1.5063567, -0.38135675,
    -1.4221843, -0.29718432, -5.5471845, -4.4221845, -3.7563567, -2.6313567, -1.5063567, -0.38135675
};

/* pool_x = pat(25,21).reshape(1,1,5,5) + torch.arange(25).reshape(1,1,5,5)*0.01 (no ties) */
static ku_tensor pool_input(void) { return ku_make(be, CV_F32, CV_SHAPE(1, 1, 5, 5), pool_x); }

/* maxpool_ceil = F.max_pool2d(x, 2, 2, 0, ceil_mode=True);
 * avgpool_nopad = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False);
 * avgpool_pad = F.avg_pool2d(x, 3, 2, 1, ceil_mode=False, count_include_pad=True);
 * avgpool_ceil_pad = the same with ceil_mode=True (the extra window is dropped) */
Test(ref_spatial, pool2d_max_avg_ceil_and_padding) {
    ku_tensor x = pool_input();
    cv_pool_params mx = { CV_POOL_MAX, { 2, 2 }, { 2, 2 }, { 0, 0 }, 1, 1 };
    expect_op(CV_OP_POOL2D, &mx, sizeof mx, &x, 1, CV_SHAPE(1, 1, 3, 3), maxpool_ceil, 1e-6, "max pool ceil");
    cv_pool_params a1 = { CV_POOL_AVG, { 3, 3 }, { 2, 2 }, { 1, 1 }, 1, 0 };
    expect_op(CV_OP_POOL2D, &a1, sizeof a1, &x, 1, CV_SHAPE(1, 1, 3, 3), avgpool_nopad, 1e-6, "avg pool exclude pad");
    cv_pool_params a2 = { CV_POOL_AVG, { 3, 3 }, { 2, 2 }, { 1, 1 }, 0, 1 };
    expect_op(CV_OP_POOL2D, &a2, sizeof a2, &x, 1, CV_SHAPE(1, 1, 3, 3), avgpool_pad, 1e-6, "avg pool include pad");
    cv_pool_params a3 = { CV_POOL_AVG, { 3, 3 }, { 2, 2 }, { 1, 1 }, 1, 1 };
    expect_op(CV_OP_POOL2D, &a3, sizeof a3, &x, 1, CV_SHAPE(1, 1, 3, 3), avgpool_ceil_pad, 1e-6, "avg pool ceil pad");
    expect_fail(CV_OP_POOL2D, &mx, sizeof mx, &x, 1, CV_SHAPE(1, 1, 2, 2), "ceil_mode 1");
    ku_free(be, &x);
}

/* adaptive = F.adaptive_avg_pool2d(x, (3, 2)): bins [0,2) [1,4) [3,5) by [0,3) [2,5) */
Test(ref_spatial, adaptive_avg_pool_bins) {
    ku_tensor x = pool_input();
    cv_resize_params p = { 3, 2, 0, 0 };
    expect_op(CV_OP_ADAPTIVE_AVG_POOL2D, &p, sizeof p, &x, 1, CV_SHAPE(1, 1, 3, 2), adaptive, 1e-6, "adaptive");
    ku_free(be, &x);
}

/* rs_x = pat(24,22).reshape(1,2,3,4); F.interpolate(rs_x, size, mode, align_corners) */
Test(ref_spatial, resize_bilinear_both_alignments_and_nearest) {
    ku_tensor x = ku_make(be, CV_F32, CV_SHAPE(1, 2, 3, 4), rs_x);
    cv_resize_params up0 = { 5, 7, CV_RESIZE_BILINEAR, 0 }, up1 = { 5, 7, CV_RESIZE_BILINEAR, 1 };
    cv_resize_params dn = { 2, 3, CV_RESIZE_BILINEAR, 0 }, nn = { 5, 3, CV_RESIZE_NEAREST, 0 };
    expect_op(CV_OP_RESIZE, &up0, sizeof up0, &x, 1, CV_SHAPE(1, 2, 5, 7), bilinear_ac0, 1e-6, "bilinear ac=False");
    expect_op(CV_OP_RESIZE, &up1, sizeof up1, &x, 1, CV_SHAPE(1, 2, 5, 7), bilinear_ac1, 1e-6, "bilinear ac=True");
    expect_op(CV_OP_RESIZE, &dn, sizeof dn, &x, 1, CV_SHAPE(1, 2, 2, 3), bilinear_down, 1e-6, "bilinear down");
    expect_op(CV_OP_RESIZE, &nn, sizeof nn, &x, 1, CV_SHAPE(1, 2, 5, 3), nearest, 1e-6, "nearest");
    expect_fail(CV_OP_RESIZE, &up0, sizeof up0, &x, 1, CV_SHAPE(1, 2, 5, 6), "out_w 7");
    ku_free(be, &x);
}

/* softmax1 = F.softmax(pat(24,23).reshape(2,3,4)*3, dim=1); logsoftmax2 = F.log_softmax(.., dim=-1) */
Test(ref_spatial, softmax_and_log_softmax_any_axis) {
    ku_tensor x = tpat(CV_SHAPE(2, 3, 4), 23, 3);
    cv_softmax_params s1 = { 1, 0 }, s2 = { -1, 1 };
    expect_op(CV_OP_SOFTMAX, &s1, sizeof s1, &x, 1, CV_SHAPE(2, 3, 4), softmax1, 1e-6, "softmax dim 1");
    expect_op(CV_OP_SOFTMAX, &s2, sizeof s2, &x, 1, CV_SHAPE(2, 3, 4), logsoftmax2, 1e-6, "log_softmax dim -1");
    ku_free(be, &x);
}

Test(ref_spatial, softmax_is_stable_for_large_logits) {
    float v[3] = { 1000.0f, 1000.0f, -1000.0f }, want[3] = { 0.5f, 0.5f, 0.0f };
    ku_tensor x = ku_make(be, CV_F32, CV_SHAPE(1, 3), v);
    cv_softmax_params s = { 1, 0 };
    expect_op(CV_OP_SOFTMAX, &s, sizeof s, &x, 1, CV_SHAPE(1, 3), want, 1e-7, "softmax large");
    ku_free(be, &x);
}

/* ---- elementwise and shape ops (hand-computed) ----------------------------------------- */
Test(ref_spatial, binary_broadcasting_all_fns) {
    float a[6] = { 1, 2, 3, 4, 5, 6 }, b[3] = { 2, -1, 0.5f };
    ku_tensor in[2] = { ku_make(be, CV_F32, CV_SHAPE(2, 1, 3), a), ku_make(be, CV_F32, CV_SHAPE(3), b) };
    /* a [2,1,3] op b [3] -> [2,1,3] */
    float add[6] = { 3, 1, 3.5f, 6, 4, 6.5f }, sub[6] = { -1, 3, 2.5f, 2, 6, 5.5f }, mul[6] = { 2, -2, 1.5f, 8, -5, 3 };
    float dv[6] = { 0.5f, -2, 6, 2, -5, 12 }, mx[6] = { 2, 2, 3, 4, 5, 6 }, mn[6] = { 1, -1, 0.5f, 2, -1, 0.5f };
    const float *want[6] = { add, sub, mul, dv, mx, mn };
    for (int fn = CV_ADD; fn <= CV_MIN; fn++) {
        cv_binary_params p = { fn };
        expect_op(CV_OP_BINARY, &p, sizeof p, in, 2, CV_SHAPE(2, 1, 3), want[fn], 1e-7, "binary");
    }
    /* a [2,1,3] + c [4,1] -> [2,4,3]: element (i,j,k) = a[i,0,k] + c[j] */
    float c[4] = { 10, 20, 30, 40 };
    ku_tensor in2[2] = { in[0], ku_make(be, CV_F32, CV_SHAPE(4, 1), c) };
    float w2[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++) w2[(i * 4 + j) * 3 + k] = a[i * 3 + k] + c[j];
    cv_binary_params p = { CV_ADD };
    expect_op(CV_OP_BINARY, &p, sizeof p, in2, 2, CV_SHAPE(2, 4, 3), w2, 1e-7, "binary two-sided broadcast");
    expect_fail(CV_OP_BINARY, &p, sizeof p, in2, 2, CV_SHAPE(2, 4, 4), "do not broadcast");
    ku_free(be, &in[0]);
    ku_free(be, &in[1]);
    ku_free(be, &in2[1]);
}

Test(ref_spatial, scalar_fns) {
    float x[4] = { -2, 0.5f, 1, 3 };
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(4), x);
    struct { int fn; float v; float want[4]; } cases[] = {
        { CV_S_ADD, 1.5f, { -0.5f, 2, 2.5f, 4.5f } },   { CV_S_MUL, -2, { 4, -1, -2, -6 } },
        { CV_S_POW, 2, { 4, 0.25f, 1, 9 } },            { CV_S_RSUB, 1, { 3, 0.5f, 0, -2 } },
        { CV_S_CLAMP_MIN, 0.75f, { 0.75f, 0.75f, 1, 3 } }, { CV_S_CLAMP_MAX, 0.75f, { -2, 0.5f, 0.75f, 0.75f } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cv_scalar_params p = { cases[i].fn, cases[i].v };
        expect_op(CV_OP_SCALAR, &p, sizeof p, &t, 1, CV_SHAPE(4), cases[i].want, 1e-7, "scalar");
    }
    ku_free(be, &t);
}

Test(ref_spatial, reduce_sum_mean_keepdim) {
    float x[24];
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(2, 3, 4), x);
    /* sum over dims 0 and 2 -> [3]: row j sums x[i,j,k] = 12i + 4j + k over i<2, k<4 = 48 + 32j + 12 */
    cv_reduce_params p = { CV_R_SUM, 0x5u, 0 };
    float s[3] = { 60, 92, 124 };
    expect_op(CV_OP_REDUCE, &p, sizeof p, &t, 1, CV_SHAPE(3), s, 1e-7, "sum dims 0,2");
    cv_reduce_params m = { CV_R_MEAN, 0x4u, 1 }; /* mean over the last dim, kept: [2,3,1] */
    float mw[6] = { 1.5f, 5.5f, 9.5f, 13.5f, 17.5f, 21.5f };
    expect_op(CV_OP_REDUCE, &m, sizeof m, &t, 1, CV_SHAPE(2, 3, 1), mw, 1e-7, "mean keepdim");
    cv_reduce_params all = { CV_R_MEAN, 0, 0 };
    float aw[1] = { 11.5f };
    expect_op(CV_OP_REDUCE, &all, sizeof all, &t, 1, CV_SHAPE(1), aw, 1e-7, "mean of all");
    expect_fail(CV_OP_REDUCE, &p, sizeof p, &t, 1, CV_SHAPE(3, 1), "axes 0x5");
    ku_free(be, &t);
}

Test(ref_spatial, broadcast_to_and_sum_to_are_adjoint) {
    float x[3] = { 1, 2, 3 };
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(3, 1), x);
    float b[6] = { 1, 1, 2, 2, 3, 3 };
    expect_op(CV_OP_BROADCAST_TO, NULL, 0, &t, 1, CV_SHAPE(1, 3, 2), b, 0, "broadcast_to");
    float big[12];
    for (int i = 0; i < 12; i++) big[i] = (float)i; /* [2,3,2] */
    ku_tensor u = ku_make(be, CV_F32, CV_SHAPE(2, 3, 2), big);
    /* sum to [3,1]: j -> sum over i,k < 2 of 6i + 2j + k = 14 + 8j */
    float s[3] = { 14, 22, 30 };
    expect_op(CV_OP_SUM_TO, NULL, 0, &u, 1, CV_SHAPE(3, 1), s, 0, "sum_to");
    expect_fail(CV_OP_SUM_TO, NULL, 0, &u, 1, CV_SHAPE(2, 1), "cannot be summed");
    ku_free(be, &t);
    ku_free(be, &u);
}

Test(ref_spatial, concat_slice_pad_permute_reshape) {
    float a[4] = { 1, 2, 3, 4 }, b[2] = { 5, 6 };
    ku_tensor in[2] = { ku_make(be, CV_F32, CV_SHAPE(2, 2), a), ku_make(be, CV_F32, CV_SHAPE(2, 1), b) };
    cv_axis_params ax = { -1 };
    float cat[6] = { 1, 2, 5, 3, 4, 6 };
    expect_op(CV_OP_CONCAT, &ax, sizeof ax, in, 2, CV_SHAPE(2, 3), cat, 0, "concat axis -1");
    cv_axis_params ax0 = { 0 };
    expect_fail(CV_OP_CONCAT, &ax0, sizeof ax0, in, 2, CV_SHAPE(4, 2), "input 1");

    float x[24];
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(2, 3, 4), x);
    cv_slice_params sl = { 2, 0, 1, 2 };
    float slw[12] = { 1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22 };
    expect_op(CV_OP_SLICE, &sl, sizeof sl, &t, 1, CV_SHAPE(2, 3, 2), slw, 0, "slice");
    cv_slice_params bad = { 2, 0, 3, 2 };
    expect_fail(CV_OP_SLICE, &bad, sizeof bad, &t, 1, CV_SHAPE(2, 3, 2), "[3, 5)");

    /* pad dim 1 by (1, -1) (crop the last row) and dim 2 by (0, 1) with 9 */
    cv_pad_params pd = { { 0, 1, 0 }, { 0, -1, 1 }, 9.0f };
    float pw[30];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 5; k++)
                pw[(i * 3 + j) * 5 + k] = (j == 0 || k == 4) ? 9.0f : x[(i * 3 + (j - 1)) * 4 + k];
    expect_op(CV_OP_PAD, &pd, sizeof pd, &t, 1, CV_SHAPE(2, 3, 5), pw, 0, "pad with crop");

    cv_permute_params pm = { { 2, 0, 1 } };
    float pmw[24];
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++) pmw[(k * 2 + i) * 3 + j] = x[(i * 3 + j) * 4 + k];
    expect_op(CV_OP_PERMUTE, &pm, sizeof pm, &t, 1, CV_SHAPE(4, 2, 3), pmw, 0, "permute");
    cv_permute_params pbad = { { 0, 0, 1 } };
    expect_fail(CV_OP_PERMUTE, &pbad, sizeof pbad, &t, 1, CV_SHAPE(2, 2, 3), "perm");
    cv_reshape_params rs = { CV_SHAPE(6, 4) };
    expect_op(CV_OP_RESHAPE, &rs, sizeof rs, &t, 1, CV_SHAPE(6, 4), x, 0, "reshape");
    expect_fail(CV_OP_RESHAPE, &rs, sizeof rs, &t, 1, CV_SHAPE(5, 4), "element counts");
    ku_free(be, &in[0]);
    ku_free(be, &in[1]);
    ku_free(be, &t);
}
