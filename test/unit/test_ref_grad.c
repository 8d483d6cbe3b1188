/* test_ref_grad.c — a finite-difference check of every backward kernel of the
 * reference backend against its forward kernel (ku_gradcheck, kernel_util.h),
 * on small random shapes with fresh random inputs (fixed seeds, never zeros).
 *
 * Bounds: central differences x +- eps of the f32 forward, evaluated in double
 * on L = sum r * y (r random in +-[0.1, 1.1]); an element passes when
 * |numeric - analytic| <= atol + rtol * max(|numeric|, |analytic|), with
 * eps = 1e-2, rtol = 1e-2, atol = 1e-3 unless a case says otherwise (f32
 * rounding of L ~1e-6 relative gives ~1e-4 of noise in the quotient; the
 * truncation error is O(eps^2)).  Inputs are kept at least 3*eps away from the
 * kinks of non-smooth functions (relu, hardswish, abs, max-pool ties, smooth L1
 * at |d| = beta), where a difference quotient is meaningless.
 *
 * Also checked here: the gradient compositions the engine uses for ops that
 * have no backward kind (matmul / linear through MATMUL with transpose flags,
 * BROADCAST_TO <-> SUM_TO, PERMUTE, SLICE <-> PAD, CONCAT <-> SLICE). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include "support/testhost.h"
#include "support/kernel_util.h"

static cv_ctx *ctx;
static ku_backend be;
static void setup(void) { ctx = th_ctx_new(); be = ku_backend_open(ctx, "ref"); }
static void teardown(void) { ku_backend_close(be); th_ctx_free(ctx); }
TestSuite(ref_grad, .init = setup, .fini = teardown);

/* a random f32 input of shape s, uniform in [lo, hi); freed by free_inputs */
static float *pool_of_arrays[64];
static int n_arrays;
static ku_spec rnd(uint64_t seed, cv_shape s, float lo, float hi) {
    ku_rng r = ku_rng_make(seed);
    float *v = ku_random(&r, cv_shape_numel(&s), lo, hi);
    pool_of_arrays[n_arrays++] = v;
    return (ku_spec){ CV_F32, s, v };
}
static ku_spec vals(int dtype, cv_shape s, const float *v) { return (ku_spec){ dtype, s, v }; }
static ku_spec outs(cv_shape s) { return (ku_spec){ CV_F32, s, NULL }; }
static void free_inputs(void) {
    while (n_arrays > 0) free(pool_of_arrays[--n_arrays]);
}

/* ---- convolution ------------------------------------------------------------------- */
static void conv_case(const char *name, cv_shape xs, cv_shape ws, cv_shape ys, cv_conv_params p, uint64_t seed) {
    ku_spec x = rnd(seed, xs, -1, 1), w = rnd(seed + 1, ws, -1, 1);
    ku_gradcheck data = { .name = name, .fwd_op = CV_OP_CONV2D, .fwd_params = &p, .fwd_params_size = sizeof p,
                          .n_in = 2, .in = { x, w }, .n_out = 1, .out = { outs(ys) },
                          .bwd_op = CV_OP_CONV2D_BWD_DATA, .bwd_params = &p, .bwd_params_size = sizeof p,
                          .n_bwd_in = 2, .bwd_in = { KU_DY, KU_IN(1) }, .n_bwd_out = 1, .grad_of = { 0 } };
    ku_gradcheck_assert(be, &data);
    ku_gradcheck weight = data;
    weight.bwd_op = CV_OP_CONV2D_BWD_WEIGHT;
    weight.bwd_in[1] = KU_IN(0);
    weight.grad_of[0] = 1;
    ku_gradcheck_assert(be, &weight);
    free_inputs();
}

