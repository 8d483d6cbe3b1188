/* plugins/backends/cpu/spatial.c — spatial ops on NCHW planes, parallel over
 * planes (pooling and adaptive pooling also on blocked C16 planes, whose pixels
 * lie 16 floats apart): pooling that oneDNN does not match exactly (avg pool windows running
 * past the right padding in ceil mode) and all pooling gradients, adaptive
 * average pooling, bilinear / nearest resize, and embedding lookups.  Window and
 * source-index rules are PyTorch's, as in the reference backend. */
#include "cpu.h"

#include <omp.h>

#include <math.h>
#include <string.h>

/* pixel index of the first maximum; plane pixels are `step` floats apart */
static int64_t pool_argmax(const float *plane, int64_t step, const pool_geom *g, int64_t h0, int64_t h1, int64_t w0,
                           int64_t w1) {
    int64_t best = -1;
    float m = -INFINITY;
    for (int64_t ih = h0; ih < h1; ih++)
        for (int64_t iw = w0; iw < w1; iw++) {
            float v = plane[(ih * g->w + iw) * step];
            if (best < 0 || v > m || v != v) { m = v; best = ih * g->w + iw; }
            if (v != v) return best;
        }
    return best;
}

/* PyTorch's output size: floor or ceil of (in + 2p - k)/s + 1, with ceil mode's
 * last window dropped when it would start in the right padding */
static int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int ceil_mode) {
    int64_t num = in + 2 * p - k + (ceil_mode ? s - 1 : 0);
    if (num < 0) return 0;
    int64_t out = num / s + 1;
    if (ceil_mode && (out - 1) * s >= in + p) out--;
    return out;
}

int pool_geometry_ok(const cv_kernel *k) {
    const cv_pool_params *p = k->params;
    const cv_ktensor *x = &k->in[0], *y = k->op == CV_OP_POOL2D_BWD ? &k->in[2] : &k->out[0];
    if (!p || x->ndim != 4 || y->ndim != 4 || x->shape[0] != y->shape[0] || x->shape[1] != y->shape[1] ||
        (p->fn != CV_POOL_MAX && p->fn != CV_POOL_AVG))
        return 0;
    for (int d = 0; d < 2; d++)
        if (p->kernel[d] < 1 || p->stride[d] < 1 || p->pad[d] < 0 || p->pad[d] > p->kernel[d] / 2 ||
            y->shape[2 + d] < 1 ||
            y->shape[2 + d] != pool_out_size(x->shape[2 + d], p->kernel[d], p->stride[d], p->pad[d], p->ceil_mode))
            return 0;
    return 1;
}

/* Pooling gradient on C16 tensors: one (image, 16-channel block) row at a time,
 * the 16 channels of a pixel side by side; per channel the same window rule as
 * the plain loop (max: the first element equal to the forward output, else the
 * first maximum). */
/* one C16 row (16 channels of one image) of the pooling gradient: dx (hw x 16,
 * zeroed here) from x (hw x 16), y and dy (ohw x 16) */
static void pool_bwd_row(const pool_geom *g, int incl, int is_max, const float *x, const float *y, const float *dy,
                         float *dx) {
    const int64_t hw = g->h * g->w, ohw = g->ho * g->wo;
    memset(dx, 0, (size_t)(hw * 16) * sizeof(float));
    for (int64_t o = 0; o < ohw; o++) {
        int64_t h0, h1, w0, w1;
        float div;
        pool_window(g, incl, o / g->wo, o % g->wo, &h0, &h1, &w0, &w1, &div);
        const float *m = y + o * 16, *d = dy + o * 16;
        if (!is_max) {
            for (int64_t ih = h0; ih < h1; ih++)
                for (int64_t iw = w0; iw < w1; iw++) {
                    float *dp = dx + (ih * g->w + iw) * 16;
                    for (int l = 0; l < 16; l++) dp[l] += d[l] / div;
                }
            continue;
        }
        /* per lane the first pixel equal to the maximum: scan the window
         * backwards, the last match seen is the first (branch-free) */
        int32_t at[16];
        for (int l = 0; l < 16; l++) at[l] = -1;
        for (int64_t ih = h1 - 1; ih >= h0; ih--)
            for (int64_t iw = w1 - 1; iw >= w0; iw--) {
                const int32_t px = (int32_t)(ih * g->w + iw);
                const float *xp = x + (int64_t)px * 16;
                for (int l = 0; l < 16; l++) at[l] = xp[l] == m[l] ? px : at[l];
            }
        for (int l = 0; l < 16; l++) {
            int64_t a = at[l] >= 0 ? at[l] : pool_argmax(x + l, 16, g, h0, h1, w0, w1); /* NaN: first maximum */
            if (a >= 0) dx[a * 16 + l] += d[l];
        }
    }
}

