/* plugins/backends/cpu/eltwise.c — elementwise kernels: unary activations and
 * their gradients, binary ops with numpy broadcasting, scalar ops, cast/copy/fill.
 * Operands are walked as (outer rows x contiguous-or-strided inner run) after
 * merging dimensions that are laid out back to back, so a broadcast such as
 * x[N,C,H,W] * s[N,C,1,1] becomes N*C rows of H*W elements times one scalar.
 * Activations the engine stores in bf16 (precision = bf16, ABI 1.4) run the same
 * f32 loops on blocks converted on the fly (eltwise_bf16). */
#include "cpu.h"

#include <math.h>
#include <string.h>

#define MAXOPS 3

/* Merge adjacent dims that every operand walks contiguously; returns new ndim. */
static int collapse(int nd, int64_t *shape, int64_t st[][CV_MAX_DIMS], int nops) {
    int out = 0;
    for (int d = 0; d < nd; d++) {
        if (shape[d] == 1) continue;
        if (out > 0) {
            int ok = 1;
            for (int o = 0; o < nops; o++)
                if (st[o][out - 1] != st[o][d] * shape[d]) ok = 0;
            if (ok) {
                shape[out - 1] *= shape[d];
                for (int o = 0; o < nops; o++) st[o][out - 1] = st[o][d];
                continue;
            }
        }
        shape[out] = shape[d];
        for (int o = 0; o < nops; o++) st[o][out] = st[o][d];
        out++;
    }
    if (out == 0) {
        shape[0] = 1;
        for (int o = 0; o < nops; o++) st[o][0] = 1;
        out = 1;
    }
    return out;
}

/* broadcast strides of t against an output of nd dims (numpy rules, right-aligned) */
static void bcast_strides(const cv_ktensor *t, const cv_ktensor *out, int64_t *st) {
    int off = out->ndim - t->ndim;
    for (int d = 0; d < out->ndim; d++) {
        int td = d - off;
        st[d] = (td < 0 || t->shape[td] == 1) ? 0 : t->stride[td];
    }
}

typedef struct walk {
    int nd;
    int64_t shape[CV_MAX_DIMS];
    int64_t st[MAXOPS][CV_MAX_DIMS];
    int64_t rows, inner;
} walk;

static void walk_init(walk *w, const cv_ktensor *out, const cv_ktensor *a, const cv_ktensor *b) {
    int nd = out->ndim;
    memcpy(w->shape, out->shape, sizeof w->shape);
    for (int d = 0; d < nd; d++) w->st[0][d] = out->stride[d];
    if (a) bcast_strides(a, out, w->st[1]);
    if (b) bcast_strides(b, out, w->st[2]);
    w->nd = collapse(nd, w->shape, w->st, b ? 3 : a ? 2 : 1);
    w->inner = w->shape[w->nd - 1];
    w->rows = 1;
    for (int d = 0; d < w->nd - 1; d++) w->rows *= w->shape[d];
}
static inline void walk_row(const walk *w, int64_t r, int64_t off[MAXOPS]) {
    off[0] = off[1] = off[2] = 0;
    for (int d = w->nd - 2; d >= 0; d--) {
        int64_t c = r % w->shape[d];
        r /= w->shape[d];
        for (int o = 0; o < MAXOPS; o++) off[o] += c * w->st[o][d];
    }
}

/* ---- unary -------------------------------------------------------------------------- */
static inline float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

/* e^x without a libm call, so that loops over it vectorise: x = n ln2 + r with
 * |r| <= ln2/2 (ln2 in two parts), e^r by the classic degree-5 minimax polynomial
 * (Cephes' expf, about 1 ulp), 2^n into the exponent bits.  Above 88 it gives
 * infinity and below -104 zero, as expf; in between -104 and -87, where expf
 * is subnormal, e^-87 (under 2^-125); NaN is the caller's. */
static inline float exp_fast(float v) {
    const float x = v < -87.0f ? -87.0f : v > 88.0f ? 88.0f : v;
    const float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { uint32_t u; float f; } two = { (uint32_t)((int32_t)n + 127) << 23 };
    return v > 88.0f ? __builtin_inff() : v < -104.0f ? 0.0f : p * two.f;
}

/* erf(x) through erfc(|x|) = t exp(-x^2 + P(t)), t = 1 / (1 + |x|/2), P of degree 9
 * (the Chebyshev fit of Numerical Recipes' erfcc: fractional error under 1.2e-7) */
