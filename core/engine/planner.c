/* core/engine/planner.c — the activation memory plan of one graph: liveness of
 * every storage over the node order, in-place reuse for elementwise nodes whose
 * input dies there, and best-fit placement in one arena.  Workspaces asked for by
 * backend->prepare() are storages that live for their node only.  The result is
 * an offset per storage and the arena size (the step's peak), computed once per
 * (shape, mode) and reused every step. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 64

static int64_t align_up(int64_t b) { return (b + ALIGN - 1) & ~(int64_t)(ALIGN - 1); }

int32_t cv_storage_rep(const cv_graph *g, int32_t s) {
    while (g->storages[s].rep != s) s = g->storages[s].rep;
    return s;
}

static int inplace_kind(const cv_node *n) {
    switch (n->op) {
    case CV_OP_UNARY: case CV_OP_SCALAR: case CV_OP_BINARY: case CV_OP_UNARY_BWD: case CV_OP_DROPOUT_BWD: return 1;
    default: return 0;
    }
}

/* out may take input k's memory: same bytes and dtype, whole storage, dying here,
 * and no other input reads the same storage at another offset */
static int can_share(cv_graph *g, const cv_node *n, int32_t i, int k) {
    int32_t *in = cv_node_in(g, n);
    cv_tensor *x = cv_graph_tensor(g, in[k]), *y = cv_graph_tensor(g, cv_node_out(g, n)[0]);
    int32_t sx = cv_storage_rep(g, x->storage), sy = cv_storage_rep(g, y->storage);
    cv_storage *X = &g->storages[sx], *Y = &g->storages[sy];
    if (sx == sy || X->where != CV_STORE_ARENA || Y->where != CV_STORE_ARENA || X->pinned || Y->pinned) return 0;
    if (X->last != i || X->def >= i || x->offset || y->offset || x->dtype != y->dtype) return 0;
    if (!cv_shape_equal(&x->shape, &y->shape) && cv_shape_numel(&x->shape) != cv_shape_numel(&y->shape)) return 0;
    if (X->bytes != Y->bytes || align_up(X->bytes) != align_up(cv_shape_numel(&x->shape) * (int64_t)cv_dtype_size(x->dtype)))
        return 0;
    if (cv_shape_numel(&x->shape) != cv_shape_numel(&y->shape)) return 0;
    for (int j = 0; j < n->n_in; j++) {
        if (j == k) continue;
        cv_tensor *o = cv_graph_tensor(g, in[j]);
        if (cv_storage_rep(g, o->storage) == sx && (o->offset || cv_shape_numel(&o->shape) != cv_shape_numel(&x->shape)))
            return 0;
    }
    return 1;
}

typedef struct block { int64_t off, size; } block;
typedef struct arena {
    block *free;
    int32_t n, cap;
    int64_t end;
} arena;

static int64_t arena_alloc(arena *a, int64_t size) {
    int best = -1;
    for (int i = 0; i < a->n; i++)
        if (a->free[i].size >= size && (best < 0 || a->free[i].size < a->free[best].size)) best = i;
    if (best >= 0) {
        int64_t off = a->free[best].off;
        a->free[best].off += size;
        a->free[best].size -= size;
        if (a->free[best].size == 0) {
            memmove(&a->free[best], &a->free[best + 1], (size_t)(a->n - best - 1) * sizeof(block));
            a->n--;
        }
        return off;
    }
    /* grow the arena, reusing a free block at its end */
    if (a->n && a->free[a->n - 1].off + a->free[a->n - 1].size == a->end) {
        int64_t off = a->free[a->n - 1].off;
        a->n--;
        a->end = off + size;
        return off;
    }
    int64_t off = a->end;
    a->end += size;
    return off;
}

static int arena_free(arena *a, int64_t off, int64_t size) {
    block *f = cv_grow(a->free, &a->cap, a->n + 1, sizeof *f);
    if (!f) return CV_ERR_NOMEM;
    a->free = f;
    int i = 0;
    while (i < a->n && f[i].off < off) i++;
    memmove(&f[i + 1], &f[i], (size_t)(a->n - i) * sizeof(block));
    f[i] = (block){ off, size };
    a->n++;
    if (i + 1 < a->n && f[i].off + f[i].size == f[i + 1].off) { /* merge with next */
        f[i].size += f[i + 1].size;
        memmove(&f[i + 1], &f[i + 2], (size_t)(a->n - i - 2) * sizeof(block));
        a->n--;
    }
    if (i > 0 && f[i - 1].off + f[i - 1].size == f[i].off) { /* merge with previous */
        f[i - 1].size += f[i].size;
        memmove(&f[i], &f[i + 1], (size_t)(a->n - i - 1) * sizeof(block));
        a->n--;
    }
    return CV_OK;
}

static int cmp_def(const void *pa, const void *pb, void *ctx) {
    const cv_storage *s = ctx;
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    if (s[a].def != s[b].def) return s[a].def < s[b].def ? -1 : 1;
    if (s[a].bytes != s[b].bytes) return s[a].bytes > s[b].bytes ? -1 : 1; /* big first */
    return a < b ? -1 : a > b;
}
static int cmp_last(const void *pa, const void *pb, void *ctx) {
    const cv_storage *s = ctx;
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    if (s[a].last != s[b].last) return s[a].last < s[b].last ? -1 : 1;
    return a < b ? -1 : a > b;
}

