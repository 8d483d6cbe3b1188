/* cuint.h — internals shared by the CUDA backend's .cu files: the instance, the
 * per-call view of operands every kernel entry works on, error helpers, and
 * device-side index helpers.
 *
 * Like the reference backend, the dispatcher (dispatch.cu) hands each compute
 * kernel dense row-major f32 operands on the device: an input that is already
 * dense f32 is used in place, anything else (strided views, broadcast views with
 * stride 0, bf16 / f16 / i32 / u8) is gathered by one strided-copy kernel into a
 * scratch buffer, and outputs are scattered back the same way.  Data-movement
 * ops (concat, slice, pad, permute, broadcast, cast, copy) skip that and copy
 * between the caller's strided tensors directly, in their own dtypes. */
#ifndef CV_CUDA_CUINT_H
#define CV_CUDA_CUINT_H

#include <cuda_runtime.h>
#include <cudnn.h>
#include <cublas_v2.h>
#include <cublasLt.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include "cu.h"

#define CU_MAX_IO 16
#define CU_THREADS 256
#define CU_BLAS_WS ((size_t)32 << 20) /* cuBLAS's workspace: its recommendation for Hopper */

struct cu_cache; /* the caching allocator (device.cu) */
struct cu_algo_cache; /* chosen convolution algorithms by shape (conv.cu) */
struct cu_graph; /* a recording (graph.cu) */
struct cu_wcache; /* converted convolution weights (wcache.cu) */

struct cu_backend {
    const cv_host *host;
    cu_config cfg;
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    cublasHandle_t cublas;
    cublasLtHandle_t cublaslt;
    void *blas_ws;         /* cuBLAS's workspace, ours (CU_BLAS_WS bytes), so it allocates nothing in a step */
    cu_cache *cache;
    cu_algo_cache *algos;
    char device_name[256];
    cu_graph *recording;   /* open recording: run() captures into it (graph.cu) */
    cu_graph *last_launch; /* launched since the last sync: its index checks are read there */
    cu_wcache *wcache;     /* converted convolution weights (wcache.cu) */
};

/* one dense operand on the device */
struct cu_t {
    int ndim;
    int64_t shape[CV_MAX_DIMS];
    int64_t numel;
    int dtype;       /* dtype of the caller's tensor */
    int nhwc;        /* a 4-D [N,C,H,W] stored channels-last (CV_LAYOUT_NHWC): f is that storage */
    float *f;        /* dense f32 values; NULL when h holds the values */
    uint16_t *h;     /* ABI 1.4: an NHWC activation stored in 16 bits (dtype CV_BF16 / CV_F16), handed
                      * in place to the kernels that take it (cu_entry.native16), else NULL */
    int32_t *i;      /* dense i32 values for i32 inputs, else NULL */
};

/* an activation operand as a kernel reads it (cu_ld, cu_st): f32 values at f, or (h
 * non-NULL) 16-bit ones of dtype dt */
struct cu_act {
    const float *f;
    const uint16_t *h;
    int dt;
};
struct cu_act_out {
    float *f;
    uint16_t *h;
    int dt;
};

struct cu_call {
    cu_backend *b;
    const cv_kernel *k;
    const void *params;
    cv_error *err;
    const char *op_name;
    int n_in, n_out;
    cu_t in[CU_MAX_IO];
    cu_t out[CU_MAX_IO];
    int in_written[CU_MAX_IO];  /* kernel wrote in[i] (running stats): scatter it back */
    char *ws;                   /* the kernel's own workspace (cu_workspace), after the gathers */
    size_t ws_bytes;
    char *gather;               /* the workspace's part reserved for gathered operands */
    size_t gather_left;
    char *scratch_area;         /* the workspace's part reserved for cu_scratch */
    size_t scratch_left;
    void *scratch[4 * CU_MAX_IO + 16];
    int n_scratch;
};

typedef int (*cu_kernel_fn)(cu_call *r);

