/* pool_resize.c — max / avg pooling (ceil_mode, count_include_pad), adaptive
 * average pooling and bilinear / nearest resize, each with its gradient, using
 * PyTorch's exact window and source-index rules. */
#include "ref.h"

/* ---- POOL2D ---------------------------------------------------------------------- */
static int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int ceil_mode) {
    int64_t num = in + 2 * p - k + (ceil_mode ? s - 1 : 0);
    if (num < 0) return 0;
    int64_t out = num / s + 1;
    if (ceil_mode && (out - 1) * s >= in + p) out--; /* the last window must start inside the input or left pad */
    return out;
}

typedef struct pool_geom { int64_t nc, h, w, ho, wo, kh, kw, sh, sw, ph, pw; } pool_geom;

/* x [N,C,H,W] and y [N,C,Ho,Wo] against the params */
static int pool_setup(ref_run *r, const ref_t *x, const ref_t *y, pool_geom *g) {
    const cv_pool_params *p = r->params;
    char sx[96], sy[96];
    if (x->ndim != 4 || y->ndim != 4)
        return ref_fail(r, CV_ERR_INVALID, "x %s and y %s must be 4-d", ref_shape_str(x, sx, sizeof sx),
                        ref_shape_str(y, sy, sizeof sy));
    if (p->fn != CV_POOL_MAX && p->fn != CV_POOL_AVG) return ref_fail(r, CV_ERR_INVALID, "unknown pool fn %d", p->fn);
    if (p->kernel[0] < 1 || p->kernel[1] < 1 || p->stride[0] < 1 || p->stride[1] < 1 || p->pad[0] < 0 ||
        p->pad[1] < 0 || p->pad[0] > p->kernel[0] / 2 || p->pad[1] > p->kernel[1] / 2)
        return ref_fail(r, CV_ERR_INVALID, "bad params: kernel %dx%d, stride %dx%d, pad %dx%d (pad must be <= kernel/2)",
                        p->kernel[0], p->kernel[1], p->stride[0], p->stride[1], p->pad[0], p->pad[1]);
    g->nc = x->shape[0] * x->shape[1]; g->h = x->shape[2]; g->w = x->shape[3];
    g->kh = p->kernel[0]; g->kw = p->kernel[1]; g->sh = p->stride[0]; g->sw = p->stride[1];
    g->ph = p->pad[0]; g->pw = p->pad[1];
    g->ho = pool_out_size(g->h, g->kh, g->sh, g->ph, p->ceil_mode);
    g->wo = pool_out_size(g->w, g->kw, g->sw, g->pw, p->ceil_mode);
    if (y->shape[0] != x->shape[0] || y->shape[1] != x->shape[1] || y->shape[2] != g->ho || y->shape[3] != g->wo ||
        g->ho < 1 || g->wo < 1)
        return ref_fail(r, CV_ERR_INVALID, "x %s with kernel %dx%d stride %dx%d pad %dx%d ceil_mode %d gives [%lld,%lld,%lld,%lld], not y %s",
                        ref_shape_str(x, sx, sizeof sx), p->kernel[0], p->kernel[1], p->stride[0], p->stride[1],
                        p->pad[0], p->pad[1], p->ceil_mode, (long long)x->shape[0], (long long)x->shape[1],
                        (long long)g->ho, (long long)g->wo, ref_shape_str(y, sy, sizeof sy));
    return CV_OK;
}

/* the clipped window of output (oh, ow) and the average's divisor */
static void pool_window(const pool_geom *g, const cv_pool_params *p, int64_t oh, int64_t ow, int64_t *h0, int64_t *h1,
                        int64_t *w0, int64_t *w1, double *divisor) {
    int64_t hs = oh * g->sh - g->ph, ws = ow * g->sw - g->pw;
    int64_t he = hs + g->kh < g->h + g->ph ? hs + g->kh : g->h + g->ph;
    int64_t we = ws + g->kw < g->w + g->pw ? ws + g->kw : g->w + g->pw;
    int64_t padded = (he - hs) * (we - ws);
    *h0 = hs < 0 ? 0 : hs; *w0 = ws < 0 ? 0 : ws;
    *h1 = he < g->h ? he : g->h; *w1 = we < g->w ? we : g->w;
    *divisor = p->count_include_pad ? (double)padded : (double)((*h1 - *h0) * (*w1 - *w0));
}

/* index (into the plane) of the first maximum of a window; NaN wins as in PyTorch */
static int64_t pool_argmax(const float *plane, const pool_geom *g, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
    int64_t best = -1;
    float m = -INFINITY;
    for (int64_t ih = h0; ih < h1; ih++)
        for (int64_t iw = w0; iw < w1; iw++) {
            float v = plane[ih * g->w + iw];
            if (best < 0 || v > m || isnan(v)) { m = v; best = ih * g->w + iw; }
            if (isnan(v)) return best;
        }
    return best;
}

