/* conv.c — 2-D convolution (PyTorch Conv2d: stride, padding, dilation, groups,
 * bias) and its two gradients, as direct loops over the output. */
#include "ref.h"

typedef struct conv_geom {
    int64_t n, c, h, w;      /* input */
    int64_t o, cg, kh, kw;   /* weight [o, cg, kh, kw], cg = c / groups */
    int64_t ho, wo;          /* output spatial */
    int64_t sh, sw, ph, pw, dh, dw, groups, og; /* og = o / groups */
} conv_geom;

/* Validate x [N,C,H,W], w [O,C/g,kh,kw] and y [N,O,Ho,Wo] against the params. */
static int conv_geometry(ref_run *r, const ref_t *x, const ref_t *w, const ref_t *y, conv_geom *g) {
    const cv_conv_params *p = r->params;
    char sx[96], sw[96], sy[96];
    if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4)
        return ref_fail(r, CV_ERR_INVALID, "x %s, w %s and y %s must all be 4-d", ref_shape_str(x, sx, sizeof sx),
                        ref_shape_str(w, sw, sizeof sw), ref_shape_str(y, sy, sizeof sy));
    if (p->groups < 1 || p->stride[0] < 1 || p->stride[1] < 1 || p->dilation[0] < 1 || p->dilation[1] < 1 ||
        p->pad[0] < 0 || p->pad[1] < 0)
        return ref_fail(r, CV_ERR_INVALID, "bad params: groups %d, stride %dx%d, dilation %dx%d, pad %dx%d", p->groups,
                        p->stride[0], p->stride[1], p->dilation[0], p->dilation[1], p->pad[0], p->pad[1]);
    g->n = x->shape[0]; g->c = x->shape[1]; g->h = x->shape[2]; g->w = x->shape[3];
    g->o = w->shape[0]; g->cg = w->shape[1]; g->kh = w->shape[2]; g->kw = w->shape[3];
    g->sh = p->stride[0]; g->sw = p->stride[1]; g->ph = p->pad[0]; g->pw = p->pad[1];
    g->dh = p->dilation[0]; g->dw = p->dilation[1]; g->groups = p->groups;
    g->og = g->o / g->groups;
    int64_t eh = g->h + 2 * g->ph - g->dh * (g->kh - 1) - 1, ew = g->w + 2 * g->pw - g->dw * (g->kw - 1) - 1;
    g->ho = eh < 0 ? 0 : eh / g->sh + 1;
    g->wo = ew < 0 ? 0 : ew / g->sw + 1;
    if (g->c % g->groups || g->o % g->groups || g->cg * g->groups != g->c || eh < 0 || ew < 0 ||
        y->shape[0] != g->n || y->shape[1] != g->o || y->shape[2] != g->ho || y->shape[3] != g->wo)
        return ref_fail(r, CV_ERR_INVALID,
                        "x %s, w %s, y %s do not fit groups %d, stride %dx%d, pad %dx%d, dilation %dx%d "
                        "(expected y [%lld,%lld,%lld,%lld])",
                        ref_shape_str(x, sx, sizeof sx), ref_shape_str(w, sw, sizeof sw), ref_shape_str(y, sy, sizeof sy),
                        p->groups, p->stride[0], p->stride[1], p->pad[0], p->pad[1], p->dilation[0], p->dilation[1],
                        (long long)g->n, (long long)g->o, (long long)g->ho, (long long)g->wo);
    return CV_OK;
}

/* Visit every (output position, weight tap) pair that reads a real input pixel.
 * mode 0: y += x*w (double accumulator per output element); 1: acc[x index] +=
 * dy*w; 2: acc[w index] += dy*x (acc: a double image of dx or dw). */
static void conv_loops(const conv_geom *g, int mode, const float *x, const float *w, float *y, double *acc) {
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t o = 0; o < g->o; o++) {
            int64_t grp = o / g->og;
            for (int64_t oh = 0; oh < g->ho; oh++)
                for (int64_t ow = 0; ow < g->wo; ow++) {
                    float *yp = &y[((n * g->o + o) * g->ho + oh) * g->wo + ow];
                    double sum = 0.0;
                    for (int64_t c = 0; c < g->cg; c++) {
                        int64_t ci = grp * g->cg + c;
                        for (int64_t i = 0; i < g->kh; i++) {
                            int64_t ih = oh * g->sh - g->ph + i * g->dh;
                            if (ih < 0 || ih >= g->h) continue;
                            for (int64_t j = 0; j < g->kw; j++) {
                                int64_t iw = ow * g->sw - g->pw + j * g->dw;
                                if (iw < 0 || iw >= g->w) continue;
                                int64_t xi = ((n * g->c + ci) * g->h + ih) * g->w + iw;
                                int64_t wi = ((o * g->cg + c) * g->kh + i) * g->kw + j;
                                if (mode == 0) sum += (double)x[xi] * w[wi];
                                else if (mode == 1) acc[xi] += (double)*yp * w[wi];
                                else acc[wi] += (double)*yp * x[xi];
                            }
                        }
                    }
                    if (mode == 0) *yp += (float)sum;
                }
        }
}

int ref_conv2d(ref_run *r) {
    conv_geom g;
    int st = ref_arity(r, 2, 3, 1, 1);
    if (!st) st = conv_geometry(r, &r->in[0], &r->in[1], &r->out[0], &g);
    if (st) return st;
    float *y = r->out[0].f;
    if (r->n_in == 3) {
        char sb[96];
        if (r->in[2].numel != g.o)
            return ref_fail(r, CV_ERR_INVALID, "bias %s must have %lld elements", ref_shape_str(&r->in[2], sb, sizeof sb),
                            (long long)g.o);
    }
    for (int64_t n = 0; n < g.n; n++)
        for (int64_t o = 0; o < g.o; o++)
            for (int64_t s = 0; s < g.ho * g.wo; s++) y[(n * g.o + o) * g.ho * g.wo + s] = r->n_in == 3 ? r->in[2].f[o] : 0.0f;
    conv_loops(&g, 0, r->in[0].f, r->in[1].f, y, NULL);
    return CV_OK;
}

/* mode 1: in dy, w -> dx; mode 2: in dy, x -> dw; accumulated in double */
static int conv_backward(ref_run *r, const conv_geom *g, int mode) {
    ref_t *out = &r->out[0];
    double *acc = ref_scratch(r, (size_t)out->numel, sizeof(double));
    if (!acc) return r->err->status;
    if (mode == 1) conv_loops(g, 1, out->f, r->in[1].f, r->in[0].f, acc);
    else conv_loops(g, 2, r->in[1].f, out->f, r->in[0].f, acc);
    for (int64_t i = 0; i < out->numel; i++) out->f[i] = (float)acc[i];
    ref_scratch_free(r, acc);
    return CV_OK;
}

/* dy, w -> dx (dx's shape is the output's) */
int ref_conv2d_bwd_data(ref_run *r) {
    conv_geom g;
    int st = ref_arity(r, 2, 2, 1, 1);
    if (!st) st = conv_geometry(r, &r->out[0], &r->in[1], &r->in[0], &g);
    if (st) return st;
    return conv_backward(r, &g, 1);
}

/* dy, x -> dw (dw's shape is the output's) */
int ref_conv2d_bwd_weight(ref_run *r) {
    conv_geom g;
    int st = ref_arity(r, 2, 2, 1, 1);
    if (!st) st = conv_geometry(r, &r->in[1], &r->out[0], &r->in[0], &g);
    if (st) return st;
    return conv_backward(r, &g, 2);
}
