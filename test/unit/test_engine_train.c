/* test/unit/test_engine_train.c — the engine end to end on the reference backend:
 * a tiny conv-bn-relu-pool-linear network with cross-entropy (model and loss
 * written inline as component descriptors), trained a few SGD steps (the loss
 * must fall), run twice for bit-identical results, evaluated, plan caching,
 * parameter naming/initialisation, gradient accumulation, the NaN-loss error. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "engine.h"
#include "engine/internal.h" /* cv_param_init_values */
#include "support/ce_loss.h"
#include "support/net_rig.h"

/* the backend under test: the reference one unless CVNETS_ENGINE_BACKEND names another */
static const char *engine_backend(void) {
    const char *b = getenv("CVNETS_ENGINE_BACKEND");
    return b && *b ? b : "ref";
}

/* ---- the inline model and loss -------------------------------------------------- */
static cv_tensor *param(const cv_ops_v1 *o, cv_graph *g, const char *name, cv_shape s, int kind, float a, uint32_t tags) {
    cv_init init = { kind, a, 0 };
    return o->param(g, name, &s, init, tags);
}

static cv_tensor *tiny_forward(void *self, const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    const int *nan_mode = self;
    o->scope_push(g, "conv1");
    cv_tensor *w = param(o, g, "weight", CV_SHAPE(4, 1, 3, 3), CV_INIT_KAIMING_NORMAL_FAN_OUT, 0, 0);
    x = cv_conv2d(o, g, x, w, NULL, 1, 1, 1, 1);
    o->scope_pop(g);
    o->scope_push(g, "bn1");
    cv_tensor *gm = param(o, g, "weight", CV_SHAPE(4), CV_INIT_ONES, 0, CV_TAG_NORM);
    cv_tensor *bt = param(o, g, "bias", CV_SHAPE(4), CV_INIT_ZEROS, 0, CV_TAG_NORM | CV_TAG_BIAS);
    cv_tensor *rm = param(o, g, "running_mean", CV_SHAPE(4), CV_INIT_ZEROS, 0, CV_TAG_BUFFER);
    cv_tensor *rv = param(o, g, "running_var", CV_SHAPE(4), CV_INIT_ONES, 0, CV_TAG_BUFFER);
    cv_norm_params np = { 1e-5f, 0.1f, o->training(g), 0, 0 };
    cv_tensor *bin[5] = { x, gm, bt, rm, rv };
    x = o->op(g, CV_OP_BATCH_NORM, bin, 5, &np, sizeof np);
    o->scope_pop(g);
    x = cv_unary(o, g, x, CV_RELU, 0);
    x = cv_pool2d(o, g, x, CV_POOL_MAX, 2, 2, 0, 0);
    x = cv_reduce(o, g, x, CV_R_MEAN, 0xC, 0); /* [N,4] */
    o->scope_push(g, "fc");
    cv_tensor *fw = param(o, g, "weight", CV_SHAPE(3, 4), CV_INIT_KAIMING_UNIFORM, 0, 0);
    cv_tensor *fb = param(o, g, "bias", CV_SHAPE(3), CV_INIT_ZEROS, 0, CV_TAG_BIAS);
    x = cv_linear(o, g, x, fw, fb);
    o->scope_pop(g);
    if (nan_mode && *nan_mode) x = cv_unary(o, g, cv_scalar(o, g, x, CV_S_ADD, -1e6f), CV_LOG, 0); /* log of negatives */
    return x;
}

static const cv_model_vtable tiny_vt = { sizeof(cv_model_vtable), tiny_forward, NULL };
static const cv_component_desc tiny_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL,
                                             "tiny", "classification", "test model", NULL, NULL, NULL, NULL, NULL, &tiny_vt };

