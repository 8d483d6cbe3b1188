/* softmax.c — softmax / log-softmax along one axis (max-subtracted, double
 * accumulation) and their gradient from the saved output y. */
#include "ref.h"

typedef struct axis_layout { int64_t outer, len, inner; } axis_layout;

static int softmax_layout(ref_run *r, const ref_t *x, axis_layout *l) {
    int axis = ref_axis(r, ((const cv_softmax_params *)r->params)->axis, x->ndim);
    if (axis < 0) return CV_ERR_INVALID;
    l->outer = 1; l->inner = 1; l->len = x->shape[axis];
    for (int d = 0; d < axis; d++) l->outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) l->inner *= x->shape[d];
    return CV_OK;
}

int ref_softmax(ref_run *r) {
    int st = ref_arity(r, 1, 1, 1, 1);
    if (st) return st;
    if (!ref_same_shape(r, &r->in[0], "x", &r->out[0], "y")) return CV_ERR_INVALID;
    axis_layout l;
    if ((st = softmax_layout(r, &r->in[0], &l))) return st;
    int log_out = ((const cv_softmax_params *)r->params)->log;
    const float *x = r->in[0].f;
    float *y = r->out[0].f;
    for (int64_t o = 0; o < l.outer; o++)
        for (int64_t in = 0; in < l.inner; in++) {
            int64_t base = o * l.len * l.inner + in;
            double m = -INFINITY, s = 0.0;
            for (int64_t k = 0; k < l.len; k++) m = fmax(m, x[base + k * l.inner]);
            for (int64_t k = 0; k < l.len; k++) s += exp(x[base + k * l.inner] - m);
            double lse = m + log(s);
            for (int64_t k = 0; k < l.len; k++) {
                double v = x[base + k * l.inner] - lse;
                y[base + k * l.inner] = (float)(log_out ? v : exp(v));
            }
        }
    return CV_OK;
}

/* y, dy -> dx: softmax dx = y (dy - sum(dy y)); log-softmax dx = dy - exp(y) sum(dy) */
int ref_softmax_bwd(ref_run *r) {
    int st = ref_arity(r, 2, 2, 1, 1);
    if (st) return st;
    if (!ref_same_shape(r, &r->in[0], "y", &r->in[1], "dy") || !ref_same_shape(r, &r->in[0], "y", &r->out[0], "dx"))
        return CV_ERR_INVALID;
    axis_layout l;
    if ((st = softmax_layout(r, &r->in[0], &l))) return st;
    int log_out = ((const cv_softmax_params *)r->params)->log;
    const float *y = r->in[0].f, *dy = r->in[1].f;
    float *dx = r->out[0].f;
    for (int64_t o = 0; o < l.outer; o++)
        for (int64_t in = 0; in < l.inner; in++) {
            int64_t base = o * l.len * l.inner + in;
            double s = 0.0;
            for (int64_t k = 0; k < l.len; k++) {
                int64_t i = base + k * l.inner;
                s += log_out ? (double)dy[i] : (double)dy[i] * y[i];
            }
            for (int64_t k = 0; k < l.len; k++) {
                int64_t i = base + k * l.inner;
                dx[i] = (float)(log_out ? dy[i] - exp((double)y[i]) * s : y[i] * (dy[i] - s));
            }
        }
    return CV_OK;
}
