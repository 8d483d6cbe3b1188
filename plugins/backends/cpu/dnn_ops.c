/* plugins/backends/cpu/dnn_ops.c — which ops go through oneDNN and how each is
 * described: convolution forward / backward-data / backward-weights (groups,
 * dilation, asymmetric right padding), matmul and linear (transposes and batch
 * broadcasting as strides), batch norm forward (training, inference) and
 * backward, pooling forward.  Convolutions let oneDNN pick a blocked layout
 * (format_tag_any) and reorder at the edges of the op unless conv_layout=plain;
 * conv_algorithm=auto (the default) lets it use Winograd where it is faster. */
#include "dnn.h"

#include <math.h>
#include <string.h>

/* every operand f32, but for the 4-D activations of a convolution or pooling,
 * which may be bf16 with precision = bf16 (stored so by the engine) */
static int dtypes_ok(const cpu_backend *b, const cv_kernel *k) {
    const int act = k->op == CV_OP_CONV2D || k->op == CV_OP_CONV2D_BWD_DATA || k->op == CV_OP_CONV2D_BWD_WEIGHT ||
                    k->op == CV_OP_POOL2D;
    for (int io = 0; io < 2; io++)
        for (int i = 0; i < (io ? k->n_out : k->n_in); i++) {
            const cv_ktensor *t = io ? &k->out[i] : &k->in[i];
            if (t->dtype != CV_F32 && !(act && b->bf16 && t->dtype == CV_BF16 && t->ndim == 4)) return 0;
        }
    return 1;
}

/* PyTorch's avg pool divisor with count_include_pad clips windows to the padded
 * input; oneDNN's include-padding divides by the full kernel.  They agree unless a
 * ceil-mode window runs past the right padding: those go to our own loop. */
static int pool_exact(const cv_kernel *k) {
    const cv_pool_params *p = k->params;
    if (!p || k->n_in < 1 || k->n_out < 1 || k->in[0].ndim != 4 || k->out[0].ndim != 4) return 0;
    if (!pool_geometry_ok(k)) return 0; /* our loop reports the error */
    if (p->fn == CV_POOL_MAX || !p->count_include_pad) return 1;
    for (int d = 0; d < 2; d++) {
        int64_t in = k->in[0].shape[2 + d], out = k->out[0].shape[2 + d];
        if ((out - 1) * p->stride[d] + p->kernel[d] > in + 2 * (int64_t)p->pad[d]) return 0;
    }
    return 1;
}

int dnn_handles(const cpu_backend *b, const cv_kernel *k) {
    if (!dtypes_ok(b, k)) return 0;
    switch (k->op) {
    case CV_OP_CONV2D: case CV_OP_CONV2D_BWD_DATA: case CV_OP_CONV2D_BWD_WEIGHT:
        return k->params != NULL && k->n_in >= 2 && k->n_out >= 1 && k->in[0].ndim == 4 && k->in[1].ndim == 4;
    case CV_OP_MATMUL:
        return k->n_in == 2 && k->n_out == 1 && k->in[0].ndim >= 2 && k->in[1].ndim >= 2 && k->out[0].ndim >= 2;
    case CV_OP_LINEAR:
        return k->n_in >= 2 && k->n_out == 1 && k->in[0].ndim >= 1 && k->in[1].ndim == 2;
    case CV_OP_BATCH_NORM: case CV_OP_BATCH_NORM_BWD:
        return b->onednn_bn && k->params != NULL && k->n_in >= 5 && k->in[0].ndim >= 2 && k->in[0].ndim <= 5;
    case CV_OP_POOL2D:
        return pool_exact(k);
    default:
        return 0;
    }
}

static void md_any(dnnl_memory_desc_t *md, const cv_ktensor *t, dnnl_data_type_t dt) {
    dnnl_dims_t dims;
    for (int d = 0; d < t->ndim; d++) dims[d] = t->shape[d];
    dnnl_memory_desc_init_by_tag(md, t->ndim, dims, dt, dnnl_format_tag_any);
}

/* grouped weights [O, C/g, kh, kw] seen as [g, O/g, C/g, kh, kw] (dense) */
static void md_weights(dnnl_memory_desc_t *md, const cv_ktensor *w, int groups, int any, dnnl_data_type_t dt) {
    dnnl_dims_t dims, strides;
    int nd = 4;
    if (groups > 1) {
        nd = 5;
        dims[0] = groups;
        dims[1] = w->shape[0] / groups;
        for (int d = 1; d < 4; d++) dims[d + 1] = w->shape[d];
    } else
        for (int d = 0; d < 4; d++) dims[d] = w->shape[d];
    if (any) {
        dnnl_memory_desc_init_by_tag(md, nd, dims, dt, dnnl_format_tag_any);
        return;
    }
    int64_t s = 1;
    for (int d = nd - 1; d >= 0; d--) { strides[d] = s; s *= dims[d]; }
    dnnl_memory_desc_init_by_strides(md, nd, dims, dt, strides);
}

