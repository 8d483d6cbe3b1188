/* matmul.c — MATMUL (batched, numpy-broadcast batch dims, transpose flags on the
 * last two dims) and LINEAR (x W^T + b, PyTorch nn.Linear), accumulating in double. */
#include "ref.h"

int ref_matmul(ref_run *r) {
    int st = ref_arity(r, 2, 2, 1, 1);
    if (st) return st;
    const cv_matmul_params *p = r->params;
    const ref_t *a = &r->in[0], *b = &r->in[1], *y = &r->out[0];
    char sa[96], sb[96], sy[96];
    if (a->ndim < 2 || b->ndim < 2 || y->ndim < 2)
        return ref_fail(r, CV_ERR_INVALID, "a %s, b %s and y %s must be at least 2-d", ref_shape_str(a, sa, sizeof sa),
                        ref_shape_str(b, sb, sizeof sb), ref_shape_str(y, sy, sizeof sy));
    int64_t ar = a->shape[a->ndim - 2], ac = a->shape[a->ndim - 1];
    int64_t br = b->shape[b->ndim - 2], bc = b->shape[b->ndim - 1];
    int64_t m = p->trans_a ? ac : ar, k = p->trans_a ? ar : ac;
    int64_t kb = p->trans_b ? bc : br, n = p->trans_b ? br : bc;
    int ynb = y->ndim - 2;
    int ok = k == kb && y->shape[y->ndim - 2] == m && y->shape[y->ndim - 1] == n &&
             ref_bcast_ok(a->shape, a->ndim - 2, y->shape, ynb) && ref_bcast_ok(b->shape, b->ndim - 2, y->shape, ynb);
    /* y's batch dims must be exactly the broadcast of a's and b's */
    for (int d = 0; ok && d < ynb; d++) {
        int da = d - (ynb - (a->ndim - 2)), db = d - (ynb - (b->ndim - 2));
        int64_t ea = da >= 0 ? a->shape[da] : 1, eb = db >= 0 ? b->shape[db] : 1;
        ok = y->shape[d] == (ea > eb ? ea : eb);
    }
    if (!ok || ynb < a->ndim - 2 || ynb < b->ndim - 2)
        return ref_fail(r, CV_ERR_INVALID, "a %s (trans %d) and b %s (trans %d) do not give y %s",
                        ref_shape_str(a, sa, sizeof sa), p->trans_a, ref_shape_str(b, sb, sizeof sb), p->trans_b,
                        ref_shape_str(y, sy, sizeof sy));
    int64_t batches = y->numel / (m * n > 0 ? m * n : 1);
    if (m * n == 0) return CV_OK;
    for (int64_t bi = 0; bi < batches; bi++) {
        const float *A = a->f + ref_bcast_index(a->shape, a->ndim - 2, y->shape, ynb, bi) * ar * ac;
        const float *B = b->f + ref_bcast_index(b->shape, b->ndim - 2, y->shape, ynb, bi) * br * bc;
        float *Y = y->f + bi * m * n;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double acc = 0.0;
                for (int64_t t = 0; t < k; t++) {
                    double av = p->trans_a ? A[t * ac + i] : A[i * ac + t];
                    double bv = p->trans_b ? B[j * bc + t] : B[t * bc + j];
                    acc += av * bv;
                }
                Y[i * n + j] = (float)acc;
            }
    }
    return CV_OK;
}

int ref_linear(ref_run *r) {
    int st = ref_arity(r, 2, 3, 1, 1);
    if (st) return st;
    const ref_t *x = &r->in[0], *w = &r->in[1], *y = &r->out[0];
    char sx[96], sw[96], sy[96];
    int ok = x->ndim >= 1 && w->ndim == 2 && y->ndim == x->ndim && x->shape[x->ndim - 1] == w->shape[1] &&
             y->shape[y->ndim - 1] == w->shape[0];
    for (int d = 0; ok && d < x->ndim - 1; d++) ok = x->shape[d] == y->shape[d];
    if (ok && r->n_in == 3) ok = r->in[2].numel == w->shape[0];
    if (!ok)
        return ref_fail(r, CV_ERR_INVALID, "x %s, w %s%s and y %s do not fit y = x w^T + b", ref_shape_str(x, sx, sizeof sx),
                        ref_shape_str(w, sw, sizeof sw), r->n_in == 3 ? " (with bias)" : "", ref_shape_str(y, sy, sizeof sy));
    int64_t k = w->shape[1], n = w->shape[0], rows = k ? x->numel / k : y->numel / (n ? n : 1);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = r->n_in == 3 ? r->in[2].f[j] : 0.0;
            for (int64_t t = 0; t < k; t++) acc += (double)x->f[i * k + t] * w->f[j * k + t];
            y->f[i * n + j] = (float)acc;
        }
    return CV_OK;
}
