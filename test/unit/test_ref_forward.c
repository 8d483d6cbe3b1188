/* test_ref_forward.c — the reference backend's compute ops (conv2d, matmul,
 * linear, batch / layer / group norm, every unary fn and the unary gradient at
 * PyTorch's kinks) on tiny inputs, against values computed by PyTorch.
 *
 * The expected arrays below were generated once with Debian's python3-torch
 * (1.13) from the same inputs: pat(n, salt)[i] = (((i*37 + salt*11) % 17) - 8) / 8
 * (exact in f32), e.g. conv_g2 = F.conv2d(pat(50,0).reshape(1,2,5,5),
 * pat(36,1).reshape(4,1,3,3), pat(4,2), stride=2, padding=1, groups=2).  The
 * generating call of each array is given next to the test that uses it.  The
 * tests do not need torch. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include "support/testhost.h"
#include "support/kernel_util.h"

static cv_ctx *ctx;
static ku_backend be;
static void setup(void) { ctx = th_ctx_new(); be = ku_backend_open(ctx, "ref"); }
static void teardown(void) { ku_backend_close(be); th_ctx_free(ctx); }
TestSuite(ref_forward, .init = setup, .fini = teardown);

static float *pat(int64_t n, int salt, float scale, float add) {
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = (float)((((i * 37 + salt * 11) % 17) - 8)) / 8.0f * scale + add;
    return x;
}

/* run op on inputs, compare output 0 (shape oshape) with want */
static void expect_op(int op, const void *p, size_t ps, const ku_tensor *in, int n_in, cv_shape oshape,
                      const float *want, double tol, const char *what) {
    ku_tensor y = ku_make(be, CV_F32, oshape, NULL);
    ku_run_ok(be, op, p, ps, in, n_in, &y, 1, 0);
    float *got = ku_get_new(be, &y);
    ku_assert_close(got, want, cv_shape_numel(&oshape), tol, tol, what);
    free(got);
    ku_free(be, &y);
}

static ku_tensor tpat(cv_shape s, int salt, float scale, float add) {
    float *v = pat(cv_shape_numel(&s), salt, scale, add);
    ku_tensor t = ku_make(be, CV_F32, s, v);
    free(v);
    return t;
}

static void free_all(ku_tensor *t, int n) {
    for (int i = 0; i < n; i++) ku_free(be, &t[i]);
}

