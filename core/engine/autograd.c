/* core/engine/autograd.c — reverse-mode differentiation of a traced graph: walks
 * the forward nodes backwards and appends, for each, the nodes of its gradient
 * rule (using the internal op kinds of cvnets/ops.h).  Gradients reaching a tensor
 * from several uses are summed with BINARY ADD; broadcasting is undone with
 * SUM_TO.  Final parameter gradients are written into the flat gradient buffer:
 * directly by the node that computes them when possible (no copy), otherwise by a
 * COPY, or by AXPBY(1, 1) when gradients accumulate over micro-batches. */
#include "internal.h"

#include <string.h>

typedef struct ad {
    cv_graph *g;
    int32_t *grad;   /* forward tensor id -> gradient tensor id, -1 */
    int32_t n;
} ad;

static cv_tensor *T(cv_graph *g, int32_t id) { return cv_graph_tensor(g, id); }

/* a node whose outputs have the given shapes (internal ops: no inference) */
static cv_tensor *emit_out(cv_graph *g, int op, cv_tensor *const *in, int n_in, const void *params, size_t psize,
                           int n_out, const cv_shape *shapes) {
    cv_tensor *out[3];
    for (int i = 0; i < n_out; i++)
        if (!(out[i] = cv_graph_new_tensor(g, CV_F32, &shapes[i], CV_T_ACT))) return NULL;
    if (cv_graph_add_node(g, op, in, n_in, out, n_out, params, psize) < 0) return NULL;
    return out[0];
}

/* the elementwise builders of graph.c under short names */
#define binop cv_graph_binary
#define scal cv_graph_scalar
#define unary cv_graph_unary
static cv_tensor *relu_mask(cv_graph *g, cv_tensor *x, cv_tensor *dy) { /* dy where x > 0 */
    if (!x || !dy) return NULL;
    cv_unary_params p = { CV_RELU, 0 };
    cv_tensor *in[2] = { x, dy };
    return emit_out(g, CV_OP_UNARY_BWD, in, 2, &p, sizeof p, 1, &dy->shape);
}
static cv_tensor *sum_to(cv_graph *g, cv_tensor *x, const cv_shape *s) {
    if (!x || cv_shape_equal(&x->shape, s)) return x;
    /* dropping leading 1-dims only is a free reshape */
    if (cv_shape_numel(&x->shape) == cv_shape_numel(s)) return cv_graph_view(g, x, s);
    cv_reshape_params p = { *s };
    return cv_graph_emit(g, CV_OP_SUM_TO, &x, 1, &p, sizeof p);
}
static cv_tensor *bcast_to(cv_graph *g, cv_tensor *x, const cv_shape *s) {
    if (!x || cv_shape_equal(&x->shape, s)) return x;
    if (cv_shape_numel(&x->shape) == cv_shape_numel(s)) return cv_graph_view(g, x, s);
    cv_reshape_params p = { *s };
    return cv_graph_emit(g, CV_OP_BROADCAST_TO, &x, 1, &p, sizeof p);
}
static cv_tensor *mm(cv_graph *g, cv_tensor *a, cv_tensor *b, int ta, int tb) {
    if (!a || !b) return NULL;
    cv_matmul_params p = { ta, tb };
    cv_tensor *in[2] = { a, b };
    return cv_graph_emit(g, CV_OP_MATMUL, in, 2, &p, sizeof p);
}

/* the most recent node of kind op (the one a rule just recorded) */
static int32_t last_kernel(const cv_graph *g, int op) {
    int32_t i = g->n_nodes - 1;
    while (i > 0 && g->nodes[i].op != op) i--;
    return i;
}

static int add_grad(ad *a, cv_tensor *t, cv_tensor *gt) {
    if (!gt) return a->g->err.status ? a->g->err.status : CV_ERR_INTERNAL;
    if (!t->requires_grad || t->id >= a->n) return CV_OK;
    int32_t cur = a->grad[t->id];
    if (cur < 0) {
        a->grad[t->id] = gt->id;
        return CV_OK;
    }
    cv_tensor *s = binop(a->g, T(a->g, cur), gt, CV_ADD);
    if (!s) return a->g->err.status;
    a->grad[t->id] = s->id;
    return CV_OK;
}

#define RG(i) (in[i]->requires_grad)
#define ADD(i, expr) do { if (RG(i)) { int st_ = add_grad(a, in[i], (expr)); if (st_) return st_; } } while (0)

