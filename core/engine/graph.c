/* core/engine/graph.c — the traced graph: tensors, storages and nodes recorded in
 * call order, name scopes, and the sticky error.  Tensor handles live in fixed
 * blocks so pointers given to plugins stay valid while the graph grows. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void *cv_grow(void *p, int32_t *cap, int32_t need, size_t elem) {
    if (need <= *cap) return p;
    int64_t nc = *cap ? *cap : 16;
    while (nc < need) nc *= 2;
    if (nc > INT32_MAX) return NULL;
    void *q = cv_alloc_array((size_t)nc, elem);
    if (!q) return NULL;
    if (p && *cap) memcpy(q, p, (size_t)*cap * elem);
    cv_free(p);
    *cap = (int32_t)nc;
    return q;
}

uint64_t cv_hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

cv_graph *cv_graph_new(cv_net *net, const cv_shape *in_shape, int training, int soft_targets) {
    cv_graph *g = cv_alloc_array(1, sizeof *g);
    if (!g) return NULL;
    g->net = net;
    g->training = training;
    g->soft_targets = soft_targets;
    g->in_shape = *in_shape;
    cv_error_init(&g->err);
    g->cur_scope = -1;
    g->backward_scope = -2;
    g->seed_node = -1;
    return g;
}

void cv_graph_free(cv_graph *g, const cv_backend_ref *be) {
    if (!g) return;
    (void)be;
    for (int i = 0; i < g->n_blocks; i++) cv_free(g->blocks[i]);
    cv_free(g->blocks);
    cv_free(g->nodes);
    cv_free(g->ids);
    cv_free(g->pbytes);
    cv_free(g->storages);
    for (int i = 0; i < g->n_scopes; i++) cv_free(g->scopes[i]);
    cv_free(g->scopes);
    cv_free(g->param_tensor);
    cv_free(g);
}

cv_tensor *cv_graph_tensor(cv_graph *g, int32_t id) {
    if (id < 0 || id >= g->n_tensors) return NULL;
    return &g->blocks[id / CV_TENSOR_BLOCK][id % CV_TENSOR_BLOCK];
}

int cv_graph_failv(cv_graph *g, int status, const char *fmt, ...) {
    if (g->err.status != CV_OK) return g->err.status;
    char msg[CV_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g->scope_path[0]) cv_set_error(&g->err, status, "in %s: %s", g->scope_path, msg);
    else cv_set_error(&g->err, status, "%s", msg);
    return g->err.status;
}

int32_t cv_graph_new_storage(cv_graph *g, int where, int64_t bytes, int64_t offset) {
    cv_storage *s = cv_grow(g->storages, &g->cap_storages, g->n_storages + 1, sizeof *s);
    if (!s) return cv_graph_failv(g, CV_ERR_NOMEM, "out of memory while tracing"), -1;
    g->storages = s;
    int32_t id = g->n_storages++;
    s[id] = (cv_storage){ .where = where, .rep = id, .bytes = bytes, .offset = offset, .def = INT32_MAX, .last = -1 };
    return id;
}

static cv_tensor *alloc_tensor(cv_graph *g) {
    if (g->n_tensors == g->n_blocks * CV_TENSOR_BLOCK) {
        cv_tensor **b = cv_grow(g->blocks, &g->cap_blocks, g->n_blocks + 1, sizeof *b);
        if (!b) return NULL;
        g->blocks = b;
        b[g->n_blocks] = cv_alloc_array(CV_TENSOR_BLOCK, sizeof(cv_tensor));
        if (!b[g->n_blocks]) return NULL;
        g->n_blocks++;
    }
    cv_tensor *t = &g->blocks[g->n_tensors / CV_TENSOR_BLOCK][g->n_tensors % CV_TENSOR_BLOCK];
    memset(t, 0, sizeof *t);
    t->id = g->n_tensors++;
    t->g = g;
    t->producer = -1;
    t->param = -1;
    t->storage = -1;
    return t;
}

cv_tensor *cv_graph_new_tensor(cv_graph *g, int dtype, const cv_shape *shape, int32_t kind) {
    int64_t bytes = 0;
    char sb[96];
    int st = cv_shape_valid(shape, dtype, &bytes);
    if (st != CV_OK) {
        cv_graph_failv(g, st, "tensor %s %s: %s", cv_shape_str(shape, sb, sizeof sb), cv_dtype_name(dtype),
                       st == CV_ERR_NOMEM ? "its byte size overflows 64 bits" : "sizes must be >= 1 and at most 5 dims");
        return NULL;
    }
    cv_tensor *t = alloc_tensor(g);
    if (!t) return cv_graph_failv(g, CV_ERR_NOMEM, "out of memory while tracing"), NULL;
    t->dtype = dtype;
    t->shape = *shape;
    t->kind = kind < 0 ? CV_T_ACT : kind;
    if (kind == CV_T_ACT || kind == CV_T_INPUT) {
        t->storage = cv_graph_new_storage(g, CV_STORE_ARENA, bytes, 0);
        if (t->storage < 0) return NULL;
    }
    return t;
}

static int32_t intern_scope(cv_graph *g) {
    if (g->backward_scope != -2) return g->backward_scope;
    if (!g->scope_path[0]) return -1;
    if (g->cur_scope >= 0) return g->cur_scope;
    char **s = cv_grow(g->scopes, &g->cap_scopes, g->n_scopes + 1, sizeof *s);
    if (!s) return -1;
    g->scopes = s;
    s[g->n_scopes] = cv_strdup(g->scope_path);
    if (!s[g->n_scopes]) return -1;
    return g->cur_scope = g->n_scopes++;
}

int32_t cv_graph_add_node(cv_graph *g, int op, cv_tensor *const *in, int n_in, cv_tensor *const *out, int n_out,
                          const void *params, size_t params_size) {
    cv_node *nodes = cv_grow(g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *nodes);
    int32_t *ids = nodes ? cv_grow(g->ids, &g->cap_ids, g->n_ids + n_in + n_out, sizeof *ids) : NULL;
    if (nodes) g->nodes = nodes;
    if (ids) g->ids = ids;
    int32_t poff = -1;
    if (params && params_size) {
        int32_t need = (g->n_pbytes + 7) & ~7;
        unsigned char *pb = cv_grow(g->pbytes, &g->cap_pbytes, need + (int32_t)params_size, 1);
        if (!pb) ids = NULL;
        else {
            g->pbytes = pb;
            memcpy(pb + need, params, params_size);
            poff = need;
            g->n_pbytes = need + (int32_t)params_size;
        }
    }
    if (!nodes || !ids) return cv_graph_failv(g, CV_ERR_NOMEM, "out of memory while tracing"), -1;
    int32_t idx = g->n_nodes++;
    cv_node *n = &g->nodes[idx];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->n_in = n_in;
    n->n_out = n_out;
    n->io = g->n_ids;
    n->params_off = poff;
    n->params_size = (uint32_t)(poff >= 0 ? params_size : 0);
    n->scope = intern_scope(g);
    n->workspace = -1;
    n->teacher = g->frozen;
    int rg = 0;
    for (int i = 0; i < n_in; i++) {
        g->ids[g->n_ids++] = in[i]->id;
        rg |= in[i]->requires_grad;
    }
    for (int i = 0; i < n_out; i++) {
        g->ids[g->n_ids++] = out[i]->id;
        out[i]->producer = idx;
        out[i]->requires_grad = rg;
    }
    return idx;
}

cv_tensor *cv_graph_emit(cv_graph *g, int op, cv_tensor *const *in, int n_in, const void *params, size_t params_size) {
    cv_shape shapes[3];
    int32_t dts[3] = { CV_F32, CV_F32, CV_F32 };
    int n_out = cv_infer(g, op, in, n_in, params, shapes, dts, 3);
    if (n_out < 1) return NULL;
    cv_tensor *out[3] = { NULL, NULL, NULL };
    for (int i = 0; i < n_out; i++) {
        char sb[2][96];
        int st = cv_shape_valid(&shapes[i], dts[i], NULL);
        if (st != CV_OK)
            return cv_graph_failv(g, st, "%s: output %s %s for input %s %s", cv_op_name(op),
                                  cv_shape_str(&shapes[i], sb[0], sizeof sb[0]), cv_dtype_name(dts[i]),
                                  n_in ? cv_shape_str(&in[0]->shape, sb[1], sizeof sb[1]) : "[]",
                                  st == CV_ERR_NOMEM ? "overflows 64-bit byte sizes" : "has a size below 1"), NULL;
        if (!(out[i] = cv_graph_new_tensor(g, dts[i], &shapes[i], CV_T_ACT))) return NULL;
    }
    int32_t idx = cv_graph_add_node(g, op, in, n_in, out, n_out, params, params_size);
    if (idx < 0) return NULL;
    g->nodes[idx].macs = cv_op_macs(op, in, n_in, &shapes[0], params);
    return out[0];
}

/* An alias of x: the same storage at x's offset + byte_offset.  Recorded as a node
 * (op RESHAPE or SLICE) so autograd sees it; the node runs no kernel. */