static inline float erf_fast(float x) {
    const float z = x < 0 ? -x : x, t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    const float e = 1.0f - t * exp_fast(-z * z + p);
    return x < 0 ? -e : e;
}

static inline float sigm_fast(float x) { return 1.0f / (1.0f + exp_fast(-x)); }
static inline float silu_d(float x) {
    const float s = sigm_fast(x);
    return s * (1.0f + x * (1.0f - s));
}
static inline float sigm_d(float x) {
    const float s = sigm_fast(x);
    return s * (1.0f - s);
}
static inline float gelu_f(float x) { return 0.5f * x * (1.0f + erf_fast(x * 0.70710678118654752f)); }
static inline float gelu_d(float x) {
    return 0.5f * (1.0f + erf_fast(x * 0.70710678118654752f)) + x * 0.39894228040143268f * exp_fast(-0.5f * x * x);
}

/* SiLU, sigmoid, GELU (the erf form) and their gradients on n dense elements (dy
 * NULL: forward) through exp_fast / erf_fast, in clones per vector width, one
 * branch-free loop per case so that each vectorises; NaN in, NaN out */
#define ACT_LOOP(OUT)                                                    \
    _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {               \
        const float v = x[i], xs = v != v ? 0.0f : v, o = (OUT);         \
        y[i] = v != v ? v : o;                                           \
    }
CLONES static void exp_family(int fn, const float *x, const float *dy, float *y, int64_t n) {
    if (fn == CV_SILU && !dy) ACT_LOOP(xs * sigm_fast(xs))
    else if (fn == CV_SILU) ACT_LOOP(dy[i] * silu_d(xs))
    else if (fn == CV_SIGMOID && !dy) ACT_LOOP(sigm_fast(xs))
    else if (fn == CV_SIGMOID) ACT_LOOP(dy[i] * sigm_d(xs))
    else if (!dy) ACT_LOOP(gelu_f(xs))
    else ACT_LOOP(dy[i] * gelu_d(xs))
}

static void exp_family_par(cpu_backend *b, int fn, const float *x, const float *dy, float *y, int64_t n) {
    #pragma omp parallel for num_threads(b->threads) schedule(static) if (n > 16384)
    for (int64_t c0 = 0; c0 < n; c0 += 4096)
        exp_family(fn, x + c0, dy ? dy + c0 : NULL, y + c0, n - c0 < 4096 ? n - c0 : 4096);
}

static inline float unary_f(int fn, float x, float alpha) {
    switch (fn) {
    case CV_RELU: return x > 0 || x != x ? x : 0; /* NaN propagates, as in PyTorch */
    case CV_RELU6: return x != x ? x : x < 0 ? 0 : x > 6 ? 6 : x;
    case CV_LEAKY_RELU: return x > 0 ? x : alpha * x;
    case CV_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case CV_GELU_TANH: return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case CV_SILU: return x * sigm(x);
    case CV_HARDSWISH: { float t = x + 3; t = t < 0 ? 0 : t > 6 ? 6 : t; return x * t / 6.0f; }
    case CV_HARDSIGMOID: { float t = x + 3; t = t < 0 ? 0 : t > 6 ? 6 : t; return t / 6.0f; }
    case CV_SIGMOID: return sigm(x);
    case CV_TANH: return tanhf(x);
    case CV_EXP: return expf(x);
    case CV_LOG: return logf(x);
    case CV_SQRT: return sqrtf(x);
    case CV_RSQRT: return 1.0f / sqrtf(x);
    case CV_NEG: return -x;
    case CV_ABS: return fabsf(x);
    case CV_SQUARE: return x * x;
    default: return x;
    }
}

