/* plugins/backends/cpu/backend.c — the CPU backend plugin: registration, the
 * instance (threads, oneDNN engine and stream), memory, and the dispatch of each
 * kernel to oneDNN (convolution, matmul, batch norm, pooling) or to our own
 * OpenMP loops (everything else). */
#include "cpu.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static const char *const layout_choices[] = { "plain", "blocked", NULL };
static const char *const bn_choices[] = { "own", "onednn", NULL };
static const char *const alg_choices[] = { "auto", "direct", NULL };
static const char *const precision_choices[] = { "fp32", "bf16", NULL };
static const cv_option_desc cpu_options[] = {
    CV_OPT_ENUM_("conv_layout", "blocked", layout_choices,
                 "layout oneDNN convolutions compute in: plain (NCHW as stored) or blocked "
                 "(nChw16c, reordered inside each convolution)"),
    CV_OPT_ENUM_("conv_algorithm", "auto", alg_choices,
                 "convolution algorithm: auto (Winograd for 3x3 stride-1 layers: oneDNN's F(4x4,3x3) in fp32, ~1.7x "
                 "faster; our own F(2x2,3x3) with precision = bf16, ~1.4x) or direct"),
    CV_OPT_ENUM_("batch_norm", "own", bn_choices,
                 "batch norm kernels: own (OpenMP loops over NCHW) or onednn (its plain-layout kernel, much slower)"),
    CV_OPT_ENUM_("precision", "fp32", precision_choices,
                 "set by the host from [run] precision: bf16 runs convolutions and matmuls in bf16 (AVX512-BF16) "
                 "with f32 accumulation, and the blocked activations between kernels are stored in bf16; "
                 "parameters, gradients, optimizer state, batch-norm statistics and losses stay f32"),
    CV_OPT_BOOL_("profile", "false", "time every kernel and log seconds per op kind when the backend is destroyed"),
    CV_OPT_END,
};

static int cpu_create(const cv_create_args *args, void **self, cv_error *err) {
    const cv_host *h = args->host;
    cpu_backend *b = h->alloc_array(1, sizeof *b);
    if (!b) return h->set_error(err, CV_ERR_NOMEM, "backend cpu: out of memory creating the instance");
    b->host = h;
    b->threads = args->threads > 0 ? args->threads : omp_get_num_procs();
    b->blocked = 1;
    const cv_value *v = args->opts ? h->opt(args->opts, "conv_layout") : NULL;
    if (v && v->is_set && v->s) b->blocked = strcmp(v->s, "plain") != 0;
    v = args->opts ? h->opt(args->opts, "conv_algorithm") : NULL;
    b->conv_auto = !(v && v->is_set && v->s && strcmp(v->s, "direct") == 0);
    v = args->opts ? h->opt(args->opts, "batch_norm") : NULL;
    b->onednn_bn = v && v->is_set && v->s && strcmp(v->s, "onednn") == 0;
    v = args->opts ? h->opt(args->opts, "precision") : NULL;
    b->bf16 = v && v->is_set && v->s && strcmp(v->s, "bf16") == 0;
    if (b->bf16 && (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core_bf16) != dnnl_cpu_isa_avx512_core_bf16) {
        h->free(b);
        return h->set_error(err, CV_ERR_UNSUPPORTED,
                            "backend cpu: precision = bf16 needs a CPU with AVX512-BF16 (oneDNN sees no such "
                            "instructions here); use [run] precision = fp32");
    }
    v = args->opts ? h->opt(args->opts, "profile") : NULL;
    b->profile = v && v->is_set && v->i;
    if (dnnl_engine_create(&b->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&b->stream, b->engine, dnnl_stream_default_flags) != dnnl_success) {
        if (b->engine) dnnl_engine_destroy(b->engine);
        h->free(b);
        return h->set_error(err, CV_ERR_INTERNAL, "backend cpu: oneDNN could not create a CPU engine/stream");
    }
    *self = b;
    return CV_OK;
}

/* the profile, slowest op kinds first */
static void log_profile(cpu_backend *b) {
    double total = 0;
    int order[128], n = 0;
    for (int op = 0; op < 128; op++)
        if (b->prof_n[op]) { order[n++] = op; total += b->prof_s[op]; }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && b->prof_s[order[j]] > b->prof_s[order[j - 1]]; j--) {
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    b->host->log(b->host->host_ctx, CV_LOG_INFO, "backend cpu", "profile: %.3f s in kernels", total);
    for (int i = 0; i < n; i++)
        b->host->log(b->host->host_ctx, CV_LOG_INFO, "backend cpu", "  %-24s %8lld calls %9.3f s %5.1f %%",
                     op_name(order[i]), (long long)b->prof_n[order[i]], b->prof_s[order[i]],
                     total > 0 ? 100.0 * b->prof_s[order[i]] / total : 0.0);
}

