/* plugins/backends/cpu/bf16.c — f32 -> bf16 conversion (round to nearest even,
 * NaN kept quiet) for precision = bf16: the copies a convolution or matmul reads
 * when only the data type differs from the caller's tensor.  oneDNN 2.6 does
 * these with a generic single-threaded reorder (measured ~1 GB/s); this loop uses
 * AVX512-BF16's vcvtneps2bf16 on all threads.  Only called when the backend was
 * created with precision = bf16, which requires that instruction set. */
#include "cpu.h"

#include <immintrin.h>

__attribute__((target("avx512f,avx512bf16"))) static void cvt_block(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i));
        _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)h);
    }
    for (; i < n; i++) dst[i] = bf16_from_f32(src[i]);
}

void f32_to_bf16_n(void *dst, const float *src, int64_t n, int threads) {
    const int64_t block = 1 << 14;
    #pragma omp parallel for num_threads(threads) schedule(static) if (n > block)
    for (int64_t b = 0; b < n; b += block) cvt_block((uint16_t *)dst + b, src + b, n - b < block ? n - b : block);
}
