/* test/unit/test_planner.c — the memory planner on real traced graphs (a fake
 * backend that computes nothing): no two storages that are live at the same time
 * overlap, peak <= naive, in-place reuse only for elementwise nodes whose input
 * is dead afterwards, workspaces planned per node, parameter gradients written
 * straight into the gradient buffer (no copies), prepare() once per node and plan,
 * and no backend allocation during steps. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine/internal.h"
#include "host.h"

/* ---- a fake backend: host memory, counts calls, computes nothing ---------------------------- */
typedef struct fake { int allocs, prepares, runs, releases; size_t conv_ws; } fake;
static void *f_alloc(void *s, size_t b) { ((fake *)s)->allocs++; return calloc(1, b ? b : 1); }
static void f_free(void *s, void *p) { (void)s; free(p); }
static int f_copy(void *s, void *d, const void *src, size_t b, cv_error *e) { (void)s; (void)e; memcpy(d, src, b); return CV_OK; }
static int f_prepare(void *s, const cv_kernel *k, void **prep, size_t *ws, cv_error *e) {
    (void)e;
    fake *f = s;
    f->prepares++;
    *prep = malloc(8);
    *ws = k->op == CV_OP_CONV2D || k->op == CV_OP_CONV2D_BWD_DATA ? f->conv_ws : 0;
    return CV_OK;
}
static void f_release(void *s, void *p) { ((fake *)s)->releases++; free(p); }
static int f_run(void *s, const cv_kernel *k, cv_error *e) {
    (void)e;
    ((fake *)s)->runs++;
    for (int i = 0; i < k->n_out; i++) cr_assert_not_null(k->out[i].data, "output %d of op %d has no memory", i, k->op);
    if (k->workspace_bytes) cr_assert_not_null(k->workspace);
    return CV_OK;
}
static const cv_backend_vtable fake_vt = { sizeof(cv_backend_vtable), 1, 0, f_alloc, f_free, f_copy, f_copy, NULL,
                                           f_prepare, f_release, f_run, NULL };

/* ---- test models ---------------------------------------------------------------------------------- */
typedef struct spec { int depth, width, residual, attention; } spec;

static cv_tensor *prm(const cv_ops_v1 *o, cv_graph *g, const char *n, cv_shape s, uint32_t tags) {
    cv_init init = { CV_INIT_KAIMING_NORMAL_FAN_OUT, 0, 0 };
    if (tags & (CV_TAG_BUFFER | CV_TAG_NORM)) init.kind = CV_INIT_ONES;
    return o->param(g, n, &s, init, tags);
}

static cv_tensor *conv_bn_relu(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x, int cin, int cout) {
    cv_tensor *w = prm(o, g, "conv.weight", CV_SHAPE(cout, cin, 3, 3), 0);
    x = cv_conv2d(o, g, x, w, NULL, 1, 1, 1, 1);
    cv_tensor *in[5] = { x, prm(o, g, "bn.weight", CV_SHAPE(cout), CV_TAG_NORM), prm(o, g, "bn.bias", CV_SHAPE(cout), CV_TAG_NORM),
                         prm(o, g, "bn.mean", CV_SHAPE(cout), CV_TAG_BUFFER), prm(o, g, "bn.var", CV_SHAPE(cout), CV_TAG_BUFFER) };
    cv_norm_params np = { 1e-5f, 0.1f, o->training(g), 0, 0 };
    x = o->op(g, CV_OP_BATCH_NORM, in, 5, &np, sizeof np);
    return cv_unary(o, g, x, CV_RELU, 0);
}

static cv_tensor *m_forward(void *self, const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    const spec *s = self;
    cv_shape xs;
    o->shape(x, &xs);
    int c = (int)xs.dim[1];
    for (int i = 0; i < s->depth; i++) {
        o->scope_push(g, "block%d", i);
        cv_tensor *y = conv_bn_relu(o, g, x, c, s->width);
        if (s->residual && c == s->width) y = cv_unary(o, g, cv_add(o, g, y, x), CV_RELU, 0);
        x = y;
        c = s->width;
        o->scope_pop(g);
    }
    x = cv_reduce(o, g, x, CV_R_MEAN, 0xC, 0); /* [N, width] */
    if (s->attention) {
        cv_tensor *t = cv_reshape(o, g, x, CV_SHAPE(xs.dim[0], 1, s->width));
        t = cv_attention(o, g, t, t, t, 0.25f);
        x = cv_reshape(o, g, t, CV_SHAPE(xs.dim[0], s->width));
    }
    cv_tensor *dx = CV_OP1(o, g, CV_OP_DROPOUT, x, (&(cv_dropout_params){ 0.2f }));
    return cv_linear(o, g, dx, prm(o, g, "fc.weight", CV_SHAPE(5, s->width), 0), prm(o, g, "fc.bias", CV_SHAPE(5), CV_TAG_BIAS));
}

