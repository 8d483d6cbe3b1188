/* shape_ops.c — data movement: CONCAT, SLICE, PAD (negative pads crop), RESHAPE
 * and PERMUTE (y dim i is x dim perm[i], as torch.permute).  Outputs are dense. */
#include "ref.h"

static void coords_of(const ref_t *t, int64_t i, int64_t *c) {
    for (int d = t->ndim - 1; d >= 0; d--) {
        c[d] = t->shape[d] ? i % t->shape[d] : 0;
        i = t->shape[d] ? i / t->shape[d] : 0;
    }
}

static int64_t index_of(const ref_t *t, const int64_t *c) {
    int64_t i = 0;
    for (int d = 0; d < t->ndim; d++) i = i * t->shape[d] + c[d];
    return i;
}

int ref_concat(ref_run *r) {
    int st = ref_arity(r, 1, REF_MAX_IO, 1, 1);
    if (st) return st;
    const ref_t *y = &r->out[0];
    int axis = ref_axis(r, ((const cv_axis_params *)r->params)->axis, y->ndim);
    if (axis < 0) return CV_ERR_INVALID;
    int64_t total = 0;
    for (int i = 0; i < r->n_in; i++) {
        const ref_t *x = &r->in[i];
        int ok = x->ndim == y->ndim;
        for (int d = 0; ok && d < y->ndim; d++) ok = d == axis || x->shape[d] == y->shape[d];
        if (!ok) {
            char sx[96], sy[96];
            return ref_fail(r, CV_ERR_INVALID, "input %d %s does not match output %s outside axis %d", i,
                            ref_shape_str(x, sx, sizeof sx), ref_shape_str(y, sy, sizeof sy), axis);
        }
        total += x->shape[axis];
    }
    if (total != y->shape[axis]) {
        char sy[96];
        return ref_fail(r, CV_ERR_INVALID, "inputs give %lld along axis %d but the output is %s", (long long)total, axis,
                        ref_shape_str(y, sy, sizeof sy));
    }
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= y->shape[d];
    for (int d = axis + 1; d < y->ndim; d++) inner *= y->shape[d];
    int64_t at = 0;
    for (int i = 0; i < r->n_in; i++) {
        int64_t len = r->in[i].shape[axis] * inner;
        for (int64_t o = 0; o < outer; o++)
            memcpy(y->f + o * y->shape[axis] * inner + at, r->in[i].f + o * len, (size_t)len * sizeof(float));
        at += len;
    }
    return CV_OK;
}

int ref_slice(ref_run *r) {
    int st = ref_arity(r, 1, 1, 1, 1);
    if (st) return st;
    const cv_slice_params *p = r->params;
    const ref_t *x = &r->in[0], *y = &r->out[0];
    int axis = ref_axis(r, p->axis, x->ndim);
    if (axis < 0) return CV_ERR_INVALID;
    int64_t start = p->start < 0 ? p->start + x->shape[axis] : p->start;
    int ok = y->ndim == x->ndim && start >= 0 && p->length >= 0 && start + p->length <= x->shape[axis] &&
             y->shape[axis] == p->length;
    for (int d = 0; ok && d < x->ndim; d++) ok = d == axis || x->shape[d] == y->shape[d];
    if (!ok) {
        char sx[96], sy[96];
        return ref_fail(r, CV_ERR_INVALID, "[%lld, %lld) along axis %d of x %s does not give y %s", (long long)p->start,
                        (long long)(p->start + p->length), p->axis, ref_shape_str(x, sx, sizeof sx),
                        ref_shape_str(y, sy, sizeof sy));
    }
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
    for (int64_t o = 0; o < outer; o++)
        memcpy(y->f + o * p->length * inner, x->f + (o * x->shape[axis] + start) * inner,
               (size_t)(p->length * inner) * sizeof(float));
    return CV_OK;
}

/* before[d] / after[d] pad dim d of x (d counts from the first dim) */
int ref_pad(ref_run *r) {
    int st = ref_arity(r, 1, 1, 1, 1);
    if (st) return st;
    const cv_pad_params *p = r->params;
    const ref_t *x = &r->in[0], *y = &r->out[0];
    int ok = y->ndim == x->ndim;
    for (int d = 0; ok && d < x->ndim; d++) ok = y->shape[d] == x->shape[d] + p->before[d] + p->after[d];
    if (!ok) {
        char sx[96], sy[96];
        return ref_fail(r, CV_ERR_INVALID, "padding x %s by before/after [%lld,%lld,%lld,%lld,%lld]/[%lld,%lld,%lld,%lld,%lld] does not give y %s",
                        ref_shape_str(x, sx, sizeof sx), (long long)p->before[0], (long long)p->before[1],
                        (long long)p->before[2], (long long)p->before[3], (long long)p->before[4], (long long)p->after[0],
                        (long long)p->after[1], (long long)p->after[2], (long long)p->after[3], (long long)p->after[4],
                        ref_shape_str(y, sy, sizeof sy));
    }
    int64_t c[CV_MAX_DIMS];
    for (int64_t i = 0; i < y->numel; i++) {
        coords_of(y, i, c);
        int inside = 1;
        for (int d = 0; d < y->ndim; d++) {
            c[d] -= p->before[d];
            if (c[d] < 0 || c[d] >= x->shape[d]) inside = 0;
        }
        y->f[i] = inside ? x->f[index_of(x, c)] : p->value;
    }
    return CV_OK;
}

int ref_reshape(ref_run *r) {
    int st = ref_arity(r, 1, 1, 1, 1);
    if (st) return st;
    if (r->in[0].numel != r->out[0].numel) {
        char sx[96], sy[96];
        return ref_fail(r, CV_ERR_INVALID, "x %s and y %s have different element counts",
                        ref_shape_str(&r->in[0], sx, sizeof sx), ref_shape_str(&r->out[0], sy, sizeof sy));
    }
    if (r->out[0].f != r->in[0].f) memmove(r->out[0].f, r->in[0].f, (size_t)r->in[0].numel * sizeof(float));
    return CV_OK;
}

int ref_permute(ref_run *r) {
    int st = ref_arity(r, 1, 1, 1, 1);
    if (st) return st;
    const int32_t *perm = ((const cv_permute_params *)r->params)->perm;
    const ref_t *x = &r->in[0], *y = &r->out[0];
    int seen = 0, ok = x->ndim == y->ndim;
    for (int d = 0; ok && d < x->ndim; d++) {
        ok = perm[d] >= 0 && perm[d] < x->ndim && !((seen >> perm[d]) & 1) && y->shape[d] == x->shape[perm[d]];
        if (ok) seen |= 1 << perm[d];
    }
    if (!ok) {
        char sx[96], sy[96];
        return ref_fail(r, CV_ERR_INVALID, "perm [%d,%d,%d,%d,%d] of x %s does not give y %s", perm[0], perm[1], perm[2],
                        perm[3], perm[4], ref_shape_str(x, sx, sizeof sx), ref_shape_str(y, sy, sizeof sy));
    }
    int64_t yc[CV_MAX_DIMS], xc[CV_MAX_DIMS];
    for (int64_t i = 0; i < y->numel; i++) {
        coords_of(y, i, yc);
        for (int d = 0; d < y->ndim; d++) xc[perm[d]] = yc[d];
        y->f[i] = x->f[index_of(x, xc)];
    }
    return CV_OK;
}