/* ---- expected values (PyTorch 1.13) ------------------------------------------------ */
/* conv_g2 [1, 4, 3, 3] */
static const float conv_g2[] = {
    1.328125, -0.671875, -0.421875, 0.796875, -1.390625, -0.53125, -0.8125, -0.859375, -0.125,
    -0.859375, -0.453125, 0.625, -0.171875, 0.109375, 0.03125, -0.109375, 1.4375, -0.703125, 0.8125,
    0.1875, 1.5625, 1.5625, -0.59375, 1.59375, 1.3125, 0.109375, -0.015625, 0.609375, 0.859375, 1.9375,
    0.515625, 0.921875, 0.484375, -0.25, 0.46875, 0.59375
};
/* conv_dil [2, 2, 8, 3] */
static const float conv_dil[] = {
    -0.15625, 0.21875, -0.28125, -0.0625, 1.3125, -0.6875, -0.671875, 1.15625, 0.3125, -1.453125,
    -1.5625, 0.921875, 0.6875, -2.421875, 0.734375, 1.765625, -1.15625, 0.8125, -0.484375, -0.828125,
    -0.109375, 1.03125, 0.671875, -0.421875, -0.0625, 0.265625, -0.046875, -0.53125, 1.3125, -0.21875,
    1.578125, -1.234375, -0.609375, 2.0625, -2.453125, 1.53125, 1.75, -1.8125, 1.28125, 0.375, 0.953125,
    -1.625, -0.515625, 3.015625, -1.859375, -1.6875, 1.546875, -0.875, -0.0625, 1.3125, -0.6875,
    0.03125, 0.28125, -0.03125, -1.453125, -1.5625, 0.921875, 0.6875, -2.421875, 0.734375, 1.765625,
    -1.15625, 0.8125, -0.609375, -0.953125, -0.171875, 1.03125, 0.671875, -0.421875, 0.6875, 1.640625,
    0.0625, -0.53125, 1.3125, -0.21875, -0.203125, 0.234375, -0.125, 2.0625, -2.453125, 1.53125, 1.75,
    -1.8125, 1.28125, 0.375, 0.953125, -1.625, -0.734375, 2.65625, -1.875, -1.6875, 1.546875, -0.875,
    -1.0, -0.453125, 0.90625
};
/* matmul [2, 3, 2, 4] */
static const float matmul[] = {
    -1.15625, 0.75, -1.0625, 0.84375, -0.28125, -0.296875, -0.3125, -0.328125, 0.09375, 0.9375, 0.1875,
    1.03125, -0.078125, -0.359375, -0.109375, -0.390625, 0.28125, -1.0, 0.375, -0.90625, -0.140625,
    1.171875, -0.171875, 1.140625, -0.15625, -0.484375, -0.28125, -0.609375, -0.34375, -0.203125,
    -0.328125, -0.1875, 0.390625, -0.734375, 0.265625, -0.859375, -0.3125, -0.171875, -0.296875,
    -0.15625, 0.140625, 1.140625, 0.015625, 1.015625, -0.28125, 1.1875, -0.265625, 1.203125
};
/* linear [2, 2, 4] */
static const float linear[] = {
    0.65625, -1.265625, -0.53125, -0.328125, 1.40625, -1.765625, -0.15625, -1.203125, 0.5625, -1.203125,
    -0.578125, -0.21875, 1.3125, -1.703125, -0.203125, -1.09375
};
/* bn_y [2, 3, 2, 2] */
static const float bn_y[] = {
    0.44842142, 0.87221003, 1.2959987, -0.68168157, -0.76781094, 0.19644958, 1.1607101, 2.1249704,
    2.3570225, -2.2827978, -1.2885506, -0.29430336, 0.73094714, 1.1547358, 1.5785244, -0.39915583,
    -0.12497059, 0.8392899, 1.8035504, 2.7678108, -2.6142135, -1.6199663, -0.62571907, 0.36852813
};
/* bn_rm [3] */
static const float bn_rm[] = {
    -0.096874997, 0.23124999, 0.53281248
};
/* bn_rv [3] */
static const float bn_rv[] = {
    1.2878348, 0.921875, 0.59907925
};
/* bn_mean [3] */
static const float bn_mean[] = {
    0.15625, 0.0625, -0.296875
};
/* bn_rstd [3] */
static const float bn_rstd[] = {
    1.5068041, 2.2856545, 1.7675505
};
/* bn_eval [2, 3, 2, 2] */
static const float bn_eval[] = {
    0.70494998, 0.9447999, 1.1846498, 0.065350175, 0.015629932, 0.43750283, 0.85937572, 1.2812486,
    -0.27566218, -3.5960271, -2.8845203, -2.1730137, 0.86484993, 1.1046999, 1.3445498, 0.22525012,
    0.29687852, 0.71875143, 1.1406243, 1.5624973, -3.8331962, -3.1216893, -2.4101825, -1.6986758
};
/* ln_y [2, 3, 4] */
static const float ln_y[] = {
    -1.1748184, -0.45892251, -1.0541649, -0.73161036, 0.80593228, 0.73514527, -0.98863196, -0.11539945,
    -0.99909222, -0.51920116, 0.72989106, 0.81644064, -1.3137805, -0.82429308, -0.74187219, -0.2015014,
    0.29222637, 0.4509722, -1.0573319, -0.84770274, -0.61263192, 0.080388889, 0.29425833, 0.60565418
};
/* gn_y [2, 4, 3] */
static const float gn_y[] = {
    0.69676548, 0.4594515, 1.5669167, -0.75, -0.75, -0.75, -0.071765482, 0.1655485, -0.94191676,
    -0.65920556, -0.18457755, 0.29005042, 0.69676542, 0.45945144, 1.5669167, -0.75, -0.75, -0.75,
    0.13648891, -0.93763781, -0.70746779, -0.20459557, 0.25574446, 0.71608448
};
/* un_x [11] */
static const float un_x[] = {
    -4.0, -3.0, -2.5, -1.0, -0.25, 0.0, 0.5, 1.0, 2.9000001, 3.0, 6.5
};
/* un_relu [11] */
static const float un_relu[] = {
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 2.9000001, 3.0, 6.5
};
/* un_relu6 [11] */
static const float un_relu6[] = {
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 2.9000001, 3.0, 6.0
};
/* un_leaky [11] */
static const float un_leaky[] = {
    -0.40000001, -0.30000001, -0.25, -0.1, -0.025, 0.0, 0.5, 1.0, 2.9000001, 3.0, 6.5
};
/* un_gelu [11] */
static const float un_gelu[] = {
    -0.00012671947, -0.0040498674, -0.015524179, -0.15865529, -0.10032343, 0.0, 0.3457312, 0.84134471,
    2.8945889, 2.9959502, 6.5
};
/* un_gelu_tanh [11] */
static const float un_gelu_tanh[] = {
    -7.0214272e-05, -0.0036374331, -0.015084296, -0.15880799, -0.10032465, 0.0, 0.345714, 0.84119201,
    2.8950334, 2.9963627, 6.5
};
/* un_silu [11] */
static const float un_silu[] = {
    -0.07194484, -0.14227761, -0.18964545, -0.26894143, -0.10945588, 0.0, 0.31122968, 0.7310586,
    2.7487547, 2.8577225, 6.490242
};
/* un_hardswish [11] */
static const float un_hardswish[] = {
    -0.0, -0.0, -0.20833333, -0.33333334, -0.11458334, 0.0, 0.29166666, 0.66666669, 2.8516667, 3.0, 6.5
};
/* un_hardsigmoid [11] */
static const float un_hardsigmoid[] = {
    0.0, 0.0, 0.083333336, 0.33333334, 0.45833334, 0.5, 0.58333331, 0.66666669, 0.98333335, 1.0, 1.0
};
/* un_sigmoid [11] */
static const float un_sigmoid[] = {
    0.01798621, 0.047425874, 0.075858176, 0.26894143, 0.4378235, 0.5, 0.62245935, 0.7310586, 0.94784647,
    0.95257413, 0.9984988
};
/* un_tanh [11] */
static const float un_tanh[] = {
    -0.99932933, -0.99505478, -0.98661429, -0.76159418, -0.24491866, 0.0, 0.46211717, 0.76159418,
    0.99396318, 0.99505478, 0.99999547
};
/* un_exp [11] */
static const float un_exp[] = {
    0.018315639, 0.049787067, 0.082084998, 0.36787945, 0.77880079, 1.0, 1.6487212, 2.7182817, 18.174147,
    20.085537, 665.14166
};
/* un_xp [11] */
static const float un_xp[] = {
    4.5, 3.5, 3.0, 1.5, 0.75, 0.5, 1.0, 1.5, 3.4000001, 3.5, 7.0
};
/* un_log [11] */
static const float un_log[] = {
    1.5040774, 1.2527629, 1.0986123, 0.4054651, -0.28768209, -0.69314718, 0.0, 0.4054651, 1.2237755,
    1.2527629, 1.9459101
};
/* un_sqrt [11] */
static const float un_sqrt[] = {
    2.1213202, 1.8708287, 1.7320508, 1.2247449, 0.86602539, 0.70710677, 1.0, 1.2247449, 1.8439089,
    1.8708287, 2.6457512
};
/* un_rsqrt [11] */
static const float un_rsqrt[] = {
    0.47140455, 0.53452247, 0.57735026, 0.81649655, 1.1547005, 1.4142135, 1.0, 0.81649655, 0.54232615,
    0.53452247, 0.3779645
};
/* unb_relu [11] */
static const float unb_relu[] = {
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0
};
/* unb_relu6 [11] */
static const float unb_relu6[] = {
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0
};
/* unb_hardswish [11] */
static const float unb_hardswish[] = {
    0.0, -0.5, -0.33333331, 0.16666666, 0.41666666, 0.5, 0.66666669, 0.83333337, 1.4666667, 1.5, 1.0
};
/* unb_hardsigmoid [11] */
static const float unb_hardsigmoid[] = {
    0.0, 0.0, 0.16666667, 0.16666667, 0.16666667, 0.16666667, 0.16666667, 0.16666667, 0.16666667, 0.0,
    0.0
};
/* unb_gelu_tanh [11] */
static const float unb_gelu_tanh[] = {
    -0.00033497208, -0.011584297, -0.037951652, -0.082964092, 0.3046459, 0.5, 0.86736989, 1.0829641,
    1.0151255, 1.0115843, 1.0
};
/* unb_abs [11] */
static const float unb_abs[] = {
    -1.0, -1.0, -1.0, -1.0, -1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0
};

