/* spatial.cu — max / avg pooling (PyTorch's windows: ceil_mode, count_include_pad),
 * adaptive average pooling and bilinear / nearest resize, with gradients.
 *
 * Pooling forward runs through cudnnPoolingForward when the output size is the
 * floor-mode one (cuDNN has no ceil mode; then every window lies inside H + p,
 * so its divisors equal PyTorch's); other cases and every backward use our
 * kernels.  The backward kernels are gathers — one thread per input pixel
 * visiting the outputs whose window reads it — so there are no atomics and
 * max-pool routes each gradient to the first maximum (NaN wins) as the
 * reference does.  Pooling and adaptive pooling also take channels-last (NHWC)
 * operands: every kernel walks its output in storage order and addresses
 * planes (n*C + c) and pixels (h*W + w) through at_of / elem_at. */
#include <math.h>
#include "cuint.h"

struct pool_geom {
    int64_t nc, c, h, w, ho, wo, kh, kw, sh, sw, ph, pw;
    int max, include_pad, nhwc;
};

/* element i (storage order) of a [N,C,H,W] tensor of hw pixels per plane -> its plane and pixel */
__device__ static inline void at_of(int64_t i, int64_t c, int64_t hw, int nhwc, int64_t *pl, int64_t *px) {
    if (nhwc) { *pl = i / (hw * c) * c + i % c; *px = i / c % hw; }
    else { *pl = i / hw; *px = i % hw; }
}
/* the storage offset of pixel px of plane pl */
__device__ static inline int64_t elem_at(int64_t pl, int64_t px, int64_t c, int64_t hw, int nhwc) {
    return nhwc ? (pl / c * hw + px) * c + pl % c : pl * hw + px;
}

static int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int ceil_mode) {
    int64_t num = in + 2 * p - k + (ceil_mode ? s - 1 : 0);
    if (num < 0) return 0;
    int64_t out = num / s + 1;
    if (ceil_mode && (out - 1) * s >= in + p) out--;
    return out;
}

static int pool_setup(cu_call *r, const cu_t *x, const cu_t *y, pool_geom *g) {
    const cv_pool_params *p = (const cv_pool_params *)r->params;
    char sx[96], sy[96];
    if (x->ndim != 4 || y->ndim != 4)
        return cu_fail(r, CV_ERR_INVALID, "x %s and y %s must be 4-d", cu_shape_str(x, sx, sizeof sx), cu_shape_str(y, sy, sizeof sy));
    if (p->fn != CV_POOL_MAX && p->fn != CV_POOL_AVG) return cu_fail(r, CV_ERR_INVALID, "unknown pool fn %d", p->fn);
    if (p->kernel[0] < 1 || p->kernel[1] < 1 || p->stride[0] < 1 || p->stride[1] < 1 || p->pad[0] < 0 ||
        p->pad[1] < 0 || p->pad[0] > p->kernel[0] / 2 || p->pad[1] > p->kernel[1] / 2)
        return cu_fail(r, CV_ERR_INVALID, "bad params: kernel %dx%d, stride %dx%d, pad %dx%d (pad must be <= kernel/2)",
                       p->kernel[0], p->kernel[1], p->stride[0], p->stride[1], p->pad[0], p->pad[1]);
    g->nc = x->shape[0] * x->shape[1]; g->c = x->shape[1]; g->h = x->shape[2]; g->w = x->shape[3];
    g->nhwc = x->nhwc;
    g->kh = p->kernel[0]; g->kw = p->kernel[1]; g->sh = p->stride[0]; g->sw = p->stride[1];
    g->ph = p->pad[0]; g->pw = p->pad[1];
    g->max = p->fn == CV_POOL_MAX;
    g->include_pad = p->count_include_pad;
    g->ho = pool_out_size(g->h, g->kh, g->sh, g->ph, p->ceil_mode);
    g->wo = pool_out_size(g->w, g->kw, g->sw, g->pw, p->ceil_mode);
    if (y->shape[0] != x->shape[0] || y->shape[1] != x->shape[1] || y->shape[2] != g->ho || y->shape[3] != g->wo ||
        g->ho < 1 || g->wo < 1)
        return cu_fail(r, CV_ERR_INVALID,
                       "x %s with kernel %dx%d stride %dx%d pad %dx%d ceil_mode %d gives [%lld,%lld,%lld,%lld], not y %s",
                       cu_shape_str(x, sx, sizeof sx), p->kernel[0], p->kernel[1], p->stride[0], p->stride[1], p->pad[0],
                       p->pad[1], p->ceil_mode, (long long)x->shape[0], (long long)x->shape[1], (long long)g->ho,
                       (long long)g->wo, cu_shape_str(y, sy, sizeof sy));
    return CV_OK;
}

