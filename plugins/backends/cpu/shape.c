/* plugins/backends/cpu/shape.c — data movement on any dtype: reshape, permute,
 * slice, concat, pad (negative pads crop) and broadcast_to.  Each is a strided
 * view of the source copied by strided_copy (util.c), which merges nothing but
 * walks rows in parallel with a contiguous fast path. */
#include "cpu.h"

#include <string.h>

static cv_ktensor view(const cv_ktensor *t, int64_t offset) {
    cv_ktensor v = *t;
    v.data = (char *)t->data + (size_t)offset * dtype_size(t->dtype);
    return v;
}

static int bad(cpu_backend *b, const cv_kernel *k, cv_error *err, const char *why) {
    char sx[64], sy[64];
    return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: %s (x %s, y %s)", op_name(k->op), why,
                    k->n_in ? kt_shape_str(&k->in[0], sx, sizeof sx) : "[]", kt_shape_str(&k->out[0], sy, sizeof sy));
}

int run_shape(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    if (k->n_in < 1 || k->n_out != 1) return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: needs inputs and one output", op_name(k->op));
    const cv_ktensor *x = &k->in[0], *y = &k->out[0];
    /* from [N,C,1,1] to a blocked tensor, or between f32 and bf16 sides (the engine's storage) */
    if (cv_kernel_broadcast_hw(k) && (cv_kernel_layout(k, 1, 0) == CV_LAYOUT_C16 || x->dtype != y->dtype))
        return run_hw(b, k, err);
    for (int i = 0; i < k->n_in; i++)
        if (k->in[i].dtype != y->dtype) return bad(b, k, err, "input and output dtypes differ");
    switch (k->op) {
    case CV_OP_RESHAPE: {
        if (kt_numel(x) != kt_numel(y)) return bad(b, k, err, "element counts differ");
        if (!kt_contiguous(x)) return bad(b, k, err, "strided input");
        if (x->data == y->data && kt_contiguous(y)) return CV_OK;
        cv_ktensor src = kt_dense(y, x->data);
        src.dtype = x->dtype;
        strided_copy(y, &src, b->threads);
        return CV_OK;
    }
    case CV_OP_PERMUTE: {
        const cv_permute_params *p = k->params;
        if (!p || x->ndim != y->ndim) return bad(b, k, err, "rank differs");
        cv_ktensor src = *x;
        int seen = 0;
        for (int d = 0; d < y->ndim; d++) {
            int q = p->perm[d];
            if (q < 0 || q >= x->ndim || (seen >> q) & 1 || y->shape[d] != x->shape[q]) return bad(b, k, err, "bad perm");
            seen |= 1 << q;
            src.shape[d] = x->shape[q];
            src.stride[d] = x->stride[q];
        }
        strided_copy(y, &src, b->threads);
        return CV_OK;
    }
    case CV_OP_SLICE: {
        const cv_slice_params *p = k->params;
        int axis = p ? p->axis : 0;
        if (axis < 0) axis += x->ndim;
        if (!p || axis < 0 || axis >= x->ndim || y->ndim != x->ndim) return bad(b, k, err, "bad axis");
        int64_t start = p->start < 0 ? p->start + x->shape[axis] : p->start;
        if (start < 0 || p->length < 0 || start + p->length > x->shape[axis] || y->shape[axis] != p->length)
            return bad(b, k, err, "range outside the input");
        for (int d = 0; d < x->ndim; d++)
            if (d != axis && x->shape[d] != y->shape[d]) return bad(b, k, err, "shapes differ off the axis");
        cv_ktensor src = view(x, start * x->stride[axis]);
        src.shape[axis] = p->length;
        strided_copy(y, &src, b->threads);
        return CV_OK;
    }
    case CV_OP_CONCAT: {
        const cv_axis_params *p = k->params;
        int axis = p ? p->axis : 0;
        if (axis < 0) axis += y->ndim;
        if (axis < 0 || axis >= y->ndim) return bad(b, k, err, "bad axis");
        int64_t total = 0;
        for (int i = 0; i < k->n_in; i++) {
            if (k->in[i].ndim != y->ndim) return bad(b, k, err, "ranks differ");
            for (int d = 0; d < y->ndim; d++)
                if (d != axis && k->in[i].shape[d] != y->shape[d]) return bad(b, k, err, "shapes differ off the axis");
            total += k->in[i].shape[axis];
        }
        if (total != y->shape[axis]) return bad(b, k, err, "sizes along the axis do not add up");
        int64_t at = 0;
        for (int i = 0; i < k->n_in; i++) {
            cv_ktensor dst = view(y, at * y->stride[axis]);
            dst.shape[axis] = k->in[i].shape[axis];
            strided_copy(&dst, &k->in[i], b->threads);
            at += k->in[i].shape[axis];
        }
        return CV_OK;
    }
    case CV_OP_PAD: {
        const cv_pad_params *p = k->params;
        if (!p || x->ndim != y->ndim) return bad(b, k, err, "ranks differ");
        int full = 1;
        for (int d = 0; d < x->ndim; d++) {
            if (y->shape[d] != x->shape[d] + p->before[d] + p->after[d]) return bad(b, k, err, "pads do not give y");
            if (p->before[d] > 0 || p->after[d] > 0) full = 0;
        }
        cv_ktensor src = *x, dst = *y;
        int64_t soff = 0, doff = 0, empty = 0;
        for (int d = 0; d < x->ndim; d++) {
            int64_t s0 = p->before[d] < 0 ? -p->before[d] : 0, d0 = p->before[d] > 0 ? p->before[d] : 0;
            int64_t len = x->shape[d] - s0;
            if (d0 + len > y->shape[d]) len = y->shape[d] - d0;
            if (len <= 0) empty = 1;
            soff += s0 * x->stride[d];
            doff += d0 * y->stride[d];
            src.shape[d] = dst.shape[d] = len > 0 ? len : 0;
        }
        if (!full) {
            float v = p->value;
            cv_ktensor one = { .dtype = CV_F32, .ndim = 0, .data = &v };
            strided_copy(y, &one, b->threads);
        }
        if (!empty) {
            src.data = (char *)x->data + (size_t)soff * dtype_size(x->dtype);
            dst.data = (char *)y->data + (size_t)doff * dtype_size(y->dtype);
            strided_copy(&dst, &src, b->threads);
        }
        return CV_OK;
    }
    default: { /* BROADCAST_TO */
        int off = y->ndim - x->ndim;
        if (off < 0) return bad(b, k, err, "x has more dims than y");
        cv_ktensor src = *y;
        src.data = x->data;
        src.dtype = x->dtype;
        for (int d = 0; d < y->ndim; d++) {
            int64_t e = d < off ? 1 : x->shape[d - off];
            if (e != 1 && e != y->shape[d]) return bad(b, k, err, "x does not broadcast to y");
            src.stride[d] = e == 1 ? 0 : x->stride[d - off];
        }
        strided_copy(y, &src, b->threads);
        return CV_OK;
    }
    }
}
