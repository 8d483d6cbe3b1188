/* convert.cu — strided element copies with dtype conversion, the one kernel
 * behind every gather / scatter of the dispatcher and behind the data-movement
 * ops: CONCAT, SLICE, PAD, RESHAPE, PERMUTE, BROADCAST_TO, CAST, COPY and FILL
 * are each a copy between strided views of the caller's tensors, in their own
 * dtypes, so i32 values move exactly.  Conversions follow the reference:
 * f32 -> bf16 / f16 round to nearest even; -> i32 / u8 truncate toward zero and
 * saturate, NaN -> 0. */
#include <string.h>
#include <cuda_fp16.h>
#include "cuint.h"

size_t cu_dtype_size(int dtype) {
    switch (dtype) {
    case CV_F32: case CV_I32: return 4;
    case CV_BF16: case CV_F16: return 2;
    case CV_U8: return 1;
    default: return 0;
    }
}

cu_view cu_view_of(const cv_ktensor *t) {
    cu_view v;
    memset(&v, 0, sizeof v);
    v.dtype = t->dtype;
    v.ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) { v.shape[d] = t->shape[d]; v.stride[d] = t->stride[d]; }
    v.data = t->data;
    return v;
}

cu_view cu_view_4d(int dtype, const int64_t *shape, int nhwc, void *data) {
    cu_view v = cu_view_dense(dtype, 4, shape, data);
    if (nhwc) { /* logical n, c, h, w over storage n, h, w, c */
        v.stride[1] = 1;
        v.stride[3] = shape[1];
        v.stride[2] = shape[3] * shape[1];
        v.stride[0] = shape[2] * v.stride[2];
    }
    return v;
}

/* the operand as its layout stores it: an NHWC operand is dense, so its view is cu_view_4d's */
static cu_view view_as_stored(const cv_ktensor *t, int layout) {
    return layout == CV_LAYOUT_NHWC && t->ndim == 4 ? cu_view_4d(t->dtype, t->shape, 1, t->data) : cu_view_of(t);
}
cu_view cu_view_in(const cu_call *r, int i) { return view_as_stored(&r->k->in[i], cv_kernel_layout(r->k, 0, i)); }
cu_view cu_view_out(const cu_call *r, int i) { return view_as_stored(&r->k->out[i], cv_kernel_layout(r->k, 1, i)); }

cu_view cu_view_dense(int dtype, int ndim, const int64_t *shape, void *data) {
    cu_view v;
    memset(&v, 0, sizeof v);
    v.dtype = dtype;
    v.ndim = ndim;
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) { v.shape[d] = shape[d]; v.stride[d] = s; s *= shape[d]; }
    v.data = data;
    return v;
}

int64_t cu_view_numel(const cu_view *v) {
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++) n *= v->shape[d];
    return n;
}

int cu_view_is_dense(const cu_view *v) {
    int64_t expect = 1;
    for (int d = v->ndim - 1; d >= 0; d--) {
        if (v->shape[d] != 1 && v->stride[d] != expect) return 0;
        expect *= v->shape[d];
    }
    return 1;
}

int cu_view_dense_f32(const cu_view *v) { return v->dtype == CV_F32 && cu_view_is_dense(v); }

/* ---- device conversions ----------------------------------------------------------------- */
__device__ static inline double load_elem(int dtype, const void *base, int64_t e) {
    switch (dtype) {
    case CV_F32: return ((const float *)base)[e];
    case CV_BF16: return __uint_as_float((uint32_t)((const uint16_t *)base)[e] << 16);
    case CV_F16: return __half2float(((const __half *)base)[e]);
    case CV_I32: return ((const int32_t *)base)[e];
    case CV_U8: return ((const uint8_t *)base)[e];
    default: return 0.0;
    }
}

__device__ static inline void store_elem(int dtype, void *base, int64_t e, double v) {
    switch (dtype) {
    case CV_F32: ((float *)base)[e] = (float)v; break;
    case CV_BF16: ((uint16_t *)base)[e] = cu_f32_to_bf16((float)v); break;
    case CV_F16: ((__half *)base)[e] = __float2half_rn((float)v); break;
    case CV_I32: {
        double t = isnan(v) ? 0.0 : trunc(v);
        t = fmin(fmax(t, -2147483648.0), 2147483647.0);
        ((int32_t *)base)[e] = (int32_t)t;
        break;
    }
    case CV_U8: {
        double t = isnan(v) ? 0.0 : trunc(v);
        t = fmin(fmax(t, 0.0), 255.0);
        ((uint8_t *)base)[e] = (uint8_t)t;
        break;
    }
    default: break;
    }
}