/* oneDNN's direct weight-gradient kernels starve when the output plane is tiny
 * (ResNet's last stage: 4x4 at 128 px runs at ~12 GFLOP/s in fp32, a tenth of the
 * other layers; in bf16 at 21-66 % of the vdpbf16ps peak): there the reduction over
 * Ho*Wo is short per image.  For such layers
 * dW[O, C*kh*kw] = dy^T[O, N*Ho*Wo] x im2col(x)[N*Ho*Wo, C*kh*kw] is one GEMM with
 * a long K, run by oneDNN's matmul (bf16 operands, f32 result with precision =
 * bf16); the two operands are built in the workspace. */
#define GEMM_DW_MAX_PLANE 16 /* 8x8 planes measured about even with the direct kernel */
/* bf16: up to 7x7 — ResNet-50's last stage at 224 px, where oneDNN's direct bf16
 * kernel ran at 35-73 % of the vdpbf16ps peak (8x8 layers at 128 px at 88-90 %) */
#define GEMM_DW_MAX_PLANE_BF16 49
#define GEMM_DW_MAX_COL (16u << 20) /* im2col bytes */

static int build_conv_gemm_dw(dnn_build *bd, const cv_ktensor *x, const cv_ktensor *w, const cv_ktensor *y) {
    const cv_conv_params *p = bd->k->params;
    dnn_node *n = bd->node;
    n->gemm_dw = 1;
    n->cv_n = x->shape[0]; n->cv_c = x->shape[1]; n->cv_h = x->shape[2]; n->cv_w = x->shape[3];
    n->cv_o = w->shape[0]; n->cv_kh = w->shape[2]; n->cv_kw = w->shape[3]; n->cv_ho = y->shape[2]; n->cv_wo = y->shape[3];
    n->cv_sh = p->stride[0]; n->cv_sw = p->stride[1]; n->cv_ph = p->pad[0]; n->cv_pw = p->pad[1];
    n->cv_dh = p->dilation[0]; n->cv_dw = p->dilation[1];
    n->gemm_bf16 = bd->b->bf16;
    const dnnl_data_type_t dt = n->gemm_bf16 ? dnnl_bf16 : dnnl_f32;
    int64_t K = n->cv_n * n->cv_ho * n->cv_wo, M = n->cv_o, N = n->cv_c * n->cv_kh * n->cv_kw;
    dnnl_memory_desc_t amd, bmd, cmd;
    dnnl_dims_t ad = { M, K }, as = { K, 1 }, bdm = { K, N }, bs = { N, 1 }, cd = { M, N }, cs = { N, 1 };
    dnnl_memory_desc_init_by_strides(&amd, 2, ad, dt, as);
    dnnl_memory_desc_init_by_strides(&bmd, 2, bdm, dt, bs);
    dnnl_memory_desc_init_by_strides(&cmd, 2, cd, dnnl_f32, cs);
    dnnl_matmul_desc_t desc;
    dnnl_status_t s = dnnl_matmul_desc_init(&desc, &amd, &bmd, NULL, &cmd);
    dnnl_primitive_attr_t attr = dnn_attr();
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&bd->pd, &desc, attr, bd->b->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return dnn_fail(bd, s, "weight-gradient matmul");
    int st;
    n->dyt_arg = n->nargs;
    if ((st = dnn_arg_add(bd, DNNL_ARG_SRC, 0, -1, NULL))) return st;
    n->col_arg = n->nargs;
    if ((st = dnn_arg_add(bd, DNNL_ARG_WEIGHTS, 0, -1, NULL))) return st;
    if ((st = dnn_arg_add(bd, DNNL_ARG_DST, 1, 0, &cmd))) return st;
    return dnn_finish(bd);
}

/* n elements of a GEMM operand (dst[di + l * dstep]) from an activation
 * (src[si + l * sstep]); mode 0: f32 to f32, 1: bf16 to bf16 (a copy), 2: f32 to
 * bf16 (rounded); src NULL: zeros (+0 in both) */
static inline void gemm_run(char *dst, int64_t di, int64_t dstep, const void *src, int64_t si, int64_t sstep, int64_t n,
                            int mode) {
    if (mode == 0) {
        float *d = (float *)dst + di;
        const float *x = src ? (const float *)src + si : NULL;
        for (int64_t l = 0; l < n; l++) d[l * dstep] = x ? x[l * sstep] : 0.0f;
        return;
    }
    uint16_t *d = (uint16_t *)dst + di;
    if (!src)
        for (int64_t l = 0; l < n; l++) d[l * dstep] = 0;
    else if (mode == 1)
        for (int64_t l = 0; l < n; l++) d[l * dstep] = ((const uint16_t *)src)[si + l * sstep];
    else
        for (int64_t l = 0; l < n; l++) d[l * dstep] = bf16_from_f32(((const float *)src)[si + l * sstep]);
}

/* the GEMM operands: dy^T and im2col(x), both dense in the workspace (f32, or bf16
 * with precision = bf16; dy and x may be stored in either, plain or C16).  Channels
 * move in runs of 16 (a C16 block's pixel), each run found by plane_at. */