static cv_tensor *l_forward(void *self, const cv_ops_v1 *o, cv_graph *g, const cv_loss_inputs *in) {
    (void)self;
    cv_ce_params p = { 0.1f, -100 };
    return CV_OP2(o, g, CV_OP_CROSS_ENTROPY, in->logits, in->target, &p);
}

static const cv_model_vtable m_vt = { sizeof(cv_model_vtable), m_forward, NULL };
static const cv_loss_vtable l_vt = { sizeof(cv_loss_vtable), 0, 0, l_forward };
static const cv_component_desc m_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL, "m",
                                          "any", "", NULL, NULL, NULL, NULL, NULL, &m_vt };
static const cv_component_desc l_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_LOSS, "l",
                                          "any", "", NULL, NULL, NULL, NULL, NULL, &l_vt };

typedef struct rig { fake f; cv_engine *e; cv_net *n; cv_error err; spec s; } rig;

static void open_rig(rig *r, spec s, size_t conv_ws) {
    memset(r, 0, sizeof *r);
    cv_error_init(&r->err);
    r->s = s;
    r->f.conv_ws = conv_ws;
    r->e = cv_engine_create(NULL, (cv_backend_ref){ &fake_vt, &r->f }, 1, &r->err);
    r->n = cv_net_create(r->e, (cv_component_ref){ &m_desc, &r->s }, (cv_component_ref){ &l_desc, NULL }, 5, &r->err);
    cr_assert(r->e && r->n, "%s", r->err.message);
}
static void close_rig(rig *r) {
    cv_net_destroy(r->n);
    cv_engine_destroy(r->e);
    cr_assert_eq(r->f.prepares, r->f.releases, "every prepared node released");
}

/* ---- invariants ------------------------------------------------------------------------------------ */
static int is_elementwise(int op) {
    return op == CV_OP_UNARY || op == CV_OP_SCALAR || op == CV_OP_BINARY || op == CV_OP_UNARY_BWD || op == CV_OP_DROPOUT_BWD;
}

static int check_plan(const cv_plan *p) {
    const cv_graph *g = p->g;
    const cv_storage *S = g->storages;
    int64_t naive = 0;
    for (int a = 0; a < g->n_storages; a++) {
        if (S[a].where != CV_STORE_ARENA || S[a].last < 0) continue;
        naive += (S[a].bytes + 63) / 64 * 64;
        if (S[a].rep != a) continue;
        cr_assert(S[a].offset >= 0 && (size_t)(S[a].offset + S[a].bytes) <= p->info.peak_bytes,
                  "storage %d [%lld, +%lld) outside the arena of %zu", a, (long long)S[a].offset, (long long)S[a].bytes,
                  p->info.peak_bytes);
        cr_assert_eq(S[a].offset % 64, 0, "storage %d misaligned", a);
        for (int b = a + 1; b < g->n_storages; b++) {
            if (S[b].where != CV_STORE_ARENA || S[b].last < 0 || S[b].rep != b) continue;
            int live_together = S[a].def <= S[b].last && S[b].def <= S[a].last;
            int overlap = S[a].offset < S[b].offset + S[b].bytes && S[b].offset < S[a].offset + S[a].bytes;
            cr_assert(!(live_together && overlap),
                      "storages %d [t %d..%d, bytes %lld+%lld] and %d [t %d..%d, bytes %lld+%lld] overlap while both live",
                      a, S[a].def, S[a].last, (long long)S[a].offset, (long long)S[a].bytes, b, S[b].def, S[b].last,
                      (long long)S[b].offset, (long long)S[b].bytes);
        }
    }
    cr_assert_eq((size_t)naive, p->info.naive_bytes);
    cr_assert_leq(p->info.peak_bytes, p->info.naive_bytes);
    /* in place only for elementwise nodes, and the overwritten value is never read again */
    int inplace = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const cv_node *n = &g->nodes[i];
        if (!n->inplace) continue;
        inplace++;
        cr_assert(is_elementwise(n->op), "node %d (%s) was made in place", i, cv_op_name(n->op));
        const cv_tensor *x = cv_graph_tensor((cv_graph *)g, cv_node_in(g, n)[n->inplace - 1]);
        const cv_tensor *y = cv_graph_tensor((cv_graph *)g, cv_node_out(g, n)[0]);
        cr_assert_eq(cv_storage_rep(g, x->storage), cv_storage_rep(g, y->storage));
        cr_assert_eq(cv_shape_numel(&x->shape), cv_shape_numel(&y->shape));
        cr_assert_eq(x->dtype, y->dtype);
        int32_t rep = cv_storage_rep(g, x->storage);
        for (int j = i + 1; j < g->n_nodes; j++) {
            const cv_node *m = &g->nodes[j];
            for (int k = 0; k < m->n_in; k++) {
                const cv_tensor *t = cv_graph_tensor((cv_graph *)g, cv_node_in(g, m)[k]);
                if (cv_storage_rep(g, t->storage) != rep) continue;
                cr_assert(t->producer >= i, "node %d reads tensor %d overwritten in place by node %d (%s)", j, t->id, i,
                          cv_op_name(n->op));
            }
        }
    }
    return inplace;
}

