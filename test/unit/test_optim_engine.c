/* test/unit/test_optim_engine.c — the optimizer plugins on a real net: segments
 * and tags come from the engine's parameter store (a weight, and a bias tagged
 * CV_TAG_BIAS), updates run through cv_net_optim_step_init's run_update on the
 * reference backend.  Checks the step against p - lr (g + wd p) per segment. */
#include <math.h>
#include <string.h>
#include <criterion/criterion.h>
#include "support/testhost.h"
#include "engine.h"

#define N 3
#define C 4

/* logits = x * w + b, w [1,C] (decayed), b [1,C] (a bias) */
static cv_tensor *tm_forward(void *self, const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    (void)self;
    cv_shape s = CV_SHAPE(1, C);
    cv_tensor *w = o->param(g, "w", &s, (cv_init){ CV_INIT_CONSTANT, 0.5f, 0 }, 0);
    cv_tensor *b = o->param(g, "b", &s, (cv_init){ CV_INIT_CONSTANT, 0.25f, 0 }, CV_TAG_BIAS);
    return cv_add(o, g, cv_mul(o, g, cv_reshape(o, g, x, CV_SHAPE(N, C)), w), b);
}
static const cv_model_vtable TM_VT = { sizeof(cv_model_vtable), tm_forward, NULL };
static const cv_component_desc TM_DESC = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL,
                                           "test_affine", "classification", "test", NULL, NULL, NULL, NULL, NULL, &TM_VT };

static void run_case(const char *optimizer, const char *const *kv, int bias_decays) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *bd = th_load(ctx, "backend", "ref"), *ld = th_load(ctx, "loss", "cross_entropy"),
                            *od = th_load(ctx, "optimizer", optimizer);
    cv_create_args extra = { sizeof extra };
    extra.threads = 1;
    extra.num_classes = C;
    void *be = th_create(ctx, bd, NULL, &extra), *loss = th_create(ctx, ld, NULL, &extra),
         *opt = th_create(ctx, od, kv, &extra);
    cv_error err = { sizeof err, 0, "" };
    cv_engine *e = cv_engine_create(&ctx->host, (cv_backend_ref){ bd->vtable, be }, 1, &err);
    cv_net *net = cv_net_create(e, (cv_component_ref){ &TM_DESC, NULL }, (cv_component_ref){ ld, loss }, C, &err);
    cr_assert_not_null(net, "%s", err.message);
    cv_shape in = CV_SHAPE(N, C, 1, 1);
    cv_plan *plan = cv_net_plan_get(net, &in, CV_MODE_TRAIN, 0, &err);
    cr_assert_not_null(plan, "%s", err.message);
    const cv_optimizer_vtable *ovt = od->vtable;
    cr_assert_eq(cv_net_alloc_state(net, ovt->state_slots, &err), CV_OK, "%s", err.message);

    float x[N * C];
    for (int i = 0; i < N * C; i++) x[i] = (float)sin(1.1 * i + 0.2);
    const int32_t y[N] = { 0, 3, 1 };
    cv_step_io io = { x, y, NULL, 0, 0 };
    cr_assert_eq(cv_net_run(plan, &io, &err), CV_OK, "%s", err.message);
    int64_t n = cv_net_trainable_elems(net);
    cr_assert_eq(n, 2 * C);
    float p0[2 * C], g[2 * C], p1[2 * C];
    cr_assert_eq(cv_net_buffer_read(net, 0, p0, n, &err), CV_OK, "%s", err.message);
    cr_assert_eq(cv_net_buffer_read(net, 1, g, n, &err), CV_OK, "%s", err.message);

    cv_optim_step s;
    cv_net_optim_step_init(net, &s);
    s.lr = 0.1;
    s.step = 1;
    cr_assert_eq(s.n_segments, 2);
    cr_assert_eq(ovt->step(opt, &s, &err), CV_OK, "%s", err.message);
    cr_assert_eq(cv_net_buffer_read(net, 0, p1, n, &err), CV_OK, "%s", err.message);
    for (int k = 0; k < s.n_segments; k++) {
        const cv_param_segment *seg = &s.segments[k];
        int decays = !(seg->tags & CV_TAG_BIAS) || bias_decays;
        for (int64_t i = seg->offset; i < seg->offset + seg->count; i++) {
            double want = p0[i] - 0.1 * (g[i] + (decays ? 0.1 * p0[i] : 0.0));
            cr_expect(fabs(p1[i] - want) < 1e-6, "%s[%lld] = %.9g, want %.9g", seg->name, (long long)(i - seg->offset),
                      (double)p1[i], want);
        }
    }
    cv_net_destroy(net);
    cv_engine_destroy(e);
    th_destroy(od, opt);
    th_destroy(ld, loss);
    th_destroy(bd, be);
    th_ctx_free(ctx);
}

Test(optim_engine, sgd_no_decay_on_the_engines_bias_segment) {
    const char *kv[] = { "momentum=0", "weight_decay=0.1", "no_decay_bn_filter_bias=true", NULL };
    run_case("sgd", kv, 0);
}

Test(optim_engine, sgd_decays_the_bias_by_default) {
    const char *kv[] = { "momentum=0.9", "weight_decay=0.1", NULL };
    run_case("sgd", kv, 1);
}