/* the f32 values one bf16 row of pool_bwd_c16 widens, per thread: x, dx (hw x 16), y, dy (ohw x 16) */
static size_t pool_row_floats(const cv_kernel *k) {
    const cv_ktensor *x = &k->in[0], *y = &k->in[1];
    return (size_t)(2 * x->shape[2] * x->shape[3] + 2 * y->shape[2] * y->shape[3]) * 16;
}

/* every operand C16 (a uniform op); with bf16 activations (precision = bf16) max
 * pooling runs on the bf16 row (bf16.c) unless a window holds a NaN; otherwise each
 * row is widened into rows_ws (pool_row_floats per thread) and dx narrowed */
static void pool_bwd_c16(cpu_backend *b, const cv_kernel *k, const pool_geom *g, int incl, int is_max, float *rows_ws) {
    const int64_t rows = g->nc / 16, hw = g->h * g->w, ohw = g->ho * g->wo;
    const int half = k->in[0].dtype == CV_BF16;
    const size_t es = half ? 2 : 4, per = pool_row_floats(k);
    const char *xd = k->in[0].data, *yd = k->in[1].data, *dyd = k->in[2].data;
    char *dxd = k->out[0].data;
    #pragma omp parallel for num_threads(b->threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const void *x = xd + (size_t)(r * hw * 16) * es, *y = yd + (size_t)(r * ohw * 16) * es;
        const void *dy = dyd + (size_t)(r * ohw * 16) * es;
        void *dx = dxd + (size_t)(r * hw * 16) * es;
        if (!half) {
            pool_bwd_row(g, incl, is_max, x, y, dy, dx);
            continue;
        }
        float *fx = rows_ws + per * (size_t)omp_get_thread_num(), *fdx = fx + hw * 16, *fy = fdx + hw * 16,
              *fdy = fy + ohw * 16;
        if (is_max && pool_max_bwd_row_bf16(x, y, dy, g, fx, dx)) continue; /* no NaN: on bf16 directly */
        bf16_to_f32_block(fx, x, hw * 16);
        bf16_to_f32_block(fy, y, ohw * 16);
        bf16_to_f32_block(fdy, dy, ohw * 16);
        pool_bwd_row(g, incl, is_max, fx, fy, fdy, fdx);
        bf16_from_f32_block(dx, fdx, hw * 16);
    }
}

