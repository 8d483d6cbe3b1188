/* plugins/backends/cpu/loss.c — cross entropy (hard or soft targets, label
 * smoothing, ignore_index, class weights, [N,C,*] logits), BCE-with-logits and
 * smooth L1 with their gradients, mean-reduced exactly as the reference backend
 * documents (an all-ignored batch gives loss 0 and gradient 0).  Positions run in
 * parallel; the log-softmax of a position is recomputed in the backward pass. */
#include "cpu.h"

#include <math.h>
#include <string.h>

typedef struct ce_view {
    int64_t n, c, s;
    int soft;
    const float *x, *w, *tf;
    const int32_t *ti;
} ce_view;

/* loss contribution of one position, and (when g != NULL) its gradient times scale */
static double ce_position(const ce_view *v, const cv_ce_params *p, double wsum, int64_t n, int64_t s, float *g,
                          double scale) {
    const int64_t C = v->c, S = v->s;
    const float *x = v->x + n * C * S + s;
    double eps = p->label_smoothing, m = -INFINITY, sum = 0, total = 0, tw = 0;
    for (int64_t c = 0; c < C; c++) m = x[c * S] > m ? x[c * S] : m;
    for (int64_t c = 0; c < C; c++) sum += exp(x[c * S] - m);
    double lse = m + log(sum);
    int32_t y = v->soft ? 0 : v->ti[n * S + s];
    if (v->soft) {
        const float *t = v->tf + n * C * S + s;
        for (int64_t c = 0; c < C; c++) {
            double tc = (1.0 - eps) * t[c * S] + eps / (double)C, wc = v->w ? v->w[c] : 1.0;
            tw += wc * tc;
            total -= wc * tc * (x[c * S] - lse);
        }
    } else {
        double wy = v->w ? v->w[y] : 1.0, sl = 0;
        for (int64_t c = 0; c < C; c++) sl += (v->w ? v->w[c] : 1.0) * (x[c * S] - lse);
        total = -(1.0 - eps) * wy * (x[y * S] - lse) - eps / (double)C * sl;
    }
    if (!g) return total;
    float *gp = g + n * C * S + s;
    for (int64_t c = 0; c < C; c++) {
        double pc = exp(x[c * S] - lse), wc = v->w ? v->w[c] : 1.0, d;
        if (v->soft) {
            double tc = (1.0 - eps) * v->tf[(n * C + c) * S + s] + eps / (double)C;
            d = tw * pc - wc * tc;
        } else {
            double wy = v->w ? v->w[y] : 1.0;
            d = (1.0 - eps) * wy * (pc - (c == y ? 1.0 : 0.0)) + eps / (double)C * (wsum * pc - wc);
        }
        gp[c * S] = (float)(d * scale);
    }
    return total;
}

static int cross_entropy(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    int bwd = k->op == CV_OP_CROSS_ENTROPY_BWD;
    int has_w = k->n_in == (bwd ? 4 : 3);
    const cv_ktensor *lg = &k->in[0], *tg = &k->in[1];
    const cv_ce_params *p = k->params;
    char sl[64], st[64];
    if (!p || lg->ndim < 2)
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: logits %s must be [N,C] or [N,C,H,W]", op_name(k->op),
                        kt_shape_str(lg, sl, sizeof sl));
    ce_view v = { lg->shape[0], lg->shape[1], 1, tg->dtype == CV_F32, lg->data, has_w ? k->in[2].data : NULL, NULL, NULL };
    for (int d = 2; d < lg->ndim; d++) v.s *= lg->shape[d];
    int ok;
    if (v.soft) ok = kt_numel(tg) == kt_numel(lg) && tg->ndim == lg->ndim;
    else {
        ok = tg->dtype == CV_I32 && tg->ndim == lg->ndim - 1 && tg->shape[0] == v.n;
        for (int d = 2; ok && d < lg->ndim; d++) ok = tg->shape[d - 1] == lg->shape[d];
    }
    if (!ok || (has_w && kt_numel(&k->in[2]) != v.c))
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: target %s (dtype %d) or weight does not match logits %s",
                        op_name(k->op), kt_shape_str(tg, st, sizeof st), tg->dtype, kt_shape_str(lg, sl, sizeof sl));
    if (v.soft) v.tf = tg->data; else v.ti = tg->data;
    const int64_t P = v.n * v.s;
    double denom = (double)P, wsum = 0;
    for (int64_t c = 0; c < v.c; c++) wsum += v.w ? v.w[c] : 1.0;
    if (!v.soft) {
        denom = 0;
        for (int64_t i = 0; i < P; i++) {
            int32_t y = v.ti[i];
            if (y == p->ignore_index) continue;
            if (y < 0 || y >= v.c)
                return CPU_FAIL(b, err, CV_ERR_INVALID,
                                "backend cpu: %s: target %d at position %lld is outside [0, %lld) and is not ignore_index %d",
                                op_name(k->op), y, (long long)i, (long long)v.c, p->ignore_index);
            denom += v.w ? v.w[y] : 1.0;
        }
    }
    if (!bwd) {
        if (kt_numel(&k->out[0]) != 1) return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: cross_entropy: loss must hold one value");
        double total = 0;
        if (denom != 0.0) {
            #pragma omp parallel for num_threads(b->threads) reduction(+ : total) schedule(static) if (P * v.c > 8192)
            for (int64_t i = 0; i < P; i++) {
                if (!v.soft && v.ti[i] == p->ignore_index) continue;
                total += ce_position(&v, p, wsum, i / v.s, i % v.s, NULL, 0);
            }
        }
        ((float *)k->out[0].data)[0] = denom == 0.0 ? 0.0f : (float)(total / denom);
        return CV_OK;
    }
    const cv_ktensor *dl = &k->in[k->n_in - 1];
    if (kt_numel(dl) != 1 || kt_numel(&k->out[0]) != kt_numel(lg))
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: cross_entropy_bwd: dloss must hold one value and dlogits match logits %s",
                        kt_shape_str(lg, sl, sizeof sl));
    float *g = k->out[0].data;
    double scale = denom == 0.0 ? 0.0 : ((const float *)dl->data)[0] / denom;
    #pragma omp parallel for num_threads(b->threads) schedule(static) if (P * v.c > 8192)
    for (int64_t i = 0; i < P; i++) {
        int64_t n = i / v.s, s = i % v.s;
        if (denom == 0.0 || (!v.soft && v.ti[i] == p->ignore_index)) {
            for (int64_t c = 0; c < v.c; c++) g[(n * v.c + c) * v.s + s] = 0.0f;
            continue;
        }
        ce_position(&v, p, wsum, n, s, g, scale);
    }
    return CV_OK;
}

