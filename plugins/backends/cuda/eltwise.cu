/* eltwise.cu — elementwise kernels: UNARY and its gradient, BINARY with numpy
 * broadcasting, SCALAR, dropout / drop path (the reference's counter-hash mask)
 * and its gradient, AXPBY.  Math in double, rounded once to f32, NaN handling
 * as the reference (relu / max / clamp of NaN is NaN).  Each thread reads its
 * elements before writing them, so y may alias x.
 *
 * Same-shape paths (UNARY, UNARY_BWD, BINARY without broadcast, SCALAR,
 * DROPOUT_BWD with a full mask, AXPBY) load and store a float4 per thread when
 * every pointer is 16-byte aligned, then do the tail (and everything, when a
 * pointer is not aligned) one element per thread; both use the same
 * per-element function, so the results are bit-identical. */
#include "cuint.h"

__device__ static inline double nan_max(double a, double b) { return isnan(a) || a > b ? a : b; }
__device__ static inline double nan_min(double a, double b) { return isnan(a) || a < b ? a : b; }
__device__ static inline double sigm(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
#define GELU_TANH_K 0.7978845608028654

__device__ static inline double unary_value(int fn, double x, double alpha) {
    switch (fn) {
    case CV_RELU: return nan_max(x, 0.0);
    case CV_RELU6: return nan_min(nan_max(x, 0.0), 6.0);
    case CV_LEAKY_RELU: return x > 0 ? x : alpha * x;
    case CV_GELU: return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
    case CV_GELU_TANH: return 0.5 * x * (1.0 + tanh(GELU_TANH_K * (x + 0.044715 * x * x * x)));
    case CV_SILU: return x * sigm(x);
    case CV_HARDSWISH: return x * nan_min(nan_max(x + 3.0, 0.0), 6.0) / 6.0;
    case CV_HARDSIGMOID: return nan_min(nan_max(x + 3.0, 0.0), 6.0) / 6.0;
    case CV_SIGMOID: return sigm(x);
    case CV_TANH: return tanh(x);
    case CV_EXP: return exp(x);
    case CV_LOG: return log(x);
    case CV_SQRT: return sqrt(x);
    case CV_RSQRT: return 1.0 / sqrt(x);
    case CV_NEG: return -x;
    case CV_ABS: return fabs(x);
    case CV_SQUARE: return x * x;
    default: return x; /* CV_IDENTITY; unknown fns are refused on the host */
    }
}

__device__ static inline double unary_deriv(int fn, double x, double alpha) {
    switch (fn) {
    case CV_RELU: return x > 0 ? 1.0 : 0.0;
    case CV_RELU6: return x > 0 && x < 6 ? 1.0 : 0.0;
    case CV_LEAKY_RELU: return x > 0 ? 1.0 : alpha;
    case CV_GELU: return 0.5 * (1.0 + erf(x * 0.70710678118654752440)) + x * exp(-0.5 * x * x) * 0.3989422804014327;
    case CV_GELU_TANH: {
        double t = tanh(GELU_TANH_K * (x + 0.044715 * x * x * x));
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_TANH_K * (1.0 + 3.0 * 0.044715 * x * x);
    }
    case CV_SILU: { double s = sigm(x); return s * (1.0 + x * (1.0 - s)); }
    case CV_HARDSWISH: return x < -3.0 ? 0.0 : x <= 3.0 ? x / 3.0 + 0.5 : 1.0;
    case CV_HARDSIGMOID: return x > -3.0 && x < 3.0 ? 1.0 / 6.0 : 0.0;
    case CV_SIGMOID: { double s = sigm(x); return s * (1.0 - s); }
    case CV_TANH: { double t = tanh(x); return 1.0 - t * t; }
    case CV_EXP: return exp(x);
    case CV_LOG: return 1.0 / x;
    case CV_SQRT: return 0.5 / sqrt(x);
    case CV_RSQRT: return -0.5 / (x * sqrt(x));
    case CV_NEG: return -1.0;
    case CV_ABS: return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;
    case CV_SQUARE: return 2.0 * x;
    default: return 1.0;
    }
}

/* y[e] = f(a[e], b[e]) for e < n (b NULL: f(a[e], a[e])): n4 float4 groups first
 * (0 when a pointer is not 16-byte aligned), then the remaining elements one by one */
template <typename F>
__device__ static inline void map_quads(const float *a, const float *b, float *y, int64_t n4, int64_t n, F f) {
    CU_LOOP(i, n4) {
        float4 u = ((const float4 *)a)[i], v = b ? ((const float4 *)b)[i] : u;
        ((float4 *)y)[i] = make_float4(f(u.x, v.x), f(u.y, v.y), f(u.z, v.z), f(u.w, v.w));
    }
    CU_LOOP(i, n - n4 * 4) {
        int64_t e = n4 * 4 + i;
        y[e] = f(a[e], b ? b[e] : a[e]);
    }
}

/* float4 groups of n elements for map_quads: n / 4 when every pointer (NULL counts as
 * aligned) is 16-byte aligned, else 0 */
static int64_t quads(int64_t n, const void *a, const void *b, const void *y) {
    return ((uintptr_t)a | (uintptr_t)b | (uintptr_t)y) % 16 ? 0 : n / 4;
}

__global__ static void unary_kernel(const float *x, float *y, int64_t n4, int64_t n, int fn, double alpha) {
    map_quads(x, NULL, y, n4, n, [=](float v, float) { return (float)unary_value(fn, v, alpha); });
}
__global__ static void unary_bwd_kernel(const float *x, const float *dy, float *dx, int64_t n4, int64_t n, int fn,
                                        double alpha) {
    map_quads(x, dy, dx, n4, n, [=](float v, float g) { return (float)(unary_deriv(fn, v, alpha) * g); });
}

/* activations stored in 16 bits (ABI 1.4; cu_t.h): the same f32 arithmetic, four values per
 * ushort4 when every operand is 16-bit and 8-byte aligned (n4 groups), the rest through cu_ld /
 * cu_st one by one (b.f and b.h NULL: f(a, a)) */
template <typename F>
__device__ static inline void map_act(cu_act a, cu_act b, cu_act_out y, int64_t n4, int64_t n, F f) {
    const int two = b.f || b.h;
    CU_LOOP(i, n4) {
        const float4 u = cu_widen4(((const ushort4 *)a.h)[i], a.dt);
        const float4 v = two ? cu_widen4(((const ushort4 *)b.h)[i], b.dt) : u;
        ((ushort4 *)y.h)[i] = cu_narrow4(make_float4(f(u.x, v.x), f(u.y, v.y), f(u.z, v.z), f(u.w, v.w)), y.dt);
    }
    CU_LOOP(i, n - n4 * 4) {
        const int64_t e = n4 * 4 + i;
        const float u = cu_ld(a, e);
        cu_st(y, e, f(u, two ? cu_ld(b, e) : u));
    }
}
/* ushort4 groups for map_act: n / 4 when a, b (if given) and y are all 16-bit and 8-byte aligned */
static int64_t quads16(int64_t n, const cu_t *a, const cu_t *b, const cu_t *y) {
    if (!a->h || !y->h || (b && !b->h)) return 0;
    return ((uintptr_t)a->h | (uintptr_t)(b ? b->h : NULL) | (uintptr_t)y->h) % 8 ? 0 : n / 4;
}
__global__ static void unary_act_kernel(cu_act x, cu_act_out y, int64_t n4, int64_t n, int fn, double alpha) {
    const cu_act none = { NULL, NULL, CV_F32 };
    map_act(x, none, y, n4, n, [=](float v, float) { return (float)unary_value(fn, v, alpha); });
}
__global__ static void unary_bwd_act_kernel(cu_act x, cu_act dy, cu_act_out dx, int64_t n4, int64_t n, int fn,
                                            double alpha) {
    map_act(x, dy, dx, n4, n, [=](float v, float g) { return (float)(unary_deriv(fn, v, alpha) * g); });
}
static int any16(const cu_call *r) {
    for (int i = 0; i < r->n_in; i++)
        if (r->in[i].h) return 1;
    for (int i = 0; i < r->n_out; i++)
        if (r->out[i].h) return 1;
    return 0;
}

int cu_unary(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    if (st || !cu_same_shape(r, &r->in[0], "x", &r->out[0], "y")) return st ? st : CV_ERR_INVALID;
    const cv_unary_params *p = (const cv_unary_params *)r->params;
    if (p->fn < CV_RELU || p->fn > CV_IDENTITY) return cu_fail(r, CV_ERR_INVALID, "unknown unary fn %d", p->fn);
    if (any16(r)) {
        const int64_t n = r->out[0].numel, n4 = quads16(n, &r->in[0], NULL, &r->out[0]);
        if (n)
            unary_act_kernel<<<cu_blocks(n4 > 0 ? n4 : n), CU_THREADS, 0, r->b->stream>>>(
                cu_act_of(&r->in[0]), cu_act_out_of(&r->out[0]), n4, n, p->fn, p->alpha);
        return cu_launched(r, "unary kernel");
    }
    const float *x = r->in[0].f;
    float *y = r->out[0].f;
    int64_t n = r->out[0].numel, n4 = quads(n, x, NULL, y);
    if (n) unary_kernel<<<cu_blocks(n4 > 0 ? n4 : n), CU_THREADS, 0, r->b->stream>>>(x, y, n4, n, p->fn, p->alpha);
    return cu_launched(r, "unary kernel");
}

int cu_unary_bwd(cu_call *r) {
    int st = cu_arity(r, 2, 2, 1, 1);
    if (st) return st;
    if (!cu_same_shape(r, &r->in[0], "x", &r->in[1], "dy") || !cu_same_shape(r, &r->in[0], "x", &r->out[0], "dx"))
        return CV_ERR_INVALID;
    const cv_unary_params *p = (const cv_unary_params *)r->params;
    if (p->fn < CV_RELU || p->fn > CV_IDENTITY) return cu_fail(r, CV_ERR_INVALID, "unknown unary fn %d", p->fn);
    if (any16(r)) {
        const int64_t n = r->out[0].numel, n4 = quads16(n, &r->in[0], &r->in[1], &r->out[0]);
        if (n)
            unary_bwd_act_kernel<<<cu_blocks(n4 > 0 ? n4 : n), CU_THREADS, 0, r->b->stream>>>(
                cu_act_of(&r->in[0]), cu_act_of(&r->in[1]), cu_act_out_of(&r->out[0]), n4, n, p->fn, p->alpha);
        return cu_launched(r, "unary backward kernel");
    }
    const float *x = r->in[0].f, *dy = r->in[1].f;
    float *dx = r->out[0].f;
    int64_t n = r->out[0].numel, n4 = quads(n, x, dy, dx);
    if (n)
        unary_bwd_kernel<<<cu_blocks(n4 > 0 ? n4 : n), CU_THREADS, 0, r->b->stream>>>(x, dy, dx, n4, n, p->fn,
                                                                                        p->alpha);
    return cu_launched(r, "unary backward kernel");
}

__device__ static inline float binary_value(int fn, double u, double v) {
    switch (fn) {
    case CV_ADD: return (float)(u + v);
    case CV_SUB: return (float)(u - v);
    case CV_MUL: return (float)(u * v);
    case CV_DIV: return (float)(u / v);
    case CV_MAX: return (float)(isnan(v) ? v : nan_max(u, v));
    default: return (float)(isnan(v) ? v : nan_min(u, v));
    }
}

__global__ static void binary_kernel(const float *a, cu_dims as, const float *b, cu_dims bs, float *y, cu_dims ys,
                                     int64_t n, int fn) {
    CU_LOOP(i, n) y[i] = binary_value(fn, a[cu_bcast_index(as, ys, i)], b[cu_bcast_index(bs, ys, i)]);
}
__global__ static void binary_same_kernel(const float *a, const float *b, float *y, int64_t n4, int64_t n, int fn) {
    map_quads(a, b, y, n4, n, [=](float u, float v) { return binary_value(fn, u, v); });
}
__global__ static void binary_act_kernel(cu_act a, cu_act b, cu_act_out y, int64_t n4, int64_t n, int fn) {
    map_act(a, b, y, n4, n, [=](float u, float v) { return binary_value(fn, u, v); });
}

int cu_binary(cu_call *r) {
    int st = cu_arity(r, 2, 2, 1, 1);
    if (st) return st;
    const cu_t *a = &r->in[0], *b = &r->in[1], *y = &r->out[0];
    int ok = cu_bcast_ok(a->shape, a->ndim, y->shape, y->ndim) && cu_bcast_ok(b->shape, b->ndim, y->shape, y->ndim);
    for (int d = 0; ok && d < y->ndim; d++) {
        int da = d - (y->ndim - a->ndim), db = d - (y->ndim - b->ndim);
        int64_t ea = da >= 0 ? a->shape[da] : 1, eb = db >= 0 ? b->shape[db] : 1;
        ok = y->shape[d] == (ea == 1 ? eb : ea);
    }
    if (!ok) {
        char sa[96], sb[96], sy[96];
        return cu_fail(r, CV_ERR_INVALID, "a %s and b %s do not broadcast to y %s", cu_shape_str(a, sa, sizeof sa),
                       cu_shape_str(b, sb, sizeof sb), cu_shape_str(y, sy, sizeof sy));
    }
    const cv_binary_params *p = (const cv_binary_params *)r->params;
    if (p->fn < CV_ADD || p->fn > CV_MIN) return cu_fail(r, CV_ERR_INVALID, "unknown binary fn %d", p->fn);
    int64_t n = y->numel, n4 = quads(n, a->f, b->f, y->f);
    if (any16(r)) { /* 16-bit activations come only with equal shapes (one layout group) */
        if (a->numel != n || b->numel != n) return cu_fail(r, CV_ERR_UNSUPPORTED, "16-bit operands must have equal shapes");
        const int64_t q = quads16(n, a, b, y);
        if (n)
            binary_act_kernel<<<cu_blocks(q > 0 ? q : n), CU_THREADS, 0, r->b->stream>>>(cu_act_of(a), cu_act_of(b),
                                                                                        cu_act_out_of(y), q, n, p->fn);
        return cu_launched(r, "binary kernel");
    }
    if (n && a->numel == n && b->numel == n)
        binary_same_kernel<<<cu_blocks(n4 > 0 ? n4 : n), CU_THREADS, 0, r->b->stream>>>(a->f, b->f, y->f, n4, n, p->fn);
    else if (n)
        binary_kernel<<<cu_blocks(n), CU_THREADS, 0, r->b->stream>>>(a->f, cu_dims_of(a->shape, a->ndim), b->f,
                                                                     cu_dims_of(b->shape, b->ndim), y->f,
                                                                     cu_dims_of(y->shape, y->ndim), n, p->fn);
    return cu_launched(r, "binary kernel");
}

__device__ static inline float scalar_value(int fn, double a, double v) {
    switch (fn) {
    case CV_S_ADD: return (float)(a + v);
    case CV_S_MUL: return (float)(a * v);
    case CV_S_POW: return (float)pow(a, v);
    case CV_S_RSUB: return (float)(v - a);
    case CV_S_CLAMP_MIN: return (float)(isnan(a) ? a : (a < v ? v : a));
    default: return (float)(isnan(a) ? a : (a > v ? v : a));
    }
}

__global__ static void scalar_kernel(const float *x, float *y, int64_t n4, int64_t n, int fn, double v) {
    map_quads(x, NULL, y, n4, n, [=](float a, float) { return scalar_value(fn, a, v); });
}
__global__ static void scalar_act_kernel(cu_act x, cu_act_out y, int64_t n4, int64_t n, int fn, double v) {
    const cu_act none = { NULL, NULL, CV_F32 };
    map_act(x, none, y, n4, n, [=](float a, float) { return scalar_value(fn, a, v); });
}

int cu_scalar(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    if (st || !cu_same_shape(r, &r->in[0], "x", &r->out[0], "y")) return st ? st : CV_ERR_INVALID;
    const cv_scalar_params *p = (const cv_scalar_params *)r->params;
    if (p->fn < CV_S_ADD || p->fn > CV_S_CLAMP_MAX) return cu_fail(r, CV_ERR_INVALID, "unknown scalar fn %d", p->fn);
    if (any16(r)) {
        const int64_t n = r->out[0].numel, n4 = quads16(n, &r->in[0], NULL, &r->out[0]);
        if (n)
            scalar_act_kernel<<<cu_blocks(n4 > 0 ? n4 : n), CU_THREADS, 0, r->b->stream>>>(
                cu_act_of(&r->in[0]), cu_act_out_of(&r->out[0]), n4, n, p->fn, p->value);
        return cu_launched(r, "scalar kernel");
    }
    const float *x = r->in[0].f;
    float *y = r->out[0].f;
    int64_t n = r->out[0].numel, n4 = quads(n, x, NULL, y);
    if (n) scalar_kernel<<<cu_blocks(n4 > 0 ? n4 : n), CU_THREADS, 0, r->b->stream>>>(x, y, n4, n, p->fn, p->value);
    return cu_launched(r, "scalar kernel");
}

/* ---- dropout / drop path ------------------------------------------------------------------ */
__device__ static inline double hash_uniform(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 40) * (1.0 / 16777216.0);
}

