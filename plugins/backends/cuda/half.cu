/* half.cu — the 16-bit operand copies of precision = bf16 / fp16: convolutions and
 * matmuls read bf16 (or f16) copies of their dense f32 inputs, made by the
 * vectorised cast below into the kernel's workspace (which prepare() asked for),
 * and a 16-bit result (cuDNN's legacy API has no f32 output for 16-bit inputs) is
 * widened back into the f32 output.  Casts round to nearest even, as CAST does.
 * Four elements per thread (float4 in, 4 x 16 bit out) when both pointers are
 * aligned for it; otherwise, and for the tail, one element per thread. */
#include <cuda_fp16.h>
#include "cuint.h"

size_t cu_half_bytes(int64_t n) { return ((size_t)n * 2 + 255) & ~(size_t)255; }

void *cu_workspace(cu_call *r, size_t bytes) {
    if (r->k->workspace && r->k->workspace_bytes >= bytes) return r->k->workspace;
    return cu_scratch(r, bytes);
}

__device__ static inline uint16_t narrow1(float v, int bf16) {
    return bf16 ? cu_f32_to_bf16(v) : __half_as_ushort(__float2half_rn(v));
}

__device__ static inline float widen1(uint16_t h, int bf16) {
    return bf16 ? __uint_as_float((uint32_t)h << 16) : __half2float(__ushort_as_half(h));
}

/* n4 groups of 4 vectorised (0 when unaligned), then elements n4 * 4 .. n one by one */
__global__ static void narrow_kernel(uint16_t *dst, const float *src, int64_t n4, int64_t n, int bf16) {
    CU_LOOP(i, n4) {
        float4 v = ((const float4 *)src)[i];
        ushort4 h;
        h.x = narrow1(v.x, bf16);
        h.y = narrow1(v.y, bf16);
        h.z = narrow1(v.z, bf16);
        h.w = narrow1(v.w, bf16);
        ((ushort4 *)dst)[i] = h;
    }
    CU_LOOP(i, n - n4 * 4) dst[n4 * 4 + i] = narrow1(src[n4 * 4 + i], bf16);
}

__global__ static void widen_kernel(float *dst, const uint16_t *src, int64_t n4, int64_t n, int bf16) {
    CU_LOOP(i, n4) {
        ushort4 h = ((const ushort4 *)src)[i];
        float4 v;
        v.x = widen1(h.x, bf16);
        v.y = widen1(h.y, bf16);
        v.z = widen1(h.z, bf16);
        v.w = widen1(h.w, bf16);
        ((float4 *)dst)[i] = v;
    }
    CU_LOOP(i, n - n4 * 4) dst[n4 * 4 + i] = widen1(src[n4 * 4 + i], bf16);
}

/* groups of 4 when the f32 side is 16-byte and the 16-bit side 8-byte aligned */
static int64_t groups_of_4(const void *f32, const void *h16, int64_t n) {
    return (uintptr_t)f32 % 16 == 0 && (uintptr_t)h16 % 8 == 0 ? n / 4 : 0;
}

int cu_narrow(cu_call *r, void *dst, const float *src, int64_t n) {
    if (n == 0) return CV_OK;
    int64_t n4 = groups_of_4(src, dst, n);
    narrow_kernel<<<cu_blocks(n4 > 0 ? n4 : n), CU_THREADS, 0, r->b->stream>>>((uint16_t *)dst, src, n4, n,
                                                                              r->b->cfg.precision == CV_BF16);
    return cu_launched(r, "16-bit cast kernel");
}

int cu_widen(cu_call *r, float *dst, const void *src, int64_t n) {
    if (n == 0) return CV_OK;
    int64_t n4 = groups_of_4(dst, src, n);
    widen_kernel<<<cu_blocks(n4 > 0 ? n4 : n), CU_THREADS, 0, r->b->stream>>>(dst, (const uint16_t *)src, n4, n,
                                                                             r->b->cfg.precision == CV_BF16);
    return cu_launched(r, "16-bit widen kernel");
}