static int pointwise(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    int bwd = k->op == CV_OP_BCE_LOGITS_BWD || k->op == CV_OP_SMOOTH_L1_BWD;
    int bce = k->op == CV_OP_BCE_LOGITS || k->op == CV_OP_BCE_LOGITS_BWD;
    const cv_ktensor *a = &k->in[0], *t = &k->in[1];
    char sa[64], st[64];
    int64_t n = kt_numel(a);
    if (kt_numel(t) != n || t->dtype != CV_F32 || (bwd && (kt_numel(&k->in[2]) != 1 || kt_numel(&k->out[0]) != n)) ||
        (!bwd && kt_numel(&k->out[0]) != 1))
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: input %s and target %s do not match (or the loss is not one value)",
                        op_name(k->op), kt_shape_str(a, sa, sizeof sa), kt_shape_str(t, st, sizeof st));
    double beta = 0;
    if (!bce) {
        const cv_smooth_l1_params *p = k->params;
        beta = p ? p->beta : -1;
        if (!(beta >= 0.0)) return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: beta = %g must be >= 0", op_name(k->op), beta);
    }
    const float *x = a->data, *tt = t->data;
    if (!bwd) {
        double s = 0;
        #pragma omp parallel for num_threads(b->threads) reduction(+ : s) schedule(static) if (n > 16384)
        for (int64_t i = 0; i < n; i++) {
            double xi = x[i], ti = tt[i];
            if (bce) s += (xi > 0 ? xi : 0.0) - xi * ti + log1p(exp(-fabs(xi)));
            else {
                double d = fabs(xi - ti);
                s += d < beta ? 0.5 * d * d / beta : d - 0.5 * beta;
            }
        }
        ((float *)k->out[0].data)[0] = (float)(s / (double)n);
        return CV_OK;
    }
    float scale = (float)(((const float *)k->in[2].data)[0] / (double)n), fb = (float)beta;
    float *g = k->out[0].data;
    #pragma omp parallel for num_threads(b->threads) schedule(static) if (n > 16384)
    for (int64_t i = 0; i < n; i++) {
        if (bce) {
            float xi = x[i], e = expf(-fabsf(xi));
            float sg = xi >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
            g[i] = (sg - tt[i]) * scale;
        } else {
            float d = x[i] - tt[i];
            float gd = fabsf(d) < fb ? d / fb : (d > 0 ? 1.0f : d < 0 ? -1.0f : 0.0f);
            g[i] = gd * scale;
        }
    }
    return CV_OK;
}

int run_loss(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    int ce = k->op == CV_OP_CROSS_ENTROPY || k->op == CV_OP_CROSS_ENTROPY_BWD;
    int bwd = k->op == CV_OP_CROSS_ENTROPY_BWD || k->op == CV_OP_BCE_LOGITS_BWD || k->op == CV_OP_SMOOTH_L1_BWD;
    int min_in = bwd ? 3 : 2, max_in = ce ? min_in + 1 : min_in;
    if (k->n_in < min_in || k->n_in > max_in || k->n_out != 1)
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: %d inputs and %d outputs given", op_name(k->op), k->n_in, k->n_out);
    for (int i = 0; i < k->n_in; i++)
        if (k->in[i].dtype != CV_F32 && !(i == 1 && k->in[i].dtype == CV_I32 && ce))
            return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: %s: input %d has dtype %d", op_name(k->op), i, k->in[i].dtype);
    cpu_scratch s;
    if (scratch_begin(&s, k, dense_bytes(k)) != CV_OK)
        return CPU_FAIL(b, err, CV_ERR_NOMEM, "backend cpu: %s: no scratch memory", op_name(k->op));
    cpu_dense d;
    int st = dense_start(&d, k, &s, b->threads, 0);
    if (st == CV_OK) {
        st = ce ? cross_entropy(b, &d.k, err) : pointwise(b, &d.k, err);
        if (st == CV_OK) dense_finish(&d, b->threads);
    } else
        st = CPU_FAIL(b, err, st, "backend cpu: %s: could not pack strided operands", op_name(k->op));
    scratch_end(&s);
    return st;
}
