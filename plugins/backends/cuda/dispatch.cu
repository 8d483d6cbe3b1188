/* dispatch.cu — the CUDA backend's op table and dispatcher: operand checks,
 * dense f32 views of every operand (gathered / scattered by convert.cu when the
 * caller's tensor is strided or not f32), the workspace layout prepare() asks for
 * ([gathered operands | scratch | the kernel's own]), scratch memory per call, the
 * error helpers every kernel uses, and supports / prepare / release / run. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "cuint.h"

struct cu_entry {
    int op;
    const char *name;
    cu_kernel_fn fn;
    size_t params_size; /* minimum params_size; 0 = no params */
    int in_place;       /* outputs are read as well as written */
    int data_movement;  /* copies between the caller's tensors in their own dtype */
    int native16;       /* takes NHWC activations stored in 16 bits in place (cu_t.h), not widened */
};

static const cu_entry cu_ops[] = {
    { CV_OP_CONV2D, "CONV2D", cu_conv2d, sizeof(cv_conv_params), 0, 0, 1 },
    { CV_OP_MATMUL, "MATMUL", cu_matmul, sizeof(cv_matmul_params), 0, 0 },
    { CV_OP_LINEAR, "LINEAR", cu_linear, 0, 0, 0 },
    { CV_OP_BATCH_NORM, "BATCH_NORM", cu_batch_norm, sizeof(cv_norm_params), 0, 0, 1 },
    { CV_OP_LAYER_NORM, "LAYER_NORM", cu_layer_norm, sizeof(cv_norm_params), 0, 0 },
    { CV_OP_GROUP_NORM, "GROUP_NORM", cu_group_norm, sizeof(cv_norm_params), 0, 0 },
    { CV_OP_UNARY, "UNARY", cu_unary, sizeof(cv_unary_params), 0, 0, 1 },
    { CV_OP_BINARY, "BINARY", cu_binary, sizeof(cv_binary_params), 0, 0, 1 },
    { CV_OP_SCALAR, "SCALAR", cu_scalar, sizeof(cv_scalar_params), 0, 0, 1 },
    { CV_OP_REDUCE, "REDUCE", cu_reduce, sizeof(cv_reduce_params), 0, 0 },
    { CV_OP_POOL2D, "POOL2D", cu_pool2d, sizeof(cv_pool_params), 0, 0 },
    { CV_OP_ADAPTIVE_AVG_POOL2D, "ADAPTIVE_AVG_POOL2D", cu_adaptive_avg_pool2d, sizeof(cv_resize_params), 0, 0 },
    { CV_OP_RESIZE, "RESIZE", cu_resize, sizeof(cv_resize_params), 0, 0 },
    { CV_OP_CONCAT, "CONCAT", NULL, sizeof(cv_axis_params), 0, 1 },
    { CV_OP_SLICE, "SLICE", NULL, sizeof(cv_slice_params), 0, 1 },
    { CV_OP_PAD, "PAD", NULL, sizeof(cv_pad_params), 0, 1 },
    { CV_OP_RESHAPE, "RESHAPE", NULL, 0, 0, 1 },
    { CV_OP_PERMUTE, "PERMUTE", NULL, sizeof(cv_permute_params), 0, 1 },
    { CV_OP_SOFTMAX, "SOFTMAX", cu_softmax, sizeof(cv_softmax_params), 0, 0 },
    { CV_OP_DROPOUT, "DROPOUT", cu_dropout, sizeof(cv_dropout_params), 0, 0 },
    { CV_OP_DROP_PATH, "DROP_PATH", cu_drop_path, sizeof(cv_dropout_params), 0, 0 },
    { CV_OP_CROSS_ENTROPY, "CROSS_ENTROPY", cu_cross_entropy, sizeof(cv_ce_params), 0, 0 },
    { CV_OP_BCE_LOGITS, "BCE_LOGITS", cu_bce_logits, 0, 0, 0 },
    { CV_OP_SMOOTH_L1, "SMOOTH_L1", cu_smooth_l1, sizeof(cv_smooth_l1_params), 0, 0 },
    { CV_OP_CAST, "CAST", NULL, 0, 0, 1 },
    { CV_OP_EMBEDDING, "EMBEDDING", cu_embedding, 0, 0, 0 },
    { CV_OP_BROADCAST_TO, "BROADCAST_TO", NULL, 0, 0, 1 },
    { CV_OP_SUM_TO, "SUM_TO", cu_sum_to, 0, 0, 0 },
    { CV_OP_CONV2D_BWD_DATA, "CONV2D_BWD_DATA", cu_conv2d_bwd_data, sizeof(cv_conv_params), 0, 0, 1 },
    { CV_OP_CONV2D_BWD_WEIGHT, "CONV2D_BWD_WEIGHT", cu_conv2d_bwd_weight, sizeof(cv_conv_params), 0, 0, 1 },
    { CV_OP_BATCH_NORM_BWD, "BATCH_NORM_BWD", cu_batch_norm_bwd, sizeof(cv_norm_params), 0, 0, 1 },
    { CV_OP_LAYER_NORM_BWD, "LAYER_NORM_BWD", cu_layer_norm_bwd, sizeof(cv_norm_params), 0, 0 },
    { CV_OP_GROUP_NORM_BWD, "GROUP_NORM_BWD", cu_group_norm_bwd, sizeof(cv_norm_params), 0, 0 },
    { CV_OP_UNARY_BWD, "UNARY_BWD", cu_unary_bwd, sizeof(cv_unary_params), 0, 0, 1 },
    { CV_OP_POOL2D_BWD, "POOL2D_BWD", cu_pool2d_bwd, sizeof(cv_pool_params), 0, 0 },
    { CV_OP_ADAPTIVE_AVG_POOL2D_BWD, "ADAPTIVE_AVG_POOL2D_BWD", cu_adaptive_avg_pool2d_bwd, sizeof(cv_resize_params), 0, 0 },
    { CV_OP_RESIZE_BWD, "RESIZE_BWD", cu_resize_bwd, sizeof(cv_resize_params), 0, 0 },
    { CV_OP_SOFTMAX_BWD, "SOFTMAX_BWD", cu_softmax_bwd, sizeof(cv_softmax_params), 0, 0 },
    { CV_OP_DROPOUT_BWD, "DROPOUT_BWD", cu_dropout_bwd, 0, 0, 0 },
    { CV_OP_CROSS_ENTROPY_BWD, "CROSS_ENTROPY_BWD", cu_cross_entropy_bwd, sizeof(cv_ce_params), 0, 0 },
    { CV_OP_BCE_LOGITS_BWD, "BCE_LOGITS_BWD", cu_bce_logits_bwd, 0, 0, 0 },
    { CV_OP_SMOOTH_L1_BWD, "SMOOTH_L1_BWD", cu_smooth_l1_bwd, sizeof(cv_smooth_l1_params), 0, 0 },
    { CV_OP_EMBEDDING_BWD, "EMBEDDING_BWD", cu_embedding_bwd, 0, 0, 0 },
    { CV_OP_SGD_UPDATE, "SGD_UPDATE", cu_sgd_update, sizeof(cv_sgd_params), 1, 0 },
    { CV_OP_ADAM_UPDATE, "ADAM_UPDATE", cu_adam_update, sizeof(cv_adam_params), 1, 0 },
    { CV_OP_RMSPROP_UPDATE, "RMSPROP_UPDATE", cu_rmsprop_update, sizeof(cv_rmsprop_params), 1, 0 },
    { CV_OP_LAMB_UPDATE, "LAMB_UPDATE", cu_lamb_update, sizeof(cv_adam_params), 1, 0 },
    { CV_OP_SUMSQ, "SUMSQ", cu_sumsq, 0, 0, 0 },
    { CV_OP_AXPBY, "AXPBY", cu_axpby, sizeof(cv_axpby_params), 1, 0 },
    { CV_OP_FILL, "FILL", NULL, sizeof(cv_scalar_params), 0, 1 },
    { CV_OP_COPY, "COPY", NULL, 0, 0, 1 },
    { CV_OP_NONFINITE, "NONFINITE", cu_nonfinite, 0, 0, 0 },
};

