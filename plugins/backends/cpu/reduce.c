/* plugins/backends/cpu/reduce.c — reductions: REDUCE (sum/mean over an axes
 * mask), SUM_TO (the gradient of broadcasting), softmax / log-softmax and their
 * gradient, SUMSQ and NONFINITE.  Sums accumulate in double.  Dimensions are
 * merged into alternating kept/reduced runs so the common cases are plain loops:
 * rows (reduce the tail), columns (reduce the head), and [N,C,HW] -> C. */
#include "cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* y[kept] = sum over reduced dims of x (dense x of nd dims, red[d] = 1 when reduced) */
static void reduce_sum(cpu_backend *b, const float *x, int nd, const int64_t *shape, const int *red, float *y,
                       double scale) {
    int64_t dims[CV_MAX_DIMS];
    int r[CV_MAX_DIMS], m = 0;
    for (int d = 0; d < nd; d++) {
        if (shape[d] == 1) continue;
        if (m > 0 && r[m - 1] == red[d]) { dims[m - 1] *= shape[d]; continue; }
        dims[m] = shape[d];
        r[m++] = red[d];
    }
    int64_t nout = 1, nred = 1;
    for (int d = 0; d < m; d++) { if (r[d]) nred *= dims[d]; else nout *= dims[d]; }
    if (m == 0 || nred == 1) { /* nothing reduced */
        for (int64_t i = 0; i < nout; i++) y[i] = (float)(x[i] * scale);
        return;
    }
    if (nout == 1) { /* everything */
        double s = 0;
        int64_t n = nred;
        #pragma omp parallel for num_threads(b->threads) reduction(+ : s) schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) s += x[i];
        y[0] = (float)(s * scale);
        return;
    }
    if (m == 2 && r[0] && !r[1]) { /* columns: [R, K] */
        int64_t R = dims[0], K = dims[1];
        #pragma omp parallel for num_threads(b->threads) schedule(static) if (R * K > 32768)
        for (int64_t k0 = 0; k0 < K; k0 += 256) {
            int64_t k1 = k0 + 256 < K ? k0 + 256 : K;
            double acc[256] = { 0 };
            for (int64_t i = 0; i < R; i++) {
                const float *row = x + i * K;
                for (int64_t k = k0; k < k1; k++) acc[k - k0] += row[k];
            }
            for (int64_t k = k0; k < k1; k++) y[k] = (float)(acc[k - k0] * scale);
        }
        return;
    }
    /* general: per output element, walk the reduced dims; the last dim is
     * contiguous when it is reduced */
    int64_t st[CV_MAX_DIMS];
    int64_t s = 1;
    for (int d = m - 1; d >= 0; d--) { st[d] = s; s *= dims[d]; }
    int last_red = r[m - 1];
    int64_t inner = last_red ? dims[m - 1] : 1;
    int64_t outer_red = nred / inner;
    #pragma omp parallel for num_threads(b->threads) schedule(static) if (nout * nred > 32768)
    for (int64_t o = 0; o < nout; o++) {
        int64_t base = 0, rem = o;
        for (int d = m - 1; d >= 0; d--) if (!r[d]) { base += (rem % dims[d]) * st[d]; rem /= dims[d]; }
        double acc = 0;
        for (int64_t q = 0; q < outer_red; q++) {
            int64_t off = base, qq = q;
            for (int d = m - 1 - last_red; d >= 0; d--) if (r[d]) { off += (qq % dims[d]) * st[d]; qq /= dims[d]; }
            const float *p = x + off;
            double a = 0;
            #pragma omp simd reduction(+ : a)
            for (int64_t i = 0; i < inner; i++) a += p[i];
            acc += a;
        }
        y[o] = (float)(acc * scale);
    }
}

