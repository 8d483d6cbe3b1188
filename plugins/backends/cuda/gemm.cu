/* gemm.cu — MATMUL (batched, numpy-broadcast batch dims, transpose flags) and
 * LINEAR (x W^T + b) through cuBLAS cublasSgemmStridedBatched.
 *
 * cuBLAS is column-major: a row-major [r, c] matrix is its transpose there, so
 * Y = op(A) op(B) is computed as Y^T = op(B)^T op(A)^T with the operands swapped.
 * A batch operand whose batch dims are all 1 is passed with stride 0; one that
 * broadcasts only partly (e.g. [2,1,M,K] against [2,3,K,N]) is first expanded
 * to the full batch by the strided-copy kernel.  TF32 only with tf32 = true. */
#include "cuint.h"

/* the batch-expanded copy of operand t (last two dims kept) for y's batch dims */
static const float *expand_batch(cu_call *r, const cu_t *t, const cu_t *y, int64_t batches) {
    int64_t rows = t->shape[t->ndim - 2], cols = t->shape[t->ndim - 1];
    float *dst = (float *)cu_scratch(r, (size_t)(batches * rows * cols) * sizeof(float));
    if (!dst) return NULL;
    int ynb = y->ndim - 2, tnb = t->ndim - 2;
    cu_view src, out;
    int64_t shape[CV_MAX_DIMS];
    for (int d = 0; d < ynb; d++) shape[d] = y->shape[d];
    shape[ynb] = rows;
    shape[ynb + 1] = cols;
    out = cu_view_dense(CV_F32, ynb + 2, shape, dst);
    src = cu_view_dense(CV_F32, t->ndim, t->shape, t->f);
    cu_view b = out;
    b.data = t->f;
    int64_t dense[CV_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) dense[d] = src.stride[d];
    for (int d = 0; d < ynb; d++) {
        int td = d - (ynb - tnb);
        b.stride[d] = td < 0 || t->shape[td] == 1 ? 0 : dense[td];
    }
    b.stride[ynb] = dense[t->ndim - 2];
    b.stride[ynb + 1] = dense[t->ndim - 1];
    if (cu_copy_view(r, &out, &b)) return NULL;
    return dst;
}

static int gemm(cu_call *r, int ta, int tb, int64_t m, int64_t n, int64_t k, const float *A, int64_t lda, int64_t sa,
                const float *B, int64_t ldb, int64_t sb, float *Y, int64_t batches, float beta) {
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || batches > INT32_MAX)
        return cu_fail(r, CV_ERR_UNSUPPORTED, "matrix sizes beyond 2^31 are not supported by cuBLAS's 32-bit API");
    const float one = 1.0f;
    return cu_blas(r, cublasSgemmStridedBatched(r->b->cublas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                                (int)n, (int)m, (int)k, &one, B, (int)ldb, sb, A, (int)lda, sa, &beta, Y,
                                                (int)n, m * n, (int)batches),
                   "cublasSgemmStridedBatched");
}

