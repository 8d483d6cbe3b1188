/* plugins/backends/cpu/dropout.c — dropout, drop path and their gradient.  The
 * mask is the counter hash every backend shares (doc/backend-ref.md): element (or
 * sample) i is kept iff u(seed, i) >= p, where u is splitmix64's top 24 bits, so
 * the CPU and reference backends drop the very same elements. */
#include "cpu.h"

static inline float hash_uniform(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f); /* exact: 24 bits */
}

int run_dropout(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    char s1[64], s2[64];
    for (int i = 0; i < k->n_in; i++)
        if (k->in[i].dtype != CV_F32 || !kt_contiguous(&k->in[i]))
            return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: %s: input %d must be dense f32", op_name(k->op), i);
    for (int i = 0; i < k->n_out; i++)
        if (k->out[i].dtype != CV_F32 || !kt_contiguous(&k->out[i]))
            return CPU_FAIL(b, err, CV_ERR_UNSUPPORTED, "backend cpu: %s: output %d must be dense f32", op_name(k->op), i);
    if (k->op == CV_OP_DROPOUT_BWD) {
        if (k->n_in != 2 || k->n_out != 1) return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: dropout_bwd: needs mask, dy -> dx");
        const cv_ktensor *mk = &k->in[0], *dy = &k->in[1];
        int64_t n = kt_numel(dy), ns = dy->ndim > 0 ? dy->shape[0] : 1, per = ns ? n / ns : 0;
        int64_t nm = kt_numel(mk);
        if (kt_numel(&k->out[0]) != n || (nm != n && nm != ns))
            return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: dropout_bwd: mask %s does not fit dy %s",
                            kt_shape_str(mk, s1, sizeof s1), kt_shape_str(dy, s2, sizeof s2));
        const float *m = mk->data, *g = dy->data;
        float *o = k->out[0].data;
        if (nm == n) {
            #pragma omp parallel for num_threads(b->threads) schedule(static) if (n > 16384)
            for (int64_t i = 0; i < n; i++) o[i] = m[i] * g[i];
        } else {
            #pragma omp parallel for num_threads(b->threads) schedule(static) if (n > 16384)
            for (int64_t i = 0; i < n; i++) o[i] = m[i / per] * g[i];
        }
        return CV_OK;
    }
    const cv_dropout_params *p = k->params;
    if (!p || !(p->p >= 0.0f && p->p <= 1.0f))
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: p = %g is outside [0, 1]", op_name(k->op), p ? p->p : -1.0);
    if (k->n_in != 1 || k->n_out < 1 || k->n_out > 2)
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: needs x -> y, (mask)", op_name(k->op));
    const cv_ktensor *x = &k->in[0];
    int64_t n = kt_numel(x), ns = x->ndim > 0 ? x->shape[0] : 1, per = ns ? n / ns : 0;
    if (!per) per = 1;
    int per_sample = k->op == CV_OP_DROP_PATH;
    int64_t nm = k->n_out == 2 ? kt_numel(&k->out[1]) : n;
    if (kt_numel(&k->out[0]) != n || (nm != n && !(per_sample && nm == ns)))
        return CPU_FAIL(b, err, CV_ERR_INVALID, "backend cpu: %s: outputs do not fit x %s", op_name(k->op),
                        kt_shape_str(x, s1, sizeof s1));
    const double pp = p->p;
    const float scale = pp < 1.0 ? (float)(1.0 / (1.0 - pp)) : 0.0f;
    const uint64_t seed = k->seed;
    const float *xi = x->data;
    float *y = k->out[0].data, *mask = k->n_out == 2 ? k->out[1].data : NULL;
    const int mask_per_sample = mask && nm != n;
    #pragma omp parallel for num_threads(b->threads) schedule(static) if (n > 16384)
    for (int64_t i = 0; i < n; i++) {
        uint64_t draw = per_sample ? (uint64_t)(i / per) : (uint64_t)i;
        float m = pp >= 1.0 ? 0.0f : pp <= 0.0 ? 1.0f : ((double)hash_uniform(seed, draw) >= pp ? scale : 0.0f);
        y[i] = xi[i] * m;
        if (mask) {
            if (!mask_per_sample) mask[i] = m;
            else if (i % per == 0) mask[draw] = m;
        }
    }
    return CV_OK;
}