int ref_pool2d(ref_run *r) {
    int st = ref_arity(r, 1, 1, 1, 1);
    pool_geom g;
    if (st || (st = pool_setup(r, &r->in[0], &r->out[0], &g))) return st;
    const cv_pool_params *p = r->params;
    for (int64_t pl = 0; pl < g.nc; pl++) {
        const float *xp = r->in[0].f + pl * g.h * g.w;
        float *yp = r->out[0].f + pl * g.ho * g.wo;
        for (int64_t oh = 0; oh < g.ho; oh++)
            for (int64_t ow = 0; ow < g.wo; ow++) {
                int64_t h0, h1, w0, w1;
                double div;
                pool_window(&g, p, oh, ow, &h0, &h1, &w0, &w1, &div);
                if (p->fn == CV_POOL_MAX) {
                    int64_t a = pool_argmax(xp, &g, h0, h1, w0, w1);
                    yp[oh * g.wo + ow] = a < 0 ? -INFINITY : xp[a];
                } else {
                    double s = 0.0;
                    for (int64_t ih = h0; ih < h1; ih++)
                        for (int64_t iw = w0; iw < w1; iw++) s += xp[ih * g.w + iw];
                    yp[oh * g.wo + ow] = (float)(s / div);
                }
            }
    }
    return CV_OK;
}

/* x, y, dy -> dx; max routes each dy to the first maximum of its window */
int ref_pool2d_bwd(ref_run *r) {
    int st = ref_arity(r, 3, 3, 1, 1);
    pool_geom g;
    if (st || (st = pool_setup(r, &r->in[0], &r->in[2], &g))) return st;
    if (!ref_same_shape(r, &r->in[0], "x", &r->out[0], "dx") || !ref_same_shape(r, &r->in[1], "y", &r->in[2], "dy"))
        return CV_ERR_INVALID;
    const cv_pool_params *p = r->params;
    memset(r->out[0].f, 0, (size_t)r->out[0].numel * sizeof(float));
    for (int64_t pl = 0; pl < g.nc; pl++) {
        const float *xp = r->in[0].f + pl * g.h * g.w, *dyp = r->in[2].f + pl * g.ho * g.wo;
        float *dxp = r->out[0].f + pl * g.h * g.w;
        for (int64_t oh = 0; oh < g.ho; oh++)
            for (int64_t ow = 0; ow < g.wo; ow++) {
                int64_t h0, h1, w0, w1;
                double div;
                float d = dyp[oh * g.wo + ow];
                pool_window(&g, p, oh, ow, &h0, &h1, &w0, &w1, &div);
                if (p->fn == CV_POOL_MAX) {
                    int64_t a = pool_argmax(xp, &g, h0, h1, w0, w1);
                    if (a >= 0) dxp[a] += d;
                } else {
                    for (int64_t ih = h0; ih < h1; ih++)
                        for (int64_t iw = w0; iw < w1; iw++) dxp[ih * g.w + iw] += (float)(d / div);
                }
            }
    }
    return CV_OK;
}

/* ---- spatial resampling: geometry shared by adaptive pool and resize ----------------- */
/* x [N,C,H,W] (the larger-rank side) and y [N,C,out_h,out_w] as the params say */
static int spatial_setup(ref_run *r, const ref_t *x, const ref_t *y, int64_t *nc) {
    const cv_resize_params *p = r->params;
    char sx[96], sy[96];
    if (x->ndim != 4 || y->ndim != 4 || x->shape[0] != y->shape[0] || x->shape[1] != y->shape[1] ||
        y->shape[2] != p->out_h || y->shape[3] != p->out_w || p->out_h < 1 || p->out_w < 1 || x->shape[2] < 1 ||
        x->shape[3] < 1)
        return ref_fail(r, CV_ERR_INVALID, "input %s and output %s do not match out_h %d, out_w %d",
                        ref_shape_str(x, sx, sizeof sx), ref_shape_str(y, sy, sizeof sy), p->out_h, p->out_w);
    *nc = x->shape[0] * x->shape[1];
    return CV_OK;
}

/* ---- ADAPTIVE_AVG_POOL2D: bin i covers [floor(i*in/out), ceil((i+1)*in/out)) -------- */
static int64_t bin_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
static int64_t bin_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

