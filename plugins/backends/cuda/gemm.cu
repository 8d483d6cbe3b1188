/* gemm.cu — MATMUL (batched, numpy-broadcast batch dims, transpose flags) and
 * LINEAR (x W^T + b) through cuBLAS cublasGemmStridedBatchedEx, f32 output and
 * f32 accumulation (CUBLAS_COMPUTE_32F) always.
 *
 * cuBLAS is column-major: a row-major [r, c] matrix is its transpose there, so
 * Y = op(A) op(B) is computed as Y^T = op(B)^T op(A)^T with the operands swapped.
 * A batch operand whose batch dims are all 1 is passed with stride 0; one that
 * broadcasts only partly (e.g. [2,1,M,K] against [2,3,K,N]) is first expanded
 * to the full batch by the strided-copy kernel.  TF32 only with tf32 = true.
 * precision = bf16 / fp16: A and B are read as 16-bit copies in the kernel's
 * workspace (half.cu's cast, or the expanding copy converting on the way). */
#include "cuint.h"

/* elements GEMM reads of an operand of numel elements, mat per matrix, against batches */
static int64_t operand_numel(int64_t numel, int64_t mat, int64_t batches) {
    int64_t tb = mat ? numel / mat : 0;
    return tb == 1 || tb == batches ? numel : batches * mat;
}

/* what prepare() asks for: the 16-bit copies of both operands */
size_t cu_gemm_workspace(const cu_backend *b, const cv_kernel *k) {
    if (b->cfg.precision == CV_F32 || k->n_in < 2 || k->n_out < 1) return 0;
    const cv_ktensor *a = &k->in[0], *w = &k->in[1], *y = &k->out[0];
    int64_t na = 1, nb = 1;
    if (k->op == CV_OP_LINEAR) {
        for (int d = 0; d < a->ndim; d++) na *= a->shape[d];
        for (int d = 0; d < w->ndim; d++) nb *= w->shape[d];
    } else {
        if (a->ndim < 2 || w->ndim < 2 || y->ndim < 2) return 0;
        int64_t n[3] = { 1, 1, 1 };
        const cv_ktensor *t[3] = { a, w, y };
        for (int i = 0; i < 3; i++)
            for (int d = 0; d < t[i]->ndim; d++) n[i] *= t[i]->shape[d];
        int64_t ymat = y->shape[y->ndim - 2] * y->shape[y->ndim - 1];
        int64_t batches = ymat ? n[2] / ymat : 0;
        na = operand_numel(n[0], a->shape[a->ndim - 2] * a->shape[a->ndim - 1], batches);
        nb = operand_numel(n[1], w->shape[w->ndim - 2] * w->shape[w->ndim - 1], batches);
    }
    return cu_half_bytes(na) + cu_half_bytes(nb);
}

/* the batch-expanded copy of operand t (last two dims kept) for y's batch dims, into dst in dtype */
static int expand_batch(cu_call *r, const cu_t *t, const cu_t *y, int64_t batches, int dtype, void *dst) {
    int64_t rows = t->shape[t->ndim - 2], cols = t->shape[t->ndim - 1];
    int ynb = y->ndim - 2, tnb = t->ndim - 2;
    cu_view src, out;
    int64_t shape[CV_MAX_DIMS];
    for (int d = 0; d < ynb; d++) shape[d] = y->shape[d];
    shape[ynb] = rows;
    shape[ynb + 1] = cols;
    out = cu_view_dense(dtype, ynb + 2, shape, dst);
    src = cu_view_dense(CV_F32, t->ndim, t->shape, t->f);
    cu_view b = out;
    b.dtype = CV_F32;
    b.data = t->f;
    int64_t dense[CV_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) dense[d] = src.stride[d];
    for (int d = 0; d < ynb; d++) {
        int td = d - (ynb - tnb);
        b.stride[d] = td < 0 || t->shape[td] == 1 ? 0 : dense[td];
    }
    b.stride[ynb] = dense[t->ndim - 2];
    b.stride[ynb + 1] = dense[t->ndim - 1];
    return cu_copy_view(r, &out, &b);
}

/* t in the compute dtype: in place (f32), or its 16-bit copy at *region, which moves past it */
static const void *in_compute_dtype(cu_call *r, const cu_t *t, char **region) {
    if (r->b->cfg.precision == CV_F32) return t->f;
    void *dst = *region;
    *region += cu_half_bytes(t->numel);
    return cu_narrow(r, dst, t->f, t->numel) ? NULL : dst;
}

/* MATMUL operand t as GEMM reads it: in the compute dtype, expanded to y's batch
 * dims when it broadcasts partly; *stride 0 when one matrix serves every batch */
static const void *operand(cu_call *r, const cu_t *t, const cu_t *y, int64_t batches, char **region, int64_t *stride) {
    int64_t mat = t->shape[t->ndim - 2] * t->shape[t->ndim - 1], n = operand_numel(t->numel, mat, batches);
    *stride = t->numel == mat ? 0 : mat;
    if (n == t->numel) return in_compute_dtype(r, t, region);
    int dt = r->b->cfg.precision;
    void *dst = dt == CV_F32 ? cu_scratch(r, (size_t)n * sizeof(float)) : *region;
    if (!dst) return NULL;
    if (dt != CV_F32) *region += cu_half_bytes(n);
    return expand_batch(r, t, y, batches, dt, dst) ? NULL : dst;
}

/* the 16-bit operand region of MATMUL / LINEAR (NULL in f32, or an error recorded) */
static char *half_region(cu_call *r, int *st) {
    *st = CV_OK;
    size_t bytes = cu_gemm_workspace(r->b, r->k);
    if (!bytes) return NULL;
    char *p = (char *)cu_workspace(r, bytes);
    if (!p) *st = r->err->status;
    return p;
}

static int gemm(cu_call *r, int ta, int tb, int64_t m, int64_t n, int64_t k, const void *A, int64_t lda, int64_t sa,
                const void *B, int64_t ldb, int64_t sb, float *Y, int64_t batches, float beta) {
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || batches > INT32_MAX)
        return cu_fail(r, CV_ERR_UNSUPPORTED, "matrix sizes beyond 2^31 are not supported by cuBLAS's 32-bit API");
    const float one = 1.0f;
    int dt = r->b->cfg.precision;
    cudaDataType in = dt == CV_BF16 ? CUDA_R_16BF : dt == CV_F16 ? CUDA_R_16F : CUDA_R_32F;
    cublasComputeType_t ct = dt == CV_F32 && r->b->cfg.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    return cu_blas(r, cublasGemmStridedBatchedEx(r->b->cublas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                                 (int)n, (int)m, (int)k, &one, B, in, (int)ldb, sb, A, in, (int)lda, sa,
                                                 &beta, Y, CUDA_R_32F, (int)n, m * n, (int)batches, ct, CUBLAS_GEMM_DEFAULT),
                   "cublasGemmStridedBatchedEx");
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
    char *region = half_region(r, &st);
    if (st) return st;
    int64_t sa_, sb_;
    const void *A = operand(r, a, y, batches, &region, &sa_), *B = A ? operand(r, b, y, batches, &region, &sb_) : NULL;
    if (!B) return r->err->status;
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
    char *region = half_region(r, &st);
    if (st) return st;
    const void *X = in_compute_dtype(r, x, &region), *W = X ? in_compute_dtype(r, w, &region) : NULL;
    if (!W) return r->err->status;
    /* y[rows, n] = x[rows, k] w[n, k]^T */
    return gemm(r, 0, 1, rows, n, k, X, k, 0, W, k, 0, y->f, 1, beta);
}