__global__ static void dropout_kernel(const float *x, float *y, float *mask, int64_t n, int64_t per, double p,
                                      uint64_t seed, int per_sample, int mask_per_sample) {
    double scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
    CU_LOOP(i, n) {
        uint64_t draw = per_sample ? (uint64_t)(i / per) : (uint64_t)i;
        double m = p >= 1.0 ? 0.0 : p <= 0.0 ? 1.0 : (hash_uniform(seed, draw) >= p ? scale : 0.0);
        y[i] = (float)(x[i] * m);
        if (mask) {
            if (!mask_per_sample) mask[i] = (float)m;
            else if (i % per == 0) mask[draw] = (float)m;
        }
    }
}

static int dropout_forward(cu_call *r, int per_sample) {
    int st = cu_arity(r, 1, 1, 1, 2);
    if (st) return st;
    double p = ((const cv_dropout_params *)r->params)->p;
    if (!(p >= 0.0 && p <= 1.0)) return cu_fail(r, CV_ERR_INVALID, "p = %g is outside [0, 1]", p);
    const cu_t *x = &r->in[0];
    if (!cu_same_shape(r, x, "x", &r->out[0], "y")) return CV_ERR_INVALID;
    int64_t n = x->ndim > 0 ? x->shape[0] : 1, per = n ? x->numel / n : 0;
    int mask_per_sample = 0;
    if (r->n_out == 2 && r->out[1].numel != x->numel) {
        if (!per_sample || r->out[1].numel != n) {
            char sx[96], sm[96];
            return cu_fail(r, CV_ERR_INVALID, "mask %s must have x's shape %s%s", cu_shape_str(&r->out[1], sm, sizeof sm),
                           cu_shape_str(x, sx, sizeof sx), per_sample ? " or one value per sample" : "");
        }
        mask_per_sample = 1;
    }
    if (x->numel)
        dropout_kernel<<<cu_blocks(x->numel), CU_THREADS, 0, r->b->stream>>>(
            x->f, r->out[0].f, r->n_out == 2 ? r->out[1].f : NULL, x->numel, per ? per : 1, p, r->k->seed, per_sample,
            mask_per_sample);
    return cu_launched(r, "dropout kernel");
}

