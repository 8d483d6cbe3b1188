/* plugins/backends/cpu/bf16.c — the AVX512-BF16 loops of precision = bf16:
 * f32 -> bf16 conversion (round to nearest even, NaN kept quiet) for the copies a
 * convolution or matmul reads when only the data type differs from the caller's
 * tensor (oneDNN 2.6 does these with a generic single-threaded reorder, measured
 * ~1 GB/s; this loop uses vcvtneps2bf16 on all threads), and the kernels of
 * activations the engine stores in bf16 (ABI 1.4): batch norm's C16 rows, whose
 * pixels are one 16-lane vector each, and the block conversions the element-wise
 * ops run their f32 loops between.  Only called when the backend was created
 * with precision = bf16, which requires that instruction set. */
#include "cpu.h"

#include "simd_bf16.h"

#include <string.h>

BF16_FN void bf16_from_f32_block(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) st16(dst + i, _mm512_loadu_ps(src + i));
    for (; i < n; i++) dst[i] = bf16_from_f32(src[i]);
}

BF16_FN void bf16_to_f32_block(float *dst, const uint16_t *src, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, ld16(src + i));
    for (; i < n; i++) dst[i] = bf16_to_f32(src[i]);
}

void f32_to_bf16_n(void *dst, const float *src, int64_t n, int threads) {
    const int64_t block = 1 << 14;
    #pragma omp parallel for num_threads(threads) schedule(static) if (n > block)
    for (int64_t b = 0; b < n; b += block) bf16_from_f32_block((uint16_t *)dst + b, src + b, n - b < block ? n - b : block);
}

void bf16_to_f32_n(float *dst, const uint16_t *src, int64_t n, int threads) {
    const int64_t block = 1 << 14;
    #pragma omp parallel for num_threads(threads) schedule(static) if (n > block)
    for (int64_t b = 0; b < n; b += block) bf16_to_f32_block(dst + b, src + b, n - b < block ? n - b : block);
}

/* ---- batch norm rows: the f32 loops of bnorm.c on bf16 pixels ------------------------------ */
/* one pixel of bn_row_sums_bf16 into one of its accumulator pairs */
BF16_FN static inline void bn_sum_px(const uint16_t *a, const uint16_t *b, __m512 mv, int sq, int64_t i, __m512 *acc,
                                     __m512 *acc2) {
    const __m512 x = ld16(a + i * 16);
    if (sq) {
        const __m512 d = _mm512_sub_ps(x, mv);
        *acc = _mm512_fmadd_ps(d, d, *acc);
    } else {
        *acc = _mm512_add_ps(*acc, x);
        if (b) *acc2 = _mm512_fmadd_ps(x, _mm512_sub_ps(ld16(b + i * 16), mv), *acc2);
    }
}

/* four accumulator pairs, so that the adds of consecutive pixels do not wait on each other */
BF16_FN void bn_row_sums_bf16(const uint16_t *a, const uint16_t *b, const float *m, int sq, int64_t HW, float *s1,
                              float *s2) {
    __m512 acc[4], acc2[4];
    for (int j = 0; j < 4; j++) acc[j] = acc2[j] = _mm512_setzero_ps();
    const __m512 mv = m ? _mm512_loadu_ps(m) : _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= HW; i += 4)
        for (int j = 0; j < 4; j++) bn_sum_px(a, b, mv, sq, i + j, &acc[j], &acc2[j]);
    for (; i < HW; i++) bn_sum_px(a, b, mv, sq, i, &acc[0], &acc2[0]);
    _mm512_storeu_ps(s1, _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
    if (b) _mm512_storeu_ps(s2, _mm512_add_ps(_mm512_add_ps(acc2[0], acc2[1]), _mm512_add_ps(acc2[2], acc2[3])));
}

BF16_FN void bn_row_affine_bf16(const uint16_t *x, const float *sc, const float *sh, int64_t HW, uint16_t *y) {
    const __m512 s = _mm512_loadu_ps(sc), h = _mm512_loadu_ps(sh);
    for (int64_t i = 0; i < HW; i++) st16(y + i * 16, _mm512_fmadd_ps(ld16(x + i * 16), s, h));
}