int cv_plan_memory(cv_graph *g, size_t *peak_bytes, size_t *naive_bytes, cv_error *err) {
    /* workspaces: storages living for their node only */
    for (int32_t i = 0; i < g->n_nodes; i++) {
        cv_node *n = &g->nodes[i];
        if (n->workspace_bytes && n->workspace < 0) {
            int32_t s = cv_graph_new_storage(g, CV_STORE_ARENA, (int64_t)n->workspace_bytes, 0);
            if (s < 0) return cv_set_error(err, g->err.status, "%s", g->err.message);
            g->storages[s].is_workspace = 1;
            n = &g->nodes[i];
            n->workspace = s;
        }
    }
    cv_storage *S = g->storages;
    for (int32_t s = 0; s < g->n_storages; s++) {
        S[s].rep = s;
        if (S[s].def != -1) S[s].def = INT32_MAX;
        S[s].last = -1;
    }
    for (int32_t i = 0; i < g->n_nodes; i++) {
        cv_node *n = &g->nodes[i];
        n->inplace = 0;
        int32_t *in = cv_node_in(g, n), *out = cv_node_out(g, n);
        for (int k = 0; k < n->n_in; k++) {
            cv_storage *s = &S[cv_graph_tensor(g, in[k])->storage];
            if (s->last < i) s->last = i;
        }
        for (int k = 0; k < n->n_out; k++) {
            cv_storage *s = &S[cv_graph_tensor(g, out[k])->storage];
            if (s->def > i) s->def = i;
            if (s->last < i) s->last = i;
        }
        if (n->workspace >= 0) S[n->workspace].def = S[n->workspace].last = i;
    }
    for (int32_t s = 0; s < g->n_storages; s++) {
        if (S[s].def == INT32_MAX) S[s].def = S[s].last < 0 ? 0 : -1; /* unused: never allocated below */
        if (S[s].pinned && S[s].last >= 0) S[s].last = g->n_nodes;
    }
    for (int i = 0; i < 2; i++)
        if (g->inputs[i]) S[g->inputs[i]->storage].def = -1;
    int64_t naive = 0;
    for (int32_t s = 0; s < g->n_storages; s++)
        if (S[s].where == CV_STORE_ARENA && S[s].last >= 0) naive += align_up(S[s].bytes);

    /* in place: the output joins the storage of an input that dies at this node */
    int naive_only = g->net && g->net->naive_plan;
    for (int32_t i = 0; !naive_only && i < g->n_nodes; i++) {
        cv_node *n = &g->nodes[i];
        if (n->is_view || !inplace_kind(n) || n->n_out != 1) continue;
        for (int k = 0; k < n->n_in; k++) {
            if (!can_share(g, n, i, k)) continue;
            int32_t sx = cv_storage_rep(g, cv_graph_tensor(g, cv_node_in(g, n)[k])->storage);
            int32_t sy = cv_storage_rep(g, cv_graph_tensor(g, cv_node_out(g, n)[0])->storage);
            S[sy].rep = sx;
            S[sx].last = S[sy].last;
            n->inplace = k + 1;
            break;
        }
    }

    /* best fit over the remaining arena storages */
    int32_t *order = cv_alloc_array((size_t)g->n_storages + 1, sizeof(int32_t));
    int32_t *ends = cv_alloc_array((size_t)g->n_storages + 1, sizeof(int32_t));
    arena a = { NULL, 0, 0, 0 };
    int st = CV_OK;
    if (!order || !ends) st = cv_set_error(err, CV_ERR_NOMEM, "planner: out of memory");
    int32_t m = 0;
    for (int32_t s = 0; st == CV_OK && s < g->n_storages; s++)
        if (S[s].rep == s && S[s].where == CV_STORE_ARENA && S[s].last >= 0) order[m++] = s;
    if (st == CV_OK) {
        memcpy(ends, order, (size_t)m * sizeof(int32_t));
        qsort_r(order, (size_t)m, sizeof(int32_t), cmp_def, S);
        qsort_r(ends, (size_t)m, sizeof(int32_t), cmp_last, S);
    }
    int32_t ai = 0, fi = 0;
    for (int32_t t = -1; st == CV_OK && t <= g->n_nodes; t++) {
        while (ai < m && S[order[ai]].def <= t) {
            cv_storage *s = &S[order[ai++]];
            if (naive_only) {
                s->offset = a.end;
                a.end += align_up(s->bytes);
            } else s->offset = arena_alloc(&a, align_up(s->bytes));
        }
        while (fi < m && S[ends[fi]].last <= t && st == CV_OK) {
            cv_storage *s = &S[ends[fi++]];
            st = arena_free(&a, s->offset, align_up(s->bytes));
            if (st) cv_set_error(err, st, "planner: out of memory");
        }
    }
    cv_free(a.free);
    cv_free(order);
    cv_free(ends);
    if (st != CV_OK) return st;
    /* merged storages take their representative's place */
    for (int32_t s = 0; s < g->n_storages; s++)
        if (S[s].where == CV_STORE_ARENA && S[s].rep != s) S[s].offset = S[cv_storage_rep(g, s)].offset;
    *peak_bytes = (size_t)a.end;
    *naive_bytes = (size_t)naive;
    return CV_OK;
}