static int reduce_op(cpu_backend *b, const cv_kernel *k, const cv_ktensor *x, const cv_ktensor *y, cv_error *err) {
    int red[CV_MAX_DIMS] = { 0 };
    int64_t count = 1, kept = 1;
    char sx[64], sy[64];
    double scale = 1.0;
    if (k->op == CV_OP_REDUCE) {
        const cv_reduce_params *p = k->params;
        uint32_t axes = p && p->axes ? p->axes : (uint32_t)((1u << x->ndim) - 1u);
        if (axes >> x->ndim)
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: reduce: axes mask 0x%x names dims beyond x %s", axes,
                            kt_shape_str(x, sx, sizeof sx));
        for (int d = 0; d < x->ndim; d++) {
            red[d] = (axes >> d) & 1u;
            if (red[d]) count *= x->shape[d]; else kept *= x->shape[d];
        }
        if (p && p->fn == CV_R_MEAN) scale = count ? 1.0 / (double)count : NAN;
    } else { /* SUM_TO: y broadcasts to x */
        int off = x->ndim - y->ndim;
        if (off < 0) goto bad;
        for (int d = 0; d < x->ndim; d++) {
            int64_t e = d < off ? 1 : y->shape[d - off];
            if (e != 1 && e != x->shape[d]) goto bad;
            red[d] = e == 1 && x->shape[d] != 1;
            if (!red[d]) kept *= x->shape[d];
        }
    }
    if (kt_numel(y) != kept) goto bad;
    reduce_sum(b, x->data, x->ndim, x->shape, red, y->data, scale);
    return CV_OK;
bad:
    return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: x %s cannot be reduced to y %s", op_name(k->op),
                    kt_shape_str(x, sx, sizeof sx), kt_shape_str(y, sy, sizeof sy));
}

/* ---- softmax ------------------------------------------------------------------------- */
#define SBLK 64
static void softmax_fwd(cpu_backend *b, const float *x, float *y, int64_t outer, int64_t L, int64_t inner, int log_) {
    if (inner == 1) {
        #pragma omp parallel for num_threads(b->threads) schedule(static) if (outer * L > 16384)
        for (int64_t o = 0; o < outer; o++) {
            const float *xr = x + o * L;
            float *yr = y + o * L;
            float mx = -INFINITY;
            for (int64_t i = 0; i < L; i++) mx = xr[i] > mx ? xr[i] : mx;
            double s = 0;
            if (log_) {
                for (int64_t i = 0; i < L; i++) s += expf(xr[i] - mx);
                float ls = (float)log(s);
                for (int64_t i = 0; i < L; i++) yr[i] = xr[i] - mx - ls;
            } else {
                for (int64_t i = 0; i < L; i++) { yr[i] = expf(xr[i] - mx); s += yr[i]; }
                float inv = (float)(1.0 / s);
                for (int64_t i = 0; i < L; i++) yr[i] *= inv;
            }
        }
        return;
    }
    int64_t nblk = (inner + SBLK - 1) / SBLK;
    #pragma omp parallel for num_threads(b->threads) schedule(static) if (outer * L * inner > 16384)
    for (int64_t t = 0; t < outer * nblk; t++) {
        int64_t o = t / nblk, j0 = (t % nblk) * SBLK, w = inner - j0 < SBLK ? inner - j0 : SBLK;
        const float *xb = x + o * L * inner + j0;
        float *yb = y + o * L * inner + j0;
        float mx[SBLK];
        double s[SBLK];
        for (int64_t j = 0; j < w; j++) { mx[j] = -INFINITY; s[j] = 0; }
        for (int64_t i = 0; i < L; i++)
            for (int64_t j = 0; j < w; j++) mx[j] = xb[i * inner + j] > mx[j] ? xb[i * inner + j] : mx[j];
        for (int64_t i = 0; i < L; i++)
            for (int64_t j = 0; j < w; j++) s[j] += expf(xb[i * inner + j] - mx[j]);
        for (int64_t j = 0; j < w; j++) s[j] = log_ ? log(s[j]) : 1.0 / s[j];
        for (int64_t i = 0; i < L; i++)
            for (int64_t j = 0; j < w; j++) {
                float v = xb[i * inner + j] - mx[j];
                yb[i * inner + j] = log_ ? v - (float)s[j] : expf(v) * (float)s[j];
            }
    }
}

static void softmax_bwd(cpu_backend *b, const float *y, const float *dy, float *dx, int64_t outer, int64_t L,
                        int64_t inner, int log_) {
    int64_t nblk = (inner + SBLK - 1) / SBLK;
    #pragma omp parallel for num_threads(b->threads) schedule(static) if (outer * L * inner > 16384)
    for (int64_t t = 0; t < outer * nblk; t++) {
        int64_t o = t / nblk, j0 = (t % nblk) * SBLK, w = inner - j0 < SBLK ? inner - j0 : SBLK;
        int64_t base = o * L * inner + j0;
        double s[SBLK];
        for (int64_t j = 0; j < w; j++) s[j] = 0;
        for (int64_t i = 0; i < L; i++)
            for (int64_t j = 0; j < w; j++) {
                int64_t q = base + i * inner + j;
                s[j] += log_ ? dy[q] : (double)dy[q] * y[q];
            }
        for (int64_t i = 0; i < L; i++)
            for (int64_t j = 0; j < w; j++) {
                int64_t q = base + i * inner + j;
                dx[q] = log_ ? (float)(dy[q] - expf(y[q]) * s[j]) : (float)(y[q] * (dy[q] - s[j]));
            }
    }
}