static void cpu_destroy(void *self) {
    cpu_backend *b = self;
    if (!b) return;
    if (b->profile) log_profile(b);
    dnnl_stream_destroy(b->stream);
    dnnl_engine_destroy(b->engine);
    b->host->free(b);
}

static void *cpu_alloc(void *self, size_t bytes) {
    cpu_backend *b = self;
    return b->host->alloc(bytes ? bytes : 1);
}
static void cpu_free(void *self, void *p) {
    cpu_backend *b = self;
    b->host->free(p);
}
static int cpu_copy(void *self, void *dst, const void *src, size_t bytes, cv_error *err) {
    cpu_backend *b = self;
    if (bytes && (!dst || !src)) return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: copy of %zu bytes with a NULL pointer", bytes);
    if (bytes && dst != src) memmove(dst, src, bytes);
    return CV_OK;
}

static int cpu_supports(void *self, int op, int dtype) {
    const cpu_backend *b = self;
    switch (op) {
    case CV_OP_CAST: case CV_OP_COPY: case CV_OP_FILL: case CV_OP_RESHAPE: case CV_OP_PERMUTE:
    case CV_OP_SLICE: case CV_OP_CONCAT: case CV_OP_PAD: case CV_OP_BROADCAST_TO:
        return dtype == CV_F32 || dtype == CV_BF16 || dtype == CV_F16 || dtype == CV_I32 || dtype == CV_U8;
    case CV_OP_CONV3D:
        return 0;
    /* bf16: the blocked activations the engine stores in 16 bits (cpu_layout_class) */
    case CV_OP_CONV2D: case CV_OP_CONV2D_BWD_DATA: case CV_OP_BATCH_NORM: case CV_OP_BATCH_NORM_BWD: case CV_OP_UNARY:
    case CV_OP_UNARY_BWD: case CV_OP_BINARY: case CV_OP_SCALAR: case CV_OP_REDUCE: case CV_OP_POOL2D: case CV_OP_POOL2D_BWD:
    case CV_OP_ADAPTIVE_AVG_POOL2D: case CV_OP_ADAPTIVE_AVG_POOL2D_BWD:
        return dtype == CV_F32 || (dtype == CV_BF16 && b->bf16);
    default:
        return dtype == CV_F32 && op_name(op) != NULL;
    }
}

/* the params struct each op kind reads (0: none) */
static size_t params_size_of(int op) {
    switch (op) {
    case CV_OP_CONV2D: case CV_OP_CONV2D_BWD_DATA: case CV_OP_CONV2D_BWD_WEIGHT: return sizeof(cv_conv_params);
    case CV_OP_MATMUL: return sizeof(cv_matmul_params);
    case CV_OP_BATCH_NORM: case CV_OP_LAYER_NORM: case CV_OP_GROUP_NORM: case CV_OP_BATCH_NORM_BWD:
    case CV_OP_LAYER_NORM_BWD: case CV_OP_GROUP_NORM_BWD: return sizeof(cv_norm_params);
    case CV_OP_UNARY: case CV_OP_UNARY_BWD: return sizeof(cv_unary_params);
    case CV_OP_BINARY: return sizeof(cv_binary_params);
    case CV_OP_SCALAR: case CV_OP_FILL: return sizeof(cv_scalar_params);
    case CV_OP_REDUCE: return sizeof(cv_reduce_params);
    case CV_OP_POOL2D: case CV_OP_POOL2D_BWD: return sizeof(cv_pool_params);
    case CV_OP_ADAPTIVE_AVG_POOL2D: case CV_OP_ADAPTIVE_AVG_POOL2D_BWD: case CV_OP_RESIZE: case CV_OP_RESIZE_BWD:
        return sizeof(cv_resize_params);
    case CV_OP_CONCAT: return sizeof(cv_axis_params);
    case CV_OP_SLICE: return sizeof(cv_slice_params);
    case CV_OP_PAD: return sizeof(cv_pad_params);
    case CV_OP_PERMUTE: return sizeof(cv_permute_params);
    case CV_OP_SOFTMAX: case CV_OP_SOFTMAX_BWD: return sizeof(cv_softmax_params);
    case CV_OP_DROPOUT: case CV_OP_DROP_PATH: return sizeof(cv_dropout_params);
    case CV_OP_CROSS_ENTROPY: case CV_OP_CROSS_ENTROPY_BWD: return sizeof(cv_ce_params);
    case CV_OP_SMOOTH_L1: case CV_OP_SMOOTH_L1_BWD: return sizeof(cv_smooth_l1_params);
    case CV_OP_SGD_UPDATE: return sizeof(cv_sgd_params);
    case CV_OP_ADAM_UPDATE: case CV_OP_LAMB_UPDATE: return sizeof(cv_adam_params);
    case CV_OP_RMSPROP_UPDATE: return sizeof(cv_rmsprop_params);
    case CV_OP_AXPBY: return sizeof(cv_axpby_params);
    default: return 0; /* CAST's params are optional; the rest take none */
    }
}

