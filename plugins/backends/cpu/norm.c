/* plugins/backends/cpu/norm.c — layer norm and group norm, forward and backward
 * (batch norm goes through oneDNN, dnn_ops.c).  Both normalise contiguous
 * blocks: x is seen as [stats, cpg, S] where a layer-norm row is one stat with
 * cpg = normalised size, S = 1, and a group-norm (n, g) is one stat with
 * cpg = C/G channels of S pixels.  Stats run in parallel; the gamma/beta
 * gradients, which sum over stats, use one partial row per thread. */
#include "cpu.h"

#include <math.h>
#include <omp.h>
#include <string.h>

typedef struct norm_view {
    int64_t stats, cpg, S, G, chan;
} norm_view;

static int norm_view_of(cpu_backend *b, const cv_kernel *k, norm_view *v, cv_error *err) {
    const cv_norm_params *p = k->params;
    const cv_ktensor *x = &k->in[0];
    char sx[64];
    int layer = k->op == CV_OP_LAYER_NORM || k->op == CV_OP_LAYER_NORM_BWD;
    if (!p) return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: missing params", op_name(k->op));
    if (layer) {
        if (p->axes < 1 || p->axes > x->ndim)
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: layer_norm: axes %d out of range for x %s", p->axes,
                            kt_shape_str(x, sx, sizeof sx));
        v->cpg = 1;
        for (int d = x->ndim - p->axes; d < x->ndim; d++) v->cpg *= x->shape[d];
        v->stats = v->cpg ? kt_numel(x) / v->cpg : 0;
        v->S = 1;
        v->G = 1;
        v->chan = v->cpg;
        return CV_OK;
    }
    if (x->ndim < 2 || p->groups < 1 || x->shape[1] % p->groups)
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: group_norm: groups %d does not divide the channels of x %s",
                        p->groups, kt_shape_str(x, sx, sizeof sx));
    v->G = p->groups;
    v->chan = x->shape[1];
    v->cpg = x->shape[1] / p->groups;
    v->S = 1;
    for (int d = 2; d < x->ndim; d++) v->S *= x->shape[d];
    v->stats = x->shape[0] * v->G;
    return CV_OK;
}

size_t norm_scratch_bytes(const cv_kernel *k, int threads) {
    if (k->op == CV_OP_BATCH_NORM || k->op == CV_OP_BATCH_NORM_BWD) return bn_scratch_bytes(k);
    if (k->op != CV_OP_LAYER_NORM_BWD && k->op != CV_OP_GROUP_NORM_BWD) return 0;
    if (k->n_out < 2 || k->n_in < 3) return 0;
    return (size_t)threads * 2 * (size_t)kt_numel(&k->in[2]) * sizeof(double) + 64;
}

static void norm_fwd(cpu_backend *b, const norm_view *v, const float *x, const float *g, const float *be, float *y,
                     float *mean_out, float *rstd_out, float eps) {
    const int64_t M = v->cpg * v->S;
    #pragma omp parallel for num_threads(b->threads) schedule(static) if (v->stats * M > 16384)
    for (int64_t s = 0; s < v->stats; s++) {
        const float *xs = x + s * M;
        float *ys = y + s * M;
        double sum = 0, sq = 0;
        #pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < M; i++) sum += xs[i];
        double mean = M ? sum / (double)M : 0;
        float mf = (float)mean;
        #pragma omp simd reduction(+ : sq)
        for (int64_t i = 0; i < M; i++) { double d = xs[i] - mf; sq += d * d; }
        double rstd = 1.0 / sqrt((M ? sq / (double)M : 0) + (double)eps);
        float rf = (float)rstd;
        int64_t c0 = (s % v->G) * v->cpg;
        for (int64_t c = 0; c < v->cpg; c++) {
            float gg = g ? g[c0 + c] * rf : rf, bb = be ? be[c0 + c] : 0.0f;
            const float *xc = xs + c * v->S;
            float *yc = ys + c * v->S;
            for (int64_t i = 0; i < v->S; i++) yc[i] = (xc[i] - mf) * gg + bb;
        }
        if (mean_out) mean_out[s] = mf;
        if (rstd_out) rstd_out[s] = rf;
    }
}