/* ---- helpers (dispatch.cu) ------------------------------------------------------ */
int cu_fail(cu_call *r, int status, const char *fmt, ...) CV_PRINTF(3, 4);
const char *cu_shape_str(const cu_t *t, char *buf, size_t n);
int cu_arity(cu_call *r, int min_in, int max_in, int min_out, int max_out);
int cu_same_shape(cu_call *r, const cu_t *a, const char *an, const cu_t *b, const char *bn);
int cu_axis(cu_call *r, int axis, int ndim);
/* device scratch for this call: from the part of the workspace prepare() reserved for it,
 * else from the cache, returned when the call ends (stream order makes the reuse safe);
 * NULL with an error recorded on failure */
void *cu_scratch(cu_call *r, size_t bytes);
/* check a CUDA / cuDNN / cuBLAS status or the last launch; record "<OP>: <what>: <reason>" */
int cu_cuda(cu_call *r, cudaError_t e, const char *what);
int cu_launched(cu_call *r, const char *what);
/* the layouts k is given are ones this backend takes (layout.cu); else an error naming op and operand */
int cu_layout_check(cu_backend *b, const cv_kernel *k, const char *op, cv_error *err);
int cu_dnn(cu_call *r, cudnnStatus_t s, const char *what);
int cu_blas(cu_call *r, cublasStatus_t s, const char *what);
/* copy a device value back (syncs the stream) — for error checks of indices */
int cu_read_i64(cu_call *r, const int64_t *dev, int64_t *out);
int cu_bcast_ok(const int64_t *src, int src_nd, const int64_t *dst, int dst_nd);
const char *cu_op_name(int op);

/* ---- memory (device.cu) --------------------------------------------------------- */
void *cu_cache_get(cu_backend *b, size_t bytes);
void cu_cache_put(cu_backend *b, void *p);
/* the size of live block p (0 when p is not one) */
size_t cu_cache_block_bytes(cu_backend *b, void *p);
/* how often the cache gave its free blocks back to the driver (graphs recorded before are stale) */
uint64_t cu_cache_epoch(cu_backend *b);

/* ---- the dispatcher and graphs (dispatch.cu, graph.cu) ------------------------------ */
/* one kernel, executed now (or captured, when the stream is) */
int cu_dispatch(cu_backend *b, const cv_kernel *k, cv_error *err);
/* run() while a recording is open: capture k as its next node */
int cu_graph_record(cu_backend *b, const cv_kernel *k, cv_error *err);
/* scratch of a recorded kernel: from and back to the recording's own pool */
void *cu_graph_scratch_get(cu_backend *b, size_t bytes);
void cu_graph_scratch_put(cu_backend *b, void *p);
/* a device slot, owned by the recording, for an index check read back at sync; NULL with r's error */
int64_t *cu_graph_check_slot(cu_call *r, const int32_t *idx, int64_t n, int64_t hi, int use_ignore, int32_t ignore,
                             const char *what);
/* after a sync: report a failed index check of the recording launched last */
int cu_graph_checks(cu_backend *b, cv_error *err);
const char *cu_dnn_str(cudnnStatus_t s);
const char *cu_blas_str(cublasStatus_t s);

/* ---- converted convolution weights (wcache.cu) ---------------------------------- */
/* the copy of weight w [4-D shape] in dtype (krsc: channels-last filter); *current = 1 when it
 * already holds w's values, else the caller converts into it (it counts as current from now) */
void *cu_wcache_get(cu_call *r, const float *w, const int64_t *shape, int dtype, int krsc, int *current);
/* bytes [p, p+bytes) were written: copies of weights there are no longer current */
void cu_wcache_written(cu_backend *b, const void *p, size_t bytes);
/* what kernel k wrote (its outputs, and inputs flagged in in_written, may be NULL) */
void cu_wcache_kernel_wrote(cu_backend *b, const cv_kernel *k, const int *in_written);
/* no copy is current (a recording starts, or re-records a kernel) */
void cu_wcache_stale(cu_backend *b);
/* the block [p, p+bytes) is freed: drop the copies of weights in it */
void cu_wcache_forget(cu_backend *b, const void *p, size_t bytes);
void cu_wcache_free(cu_backend *b);