/* ---- fixture ---------------------------------------------------------------------- */
/* nan_mode: the model's self (NULL or 0: finite logits, 1: NaN logits) */
static void rig_open(net_rig *r, uint64_t seed, int *nan_mode) {
    cv_ctx *ctx = th_ctx_new();
    net_rig_open(r, ctx, ku_backend_open(ctx, engine_backend()), seed, (cv_component_ref){ &tiny_desc, nan_mode }, ce_loss(),
                 3);
}

/* a learnable batch: class = which third of the image is bright */
static void make_batch(float *img, int32_t *lab, int N, uint64_t seed) {
    ku_rng g = ku_rng_make(seed);
    for (int n = 0; n < N; n++) {
        lab[n] = n % 3;
        for (int i = 0; i < 64; i++) {
            int row = i / 8;
            float base = (row * 3 / 8 == lab[n]) ? 1.0f : 0.0f;
            img[n * 64 + i] = base + 0.3f * (float)(ku_uniform(&g) - 0.5);
        }
    }
}

static void train(net_rig *r, int steps, double *losses) {
    enum { N = 12 };
    float img[N * 64];
    int32_t lab[N];
    make_batch(img, lab, N, 7);
    cv_plan *p = net_rig_plan(r, CV_SHAPE(N, 1, 8, 8), CV_MODE_TRAIN);
    cr_assert_eq(cv_net_alloc_state(r->n, 1, &r->err), CV_OK, "%s", r->err.message);
    for (int s = 0; s < steps; s++) {
        cv_step_io io = { img, lab, NULL, 0, 0 };
        int st = cv_net_run(p, &io, &r->err);
        cr_assert_eq(st, CV_OK, "step %d: %s", s, r->err.message);
        losses[s] = io.loss;
        net_rig_sgd(r, &(cv_sgd_params){ 0.2f, 0.9f, 0.0f, 1e-4f, 0 });
    }
}

Test(engine_train, loss_falls) {
    net_rig r;
    rig_open(&r, 1, NULL);
    double l[25];
    train(&r, 25, l);
    cr_assert(isfinite(l[0]) && l[0] > 0.5, "initial loss %g", l[0]);
    cr_assert_lt(l[24], l[0] * 0.7, "loss did not fall: %g -> %g", l[0], l[24]);
    /* the batch-norm running statistics moved */
    float rm[4];
    int found = 0;
    for (int i = 0; i < cv_net_param_count(r.n); i++)
        if (strcmp(cv_net_param(r.n, i)->name, "bn1.running_mean") == 0) {
            cr_assert_eq(cv_net_param_read(r.n, i, rm, &r.err), CV_OK, "%s", r.err.message);
            found = 1;
        }
    cr_assert(found, "bn1.running_mean not registered");
    cr_assert(fabsf(rm[0]) + fabsf(rm[1]) + fabsf(rm[2]) + fabsf(rm[3]) > 1e-4f, "running mean never updated");
    net_rig_close(&r);
}

Test(engine_train, deterministic) {
    double a[6], b[6];
    float pa[64], pb[64];
    net_rig r1, r2;
    rig_open(&r1, 5, NULL);
    train(&r1, 6, a);
    int64_t n = cv_net_trainable_elems(r1.n);
    cr_assert(n > 0 && n <= 64);
    cr_assert_eq(cv_net_buffer_read(r1.n, 0, pa, n, &r1.err), CV_OK);
    net_rig_close(&r1);
    rig_open(&r2, 5, NULL);
    train(&r2, 6, b);
    cr_assert_eq(cv_net_buffer_read(r2.n, 0, pb, n, &r2.err), CV_OK);
    net_rig_close(&r2);
    for (int i = 0; i < 6; i++) cr_assert_eq(a[i], b[i], "step %d: %.9g vs %.9g", i, a[i], b[i]);
    cr_assert_eq(memcmp(pa, pb, (size_t)n * 4), 0, "parameters differ after identical runs");
}