static const cu_entry *cu_find(int op) {
    for (size_t i = 0; i < sizeof cu_ops / sizeof cu_ops[0]; i++)
        if (cu_ops[i].op == op) return &cu_ops[i];
    return NULL;
}

const char *cu_op_name(int op) {
    const cu_entry *e = cu_find(op);
    return e ? e->name : "?";
}

/* ---- helpers shared by the kernels ----------------------------------------------------- */
int cu_fail(cu_call *r, int status, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return r->b->host->set_error(r->err, status, "backend cuda: %s: %s", r->op_name, msg);
}

const char *cu_shape_str(const cu_t *t, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? ",%lld" : "%lld", (long long)t->shape[d]);
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

/* the shapes of every operand, for messages from CUDA library failures */
static void shapes_str(cu_call *r, char *buf, size_t n) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < r->n_in + r->n_out && used < n; i++) {
        char s[96];
        const cu_t *t = i < r->n_in ? &r->in[i] : &r->out[i - r->n_in];
        used += (size_t)snprintf(buf + used, n - used, "%s%s %s", i ? ", " : "", i < r->n_in ? "in" : "out",
                                 cu_shape_str(t, s, sizeof s));
    }
}

int cu_cuda(cu_call *r, cudaError_t e, const char *what) {
    if (e == cudaSuccess) return CV_OK;
    cudaGetLastError();
    char s[400];
    shapes_str(r, s, sizeof s);
    return cu_fail(r, e == cudaErrorMemoryAllocation ? CV_ERR_NOMEM : CV_ERR_INTERNAL, "%s failed: %s (%s)", what,
                   cudaGetErrorString(e), s);
}