static int rule_binary(ad *a, cv_tensor **in, cv_tensor *y, cv_tensor *dy, int fn) {
    cv_graph *g = a->g;
    const cv_shape *sa = &in[0]->shape, *sb = &in[1]->shape;
    switch (fn) {
    case CV_ADD:
        ADD(0, sum_to(g, dy, sa));
        ADD(1, sum_to(g, dy, sb));
        return CV_OK;
    case CV_SUB:
        ADD(0, sum_to(g, dy, sa));
        ADD(1, sum_to(g, unary(g, dy, CV_NEG), sb));
        return CV_OK;
    case CV_MUL:
        ADD(0, sum_to(g, binop(g, dy, in[1], CV_MUL), sa));
        ADD(1, sum_to(g, binop(g, dy, in[0], CV_MUL), sb));
        return CV_OK;
    case CV_DIV:
        ADD(0, sum_to(g, binop(g, dy, in[1], CV_DIV), sa));
        /* d(a/b)/db = -y/b */
        ADD(1, sum_to(g, unary(g, binop(g, binop(g, dy, y, CV_MUL), in[1], CV_DIV), CV_NEG), sb));
        return CV_OK;
    case CV_MAX: case CV_MIN: {
        /* a wins where a - b > 0 (max) or b - a > 0 (min); ties go to b */
        cv_tensor *diff = fn == CV_MAX ? binop(g, in[0], in[1], CV_SUB) : binop(g, in[1], in[0], CV_SUB);
        cv_tensor *da = relu_mask(g, diff, dy);
        ADD(0, sum_to(g, da, sa));
        ADD(1, sum_to(g, binop(g, dy, da, CV_SUB), sb));
        return CV_OK;
    }
    default: return cv_graph_failv(g, CV_ERR_INTERNAL, "binary: no gradient for fn %d", fn);
    }
}

static int rule_scalar(ad *a, cv_tensor **in, cv_tensor *dy, const cv_scalar_params *p) {
    cv_graph *g = a->g;
    cv_tensor *x = in[0];
    switch (p->fn) {
    case CV_S_ADD: ADD(0, dy); return CV_OK;
    case CV_S_MUL: ADD(0, scal(g, dy, CV_S_MUL, p->value)); return CV_OK;
    case CV_S_RSUB: ADD(0, unary(g, dy, CV_NEG)); return CV_OK;
    case CV_S_POW:
        ADD(0, binop(g, dy, scal(g, scal(g, x, CV_S_POW, p->value - 1), CV_S_MUL, p->value), CV_MUL));
        return CV_OK;
    case CV_S_CLAMP_MIN: ADD(0, relu_mask(g, scal(g, x, CV_S_ADD, -p->value), dy)); return CV_OK;
    case CV_S_CLAMP_MAX: ADD(0, relu_mask(g, scal(g, x, CV_S_RSUB, p->value), dy)); return CV_OK;
    default: return cv_graph_failv(g, CV_ERR_INTERNAL, "scalar: no gradient for fn %d", p->fn);
    }
}

static int rule_matmul(ad *a, cv_tensor **in, cv_tensor *dy, const cv_matmul_params *p) {
    cv_graph *g = a->g;
    cv_tensor *A = in[0], *B = in[1];
    int ta = p->trans_a, tb = p->trans_b;
    if (RG(0)) {
        cv_tensor *d = !ta ? (!tb ? mm(g, dy, B, 0, 1) : mm(g, dy, B, 0, 0)) : (!tb ? mm(g, B, dy, 0, 1) : mm(g, B, dy, 1, 1));
        ADD(0, sum_to(g, d, &A->shape));
    }
    if (RG(1)) {
        cv_tensor *d = !tb ? (!ta ? mm(g, A, dy, 1, 0) : mm(g, A, dy, 0, 0)) : (!ta ? mm(g, dy, A, 1, 0) : mm(g, dy, A, 1, 1));
        ADD(1, sum_to(g, d, &B->shape));
    }
    return CV_OK;
}

