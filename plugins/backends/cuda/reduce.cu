/* reduce.cu — reductions without atomics: REDUCE, SUM_TO, SUMSQ, NONFINITE and
 * softmax / log-softmax with its gradient.  Every sum is accumulated in double
 * in a fixed order (per-thread strided partial sums, then a shared-memory tree),
 * so results are bitwise reproducible run to run.  A reduction to one value over
 * many elements runs in two stages (fixed chunks, then one block).  A REDUCE of a
 * channels-last (NHWC) x over H, W (global pooling) reduces the stored dims. */
#include "cuint.h"

struct red_geom {
    int nk, nr;
    int64_t ks[CV_MAX_DIMS], kst[CV_MAX_DIMS]; /* kept dims: size, x stride */
    int64_t rs[CV_MAX_DIMS], rst[CV_MAX_DIMS]; /* reduced dims */
    int64_t n_out, n_red;
};

__device__ static inline int64_t red_base(const red_geom &g, int64_t j) {
    int64_t off = 0;
    for (int d = g.nk - 1; d >= 0; d--) { off += (j % g.ks[d]) * g.kst[d]; j /= g.ks[d]; }
    return off;
}
__device__ static inline int64_t red_off(const red_geom &g, int64_t r) {
    int64_t off = 0;
    for (int d = g.nr - 1; d >= 0; d--) { off += (r % g.rs[d]) * g.rst[d]; r /= g.rs[d]; }
    return off;
}
__device__ static inline double red_term(float v, int fn) {
    return fn == 0 ? (double)v : fn == 1 ? (double)v * v : (isfinite(v) ? 0.0 : 1.0);
}

/* one block per output element */
__global__ static void reduce_block_kernel(const float *x, red_geom g, float *y, double scale, int fn) {
    __shared__ double sh[CU_THREADS];
    for (int64_t j = blockIdx.x; j < g.n_out; j += gridDim.x) {
        int64_t base = red_base(g, j);
        double acc = 0.0;
        for (int64_t r = threadIdx.x; r < g.n_red; r += blockDim.x) acc += red_term(x[base + red_off(g, r)], fn);
        double s = cu_block_sum(acc, sh);
        if (threadIdx.x == 0) y[j] = (float)(s * scale);
    }
}

/* one thread per output element (short reductions) */
__global__ static void reduce_thread_kernel(const float *x, red_geom g, float *y, double scale, int fn) {
    CU_LOOP(j, g.n_out) {
        int64_t base = red_base(g, j);
        double acc = 0.0;
        for (int64_t r = 0; r < g.n_red; r++) acc += red_term(x[base + red_off(g, r)], fn);
        y[j] = (float)(acc * scale);
    }
}

