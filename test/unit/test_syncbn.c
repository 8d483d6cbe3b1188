/* test/unit/test_syncbn.c — SyncBN in the engine without MPI: a fake collective
 * set with cv_net_set_collective.  "Doubling" (buf := 2 buf) is what the
 * all-reduce gives with two ranks holding the same batch: the statistics equal
 * the local ones, and the gradient of the local loss must then match central
 * differences only if the backward all-reduce (the gradient rule) doubles the
 * statistics' gradients too.  Also: forward and gradients equal the fused batch
 * norm, the running statistics use the global count, eval plans keep the fused
 * kernel, and a failing collective ends the step naming the layer. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "support/net_rig.h"

#define N 4
#define C 3
#define HW 2
#define NX (N * C * HW * HW)
#define MOM 0.1f

/* params: 0 x[N,C,HW,HW], 1 gamma, 2 beta, 3 running mean, 4 running var; loss buffer 5 r */
static cv_tensor *sb_forward(void *self, const cv_ops_v1 *o, cv_graph *g, cv_tensor *img) {
    (void)self;
    (void)img;
    cv_init u = { CV_INIT_UNIFORM, -1.0f, 1.0f };
    cv_shape xs = CV_SHAPE(N, C, HW, HW), cs = CV_SHAPE(C);
    o->scope_push(g, "bn1");
    cv_tensor *in[5] = { o->param(g, "x", &xs, u, 0), o->param(g, "weight", &cs, u, 0), o->param(g, "bias", &cs, u, 0),
                         o->param(g, "running_mean", &cs, u, CV_TAG_BUFFER),
                         o->param(g, "running_var", &cs, u, CV_TAG_BUFFER) };
    if (self) { /* the bf16 variant */
        cv_cast_params cp = { CV_BF16 };
        in[0] = CV_OP1(o, g, CV_OP_CAST, in[0], &cp);
    }
    cv_norm_params p = { 1e-5f, MOM, o->training(g), 0, 0 };
    cv_tensor *y = o->op(g, CV_OP_BATCH_NORM, in, 5, &p, sizeof p);
    o->scope_pop(g);
    return y;
}

static cv_tensor *sb_loss(void *self, const cv_ops_v1 *o, cv_graph *g, const cv_loss_inputs *in) {
    (void)self;
    cv_init u = { CV_INIT_UNIFORM, -1.0f, 1.0f };
    cv_shape xs = CV_SHAPE(N, C, HW, HW);
    cv_tensor *r = o->param(g, "r", &xs, u, CV_TAG_BUFFER);
    return cv_reduce(o, g, cv_mul(o, g, in->logits, r), CV_R_SUM, 0xFu, 0);
}

static const cv_model_vtable sb_model_vt = { sizeof(cv_model_vtable), sb_forward, NULL };
static const cv_loss_vtable sb_loss_vt = { sizeof(cv_loss_vtable), 0, 0, sb_loss };
static const cv_component_desc sb_model = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL,
                                            "sb", "any", "one batch norm", NULL, NULL, NULL, NULL, NULL, &sb_model_vt };
static const cv_component_desc sb_lossd = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_LOSS,
                                            "sbl", "any", "sum(y*r)", NULL, NULL, NULL, NULL, NULL, &sb_loss_vt };

typedef struct fake { int calls, fail; } fake;

static int doubling(void *ctx, float *buf, int64_t n, cv_error *err) {
    fake *f = ctx;
    f->calls++;
    if (f->fail) return cv_set_error(err, CV_ERR_IO, "fake peer lost");
    for (int64_t i = 0; i < n; i++) buf[i] *= 2.0f;
    return CV_OK;
}

/* the net with collective f (NULL: none); model_self: the model's self (NULL:
 * f32, non-NULL: bf16 activations) */
static void open_net(net_rig *r, fake *f, void *model_self) {
    cv_ctx *ctx = th_ctx_new();
    net_rig_open(r, ctx, ku_backend_open(ctx, "ref"), 7, (cv_component_ref){ &sb_model, model_self },
                 (cv_component_ref){ &sb_lossd, NULL }, C);
    if (f) cv_net_set_collective(r->n, doubling, f);
}