static cv_tensor *make_view(cv_graph *g, int op, cv_tensor *x, const cv_shape *shape, int64_t byte_offset,
                            const void *params, size_t params_size) {
    cv_tensor *t = cv_graph_new_tensor(g, x->dtype, shape, CV_T_ALIAS);
    if (!t) return NULL;
    t->storage = x->storage;
    t->offset = x->offset + byte_offset;
    int32_t idx = cv_graph_add_node(g, op, &x, 1, &t, 1, params, params_size);
    if (idx < 0) return NULL;
    g->nodes[idx].is_view = 1;
    return t;
}

cv_tensor *cv_graph_view(cv_graph *g, cv_tensor *x, const cv_shape *shape) {
    if (cv_shape_equal(&x->shape, shape)) return x;
    cv_reshape_params p = { *shape };
    return make_view(g, CV_OP_RESHAPE, x, shape, 0, &p, sizeof p);
}

cv_tensor *cv_graph_fill(cv_graph *g, const cv_shape *shape, int dtype, float value) {
    cv_tensor *t = cv_graph_new_tensor(g, dtype, shape, CV_T_ACT);
    if (!t) return NULL;
    cv_scalar_params p = { CV_S_ADD, value };
    if (cv_graph_add_node(g, CV_OP_FILL, NULL, 0, &t, 1, &p, sizeof p) < 0) return NULL;
    return t;
}