static int pool(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    const cv_pool_params *p = k->params;
    int bwd = k->op == CV_OP_POOL2D_BWD;
    const cv_ktensor *x = &k->in[0], *y = bwd ? &k->in[2] : &k->out[0];
    char sx[64], sy[64];
    if (!pool_geometry_ok(k) || (bwd && (kt_numel(&k->out[0]) != kt_numel(x) || kt_numel(&k->in[1]) != kt_numel(y))))
        return CPU_FAIL(b, err, CV_ERR_INVALID,
                        "backend cpu: %s: x %s and y %s do not fit kernel %dx%d, stride %dx%d, pad %dx%d (<= kernel/2), ceil_mode %d",
                        op_name(k->op), kt_shape_str(x, sx, sizeof sx), kt_shape_str(y, sy, sizeof sy), p ? p->kernel[0] : 0,
                        p ? p->kernel[1] : 0, p ? p->stride[0] : 0, p ? p->stride[1] : 0, p ? p->pad[0] : 0,
                        p ? p->pad[1] : 0, p ? p->ceil_mode : 0);
    pool_geom g = { x->shape[0] * x->shape[1], x->shape[2], x->shape[3], y->shape[2], y->shape[3], p->kernel[0],
                    p->kernel[1], p->stride[0], p->stride[1], p->pad[0], p->pad[1] };
    const float *xd = x->data;
    const int incl = p->count_include_pad, is_max = p->fn == CV_POOL_MAX, lay = cv_kernel_layout(k, 0, 0); /* one for all */
    if (!bwd) {
        float *yd = k->out[0].data;
        #pragma omp parallel for num_threads(b->threads) schedule(static)
        for (int64_t pl = 0; pl < g.nc; pl++) {
            int64_t sx, sy;
            const float *xp = xd + plane_at(x, lay, pl, &sx);
            float *yp = yd + plane_at(y, lay, pl, &sy);
            for (int64_t oh = 0; oh < g.ho; oh++)
                for (int64_t ow = 0; ow < g.wo; ow++) {
                    int64_t h0, h1, w0, w1;
                    float div;
                    pool_window(&g, incl, oh, ow, &h0, &h1, &w0, &w1, &div);
                    if (is_max) {
                        int64_t a = pool_argmax(xp, sx, &g, h0, h1, w0, w1);
                        yp[(oh * g.wo + ow) * sy] = a < 0 ? -INFINITY : xp[a * sx];
                    } else {
                        float s = 0;
                        for (int64_t ih = h0; ih < h1; ih++)
                            for (int64_t iw = w0; iw < w1; iw++) s += xp[(ih * g.w + iw) * sx];
                        yp[(oh * g.wo + ow) * sy] = s / div;
                    }
                }
        }
        return CV_OK;
    }
    if (lay == CV_LAYOUT_C16) {
        cpu_scratch s;
        const size_t ws = k->in[0].dtype == CV_BF16 ? pool_row_floats(k) * sizeof(float) * (size_t)b->threads : 0;
        if (scratch_begin(&s, k, ws) != CV_OK)
            return CPU_FAIL(b, err, CV_ERR_NOMEM, "backend cpu: %s: no scratch memory", op_name(k->op));
        pool_bwd_c16(b, k, &g, incl, is_max, ws ? scratch_take(&s, ws) : NULL);
        scratch_end(&s);
        return CV_OK;
    }
    const float *dyd = k->in[2].data, *yd = k->in[1].data;
    float *dxd = k->out[0].data;
    #pragma omp parallel for num_threads(b->threads) schedule(static)
    for (int64_t pl = 0; pl < g.nc; pl++) {
        int64_t sx, sy;
        const int64_t xo = plane_at(x, lay, pl, &sx), yo = plane_at(y, lay, pl, &sy);
        const float *xp = xd + xo, *dyp = dyd + yo, *yp = yd + yo;
        float *dxp = dxd + xo;
        for (int64_t i = 0; i < g.h * g.w; i++) dxp[i * sx] = 0;
        for (int64_t oh = 0; oh < g.ho; oh++)
            for (int64_t ow = 0; ow < g.wo; ow++) {
                int64_t h0, h1, w0, w1;
                float div, d = dyp[(oh * g.wo + ow) * sy];
                pool_window(&g, incl, oh, ow, &h0, &h1, &w0, &w1, &div);
                if (is_max) {
                    /* the first element equal to the forward's maximum is the first
                     * maximum; scan for it, and fall back to a full argmax when none
                     * matches (NaN in the window) */
                    int64_t a = -1;
                    const float m = yp[(oh * g.wo + ow) * sy];
                    for (int64_t ih = h0; ih < h1 && a < 0; ih++)
                        for (int64_t iw = w0; iw < w1; iw++)
                            if (xp[(ih * g.w + iw) * sx] == m) { a = ih * g.w + iw; break; }
                    if (a < 0) a = pool_argmax(xp, sx, &g, h0, h1, w0, w1);
                    if (a >= 0) dxp[a * sx] += d;
                } else {
                    float v = d / div;
                    for (int64_t ih = h0; ih < h1; ih++)
                        for (int64_t iw = w0; iw < w1; iw++) dxp[(ih * g.w + iw) * sx] += v;
                }
            }
    }
    return CV_OK;
}

