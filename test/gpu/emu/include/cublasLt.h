/* test/gpu/emu/include/cublasLt.h — the cuBLASLt subset the backend uses (LINEAR): handle, matmul
 * descriptor (TRANSA, TRANSB, EPILOGUE DEFAULT / BIAS, BIAS_POINTER), matrix layouts, preference
 * (workspace limit, alignments), a heuristic returning one algorithm, and cublasLtMatmul by direct
 * column-major loops on f32 / f16 / bf16 operands (emu_get / emu_put), enqueued on the stream.
 *
 * Checks, as documented for cuBLASLt: attribute sizes; ld >= rows; op(A) m x k, op(B) k x n, C and
 * D m x n; A and B of one type, C and D of one type (f32 or A's); the bias epilogue needs a bias
 * pointer and adds a vector of D's rows (m) elements to every column; a workspace smaller than
 * the algorithm's is refused.  The algorithm records the alignment it was chosen for (the
 * preference's A-D minimum alignments, and the bias pointer's, capped at 16 bytes); a pointer less
 * aligned than that is refused with NOT_SUPPORTED (on a GPU such an algorithm may not work).  The
 * algorithm asks for workspace when the preference allows it, and the emulated matmul scribbles
 * over that workspace, so workspace that overlaps live data shows up as a wrong result. */
#pragma once
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cublas_v2.h"
typedef struct emu_lt_s { int unused; } *cublasLtHandle_t;
typedef enum { CUBLASLT_MATMUL_DESC_TRANSA = 3, CUBLASLT_MATMUL_DESC_TRANSB = 4, CUBLASLT_MATMUL_DESC_EPILOGUE = 7,
               CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8 } cublasLtMatmulDescAttributes_t;
typedef enum { CUBLASLT_EPILOGUE_DEFAULT = 1, CUBLASLT_EPILOGUE_BIAS = 4 } cublasLtEpilogue_t;
typedef enum { CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,
               CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
               CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8 } cublasLtMatmulPreferenceAttributes_t;
struct emu_lt_desc { cublasComputeType_t compute; cudaDataType scale; cublasOperation_t ta, tb; cublasLtEpilogue_t epi;
                     const void *bias; };
struct emu_lt_layout { cudaDataType type; uint64_t rows, cols; int64_t ld; };
struct emu_lt_pref { uint64_t max_ws; uint32_t align[4]; };
typedef emu_lt_desc *cublasLtMatmulDesc_t;
typedef emu_lt_layout *cublasLtMatrixLayout_t;
typedef emu_lt_pref *cublasLtMatmulPreference_t;
typedef struct { uint64_t data[8]; } cublasLtMatmulAlgo_t; /* data[0]: alignment, data[1]: workspace bytes */
typedef struct { cublasLtMatmulAlgo_t algo; size_t workspaceSize; cublasStatus_t state; float wavesCount; int reserved[4]; }
    cublasLtMatmulHeuristicResult_t;

static inline cublasStatus_t cublasLtCreate(cublasLtHandle_t *h) { *h = new emu_lt_s(); return CUBLAS_STATUS_SUCCESS; }
static inline cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) { delete h; return CUBLAS_STATUS_SUCCESS; }

