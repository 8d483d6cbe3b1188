/* test/support/kcase_ops.c — the op cases (and their bounds) that the CPU backend
 * (test_cpu_vs_ref.c) and the CUDA backend (test_cuda.c) both must pass against
 * the reference; see kcase_ops.h. */
#include "kcase_ops.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASE(...) KC_CASE(b, __VA_ARGS__)
#define P(x) KC_P(x)

static const float pos_var[6] = { 0.5f, 1.5f, 0.8f, 2.0f, 1.1f, 0.3f };

int64_t kc_pool_out(int64_t in, int k, int s, int p, int ceil_mode) {
    int64_t num = in + 2 * p - k + (ceil_mode ? s - 1 : 0), out = num / s + 1;
    if (ceil_mode && (out - 1) * s >= in + p) out--;
    return out;
}

void kc_pool_bwd_true_y(const kc_bench *b, const char *name, const cv_pool_params *p, cv_shape xs, cv_shape ys,
                        double rtol, double atol) {
    float *xv = ku_random(b->rng, cv_shape_numel(&xs), -2, 2);
    for (int64_t i = 0; i < cv_shape_numel(&xs); i++)
        if (i % 3 == 0) xv[i] = (float)(int)(xv[i] * 2) / 2; /* ties */
    ku_tensor tx = ku_make(b->ref, CV_F32, xs, xv), ty = ku_make(b->ref, CV_F32, ys, NULL);
    ku_run_ok(b->ref, CV_OP_POOL2D, p, sizeof *p, &tx, 1, &ty, 1, 0);
    float *yv = ku_get_new(b->ref, &ty);
    opd x = { CV_F32, xs, xv }, y = { CV_F32, ys, yv };
    CASE(.name = name, .op = CV_OP_POOL2D_BWD, .p = p, .ps = sizeof *p, .n_in = 3,
         .in = { x, y, { CV_F32, ys, NULL } }, .n_out = 1, .out = { { CV_F32, xs, NULL } }, .rtol = rtol, .atol = atol);
    ku_free(b->ref, &tx);
    ku_free(b->ref, &ty);
    free(xv);
    free(yv);
}

static void pool_cases(const kc_bench *b, int64_t N, int64_t C, int64_t H, int64_t W, int k, int s, int pad) {
    for (int fn = 0; fn < 2; fn++)
        for (int ceil_mode = 0; ceil_mode < 2; ceil_mode++)
            for (int incl = 0; incl < 2; incl++) {
                cv_pool_params p = { fn, { k, k }, { s, s }, { pad, pad }, ceil_mode, incl };
                opd x = F32(N, C, H, W), y = F32(N, C, kc_pool_out(H, k, s, pad, ceil_mode), kc_pool_out(W, k, s, pad, ceil_mode));
                char name[96];
                snprintf(name, sizeof name, "pool fn %d k%d s%d p%d ceil %d incl %d", fn, k, s, pad, ceil_mode, incl);
                CASE(.name = name, .op = CV_OP_POOL2D, .p = P(p), .n_in = 1, .in = { x }, .n_out = 1, .out = { y },
                     .rtol = 1e-5, .atol = 1e-6);
                kc_pool_bwd_true_y(b, name, &p, x.shape, y.shape, 1e-5, 1e-6);
            }
}

void kc_ops_matmul(const kc_bench *b) {
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

void kc_ops_batch_norm(const kc_bench *b) {
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

void kc_ops_layer_norm(const kc_bench *b) {
    cv_norm_params p1 = { 1e-5f, 0, 0, 0, 1 }, p2 = { 1e-5f, 0, 0, 0, 2 };
    kc_norm_pair(b, "layer norm axes 1", CV_OP_LAYER_NORM, CV_OP_LAYER_NORM_BWD, &p1, F32(3, 4, 10), F32(10), 1, 12);
    kc_norm_pair(b, "layer norm axes 2", CV_OP_LAYER_NORM, CV_OP_LAYER_NORM_BWD, &p2, F32(3, 4, 10), F32(4, 10), 1, 3);
    kc_norm_pair(b, "layer norm no affine", CV_OP_LAYER_NORM, CV_OP_LAYER_NORM_BWD, &p1, F32(7, 33), F32(33), 0, 7);
}

void kc_ops_group_norm(const kc_bench *b) {
    cv_norm_params g3 = { 1e-5f, 0, 0, 3, 0 }, g1 = { 1e-5f, 0, 0, 1, 0 }, g6 = { 1e-5f, 0, 0, 6, 0 };
    kc_norm_pair(b, "group norm 3", CV_OP_GROUP_NORM, CV_OP_GROUP_NORM_BWD, &g3, F32(2, 6, 4, 5), F32(6), 1, 6);
    kc_norm_pair(b, "group norm 1", CV_OP_GROUP_NORM, CV_OP_GROUP_NORM_BWD, &g1, F32(2, 6, 3, 3), F32(6), 1, 2);
    kc_norm_pair(b, "group norm 6 no affine", CV_OP_GROUP_NORM, CV_OP_GROUP_NORM_BWD, &g6, F32(3, 6, 7), F32(6), 0, 18);
}

void kc_ops_unary_and_grad(const kc_bench *b) {
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

void kc_ops_binary_broadcast(const kc_bench *b) {
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

void kc_ops_scalar(const kc_bench *b) {
    for (int fn = CV_S_ADD; fn <= CV_S_CLAMP_MAX; fn++) {
        cv_scalar_params p = { fn, fn == CV_S_POW ? 1.7f : 0.3f };
        CASE(.name = "scalar", .op = CV_OP_SCALAR, .p = P(p), .n_in = 1, .in = { F32(6, 7, 5) }, .n_out = 1,
             .out = { F32(6, 7, 5) }, .rtol = 1e-5, .atol = 1e-6, .lo = fn == CV_S_POW ? 0.1f : -2, .hi = 2);
    }
}

void kc_ops_reduce_and_sum_to(const kc_bench *b) {
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

void kc_ops_softmax(const kc_bench *b) {
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

void kc_ops_pool2d(const kc_bench *b) {
    pool_cases(b, 2, 3, 9, 10, 3, 2, 1);   /* ResNet stem pool on odd sizes: ceil mode adds a window */
    pool_cases(b, 1, 4, 8, 8, 2, 2, 0);
    pool_cases(b, 2, 2, 7, 6, 3, 1, 1);
    pool_cases(b, 1, 3, 12, 11, 5, 3, 2);
}

void kc_ops_adaptive_avg_pool(const kc_bench *b) {
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

void kc_ops_resize(const kc_bench *b) {
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

void kc_ops_shape_ops(const kc_bench *b) {
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

void kc_ops_dropout(const kc_bench *b) {
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

void kc_ops_cross_entropy(const kc_bench *b) {
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

void kc_ops_bce_and_smooth_l1(const kc_bench *b) {
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

void kc_ops_embedding(const kc_bench *b) {
    static const float idx[6] = { 3, 0, 9, 3, 5, 3 };
    opd w = F32(10, 7), ix = OPD(CV_I32, idx, 2, 3), y = F32(2, 3, 7);
    CASE(.name = "embedding", .op = CV_OP_EMBEDDING, .n_in = 2, .in = { w, ix }, .n_out = 1, .out = { y }, .rtol = 0,
         .atol = 0);
    CASE(.name = "embedding bwd", .op = CV_OP_EMBEDDING_BWD, .n_in = 2, .in = { ix, y }, .n_out = 1, .out = { w },
         .rtol = 1e-6, .atol = 1e-6);
}

void kc_ops_updates(const kc_bench *b) {
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
