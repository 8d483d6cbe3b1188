/* elementwise.c — UNARY (+ its gradient), BINARY with numpy broadcasting, SCALAR,
 * BROADCAST_TO, SUM_TO and REDUCE.  Values are computed in double and rounded
 * once to f32; NaN propagates as in PyTorch (relu, max, clamp of NaN is NaN). */
#include "ref.h"

int ref_bcast_ok(const int64_t *src, int src_nd, const int64_t *dst, int dst_nd) {
    if (src_nd > dst_nd) return 0;
    for (int d = 0; d < src_nd; d++) {
        int64_t s = src[d], t = dst[d + dst_nd - src_nd];
        if (s != 1 && s != t) return 0;
    }
    return 1;
}

int64_t ref_bcast_index(const int64_t *src, int src_nd, const int64_t *dst, int dst_nd, int64_t i) {
    int64_t idx = 0, stride = 1;
    for (int d = dst_nd - 1; d >= 0; d--) {
        int64_t c = dst[d] > 0 ? i % dst[d] : 0;
        i = dst[d] > 0 ? i / dst[d] : 0;
        int sd = d - (dst_nd - src_nd);
        if (sd < 0) break;
        if (src[sd] != 1) idx += c * stride;
        stride *= src[sd];
    }
    return idx;
}

static double nan_max(double a, double b) { return isnan(a) || a > b ? a : b; }
static double nan_min(double a, double b) { return isnan(a) || a < b ? a : b; }
static double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

#define GELU_TANH_K 0.7978845608028654 /* sqrt(2/pi) */

static int unary_value(int fn, double x, double alpha, double *y) {
    switch (fn) {
    case CV_RELU: *y = nan_max(x, 0.0); break;
    case CV_RELU6: *y = nan_min(nan_max(x, 0.0), 6.0); break;
    case CV_LEAKY_RELU: *y = x > 0 ? x : alpha * x; break;
    case CV_GELU: *y = 0.5 * x * (1.0 + erf(x * M_SQRT1_2)); break;
    case CV_GELU_TANH: *y = 0.5 * x * (1.0 + tanh(GELU_TANH_K * (x + 0.044715 * x * x * x))); break;
    case CV_SILU: *y = x * sigmoid(x); break;
    case CV_HARDSWISH: *y = x * nan_min(nan_max(x + 3.0, 0.0), 6.0) / 6.0; break;
    case CV_HARDSIGMOID: *y = nan_min(nan_max(x + 3.0, 0.0), 6.0) / 6.0; break;
    case CV_SIGMOID: *y = sigmoid(x); break;
    case CV_TANH: *y = tanh(x); break;
    case CV_EXP: *y = exp(x); break;
    case CV_LOG: *y = log(x); break;
    case CV_SQRT: *y = sqrt(x); break;
    case CV_RSQRT: *y = 1.0 / sqrt(x); break;
    case CV_NEG: *y = -x; break;
    case CV_ABS: *y = fabs(x); break;
    case CV_SQUARE: *y = x * x; break;
    case CV_IDENTITY: *y = x; break;
    default: return -1;
    }
    return 0;
}

/* d y / d x at x (PyTorch's choices at the kinks: relu'(0) = 0, relu6'(0) = relu6'(6) = 0,
 * hardsigmoid' = 0 at +-3, hardswish'(-3) = -0.5, hardswish'(3) = 1.5, |x|'(0) = 0) */
static int unary_deriv(int fn, double x, double alpha, double *d) {
    switch (fn) {
    case CV_RELU: *d = x > 0 ? 1.0 : 0.0; break;
    case CV_RELU6: *d = x > 0 && x < 6 ? 1.0 : 0.0; break;
    case CV_LEAKY_RELU: *d = x > 0 ? 1.0 : alpha; break;
    case CV_GELU: *d = 0.5 * (1.0 + erf(x * M_SQRT1_2)) + x * exp(-0.5 * x * x) * 0.3989422804014327; break;
    case CV_GELU_TANH: {
        double t = tanh(GELU_TANH_K * (x + 0.044715 * x * x * x));
        *d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_TANH_K * (1.0 + 3.0 * 0.044715 * x * x);
        break;
    }
    case CV_SILU: { double s = sigmoid(x); *d = s * (1.0 + x * (1.0 - s)); break; }
    case CV_HARDSWISH: *d = x < -3.0 ? 0.0 : x <= 3.0 ? x / 3.0 + 0.5 : 1.0; break;
    case CV_HARDSIGMOID: *d = x > -3.0 && x < 3.0 ? 1.0 / 6.0 : 0.0; break;
    case CV_SIGMOID: { double s = sigmoid(x); *d = s * (1.0 - s); break; }
    case CV_TANH: { double t = tanh(x); *d = 1.0 - t * t; break; }
    case CV_EXP: *d = exp(x); break;
    case CV_LOG: *d = 1.0 / x; break;
    case CV_SQRT: *d = 0.5 / sqrt(x); break;
    case CV_RSQRT: *d = -0.5 / (x * sqrt(x)); break;
    case CV_NEG: *d = -1.0; break;
    case CV_ABS: *d = x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; break;
    case CV_SQUARE: *d = 2.0 * x; break;
    case CV_IDENTITY: *d = 1.0; break;
    default: return -1;
    }
    return 0;
}