__device__ static inline void pool_window(const pool_geom &g, int64_t oh, int64_t ow, int64_t *h0, int64_t *h1,
                                          int64_t *w0, int64_t *w1, double *div) {
    int64_t hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
    int64_t he = hs + g.kh < g.h + g.ph ? hs + g.kh : g.h + g.ph;
    int64_t we = ws + g.kw < g.w + g.pw ? ws + g.kw : g.w + g.pw;
    int64_t padded = (he - hs) * (we - ws);
    *h0 = hs < 0 ? 0 : hs; *w0 = ws < 0 ? 0 : ws;
    *h1 = he < g.h ? he : g.h; *w1 = we < g.w ? we : g.w;
    *div = g.include_pad ? (double)padded : (double)((*h1 - *h0) * (*w1 - *w0));
}

/* the pixel of the first maximum of plane pl of x in the window (NaN wins), -1 when empty */
__device__ static inline int64_t pool_argmax(const float *x, int64_t pl, const pool_geom &g, int64_t h0, int64_t h1,
                                             int64_t w0, int64_t w1) {
    int64_t best = -1;
    float m = -INFINITY;
    for (int64_t ih = h0; ih < h1; ih++)
        for (int64_t iw = w0; iw < w1; iw++) {
            float v = x[elem_at(pl, ih * g.w + iw, g.c, g.h * g.w, g.nhwc)];
            if (best < 0 || v > m || isnan(v)) { m = v; best = ih * g.w + iw; }
            if (isnan(v)) return best;
        }
    return best;
}

__global__ static void pool_kernel(const float *x, float *y, pool_geom g) {
    CU_LOOP(i, g.nc * g.ho * g.wo) {
        int64_t pl, px;
        at_of(i, g.c, g.ho * g.wo, g.nhwc, &pl, &px);
        int64_t ow = px % g.wo, oh = px / g.wo, hw = g.h * g.w;
        int64_t h0, h1, w0, w1;
        double div;
        pool_window(g, oh, ow, &h0, &h1, &w0, &w1, &div);
        if (g.max) {
            int64_t a = pool_argmax(x, pl, g, h0, h1, w0, w1);
            y[i] = a < 0 ? -INFINITY : x[elem_at(pl, a, g.c, hw, g.nhwc)];
        } else {
            double s = 0.0;
            for (int64_t ih = h0; ih < h1; ih++)
                for (int64_t iw = w0; iw < w1; iw++) s += x[elem_at(pl, ih * g.w + iw, g.c, hw, g.nhwc)];
            y[i] = (float)(s / div);
        }
    }
}