int cu_matmul(cu_call *r) {
    int st = cu_arity(r, 2, 2, 1, 1);
    if (st) return st;
    const cv_matmul_params *p = (const cv_matmul_params *)r->params;
    const cu_t *a = &r->in[0], *b = &r->in[1], *y = &r->out[0];
    char sa[96], sb[96], sy[96];
    if (a->ndim < 2 || b->ndim < 2 || y->ndim < 2)
        return cu_fail(r, CV_ERR_INVALID, "a %s, b %s and y %s must be at least 2-d", cu_shape_str(a, sa, sizeof sa),
                       cu_shape_str(b, sb, sizeof sb), cu_shape_str(y, sy, sizeof sy));
    int64_t ar = a->shape[a->ndim - 2], ac = a->shape[a->ndim - 1];
    int64_t br = b->shape[b->ndim - 2], bc = b->shape[b->ndim - 1];
    int64_t m = p->trans_a ? ac : ar, k = p->trans_a ? ar : ac;
    int64_t kb = p->trans_b ? bc : br, n = p->trans_b ? br : bc;
    int ynb = y->ndim - 2;
    int ok = k == kb && y->shape[y->ndim - 2] == m && y->shape[y->ndim - 1] == n &&
             cu_bcast_ok(a->shape, a->ndim - 2, y->shape, ynb) && cu_bcast_ok(b->shape, b->ndim - 2, y->shape, ynb);
    for (int d = 0; ok && d < ynb; d++) {
        int da = d - (ynb - (a->ndim - 2)), db = d - (ynb - (b->ndim - 2));
        int64_t ea = da >= 0 ? a->shape[da] : 1, eb = db >= 0 ? b->shape[db] : 1;
        ok = y->shape[d] == (ea > eb ? ea : eb);
    }
    if (!ok || ynb < a->ndim - 2 || ynb < b->ndim - 2)
        return cu_fail(r, CV_ERR_INVALID, "a %s (trans %d) and b %s (trans %d) do not give y %s",
                       cu_shape_str(a, sa, sizeof sa), p->trans_a, cu_shape_str(b, sb, sizeof sb), p->trans_b,
                       cu_shape_str(y, sy, sizeof sy));
    if (m * n == 0) return CV_OK;
    int64_t batches = y->numel / (m * n);
    if (k == 0) return cu_cuda(r, cudaMemsetAsync(y->f, 0, (size_t)y->numel * sizeof(float), r->b->stream), "cudaMemsetAsync");
    int64_t a_b = a->numel / (ar * ac), b_b = b->numel / (br * bc);
    const float *A = a->f, *B = b->f;
    int64_t sa_ = ar * ac, sb_ = br * bc;
    if (a_b == 1) sa_ = 0;
    else if (a_b != batches && !(A = expand_batch(r, a, y, batches))) return r->err->status;
    if (b_b == 1) sb_ = 0;
    else if (b_b != batches && !(B = expand_batch(r, b, y, batches))) return r->err->status;
    return gemm(r, p->trans_a, p->trans_b, m, n, k, A, ac, sa_, B, bc, sb_, y->f, batches, 0.0f);
}

__global__ static void bias_rows_kernel(float *y, const float *b, int64_t total, int64_t n) {
    CU_LOOP(i, total) y[i] = b[i % n];
}

int cu_linear(cu_call *r) {
    int st = cu_arity(r, 2, 3, 1, 1);
    if (st) return st;
    const cu_t *x = &r->in[0], *w = &r->in[1], *y = &r->out[0];
    char sx[96], sw[96], sy[96];
    int ok = x->ndim >= 1 && w->ndim == 2 && y->ndim == x->ndim && x->shape[x->ndim - 1] == w->shape[1] &&
             y->shape[y->ndim - 1] == w->shape[0];
    for (int d = 0; ok && d < x->ndim - 1; d++) ok = x->shape[d] == y->shape[d];
    if (ok && r->n_in == 3) ok = r->in[2].numel == w->shape[0];
    if (!ok)
        return cu_fail(r, CV_ERR_INVALID, "x %s, w %s%s and y %s do not fit y = x w^T + b", cu_shape_str(x, sx, sizeof sx),
                       cu_shape_str(w, sw, sizeof sw), r->n_in == 3 ? " (with bias)" : "", cu_shape_str(y, sy, sizeof sy));
    int64_t k = w->shape[1], n = w->shape[0], rows = n ? y->numel / n : 0;
    if (y->numel == 0) return CV_OK;
    float beta = 0.0f;
    if (r->n_in == 3) {
        bias_rows_kernel<<<cu_blocks(y->numel), CU_THREADS, 0, r->b->stream>>>(y->f, r->in[2].f, y->numel, n);
        if ((st = cu_launched(r, "linear bias kernel"))) return st;
        beta = 1.0f;
    } else if (k == 0) {
        return cu_cuda(r, cudaMemsetAsync(y->f, 0, (size_t)y->numel * sizeof(float), r->b->stream), "cudaMemsetAsync");
    }
    if (k == 0) return CV_OK;
    /* y[rows, n] = x[rows, k] w[n, k]^T */
    return gemm(r, 0, 1, rows, n, k, x->f, k, 0, w->f, k, 0, y->f, 1, beta);
}