/* ---- strided copies with dtype conversion (convert.cu) ------------------------- */
struct cu_view {
    int dtype, ndim;
    int64_t shape[CV_MAX_DIMS];
    int64_t stride[CV_MAX_DIMS];
    void *data;
};
cu_view cu_view_of(const cv_ktensor *t);
/* a view of the kernel's operand as its layout stores it (NHWC: channel stride 1) */
cu_view cu_view_in(const cu_call *r, int i);
cu_view cu_view_out(const cu_call *r, int i);
/* a dense [N,C,H,W] of dtype at data, stored NCHW or (nhwc) channels-last */
cu_view cu_view_4d(int dtype, const int64_t *shape, int nhwc, void *data);
cu_view cu_view_dense(int dtype, int ndim, const int64_t *shape, void *data);
int64_t cu_view_numel(const cu_view *v);
int cu_view_is_dense(const cu_view *v); /* row-major dense strides (size-1 dims aside) */
int cu_view_dense_f32(const cu_view *v);
size_t cu_dtype_size(int dtype);
/* dst[i] = src[i] for every logical index (same shapes), converting dtypes */
int cu_copy_view(cu_call *r, const cu_view *dst, const cu_view *src);
int cu_fill_view(cu_call *r, const cu_view *dst, float value);
/* the data-movement kernels and CAST / COPY (convert.cu) */
int cu_data_movement(cu_call *r);

/* ---- 16-bit compute copies for precision = bf16 / fp16 (half.cu) ------------------- */
/* bytes of a 16-bit copy of n elements, rounded up to 256 so copies laid end to end stay aligned */
size_t cu_half_bytes(int64_t n);
/* the kernel's workspace when the engine gave at least `bytes`, else call scratch */
void *cu_workspace(cu_call *r, size_t bytes);
/* dst[0..n) = src rounded to the backend's precision (bf16 / f16, nearest even); vectorised */
int cu_narrow(cu_call *r, void *dst, const float *src, int64_t n);
/* dst[0..n) = src widened from the backend's precision to f32 */
int cu_widen(cu_call *r, float *dst, const void *src, int64_t n);
/* workspace MATMUL / LINEAR need for their 16-bit operand copies (0 in fp32) (gemm.cu) */
size_t cu_gemm_workspace(const cu_backend *b, const cv_kernel *k);

/* an operand as cu_act / cu_act_out (host side) */
static inline cu_act cu_act_of(const cu_t *t) {
    cu_act a = { t->f, t->h, t->dtype };
    return a;
}
static inline cu_act_out cu_act_out_of(const cu_t *t) {
    cu_act_out a = { t->f, t->h, t->dtype };
    return a;
}

/* ---- normalisation operands (norm.cu), and batch norm on channels-last ones (bn_nhwc.cu) ---- */
struct cu_norm_fwd {
    const float *x, *gamma, *beta, *rm_in, *rv_in;   /* gamma, beta may be NULL */
    float *y, *save_mean, *save_rstd, *rm_out, *rv_out; /* NULL: not asked for (rm_out: not updated) */
    cu_act xa;                                       /* x, y as stored (16-bit NHWC for bn_nhwc.cu and the eval kernel) */
    cu_act_out ya;
    double eps, momentum;
    int batch_stats;                                 /* statistics of the batch (training), else the running ones */
};
struct cu_norm_bwd {
    const float *x, *dy, *gamma, *mean, *rstd;
    float *dx, *dgamma, *dbeta;                      /* dgamma, dbeta may be NULL */
    cu_act xa, dya;                                  /* x, dy, dx as stored (16-bit NHWC for bn_nhwc.cu) */
    cu_act_out dxa;
    int through_stats;                               /* backward through the batch statistics (training) */
};
/* x as [rows = N*H*W, C] (channels-last): training forward, and backward */
int cu_bn_nhwc_forward(cu_call *r, int64_t rows, int64_t c, const cu_norm_fwd *a);
int cu_bn_nhwc_backward(cu_call *r, int64_t rows, int64_t c, const cu_norm_bwd *a);
/* the scratch bytes both take (cu_scratch) */
size_t cu_bn_nhwc_scratch(int64_t rows, int64_t c);