/* d unary / dx at x */
static inline float unary_d(int fn, float x, float alpha) {
    switch (fn) {
    case CV_RELU: return x > 0 ? 1.0f : 0.0f;
    case CV_RELU6: return x > 0 && x < 6 ? 1.0f : 0.0f;
    case CV_LEAKY_RELU: return x > 0 ? 1.0f : alpha;
    case CV_GELU: return 0.5f * (1.0f + erff(x * 0.70710678118654752f)) + x * 0.39894228040143268f * expf(-0.5f * x * x);
    case CV_GELU_TANH: {
        const float c = 0.79788456080286536f;
        float u = c * (x + 0.044715f * x * x * x), t = tanhf(u);
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * c * (1.0f + 3.0f * 0.044715f * x * x);
    }
    case CV_SILU: { float s = sigm(x); return s * (1.0f + x * (1.0f - s)); }
    case CV_HARDSWISH: return x < -3 ? 0.0f : x > 3 ? 1.0f : (2.0f * x + 3.0f) / 6.0f;
    case CV_HARDSIGMOID: return x > -3 && x < 3 ? 1.0f / 6.0f : 0.0f;
    case CV_SIGMOID: { float s = sigm(x); return s * (1.0f - s); }
    case CV_TANH: { float t = tanhf(x); return 1.0f - t * t; }
    case CV_EXP: return expf(x);
    case CV_LOG: return 1.0f / x;
    case CV_SQRT: return 0.5f / sqrtf(x);
    case CV_RSQRT: return -0.5f / (x * sqrtf(x));
    case CV_NEG: return -1.0f;
    case CV_ABS: return x > 0 ? 1.0f : x < 0 ? -1.0f : 0.0f;
    case CV_SQUARE: return 2.0f * x;
    default: return 1.0f;
    }
}

/* one specialised loop per function so the compiler vectorises each */
#define UNARY_LOOP(FN)                                                               \
    case FN:                                                                         \
        _Pragma("omp parallel for num_threads(b->threads) schedule(static) if (n > 16384)") \
        for (int64_t i = 0; i < n; i++) y[i] = unary_f(FN, x[i], alpha);             \
        break;
#define UNARY_BWD_LOOP(FN)                                                           \
    case FN:                                                                         \
        _Pragma("omp parallel for num_threads(b->threads) schedule(static) if (n > 16384)") \
        for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * unary_d(FN, x[i], alpha);   \
        break;

static void unary_dense(cpu_backend *b, int fn, float alpha, const float *x, float *y, int64_t n) {
    if (fn == CV_SILU || fn == CV_SIGMOID || fn == CV_GELU) {
        exp_family_par(b, fn, x, NULL, y, n);
        return;
    }
    switch (fn) {
    UNARY_LOOP(CV_RELU) UNARY_LOOP(CV_RELU6) UNARY_LOOP(CV_LEAKY_RELU)
    UNARY_LOOP(CV_GELU_TANH) UNARY_LOOP(CV_HARDSWISH) UNARY_LOOP(CV_HARDSIGMOID) UNARY_LOOP(CV_TANH) UNARY_LOOP(CV_EXP) UNARY_LOOP(CV_LOG) UNARY_LOOP(CV_SQRT)
    UNARY_LOOP(CV_RSQRT) UNARY_LOOP(CV_NEG) UNARY_LOOP(CV_ABS) UNARY_LOOP(CV_SQUARE)
    default:
        if (x != y) memcpy(y, x, (size_t)n * sizeof(float));
        break;
    }
}
static void unary_bwd_dense(cpu_backend *b, int fn, float alpha, const float *x, const float *dy, float *dx, int64_t n) {
    if (fn == CV_SILU || fn == CV_SIGMOID || fn == CV_GELU) {
        exp_family_par(b, fn, x, dy, dx, n);
        return;
    }
    switch (fn) {
    UNARY_BWD_LOOP(CV_RELU) UNARY_BWD_LOOP(CV_RELU6) UNARY_BWD_LOOP(CV_LEAKY_RELU)
    UNARY_BWD_LOOP(CV_GELU_TANH) UNARY_BWD_LOOP(CV_HARDSWISH) UNARY_BWD_LOOP(CV_HARDSIGMOID) UNARY_BWD_LOOP(CV_TANH) UNARY_BWD_LOOP(CV_EXP) UNARY_BWD_LOOP(CV_LOG)
    UNARY_BWD_LOOP(CV_SQRT) UNARY_BWD_LOOP(CV_RSQRT) UNARY_BWD_LOOP(CV_NEG) UNARY_BWD_LOOP(CV_ABS)
    UNARY_BWD_LOOP(CV_SQUARE)
    default:
        if (dx != dy) memcpy(dx, dy, (size_t)n * sizeof(float));
        break;
    }
}

/* ---- binary --------------------------------------------------------------------------- */
static inline float binary_f(int fn, float a, float b) {
    switch (fn) {
    case CV_ADD: return a + b;
    case CV_SUB: return a - b;
    case CV_MUL: return a * b;
    case CV_DIV: return a / b;
    case CV_MAX: return a > b || a != a ? a : b;
    default: return a < b || a != a ? a : b;
    }
}

