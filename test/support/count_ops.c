/* test/support/count_ops.c — shape inference, parameter records and MAC counting
 * behind cv_ops_v1 (see count_ops.h).  Only what the model zoo uses is covered;
 * any other op records an error naming it. */
#include "count_ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cv_tensor {
    cv_shape shape;
    int dtype;
};

typedef struct cnt_param {
    char *name;
    cv_tensor *t;
    uint32_t tags;
    cv_init init;
} cnt_param;

struct cv_graph {
    cv_shape input;
    int training;
    cv_tensor **tensors; /* this trace's values (params are kept separately) */
    int n_tensors, cap_tensors;
    cnt_param *params;
    int n_params, cap_params;
    char scope[1024];
    int scope_len[64];
    int depth;
    char error[1024];
    int64_t macs;
    int op_counts[128];
};

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) abort(); /* test support only: out of memory ends the test */
    return q;
}

static int g_fail(cv_graph *g, int status, const char *fmt, ...) {
    if (g->error[0]) return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->error, sizeof g->error, fmt, ap);
    va_end(ap);
    if (!g->error[0]) snprintf(g->error, sizeof g->error, "failure");
    return status;
}

static int g_failed(const cv_graph *g) { return g->error[0] != 0; }

const char *cnt_shape_str(const cv_shape *s, char *buf, size_t n) {
    size_t off = 0;
    off += (size_t)snprintf(buf + off, n - off, "[");
    for (int i = 0; i < s->ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s%lld", i ? ", " : "", (long long)s->dim[i]);
    if (off < n) snprintf(buf + off, n - off, "]");
    return buf;
}

static cv_tensor *new_tensor(cv_graph *g, cv_shape s, int dtype) {
    cv_tensor *t = xrealloc(NULL, sizeof *t);
    t->shape = s;
    t->dtype = dtype;
    if (g->n_tensors == g->cap_tensors) {
        g->cap_tensors = g->cap_tensors ? 2 * g->cap_tensors : 256;
        g->tensors = xrealloc(g->tensors, (size_t)g->cap_tensors * sizeof *g->tensors);
    }
    g->tensors[g->n_tensors++] = t;
    return t;
}

static cv_tensor *g_input(cv_graph *g, int index) {
    if (index == 0) return new_tensor(g, g->input, CV_F32);
    if (index == 1) return new_tensor(g, CV_SHAPE(g->input.dim[0]), CV_I32);
    g_fail(g, CV_ERR_INVALID, "input %d does not exist", index);
    return NULL;
}

static int t_shape(const cv_tensor *t, cv_shape *out) {
    if (!t) return CV_ERR_INVALID;
    *out = t->shape;
    return CV_OK;
}
static int t_dtype(const cv_tensor *t) { return t ? t->dtype : -1; }
static int g_training(const cv_graph *g) { return g->training; }

static int same_shape(const cv_shape *a, const cv_shape *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i]) return 0;
    return 1;
}

static cv_tensor *g_param(cv_graph *g, const char *name, const cv_shape *shape, cv_init init, uint32_t tags) {
    char full[1200];
    snprintf(full, sizeof full, "%s%s%s", g->scope, g->scope[0] ? "." : "", name);
    for (int i = 0; i < shape->ndim; i++)
        if (shape->dim[i] <= 0) {
            g_fail(g, CV_ERR_INVALID, "param %s: non-positive dimension", full);
            return NULL;
        }
    for (int i = 0; i < g->n_params; i++)
        if (strcmp(g->params[i].name, full) == 0) {
            if (!same_shape(&g->params[i].t->shape, shape)) {
                char a[96], b[96];
                g_fail(g, CV_ERR_INVALID, "param %s: shape %s on a later trace, %s before", full,
                       cnt_shape_str(shape, a, sizeof a), cnt_shape_str(&g->params[i].t->shape, b, sizeof b));
                return NULL;
            }
            return g->params[i].t;
        }
    if (g->n_params == g->cap_params) {
        g->cap_params = g->cap_params ? 2 * g->cap_params : 64;
        g->params = xrealloc(g->params, (size_t)g->cap_params * sizeof *g->params);
    }
    cnt_param *p = &g->params[g->n_params++];
    p->name = strdup(full);
    p->t = xrealloc(NULL, sizeof *p->t);
    p->t->shape = *shape;
    p->t->dtype = CV_F32;
    p->tags = tags;
    p->init = init;
    return p->t;
}

static cv_tensor *g_constant(cv_graph *g, const cv_shape *shape, int dtype, float value) {
    (void)value;
    return new_tensor(g, *shape, dtype);
}

