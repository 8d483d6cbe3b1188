/* plugins/backends/cpu/layout.c — the blocked activation layout (ABI 1.1,
 * CV_LAYOUT_C16 = oneDNN's nChw16c) on the CPU backend: which ops take it
 * (layout_class), the check that a kernel's layouts are ones this backend
 * honours, and the two C16 kernels that end and start a blocked region at a
 * global average pool: REDUCE over H,W and BROADCAST_TO from [N,C,1,1].
 * Convolutions and pooling pass nChw16c to oneDNN (dnn.c, dnn_ops.c), batch norm
 * has C16 loops (bnorm.c), pooling gradients and adaptive pooling walk planes with
 * a pixel step (spatial.c); elementwise ops on equal shapes are layout-agnostic. */
#include "cpu.h"

#include <string.h>

int kt_any_blocked(const cv_kernel *k) {
    for (int io = 0; io < 2; io++)
        for (int i = 0; i < (io ? k->n_out : k->n_in); i++)
            if (cv_kernel_layout(k, io, i) != CV_LAYOUT_PLAIN) return 1;
    return 0;
}

int64_t plane_at(const cv_ktensor *t, int layout, int64_t plane, int64_t *step) {
    const int64_t C = t->shape[1], hw = t->shape[2] * t->shape[3];
    if (layout != CV_LAYOUT_C16) {
        *step = 1;
        return plane * hw;
    }
    const int64_t n = plane / C, c = plane % C;
    *step = 16;
    return ((n * (C / 16) + c / 16) * hw) * 16 + c % 16;
}

/* the ops whose kernels take blocked activations stored in bf16 (precision =
 * bf16; ABI 1.4): oneDNN's convolutions and pooling, the C16 batch norm and
 * pooling gradient, element-wise ops on equal shapes (eltwise_bf16,
 * strided_copy), adaptive pooling and the global pool's C16 loops */
static int takes_bf16(const cpu_backend *b, const cv_kernel *k) {
    switch (k->op) {
    case CV_OP_POOL2D: return dnn_handles(b, k); /* our own forward loop is f32 only */
    case CV_OP_POOL2D_BWD: case CV_OP_ADAPTIVE_AVG_POOL2D: case CV_OP_ADAPTIVE_AVG_POOL2D_BWD: return 1;
    case CV_OP_CONV2D: case CV_OP_CONV2D_BWD_DATA: case CV_OP_CONV2D_BWD_WEIGHT: case CV_OP_BATCH_NORM:
    case CV_OP_BATCH_NORM_BWD: case CV_OP_UNARY: case CV_OP_UNARY_BWD: case CV_OP_BINARY: case CV_OP_SCALAR:
    case CV_OP_COPY: case CV_OP_FILL:
        return 1;
    case CV_OP_REDUCE: case CV_OP_BROADCAST_TO:
        return cv_kernel_reduce_hw(k) || cv_kernel_broadcast_hw(k);
    default:
        return 0;
    }
}

static int layout_class_f32(cpu_backend *b, const cv_kernel *k) {
    switch (k->op) {
    case CV_OP_CONV2D: case CV_OP_CONV2D_BWD_DATA: case CV_OP_CONV2D_BWD_WEIGHT:
        return b->blocked && dnn_handles(b, k) ? CV_LAYOUT_CLASS_FREE : CV_LAYOUT_CLASS_PLAIN;
    case CV_OP_BATCH_NORM: case CV_OP_BATCH_NORM_BWD:
        return !b->onednn_bn && k->n_in == 5 && k->in[0].ndim == 4 ? CV_LAYOUT_CLASS_UNIFORM : CV_LAYOUT_CLASS_PLAIN;
    case CV_OP_POOL2D: case CV_OP_POOL2D_BWD:
        return pool_geometry_ok(k) ? CV_LAYOUT_CLASS_UNIFORM : CV_LAYOUT_CLASS_PLAIN;
    default: {
        const int c = cv_kernel_shape_layout_class(k);
        return c >= 0 ? c : CV_LAYOUT_CLASS_PLAIN;
    }
    }
}

/* The class of k; with precision = bf16 it carries CV_LAYOUT_CLASS_BF16 for the
 * ops that take bf16 activations.  A node given bf16 4-D operands (the engine's
 * storage) is classed as its f32 version, so that without the flag its check
 * names the 16-bit operand. */
int cpu_layout_class(void *self, const cv_kernel *k) {
    cpu_backend *b = self;
    for (int io = 0; io < 2; io++)
        for (int i = 0; i < (io ? k->n_out : k->n_in); i++) {
            const cv_ktensor *t = io ? &k->out[i] : &k->in[i];
            if (t->dtype != CV_F32 && !(t->dtype == CV_BF16 && t->ndim == 4)) return CV_LAYOUT_CLASS_PLAIN;
        }
    const int c = layout_class_f32(b, k);
    return c != CV_LAYOUT_CLASS_PLAIN && b->bf16 && takes_bf16(b, k) ? c | CV_LAYOUT_CLASS_BF16 : c;
}

int layout_check(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    if (!kt_any_blocked(k)) return CV_OK;
    int io, i;
    const int l = cv_kernel_foreign_layout(k, CV_LAYOUT_C16, &io, &i);
    if (l != CV_LAYOUT_PLAIN)
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: %s %d has unknown layout %d", op_name(k->op),
                        io ? "output" : "input", i, l);
    const char *why = cv_kernel_layout_fault(k, cpu_layout_class(b, k), CV_LAYOUT_C16, &io, &i);
    if (!why) return CV_OK;
    char s[64];
    return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: %s %d %s is given the blocked layout (C16), which this op %s",
                    op_name(k->op), io ? "output" : "input", i, kt_shape_str(io ? &k->out[i] : &k->in[i], s, sizeof s),
                    why);
}