static inline cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t compute,
                                                      cudaDataType scale) {
    if (scale != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED; /* scale type f32 with COMPUTE_32F */
    *d = new emu_lt_desc{ compute, scale, CUBLAS_OP_N, CUBLAS_OP_N, CUBLASLT_EPILOGUE_DEFAULT, nullptr };
    return CUBLAS_STATUS_SUCCESS;
}
static inline cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
    delete d;
    return CUBLAS_STATUS_SUCCESS;
}
/* the value's size must be the attribute's: 4 bytes for the enums, a pointer's for BIAS_POINTER */
static inline cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a,
                                                           const void *buf, size_t size) {
    if (!buf) return CUBLAS_STATUS_INVALID_VALUE;
    int32_t v = 0;
    if (a == CUBLASLT_MATMUL_DESC_BIAS_POINTER) {
        if (size != sizeof(void *)) return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&d->bias, buf, sizeof(void *));
        return CUBLAS_STATUS_SUCCESS;
    }
    if (size != sizeof v) return CUBLAS_STATUS_INVALID_VALUE;
    memcpy(&v, buf, sizeof v);
    if (a == CUBLASLT_MATMUL_DESC_TRANSA) d->ta = (cublasOperation_t)v;
    else if (a == CUBLASLT_MATMUL_DESC_TRANSB) d->tb = (cublasOperation_t)v;
    else if (a == CUBLASLT_MATMUL_DESC_EPILOGUE && (v == CUBLASLT_EPILOGUE_DEFAULT || v == CUBLASLT_EPILOGUE_BIAS))
        d->epi = (cublasLtEpilogue_t)v;
    else return CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_SUCCESS;
}

static inline cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType type, uint64_t rows,
                                                        uint64_t cols, int64_t ld) {
    *l = new emu_lt_layout{ type, rows, cols, ld };
    return CUBLAS_STATUS_SUCCESS;
}
static inline cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
    delete l;
    return CUBLAS_STATUS_SUCCESS;
}

static inline cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p) {
    *p = new emu_lt_pref{ 0, { 256, 256, 256, 256 } }; /* no workspace, 256-byte alignment by default */
    return CUBLAS_STATUS_SUCCESS;
}
static inline cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
    delete p;
    return CUBLAS_STATUS_SUCCESS;
}
static inline cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                                 cublasLtMatmulPreferenceAttributes_t a, const void *buf,
                                                                 size_t size) {
    if (!buf) return CUBLAS_STATUS_INVALID_VALUE;
    if (a == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES) {
        if (size != sizeof(uint64_t)) return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&p->max_ws, buf, sizeof(uint64_t));
    } else if (a >= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES && a <= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES) {
        if (size != sizeof(uint32_t)) return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&p->align[a - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf, sizeof(uint32_t));
    } else {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    return CUBLAS_STATUS_SUCCESS;
}

/* the shapes, types and leading dimensions of D = op(A) op(B) (+ bias): m, n, k or a status */
static inline cublasStatus_t emu_lt_check(const emu_lt_desc *d, const emu_lt_layout *A, const emu_lt_layout *B,
                                          const emu_lt_layout *C, const emu_lt_layout *D, uint64_t *m, uint64_t *n, uint64_t *k) {
    if (!d || !A || !B || !C || !D) return CUBLAS_STATUS_INVALID_VALUE;
    const emu_lt_layout *L[4] = { A, B, C, D };
    for (int i = 0; i < 4; i++)
        if (L[i]->ld < (int64_t)L[i]->rows || L[i]->ld < 1) return CUBLAS_STATUS_INVALID_VALUE;
    *m = d->ta ? A->cols : A->rows;
    *k = d->ta ? A->rows : A->cols;
    *n = d->tb ? B->rows : B->cols;
    if ((d->tb ? B->cols : B->rows) != *k || C->rows != *m || C->cols != *n || D->rows != *m || D->cols != *n)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (A->type != B->type || C->type != D->type || (D->type != CUDA_R_32F && D->type != A->type))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (d->compute != CUBLAS_COMPUTE_32F && d->compute != CUBLAS_COMPUTE_32F_FAST_TF32) return CUBLAS_STATUS_NOT_SUPPORTED;
    return CUBLAS_STATUS_SUCCESS;
}

/* the largest power of two up to 16 dividing p (NULL: 16) */
static inline uint64_t emu_lt_align(const void *p) {
    uint64_t a = 16;
    while ((uintptr_t)p % a) a /= 2;
    return a;
}

