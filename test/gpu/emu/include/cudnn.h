/* test/gpu/emu/include/cudnn.h — just enough of cuDNN for the emulation: convolutions by
 * direct loops (one algorithm, no workspace) on f32, f16 or bf16 tensors (converted on
 * load, f32 sums, rounded on store), NCHW or NHWC (data NHWC, filter KRSC; one format for
 * x, w and y, as the backend always asks; the found algorithm takes a workspace it
 * scribbles over); spatial batch norm in training (forward with
 * the running averages — unbiased variance — and the saved mean and inverse standard
 * deviation, backward) and pooling forward (max propagating NaN, average with or without
 * the padding), f32, NCHW or NHWC, sums in double; as cuDNN documents them. */
#pragma once
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <vector>
#include "cuda_fp16.h"
#include "cuda_runtime.h"
typedef enum { CUDNN_STATUS_SUCCESS = 0, CUDNN_STATUS_BAD_PARAM = 3, CUDNN_STATUS_NOT_SUPPORTED = 9 } cudnnStatus_t;
typedef void *cudnnHandle_t; typedef void *cudnnTensorDescriptor_t; typedef void *cudnnFilterDescriptor_t;
typedef void *cudnnConvolutionDescriptor_t; typedef void *cudnnPoolingDescriptor_t;
typedef enum { CUDNN_TENSOR_NCHW, CUDNN_TENSOR_NHWC } cudnnTensorFormat_t; typedef enum { CUDNN_DATA_FLOAT = EMU_F32, CUDNN_DATA_HALF = EMU_F16, CUDNN_DATA_BFLOAT16 = EMU_BF16 } cudnnDataType_t;
typedef enum { CUDNN_BATCHNORM_SPATIAL } cudnnBatchNormMode_t;
typedef enum { CUDNN_POOLING_MAX, CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING, CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING } cudnnPoolingMode_t;
typedef enum { CUDNN_PROPAGATE_NAN } cudnnNanPropagation_t;
typedef enum { CUDNN_CROSS_CORRELATION } cudnnConvolutionMode_t;
typedef enum { CUDNN_DEFAULT_MATH, CUDNN_TENSOR_OP_MATH, CUDNN_FMA_MATH } cudnnMathType_t;
typedef enum { CUDNN_DETERMINISTIC, CUDNN_NON_DETERMINISTIC } cudnnDeterminism_t;
typedef enum { CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_CONVOLUTION_FWD_ALGO_COUNT = 8 } cudnnConvolutionFwdAlgo_t;
typedef enum { CUDNN_CONVOLUTION_BWD_DATA_ALGO_1 = 1, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT = 6 } cudnnConvolutionBwdDataAlgo_t;
typedef enum { CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 = 1, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT = 7 } cudnnConvolutionBwdFilterAlgo_t;
#define CUDNN_BN_MIN_EPSILON 0.0
#define PERF(T, A) typedef struct { A algo; cudnnStatus_t status; float time; size_t memory; cudnnDeterminism_t determinism; } T;
PERF(cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t)
PERF(cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t)
PERF(cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t)
#define NS(...) { return CUDNN_STATUS_NOT_SUPPORTED; }
#define OK(...) { return CUDNN_STATUS_SUCCESS; }
static inline const char *cudnnGetErrorString(cudnnStatus_t) { return "emu: cuDNN not emulated"; }
static inline size_t cudnnGetVersion(void) { return 0; }
static inline cudnnStatus_t cudnnCreate(cudnnHandle_t *h) { *h = (void *)1; return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnDestroy(cudnnHandle_t) OK()
static inline cudnnStatus_t cudnnSetStream(cudnnHandle_t, void *) OK()

struct emu_t { int n, c, h, w, dt; cudnnTensorFormat_t fmt; };
/* storage offset of element (n, c, h, w) (for a filter: k, c, r, s) of a descriptor */
static inline long emu_at(const emu_t *d, long n, long c, long h, long w) {
    return d->fmt == CUDNN_TENSOR_NHWC ? ((n * d->h + h) * d->w + w) * d->c + c : ((n * d->c + c) * d->h + h) * d->w + w;
}
struct emu_cd { int ph, pw, sh, sw, dh, dw, g; };
static inline cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d) { *d = new emu_t(); return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d) { *d = new emu_t(); return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d) { *d = new emu_cd(); ((emu_cd *)*d)->g = 1; return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnDestroyTensorDescriptor(void *d) { delete (emu_t *)d; return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnDestroyFilterDescriptor(void *d) { delete (emu_t *)d; return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnDestroyConvolutionDescriptor(void *d) { delete (emu_cd *)d; return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnSetTensor4dDescriptor(void *d, cudnnTensorFormat_t f, cudnnDataType_t t, int n, int c, int h, int w) { *(emu_t *)d = { n, c, h, w, t, f }; return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnSetFilter4dDescriptor(void *d, cudnnDataType_t t, cudnnTensorFormat_t f, int n, int c, int h, int w) { *(emu_t *)d = { n, c, h, w, t, f }; return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnSetConvolution2dDescriptor(void *d, int ph, int pw, int sh, int sw, int dh, int dw, cudnnConvolutionMode_t, cudnnDataType_t) { emu_cd *c = (emu_cd *)d; c->ph = ph; c->pw = pw; c->sh = sh; c->sw = sw; c->dh = dh; c->dw = dw; return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnSetConvolutionGroupCount(void *d, int g) { ((emu_cd *)d)->g = g; return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnSetConvolutionMathType(void *, cudnnMathType_t) { return CUDNN_STATUS_SUCCESS; }
/* The search offers one algorithm, EMU_ALGO, which needs EMU_CONV_WS bytes of workspace and
 * scribbles over all of them before computing (so workspace that overlaps an operand shows as a
 * wrong result); the fallback algorithms (0, 1) need none. */
enum { EMU_ALGO = 2, EMU_CONV_WS = 4096 };
/* CVNETS_EMU_DNN_NO_NHWC set: convolutions on NHWC descriptors are NOT_SUPPORTED (searched,
 * sized or run), as cuDNN answers a configuration it has no kernel for */
static inline int emu_refuses(const void *a, const void *b) {
    return getenv("CVNETS_EMU_DNN_NO_NHWC") && (((const emu_t *)a)->fmt == CUDNN_TENSOR_NHWC || ((const emu_t *)b)->fmt == CUDNN_TENSOR_NHWC);
}
template <typename P> static inline cudnnStatus_t emu_find(int *n, P *perf) { *n = 1; perf[0].algo = (decltype(perf[0].algo))EMU_ALGO; perf[0].status = CUDNN_STATUS_SUCCESS; perf[0].memory = EMU_CONV_WS; perf[0].determinism = CUDNN_DETERMINISTIC; return CUDNN_STATUS_SUCCESS; }
static inline size_t emu_ws_of(int algo) { return algo == EMU_ALGO ? EMU_CONV_WS : 0; }
static inline cudnnStatus_t cudnnFindConvolutionForwardAlgorithm(void *, void *a, void *b, void *, void *, int, int *n, cudnnConvolutionFwdAlgoPerf_t *p) { return emu_refuses(a, b) ? CUDNN_STATUS_NOT_SUPPORTED : emu_find(n, p); }
static inline cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithm(void *, void *a, void *b, void *, void *, int, int *n, cudnnConvolutionBwdDataAlgoPerf_t *p) { return emu_refuses(a, b) ? CUDNN_STATUS_NOT_SUPPORTED : emu_find(n, p); }
static inline cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithm(void *, void *a, void *b, void *, void *, int, int *n, cudnnConvolutionBwdFilterAlgoPerf_t *p) { return emu_refuses(a, b) ? CUDNN_STATUS_NOT_SUPPORTED : emu_find(n, p); }
template <typename A> static inline cudnnStatus_t emu_ws_size(A algo, size_t *bytes) { *bytes = emu_ws_of((int)algo); return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(void *, void *d1, void *d2, void *, void *, cudnnConvolutionFwdAlgo_t a, size_t *b) { return emu_refuses(d1, d2) ? CUDNN_STATUS_NOT_SUPPORTED : emu_ws_size(a, b); }
static inline cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(void *, void *d1, void *d2, void *, void *, cudnnConvolutionBwdDataAlgo_t a, size_t *b) { return emu_refuses(d1, d2) ? CUDNN_STATUS_NOT_SUPPORTED : emu_ws_size(a, b); }
static inline cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(void *, void *d1, void *d2, void *, void *, cudnnConvolutionBwdFilterAlgo_t a, size_t *b) { return emu_refuses(d1, d2) ? CUDNN_STATUS_NOT_SUPPORTED : emu_ws_size(a, b); }
/* mode 0: y = conv(x, w); 1: dx = conv^T(dy, w); 2: dw = corr(x, dy).  Like cuDNN's legacy
 * API, x, w and y must share one data type; they are read into f32, summed in f32 and
 * the result is rounded to that type on store. */
static inline void emu_conv_run(int mode, const emu_t *xd, void *xp, const emu_t *wd, void *wp, const emu_t *yd, void *yp, const emu_cd *c) {
    long nx = (long)xd->n * xd->c * xd->h * xd->w, nw = (long)wd->n * wd->c * wd->h * wd->w, ny = (long)yd->n * yd->c * yd->h * yd->w;
    std::vector<float> x(nx), w(nw), y(ny);
    if (mode != 1) for (long i = 0; i < nx; i++) x[i] = emu_get(xd->dt, xp, i);
    if (mode != 2) for (long i = 0; i < nw; i++) w[i] = emu_get(wd->dt, wp, i);
    if (mode != 0) for (long i = 0; i < ny; i++) y[i] = emu_get(yd->dt, yp, i);
    int cg = wd->c, og = wd->n / c->g;
    for (int n = 0; n < yd->n; n++) for (int o = 0; o < yd->c; o++) for (int oh = 0; oh < yd->h; oh++) for (int ow = 0; ow < yd->w; ow++)
        for (int ci = 0; ci < cg; ci++) for (int i = 0; i < wd->h; i++) for (int j = 0; j < wd->w; j++) {
            int ih = oh * c->sh - c->ph + i * c->dh, iw = ow * c->sw - c->pw + j * c->dw;
            if (ih < 0 || ih >= xd->h || iw < 0 || iw >= xd->w) continue;
            long xi = emu_at(xd, n, (o / og) * cg + ci, ih, iw), wi = emu_at(wd, o, ci, i, j), yi = emu_at(yd, n, o, oh, ow);
            if (mode == 0) y[yi] += x[xi] * w[wi]; else if (mode == 1) x[xi] += y[yi] * w[wi]; else w[wi] += y[yi] * x[xi];
        }
    if (mode == 0) for (long i = 0; i < ny; i++) emu_put(yd->dt, yp, i, y[i]);
    if (mode == 1) for (long i = 0; i < nx; i++) emu_put(xd->dt, xp, i, x[i]);
    if (mode == 2) for (long i = 0; i < nw; i++) emu_put(wd->dt, wp, i, w[i]);
}
/* on the stream: run now, or recorded into a capture with copies of the descriptors */
static inline cudnnStatus_t emu_conv(int mode, const emu_t *xd, void *xp, const emu_t *wd, void *wp, const emu_t *yd, void *yp, const emu_cd *c,
                                     int algo, void *ws, size_t ws_bytes) {
    if (xd->dt != wd->dt || xd->dt != yd->dt || xd->fmt != wd->fmt || xd->fmt != yd->fmt || emu_refuses(xd, yd))
        return CUDNN_STATUS_NOT_SUPPORTED;
    const size_t need = emu_ws_of(algo);
    if (ws_bytes < need || (need && !ws)) return CUDNN_STATUS_BAD_PARAM;
    emu_t x = *xd, w = *wd, y = *yd;
    emu_cd cd = *c;
    emu_enqueue([=] {
        if (need) memset(ws, 0xA5, need);
        emu_conv_run(mode, &x, xp, &w, wp, &y, yp, &cd);
    });
    return CUDNN_STATUS_SUCCESS;
}
static inline cudnnStatus_t cudnnConvolutionForward(void *, const void *, void *xd, const void *x, void *wd, const void *w, void *cd, cudnnConvolutionFwdAlgo_t a, void *ws, size_t wsb, const void *, void *yd, void *y) {
    return emu_conv(0, (emu_t *)xd, (void *)x, (emu_t *)wd, (void *)w, (emu_t *)yd, y, (emu_cd *)cd, (int)a, ws, wsb); }
static inline cudnnStatus_t cudnnConvolutionBackwardData(void *, const void *, void *wd, const void *w, void *dyd, const void *dy, void *cd, cudnnConvolutionBwdDataAlgo_t a, void *ws, size_t wsb, const void *, void *dxd, void *dx) {
    return emu_conv(1, (emu_t *)dxd, dx, (emu_t *)wd, (void *)w, (emu_t *)dyd, (void *)dy, (emu_cd *)cd, (int)a, ws, wsb); }
static inline cudnnStatus_t cudnnConvolutionBackwardFilter(void *, const void *, void *xd, const void *x, void *dyd, const void *dy, void *cd, cudnnConvolutionBwdFilterAlgo_t a, void *ws, size_t wsb, const void *, void *dwd, void *dw) {
    return emu_conv(2, (emu_t *)xd, (void *)x, (emu_t *)dwd, dw, (emu_t *)dyd, (void *)dy, (emu_cd *)cd, (int)a, ws, wsb); }

/* ---- batch norm (spatial, training) ------------------------------------------------------------ */
static inline cudnnStatus_t cudnnDeriveBNTensorDescriptor(void *bd, void *xd, cudnnBatchNormMode_t) {
    const emu_t *x = (const emu_t *)xd;
    *(emu_t *)bd = { 1, x->c, 1, 1, x->dt, CUDNN_TENSOR_NCHW };
    return CUDNN_STATUS_SUCCESS;
}
/* per channel c of x: its values in storage order of (n, h, w) */
template <typename F> static inline void emu_each(const emu_t *d, int c, F f) {
    for (int n = 0; n < d->n; n++) for (int h = 0; h < d->h; h++) for (int w = 0; w < d->w; w++) f(emu_at(d, n, c, h, w));
}
static inline cudnnStatus_t cudnnBatchNormalizationForwardTraining(void *, cudnnBatchNormMode_t, const void *alpha_,
    const void *beta_, void *xd_, const void *x_, void *yd_, void *y_, void *, const void *scale_, const void *bias_, double f,
    void *rmean_, void *rvar_, double eps, void *smean_, void *sinv_) {
    const emu_t xd = *(emu_t *)xd_, yd = *(emu_t *)yd_;
    if (xd.dt != EMU_F32 || yd.dt != EMU_F32 || xd.fmt != yd.fmt || eps < CUDNN_BN_MIN_EPSILON) return CUDNN_STATUS_NOT_SUPPORTED;
    const float alpha = *(const float *)alpha_, beta = *(const float *)beta_;
    emu_enqueue([=] {
        const float *x = (const float *)x_, *scale = (const float *)scale_, *bias = (const float *)bias_;
        float *y = (float *)y_, *rmean = (float *)rmean_, *rvar = (float *)rvar_, *smean = (float *)smean_, *sinv = (float *)sinv_;
        const double m = (double)xd.n * xd.h * xd.w;
        for (int c = 0; c < xd.c; c++) {
            double s = 0, v = 0;
            emu_each(&xd, c, [&](long i) { s += x[i]; });
            const double mean = s / m;
            emu_each(&xd, c, [&](long i) { v += (x[i] - mean) * (x[i] - mean); });
            const double var = v / m, inv = 1.0 / sqrt(var + eps);
            emu_each(&xd, c, [&](long i) {
                const double out = scale[c] * (x[i] - mean) * inv + bias[c];
                y[i] = (float)(alpha * out + (beta == 0 ? 0.0 : beta * y[i]));
            });
            if (rmean) rmean[c] = (float)((1 - f) * rmean[c] + f * mean);
            if (rvar) rvar[c] = (float)((1 - f) * rvar[c] + f * (m > 1 ? var * m / (m - 1) : var));
            if (smean) smean[c] = (float)mean;
            if (sinv) sinv[c] = (float)inv;
        }
    });
    return CUDNN_STATUS_SUCCESS;
}
static inline cudnnStatus_t cudnnBatchNormalizationBackward(void *, cudnnBatchNormMode_t, const void *ad_, const void *bd_,
    const void *ap_, const void *bp_, void *xd_, const void *x_, void *, const void *dy_, void *, void *dx_, void *,
    const void *scale_, void *dscale_, void *dbias_, double eps, const void *smean_, const void *sinv_) {
    const emu_t xd = *(emu_t *)xd_;
    if (xd.dt != EMU_F32 || !smean_ || !sinv_) return CUDNN_STATUS_NOT_SUPPORTED; /* the emulation needs the saved stats */
    const float ad = *(const float *)ad_, bd = *(const float *)bd_, ap = *(const float *)ap_, bp = *(const float *)bp_;
    emu_enqueue([=] {
        const float *x = (const float *)x_, *dy = (const float *)dy_, *scale = (const float *)scale_;
        const float *smean = (const float *)smean_, *sinv = (const float *)sinv_;
        float *dx = (float *)dx_, *dscale = (float *)dscale_, *dbias = (float *)dbias_;
        const double m = (double)xd.n * xd.h * xd.w;
        for (int c = 0; c < xd.c; c++) {
            double sdy = 0, sdyx = 0;
            const double mean = smean[c], inv = sinv[c];
            emu_each(&xd, c, [&](long i) { sdy += dy[i]; sdyx += dy[i] * (x[i] - mean) * inv; });
            emu_each(&xd, c, [&](long i) {
                const double xhat = (x[i] - mean) * inv, g = scale[c] * inv * (dy[i] - (sdy + xhat * sdyx) / m);
                dx[i] = (float)(ad * g + (bd == 0 ? 0.0 : bd * dx[i]));
            });
            dscale[c] = (float)(ap * sdyx + (bp == 0 ? 0.0 : bp * dscale[c]));
            dbias[c] = (float)(ap * sdy + (bp == 0 ? 0.0 : bp * dbias[c]));
        }
    });
    (void)eps;
    return CUDNN_STATUS_SUCCESS;
}

/* ---- pooling forward ------------------------------------------------------------------------- */
struct emu_pd { cudnnPoolingMode_t mode; int kh, kw, ph, pw, sh, sw; };
static inline cudnnStatus_t cudnnCreatePoolingDescriptor(cudnnPoolingDescriptor_t *d) { *d = new emu_pd(); return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnDestroyPoolingDescriptor(void *d) { delete (emu_pd *)d; return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnSetPooling2dDescriptor(void *d, cudnnPoolingMode_t mode, cudnnNanPropagation_t, int kh, int kw,
                                                        int ph, int pw, int sh, int sw) {
    if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0) return CUDNN_STATUS_NOT_SUPPORTED;
    *(emu_pd *)d = { mode, kh, kw, ph, pw, sh, sw };
    return CUDNN_STATUS_SUCCESS;
}
static inline cudnnStatus_t cudnnPoolingForward(void *, void *pd_, const void *alpha_, void *xd_, const void *x_,
                                                const void *beta_, void *yd_, void *y_) {
    const emu_pd p = *(emu_pd *)pd_;
    const emu_t xd = *(emu_t *)xd_, yd = *(emu_t *)yd_;
    if (xd.dt != EMU_F32 || yd.dt != EMU_F32 || xd.fmt != yd.fmt || xd.n != yd.n || xd.c != yd.c ||
        yd.h != (xd.h + 2 * p.ph - p.kh) / p.sh + 1 || yd.w != (xd.w + 2 * p.pw - p.kw) / p.sw + 1)
        return CUDNN_STATUS_NOT_SUPPORTED;
    const float alpha = *(const float *)alpha_, beta = *(const float *)beta_;
    emu_enqueue([=] {
        const float *x = (const float *)x_;
        float *y = (float *)y_;
        for (int n = 0; n < yd.n; n++) for (int c = 0; c < yd.c; c++) for (int oh = 0; oh < yd.h; oh++) for (int ow = 0; ow < yd.w; ow++) {
            double acc = p.mode == CUDNN_POOLING_MAX ? -INFINITY : 0.0;
            int inside = 0;
            for (int i = 0; i < p.kh; i++) for (int j = 0; j < p.kw; j++) {
                const int h = oh * p.sh - p.ph + i, w = ow * p.sw - p.pw + j;
                if (h < 0 || h >= xd.h || w < 0 || w >= xd.w) continue;
                const float v = x[emu_at(&xd, n, c, h, w)];
                inside++;
                if (p.mode != CUDNN_POOLING_MAX) acc += v;
                else if (isnan(v) || v > acc) acc = isnan(acc) ? acc : v;
            }
            if (p.mode == CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING) acc /= (double)(p.kh * p.kw);
            else if (p.mode == CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING) acc /= inside ? inside : 1;
            const long o = emu_at(&yd, n, c, oh, ow);
            y[o] = (float)(alpha * acc + (beta == 0 ? 0.0 : beta * y[o]));
        }
    });
    return CUDNN_STATUS_SUCCESS;
}
