/* dropout.c — dropout and drop path (stochastic depth) with a counter-hash mask
 * derived from kernel->seed, so every backend can draw the very same mask:
 *   u(i) = ref_hash_uniform(seed, i)  (splitmix64, top 24 bits, see plugin.c)
 *   keep element (dropout) / sample (drop path) i  iff  u(i) >= p
 * Kept values are scaled by 1/(1-p).  The optional mask output holds the factor
 * each element was multiplied by (0 or 1/(1-p)), so the gradient is mask * dy. */
#include "ref.h"

static int dropout_p(ref_run *r, double *p) {
    *p = ((const cv_dropout_params *)r->params)->p;
    if (!(*p >= 0.0 && *p <= 1.0)) return ref_fail(r, CV_ERR_INVALID, "p = %g is outside [0, 1]", *p);
    return CV_OK;
}

/* per_sample: one draw per index of dim 0 (drop path) instead of per element */
static int dropout_forward(ref_run *r, int per_sample) {
    int st = ref_arity(r, 1, 1, 1, 2);
    double p;
    if (st || (st = dropout_p(r, &p))) return st;
    const ref_t *x = &r->in[0];
    if (!ref_same_shape(r, x, "x", &r->out[0], "y")) return CV_ERR_INVALID;
    int64_t n = x->ndim > 0 ? x->shape[0] : 1, per = n ? x->numel / n : 0;
    int mask_per_sample = 0;
    if (r->n_out == 2 && r->out[1].numel != x->numel) {
        if (!per_sample || r->out[1].numel != n) {
            char sx[96], sm[96];
            return ref_fail(r, CV_ERR_INVALID, "mask %s must have x's shape %s%s", ref_shape_str(&r->out[1], sm, sizeof sm),
                            ref_shape_str(x, sx, sizeof sx), per_sample ? " or one value per sample" : "");
        }
        mask_per_sample = 1;
    }
    double scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
    uint64_t seed = r->k->seed;
    for (int64_t i = 0; i < x->numel; i++) {
        uint64_t draw = per_sample ? (uint64_t)(i / (per ? per : 1)) : (uint64_t)i;
        double m = p >= 1.0 ? 0.0 : p <= 0.0 ? 1.0 : (ref_hash_uniform(seed, draw) >= p ? scale : 0.0);
        r->out[0].f[i] = (float)(x->f[i] * m);
        if (r->n_out == 2) {
            if (!mask_per_sample) r->out[1].f[i] = (float)m;
            else if (i % (per ? per : 1) == 0) r->out[1].f[draw] = (float)m;
        }
    }
    return CV_OK;
}

int ref_dropout(ref_run *r) { return dropout_forward(r, 0); }
int ref_drop_path(ref_run *r) { return dropout_forward(r, 1); }

/* mask, dy -> dx; a mask with one value per sample (drop path) broadcasts */
int ref_dropout_bwd(ref_run *r) {
    int st = ref_arity(r, 2, 2, 1, 1);
    if (st) return st;
    const ref_t *mask = &r->in[0], *dy = &r->in[1];
    if (!ref_same_shape(r, dy, "dy", &r->out[0], "dx")) return CV_ERR_INVALID;
    int64_t n = dy->ndim > 0 ? dy->shape[0] : 1, per = n ? dy->numel / n : 0;
    if (mask->numel != dy->numel && mask->numel != n) {
        char sm[96], sd[96];
        return ref_fail(r, CV_ERR_INVALID, "mask %s must have dy's shape %s or one value per sample",
                        ref_shape_str(mask, sm, sizeof sm), ref_shape_str(dy, sd, sizeof sd));
    }
    for (int64_t i = 0; i < dy->numel; i++) {
        float m = mask->numel == dy->numel ? mask->f[i] : mask->f[i / (per ? per : 1)];
        r->out[0].f[i] = m * dy->f[i];
    }
    return CV_OK;
}