static void g_scope_push(cv_graph *g, const char *fmt, ...) CV_PRINTF(2, 3);
static void g_scope_push(cv_graph *g, const char *fmt, ...) {
    size_t len = strlen(g->scope);
    if (g->depth >= 64) {
        g_fail(g, CV_ERR_INTERNAL, "scope stack overflow at %s", g->scope);
        return;
    }
    g->scope_len[g->depth++] = (int)len;
    char part[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(part, sizeof part, fmt, ap);
    va_end(ap);
    snprintf(g->scope + len, sizeof g->scope - len, "%s%s", len ? "." : "", part);
}

static void g_scope_pop(cv_graph *g) {
    if (g->depth <= 0) {
        g_fail(g, CV_ERR_INTERNAL, "scope_pop without scope_push");
        return;
    }
    g->scope[g->scope_len[--g->depth]] = 0;
}

static int g_fail_v(cv_graph *g, int status, const char *fmt, ...) CV_PRINTF(3, 4);
static int g_fail_v(cv_graph *g, int status, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return g_fail(g, status, "%s", buf);
}

/* numpy broadcasting of a and b into out; 0 when incompatible */
static int broadcast(const cv_shape *a, const cv_shape *b, cv_shape *out) {
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    out->ndim = n;
    out->reserved = 0;
    for (int i = 0; i < n; i++) {
        int ia = a->ndim - n + i, ib = b->ndim - n + i;
        int64_t da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
        if (da != db && da != 1 && db != 1) return 0;
        out->dim[i] = da == 1 ? db : da;
    }
    return 1;
}

static int norm_axis(int axis, int ndim) { return axis < 0 ? axis + ndim : axis; }

static cv_tensor *bad(cv_graph *g, const char *op, cv_tensor *const *in, int n, const char *why) {
    char msg[768] = "", buf[96];
    size_t off = 0;
    for (int i = 0; i < n && off < sizeof msg; i++)
        off += (size_t)snprintf(msg + off, sizeof msg - off, " %s",
                                in[i] ? cnt_shape_str(&in[i]->shape, buf, sizeof buf) : "NULL");
    g_fail(g, CV_ERR_INVALID, "%s at %s: %s (inputs%s)", op, g->scope[0] ? g->scope : "top", why, msg);
    return NULL;
}

static cv_tensor *g_op(cv_graph *g, int op, cv_tensor *const *in, int n, const void *params, size_t psize) {
    if (g_failed(g)) return NULL;
    for (int i = 0; i < n; i++)
        if (!in[i]) return bad(g, "op", in, n, "NULL input");
    if (op >= 0 && op < 128) g->op_counts[op]++;
    cv_shape s = n > 0 ? in[0]->shape : (cv_shape){ 0, 0, { 0 } };
    switch (op) {
    case CV_OP_CONV2D: {
        const cv_conv_params *p = params;
        if (!p || psize < sizeof *p || n < 2 || s.ndim != 4 || in[1]->shape.ndim != 4)
            return bad(g, "conv2d", in, n, "needs x[N,C,H,W], w[O,C/g,kh,kw]");
        const cv_shape *w = &in[1]->shape;
        if (p->groups < 1 || s.dim[1] != w->dim[1] * p->groups || w->dim[0] % p->groups)
            return bad(g, "conv2d", in, n, "channels do not match weight and groups");
        if (n > 2 && (in[2]->shape.ndim != 1 || in[2]->shape.dim[0] != w->dim[0]))
            return bad(g, "conv2d", in, n, "bias is not [O]");
        cv_shape o = s;
        o.dim[1] = w->dim[0];
        for (int i = 0; i < 2; i++) {
            int64_t k = w->dim[2 + i], eff = (int64_t)p->dilation[i] * (k - 1) + 1;
            int64_t v = s.dim[2 + i] + 2 * p->pad[i] - eff;
            if (v < 0 || p->stride[i] < 1) return bad(g, "conv2d", in, n, "kernel larger than the padded input");
            o.dim[2 + i] = v / p->stride[i] + 1;
        }
        g->macs += cv_shape_numel(&o) * w->dim[1] * w->dim[2] * w->dim[3];
        return new_tensor(g, o, CV_F32);
    }
    case CV_OP_LINEAR: {
        const cv_shape *w = &in[1]->shape;
        if (n < 2 || w->ndim != 2 || s.ndim < 1 || s.dim[s.ndim - 1] != w->dim[1])
            return bad(g, "linear", in, n, "needs x[..,K], w[N,K]");
        if (n > 2 && (in[2]->shape.ndim != 1 || in[2]->shape.dim[0] != w->dim[0]))
            return bad(g, "linear", in, n, "bias is not [N]");
        cv_shape o = s;
        o.dim[o.ndim - 1] = w->dim[0];
        g->macs += cv_shape_numel(&o) * w->dim[1];
        return new_tensor(g, o, CV_F32);
    }
    case CV_OP_MATMUL: {
        const cv_matmul_params *p = params;
        cv_shape a = s, b = in[1]->shape;
        if (!p || n != 2 || a.ndim < 2 || b.ndim < 2) return bad(g, "matmul", in, n, "needs two >= 2-D inputs");
        int64_t m = p->trans_a ? a.dim[a.ndim - 1] : a.dim[a.ndim - 2];
        int64_t ka = p->trans_a ? a.dim[a.ndim - 2] : a.dim[a.ndim - 1];
        int64_t kb = p->trans_b ? b.dim[b.ndim - 1] : b.dim[b.ndim - 2];
        int64_t nn = p->trans_b ? b.dim[b.ndim - 2] : b.dim[b.ndim - 1];
        if (ka != kb) return bad(g, "matmul", in, n, "inner dimensions differ");
        cv_shape ba = a, bb = b, o;
        ba.ndim -= 2;
        bb.ndim -= 2;
        if (!broadcast(&ba, &bb, &o)) return bad(g, "matmul", in, n, "batch dims do not broadcast");
        o.dim[o.ndim] = m;
        o.dim[o.ndim + 1] = nn;
        o.ndim += 2;
        g->macs += cv_shape_numel(&o) * ka;
        return new_tensor(g, o, CV_F32);
    }
    case CV_OP_BATCH_NORM:
    case CV_OP_GROUP_NORM:
    case CV_OP_LAYER_NORM: {
        int need = op == CV_OP_BATCH_NORM ? 5 : 3;
        if (n != need || s.ndim < 2) return bad(g, "norm", in, n, "wrong input count or rank");
        int64_t c = op == CV_OP_LAYER_NORM ? s.dim[s.ndim - 1] : s.dim[1];
        for (int i = 1; i < n; i++)
            if (in[i]->shape.ndim != 1 || in[i]->shape.dim[0] != c) return bad(g, "norm", in, n, "params are not [C]");
        if (op == CV_OP_GROUP_NORM) {
            const cv_norm_params *p = params;
            if (!p || p->groups < 1 || c % p->groups) return bad(g, "group_norm", in, n, "C not divisible by groups");
        }
        return new_tensor(g, s, CV_F32);
    }
    case CV_OP_UNARY:
    case CV_OP_SCALAR:
    case CV_OP_SOFTMAX:
    case CV_OP_DROPOUT:
    case CV_OP_DROP_PATH:
        if (n != 1) return bad(g, "elementwise", in, n, "needs one input");
        return new_tensor(g, s, in[0]->dtype);
    case CV_OP_CAST: {
        const cv_cast_params *p = params;
        return new_tensor(g, s, p ? p->dtype : CV_F32);
    }
    case CV_OP_BINARY: {
        cv_shape o;
        if (n != 2 || !broadcast(&s, &in[1]->shape, &o)) return bad(g, "binary", in, n, "shapes do not broadcast");
        return new_tensor(g, o, in[0]->dtype);
    }
    case CV_OP_REDUCE: {
        const cv_reduce_params *p = params;
        cv_shape o = { 0, 0, { 0 } };
        for (int i = 0; i < s.ndim; i++) {
            if (p->axes & (1u << i)) {
                if (p->keepdim) o.dim[o.ndim++] = 1;
            } else {
                o.dim[o.ndim++] = s.dim[i];
            }
        }
        return new_tensor(g, o, CV_F32);
    }
    case CV_OP_POOL2D: {
        const cv_pool_params *p = params;
        if (s.ndim != 4) return bad(g, "pool2d", in, n, "needs [N,C,H,W]");
        cv_shape o = s;
        for (int i = 0; i < 2; i++) {
            int64_t v = s.dim[2 + i] + 2 * p->pad[i] - p->kernel[i];
            if (v < 0) return bad(g, "pool2d", in, n, "window larger than the padded input");
            o.dim[2 + i] = (p->ceil_mode ? (v + p->stride[i] - 1) / p->stride[i] : v / p->stride[i]) + 1;
        }
        return new_tensor(g, o, CV_F32);
    }
    case CV_OP_ADAPTIVE_AVG_POOL2D:
    case CV_OP_RESIZE: {
        const cv_resize_params *p = params;
        if (s.ndim != 4 || p->out_h < 1 || p->out_w < 1) return bad(g, "resize/pool", in, n, "bad output size");
        s.dim[2] = p->out_h;
        s.dim[3] = p->out_w;
        return new_tensor(g, s, CV_F32);
    }
    case CV_OP_CONCAT: {
        const cv_axis_params *p = params;
        int ax = norm_axis(p->axis, s.ndim);
        cv_shape o = s;
        for (int i = 1; i < n; i++) {
            cv_shape t = in[i]->shape;
            if (t.ndim != s.ndim) return bad(g, "concat", in, n, "ranks differ");
            for (int d = 0; d < s.ndim; d++)
                if (d != ax && t.dim[d] != s.dim[d]) return bad(g, "concat", in, n, "shapes differ off the axis");
            o.dim[ax] += t.dim[ax];
        }
        return new_tensor(g, o, in[0]->dtype);
    }
    case CV_OP_SLICE: {
        const cv_slice_params *p = params;
        int ax = norm_axis(p->axis, s.ndim);
        if (ax < 0 || ax >= s.ndim || p->start < 0 || p->length < 1 || p->start + p->length > s.dim[ax])
            return bad(g, "slice", in, n, "range outside the axis");
        s.dim[ax] = p->length;
        return new_tensor(g, s, in[0]->dtype);
    }
    case CV_OP_PAD: {
        const cv_pad_params *p = params;
        for (int i = 0; i < s.ndim; i++) s.dim[i] += p->before[i] + p->after[i];
        return new_tensor(g, s, in[0]->dtype);
    }
    case CV_OP_RESHAPE:
    case CV_OP_BROADCAST_TO: {
        const cv_reshape_params *p = params;
        cv_shape o = p->shape;
        if (op == CV_OP_RESHAPE && cv_shape_numel(&o) != cv_shape_numel(&s))
            return bad(g, "reshape", in, n, "element count changes");
        if (op == CV_OP_BROADCAST_TO) {
            cv_shape b;
            if (!broadcast(&s, &o, &b) || !same_shape(&b, &o)) return bad(g, "broadcast_to", in, n, "not broadcastable");
        }
        return new_tensor(g, o, in[0]->dtype);
    }
    case CV_OP_PERMUTE: {
        const cv_permute_params *p = params;
        cv_shape o = s;
        unsigned seen = 0;
        for (int i = 0; i < s.ndim; i++) {
            if (p->perm[i] < 0 || p->perm[i] >= s.ndim || (seen & (1u << p->perm[i])))
                return bad(g, "permute", in, n, "not a permutation");
            seen |= 1u << p->perm[i];
            o.dim[i] = s.dim[p->perm[i]];
        }
        return new_tensor(g, o, in[0]->dtype);
    }
    case CV_OP_CROSS_ENTROPY:
        return new_tensor(g, CV_SHAPE(1), CV_F32);
    default: {
        char why[64];
        snprintf(why, sizeof why, "op %d not modelled by count_ops", op);
        return bad(g, "op", in, n, why);
    }
    }
}

static const cv_ops_v1 cnt_table = {
    sizeof(cv_ops_v1), g_input, t_shape, t_dtype, g_training, g_param, g_op, g_constant,
    g_scope_push, g_scope_pop, g_fail_v, g_failed,
};

const cv_ops_v1 *cnt_ops(void) { return &cnt_table; }

cv_graph *cnt_graph_new(cv_shape input, int training) {
    cv_graph *g = calloc(1, sizeof *g);
    if (!g) abort();
    g->input = input;
    g->training = training;
    return g;
}

void cnt_graph_retrace(cv_graph *g, cv_shape input, int training) {
    for (int i = 0; i < g->n_tensors; i++) free(g->tensors[i]);
    g->n_tensors = 0;
    g->input = input;
    g->training = training;
    g->scope[0] = 0;
    g->depth = 0;
    g->error[0] = 0;
    g->macs = 0;
    memset(g->op_counts, 0, sizeof g->op_counts);
}

void cnt_graph_free(cv_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_tensors; i++) free(g->tensors[i]);
    for (int i = 0; i < g->n_params; i++) {
        free(g->params[i].name);
        free(g->params[i].t);
    }
    free(g->tensors);
    free(g->params);
    free(g);
}

const char *cnt_error(const cv_graph *g) { return g->error; }
int64_t cnt_macs(const cv_graph *g) { return g->macs; }
int64_t cnt_trainable(const cv_graph *g) {
    int64_t n = 0;
    for (int i = 0; i < g->n_params; i++)
        if (!(g->params[i].tags & CV_TAG_BUFFER)) n += cv_shape_numel(&g->params[i].t->shape);
    return n;
}
int cnt_op_count(const cv_graph *g, int op) { return op >= 0 && op < 128 ? g->op_counts[op] : 0; }
int cnt_param_count(const cv_graph *g) { return g->n_params; }
const char *cnt_param_name(const cv_graph *g, int i) { return g->params[i].name; }
cv_shape cnt_param_shape(const cv_graph *g, int i) { return g->params[i].t->shape; }
uint32_t cnt_param_tags(const cv_graph *g, int i) { return g->params[i].tags; }
cv_init cnt_param_init(const cv_graph *g, int i) { return g->params[i].init; }
int cnt_param_find(const cv_graph *g, const char *name) {
    for (int i = 0; i < g->n_params; i++)
        if (strcmp(g->params[i].name, name) == 0) return i;
    return -1;
}
