/* test_ref_updates.c — the reference backend's in-place optimizer updates over
 * three steps against torch.optim (SGD with momentum / nesterov / weight decay,
 * Adam, AdamW, RMSprop), LAMB and the documented variants against hand
 * computation, and the buffer ops SUMSQ, AXPBY, FILL, NONFINITE.
 *
 * The torch.optim arrays were generated once with Debian's python3-torch 1.13:
 * p = Parameter(pat(6,30)); for k in 0..2: p.grad = pat(6,31+k); opt.step(), with
 * pat(n, salt)[i] = (((i*37 + salt*11) % 17) - 8) / 8 and the optimizer
 * arguments given at each test; the optimizer state is opt.state[p]. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include "support/testhost.h"
#include "support/kernel_util.h"

static cv_ctx *ctx;
static ku_backend be;
static void setup(void) { ctx = th_ctx_new(); be = ku_backend_open(ctx, "ref"); }
static void teardown(void) { ku_backend_close(be); th_ctx_free(ctx); }
TestSuite(ref_updates, .init = setup, .fini = teardown);

static void pat(float *x, int salt) {
    for (int i = 0; i < 6; i++) x[i] = (float)((((i * 37 + salt * 11) % 17) - 8)) / 8.0f;
}

/* Three steps of op on param (pat 30) with n_state zeroed state slots; params_at
 * gives the params of step k (1-based).  out[0] = param, out[1..] = state. */
typedef const void *(*params_fn)(int step, void *buf);
static void three_steps(int op, params_fn params_at, size_t ps, int n_state, float out[][6]) {
    float p0[6], g[6];
    pat(p0, 30);
    ku_tensor t[4];
    t[0] = ku_make(be, CV_F32, CV_SHAPE(6), p0);
    for (int s = 1; s <= n_state; s++) t[s] = ku_make(be, CV_F32, CV_SHAPE(6), NULL);
    unsigned char buf[64];
    for (int k = 0; k < 3; k++) {
        pat(g, 31 + k);
        ku_tensor grad = ku_make(be, CV_F32, CV_SHAPE(6), g);
        ku_run_ok(be, op, params_at(k + 1, buf), ps, &grad, 1, t, 1 + n_state, 0);
        ku_free(be, &grad);
    }
    for (int s = 0; s <= n_state; s++) {
        ku_get(be, &t[s], out[s]);
        ku_free(be, &t[s]);
    }
}

/* ---- expected values (torch.optim, PyTorch 1.13) ------------------------------------ */
static const float sgd_mom_p[6] = { 0.0425432436, 0.205246255, 0.771486759, 0.934189737, -0.803696156, -0.640993178 };
static const float sgd_mom_momentum_buffer[6] = { -0.510183632, 0.514789999, -0.37061137, 0.654362202, -0.503170907, 0.521802664 };
static const float sgd_nest_p[6] = { 0.0893118978, 0.150113896, 0.782955289, 0.843757331, -0.731907129, -0.671105087 };
static const float sgd_nest_momentum_buffer[6] = { -0.510981977, 0.543673515, -0.293983459, 0.760672092, -0.594262004, 0.460393488 };
static const float sgd_plain_p[6] = { -0.0625, 0.200000003, 0.674999952, 0.9375, -0.712500036, -0.449999988 };
static const float adam_p[6] = { -0.109404564, 0.252960712, 0.644312143, 0.986056507, -0.759824574, -0.39561525 };
static const float adam_exp_avg[6] = { -0.054049667, 0.0576804541, -0.0216683391, 0.0896720216, -0.0686774403, 0.0430659018 };
static const float adam_exp_avg_sq[6] = { 0.0107649071, 0.0104751494, 0.0097420048, 0.0122816535, 0.0124159055, 0.0124311736 };
static const float adamw_p[6] = { -0.109379515, 0.252901196, 0.643838286, 0.986825585, -0.760011375, -0.395163685 };
static const float adamw_exp_avg[6] = { -0.0508750007, 0.0507500023, -0.0388750024, 0.0627499968, -0.0481250025, 0.0534999929 };
static const float adamw_exp_avg_sq[6] = { 0.0106038908, 0.0101861879, 0.0102328286, 0.0107438127, 0.0116394525, 0.0129197501 };
static const float rms_p[6] = { -0.0858158171, 0.25896579, 0.709045827, 0.959619284, -0.76728785, -0.426702201 };
static const float rms_square_avg[6] = { 0.0910468102, 0.0913426653, 0.0943057984, 0.106728941, 0.111271605, 0.110922284 };
static const float rms_momentum_buffer[6] = { -0.810496449, 1.03520346, -0.663929462, 2.12416124, -2.24737835, -0.342360973 };

