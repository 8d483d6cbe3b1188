/* plugins/backends/cpu/simd_bf16.h — 16 lanes of bf16 <-> f32 with AVX512-BF16, for
 * the files of the CPU backend that run only with precision = bf16 (bf16.c,
 * wino.c): BF16_FN marks a function compiled for that instruction set. */
#ifndef CV_BACKEND_CPU_SIMD_BF16_H
#define CV_BACKEND_CPU_SIMD_BF16_H

#include <immintrin.h>
#include <stdint.h>

#define BF16_FN __attribute__((target("avx512f,avx512bw,avx512bf16")))

/* 16 bf16 widened to f32 (exact) */
BF16_FN static inline __m512 ld16(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}
/* 16 f32 rounded to bf16 (nearest even) */
BF16_FN static inline void st16(uint16_t *p, __m512 v) { _mm256_storeu_si256((__m256i *)p, (__m256i)_mm512_cvtneps_pbh(v)); }

#endif