static void gemm_dw_operands(const dnn_node *n, const cv_kernel *k, char *ws, int threads) {
    const int64_t N = n->cv_n, C = n->cv_c, H = n->cv_h, W = n->cv_w, O = n->cv_o, Ho = n->cv_ho, Wo = n->cv_wo;
    const int64_t KH = n->cv_kh, KW = n->cv_kw, P = Ho * Wo, K = N * P, KHW = KH * KW, CK = C * KHW;
    const int ly = cv_kernel_layout(k, 0, 0), lx = cv_kernel_layout(k, 0, 1); /* either may be C16 */
    const int my = n->gemm_bf16 ? (k->in[0].dtype == CV_BF16 ? 1 : 2) : 0;
    const int mx = n->gemm_bf16 ? (k->in[1].dtype == CV_BF16 ? 1 : 2) : 0;
    const void *dy = k->in[0].data, *x = k->in[1].data;
    char *dyt = ws + n->args[n->dyt_arg].ws_off, *col = ws + n->args[n->col_arg].ws_off;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t o = 0; o < O; o++)
        for (int64_t b = 0; b < N; b++) { /* dyt[o][b * P + q] = dy(b, o, q) */
            int64_t step, at = plane_at(&k->in[0], ly, b * O + o, &step);
            gemm_run(dyt, o * K + b * P, 1, dy, at, step, P, my);
        }
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < K; r++) { /* col[r][c * KHW + i * KW + j] = x(b, c, ih, iw) */
        const int64_t b = r / P, oh = (r % P) / Wo, ow = r % Wo;
        for (int64_t c0 = 0; c0 < C; c0 += 16) {
            /* channels c0.. of image b: one pixel apart in C16, a plane apart when plain */
            int64_t step, at = plane_at(&k->in[1], lx, b * C + c0, &step);
            const int64_t m = C - c0 < 16 ? C - c0 : 16, cstep = lx == CV_LAYOUT_C16 ? 1 : H * W;
            for (int64_t i = 0; i < KH; i++) {
                const int64_t ih = oh * n->cv_sh - n->cv_ph + i * n->cv_dh;
                for (int64_t j = 0; j < KW; j++) {
                    const int64_t iw = ow * n->cv_sw - n->cv_pw + j * n->cv_dw, d = r * CK + c0 * KHW + i * KW + j;
                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) gemm_run(col, d, KHW, NULL, 0, 0, m, mx);
                    else gemm_run(col, d, KHW, x, at + (ih * W + iw) * step, cstep, m, mx);
                }
            }
        }
    }
}