static const void *sgd_mom_params(int step, void *buf) {
    (void)step;
    cv_sgd_params p = { 0.1f, 0.9f, 0.0f, 0.01f, 0 };
    return memcpy(buf, &p, sizeof p);
}
static const void *sgd_nest_params(int step, void *buf) {
    (void)step;
    cv_sgd_params p = { 0.1f, 0.9f, 0.0f, 0.05f, 1 };
    return memcpy(buf, &p, sizeof p);
}
static const void *sgd_plain_params(int step, void *buf) {
    (void)step;
    cv_sgd_params p = { 0.1f, 0.0f, 0.0f, 0.0f, 0 };
    return memcpy(buf, &p, sizeof p);
}

/* SGD(lr=0.1, momentum=0.9, weight_decay=0.01); SGD(lr=0.1, momentum=0.9, nesterov=True,
 * weight_decay=0.05); SGD(lr=0.1) (no momentum slot) */
Test(ref_updates, sgd_matches_torch) {
    float o[2][6];
    three_steps(CV_OP_SGD_UPDATE, sgd_mom_params, sizeof(cv_sgd_params), 1, o);
    ku_assert_close(o[0], sgd_mom_p, 6, 1e-6, 1e-6, "sgd momentum param");
    ku_assert_close(o[1], sgd_mom_momentum_buffer, 6, 1e-6, 1e-6, "sgd momentum buffer");
    three_steps(CV_OP_SGD_UPDATE, sgd_nest_params, sizeof(cv_sgd_params), 1, o);
    ku_assert_close(o[0], sgd_nest_p, 6, 1e-6, 1e-6, "sgd nesterov param");
    ku_assert_close(o[1], sgd_nest_momentum_buffer, 6, 1e-6, 1e-6, "sgd nesterov buffer");
    three_steps(CV_OP_SGD_UPDATE, sgd_plain_params, sizeof(cv_sgd_params), 0, o);
    ku_assert_close(o[0], sgd_plain_p, 6, 1e-6, 1e-6, "plain sgd");
}

static const void *sgd_damp_params(int step, void *buf) {
    (void)step;
    cv_sgd_params p = { 0.1f, 0.9f, 0.3f, 0.0f, 0 };
    return memcpy(buf, &p, sizeof p);
}

/* documented: the buffer starts at zero, so with dampening d it is (1-d) g after
 * step 1 (torch.optim sets it to g); by hand: b <- 0.9 b + 0.7 g, p <- p - 0.1 b */
Test(ref_updates, sgd_dampening_by_hand) {
    float o[2][6], p[6], b[6] = { 0 }, g[6];
    three_steps(CV_OP_SGD_UPDATE, sgd_damp_params, sizeof(cv_sgd_params), 1, o);
    pat(p, 30);
    for (int k = 0; k < 3; k++) {
        pat(g, 31 + k);
        for (int i = 0; i < 6; i++) {
            b[i] = 0.9f * b[i] + 0.7f * g[i];
            p[i] -= 0.1f * b[i];
        }
    }
    ku_assert_close(o[0], p, 6, 1e-6, 1e-6, "dampened param");
    ku_assert_close(o[1], b, 6, 1e-6, 1e-6, "dampened buffer");
}

static const void *adam_params(int step, void *buf) {
    cv_adam_params p = { 0.01f, 0.9f, 0.99f, 1e-8f, 0.1f, 0, step };
    return memcpy(buf, &p, sizeof p);
}
static const void *adamw_params(int step, void *buf) {
    cv_adam_params p = { 0.01f, 0.9f, 0.99f, 1e-8f, 0.1f, 1, step };
    return memcpy(buf, &p, sizeof p);
}