/* the f32 net with collective f (NULL: none) and fresh random values (the same
 * for every seed); returns its plan for mode */
static cv_plan *rig_open(net_rig *r, fake *f, cv_mode mode) {
    open_net(r, f, NULL);
    cv_plan *p = net_rig_plan(r, CV_SHAPE(N, 1, 1, 1), mode);
    ku_rng g = ku_rng_make(5);
    static const float lo[6] = { -1, 0.5f, -1, -0.5f, 0.5f, -1 }, hi[6] = { 1, 1.5f, 1, 0.5f, 2, 1 };
    for (int i = 0; i < 6; i++) {
        int64_t cnt = cv_shape_numel(&cv_net_param(r->n, i)->shape);
        float *v = ku_random(&g, cnt, lo[i], hi[i]);
        cr_assert_eq(cv_net_param_write(r->n, i, v, &r->err), CV_OK, "%s", r->err.message);
        free(v);
    }
    return p;
}

/* A bf16 activation is refused at trace time, naming the layer and the option. */
Test(syncbn, bf16_activations_are_refused_with_a_clear_error) {
    fake f = { 0, 0 };
    static int bf16 = 1;
    net_rig r;
    open_net(&r, &f, &bf16);
    cv_shape in = CV_SHAPE(N, 1, 1, 1);
    cr_assert_null(cv_net_plan_get(r.n, &in, CV_MODE_TRAIN, 0, &r.err), "a bf16 SyncBN graph was traced");
    cr_assert(strstr(r.err.message, "bn1") && strstr(r.err.message, "sync_bn needs f32 activations, got bf16"),
              "message: %s", r.err.message);
    net_rig_close(&r);
}

/* the input of every step: the model ignores it */
static float zero_img[N];
static int32_t zero_lab[N];

/* one step of plan p */
static double rig_run(net_rig *r, cv_plan *p) {
    cv_step_io io = { zero_img, zero_lab, NULL, 0, 0 };
    cr_assert_eq(cv_net_run(p, &io, &r->err), CV_OK, "%s", r->err.message);
    return io.loss;
}

static void read_param(net_rig *r, int i, float *v) { cr_assert_eq(cv_net_param_read(r->n, i, v, &r->err), CV_OK); }

/* The gradient rule: analytic gradients of x, gamma and beta against central
 * differences, with the doubling collective (each run: one all-reduce forward,
 * one backward). */
Test(syncbn, gradient_rule_matches_finite_differences_with_a_doubling_collective) {
    fake f = { 0, 0 };
    net_rig r;
    cv_plan *p = rig_open(&r, &f, CV_MODE_TRAIN);
    rig_run(&r, p);
    cr_assert_eq(f.calls, 2, "%d collective calls in one training step, expected 2 (forward, backward)", f.calls);
    float grad[NX + 2 * C];
    cr_assert_eq(cv_net_buffer_read(r.n, 1, grad, NX + 2 * C, &r.err), CV_OK);
    const double eps = 1e-2;
    int checked = 0;
    for (int i = 0; i < 3; i++) {
        const cv_param_info *pi = cv_net_param(r.n, i);
        float v[NX];
        int64_t cnt = cv_shape_numel(&pi->shape);
        read_param(&r, i, v);
        for (int64_t j = 0; j < cnt; j++) {
            float keep = v[j];
            v[j] = (float)(keep + eps);
            cv_net_param_write(r.n, i, v, &r.err);
            double lp = rig_run(&r, p);
            v[j] = (float)(keep - eps);
            cv_net_param_write(r.n, i, v, &r.err);
            double lm = rig_run(&r, p);
            v[j] = keep;
            cv_net_param_write(r.n, i, v, &r.err);
            double num = (lp - lm) / (2 * eps), ana = grad[pi->offset + j];
            cr_assert(fabs(num - ana) <= 2e-3 + 2e-2 * fmax(fabs(num), fabs(ana)), "d/d%s[%lld]: analytic %.6g, numeric %.6g",
                      pi->name, (long long)j, ana, num);
            checked++;
        }
    }
    cr_assert_eq(checked, NX + 2 * C);
    net_rig_close(&r);
}

