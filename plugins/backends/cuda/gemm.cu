/* gemm.cu — MATMUL (batched, numpy-broadcast batch dims, transpose flags) through
 * cuBLAS cublasGemmStridedBatchedEx, and LINEAR (x W^T + b) through cuBLASLt
 * cublasLtMatmul with the bias fused as its epilogue; f32 output and f32
 * accumulation (CUBLAS_COMPUTE_32F) always.
 *
 * cuBLAS is column-major: a row-major [r, c] matrix is its transpose there, so
 * Y = op(A) op(B) is computed as Y^T = op(B)^T op(A)^T with the operands swapped.
 * A batch operand whose batch dims are all 1 is passed with stride 0; one that
 * broadcasts only partly (e.g. [2,1,M,K] against [2,3,K,N]) is first expanded
 * to the full batch by the strided-copy kernel.  TF32 only with tf32 = true.
 * precision = bf16 / fp16: A and B are read as 16-bit copies in the kernel's
 * workspace (half.cu's cast, or the expanding copy converting on the way).
 *
 * LINEAR's cuBLASLt plan (descriptor, layouts, algorithm) is made once per node
 * by prepare() and kept as its prepared state; run() uses it when it was made for
 * the node's shapes and the pointers are aligned as it assumed, and otherwise
 * makes a plan for the call and destroys it after.  The workspace is
 * [16-bit x | 16-bit w | cuBLASLt's, 256-byte aligned].  When cuBLASLt offers no
 * algorithm for a shape, LINEAR runs as before: y filled with the bias, then
 * cublasGemmStridedBatchedEx with beta = 1. */
#include "cuint.h"

/* elements GEMM reads of an operand of numel elements, mat per matrix, against batches */
static int64_t operand_numel(int64_t numel, int64_t mat, int64_t batches) {
    int64_t tb = mat ? numel / mat : 0;
    return tb == 1 || tb == batches ? numel : batches * mat;
}

/* bytes of the copy GEMM reads of an operand of numel elements, n of them read (n > numel:
 * expanded to the batch): a 16-bit copy always, an f32 one only when expanded */
static size_t copy_bytes(int precision, int64_t numel, int64_t n) {
    if (precision != CV_F32) return cu_half_bytes(n);
    return n == numel ? 0 : cu_round256((size_t)n * sizeof(float));
}

/* what prepare() asks for: the operand copies (16-bit, or batch-expanded) */
size_t cu_gemm_workspace(const cu_backend *b, const cv_kernel *k) {
    if (k->n_in < 2 || k->n_out < 1) return 0;
    const cv_ktensor *t[3] = { &k->in[0], &k->in[1], &k->out[0] };
    int64_t n[3] = { 1, 1, 1 };
    for (int i = 0; i < 3; i++)
        for (int d = 0; d < t[i]->ndim; d++) n[i] *= t[i]->shape[d];
    int64_t na = n[0], nb = n[1];
    if (k->op == CV_OP_MATMUL) {
        if (t[0]->ndim < 2 || t[1]->ndim < 2 || t[2]->ndim < 2) return 0;
        int64_t ymat = t[2]->shape[t[2]->ndim - 2] * t[2]->shape[t[2]->ndim - 1];
        int64_t batches = ymat ? n[2] / ymat : 0;
        na = operand_numel(n[0], t[0]->shape[t[0]->ndim - 2] * t[0]->shape[t[0]->ndim - 1], batches);
        nb = operand_numel(n[1], t[1]->shape[t[1]->ndim - 2] * t[1]->shape[t[1]->ndim - 1], batches);
    }
    return copy_bytes(b->cfg.precision, n[0], na) + copy_bytes(b->cfg.precision, n[1], nb);
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
    const int dt = r->b->cfg.precision;
    void *dst = *region;
    *region += copy_bytes(dt, t->numel, n);
    return expand_batch(r, t, y, batches, dt, dst) ? NULL : dst;
}

/* the operand copies' region of MATMUL (NULL when there are none, or an error recorded) */
static char *copy_region(cu_call *r, int *st) {
    *st = CV_OK;
    size_t bytes = cu_gemm_workspace(r->b, r->k);
    if (!bytes) return NULL;
    char *p = (char *)cu_workspace(r, bytes);
    if (!p) *st = r->err->status;
    return p;
}