BF16_FN void bn_row_bwd_bf16(const uint16_t *x, const uint16_t *dy, const float *m, const float *a, const float *bq,
                             const float *g, int64_t HW, uint16_t *dx) {
    const __m512 mv = _mm512_loadu_ps(m), av = _mm512_loadu_ps(a), bv = _mm512_loadu_ps(bq), gv = _mm512_loadu_ps(g);
    for (int64_t i = 0; i < HW; i++) {
        const __m512 t = _mm512_fnmadd_ps(_mm512_sub_ps(ld16(x + i * 16), mv), bv, _mm512_sub_ps(ld16(dy + i * 16), av));
        st16(dx + i * 16, _mm512_mul_ps(t, gv));
    }
}

/* ---- element-wise ops of bf16 activations with a direct loop -------------------------------- */
/* y = relu(x) or relu6(x) (NaN kept), dx = dy * (0 < y < hi), y = a + b: n elements, every
 * operand bf16; returns 0 (nothing done) for any other op */
BF16_FN int eltwise_bf16_fast(int op, int fn, const uint16_t *a, const uint16_t *b, uint16_t *y, int64_t n) {
    const int clamp = (op == CV_OP_UNARY || op == CV_OP_UNARY_BWD) && (fn == CV_RELU || fn == CV_RELU6);
    if (!clamp && !(op == CV_OP_BINARY && fn == CV_ADD)) return 0;
    const int six = fn == CV_RELU6;
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f), hi = _mm512_set1_ps(6.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 x = ld16(a + i);
        __m512 v;
        if (op == CV_OP_BINARY) {
            v = _mm512_add_ps(x, ld16(b + i));
        } else if (op == CV_OP_UNARY) { /* max(x, 0) (and min(., 6)); NaN stays */
            v = _mm512_max_ps(x, zero);
            if (six) v = _mm512_min_ps(v, hi);
            v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), v, x);
        } else {
            __mmask16 pass = _mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ);
            if (six) pass &= _mm512_cmp_ps_mask(x, hi, _CMP_LT_OQ);
            v = _mm512_mul_ps(ld16(b + i), _mm512_mask_blend_ps(pass, zero, one));
        }
        st16(y + i, v);
    }
    for (; i < n; i++) {
        const float x = act_load(a, CV_BF16, i);
        float v;
        if (op == CV_OP_BINARY) v = x + act_load(b, CV_BF16, i);
        else if (op == CV_OP_UNARY) v = x != x ? x : x < 0 ? 0 : six && x > 6 ? 6 : x;
        else v = act_load(b, CV_BF16, i) * (x > 0 && (!six || x < 6) ? 1.0f : 0.0f);
        y[i] = bf16_from_f32(v);
    }
    return 1;
}

/* ---- max pooling gradient ------------------------------------------------------------------- */
/* One C16 row (16 channels of one image) of the max-pooling gradient, every
 * operand bf16: per output pixel and lane dy goes to the first pixel of the
 * clipped window (pool_window) equal to the forward's output y (the first maximum:
 * PyTorch's rule), summed in f32 in acc (h*w x 16 floats) and rounded into dx once.
 * Returns 0 with dx untouched when a lane's window holds no such pixel (a NaN):
 * the caller's loop decides those. */
BF16_FN int pool_max_bwd_row_bf16(const uint16_t *x, const uint16_t *y, const uint16_t *dy, const pool_geom *g,
                                  float *acc, uint16_t *dx) {
    memset(acc, 0, (size_t)(g->h * g->w * 16) * sizeof(float));
    for (int64_t o = 0; o < g->ho * g->wo; o++) {
        int64_t h0, h1, w0, w1;
        float div;
        pool_window(g, 0, o / g->wo, o % g->wo, &h0, &h1, &w0, &w1, &div);
        const __m512 m = ld16(y + o * 16), d = ld16(dy + o * 16);
        __mmask16 done = 0;
        for (int64_t ih = h0; ih < h1; ih++)
            for (int64_t iw = w0; iw < w1; iw++) {
                float *a = acc + (ih * g->w + iw) * 16;
                const __mmask16 hit = _mm512_cmp_ps_mask(ld16(x + (ih * g->w + iw) * 16), m, _CMP_EQ_OQ) & (__mmask16)~done;
                _mm512_storeu_ps(a, _mm512_mask_add_ps(_mm512_loadu_ps(a), hit, _mm512_loadu_ps(a), d));
                done |= hit;
            }
        if (done != 0xFFFF) return 0;
    }
    for (int64_t i = 0; i < g->h * g->w * 16; i += 16) st16(dx + i, _mm512_loadu_ps(acc + i));
    return 1;
}