/* stage 1 of a long reduction to one value: chunk c of n elements -> part[c] */
__global__ static void reduce_chunks_kernel(const float *x, int64_t n, int64_t chunk, double *part, int fn) {
    __shared__ double sh[CU_THREADS];
    int64_t lo = (int64_t)blockIdx.x * chunk, hi = lo + chunk < n ? lo + chunk : n;
    double acc = 0.0;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) acc += red_term(x[i], fn);
    double s = cu_block_sum(acc, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ static void sum_f64_kernel(const double *v, int64_t n, float *out, double scale, const float *scale_dev) {
    __shared__ double sh[CU_THREADS];
    double acc = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += v[i];
    double s = cu_block_sum(acc, sh);
    if (threadIdx.x == 0) out[0] = (float)(s * scale * (scale_dev ? (double)scale_dev[0] : 1.0));
}

int cu_sum_f64(cu_call *r, const double *v, int64_t n, float *out, double scale, const float *scale_dev) {
    sum_f64_kernel<<<1, CU_THREADS, 0, r->b->stream>>>(v, n, out, scale, scale_dev);
    return cu_launched(r, "sum kernel");
}

int cu_reduce_dims(cu_call *r, const float *x, int ndim, const int64_t *xshape, uint32_t reduced, float *y,
                   double scale, int fn) {
    red_geom g;
    g.nk = g.nr = 0;
    g.n_out = g.n_red = 1;
    int64_t stride = 1, xst[CV_MAX_DIMS];
    for (int d = ndim - 1; d >= 0; d--) { xst[d] = stride; stride *= xshape[d]; }
    for (int d = 0; d < ndim; d++) {
        if ((reduced >> d) & 1u) { g.rs[g.nr] = xshape[d]; g.rst[g.nr++] = xst[d]; g.n_red *= xshape[d]; }
        else { g.ks[g.nk] = xshape[d]; g.kst[g.nk++] = xst[d]; g.n_out *= xshape[d]; }
    }
    if (g.n_out == 0) return CV_OK;
    cudaStream_t s = r->b->stream;
    if (g.n_red == 0) return cu_cuda(r, cudaMemsetAsync(y, 0, (size_t)g.n_out * sizeof(float), s), "cudaMemsetAsync");
    if (g.n_out == 1 && g.nr == ndim && g.n_red > (1 << 16)) {
        int64_t chunks = 1024, chunk = (g.n_red + chunks - 1) / chunks;
        chunks = (g.n_red + chunk - 1) / chunk;
        double *part = (double *)cu_scratch(r, (size_t)chunks * sizeof(double));
        if (!part) return r->err->status;
        reduce_chunks_kernel<<<(unsigned)chunks, CU_THREADS, 0, s>>>(x, g.n_red, chunk, part, fn);
        int st = cu_launched(r, "reduction kernel");
        return st ? st : cu_sum_f64(r, part, chunks, y, scale, NULL);
    }
    if (g.n_red <= 64 || g.n_out >= (1 << 16))
        reduce_thread_kernel<<<cu_blocks(g.n_out), CU_THREADS, 0, s>>>(x, g, y, scale, fn);
    else
        reduce_block_kernel<<<(unsigned)(g.n_out < (1 << 20) ? g.n_out : (1 << 20)), CU_THREADS, 0, s>>>(x, g, y, scale, fn);
    return cu_launched(r, "reduction kernel");
}

int cu_reduce(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    if (st) return st;
    const cv_reduce_params *p = (const cv_reduce_params *)r->params;
    const cu_t *x = &r->in[0], *y = &r->out[0];
    uint32_t axes = p->axes ? p->axes : (uint32_t)((1u << x->ndim) - 1u);
    if (axes >> x->ndim) return cu_fail(r, CV_ERR_INVALID, "axes mask 0x%x names dims beyond a %d-d input", p->axes, x->ndim);
    if (p->fn != CV_R_SUM && p->fn != CV_R_MEAN) return cu_fail(r, CV_ERR_INVALID, "unknown reduce fn %d", p->fn);
    int64_t count = 1, kept_numel = 1, expect[CV_MAX_DIMS];
    int expect_nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        int red = (axes >> d) & 1u;
        int64_t kept = red ? 1 : x->shape[d];
        if (red) count *= x->shape[d];
        kept_numel *= kept;
        if (!red || p->keepdim) expect[expect_nd++] = kept;
    }
    int ok = y->numel == kept_numel && (y->ndim == expect_nd || (expect_nd == 0 && y->ndim == 1));
    for (int d = 0; ok && d < expect_nd; d++) ok = y->shape[d] == expect[d];
    if (!ok) {
        char sx[96], sy[96];
        return cu_fail(r, CV_ERR_INVALID, "reducing x %s over axes 0x%x (keepdim %d) cannot give y %s",
                       cu_shape_str(x, sx, sizeof sx), axes, p->keepdim, cu_shape_str(y, sy, sizeof sy));
    }
    double scale = p->fn == CV_R_MEAN ? 1.0 / (double)count : 1.0;
    if (x->nhwc) { /* over H, W (or N, H, W) of NCHW = over dims 1, 2 (or 0, 1, 2) of the stored N, H, W, C */
        const int64_t stored[4] = { x->shape[0], x->shape[2], x->shape[3], x->shape[1] };
        return cu_reduce_dims(r, x->f, 4, stored, (axes & 1u) | 6u, y->f, scale, 0);
    }
    return cu_reduce_dims(r, x->f, x->ndim, x->shape, axes, y->f, scale, 0);
}

int cu_sum_to(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    if (st) return st;
    const cu_t *x = &r->in[0], *y = &r->out[0];
    if (!cu_bcast_ok(y->shape, y->ndim, x->shape, x->ndim)) {
        char sx[96], sy[96];
        return cu_fail(r, CV_ERR_INVALID, "%s does not broadcast to x %s, so x cannot be summed to it",
                       cu_shape_str(y, sy, sizeof sy), cu_shape_str(x, sx, sizeof sx));
    }
    uint32_t reduced = 0;
    for (int d = 0; d < x->ndim; d++) {
        int yd = d - (x->ndim - y->ndim);
        if (yd < 0 || (y->shape[yd] == 1 && x->shape[d] != 1)) reduced |= 1u << d;
    }
    return cu_reduce_dims(r, x->f, x->ndim, x->shape, reduced, y->f, 1.0, 0);
}

static int one_value_out(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    if (st) return st;
    if (r->out[0].numel != 1) {
        char s[96];
        return cu_fail(r, CV_ERR_INVALID, "output %s must hold one value", cu_shape_str(&r->out[0], s, sizeof s));
    }
    return CV_OK;
}

