/* norm.c — batch norm, layer norm and group norm, forward and backward.
 *
 * All three normalise groups of elements with one (mean, rstd) per group and
 * scale by a per-channel gamma / beta; they differ only in which group ("stat")
 * and which channel an element belongs to, so one pair of loops serves all:
 *   batch norm  x [N,C,*]: stat = c,                 channel = c
 *   layer norm  x [.., D]: stat = row (outer index), channel = index in the last `axes` dims
 *   group norm  x [N,C,*]: stat = n*G + c/(C/G),     channel = c
 * Variance is the biased one (divide by M) for normalisation, as in PyTorch;
 * batch norm's running variance gets the unbiased one (M/(M-1)). */
#include "ref.h"

enum { NORM_BATCH, NORM_LAYER, NORM_GROUP };

typedef struct norm_layout {
    int kind;
    int64_t n, c, s;       /* batch/group: x as [n, c, s] */
    int64_t inner;         /* layer: normalised size */
    int64_t groups;
    int64_t n_stats, n_chan, per_stat; /* per_stat: elements in one stat group */
} norm_layout;

static void norm_index(const norm_layout *l, int64_t i, int64_t *stat, int64_t *chan) {
    if (l->kind == NORM_LAYER) {
        *stat = i / l->inner;
        *chan = i % l->inner;
        return;
    }
    int64_t c = (i / l->s) % l->c, n = i / (l->s * l->c);
    *chan = c;
    *stat = l->kind == NORM_BATCH ? c : n * l->groups + c / (l->c / l->groups);
}

static int norm_setup(ref_run *r, int kind, const ref_t *x, norm_layout *l) {
    const cv_norm_params *p = r->params;
    char sx[96];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    if (kind == NORM_LAYER) {
        if (p->axes < 1 || p->axes > x->ndim)
            return ref_fail(r, CV_ERR_INVALID, "axes %d out of range for x %s", p->axes, ref_shape_str(x, sx, sizeof sx));
        l->inner = 1;
        for (int d = x->ndim - p->axes; d < x->ndim; d++) l->inner *= x->shape[d];
        l->n_stats = l->inner ? x->numel / l->inner : 0;
        l->n_chan = l->inner;
        l->per_stat = l->inner;
        return CV_OK;
    }
    if (x->ndim < 2)
        return ref_fail(r, CV_ERR_INVALID, "x %s must be at least [N,C]", ref_shape_str(x, sx, sizeof sx));
    l->n = x->shape[0];
    l->c = x->shape[1];
    l->s = 1;
    for (int d = 2; d < x->ndim; d++) l->s *= x->shape[d];
    l->n_chan = l->c;
    if (kind == NORM_BATCH) {
        l->n_stats = l->c;
        l->per_stat = l->n * l->s;
    } else {
        l->groups = p->groups;
        if (p->groups < 1 || l->c % p->groups)
            return ref_fail(r, CV_ERR_INVALID, "groups %d does not divide the %lld channels of x %s", p->groups,
                            (long long)l->c, ref_shape_str(x, sx, sizeof sx));
        l->n_stats = l->n * l->groups;
        l->per_stat = l->c / l->groups * l->s;
    }
    return CV_OK;
}

static int norm_check_len(ref_run *r, const ref_t *t, const char *what, int64_t want) {
    if (t->numel == want) return CV_OK;
    char s[96];
    return ref_fail(r, CV_ERR_INVALID, "%s %s must have %lld elements", what, ref_shape_str(t, s, sizeof s), (long long)want);
}