/* Every operand: a known dtype, 0..5 dims, sizes >= 0 whose byte count fits,
 * and data unless it is empty (at prepare time data is NULL by contract). */
static int check_operands(cpu_backend *b, const cv_kernel *k, int need_data, cv_error *err) {
    if (k->n_in < 0 || k->n_out < 0 || (k->n_in && !k->in) || (k->n_out && !k->out))
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: op %d: bad operand counts %d / %d", k->op, k->n_in, k->n_out);
    size_t want = params_size_of(k->op);
    if (want && (!k->params || k->params_size < want))
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: params of %u bytes given, %zu expected", op_name(k->op),
                        k->params ? k->params_size : 0u, want);
    for (int io = 0; io < 2; io++)
        for (int i = 0; i < (io ? k->n_out : k->n_in); i++) {
            const cv_ktensor *t = io ? &k->out[i] : &k->in[i];
            const char *what = io ? "output" : "input";
            if (!dtype_size(t->dtype) || t->ndim < 0 || t->ndim > CV_MAX_DIMS)
                return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: %s %d has dtype %d and %d dims",
                                op_name(k->op) ? op_name(k->op) : "?", what, i, t->dtype, t->ndim);
            int64_t n = 1;
            for (int d = 0; d < t->ndim; d++) {
                if (t->shape[d] < 0 || (t->shape[d] > 0 && n > (INT64_MAX / 16) / t->shape[d]))
                    return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: %s %d has bad size %lld in dim %d",
                                    op_name(k->op) ? op_name(k->op) : "?", what, i, (long long)t->shape[d], d);
                n *= t->shape[d];
            }
            if (need_data && n > 0 && !t->data)
                return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: %s %d has no data", op_name(k->op), what, i);
        }
    return CV_OK;
}

/* Workspace of the non-oneDNN ops: dense copies of strided operands. */
static int cpu_prepare(void *self, const cv_kernel *k, void **prepared, size_t *ws, cv_error *err) {
    cpu_backend *b = self;
    *prepared = NULL;
    *ws = 0;
    if (!op_name(k->op) || k->op == CV_OP_CONV3D)
        return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: op %d is not implemented", k->op);
    int st = check_operands(b, k, 0, err);
    if (st == CV_OK) st = layout_check(b, k, err);
    if (st != CV_OK) return st;
    omp_set_num_threads(b->threads);
    if (wino_handles(b, k)) {
        *ws = wino_scratch_bytes(b, k);
        return CV_OK;
    }
    if (dw_handles(b, k)) {
        *ws = dw_scratch_bytes(b, k);
        return CV_OK;
    }
    if (dnn_handles(b, k)) return dnn_prepare(b, k, prepared, ws, err);
    *ws = dense_bytes(k) + norm_scratch_bytes(k, b->threads) + spatial_scratch_bytes(k, b->threads) + eltwise_bf16_bytes(k);
    return CV_OK;
}

static void cpu_release(void *self, void *prepared) {
    (void)self;
    if (prepared) dnn_release(prepared);
}

static int cpu_run_kernel(cpu_backend *b, const cv_kernel *k, cv_error *err);

static int cpu_run(void *self, const cv_kernel *k, cv_error *err) {
    cpu_backend *b = self;
    if (!b->profile || k->op < 0 || k->op >= 128) return cpu_run_kernel(b, k, err);
    double t0 = omp_get_wtime();
    int st = cpu_run_kernel(b, k, err);
    b->prof_s[k->op] += omp_get_wtime() - t0;
    b->prof_n[k->op]++;
    return st;
}

