/* half.cu — the 16-bit operand copies of precision = bf16 / fp16: convolutions and
 * matmuls read bf16 (or f16) copies of their dense f32 inputs, made by the
 * vectorised cast below into the kernel's workspace (which prepare() asked for),
 * and a 16-bit result (cuDNN's legacy API has no f32 output for 16-bit inputs) is
 * widened back into the f32 output.  Casts round to nearest even, as CAST does.
 * Four elements per thread (float4 in, 4 x 16 bit out) when both pointers are
 * aligned for it; otherwise, and for the tail, one element per thread. */
#include "cuint.h"

size_t cu_half_bytes(int64_t n) { return cu_round256((size_t)n * 2); }

void *cu_workspace(cu_call *r, size_t bytes) {
    if (r->ws && r->ws_bytes >= bytes) return r->ws;
    return cu_scratch(r, bytes);
}

/* f32 -> 16 bit (widen 0) or back (widen 1): n4 groups of 4 vectorised (0 when
 * unaligned), then elements n4 * 4 .. n one by one */
__global__ static void cast_kernel(void *dst, const void *src, int64_t n4, int64_t n, int dt, int widen) {
    CU_LOOP(i, n4) {
        if (widen) ((float4 *)dst)[i] = cu_widen4(((const ushort4 *)src)[i], dt);
        else ((ushort4 *)dst)[i] = cu_narrow4(((const float4 *)src)[i], dt);
    }
    CU_LOOP(i, n - n4 * 4) {
        int64_t e = n4 * 4 + i;
        if (widen) ((float *)dst)[e] = cu_widen16(((const uint16_t *)src)[e], dt);
        else ((uint16_t *)dst)[e] = cu_narrow16(((const float *)src)[e], dt);
    }
}

/* groups of 4 when the f32 side is 16-byte and the 16-bit side 8-byte aligned */
static int cast(cu_call *r, void *dst, const void *src, int64_t n, int widen) {
    if (n == 0) return CV_OK;
    const void *f32 = widen ? dst : src, *h16 = widen ? src : dst;
    int64_t n4 = (uintptr_t)f32 % 16 == 0 && (uintptr_t)h16 % 8 == 0 ? n / 4 : 0;
    cast_kernel<<<cu_blocks(n4 > 0 ? n4 : n), CU_THREADS, 0, r->b->stream>>>(dst, src, n4, n, r->b->cfg.precision,
                                                                            widen);
    return cu_launched(r, widen ? "16-bit widen kernel" : "16-bit cast kernel");
}

int cu_narrow(cu_call *r, void *dst, const float *src, int64_t n) { return cast(r, dst, src, n, 0); }

int cu_widen(cu_call *r, float *dst, const void *src, int64_t n) { return cast(r, dst, src, n, 1); }
