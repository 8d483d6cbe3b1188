/* test/unit/test_cuda_graph.c — plans run as recorded CUDA graphs (ABI 1.2
 * graph_*, core/engine/replay.c and the CUDA backend's graph.cu) against the
 * same backend with graphs = false, kernel by kernel.  A small network with
 * batch norm, dropout and a linear head trains a few SGD steps both ways: the
 * losses, logits and parameters must be bit-identical (same kernels, same
 * order), with one recording and a launch per step, dropout seeds and a changed
 * loss scale patched in without recording again.  Also: a bad target found by
 * the recorded index check is reported at sync with the eager path's words;
 * prediction (the model alone) and profiling are handled; graphs = false
 * declines.  Without a GPU these run under test/gpu/emulate.sh (captures are
 * recorded closures there); the plain CUDA build without a device skips. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine/internal.h"
#include "support/ce_loss.h"
#include "support/cuda_open.h"
#include "support/net_rig.h"

enum { N = 4, C = 3, HW = 8, CLASSES = 3, STEPS = 4 };

/* ---- the model: conv, batch norm, relu, dropout, global pool, linear --------------------------- */
static cv_tensor *prm(const cv_ops_v1 *o, cv_graph *g, const char *n, cv_shape s, int kind, uint32_t tags) {
    cv_init init = { kind, kind == CV_INIT_UNIFORM ? -0.5f : 0.0f, kind == CV_INIT_UNIFORM ? 1.5f : 0.0f };
    return o->param(g, n, &s, init, tags);
}

static cv_tensor *m_forward(void *self, const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    (void)self;
    o->scope_push(g, "conv1");
    x = cv_conv2d(o, g, x, prm(o, g, "weight", CV_SHAPE(8, C, 3, 3), CV_INIT_KAIMING_NORMAL_FAN_OUT, 0), NULL, 1, 1, 1, 1);
    o->scope_pop(g);
    o->scope_push(g, "bn1");
    cv_tensor *in[5] = { x, prm(o, g, "weight", CV_SHAPE(8), CV_INIT_UNIFORM, CV_TAG_NORM),
                         prm(o, g, "bias", CV_SHAPE(8), CV_INIT_UNIFORM, CV_TAG_NORM),
                         prm(o, g, "running_mean", CV_SHAPE(8), CV_INIT_ZEROS, CV_TAG_BUFFER),
                         prm(o, g, "running_var", CV_SHAPE(8), CV_INIT_ONES, CV_TAG_BUFFER) };
    cv_norm_params np = { 1e-5f, 0.1f, o->training(g), 0, 0 };
    o->scope_pop(g);
    x = cv_unary(o, g, o->op(g, CV_OP_BATCH_NORM, in, 5, &np, sizeof np), CV_RELU, 0);
    x = CV_OP1(o, g, CV_OP_DROPOUT, x, (&(cv_dropout_params){ 0.3f }));
    x = cv_reduce(o, g, x, CV_R_MEAN, 0xC, 0);
    o->scope_push(g, "fc");
    x = cv_linear(o, g, x, prm(o, g, "weight", CV_SHAPE(CLASSES, 8), CV_INIT_KAIMING_UNIFORM, 0),
                  prm(o, g, "bias", CV_SHAPE(CLASSES), CV_INIT_UNIFORM, CV_TAG_BIAS));
    o->scope_pop(g);
    return x;
}

static const cv_model_vtable m_vt = { sizeof(cv_model_vtable), m_forward, NULL };
static const cv_component_desc m_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL,
                                          "graphnet", "classification", "test model", NULL, NULL, NULL, NULL, NULL,
                                          &m_vt };

/* ---- rig: the CUDA backend with graphs on or off, an engine and the net ------------------------- */
/* 0 (test skipped, nothing left open) when there is no CUDA backend to run */
static int rig_open(net_rig *r, int graphs) {
    cv_ctx *ctx = th_ctx_new();
    char why[CV_ERROR_MESSAGE_MAX + 64];
    const char *kv[] = { graphs ? "graphs=true" : "graphs=false", NULL };
    ku_backend be;
    if (!cu_open(ctx, kv, &be, why, sizeof why)) {
        th_ctx_free(ctx);
        cr_skip_test("%s", why);
        return 0;
    }
    net_rig_open(r, ctx, be, 11, (cv_component_ref){ &m_desc, NULL }, ce_loss(), CLASSES);
    return 1;
}

static cv_plan *plan(net_rig *r, cv_mode mode) { return net_rig_plan(r, CV_SHAPE(N, C, HW, HW), mode); }

static void batch(float *img, int32_t *lab, uint64_t seed) {
    ku_rng g = ku_rng_make(seed);
    for (int i = 0; i < N * C * HW * HW; i++) img[i] = (float)(2 * ku_uniform(&g) - 1);
    for (int i = 0; i < N; i++) lab[i] = (int32_t)(ku_uniform(&g) * CLASSES);
}

typedef struct trace {
    float loss[STEPS];
    float logits[STEPS][N * CLASSES];
    float *params;
    int64_t n_params;
    int64_t records, launches, updates;
    int replay_off;
} trace;