int cu_launched(cu_call *r, const char *what) { return cu_cuda(r, cudaGetLastError(), what); }

int cu_dnn(cu_call *r, cudnnStatus_t st, const char *what) {
    if (st == CUDNN_STATUS_SUCCESS) return CV_OK;
    char s[400];
    shapes_str(r, s, sizeof s);
    return cu_fail(r, st == CUDNN_STATUS_NOT_SUPPORTED ? CV_ERR_UNSUPPORTED : CV_ERR_INTERNAL,
                   "cuDNN %s failed: %s (%s)", what, cudnnGetErrorString(st), s);
}

int cu_blas(cu_call *r, cublasStatus_t st, const char *what) {
    if (st == CUBLAS_STATUS_SUCCESS) return CV_OK;
    char s[400];
    shapes_str(r, s, sizeof s);
    return cu_fail(r, CV_ERR_INTERNAL, "cuBLAS %s failed: %s (%s)", what, cu_blas_str(st), s);
}

int cu_read_i64(cu_call *r, const int64_t *dev, int64_t *out) {
    cudaError_t e = cudaMemcpyAsync(out, dev, sizeof *out, cudaMemcpyDeviceToHost, r->b->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(r->b->stream);
    return cu_cuda(r, e, "reading back an index check");
}

int cu_arity(cu_call *r, int min_in, int max_in, int min_out, int max_out) {
    if (r->n_in < min_in || r->n_in > max_in || r->n_out < min_out || r->n_out > max_out)
        return cu_fail(r, CV_ERR_INVALID, "expects %d..%d inputs and %d..%d outputs, got %d and %d", min_in, max_in,
                       min_out, max_out, r->n_in, r->n_out);
    return CV_OK;
}

int cu_same_shape(cu_call *r, const cu_t *a, const char *an, const cu_t *b, const char *bn) {
    int same = a->ndim == b->ndim;
    for (int d = 0; same && d < a->ndim; d++) same = a->shape[d] == b->shape[d];
    if (!same) {
        char sa[96], sb[96];
        cu_fail(r, CV_ERR_INVALID, "%s %s and %s %s must have the same shape", an, cu_shape_str(a, sa, sizeof sa), bn,
                cu_shape_str(b, sb, sizeof sb));
    }
    return same;
}

int cu_axis(cu_call *r, int axis, int ndim) {
    int a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a >= ndim) {
        cu_fail(r, CV_ERR_INVALID, "axis %d is out of range for a %d-d tensor", axis, ndim);
        return -1;
    }
    return a;
}