static int rule_linear(ad *a, cv_tensor **in, int n_in, cv_tensor *dy) {
    cv_graph *g = a->g;
    cv_tensor *x = in[0], *w = in[1];
    int64_t N = w->shape.dim[0], K = w->shape.dim[1], M = cv_shape_numel(&x->shape) / K;
    cv_shape s2 = CV_SHAPE(M, N), x2s = CV_SHAPE(M, K);
    cv_tensor *dy2 = cv_graph_view(g, dy, &s2);
    if (RG(0)) ADD(0, cv_graph_view(g, mm(g, dy2, w, 0, 0), &x->shape));
    if (RG(1)) ADD(1, mm(g, dy2, cv_graph_view(g, x, &x2s), 1, 0));
    if (n_in > 2 && RG(2)) {
        cv_reduce_params rp = { CV_R_SUM, 1u, 0 };
        ADD(2, cv_graph_emit(g, CV_OP_REDUCE, &dy2, 1, &rp, sizeof rp));
    }
    return CV_OK;
}

/* batch norm with running statistics (training = 0) inside a training graph:
 * y = (x - rm) * rstd * gamma + beta with rstd = 1/sqrt(rv + eps), all per channel */
static int rule_frozen_bn(ad *a, cv_tensor **in, cv_tensor *dy, const cv_norm_params *p) {
    cv_graph *g = a->g;
    cv_tensor *x = in[0];
    cv_shape bs = { x->shape.ndim - 1, 0, { 0 } }; /* [C,1,..,1] broadcasts against [N,C,..] */
    bs.dim[0] = x->shape.dim[1];
    for (int i = 1; i < bs.ndim; i++) bs.dim[i] = 1;
    uint32_t axes = ((1u << x->shape.ndim) - 1) & ~2u; /* every dim but C */
    cv_reduce_params rp = { CV_R_SUM, axes, 0 };
    cv_tensor *rstd = unary(g, scal(g, in[4], CV_S_ADD, p->eps), CV_RSQRT);
    if (RG(0)) ADD(0, binop(g, dy, cv_graph_view(g, binop(g, in[1], rstd, CV_MUL), &bs), CV_MUL));
    if (RG(1)) {
        cv_tensor *xh = binop(g, binop(g, x, cv_graph_view(g, in[3], &bs), CV_SUB), cv_graph_view(g, rstd, &bs), CV_MUL);
        cv_tensor *t = binop(g, dy, xh, CV_MUL);
        ADD(1, t ? cv_graph_emit(g, CV_OP_REDUCE, &t, 1, &rp, sizeof rp) : NULL);
    }
    if (RG(2)) ADD(2, cv_graph_emit(g, CV_OP_REDUCE, &dy, 1, &rp, sizeof rp));
    return CV_OK;
}

static int rule_norm(ad *a, cv_node *n, cv_tensor **in, cv_tensor **out, cv_tensor *dy, const cv_norm_params *p) {
    cv_graph *g = a->g;
    if (!(RG(0) || RG(1) || RG(2))) return CV_OK;
    if (n->n_out < 3) return rule_frozen_bn(a, in, dy, p);
    int bop = n->op == CV_OP_BATCH_NORM ? CV_OP_BATCH_NORM_BWD
              : n->op == CV_OP_LAYER_NORM ? CV_OP_LAYER_NORM_BWD : CV_OP_GROUP_NORM_BWD;
    cv_tensor *bin[5] = { in[0], dy, in[1], out[1], out[2] };
    cv_shape shapes[3] = { in[0]->shape, in[1]->shape, in[2]->shape };
    cv_tensor *dx = emit_out(g, bop, bin, 5, p, sizeof *p, 3, shapes);
    if (!dx) return g->err.status;
    cv_node *bn = &g->nodes[g->n_nodes - 1];
    int32_t *o = cv_node_out(g, bn);
    ADD(0, dx);
    ADD(1, T(g, o[1]));
    ADD(2, T(g, o[2]));
    return CV_OK;
}

