/* plugin.c — the reference backend "ref": host memory, one plain C kernel per op
 * kind, and the dispatcher that hands every kernel dense f32 operands.
 *
 * Input / output order of every op kind (the engine and the other backends rely
 * on it; doc/backend-ref.md explains each in more detail).  "(x)" is optional:
 * present when n_in / n_out is large enough.
 *
 *   op                       inputs                              outputs
 *   CONV2D                   x[N,C,H,W] w[O,C/g,kh,kw] (b[O])    y[N,O,Ho,Wo]
 *   MATMUL                   a[..,M,K] b[..,K,N] (trans flags     y[..,M,N] (batch dims broadcast)
 *                            swap the last two dims)
 *   LINEAR                   x[..,K] w[N,K] (b[N])               y[..,N]
 *   BATCH_NORM               x[N,C,..] gamma[C] beta[C]          y, (save_mean[C]), (save_rstd[C]),
 *                            run_mean[C] run_var[C]              (new_run_mean[C]), (new_run_var[C])
 *                            training: running stats updated in place in inputs 3,4
 *                            unless outputs 3,4 are given (then written there instead)
 *   LAYER_NORM               x (gamma) (beta) [last `axes` dims]  y, (save_mean[outer]), (save_rstd[outer])
 *   GROUP_NORM               x[N,C,..] (gamma[C]) (beta[C])      y, (save_mean[N*G]), (save_rstd[N*G])
 *   UNARY / SCALAR           x                                   y
 *   BINARY                   a b (numpy broadcasting)            y
 *   REDUCE                   x                                   y (axes bitmask, keepdim)
 *   POOL2D                   x[N,C,H,W]                          y[N,C,Ho,Wo]
 *   ADAPTIVE_AVG_POOL2D      x[N,C,H,W]                          y[N,C,out_h,out_w]
 *   RESIZE                   x[N,C,H,W]                          y[N,C,out_h,out_w]
 *   CONCAT                   x0 .. x(n-1)                        y
 *   SLICE / PAD / RESHAPE / PERMUTE / BROADCAST_TO / SUM_TO   x   y (shape of y as given)
 *   SOFTMAX                  x                                   y (log-softmax when log)
 *   DROPOUT / DROP_PATH      x                                   y, (mask: x's shape, or [N] for drop path)
 *   CROSS_ENTROPY            logits[N,C(,H,W)] target (weight[C]) loss[1] (or a 0-d scalar)
 *                            target: i32 [N(,H,W)] or f32 soft, logits' shape
 *   BCE_LOGITS               logits target                       loss[1]
 *   SMOOTH_L1                pred target                         loss[1]
 *   CAST / COPY              x                                   y (dtype converts)
 *   EMBEDDING                weight[V,D] idx i32[..]             y[..,D]
 *   CONV2D_BWD_DATA          dy w                                dx
 *   CONV2D_BWD_WEIGHT        dy x                                dw
 *   BATCH/LAYER/GROUP_NORM_BWD x dy gamma mean rstd              dx, (dgamma), (dbeta)
 *   UNARY_BWD                x dy                                dx
 *   POOL2D_BWD               x y dy                              dx
 *   ADAPTIVE_AVG_POOL2D_BWD  dy                                  dx
 *   RESIZE_BWD               dy                                  dx
 *   SOFTMAX_BWD              y dy                                dx
 *   DROPOUT_BWD              mask dy                             dx
 *   CROSS_ENTROPY_BWD        logits target (weight) dloss        dlogits
 *   BCE_LOGITS_BWD           logits target dloss                 dlogits
 *   SMOOTH_L1_BWD            pred target dloss                   dpred
 *   EMBEDDING_BWD            idx dy                              dweight[V,D]
 *   SGD_UPDATE               grad                                param, (momentum)   in place
 *   ADAM_UPDATE              grad                                param, m, v         in place
 *   RMSPROP_UPDATE           grad                                param, sq_avg, (mom) in place
 *   LAMB_UPDATE              grad                                param, m, v         in place
 *   SUMSQ / NONFINITE        x                                   f32[1]
 *   AXPBY                    x                                   y (in place: a*y + b*x)
 *   FILL                     -                                   y (value)
 */