__global__ static void pool_bwd_kernel(const float *x, const float *dy, float *dx, pool_geom g) {
    CU_LOOP(i, g.nc * g.h * g.w) {
        int64_t pl, px;
        at_of(i, g.c, g.h * g.w, g.nhwc, &pl, &px);
        int64_t iw = px % g.w, ih = px / g.w;
        int64_t oh0 = (ih + g.ph - g.kh + g.sh) / g.sh, oh1 = (ih + g.ph) / g.sh;
        int64_t ow0 = (iw + g.pw - g.kw + g.sw) / g.sw, ow1 = (iw + g.pw) / g.sw;
        if (ih + g.ph - g.kh + 1 <= 0) oh0 = 0;
        if (iw + g.pw - g.kw + 1 <= 0) ow0 = 0;
        if (oh1 > g.ho - 1) oh1 = g.ho - 1;
        if (ow1 > g.wo - 1) ow1 = g.wo - 1;
        double acc = 0.0;
        for (int64_t oh = oh0; oh <= oh1; oh++)
            for (int64_t ow = ow0; ow <= ow1; ow++) {
                int64_t h0, h1, w0, w1;
                double div;
                pool_window(g, oh, ow, &h0, &h1, &w0, &w1, &div);
                if (ih < h0 || ih >= h1 || iw < w0 || iw >= w1) continue;
                double d = dy[elem_at(pl, oh * g.wo + ow, g.c, g.ho * g.wo, g.nhwc)];
                if (g.max) {
                    if (pool_argmax(x, pl, g, h0, h1, w0, w1) == px) acc += d;
                } else {
                    acc += d / div;
                }
            }
        dx[i] = (float)acc;
    }
}

/* cudnnPoolingForward; returns 1 (nothing recorded) when cuDNN cannot describe the
 * case, so the caller falls back to our kernel */
static int pool_cudnn(cu_call *r, const pool_geom *g, const cu_t *x, const cu_t *y) {
    if (g->nc > INT32_MAX || g->h > INT32_MAX || g->w > INT32_MAX) return 1;
    /* NCHW as nc planes of one image; NHWC as the real N and C */
    const int n = g->nhwc ? (int)(g->nc / g->c) : 1, c = g->nhwc ? (int)g->c : (int)g->nc;
    const cudnnTensorFormat_t f = g->nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    cudnnPoolingDescriptor_t pd = NULL;
    cudnnTensorDescriptor_t xd = NULL, yd = NULL;
    cudnnPoolingMode_t mode = g->max ? CUDNN_POOLING_MAX
                              : g->include_pad ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                               : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
    int st = 1;
    if (cudnnCreatePoolingDescriptor(&pd) == CUDNN_STATUS_SUCCESS && cudnnCreateTensorDescriptor(&xd) == CUDNN_STATUS_SUCCESS &&
        cudnnCreateTensorDescriptor(&yd) == CUDNN_STATUS_SUCCESS &&
        cudnnSetPooling2dDescriptor(pd, mode, CUDNN_PROPAGATE_NAN, (int)g->kh, (int)g->kw, (int)g->ph, (int)g->pw,
                                    (int)g->sh, (int)g->sw) == CUDNN_STATUS_SUCCESS &&
        cudnnSetTensor4dDescriptor(xd, f, CUDNN_DATA_FLOAT, n, c, (int)g->h, (int)g->w) == CUDNN_STATUS_SUCCESS &&
        cudnnSetTensor4dDescriptor(yd, f, CUDNN_DATA_FLOAT, n, c, (int)g->ho, (int)g->wo) == CUDNN_STATUS_SUCCESS) {
        const float one = 1.0f, zero = 0.0f;
        st = cu_dnn(r, cudnnPoolingForward(r->b->cudnn, pd, &one, xd, x->f, &zero, yd, y->f), "cudnnPoolingForward");
    }
    if (pd) cudnnDestroyPoolingDescriptor(pd);
    if (xd) cudnnDestroyTensorDescriptor(xd);
    if (yd) cudnnDestroyTensorDescriptor(yd);
    return st;
}