#define BIN_INNER(FN)                                                                    \
    case FN:                                                                             \
        if (sa == 1 && sb == 1 && so == 1)                                               \
            for (int64_t i = 0; i < inner; i++) o[i] = binary_f(FN, pa[i], pb[i]);       \
        else if (sa == 1 && sb == 0 && so == 1) {                                        \
            float vb = pb[0];                                                            \
            for (int64_t i = 0; i < inner; i++) o[i] = binary_f(FN, pa[i], vb);          \
        } else if (sa == 0 && sb == 1 && so == 1) {                                      \
            float va = pa[0];                                                            \
            for (int64_t i = 0; i < inner; i++) o[i] = binary_f(FN, va, pb[i]);          \
        } else                                                                           \
            for (int64_t i = 0; i < inner; i++) o[i * so] = binary_f(FN, pa[i * sa], pb[i * sb]); \
        break;

static void binary_walk(cpu_backend *b, int fn, const cv_ktensor *out, const cv_ktensor *A, const cv_ktensor *B) {
    walk w;
    walk_init(&w, out, A, B);
    const int64_t inner = w.inner, so = w.st[0][w.nd - 1], sa = w.st[1][w.nd - 1], sb = w.st[2][w.nd - 1];
    const int64_t n = w.rows * inner;
    #pragma omp parallel for num_threads(b->threads) schedule(static) if (n > 16384)
    for (int64_t r = 0; r < w.rows; r++) {
        int64_t off[MAXOPS];
        walk_row(&w, r, off);
        float *o = (float *)out->data + off[0];
        const float *pa = (const float *)A->data + off[1], *pb = (const float *)B->data + off[2];
        switch (fn) {
        BIN_INNER(CV_ADD) BIN_INNER(CV_SUB) BIN_INNER(CV_MUL) BIN_INNER(CV_DIV) BIN_INNER(CV_MAX) BIN_INNER(CV_MIN)
        }
    }
}

/* ---- scalar ------------------------------------------------------------------------------ */
static inline float scalar_f(int fn, float x, float v) {
    switch (fn) {
    case CV_S_ADD: return x + v;
    case CV_S_MUL: return x * v;
    case CV_S_POW: return powf(x, v);
    case CV_S_RSUB: return v - x;
    case CV_S_CLAMP_MIN: return x < v ? v : x;
    default: return x > v ? v : x;
    }
}
#define SCALAR_LOOP(FN)                                                                  \
    case FN:                                                                             \
        _Pragma("omp parallel for num_threads(b->threads) schedule(static) if (n > 16384)") \
        for (int64_t i = 0; i < n; i++) y[i] = scalar_f(FN, x[i], v);                    \
        break;

/* ---- entry ------------------------------------------------------------------------------- */
static int need_f32(cpu_backend *b, const cv_kernel *k, int n_in, int n_out, cv_error *err) {
    if (k->n_in < n_in || k->n_out < n_out)
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: needs %d inputs and %d outputs, got %d and %d",
                        op_name(k->op), n_in, n_out, k->n_in, k->n_out);
    for (int i = 0; i < n_in; i++)
        if (k->in[i].dtype != CV_F32)
            return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: %s: input %d must be f32", op_name(k->op), i);
    for (int i = 0; i < n_out; i++)
        if (k->out[i].dtype != CV_F32)
            return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: %s: output %d must be f32", op_name(k->op), i);
    return CV_OK;
}

/* Element-wise on equal shapes over activations stored in bf16 (every operand
 * dense bf16 of one size, as the engine's 16-bit storage gives them).  ReLU,
 * ReLU6, their gradients and add: one direct loop (bf16.c).  Any other op: blocks
 * of BF16_BLOCK elements widened into the workspace (eltwise_bf16_bytes), the f32
 * kernel (itself parallel), the output narrowed; the blocks are large so the
 * per-block cost of the parallel regions stays small. */
#define BF16_BLOCK 65536
static int fast_ok(const cv_kernel *k) {
    const int fn = k->op == CV_OP_SCALAR || !k->params ? -1 : *(const int32_t *)k->params; /* unary, binary: fn first */
    return ((k->op == CV_OP_UNARY || k->op == CV_OP_UNARY_BWD) && (fn == CV_RELU || fn == CV_RELU6)) ||
           (k->op == CV_OP_BINARY && fn == CV_ADD);
}
static int any_bf16(const cv_kernel *k);
static int nin_of(const cv_kernel *k) { return k->op == CV_OP_UNARY_BWD || k->op == CV_OP_BINARY ? 2 : 1; }