int cu_bcast_ok(const int64_t *src, int src_nd, const int64_t *dst, int dst_nd) {
    if (src_nd > dst_nd) return 0;
    for (int d = 0; d < src_nd; d++) {
        int64_t s = src[d], t = dst[d + dst_nd - src_nd];
        if (s != 1 && s != t) return 0;
    }
    return 1;
}

void *cu_scratch(cu_call *r, size_t bytes) {
    const size_t need = cu_round256(bytes ? bytes : 1);
    if (r->scratch_left >= need) { /* the part of the workspace prepare() reserved for it */
        void *p = r->scratch_area;
        r->scratch_area += need;
        r->scratch_left -= need;
        return p;
    }
    if (r->n_scratch >= (int)(sizeof r->scratch / sizeof r->scratch[0])) {
        cu_fail(r, CV_ERR_INTERNAL, "too many scratch buffers in one call");
        return NULL;
    }
    void *p = r->b->recording ? cu_graph_scratch_get(r->b, bytes ? bytes : 1) : cu_cache_get(r->b, bytes ? bytes : 1);
    if (!p) {
        cu_fail(r, CV_ERR_NOMEM, "out of device memory for %zu bytes of scratch", bytes);
        return NULL;
    }
    r->scratch[r->n_scratch++] = p;
    return p;
}

/* ---- the dispatcher ------------------------------------------------------------------------ */
static int check_ktensor(const cv_host *host, const cv_ktensor *t, const char *op, const char *what, int i,
                         cv_error *err) {
    if (cu_dtype_size(t->dtype) == 0)
        return host->set_error(err, CV_ERR_INVALID, "backend cuda: %s: %s %d has unknown dtype %d", op, what, i, t->dtype);
    if (t->ndim < 0 || t->ndim > CV_MAX_DIMS)
        return host->set_error(err, CV_ERR_INVALID, "backend cuda: %s: %s %d has %d dims (0..%d allowed)", op, what, i,
                               t->ndim, CV_MAX_DIMS);
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0 || (t->shape[d] > 0 && n > INT64_MAX / 16 / t->shape[d]))
            return host->set_error(err, CV_ERR_INVALID, "backend cuda: %s: %s %d has bad size %lld in dim %d", op, what,
                                   i, (long long)t->shape[d], d);
        n *= t->shape[d];
    }
    if (n > 0 && !t->data)
        return host->set_error(err, CV_ERR_INVALID, "backend cuda: %s: %s %d has no data", op, what, i);
    return CV_OK;
}

/* ---- gathered operands and scratch: in the kernel's workspace, reserved by prepare() -------------- */
static int dense_i32(const cv_ktensor *t) {
    cu_view v = cu_view_of(t);
    return cu_view_is_dense(&v);
}

/* what make_view gathers for operand t (is_in: an input) in layout for entry en: a dense f32 copy
 * unless t is dense f32 or NHWC (an NHWC one stored in 16 bits too, unless en takes it in place),
 * and a dense i32 copy of a strided i32 input; 256-byte multiples */
static size_t gather_bytes_of(const cu_entry *en, const cv_ktensor *t, int layout, int is_in) {
    cu_view v = cu_view_of(t);
    const size_t n = (size_t)cu_view_numel(&v) * sizeof(float);
    if (layout == CV_LAYOUT_NHWC) return t->dtype == CV_F32 || en->native16 ? 0 : cu_round256(n);
    return (cu_view_dense_f32(&v) ? 0 : cu_round256(n)) + (is_in && t->dtype == CV_I32 && !dense_i32(t) ? cu_round256(n) : 0);
}

/* the workspace a compute kernel's gathers take, at its start (data movement gathers nothing) */
static size_t gather_bytes(const cu_entry *en, const cv_kernel *k) {
    size_t n = 0;
    if (en->data_movement) return 0;
    for (int i = 0; i < k->n_in; i++) n += gather_bytes_of(en, &k->in[i], cv_kernel_layout(k, 0, i), 1);
    for (int i = 0; i < k->n_out; i++) n += gather_bytes_of(en, &k->out[i], cv_kernel_layout(k, 1, i), 0);
    return n;
}