int cu_pool2d(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    pool_geom g;
    if (st || (st = pool_setup(r, &r->in[0], &r->out[0], &g))) return st;
    if (g.nc == 0) return CV_OK;
    int floor_sizes = g.ho == pool_out_size(g.h, g.kh, g.sh, g.ph, 0) && g.wo == pool_out_size(g.w, g.kw, g.sw, g.pw, 0);
    if (floor_sizes) {
        st = pool_cudnn(r, &g, &r->in[0], &r->out[0]);
        if (st != 1) return st;
    }
    pool_kernel<<<cu_blocks(g.nc * g.ho * g.wo), CU_THREADS, 0, r->b->stream>>>(r->in[0].f, r->out[0].f, g);
    return cu_launched(r, "pooling kernel");
}

/* x, y, dy -> dx */
int cu_pool2d_bwd(cu_call *r) {
    int st = cu_arity(r, 3, 3, 1, 1);
    pool_geom g;
    if (st || (st = pool_setup(r, &r->in[0], &r->in[2], &g))) return st;
    if (!cu_same_shape(r, &r->in[0], "x", &r->out[0], "dx") || !cu_same_shape(r, &r->in[1], "y", &r->in[2], "dy"))
        return CV_ERR_INVALID;
    if (r->out[0].numel == 0) return CV_OK;
    pool_bwd_kernel<<<cu_blocks(r->out[0].numel), CU_THREADS, 0, r->b->stream>>>(r->in[0].f, r->in[2].f, r->out[0].f, g);
    return cu_launched(r, "pooling backward kernel");
}

/* ---- adaptive average pooling and resize ------------------------------------------------ */
static int spatial_setup(cu_call *r, const cu_t *x, const cu_t *y, int64_t *nc) {
    const cv_resize_params *p = (const cv_resize_params *)r->params;
    char sx[96], sy[96];
    if (x->ndim != 4 || y->ndim != 4 || x->shape[0] != y->shape[0] || x->shape[1] != y->shape[1] ||
        y->shape[2] != p->out_h || y->shape[3] != p->out_w || p->out_h < 1 || p->out_w < 1 || x->shape[2] < 1 ||
        x->shape[3] < 1)
        return cu_fail(r, CV_ERR_INVALID, "input %s and output %s do not match out_h %d, out_w %d",
                       cu_shape_str(x, sx, sizeof sx), cu_shape_str(y, sy, sizeof sy), p->out_h, p->out_w);
    *nc = x->shape[0] * x->shape[1];
    return CV_OK;
}

__device__ static inline int64_t bin_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
__device__ static inline int64_t bin_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

/* the layouts of the two sides: x (the big one in forward) and y; c channels */
struct adaptive_lay { int64_t c; int x_nhwc, y_nhwc; };

__global__ static void adaptive_kernel(const float *x, float *y, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo,
                                       adaptive_lay l) {
    CU_LOOP(i, nc * ho * wo) {
        int64_t pl, px;
        at_of(i, l.c, ho * wo, l.y_nhwc, &pl, &px);
        int64_t ow = px % wo, oh = px / wo;
        int64_t h0 = bin_start(oh, h, ho), h1 = bin_end(oh, h, ho), w0 = bin_start(ow, w, wo), w1 = bin_end(ow, w, wo);
        double s = 0.0;
        for (int64_t ih = h0; ih < h1; ih++)
            for (int64_t iw = w0; iw < w1; iw++) s += x[elem_at(pl, ih * w + iw, l.c, h * w, l.x_nhwc)];
        y[i] = (float)(s / (double)((h1 - h0) * (w1 - w0)));
    }
}

