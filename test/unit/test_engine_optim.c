/* test/unit/test_engine_optim.c — the optimizer's view of a net on the reference
 * backend: segments, the state layout (slot-major flat vectors), update kernels
 * over slices checked against the textbook formulas, sums of squares, argument
 * errors, and parameters appearing in a later trace (state kept, grads zeroed). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "engine.h"
#include "support/ce_loss.h"
#include "support/net_rig.h"

/* the backend under test: the reference one unless CVNETS_ENGINE_BACKEND names another */
static const char *engine_backend(void) {
    const char *b = getenv("CVNETS_ENGINE_BACKEND");
    return b && *b ? b : "ref";
}

static cv_tensor *m_forward(void *self, const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    (void)self;
    cv_shape s;
    o->shape(x, &s);
    cv_init u = { CV_INIT_UNIFORM, -1, 1 };
    cv_shape sa = CV_SHAPE(3, 1), sb = CV_SHAPE(3);
    x = cv_reduce(o, g, x, CV_R_MEAN, 0xC, 0); /* [N,1] */
    cv_tensor *a = o->param(g, "a", &sa, u, 0); /* in order: argument evaluation order is unspecified */
    cv_tensor *b = o->param(g, "b", &sb, u, CV_TAG_BIAS);
    x = cv_linear(o, g, x, a, b);
    if (s.dim[2] > 4) x = cv_add(o, g, x, o->param(g, "extra", &sb, u, 0)); /* only at larger inputs */
    return x;
}
static const cv_model_vtable m_vt = { sizeof(cv_model_vtable), m_forward, NULL };
static const cv_component_desc m_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL, "m",
                                          "any", "", NULL, NULL, NULL, NULL, NULL, &m_vt };

static void open_rig(net_rig *r) {
    cv_ctx *ctx = th_ctx_new();
    net_rig_open(r, ctx, ku_backend_open(ctx, engine_backend()), 77, (cv_component_ref){ &m_desc, NULL }, ce_loss(), 3);
}
static void step(net_rig *r, int hw) {
    float img[4 * 64];
    for (int i = 0; i < 4 * hw * hw; i++) img[i] = (float)sin(i * 0.7) + 0.3f;
    int32_t lab[4] = { 0, 2, 1, 2 };
    cv_plan *p = net_rig_plan(r, CV_SHAPE(4, 1, hw, hw), CV_MODE_TRAIN);
    cv_step_io io = { img, lab, NULL, 0, 0 };
    cr_assert_eq(cv_net_run(p, &io, &r->err), CV_OK, "%s", r->err.message);
}

Test(engine_optim, adam_and_sgd_against_formulas) {
    net_rig r;
    open_rig(&r);
    step(&r, 4);
    cr_assert_eq(cv_net_alloc_state(r.n, 2, &r.err), CV_OK, "%s", r.err.message);
    cv_optim_step s;
    cv_net_optim_step_init(r.n, &s);
    cr_assert_eq(s.n_segments, 2);
    cr_assert_str_eq(s.segments[0].name, "a");
    cr_assert_eq(s.segments[1].offset, 3);
    cr_assert_eq(s.segments[1].count, 3);
    cr_assert_eq(s.segments[1].tags, CV_TAG_BIAS);
    int64_t T = cv_net_trainable_elems(r.n);
    cr_assert_eq(T, 6);
    float p0[6], g[6], p1[6], st[12];
    cv_net_buffer_read(r.n, 0, p0, T, &r.err);
    cv_net_buffer_read(r.n, 1, g, T, &r.err);
    double ss = 0, ps = 0;
    for (int i = 0; i < 6; i++) {
        ss += (double)g[i] * g[i];
        ps += (double)p0[i] * p0[i];
    }
    cr_assert_gt(ss, 0);
    double got;
    cr_assert_eq(s.sumsq(s.engine, 1, 0, T, &got, &r.err), CV_OK);
    cr_assert_float_eq(got, ss, 1e-5 * ss + 1e-9);
    cr_assert_eq(s.sumsq(s.engine, 0, 0, T, &got, &r.err), CV_OK);
    cr_assert_float_eq(got, ps, 1e-5 * ps + 1e-9);
    /* adam on segment 0 only, step 1 */
    cv_adam_params ap = { 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 1, 1 };
    cr_assert_eq(s.run_update(s.engine, CV_OP_ADAM_UPDATE, &ap, sizeof ap, 0, 3, &r.err), CV_OK, "%s", r.err.message);
    cv_net_buffer_read(r.n, 0, p1, T, &r.err);
    cr_assert_eq(cv_net_buffer_elems(r.n, 2), 12);
    cv_net_buffer_read(r.n, 2, st, 12, &r.err);
    for (int i = 0; i < 3; i++) {
        double m = 0.1 * g[i], v = 0.001 * g[i] * g[i];
        double mh = m / 0.1, vh = v / 0.001;
        double want = p0[i] - 0.1 * mh / (sqrt(vh) + 1e-8);
        cr_assert_float_eq(p1[i], want, 1e-5, "adam param %d: %g vs %g", i, p1[i], want);
        cr_assert_float_eq(st[i], m, 1e-7, "slot 0 holds m");
        cr_assert_float_eq(st[6 + i], v, 1e-9, "slot 1 (at T + i) holds v");
    }
    for (int i = 3; i < 6; i++) cr_assert_eq(p1[i], p0[i], "segment 1 untouched");
    /* plain sgd (no momentum) on segment 1 */
    cv_sgd_params sp = { 0.5f, 0, 0, 0, 0 };
    cr_assert_eq(s.run_update(s.engine, CV_OP_SGD_UPDATE, &sp, sizeof sp, 3, 3, &r.err), CV_OK, "%s", r.err.message);
    cv_net_buffer_read(r.n, 0, p1, T, &r.err);
    for (int i = 3; i < 6; i++) cr_assert_float_eq(p1[i], p0[i] - 0.5f * g[i], 1e-6);
    net_rig_close(&r);
}

