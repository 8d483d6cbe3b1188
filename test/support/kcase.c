/* test/support/kcase.c — the kernel-case runner of kcase.h: one op on the
 * reference backend and on the backends under test, compared. */
#include "kcase.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t numel(const cv_shape *s) { return cv_shape_numel(s); }

/* run c on one backend with the given host inputs and starting outputs; host copies
 * of outputs (and of the inputs after the run) come back in got_out / got_in */
static void run_on(ku_backend be, const kcase *c, float **vin, float **vout0, float **got_out, float **got_in) {
    ku_tensor in[8], out[8];
    for (int i = 0; i < c->n_in; i++) in[i] = ku_make(be, c->in[i].dtype, c->in[i].shape, vin[i]);
    for (int i = 0; i < c->n_out; i++) out[i] = ku_make(be, c->out[i].dtype, c->out[i].shape, vout0[i]);
    cv_error err = { sizeof err, 0, "" };
    int st = ku_run(be, c->op, c->p, c->ps, in, c->n_in, out, c->n_out, 0x5eed, &err);
    cr_assert(st == CV_OK, "%s: kernel failed (%d): %s", c->name, st, err.message);
    for (int i = 0; i < c->n_out; i++) got_out[i] = ku_get_new(be, &out[i]);
    for (int i = 0; i < c->n_in; i++) got_in[i] = (c->check_in >> i) & 1 ? ku_get_new(be, &in[i]) : NULL;
    for (int i = 0; i < c->n_in; i++) ku_free(be, &in[i]);
    for (int i = 0; i < c->n_out; i++) ku_free(be, &out[i]);
}

void kc_check(const kc_bench *b, const kcase *c) {
    float *vin[8], *vout0[8], *want[8], *want_in[8];
    float lo = c->lo, hi = c->hi;
    if (lo == 0 && hi == 0) { lo = -2; hi = 2; }
    for (int i = 0; i < c->n_in; i++) {
        int64_t n = numel(&c->in[i].shape);
        vin[i] = ku_random(b->rng, n, lo, hi);
        if (c->in[i].v) memcpy(vin[i], c->in[i].v, (size_t)n * sizeof(float));
        else if (c->n_away) ku_keep_away(vin[i], n, c->away, c->n_away, 0.02f);
    }
    for (int i = 0; i < c->n_out; i++) {
        int64_t n = numel(&c->out[i].shape);
        vout0[i] = ku_random(b->rng, n, -1, 1);
        if (c->out[i].v) memcpy(vout0[i], c->out[i].v, (size_t)n * sizeof(float));
        else if (!((c->init_out >> i) & 1))
            for (int64_t j = 0; j < n; j++) vout0[i][j] = c->out[i].dtype == CV_F32 ? NAN : 77.0f;
    }
    run_on(b->ref, c, vin, vout0, want, want_in);
    for (int t = 0; t < b->n; t++) {
        float *got[8], *got_in[8];
        run_on(b->test[t], c, vin, vout0, got, got_in);
        char what[160];
        for (int i = 0; i < c->n_out; i++) {
            snprintf(what, sizeof what, "%s (%s): output %d", c->name, b->label[t], i);
            ku_assert_close(got[i], want[i], numel(&c->out[i].shape), c->rtol, c->atol, what);
            free(got[i]);
        }
        for (int i = 0; i < c->n_in; i++)
            if (got_in[i]) {
                snprintf(what, sizeof what, "%s (%s): input %d after the run", c->name, b->label[t], i);
                ku_assert_close(got_in[i], want_in[i], numel(&c->in[i].shape), c->rtol, c->atol, what);
                free(got_in[i]);
            }
    }
    for (int i = 0; i < c->n_in; i++) { free(vin[i]); free(want_in[i]); }
    for (int i = 0; i < c->n_out; i++) { free(vout0[i]); free(want[i]); }
}

#define CASE(...) KC_CASE(b, __VA_ARGS__)