int ref_unary(ref_run *r) {
    int st = ref_arity(r, 1, 1, 1, 1);
    if (st || !ref_same_shape(r, &r->in[0], "x", &r->out[0], "y")) return st ? st : CV_ERR_INVALID;
    const cv_unary_params *p = r->params;
    for (int64_t i = 0; i < r->out[0].numel; i++) {
        double y;
        if (unary_value(p->fn, r->in[0].f[i], p->alpha, &y)) return ref_fail(r, CV_ERR_INVALID, "unknown unary fn %d", p->fn);
        r->out[0].f[i] = (float)y;
    }
    return CV_OK;
}

/* x, dy -> dx */
int ref_unary_bwd(ref_run *r) {
    int st = ref_arity(r, 2, 2, 1, 1);
    if (st) return st;
    if (!ref_same_shape(r, &r->in[0], "x", &r->in[1], "dy") || !ref_same_shape(r, &r->in[0], "x", &r->out[0], "dx"))
        return CV_ERR_INVALID;
    const cv_unary_params *p = r->params;
    for (int64_t i = 0; i < r->out[0].numel; i++) {
        double d;
        if (unary_deriv(p->fn, r->in[0].f[i], p->alpha, &d)) return ref_fail(r, CV_ERR_INVALID, "unknown unary fn %d", p->fn);
        r->out[0].f[i] = (float)(d * r->in[1].f[i]);
    }
    return CV_OK;
}

int ref_binary(ref_run *r) {
    int st = ref_arity(r, 2, 2, 1, 1);
    if (st) return st;
    const ref_t *a = &r->in[0], *b = &r->in[1], *y = &r->out[0];
    int ok = ref_bcast_ok(a->shape, a->ndim, y->shape, y->ndim) && ref_bcast_ok(b->shape, b->ndim, y->shape, y->ndim);
    for (int d = 0; ok && d < y->ndim; d++) { /* y must be exactly the broadcast shape */
        int da = d - (y->ndim - a->ndim), db = d - (y->ndim - b->ndim);
        int64_t ea = da >= 0 ? a->shape[da] : 1, eb = db >= 0 ? b->shape[db] : 1;
        ok = y->shape[d] == (ea == 1 ? eb : ea);
    }
    if (!ok || (a->ndim > y->ndim) || (b->ndim > y->ndim)) {
        char sa[96], sb[96], sy[96];
        return ref_fail(r, CV_ERR_INVALID, "a %s and b %s do not broadcast to y %s", ref_shape_str(a, sa, sizeof sa),
                        ref_shape_str(b, sb, sizeof sb), ref_shape_str(y, sy, sizeof sy));
    }
    const cv_binary_params *p = r->params;
    if (p->fn < CV_ADD || p->fn > CV_MIN) return ref_fail(r, CV_ERR_INVALID, "unknown binary fn %d", p->fn);
    for (int64_t i = 0; i < y->numel; i++) {
        double u = a->f[ref_bcast_index(a->shape, a->ndim, y->shape, y->ndim, i)];
        double v = b->f[ref_bcast_index(b->shape, b->ndim, y->shape, y->ndim, i)], o;
        switch (p->fn) {
        case CV_ADD: o = u + v; break;
        case CV_SUB: o = u - v; break;
        case CV_MUL: o = u * v; break;
        case CV_DIV: o = u / v; break;
        case CV_MAX: o = isnan(v) ? v : nan_max(u, v); break;
        default: o = isnan(v) ? v : nan_min(u, v); break;
        }
        y->f[i] = (float)o;
    }
    return CV_OK;
}

int ref_scalar(ref_run *r) {
    int st = ref_arity(r, 1, 1, 1, 1);
    if (st || !ref_same_shape(r, &r->in[0], "x", &r->out[0], "y")) return st ? st : CV_ERR_INVALID;
    const cv_scalar_params *p = r->params;
    double v = p->value;
    for (int64_t i = 0; i < r->out[0].numel; i++) {
        double x = r->in[0].f[i], o;
        switch (p->fn) {
        case CV_S_ADD: o = x + v; break;
        case CV_S_MUL: o = x * v; break;
        case CV_S_POW: o = pow(x, v); break;
        case CV_S_RSUB: o = v - x; break;
        case CV_S_CLAMP_MIN: o = isnan(x) ? x : (x < v ? v : x); break;
        case CV_S_CLAMP_MAX: o = isnan(x) ? x : (x > v ? v : x); break;
        default: return ref_fail(r, CV_ERR_INVALID, "unknown scalar fn %d", p->fn);
        }
        r->out[0].f[i] = (float)o;
    }
    return CV_OK;
}