static int apply_rule(ad *a, int32_t ni) {
    cv_graph *g = a->g;
    cv_node n = g->nodes[ni]; /* copy: the node array grows below */
    cv_tensor *in[64], *out[3];
    for (int i = 0; i < n.n_in; i++) in[i] = T(g, g->ids[n.io + i]);
    for (int i = 0; i < n.n_out; i++) out[i] = T(g, g->ids[n.io + n.n_in + i]);
    int any = 0;
    for (int i = 0; i < n.n_in; i++) any |= in[i]->requires_grad;
    if (!any || n.n_out < 1 || a->grad[out[0]->id] < 0) return CV_OK;
    cv_tensor *dy = T(g, a->grad[out[0]->id]);
    cv_tensor *x = in[0], *y = out[0];
    /* copy the params: g->pbytes moves as the rules below record nodes */
    _Alignas(16) unsigned char pbuf[256];
    size_t PS = n.params_size;
    if (PS > sizeof pbuf) return cv_graph_failv(g, CV_ERR_INTERNAL, "%s: params too large", cv_op_name(n.op));
    if (PS) memcpy(pbuf, cv_node_params(g, &n), PS);
    const void *P = PS ? pbuf : NULL;
    switch (n.op) {
    case CV_OP_CONV2D: {
        cv_tensor *i1[2] = { dy, in[1] }, *i2[2] = { dy, x };
        if (RG(0)) {
            ADD(0, emit_out(g, CV_OP_CONV2D_BWD_DATA, i1, 2, P, PS, 1, &x->shape));
            g->nodes[last_kernel(g, CV_OP_CONV2D_BWD_DATA)].macs = n.macs; /* as many as the forward */
        }
        if (RG(1)) {
            ADD(1, emit_out(g, CV_OP_CONV2D_BWD_WEIGHT, i2, 2, P, PS, 1, &in[1]->shape));
            g->nodes[last_kernel(g, CV_OP_CONV2D_BWD_WEIGHT)].macs = n.macs;
        }
        if (n.n_in > 2 && RG(2)) {
            cv_reduce_params rp = { CV_R_SUM, 0xDu, 0 }; /* N, H, W */
            ADD(2, cv_graph_emit(g, CV_OP_REDUCE, &dy, 1, &rp, sizeof rp));
        }
        return CV_OK;
    }
    case CV_OP_MATMUL: return rule_matmul(a, in, dy, P);
    case CV_OP_LINEAR: return rule_linear(a, in, n.n_in, dy);
    case CV_OP_BATCH_NORM: case CV_OP_LAYER_NORM: case CV_OP_GROUP_NORM: return rule_norm(a, &n, in, out, dy, P);
    case CV_OP_UNARY: {
        const cv_unary_params *p = P;
        if (p->fn == CV_IDENTITY) {
            ADD(0, dy);
            return CV_OK;
        }
        /* relu-like: the sign pattern of y equals that of x, so y serves and x may die */
        int use_y = p->fn == CV_RELU || p->fn == CV_RELU6 || (p->fn == CV_LEAKY_RELU && p->alpha > 0);
        cv_tensor *bi[2] = { use_y ? y : x, dy };
        ADD(0, emit_out(g, CV_OP_UNARY_BWD, bi, 2, P, PS, 1, &x->shape));
        return CV_OK;
    }
    case CV_OP_BINARY: return rule_binary(a, in, y, dy, ((const cv_binary_params *)P)->fn);
    case CV_OP_SCALAR: return rule_scalar(a, in, dy, P);
    case CV_OP_REDUCE: {
        const cv_reduce_params *p = P;
        cv_shape ks = x->shape;
        int64_t cnt = 1;
        for (int i = 0; i < ks.ndim; i++)
            if (p->axes & (1u << i)) {
                cnt *= ks.dim[i];
                ks.dim[i] = 1;
            }
        cv_tensor *d = cv_graph_view(g, dy, &ks);
        if (p->fn == CV_R_MEAN) d = scal(g, d, CV_S_MUL, (float)(1.0 / (double)cnt)); /* on the small side */
        ADD(0, bcast_to(g, d, &x->shape));
        return CV_OK;
    }
    case CV_OP_POOL2D: {
        cv_tensor *bi[3] = { x, y, dy };
        ADD(0, emit_out(g, CV_OP_POOL2D_BWD, bi, 3, P, PS, 1, &x->shape));
        return CV_OK;
    }
    case CV_OP_ADAPTIVE_AVG_POOL2D: case CV_OP_RESIZE: {
        int bop = n.op == CV_OP_RESIZE ? CV_OP_RESIZE_BWD : CV_OP_ADAPTIVE_AVG_POOL2D_BWD;
        ADD(0, emit_out(g, bop, &dy, 1, P, PS, 1, &x->shape));
        return CV_OK;
    }
    case CV_OP_CONCAT: {
        int ax = ((const cv_axis_params *)P)->axis;
        if (ax < 0) ax += x->shape.ndim;
        int64_t off = 0;
        for (int i = 0; i < n.n_in; i++) {
            cv_slice_params sp = { ax, 0, off, in[i]->shape.dim[ax] };
            off += in[i]->shape.dim[ax];
            if (RG(i)) ADD(i, cv_graph_slice(g, dy, &sp));
        }
        return CV_OK;
    }
    case CV_OP_SLICE: {
        const cv_slice_params *p = P;
        int ax = p->axis < 0 ? p->axis + x->shape.ndim : p->axis;
        cv_pad_params pp;
        memset(&pp, 0, sizeof pp);
        pp.before[ax] = p->start;
        pp.after[ax] = x->shape.dim[ax] - p->start - p->length;
        ADD(0, cv_graph_emit(g, CV_OP_PAD, &dy, 1, &pp, sizeof pp));
        return CV_OK;
    }
    case CV_OP_PAD: {
        cv_pad_params pp = *(const cv_pad_params *)P;
        for (int i = 0; i < CV_MAX_DIMS; i++) { /* entries past ndim are zero (op_op) */
            pp.before[i] = i < x->shape.ndim ? -pp.before[i] : 0;
            pp.after[i] = i < x->shape.ndim ? -pp.after[i] : 0;
        }
        pp.value = 0;
        ADD(0, cv_graph_emit(g, CV_OP_PAD, &dy, 1, &pp, sizeof pp));
        return CV_OK;
    }
    case CV_OP_RESHAPE: ADD(0, cv_graph_view(g, dy, &x->shape)); return CV_OK;
    case CV_OP_PERMUTE: {
        const cv_permute_params *p = P;
        cv_permute_params inv;
        memset(&inv, 0, sizeof inv);
        for (int i = 0; i < x->shape.ndim; i++) inv.perm[p->perm[i]] = i;
        ADD(0, cv_graph_emit(g, CV_OP_PERMUTE, &dy, 1, &inv, sizeof inv));
        return CV_OK;
    }
    case CV_OP_SOFTMAX: {
        cv_tensor *bi[2] = { y, dy };
        ADD(0, emit_out(g, CV_OP_SOFTMAX_BWD, bi, 2, P, PS, 1, &x->shape));
        return CV_OK;
    }
    case CV_OP_DROPOUT: {
        cv_tensor *bi[2] = { out[1], dy };
        ADD(0, emit_out(g, CV_OP_DROPOUT_BWD, bi, 2, P, PS, 1, &x->shape));
        return CV_OK;
    }
    case CV_OP_DROP_PATH: ADD(0, binop(g, dy, out[1], CV_MUL)); return CV_OK;
    case CV_OP_CROSS_ENTROPY: case CV_OP_BCE_LOGITS: case CV_OP_SMOOTH_L1: {
        int bop = n.op == CV_OP_CROSS_ENTROPY ? CV_OP_CROSS_ENTROPY_BWD
                  : n.op == CV_OP_BCE_LOGITS ? CV_OP_BCE_LOGITS_BWD : CV_OP_SMOOTH_L1_BWD;
        cv_tensor *bi[4];
        int k = 0;
        for (int i = 0; i < n.n_in; i++) bi[k++] = in[i];
        bi[k++] = dy;
        ADD(0, emit_out(g, bop, bi, k, P, PS, 1, &x->shape));
        return CV_OK; /* targets and class weights get no gradient */
    }
    case CV_OP_CAST: {
        cv_cast_params cp = { x->dtype };
        ADD(0, cv_graph_emit(g, CV_OP_CAST, &dy, 1, &cp, sizeof cp));
        return CV_OK;
    }
    case CV_OP_EMBEDDING: {
        cv_tensor *bi[2] = { in[1], dy };
        ADD(0, emit_out(g, CV_OP_EMBEDDING_BWD, bi, 2, NULL, 0, 1, &x->shape));
        return CV_OK;
    }
    case CV_OP_BROADCAST_TO: ADD(0, sum_to(g, dy, &x->shape)); return CV_OK;
    /* every rank's y is the same sum, so dL/dx_r sums dL_s/dy over ranks s */
    case CV_OP_ALLREDUCE: ADD(0, cv_graph_emit(g, CV_OP_ALLREDUCE, &dy, 1, NULL, 0)); return CV_OK;
    case CV_OP_SUM_TO: ADD(0, bcast_to(g, dy, &x->shape)); return CV_OK;
    default:
        return cv_graph_failv(g, CV_ERR_UNSUPPORTED, "%s: no gradient rule", cv_op_name(n.op));
    }
}

