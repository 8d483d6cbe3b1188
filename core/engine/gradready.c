/* core/engine/gradready.c — the gradient-ready hook for data-parallel training:
 * for each training plan, once, the exec node after which each parameter's slice
 * of the flat gradient buffer is last touched (written or read: an in-place
 * reduction must not race a later reader), and the calls that report those
 * slices from the run loop (exec.c), so the trainer can start reducing a bucket
 * while backward still runs.  Also the buffer accessors the hook's user needs. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct cv_grad_ready {
    int32_t *start;   /* n_exec + 2 entries: params final after exec node e are order[start[e], start[e+1]) */
    int32_t *order;   /* param indices grouped by exec node; group n_exec: after the loop (untouched) */
    int32_t n_params; /* net params when built: later ones are reported after the loop */
};

void cv_net_set_grad_ready(cv_net *n, cv_grad_ready_fn fn, void *ctx) {
    if (!n) return;
    n->grad_ready = fn;
    n->grad_ready_ctx = fn ? ctx : NULL;
}

void *cv_net_buffer_data(cv_net *n, int which, int *host_accessible) {
    if (host_accessible) *host_accessible = n ? n->e->be.vt->host_accessible != 0 : 0;
    return n && which >= 0 && which <= 3 ? n->dev[which] : NULL;
}

int cv_net_buffer_read_range(cv_net *n, int which, int64_t first, int64_t count, float *dst, cv_error *err) {
    int64_t have = n && which >= 0 && which <= 3 ? n->dev_elems[which] : -1;
    if (have < 0 || first < 0 || count < 0 || first > have - count || (count && !dst))
        return cv_set_error(err, CV_ERR_INVALID, "buffer %d: range [%lld, +%lld) outside its %lld elements", which,
                            (long long)first, (long long)count, (long long)have);
    if (count == 0) return CV_OK;
    return n->e->be.vt->download(n->e->be.self, dst, (char *)n->dev[which] + first * 4, (size_t)count * 4, err);
}

/* a trainable param's gradient slice in bytes, for the overlap search */
typedef struct slice {
    int64_t lo, hi;
    int32_t param;
} slice;

static int by_lo(const void *a, const void *b) {
    int64_t x = ((const slice *)a)->lo, y = ((const slice *)b)->lo;
    return x < y ? -1 : x > y;
}

/* last[param] := e for every slice overlapping bytes [lo, hi) */
static void mark(const slice *sl, int32_t m, int64_t lo, int64_t hi, int32_t e, int32_t *last) {
    int32_t a = 0, b = m; /* the first slice ending after lo */
    while (a < b) {
        int32_t mid = (a + b) / 2;
        if (sl[mid].hi <= lo) a = mid + 1;
        else b = mid;
    }
    for (; a < m && sl[a].lo < hi; a++) last[sl[a].param] = e;
}

static int build(cv_plan *p, cv_error *err) {
    const cv_net *n = p->net;
    cv_graph *g = p->g;
    int32_t np = p->n_params_built, ne = p->n_exec, m = 0;
    struct cv_grad_ready *r = cv_alloc_array(1, sizeof *r);
    int32_t *last = cv_alloc_array((size_t)np + 1, sizeof *last);
    slice *sl = cv_alloc_array((size_t)np + 1, sizeof *sl);
    if (r) {
        r->start = cv_alloc_array((size_t)ne + 2, sizeof *r->start);
        r->order = cv_alloc_array((size_t)np + 1, sizeof *r->order);
    }
    int st = r && last && sl && r->start && r->order
                 ? CV_OK
                 : cv_set_error(err, CV_ERR_NOMEM, "engine: out of memory for the gradient-ready schedule");
    for (int32_t i = 0; st == CV_OK && i < np; i++) {
        const cv_param_info *pi = &n->params[i].info;
        last[i] = -1; /* a buffer: no gradient */
        if (pi->tags & CV_TAG_BUFFER) continue;
        last[i] = ne; /* untouched by this plan: final before it runs, reported after the loop */
        sl[m++] = (slice){ pi->offset * 4, (pi->offset + cv_shape_numel(&pi->shape)) * 4, i };
    }
    if (st == CV_OK) qsort(sl, (size_t)m, sizeof *sl, by_lo);
    for (int32_t e = 0; st == CV_OK && e < ne; e++) {
        const cv_node *nd = &g->nodes[p->exec[e].node];
        const int32_t *io = cv_node_in(g, nd);
        for (int k = 0; k < nd->n_in + nd->n_out; k++) {
            const cv_tensor *t = cv_graph_tensor(g, io[k]);
            const cv_storage *s = &g->storages[cv_storage_rep(g, t->storage)];
            if (s->where != CV_STORE_GRAD) continue;
            int64_t lo = s->offset + t->offset;
            mark(sl, m, lo, lo + cv_shape_numel(&t->shape) * (int64_t)cv_dtype_size(t->dtype), e, last);
        }
    }
    if (st == CV_OK) {
        for (int32_t i = 0; i < np; i++)
            if (last[i] >= 0) r->start[last[i] + 1]++;
        for (int32_t e = 0; e <= ne; e++) r->start[e + 1] += r->start[e];
        /* start[e + 1] is where group e ends: fill each group from its end, walking
         * params backwards, which leaves start[e + 1] where group e begins */
        int32_t total = r->start[ne + 1];
        for (int32_t i = np - 1; i >= 0; i--)
            if (last[i] >= 0) r->order[--r->start[last[i] + 1]] = i;
        memmove(r->start, r->start + 1, ((size_t)ne + 1) * sizeof *r->start);
        r->start[ne + 1] = total;
        r->n_params = np;
        p->grad_ready = r;
    } else if (r) {
        cv_free(r->start);
        cv_free(r->order);
        cv_free(r);
    }
    cv_free(last);
    cv_free(sl);
    return st;
}

int cv_grad_ready_begin(cv_plan *p, cv_error *err) { return p->grad_ready ? CV_OK : build(p, err); }

static void report(cv_net *n, int32_t pi) {
    const cv_param_info *info = &n->params[pi].info;
    n->grad_ready(n->grad_ready_ctx, info->offset, cv_shape_numel(&info->shape));
}

int cv_grad_ready_after(cv_plan *p, int32_t e, cv_error *err) {
    cv_net *n = p->net;
    const struct cv_grad_ready *r = p->grad_ready;
    int32_t a = r->start[e], b = r->start[e + 1];
    int32_t late = e == p->n_exec ? n->n_params : r->n_params; /* params traced after this plan */
    if (a == b && late == r->n_params) return CV_OK;
    const cv_backend_vtable *vt = n->e->be.vt;
    int st = vt->sync ? vt->sync(n->e->be.self, err) : CV_OK; /* the values must be in memory */
    if (st != CV_OK) return st;
    for (int32_t k = a; k < b; k++) report(n, r->order[k]);
    for (int32_t pi = r->n_params; pi < late; pi++)
        if (!(n->params[pi].info.tags & CV_TAG_BUFFER)) report(n, pi);
    return CV_OK;
}

void cv_grad_ready_free(cv_plan *p) {
    if (!p || !p->grad_ready) return;
    cv_free(p->grad_ready->start);
    cv_free(p->grad_ready->order);
    cv_free(p->grad_ready);
    p->grad_ready = NULL;
}
