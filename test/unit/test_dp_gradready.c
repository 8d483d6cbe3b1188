/* test/unit/test_dp_gradready.c — the engine's gradient-ready hook, which
 * data-parallel training uses to reduce gradient buckets during backward
 * (core/engine/gradready.c).  Each trainable parameter must be reported exactly
 * once per training run, with its slice of the flat gradient buffer, and only
 * when no later kernel of the step writes or reads that slice.  The hook checks
 * that by force: it copies the slice, then scribbles over it; after the run the
 * copies are put back and the whole gradient must equal a run without the hook.
 * A kernel that wrote the slice later would leave a different final value than
 * the copy; one that read it later would spread the scribble into other
 * gradients.  The network has a parameter added to an activation of the same
 * shape (batch 1), whose gradient the engine writes in place into the gradient
 * buffer and then still reads for the convolution's backward. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "support/ce_loss.h"
#include "support/net_rig.h"

/* ---- the inline model: conv + P (same shape) + relu + mean + linear, and a late param --- */
static cv_tensor *param(const cv_ops_v1 *o, cv_graph *g, const char *name, cv_shape s, int kind, uint32_t tags) {
    cv_init init = { kind, 0.5f, 0 };
    return o->param(g, name, &s, init, tags);
}

static cv_tensor *hook_forward(void *self, const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    (void)self;
    cv_shape xs;
    o->shape(x, &xs);
    int64_t hw = xs.dim[2];
    o->scope_push(g, "conv1");
    cv_tensor *w = param(o, g, "weight", CV_SHAPE(4, 1, 3, 3), CV_INIT_KAIMING_NORMAL_FAN_OUT, 0);
    cv_tensor *b = param(o, g, "bias", CV_SHAPE(4), CV_INIT_UNIFORM, CV_TAG_BIAS);
    x = cv_conv2d(o, g, x, w, b, 1, 1, 1, 1);
    o->scope_pop(g);
    /* the same shape as x for batch 1: its gradient is x's gradient itself */
    if (hw == 8) x = cv_add(o, g, x, param(o, g, "pos", CV_SHAPE(1, 4, 8, 8), CV_INIT_UNIFORM, 0));
    x = cv_unary(o, g, x, CV_RELU, 0);
    x = cv_reduce(o, g, x, CV_R_MEAN, 0xC, 0);
    o->scope_push(g, "fc");
    cv_tensor *fw = param(o, g, "weight", CV_SHAPE(3, 4), CV_INIT_KAIMING_UNIFORM, 0);
    cv_tensor *fb = param(o, g, "bias", CV_SHAPE(3), CV_INIT_UNIFORM, CV_TAG_BIAS);
    x = cv_linear(o, g, x, fw, fb);
    o->scope_pop(g);
    if (hw == 4) /* only a 4x4 input's trace creates this one: an 8x8 plan zero-fills its gradient */
        x = cv_add(o, g, x, param(o, g, "late", CV_SHAPE(3), CV_INIT_UNIFORM, 0));
    return x;
}

static const cv_model_vtable hook_vt = { sizeof(cv_model_vtable), hook_forward, NULL };
static const cv_component_desc hook_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL,
                                             "hooknet", "classification", "test model", NULL, NULL, NULL, NULL, NULL,
                                             &hook_vt };

/* ---- what the hook saw ---------------------------------------------------------------- */
enum { MAX_CALLS = 64, MAX_GRAD = 4096 };
typedef struct seen {
    cv_net *net;
    int calls;
    int64_t first[MAX_CALLS], count[MAX_CALLS];
    float copy[MAX_GRAD]; /* each reported slice as it was when reported */
} seen;

static void on_ready(void *ctx, int64_t first, int64_t count) {
    seen *s = ctx;
    int host = 0;
    float *g = cv_net_buffer_data(s->net, 1, &host);
    cr_assert(host, "these tests run on host backends");
    cr_assert_lt(s->calls, MAX_CALLS);
    cr_assert(first >= 0 && count > 0 && first + count <= MAX_GRAD);
    s->first[s->calls] = first;
    s->count[s->calls++] = count;
    memcpy(s->copy + first, g + first, (size_t)count * sizeof(float));
    for (int64_t i = first; i < first + count; i++) g[i] = 1e30f; /* a later reader or writer shows */
}

