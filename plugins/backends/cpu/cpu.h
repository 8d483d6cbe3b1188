/* plugins/backends/cpu/cpu.h — private declarations shared by the files of the
 * CPU backend: the backend instance, per-node prepared state, the helpers for
 * strided tensors and scratch memory, and one entry point per family of ops. */
#ifndef CV_BACKEND_CPU_H
#define CV_BACKEND_CPU_H

#include <cvnets/cvnets.h>
#include <dnnl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct cpu_backend {
    const cv_host *host;
    int threads;             /* OpenMP threads for our loops and oneDNN */
    int blocked;             /* 1: convolutions run on oneDNN's blocked layouts (reorders inside the op) */
    int onednn_bn;           /* 1: batch norm through oneDNN instead of bnorm.c */
    int conv_auto;           /* 1: oneDNN may pick Winograd (dnnl_convolution_auto), 0: direct only */
    int bf16;                /* precision = bf16: convolutions and matmuls read bf16 copies, accumulate in f32 */
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int profile;             /* option profile: time every kernel, log a table at destroy */
    double prof_s[128];      /* seconds per op kind (cv_op < 128) */
    int64_t prof_n[128];
} cpu_backend;

/* Scratch memory of one kernel call: the host's workspace when prepare() asked
 * for enough, else a temporary allocation freed by scratch_end. */
typedef struct cpu_scratch {
    char *base;
    size_t size, used;
    int owned;
} cpu_scratch;
int scratch_begin(cpu_scratch *s, const cv_kernel *k, size_t need);
void *scratch_take(cpu_scratch *s, size_t bytes);
void scratch_end(cpu_scratch *s);

/* ---- small tensor helpers ----------------------------------------------------- */
int64_t kt_numel(const cv_ktensor *t);
int kt_contiguous(const cv_ktensor *t);
size_t dtype_size(int dtype);
const char *op_name(int op);
/* "[2,3,4]" into buf */
const char *kt_shape_str(const cv_ktensor *t, char *buf, size_t n);
/* a contiguous ktensor of t's shape and dtype over data */
cv_ktensor kt_dense(const cv_ktensor *t, void *data);

/* y := x (with dtype conversion) for any strides, same shape; stride-0 reads broadcast */
void strided_copy(const cv_ktensor *dst, const cv_ktensor *src, int threads);
/* round to nearest even, NaN stays NaN (inline, so that loops calling it vectorise) */
static inline uint16_t bf16_from_f32(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
static inline float bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = { (uint32_t)h << 16 };
    return v.f;
}
/* element i of an activation stored as f32 or (engine's 16-bit storage) bf16 */
static inline float act_load(const void *p, int dtype, int64_t i) {
    return dtype == CV_BF16 ? bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}
static inline void act_store(void *p, int dtype, int64_t i, float x) {
    if (dtype == CV_BF16) ((uint16_t *)p)[i] = bf16_from_f32(x);
    else ((float *)p)[i] = x;
}
/* bf16.c, all needing AVX512-BF16 (precision = bf16) */
void f32_to_bf16_n(void *dst, const float *src, int64_t n, int threads);
void bf16_to_f32_n(float *dst, const uint16_t *src, int64_t n, int threads);
void bf16_from_f32_block(uint16_t *dst, const float *src, int64_t n); /* one thread */
void bf16_to_f32_block(float *dst, const uint16_t *src, int64_t n);   /* one thread */
/* batch norm's C16 rows (HW pixels of 16 lanes) on bf16 activations: the loops of bnorm.c */
void bn_row_sums_bf16(const uint16_t *a, const uint16_t *b, const float *m, int sq, int64_t HW, float *s1, float *s2);
void bn_row_affine_bf16(const uint16_t *x, const float *sc, const float *sh, int64_t HW, uint16_t *y);
/* relu / relu6, their gradients (from the output) and add on n bf16 elements: 1, or 0 for other ops */
int eltwise_bf16_fast(int op, int fn, const uint16_t *a, const uint16_t *b, uint16_t *y, int64_t n);
void bn_row_bwd_bf16(const uint16_t *x, const uint16_t *dy, const float *m, const float *a, const float *bq,
                     const float *g, int64_t HW, uint16_t *dx);
/* pooling geometry: planes (nc of h x w), output ho x wo, kernel, stride, padding */
typedef struct pool_geom { int64_t nc, h, w, ho, wo, kh, kw, sh, sw, ph, pw; } pool_geom;
/* output (oh, ow)'s window [h0, h1) x [w0, w1) clipped to the plane, and the divisor
 * of average pooling (incl: count_include_pad, PyTorch's clipped padded window) */
static inline void pool_window(const pool_geom *g, int incl, int64_t oh, int64_t ow, int64_t *h0, int64_t *h1,
                               int64_t *w0, int64_t *w1, float *divisor) {
    int64_t hs = oh * g->sh - g->ph, ws = ow * g->sw - g->pw;
    int64_t he = hs + g->kh < g->h + g->ph ? hs + g->kh : g->h + g->ph;
    int64_t we = ws + g->kw < g->w + g->pw ? ws + g->kw : g->w + g->pw;
    int64_t padded = (he - hs) * (we - ws);
    *h0 = hs < 0 ? 0 : hs; *w0 = ws < 0 ? 0 : ws;
    *h1 = he < g->h ? he : g->h; *w1 = we < g->w ? we : g->w;
    *divisor = incl ? (float)padded : (float)((*h1 - *h0) * (*w1 - *w0));
}
/* one C16 row of the max-pooling gradient (acc: h*w*16 floats); 0 (dx untouched)
 * when a window holds no pixel equal to y (NaN) */
