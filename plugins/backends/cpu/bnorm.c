/* plugins/backends/cpu/bnorm.c — batch norm forward (training with running
 * statistics, inference) and backward on plain NCHW, parallel over channels, and
 * on the blocked C16 layout (nChw16c), parallel over (image, channel block) rows
 * of H*W x 16 floats: every pixel is one 16-lane vector, per-row partial sums go
 * to the workspace and are added per channel in double (the order is fixed, so
 * results do not depend on the thread count).  With precision = bf16 the engine
 * may store the C16 activations in bf16 (ABI 1.4): the same rows in bf16.c.
 * oneDNN 2.6 has only its slow reference kernel (ncsp_bnorm) for plain-layout
 * f32 batch norm — about 100x slower than these loops on ResNet shapes — so this
 * is the default; option batch_norm=onednn selects oneDNN (dnn_ops.c). */
#include "cpu.h"

#include <math.h>

#define AT(t, c) (((float *)(t)->data)[(c) * ((t)->ndim ? (t)->stride[(t)->ndim - 1] : 1)])

/* Channel c of the forward: training takes the batch mean and variance and
 * updates the running statistics (in place in inputs 3, 4, or into outputs 3, 4);
 * eval takes the running ones.  Writes the saved mean / rstd outputs; returns
 * the scale and shift that normalise the channel. */
static void channel_affine(const cv_kernel *k, int64_t c, int training, float mean, double var, int64_t M, float *sc,
                           float *sh) {
    const cv_norm_params *p = k->params;
    const cv_ktensor *rm_in = &k->in[3], *rv_in = &k->in[4];
    const cv_ktensor *rm = k->n_out >= 5 ? &k->out[3] : rm_in, *rv = k->n_out >= 5 ? &k->out[4] : rv_in;
    const double mom = p->momentum, unbias = M > 1 ? (double)M / (double)(M - 1) : 1.0;
    float rstd;
    if (training) {
        rstd = (float)(1.0 / sqrt(var + (double)p->eps));
        float old_m = AT(rm_in, c), old_v = AT(rv_in, c);
        AT(rm, c) = (float)((1.0 - mom) * old_m + mom * mean);
        AT(rv, c) = (float)((1.0 - mom) * old_v + mom * var * unbias);
    } else {
        mean = AT(rm_in, c);
        rstd = (float)(1.0 / sqrt((double)AT(rv_in, c) + (double)p->eps));
        if (k->n_out >= 5) { AT(rm, c) = mean; AT(rv, c) = AT(rv_in, c); }
    }
    *sc = AT(&k->in[1], c) * rstd;
    *sh = AT(&k->in[2], c) - mean * *sc;
    if (k->n_out > 1) AT(&k->out[1], c) = mean;
    if (k->n_out > 2) AT(&k->out[2], c) = rstd;
}

/* workspace of the C16 loops: two partial sums per row and lane, four [C] vectors */
size_t bn_scratch_bytes(const cv_kernel *k) {
    if ((k->op != CV_OP_BATCH_NORM && k->op != CV_OP_BATCH_NORM_BWD) || k->n_in < 1 || k->in[0].ndim != 4 ||
        cv_kernel_layout(k, 0, 0) != CV_LAYOUT_C16)
        return 0;
    return (size_t)(2 * k->in[0].shape[0] + 4) * (size_t)k->in[0].shape[1] * sizeof(float) + 64;
}

/* The C16 row kernels (H*W pixels of 16 lanes) in one clone per vector width
 * (CLONES, cpu.h): with AVX-512 a pixel is one register. */

/* s1 = sum of a, or of (a - m)^2 when sq; s2 (b given) = sum of a * (b - m) */
CLONES static void row_sums(const float *a, const float *b, const float *m, int sq, int64_t HW, float *s1, float *s2) {
    float acc[16] = { 0 }, acc2[16] = { 0 };
    if (sq) {
        for (int64_t i = 0; i < HW; i++) {
            #pragma omp simd
            for (int l = 0; l < 16; l++) { float d = a[i * 16 + l] - m[l]; acc[l] += d * d; }
        }
    } else if (b) {
        for (int64_t i = 0; i < HW; i++) {
            #pragma omp simd
            for (int l = 0; l < 16; l++) { acc[l] += a[i * 16 + l]; acc2[l] += a[i * 16 + l] * (b[i * 16 + l] - m[l]); }
        }
    } else {
        for (int64_t i = 0; i < HW; i++) {
            #pragma omp simd
            for (int l = 0; l < 16; l++) acc[l] += a[i * 16 + l];
        }
    }
    for (int l = 0; l < 16; l++) s1[l] = acc[l];
    if (b)
        for (int l = 0; l < 16; l++) s2[l] = acc2[l];
}