int run_reduce(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    int nin = k->op == CV_OP_SOFTMAX_BWD ? 2 : 1;
    if (k->n_in < nin || k->n_out < 1)
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: needs %d inputs and 1 output", op_name(k->op), nin);
    /* a global pool of a blocked tensor, or between f32 and bf16 sides (the engine's storage) */
    if (cv_kernel_reduce_hw(k) &&
        (cv_kernel_layout(k, 0, 0) == CV_LAYOUT_C16 || k->in[0].dtype != CV_F32 || k->out[0].dtype != CV_F32))
        return run_hw(b, k, err);
    for (int i = 0; i < nin; i++)
        if (k->in[i].dtype != CV_F32 || k->out[0].dtype != CV_F32)
            return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: %s: only f32 is supported", op_name(k->op));
    cpu_scratch s;
    if (scratch_begin(&s, k, dense_bytes(k)) != CV_OK)
        return CPU_FAIL(b, err, CV_ERR_NOMEM, "backend cpu: %s: no scratch memory", op_name(k->op));
    cpu_dense d;
    int st = dense_start(&d, k, &s, b->threads, 0);
    if (st != CV_OK) {
        scratch_end(&s);
        return CPU_FAIL(b, err, st, "backend cpu: %s: could not pack strided operands", op_name(k->op));
    }
    const cv_ktensor *x = &d.in[0], *y = &d.out[0];
    int64_t n = kt_numel(x);
    char sx[64], sy[64];
    switch (k->op) {
    case CV_OP_REDUCE: case CV_OP_SUM_TO:
        st = reduce_op(b, k, x, y, err);
        break;
    case CV_OP_SUMSQ: case CV_OP_NONFINITE: {
        if (kt_numel(y) != 1) {
            st = CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: output %s must hold one value", op_name(k->op),
                          kt_shape_str(y, sy, sizeof sy));
            break;
        }
        const float *p = x->data;
        double acc = 0;
        if (k->op == CV_OP_SUMSQ) {
            #pragma omp parallel for num_threads(b->threads) reduction(+ : acc) schedule(static) if (n > 65536)
            for (int64_t i = 0; i < n; i++) acc += (double)p[i] * p[i];
        } else {
            int64_t c = 0;
            #pragma omp parallel for num_threads(b->threads) reduction(+ : c) schedule(static) if (n > 65536)
            for (int64_t i = 0; i < n; i++) c += !isfinite(p[i]);
            acc = (double)c;
        }
        ((float *)y->data)[0] = (float)acc;
        break;
    }
    default: { /* softmax / softmax_bwd */
        const cv_softmax_params *p = k->params;
        int axis = p ? p->axis : -1;
        if (axis < 0) axis += x->ndim;
        if (axis < 0 || axis >= x->ndim || n != kt_numel(y) || (nin == 2 && kt_numel(&d.in[1]) != n)) {
            st = CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: axis %d for x %s, y %s", op_name(k->op),
                          p ? p->axis : -1, kt_shape_str(x, sx, sizeof sx), kt_shape_str(y, sy, sizeof sy));
            break;
        }
        int64_t outer = 1, inner = 1, L = x->shape[axis];
        for (int dd = 0; dd < axis; dd++) outer *= x->shape[dd];
        for (int dd = axis + 1; dd < x->ndim; dd++) inner *= x->shape[dd];
        if (n == 0) break;
        if (k->op == CV_OP_SOFTMAX) softmax_fwd(b, x->data, y->data, outer, L, inner, p && p->log);
        else softmax_bwd(b, x->data, d.in[1].data, y->data, outer, L, inner, p && p->log);
        break;
    }
    }
    if (st == CV_OK) dense_finish(&d, b->threads);
    scratch_end(&s);
    return st;
}