#include <stdarg.h>
#include <stdio.h>
#include "ref.h"

typedef struct ref_backend {
    const cv_host *host;
} ref_backend;

typedef struct ref_entry {
    int op;
    const char *name;
    ref_kernel_fn fn;
    size_t params_size; /* minimum params_size; 0 = the op takes no params */
    int in_place;       /* outputs are read as well as written */
    int data_movement;  /* runs on every dtype (values pass through f32/double) */
} ref_entry;

static const ref_entry ref_ops[] = {
    { CV_OP_CONV2D, "CONV2D", ref_conv2d, sizeof(cv_conv_params), 0, 0 },
    { CV_OP_MATMUL, "MATMUL", ref_matmul, sizeof(cv_matmul_params), 0, 0 },
    { CV_OP_LINEAR, "LINEAR", ref_linear, 0, 0, 0 },
    { CV_OP_BATCH_NORM, "BATCH_NORM", ref_batch_norm, sizeof(cv_norm_params), 0, 0 },
    { CV_OP_LAYER_NORM, "LAYER_NORM", ref_layer_norm, sizeof(cv_norm_params), 0, 0 },
    { CV_OP_GROUP_NORM, "GROUP_NORM", ref_group_norm, sizeof(cv_norm_params), 0, 0 },
    { CV_OP_UNARY, "UNARY", ref_unary, sizeof(cv_unary_params), 0, 0 },
    { CV_OP_BINARY, "BINARY", ref_binary, sizeof(cv_binary_params), 0, 0 },
    { CV_OP_SCALAR, "SCALAR", ref_scalar, sizeof(cv_scalar_params), 0, 0 },
    { CV_OP_REDUCE, "REDUCE", ref_reduce, sizeof(cv_reduce_params), 0, 0 },
    { CV_OP_POOL2D, "POOL2D", ref_pool2d, sizeof(cv_pool_params), 0, 0 },
    { CV_OP_ADAPTIVE_AVG_POOL2D, "ADAPTIVE_AVG_POOL2D", ref_adaptive_avg_pool2d, sizeof(cv_resize_params), 0, 0 },
    { CV_OP_RESIZE, "RESIZE", ref_resize, sizeof(cv_resize_params), 0, 0 },
    { CV_OP_CONCAT, "CONCAT", ref_concat, sizeof(cv_axis_params), 0, 1 },
    { CV_OP_SLICE, "SLICE", ref_slice, sizeof(cv_slice_params), 0, 1 },
    { CV_OP_PAD, "PAD", ref_pad, sizeof(cv_pad_params), 0, 1 },
    { CV_OP_RESHAPE, "RESHAPE", ref_reshape, 0, 0, 1 },
    { CV_OP_PERMUTE, "PERMUTE", ref_permute, sizeof(cv_permute_params), 0, 1 },
    { CV_OP_SOFTMAX, "SOFTMAX", ref_softmax, sizeof(cv_softmax_params), 0, 0 },
    { CV_OP_DROPOUT, "DROPOUT", ref_dropout, sizeof(cv_dropout_params), 0, 0 },
    { CV_OP_DROP_PATH, "DROP_PATH", ref_drop_path, sizeof(cv_dropout_params), 0, 0 },
    { CV_OP_CROSS_ENTROPY, "CROSS_ENTROPY", ref_cross_entropy, sizeof(cv_ce_params), 0, 0 },
    { CV_OP_BCE_LOGITS, "BCE_LOGITS", ref_bce_logits, 0, 0, 0 },
    { CV_OP_SMOOTH_L1, "SMOOTH_L1", ref_smooth_l1, sizeof(cv_smooth_l1_params), 0, 0 },
    { CV_OP_CAST, "CAST", NULL, 0, 0, 1 },
    { CV_OP_EMBEDDING, "EMBEDDING", ref_embedding, 0, 0, 0 },
    { CV_OP_BROADCAST_TO, "BROADCAST_TO", ref_broadcast_to, 0, 0, 1 },
    { CV_OP_SUM_TO, "SUM_TO", ref_sum_to, 0, 0, 0 },
    { CV_OP_CONV2D_BWD_DATA, "CONV2D_BWD_DATA", ref_conv2d_bwd_data, sizeof(cv_conv_params), 0, 0 },
    { CV_OP_CONV2D_BWD_WEIGHT, "CONV2D_BWD_WEIGHT", ref_conv2d_bwd_weight, sizeof(cv_conv_params), 0, 0 },
    { CV_OP_BATCH_NORM_BWD, "BATCH_NORM_BWD", ref_batch_norm_bwd, sizeof(cv_norm_params), 0, 0 },
    { CV_OP_LAYER_NORM_BWD, "LAYER_NORM_BWD", ref_layer_norm_bwd, sizeof(cv_norm_params), 0, 0 },
    { CV_OP_GROUP_NORM_BWD, "GROUP_NORM_BWD", ref_group_norm_bwd, sizeof(cv_norm_params), 0, 0 },
    { CV_OP_UNARY_BWD, "UNARY_BWD", ref_unary_bwd, sizeof(cv_unary_params), 0, 0 },
    { CV_OP_POOL2D_BWD, "POOL2D_BWD", ref_pool2d_bwd, sizeof(cv_pool_params), 0, 0 },
    { CV_OP_ADAPTIVE_AVG_POOL2D_BWD, "ADAPTIVE_AVG_POOL2D_BWD", ref_adaptive_avg_pool2d_bwd, sizeof(cv_resize_params), 0, 0 },
    { CV_OP_RESIZE_BWD, "RESIZE_BWD", ref_resize_bwd, sizeof(cv_resize_params), 0, 0 },
    { CV_OP_SOFTMAX_BWD, "SOFTMAX_BWD", ref_softmax_bwd, sizeof(cv_softmax_params), 0, 0 },
    { CV_OP_DROPOUT_BWD, "DROPOUT_BWD", ref_dropout_bwd, 0, 0, 0 },
    { CV_OP_CROSS_ENTROPY_BWD, "CROSS_ENTROPY_BWD", ref_cross_entropy_bwd, sizeof(cv_ce_params), 0, 0 },
    { CV_OP_BCE_LOGITS_BWD, "BCE_LOGITS_BWD", ref_bce_logits_bwd, 0, 0, 0 },
    { CV_OP_SMOOTH_L1_BWD, "SMOOTH_L1_BWD", ref_smooth_l1_bwd, sizeof(cv_smooth_l1_params), 0, 0 },
    { CV_OP_EMBEDDING_BWD, "EMBEDDING_BWD", ref_embedding_bwd, 0, 0, 0 },
    { CV_OP_SGD_UPDATE, "SGD_UPDATE", ref_sgd_update, sizeof(cv_sgd_params), 1, 0 },
    { CV_OP_ADAM_UPDATE, "ADAM_UPDATE", ref_adam_update, sizeof(cv_adam_params), 1, 0 },
    { CV_OP_RMSPROP_UPDATE, "RMSPROP_UPDATE", ref_rmsprop_update, sizeof(cv_rmsprop_params), 1, 0 },
    { CV_OP_LAMB_UPDATE, "LAMB_UPDATE", ref_lamb_update, sizeof(cv_adam_params), 1, 0 },
    { CV_OP_SUMSQ, "SUMSQ", ref_sumsq, 0, 0, 1 },
    { CV_OP_AXPBY, "AXPBY", ref_axpby, sizeof(cv_axpby_params), 1, 0 },
    { CV_OP_FILL, "FILL", ref_fill, sizeof(cv_scalar_params), 0, 1 },
    { CV_OP_COPY, "COPY", NULL, 0, 0, 1 },
    { CV_OP_NONFINITE, "NONFINITE", ref_nonfinite, 0, 0, 1 },
};