/* Adam / AdamW(lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1) */
Test(ref_updates, adam_and_adamw_match_torch) {
    float o[3][6];
    three_steps(CV_OP_ADAM_UPDATE, adam_params, sizeof(cv_adam_params), 2, o);
    ku_assert_close(o[0], adam_p, 6, 1e-5, 1e-6, "adam param");
    ku_assert_close(o[1], adam_exp_avg, 6, 1e-5, 1e-7, "adam m");
    ku_assert_close(o[2], adam_exp_avg_sq, 6, 1e-5, 1e-8, "adam v");
    three_steps(CV_OP_ADAM_UPDATE, adamw_params, sizeof(cv_adam_params), 2, o);
    ku_assert_close(o[0], adamw_p, 6, 1e-5, 1e-6, "adamw param");
    ku_assert_close(o[1], adamw_exp_avg, 6, 1e-5, 1e-7, "adamw m");
    ku_assert_close(o[2], adamw_exp_avg_sq, 6, 1e-5, 1e-8, "adamw v");
}

static const void *rms_params(int step, void *buf) {
    (void)step;
    cv_rmsprop_params p = { 0.01f, 0.9f, 1e-3f, 0.5f, 0.02f, 0 };
    return memcpy(buf, &p, sizeof p);
}
static const void *rms_tf_params(int step, void *buf) {
    (void)step;
    cv_rmsprop_params p = { 0.01f, 0.9f, 1e-3f, 0.0f, 0.0f, 1 };
    return memcpy(buf, &p, sizeof p);
}

/* RMSprop(lr=0.01, alpha=0.9, eps=1e-3, momentum=0.5, weight_decay=0.02) */
Test(ref_updates, rmsprop_matches_torch_and_tf_style_by_hand) {
    float o[3][6];
    three_steps(CV_OP_RMSPROP_UPDATE, rms_params, sizeof(cv_rmsprop_params), 2, o);
    ku_assert_close(o[0], rms_p, 6, 1e-5, 1e-6, "rmsprop param");
    ku_assert_close(o[1], rms_square_avg, 6, 1e-5, 1e-7, "rmsprop square avg");
    ku_assert_close(o[2], rms_momentum_buffer, 6, 1e-5, 1e-6, "rmsprop momentum");
    /* eps inside the sqrt, no momentum (2 outputs): v <- 0.9 v + 0.1 g^2, p <- p - 0.01 g / sqrt(v + 1e-3) */
    float p[6], v[6] = { 0 }, g[6];
    three_steps(CV_OP_RMSPROP_UPDATE, rms_tf_params, sizeof(cv_rmsprop_params), 1, o);
    pat(p, 30);
    for (int k = 0; k < 3; k++) {
        pat(g, 31 + k);
        for (int i = 0; i < 6; i++) {
            v[i] = 0.9f * v[i] + 0.1f * g[i] * g[i];
            p[i] -= 0.01f * g[i] / sqrtf(v[i] + 1e-3f);
        }
    }
    ku_assert_close(o[0], p, 6, 1e-5, 1e-6, "tf-style rmsprop param");
    ku_assert_close(o[1], v, 6, 1e-5, 1e-7, "tf-style rmsprop v");
}

static const void *lamb_params(int step, void *buf) {
    cv_adam_params p = { 0.05f, 0.9f, 0.999f, 1e-6f, 0.01f, 1, step };
    return memcpy(buf, &p, sizeof p);
}

/* LAMB by hand: Adam moments with bias correction, u = m^/(sqrt(v^)+eps) + wd p,
 * p <- p - lr * (||p|| / ||u||) * u over the whole tensor */
Test(ref_updates, lamb_by_hand) {
    float o[3][6];
    three_steps(CV_OP_LAMB_UPDATE, lamb_params, sizeof(cv_adam_params), 2, o);
    double p[6], m[6] = { 0 }, v[6] = { 0 }, u[6];
    float pf[6], g[6];
    pat(pf, 30);
    for (int i = 0; i < 6; i++) p[i] = pf[i];
    for (int k = 1; k <= 3; k++) {
        pat(g, 30 + k);
        double pn = 0, un = 0;
        for (int i = 0; i < 6; i++) {
            m[i] = 0.9 * m[i] + 0.1 * g[i];
            v[i] = 0.999 * v[i] + 0.001 * (double)g[i] * g[i];
            u[i] = (m[i] / (1 - pow(0.9, k))) / (sqrt(v[i] / (1 - pow(0.999, k))) + 1e-6) + 0.01 * p[i];
            pn += p[i] * p[i];
            un += u[i] * u[i];
        }
        for (int i = 0; i < 6; i++) p[i] -= 0.05 * sqrt(pn) / sqrt(un) * u[i];
    }
    for (int i = 0; i < 6; i++) pf[i] = (float)p[i];
    ku_assert_close(o[0], pf, 6, 1e-5, 1e-6, "lamb param");
}