static cv_plan *plan(rig *r, int n, int hw, cv_mode mode) {
    cv_shape s = CV_SHAPE(n, 3, hw, hw);
    cv_plan *p = cv_net_plan_get(r->n, &s, mode, 0, &r->err);
    cr_assert_not_null(p, "%s", r->err.message);
    return p;
}

Test(planner, invariants_on_train_and_eval_graphs) {
    static const spec specs[] = { { 1, 4, 0, 0 }, { 4, 8, 1, 0 }, { 3, 6, 1, 1 }, { 6, 3, 0, 0 } };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        rig r;
        open_rig(&r, specs[i], i % 2 ? 4096 : 0);
        int ip = check_plan(plan(&r, 4, 8, CV_MODE_TRAIN));
        cr_assert_gt(ip, 0, "spec %zu: no in-place reuse at all in training", i);
        ip = check_plan(plan(&r, 2, 6, CV_MODE_EVAL));
        cr_assert_gt(ip, 0, "spec %zu: relu after batch norm should run in place in eval", i);
        check_plan(plan(&r, 3, 10, CV_MODE_TRAIN));
        close_rig(&r);
    }
}

Test(planner, reuse_makes_deep_eval_cheap) {
    rig r;
    open_rig(&r, (spec){ 12, 8, 0, 0 }, 0);
    cv_plan *p = plan(&r, 2, 16, CV_MODE_EVAL);
    check_plan(p);
    size_t act = 2 * 8 * 16 * 16 * 4; /* one activation */
    cr_assert_lt(p->info.peak_bytes, 4 * act, "eval peak %zu for 12 layers of %zu-byte activations", p->info.peak_bytes, act);
    cr_assert_gt(p->info.naive_bytes, 20 * act);
    cv_plan *t = plan(&r, 2, 16, CV_MODE_TRAIN);
    check_plan(t);
    cr_assert_lt(t->info.peak_bytes, t->info.naive_bytes);
    close_rig(&r);
}

Test(planner, workspace_is_planned) {
    rig r;
    open_rig(&r, (spec){ 2, 4, 0, 0 }, 1000);
    cv_plan *p = plan(&r, 2, 8, CV_MODE_TRAIN);
    check_plan(p);
    int ws = 0;
    for (int i = 0; i < p->g->n_nodes; i++)
        if (p->g->nodes[i].workspace >= 0) {
            ws++;
            const cv_storage *s = &p->g->storages[p->g->nodes[i].workspace];
            cr_assert_eq(s->bytes, 1000);
            cr_assert(s->def == i && s->last == i, "a workspace lives for its node only");
        }
    cr_assert_eq(ws, 3, "2 convs forward + 1 data gradient (the images need none), got %d", ws);
    close_rig(&r);
}

Test(planner, parameter_gradients_need_no_copies) {
    rig r;
    open_rig(&r, (spec){ 3, 4, 1, 0 }, 0);
    cv_plan *p = plan(&r, 2, 8, CV_MODE_TRAIN);
    int copies = 0, fills = 0;
    for (int i = 0; i < p->g->n_nodes; i++) {
        copies += p->g->nodes[i].op == CV_OP_COPY;
        fills += p->g->nodes[i].op == CV_OP_FILL;
    }
    cr_assert_eq(copies, 0, "every gradient should be written in place into the gradient buffer");
    cr_assert_eq(fills, 1, "only the loss seed");
    close_rig(&r);
}

Test(planner, prepared_once_and_steps_do_not_allocate) {
    rig r;
    open_rig(&r, (spec){ 2, 4, 1, 0 }, 64);
    cv_plan *a = plan(&r, 2, 8, CV_MODE_TRAIN);
    int prep = r.f.prepares;
    cr_assert_eq(prep, a->n_exec, "prepare once per kernel node");
    cv_plan *b = plan(&r, 2, 12, CV_MODE_TRAIN);
    cr_assert_eq(r.f.prepares, prep + b->n_exec);
    prep = r.f.prepares;
    cr_assert_eq(plan(&r, 2, 8, CV_MODE_TRAIN), a);
    cr_assert_eq(plan(&r, 2, 12, CV_MODE_TRAIN), b);
    cr_assert_eq(r.f.prepares, prep, "cached plans are not prepared again");
    float img[2 * 3 * 12 * 12] = { 0 };
    int32_t lab[2] = { 1, 3 };
    int allocs = r.f.allocs;
    for (int s = 0; s < 3; s++) {
        cv_step_io io = { img, lab, NULL, 0, 0 };
        cr_assert_eq(cv_net_run(s % 2 ? a : b, &io, &r.err), CV_OK, "%s", r.err.message);
    }
    cr_assert_eq(r.f.allocs, allocs, "a step allocated backend memory");
    cr_assert_eq(r.f.prepares, prep);
    cr_assert_eq(r.f.runs, 2 * b->n_exec + a->n_exec);
    close_rig(&r);
}
