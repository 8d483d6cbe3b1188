/* convert.c — dtype conversions (bf16, f16 round-to-nearest-even), strided element
 * addressing, and the CAST / COPY kernels which convert directly between the
 * caller's tensors so that i32 values survive exactly. */
#include "ref.h"

size_t ref_dtype_size(int dtype) {
    switch (dtype) {
    case CV_F32: case CV_I32: return 4;
    case CV_BF16: case CV_F16: return 2;
    case CV_U8: return 1;
    default: return 0;
    }
}

uint16_t ref_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x0040u); /* quiet NaN */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float ref_bf16_to_f32(uint16_t h) {
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t ref_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to infinity */
    if (ax < 0x38800000u) {                                   /* f16 subnormal or zero */
        float a;
        memcpy(&a, &ax, 4);
        /* a * 2^24 is exact; nearbyint rounds half to even in the default mode */
        return (uint16_t)(sign | (uint16_t)nearbyintf(a * 16777216.0f));
    }
    /* rebias the exponent (127 -> 15) and round the 13 dropped bits to nearest even */
    ax += 0xc8000fffu + ((ax >> 13) & 1u);
    return (uint16_t)(sign | (ax >> 13));
}

float ref_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0) {
        float f = ldexpf((float)m, -24);
        return sign ? -f : f;
    }
    if (e == 31) x = sign | 0x7f800000u | (m << 13);
    else x = sign | ((e + 112u) << 23) | (m << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

double ref_load(int dtype, const void *base, int64_t elem) {
    switch (dtype) {
    case CV_F32: return ((const float *)base)[elem];
    case CV_BF16: return ref_bf16_to_f32(((const uint16_t *)base)[elem]);
    case CV_F16: return ref_f16_to_f32(((const uint16_t *)base)[elem]);
    case CV_I32: return ((const int32_t *)base)[elem];
    case CV_U8: return ((const uint8_t *)base)[elem];
    default: return 0.0;
    }
}

/* Integer targets truncate toward zero like PyTorch's .to(int); out-of-range
 * values saturate and NaN becomes 0 (PyTorch leaves those undefined). */
void ref_store(int dtype, void *base, int64_t elem, double v) {
    switch (dtype) {
    case CV_F32: ((float *)base)[elem] = (float)v; break;
    case CV_BF16: ((uint16_t *)base)[elem] = ref_f32_to_bf16((float)v); break;
    case CV_F16: ((uint16_t *)base)[elem] = ref_f32_to_f16((float)v); break;
    case CV_I32: {
        double t = isnan(v) ? 0.0 : trunc(v);
        if (t > 2147483647.0) t = 2147483647.0;
        if (t < -2147483648.0) t = -2147483648.0;
        ((int32_t *)base)[elem] = (int32_t)t;
        break;
    }
    case CV_U8: {
        double t = isnan(v) ? 0.0 : trunc(v);
        if (t > 255.0) t = 255.0;
        if (t < 0.0) t = 0.0;
        ((uint8_t *)base)[elem] = (uint8_t)t;
        break;
    }
    default: break;
    }
}

int64_t ref_numel(const cv_ktensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

int64_t ref_offset(const cv_ktensor *t, int64_t i) {
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t s = t->shape[d];
        if (s <= 0) return 0;
        off += (i % s) * t->stride[d];
        i /= s;
    }
    return off;
}

int ref_is_contiguous(const cv_ktensor *t) {
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != expect) return 0;
        expect *= t->shape[d];
    }
    return 1;
}

int ref_convert_copy(const cv_host *host, const cv_kernel *k, const char *op_name, cv_error *err) {
    if (k->n_in != 1 || k->n_out != 1)
        return host->set_error(err, CV_ERR_INVALID, "ref backend: %s: expects 1 input and 1 output, got %d and %d",
                               op_name, k->n_in, k->n_out);
    const cv_ktensor *x = &k->in[0], *y = &k->out[0];
    int64_t n = ref_numel(x);
    if (n != ref_numel(y))
        return host->set_error(err, CV_ERR_INVALID,
                               "ref backend: %s: input has %lld elements but the output has %lld",
                               op_name, (long long)n, (long long)ref_numel(y));
    if (k->op == CV_OP_CAST && k->params && k->params_size >= sizeof(cv_cast_params) &&
        ((const cv_cast_params *)k->params)->dtype != y->dtype)
        return host->set_error(err, CV_ERR_INVALID, "ref backend: CAST: params ask for dtype %d but the output is dtype %d",
                               ((const cv_cast_params *)k->params)->dtype, y->dtype);
    /* element by element through double: exact for every dtype pair */
    for (int64_t i = 0; i < n; i++)
        ref_store(y->dtype, y->data, ref_offset(y, i), ref_load(x->dtype, x->data, ref_offset(x, i)));
    return CV_OK;
}
