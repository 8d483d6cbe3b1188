/* losses.c — cross entropy (hard or soft targets, label smoothing, ignore_index,
 * class weights, [N,C,*] logits for segmentation), BCE-with-logits and smooth L1,
 * all reduced by the mean exactly as PyTorch does, plus their gradients.
 *
 * Hard targets, with w_c the class weights (1 without a weight input), C classes,
 * eps the label smoothing and D = sum of w[target] over positions not ignored:
 *   loss = (1-eps) * sum w[y] (-log p_y) / D  +  eps/C * sum_c w_c (-log p_c) / D
 * (PyTorch's cross_entropy with reduction='mean').  When every position is
 * ignored (D = 0) the loss and its gradient are 0, where PyTorch returns NaN: a
 * segmentation crop that is all "ignore" must not stop training.
 * Soft targets t (f32, the logits' shape): t' = (1-eps) t + eps/C and
 *   loss = -sum w_c t'_c log p_c / (number of positions). */
#include "ref.h"

typedef struct ce_layout {
    int64_t n, c, s;       /* logits as [n, c, s] */
    int soft;
    const float *weight;   /* NULL: all ones */
} ce_layout;

static int ce_setup(ref_run *r, const ref_t *logits, const ref_t *target, const ref_t *weight, ce_layout *l) {
    char sl[96], st[96], sw[96];
    if (logits->ndim < 2)
        return ref_fail(r, CV_ERR_INVALID, "logits %s must be [N,C] or [N,C,H,W]", ref_shape_str(logits, sl, sizeof sl));
    l->n = logits->shape[0];
    l->c = logits->shape[1];
    l->s = 1;
    for (int d = 2; d < logits->ndim; d++) l->s *= logits->shape[d];
    l->soft = target->i == NULL;
    int ok;
    if (l->soft) {
        ok = ref_same_shape(r, logits, "logits", target, "soft target");
        if (!ok) return CV_ERR_INVALID;
    } else {
        ok = target->ndim == logits->ndim - 1 && target->shape[0] == l->n;
        for (int d = 2; ok && d < logits->ndim; d++) ok = target->shape[d - 1] == logits->shape[d];
        if (!ok)
            return ref_fail(r, CV_ERR_INVALID, "i32 target %s does not match logits %s (want [N] or [N,H,W])",
                            ref_shape_str(target, st, sizeof st), ref_shape_str(logits, sl, sizeof sl));
    }
    l->weight = weight ? weight->f : NULL;
    if (weight && weight->numel != l->c)
        return ref_fail(r, CV_ERR_INVALID, "class weight %s must have C = %lld elements",
                        ref_shape_str(weight, sw, sizeof sw), (long long)l->c);
    return CV_OK;
}

static int scalar_out(ref_run *r, const ref_t *t, const char *what) {
    if (t->numel == 1) return CV_OK;
    char s[96];
    return ref_fail(r, CV_ERR_INVALID, "%s %s must hold one value", what, ref_shape_str(t, s, sizeof s));
}

/* log-softmax of position (n, s) into lp[c] */
static void ce_log_softmax(const ce_layout *l, const float *x, int64_t n, int64_t s, double *lp) {
    double m = -INFINITY, sum = 0.0;
    for (int64_t c = 0; c < l->c; c++) m = fmax(m, x[(n * l->c + c) * l->s + s]);
    for (int64_t c = 0; c < l->c; c++) sum += exp(x[(n * l->c + c) * l->s + s] - m);
    double lse = m + log(sum);
    for (int64_t c = 0; c < l->c; c++) lp[c] = x[(n * l->c + c) * l->s + s] - lse;
}