Test(engine_optim, bad_update_calls) {
    net_rig r;
    open_rig(&r);
    step(&r, 4);
    cv_optim_step s;
    cv_net_optim_step_init(r.n, &s);
    cv_adam_params ap = { 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 1, 1 };
    cr_assert_eq(s.run_update(s.engine, CV_OP_ADAM_UPDATE, &ap, sizeof ap, 0, 3, &r.err), CV_ERR_INVALID);
    cr_assert(strstr(r.err.message, "2 optimizer state slots"), "%s", r.err.message);
    cv_error_init(&r.err);
    cv_net_alloc_state(r.n, 2, &r.err);
    cr_assert_eq(s.run_update(s.engine, CV_OP_ADAM_UPDATE, &ap, sizeof ap, 4, 3, &r.err), CV_ERR_INVALID);
    cr_assert(strstr(r.err.message, "outside the 6 trainable"), "%s", r.err.message);
    cv_error_init(&r.err);
    cr_assert_eq(s.run_update(s.engine, CV_OP_ADAM_UPDATE, &ap, 8, 0, 3, &r.err), CV_ERR_INVALID);
    cr_assert(strstr(r.err.message, "adam_update params"), "%s", r.err.message);
    cv_error_init(&r.err);
    cr_assert_eq(s.run_update(s.engine, CV_OP_CONV2D, &ap, sizeof ap, 0, 3, &r.err), CV_ERR_INVALID);
    cr_assert(strstr(r.err.message, "not an optimizer update"), "%s", r.err.message);
    net_rig_close(&r);
}

Test(engine_optim, params_appearing_later_keep_state) {
    net_rig r;
    open_rig(&r);
    step(&r, 4);
    cr_assert_eq(cv_net_alloc_state(r.n, 1, &r.err), CV_OK);
    float st[6] = { 1, 2, 3, 4, 5, 6 }, p[6];
    cv_net_buffer_write(r.n, 2, st, 6, &r.err);
    cv_net_buffer_read(r.n, 0, p, 6, &r.err);
    cv_optim_step before;
    cv_net_optim_step_init(r.n, &before);
    step(&r, 6); /* the bigger input adds "extra" */
    cr_assert_str_eq(before.segments[1].name, "b", "segments handed out earlier stay readable");
    cr_assert_eq(cv_net_param_count(r.n), 3);
    cr_assert_eq(cv_net_trainable_elems(r.n), 9);
    float st2[9], p2[9], g2[9];
    cv_net_buffer_read(r.n, 2, st2, 9, &r.err);
    cv_net_buffer_read(r.n, 0, p2, 9, &r.err);
    cv_net_buffer_read(r.n, 1, g2, 9, &r.err);
    cr_assert_eq(memcmp(st, st2, sizeof st), 0, "state of old params kept");
    cr_assert_eq(memcmp(p, p2, sizeof p), 0, "old params kept");
    for (int i = 6; i < 9; i++) cr_assert_eq(st2[i], 0, "new state zeroed");
    double gs = 0;
    for (int i = 6; i < 9; i++) gs += fabs(g2[i]);
    cr_assert_gt(gs, 0, "the new param got a gradient");
    cv_optim_step s;
    cv_net_optim_step_init(r.n, &s);
    cr_assert_eq(s.n_segments, 3);
    /* back at the small size, "extra" is unused: its gradient is zero, not stale */
    step(&r, 4);
    cv_net_buffer_read(r.n, 1, g2, 9, &r.err);
    for (int i = 6; i < 9; i++) cr_assert_eq(g2[i], 0, "unused param gradient must be zero");
    net_rig_close(&r);
}
