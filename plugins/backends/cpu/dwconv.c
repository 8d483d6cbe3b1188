/* plugins/backends/cpu/dwconv.c — the weight gradient of depthwise convolutions
 * with kernels other than 3x3 (MobileNetV3's 5x5).  oneDNN 2.6 has depthwise JIT
 * kernels for them forward and backward-data, but its weight gradient falls back
 * to its reference GEMM ("x64:gemm:jit"), which ran at about 2 GFLOP/s: 28 ms for
 * a 120-channel 16x16 layer of MobileNetV3 at 128 px, two thirds of the step's
 * weight-gradient time.  Here
 *     dw[c][0][i][j] = Σ_n,oh,ow dy[n][c][oh][ow] · x[n][c][oh·s − p + i·d][ow·s − p + j·d]
 * 16 channels at a time (a C16 pixel is one vector; a plain operand's 16 planes
 * are read strided), f32 sums per image added in double, on f32 or bf16
 * (precision = bf16) activations in either layout.  With precision = bf16, f32
 * operands are rounded to bf16 first, as oneDNN's bf16 kernels read them. */
#include "cpu.h"

#include <omp.h>
#include <string.h>

#define DW_MAX_TAPS 121 /* kernels up to 11x11 */

/* where lane l of channel block cb, image n, pixel (h, w) of operand t is: base +
 * (h * W + w) * pix + l * lane */
typedef struct dw_walk { int64_t base, pix, lane; } dw_walk;

static dw_walk walk_of(const cv_ktensor *t, int layout, int64_t n, int64_t cb) {
    dw_walk wk;
    wk.base = plane_at(t, layout, n * t->shape[1] + cb * 16, &wk.pix);
    wk.lane = layout == CV_LAYOUT_C16 ? 1 : t->shape[2] * t->shape[3];
    return wk;
}

static int operand_ok(const cpu_backend *b, const cv_kernel *k, const cv_ktensor *t, int io, int i) {
    const int l = cv_kernel_layout(k, io, i);
    return t->ndim == 4 && (t->dtype == CV_F32 || (t->dtype == CV_BF16 && b->bf16)) &&
           (l == CV_LAYOUT_C16 || (l == CV_LAYOUT_PLAIN && kt_contiguous(t)));
}

int dw_handles(const cpu_backend *b, const cv_kernel *k) {
    if (k->op != CV_OP_CONV2D_BWD_WEIGHT || k->n_in != 2 || k->n_out != 1 || !k->params ||
        k->params_size < sizeof(cv_conv_params))
        return 0;
    const cv_conv_params *p = k->params;
    const cv_ktensor *x, *w, *y;
    conv_operands(k, &x, &w, &y);
    if (w->ndim != 4 || w->dtype != CV_F32 || !kt_contiguous(w) || cv_kernel_layout(k, 1, 0) != CV_LAYOUT_PLAIN ||
        x->ndim != 4 || y->ndim != 4)
        return 0;
    const int64_t C = x->shape[1];
    const int three = w->shape[2] == 3 && w->shape[3] == 3 && p->dilation[0] == 1 && p->dilation[1] == 1;
    return p->groups == C && C > 1 && y->shape[1] == C && w->shape[0] == C && w->shape[1] == 1 && !three &&
           w->shape[2] * w->shape[3] <= DW_MAX_TAPS && x->shape[0] == y->shape[0] && operand_ok(b, k, &k->in[0], 0, 0) &&
           operand_ok(b, k, &k->in[1], 0, 1);
}

/* each thread's rows: one image's x and dy planes of a channel block, 16 f32 lanes a pixel */
size_t dw_scratch_bytes(const cpu_backend *b, const cv_kernel *k) {
    const cv_ktensor *x, *w, *y;
    conv_operands(k, &x, &w, &y);
    return (size_t)b->threads * (size_t)(x->shape[2] * x->shape[3] + y->shape[2] * y->shape[3]) * 16 * sizeof(float);
}

/* the hw pixels of nl lanes of an operand (dtype dt, walk wk) as f32 [hw][16], lanes
 * past nl zero; rounded to bf16 when rnd (an f32 operand with precision = bf16) */