static const ref_entry *ref_find(int op) {
    for (size_t i = 0; i < sizeof ref_ops / sizeof ref_ops[0]; i++)
        if (ref_ops[i].op == op) return &ref_ops[i];
    return NULL;
}

/* ---- helpers shared by the kernels ------------------------------------------------ */
int ref_fail(ref_run *r, int status, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return r->host->set_error(r->err, status, "ref backend: %s: %s", r->op_name, msg);
}

const char *ref_shape_str(const ref_t *t, char *buf, size_t n) {
    size_t used = 0;
    used += (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? ",%lld" : "%lld", (long long)t->shape[d]);
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

int ref_arity(ref_run *r, int min_in, int max_in, int min_out, int max_out) {
    if (r->n_in < min_in || r->n_in > max_in || r->n_out < min_out || r->n_out > max_out)
        return ref_fail(r, CV_ERR_INVALID, "expects %d..%d inputs and %d..%d outputs, got %d and %d",
                        min_in, max_in, min_out, max_out, r->n_in, r->n_out);
    return CV_OK;
}

int ref_same_shape(ref_run *r, const ref_t *a, const char *an, const ref_t *b, const char *bn) {
    int same = a->ndim == b->ndim;
    for (int d = 0; same && d < a->ndim; d++) same = a->shape[d] == b->shape[d];
    if (!same) {
        char sa[96], sb[96];
        ref_fail(r, CV_ERR_INVALID, "%s %s and %s %s must have the same shape", an, ref_shape_str(a, sa, sizeof sa),
                 bn, ref_shape_str(b, sb, sizeof sb));
    }
    return same;
}

void *ref_scratch(ref_run *r, size_t n, size_t size) {
    void *p = r->host->alloc_array(n ? n : 1, size);
    if (!p) ref_fail(r, CV_ERR_NOMEM, "out of memory for %zu scratch elements", n);
    return p;
}

void ref_scratch_free(ref_run *r, void *p) { r->host->free(p); }

int ref_axis(ref_run *r, int axis, int ndim) {
    int a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a >= ndim) {
        ref_fail(r, CV_ERR_INVALID, "axis %d is out of range for a %d-d tensor", axis, ndim);
        return -1;
    }
    return a;
}