/* a tensor aliasing the gradient-buffer slice of param index pi */
static cv_tensor *grad_slot(cv_graph *g, int pi) {
    const cv_param_info *p = &g->net->params[pi].info;
    cv_tensor *t = cv_graph_new_tensor(g, CV_F32, &p->shape, CV_T_ALIAS);
    if (!t) return NULL;
    t->storage = cv_graph_new_storage(g, CV_STORE_GRAD, cv_shape_numel(&p->shape) * 4, p->offset * 4);
    return t->storage < 0 ? NULL : t;
}

/* let the node that produced gradient gt write straight into the gradient buffer */
static int try_bind(cv_graph *g, cv_tensor *gt, int pi) {
    cv_storage *s = &g->storages[gt->storage];
    const cv_param_info *p = &g->net->params[pi].info;
    if (s->where != CV_STORE_ARENA || s->pinned || gt->offset != 0 || gt->producer < 0) return 0;
    if (s->bytes != cv_shape_numel(&p->shape) * 4) return 0;
    s->where = CV_STORE_GRAD;
    s->offset = p->offset * 4;
    return 1;
}

int cv_autograd(cv_graph *g, int accumulate) {
    if (!g->loss) return cv_graph_failv(g, CV_ERR_INVALID, "training graph has no loss");
    if (g->loss->dtype != CV_F32 || cv_shape_numel(&g->loss->shape) != 1) {
        char sb[96];
        return cv_graph_failv(g, CV_ERR_INVALID, "loss must be one f32 value, got %s %s",
                              cv_shape_str(&g->loss->shape, sb, sizeof sb), cv_dtype_name(g->loss->dtype));
    }
    ad a = { g, NULL, g->n_tensors };
    a.grad = cv_alloc_array((size_t)a.n, sizeof(int32_t));
    if (!a.grad) return cv_graph_failv(g, CV_ERR_NOMEM, "out of memory in autograd");
    for (int i = 0; i < a.n; i++) a.grad[i] = -1;
    g->n_forward = g->n_nodes;
    int st = CV_OK;
    if (g->loss->requires_grad) {
        cv_tensor *seed = cv_graph_fill(g, &g->loss->shape, CV_F32, 1.0f);
        if (!seed) st = g->err.status;
        else {
            a.grad[g->loss->id] = seed->id;
            g->seed_node = seed->producer;
        }
        for (int32_t i = g->n_forward - 1; st == CV_OK && i >= 0; i--) {
            g->backward_scope = g->nodes[i].scope; /* gradient nodes profile under their layer */
            st = apply_rule(&a, i);
        }
        g->backward_scope = -2;
    }
    /* final parameter gradients into the flat buffer; every trainable param of the
     * net gets its slice written (zeros when this graph does not reach it) */
    int np = g->net->n_params;
    for (int pi = 0; st == CV_OK && pi < np; pi++) {
        if (g->net->params[pi].info.tags & CV_TAG_BUFFER) continue;
        int32_t tid = pi < g->n_param_tensor ? g->param_tensor[pi] : -1;
        int32_t gid = tid >= 0 ? a.grad[tid] : -1;
        cv_tensor *gt = gid >= 0 ? T(g, gid) : NULL;
        if (accumulate) {
            if (!gt) continue;
            cv_tensor *slot = grad_slot(g, pi);
            cv_axpby_params ap = { 1.0f, 1.0f };
            if (!slot || cv_graph_add_node(g, CV_OP_AXPBY, &gt, 1, &slot, 1, &ap, sizeof ap) < 0) st = g->err.status;
            continue;
        }
        if (gt && try_bind(g, gt, pi)) continue;
        cv_tensor *slot = grad_slot(g, pi);
        if (!slot) {
            st = g->err.status;
            break;
        }
        if (gt) {
            if (cv_graph_add_node(g, CV_OP_COPY, &gt, 1, &slot, 1, NULL, 0) < 0) st = g->err.status;
        } else {
            cv_scalar_params fp = { CV_S_ADD, 0.0f };
            if (cv_graph_add_node(g, CV_OP_FILL, NULL, 0, &slot, 1, &fp, sizeof fp) < 0) st = g->err.status;
        }
    }
    for (int32_t i = g->n_forward; i < g->n_nodes; i++) g->nodes[i].backward = 1;
    cv_free(a.grad);
    if (st == CV_OK && g->err.status) st = g->err.status;
    return st;
}
