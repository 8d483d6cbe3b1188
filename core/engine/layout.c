/* core/engine/layout.c — which activations stay in the backend's blocked layout
 * (ABI 1.1: CV_LAYOUT_C16; ABI 1.3: or CV_LAYOUT_NHWC, as the backend's
 * blocked_layout says) between kernels.  Run once per plan, before prepare():
 * the backend's layout_class() classifies every kernel node (PLAIN, UNIFORM,
 * FREE); values joined by UNIFORM nodes form groups (union-find); a group is
 * blocked only when every member is a candidate (f32 4-D arena activation, C % 16 == 0 for C16,
 * its storage held by no other tensor: not a view or viewed, not a graph input or
 * output), every node touching it is UNIFORM or FREE, and a FREE node (a
 * convolution: the only place where the layout saves work) touches it.  The
 * result is one CV_LAYOUT_* byte per operand slot (indexed like g->ids), which
 * the kernels see as in_layout / out_layout.  ABI 1.4: a blocked group whose
 * every node's class carries CV_LAYOUT_CLASS_BF16 (or _F16) is stored in that
 * dtype — its tensors' dtype and storage bytes change in this plan's graph, so
 * the planner and the kernels see the 16-bit values.  CVNETS_LAYOUT=plain turns
 * the pass off; CVNETS_LAYOUT=f32 keeps the blocked layouts but stores nothing
 * in 16 bits. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static int32_t find(int32_t *up, int32_t a) {
    while (up[a] != a) a = up[a] = up[up[a]];
    return a;
}

static void join(int32_t *up, int32_t a, int32_t b) {
    a = find(up, a);
    b = find(up, b);
    if (a != b) up[a < b ? b : a] = a < b ? a : b;
}

/* a value that may be stored in layout l, judged on its own */
static int candidate(const cv_graph *g, const cv_tensor *t, const int32_t *holders, int l) {
    const cv_storage *s = &g->storages[t->storage];
    return t->kind == CV_T_ACT && t->dtype == CV_F32 && t->shape.ndim == 4 &&
           (l != CV_LAYOUT_C16 || t->shape.dim[1] % 16 == 0) && t->shape.dim[1] > 0 && !t->is_output && !t->offset &&
           s->where == CV_STORE_ARENA && !s->pinned && holders[t->storage] == 1;
}

/* the backend's blocked layout (0 before ABI 1.3 means C16), or PLAIN for a value it cannot mean */
static int blocked_layout(const cv_backend_vtable *vt) {
    const int l = vt->blocked_layout;
    return l == 0 || l == CV_LAYOUT_C16 ? CV_LAYOUT_C16 : l == CV_LAYOUT_NHWC ? CV_LAYOUT_NHWC : CV_LAYOUT_PLAIN;
}

/* The layout class of node n from the backend (PLAIN when it has no opinion),
 * with its ABI 1.4 16-bit storage flags. */
static int node_class(const cv_plan *p, const cv_node *n, cv_ktensor *kt) {
    const cv_backend_vtable *vt = p->net->e->be.vt;
    if (n->is_view || n->op == CV_OP_ALLREDUCE || !CV_HAS_MEMBER(vt, cv_backend_vtable, layout_class) || !vt->layout_class) return CV_LAYOUT_CLASS_PLAIN;
    const cv_graph *g = p->g;
    const int32_t *io = g->ids + n->io;
    for (int j = 0; j < n->n_in + n->n_out; j++) cv_fill_ktensor(&kt[j], cv_graph_tensor((cv_graph *)g, io[j]));
    cv_kernel k = { .struct_size = sizeof(cv_kernel), .op = n->op, .params = cv_node_params(g, n),
                    .params_size = n->params_size, .n_in = n->n_in, .n_out = n->n_out, .in = kt, .out = kt + n->n_in };
    const int c = vt->layout_class(p->net->e->be.self, &k), base = c & CV_LAYOUT_CLASS_MASK;
    const int flags = c & (CV_LAYOUT_CLASS_BF16 | CV_LAYOUT_CLASS_F16);
    return base == CV_LAYOUT_CLASS_UNIFORM || base == CV_LAYOUT_CLASS_FREE ? base | flags : CV_LAYOUT_CLASS_PLAIN;
}

/* store tensor t of the plan's graph in the 16-bit dtype dt (its storage is its own) */
static void narrow(cv_graph *g, cv_tensor *t, int dt) {
    t->dtype = dt;
    g->storages[t->storage].bytes = cv_shape_numel(&t->shape) * (int64_t)cv_dtype_size(dt);
}