/* splitmix64 finaliser over seed + (i+1)*golden; the top 24 bits give a uniform
 * float in [0,1).  Other backends reproduce exactly this to match masks. */
double ref_hash_uniform(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 40) * (1.0 / 16777216.0);
}

/* ---- the dispatcher ------------------------------------------------------------------- */
static int ref_check_ktensor(const cv_host *host, const cv_ktensor *t, const char *op, const char *what, int i,
                             cv_error *err) {
    if (ref_dtype_size(t->dtype) == 0)
        return host->set_error(err, CV_ERR_INVALID, "ref backend: %s: %s %d has unknown dtype %d", op, what, i, t->dtype);
    if (t->ndim < 0 || t->ndim > CV_MAX_DIMS)
        return host->set_error(err, CV_ERR_INVALID, "ref backend: %s: %s %d has %d dims (0..%d allowed)", op, what, i,
                               t->ndim, CV_MAX_DIMS);
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0 || (t->shape[d] > 0 && n > INT64_MAX / 16 / t->shape[d]))
            return host->set_error(err, CV_ERR_INVALID, "ref backend: %s: %s %d has bad size %lld in dim %d", op, what,
                                   i, (long long)t->shape[d], d);
        n *= t->shape[d];
    }
    if (n > 0 && !t->data)
        return host->set_error(err, CV_ERR_INVALID, "ref backend: %s: %s %d has no data", op, what, i);
    return CV_OK;
}