struct kview { int dtype, ndim; int64_t shape[CV_MAX_DIMS], stride[CV_MAX_DIMS]; void *data; };

static kview kview_of(const cu_view *v) {
    kview k;
    k.dtype = v->dtype;
    k.ndim = v->ndim;
    for (int d = 0; d < CV_MAX_DIMS; d++) {
        k.shape[d] = d < v->ndim ? v->shape[d] : 1;
        k.stride[d] = d < v->ndim ? v->stride[d] : 0;
    }
    k.data = v->data;
    return k;
}

/* element offset of logical (row-major) index i */
__device__ static inline int64_t kview_offset(const kview &v, int64_t i) {
    int64_t off = 0;
    for (int d = v.ndim - 1; d >= 0; d--) {
        int64_t s = v.shape[d];
        off += (i % s) * v.stride[d];
        i /= s;
    }
    return off;
}

__global__ static void copy_kernel(kview dst, kview src, int64_t n) {
    CU_LOOP(i, n) store_elem(dst.dtype, dst.data, kview_offset(dst, i), load_elem(src.dtype, src.data, kview_offset(src, i)));
}

__global__ static void fill_kernel(kview dst, double value, int64_t n) {
    CU_LOOP(i, n) store_elem(dst.dtype, dst.data, kview_offset(dst, i), value);
}

int cu_copy_view(cu_call *r, const cu_view *dst, const cu_view *src) {
    int64_t n = cu_view_numel(dst);
    if (n != cu_view_numel(src))
        return cu_fail(r, CV_ERR_INTERNAL, "copy between views of %lld and %lld elements", (long long)n,
                       (long long)cu_view_numel(src));
    if (n == 0) return CV_OK;
    if (dst->dtype == src->dtype && cu_view_is_dense(dst) && cu_view_is_dense(src)) {
        if (dst->data == src->data) return CV_OK;
        return cu_cuda(r, cudaMemcpyAsync(dst->data, src->data, (size_t)n * cu_dtype_size(dst->dtype),
                                          cudaMemcpyDeviceToDevice, r->b->stream),
                       "cudaMemcpyAsync");
    }
    copy_kernel<<<cu_blocks(n), CU_THREADS, 0, r->b->stream>>>(kview_of(dst), kview_of(src), n);
    return cu_launched(r, "strided copy kernel");
}

int cu_fill_view(cu_call *r, const cu_view *dst, float value) {
    int64_t n = cu_view_numel(dst);
    if (n == 0) return CV_OK;
    fill_kernel<<<cu_blocks(n), CU_THREADS, 0, r->b->stream>>>(kview_of(dst), (double)value, n);
    return cu_launched(r, "fill kernel");
}

/* ---- data movement ---------------------------------------------------------------------- */
static cu_view sub_view(const cu_view *v, int axis, int64_t start, int64_t len) {
    cu_view s = *v;
    s.data = (char *)v->data + start * v->stride[axis] * (int64_t)cu_dtype_size(v->dtype);
    s.shape[axis] = len;
    return s;
}

static int concat(cu_call *r) {
    int st = cu_arity(r, 1, CU_MAX_IO, 1, 1);
    if (st) return st;
    const cu_t *y = &r->out[0];
    int axis = cu_axis(r, ((const cv_axis_params *)r->params)->axis, y->ndim);
    if (axis < 0) return CV_ERR_INVALID;
    int64_t total = 0;
    for (int i = 0; i < r->n_in; i++) {
        const cu_t *x = &r->in[i];
        int ok = x->ndim == y->ndim;
        for (int d = 0; ok && d < y->ndim; d++) ok = d == axis || x->shape[d] == y->shape[d];
        if (!ok) {
            char sx[96], sy[96];
            return cu_fail(r, CV_ERR_INVALID, "input %d %s does not match output %s outside axis %d", i,
                           cu_shape_str(x, sx, sizeof sx), cu_shape_str(y, sy, sizeof sy), axis);
        }
        total += x->shape[axis];
    }
    if (total != y->shape[axis]) {
        char sy[96];
        return cu_fail(r, CV_ERR_INVALID, "inputs give %lld along axis %d but the output is %s", (long long)total, axis,
                       cu_shape_str(y, sy, sizeof sy));
    }
    cu_view out = cu_view_out(r, 0);
    int64_t at = 0;
    for (int i = 0; i < r->n_in && !st; i++) {
        cu_view src = cu_view_in(r, i), dst = sub_view(&out, axis, at, r->in[i].shape[axis]);
        st = cu_copy_view(r, &dst, &src);
        at += r->in[i].shape[axis];
    }
    return st;
}