/* The 4-D side of run_hw when it is plain: the same sums and copies through its
 * strides, one (n, c) plane at a time; the small side by its strides too ([N,C],
 * [N,C,1,1], or over N, H, W [C] or [1,C,1,1]). */
static void hw_plain(cpu_backend *b, const cv_kernel *k, int bcast, double scale) {
    const cv_ktensor *big = bcast ? &k->out[0] : &k->in[0], *small = bcast ? &k->in[0] : &k->out[0];
    const int64_t N = big->shape[0], C = big->shape[1], H = big->shape[2], W = big->shape[3];
    const int64_t *bs = big->stride, sn = small->ndim > 1 ? small->stride[0] : 0,
                  sc = small->ndim > 1 ? small->stride[1] : small->stride[0];
    const int bt = big->dtype, sm = small->dtype, all_n = !bcast && ((const cv_reduce_params *)k->params)->axes == 0xDu;
    #pragma omp parallel for num_threads(b->threads) schedule(static)
    for (int64_t r = 0; r < (all_n ? C : N * C); r++) {
        /* the images of this output: all of them over N, H, W, else image r / C */
        const int64_t c = all_n ? r : r % C, n0 = all_n ? 0 : r / C, n1 = all_n ? N : n0 + 1, so = n0 * sn + c * sc;
        const float v = bcast ? act_load(small->data, sm, so) : 0.0f;
        double acc = 0;
        for (int64_t n = n0; n < n1; n++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) {
                    const int64_t at = n * bs[0] + c * bs[1] + h * bs[2] + w * bs[3];
                    if (bcast) act_store(big->data, bt, at, v);
                    else acc += act_load(big->data, bt, at);
                }
        if (!bcast) act_store(small->data, sm, so, (float)(acc * scale));
    }
}

/* REDUCE over H, W (or N, H, W) and BROADCAST_TO from [N,C,1,1]
 * (cv_kernel_reduce_hw / cv_kernel_broadcast_hw) where the 4-D side is C16 or either
 * side is stored in bf16 (precision = bf16): a blocked group may end at such a
 * node on either side, since a 1x1 plane is the same bytes in both layouts (e.g.
 * a squeeze-excitation block's pool, plain f32 in, feeding a blocked bf16 1x1
 * convolution) */
int run_hw(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    const int bcast = k->op == CV_OP_BROADCAST_TO;
    const cv_ktensor *big = bcast ? &k->out[0] : &k->in[0], *small = bcast ? &k->in[0] : &k->out[0];
    const int64_t N = big->shape[0], C = big->shape[1], HW = big->shape[2] * big->shape[3], CB = C / 16;
    const int bt = big->dtype, sm = small->dtype;
    void *bd = big->data, *sd = small->data;
    const cv_reduce_params *p = k->params;
    for (int i = 0; i < 2; i++) {
        const int dt = i ? sm : bt;
        if (dt != CV_F32 && dt != CV_BF16)
            return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: %s: dtype %d (f32 or bf16 only)", op_name(k->op), dt);
        if (dt == CV_BF16 && !b->bf16)
            return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: %s: bf16 operands need precision = bf16", op_name(k->op));
    }
    const double scale = bcast ? 1.0 : p->fn != CV_R_MEAN ? 1.0 : 1.0 / (double)(p->axes == 0xDu ? N * HW : HW);
    if (cv_kernel_layout(k, bcast, 0) != CV_LAYOUT_C16) {
        hw_plain(b, k, bcast, scale);
        return CV_OK;
    }
    if (!bcast && p->axes == 0xDu) { /* [C] = sum (or mean) over N, H, W */
        #pragma omp parallel for num_threads(b->threads) schedule(static)
        for (int64_t cb = 0; cb < CB; cb++) {
            double acc[16] = { 0 };
            for (int64_t n = 0; n < N; n++) {
                const int64_t at = (n * CB + cb) * HW * 16;
                for (int64_t i = 0; i < HW; i++)
                    for (int l = 0; l < 16; l++) acc[l] += act_load(bd, bt, at + i * 16 + l);
            }
            for (int l = 0; l < 16; l++) act_store(sd, sm, cb * 16 + l, (float)(acc[l] * scale));
        }
        return CV_OK;
    }
    #pragma omp parallel for num_threads(b->threads) schedule(static)
    for (int64_t r = 0; r < N * CB; r++) {
        const int64_t at = r * HW * 16, v = r * 16; /* [N,C] row r/CB, channels (r%CB)*16.. */
        if (bcast) { /* the 16 values once in the output's dtype, then a copy per pixel */
            char px[16 * sizeof(float)];
            const size_t es = bt == CV_BF16 ? 2 : 4;
            for (int l = 0; l < 16; l++) act_store(px, bt, l, act_load(sd, sm, v + l));
            for (int64_t i = 0; i < HW; i++) memcpy((char *)bd + (size_t)(at + i * 16) * es, px, 16 * es);
        } else {
            double acc[16] = { 0 };
            for (int64_t i = 0; i < HW; i++)
                for (int l = 0; l < 16; l++) acc[l] += act_load(bd, bt, at + i * 16 + l);
            for (int l = 0; l < 16; l++) act_store(sd, sm, v + l, (float)(acc[l] * scale));
        }
    }
    return CV_OK;
}