/* an upper bound of what a compute kernel takes through cu_scratch (each call rounded up to
 * 256 bytes): loss terms per position and the index check's slot, partial sums of a long
 * reduction or of LAMB's norms, the batch statistics cuDNN's batch norm writes when the kernel
 * has no outputs for them */
static size_t scratch_bound(const cv_kernel *k) {
    if (!k->n_in) return 0;
    const cu_view x = cu_view_of(&k->in[0]);
    const int64_t n0 = cu_view_numel(&x), c = k->in[0].ndim > 1 && k->in[0].shape[1] ? k->in[0].shape[1] : 1;
    switch (k->op) {
    case CV_OP_CROSS_ENTROPY: case CV_OP_CROSS_ENTROPY_BWD:
        return 2 * cu_round256((size_t)(n0 / c) * sizeof(double)) + 3 * 256;
    case CV_OP_BCE_LOGITS: case CV_OP_SMOOTH_L1: return cu_round256((size_t)n0 * sizeof(double));
    case CV_OP_EMBEDDING: return 256;
    case CV_OP_REDUCE: case CV_OP_SUM_TO: case CV_OP_SUMSQ: case CV_OP_NONFINITE: return 1024 * sizeof(double);
    case CV_OP_LAMB_UPDATE: return cu_round256((2 * 1024 + 1) * sizeof(double));
    case CV_OP_BATCH_NORM: case CV_OP_BATCH_NORM_BWD: /* cuDNN's statistics; or our NHWC sums (bn_nhwc.cu) */
        return 2 * cu_round256((size_t)c * sizeof(float)) +
               (cv_kernel_layout(k, 0, 0) == CV_LAYOUT_NHWC ? cu_round256(cu_bn_nhwc_scratch(n0 / c, c)) : 0);
    default: return 0;
    }
}

/* a gathered operand's buffer: the reserved part of the workspace, else (run() without the
 * workspace prepare() asked for) scratch */
static void *gather_buf(cu_call *r, size_t bytes) {
    const size_t need = cu_round256(bytes);
    if (r->gather_left < need) return cu_scratch(r, bytes);
    void *p = r->gather;
    r->gather += need;
    r->gather_left -= need;
    return p;
}

/* an NHWC operand (dense 4-D) as a flat run of its elements in dtype dt at data */
static cu_view flat_of(const cu_t *v, int dt, void *data) { return cu_view_dense(dt, 1, &v->numel, data); }

/* a dense f32 (and for i32 inputs also i32) view of t; gathered when needed.  An
 * NHWC operand (dense 4-D, layout_check) is flagged nhwc and used in place when it is
 * f32, or 16-bit and the kernel takes that (native16: v->h); else widened, still NHWC. */
static int make_view(cu_call *r, const cu_entry *en, const cv_ktensor *t, int layout, cu_t *v, int gather,
                     int want_i32, int *owned) {
    cu_view src = cu_view_of(t);
    v->ndim = t->ndim;
    memcpy(v->shape, t->shape, sizeof v->shape);
    v->numel = cu_view_numel(&src);
    v->dtype = t->dtype;
    v->nhwc = layout == CV_LAYOUT_NHWC;
    v->i = NULL;
    v->h = NULL;
    *owned = 0;
    if (v->nhwc && t->dtype != CV_F32 && en->native16) {
        v->f = NULL;
        v->h = (uint16_t *)t->data;
    } else if (v->nhwc && t->dtype != CV_F32) {
        v->f = (float *)gather_buf(r, (size_t)v->numel * sizeof(float));
        if (!v->f) return r->err->status;
        *owned = 1;
        if (gather) {
            cu_view dst = flat_of(v, CV_F32, v->f), from = flat_of(v, t->dtype, t->data);
            int st = cu_copy_view(r, &dst, &from);
            if (st) return st;
        }
    } else if (v->nhwc || cu_view_dense_f32(&src)) {
        v->f = (float *)t->data;
    } else {
        v->f = (float *)gather_buf(r, (size_t)v->numel * sizeof(float));
        if (!v->f) return r->err->status;
        *owned = 1;
        if (gather) {
            cu_view dst = cu_view_dense(CV_F32, t->ndim, t->shape, v->f);
            int st = cu_copy_view(r, &dst, &src);
            if (st) return st;
        }
    }
    if (want_i32 && t->dtype == CV_I32) {
        if (dense_i32(t)) {
            v->i = (int32_t *)t->data;
        } else {
            v->i = (int32_t *)gather_buf(r, (size_t)v->numel * sizeof(int32_t));
            if (!v->i) return r->err->status;
            cu_view dst = cu_view_dense(CV_I32, t->ndim, t->shape, v->i);
            int st = cu_copy_view(r, &dst, &src);
            if (st) return st;
        }
    }
    return CV_OK;
}

