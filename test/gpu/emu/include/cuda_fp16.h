/* test/gpu/emu/include/cuda_fp16.h — __half with the reference backend's round-to-nearest-even */
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