static int slice(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    if (st) return st;
    const cv_slice_params *p = (const cv_slice_params *)r->params;
    const cu_t *x = &r->in[0], *y = &r->out[0];
    int axis = cu_axis(r, p->axis, x->ndim);
    if (axis < 0) return CV_ERR_INVALID;
    int64_t start = p->start < 0 ? p->start + x->shape[axis] : p->start;
    int ok = y->ndim == x->ndim && start >= 0 && p->length >= 0 && start + p->length <= x->shape[axis] &&
             y->shape[axis] == p->length;
    for (int d = 0; ok && d < x->ndim; d++) ok = d == axis || x->shape[d] == y->shape[d];
    if (!ok) {
        char sx[96], sy[96];
        return cu_fail(r, CV_ERR_INVALID, "[%lld, %lld) along axis %d of x %s does not give y %s", (long long)p->start,
                       (long long)(p->start + p->length), p->axis, cu_shape_str(x, sx, sizeof sx),
                       cu_shape_str(y, sy, sizeof sy));
    }
    cu_view in = cu_view_in(r, 0), src = sub_view(&in, axis, start, p->length), dst = cu_view_out(r, 0);
    return cu_copy_view(r, &dst, &src);
}

static int pad(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    if (st) return st;
    const cv_pad_params *p = (const cv_pad_params *)r->params;
    const cu_t *x = &r->in[0], *y = &r->out[0];
    int ok = y->ndim == x->ndim;
    for (int d = 0; ok && d < x->ndim; d++) ok = y->shape[d] == x->shape[d] + p->before[d] + p->after[d];
    if (!ok) {
        char sx[96], sy[96];
        return cu_fail(r, CV_ERR_INVALID,
                       "padding x %s by before/after [%lld,%lld,%lld,%lld,%lld]/[%lld,%lld,%lld,%lld,%lld] does not give y %s",
                       cu_shape_str(x, sx, sizeof sx), (long long)p->before[0], (long long)p->before[1],
                       (long long)p->before[2], (long long)p->before[3], (long long)p->before[4], (long long)p->after[0],
                       (long long)p->after[1], (long long)p->after[2], (long long)p->after[3], (long long)p->after[4],
                       cu_shape_str(y, sy, sizeof sy));
    }
    cu_view src = cu_view_in(r, 0), dst = cu_view_out(r, 0);
    if ((st = cu_fill_view(r, &dst, p->value))) return st;
    for (int d = 0; d < x->ndim; d++) {
        int64_t s0 = p->before[d] < 0 ? -p->before[d] : 0, d0 = p->before[d] > 0 ? p->before[d] : 0;
        int64_t len = x->shape[d] - s0 < y->shape[d] - d0 ? x->shape[d] - s0 : y->shape[d] - d0;
        if (len <= 0) return CV_OK; /* everything cropped: only padding remains */
        src = sub_view(&src, d, s0, len);
        dst = sub_view(&dst, d, d0, len);
    }
    return cu_copy_view(r, &dst, &src);
}