cv_tensor *cv_graph_binary(cv_graph *g, cv_tensor *a, cv_tensor *b, int fn) {
    if (!a || !b) return NULL;
    cv_binary_params p = { fn };
    cv_tensor *in[2] = { a, b };
    return cv_graph_emit(g, CV_OP_BINARY, in, 2, &p, sizeof p);
}

cv_tensor *cv_graph_scalar(cv_graph *g, cv_tensor *x, int fn, float v) {
    if (!x) return NULL;
    cv_scalar_params p = { fn, v };
    return cv_graph_emit(g, CV_OP_SCALAR, &x, 1, &p, sizeof p);
}

cv_tensor *cv_graph_unary(cv_graph *g, cv_tensor *x, int fn) {
    if (!x) return NULL;
    cv_unary_params p = { fn, 0 };
    return cv_graph_emit(g, CV_OP_UNARY, &x, 1, &p, sizeof p);
}

/* ---- the cv.ops.v1 table ---------------------------------------------------------------- */
static cv_tensor *op_input(cv_graph *g, int index) {
    if (!g) return NULL;
    if (index < 0 || index > 1) return cv_graph_failv(g, CV_ERR_INVALID, "input: index %d (0 images, 1 targets)", index), NULL;
    if (g->inputs[index]) return g->inputs[index];
    cv_shape s = g->in_shape;
    int dt = CV_F32;
    if (index == 1) {
        if (g->soft_targets) s = CV_SHAPE(g->in_shape.dim[0], g->net ? g->net->num_classes : 1);
        else {
            s = CV_SHAPE(g->in_shape.dim[0]);
            dt = CV_I32;
        }
    }
    cv_tensor *t = cv_graph_new_tensor(g, dt, &s, CV_T_INPUT);
    if (!t) return NULL;
    g->storages[t->storage].pinned = 1;
    g->storages[t->storage].def = -1;
    return g->inputs[index] = t;
}

static int op_shape(const cv_tensor *t, cv_shape *out) {
    if (!t || !out) return CV_ERR_INVALID;
    *out = t->shape;
    return CV_OK;
}

