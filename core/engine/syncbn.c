/* core/engine/syncbn.c — SyncBN: training batch norm with statistics over every
 * data-parallel rank.  With a collective set on the net (cv_net_set_collective),
 * graph.c hands training BATCH_NORM here; it is traced as existing ops around one
 * engine-internal CV_OP_ALLREDUCE of [sum x | sum x^2 | count] per layer, so
 * autograd derives the backward (the mirrored all-reduce of the statistics'
 * gradients) from the primitive rules.  The exec loop runs CV_OP_ALLREDUCE
 * itself: a host copy handed to the collective. */
#include "internal.h"

#include <string.h>

void cv_net_set_collective(cv_net *n, cv_collective_fn fn, void *ctx) {
    if (!n) return;
    n->collective = fn;
    n->collective_ctx = fn ? ctx : NULL;
}

/* the elementwise builders of graph.c under short names */
#define bin cv_graph_binary
#define scal cv_graph_scalar
#define un cv_graph_unary

static cv_tensor *part(cv_graph *g, cv_tensor *x, int64_t start, int64_t len) {
    if (!x) return NULL;
    cv_slice_params sp = { 0, 0, start, len };
    return cv_graph_slice(g, x, &sp);
}

/* buf := a * buf + b * x, buf being a running-statistics buffer (updated in place) */
static int update_running(cv_graph *g, cv_tensor *x, cv_tensor *buf, float a, float b) {
    if (!x) return -1;
    cv_tensor *t = cv_graph_new_tensor(g, CV_F32, &buf->shape, CV_T_ALIAS);
    if (!t) return -1;
    t->storage = buf->storage;
    t->offset = buf->offset;
    cv_axpby_params ap = { a, b };
    return cv_graph_add_node(g, CV_OP_AXPBY, &x, 1, &t, 1, &ap, sizeof ap) < 0 ? -1 : 0;
}

cv_tensor *cv_syncbn_trace(cv_graph *g, cv_tensor *const *in, const cv_norm_params *p) {
    cv_shape s[3];
    int32_t dt[3];
    if (cv_infer(g, CV_OP_BATCH_NORM, in, 5, p, s, dt, 3) < 0) return NULL; /* the fused op's checks */
    cv_tensor *x = in[0];
    if (x->dtype != CV_F32)
        return cv_graph_failv(g, CV_ERR_UNSUPPORTED, "batch_norm: sync_bn needs f32 activations, got %s",
                              cv_dtype_name(x->dtype)), NULL;
    const int64_t C = x->shape.dim[1], M = cv_shape_numel(&x->shape) / C;
    cv_shape bs = { x->shape.ndim - 1, 0, { 0 } }; /* [C,1,..,1] broadcasts against [N,C,..] */
    bs.dim[0] = C;
    for (int i = 1; i < bs.ndim; i++) bs.dim[i] = 1;
    cv_reduce_params rp = { CV_R_SUM, ((1u << x->shape.ndim) - 1) & ~2u, 0 }; /* every dim but C */
    cv_tensor *sq = un(g, x, CV_SQUARE);
    cv_tensor *cat[3] = { cv_graph_emit(g, CV_OP_REDUCE, &in[0], 1, &rp, sizeof rp),
                          sq ? cv_graph_emit(g, CV_OP_REDUCE, &sq, 1, &rp, sizeof rp) : NULL,
                          cv_graph_fill(g, &(cv_shape){ 1, 0, { 1 } }, CV_F32, (float)M) };
    if (!cat[0] || !cat[1] || !cat[2]) return NULL;
    cv_axis_params ax = { 0 };
    cv_tensor *local = cv_graph_emit(g, CV_OP_CONCAT, cat, 3, &ax, sizeof ax);
    cv_tensor *all = local ? cv_graph_emit(g, CV_OP_ALLREDUCE, &local, 1, NULL, 0) : NULL;
    cv_tensor *count = part(g, all, 2 * C, 1);
    cv_tensor *mean = bin(g, part(g, all, 0, C), count, CV_DIV);
    cv_tensor *ex2 = bin(g, part(g, all, C, C), count, CV_DIV);
    cv_tensor *var = scal(g, bin(g, ex2, un(g, mean, CV_SQUARE), CV_SUB), CV_S_CLAMP_MIN, 0.0f); /* biased */
    cv_tensor *rstd = un(g, scal(g, var, CV_S_ADD, p->eps), CV_RSQRT);
    if (!rstd) return NULL;
    cv_tensor *xh = bin(g, bin(g, x, cv_graph_view(g, mean, &bs), CV_SUB), cv_graph_view(g, rstd, &bs), CV_MUL);
    cv_tensor *y = bin(g, bin(g, xh, cv_graph_view(g, in[1], &bs), CV_MUL), cv_graph_view(g, in[2], &bs), CV_ADD);
    /* running statistics from the global values: unbiased variance count / (count - 1)
     * (1 for a count of 1, like the fused kernels) */
    cv_tensor *unbias = bin(g, count, scal(g, scal(g, count, CV_S_ADD, -1.0f), CV_S_CLAMP_MIN, 1.0f), CV_DIV);
    if (!y || update_running(g, mean, in[3], 1.0f - p->momentum, p->momentum) < 0 ||
        update_running(g, bin(g, var, unbias, CV_MUL), in[4], 1.0f - p->momentum, p->momentum) < 0)
        return NULL;
    return y;
}

int cv_collective_prepare(cv_plan *p, cv_error *err) {
    int64_t most = 0;
    for (int32_t e = 0; e < p->n_exec; e++)
        if (p->exec[e].k.op == CV_OP_ALLREDUCE) {
            int64_t n = p->exec[e].k.in[0].ndim ? 1 : 0;
            for (int d = 0; d < p->exec[e].k.in[0].ndim; d++) n *= p->exec[e].k.in[0].shape[d];
            if (n > most) most = n;
        }
    cv_free(p->coll_host);
    p->coll_host = NULL;
    if (most && !(p->coll_host = cv_alloc_array((size_t)most, sizeof(float))))
        return cv_set_error(err, CV_ERR_NOMEM, "engine: out of memory for the SyncBN all-reduce buffer");
    return CV_OK;
}

int cv_collective_run(cv_plan *p, const cv_kernel *k, cv_error *err) {
    cv_net *n = p->net;
    const cv_backend_vtable *vt = n->e->be.vt;
    void *self = n->e->be.self;
    int64_t count = 1;
    for (int d = 0; d < k->in[0].ndim; d++) count *= k->in[0].shape[d];
    size_t bytes = (size_t)count * sizeof(float);
    int st = vt->sync ? vt->sync(self, err) : CV_OK;
    if (st == CV_OK) st = vt->download(self, p->coll_host, k->in[0].data, bytes, err);
    if (st == CV_OK && n->collective) {
        st = n->collective(n->collective_ctx, p->coll_host, count, err);
        if (st != CV_OK && !err->message[0]) cv_set_error(err, st, "the collective failed (status %d)", st);
    }
    if (st == CV_OK) st = vt->upload(self, k->out[0].data, p->coll_host, bytes, err);
    return st;
}