static void norm_bwd(cpu_backend *b, const norm_view *v, const float *x, const float *dy, const float *g,
                     const float *mean, const float *rstd, float *dx, float *dg, float *dbe, double *part) {
    const int64_t M = v->cpg * v->S, C = v->chan;
    int nt = b->threads;
    if (part) memset(part, 0, (size_t)nt * 2 * (size_t)C * sizeof(double));
    #pragma omp parallel num_threads(nt) if (v->stats * M > 16384)
    {
        int t = omp_get_thread_num();
        double *pg = part ? part + (size_t)t * 2 * (size_t)C : NULL, *pb = pg ? pg + C : NULL;
        #pragma omp for schedule(static)
        for (int64_t s = 0; s < v->stats; s++) {
            const float *xs = x + s * M, *ds = dy + s * M;
            float *os = dx + s * M;
            float mu = mean[s], rs = rstd[s];
            int64_t c0 = (s % v->G) * v->cpg;
            double sum_g = 0, sum_gx = 0;
            for (int64_t c = 0; c < v->cpg; c++) {
                float gg = g ? g[c0 + c] : 1.0f;
                double cg = 0, cgx = 0;
                const float *xc = xs + c * v->S, *dc = ds + c * v->S;
                #pragma omp simd reduction(+ : cg, cgx)
                for (int64_t i = 0; i < v->S; i++) {
                    float xh = (xc[i] - mu) * rs;
                    cg += dc[i];
                    cgx += (double)dc[i] * xh;
                }
                sum_g += cg * gg;
                sum_gx += cgx * gg;
                if (pg) { pg[c0 + c] += cgx; pb[c0 + c] += cg; }
            }
            float a = (float)(sum_g / (double)M), bq = (float)(sum_gx / (double)M);
            for (int64_t c = 0; c < v->cpg; c++) {
                float gg = g ? g[c0 + c] : 1.0f;
                const float *xc = xs + c * v->S, *dc = ds + c * v->S;
                float *oc = os + c * v->S;
                for (int64_t i = 0; i < v->S; i++) {
                    float xh = (xc[i] - mu) * rs;
                    oc[i] = (dc[i] * gg - a - xh * bq) * rs;
                }
            }
        }
    }
    if (!part) return;
    for (int64_t c = 0; c < C; c++) {
        double sg = 0, sb = 0;
        for (int t = 0; t < nt; t++) { sg += part[(size_t)t * 2 * (size_t)C + c]; sb += part[(size_t)t * 2 * (size_t)C + C + c]; }
        if (dg) dg[c] = (float)sg;
        if (dbe) dbe[c] = (float)sb;
    }
}

int run_norm(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    int bwd = k->op == CV_OP_LAYER_NORM_BWD || k->op == CV_OP_GROUP_NORM_BWD;
    char sx[64];
    if (k->n_in < (bwd ? 5 : 1) || k->n_in > (bwd ? 5 : 3) || k->n_out < 1 || k->n_out > 3)
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: %d inputs and %d outputs given", op_name(k->op), k->n_in,
                        k->n_out);
    for (int i = 0; i < k->n_in; i++)
        if (k->in[i].dtype != CV_F32) return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: %s: only f32", op_name(k->op));
    norm_view v;
    int st = norm_view_of(b, k, &v, err);
    if (st) return st;
    int64_t n = kt_numel(&k->in[0]);
    if (kt_numel(&k->out[0]) != n || (bwd && kt_numel(&k->in[1]) != n))
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: x %s and the other operands differ in size",
                        op_name(k->op), kt_shape_str(&k->in[0], sx, sizeof sx));
    int gi = bwd ? 2 : 1;
    for (int i = gi; i < k->n_in && i < gi + (bwd ? 1 : 2); i++)
        if (kt_numel(&k->in[i]) != v.chan)
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: input %d must have %lld values for x %s",
                            op_name(k->op), i, (long long)v.chan, kt_shape_str(&k->in[0], sx, sizeof sx));
    for (int i = 1; i < k->n_out; i++)
        if (kt_numel(&k->out[i]) != (bwd ? v.chan : v.stats))
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: output %d must have %lld values", op_name(k->op), i,
                            (long long)(bwd ? v.chan : v.stats));
    if (bwd && (kt_numel(&k->in[3]) != v.stats || kt_numel(&k->in[4]) != v.stats))
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: mean/rstd must have %lld values", op_name(k->op),
                        (long long)v.stats);
    size_t part_bytes = bwd && k->n_out > 1 ? (size_t)b->threads * 2 * (size_t)v.chan * sizeof(double) : 0;
    cpu_scratch s;
    if (scratch_begin(&s, k, dense_bytes(k) + part_bytes + 128) != CV_OK)
        return CPU_FAIL(b, err, CV_ERR_NOMEM, "backend cpu: %s: no scratch memory", op_name(k->op));
    double *part = part_bytes ? scratch_take(&s, part_bytes) : NULL;
    cpu_dense d;
    if ((st = dense_start(&d, k, &s, b->threads, 0)) != CV_OK) {
        scratch_end(&s);
        return CPU_FAIL(b, err, st, "backend cpu: %s: could not pack strided operands", op_name(k->op));
    }
#define IN(i) (k->n_in > (i) ? (const float *)d.in[i].data : NULL)
#define OUT(i) (k->n_out > (i) ? (float *)d.out[i].data : NULL)
    const cv_norm_params *p = k->params;
    if (n > 0) {
        if (!bwd) norm_fwd(b, &v, IN(0), IN(1), IN(2), OUT(0), OUT(1), OUT(2), p->eps);
        else norm_bwd(b, &v, IN(0), IN(1), IN(2), IN(3), IN(4), OUT(0), OUT(1), OUT(2), part);
    } else if (bwd) {
        for (int64_t c = 0; c < v.chan; c++) {
            if (OUT(1)) OUT(1)[c] = 0;
            if (OUT(2)) OUT(2)[c] = 0;
        }
    }
#undef IN
#undef OUT
    dense_finish(&d, b->threads);
    scratch_end(&s);
    return CV_OK;
}