/* conv_g2: F.conv2d(x, w, b, stride=2, padding=1, groups=2) */
Test(ref_forward, conv2d_groups_stride_pad_bias) {
    ku_tensor in[3] = { tpat(CV_SHAPE(1, 2, 5, 5), 0, 1, 0), tpat(CV_SHAPE(4, 1, 3, 3), 1, 1, 0), tpat(CV_SHAPE(4), 2, 1, 0) };
    cv_conv_params p = { { 2, 2, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, 2 };
    expect_op(CV_OP_CONV2D, &p, sizeof p, in, 3, CV_SHAPE(1, 4, 3, 3), conv_g2, 1e-5, "conv2d groups=2");
    free_all(in, 3);
}

/* conv_dil: F.conv2d(pat(180,3).reshape(2,3,6,5), pat(36,4).reshape(2,3,2,3), None,
 *                    stride=(1,2), padding=(2,1), dilation=(2,1)) */
Test(ref_forward, conv2d_dilation_asymmetric) {
    ku_tensor in[2] = { tpat(CV_SHAPE(2, 3, 6, 5), 3, 1, 0), tpat(CV_SHAPE(2, 3, 2, 3), 4, 1, 0) };
    cv_conv_params p = { { 1, 2, 1 }, { 2, 1, 0 }, { 2, 1, 1 }, 1 };
    expect_op(CV_OP_CONV2D, &p, sizeof p, in, 2, CV_SHAPE(2, 2, 8, 3), conv_dil, 1e-5, "conv2d dilation");
    free_all(in, 2);
}

Test(ref_forward, conv2d_rejects_wrong_output_shape) {
    ku_tensor in[2] = { tpat(CV_SHAPE(1, 2, 5, 5), 0, 1, 0), tpat(CV_SHAPE(4, 1, 3, 3), 1, 1, 0) };
    ku_tensor y = ku_make(be, CV_F32, CV_SHAPE(1, 4, 5, 5), NULL);
    cv_conv_params p = { { 2, 2, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, 2 };
    cv_error err = { sizeof err, 0, "" };
    int st = ku_run(be, CV_OP_CONV2D, &p, sizeof p, in, 2, &y, 1, 0, &err);
    cr_assert_eq(st, CV_ERR_INVALID);
    cr_assert(strstr(err.message, "CONV2D") && strstr(err.message, "[1,4,5,5]"), "message: %s", err.message);
    free_all(in, 2);
    ku_free(be, &y);
}

/* matmul: torch.matmul(pat(12,5).reshape(2,1,3,2).transpose(-1,-2), pat(36,6).reshape(3,4,3).transpose(-1,-2)) */
Test(ref_forward, matmul_broadcast_batch_and_transpose) {
    ku_tensor in[2] = { tpat(CV_SHAPE(2, 1, 3, 2), 5, 1, 0), tpat(CV_SHAPE(3, 4, 3), 6, 1, 0) };
    cv_matmul_params p = { 1, 1 };
    expect_op(CV_OP_MATMUL, &p, sizeof p, in, 2, CV_SHAPE(2, 3, 2, 4), matmul, 1e-5, "matmul");
    free_all(in, 2);
}

/* linear: F.linear(pat(12,7).reshape(2,2,3), pat(12,8).reshape(4,3), pat(4,9)) */
Test(ref_forward, linear_with_bias) {
    ku_tensor in[3] = { tpat(CV_SHAPE(2, 2, 3), 7, 1, 0), tpat(CV_SHAPE(4, 3), 8, 1, 0), tpat(CV_SHAPE(4), 9, 1, 0) };
    expect_op(CV_OP_LINEAR, NULL, 0, in, 3, CV_SHAPE(2, 2, 4), linear, 1e-5, "linear");
    free_all(in, 3);
}

/* bn_*: x = pat(24,10).reshape(2,3,2,2), gamma = pat(3,11)+1.5, beta = pat(3,12),
 * running mean pat(3,13), running var |pat(3,14)|+0.5; F.batch_norm(training=True,
 * momentum=0.1, eps=1e-5) updates the running stats in place (bn_rm, bn_rv) */
static void bn_inputs(ku_tensor *in) {
    in[0] = tpat(CV_SHAPE(2, 3, 2, 2), 10, 1, 0);
    in[1] = tpat(CV_SHAPE(3), 11, 1, 1.5f);
    in[2] = tpat(CV_SHAPE(3), 12, 1, 0);
    in[3] = tpat(CV_SHAPE(3), 13, 1, 0);
    float *rv = pat(3, 14, 1, 0);
    for (int i = 0; i < 3; i++) rv[i] = fabsf(rv[i]) + 0.5f;
    in[4] = ku_make(be, CV_F32, CV_SHAPE(3), rv);
    free(rv);
}

Test(ref_forward, batch_norm_training_updates_running_stats) {
    ku_tensor in[5], out[3];
    bn_inputs(in);
    out[0] = ku_make(be, CV_F32, CV_SHAPE(2, 3, 2, 2), NULL);
    out[1] = ku_make(be, CV_F32, CV_SHAPE(3), NULL);
    out[2] = ku_make(be, CV_F32, CV_SHAPE(3), NULL);
    cv_norm_params p = { 1e-5f, 0.1f, 1, 0, 0 };
    ku_run_ok(be, CV_OP_BATCH_NORM, &p, sizeof p, in, 5, out, 3, 0);
    float y[24], m[3], rs[3], rm[3], rv[3];
    ku_get(be, &out[0], y); ku_get(be, &out[1], m); ku_get(be, &out[2], rs);
    ku_get(be, &in[3], rm); ku_get(be, &in[4], rv);
    ku_assert_close(y, bn_y, 24, 1e-5, 1e-5, "bn y");
    ku_assert_close(m, bn_mean, 3, 1e-6, 1e-6, "bn save_mean");
    ku_assert_close(rs, bn_rstd, 3, 1e-5, 1e-5, "bn save_rstd");
    ku_assert_close(rm, bn_rm, 3, 1e-6, 1e-6, "bn running mean");
    ku_assert_close(rv, bn_rv, 3, 1e-6, 1e-6, "bn running var (unbiased)");
    free_all(in, 5);
    free_all(out, 3);
}

Test(ref_forward, batch_norm_running_stats_into_outputs_3_4) {
    ku_tensor in[5], out[5];
    bn_inputs(in);
    out[0] = ku_make(be, CV_F32, CV_SHAPE(2, 3, 2, 2), NULL);
    for (int i = 1; i < 5; i++) out[i] = ku_make(be, CV_F32, CV_SHAPE(3), NULL);
    cv_norm_params p = { 1e-5f, 0.1f, 1, 0, 0 };
    ku_run_ok(be, CV_OP_BATCH_NORM, &p, sizeof p, in, 5, out, 5, 0);
    float rm[3], rv[3], old[3];
    ku_get(be, &out[3], rm); ku_get(be, &out[4], rv); ku_get(be, &in[3], old);
    ku_assert_close(rm, bn_rm, 3, 1e-6, 1e-6, "bn new running mean");
    ku_assert_close(rv, bn_rv, 3, 1e-6, 1e-6, "bn new running var");
    float *orig = pat(3, 13, 1, 0);
    ku_assert_close(old, orig, 3, 0, 0, "bn input running mean untouched");
    free(orig);
    free_all(in, 5);
    free_all(out, 5);
}

/* bn_eval: F.batch_norm(..., training=False, eps=1e-5) */
Test(ref_forward, batch_norm_eval_uses_running_stats) {
    ku_tensor in[5];
    bn_inputs(in);
    cv_norm_params p = { 1e-5f, 0.1f, 0, 0, 0 };
    expect_op(CV_OP_BATCH_NORM, &p, sizeof p, in, 5, CV_SHAPE(2, 3, 2, 2), bn_eval, 1e-5, "bn eval");
    free_all(in, 5);
}

Test(ref_forward, batch_norm_training_needs_two_values) {
    ku_tensor in[5];
    in[0] = tpat(CV_SHAPE(1, 3, 1, 1), 1, 1, 0);
    for (int i = 1; i < 5; i++) in[i] = tpat(CV_SHAPE(3), i, 1, 2);
    ku_tensor y = ku_make(be, CV_F32, CV_SHAPE(1, 3, 1, 1), NULL);
    cv_norm_params p = { 1e-5f, 0.1f, 1, 0, 0 };
    cv_error err = { sizeof err, 0, "" };
    cr_assert_eq(ku_run(be, CV_OP_BATCH_NORM, &p, sizeof p, in, 5, &y, 1, 0, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "BATCH_NORM"), "%s", err.message);
    free_all(in, 5);
    ku_free(be, &y);
}

/* ln_y: F.layer_norm(pat(24,15).reshape(2,3,4), (3,4), pat(12,16), pat(12,17), eps=1e-5) */
Test(ref_forward, layer_norm_last_two_dims) {
    ku_tensor in[3] = { tpat(CV_SHAPE(2, 3, 4), 15, 1, 0), tpat(CV_SHAPE(3, 4), 16, 1, 0), tpat(CV_SHAPE(3, 4), 17, 1, 0) };
    cv_norm_params p = { 1e-5f, 0, 0, 0, 2 };
    expect_op(CV_OP_LAYER_NORM, &p, sizeof p, in, 3, CV_SHAPE(2, 3, 4), ln_y, 1e-5, "layer norm");
    free_all(in, 3);
}

/* gn_y: F.group_norm(pat(24,18).reshape(2,4,3), 2, pat(4,19), pat(4,20), eps=1e-5) */
Test(ref_forward, group_norm_two_groups) {
    ku_tensor in[3] = { tpat(CV_SHAPE(2, 4, 3), 18, 1, 0), tpat(CV_SHAPE(4), 19, 1, 0), tpat(CV_SHAPE(4), 20, 1, 0) };
    cv_norm_params p = { 1e-5f, 0, 0, 2, 0 };
    expect_op(CV_OP_GROUP_NORM, &p, sizeof p, in, 3, CV_SHAPE(2, 4, 3), gn_y, 1e-5, "group norm");
    free_all(in, 3);
}

/* un_*: each function of torch / F on un_x (un_xp = |un_x| + 0.5 for log, sqrt, rsqrt);
 * leaky uses negative_slope 0.1, gelu_tanh approximate='tanh' */
static void expect_unary(int fn, float alpha, const float *x, const float *want, const char *what) {
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(11), x);
    cv_unary_params p = { fn, alpha };
    expect_op(CV_OP_UNARY, &p, sizeof p, &t, 1, CV_SHAPE(11), want, 1e-6, what);
    ku_free(be, &t);
}

Test(ref_forward, unary_all_functions) {
    expect_unary(CV_RELU, 0, un_x, un_relu, "relu");
    expect_unary(CV_RELU6, 0, un_x, un_relu6, "relu6");
    expect_unary(CV_LEAKY_RELU, 0.1f, un_x, un_leaky, "leaky relu");
    expect_unary(CV_GELU, 0, un_x, un_gelu, "gelu");
    expect_unary(CV_GELU_TANH, 0, un_x, un_gelu_tanh, "gelu tanh");
    expect_unary(CV_SILU, 0, un_x, un_silu, "silu");
    expect_unary(CV_HARDSWISH, 0, un_x, un_hardswish, "hardswish");
    expect_unary(CV_HARDSIGMOID, 0, un_x, un_hardsigmoid, "hardsigmoid");
    expect_unary(CV_SIGMOID, 0, un_x, un_sigmoid, "sigmoid");
    expect_unary(CV_TANH, 0, un_x, un_tanh, "tanh");
    expect_unary(CV_EXP, 0, un_x, un_exp, "exp");
    expect_unary(CV_LOG, 0, un_xp, un_log, "log");
    expect_unary(CV_SQRT, 0, un_xp, un_sqrt, "sqrt");
    expect_unary(CV_RSQRT, 0, un_xp, un_rsqrt, "rsqrt");
    float neg[11], absv[11], sq[11];
    for (int i = 0; i < 11; i++) { neg[i] = -un_x[i]; absv[i] = fabsf(un_x[i]); sq[i] = un_x[i] * un_x[i]; }
    expect_unary(CV_NEG, 0, un_x, neg, "neg");
    expect_unary(CV_ABS, 0, un_x, absv, "abs");
    expect_unary(CV_SQUARE, 0, un_x, sq, "square");
    expect_unary(CV_IDENTITY, 0, un_x, un_x, "identity");
}

Test(ref_forward, unary_propagates_nan) {
    float x[2] = { NAN, -1.0f };
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(2), x), y = ku_make(be, CV_F32, CV_SHAPE(2), NULL);
    int fns[] = { CV_RELU, CV_RELU6, CV_HARDSWISH, CV_GELU };
    for (int i = 0; i < 4; i++) {
        cv_unary_params p = { fns[i], 0 };
        ku_run_ok(be, CV_OP_UNARY, &p, sizeof p, &t, 1, &y, 1, 0);
        float got[2];
        ku_get(be, &y, got);
        cr_assert(isnan(got[0]), "fn %d of NaN gave %g", fns[i], got[0]);
    }
    ku_free(be, &t);
    ku_free(be, &y);
}