/* ---- reductions (reduce.cu) ------------------------------------------------------ */
/* one sum per output element j of y (kept dims) over x's dims in `reduced`, in
 * double; fn 0: sum*scale, 1: sum of squares, 2: count of NaN/Inf */
int cu_reduce_dims(cu_call *r, const float *x, int ndim, const int64_t *xshape, uint32_t reduced, float *y,
                   double scale, int fn);
/* sum of n doubles into *out (f32) times scale: one block, fixed order */
int cu_sum_f64(cu_call *r, const double *v, int64_t n, float *out, double scale, const float *scale_dev);

/* ---- kernel entry points ------------------------------------------------------------ */
int cu_conv2d(cu_call *r);
int cu_conv2d_bwd_data(cu_call *r);
int cu_conv2d_bwd_weight(cu_call *r);
int cu_conv_prepare(cu_backend *b, const cv_kernel *k, void **prepared, size_t *ws, cv_error *err);
void cu_conv_cache_free(cu_backend *b);
int cu_matmul(cu_call *r);
int cu_linear(cu_call *r);
/* LINEAR's cuBLASLt plan as its prepared state, and its release (gemm.cu); every prepared state
 * starts with the op (an int) it was made for, which tells cu_release whose it is */
int cu_linear_prepare(cu_backend *b, const cv_kernel *k, void **prepared, size_t *ws, cv_error *err);
void cu_linear_release(cu_backend *b, void *prepared);
int cu_batch_norm(cu_call *r);
int cu_layer_norm(cu_call *r);
int cu_group_norm(cu_call *r);
int cu_batch_norm_bwd(cu_call *r);
int cu_layer_norm_bwd(cu_call *r);
int cu_group_norm_bwd(cu_call *r);
int cu_unary(cu_call *r);
int cu_unary_bwd(cu_call *r);
int cu_binary(cu_call *r);
int cu_scalar(cu_call *r);
int cu_sum_to(cu_call *r);
int cu_reduce(cu_call *r);
int cu_pool2d(cu_call *r);
int cu_pool2d_bwd(cu_call *r);
int cu_adaptive_avg_pool2d(cu_call *r);
int cu_adaptive_avg_pool2d_bwd(cu_call *r);
int cu_resize(cu_call *r);
int cu_resize_bwd(cu_call *r);
int cu_softmax(cu_call *r);
int cu_softmax_bwd(cu_call *r);
int cu_dropout(cu_call *r);
int cu_drop_path(cu_call *r);
int cu_dropout_bwd(cu_call *r);
int cu_embedding(cu_call *r);
int cu_embedding_bwd(cu_call *r);
int cu_cross_entropy(cu_call *r);
int cu_cross_entropy_bwd(cu_call *r);
int cu_bce_logits(cu_call *r);
int cu_bce_logits_bwd(cu_call *r);
int cu_smooth_l1(cu_call *r);
int cu_smooth_l1_bwd(cu_call *r);
int cu_sgd_update(cu_call *r);
int cu_adam_update(cu_call *r);
int cu_rmsprop_update(cu_call *r);
int cu_lamb_update(cu_call *r);
int cu_sumsq(cu_call *r);
int cu_axpby(cu_call *r);
int cu_fill(cu_call *r);
int cu_nonfinite(cu_call *r);