int cv_plan_layouts(cv_plan *p, cv_error *err) {
    cv_graph *g = p->g;
    cv_free(p->layout);
    p->layout = NULL;
    const char *env = getenv("CVNETS_LAYOUT");
    const int blocked = blocked_layout(p->net->e->be.vt);
    if ((env && strcmp(env, "plain") == 0) || blocked == CV_LAYOUT_PLAIN) return CV_OK;
    const int allow_half = !(env && strcmp(env, "f32") == 0);
    const int32_t nt = g->n_tensors;
    int32_t *up = cv_alloc_array((size_t)nt + 1, sizeof *up);
    int32_t *holders = cv_alloc_array((size_t)g->n_storages + 1, sizeof *holders);
    uint8_t *cls = cv_alloc_array((size_t)g->n_nodes + 1, 1);
    uint8_t *bad = cv_alloc_array((size_t)nt + 1, 1), *gain = cv_alloc_array((size_t)nt + 1, 1);
    uint8_t *half = cv_alloc_array((size_t)nt + 1, 1); /* the 16-bit flags every node of the group sets */
    cv_ktensor *kt = NULL;
    int32_t max_io = 0;
    for (int32_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].n_in + g->nodes[i].n_out > max_io) max_io = g->nodes[i].n_in + g->nodes[i].n_out;
    kt = cv_alloc_array((size_t)max_io + 1, sizeof *kt);
    int st = CV_OK;
    if (!up || !holders || !cls || !bad || !gain || !half || !kt) {
        st = cv_set_error(err, CV_ERR_NOMEM, "engine: out of memory choosing layouts");
        goto done;
    }
    for (int32_t t = 0; t < nt; t++) {
        up[t] = t;
        half[t] = allow_half ? CV_LAYOUT_CLASS_BF16 | CV_LAYOUT_CLASS_F16 : 0;
        cv_tensor *x = cv_graph_tensor(g, t);
        if (x->storage >= 0) holders[x->storage]++;
    }
    int any = 0;
    for (int32_t i = 0; i < g->n_nodes; i++) {
        const cv_node *n = &g->nodes[i];
        cls[i] = (uint8_t)node_class(p, n, kt);
        if ((cls[i] & CV_LAYOUT_CLASS_MASK) != CV_LAYOUT_CLASS_UNIFORM) continue;
        const int32_t *io = g->ids + n->io;
        int32_t first = -1;
        for (int j = 0; j < n->n_in + n->n_out; j++) {
            if (cv_graph_tensor(g, io[j])->shape.ndim != 4) continue;
            if (first < 0) first = io[j];
            else join(up, first, io[j]);
        }
    }
    for (int32_t t = 0; t < nt; t++) {
        cv_tensor *x = cv_graph_tensor(g, t);
        if (x->storage < 0 || !candidate(g, x, holders, blocked)) bad[find(up, t)] = 1;
    }
    for (int32_t i = 0; i < g->n_nodes; i++) {
        const cv_node *n = &g->nodes[i];
        const int32_t *io = g->ids + n->io;
        const int c = cls[i] & CV_LAYOUT_CLASS_MASK;
        for (int j = 0; j < n->n_in + n->n_out; j++) {
            int32_t r = find(up, io[j]);
            if (c == CV_LAYOUT_CLASS_PLAIN) bad[r] = 1;
            else if (c == CV_LAYOUT_CLASS_FREE) gain[r] = 1;
            half[r] &= cls[i];
        }
    }
    p->layout = cv_alloc_array((size_t)g->n_ids + 1, 1);
    if (!p->layout) {
        st = cv_set_error(err, CV_ERR_NOMEM, "engine: out of memory choosing layouts");
        goto done;
    }
    for (int32_t s = 0; s < g->n_ids; s++) {
        int32_t r = find(up, g->ids[s]);
        p->layout[s] = !bad[r] && gain[r] ? (uint8_t)blocked : CV_LAYOUT_PLAIN;
        any |= p->layout[s];
    }
    if (!any) {
        cv_free(p->layout);
        p->layout = NULL;
    }
    for (int32_t t = 0; t < nt; t++) {
        int32_t r = find(up, t);
        if (bad[r] || !gain[r] || !half[r]) continue;
        narrow(g, cv_graph_tensor(g, t), half[r] & CV_LAYOUT_CLASS_BF16 ? CV_BF16 : CV_F16);
    }
done:
    cv_free(up);
    cv_free(holders);
    cv_free(cls);
    cv_free(bad);
    cv_free(gain);
    cv_free(half);
    cv_free(kt);
    return st;
}

int cv_tensor_layout(const cv_plan *p, const cv_tensor *t) {
    const cv_graph *g = p->g;
    if (!p->layout) return CV_LAYOUT_PLAIN;
    for (int32_t i = 0; i < g->n_nodes; i++) {
        const cv_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in + n->n_out; j++)
            if (g->ids[n->io + j] == t->id) return p->layout[n->io + j];
    }
    return CV_LAYOUT_PLAIN;
}