/* STEPS SGD steps; the loss scale becomes 8 before the third */
static int train(int graphs, trace *t) {
    net_rig r;
    if (!rig_open(&r, graphs)) return 0;
    cv_plan *p = plan(&r, CV_MODE_TRAIN);
    cr_assert_eq(cv_net_alloc_state(r.n, 1, &r.err), CV_OK, "%s", r.err.message);
    float img[N * C * HW * HW];
    int32_t lab[N];
    for (int s = 0; s < STEPS; s++) {
        if (s == 2) cv_net_set_loss_scale(r.n, 8.0f);
        batch(img, lab, 500 + (uint64_t)s);
        cv_step_io io = { img, lab, t->logits[s], 0, 0 };
        cr_assert_eq(cv_net_run(p, &io, &r.err), CV_OK, "step %d: %s", s, r.err.message);
        t->loss[s] = io.loss;
        net_rig_sgd(&r, &(cv_sgd_params){ 0.05f, 0.9f, 0.0f, 1e-4f, 0 });
    }
    t->params = net_rig_read(&r, 0, &t->n_params);
    t->records = p->replay_records;
    t->launches = p->replay_launches;
    t->updates = p->replay_updates;
    t->replay_off = p->replay_off;
    net_rig_close(&r);
    return 1;
}

Test(cuda_graph, training_steps_equal_kernel_by_kernel) {
    trace a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    if (!train(1, &a) || !train(0, &b)) return;
    cr_expect_eq(a.records, 1, "recorded once, not every step (%lld)", (long long)a.records);
    cr_expect_eq(a.launches, STEPS, "one launch per step");
    /* every later step patches the dropout seed; step 3 also the loss scale's fill */
    cr_expect_eq(a.updates, (STEPS - 1) + 1, "updates: %lld", (long long)a.updates);
    cr_expect_eq(b.records + b.launches, 0, "graphs = false runs kernel by kernel");
    cr_expect_eq(b.replay_off, 1, "the backend declined");
    for (int s = 0; s < STEPS; s++) {
        cr_expect_eq(memcmp(&a.loss[s], &b.loss[s], sizeof(float)), 0, "step %d loss %.9g vs %.9g", s, a.loss[s],
                     b.loss[s]);
        cr_expect_eq(memcmp(a.logits[s], b.logits[s], sizeof a.logits[s]), 0, "step %d logits", s);
    }
    cr_expect(a.loss[3] != a.loss[0], "the steps trained");
    cr_assert_eq(a.n_params, b.n_params);
    cr_expect_eq(memcmp(a.params, b.params, (size_t)a.n_params * sizeof(float)), 0, "parameters after the steps");
    free(a.params);
    free(b.params);
}

/* the first message of a step with a target out of range, graphs on or off */
static int bad_target_message(int graphs, char *msg, size_t size) {
    net_rig r;
    if (!rig_open(&r, graphs)) return 0;
    cv_plan *p = plan(&r, CV_MODE_TRAIN);
    float img[N * C * HW * HW];
    int32_t lab[N];
    batch(img, lab, 7);
    cv_step_io io = { img, lab, NULL, 0, 0 };
    cr_assert_eq(cv_net_run(p, &io, &r.err), CV_OK, "%s", r.err.message);
    lab[2] = 7;
    cr_expect_neq(cv_net_run(p, &io, &r.err), CV_OK, "a target of 7 with 3 classes fails the step");
    snprintf(msg, size, "%s", r.err.message);
    lab[2] = 1; /* and the next good step runs */
    cv_error_init(&r.err);
    cr_expect_eq(cv_net_run(p, &io, &r.err), CV_OK, "%s", r.err.message);
    if (graphs) cr_expect_eq(p->replay_records, 1, "the bad target did not need a new recording");
    net_rig_close(&r);
    return 1;
}

Test(cuda_graph, bad_target_is_reported_like_kernel_by_kernel) {
    char a[CV_ERROR_MESSAGE_MAX], b[CV_ERROR_MESSAGE_MAX];
    if (!bad_target_message(1, a, sizeof a) || !bad_target_message(0, b, sizeof b)) return;
    const char *want = "backend cuda: CROSS_ENTROPY: target 7 at position 2 is outside [0, 3)";
    cr_expect_not_null(strstr(a, want), "graph: %s", a);
    cr_expect_not_null(strstr(b, want), "kernel by kernel: %s", b);
}

Test(cuda_graph, prediction_and_profiling) {
    net_rig g, e;
    if (!rig_open(&g, 1) || !rig_open(&e, 0)) return;
    cv_plan *pg = plan(&g, CV_MODE_EVAL), *pe = plan(&e, CV_MODE_EVAL);
    float img[N * C * HW * HW], lg[N * CLASSES], le[N * CLASSES];
    int32_t lab[N];
    batch(img, lab, 9);
    for (int i = 0; i < 2; i++) { /* with targets (model + loss), then without (the model alone) */
        cv_step_io ig = { img, i ? NULL : lab, lg, 0, 0 }, ie = { img, i ? NULL : lab, le, 0, 0 };
        cr_assert_eq(cv_net_run(pg, &ig, &g.err), CV_OK, "%s", g.err.message);
        cr_assert_eq(cv_net_run(pe, &ie, &e.err), CV_OK, "%s", e.err.message);
        cr_expect_eq(memcmp(lg, le, sizeof lg), 0, "logits, %s targets", i ? "without" : "with");
        cr_expect_eq(ig.loss, ie.loss);
    }
    cr_expect_eq(pg->replay_records, 2, "recorded again when the kernel count changes");
    cv_net_set_profiling(g.n, 1);
    cv_step_io ig = { img, lab, lg, 0, 0 };
    cr_assert_eq(cv_net_run(pg, &ig, &g.err), CV_OK, "%s", g.err.message);
    cr_expect_eq(pg->replay_launches, 2, "a profiled step runs kernel by kernel");
    cr_expect_eq(pg->replay_off, 0);
    net_rig_close(&g);
    net_rig_close(&e);
}