__global__ static void adaptive_bwd_kernel(const float *dy, float *dx, int64_t nc, int64_t h, int64_t w, int64_t ho,
                                           int64_t wo, adaptive_lay l) {
    CU_LOOP(i, nc * h * w) {
        int64_t pl, px;
        at_of(i, l.c, h * w, l.x_nhwc, &pl, &px);
        int64_t iw = px % w, ih = px / w;
        double acc = 0.0;
        for (int64_t oh = 0; oh < ho; oh++) {
            int64_t h0 = bin_start(oh, h, ho), h1 = bin_end(oh, h, ho);
            if (ih < h0 || ih >= h1) continue;
            for (int64_t ow = 0; ow < wo; ow++) {
                int64_t w0 = bin_start(ow, w, wo), w1 = bin_end(ow, w, wo);
                if (iw < w0 || iw >= w1) continue;
                acc += dy[elem_at(pl, oh * wo + ow, l.c, ho * wo, l.y_nhwc)] / (double)((h1 - h0) * (w1 - w0));
            }
        }
        dx[i] = (float)acc;
    }
}

int cu_adaptive_avg_pool2d(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    int64_t nc;
    if (st || (st = spatial_setup(r, &r->in[0], &r->out[0], &nc))) return st;
    const cu_t *x = &r->in[0], *y = &r->out[0];
    if (y->numel == 0) return CV_OK;
    adaptive_lay l = { x->shape[1], x->nhwc, y->nhwc };
    adaptive_kernel<<<cu_blocks(y->numel), CU_THREADS, 0, r->b->stream>>>(x->f, y->f, nc, x->shape[2], x->shape[3],
                                                                          y->shape[2], y->shape[3], l);
    return cu_launched(r, "adaptive pooling kernel");
}

int cu_adaptive_avg_pool2d_bwd(cu_call *r) {
    int st = cu_arity(r, 1, 1, 1, 1);
    int64_t nc;
    if (st || (st = spatial_setup(r, &r->out[0], &r->in[0], &nc))) return st;
    const cu_t *dy = &r->in[0], *dx = &r->out[0];
    if (dx->numel == 0) return CV_OK;
    adaptive_lay l = { dx->shape[1], dx->nhwc, dy->nhwc };
    adaptive_bwd_kernel<<<cu_blocks(dx->numel), CU_THREADS, 0, r->b->stream>>>(dy->f, dx->f, nc, dx->shape[2], dx->shape[3],
                                                                               dy->shape[2], dy->shape[3], l);
    return cu_launched(r, "adaptive pooling backward kernel");
}

/* the two taps and the weight of the second along one axis (PyTorch's rules) */
__device__ static inline void taps(int64_t o, int64_t in, int64_t out, int nearest, int ac, int64_t *i0, int64_t *i1,
                                   double *l1) {
    if (nearest) {
        float scale = (float)in / (float)out;
        int64_t i = (int64_t)floorf((float)o * scale);
        *i0 = *i1 = i < in - 1 ? i : in - 1;
        *l1 = 0.0;
        return;
    }
    double src;
    if (ac) {
        double scale = out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0;
        src = scale * (double)o;
    } else {
        src = (double)in / (double)out * ((double)o + 0.5) - 0.5;
        if (src < 0) src = 0;
    }
    *i0 = (int64_t)src;
    if (*i0 > in - 1) *i0 = in - 1;
    *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);
    *l1 = src - (double)*i0;
    if (*l1 > 1.0) *l1 = 1.0;
}

/* outputs along one axis whose taps may include input index i (conservative) */
__device__ static inline void out_range(int64_t i, int64_t in, int64_t out, int nearest, int ac, int64_t *lo, int64_t *hi) {
    double scale = nearest || !ac ? (double)in / (double)out : (out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0);
    if (scale <= 0.0 || i >= in - 2) {
        *lo = scale <= 0.0 ? 0 : (int64_t)floor((double)(i - 1) / scale) - 3;
        *hi = out - 1;
    } else {
        *lo = (int64_t)floor((double)(i - 1) / scale) - 3;
        *hi = (int64_t)ceil((double)(i + 2) / scale) + 3;
    }
    if (*lo < 0) *lo = 0;
    if (*hi > out - 1) *hi = out - 1;
}