/* what GEMMs read (A and B) in the backend's precision, and what they accumulate in */
static cudaDataType gemm_in_type(int precision) {
    return precision == CV_BF16 ? CUDA_R_16BF : precision == CV_F16 ? CUDA_R_16F : CUDA_R_32F;
}
static cublasComputeType_t gemm_compute(const cu_backend *b) {
    return b->cfg.precision == CV_F32 && b->cfg.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

/* Y = op(A) op(B) + beta Y (row-major), batched */
static int gemm(cu_call *r, int ta, int tb, int64_t m, int64_t n, int64_t k, const void *A, int64_t lda, int64_t sa,
                const void *B, int64_t ldb, int64_t sb, float *Y, int64_t batches, float beta) {
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || batches > INT32_MAX)
        return cu_fail(r, CV_ERR_UNSUPPORTED, "matrix sizes beyond 2^31 are not supported by cuBLAS's 32-bit API");
    const float one = 1.0f;
    cudaDataType in = gemm_in_type(r->b->cfg.precision);
    return cu_blas(r, cublasGemmStridedBatchedEx(r->b->cublas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                                 (int)n, (int)m, (int)k, &one, B, in, (int)ldb, sb, A, in, (int)lda, sa,
                                                 &beta, Y, CUDA_R_32F, (int)n, m * n, (int)batches, gemm_compute(r->b),
                                                 CUBLAS_GEMM_DEFAULT),
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
    char *region = copy_region(r, &st);
    if (st) return st;
    int64_t sa_, sb_;
    const void *A = operand(r, a, y, batches, &region, &sa_), *B = A ? operand(r, b, y, batches, &region, &sb_) : NULL;
    if (!B) return r->err->status;
    return gemm(r, p->trans_a, p->trans_b, m, n, k, A, ac, sa_, B, bc, sb_, y->f, batches, 0.0f);
}

/* ---- LINEAR through cuBLASLt ------------------------------------------------------------------
 * Row-major y[rows, n] = x[rows, k] w[n, k]^T is column-major D (n x rows) = op(A) B with A = w
 * stored k x n (ld k, transposed) and B = x stored k x rows (ld k).  CUBLASLT_EPILOGUE_BIAS adds
 * a vector of D's rows (n: b) to every column of D, that is to every row of y. */
#define LT_WORKSPACE_MAX ((size_t)32 << 20) /* cuBLAS's recommended workspace on Hopper */
#define LT_ALIGN 16                          /* pointer alignment a prepared plan is chosen for */
#define LT_ALGOS 8                           /* heuristic results asked for */

struct lt_plan {
    int op;            /* CV_OP_LINEAR: prepared states start with their op (cu_release) */
    int dtype, bias;   /* the compute dtype (backend precision), and whether b is added */
    int64_t rows, n, k;
    uint32_t align;    /* pointer alignment the algorithm was chosen for */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, d; /* w, x, y (C and D) */
    cublasLtMatmulAlgo_t algo;
    size_t ws;         /* the algorithm's workspace */
    int usable;        /* 0: cuBLASLt offered no algorithm; LINEAR runs as a bias fill and a GEMM */
};

/* LINEAR's shapes from k's operands; -1 when there is nothing to multiply or they do not fit */
static int linear_dims(const cu_backend *b, const cv_kernel *k, lt_plan *p) {
    if (k->n_in < 2 || k->n_in > 3 || k->n_out != 1 || k->in[1].ndim != 2) return -1;
    int64_t ny = 1;
    for (int d = 0; d < k->out[0].ndim; d++) ny *= k->out[0].shape[d];
    p->op = CV_OP_LINEAR;
    p->dtype = b->cfg.precision;
    p->bias = k->n_in == 3;
    p->n = k->in[1].shape[0];
    p->k = k->in[1].shape[1];
    if (p->n <= 0 || p->k <= 0 || ny <= 0 || ny % p->n) return -1;
    p->rows = ny / p->n;
    return 0;
}

static void lt_free(lt_plan *p) {
    if (p->desc) cublasLtMatmulDescDestroy(p->desc);
    if (p->a) cublasLtMatrixLayoutDestroy(p->a);
    if (p->b) cublasLtMatrixLayoutDestroy(p->b);
    if (p->d) cublasLtMatrixLayoutDestroy(p->d);
    p->desc = NULL;
    p->a = p->b = p->d = NULL;
}

struct lt_pref {
    cublasLtMatmulPreference_t p = NULL;
    ~lt_pref() { if (p) cublasLtMatmulPreferenceDestroy(p); }
};

/* p's descriptor, layouts and the first algorithm the heuristic offers within the workspace
 * budget, for pointers aligned to p->align and this bias pointer (the heuristic reads its value
 * only for its alignment); returns a status and names the failing call in *what */
static cublasStatus_t lt_make(cu_backend *b, lt_plan *p, const void *bias, const char **what) {
    cublasStatus_t s;
#define LT(fn, args) do { *what = #fn; if ((s = fn args) != CUBLAS_STATUS_SUCCESS) return s; } while (0)
    cudaDataType in = gemm_in_type(p->dtype);
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    cublasLtEpilogue_t epi = p->bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    LT(cublasLtMatmulDescCreate, (&p->desc, gemm_compute(b), CUDA_R_32F));
    LT(cublasLtMatmulDescSetAttribute, (p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    LT(cublasLtMatmulDescSetAttribute, (p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    LT(cublasLtMatmulDescSetAttribute, (p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    if (p->bias) LT(cublasLtMatmulDescSetAttribute, (p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    LT(cublasLtMatrixLayoutCreate, (&p->a, in, (uint64_t)p->k, (uint64_t)p->n, p->k));
    LT(cublasLtMatrixLayoutCreate, (&p->b, in, (uint64_t)p->k, (uint64_t)p->rows, p->k));
    LT(cublasLtMatrixLayoutCreate, (&p->d, CUDA_R_32F, (uint64_t)p->n, (uint64_t)p->rows, p->n));
    lt_pref pref;
    uint64_t budget = (uint64_t)b->cfg.workspace_mb << 20;
    if (budget > LT_WORKSPACE_MAX) budget = LT_WORKSPACE_MAX;
    const cublasLtMatmulPreferenceAttributes_t aligns[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES };
    LT(cublasLtMatmulPreferenceCreate, (&pref.p));
    LT(cublasLtMatmulPreferenceSetAttribute,
       (pref.p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &budget, sizeof budget));
    for (int i = 0; i < 4; i++)
        LT(cublasLtMatmulPreferenceSetAttribute, (pref.p, aligns[i], &p->align, sizeof p->align));
    cublasLtMatmulHeuristicResult_t res[LT_ALGOS];
    int found = 0;
    LT(cublasLtMatmulAlgoGetHeuristic, (b->cublaslt, p->desc, p->a, p->b, p->d, p->d, pref.p, LT_ALGOS, res, &found));
#undef LT
    for (int i = 0; i < found; i++)
        if (res[i].state == CUBLAS_STATUS_SUCCESS && res[i].workspaceSize <= budget) {
            p->algo = res[i].algo;
            p->ws = res[i].workspaceSize;
            p->usable = 1;
            return CUBLAS_STATUS_SUCCESS;
        }
    *what = "cublasLtMatmulAlgoGetHeuristic (no algorithm within the workspace budget)";
    return CUBLAS_STATUS_NOT_SUPPORTED;
}

/* bytes of cuBLASLt's workspace behind the 16-bit copies, with room to align it to 256 */
static size_t lt_ws_bytes(size_t ws) { return ws ? ws + 255 : 0; }

/* the largest power of two up to 256 that divides every pointer whose bits are or-ed in bits */
static uint32_t ptr_align(uintptr_t bits) {
    uint32_t a = 256;
    while (bits % a) a /= 2;
    return a;
}

int cu_linear_prepare(cu_backend *b, const cv_kernel *k, void **prepared, size_t *ws, cv_error *err) {
    if (ws) *ws = cu_gemm_workspace(b, k);
    lt_plan dims = {};
    if (linear_dims(b, k, &dims)) return CV_OK; /* nothing to multiply, or run() reports the operands */
    lt_plan *p = (lt_plan *)b->host->alloc_array(1, sizeof *p);
    if (!p) return b->host->set_error(err, CV_ERR_NOMEM, "backend cuda: out of memory preparing LINEAR");
    *p = dims;
    p->align = LT_ALIGN;
    const char *what = "";
    cublasStatus_t s = lt_make(b, p, (const void *)(uintptr_t)LT_ALIGN, &what);
    if (s == CUBLAS_STATUS_NOT_SUPPORTED) { /* no algorithm: run() falls back to a bias fill and a GEMM */
        b->host->log(b->host->host_ctx, CV_LOG_DEBUG, "backend cuda", "LINEAR %lld x %lld x %lld: %s: no algorithm, "
                     "using cublasGemmStridedBatchedEx", (long long)dims.rows, (long long)dims.n, (long long)dims.k, what);
        s = CUBLAS_STATUS_SUCCESS;
    }
    if (s != CUBLAS_STATUS_SUCCESS) {
        cu_linear_release(b, p);
        return b->host->set_error(err, CV_ERR_INTERNAL,
                                  "backend cuda: LINEAR: cuBLASLt %s failed: %s (x %lld x %lld, w [%lld,%lld], %s, %s)",
                                  what, cu_blas_str(s), (long long)dims.rows, (long long)dims.k, (long long)dims.n,
                                  (long long)dims.k, dims.bias ? "bias" : "no bias",
                                  dims.dtype == CV_BF16 ? "bf16" : dims.dtype == CV_F16 ? "fp16" : "fp32");
    }
    *prepared = p;
    if (ws) *ws += lt_ws_bytes(p->ws);
    return CV_OK;
}

void cu_linear_release(cu_backend *b, void *prepared) {
    lt_free((lt_plan *)prepared);
    b->host->free(prepared);
}

/* a plan made for one call, destroyed at the end of it */
struct lt_local {
    lt_plan p = {};
    ~lt_local() { lt_free(&p); }
};

/* the prepared plan when it was made for these shapes and at most this alignment, else one for this call */
static lt_plan *plan_for(cu_call *r, uint32_t align, const void *bias, lt_local *local) {
    lt_plan want = {}, *prep = (lt_plan *)r->k->prepared;
    linear_dims(r->b, r->k, &want);
    if (prep && prep->op == CV_OP_LINEAR && prep->dtype == want.dtype && prep->bias == want.bias &&
        prep->rows == want.rows && prep->n == want.n && prep->k == want.k && align >= prep->align)
        return prep;
    local->p = want;
    local->p.align = align;
    const char *what = "";
    cublasStatus_t s = lt_make(r->b, &local->p, bias, &what);
    if (s == CUBLAS_STATUS_NOT_SUPPORTED) s = CUBLAS_STATUS_SUCCESS; /* unusable: the GEMM fallback */
    return cu_blas(r, s, what) ? NULL : &local->p;
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
    if (y->numel == 0) return CV_OK;
    const float *bias = r->n_in == 3 ? r->in[2].f : NULL;
    if (w->shape[1] == 0) { /* no products: y is the bias, or zeros */
        size_t bytes = (size_t)y->numel * sizeof(float);
        if (!bias) return cu_cuda(r, cudaMemsetAsync(y->f, 0, bytes, r->b->stream), "cudaMemsetAsync");
        bias_rows_kernel<<<cu_blocks(y->numel), CU_THREADS, 0, r->b->stream>>>(y->f, bias, y->numel, w->shape[0]);
        return cu_launched(r, "linear bias kernel");
    }
    /* what cuBLASLt reads and writes: f32 operands in place, 16-bit copies in the workspace */
    uintptr_t bits = (uintptr_t)y->f | (uintptr_t)bias |
                     (r->b->cfg.precision == CV_F32 ? (uintptr_t)x->f | (uintptr_t)w->f : (uintptr_t)r->ws);
    lt_local local;
    lt_plan *p = plan_for(r, ptr_align(bits), bias, &local);
    if (!p) return r->err->status;
    size_t half = cu_gemm_workspace(r->b, r->k), total = half + (p->usable ? lt_ws_bytes(p->ws) : 0);
    char *region = total ? (char *)cu_workspace(r, total) : NULL, *copies = region;
    if (total && !region) return r->err->status;
    const void *X = in_compute_dtype(r, x, &copies), *W = X ? in_compute_dtype(r, w, &copies) : NULL;
    if (!W) return r->err->status;
    if (!p->usable) { /* y = b (every row), then y += x w^T */
        if (bias) bias_rows_kernel<<<cu_blocks(y->numel), CU_THREADS, 0, r->b->stream>>>(y->f, bias, y->numel, p->n);
        if (bias && (st = cu_launched(r, "linear bias kernel"))) return st;
        return gemm(r, 0, 1, p->rows, p->n, p->k, X, p->k, 0, W, p->k, 0, y->f, 1, bias ? 1.0f : 0.0f);
    }
    void *ws = p->ws ? (void *)(((uintptr_t)region + half + 255) & ~(uintptr_t)255) : NULL;
    if (bias && (st = cu_blas(r, cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                                                sizeof bias),
                              "cublasLtMatmulDescSetAttribute")))
        return st;
    const float one = 1.0f, zero = 0.0f;
    return cu_blas(r, cublasLtMatmul(r->b->cublaslt, p->desc, &one, W, p->a, X, p->b, &zero, y->f, p->d, y->f, p->d,
                                     &p->algo, ws, p->ws, r->b->stream),
                   "cublasLtMatmul");
}
