/* updates.c — the in-place optimizer updates over flat f32 buffers (SGD, Adam /
 * AdamW, RMSprop, LAMB) following torch.optim's formulas, and the buffer helpers
 * SUMSQ, AXPBY, FILL and NONFINITE.  Per element arithmetic is in double. */
#include "ref.h"

/* grad in, n_min..n_max state outputs all with grad's element count */
static int update_check(ref_run *r, int n_min, int n_max) {
    int st = ref_arity(r, 1, 1, n_min, n_max);
    if (st) return st;
    for (int i = 0; i < r->n_out; i++)
        if (r->out[i].numel != r->in[0].numel) {
            char sg[96], so[96];
            return ref_fail(r, CV_ERR_INVALID, "output %d %s and grad %s have different element counts", i,
                            ref_shape_str(&r->out[i], so, sizeof so), ref_shape_str(&r->in[0], sg, sizeof sg));
        }
    return CV_OK;
}

/* torch.optim.SGD, except that the momentum buffer starts at zero instead of
 * being set to the first gradient: identical when dampening = 0 (the usual case) */
int ref_sgd_update(ref_run *r) {
    const cv_sgd_params *p = r->params;
    int st = update_check(r, p->momentum != 0.0f ? 2 : 1, 2);
    if (st) return st;
    float *param = r->out[0].f, *buf = r->n_out > 1 ? r->out[1].f : NULL;
    const float *grad = r->in[0].f;
    for (int64_t i = 0; i < r->in[0].numel; i++) {
        double g = (double)grad[i] + (double)p->weight_decay * param[i];
        if (p->momentum != 0.0f) {
            double b = (double)p->momentum * buf[i] + (1.0 - (double)p->dampening) * g;
            buf[i] = (float)b;
            g = p->nesterov ? g + (double)p->momentum * b : b;
        }
        param[i] = (float)(param[i] - (double)p->lr * g);
    }
    return CV_OK;
}

static int adam_step_check(ref_run *r, const cv_adam_params *p) {
    if (p->step < 1) return ref_fail(r, CV_ERR_INVALID, "step %lld must be >= 1 (it is 1-based)", (long long)p->step);
    return CV_OK;
}

/* torch.optim.Adam (decoupled = 0: L2 added to the gradient) / AdamW (decoupled = 1) */
int ref_adam_update(ref_run *r) {
    const cv_adam_params *p = r->params;
    int st = update_check(r, 3, 3);
    if (st || (st = adam_step_check(r, p))) return st;
    float *param = r->out[0].f, *m = r->out[1].f, *v = r->out[2].f;
    const float *grad = r->in[0].f;
    double b1 = p->beta1, b2 = p->beta2, lr = p->lr, wd = p->weight_decay;
    double bc1 = 1.0 - pow(b1, (double)p->step), bc2 = 1.0 - pow(b2, (double)p->step);
    for (int64_t i = 0; i < r->in[0].numel; i++) {
        double w = param[i], g = grad[i];
        if (p->decoupled) w *= 1.0 - lr * wd;
        else g += wd * w;
        double mi = b1 * m[i] + (1.0 - b1) * g, vi = b2 * v[i] + (1.0 - b2) * g * g;
        m[i] = (float)mi;
        v[i] = (float)vi;
        w -= lr / bc1 * mi / (sqrt(vi) / sqrt(bc2) + (double)p->eps);
        param[i] = (float)w;
    }
    return CV_OK;
}

/* torch.optim.RMSprop (not centered); eps_inside_sqrt gives TensorFlow's sqrt(v + eps) */
int ref_rmsprop_update(ref_run *r) {
    const cv_rmsprop_params *p = r->params;
    int st = update_check(r, p->momentum > 0.0f ? 3 : 2, 3);
    if (st) return st;
    float *param = r->out[0].f, *sq = r->out[1].f, *mom = r->n_out > 2 ? r->out[2].f : NULL;
    const float *grad = r->in[0].f;
    double a = p->alpha;
    for (int64_t i = 0; i < r->in[0].numel; i++) {
        double g = (double)grad[i] + (double)p->weight_decay * param[i];
        double s = a * sq[i] + (1.0 - a) * g * g;
        sq[i] = (float)s;
        double avg = p->eps_inside_sqrt ? sqrt(s + (double)p->eps) : sqrt(s) + (double)p->eps;
        double step = g / avg;
        if (p->momentum > 0.0f) {
            step = (double)p->momentum * mom[i] + step;
            mom[i] = (float)step;
        }
        param[i] = (float)(param[i] - (double)p->lr * step);
    }
    return CV_OK;
}

