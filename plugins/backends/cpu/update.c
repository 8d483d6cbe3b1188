/* plugins/backends/cpu/update.c — in-place optimizer updates over flat f32
 * buffers (SGD, Adam/AdamW, RMSprop, LAMB) with torch.optim's formulas, and
 * AXPBY.  Single-precision, vectorisable loops split across threads; LAMB's
 * trust ratio needs two passes with a parallel reduction in between. */
#include "cpu.h"

#include <math.h>

#define PAR _Pragma("omp parallel for num_threads(b->threads) schedule(static) if (n > 32768)")

static int check(cpu_backend *b, const cv_kernel *k, int n_min, int n_max, cv_error *err) {
    if (k->n_in != 1 || k->n_out < n_min || k->n_out > n_max || !k->params)
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: needs grad -> %d..%d state buffers, got %d -> %d",
                        op_name(k->op), n_min, n_max, k->n_in, k->n_out);
    int64_t n = kt_numel(&k->in[0]);
    for (int i = 0; i < k->n_out; i++)
        if (kt_numel(&k->out[i]) != n || k->out[i].dtype != CV_F32 || !kt_contiguous(&k->out[i]))
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: output %d must be dense f32 with the grad's %lld elements",
                            op_name(k->op), i, (long long)n);
    if (k->in[0].dtype != CV_F32 || !kt_contiguous(&k->in[0]))
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: grad must be dense f32", op_name(k->op));
    return CV_OK;
}

int run_update(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    int st;
    const float *grad = k->n_in ? k->in[0].data : NULL;
    int64_t n = k->n_in ? kt_numel(&k->in[0]) : 0;
    switch (k->op) {
    case CV_OP_SGD_UPDATE: {
        const cv_sgd_params *p = k->params;
        if ((st = check(b, k, p && p->momentum != 0.0f ? 2 : 1, 2, err))) return st;
        float *w = k->out[0].data, *buf = k->n_out > 1 ? k->out[1].data : NULL;
        const float lr = p->lr, wd = p->weight_decay, mu = p->momentum, damp = 1.0f - p->dampening;
        if (mu == 0.0f) {
            PAR for (int64_t i = 0; i < n; i++) w[i] -= lr * (grad[i] + wd * w[i]);
        } else if (p->nesterov) {
            PAR for (int64_t i = 0; i < n; i++) {
                float g = grad[i] + wd * w[i], v = mu * buf[i] + damp * g;
                buf[i] = v;
                w[i] -= lr * (g + mu * v);
            }
        } else {
            PAR for (int64_t i = 0; i < n; i++) {
                float g = grad[i] + wd * w[i], v = mu * buf[i] + damp * g;
                buf[i] = v;
                w[i] -= lr * v;
            }
        }
        return CV_OK;
    }
    case CV_OP_ADAM_UPDATE: case CV_OP_LAMB_UPDATE: {
        const cv_adam_params *p = k->params;
        if ((st = check(b, k, 3, 3, err))) return st;
        if (p->step < 1)
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: step %lld must be >= 1 (it is 1-based)", op_name(k->op),
                            (long long)p->step);
        float *w = k->out[0].data, *m = k->out[1].data, *v = k->out[2].data;
        const double bc1 = 1.0 - pow(p->beta1, (double)p->step), bc2 = 1.0 - pow(p->beta2, (double)p->step);
        const float b1 = p->beta1, b2 = p->beta2, eps = p->eps, wd = p->weight_decay, lr = p->lr;
        const float ibc1 = (float)(1.0 / bc1), isbc2 = (float)(1.0 / sqrt(bc2));
        if (k->op == CV_OP_ADAM_UPDATE) {
            const float decay = p->decoupled ? 1.0f - lr * wd : 1.0f, l2 = p->decoupled ? 0.0f : wd;
            const float step = lr * ibc1;
            PAR for (int64_t i = 0; i < n; i++) {
                float g = grad[i] + l2 * w[i];
                float mi = b1 * m[i] + (1.0f - b1) * g, vi = b2 * v[i] + (1.0f - b2) * g * g;
                m[i] = mi;
                v[i] = vi;
                w[i] = w[i] * decay - step * mi / (sqrtf(vi) * isbc2 + eps);
            }
            return CV_OK;
        }
        double pn = 0, un = 0;
        #pragma omp parallel for num_threads(b->threads) reduction(+ : pn, un) schedule(static) if (n > 32768)
        for (int64_t i = 0; i < n; i++) {
            float g = grad[i];
            float mi = b1 * m[i] + (1.0f - b1) * g, vi = b2 * v[i] + (1.0f - b2) * g * g;
            m[i] = mi;
            v[i] = vi;
            float u = mi * ibc1 / (sqrtf(vi) * isbc2 + eps) + wd * w[i];
            pn += (double)w[i] * w[i];
            un += (double)u * u;
        }
        const float trust = pn > 0.0 && un > 0.0 ? (float)(sqrt(pn) / sqrt(un)) : 1.0f, s = lr * trust;
        PAR for (int64_t i = 0; i < n; i++) {
            float u = m[i] * ibc1 / (sqrtf(v[i]) * isbc2 + eps) + wd * w[i];
            w[i] -= s * u;
        }
        return CV_OK;
    }
    case CV_OP_RMSPROP_UPDATE: {
        const cv_rmsprop_params *p = k->params;
        if ((st = check(b, k, p && p->momentum > 0.0f ? 3 : 2, 3, err))) return st;
        float *w = k->out[0].data, *sq = k->out[1].data, *mom = k->n_out > 2 ? k->out[2].data : NULL;
        const float a = p->alpha, eps = p->eps, wd = p->weight_decay, lr = p->lr, mu = p->momentum;
        const int inside = p->eps_inside_sqrt, use_mom = mu > 0.0f;
        PAR for (int64_t i = 0; i < n; i++) {
            float g = grad[i] + wd * w[i];
            float s = a * sq[i] + (1.0f - a) * g * g;
            sq[i] = s;
            float step = g / (inside ? sqrtf(s + eps) : sqrtf(s) + eps);
            if (use_mom) {
                step = mu * mom[i] + step;
                mom[i] = step;
            }
            w[i] -= lr * step;
        }
        return CV_OK;
    }
    default: { /* AXPBY */
        const cv_axpby_params *p = k->params;
        if (k->n_in != 1 || k->n_out != 1 || !p || kt_numel(&k->out[0]) != n || k->in[0].dtype != CV_F32 ||
            k->out[0].dtype != CV_F32 || !kt_contiguous(&k->in[0]) || !kt_contiguous(&k->out[0]))
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: axpby: needs dense f32 x and y of the same size");
        float *y = k->out[0].data;
        const float a = p->a, bb = p->b;
        if (a == 0.0f) { PAR for (int64_t i = 0; i < n; i++) y[i] = bb * grad[i]; }
        else { PAR for (int64_t i = 0; i < n; i++) y[i] = a * y[i] + bb * grad[i]; }
        return CV_OK;
    }
    }
}