/* ---- adaptive average pooling ---------------------------------------------------------- */
/* window o of n_out over n_in: [o * n_in / n_out, ceil((o + 1) * n_in / n_out)) */
static int64_t win_lo(int64_t o, int64_t in, int64_t out) { return o * in / out; }
static int64_t win_hi(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

/* the windows [*lo, *hi) that cover input position i (both bounds grow with o) */
static void covering(int64_t i, int64_t in, int64_t out, int64_t *lo, int64_t *hi) {
    *lo = 0;
    while (win_hi(*lo, in, out) <= i) ++*lo;
    *hi = *lo;
    while (*hi < out && win_lo(*hi, in, out) <= i) ++*hi;
}

/* forward: each output the mean of its window; backward: each input pixel sums the
 * gradients of the windows covering it, in f32, and is stored once (bf16 storage
 * rounds the sum, not every partial sum) */
static int adaptive(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    int bwd = k->op == CV_OP_ADAPTIVE_AVG_POOL2D_BWD;
    const cv_ktensor *big = bwd ? &k->out[0] : &k->in[0], *small = bwd ? &k->in[0] : &k->out[0];
    const cv_resize_params *p = k->params;
    char sx[64], sy[64];
    if (!p || big->ndim != 4 || small->ndim != 4 || big->shape[0] != small->shape[0] || big->shape[1] != small->shape[1] ||
        small->shape[2] != p->out_h || small->shape[3] != p->out_w || big->shape[2] < 1 || big->shape[3] < 1)
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: input %s and output %s do not match the params",
                        op_name(k->op), kt_shape_str(&k->in[0], sx, sizeof sx), kt_shape_str(&k->out[0], sy, sizeof sy));
    int64_t nc = big->shape[0] * big->shape[1], h = big->shape[2], w = big->shape[3];
    int64_t ohn = small->shape[2], own = small->shape[3];
    void *bd = big->data, *sd = small->data;
    const int bt = big->dtype, st = small->dtype; /* f32, or bf16 activations (precision = bf16) */
    const int lb = cv_kernel_layout(k, bwd, 0), ls = cv_kernel_layout(k, !bwd, 0); /* independent when the small side is 1x1 */
    #pragma omp parallel for num_threads(b->threads) schedule(static)
    for (int64_t pl = 0; pl < nc; pl++) {
        int64_t sb, ss;
        const int64_t bp = plane_at(big, lb, pl, &sb), sp = plane_at(small, ls, pl, &ss);
        if (bwd) {
            for (int64_t ih = 0; ih < h; ih++) {
                int64_t oh0, oh1;
                covering(ih, h, ohn, &oh0, &oh1);
                for (int64_t iw = 0; iw < w; iw++) {
                    int64_t ow0, ow1;
                    covering(iw, w, own, &ow0, &ow1);
                    float g = 0;
                    for (int64_t oh = oh0; oh < oh1; oh++)
                        for (int64_t ow = ow0; ow < ow1; ow++)
                            g += act_load(sd, st, sp + (oh * own + ow) * ss) /
                                 (float)((win_hi(oh, h, ohn) - win_lo(oh, h, ohn)) * (win_hi(ow, w, own) - win_lo(ow, w, own)));
                    act_store(bd, bt, bp + (ih * w + iw) * sb, g);
                }
            }
            continue;
        }
        for (int64_t oh = 0; oh < ohn; oh++) {
            int64_t h0 = win_lo(oh, h, ohn), h1 = win_hi(oh, h, ohn);
            for (int64_t ow = 0; ow < own; ow++) {
                int64_t w0 = win_lo(ow, w, own), w1 = win_hi(ow, w, own);
                float s = 0;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) s += act_load(bd, bt, bp + (ih * w + iw) * sb);
                act_store(sd, st, sp + (oh * own + ow) * ss, s / (float)((h1 - h0) * (w1 - w0)));
            }
        }
    }
    return CV_OK;
}

/* ---- resize ---------------------------------------------------------------------------- */
typedef struct tap { int64_t i0, i1; float l1; } tap;

static tap bilinear_tap(int64_t o, int64_t in, int64_t out, int align_corners) {
    double scale, src;
    if (align_corners) {
        scale = out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0;
        src = scale * (double)o;
    } else {
        scale = (double)in / (double)out;
        src = scale * ((double)o + 0.5) - 0.5;
        if (src < 0) src = 0;
    }
    tap t;
    t.i0 = (int64_t)src;
    if (t.i0 > in - 1) t.i0 = in - 1;
    t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
    double l = src - (double)t.i0;
    t.l1 = (float)(l > 1.0 ? 1.0 : l);
    return t;
}
static tap nearest_tap(int64_t o, int64_t in, int64_t out) {
    float scale = (float)in / (float)out;
    int64_t i = (int64_t)floorf((float)o * scale);
    tap t = { i < in - 1 ? i : in - 1, 0, 0 };
    t.i1 = t.i0;
    return t;
}