/* LAMB over one whole parameter tensor: Adam moments with bias correction,
 * u = m^ / (sqrt(v^) + eps) + wd * p, then p -= lr * (||p|| / ||u||) * u, the
 * trust ratio being 1 when either norm is 0.  `decoupled` is not used: LAMB's
 * decay is always part of u. */
int ref_lamb_update(ref_run *r) {
    const cv_adam_params *p = r->params;
    int st = update_check(r, 3, 3);
    if (st || (st = adam_step_check(r, p))) return st;
    float *param = r->out[0].f, *m = r->out[1].f, *v = r->out[2].f;
    const float *grad = r->in[0].f;
    double b1 = p->beta1, b2 = p->beta2, wd = p->weight_decay;
    double bc1 = 1.0 - pow(b1, (double)p->step), bc2 = 1.0 - pow(b2, (double)p->step);
    double pn = 0.0, un = 0.0;
    int64_t n = r->in[0].numel;
    for (int64_t i = 0; i < n; i++) {
        double g = grad[i];
        m[i] = (float)(b1 * m[i] + (1.0 - b1) * g);
        v[i] = (float)(b2 * v[i] + (1.0 - b2) * g * g);
        double u = (m[i] / bc1) / (sqrt(v[i] / bc2) + (double)p->eps) + wd * param[i];
        pn += (double)param[i] * param[i];
        un += u * u;
    }
    double trust = pn > 0.0 && un > 0.0 ? sqrt(pn) / sqrt(un) : 1.0;
    for (int64_t i = 0; i < n; i++) {
        double u = (m[i] / bc1) / (sqrt(v[i] / bc2) + (double)p->eps) + wd * param[i];
        param[i] = (float)(param[i] - (double)p->lr * trust * u);
    }
    return CV_OK;
}

static int one_value_out(ref_run *r) {
    int st = ref_arity(r, 1, 1, 1, 1);
    if (st) return st;
    if (r->out[0].numel != 1) {
        char s[96];
        return ref_fail(r, CV_ERR_INVALID, "output %s must hold one value", ref_shape_str(&r->out[0], s, sizeof s));
    }
    return CV_OK;
}

int ref_sumsq(ref_run *r) {
    int st = one_value_out(r);
    if (st) return st;
    double s = 0.0;
    for (int64_t i = 0; i < r->in[0].numel; i++) s += (double)r->in[0].f[i] * r->in[0].f[i];
    r->out[0].f[0] = (float)s;
    return CV_OK;
}

int ref_nonfinite(ref_run *r) {
    int st = one_value_out(r);
    if (st) return st;
    int64_t bad = 0;
    for (int64_t i = 0; i < r->in[0].numel; i++) bad += !isfinite(r->in[0].f[i]);
    r->out[0].f[0] = (float)bad;
    return CV_OK;
}

/* y := a*y + b*x; with a = 0 the old y is not read (BLAS convention: NaN in an
 * uninitialised y does not leak) */
int ref_axpby(ref_run *r) {
    int st = ref_arity(r, 1, 1, 1, 1);
    if (st) return st;
    if (r->in[0].numel != r->out[0].numel) {
        char sx[96], sy[96];
        return ref_fail(r, CV_ERR_INVALID, "x %s and y %s have different element counts",
                        ref_shape_str(&r->in[0], sx, sizeof sx), ref_shape_str(&r->out[0], sy, sizeof sy));
    }
    const cv_axpby_params *p = r->params;
    for (int64_t i = 0; i < r->in[0].numel; i++) {
        double y = p->a == 0.0f ? 0.0 : (double)p->a * r->out[0].f[i];
        r->out[0].f[i] = (float)(y + (double)p->b * r->in[0].f[i]);
    }
    return CV_OK;
}

int ref_fill(ref_run *r) {
    int st = ref_arity(r, 0, 0, 1, 1);
    if (st) return st;
    float v = ((const cv_scalar_params *)r->params)->value;
    for (int64_t i = 0; i < r->out[0].numel; i++) r->out[0].f[i] = v;
    return CV_OK;
}