Test(engine_train, params_named_and_initialised) {
    net_rig r;
    rig_open(&r, 9, NULL);
    cv_shape in = CV_SHAPE(2, 1, 8, 8);
    cr_assert_not_null(cv_net_plan_get(r.n, &in, CV_MODE_EVAL, 0, &r.err), "%s", r.err.message);
    static const char *const names[] = { "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                                         "bn1.running_var", "fc.weight", "fc.bias" };
    cr_assert_eq(cv_net_param_count(r.n), 7);
    for (int i = 0; i < 7; i++) cr_assert_str_eq(cv_net_param(r.n, i)->name, names[i]);
    cr_assert_eq(cv_net_trainable_elems(r.n), 36 + 4 + 4 + 12 + 3);
    cr_assert_eq(cv_net_buffer_elems(r.n, 3), 8);
    cr_assert(cv_net_param(r.n, 3)->tags & CV_TAG_BUFFER);
    /* kaiming fan-out for [4,1,3,3]: std sqrt(2/36) */
    float w[36], v[4];
    cr_assert_eq(cv_net_param_read(r.n, 0, w, &r.err), CV_OK);
    double ss = 0;
    for (int i = 0; i < 36; i++) ss += (double)w[i] * w[i];
    double std = sqrt(ss / 36);
    cr_assert(std > 0.1 && std < 0.45, "conv1.weight std %g, expected about %g", std, sqrt(2.0 / 36));
    cr_assert_eq(cv_net_param_read(r.n, 4, v, &r.err), CV_OK);
    for (int i = 0; i < 4; i++) cr_assert_eq(v[i], 1.0f, "running_var starts at 1");
    /* write then read back */
    for (int i = 0; i < 36; i++) w[i] = (float)i;
    cr_assert_eq(cv_net_param_write(r.n, 0, w, &r.err), CV_OK);
    float back[36];
    cr_assert_eq(cv_net_param_read(r.n, 0, back, &r.err), CV_OK);
    cr_assert_eq(memcmp(w, back, sizeof w), 0);
    /* same seed, same name -> same init in another net */
    net_rig r2;
    rig_open(&r2, 9, NULL);
    cr_assert_not_null(cv_net_plan_get(r2.n, &in, CV_MODE_TRAIN, 0, &r2.err));
    float w2[12], w1[12];
    cr_assert_eq(cv_net_param_read(r2.n, 5, w2, &r2.err), CV_OK);
    cr_assert_eq(cv_net_param_read(r.n, 5, w1, &r.err), CV_OK);
    cr_assert_eq(memcmp(w1, w2, sizeof w1), 0, "init is not a function of (seed, name)");
    net_rig_close(&r2);
    net_rig_close(&r);
}

Test(engine_train, plans_cached_per_shape_and_mode) {
    net_rig r;
    rig_open(&r, 3, NULL);
    cv_shape a = CV_SHAPE(4, 1, 8, 8), b = CV_SHAPE(4, 1, 12, 12);
    cv_plan *pa = cv_net_plan_get(r.n, &a, CV_MODE_TRAIN, 0, &r.err);
    cv_plan *pb = cv_net_plan_get(r.n, &b, CV_MODE_TRAIN, 0, &r.err);
    cv_plan *pe = cv_net_plan_get(r.n, &a, CV_MODE_EVAL, 0, &r.err);
    cr_assert(pa && pb && pe, "%s", r.err.message);
    cr_assert(pa != pb && pa != pe);
    cr_assert_eq(cv_net_plan_get(r.n, &a, CV_MODE_TRAIN, 0, &r.err), pa, "same key must return the cached plan");
    cr_assert_eq(cv_net_plan_get(r.n, &b, CV_MODE_TRAIN, 0, &r.err), pb);
    cv_plan_info ia, ib, ie;
    cv_plan_info_get(pa, &ia);
    cv_plan_info_get(pb, &ib);
    cv_plan_info_get(pe, &ie);
    /* conv 4*1*9 per output pixel on 8x8, linear 3*4 */
    cr_assert_eq(ia.macs, 4LL * 4 * 8 * 8 * 9 + 4 * 12);
    cr_assert_eq(ib.macs, 4LL * 4 * 12 * 12 * 9 + 4 * 12);
    cr_assert_eq(ie.macs, ia.macs);
    cr_assert(ia.peak_bytes > 0 && ia.peak_bytes <= ia.naive_bytes);
    cr_assert(ie.peak_bytes < ia.peak_bytes, "eval %zu should need less than train %zu", ie.peak_bytes, ia.peak_bytes);
    cr_assert_eq(ia.param_bytes, (size_t)(59 * 2 + 8) * 4);
    cr_assert_eq(cv_net_param_count(r.n), 7, "retracing must not create new params");
    cv_layer_info rows[8];
    cr_assert_eq(cv_plan_layers(pa, 0, NULL, 0), 3, "the count without an array");
    cr_assert_eq(cv_plan_layers(pa, 0, rows, 1), 3, "the count with a short array");
    cr_assert_str_eq(rows[0].scope, "conv1");
    int nr = cv_plan_layers(pa, 0, rows, 8);
    cr_assert_eq(nr, 3, "conv1, fc (macs) and bn1 (params)");
    cr_assert_str_eq(rows[0].scope, "conv1");
    cr_assert_eq(rows[0].macs, 4LL * 4 * 8 * 8 * 9);
    cr_assert_eq(rows[0].params, 36);
    cr_assert_str_eq(rows[1].scope, "fc");
    cr_assert_eq(rows[1].params, 15);
    cr_assert_str_eq(rows[2].scope, "bn1");
    cr_assert_eq(rows[2].params, 8);
    net_rig_close(&r);
}

Test(engine_train, eval_logits_and_accumulate) {
    net_rig r;
    rig_open(&r, 11, NULL);
    enum { N = 6 };
    float img[N * 64], logits[N * 3];
    int32_t lab[N];
    make_batch(img, lab, N, 3);
    cv_shape in = CV_SHAPE(N, 1, 8, 8);
    cv_plan *pe = cv_net_plan_get(r.n, &in, CV_MODE_EVAL, 0, &r.err);
    cr_assert_not_null(pe, "%s", r.err.message);
    cv_step_io io = { img, lab, logits, 0, 0 };
    cr_assert_eq(cv_net_run(pe, &io, &r.err), CV_OK, "%s", r.err.message);
    cr_assert(isfinite(io.loss) && io.loss > 0);
    /* the eval loss equals cross-entropy of the returned logits */
    double ce = 0;
    for (int n = 0; n < N; n++) {
        double m = logits[n * 3], s = 0;
        for (int c = 1; c < 3; c++) m = fmax(m, logits[n * 3 + c]);
        for (int c = 0; c < 3; c++) s += exp(logits[n * 3 + c] - m);
        ce += m + log(s) - logits[n * 3 + lab[n]];
    }
    cr_assert_float_eq(io.loss, ce / N, 1e-4, "loss %g vs logits' CE %g", io.loss, ce / N);
    /* prediction: no targets, same logits, no loss */
    float logits2[N * 3];
    cv_step_io pio = { img, NULL, logits2, -1, 0 };
    cr_assert_eq(cv_net_run(pe, &pio, &r.err), CV_OK, "%s", r.err.message);
    cr_assert_eq(pio.loss, 0);
    cr_assert_eq(memcmp(logits, logits2, sizeof logits), 0);
    /* gradients: overwrite once, then accumulate the same batch: doubles them */
    cv_plan *pt = cv_net_plan_get(r.n, &in, CV_MODE_TRAIN, 0, &r.err);
    cr_assert_not_null(pt, "%s", r.err.message);
    int64_t ne = cv_net_trainable_elems(r.n);
    float g1[64], g2[64], g3[64];
    cv_step_io t = { img, lab, NULL, 0, 0 };
    cr_assert_eq(cv_net_run(pt, &t, &r.err), CV_OK, "%s", r.err.message);
    cr_assert_eq(cv_net_buffer_read(r.n, 1, g1, ne, &r.err), CV_OK);
    t.accumulate = 1;
    cr_assert_eq(cv_net_run(pt, &t, &r.err), CV_OK, "%s", r.err.message);
    cr_assert_eq(cv_net_buffer_read(r.n, 1, g2, ne, &r.err), CV_OK);
    double nz = 0;
    for (int i = 0; i < ne; i++) {
        cr_assert_float_eq(g2[i], 2 * g1[i], 1e-4 + 1e-3 * fabs(g1[i]), "grad %d: %g vs 2*%g", i, g2[i], g1[i]);
        nz += fabs(g1[i]);
    }
    cr_assert_gt(nz, 0, "all gradients are zero");
    double s1, s2;
    cr_assert_eq(cv_net_grad_sumsq(r.n, &s1, &r.err), CV_OK);
    cr_assert_eq(cv_net_grad_scale(r.n, 0.5f, &r.err), CV_OK);
    cr_assert_eq(cv_net_grad_sumsq(r.n, &s2, &r.err), CV_OK);
    cr_assert_float_eq(s2, s1 * 0.25, 1e-4 * s1);
    cr_assert_eq(cv_net_buffer_read(r.n, 1, g3, ne, &r.err), CV_OK);
    for (int i = 0; i < ne; i++) cr_assert_float_eq(g3[i], g1[i], 1e-4 + 1e-3 * fabs(g1[i]));
    net_rig_close(&r);
}

Test(engine_train, nan_loss_is_an_error) {
    net_rig r;
    int nan_mode = 1;
    rig_open(&r, 2, &nan_mode);
    enum { N = 3 };
    float img[N * 64];
    int32_t lab[N];
    make_batch(img, lab, N, 1);
    cv_shape in = CV_SHAPE(N, 1, 8, 8);
    cv_plan *p = cv_net_plan_get(r.n, &in, CV_MODE_TRAIN, 0, &r.err);
    cr_assert_not_null(p, "%s", r.err.message);
    cv_step_io io = { img, lab, NULL, 0, 0 };
    int st = cv_net_run(p, &io, &r.err);
    cr_assert_eq(st, CV_ERR_NUMERIC, "status %d: %s", st, r.err.message);
    cr_assert(strstr(r.err.message, "nan") || strstr(r.err.message, "inf"), "message: %s", r.err.message);
    net_rig_close(&r);
}

/* ---- distillation: a teacher traced into the plan, frozen ------------------------------ */
static cv_tensor *distill_forward(void *self, const cv_ops_v1 *o, cv_graph *g, const cv_loss_inputs *in) {
    (void)self;
    cr_assert_not_null(in->teacher_logits, "the loss gets the teacher's logits");
    cv_ce_params p = { 0.0f, -100 };
    cv_tensor *ce = CV_OP2(o, g, CV_OP_CROSS_ENTROPY, in->logits, in->target, &p);
    cv_tensor *d = cv_binary(o, g, in->logits, in->teacher_logits, CV_SUB);
    cv_tensor *mse = cv_reduce(o, g, cv_mul(o, g, d, d), CV_R_MEAN, 0x3, 0);
    return cv_add(o, g, ce, mse);
}
static const cv_loss_vtable distill_vt = { sizeof(cv_loss_vtable), 1, 0, distill_forward };
static const cv_component_desc distill_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_LOSS,
                                                "distill", "any", "test loss", NULL, NULL, NULL, NULL, NULL, &distill_vt };