size_t eltwise_bf16_bytes(const cv_kernel *k) {
    if ((k->op != CV_OP_UNARY && k->op != CV_OP_UNARY_BWD && k->op != CV_OP_BINARY && k->op != CV_OP_SCALAR) ||
        k->n_out != 1 || !any_bf16(k) || fast_ok(k))
        return 0;
    const int64_t n = kt_numel(&k->out[0]);
    return (size_t)(nin_of(k) + 1) * (size_t)(n < BF16_BLOCK ? n : BF16_BLOCK) * sizeof(float) + 64;
}

static int eltwise_bf16(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    const int nin = nin_of(k);
    const int64_t n = k->n_out == 1 ? kt_numel(&k->out[0]) : -1;
    int ok = b->bf16 && k->n_in == nin && n >= 0;
    for (int i = 0; ok && i < nin + 1; i++) {
        const cv_ktensor *t = i < nin ? &k->in[i] : &k->out[0];
        ok = t->dtype == CV_BF16 && kt_contiguous(t) && kt_numel(t) == n;
    }
    if (!ok)
        return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED,
                        "backend cpu: %s: bf16 operands must be %d input(s) and one output, all dense bf16 of one size "
                        "(precision = bf16)", op_name(k->op), nin);
    if (fast_ok(k)) {
        const int fn = *(const int32_t *)k->params;
        #pragma omp parallel for num_threads(b->threads) schedule(static) if (n > 16384)
        for (int64_t c0 = 0; c0 < n; c0 += 4096)
            eltwise_bf16_fast(k->op, fn, (const uint16_t *)k->in[0].data + c0,
                              nin > 1 ? (const uint16_t *)k->in[1].data + c0 : NULL, (uint16_t *)k->out[0].data + c0,
                              n - c0 < 4096 ? n - c0 : 4096);
        return CV_OK;
    }
    cpu_scratch s;
    if (scratch_begin(&s, k, eltwise_bf16_bytes(k)) != CV_OK)
        return CPU_FAIL(b, err, CV_ERR_NOMEM, "backend cpu: %s: no scratch memory", op_name(k->op));
    const int64_t blk = n < BF16_BLOCK ? n : BF16_BLOCK;
    float *buf = scratch_take(&s, (size_t)(nin + 1) * (size_t)blk * sizeof(float));
    int st = CV_OK;
    for (int64_t c0 = 0; c0 < n && st == CV_OK; c0 += BF16_BLOCK) {
        const int64_t m = n - c0 < BF16_BLOCK ? n - c0 : BF16_BLOCK;
        cv_ktensor t[3];
        for (int i = 0; i < nin + 1; i++) {
            t[i] = (cv_ktensor){ .dtype = CV_F32, .ndim = 1, .shape = { m }, .stride = { 1 }, .data = buf + i * blk };
            if (i < nin) bf16_to_f32_n(t[i].data, (const uint16_t *)k->in[i].data + c0, m, b->threads);
        }
        cv_kernel ck = *k;
        ck.in = t;
        ck.out = t + nin;
        ck.in_layout = ck.out_layout = NULL;
        ck.workspace = NULL;
        ck.workspace_bytes = 0;
        st = run_eltwise(b, &ck, err);
        if (st == CV_OK) f32_to_bf16_n((uint16_t *)k->out[0].data + c0, t[nin].data, m, b->threads);
    }
    scratch_end(&s);
    return st;
}

static int any_bf16(const cv_kernel *k) {
    for (int i = 0; i < k->n_in; i++)
        if (k->in[i].dtype == CV_BF16) return 1;
    for (int i = 0; i < k->n_out; i++)
        if (k->out[i].dtype == CV_BF16) return 1;
    return 0;
}

