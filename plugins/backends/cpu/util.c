/* plugins/backends/cpu/util.c — helpers shared by the CPU kernels: scratch
 * memory, strided tensor walks with dtype conversion, dense packing of strided
 * operands, op names for error messages. */
#include "cpu.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- scratch ------------------------------------------------------------------ */
int scratch_begin(cpu_scratch *s, const cv_kernel *k, size_t need) {
    memset(s, 0, sizeof *s);
    if (need == 0) return CV_OK;
    if (k->workspace && k->workspace_bytes >= need) {
        s->base = k->workspace;
        s->size = k->workspace_bytes;
        return CV_OK;
    }
    /* the host did not prepare this node: allocate privately */
    s->base = aligned_alloc(64, (need + 63) & ~(size_t)63);
    if (!s->base) return CV_ERR_NOMEM;
    s->size = need;
    s->owned = 1;
    return CV_OK;
}
void *scratch_take(cpu_scratch *s, size_t bytes) {
    size_t at = (s->used + 63) & ~(size_t)63;
    if (at + bytes > s->size) return NULL;
    s->used = at + bytes;
    return s->base + at;
}
void scratch_end(cpu_scratch *s) {
    if (s->owned) free(s->base);
    memset(s, 0, sizeof *s);
}

/* ---- tensors -------------------------------------------------------------------- */
int64_t kt_numel(const cv_ktensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}
int kt_contiguous(const cv_ktensor *t) {
    int64_t expect = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != expect) return 0;
        expect *= t->shape[i];
    }
    return 1;
}
size_t dtype_size(int dtype) {
    switch (dtype) {
    case CV_F32: case CV_I32: return 4;
    case CV_BF16: case CV_F16: return 2;
    case CV_U8: return 1;
    default: return 0;
    }
}
const char *kt_shape_str(const cv_ktensor *t, char *buf, size_t n) {
    size_t at = 0;
    at += (size_t)snprintf(buf + at, n - at, "[");
    for (int i = 0; i < t->ndim && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, i ? ",%lld" : "%lld", (long long)t->shape[i]);
    if (at < n) snprintf(buf + at, n - at, "]");
    return buf;
}
cv_ktensor kt_dense(const cv_ktensor *t, void *data) {
    cv_ktensor d = *t;
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) { d.stride[i] = s; s *= t->shape[i]; }
    d.data = data;
    return d;
}

