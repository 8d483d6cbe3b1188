/* test/gpu/emu/include/cudnn.h — just enough of cuDNN for the emulation: convolutions by
 * direct loops (one algorithm, no workspace) on f32, f16 or bf16 tensors (converted on
 * load, f32 sums, rounded on store), NCHW or NHWC (data NHWC, filter KRSC; one format for
 * x, w and y, as the backend always asks); batch norm and pooling answer NOT_SUPPORTED,
 * so the backend's own kernels for those are what runs. */
#pragma once
#include <stddef.h>
#include <vector>
#include "cuda_fp16.h"
#include "cuda_runtime.h"
typedef enum { CUDNN_STATUS_SUCCESS = 0, CUDNN_STATUS_NOT_SUPPORTED = 9 } cudnnStatus_t;
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
template <typename... A> static inline cudnnStatus_t cudnnCreatePoolingDescriptor(A...) NS()
template <typename... A> static inline cudnnStatus_t cudnnDestroyPoolingDescriptor(A...) OK()
template <typename... A> static inline cudnnStatus_t cudnnSetPooling2dDescriptor(A...) NS()
template <typename... A> static inline cudnnStatus_t cudnnDeriveBNTensorDescriptor(A...) NS()
template <typename... A> static inline cudnnStatus_t cudnnBatchNormalizationForwardTraining(A...) NS()
template <typename... A> static inline cudnnStatus_t cudnnBatchNormalizationBackward(A...) NS()
template <typename... A> static inline cudnnStatus_t cudnnPoolingForward(A...) NS()

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
template <typename P> static inline cudnnStatus_t emu_find(int *n, P *perf) { *n = 1; perf[0].algo = (decltype(perf[0].algo))1; perf[0].status = CUDNN_STATUS_SUCCESS; perf[0].memory = 0; perf[0].determinism = CUDNN_DETERMINISTIC; return CUDNN_STATUS_SUCCESS; }
static inline cudnnStatus_t cudnnFindConvolutionForwardAlgorithm(void *, void *, void *, void *, void *, int, int *n, cudnnConvolutionFwdAlgoPerf_t *p) { return emu_find(n, p); }
static inline cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithm(void *, void *, void *, void *, void *, int, int *n, cudnnConvolutionBwdDataAlgoPerf_t *p) { return emu_find(n, p); }
static inline cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithm(void *, void *, void *, void *, void *, int, int *n, cudnnConvolutionBwdFilterAlgoPerf_t *p) { return emu_find(n, p); }
template <typename... A> static inline cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(A... a) { return CUDNN_STATUS_NOT_SUPPORTED; }
template <typename... A> static inline cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(A... a) { return CUDNN_STATUS_NOT_SUPPORTED; }
template <typename... A> static inline cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(A... a) { return CUDNN_STATUS_NOT_SUPPORTED; }
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
static inline cudnnStatus_t emu_conv(int mode, const emu_t *xd, void *xp, const emu_t *wd, void *wp, const emu_t *yd, void *yp, const emu_cd *c) {
    if (xd->dt != wd->dt || xd->dt != yd->dt || xd->fmt != wd->fmt || xd->fmt != yd->fmt) return CUDNN_STATUS_NOT_SUPPORTED;
    emu_t x = *xd, w = *wd, y = *yd;
    emu_cd cd = *c;
    emu_enqueue([=] { emu_conv_run(mode, &x, xp, &w, wp, &y, yp, &cd); });
    return CUDNN_STATUS_SUCCESS;
}
static inline cudnnStatus_t cudnnConvolutionForward(void *, const void *, void *xd, const void *x, void *wd, const void *w, void *cd, cudnnConvolutionFwdAlgo_t, void *, size_t, const void *, void *yd, void *y) {
    return emu_conv(0, (emu_t *)xd, (void *)x, (emu_t *)wd, (void *)w, (emu_t *)yd, y, (emu_cd *)cd); }
static inline cudnnStatus_t cudnnConvolutionBackwardData(void *, const void *, void *wd, const void *w, void *dyd, const void *dy, void *cd, cudnnConvolutionBwdDataAlgo_t, void *, size_t, const void *, void *dxd, void *dx) {
    return emu_conv(1, (emu_t *)dxd, dx, (emu_t *)wd, (void *)w, (emu_t *)dyd, (void *)dy, (emu_cd *)cd); }
static inline cudnnStatus_t cudnnConvolutionBackwardFilter(void *, const void *, void *xd, const void *x, void *dyd, const void *dy, void *cd, cudnnConvolutionBwdFilterAlgo_t, void *, size_t, const void *, void *dwd, void *dw) {
    return emu_conv(2, (emu_t *)xd, (void *)x, (emu_t *)dwd, dw, (emu_t *)dyd, (void *)dy, (emu_cd *)cd); }