Test(ref_grad, conv2d_data_and_weight) {
    conv_case("conv plain", CV_SHAPE(2, 3, 5, 4), CV_SHAPE(2, 3, 3, 3), CV_SHAPE(2, 2, 5, 4),
              (cv_conv_params){ { 1, 1, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, 1 }, 10);
    conv_case("conv groups stride dilation", CV_SHAPE(1, 4, 7, 6), CV_SHAPE(6, 2, 3, 2), CV_SHAPE(1, 6, 3, 3),
              (cv_conv_params){ { 2, 2, 1 }, { 1, 0, 0 }, { 2, 1, 1 }, 2 }, 20);
    conv_case("conv depthwise", CV_SHAPE(2, 3, 4, 4), CV_SHAPE(3, 1, 3, 3), CV_SHAPE(2, 3, 2, 2),
              (cv_conv_params){ { 2, 2, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, 3 }, 30);
}

/* ---- normalisation ------------------------------------------------------------------- */
static void norm_case(const char *name, int fwd, int bwd, cv_norm_params p, cv_shape xs, cv_shape cs, cv_shape ss,
                      uint64_t seed) {
    ku_gradcheck c = { .name = name, .fwd_op = fwd, .fwd_params = &p, .fwd_params_size = sizeof p,
                       .n_in = 3, .in = { rnd(seed, xs, -2, 2), rnd(seed + 1, cs, 0.5f, 1.5f), rnd(seed + 2, cs, -1, 1) },
                       .n_out = 3, .out = { outs(xs), outs(ss), outs(ss) },
                       .bwd_op = bwd, .bwd_params = &p, .bwd_params_size = sizeof p, .n_bwd_in = 5,
                       .bwd_in = { KU_IN(0), KU_DY, KU_IN(1), KU_OUT(1), KU_OUT(2) }, .n_bwd_out = 3,
                       .grad_of = { 0, 1, 2 } };
    if (fwd == CV_OP_BATCH_NORM) {
        c.n_in = 5;
        c.in[3] = rnd(seed + 3, cs, -0.5f, 0.5f);
        c.in[4] = rnd(seed + 4, cs, 0.5f, 2.0f);
    }
    ku_gradcheck_assert(be, &c);
    free_inputs();
}

Test(ref_grad, batch_norm_train_and_eval) {
    cv_norm_params train = { 1e-5f, 0.1f, 1, 0, 0 }, eval = { 1e-5f, 0.1f, 0, 0, 0 };
    norm_case("bn train", CV_OP_BATCH_NORM, CV_OP_BATCH_NORM_BWD, train, CV_SHAPE(3, 2, 2, 3), CV_SHAPE(2), CV_SHAPE(2), 40);
    norm_case("bn train 2d", CV_OP_BATCH_NORM, CV_OP_BATCH_NORM_BWD, train, CV_SHAPE(5, 3), CV_SHAPE(3), CV_SHAPE(3), 45);
    norm_case("bn eval", CV_OP_BATCH_NORM, CV_OP_BATCH_NORM_BWD, eval, CV_SHAPE(2, 3, 2, 2), CV_SHAPE(3), CV_SHAPE(3), 50);
}

Test(ref_grad, layer_norm_and_group_norm) {
    cv_norm_params ln = { 1e-5f, 0, 0, 0, 2 }, ln1 = { 1e-5f, 0, 0, 0, 1 }, gn = { 1e-5f, 0, 0, 2, 0 };
    norm_case("ln 2 axes", CV_OP_LAYER_NORM, CV_OP_LAYER_NORM_BWD, ln, CV_SHAPE(3, 2, 4), CV_SHAPE(2, 4), CV_SHAPE(3), 60);
    norm_case("ln 1 axis", CV_OP_LAYER_NORM, CV_OP_LAYER_NORM_BWD, ln1, CV_SHAPE(2, 3, 5), CV_SHAPE(5), CV_SHAPE(2, 3), 65);
    norm_case("gn", CV_OP_GROUP_NORM, CV_OP_GROUP_NORM_BWD, gn, CV_SHAPE(2, 4, 2, 3), CV_SHAPE(4), CV_SHAPE(2, 2), 70);
}

/* ---- unary ------------------------------------------------------------------------------ */
Test(ref_grad, unary_every_fn) {
    static const float kinks[] = { -3, 0, 3, 6 };
    for (int fn = CV_RELU; fn <= CV_IDENTITY; fn++) {
        int positive = fn == CV_LOG || fn == CV_SQRT || fn == CV_RSQRT;
        ku_spec x = rnd(80 + (uint64_t)fn, CV_SHAPE(3, 7), positive ? 0.3f : -7.0f, positive ? 3.0f : 7.0f);
        ku_keep_away((float *)x.values, 21, kinks, 4, 0.05f);
        cv_unary_params p = { fn, 0.15f };
        char name[32];
        snprintf(name, sizeof name, "unary fn %d", fn);
        ku_gradcheck c = { .name = name, .fwd_op = CV_OP_UNARY, .fwd_params = &p, .fwd_params_size = sizeof p,
                           .n_in = 1, .in = { x }, .n_out = 1, .out = { outs(x.shape) },
                           .bwd_op = CV_OP_UNARY_BWD, .bwd_params = &p, .bwd_params_size = sizeof p,
                           .n_bwd_in = 2, .bwd_in = { KU_IN(0), KU_DY }, .n_bwd_out = 1, .grad_of = { 0 },
                           .eps = fn == CV_EXP ? 1e-3 : 1e-2 };
        ku_gradcheck_assert(be, &c);
    }
    free_inputs();
}

/* ---- pooling and resampling ------------------------------------------------------------------ */
static void pool_case(const char *name, cv_pool_params p, cv_shape xs, cv_shape ys, uint64_t seed) {
    /* distinct values 0.1 apart in random order: no max-pool ties within 2*eps */
    int64_t n = cv_shape_numel(&xs);
    ku_spec x = rnd(seed, xs, 0, 1);
    float *v = (float *)x.values;
    ku_rng r = ku_rng_make(seed + 7);
    for (int64_t i = 0; i < n; i++) v[i] = (float)i * 0.1f - (float)n * 0.05f;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(ku_uniform(&r) * (double)(i + 1));
        float t = v[i]; v[i] = v[j]; v[j] = t;
    }
    ku_gradcheck c = { .name = name, .fwd_op = CV_OP_POOL2D, .fwd_params = &p, .fwd_params_size = sizeof p,
                       .n_in = 1, .in = { x }, .n_out = 1, .out = { outs(ys) },
                       .bwd_op = CV_OP_POOL2D_BWD, .bwd_params = &p, .bwd_params_size = sizeof p,
                       .n_bwd_in = 3, .bwd_in = { KU_IN(0), KU_OUT(0), KU_DY }, .n_bwd_out = 1, .grad_of = { 0 } };
    ku_gradcheck_assert(be, &c);
    free_inputs();
}

Test(ref_grad, pool2d_max_and_avg) {
    pool_case("max 3x3 s2 p1 ceil", (cv_pool_params){ CV_POOL_MAX, { 3, 3 }, { 2, 2 }, { 1, 1 }, 1, 1 },
              CV_SHAPE(2, 2, 6, 5), CV_SHAPE(2, 2, 4, 3), 90);
    pool_case("max 2x2 overlapping s1", (cv_pool_params){ CV_POOL_MAX, { 2, 2 }, { 1, 1 }, { 0, 0 }, 0, 1 },
              CV_SHAPE(1, 2, 4, 4), CV_SHAPE(1, 2, 3, 3), 91);
    pool_case("avg include pad ceil", (cv_pool_params){ CV_POOL_AVG, { 3, 3 }, { 2, 2 }, { 1, 1 }, 1, 1 },
              CV_SHAPE(2, 2, 6, 5), CV_SHAPE(2, 2, 4, 3), 92);
    pool_case("avg exclude pad", (cv_pool_params){ CV_POOL_AVG, { 3, 2 }, { 2, 1 }, { 1, 1 }, 0, 0 },
              CV_SHAPE(1, 3, 5, 4), CV_SHAPE(1, 3, 3, 5), 93);
}

static void resample_case(const char *name, int fwd, int bwd, cv_resize_params p, cv_shape xs, cv_shape ys, uint64_t seed) {
    ku_gradcheck c = { .name = name, .fwd_op = fwd, .fwd_params = &p, .fwd_params_size = sizeof p,
                       .n_in = 1, .in = { rnd(seed, xs, -1, 1) }, .n_out = 1, .out = { outs(ys) },
                       .bwd_op = bwd, .bwd_params = &p, .bwd_params_size = sizeof p,
                       .n_bwd_in = 1, .bwd_in = { KU_DY }, .n_bwd_out = 1, .grad_of = { 0 } };
    ku_gradcheck_assert(be, &c);
    free_inputs();
}

Test(ref_grad, adaptive_pool_and_resize) {
    resample_case("adaptive 7x5 -> 3x2", CV_OP_ADAPTIVE_AVG_POOL2D, CV_OP_ADAPTIVE_AVG_POOL2D_BWD,
                  (cv_resize_params){ 3, 2, 0, 0 }, CV_SHAPE(2, 2, 7, 5), CV_SHAPE(2, 2, 3, 2), 100);
    resample_case("bilinear up ac0", CV_OP_RESIZE, CV_OP_RESIZE_BWD, (cv_resize_params){ 5, 7, CV_RESIZE_BILINEAR, 0 },
                  CV_SHAPE(1, 2, 3, 4), CV_SHAPE(1, 2, 5, 7), 101);
    resample_case("bilinear up ac1", CV_OP_RESIZE, CV_OP_RESIZE_BWD, (cv_resize_params){ 5, 7, CV_RESIZE_BILINEAR, 1 },
                  CV_SHAPE(1, 2, 3, 4), CV_SHAPE(1, 2, 5, 7), 102);
    resample_case("bilinear down", CV_OP_RESIZE, CV_OP_RESIZE_BWD, (cv_resize_params){ 2, 3, CV_RESIZE_BILINEAR, 0 },
                  CV_SHAPE(2, 1, 5, 7), CV_SHAPE(2, 1, 2, 3), 103);
    resample_case("nearest", CV_OP_RESIZE, CV_OP_RESIZE_BWD, (cv_resize_params){ 5, 3, CV_RESIZE_NEAREST, 0 },
                  CV_SHAPE(1, 2, 3, 4), CV_SHAPE(1, 2, 5, 3), 104);
}

/* ---- softmax, dropout ---------------------------------------------------------------------------- */
Test(ref_grad, softmax_and_log_softmax) {
    for (int lg = 0; lg < 2; lg++)
        for (int axis = -1; axis <= 1; axis += 2) {
            cv_softmax_params p = { axis, lg };
            ku_gradcheck c = { .name = lg ? "log softmax" : "softmax", .fwd_op = CV_OP_SOFTMAX, .fwd_params = &p,
                               .fwd_params_size = sizeof p, .n_in = 1, .in = { rnd(110 + (uint64_t)(lg * 3 + axis), CV_SHAPE(2, 4, 3), -2, 2) },
                               .n_out = 1, .out = { outs(CV_SHAPE(2, 4, 3)) }, .bwd_op = CV_OP_SOFTMAX_BWD,
                               .bwd_params = &p, .bwd_params_size = sizeof p, .n_bwd_in = 2,
                               .bwd_in = { KU_OUT(0), KU_DY }, .n_bwd_out = 1, .grad_of = { 0 } };
            ku_gradcheck_assert(be, &c);
        }
    free_inputs();
}

Test(ref_grad, dropout_and_drop_path) {
    cv_dropout_params p = { 0.3f };
    ku_gradcheck c = { .name = "dropout", .fwd_op = CV_OP_DROPOUT, .fwd_params = &p, .fwd_params_size = sizeof p,
                       .seed = 77, .n_in = 1, .in = { rnd(120, CV_SHAPE(4, 6), -1, 1) }, .n_out = 2,
                       .out = { outs(CV_SHAPE(4, 6)), outs(CV_SHAPE(4, 6)) }, .bwd_op = CV_OP_DROPOUT_BWD,
                       .n_bwd_in = 2, .bwd_in = { KU_OUT(1), KU_DY }, .n_bwd_out = 1, .grad_of = { 0 } };
    ku_gradcheck_assert(be, &c);
    ku_gradcheck d = c;
    d.name = "drop path";
    d.fwd_op = CV_OP_DROP_PATH;
    d.in[0] = rnd(121, CV_SHAPE(8, 2, 3), -1, 1);
    d.out[0] = outs(CV_SHAPE(8, 2, 3));
    d.out[1] = outs(CV_SHAPE(8));
    ku_gradcheck_assert(be, &d);
    free_inputs();
}

/* ---- losses --------------------------------------------------------------------------------------- */
static void ce_case(const char *name, cv_ce_params p, ku_spec logits, ku_spec target, const ku_spec *weight) {
    ku_gradcheck c = { .name = name, .fwd_op = CV_OP_CROSS_ENTROPY, .fwd_params = &p, .fwd_params_size = sizeof p,
                       .n_in = 2, .in = { logits, target }, .n_out = 1, .out = { outs(CV_SHAPE(1)) },
                       .bwd_op = CV_OP_CROSS_ENTROPY_BWD, .bwd_params = &p, .bwd_params_size = sizeof p,
                       .n_bwd_in = 3, .bwd_in = { KU_IN(0), KU_IN(1), KU_DY }, .n_bwd_out = 1, .grad_of = { 0 } };
    if (weight) {
        c.n_in = 3;
        c.in[2] = *weight;
        c.n_bwd_in = 4;
        c.bwd_in[2] = KU_IN(2);
        c.bwd_in[3] = KU_DY;
    }
    ku_gradcheck_assert(be, &c);
}

Test(ref_grad, cross_entropy_all_variants) {
    static const float labels[5] = { 2, 0, -100, 3, 1 }, seg[8] = { 0, 2, 255, 1, 1, 1, 2, 255 };
    ku_spec lg = rnd(130, CV_SHAPE(5, 4), -2, 2), w = rnd(131, CV_SHAPE(4), 0.3f, 1.5f);
    ku_spec t = vals(CV_I32, CV_SHAPE(5), labels);
    ce_case("ce plain", (cv_ce_params){ 0.0f, -100 }, lg, t, NULL);
    ce_case("ce smoothing", (cv_ce_params){ 0.1f, -100 }, lg, t, NULL);
    ce_case("ce weights smoothing", (cv_ce_params){ 0.2f, -100 }, lg, t, &w);
    ku_spec lg4 = rnd(132, CV_SHAPE(2, 3, 2, 2), -2, 2), w3 = rnd(133, CV_SHAPE(3), 0.3f, 1.5f);
    ce_case("ce segmentation", (cv_ce_params){ 0.1f, 255 }, lg4, vals(CV_I32, CV_SHAPE(2, 2, 2), seg), &w3);
    ku_spec soft = rnd(134, CV_SHAPE(5, 4), 0.05f, 1);
    ce_case("ce soft", (cv_ce_params){ 0.1f, -100 }, lg, soft, NULL);
    ce_case("ce soft weighted", (cv_ce_params){ 0.0f, -100 }, lg, soft, &w);
    free_inputs();
}

Test(ref_grad, bce_and_smooth_l1) {
    ku_spec x = rnd(140, CV_SHAPE(3, 4), -4, 4), t = rnd(141, CV_SHAPE(3, 4), 0, 1);
    ku_gradcheck c = { .name = "bce", .fwd_op = CV_OP_BCE_LOGITS, .n_in = 2, .in = { x, t }, .n_out = 1,
                       .out = { outs(CV_SHAPE(1)) }, .bwd_op = CV_OP_BCE_LOGITS_BWD, .n_bwd_in = 3,
                       .bwd_in = { KU_IN(0), KU_IN(1), KU_DY }, .n_bwd_out = 1, .grad_of = { 0 } };
    ku_gradcheck_assert(be, &c);
    /* smooth L1: keep |pred - target| away from beta and from 0 */
    cv_smooth_l1_params p = { 0.5f };
    ku_spec pred = rnd(142, CV_SHAPE(3, 4), -2, 2);
    float *pv = (float *)pred.values;
    for (int i = 0; i < 12; i++) {
        float d = pv[i] - t.values[i];
        float kinks[3] = { -0.5f, 0.0f, 0.5f };
        ku_keep_away(&d, 1, kinks, 3, 0.05f);
        pv[i] = t.values[i] + d;
    }
    ku_gradcheck s = c;
    s.name = "smooth l1";
    s.fwd_op = CV_OP_SMOOTH_L1;
    s.fwd_params = &p;
    s.fwd_params_size = sizeof p;
    s.in[0] = pred;
    s.bwd_op = CV_OP_SMOOTH_L1_BWD;
    s.bwd_params = &p;
    s.bwd_params_size = sizeof p;
    ku_gradcheck_assert(be, &s);
    free_inputs();
}

Test(ref_grad, embedding) {
    static const float idx[6] = { 1, 3, 1, 0, 4, 1 };
    ku_gradcheck c = { .name = "embedding", .fwd_op = CV_OP_EMBEDDING, .n_in = 2,
                       .in = { rnd(150, CV_SHAPE(5, 3), -1, 1), vals(CV_I32, CV_SHAPE(2, 3), idx) }, .n_out = 1,
                       .out = { outs(CV_SHAPE(2, 3, 3)) }, .bwd_op = CV_OP_EMBEDDING_BWD, .n_bwd_in = 2,
                       .bwd_in = { KU_IN(1), KU_DY }, .n_bwd_out = 1, .grad_of = { 0 } };
    ku_gradcheck_assert(be, &c);
    free_inputs();
}

/* ---- compositions the engine uses for ops without a backward kind ---------------------------------- */
Test(ref_grad, matmul_and_linear_through_matmul) {
    /* y = a b: da = dy b^T, db = a^T dy */
    cv_matmul_params nn = { 0, 0 }, nt = { 0, 1 }, tn = { 1, 0 };
    ku_gradcheck c = { .name = "matmul da", .fwd_op = CV_OP_MATMUL, .fwd_params = &nn, .fwd_params_size = sizeof nn,
                       .n_in = 2, .in = { rnd(160, CV_SHAPE(2, 3, 4), -1, 1), rnd(161, CV_SHAPE(2, 4, 5), -1, 1) },
                       .n_out = 1, .out = { outs(CV_SHAPE(2, 3, 5)) }, .bwd_op = CV_OP_MATMUL, .bwd_params = &nt,
                       .bwd_params_size = sizeof nt, .n_bwd_in = 2, .bwd_in = { KU_DY, KU_IN(1) }, .n_bwd_out = 1,
                       .grad_of = { 0 } };
    ku_gradcheck_assert(be, &c);
    ku_gradcheck d = c;
    d.name = "matmul db";
    d.bwd_params = &tn;
    d.bwd_in[0] = KU_IN(0);
    d.bwd_in[1] = KU_DY;
    d.grad_of[0] = 1;
    ku_gradcheck_assert(be, &d);
    /* y = x W^T + b: dx = dy W, dW = dy^T x */
    ku_gradcheck l = { .name = "linear dx", .fwd_op = CV_OP_LINEAR, .n_in = 3,
                       .in = { rnd(162, CV_SHAPE(4, 3), -1, 1), rnd(163, CV_SHAPE(5, 3), -1, 1), rnd(164, CV_SHAPE(5), -1, 1) },
                       .n_out = 1, .out = { outs(CV_SHAPE(4, 5)) }, .bwd_op = CV_OP_MATMUL, .bwd_params = &nn,
                       .bwd_params_size = sizeof nn, .n_bwd_in = 2, .bwd_in = { KU_DY, KU_IN(1) }, .n_bwd_out = 1,
                       .grad_of = { 0 } };
    ku_gradcheck_assert(be, &l);
    ku_gradcheck lw = l;
    lw.name = "linear dW";
    lw.bwd_params = &tn;
    lw.bwd_in[1] = KU_IN(0);
    lw.grad_of[0] = 1;
    ku_gradcheck_assert(be, &lw);
    /* db = sum of dy over rows = SUM_TO [5] */
    ku_gradcheck lb = l;
    lb.name = "linear db";
    lb.bwd_op = CV_OP_SUM_TO;
    lb.bwd_params = NULL;
    lb.bwd_params_size = 0;
    lb.n_bwd_in = 1;
    lb.bwd_in[0] = KU_DY;
    lb.grad_of[0] = 2;
    ku_gradcheck_assert(be, &lb);
    free_inputs();
}

Test(ref_grad, shape_op_adjoints) {
    /* broadcast_to <-> sum_to */
    ku_gradcheck b = { .name = "broadcast_to", .fwd_op = CV_OP_BROADCAST_TO, .n_in = 1,
                       .in = { rnd(170, CV_SHAPE(3, 1), -1, 1) }, .n_out = 1, .out = { outs(CV_SHAPE(2, 3, 4)) },
                       .bwd_op = CV_OP_SUM_TO, .n_bwd_in = 1, .bwd_in = { KU_DY }, .n_bwd_out = 1, .grad_of = { 0 } };
    ku_gradcheck_assert(be, &b);
    /* permute <-> inverse permute */
    cv_permute_params fw = { { 2, 0, 1 } }, inv = { { 1, 2, 0 } };
    ku_gradcheck pm = { .name = "permute", .fwd_op = CV_OP_PERMUTE, .fwd_params = &fw, .fwd_params_size = sizeof fw,
                        .n_in = 1, .in = { rnd(171, CV_SHAPE(2, 3, 4), -1, 1) }, .n_out = 1, .out = { outs(CV_SHAPE(4, 2, 3)) },
                        .bwd_op = CV_OP_PERMUTE, .bwd_params = &inv, .bwd_params_size = sizeof inv, .n_bwd_in = 1,
                        .bwd_in = { KU_DY }, .n_bwd_out = 1, .grad_of = { 0 } };
    ku_gradcheck_assert(be, &pm);
    /* slice <-> pad with zeros; pad (with crop) <-> pad by the negated amounts */
    cv_slice_params sl = { 1, 0, 1, 2 };
    cv_pad_params back = { { 0, 1, 0 }, { 0, 1, 0 }, 0.0f };
    ku_gradcheck s = { .name = "slice", .fwd_op = CV_OP_SLICE, .fwd_params = &sl, .fwd_params_size = sizeof sl,
                       .n_in = 1, .in = { rnd(172, CV_SHAPE(2, 4, 3), -1, 1) }, .n_out = 1, .out = { outs(CV_SHAPE(2, 2, 3)) },
                       .bwd_op = CV_OP_PAD, .bwd_params = &back, .bwd_params_size = sizeof back, .n_bwd_in = 1,
                       .bwd_in = { KU_DY }, .n_bwd_out = 1, .grad_of = { 0 } };
    ku_gradcheck_assert(be, &s);
    cv_pad_params pd = { { 0, 2, -1 }, { 0, -1, 1 }, 3.0f }, un = { { 0, -2, 1 }, { 0, 1, -1 }, 0.0f };
    ku_gradcheck p = { .name = "pad", .fwd_op = CV_OP_PAD, .fwd_params = &pd, .fwd_params_size = sizeof pd,
                       .n_in = 1, .in = { rnd(173, CV_SHAPE(2, 3, 4), -1, 1) }, .n_out = 1, .out = { outs(CV_SHAPE(2, 4, 4)) },
                       .bwd_op = CV_OP_PAD, .bwd_params = &un, .bwd_params_size = sizeof un, .n_bwd_in = 1,
                       .bwd_in = { KU_DY }, .n_bwd_out = 1, .grad_of = { 0 } };
    ku_gradcheck_assert(be, &p);
    /* concat -> slice of dy for the second input */
    cv_axis_params ax = { 1 };
    cv_slice_params tail = { 1, 0, 2, 3 };
    ku_gradcheck cc = { .name = "concat", .fwd_op = CV_OP_CONCAT, .fwd_params = &ax, .fwd_params_size = sizeof ax,
                        .n_in = 2, .in = { rnd(174, CV_SHAPE(2, 2, 2), -1, 1), rnd(175, CV_SHAPE(2, 3, 2), -1, 1) },
                        .n_out = 1, .out = { outs(CV_SHAPE(2, 5, 2)) }, .bwd_op = CV_OP_SLICE, .bwd_params = &tail,
                        .bwd_params_size = sizeof tail, .n_bwd_in = 1, .bwd_in = { KU_DY }, .n_bwd_out = 1,
                        .grad_of = { 1 } };
    ku_gradcheck_assert(be, &cc);
    free_inputs();
}

/* the checker itself must notice a wrong backward kernel (here tanh' used for sigmoid) */
Test(ref_grad, checker_detects_a_wrong_gradient) {
    cv_unary_params fwd = { CV_SIGMOID, 0 }, wrong = { CV_TANH, 0 };
    ku_gradcheck c = { .name = "wrong", .fwd_op = CV_OP_UNARY, .fwd_params = &fwd, .fwd_params_size = sizeof fwd,
                       .n_in = 1, .in = { rnd(180, CV_SHAPE(10), -2, 2) }, .n_out = 1, .out = { outs(CV_SHAPE(10)) },
                       .bwd_op = CV_OP_UNARY_BWD, .bwd_params = &wrong, .bwd_params_size = sizeof wrong,
                       .n_bwd_in = 2, .bwd_in = { KU_IN(0), KU_DY }, .n_bwd_out = 1, .grad_of = { 0 } };
    ku_gradcheck_result res;
    cv_error err = { sizeof err, 0, "" };
    cr_assert_eq(ku_gradcheck_run(be, &c, &res, &err), CV_OK, "%s", err.message);
    cr_assert_eq(res.checked, 10);
    cr_assert(res.failed > 0, "a wrong gradient passed: worst %s", res.worst);
    free_inputs();
}