Test(engine_train, distillation_teacher_is_frozen) {
    net_rig r;
    rig_open(&r, 21, NULL);
    cv_net_destroy(r.n);
    static int teacher_mode = 0;
    r.n = cv_net_create(r.e, (cv_component_ref){ &tiny_desc, NULL }, (cv_component_ref){ &distill_desc, NULL }, 3,
                        &r.err);
    cr_assert_not_null(r.n);
    cr_assert_eq(cv_net_set_teacher(r.n, (cv_component_ref){ &tiny_desc, &teacher_mode }, &r.err), CV_OK, "%s", r.err.message);
    double l[12];
    train(&r, 12, l);
    cr_assert_lt(l[11], l[0], "loss did not fall: %g -> %g", l[0], l[11]);
    cr_assert_eq(cv_net_param_count(r.n), 14);
    cr_assert_eq(cv_net_trainable_elems(r.n), 59, "teacher params are not trained");
    int ti = -1;
    for (int i = 0; i < 14; i++)
        if (strcmp(cv_net_param(r.n, i)->name, "teacher.conv1.weight") == 0) ti = i;
    cr_assert_geq(ti, 0, "teacher params are named teacher.*");
    cr_assert(cv_net_param(r.n, ti)->tags & CV_TAG_BUFFER);
    /* the teacher's weights are its deterministic init, untouched by 12 SGD steps */
    float w[36], w0[36];
    cr_assert_eq(cv_net_param_read(r.n, ti, w, &r.err), CV_OK);
    cv_shape s = CV_SHAPE(4, 1, 3, 3);
    cv_param_init_values(w0, &s, (cv_init){ CV_INIT_KAIMING_NORMAL_FAN_OUT, 0, 0 }, 21, "teacher.conv1.weight", NULL);
    cr_assert_eq(memcmp(w, w0, sizeof w), 0, "teacher weights changed");
    cv_shape in = CV_SHAPE(12, 1, 8, 8);
    cv_plan_info info;
    cv_plan_info_get(cv_net_plan_get(r.n, &in, CV_MODE_TRAIN, 0, &r.err), &info);
    cr_assert_eq(info.macs, 12LL * (4 * 8 * 8 * 9 + 12), "teacher MACs are not counted");
    cr_assert_eq(cv_net_set_teacher(r.n, (cv_component_ref){ &tiny_desc, NULL }, &r.err), CV_ERR_INVALID);
    net_rig_close(&r);
}