/* Fill a dense f32 (and i32) view of t; direct when t is already dense f32. */
static int ref_view(ref_run *r, const cv_ktensor *t, ref_t *v, int gather, int want_i32, int *owned) {
    v->ndim = t->ndim;
    memcpy(v->shape, t->shape, sizeof v->shape);
    v->numel = ref_numel(t);
    v->dtype = t->dtype;
    v->i = NULL;
    *owned = 0;
    if (t->dtype == CV_F32 && ref_is_contiguous(t)) {
        v->f = (float *)t->data;
    } else {
        v->f = ref_scratch(r, (size_t)v->numel, sizeof(float));
        if (!v->f) return r->err->status;
        *owned |= 1;
        if (gather)
            for (int64_t e = 0; e < v->numel; e++) v->f[e] = (float)ref_load(t->dtype, t->data, ref_offset(t, e));
    }
    if (want_i32 && t->dtype == CV_I32) {
        v->i = ref_scratch(r, (size_t)v->numel, sizeof(int32_t));
        if (!v->i) return r->err->status;
        *owned |= 2;
        for (int64_t e = 0; e < v->numel; e++) v->i[e] = ((const int32_t *)t->data)[ref_offset(t, e)];
    }
    return CV_OK;
}

static void ref_store_back(const cv_ktensor *t, const ref_t *v) {
    for (int64_t e = 0; e < v->numel; e++) ref_store(t->dtype, t->data, ref_offset(t, e), v->f[e]);
}

static int ref_unknown_op(const cv_host *host, int op, cv_error *err) {
    return host->set_error(err, CV_ERR_UNSUPPORTED, "ref backend: op kind %d is not implemented%s", op,
                           op == CV_OP_CONV3D ? " (CONV3D is reserved for video)" : "");
}

static int ref_dispatch(const cv_host *host, const cv_kernel *k, cv_error *err) {
    const ref_entry *en = ref_find(k->op);
    if (!en) return ref_unknown_op(host, k->op, err);
    if (k->n_in < 0 || k->n_in > REF_MAX_IO || k->n_out < 0 || k->n_out > REF_MAX_IO ||
        (k->n_in && !k->in) || (k->n_out && !k->out))
        return host->set_error(err, CV_ERR_INVALID, "ref backend: %s: bad operand counts (%d in, %d out, %d max)",
                               en->name, k->n_in, k->n_out, REF_MAX_IO);
    if (en->params_size && (!k->params || k->params_size < en->params_size))
        return host->set_error(err, CV_ERR_INVALID, "ref backend: %s: params missing or too small (%u bytes, need %zu)",
                               en->name, k->params_size, en->params_size);
    for (int i = 0; i < k->n_in; i++) {
        int st = ref_check_ktensor(host, &k->in[i], en->name, "input", i, err);
        if (st) return st;
    }
    for (int i = 0; i < k->n_out; i++) {
        int st = ref_check_ktensor(host, &k->out[i], en->name, "output", i, err);
        if (st) return st;
    }
    if (!en->fn) return ref_convert_copy(host, k, en->name, err);

    ref_run r;
    memset(&r, 0, sizeof r);
    r.host = host;
    r.k = k;
    r.params = k->params;
    r.err = err;
    r.op_name = en->name;
    r.n_in = k->n_in;
    r.n_out = k->n_out;
    int in_owned[REF_MAX_IO] = { 0 }, out_owned[REF_MAX_IO] = { 0 };
    int st = CV_OK;
    for (int i = 0; i < k->n_in && !st; i++) st = ref_view(&r, &k->in[i], &r.in[i], 1, 1, &in_owned[i]);
    for (int i = 0; i < k->n_out && !st; i++) st = ref_view(&r, &k->out[i], &r.out[i], en->in_place, 0, &out_owned[i]);
    if (!st) st = en->fn(&r);
    if (!st) {
        for (int i = 0; i < k->n_out; i++)
            if (out_owned[i] & 1) ref_store_back(&k->out[i], &r.out[i]);
        for (int i = 0; i < k->n_in; i++)
            if (r.in_written[i] && (in_owned[i] & 1)) ref_store_back(&k->in[i], &r.in[i]);
    }
    for (int i = 0; i < k->n_in; i++) {
        if (in_owned[i] & 1) host->free(r.in[i].f);
        if (in_owned[i] & 2) host->free(r.in[i].i);
    }
    for (int i = 0; i < k->n_out; i++)
        if (out_owned[i] & 1) host->free(r.out[i].f);
    return st;
}