int pool_max_bwd_row_bf16(const uint16_t *x, const uint16_t *y, const uint16_t *dy, const pool_geom *g, float *acc,
                          uint16_t *dx);

/* Loops compiled once per vector width and chosen at load time (ifunc).  gcc only:
 * clang 14 exports the resolvers despite -fvisibility=hidden, and a plugin exports
 * nothing but its entry (test_abi). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

/* ---- op families (each returns a cv_status and fills err) --------------------- */
/* oneDNN: per-node state built by prepare() */
int dnn_prepare(cpu_backend *b, const cv_kernel *k, void **prepared, size_t *ws, cv_error *err);
int dnn_run(cpu_backend *b, const cv_kernel *k, cv_error *err);
void dnn_release(void *prepared);
int dnn_handles(const cpu_backend *b, const cv_kernel *k); /* 1 when this node goes through oneDNN */

int run_eltwise(cpu_backend *b, const cv_kernel *k, cv_error *err);   /* unary, binary, scalar, cast, copy, fill, dropout */
size_t eltwise_bf16_bytes(const cv_kernel *k); /* the workspace of an element-wise op on bf16 activations */
int run_shape(cpu_backend *b, const cv_kernel *k, cv_error *err);     /* reshape, permute, slice, concat, pad, broadcast */
int run_reduce(cpu_backend *b, const cv_kernel *k, cv_error *err);    /* reduce, sum_to, softmax, sumsq, nonfinite */
int run_norm(cpu_backend *b, const cv_kernel *k, cv_error *err);      /* layer/group norm (+bwd) */
size_t norm_scratch_bytes(const cv_kernel *k, int threads);
int run_loss(cpu_backend *b, const cv_kernel *k, cv_error *err);      /* CE, BCE, smooth-L1 (+bwd) */
int run_spatial(cpu_backend *b, const cv_kernel *k, cv_error *err);   /* pool, adaptive pool, resize, embedding */
size_t spatial_scratch_bytes(const cv_kernel *k, int threads);
int pool_geometry_ok(const cv_kernel *k); /* shapes agree with cv_pool_params (PyTorch's rules) */
int run_update(cpu_backend *b, const cv_kernel *k, cv_error *err);    /* optimizer updates, axpby */
int run_batch_norm(cpu_backend *b, const cv_kernel *k, cv_error *err); /* batch norm (+bwd), bnorm.c */
size_t bn_scratch_bytes(const cv_kernel *k); /* its workspace (the C16 loops) */
int run_dropout(cpu_backend *b, const cv_kernel *k, cv_error *err);   /* dropout, drop path (+bwd) */
/* a convolution kernel's operands in any of its three directions: x (the activation
 * it convolves), w (the weights) and y (the convolution's output side) */
static inline void conv_operands(const cv_kernel *k, const cv_ktensor **x, const cv_ktensor **w, const cv_ktensor **y) {
    if (k->op == CV_OP_CONV2D) { *x = &k->in[0]; *w = &k->in[1]; *y = &k->out[0]; }
    else if (k->op == CV_OP_CONV2D_BWD_DATA) { *x = &k->out[0]; *w = &k->in[1]; *y = &k->in[0]; }
    else { *x = &k->in[1]; *w = &k->out[0]; *y = &k->in[0]; }
}
/* dwconv.c: the weight gradient of depthwise convolutions with kernels other than 3x3 */
int dw_handles(const cpu_backend *b, const cv_kernel *k);
size_t dw_scratch_bytes(const cpu_backend *b, const cv_kernel *k);
int run_dw_bwd_weight(cpu_backend *b, const cv_kernel *k, cv_error *err);
/* wino.c: bf16 Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions on bf16 C16 activations */
int wino_handles(const cpu_backend *b, const cv_kernel *k);
size_t wino_scratch_bytes(const cpu_backend *b, const cv_kernel *k);
int run_wino(cpu_backend *b, const cv_kernel *k, cv_error *err);

/* packing for kernels that want dense tensors: copies of non-contiguous inputs
 * and outputs (outputs copied back by dense_finish) */
typedef struct cpu_dense {
    cv_kernel k;
    cv_ktensor in[8], out[8];
    const cv_kernel *orig;
} cpu_dense;
size_t dense_bytes(const cv_kernel *k);
int dense_start(cpu_dense *d, const cv_kernel *k, cpu_scratch *s, int threads, int copy_outputs_in);
void dense_finish(cpu_dense *d, int threads);

/* ---- layouts (ABI 1.1, layout.c) ---------------------------------------------- */
int cpu_layout_class(void *self, const cv_kernel *k);            /* CV_LAYOUT_CLASS_* */
int layout_check(cpu_backend *b, const cv_kernel *k, cv_error *err); /* C16 only where this backend takes it */
int kt_any_blocked(const cv_kernel *k);                           /* some operand is not plain */
/* offset of plane (n, c) = `plane` of a 4-D tensor and the step between its pixels */
int64_t plane_at(const cv_ktensor *t, int layout, int64_t plane, int64_t *step);
int run_hw(cpu_backend *b, const cv_kernel *k, cv_error *err); /* reduce over H,W / broadcast from [N,C,1,1] */

#define CPU_FAIL(b, err, st, ...) ((b)->host->set_error((err), (st), __VA_ARGS__))

#endif