const char *op_name(int op) {
    switch (op) {
    case CV_OP_CONV2D: return "conv2d";
    case CV_OP_CONV3D: return "conv3d";
    case CV_OP_MATMUL: return "matmul";
    case CV_OP_LINEAR: return "linear";
    case CV_OP_BATCH_NORM: return "batch_norm";
    case CV_OP_LAYER_NORM: return "layer_norm";
    case CV_OP_GROUP_NORM: return "group_norm";
    case CV_OP_UNARY: return "unary";
    case CV_OP_BINARY: return "binary";
    case CV_OP_SCALAR: return "scalar";
    case CV_OP_REDUCE: return "reduce";
    case CV_OP_POOL2D: return "pool2d";
    case CV_OP_ADAPTIVE_AVG_POOL2D: return "adaptive_avg_pool2d";
    case CV_OP_RESIZE: return "resize";
    case CV_OP_CONCAT: return "concat";
    case CV_OP_SLICE: return "slice";
    case CV_OP_PAD: return "pad";
    case CV_OP_RESHAPE: return "reshape";
    case CV_OP_PERMUTE: return "permute";
    case CV_OP_SOFTMAX: return "softmax";
    case CV_OP_DROPOUT: return "dropout";
    case CV_OP_DROP_PATH: return "drop_path";
    case CV_OP_CROSS_ENTROPY: return "cross_entropy";
    case CV_OP_BCE_LOGITS: return "bce_logits";
    case CV_OP_SMOOTH_L1: return "smooth_l1";
    case CV_OP_CAST: return "cast";
    case CV_OP_EMBEDDING: return "embedding";
    case CV_OP_BROADCAST_TO: return "broadcast_to";
    case CV_OP_SUM_TO: return "sum_to";
    case CV_OP_CONV2D_BWD_DATA: return "conv2d_bwd_data";
    case CV_OP_CONV2D_BWD_WEIGHT: return "conv2d_bwd_weight";
    case CV_OP_BATCH_NORM_BWD: return "batch_norm_bwd";
    case CV_OP_LAYER_NORM_BWD: return "layer_norm_bwd";
    case CV_OP_GROUP_NORM_BWD: return "group_norm_bwd";
    case CV_OP_UNARY_BWD: return "unary_bwd";
    case CV_OP_POOL2D_BWD: return "pool2d_bwd";
    case CV_OP_ADAPTIVE_AVG_POOL2D_BWD: return "adaptive_avg_pool2d_bwd";
    case CV_OP_RESIZE_BWD: return "resize_bwd";
    case CV_OP_SOFTMAX_BWD: return "softmax_bwd";
    case CV_OP_DROPOUT_BWD: return "dropout_bwd";
    case CV_OP_CROSS_ENTROPY_BWD: return "cross_entropy_bwd";
    case CV_OP_BCE_LOGITS_BWD: return "bce_logits_bwd";
    case CV_OP_SMOOTH_L1_BWD: return "smooth_l1_bwd";
    case CV_OP_EMBEDDING_BWD: return "embedding_bwd";
    case CV_OP_SGD_UPDATE: return "sgd_update";
    case CV_OP_ADAM_UPDATE: return "adam_update";
    case CV_OP_RMSPROP_UPDATE: return "rmsprop_update";
    case CV_OP_LAMB_UPDATE: return "lamb_update";
    case CV_OP_SUMSQ: return "sumsq";
    case CV_OP_AXPBY: return "axpby";
    case CV_OP_FILL: return "fill";
    case CV_OP_COPY: return "copy";
    case CV_OP_NONFINITE: return "nonfinite";
    default: return NULL;
    }
}

/* ---- dtype conversion ------------------------------------------------------------- */
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) u = sign;
        else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            u = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) u = sign | 0x7f800000u | (man << 13);
    else u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint16_t f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* overflow to inf */
    if (a < 0x38800000u) { /* subnormal half or zero */
        float af;
        memcpy(&af, &a, 4);
        uint32_t m = (uint32_t)(af * 16777216.0f + 0.5f); /* units of 2^-24 */
        float back = (float)m;
        if (back - af * 16777216.0f == 0.5f && (m & 1u)) m--; /* ties to even */
        return (uint16_t)(sign | m);
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - 0x38000000u; /* rebias 127 -> 15, round even */
    return (uint16_t)(sign | (r >> 13));
}

static inline float load_f(const char *p, int dt) {
    switch (dt) {
    case CV_F32: return *(const float *)p;
    case CV_BF16: return bf16_to_f32(*(const uint16_t *)p);
    case CV_F16: return f16_to_f32(*(const uint16_t *)p);
    case CV_I32: return (float)*(const int32_t *)p;
    default: return (float)*(const uint8_t *)p;
    }
}
static inline void store_f(char *p, int dt, float v) {
    switch (dt) {
    case CV_F32: *(float *)p = v; break;
    case CV_BF16: *(uint16_t *)p = bf16_from_f32(v); break;
    case CV_F16: *(uint16_t *)p = f32_to_f16(v); break;
    case CV_I32: *(int32_t *)p = v != v ? 0 : v >= 2147483647.0f ? INT32_MAX : v <= -2147483648.0f ? INT32_MIN : (int32_t)v; break;
    default: *(uint8_t *)p = v != v || v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v; break;
    }
}