size_t spatial_scratch_bytes(const cv_kernel *k, int threads) {
    if (k->op == CV_OP_POOL2D_BWD && k->n_in == 3 && k->in[0].dtype == CV_BF16 && k->in[0].ndim == 4 && k->in[1].ndim == 4)
        return pool_row_floats(k) * sizeof(float) * (size_t)threads + 64;
    if ((k->op != CV_OP_RESIZE && k->op != CV_OP_RESIZE_BWD) || !k->params) return 0;
    const cv_resize_params *p = k->params;
    return (size_t)((int64_t)(p->out_h > 0 ? p->out_h : 0) + (p->out_w > 0 ? p->out_w : 0)) * sizeof(tap) + 128;
}

static int resize(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    int bwd = k->op == CV_OP_RESIZE_BWD;
    const cv_ktensor *src = bwd ? &k->out[0] : &k->in[0], *dst = bwd ? &k->in[0] : &k->out[0];
    const cv_resize_params *p = k->params;
    char sx[64], sy[64];
    if (!p || src->ndim != 4 || dst->ndim != 4 || src->shape[0] != dst->shape[0] || src->shape[1] != dst->shape[1] ||
        dst->shape[2] != p->out_h || dst->shape[3] != p->out_w || src->shape[2] < 1 || src->shape[3] < 1 ||
        (p->mode != CV_RESIZE_BILINEAR && p->mode != CV_RESIZE_NEAREST))
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: input %s and output %s do not match the params",
                        op_name(k->op), kt_shape_str(&k->in[0], sx, sizeof sx), kt_shape_str(&k->out[0], sy, sizeof sy));
    int64_t nc = src->shape[0] * src->shape[1], h = src->shape[2], w = src->shape[3];
    int64_t ohn = dst->shape[2], own = dst->shape[3];
    cpu_scratch s;
    if (scratch_begin(&s, k, (size_t)(ohn + own) * sizeof(tap) + 128) != CV_OK)
        return CPU_FAIL(b, err, CV_ERR_NOMEM, "backend cpu: %s: no scratch memory", op_name(k->op));
    tap *th = scratch_take(&s, (size_t)ohn * sizeof(tap)), *tw = scratch_take(&s, (size_t)own * sizeof(tap));
    for (int64_t o = 0; o < ohn; o++)
        th[o] = p->mode == CV_RESIZE_NEAREST ? nearest_tap(o, h, ohn) : bilinear_tap(o, h, ohn, p->align_corners);
    for (int64_t o = 0; o < own; o++)
        tw[o] = p->mode == CV_RESIZE_NEAREST ? nearest_tap(o, w, own) : bilinear_tap(o, w, own, p->align_corners);
    float *sd = src->data, *dd = dst->data;
    #pragma omp parallel for num_threads(b->threads) schedule(static)
    for (int64_t pl = 0; pl < nc; pl++) {
        float *sp = sd + pl * h * w, *dp = dd + pl * ohn * own;
        if (bwd) memset(sp, 0, (size_t)(h * w) * sizeof(float));
        for (int64_t oh = 0; oh < ohn; oh++) {
            const tap a = th[oh];
            const float *r0 = sp + a.i0 * w, *r1 = sp + a.i1 * w;
            for (int64_t ow = 0; ow < own; ow++) {
                const tap c = tw[ow];
                float lh = a.l1, lw = c.l1;
                float w00 = (1 - lh) * (1 - lw), w01 = (1 - lh) * lw, w10 = lh * (1 - lw), w11 = lh * lw;
                if (bwd) {
                    float d = dp[oh * own + ow];
                    sp[a.i0 * w + c.i0] += w00 * d;
                    sp[a.i0 * w + c.i1] += w01 * d;
                    sp[a.i1 * w + c.i0] += w10 * d;
                    sp[a.i1 * w + c.i1] += w11 * d;
                } else
                    dp[oh * own + ow] = w00 * r0[c.i0] + w01 * r0[c.i1] + w10 * r1[c.i0] + w11 * r1[c.i1];
            }
        }
    }
    scratch_end(&s);
    return CV_OK;
}