/* unb_*: x.grad of f(x).sum() by torch autograd at un_x (kinks -3, 0, 3, 6 included) */
static void expect_unary_bwd(int fn, const float *want, const char *what) {
    float ones[11];
    for (int i = 0; i < 11; i++) ones[i] = 1.0f;
    ku_tensor in[2] = { ku_make(be, CV_F32, CV_SHAPE(11), un_x), ku_make(be, CV_F32, CV_SHAPE(11), ones) };
    cv_unary_params p = { fn, 0 };
    expect_op(CV_OP_UNARY_BWD, &p, sizeof p, in, 2, CV_SHAPE(11), want, 1e-6, what);
    free_all(in, 2);
}

Test(ref_forward, unary_gradient_at_kinks_matches_torch) {
    expect_unary_bwd(CV_RELU, unb_relu, "relu'");
    expect_unary_bwd(CV_RELU6, unb_relu6, "relu6'");
    expect_unary_bwd(CV_HARDSWISH, unb_hardswish, "hardswish'");
    expect_unary_bwd(CV_HARDSIGMOID, unb_hardsigmoid, "hardsigmoid'");
    expect_unary_bwd(CV_GELU_TANH, unb_gelu_tanh, "gelu_tanh'");
    expect_unary_bwd(CV_ABS, unb_abs, "abs'");
}