static int cpu_run_kernel(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    if (!op_name(k->op) || k->op == CV_OP_CONV3D)
        return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: op %d is not implemented", k->op);
    int st0 = check_operands(b, k, 1, err);
    if (st0 == CV_OK) st0 = layout_check(b, k, err);
    if (st0 != CV_OK) return st0;
    omp_set_num_threads(b->threads);
    if (wino_handles(b, k)) return run_wino(b, k, err);
    if (dw_handles(b, k)) return run_dw_bwd_weight(b, k, err);
    if (dnn_handles(b, k)) {
        if (k->prepared) return dnn_run(b, k, err);
        /* not prepared by the host: build, run once, drop */
        void *prep = NULL;
        size_t ws = 0;
        int st = dnn_prepare(b, k, &prep, &ws, err);
        if (st != CV_OK) return st;
        void *mem = ws > k->workspace_bytes ? b->host->alloc(ws) : NULL;
        if (ws > k->workspace_bytes && !mem) {
            dnn_release(prep);
            return CPU_FAIL(b, err, CV_ERR_NOMEM, "backend cpu: %s: no memory for %zu bytes of workspace", op_name(k->op), ws);
        }
        cv_kernel kk = *k;
        kk.prepared = prep;
        if (mem) { kk.workspace = mem; kk.workspace_bytes = ws; }
        st = dnn_run(b, &kk, err);
        b->host->free(mem);
        dnn_release(prep);
        return st;
    }
    switch (k->op) {
    case CV_OP_UNARY: case CV_OP_UNARY_BWD: case CV_OP_BINARY: case CV_OP_SCALAR: case CV_OP_CAST:
    case CV_OP_COPY: case CV_OP_FILL: case CV_OP_DROPOUT: case CV_OP_DROP_PATH: case CV_OP_DROPOUT_BWD:
        return run_eltwise(b, k, err);
    case CV_OP_RESHAPE: case CV_OP_PERMUTE: case CV_OP_SLICE: case CV_OP_CONCAT: case CV_OP_PAD:
    case CV_OP_BROADCAST_TO:
        return run_shape(b, k, err);
    case CV_OP_REDUCE: case CV_OP_SUM_TO: case CV_OP_SOFTMAX: case CV_OP_SOFTMAX_BWD: case CV_OP_SUMSQ:
    case CV_OP_NONFINITE:
        return run_reduce(b, k, err);
    case CV_OP_BATCH_NORM: case CV_OP_BATCH_NORM_BWD:
        return run_batch_norm(b, k, err);
    case CV_OP_LAYER_NORM: case CV_OP_LAYER_NORM_BWD: case CV_OP_GROUP_NORM: case CV_OP_GROUP_NORM_BWD:
        return run_norm(b, k, err);
    case CV_OP_CROSS_ENTROPY: case CV_OP_CROSS_ENTROPY_BWD: case CV_OP_BCE_LOGITS: case CV_OP_BCE_LOGITS_BWD:
    case CV_OP_SMOOTH_L1: case CV_OP_SMOOTH_L1_BWD:
        return run_loss(b, k, err);
    case CV_OP_POOL2D: case CV_OP_POOL2D_BWD: case CV_OP_ADAPTIVE_AVG_POOL2D: case CV_OP_ADAPTIVE_AVG_POOL2D_BWD:
    case CV_OP_RESIZE: case CV_OP_RESIZE_BWD: case CV_OP_EMBEDDING: case CV_OP_EMBEDDING_BWD:
        return run_spatial(b, k, err);
    case CV_OP_SGD_UPDATE: case CV_OP_ADAM_UPDATE: case CV_OP_RMSPROP_UPDATE: case CV_OP_LAMB_UPDATE:
    case CV_OP_AXPBY:
        return run_update(b, k, err);
    default:
        return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: op %s (%d) is not implemented",
                        op_name(k->op) ? op_name(k->op) : "unknown", k->op);
    }
}

static int cpu_sync(void *self, cv_error *err) {
    (void)self; (void)err;
    return CV_OK;
}

static const cv_backend_vtable cpu_vtable = {
    .struct_size = sizeof(cv_backend_vtable),
    .host_accessible = 1,
    .blocked_layout = CV_LAYOUT_C16,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .supports = cpu_supports,
    .prepare = cpu_prepare,
    .release = cpu_release,
    .run = cpu_run,
    .sync = cpu_sync,
    .layout_class = cpu_layout_class,
};

static const cv_component_desc cpu_desc = {
    .struct_size = sizeof(cv_component_desc),
    .abi_major = CV_ABI_MAJOR,
    .abi_minor = CV_ABI_MINOR,
    .kind = CV_KIND_BACKEND,
    .name = "cpu",
    .task = "any",
    .summary = "fast CPU backend: oneDNN convolution, matmul and pooling; vectorised OpenMP loops for every other op",
    .options = cpu_options,
    .create = cpu_create,
    .destroy = cpu_destroy,
    .vtable = &cpu_vtable,
};

CV_PLUGIN_ENTRY {
    return host->register_component(host->host_ctx, &cpu_desc, err);
}