/* ---- embedding --------------------------------------------------------------------------- */
static int embedding(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    int bwd = k->op == CV_OP_EMBEDDING_BWD;
    const cv_ktensor *wt = bwd ? &k->out[0] : &k->in[0], *idx = bwd ? &k->in[0] : &k->in[1];
    const cv_ktensor *y = bwd ? &k->in[1] : &k->out[0];
    char sw[64], si[64], sy[64];
    int ok = idx->dtype == CV_I32 && wt->ndim == 2 && y->ndim == idx->ndim + 1 && y->shape[y->ndim - 1] == wt->shape[1];
    for (int d = 0; ok && d < idx->ndim; d++) ok = y->shape[d] == idx->shape[d];
    if (!ok)
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: weight %s, idx %s (i32) and y %s do not fit y[..,D] = weight[V,D][idx[..]]",
                        op_name(k->op), kt_shape_str(wt, sw, sizeof sw), kt_shape_str(idx, si, sizeof si),
                        kt_shape_str(y, sy, sizeof sy));
    const int32_t *ix = idx->data;
    int64_t n = kt_numel(idx), V = wt->shape[0], D = wt->shape[1];
    for (int64_t i = 0; i < n; i++)
        if (ix[i] < 0 || ix[i] >= V)
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: index %d at position %lld is outside [0, %lld)",
                            op_name(k->op), ix[i], (long long)i, (long long)V);
    float *wd = wt->data, *yd = y->data;
    if (!bwd) {
        #pragma omp parallel for num_threads(b->threads) schedule(static) if (n * D > 16384)
        for (int64_t i = 0; i < n; i++) memcpy(yd + i * D, wd + (int64_t)ix[i] * D, (size_t)D * sizeof(float));
        return CV_OK;
    }
    /* columns are independent: split D across threads, rows in index order */
    memset(wd, 0, (size_t)(V * D) * sizeof(float));
    #pragma omp parallel for num_threads(b->threads) schedule(static) if (n * D > 16384)
    for (int64_t j0 = 0; j0 < D; j0 += 64) {
        int64_t j1 = j0 + 64 < D ? j0 + 64 : D;
        for (int64_t i = 0; i < n; i++) {
            float *row = wd + (int64_t)ix[i] * D;
            const float *g = yd + i * D;
            for (int64_t j = j0; j < j1; j++) row[j] += g[j];
        }
    }
    return CV_OK;
}

int run_spatial(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    int nin = k->op == CV_OP_POOL2D_BWD ? 3 : (k->op == CV_OP_EMBEDDING || k->op == CV_OP_EMBEDDING_BWD) ? 2 : 1;
    if (k->n_in != nin || k->n_out != 1)
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: needs %d inputs and 1 output, got %d and %d",
                        op_name(k->op), nin, k->n_in, k->n_out);
    /* bf16 activations (precision = bf16, stored so by the engine) only in the C16 pooling loops */
    const int half_ok = b->bf16 && k->op != CV_OP_RESIZE && k->op != CV_OP_RESIZE_BWD && k->op != CV_OP_EMBEDDING &&
                        k->op != CV_OP_EMBEDDING_BWD;
    for (int i = 0; i < k->n_in; i++)
        if (k->in[i].dtype != CV_F32 && !(k->in[i].dtype == CV_I32 && (k->op == CV_OP_EMBEDDING || k->op == CV_OP_EMBEDDING_BWD)) &&
            !(half_ok && k->in[i].dtype == CV_BF16 && cv_kernel_layout(k, 0, i) == CV_LAYOUT_C16))
            return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: %s: input %d has dtype %d", op_name(k->op), i, k->in[i].dtype);
    if (k->out[0].dtype != CV_F32 && !(half_ok && k->out[0].dtype == CV_BF16 && cv_kernel_layout(k, 1, 0) == CV_LAYOUT_C16))
        return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: %s: output must be f32", op_name(k->op));
    cpu_scratch s;
    if (scratch_begin(&s, k, dense_bytes(k)) != CV_OK)
        return CPU_FAIL(b, err, CV_ERR_NOMEM, "backend cpu: %s: no scratch memory", op_name(k->op));
    cpu_dense d;
    int st = dense_start(&d, k, &s, b->threads, 0);
    if (st != CV_OK) {
        scratch_end(&s);
        return CPU_FAIL(b, err, st, "backend cpu: %s: could not pack strided operands", op_name(k->op));
    }
    switch (k->op) {
    case CV_OP_POOL2D: case CV_OP_POOL2D_BWD: st = pool(b, &d.k, err); break;
    case CV_OP_ADAPTIVE_AVG_POOL2D: case CV_OP_ADAPTIVE_AVG_POOL2D_BWD: st = adaptive(b, &d.k, err); break;
    case CV_OP_RESIZE: case CV_OP_RESIZE_BWD: st = resize(b, &d.k, err); break;
    default: st = embedding(b, &d.k, err); break;
    }
    if (st == CV_OK) dense_finish(&d, b->threads);
    scratch_end(&s);
    return st;
}