static void rig_open(net_rig *r, const char *backend) {
    cv_ctx *ctx = th_ctx_new();
    net_rig_open(r, ctx, ku_backend_open(ctx, backend), 5, (cv_component_ref){ &hook_desc, NULL }, ce_loss(), 3);
}

static cv_plan *plan(net_rig *r, int n, int hw) { return net_rig_plan(r, CV_SHAPE(n, 1, hw, hw), CV_MODE_TRAIN); }

/* fresh random images (never zeros) and labels */
static void run(net_rig *r, cv_plan *p, int n, int hw, uint64_t seed, int accumulate) {
    float img[4 * 64];
    int32_t lab[4];
    ku_rng g = ku_rng_make(seed);
    for (int i = 0; i < n * hw * hw; i++) img[i] = (float)(ku_uniform(&g) - 0.5);
    for (int i = 0; i < n; i++) lab[i] = i % 3;
    cv_step_io io = { img, lab, NULL, 0, accumulate };
    cr_assert_eq(cv_net_run(p, &io, &r->err), CV_OK, "%s", r->err.message);
}

static float *grads(net_rig *r) {
    int64_t n;
    return net_rig_read(r, 1, &n);
}

static int param_index(net_rig *r, const char *name) {
    for (int i = 0; i < cv_net_param_count(r->n); i++)
        if (strcmp(cv_net_param(r->n, i)->name, name) == 0) return i;
    cr_assert_fail("no parameter %s", name);
    return -1;
}

static int call_of(const seen *s, int64_t first) {
    for (int c = 0; c < s->calls; c++)
        if (s->first[c] == first) return c;
    return -1;
}

/* Every trainable param reported once with exactly its slice, and the copies,
 * put back, give the gradient of a run without the hook (same weights, same
 * data).  prev (may be NULL): the gradient before the run, for accumulation. */
static void check_run(net_rig *r, cv_plan *p, int n, int hw, int accumulate, const float *prev) {
    /* on_ready's snapshots cover params [0, MAX_GRAD) */
    cr_assert_leq(cv_net_buffer_elems(r->n, 1), MAX_GRAD);
    seen s;
    memset(&s, 0, sizeof s);
    s.net = r->n;
    cv_net_set_grad_ready(r->n, on_ready, &s);
    run(r, p, n, hw, 99, accumulate);
    cv_net_set_grad_ready(r->n, NULL, NULL);
    int64_t total = cv_net_buffer_elems(r->n, 1);
    float *got = grads(r);
    int trainable = 0;
    for (int i = 0; i < cv_net_param_count(r->n); i++) {
        const cv_param_info *pi = cv_net_param(r->n, i);
        if (pi->tags & CV_TAG_BUFFER) continue;
        trainable++;
        int c = call_of(&s, pi->offset);
        cr_assert_geq(c, 0, "%s was never reported", pi->name);
        cr_assert_eq(s.count[c], cv_shape_numel(&pi->shape), "%s reported with %lld elements", pi->name,
                     (long long)s.count[c]);
    }
    cr_assert_eq(s.calls, trainable, "%d reports for %d trainable parameters", s.calls, trainable);
    for (int c = 0; c < s.calls; c++) memcpy(got + s.first[c], s.copy + s.first[c], (size_t)s.count[c] * sizeof(float));
    if (prev) cr_assert_eq(cv_net_buffer_write(r->n, 1, prev, total, &r->err), CV_OK, "%s", r->err.message);
    run(r, p, n, hw, 99, accumulate); /* the same step without the hook */
    float *want = grads(r);
    int64_t nonzero = 0;
    for (int64_t i = 0; i < total; i++) {
        nonzero += want[i] != 0;
        cr_assert(got[i] == want[i], "gradient[%lld]: %.9g when reported (restored), %.9g without the hook: a kernel "
                  "touched it after the report", (long long)i, got[i], want[i]);
    }
    cr_assert_gt(nonzero, total / 2, "mostly zero gradients prove nothing");
    /* reported during backward, in its order: fc's weight is final long before
     * conv1's (not so when accumulating: autograd appends every AXPBY into the
     * gradient buffer after the whole backward pass, in parameter order) */
    if (!accumulate)
        cr_assert_lt(call_of(&s, cv_net_param(r->n, param_index(r, "fc.weight"))->offset),
                     call_of(&s, cv_net_param(r->n, param_index(r, "conv1.weight"))->offset));
    free(got);
    free(want);
}