int cu_dropout(cu_call *r) { return dropout_forward(r, 0); }
int cu_drop_path(cu_call *r) { return dropout_forward(r, 1); }

__global__ static void dropout_bwd_kernel(const float *mask, const float *dy, float *dx, int64_t n, int64_t per) {
    CU_LOOP(i, n) dx[i] = mask[i / per] * dy[i];
}
__global__ static void dropout_bwd_full_kernel(const float *mask, const float *dy, float *dx, int64_t n4, int64_t n) {
    map_quads(mask, dy, dx, n4, n, [](float m, float g) { return m * g; });
}

int cu_dropout_bwd(cu_call *r) {
    int st = cu_arity(r, 2, 2, 1, 1);
    if (st) return st;
    const cu_t *mask = &r->in[0], *dy = &r->in[1];
    if (!cu_same_shape(r, dy, "dy", &r->out[0], "dx")) return CV_ERR_INVALID;
    int64_t n = dy->ndim > 0 ? dy->shape[0] : 1, per = n ? dy->numel / n : 0;
    if (mask->numel != dy->numel && mask->numel != n) {
        char sm[96], sd[96];
        return cu_fail(r, CV_ERR_INVALID, "mask %s must have dy's shape %s or one value per sample",
                       cu_shape_str(mask, sm, sizeof sm), cu_shape_str(dy, sd, sizeof sd));
    }
    int64_t n4 = quads(dy->numel, mask->f, dy->f, r->out[0].f);
    if (dy->numel && mask->numel == dy->numel)
        dropout_bwd_full_kernel<<<cu_blocks(n4 > 0 ? n4 : dy->numel), CU_THREADS, 0, r->b->stream>>>(
            mask->f, dy->f, r->out[0].f, n4, dy->numel);
    else if (dy->numel)
        dropout_bwd_kernel<<<cu_blocks(dy->numel), CU_THREADS, 0, r->b->stream>>>(mask->f, dy->f, r->out[0].f, dy->numel,
                                                                                 per ? per : 1);
    return cu_launched(r, "dropout backward kernel");
}

/* ---- AXPBY: y := a*y + b*x; a = 0 does not read y ------------------------------------------ */
__global__ static void axpby_kernel(const float *x, float *y, int64_t n4, int64_t n, double a, double b) {
    map_quads(x, y, y, n4, n, [=](float xv, float yv) { return (float)((a == 0.0 ? 0.0 : a * yv) + b * xv); });
}

int cu_axpby(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    if (st) return st;
    if (r->in[0].numel != r->out[0].numel) {
        char sx[96], sy[96];
        return cu_fail(r, CV_ERR_INVALID, "x %s and y %s have different element counts",
                       cu_shape_str(&r->in[0], sx, sizeof sx), cu_shape_str(&r->out[0], sy, sizeof sy));
    }
    const cv_axpby_params *p = (const cv_axpby_params *)r->params;
    const float *x = r->in[0].f;
    float *y = r->out[0].f;
    int64_t n = r->in[0].numel, n4 = quads(n, x, y, NULL);
    if (n) axpby_kernel<<<cu_blocks(n4 > 0 ? n4 : n), CU_THREADS, 0, r->b->stream>>>(x, y, n4, n, p->a, p->b);
    return cu_launched(r, "axpby kernel");
}