/* ---- launch and device helpers ------------------------------------------------------- */
static inline unsigned cu_blocks(int64_t n) {
    int64_t b = (n + CU_THREADS - 1) / CU_THREADS;
    if (b < 1) b = 1;
    if (b > (1 << 20)) b = 1 << 20; /* kernels use grid-stride loops */
    return (unsigned)b;
}
#define CU_LOOP(i, n) for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
                           i += (int64_t)blockDim.x * gridDim.x)

/* n rounded up to 256 bytes: workspace parts laid end to end stay aligned */
static inline size_t cu_round256(size_t n) { return (n + 255) / 256 * 256; }

/* shapes passed to kernels by value */
struct cu_dims { int ndim; int64_t d[CV_MAX_DIMS]; };
static inline cu_dims cu_dims_of(const int64_t *shape, int ndim) {
    cu_dims s;
    s.ndim = ndim;
    for (int i = 0; i < CV_MAX_DIMS; i++) s.d[i] = i < ndim ? shape[i] : 1;
    return s;
}

#ifdef __CUDACC__
/* f32 -> bf16 bits, round to nearest even; NaN stays a (quiet) NaN */
__device__ static inline uint16_t cu_f32_to_bf16(float f) {
    uint32_t x = __float_as_uint(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x0040u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

/* 16-bit values (bf16: dt == CV_BF16, else f16) and f32 */
__device__ static inline float cu_widen16(uint16_t v, int dt) {
    return dt == CV_BF16 ? __uint_as_float((uint32_t)v << 16) : __half2float(__ushort_as_half(v));
}
__device__ static inline uint16_t cu_narrow16(float v, int dt) {
    return dt == CV_BF16 ? cu_f32_to_bf16(v) : __half_as_ushort(__float2half_rn(v));
}
__device__ static inline float4 cu_widen4(ushort4 v, int dt) {
    return make_float4(cu_widen16(v.x, dt), cu_widen16(v.y, dt), cu_widen16(v.z, dt), cu_widen16(v.w, dt));
}
__device__ static inline ushort4 cu_narrow4(float4 v, int dt) {
    return make_ushort4(cu_narrow16(v.x, dt), cu_narrow16(v.y, dt), cu_narrow16(v.z, dt), cu_narrow16(v.w, dt));
}

__device__ static inline float cu_ld(const cu_act &a, int64_t i) { return a.h ? cu_widen16(a.h[i], a.dt) : a.f[i]; }
__device__ static inline void cu_st(const cu_act_out &a, int64_t i, float v) {
    if (a.h) a.h[i] = cu_narrow16(v, a.dt);
    else a.f[i] = v;
}

/* row-major index into src (right-aligned numpy broadcast) of dst's element i */
__device__ static inline int64_t cu_bcast_index(const cu_dims &src, const cu_dims &dst, int64_t i) {
    int64_t idx = 0, stride = 1;
    for (int d = dst.ndim - 1; d >= 0; d--) {
        int64_t c = dst.d[d] > 0 ? i % dst.d[d] : 0;
        i = dst.d[d] > 0 ? i / dst.d[d] : 0;
        int sd = d - (dst.ndim - src.ndim);
        if (sd < 0) break;
        if (src.d[sd] != 1) idx += c * stride;
        stride *= src.d[sd];
    }
    return idx;
}

/* offset of element (n, c, s) of an [N,C,S] tensor (S = H*W) stored NCHW or channels-last */
__device__ static inline int64_t cu_ncs_at(int64_t n, int64_t c, int64_t s, int64_t C, int64_t S, int nhwc) {
    return nhwc ? (n * S + s) * C + c : (n * C + c) * S + s;
}

/* a fixed-order block sum of doubles (blockDim.x == CU_THREADS); every thread gets it */
__device__ static inline double cu_block_sum(double v, double *sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = CU_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    double t = sh[0];
    __syncthreads();
    return t;
}
__device__ static inline double cu_block_max(double v, double *sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = CU_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sh[threadIdx.x] = fmax(sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    double t = sh[0];
    __syncthreads();
    return t;
}
#endif

#endif
