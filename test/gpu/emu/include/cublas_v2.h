/* test/gpu/emu/include/cublas_v2.h — cublasSgemmStridedBatched by direct column-major loops,
 * with cuBLAS's leading-dimension checks */
#pragma once
typedef enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_NOT_INITIALIZED, CUBLAS_STATUS_ALLOC_FAILED, CUBLAS_STATUS_INVALID_VALUE,
  CUBLAS_STATUS_ARCH_MISMATCH, CUBLAS_STATUS_MAPPING_ERROR, CUBLAS_STATUS_EXECUTION_FAILED, CUBLAS_STATUS_INTERNAL_ERROR,
  CUBLAS_STATUS_NOT_SUPPORTED } cublasStatus_t;
typedef void *cublasHandle_t;
typedef enum { CUBLAS_OP_N, CUBLAS_OP_T } cublasOperation_t;
typedef enum { CUBLAS_DEFAULT_MATH, CUBLAS_TF32_TENSOR_OP_MATH } cublasMath_t;
static inline cublasStatus_t cublasCreate(cublasHandle_t *h) { *h = (void *)1; return CUBLAS_STATUS_SUCCESS; }
static inline cublasStatus_t cublasDestroy(cublasHandle_t) { return CUBLAS_STATUS_SUCCESS; }
static inline cublasStatus_t cublasSetStream(cublasHandle_t, void *) { return CUBLAS_STATUS_SUCCESS; }
static inline cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
/* column-major C = alpha op(A) op(B) + beta C, batched with strides */
static inline cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
    const float *alpha, const float *A, int lda, long long sa, const float *B, int ldb, long long sb, const float *beta,
    float *C, int ldc, long long sc, int batch) {
    if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return CUBLAS_STATUS_INVALID_VALUE;
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int t = 0; t < k; t++) {
                    double a = ta ? A[b * sa + i * lda + t] : A[b * sa + t * lda + i];
                    double bb = tb ? B[b * sb + t * ldb + j] : B[b * sb + j * ldb + t];
                    acc += a * bb;
                }
                float *c = &C[b * sc + j * ldc + i];
                *c = (float)(*alpha * acc + (*beta == 0 ? 0.0 : *beta * *c));
            }
    return CUBLAS_STATUS_SUCCESS;
}