static int build_conv(dnn_build *bd) {
    const cv_kernel *k = bd->k;
    const cv_conv_params *p = k->params;
    const int op = k->op;
    const cv_ktensor *x, *w, *y;
    conv_operands(k, &x, &w, &y);
    int g = p->groups > 0 ? p->groups : 1;
    char a[64], c[64], e[64];
    if (x->ndim != 4 || y->ndim != 4 || w->ndim != 4 || w->shape[0] % g || x->shape[1] != w->shape[1] * g ||
        y->shape[1] != w->shape[0] || x->shape[0] != y->shape[0] || p->stride[0] < 1 || p->stride[1] < 1 ||
        p->dilation[0] < 1 || p->dilation[1] < 1 || p->pad[0] < 0 || p->pad[1] < 0 ||
        y->shape[2] != (x->shape[2] + 2 * p->pad[0] - p->dilation[0] * (w->shape[2] - 1) - 1) / p->stride[0] + 1 ||
        y->shape[3] != (x->shape[3] + 2 * p->pad[1] - p->dilation[1] * (w->shape[3] - 1) - 1) / p->stride[1] + 1 ||
        (op == CV_OP_CONV2D && k->n_in > 2 && kt_numel(&k->in[2]) != w->shape[0]) ||
        (op == CV_OP_CONV2D_BWD_WEIGHT && k->n_out > 1 && kt_numel(&k->out[1]) != w->shape[0]))
        return CPU_FAIL(bd->b, bd->err, CV_ERR_INVALID,
                        "backend cpu: %s: shapes x %s, w %s, y %s do not match (groups %d, stride %dx%d, pad %dx%d, dilation %dx%d)",
                        op_name(op), kt_shape_str(x, a, sizeof a), kt_shape_str(w, c, sizeof c),
                        kt_shape_str(y, e, sizeof e), g, p->stride[0], p->stride[1], p->pad[0], p->pad[1],
                        p->dilation[0], p->dilation[1]);
    const int bf16 = bd->b->bf16;
    if (op == CV_OP_CONV2D_BWD_WEIGHT && g == 1 && k->n_out == 1 && kt_contiguous(x) && kt_contiguous(y) &&
        kt_contiguous(w) && y->shape[2] * y->shape[3] <= (bf16 ? GEMM_DW_MAX_PLANE_BF16 : GEMM_DW_MAX_PLANE) &&
        (size_t)(x->shape[0] * y->shape[2] * y->shape[3]) * (size_t)(w->shape[1] * w->shape[2] * w->shape[3]) *
                (bf16 ? 2 : 4) <= GEMM_DW_MAX_COL)
        return build_conv_gemm_dw(bd, x, w, y);
    dnnl_dims_t strides, dil, pl, pr;
    for (int d = 0; d < 2; d++) {
        int64_t kd = (w->shape[2 + d] - 1) * (int64_t)p->dilation[d] + 1;
        strides[d] = p->stride[d];
        dil[d] = p->dilation[d] - 1;
        pl[d] = p->pad[d];
        pr[d] = (y->shape[2 + d] - 1) * p->stride[d] + kd - x->shape[2 + d] - p->pad[d];
    }
    const int any = bd->b->blocked;
    /* auto lets oneDNN pick Winograd F(4x4, 3x3) for 3x3 stride-1 layers */
    /* auto: Winograd F(4x4, 3x3) asked for explicitly where oneDNN 2.6 has it and it
     * pays (batch >= 16, 3x3 stride 1, no dilation or groups, channels in blocks of
     * 16): its own heuristic keeps the direct kernel for some weight gradients that
     * Winograd runs about 2x faster (128 ch 16x16 at 128 px).  Otherwise, or if
     * the Winograd descriptor is refused, oneDNN's auto choice. */
    int wino = !bf16 && bd->b->conv_auto && any && g == 1 && x->shape[0] >= 16 && w->shape[2] == 3 && w->shape[3] == 3 &&
               p->stride[0] == 1 && p->stride[1] == 1 && p->dilation[0] == 1 && p->dilation[1] == 1 &&
               x->shape[1] % 16 == 0 && y->shape[1] % 16 == 0;
    /* bf16: the operands a step reads (x, w, dy) are bf16 (copies, unless the
     * engine stores the activation in bf16), what it writes (y, dx) f32 or the
     * bf16 the engine stores it in, and dw f32.  The forward descriptor (also the
     * backward passes' hint) has bf16 x and w. */
    const dnnl_data_type_t lo = bf16 ? dnnl_bf16 : dnnl_f32;
    const dnnl_data_type_t x_out = x->dtype == CV_BF16 ? dnnl_bf16 : dnnl_f32, y_out = y->dtype == CV_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t xmd, wmd, ymd, bmd, fx, fw, fy;
    if (any || bf16) {
        md_any(&xmd, x, op == CV_OP_CONV2D_BWD_DATA ? x_out : lo);
        md_any(&ymd, y, op == CV_OP_CONV2D ? y_out : lo);
        md_any(&fx, x, lo);
        md_any(&fy, y, y_out);
    } else {
        dnn_md_of(&xmd, x);
        dnn_md_of(&ymd, y);
        fx = xmd;
        fy = ymd;
    }
    md_weights(&wmd, w, g, any || bf16, op == CV_OP_CONV2D_BWD_WEIGHT ? dnnl_f32 : lo);
    md_weights(&fw, w, g, any || bf16, lo);
    int has_bias = (op == CV_OP_CONV2D && k->n_in > 2) || (op == CV_OP_CONV2D_BWD_WEIGHT && k->n_out > 1);
    if (has_bias) {
        dnnl_dims_t bd1 = { w->shape[0] };
        dnnl_memory_desc_init_by_tag(&bmd, 1, bd1, dnnl_f32, dnnl_x);
    }
    dnnl_status_t s = dnnl_unimplemented;
    for (int attempt = wino ? 0 : 1; attempt < 2 && s != dnnl_success; attempt++) {
        const dnnl_alg_kind_t alg = attempt == 0 ? dnnl_convolution_winograd
                                    : bd->b->conv_auto ? dnnl_convolution_auto : dnnl_convolution_direct;
        if (bd->hint) { dnnl_primitive_desc_destroy(bd->hint); bd->hint = NULL; }
        dnnl_convolution_desc_t fwd, bwd;
        s = dnnl_dilated_convolution_forward_desc_init(&fwd, dnnl_forward_training, alg, &fx, &fw,
                                                       has_bias ? &bmd : NULL, &fy, strides, dil, pl, pr);
        if (s != dnnl_success) continue;
        dnnl_primitive_attr_t attr = dnn_attr();
        if (op == CV_OP_CONV2D) {
            s = dnnl_primitive_desc_create(&bd->pd, &fwd, attr, bd->b->engine, NULL);
        } else {
            s = dnnl_primitive_desc_create(&bd->hint, &fwd, NULL, bd->b->engine, NULL);
            if (s == dnnl_success) {
                if (op == CV_OP_CONV2D_BWD_DATA)
                    s = dnnl_dilated_convolution_backward_data_desc_init(&bwd, alg, &xmd, &wmd, &ymd, strides, dil, pl, pr);
                else
                    s = dnnl_dilated_convolution_backward_weights_desc_init(&bwd, alg, &xmd, &wmd, has_bias ? &bmd : NULL,
                                                                            &ymd, strides, dil, pl, pr);
            }
            if (s == dnnl_success) s = dnnl_primitive_desc_create(&bd->pd, &bwd, attr, bd->b->engine, bd->hint);
        }
        dnnl_primitive_attr_destroy(attr);
    }
    if (s != dnnl_success) return dnn_fail(bd, s, "convolution primitive descriptor");
    dnnl_memory_desc_t wuser;
    md_weights(&wuser, w, g, 0, dnnl_f32);
    int st;
    if (op == CV_OP_CONV2D) {
        if ((st = dnn_arg_add(bd, DNNL_ARG_SRC, 0, 0, NULL))) return st;
        if ((st = dnn_arg_add(bd, DNNL_ARG_WEIGHTS, 0, 1, &wuser))) return st;
        if (has_bias && (st = dnn_arg_add(bd, DNNL_ARG_BIAS, 0, 2, NULL))) return st;
        if ((st = dnn_arg_add(bd, DNNL_ARG_DST, 1, 0, NULL))) return st;
    } else if (op == CV_OP_CONV2D_BWD_DATA) {
        if ((st = dnn_arg_add(bd, DNNL_ARG_DIFF_DST, 0, 0, NULL))) return st;
        if ((st = dnn_arg_add(bd, DNNL_ARG_WEIGHTS, 0, 1, &wuser))) return st;
        if ((st = dnn_arg_add(bd, DNNL_ARG_DIFF_SRC, 1, 0, NULL))) return st;
    } else {
        if ((st = dnn_arg_add(bd, DNNL_ARG_DIFF_DST, 0, 0, NULL))) return st;
        if ((st = dnn_arg_add(bd, DNNL_ARG_SRC, 0, 1, NULL))) return st;
        if ((st = dnn_arg_add(bd, DNNL_ARG_DIFF_WEIGHTS, 1, 0, &wuser))) return st;
        if (has_bias && (st = dnn_arg_add(bd, DNNL_ARG_DIFF_BIAS, 1, 1, NULL))) return st;
    }
    return dnn_finish(bd);
}