static void slices_are_final_when_reported(const char *backend) {
    net_rig r;
    rig_open(&r, backend);
    cv_plan *p = plan(&r, 1, 8);
    check_run(&r, p, 1, 8, 0, NULL);
    net_rig_close(&r);
}

Test(dp_gradready, slices_are_final_when_reported_ref) { slices_are_final_when_reported("ref"); }
Test(dp_gradready, slices_are_final_when_reported_cpu) { slices_are_final_when_reported("cpu"); }

/* The accumulate variant adds into the gradient buffer (AXPBY): reported after that. */
Test(dp_gradready, accumulating_micro_step_reports_after_adding) {
    net_rig r;
    rig_open(&r, "ref");
    cv_plan *p = plan(&r, 1, 8);
    run(&r, p, 1, 8, 1, 0);
    float *prev = grads(&r);
    check_run(&r, p, 1, 8, 1, prev);
    free(prev);
    net_rig_close(&r);
}

/* A param created by a later trace (the 4x4 plan) is zero-filled by the 8x8 plan
 * after its kernels, and reported then, with zeros. */
Test(dp_gradready, params_of_a_later_trace_are_reported_after_their_zero_fill) {
    net_rig r;
    rig_open(&r, "ref");
    cv_plan *p8 = plan(&r, 2, 8);
    plan(&r, 2, 4);
    int late = param_index(&r, "late");
    seen s;
    memset(&s, 0, sizeof s);
    s.net = r.n;
    cv_net_set_grad_ready(r.n, on_ready, &s);
    run(&r, p8, 2, 8, 3, 0);
    cv_net_set_grad_ready(r.n, NULL, NULL);
    const cv_param_info *pi = cv_net_param(r.n, late);
    int c = call_of(&s, pi->offset);
    cr_assert_eq(c, s.calls - 1, "the late param was reported at %d of %d calls", c, s.calls);
    for (int64_t i = 0; i < 3; i++) cr_assert_eq(s.copy[pi->offset + i], 0.0f);
    net_rig_close(&r);
}

/* No hook, or an eval run: nothing is reported. */
Test(dp_gradready, nothing_is_reported_without_a_hook_or_in_eval) {
    net_rig r;
    rig_open(&r, "ref");
    cv_plan *p = plan(&r, 1, 8);
    seen s;
    memset(&s, 0, sizeof s);
    s.net = r.n;
    cv_net_set_grad_ready(r.n, on_ready, &s);
    cv_net_set_grad_ready(r.n, NULL, &s);
    run(&r, p, 1, 8, 3, 0);
    cr_assert_eq(s.calls, 0);
    cv_net_set_grad_ready(r.n, on_ready, &s);
    cv_plan *ev = net_rig_plan(&r, CV_SHAPE(1, 1, 8, 8), CV_MODE_EVAL);
    run(&r, ev, 1, 8, 3, 0);
    cr_assert_eq(s.calls, 0, "an eval run reported %d slices", s.calls);
    cv_net_set_grad_ready(r.n, NULL, NULL);
    net_rig_close(&r);
}

Test(dp_gradready, a_range_outside_the_buffer_is_refused) {
    net_rig r;
    rig_open(&r, "ref");
    plan(&r, 1, 8);
    int64_t n = cv_net_buffer_elems(r.n, 1);
    float v[4];
    cr_assert_eq(cv_net_buffer_read_range(r.n, 1, n - 2, 4, v, &r.err), CV_ERR_INVALID);
    cr_assert(strstr(r.err.message, "outside its"), "%s", r.err.message);
    cv_error_init(&r.err);
    cr_assert_eq(cv_net_buffer_read_range(r.n, 7, 0, 1, v, &r.err), CV_ERR_INVALID);
    cv_error_init(&r.err);
    cr_assert_eq(cv_net_buffer_read_range(r.n, 1, n - 4, 4, v, &r.err), CV_OK, "%s", r.err.message);
    net_rig_close(&r);
}