static int store_back(cu_call *r, const cv_ktensor *t, const cu_t *v) {
    cu_view dst = cu_view_of(t), src = cu_view_dense(CV_F32, t->ndim, t->shape, v->f);
    if (v->nhwc) { /* a widened 16-bit NHWC operand: the same element order both sides */
        dst = flat_of(v, t->dtype, t->data);
        src = flat_of(v, CV_F32, v->f);
    }
    return cu_copy_view(r, &dst, &src);
}

static int unknown_op(cu_backend *b, int op, cv_error *err) {
    return b->host->set_error(err, CV_ERR_UNSUPPORTED, "backend cuda: op kind %d is not implemented%s", op,
                              op == CV_OP_CONV3D ? " (CONV3D is reserved for video)" : "");
}

int cu_dispatch(cu_backend *b, const cv_kernel *k, cv_error *err) {
    const cv_host *host = b->host;
    const cu_entry *en = cu_find(k->op);
    if (!en) return unknown_op(b, k->op, err);
    if (k->n_in < 0 || k->n_in > CU_MAX_IO || k->n_out < 0 || k->n_out > CU_MAX_IO || (k->n_in && !k->in) ||
        (k->n_out && !k->out))
        return host->set_error(err, CV_ERR_INVALID, "backend cuda: %s: bad operand counts (%d in, %d out, %d max)",
                               en->name, k->n_in, k->n_out, CU_MAX_IO);
    if (en->params_size && (!k->params || k->params_size < en->params_size))
        return host->set_error(err, CV_ERR_INVALID,
                               "backend cuda: %s: params missing or too small (%u bytes, need %zu)", en->name,
                               k->params_size, en->params_size);
    for (int i = 0; i < k->n_in; i++) {
        int st = check_ktensor(host, &k->in[i], en->name, "input", i, err);
        if (st) return st;
    }
    for (int i = 0; i < k->n_out; i++) {
        int st = check_ktensor(host, &k->out[i], en->name, "output", i, err);
        if (st) return st;
    }
    int lst = cu_layout_check(b, k, en->name, err);
    if (lst) return lst;
    cu_call *r = (cu_call *)host->alloc_array(1, sizeof *r);
    if (!r) return host->set_error(err, CV_ERR_NOMEM, "backend cuda: %s: out of host memory", en->name);
    r->b = b;
    r->k = k;
    r->params = k->params;
    r->err = err;
    r->op_name = en->name;
    r->n_in = k->n_in;
    r->n_out = k->n_out;
    r->ws = (char *)k->workspace;
    r->ws_bytes = k->workspace ? k->workspace_bytes : 0;
    const size_t g = gather_bytes(en, k), sc = en->data_movement ? 0 : scratch_bound(k);
    if (g + sc && r->ws_bytes >= g + sc) { /* [gathers | scratch | the kernel's own workspace], as prepare() asked */
        r->gather = r->ws;
        r->gather_left = g;
        r->scratch_area = r->ws + g;
        r->scratch_left = sc;
        r->ws += g + sc;
        r->ws_bytes -= g + sc;
    }
    int st = CV_OK;
    if (en->data_movement) {
        for (int i = 0; i < k->n_in; i++) {
            r->in[i].ndim = k->in[i].ndim;
            memcpy(r->in[i].shape, k->in[i].shape, sizeof r->in[i].shape);
        }
        for (int i = 0; i < k->n_out; i++) {
            r->out[i].ndim = k->out[i].ndim;
            memcpy(r->out[i].shape, k->out[i].shape, sizeof r->out[i].shape);
        }
        st = cu_data_movement(r);
    } else {
        int in_owned[CU_MAX_IO] = { 0 }, out_owned[CU_MAX_IO] = { 0 };
        for (int i = 0; i < k->n_in && !st; i++)
            st = make_view(r, en, &k->in[i], cv_kernel_layout(k, 0, i), &r->in[i], 1, 1, &in_owned[i]);
        for (int i = 0; i < k->n_out && !st; i++)
            st = make_view(r, en, &k->out[i], cv_kernel_layout(k, 1, i), &r->out[i], en->in_place, 0, &out_owned[i]);
        if (!st) st = en->fn(r);
        for (int i = 0; i < k->n_out && !st; i++)
            if (out_owned[i]) st = store_back(r, &k->out[i], &r->out[i]);
        for (int i = 0; i < k->n_in && !st; i++)
            if (r->in_written[i] && in_owned[i]) st = store_back(r, &k->in[i], &r->in[i]);
    }
    cu_wcache_kernel_wrote(b, k, r->in_written);
    for (int i = 0; i < r->n_scratch; i++) {
        if (b->recording) cu_graph_scratch_put(b, r->scratch[i]);
        else cu_cache_put(b, r->scratch[i]);
    }
    host->free(r);
    return st;
}