Test(engine_train, per_op_profile) {
    net_rig r;
    rig_open(&r, 4, NULL);
    cv_net_set_profiling(r.n, 1);
    double l[2];
    train(&r, 2, l);
    cv_shape in = CV_SHAPE(12, 1, 8, 8);
    cv_plan *p = cv_net_plan_get(r.n, &in, CV_MODE_TRAIN, 0, &r.err);
    cv_op_profile rows[64];
    int n = cv_plan_profile(p, rows, 64);
    cr_assert_gt(n, 5);
    int conv = 0, wgrad = 0;
    int64_t fwd_macs = 12LL * 4 * 8 * 8 * 9;
    for (int i = 0; i < n; i++) {
        cr_assert_geq(rows[i].seconds, 0);
        if (i) cr_assert_leq(rows[i].seconds, rows[i - 1].seconds, "heaviest first");
        cr_assert_eq(rows[i].calls % 2, 0, "op %d: %lld calls in 2 steps", rows[i].op, (long long)rows[i].calls);
        if (rows[i].op == CV_OP_CONV2D && !rows[i].backward) {
            conv = 1;
            cr_assert_eq(rows[i].calls, 2);
            cr_assert_eq(rows[i].macs, 2 * fwd_macs);
        }
        if (rows[i].op == CV_OP_CONV2D_BWD_WEIGHT) {
            wgrad = 1;
            cr_assert(rows[i].backward);
            cr_assert_eq(rows[i].macs, 2 * fwd_macs);
        }
    }
    cr_assert(conv && wgrad);
    cv_plan_profile_reset(p);
    cr_assert_eq(cv_plan_profile(p, rows, 64), 0);
    net_rig_close(&r);
}