/* Runs forward (dlogits NULL: writes *loss) or backward (scale = dloss). */
static int ce_compute(ref_run *r, const ce_layout *l, const ref_t *logits, const ref_t *target, double *loss,
                      float *dlogits, double dloss) {
    const cv_ce_params *p = r->params;
    double eps = p->label_smoothing, C = (double)l->c, wsum = 0.0;
    for (int64_t c = 0; c < l->c; c++) wsum += l->weight ? l->weight[c] : 1.0;
    double *lp = ref_scratch(r, (size_t)l->c, sizeof(double));
    if (!lp) return r->err->status;
    /* first the normaliser */
    double denom = (double)(l->n * l->s);
    if (!l->soft) {
        denom = 0.0;
        for (int64_t i = 0; i < l->n * l->s; i++) {
            int32_t y = target->i[i];
            if (y == p->ignore_index) continue;
            if (y < 0 || y >= l->c) {
                ref_scratch_free(r, lp);
                return ref_fail(r, CV_ERR_INVALID, "target %d at position %lld is outside [0, %lld) and is not ignore_index %d",
                                y, (long long)i, (long long)l->c, p->ignore_index);
            }
            denom += l->weight ? l->weight[y] : 1.0;
        }
    }
    double total = 0.0;
    if (dlogits) memset(dlogits, 0, (size_t)logits->numel * sizeof(float));
    for (int64_t n = 0; n < l->n; n++)
        for (int64_t s = 0; s < l->s; s++) {
            int32_t y = l->soft ? 0 : target->i[n * l->s + s];
            if ((!l->soft && y == p->ignore_index) || denom == 0.0) continue;
            ce_log_softmax(l, logits->f, n, s, lp);
            double tw = 0.0; /* soft: sum_c w_c t'_c */
            if (l->soft)
                for (int64_t c = 0; c < l->c; c++) {
                    double t = (1.0 - eps) * target->f[(n * l->c + c) * l->s + s] + eps / C;
                    double w = l->weight ? l->weight[c] : 1.0;
                    tw += w * t;
                    total -= w * t * lp[c];
                }
            else {
                double wy = l->weight ? l->weight[y] : 1.0;
                total -= (1.0 - eps) * wy * lp[y];
                for (int64_t c = 0; c < l->c; c++) total -= eps / C * (l->weight ? l->weight[c] : 1.0) * lp[c];
            }
            if (!dlogits) continue;
            for (int64_t c = 0; c < l->c; c++) {
                double pc = exp(lp[c]), w = l->weight ? l->weight[c] : 1.0, g;
                if (l->soft) {
                    double t = (1.0 - eps) * target->f[(n * l->c + c) * l->s + s] + eps / C;
                    g = tw * pc - w * t;
                } else {
                    double wy = l->weight ? l->weight[y] : 1.0;
                    g = (1.0 - eps) * wy * (pc - (c == y ? 1.0 : 0.0)) + eps / C * (wsum * pc - w);
                }
                dlogits[(n * l->c + c) * l->s + s] = (float)(g * dloss / denom);
            }
        }
    if (loss) *loss = denom == 0.0 ? 0.0 : total / denom;
    ref_scratch_free(r, lp);
    return CV_OK;
}

/* logits, target, (weight) -> loss */
int ref_cross_entropy(ref_run *r) {
    int st = ref_arity(r, 2, 3, 1, 1);
    ce_layout l;
    if (st || (st = ce_setup(r, &r->in[0], &r->in[1], r->n_in == 3 ? &r->in[2] : NULL, &l)) ||
        (st = scalar_out(r, &r->out[0], "loss")))
        return st;
    double loss;
    if ((st = ce_compute(r, &l, &r->in[0], &r->in[1], &loss, NULL, 0.0))) return st;
    r->out[0].f[0] = (float)loss;
    return CV_OK;
}

/* logits, target, (weight), dloss -> dlogits */
int ref_cross_entropy_bwd(ref_run *r) {
    int st = ref_arity(r, 3, 4, 1, 1);
    ce_layout l;
    const ref_t *dloss = &r->in[r->n_in - 1];
    if (st || (st = ce_setup(r, &r->in[0], &r->in[1], r->n_in == 4 ? &r->in[2] : NULL, &l)) ||
        (st = scalar_out(r, dloss, "dloss")))
        return st;
    if (!ref_same_shape(r, &r->in[0], "logits", &r->out[0], "dlogits")) return CV_ERR_INVALID;
    return ce_compute(r, &l, &r->in[0], &r->in[1], NULL, r->out[0].f, dloss->f[0]);
}