__global__ static void resize_kernel(const float *x, float *y, int64_t nc, int64_t h, int64_t w, int64_t ho, int64_t wo,
                                     int nearest, int ac) {
    CU_LOOP(i, nc * ho * wo) {
        int64_t ow = i % wo, oh = (i / wo) % ho, pl = i / (wo * ho);
        int64_t hh[2], ww[2];
        double lh, lw;
        taps(oh, h, ho, nearest, ac, &hh[0], &hh[1], &lh);
        taps(ow, w, wo, nearest, ac, &ww[0], &ww[1], &lw);
        const float *xp = x + pl * h * w;
        double s = (1 - lh) * (1 - lw) * xp[hh[0] * w + ww[0]] + (1 - lh) * lw * xp[hh[0] * w + ww[1]] +
                   lh * (1 - lw) * xp[hh[1] * w + ww[0]] + lh * lw * xp[hh[1] * w + ww[1]];
        y[i] = (float)s;
    }
}

__global__ static void resize_bwd_kernel(const float *dy, float *dx, int64_t nc, int64_t h, int64_t w, int64_t ho,
                                         int64_t wo, int nearest, int ac) {
    CU_LOOP(i, nc * h * w) {
        int64_t iw = i % w, ih = (i / w) % h, pl = i / (w * h);
        int64_t oh0, oh1, ow0, ow1;
        out_range(ih, h, ho, nearest, ac, &oh0, &oh1);
        out_range(iw, w, wo, nearest, ac, &ow0, &ow1);
        double acc = 0.0;
        for (int64_t oh = oh0; oh <= oh1; oh++) {
            int64_t hh[2];
            double lh;
            taps(oh, h, ho, nearest, ac, &hh[0], &hh[1], &lh);
            if (hh[0] != ih && hh[1] != ih) continue;
            double wh[2] = { 1 - lh, lh };
            for (int64_t ow = ow0; ow <= ow1; ow++) {
                int64_t ww[2];
                double lw;
                taps(ow, w, wo, nearest, ac, &ww[0], &ww[1], &lw);
                double wwt[2] = { 1 - lw, lw }, d = dy[(pl * ho + oh) * wo + ow];
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++)
                        if (hh[a] == ih && ww[b] == iw) acc += wh[a] * wwt[b] * d;
            }
        }
        dx[i] = (float)acc;
    }
}

static int resize(cu_call *r, int backward) {
    int st = cu_arity(r, 1, 1, 1, 1);
    int64_t nc;
    const cu_t *src = backward ? &r->out[0] : &r->in[0], *dst = backward ? &r->in[0] : &r->out[0];
    if (st || (st = spatial_setup(r, src, dst, &nc))) return st;
    const cv_resize_params *p = (const cv_resize_params *)r->params;
    if (p->mode != CV_RESIZE_BILINEAR && p->mode != CV_RESIZE_NEAREST)
        return cu_fail(r, CV_ERR_INVALID, "unknown resize mode %d", p->mode);
    int nearest = p->mode == CV_RESIZE_NEAREST, ac = p->align_corners != 0;
    int64_t h = src->shape[2], w = src->shape[3], ho = dst->shape[2], wo = dst->shape[3];
    if (r->out[0].numel == 0) return CV_OK;
    if (backward)
        resize_bwd_kernel<<<cu_blocks(r->out[0].numel), CU_THREADS, 0, r->b->stream>>>(r->in[0].f, r->out[0].f, nc, h, w,
                                                                                       ho, wo, nearest, ac);
    else
        resize_kernel<<<cu_blocks(r->out[0].numel), CU_THREADS, 0, r->b->stream>>>(r->in[0].f, r->out[0].f, nc, h, w, ho,
                                                                                   wo, nearest, ac);
    return cu_launched(r, backward ? "resize backward kernel" : "resize kernel");
}

int cu_resize(cu_call *r) { return resize(r, 0); }
int cu_resize_bwd(cu_call *r) { return resize(r, 1); }
