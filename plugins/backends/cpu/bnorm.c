/* plugins/backends/cpu/bnorm.c — batch norm forward (training with running
 * statistics, inference) and backward on plain NCHW, parallel over channels.
 * oneDNN 2.6 has only its slow reference kernel (ncsp_bnorm) for plain-layout
 * f32 batch norm — about 100x slower than these loops on ResNet shapes — so this
 * is the default; option batch_norm=onednn selects oneDNN (dnn_ops.c). */
#include "cpu.h"

#include <math.h>

#define AT(t, c) (((float *)(t)->data)[(c) * ((t)->ndim ? (t)->stride[(t)->ndim - 1] : 1)])

int run_batch_norm(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    const cv_norm_params *p = k->params;
    int fwd = k->op == CV_OP_BATCH_NORM;
    char sx[64];
    if (!p || k->n_in != 5 || k->n_out < 1 || k->n_out > (fwd ? 5 : 3) || k->in[0].ndim < 2)
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: %d inputs and %d outputs given", op_name(k->op), k->n_in,
                        k->n_out);
    const cv_ktensor *x = &k->in[0];
    const int64_t N = x->shape[0], C = x->shape[1], NC = N * C, S = NC != 0 ? kt_numel(x) / NC : 0, M = N * S;
    for (int i = 0; i < 5; i++)
        if (k->in[i].dtype != CV_F32 || (i >= (fwd ? 1 : 2) && kt_numel(&k->in[i]) != C) ||
            (i < (fwd ? 1 : 2) && (!kt_contiguous(&k->in[i]) || kt_numel(&k->in[i]) != kt_numel(x))))
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: input %d does not fit x %s (dense f32, [C] vectors)",
                            op_name(k->op), i, kt_shape_str(x, sx, sizeof sx));
    for (int i = 0; i < k->n_out; i++)
        if (k->out[i].dtype != CV_F32 || (i ? kt_numel(&k->out[i]) != C : (kt_numel(&k->out[0]) != kt_numel(x) ||
                                                                       !kt_contiguous(&k->out[0]))))
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: output %d does not fit x %s", op_name(k->op), i,
                            kt_shape_str(x, sx, sizeof sx));
    const int training = p->training != 0;
    if (fwd && training && M < 2)
        return CPU_FAIL(b, err, CV_ERR_INVALID,
                        "backend cpu: batch_norm: training needs more than 1 value per channel, x is %s",
                        kt_shape_str(x, sx, sizeof sx));
    const float *xd = x->data;
    float *y = k->out[0].data;
    const float eps = p->eps;
    if (fwd) {
        const cv_ktensor *g = &k->in[1], *be = &k->in[2], *rm_in = &k->in[3], *rv_in = &k->in[4];
        const cv_ktensor *rm = k->n_out >= 5 ? &k->out[3] : rm_in, *rv = k->n_out >= 5 ? &k->out[4] : rv_in;
        const double mom = p->momentum, unbias = M > 1 ? (double)M / (double)(M - 1) : 1.0;
        #pragma omp parallel for num_threads(b->threads) schedule(static) if (N * C * S > 16384)
        for (int64_t c = 0; c < C; c++) {
            float mean, rstd;
            if (training) {
                double s = 0, q = 0;
                for (int64_t n = 0; n < N; n++) {
                    const float *xp = xd + (n * C + c) * S;
                    float a = 0;
                    #pragma omp simd reduction(+ : a)
                    for (int64_t i = 0; i < S; i++) a += xp[i];
                    s += a;
                }
                mean = (float)(s / (double)M);
                for (int64_t n = 0; n < N; n++) {
                    const float *xp = xd + (n * C + c) * S;
                    float a = 0;
                    #pragma omp simd reduction(+ : a)
                    for (int64_t i = 0; i < S; i++) { float d = xp[i] - mean; a += d * d; }
                    q += a;
                }
                double var = q / (double)M;
                rstd = (float)(1.0 / sqrt(var + (double)eps));
                float old_m = AT(rm_in, c), old_v = AT(rv_in, c);
                AT(rm, c) = (float)((1.0 - mom) * old_m + mom * mean);
                AT(rv, c) = (float)((1.0 - mom) * old_v + mom * var * unbias);
            } else {
                mean = AT(rm_in, c);
                rstd = (float)(1.0 / sqrt((double)AT(rv_in, c) + (double)eps));
                if (k->n_out >= 5) { AT(rm, c) = mean; AT(rv, c) = AT(rv_in, c); }
            }
            const float sc = AT(g, c) * rstd, sh = AT(be, c) - mean * sc;
            for (int64_t n = 0; n < N; n++) {
                const float *xp = xd + (n * C + c) * S;
                float *yp = y + (n * C + c) * S;
                for (int64_t i = 0; i < S; i++) yp[i] = xp[i] * sc + sh;
            }
            if (k->n_out > 1) AT(&k->out[1], c) = mean;
            if (k->n_out > 2) AT(&k->out[2], c) = rstd;
        }
        return CV_OK;
    }
    /* backward: x, dy, gamma, mean, rstd -> dx, (dgamma), (dbeta); eval-mode
     * statistics are constants, so no gradient flows through them */
    const float *dy = k->in[1].data;
    const cv_ktensor *g = &k->in[2], *mk = &k->in[3], *rk = &k->in[4];
    #pragma omp parallel for num_threads(b->threads) schedule(static) if (N * C * S > 16384)
    for (int64_t c = 0; c < C; c++) {
        const float mean = AT(mk, c), rstd = AT(rk, c), gg = AT(g, c);
        double sg = 0, sgx = 0;
        for (int64_t n = 0; n < N; n++) {
            const float *xp = xd + (n * C + c) * S, *dp = dy + (n * C + c) * S;
            float a = 0, ax = 0;
            #pragma omp simd reduction(+ : a, ax)
            for (int64_t i = 0; i < S; i++) { a += dp[i]; ax += dp[i] * (xp[i] - mean); }
            sg += a;
            sgx += ax;
        }
        sgx *= rstd; /* sum dy * xhat */
        const float a = training ? (float)(sg / (double)M) : 0.0f, bq = training ? (float)(sgx / (double)M) : 0.0f;
        const float gr = gg * rstd;
        for (int64_t n = 0; n < N; n++) {
            const float *xp = xd + (n * C + c) * S, *dp = dy + (n * C + c) * S;
            float *op = y + (n * C + c) * S;
            for (int64_t i = 0; i < S; i++) op[i] = (dp[i] - a - (xp[i] - mean) * rstd * bq) * gr;
        }
        if (k->n_out > 1) AT(&k->out[1], c) = (float)sgx;
        if (k->n_out > 2) AT(&k->out[2], c) = (float)sg;
    }
    return CV_OK;
}