static int reduce_all(cu_call *r, int fn) {
    int st = one_value_out(r);
    if (st) return st;
    int64_t n = r->in[0].numel;
    return cu_reduce_dims(r, r->in[0].f, 1, &n, 1u, r->out[0].f, 1.0, fn);
}

int cu_sumsq(cu_call *r) { return reduce_all(r, 1); }
int cu_nonfinite(cu_call *r) { return reduce_all(r, 2); }

/* ---- softmax ------------------------------------------------------------------------------ */
__global__ static void softmax_kernel(const float *x, float *y, int64_t outer, int64_t len, int64_t inner, int log_out) {
    __shared__ double sh[CU_THREADS];
    for (int64_t row = blockIdx.x; row < outer * inner; row += gridDim.x) {
        int64_t base = (row / inner) * len * inner + row % inner;
        double m = -INFINITY, s = 0.0;
        for (int64_t k = threadIdx.x; k < len; k += blockDim.x) m = fmax(m, (double)x[base + k * inner]);
        m = cu_block_max(m, sh);
        for (int64_t k = threadIdx.x; k < len; k += blockDim.x) s += exp((double)x[base + k * inner] - m);
        s = cu_block_sum(s, sh);
        double lse = m + log(s);
        for (int64_t k = threadIdx.x; k < len; k += blockDim.x) {
            double v = (double)x[base + k * inner] - lse;
            y[base + k * inner] = (float)(log_out ? v : exp(v));
        }
    }
}

__global__ static void softmax_bwd_kernel(const float *y, const float *dy, float *dx, int64_t outer, int64_t len,
                                          int64_t inner, int log_out) {
    __shared__ double sh[CU_THREADS];
    for (int64_t row = blockIdx.x; row < outer * inner; row += gridDim.x) {
        int64_t base = (row / inner) * len * inner + row % inner;
        double s = 0.0;
        for (int64_t k = threadIdx.x; k < len; k += blockDim.x) {
            int64_t i = base + k * inner;
            s += log_out ? (double)dy[i] : (double)dy[i] * y[i];
        }
        s = cu_block_sum(s, sh);
        for (int64_t k = threadIdx.x; k < len; k += blockDim.x) {
            int64_t i = base + k * inner;
            dx[i] = (float)(log_out ? dy[i] - exp((double)y[i]) * s : y[i] * (dy[i] - s));
        }
    }
}

static int softmax_layout(cu_call *r, const cu_t *x, int64_t *outer, int64_t *len, int64_t *inner) {
    int axis = cu_axis(r, ((const cv_softmax_params *)r->params)->axis, x->ndim);
    if (axis < 0) return CV_ERR_INVALID;
    *outer = 1; *inner = 1; *len = x->shape[axis];
    for (int d = 0; d < axis; d++) *outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) *inner *= x->shape[d];
    return CV_OK;
}

static unsigned rows_grid(int64_t rows) { return (unsigned)(rows < (1 << 20) ? (rows > 0 ? rows : 1) : (1 << 20)); }

int cu_softmax(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    if (st) return st;
    if (!cu_same_shape(r, &r->in[0], "x", &r->out[0], "y")) return CV_ERR_INVALID;
    int64_t outer, len, inner;
    if ((st = softmax_layout(r, &r->in[0], &outer, &len, &inner))) return st;
    if (r->in[0].numel == 0) return CV_OK;
    softmax_kernel<<<rows_grid(outer * inner), CU_THREADS, 0, r->b->stream>>>(
        r->in[0].f, r->out[0].f, outer, len, inner, ((const cv_softmax_params *)r->params)->log);
    return cu_launched(r, "softmax kernel");
}

int cu_softmax_bwd(cu_call *r) {
    int st = cu_arity(r, 2, 2, 1, 1);
    if (st) return st;
    if (!cu_same_shape(r, &r->in[0], "y", &r->in[1], "dy") || !cu_same_shape(r, &r->in[0], "y", &r->out[0], "dx"))
        return CV_ERR_INVALID;
    int64_t outer, len, inner;
    if ((st = softmax_layout(r, &r->in[0], &outer, &len, &inner))) return st;
    if (r->in[0].numel == 0) return CV_OK;
    softmax_bwd_kernel<<<rows_grid(outer * inner), CU_THREADS, 0, r->b->stream>>>(
        r->in[0].f, r->in[1].f, r->out[0].f, outer, len, inner, ((const cv_softmax_params *)r->params)->log);
    return cu_launched(r, "softmax backward kernel");
}