/* a matmul operand [.., R, C] (logical, after the optional transpose) padded to nd
 * dims; dense strides of the stored tensor */
static void md_mm(dnnl_memory_desc_t *md, const cv_ktensor *t, int nd, int trans) {
    dnnl_dims_t dims, strides, dense;
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) { dense[d] = s; s *= t->shape[d]; }
    int off = nd - t->ndim;
    for (int d = 0; d < nd; d++) {
        dims[d] = d < off ? 1 : t->shape[d - off];
        strides[d] = d < off ? (s > 0 ? s : 1) : dense[d - off];
    }
    if (trans) {
        int64_t tmp = dims[nd - 1]; dims[nd - 1] = dims[nd - 2]; dims[nd - 2] = tmp;
        tmp = strides[nd - 1]; strides[nd - 1] = strides[nd - 2]; strides[nd - 2] = tmp;
    }
    dnnl_memory_desc_init_by_strides(md, nd, dims, dnnl_f32, strides);
}

static int build_matmul(dnn_build *bd) {
    const cv_kernel *k = bd->k;
    const cv_ktensor *y = &k->out[0];
    dnnl_memory_desc_t amd, bmd, ymd, biasmd;
    int st, has_bias = 0;
    if (k->op == CV_OP_MATMUL) {
        const cv_matmul_params *p = k->params;
        int nd = y->ndim;
        md_mm(&amd, &k->in[0], nd, p ? p->trans_a : 0);
        md_mm(&bmd, &k->in[1], nd, p ? p->trans_b : 0);
        md_mm(&ymd, y, nd, 0);
    } else {
        /* linear: x[M,K] @ w^T, with w stored [N,K] */
        const cv_ktensor *x = &k->in[0], *w = &k->in[1];
        int64_t K = w->shape[1], N = w->shape[0], M = 1;
        int ok = x->ndim >= 1 && x->shape[x->ndim - 1] == K && y->ndim == x->ndim && y->shape[y->ndim - 1] == N &&
                 (k->n_in < 3 || kt_numel(&k->in[2]) == N);
        for (int d = 0; ok && d < x->ndim - 1; d++) { ok = y->shape[d] == x->shape[d]; M *= x->shape[d]; }
        if (!ok) {
            char sx[64], sw[64], sy[64];
            return CPU_FAIL(bd->b, bd->err, CV_ERR_INVALID, "backend cpu: linear: x %s, w %s and y %s do not fit y[..,N] = x[..,K] w[N,K]^T",
                            kt_shape_str(x, sx, sizeof sx), kt_shape_str(w, sw, sizeof sw), kt_shape_str(y, sy, sizeof sy));
        }
        dnnl_dims_t xd = { M, K }, xs = { K, 1 }, wd = { K, N }, wsd = { 1, K }, yd = { M, N }, ys = { N, 1 };
        dnnl_memory_desc_init_by_strides(&amd, 2, xd, dnnl_f32, xs);
        dnnl_memory_desc_init_by_strides(&bmd, 2, wd, dnnl_f32, wsd);
        dnnl_memory_desc_init_by_strides(&ymd, 2, yd, dnnl_f32, ys);
        if (k->n_in > 2) {
            dnnl_dims_t bdim = { 1, N }, bs = { N, 1 };
            dnnl_memory_desc_init_by_strides(&biasmd, 2, bdim, dnnl_f32, bs);
            has_bias = 1;
        }
    }
    /* bf16: the primitive reads bf16 copies of both operands (same strides) */
    dnnl_memory_desc_t pa = amd, pb = bmd;
    if (bd->b->bf16) pa.data_type = pb.data_type = dnnl_bf16;
    dnnl_matmul_desc_t desc;
    dnnl_status_t s = dnnl_matmul_desc_init(&desc, &pa, &pb, has_bias ? &biasmd : NULL, &ymd);
    if (s != dnnl_success) return dnn_fail(bd, s, "matmul descriptor");
    dnnl_primitive_attr_t attr = dnn_attr();
    s = dnnl_primitive_desc_create(&bd->pd, &desc, attr, bd->b->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return dnn_fail(bd, s, "matmul primitive descriptor");
    if ((st = dnn_arg_add(bd, DNNL_ARG_SRC, 0, 0, &amd))) return st;
    if ((st = dnn_arg_add(bd, DNNL_ARG_WEIGHTS, 0, 1, &bmd))) return st;
    if (has_bias && (st = dnn_arg_add(bd, DNNL_ARG_BIAS, 0, 2, &biasmd))) return st;
    if ((st = dnn_arg_add(bd, DNNL_ARG_DST, 1, 0, &ymd))) return st;
    return dnn_finish(bd);
}

static int build_bn(dnn_build *bd) {
    const cv_kernel *k = bd->k;
    const cv_norm_params *p = k->params;
    dnn_node *n = bd->node;
    const cv_ktensor *x = &k->in[0];
    char sx[64];
    n->bn_channels = x->shape[1];
    n->bn_count = x->shape[1] ? kt_numel(x) / x->shape[1] : 0;
    n->bn_eps = p->eps;
    n->bn_momentum = p->momentum;
    n->bn_training = p->training != 0;
    n->bn_mean_arg = n->bn_var_arg = -1;
    int st, fwd_op = k->op == CV_OP_BATCH_NORM;
    if (k->n_out < 1 || k->n_out > (fwd_op ? 5 : 3))
        return CPU_FAIL(bd->b, bd->err, CV_ERR_INVALID, "backend cpu: %s: %d outputs given (1..%d allowed)", op_name(k->op),
                        k->n_out, fwd_op ? 5 : 3);
    for (int i = fwd_op ? 1 : 2; i < 5; i++)
        if (kt_numel(&k->in[i]) != n->bn_channels)
            return CPU_FAIL(bd->b, bd->err, CV_ERR_INVALID, "backend cpu: %s: input %d has %lld values for x %s",
                            op_name(k->op), i, (long long)kt_numel(&k->in[i]), kt_shape_str(x, sx, sizeof sx));
    for (int i = 1; i < k->n_out; i++)
        if (kt_numel(&k->out[i]) != n->bn_channels)
            return CPU_FAIL(bd->b, bd->err, CV_ERR_INVALID, "backend cpu: %s: output %d has %lld values for x %s",
                            op_name(k->op), i, (long long)kt_numel(&k->out[i]), kt_shape_str(x, sx, sizeof sx));
    if (kt_numel(&k->out[0]) != kt_numel(x) || (!fwd_op && kt_numel(&k->in[1]) != kt_numel(x)))
        return CPU_FAIL(bd->b, bd->err, CV_ERR_INVALID, "backend cpu: %s: x %s and %s differ in size", op_name(k->op),
                        kt_shape_str(x, sx, sizeof sx), fwd_op ? "y" : "dy or dx");
    if (fwd_op && n->bn_training && n->bn_count < 2)
        return CPU_FAIL(bd->b, bd->err, CV_ERR_INVALID,
                        "backend cpu: batch_norm: training needs more than 1 value per channel, x is %s",
                        kt_shape_str(x, sx, sizeof sx));
    dnnl_memory_desc_t xmd;
    cv_ktensor xd = kt_dense(x, NULL);
    dnn_md_of(&xmd, &xd);
    /* eval-mode statistics are constants: no gradient flows through them */
    unsigned flags = dnnl_use_scale | dnnl_use_shift | (n->bn_training ? 0u : (unsigned)dnnl_use_global_stats);
    dnnl_batch_normalization_desc_t fwd, bwd;
    dnnl_status_t s;
    dnnl_primitive_attr_t attr = dnn_attr();
    if (fwd_op) {
        s = dnnl_batch_normalization_forward_desc_init(&fwd, n->bn_training ? dnnl_forward_training : dnnl_forward_inference,
                                                       &xmd, p->eps, flags);
        if (s == dnnl_success) s = dnnl_primitive_desc_create(&bd->pd, &fwd, attr, bd->b->engine, NULL);
    } else {
        s = dnnl_batch_normalization_forward_desc_init(&fwd, dnnl_forward_training, &xmd, p->eps, flags);
        if (s == dnnl_success) s = dnnl_primitive_desc_create(&bd->hint, &fwd, NULL, bd->b->engine, NULL);
        if (s == dnnl_success) s = dnnl_batch_normalization_backward_desc_init(&bwd, dnnl_backward, &xmd, &xmd, p->eps, flags);
        if (s == dnnl_success) s = dnnl_primitive_desc_create(&bd->pd, &bwd, attr, bd->b->engine, bd->hint);
    }
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return dnn_fail(bd, s, "batch norm primitive descriptor");
    if (fwd_op) {
        if ((st = dnn_arg_add(bd, DNNL_ARG_SRC, 0, 0, &xmd))) return st;
        if ((st = dnn_arg_add(bd, DNNL_ARG_SCALE, 0, 1, NULL))) return st;
        if ((st = dnn_arg_add(bd, DNNL_ARG_SHIFT, 0, 2, NULL))) return st;
        if (n->bn_training) {
            n->bn_mean_arg = n->nargs;
            if ((st = dnn_arg_add(bd, DNNL_ARG_MEAN, 1, -1, NULL))) return st;
            n->bn_var_arg = n->nargs;
            if ((st = dnn_arg_add(bd, DNNL_ARG_VARIANCE, 1, -1, NULL))) return st;
        } else {
            if ((st = dnn_arg_add(bd, DNNL_ARG_MEAN, 0, 3, NULL))) return st;
            if ((st = dnn_arg_add(bd, DNNL_ARG_VARIANCE, 0, 4, NULL))) return st;
        }
        if ((st = dnn_arg_add(bd, DNNL_ARG_DST, 1, 0, &xmd))) return st;
    } else {
        if ((st = dnn_arg_add(bd, DNNL_ARG_SRC, 0, 0, &xmd))) return st;
        if ((st = dnn_arg_add(bd, DNNL_ARG_DIFF_DST, 0, 1, &xmd))) return st;
        if ((st = dnn_arg_add(bd, DNNL_ARG_SCALE, 0, 2, NULL))) return st;
        /* oneDNN wants the shift with use_shift even though no gradient depends on it */
        n->bn_mean_arg = n->nargs;
        if ((st = dnn_arg_add(bd, DNNL_ARG_SHIFT, 0, -1, NULL))) return st;
        if ((st = dnn_arg_add(bd, DNNL_ARG_MEAN, 0, 3, NULL))) return st;
        n->bn_var_arg = n->nargs;
        if ((st = dnn_arg_add(bd, DNNL_ARG_VARIANCE, 0, -1, NULL))) return st;
        if ((st = dnn_arg_add(bd, DNNL_ARG_DIFF_SRC, 1, 0, &xmd))) return st;
        if ((st = dnn_arg_add(bd, DNNL_ARG_DIFF_SCALE, 1, k->n_out > 1 ? 1 : -1, NULL))) return st;
        if ((st = dnn_arg_add(bd, DNNL_ARG_DIFF_SHIFT, 1, k->n_out > 2 ? 2 : -1, NULL))) return st;
    }
    return dnn_finish(bd);
}

static int build_pool(dnn_build *bd) {
    const cv_kernel *k = bd->k;
    const cv_pool_params *p = k->params;
    const cv_ktensor *x = &k->in[0], *y = &k->out[0];
    dnnl_dims_t strides, kernel, dil = { 0, 0 }, pl, pr;
    for (int d = 0; d < 2; d++) {
        strides[d] = p->stride[d];
        kernel[d] = p->kernel[d];
        pl[d] = p->pad[d];
        pr[d] = (y->shape[2 + d] - 1) * p->stride[d] + p->kernel[d] - x->shape[2 + d] - p->pad[d];
        if (pr[d] < 0) pr[d] = 0;
    }
    dnnl_alg_kind_t alg = p->fn == CV_POOL_MAX ? dnnl_pooling_max
                          : p->count_include_pad ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding;
    dnnl_memory_desc_t xmd, ymd;
    cv_ktensor xd = kt_dense(x, NULL), yd = kt_dense(y, NULL);
    if (cv_kernel_layout(k, 0, 0) == CV_LAYOUT_C16) { /* x and y share it (a uniform op) */
        dnn_md_c16(&xmd, x);
        dnn_md_c16(&ymd, y);
    } else {
        dnn_md_of(&xmd, &xd);
        dnn_md_of(&ymd, &yd);
    }
    dnnl_pooling_v2_desc_t desc;
    dnnl_status_t s = dnnl_pooling_v2_forward_desc_init(&desc, dnnl_forward_inference, alg, &xmd, &ymd, strides, kernel,
                                                        dil, pl, pr);
    dnnl_primitive_attr_t attr = dnn_attr();
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&bd->pd, &desc, attr, bd->b->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return dnn_fail(bd, s, "pooling primitive descriptor");
    int st;
    if ((st = dnn_arg_add(bd, DNNL_ARG_SRC, 0, 0, &xmd))) return st;
    if ((st = dnn_arg_add(bd, DNNL_ARG_DST, 1, 0, &ymd))) return st;
    return dnn_finish(bd);
}

int dnn_build_op(dnn_build *bd) {
    switch (bd->k->op) {
    case CV_OP_CONV2D: case CV_OP_CONV2D_BWD_DATA: case CV_OP_CONV2D_BWD_WEIGHT: return build_conv(bd);
    case CV_OP_MATMUL: case CV_OP_LINEAR: return build_matmul(bd);
    case CV_OP_BATCH_NORM: case CV_OP_BATCH_NORM_BWD: return build_bn(bd);
    case CV_OP_POOL2D: return build_pool(bd);
    default:
        return CPU_FAIL(bd->b, bd->err, CV_ERR_INTERNAL, "backend cpu: %s is not a oneDNN op", op_name(bd->k->op));
    }
}

/* batch norm backward takes rstd; oneDNN wants the variance */
int dnn_before(dnn_build *bd, char *ws) {
    dnn_node *n = bd->node;
    if (n->gemm_dw) {
        gemm_dw_operands(n, bd->k, ws, bd->b->threads);
        return CV_OK;
    }
    if (n->op != CV_OP_BATCH_NORM_BWD) return CV_OK;
    const cv_ktensor *r = &bd->k->in[4];
    float *var = (float *)(ws + n->args[n->bn_var_arg].ws_off);
    memset(ws + n->args[n->bn_mean_arg].ws_off, 0, (size_t)n->bn_channels * sizeof(float));
    for (int64_t c = 0; c < n->bn_channels; c++) {
        float rs = ((const float *)r->data)[c * (r->ndim ? r->stride[r->ndim - 1] : 1)];
        var[c] = 1.0f / (rs * rs) - n->bn_eps;
    }
    return CV_OK;
}

/* batch norm forward: the saved mean/rstd outputs and the running statistics
 * (in place in inputs 3, 4, or into outputs 3, 4 when given) */
int dnn_after(dnn_build *bd, char *ws) {
    dnn_node *n = bd->node;
    if (n->op != CV_OP_BATCH_NORM) return CV_OK;
    const cv_kernel *k = bd->k;
#define AT(t, c) (((float *)(t)->data)[(c) * ((t)->ndim ? (t)->stride[(t)->ndim - 1] : 1)])
    const cv_ktensor *rm = k->n_out >= 5 ? &k->out[3] : &k->in[3], *rv = k->n_out >= 5 ? &k->out[4] : &k->in[4];
    if (!n->bn_training) {
        for (int64_t c = 0; c < n->bn_channels; c++) {
            float m = AT(&k->in[3], c), v = AT(&k->in[4], c);
            if (k->n_out > 1) AT(&k->out[1], c) = m;
            if (k->n_out > 2) AT(&k->out[2], c) = (float)(1.0 / sqrt((double)v + n->bn_eps));
            if (k->n_out >= 5) { AT(rm, c) = m; AT(rv, c) = v; }
        }
        return CV_OK;
    }
    const float *mean = (const float *)(ws + n->args[n->bn_mean_arg].ws_off);
    const float *var = (const float *)(ws + n->args[n->bn_var_arg].ws_off);
    double m = n->bn_momentum;
    double unbias = (double)n->bn_count / (double)(n->bn_count - 1);
    for (int64_t c = 0; c < n->bn_channels; c++) {
        double old_m = AT(&k->in[3], c), old_v = AT(&k->in[4], c);
        if (k->n_out > 1) AT(&k->out[1], c) = mean[c];
        if (k->n_out > 2) AT(&k->out[2], c) = (float)(1.0 / sqrt((double)var[c] + n->bn_eps));
        AT(rm, c) = (float)((1.0 - m) * old_m + m * mean[c]);
        AT(rv, c) = (float)((1.0 - m) * old_v + m * var[c] * unbias);
    }
#undef AT
    return CV_OK;
}

/* an input with no elements (K = 0 in a matmul, C = 0, ...): outputs are zero */
int dnn_empty_input(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    (void)err;
    float zero = 0;
    cv_ktensor z = { .dtype = CV_F32, .ndim = 0, .data = &zero };
    for (int i = 0; i < k->n_out; i++) strided_copy(&k->out[i], &z, b->threads);
    /* a linear layer with K = 0 still adds its bias to every row */
    if (k->op == CV_OP_LINEAR && k->n_in > 2 && kt_numel(&k->in[2]) > 0 && kt_numel(&k->in[0]) == 0) {
        const cv_ktensor *y = &k->out[0], *bias = &k->in[2];
        cv_ktensor src = *y;
        src.data = bias->data;
        for (int d = 0; d < y->ndim; d++) src.stride[d] = d == y->ndim - 1 ? bias->stride[bias->ndim - 1] : 0;
        strided_copy(y, &src, b->threads);
    }
    return CV_OK;
}

const char *dnn_impl_name(const void *prepared) {
    const dnn_node *n = prepared;
    return n ? n->impl : "";
}