/* ---- BCE with logits: mean of max(x,0) - x t + log(1 + exp(-|x|)) ------------------- */
static int pair_check(ref_run *r, const char *a, const char *b) {
    return ref_same_shape(r, &r->in[0], a, &r->in[1], b) ? CV_OK : CV_ERR_INVALID;
}

int ref_bce_logits(ref_run *r) {
    int st = ref_arity(r, 2, 2, 1, 1);
    if (st || (st = pair_check(r, "logits", "target")) || (st = scalar_out(r, &r->out[0], "loss"))) return st;
    double s = 0.0;
    for (int64_t i = 0; i < r->in[0].numel; i++) {
        double x = r->in[0].f[i], t = r->in[1].f[i];
        s += fmax(x, 0.0) - x * t + log1p(exp(-fabs(x)));
    }
    r->out[0].f[0] = (float)(s / (double)r->in[0].numel);
    return CV_OK;
}

/* logits, target, dloss -> dlogits = (sigmoid(x) - t) dloss / numel */
int ref_bce_logits_bwd(ref_run *r) {
    int st = ref_arity(r, 3, 3, 1, 1);
    if (st || (st = pair_check(r, "logits", "target")) || (st = scalar_out(r, &r->in[2], "dloss"))) return st;
    if (!ref_same_shape(r, &r->in[0], "logits", &r->out[0], "dlogits")) return CV_ERR_INVALID;
    double scale = r->in[2].f[0] / (double)r->in[0].numel;
    for (int64_t i = 0; i < r->in[0].numel; i++) {
        double x = r->in[0].f[i];
        double sg = x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
        r->out[0].f[i] = (float)((sg - r->in[1].f[i]) * scale);
    }
    return CV_OK;
}

/* ---- smooth L1: 0.5 d^2 / beta when |d| < beta, else |d| - 0.5 beta (beta 0: L1) ---- */
static int beta_of(ref_run *r, double *beta) {
    *beta = ((const cv_smooth_l1_params *)r->params)->beta;
    if (!(*beta >= 0.0)) return ref_fail(r, CV_ERR_INVALID, "beta = %g must be >= 0", *beta);
    return CV_OK;
}

int ref_smooth_l1(ref_run *r) {
    int st = ref_arity(r, 2, 2, 1, 1);
    double beta;
    if (st || (st = beta_of(r, &beta)) || (st = pair_check(r, "pred", "target")) || (st = scalar_out(r, &r->out[0], "loss")))
        return st;
    double s = 0.0;
    for (int64_t i = 0; i < r->in[0].numel; i++) {
        double d = fabs((double)r->in[0].f[i] - r->in[1].f[i]);
        s += d < beta ? 0.5 * d * d / beta : d - 0.5 * beta;
    }
    r->out[0].f[0] = (float)(s / (double)r->in[0].numel);
    return CV_OK;
}

/* pred, target, dloss -> dpred */
int ref_smooth_l1_bwd(ref_run *r) {
    int st = ref_arity(r, 3, 3, 1, 1);
    double beta;
    if (st || (st = beta_of(r, &beta)) || (st = pair_check(r, "pred", "target")) || (st = scalar_out(r, &r->in[2], "dloss")))
        return st;
    if (!ref_same_shape(r, &r->in[0], "pred", &r->out[0], "dpred")) return CV_ERR_INVALID;
    double scale = r->in[2].f[0] / (double)r->in[0].numel;
    for (int64_t i = 0; i < r->in[0].numel; i++) {
        double d = (double)r->in[0].f[i] - r->in[1].f[i];
        double g = fabs(d) < beta ? d / beta : (d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0);
        r->out[0].f[i] = (float)(g * scale);
    }
    return CV_OK;
}