static int op_dtype(const cv_tensor *t) { return t ? t->dtype : CV_ERR_INVALID; }
static int op_training(const cv_graph *g) { return g ? g->training : 0; }

static cv_tensor *op_constant(cv_graph *g, const cv_shape *shape, int dtype, float value) {
    if (!g || g->err.status) return NULL;
    if (!shape) return cv_graph_failv(g, CV_ERR_INVALID, "constant: NULL shape"), NULL;
    return cv_graph_fill(g, shape, dtype, value);
}

static void op_scope_push(cv_graph *g, const char *fmt, ...) {
    if (!g) return;
    char comp[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(comp, sizeof comp, fmt, ap);
    va_end(ap);
    size_t len = strlen(g->scope_path), add = strlen(comp) + (len ? 1 : 0);
    if (g->scope_overflow || g->scope_depth >= 32 || len + add >= sizeof g->scope_path) {
        g->scope_overflow++;
        return;
    }
    g->scope_len[g->scope_depth++] = (int32_t)len;
    snprintf(g->scope_path + len, sizeof g->scope_path - len, "%s%s", len ? "." : "", comp);
    g->cur_scope = -1;
}

static void op_scope_pop(cv_graph *g) {
    if (!g) return;
    if (g->scope_overflow) {
        g->scope_overflow--;
        return;
    }
    if (g->scope_depth == 0) return;
    g->scope_path[g->scope_len[--g->scope_depth]] = 0;
    g->cur_scope = -1;
}

static int op_fail(cv_graph *g, int status, const char *fmt, ...) {
    if (!g) return status;
    char msg[CV_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cv_graph_failv(g, status ? status : CV_ERR_INVALID, "%s", msg);
}

static int op_failed(const cv_graph *g) { return g ? g->err.status != CV_OK : 1; }

static cv_tensor *op_param(cv_graph *g, const char *name, const cv_shape *shape, cv_init init, uint32_t tags) {
    if (!g || g->err.status) return NULL;
    return cv_graph_param(g, name, shape, init, g->frozen ? tags | CV_TAG_BUFFER : tags);
}

/* slice along axis is one contiguous byte range when every dim before it is 1 */
cv_tensor *cv_graph_slice(cv_graph *g, cv_tensor *x, const cv_slice_params *p) {
    cv_shape s;
    int32_t dt[3];
    if (cv_infer(g, CV_OP_SLICE, &x, 1, p, &s, dt, 1) < 0) return NULL;
    cv_slice_params q = *p; /* kernels and rules get a non-negative axis */
    int ax = q.axis = p->axis < 0 ? p->axis + x->shape.ndim : p->axis;
    q.reserved = 0;
    int contiguous = 1;
    for (int i = 0; i < ax; i++)
        if (x->shape.dim[i] != 1) contiguous = 0;
    if (!contiguous) return cv_graph_emit(g, CV_OP_SLICE, &x, 1, &q, sizeof q);
    int64_t inner = (int64_t)cv_dtype_size(x->dtype);
    for (int i = ax + 1; i < x->shape.ndim; i++) inner *= x->shape.dim[i];
    return make_view(g, CV_OP_SLICE, x, &s, q.start * inner, &q, sizeof q);
}

static cv_tensor *op_op(cv_graph *g, int op, cv_tensor *const *inputs, int n_inputs, const void *params,
                        size_t params_size) {
    if (!g || g->err.status) return NULL;
    const char *nm = cv_op_name(op);
    if (op < CV_OP_CONV2D || op > CV_OP_SUM_TO)
        return cv_graph_failv(g, CV_ERR_INVALID, "op %d (%s) is not a forward op that models may record", op, nm), NULL;
    if (n_inputs < 1 || n_inputs > 64 || !inputs)
        return cv_graph_failv(g, CV_ERR_INVALID, "%s: %d inputs", nm, n_inputs), NULL;
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i]) return cv_graph_failv(g, CV_ERR_INVALID, "%s: input %d is NULL (an earlier op failed?)", nm, i), NULL;
        if (inputs[i]->g != g)
            return cv_graph_failv(g, CV_ERR_INVALID, "%s: input %d belongs to another graph", nm, i), NULL;
    }
    int want = cv_op_params_size(op);
    if ((size_t)want != params_size || (want > 0 && !params))
        return cv_graph_failv(g, CV_ERR_INVALID, "%s: params size %zu, expected %d", nm, params_size, want), NULL;
    switch (op) {
    case CV_OP_RESHAPE: {
        cv_shape s;
        int32_t dt[3];
        if (cv_infer(g, op, inputs, n_inputs, params, &s, dt, 1) < 0) return NULL;
        cv_reshape_params p = { s };
        return make_view(g, CV_OP_RESHAPE, inputs[0], &s, 0, &p, sizeof p);
    }
    case CV_OP_SLICE:
        if (n_inputs != 1) return cv_graph_failv(g, CV_ERR_INVALID, "slice: expects 1 input, got %d", n_inputs), NULL;
        return cv_graph_slice(g, inputs[0], params);
    case CV_OP_DROPOUT: case CV_OP_DROP_PATH: {
        const cv_dropout_params *p = params;
        cv_shape s[3];
        int32_t dt[3];
        if (cv_infer(g, op, inputs, n_inputs, params, s, dt, 3) < 0) return NULL;
        if (!g->training || p->p == 0) return inputs[0]; /* identity */
        break;
    }
    case CV_OP_PAD: {
        /* entries past the input's dims mean nothing: zero them so kernels and the
         * gradient rule never see garbage */
        cv_pad_params pp = *(const cv_pad_params *)params;
        for (int d = inputs[0]->shape.ndim; d < CV_MAX_DIMS; d++) pp.before[d] = pp.after[d] = 0;
        return cv_graph_emit(g, op, inputs, n_inputs, &pp, sizeof pp);
    }
    case CV_OP_PERMUTE: {
        cv_permute_params pp = *(const cv_permute_params *)params;
        for (int d = inputs[0]->shape.ndim; d < CV_MAX_DIMS; d++) pp.perm[d] = d;
        return cv_graph_emit(g, op, inputs, n_inputs, &pp, sizeof pp);
    }
    case CV_OP_BROADCAST_TO: case CV_OP_SUM_TO: {
        cv_reshape_params rp = *(const cv_reshape_params *)params;
        for (int d = rp.shape.ndim < 0 ? 0 : rp.shape.ndim; d < CV_MAX_DIMS; d++) rp.shape.dim[d] = 0;
        rp.shape.reserved = 0;
        return cv_graph_emit(g, op, inputs, n_inputs, &rp, sizeof rp);
    }
    case CV_OP_CONCAT: case CV_OP_SOFTMAX: {
        /* a non-negative axis for kernels (both params start with the axis) */
        union { cv_axis_params a; cv_softmax_params s; } u;
        memcpy(&u, params, params_size);
        int32_t *axis = op == CV_OP_CONCAT ? &u.a.axis : &u.s.axis;
        if (*axis < 0 && *axis >= -inputs[0]->shape.ndim) *axis += inputs[0]->shape.ndim;
        return cv_graph_emit(g, op, inputs, n_inputs, &u, params_size);
    }
    case CV_OP_BATCH_NORM:
        if (g->training && g->net && g->net->collective && ((const cv_norm_params *)params)->training)
            return cv_syncbn_trace(g, inputs, params); /* SyncBN: statistics over every rank */
        break;
    case CV_OP_CONV3D:
        if (g->training)
            return cv_graph_failv(g, CV_ERR_UNSUPPORTED, "conv3d: no gradient rule yet (only eval graphs)"), NULL;
        break;
    default: break;
    }
    return cv_graph_emit(g, op, inputs, n_inputs, params, params_size);
}

static const cv_ops_v1 engine_ops = {
    .struct_size = sizeof(cv_ops_v1),
    .input = op_input,
    .shape = op_shape,
    .dtype = op_dtype,
    .training = op_training,
    .param = op_param,
    .op = op_op,
    .constant = op_constant,
    .scope_push = op_scope_push,
    .scope_pop = op_scope_pop,
    .fail = op_fail,
    .failed = op_failed,
};

const cv_ops_v1 *cv_engine_ops(void) { return &engine_ops; }