static int adaptive(ref_run *r, int backward) {
    int st = ref_arity(r, 1, 1, 1, 1);
    int64_t nc;
    const ref_t *big = backward ? &r->out[0] : &r->in[0], *small = backward ? &r->in[0] : &r->out[0];
    if (st || (st = spatial_setup(r, big, small, &nc))) return st;
    int64_t h = big->shape[2], w = big->shape[3], oh_n = small->shape[2], ow_n = small->shape[3];
    if (backward) memset(r->out[0].f, 0, (size_t)r->out[0].numel * sizeof(float));
    for (int64_t pl = 0; pl < nc; pl++)
        for (int64_t oh = 0; oh < oh_n; oh++)
            for (int64_t ow = 0; ow < ow_n; ow++) {
                int64_t h0 = bin_start(oh, h, oh_n), h1 = bin_end(oh, h, oh_n);
                int64_t w0 = bin_start(ow, w, ow_n), w1 = bin_end(ow, w, ow_n);
                double area = (double)((h1 - h0) * (w1 - w0)), s = 0.0;
                float *bp = big->f + pl * h * w, *sp = small->f + (pl * oh_n + oh) * ow_n + ow;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) {
                        if (backward) bp[ih * w + iw] += (float)(*sp / area);
                        else s += bp[ih * w + iw];
                    }
                if (!backward) *sp = (float)(s / area);
            }
    return CV_OK;
}

int ref_adaptive_avg_pool2d(ref_run *r) { return adaptive(r, 0); }
int ref_adaptive_avg_pool2d_bwd(ref_run *r) { return adaptive(r, 1); }

/* ---- RESIZE ------------------------------------------------------------------------------ */
/* the two source taps and weights of output index o along one axis */
static void bilinear_taps(int64_t o, int64_t in, int64_t out, int align_corners, int64_t *i0, int64_t *i1, double *l1) {
    double scale, src;
    if (align_corners) {
        scale = out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0;
        src = scale * (double)o;
    } else {
        scale = (double)in / (double)out;
        src = scale * ((double)o + 0.5) - 0.5;
        if (src < 0) src = 0;
    }
    *i0 = (int64_t)src;
    if (*i0 > in - 1) *i0 = in - 1;
    *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);
    *l1 = src - (double)*i0;
    if (*l1 > 1.0) *l1 = 1.0;
}

/* PyTorch's legacy "nearest": floor(o * in/out) computed in float, clamped */
static int64_t nearest_tap(int64_t o, int64_t in, int64_t out) {
    float scale = (float)in / (float)out;
    int64_t i = (int64_t)floorf((float)o * scale);
    return i < in - 1 ? i : in - 1;
}

static int resize(ref_run *r, int backward) {
    int st = ref_arity(r, 1, 1, 1, 1);
    int64_t nc;
    const ref_t *src = backward ? &r->out[0] : &r->in[0], *dst = backward ? &r->in[0] : &r->out[0];
    if (st || (st = spatial_setup(r, src, dst, &nc))) return st;
    const cv_resize_params *p = r->params;
    if (p->mode != CV_RESIZE_BILINEAR && p->mode != CV_RESIZE_NEAREST)
        return ref_fail(r, CV_ERR_INVALID, "unknown resize mode %d", p->mode);
    int64_t h = src->shape[2], w = src->shape[3], oh_n = dst->shape[2], ow_n = dst->shape[3];
    if (backward) memset(r->out[0].f, 0, (size_t)r->out[0].numel * sizeof(float));
    for (int64_t pl = 0; pl < nc; pl++) {
        float *sp = src->f + pl * h * w, *dp = dst->f + pl * oh_n * ow_n;
        for (int64_t oh = 0; oh < oh_n; oh++)
            for (int64_t ow = 0; ow < ow_n; ow++) {
                int64_t hh[2], ww[2];
                double lh = 0.0, lw = 0.0;
                if (p->mode == CV_RESIZE_NEAREST) {
                    hh[0] = hh[1] = nearest_tap(oh, h, oh_n);
                    ww[0] = ww[1] = nearest_tap(ow, w, ow_n);
                } else {
                    bilinear_taps(oh, h, oh_n, p->align_corners, &hh[0], &hh[1], &lh);
                    bilinear_taps(ow, w, ow_n, p->align_corners, &ww[0], &ww[1], &lw);
                }
                double wt[2][2] = { { (1 - lh) * (1 - lw), (1 - lh) * lw }, { lh * (1 - lw), lh * lw } };
                double s = 0.0;
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++) {
                        if (backward) sp[hh[a] * w + ww[b]] += (float)(wt[a][b] * dp[oh * ow_n + ow]);
                        else s += wt[a][b] * sp[hh[a] * w + ww[b]];
                    }
                if (!backward) dp[oh * ow_n + ow] = (float)s;
            }
    }
    return CV_OK;
}

int ref_resize(ref_run *r) { return resize(r, 0); }
int ref_resize_bwd(ref_run *r) { return resize(r, 1); }