/* ---- the vtable entries -------------------------------------------------------------------- */
extern "C" int cu_supports(void *self, int op, int dtype) {
    const cu_entry *en = cu_find(op);
    if (!en || cu_dtype_size(dtype) == 0) return 0;
    if (en->data_movement || op == CV_OP_SUMSQ || op == CV_OP_NONFINITE) return 1;
    /* compute ops run in f32; bf16 / f16 operands are widened and rounded back */
    return dtype == CV_F32 || dtype == CV_BF16 || dtype == CV_F16;
}

extern "C" int cu_prepare(void *self, const cv_kernel *k, void **prepared, size_t *workspace_bytes, cv_error *err) {
    cu_backend *b = (cu_backend *)self;
    if (prepared) *prepared = NULL;
    if (workspace_bytes) *workspace_bytes = 0;
    if (!k) return b->host->set_error(err, CV_ERR_INVALID, "backend cuda: prepare() without a kernel");
    const cu_entry *en = cu_find(k->op);
    if (!en) return unknown_op(b, k->op, err);
    int st = CV_OK;
    if (k->op == CV_OP_CONV2D || k->op == CV_OP_CONV2D_BWD_DATA || k->op == CV_OP_CONV2D_BWD_WEIGHT)
        st = cu_conv_prepare(b, k, prepared, workspace_bytes, err);
    else if (k->op == CV_OP_LINEAR)
        st = cu_linear_prepare(b, k, prepared, workspace_bytes, err);
    else if (k->op == CV_OP_MATMUL && workspace_bytes)
        *workspace_bytes = cu_gemm_workspace(b, k);
    /* gathered operands and scratch live in the plan's arena too, reserved with it before step 1 */
    if (!st && workspace_bytes) *workspace_bytes += gather_bytes(en, k) + (en->data_movement ? 0 : scratch_bound(k));
    return st;
}

/* prepared state: a convolution's host-allocated block (conv.cu), or LINEAR's cuBLASLt plan
 * (gemm.cu), told apart by the op each starts with; MATMUL only asks for workspace */
extern "C" void cu_release(void *self, void *prepared) {
    cu_backend *b = (cu_backend *)self;
    if (!b || !prepared) return;
    int op;
    memcpy(&op, prepared, sizeof op);
    if (op == CV_OP_LINEAR) cu_linear_release(b, prepared);
    else b->host->free(prepared);
}

extern "C" int cu_run(void *self, const cv_kernel *k, cv_error *err) {
    cu_backend *b = (cu_backend *)self;
    if (!k) return b->host->set_error(err, CV_ERR_INVALID, "backend cuda: run() without a kernel");
    return b->recording ? cu_graph_record(b, k, err) : cu_dispatch(b, k, err);
}