static int permute(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    if (st) return st;
    const int32_t *perm = ((const cv_permute_params *)r->params)->perm;
    const cu_t *x = &r->in[0], *y = &r->out[0];
    int seen = 0, ok = x->ndim == y->ndim;
    for (int d = 0; ok && d < x->ndim; d++) {
        ok = perm[d] >= 0 && perm[d] < x->ndim && !((seen >> perm[d]) & 1) && y->shape[d] == x->shape[perm[d]];
        if (ok) seen |= 1 << perm[d];
    }
    if (!ok) {
        char sx[96], sy[96];
        return cu_fail(r, CV_ERR_INVALID, "perm [%d,%d,%d,%d,%d] of x %s does not give y %s", perm[0], perm[1], perm[2],
                       perm[3], perm[4], cu_shape_str(x, sx, sizeof sx), cu_shape_str(y, sy, sizeof sy));
    }
    cu_view in = cu_view_in(r, 0), src = in, dst = cu_view_out(r, 0);
    for (int d = 0; d < x->ndim; d++) { src.shape[d] = in.shape[perm[d]]; src.stride[d] = in.stride[perm[d]]; }
    return cu_copy_view(r, &dst, &src);
}

static int broadcast_to(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    if (st) return st;
    const cu_t *x = &r->in[0], *y = &r->out[0];
    if (!cu_bcast_ok(x->shape, x->ndim, y->shape, y->ndim)) {
        char sx[96], sy[96];
        return cu_fail(r, CV_ERR_INVALID, "x %s does not broadcast to %s", cu_shape_str(x, sx, sizeof sx),
                       cu_shape_str(y, sy, sizeof sy));
    }
    cu_view in = cu_view_in(r, 0), src = in, dst = cu_view_out(r, 0);
    src.ndim = y->ndim;
    for (int d = 0; d < y->ndim; d++) {
        int sd = d - (y->ndim - x->ndim);
        src.shape[d] = y->shape[d];
        src.stride[d] = sd < 0 || x->shape[sd] == 1 ? 0 : in.stride[sd];
    }
    return cu_copy_view(r, &dst, &src);
}

/* RESHAPE, CAST and COPY: element i of x (row-major order) to element i of y */
static int elementwise_copy(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    if (st) return st;
    cu_view src = cu_view_in(r, 0), dst = cu_view_out(r, 0);
    if (cu_view_numel(&src) != cu_view_numel(&dst)) {
        char sx[96], sy[96];
        return cu_fail(r, CV_ERR_INVALID, "x %s and y %s have different element counts",
                       cu_shape_str(&r->in[0], sx, sizeof sx), cu_shape_str(&r->out[0], sy, sizeof sy));
    }
    if (r->k->op == CV_OP_CAST && r->params && r->k->params_size >= sizeof(cv_cast_params) &&
        ((const cv_cast_params *)r->params)->dtype != dst.dtype)
        return cu_fail(r, CV_ERR_INVALID, "params ask for dtype %d but the output is dtype %d",
                       ((const cv_cast_params *)r->params)->dtype, dst.dtype);
    if (r->k->op == CV_OP_RESHAPE && src.dtype != dst.dtype)
        return cu_fail(r, CV_ERR_INVALID, "x has dtype %d but y has dtype %d (use CAST)", src.dtype, dst.dtype);
    /* views of the same elements in two shapes: compare in one shape */
    cu_view flat_src = src, flat_dst = dst;
    if (cu_view_is_dense(&src) && cu_view_is_dense(&dst)) {
        int64_t n = cu_view_numel(&src);
        flat_src = cu_view_dense(src.dtype, 1, &n, src.data);
        flat_dst = cu_view_dense(dst.dtype, 1, &n, dst.data);
    }
    return cu_copy_view(r, &flat_dst, &flat_src);
}

static int fill(cu_call *r) {
    int st = cu_arity(r, 0, 0, 1, 1);
    if (st) return st;
    cu_view dst = cu_view_out(r, 0);
    return cu_fill_view(r, &dst, ((const cv_scalar_params *)r->params)->value);
}

int cu_data_movement(cu_call *r) {
    switch (r->k->op) {
    case CV_OP_CONCAT: return concat(r);
    case CV_OP_SLICE: return slice(r);
    case CV_OP_PAD: return pad(r);
    case CV_OP_PERMUTE: return permute(r);
    case CV_OP_BROADCAST_TO: return broadcast_to(r);
    case CV_OP_RESHAPE: case CV_OP_CAST: case CV_OP_COPY: return elementwise_copy(r);
    case CV_OP_FILL: return fill(r);
    default: return cu_fail(r, CV_ERR_INTERNAL, "not a data-movement op");
    }
}