/* y = x * sc + sh */
CLONES static void row_affine(const float *x, const float *sc, const float *sh, int64_t HW, float *y) {
    for (int64_t i = 0; i < HW; i++) {
        #pragma omp simd
        for (int l = 0; l < 16; l++) y[i * 16 + l] = x[i * 16 + l] * sc[l] + sh[l];
    }
}

/* dx = (dy - a - (x - m) * bq) * g */
CLONES static void row_bwd(const float *x, const float *dy, const float *m, const float *a, const float *bq,
                           const float *g, int64_t HW, float *dx) {
    for (int64_t i = 0; i < HW; i++) {
        #pragma omp simd
        for (int l = 0; l < 16; l++) dx[i * 16 + l] = (dy[i * 16 + l] - a[l] - (x[i * 16 + l] - m[l]) * bq[l]) * g[l];
    }
}

/* row partial sums over all R rows: part[r*16 + l] (and part2 when b is given);
 * a and b are bf16 when half */
static void rows_sum(int threads, int half, int64_t R, int64_t CB, int64_t HW, const void *a, const void *b,
                     const float *m, int sq, float *part, float *part2) {
    #pragma omp parallel for num_threads(threads) schedule(static) if (R * HW * 16 > 16384)
    for (int64_t r = 0; r < R; r++) {
        const int64_t at = r * HW * 16;
        const float *mr = m ? m + (r % CB) * 16 : NULL;
        float *p2 = part2 ? part2 + r * 16 : NULL;
        if (half)
            bn_row_sums_bf16((const uint16_t *)a + at, b ? (const uint16_t *)b + at : NULL, mr, sq, HW, part + r * 16, p2);
        else
            row_sums((const float *)a + at, b ? (const float *)b + at : NULL, mr, sq, HW, part + r * 16, p2);
    }
}

/* per channel c: the sum of the N row partials, in double */
static double chan_sum(const float *part, int64_t N, int64_t C, int64_t c) {
    double s = 0;
    for (int64_t n = 0; n < N; n++) s += part[(n * C) + c]; /* row n*CB + c/16, lane c%16 */
    return s;
}

static int batch_norm_c16(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    const cv_norm_params *p = k->params;
    const int fwd = k->op == CV_OP_BATCH_NORM, training = p->training != 0;
    const cv_ktensor *x = &k->in[0];
    const int64_t N = x->shape[0], C = x->shape[1], CB = C / 16, HW = x->shape[2] * x->shape[3], R = N * CB, M = N * HW;
    cpu_scratch s;
    if (scratch_begin(&s, k, bn_scratch_bytes(k)) != CV_OK)
        return CPU_FAIL(b, err, CV_ERR_NOMEM, "backend cpu: %s: no scratch memory", op_name(k->op));
    float *p1 = scratch_take(&s, (size_t)(N * C) * sizeof(float)), *p2 = scratch_take(&s, (size_t)(N * C) * sizeof(float));
    float *vm = scratch_take(&s, (size_t)C * sizeof(float)), *va = scratch_take(&s, (size_t)C * sizeof(float));
    float *vb = scratch_take(&s, (size_t)C * sizeof(float)), *vc = scratch_take(&s, (size_t)C * sizeof(float));
    const int half = x->dtype == CV_BF16; /* x, y (dy, dx) stored in bf16 */
    const void *xd = x->data;
    void *y = k->out[0].data;
    if (fwd) {
        if (training) {
            rows_sum(b->threads, half, R, CB, HW, xd, NULL, NULL, 0, p1, NULL);
            for (int64_t c = 0; c < C; c++) vm[c] = (float)(chan_sum(p1, N, C, c) / (double)M);
            rows_sum(b->threads, half, R, CB, HW, xd, NULL, vm, 1, p2, NULL);
        }
        for (int64_t c = 0; c < C; c++)
            channel_affine(k, c, training, training ? vm[c] : 0, training ? chan_sum(p2, N, C, c) / (double)M : 0, M,
                           &va[c], &vb[c]);
        #pragma omp parallel for num_threads(b->threads) schedule(static) if (R * HW * 16 > 16384)
        for (int64_t r = 0; r < R; r++) {
            const int64_t at = r * HW * 16, c0 = (r % CB) * 16;
            if (half) bn_row_affine_bf16((const uint16_t *)xd + at, va + c0, vb + c0, HW, (uint16_t *)y + at);
            else row_affine((const float *)xd + at, va + c0, vb + c0, HW, (float *)y + at);
        }
    } else {
        const void *dy = k->in[1].data;
        const cv_ktensor *g = &k->in[2], *mk = &k->in[3], *rk = &k->in[4];
        for (int64_t c = 0; c < C; c++) vm[c] = AT(mk, c);
        rows_sum(b->threads, half, R, CB, HW, dy, xd, vm, 0, p1, p2); /* sum dy, sum dy * (x - mean) */
        for (int64_t c = 0; c < C; c++) {
            const float rstd = AT(rk, c);
            double sg = chan_sum(p1, N, C, c), sgx = chan_sum(p2, N, C, c) * rstd; /* sum dy, sum dy * xhat */
            va[c] = training ? (float)(sg / (double)M) : 0.0f;
            vb[c] = (training ? (float)(sgx / (double)M) : 0.0f) * rstd;
            vc[c] = AT(g, c) * rstd;
            if (k->n_out > 1) AT(&k->out[1], c) = (float)sgx;
            if (k->n_out > 2) AT(&k->out[2], c) = (float)sg;
        }
        #pragma omp parallel for num_threads(b->threads) schedule(static) if (R * HW * 16 > 16384)
        for (int64_t r = 0; r < R; r++) {
            const int64_t c0 = (r % CB) * 16, at = r * HW * 16;
            if (half)
                bn_row_bwd_bf16((const uint16_t *)xd + at, (const uint16_t *)dy + at, vm + c0, va + c0, vb + c0, vc + c0, HW,
                                (uint16_t *)y + at);
            else
                row_bwd((const float *)xd + at, (const float *)dy + at, vm + c0, va + c0, vb + c0, vc + c0, HW,
                        (float *)y + at);
        }
    }
    scratch_end(&s);
    return CV_OK;
}