/* ---- strided copy -------------------------------------------------------------------- */
void strided_copy(const cv_ktensor *dst, const cv_ktensor *src, int threads) {
    int nd = dst->ndim;
    int64_t n = kt_numel(dst);
    if (n == 0) return;
    size_t ds = dtype_size(dst->dtype), ss = dtype_size(src->dtype);
    if (dst->dtype == src->dtype && kt_contiguous(dst) && kt_contiguous(src) && src->ndim == nd) {
        if (dst->data != src->data) memmove(dst->data, src->data, (size_t)n * ds);
        return;
    }
    int64_t inner = nd ? dst->shape[nd - 1] : 1;
    int64_t dsi = nd ? dst->stride[nd - 1] : 1, ssi = nd ? src->stride[nd - 1] : 1;
    int64_t rows = n / inner;
    const int same = dst->dtype == src->dtype;
    #pragma omp parallel for num_threads(threads) schedule(static) if (n > 32768)
    for (int64_t r = 0; r < rows; r++) {
        int64_t rem = r, doff = 0, soff = 0;
        for (int d = nd - 2; d >= 0; d--) {
            int64_t c = rem % dst->shape[d];
            rem /= dst->shape[d];
            doff += c * dst->stride[d];
            soff += c * src->stride[d];
        }
        char *dp = (char *)dst->data + (size_t)doff * ds;
        const char *sp = (const char *)src->data + (size_t)soff * ss;
        if (same && ds == 4) {
            float *o = (float *)dp;
            const float *x = (const float *)sp;
            if (dsi == 1 && ssi == 1) memcpy(o, x, (size_t)inner * 4);
            else for (int64_t i = 0; i < inner; i++) o[i * dsi] = x[i * ssi];
        } else if (same) {
            for (int64_t i = 0; i < inner; i++) memcpy(dp + (size_t)(i * dsi) * ds, sp + (size_t)(i * ssi) * ss, ds);
        } else {
            for (int64_t i = 0; i < inner; i++)
                store_f(dp + (size_t)(i * dsi) * ds, dst->dtype, load_f(sp + (size_t)(i * ssi) * ss, src->dtype));
        }
    }
}

/* ---- dense packing -------------------------------------------------------------------- */
size_t dense_bytes(const cv_kernel *k) {
    size_t total = 0;
    for (int i = 0; i < k->n_in; i++)
        if (!kt_contiguous(&k->in[i])) total += ((size_t)kt_numel(&k->in[i]) * dtype_size(k->in[i].dtype) + 63) & ~(size_t)63;
    for (int i = 0; i < k->n_out; i++)
        if (!kt_contiguous(&k->out[i])) total += ((size_t)kt_numel(&k->out[i]) * dtype_size(k->out[i].dtype) + 63) & ~(size_t)63;
    return total;
}

int dense_start(cpu_dense *d, const cv_kernel *k, cpu_scratch *s, int threads, int copy_outputs_in) {
    if (k->n_in > 8 || k->n_out > 8) return CV_ERR_UNSUPPORTED;
    d->k = *k;
    d->orig = k;
    for (int i = 0; i < k->n_in; i++) {
        d->in[i] = k->in[i];
        if (kt_contiguous(&k->in[i])) continue;
        void *p = scratch_take(s, (size_t)kt_numel(&k->in[i]) * dtype_size(k->in[i].dtype));
        if (!p) return CV_ERR_NOMEM;
        d->in[i] = kt_dense(&k->in[i], p);
        strided_copy(&d->in[i], &k->in[i], threads);
    }
    for (int i = 0; i < k->n_out; i++) {
        d->out[i] = k->out[i];
        if (kt_contiguous(&k->out[i])) continue;
        void *p = scratch_take(s, (size_t)kt_numel(&k->out[i]) * dtype_size(k->out[i].dtype));
        if (!p) return CV_ERR_NOMEM;
        d->out[i] = kt_dense(&k->out[i], p);
        if (copy_outputs_in) strided_copy(&d->out[i], &k->out[i], threads);
    }
    d->k.in = d->in;
    d->k.out = d->out;
    /* what is left of the scratch is the kernel's own workspace */
    size_t at = (s->used + 63) & ~(size_t)63;
    d->k.workspace = at < s->size ? s->base + at : NULL;
    d->k.workspace_bytes = at < s->size ? s->size - at : 0;
    return CV_OK;
}

void dense_finish(cpu_dense *d, int threads) {
    for (int i = 0; i < d->orig->n_out; i++)
        if (d->out[i].data != d->orig->out[i].data) strided_copy(&d->orig->out[i], &d->out[i], threads);
}
