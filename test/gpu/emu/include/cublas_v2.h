/* test/gpu/emu/include/cublas_v2.h — cublasGemmStridedBatchedEx by direct column-major loops,
 * with cuBLAS's leading-dimension checks; f32, f16 and bf16 operands */
#pragma once
#include "cuda_fp16.h"
#include "cuda_runtime.h"
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
static inline cublasStatus_t cublasSetWorkspace(cublasHandle_t, void *ws, size_t bytes) { return bytes && !ws ? CUBLAS_STATUS_INVALID_VALUE : CUBLAS_STATUS_SUCCESS; }
typedef enum { CUDA_R_32F = EMU_F32, CUDA_R_16F = EMU_F16, CUDA_R_16BF = EMU_BF16 } cudaDataType;
typedef enum { CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32 } cublasComputeType_t;
typedef enum { CUBLAS_GEMM_DEFAULT = -1 } cublasGemmAlgo_t;
/* column-major C = alpha op(A) op(B) + beta C, batched with strides; elements of A, B, C
 * converted on load / store (f32, f16, bf16), products summed in double */
static inline cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
    int k, const void *alpha_, const void *A, cudaDataType at, int lda, long long sa, const void *B, cudaDataType bt, int ldb,
    long long sb, const void *beta_, void *C, cudaDataType ct, int ldc, long long sc, int batch, cublasComputeType_t,
    cublasGemmAlgo_t) {
    if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return CUBLAS_STATUS_INVALID_VALUE;
    if (at != bt || (ct != CUDA_R_32F && ct != at)) return CUBLAS_STATUS_NOT_SUPPORTED;
    float alpha = *(const float *)alpha_, beta = *(const float *)beta_; /* scale type f32 with COMPUTE_32F */
    emu_enqueue([=] { /* on the stream: run now, or recorded into a capture */
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int t = 0; t < k; t++) {
                    double a = emu_get(at, A, b * sa + (ta ? i * lda + t : t * lda + i));
                    double bb = emu_get(bt, B, b * sb + (tb ? t * ldb + j : j * ldb + t));
                    acc += a * bb;
                }
                long c = b * sc + j * ldc + i;
                emu_put(ct, C, c, (float)(alpha * acc + (beta == 0 ? 0.0 : beta * emu_get(ct, C, c))));
            }
    });
    return CUBLAS_STATUS_SUCCESS;
}