static void dw_gather(const void *src, int dt, dw_walk wk, int64_t hw, int nl, int rnd, float *dst) {
    for (int64_t q = 0; q < hw; q++)
        for (int l = 0; l < 16; l++) {
            const float v = l < nl ? act_load(src, dt, wk.base + q * wk.pix + l * wk.lane) : 0.0f;
            dst[q * 16 + l] = rnd && dt == CV_F32 ? bf16_to_f32(bf16_from_f32(v)) : v;
        }
}

/* acc[tap][16] += Σ_oh,ow D[oh][ow] · X[oh·s − p + i·d][ow·s − p + j·d] of one image */
CLONES static void dw_image(const float *X, int64_t H, int64_t W, const float *D, int64_t OH, int64_t OW, int64_t KH,
                            int64_t KW, const cv_conv_params *p, float *acc) {
    const int64_t sh = p->stride[0], sw = p->stride[1];
    for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t i = 0; i < KH; i++) {
            const int64_t ih = oh * sh - p->pad[0] + i * p->dilation[0];
            if (ih < 0 || ih >= H) continue;
            const float *xr = X + ih * W * 16, *dr = D + oh * OW * 16;
            for (int64_t j = 0; j < KW; j++) {
                const int64_t off = j * p->dilation[1] - p->pad[1]; /* iw = ow * sw + off */
                int64_t lo = off < 0 ? (-off + sw - 1) / sw : 0, hi = W - 1 - off < 0 ? 0 : (W - 1 - off) / sw + 1;
                if (hi > OW) hi = OW;
                float a[16];
                memcpy(a, acc + (i * KW + j) * 16, sizeof a);
                for (int64_t ow = lo; ow < hi; ow++) {
                    const float *xp = xr + (ow * sw + off) * 16, *dp = dr + ow * 16;
                    for (int l = 0; l < 16; l++) a[l] += dp[l] * xp[l];
                }
                memcpy(acc + (i * KW + j) * 16, a, sizeof a);
            }
        }
}

int run_dw_bwd_weight(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    const cv_conv_params *p = k->params;
    const cv_ktensor *x, *w, *y;
    conv_operands(k, &x, &w, &y);
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], OH = y->shape[2], OW = y->shape[3];
    const int64_t KH = w->shape[2], KW = w->shape[3], taps = KH * KW, CB = (C + 15) / 16;
    const int ly = cv_kernel_layout(k, 0, 0), lx = cv_kernel_layout(k, 0, 1);
    const size_t need = dw_scratch_bytes(b, k), per = need / (size_t)b->threads;
    cpu_scratch s;
    char *ws;
    if (scratch_begin(&s, k, need) != CV_OK || !(ws = scratch_take(&s, need)))
        return CPU_FAIL(b, err, CV_ERR_NOMEM, "backend cpu: %s: no memory for %zu bytes of workspace", op_name(k->op), need);
    float *dw = w->data;
    #pragma omp parallel for num_threads(b->threads) schedule(dynamic)
    for (int64_t cb = 0; cb < CB; cb++) {
        float *X = (float *)(ws + per * (size_t)omp_get_thread_num()), *D = X + H * W * 16;
        const int nl = C - cb * 16 < 16 ? (int)(C - cb * 16) : 16;
        float acc[DW_MAX_TAPS * 16];
        double sum[DW_MAX_TAPS * 16];
        memset(sum, 0, sizeof(double) * (size_t)(taps * 16));
        for (int64_t n = 0; n < N; n++) {
            dw_gather(x->data, x->dtype, walk_of(x, lx, n, cb), H * W, nl, b->bf16, X);
            dw_gather(y->data, y->dtype, walk_of(y, ly, n, cb), OH * OW, nl, b->bf16, D);
            memset(acc, 0, sizeof(float) * (size_t)(taps * 16));
            dw_image(X, H, W, D, OH, OW, KH, KW, p, acc);
            for (int64_t t = 0; t < taps * 16; t++) sum[t] += acc[t];
        }
        for (int l = 0; l < nl; l++)
            for (int64_t t = 0; t < taps; t++) dw[(cb * 16 + l) * taps + t] = (float)sum[t * 16 + l];
    }
    scratch_end(&s);
    return CV_OK;
}