/* Two identical "ranks": the loss and every gradient equal the fused kernel's. */
Test(syncbn, doubled_statistics_give_the_fused_kernels_loss_and_gradients) {
    fake f = { 0, 0 };
    net_rig s, u;
    cv_plan *ps = rig_open(&s, &f, CV_MODE_TRAIN), *pu = rig_open(&u, NULL, CV_MODE_TRAIN);
    double ls = rig_run(&s, ps), lu = rig_run(&u, pu);
    cr_assert(fabs(ls - lu) <= 1e-5 * fmax(1.0, fabs(lu)), "loss %.9g with SyncBN, %.9g fused", ls, lu);
    float gs[NX + 2 * C], gu[NX + 2 * C];
    cv_net_buffer_read(s.n, 1, gs, NX + 2 * C, &s.err);
    cv_net_buffer_read(u.n, 1, gu, NX + 2 * C, &u.err);
    ku_assert_close(gs, gu, NX + 2 * C, 1e-4, 1e-5, "gradients, SyncBN vs fused");
    net_rig_close(&s);
    net_rig_close(&u);
}

/* running = (1 - m) running + m stat, the variance unbiased over the global count 2M */
Test(syncbn, running_statistics_use_the_global_count) {
    fake f = { 0, 0 };
    net_rig r;
    cv_plan *p = rig_open(&r, &f, CV_MODE_TRAIN);
    float x[NX], rm0[C], rv0[C], rm[C], rv[C];
    read_param(&r, 0, x);
    read_param(&r, 3, rm0);
    read_param(&r, 4, rv0);
    rig_run(&r, p);
    read_param(&r, 3, rm);
    read_param(&r, 4, rv);
    const int M = N * HW * HW;
    for (int c = 0; c < C; c++) {
        double s = 0, q = 0;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < HW * HW; k++) s += x[(n * C + c) * HW * HW + k];
        double mean = s / M;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < HW * HW; k++) q += pow(x[(n * C + c) * HW * HW + k] - mean, 2);
        double want_m = (1 - MOM) * rm0[c] + MOM * mean, want_v = (1 - MOM) * rv0[c] + MOM * q / M * (2.0 * M) / (2.0 * M - 1);
        cr_assert(fabs(rm[c] - want_m) <= 1e-5, "running mean[%d] %.9g, expected %.9g", c, rm[c], want_m);
        cr_assert(fabs(rv[c] - want_v) <= 1e-5 * fabs(want_v), "running var[%d] %.9g, expected %.9g (count 2M)", c, rv[c],
                  want_v);
    }
    net_rig_close(&r);
}

/* Eval plans keep the fused kernel with running statistics: no collective call. */
Test(syncbn, eval_plans_do_not_call_the_collective) {
    fake f = { 0, 0 };
    net_rig r;
    cv_plan *p = rig_open(&r, &f, CV_MODE_EVAL);
    rig_run(&r, p);
    cr_assert_eq(f.calls, 0, "an eval step made %d collective calls", f.calls);
    net_rig_close(&r);
}

/* A failing collective (a peer lost) ends the step with the layer, the op and the
 * collective's own message. */
Test(syncbn, a_failing_collective_names_the_layer) {
    fake f = { 0, 1 };
    net_rig r;
    cv_plan *p = rig_open(&r, &f, CV_MODE_TRAIN);
    cv_step_io io = { zero_img, zero_lab, NULL, 0, 0 };
    cr_assert_neq(cv_net_run(p, &io, &r.err), CV_OK, "the step succeeded with a failing collective");
    cr_assert(strstr(r.err.message, "bn1") && strstr(r.err.message, "allreduce_sum") &&
                  strstr(r.err.message, "fake peer lost"),
              "message: %s", r.err.message);
    net_rig_close(&r);
}