int run_batch_norm(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    const cv_norm_params *p = k->params;
    int fwd = k->op == CV_OP_BATCH_NORM;
    char sx[64];
    if (!p || k->n_in != 5 || k->n_out < 1 || k->n_out > (fwd ? 5 : 3) || k->in[0].ndim < 2)
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: %d inputs and %d outputs given", op_name(k->op), k->n_in,
                        k->n_out);
    const cv_ktensor *x = &k->in[0];
    const int64_t N = x->shape[0], C = x->shape[1], NC = N * C, S = NC != 0 ? kt_numel(x) / NC : 0, M = N * S;
    /* the activations (x, y; dy, dx) are f32, or bf16 in C16 when the engine stores them so */
    const int act_dt = x->dtype == CV_BF16 && b->bf16 && cv_kernel_layout(k, 0, 0) == CV_LAYOUT_C16 ? CV_BF16 : CV_F32;
    for (int i = 0; i < 5; i++)
        if (k->in[i].dtype != (i < (fwd ? 1 : 2) ? act_dt : CV_F32) || (i >= (fwd ? 1 : 2) && kt_numel(&k->in[i]) != C) ||
            (i < (fwd ? 1 : 2) && (!kt_contiguous(&k->in[i]) || kt_numel(&k->in[i]) != kt_numel(x))))
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: input %d does not fit x %s (dense f32 or blocked bf16, [C] f32 vectors)",
                            op_name(k->op), i, kt_shape_str(x, sx, sizeof sx));
    for (int i = 0; i < k->n_out; i++)
        if (k->out[i].dtype != (i ? CV_F32 : act_dt) || (i ? kt_numel(&k->out[i]) != C : (kt_numel(&k->out[0]) != kt_numel(x) ||
                                                                       !kt_contiguous(&k->out[0]))))
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: output %d does not fit x %s", op_name(k->op), i,
                            kt_shape_str(x, sx, sizeof sx));
    const int training = p->training != 0;
    if (fwd && training && M < 2)
        return CPU_FAIL(b, err, CV_ERR_INVALID,
                        "backend cpu: batch_norm: training needs more than 1 value per channel, x is %s",
                        kt_shape_str(x, sx, sizeof sx));
    if (cv_kernel_layout(k, 0, 0) == CV_LAYOUT_C16) return batch_norm_c16(b, k, err);
    const float *xd = x->data;
    float *y = k->out[0].data;
    if (fwd) {
        #pragma omp parallel for num_threads(b->threads) schedule(static) if (N * C * S > 16384)
        for (int64_t c = 0; c < C; c++) {
            float mean = 0;
            double var = 0;
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
                var = q / (double)M;
            }
            float sc, sh;
            channel_affine(k, c, training, mean, var, M, &sc, &sh);
            for (int64_t n = 0; n < N; n++) {
                const float *xp = xd + (n * C + c) * S;
                float *yp = y + (n * C + c) * S;
                for (int64_t i = 0; i < S; i++) yp[i] = xp[i] * sc + sh;
            }
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