Test(ref_updates, adam_rejects_step_zero) {
    ku_tensor g = ku_make(be, CV_F32, CV_SHAPE(6), NULL);
    ku_tensor s[3] = { ku_make(be, CV_F32, CV_SHAPE(6), NULL), ku_make(be, CV_F32, CV_SHAPE(6), NULL),
                       ku_make(be, CV_F32, CV_SHAPE(5), NULL) };
    cv_adam_params p = { 0.01f, 0.9f, 0.99f, 1e-8f, 0, 0, 0 };
    cv_error err = { sizeof err, 0, "" };
    cr_assert_eq(ku_run(be, CV_OP_ADAM_UPDATE, &p, sizeof p, &g, 1, s, 3, 0, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "ADAM_UPDATE"), "%s", err.message);
    p.step = 1;
    err = (cv_error){ sizeof err, 0, "" }; /* the first error wins: start afresh */
    cr_assert_eq(ku_run(be, CV_OP_ADAM_UPDATE, &p, sizeof p, &g, 1, s, 3, 0, &err), CV_ERR_INVALID, "v has 5 elements");
    cr_assert(strstr(err.message, "output 2"), "%s", err.message);
    ku_free(be, &g);
    for (int i = 0; i < 3; i++) ku_free(be, &s[i]);
}

Test(ref_updates, sumsq_axpby_fill_nonfinite) {
    float x[5] = { 1, -2, 3, 0.5f, -0.25f };
    ku_tensor t = ku_make(be, CV_F32, CV_SHAPE(5), x), one = ku_make(be, CV_F32, CV_SHAPE(1), NULL);
    float v;
    ku_run_ok(be, CV_OP_SUMSQ, NULL, 0, &t, 1, &one, 1, 0);
    ku_get(be, &one, &v);
    cr_assert_float_eq(v, 14.3125f, 1e-6);
    /* y := 0.5 y + 2 x */
    ku_tensor y = ku_make(be, CV_F32, CV_SHAPE(5), (float[]){ 2, 2, 2, 2, 2 });
    cv_axpby_params ab = { 0.5f, 2.0f };
    ku_run_ok(be, CV_OP_AXPBY, &ab, sizeof ab, &t, 1, &y, 1, 0);
    float got[5], want[5] = { 3, -3, 7, 2, 0.5f };
    ku_get(be, &y, got);
    ku_assert_close(got, want, 5, 0, 0, "axpby");
    /* a = 0 never reads y: NaN in y does not leak */
    ku_set(be, &y, (float[]){ NAN, NAN, INFINITY, 1, 1 });
    cv_axpby_params b_only = { 0.0f, -1.0f };
    ku_run_ok(be, CV_OP_AXPBY, &b_only, sizeof b_only, &t, 1, &y, 1, 0);
    ku_get(be, &y, got);
    float neg[5] = { -1, 2, -3, -0.5f, 0.25f };
    ku_assert_close(got, neg, 5, 0, 0, "axpby with a = 0");
    cv_scalar_params f = { 0, 0.75f };
    ku_run_ok(be, CV_OP_FILL, &f, sizeof f, NULL, 0, &y, 1, 0);
    ku_get(be, &y, got);
    float fill[5] = { 0.75f, 0.75f, 0.75f, 0.75f, 0.75f };
    ku_assert_close(got, fill, 5, 0, 0, "fill");
    ku_set(be, &y, (float[]){ NAN, 1, INFINITY, -INFINITY, 0 });
    ku_run_ok(be, CV_OP_NONFINITE, NULL, 0, &y, 1, &one, 1, 0);
    ku_get(be, &one, &v);
    cr_assert_eq(v, 3.0f);
    ku_run_ok(be, CV_OP_NONFINITE, NULL, 0, &t, 1, &one, 1, 0);
    ku_get(be, &one, &v);
    cr_assert_eq(v, 0.0f);
    ku_free(be, &t);
    ku_free(be, &one);
    ku_free(be, &y);
}