/* one algorithm: aligned as asked (at most 16 bytes, and as the bias pointer), with up to 64 KiB of workspace */
static inline cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t d,
    cublasLtMatrixLayout_t A, cublasLtMatrixLayout_t B, cublasLtMatrixLayout_t C, cublasLtMatrixLayout_t D,
    cublasLtMatmulPreference_t p, int requested, cublasLtMatmulHeuristicResult_t results[], int *returned) {
    uint64_t m, n, k;
    if (!h || !p || requested <= 0 || !results || !returned) return CUBLAS_STATUS_INVALID_VALUE;
    if (getenv("CVNETS_EMU_LT_NO_ALGO")) { /* as cuBLASLt answers a shape it has nothing for */
        *returned = 0;
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    cublasStatus_t s = emu_lt_check(d, A, B, C, D, &m, &n, &k);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    uint64_t align = emu_lt_align(d->epi == CUBLASLT_EPILOGUE_BIAS ? d->bias : nullptr);
    for (int i = 0; i < 4; i++)
        if (p->align[i] < align) align = p->align[i];
    memset(&results[0], 0, sizeof results[0]);
    results[0].algo.data[0] = align;
    results[0].algo.data[1] = results[0].workspaceSize = p->max_ws < 65536 ? p->max_ws : 65536;
    results[0].state = CUBLAS_STATUS_SUCCESS;
    results[0].wavesCount = 1.0f;
    *returned = 1;
    return CUBLAS_STATUS_SUCCESS;
}

/* column-major D = alpha op(A) op(B) + beta C (+ bias[i] on row i), products summed in double */
static inline cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t d, const void *alpha_, const void *A,
    cublasLtMatrixLayout_t Al, const void *B, cublasLtMatrixLayout_t Bl, const void *beta_, const void *C,
    cublasLtMatrixLayout_t Cl, void *D, cublasLtMatrixLayout_t Dl, const cublasLtMatmulAlgo_t *algo, void *ws,
    size_t ws_bytes, cudaStream_t) {
    uint64_t m, n, k;
    if (!h || !algo || !alpha_ || !beta_) return CUBLAS_STATUS_INVALID_VALUE;
    cublasStatus_t s = emu_lt_check(d, Al, Bl, Cl, Dl, &m, &n, &k);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    int bias = d->epi == CUBLASLT_EPILOGUE_BIAS;
    if ((bias && !d->bias) || ws_bytes < algo->data[1] || (algo->data[1] && !ws)) return CUBLAS_STATUS_INVALID_VALUE;
    const void *ptrs[5] = { A, B, C, D, bias ? d->bias : nullptr };
    for (int i = 0; i < 5; i++)
        if (emu_lt_align(ptrs[i]) < algo->data[0]) return CUBLAS_STATUS_NOT_SUPPORTED;
    float alpha = *(const float *)alpha_, beta = *(const float *)beta_;
    cublasOperation_t ta = d->ta, tb = d->tb;
    const float *bv = bias ? (const float *)d->bias : nullptr; /* bias type: D's (f32 here) */
    cudaDataType at = Al->type, ct = Cl->type, dt = Dl->type;
    int64_t lda = Al->ld, ldb = Bl->ld, ldc = Cl->ld, ldd = Dl->ld;
    size_t scribble = algo->data[1];
    emu_enqueue([=] { /* on the stream: run now, or recorded into a capture */
        if (scribble) memset(ws, 0xa5, scribble);
        for (uint64_t i = 0; i < m; i++)
            for (uint64_t j = 0; j < n; j++) {
                double acc = 0;
                for (uint64_t t = 0; t < k; t++)
                    acc += (double)emu_get(at, A, (long)(ta ? i * lda + t : t * lda + i)) *
                           emu_get(at, B, (long)(tb ? t * ldb + j : j * ldb + t));
                double v = alpha * acc + (beta == 0 ? 0.0 : beta * emu_get(ct, C, (long)(j * ldc + i)));
                emu_put(dt, D, (long)(j * ldd + i), (float)(v + (bv ? bv[i] : 0.0)));
            }
    });
    return CUBLAS_STATUS_SUCCESS;
}