int ref_broadcast_to(ref_run *r) {
    int st = ref_arity(r, 1, 1, 1, 1);
    if (st) return st;
    const ref_t *x = &r->in[0], *y = &r->out[0];
    if (!ref_bcast_ok(x->shape, x->ndim, y->shape, y->ndim)) {
        char sx[96], sy[96];
        return ref_fail(r, CV_ERR_INVALID, "x %s does not broadcast to %s", ref_shape_str(x, sx, sizeof sx),
                        ref_shape_str(y, sy, sizeof sy));
    }
    for (int64_t i = 0; i < y->numel; i++) y->f[i] = x->f[ref_bcast_index(x->shape, x->ndim, y->shape, y->ndim, i)];
    return CV_OK;
}

/* the gradient of BROADCAST_TO: y (the smaller shape) gets the sum of every x
 * element that broadcasting would have copied from it */
int ref_sum_to(ref_run *r) {
    int st = ref_arity(r, 1, 1, 1, 1);
    if (st) return st;
    const ref_t *x = &r->in[0], *y = &r->out[0];
    if (!ref_bcast_ok(y->shape, y->ndim, x->shape, x->ndim)) {
        char sx[96], sy[96];
        return ref_fail(r, CV_ERR_INVALID, "%s does not broadcast to x %s, so x cannot be summed to it",
                        ref_shape_str(y, sy, sizeof sy), ref_shape_str(x, sx, sizeof sx));
    }
    double *acc = ref_scratch(r, (size_t)y->numel, sizeof(double));
    if (!acc) return r->err->status;
    for (int64_t i = 0; i < x->numel; i++) acc[ref_bcast_index(y->shape, y->ndim, x->shape, x->ndim, i)] += x->f[i];
    for (int64_t j = 0; j < y->numel; j++) y->f[j] = (float)acc[j];
    ref_scratch_free(r, acc);
    return CV_OK;
}

/* axes: bit d reduces dim d; 0 reduces every dim (like x.sum()) */
int ref_reduce(ref_run *r) {
    int st = ref_arity(r, 1, 1, 1, 1);
    if (st) return st;
    const cv_reduce_params *p = r->params;
    const ref_t *x = &r->in[0], *y = &r->out[0];
    uint32_t axes = p->axes ? p->axes : (uint32_t)((1u << x->ndim) - 1u);
    if (axes >> x->ndim) return ref_fail(r, CV_ERR_INVALID, "axes mask 0x%x names dims beyond a %d-d input", p->axes, x->ndim);
    if (p->fn != CV_R_SUM && p->fn != CV_R_MEAN) return ref_fail(r, CV_ERR_INVALID, "unknown reduce fn %d", p->fn);
    /* the kept shape, with reduced dims as 1 */
    int64_t kept[CV_MAX_DIMS], count = 1, kept_numel = 1;
    int expect_nd = 0;
    int64_t expect[CV_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        int red = (axes >> d) & 1u;
        kept[d] = red ? 1 : x->shape[d];
        if (red) count *= x->shape[d];
        kept_numel *= kept[d];
        if (!red || p->keepdim) expect[expect_nd++] = kept[d];
    }
    int ok = y->numel == kept_numel && (y->ndim == expect_nd || (expect_nd == 0 && y->ndim == 1));
    for (int d = 0; ok && d < expect_nd; d++) ok = y->shape[d] == expect[d];
    if (!ok) {
        char sx[96], sy[96];
        return ref_fail(r, CV_ERR_INVALID, "reducing x %s over axes 0x%x (keepdim %d) cannot give y %s",
                        ref_shape_str(x, sx, sizeof sx), axes, p->keepdim, ref_shape_str(y, sy, sizeof sy));
    }
    double *acc = ref_scratch(r, (size_t)kept_numel, sizeof(double));
    if (!acc) return r->err->status;
    for (int64_t i = 0; i < x->numel; i++) acc[ref_bcast_index(kept, x->ndim, x->shape, x->ndim, i)] += x->f[i];
    for (int64_t j = 0; j < kept_numel; j++) y->f[j] = (float)(p->fn == CV_R_MEAN ? acc[j] / (double)count : acc[j]);
    ref_scratch_free(r, acc);
    return CV_OK;
}