/* in: x, gamma, beta (+ run_mean, run_var for batch norm); out: y, (mean), (rstd) */
static int norm_forward(ref_run *r, int kind) {
    const cv_norm_params *p = r->params;
    int st = kind == NORM_BATCH ? ref_arity(r, 5, 5, 1, 5) : ref_arity(r, 1, 3, 1, 3);
    if (st) return st;
    const ref_t *x = &r->in[0];
    norm_layout l;
    if ((st = norm_setup(r, kind, x, &l))) return st;
    if (!ref_same_shape(r, x, "x", &r->out[0], "y")) return CV_ERR_INVALID;
    for (int i = 1; i < r->n_in; i++)
        if ((st = norm_check_len(r, &r->in[i], i == 1 ? "gamma" : i == 2 ? "beta" : i == 3 ? "run_mean" : "run_var",
                                 l.n_chan)))
            return st;
    for (int i = 1; i < r->n_out; i++)
        if ((st = norm_check_len(r, &r->out[i], i == 1 ? "save_mean" : i == 2 ? "save_rstd" : "new running stat",
                                 l.n_stats)))
            return st;
    int batch_stats = kind != NORM_BATCH || p->training;
    if (kind == NORM_BATCH && p->training && l.per_stat < 2) {
        char sx[96];
        return ref_fail(r, CV_ERR_INVALID, "training needs more than 1 value per channel, x is %s",
                        ref_shape_str(x, sx, sizeof sx));
    }
    double *mean = ref_scratch(r, (size_t)l.n_stats * 2, sizeof(double));
    if (!mean) return r->err->status;
    double *rstd = mean + l.n_stats;
    int64_t stat, chan;
    if (batch_stats) {
        for (int64_t i = 0; i < x->numel; i++) { norm_index(&l, i, &stat, &chan); mean[stat] += x->f[i]; }
        for (int64_t s = 0; s < l.n_stats; s++) mean[s] /= (double)l.per_stat;
        for (int64_t i = 0; i < x->numel; i++) {
            norm_index(&l, i, &stat, &chan);
            double d = x->f[i] - mean[stat];
            rstd[stat] += d * d; /* the biased variance, for now */
        }
        for (int64_t s = 0; s < l.n_stats; s++) rstd[s] /= (double)l.per_stat;
        if (kind == NORM_BATCH) { /* running statistics, in place or into outputs 3, 4 */
            float *rm = r->n_out >= 5 ? r->out[3].f : r->in[3].f, *rv = r->n_out >= 5 ? r->out[4].f : r->in[4].f;
            double m = p->momentum, unbias = (double)l.per_stat / (double)(l.per_stat - 1);
            for (int64_t c = 0; c < l.c; c++) {
                double old_m = r->in[3].f[c], old_v = r->in[4].f[c];
                rm[c] = (float)((1.0 - m) * old_m + m * mean[c]);
                rv[c] = (float)((1.0 - m) * old_v + m * rstd[c] * unbias);
            }
            if (r->n_out < 5) r->in_written[3] = r->in_written[4] = 1;
        }
        for (int64_t s = 0; s < l.n_stats; s++) rstd[s] = 1.0 / sqrt(rstd[s] + (double)p->eps);
    } else {
        for (int64_t c = 0; c < l.c; c++) {
            mean[c] = r->in[3].f[c];
            rstd[c] = 1.0 / sqrt((double)r->in[4].f[c] + (double)p->eps);
        }
        if (r->n_out >= 5) /* eval leaves the running statistics as they are */
            for (int64_t c = 0; c < l.c; c++) { r->out[3].f[c] = r->in[3].f[c]; r->out[4].f[c] = r->in[4].f[c]; }
    }
    for (int64_t i = 0; i < x->numel; i++) {
        norm_index(&l, i, &stat, &chan);
        double g = r->n_in > 1 ? r->in[1].f[chan] : 1.0, b = r->n_in > 2 ? r->in[2].f[chan] : 0.0;
        r->out[0].f[i] = (float)((x->f[i] - mean[stat]) * rstd[stat] * g + b);
    }
    for (int64_t s = 0; s < l.n_stats; s++) {
        if (r->n_out > 1) r->out[1].f[s] = (float)mean[s];
        if (r->n_out > 2) r->out[2].f[s] = (float)rstd[s];
    }
    ref_scratch_free(r, mean);
    return CV_OK;
}

/* in: x, dy, gamma, mean, rstd; out: dx, (dgamma), (dbeta) */
static int norm_backward(ref_run *r, int kind) {
    const cv_norm_params *p = r->params;
    int st = ref_arity(r, 5, 5, 1, 3);
    if (st) return st;
    const ref_t *x = &r->in[0], *dy = &r->in[1], *gamma = &r->in[2], *mean = &r->in[3], *rstd = &r->in[4];
    norm_layout l;
    if ((st = norm_setup(r, kind, x, &l))) return st;
    if (!ref_same_shape(r, x, "x", dy, "dy") || !ref_same_shape(r, x, "x", &r->out[0], "dx")) return CV_ERR_INVALID;
    if ((st = norm_check_len(r, gamma, "gamma", l.n_chan)) || (st = norm_check_len(r, mean, "mean", l.n_stats)) ||
        (st = norm_check_len(r, rstd, "rstd", l.n_stats)))
        return st;
    for (int i = 1; i < r->n_out; i++)
        if ((st = norm_check_len(r, &r->out[i], i == 1 ? "dgamma" : "dbeta", l.n_chan))) return st;
    /* batch norm in eval mode used constant statistics: no gradient through them */
    int through_stats = kind != NORM_BATCH || p->training;
    double *acc = ref_scratch(r, (size_t)(l.n_stats * 2 + l.n_chan * 2), sizeof(double));
    if (!acc) return r->err->status;
    double *sum_g = acc, *sum_gx = acc + l.n_stats, *dgamma = acc + 2 * l.n_stats, *dbeta = dgamma + l.n_chan;
    int64_t stat, chan;
    for (int64_t i = 0; i < x->numel; i++) {
        norm_index(&l, i, &stat, &chan);
        double xhat = (x->f[i] - (double)mean->f[stat]) * rstd->f[stat], g = (double)dy->f[i] * gamma->f[chan];
        sum_g[stat] += g;
        sum_gx[stat] += g * xhat;
        dgamma[chan] += (double)dy->f[i] * xhat;
        dbeta[chan] += dy->f[i];
    }
    for (int64_t i = 0; i < x->numel; i++) {
        norm_index(&l, i, &stat, &chan);
        double xhat = (x->f[i] - (double)mean->f[stat]) * rstd->f[stat], g = (double)dy->f[i] * gamma->f[chan];
        double d = g;
        if (through_stats) d -= (sum_g[stat] + xhat * sum_gx[stat]) / (double)l.per_stat;
        r->out[0].f[i] = (float)(d * rstd->f[stat]);
    }
    for (int64_t c = 0; c < l.n_chan; c++) {
        if (r->n_out > 1) r->out[1].f[c] = (float)dgamma[c];
        if (r->n_out > 2) r->out[2].f[c] = (float)dbeta[c];
    }
    ref_scratch_free(r, acc);
    return CV_OK;
}

int ref_batch_norm(ref_run *r) { return norm_forward(r, NORM_BATCH); }
int ref_layer_norm(ref_run *r) { return norm_forward(r, NORM_LAYER); }
int ref_group_norm(ref_run *r) { return norm_forward(r, NORM_GROUP); }
int ref_batch_norm_bwd(ref_run *r) { return norm_backward(r, NORM_BATCH); }
int ref_layer_norm_bwd(ref_run *r) { return norm_backward(r, NORM_LAYER); }
int ref_group_norm_bwd(ref_run *r) { return norm_backward(r, NORM_GROUP); }