void kc_conv_cases(const kc_bench *b, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int k, int s, int pad,
                   int dil, int g, int bias) {
    cv_conv_params p = { { s, s, 1 }, { pad, pad, 0 }, { dil, dil, 1 }, g };
    int64_t Ho = (H + 2 * pad - dil * (k - 1) - 1) / s + 1, Wo = (W + 2 * pad - dil * (k - 1) - 1) / s + 1;
    opd x = F32(N, C, H, W), w = F32(O, C / g, k, k), y = F32(N, O, Ho, Wo), bv = F32(O);
    CASE(.name = "conv2d", .op = CV_OP_CONV2D, .p = KC_P(p), .n_in = bias ? 3 : 2, .in = { x, w, bv }, .n_out = 1,
         .out = { y }, .rtol = 2e-4, .atol = 2e-4);
    CASE(.name = "conv2d_bwd_data", .op = CV_OP_CONV2D_BWD_DATA, .p = KC_P(p), .n_in = 2, .in = { y, w }, .n_out = 1,
         .out = { x }, .rtol = 2e-4, .atol = 2e-4);
    CASE(.name = "conv2d_bwd_weight", .op = CV_OP_CONV2D_BWD_WEIGHT, .p = KC_P(p), .n_in = 2, .in = { y, x },
         .n_out = 1, .out = { w }, .rtol = 2e-4, .atol = 5e-4);
}

void kc_norm_pair(const kc_bench *b, const char *name, int fwd, int bwd, const cv_norm_params *p, opd x, opd g,
                  int affine, int64_t stats) {
    float *xs = ku_random(b->rng, numel(&x.shape), -2, 2);
    ku_backend be = b->ref;
    ku_tensor tx = ku_make(be, CV_F32, x.shape, xs), ty = ku_make(be, CV_F32, x.shape, NULL);
    float *gv = ku_random(b->rng, numel(&g.shape), 0.5f, 1.5f);
    ku_tensor tg = ku_make(be, CV_F32, g.shape, gv), tb = ku_make(be, CV_F32, g.shape, gv);
    ku_tensor tm = ku_make(be, CV_F32, CV_SHAPE(stats), NULL), tr = ku_make(be, CV_F32, CV_SHAPE(stats), NULL);
    ku_tensor in[3] = { tx, tg, tb }, out[3] = { ty, tm, tr };
    ku_run_ok(be, fwd, p, sizeof *p, in, affine ? 3 : 1, out, 3, 0);
    float *mv = ku_get_new(be, &tm), *rv = ku_get_new(be, &tr);
    opd ms = OPD(CV_F32, mv, stats), rs = OPD(CV_F32, rv, stats), xv = { CV_F32, x.shape, xs }, gg = { CV_F32, g.shape, gv };
    /* the saved statistics start as NaN on the tested side (ms / rs, the reference's
     * values, are only the backward's inputs) */
    CASE(.name = name, .op = fwd, .p = p, .ps = sizeof *p, .n_in = affine ? 3 : 1, .in = { xv, g, g }, .n_out = 3,
         .out = { x, F32(stats), F32(stats) }, .rtol = 1e-4, .atol = 1e-4);
    CASE(.name = name, .op = fwd, .p = p, .ps = sizeof *p, .n_in = affine ? 3 : 1, .in = { xv, g, g }, .n_out = 1,
         .out = { x }, .rtol = 1e-4, .atol = 1e-4);
    CASE(.name = name, .op = bwd, .p = p, .ps = sizeof *p, .n_in = 5, .in = { xv, x, gg, ms, rs }, .n_out = 3,
         .out = { x, g, g }, .rtol = 1e-4, .atol = 1e-4);
    CASE(.name = name, .op = bwd, .p = p, .ps = sizeof *p, .n_in = 5, .in = { xv, x, gg, ms, rs }, .n_out = 1,
         .out = { x }, .rtol = 1e-4, .atol = 1e-4);
    ku_free(be, &tx); ku_free(be, &ty); ku_free(be, &tg); ku_free(be, &tb); ku_free(be, &tm); ku_free(be, &tr);
    free(xs); free(gv); free(mv); free(rv);
}