/* ---- the backend vtable ------------------------------------------------------------------ */
static void *ref_alloc(void *self, size_t bytes) {
    ref_backend *b = self;
    return b->host->alloc(bytes ? bytes : 1);
}

static void ref_free(void *self, void *p) {
    ref_backend *b = self;
    b->host->free(p);
}

static int ref_copy_bytes(void *self, void *dst, const void *src, size_t bytes, cv_error *err) {
    ref_backend *b = self;
    if (bytes && (!dst || !src))
        return b->host->set_error(err, CV_ERR_INVALID, "ref backend: upload/download of %zu bytes with a NULL pointer",
                                  bytes);
    if (bytes) memmove(dst, src, bytes);
    return CV_OK;
}

static int ref_supports(void *self, int op, int dtype) {
    const ref_entry *en = ref_find(op);
    if (!en || ref_dtype_size(dtype) == 0) return 0;
    if (en->data_movement) return 1;
    /* compute ops run in f32; bf16 / f16 operands are widened and rounded back */
    return dtype == CV_F32 || dtype == CV_BF16 || dtype == CV_F16;
}

static int ref_prepare(void *self, const cv_kernel *k, void **prepared, size_t *workspace_bytes, cv_error *err) {
    ref_backend *b = self;
    if (!ref_find(k->op)) return ref_unknown_op(b->host, k->op, err);
    if (prepared) *prepared = NULL;
    if (workspace_bytes) *workspace_bytes = 0;
    return CV_OK;
}

static void ref_release(void *self, void *prepared) { (void)self; (void)prepared; }

static int ref_run_kernel(void *self, const cv_kernel *k, cv_error *err) {
    ref_backend *b = self;
    if (!k) return b->host->set_error(err, CV_ERR_INVALID, "ref backend: run() without a kernel");
    return ref_dispatch(b->host, k, err);
}

static int ref_sync(void *self, cv_error *err) { (void)self; (void)err; return CV_OK; }

static const cv_backend_vtable ref_vtable = {
    .struct_size = sizeof(cv_backend_vtable),
    .host_accessible = 1,
    .alloc = ref_alloc,
    .free = ref_free,
    .upload = ref_copy_bytes,
    .download = ref_copy_bytes,
    .supports = ref_supports,
    .prepare = ref_prepare,
    .release = ref_release,
    .run = ref_run_kernel,
    .sync = ref_sync,
};

static int ref_create(const cv_create_args *args, void **self, cv_error *err) {
    ref_backend *b = args->host->alloc_array(1, sizeof *b);
    if (!b) return args->host->set_error(err, CV_ERR_NOMEM, "ref backend: out of memory");
    b->host = args->host;
    *self = b;
    return CV_OK;
}

static void ref_destroy(void *self) {
    ref_backend *b = self;
    if (b) b->host->free(b);
}

static const cv_option_desc ref_options[] = { CV_OPT_END };

static const cv_component_desc ref_desc = {
    .struct_size = sizeof(cv_component_desc),
    .abi_major = CV_ABI_MAJOR,
    .abi_minor = CV_ABI_MINOR,
    .kind = CV_KIND_BACKEND,
    .name = "ref",
    .task = "any",
    .summary = "reference backend: plain C kernels for every op (the test oracle; slow)",
    .options = ref_options,
    .create = ref_create,
    .destroy = ref_destroy,
    .vtable = &ref_vtable,
};

CV_PLUGIN_ENTRY {
    return host->register_component(host->host_ctx, &ref_desc, err);
}
