/* test/unit/test_engine_planfuzz.c — the memory plan cannot change results: random
 * graphs (residual adds, reused tensors, convolutions, batch norm, slices + concat,
 * permutes, reshapes, dropout, broadcasting) are trained one step with the real
 * plan (reuse, in-place) and with a naive plan (every tensor its own memory); loss,
 * logits and every gradient must be bit-identical. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine/internal.h"
#include "support/kernel_util.h"
#include "support/testhost.h"

static const char *engine_backend(void) {
    const char *b = getenv("CVNETS_ENGINE_BACKEND");
    return b && *b ? b : "ref";
}

typedef struct rnd { uint64_t seed; int n_ops; } rnd;

static cv_tensor *prm(const cv_ops_v1 *o, cv_graph *g, const char *name, cv_shape s, int kind, uint32_t tags) {
    cv_init init = { kind, 0.5f, 0 };
    return o->param(g, name, &s, init, tags);
}

static cv_tensor *random_forward(void *self, const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    const rnd *c = self;
    ku_rng r = ku_rng_make(c->seed);
    cv_tensor *pool[64];
    int n = 0;
    pool[n++] = cv_conv2d(o, g, x, prm(o, g, "stem", CV_SHAPE(4, 3, 3, 3), CV_INIT_KAIMING_NORMAL_FAN_IN, 0), NULL, 1, 1, 1, 1);
    for (int k = 0; k < c->n_ops && n < 64; k++) {
        o->scope_push(g, "op%d", k);
        cv_tensor *a = pool[(int)(ku_uniform(&r) * n)], *b = pool[(int)(ku_uniform(&r) * n)], *y = NULL;
        switch ((int)(ku_uniform(&r) * 11)) {
        case 0: {
            static const int fns[] = { CV_RELU, CV_SILU, CV_TANH, CV_SIGMOID, CV_GELU, CV_HARDSWISH };
            y = cv_unary(o, g, a, fns[(int)(ku_uniform(&r) * 6)], 0);
            break;
        }
        case 1: {
            static const int fns[] = { CV_ADD, CV_MUL, CV_SUB };
            y = cv_binary(o, g, a, b, fns[(int)(ku_uniform(&r) * 3)]);
            break;
        }
        case 2: y = cv_scalar(o, g, a, ku_uniform(&r) < 0.5 ? CV_S_MUL : CV_S_ADD, 0.7f); break;
        case 3: y = cv_conv2d(o, g, a, prm(o, g, "w", CV_SHAPE(4, 4, 3, 3), CV_INIT_KAIMING_NORMAL_FAN_IN, 0), NULL, 1, 1, 1, 1); break;
        case 4: {
            cv_tensor *in[5] = { a, NULL, NULL, NULL, NULL };
            in[1] = prm(o, g, "gamma", CV_SHAPE(4), CV_INIT_ONES, CV_TAG_NORM);
            in[2] = prm(o, g, "beta", CV_SHAPE(4), CV_INIT_ZEROS, CV_TAG_NORM);
            in[3] = prm(o, g, "mean", CV_SHAPE(4), CV_INIT_ZEROS, CV_TAG_BUFFER);
            in[4] = prm(o, g, "var", CV_SHAPE(4), CV_INIT_ONES, CV_TAG_BUFFER);
            cv_norm_params np = { 1e-5f, 0.1f, o->training(g), 0, 0 };
            y = o->op(g, CV_OP_BATCH_NORM, in, 5, &np, sizeof np);
            break;
        }
        case 5: y = cv_softmax(o, g, a, 1, 0); break;
        case 6: {
            cv_slice_params s0 = { 1, 0, 0, 2 }, s1 = { 1, 0, 2, 2 };
            cv_tensor *in[2] = { CV_OP1(o, g, CV_OP_SLICE, a, &s0), CV_OP1(o, g, CV_OP_SLICE, b, &s1) };
            cv_axis_params ax = { 1 };
            y = o->op(g, CV_OP_CONCAT, in, 2, &ax, sizeof ax);
            break;
        }
        case 7: y = cv_permute(o, g, a, 4, (const int32_t[]){ 0, 1, 3, 2 }); break;
        case 8: {
            cv_shape s;
            o->shape(a, &s);
            y = cv_reshape(o, g, cv_unary(o, g, cv_reshape(o, g, a, CV_SHAPE(s.dim[0], 4 * 36)), CV_SILU, 0), s);
            break;
        }
        case 9: {
            cv_dropout_params dp = { 0.2f };
            y = CV_OP1(o, g, CV_OP_DROPOUT, a, &dp);
            break;
        }
        default: y = cv_add(o, g, a, cv_reduce(o, g, b, CV_R_MEAN, 0xC, 1)); break;
        }
        o->scope_pop(g);
        pool[n++] = y;
    }
    cv_tensor *s = cv_add(o, g, cv_add(o, g, pool[n - 1], pool[n - 2]), pool[n / 2]);
    s = cv_reduce(o, g, s, CV_R_MEAN, 0xC, 0);
    return cv_linear(o, g, s, prm(o, g, "fc", CV_SHAPE(3, 4), CV_INIT_KAIMING_UNIFORM, 0), NULL);
}

static cv_tensor *ce_forward(void *self, const cv_ops_v1 *o, cv_graph *g, const cv_loss_inputs *in) {
    (void)self;
    cv_ce_params p = { 0.1f, -100 };
    return CV_OP2(o, g, CV_OP_CROSS_ENTROPY, in->logits, in->target, &p);
}

static const cv_model_vtable m_vt = { sizeof(cv_model_vtable), random_forward, NULL };
static const cv_loss_vtable l_vt = { sizeof(cv_loss_vtable), 0, 0, ce_forward };
static const cv_component_desc m_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL, "rnd",
                                          "any", "", NULL, NULL, NULL, NULL, NULL, &m_vt };
static const cv_component_desc l_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_LOSS, "ce",
                                          "any", "", NULL, NULL, NULL, NULL, NULL, &l_vt };

typedef struct result { double loss; float logits[6]; float grads[4096]; int64_t ng; size_t peak; int inplace; } result;

static void run_one(rnd *c, int naive, result *res) {
    cv_ctx *ctx = th_ctx_new();
    ku_backend be = ku_backend_open(ctx, engine_backend());
    cv_error err;
    cv_error_init(&err);
    cv_engine *e = cv_engine_create(&ctx->host, (cv_backend_ref){ be.vt, be.self }, 5, &err);
    cv_net *n = cv_net_create(e, (cv_component_ref){ &m_desc, c }, (cv_component_ref){ &l_desc, NULL }, 3, &err);
    cr_assert(e && n, "%s", err.message);
    n->naive_plan = naive;
    cv_shape s = CV_SHAPE(2, 3, 6, 6);
    cv_plan *p = cv_net_plan_get(n, &s, CV_MODE_TRAIN, 0, &err);
    cr_assert_not_null(p, "seed %llu: %s", (unsigned long long)c->seed, err.message);
    float img[2 * 3 * 36];
    ku_rng r = ku_rng_make(c->seed + 1000);
    for (int i = 0; i < 2 * 3 * 36; i++) img[i] = (float)(2 * ku_uniform(&r) - 1);
    int32_t lab[2] = { 1, 2 };
    cv_step_io io = { img, lab, res->logits, 0, 0 };
    cr_assert_eq(cv_net_run(p, &io, &err), CV_OK, "seed %llu: %s", (unsigned long long)c->seed, err.message);
    res->loss = io.loss;
    res->ng = cv_net_trainable_elems(n);
    cr_assert_leq(res->ng, 4096);
    cr_assert_eq(cv_net_buffer_read(n, 1, res->grads, res->ng, &err), CV_OK);
    res->peak = p->info.peak_bytes;
    res->inplace = 0;
    for (int i = 0; i < p->g->n_nodes; i++) res->inplace += p->g->nodes[i].inplace != 0;
    cv_net_destroy(n);
    cv_engine_destroy(e);
    ku_backend_close(be);
    th_ctx_free(ctx);
}

Test(engine_planfuzz, planned_equals_naive) {
    static result a, b;
    int inplace = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        rnd c = { seed, 8 + (int)(seed % 4) * 8 };
        run_one(&c, 0, &a);
        run_one(&c, 1, &b);
        cr_assert_eq(b.inplace, 0);
        cr_assert_leq(a.peak, b.peak);
        inplace += a.inplace;
        cr_assert(a.loss == b.loss, "seed %llu: loss %.9g planned vs %.9g naive", (unsigned long long)seed, a.loss, b.loss);
        cr_assert_eq(memcmp(a.logits, b.logits, sizeof a.logits), 0, "seed %llu: logits differ", (unsigned long long)seed);
        cr_assert_eq(a.ng, b.ng);
        for (int64_t i = 0; i < a.ng; i++)
            cr_assert(a.grads[i] == b.grads[i], "seed %llu: grad %lld: %.9g planned vs %.9g naive", (unsigned long long)seed,
                      (long long)i, a.grads[i], b.grads[i]);
    }
    cr_assert_gt(inplace, 40, "the random graphs should exercise in-place reuse");
}
