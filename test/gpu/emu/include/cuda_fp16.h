/* test/gpu/emu/include/cuda_fp16.h — __half with the reference backend's round-to-nearest-even,
 * and the emulated libraries' loads / stores of f32, f16 and bf16 elements (emu_get / emu_put) */
#pragma once
#include <stdint.h>
#include <math.h>
#include <string.h>
struct __half { uint16_t x; };
static inline float __half2float(__half h) {
    uint32_t sign = (uint32_t)(h.x & 0x8000u) << 16, e = (h.x >> 10) & 0x1fu, m = h.x & 0x3ffu, x;
    if (e == 0) { float f = ldexpf((float)m, -24); return sign ? -f : f; }
    if (e == 31) x = sign | 0x7f800000u | (m << 13); else x = sign | ((e + 112u) << 23) | (m << 13);
    float f; memcpy(&f, &x, 4); return f;
}
static inline __half __float2half_rn(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u); uint32_t ax = x & 0x7fffffffu; __half h;
    if (ax >= 0x7f800000u) { h.x = (uint16_t)(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u)); return h; }
    if (ax >= 0x477ff000u) { h.x = (uint16_t)(sign | 0x7c00u); return h; }
    if (ax < 0x38800000u) { float a; memcpy(&a, &ax, 4); h.x = (uint16_t)(sign | (uint16_t)nearbyintf(a * 16777216.0f)); return h; }
    ax += 0xc8000fffu + ((ax >> 13) & 1u); h.x = (uint16_t)(sign | (ax >> 13)); return h;
}
static inline unsigned short __half_as_ushort(__half h) { return h.x; }
static inline __half __ushort_as_half(unsigned short x) { __half h; h.x = x; return h; }
/* element kinds of the emulated cuDNN / cuBLAS buffers */
enum { EMU_F32, EMU_F16, EMU_BF16 };
static inline float emu_get(int kind, const void *p, long i) {
    if (kind == EMU_F16) return __half2float(((const __half *)p)[i]);
    if (kind == EMU_BF16) { uint32_t x = (uint32_t)((const uint16_t *)p)[i] << 16; float f; memcpy(&f, &x, 4); return f; }
    return ((const float *)p)[i];
}
/* rounds to nearest even, as the real libraries do when they write 16-bit results */
static inline void emu_put(int kind, void *p, long i, float v) {
    if (kind == EMU_F16) { ((__half *)p)[i] = __float2half_rn(v); return; }
    if (kind == EMU_BF16) {
        uint32_t x; memcpy(&x, &v, 4);
        ((uint16_t *)p)[i] = (x & 0x7fffffffu) > 0x7f800000u ? (uint16_t)((x >> 16) | 0x40u)
                                                              : (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
        return;
    }
    ((float *)p)[i] = v;
}