int run_eltwise(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    int st;
    if ((k->op == CV_OP_UNARY || k->op == CV_OP_UNARY_BWD || k->op == CV_OP_BINARY || k->op == CV_OP_SCALAR) && any_bf16(k))
        return eltwise_bf16(b, k, err);
    switch (k->op) {
    case CV_OP_FILL: {
        if (k->n_out < 1) return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: fill: needs one output");
        const cv_scalar_params *p = k->params;
        float v = p ? p->value : 0.0f;
        cv_ktensor one = { .dtype = CV_F32, .ndim = 0, .data = &v };
        for (int o = 0; o < k->n_out; o++) strided_copy(&k->out[o], &one, b->threads); /* ndim 0 broadcasts */
        return CV_OK;
    }
    case CV_OP_CAST: case CV_OP_COPY: {
        if (k->n_in < 1 || k->n_out < 1 || kt_numel(&k->in[0]) != kt_numel(&k->out[0]))
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: needs one input and one output of the same size", op_name(k->op));
        const cv_cast_params *cp = k->params;
        if (k->op == CV_OP_CAST && cp && cp->dtype != k->out[0].dtype)
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: cast: params ask for dtype %d but the output has dtype %d",
                            cp->dtype, k->out[0].dtype);
        cv_ktensor src = k->in[0];
        if (src.ndim != k->out[0].ndim || memcmp(src.shape, k->out[0].shape, sizeof(int64_t) * (size_t)src.ndim)) {
            if (!kt_contiguous(&src))
                return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: %s: strided input of another shape", op_name(k->op));
            src = kt_dense(&k->out[0], k->in[0].data);
            src.dtype = k->in[0].dtype;
        }
        strided_copy(&k->out[0], &src, b->threads);
        return CV_OK;
    }
    case CV_OP_DROPOUT: case CV_OP_DROP_PATH: case CV_OP_DROPOUT_BWD:
        return run_dropout(b, k, err);
    case CV_OP_BINARY: {
        if ((st = need_f32(b, k, 2, 1, err))) return st;
        const cv_ktensor *A = &k->in[0], *B = &k->in[1], *Y = &k->out[0];
        int ok = A->ndim <= Y->ndim && B->ndim <= Y->ndim;
        for (int d = 0; ok && d < Y->ndim; d++) { /* y must be exactly the broadcast shape */
            int da = d - (Y->ndim - A->ndim), db = d - (Y->ndim - B->ndim);
            int64_t ea = da >= 0 ? A->shape[da] : 1, eb = db >= 0 ? B->shape[db] : 1;
            ok = (ea == 1 || eb == 1 || ea == eb) && Y->shape[d] == (ea == 1 ? eb : ea);
        }
        if (!ok) {
            char sa[64], sb[64], sy[64];
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: binary: a %s and b %s do not broadcast to y %s",
                            kt_shape_str(A, sa, sizeof sa), kt_shape_str(B, sb, sizeof sb), kt_shape_str(Y, sy, sizeof sy));
        }
        const cv_binary_params *p = k->params;
        binary_walk(b, p ? p->fn : CV_ADD, &k->out[0], &k->in[0], &k->in[1]);
        return CV_OK;
    }
    default: break;
    }
    /* unary / unary_bwd / scalar: dense fast path, else pack */
    int nin = k->op == CV_OP_UNARY_BWD ? 2 : 1;
    if ((st = need_f32(b, k, nin, 1, err))) return st;
    for (int i = 0; i < nin; i++)
        if (kt_numel(&k->in[i]) != kt_numel(&k->out[0]))
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: input %d and output sizes differ", op_name(k->op), i);
    cpu_scratch s;
    if (scratch_begin(&s, k, dense_bytes(k)) != CV_OK)
        return CPU_FAIL(b, err, CV_ERR_NOMEM, "backend cpu: %s: no scratch memory", op_name(k->op));
    cpu_dense d;
    if ((st = dense_start(&d, k, &s, b->threads, 0)) != CV_OK) {
        scratch_end(&s);
        return CPU_FAIL(b, err, st, "backend cpu: %s: could not pack strided operands", op_name(k->op));
    }
    const int64_t n = kt_numel(&d.out[0]);
    float *y = d.out[0].data;
    if (k->op == CV_OP_UNARY) {
        const cv_unary_params *p = k->params;
        unary_dense(b, p ? p->fn : CV_IDENTITY, p ? p->alpha : 0, d.in[0].data, y, n);
    } else if (k->op == CV_OP_UNARY_BWD) {
        const cv_unary_params *p = k->params;
        unary_bwd_dense(b, p ? p->fn : CV_IDENTITY, p ? p->alpha : 0, d.in[0].data, d.in[1].data, y, n);
    } else {
        const cv_scalar_params *p = k->params;
        const float *x = d.in[0].data;
        float v = p ? p->value : 0;
        switch (p ? p->fn : CV_S_ADD) {
        SCALAR_LOOP(CV_S_ADD) SCALAR_LOOP(CV_S_MUL) SCALAR_LOOP(CV_S_POW) SCALAR_LOOP(CV_S_RSUB)
        SCALAR_LOOP(CV_S_CLAMP_MIN) SCALAR_LOOP(CV_S_CLAMP_MAX)
        }
    }
    dense_finish(&d, b->threads);
    scratch_end(&s);
    return CV_OK;
}
