/* plugins/losses/loss_common.h — graph-building pieces the loss plugins share:
 * option access, a constant vector from a list of values, arange, one-hot rows
 * from class labels, the one-hot of the arg-max along the class axis, and the
 * cross-entropy op with CVNets' "label smoothing only while training" rule.
 * Everything is built from cv.ops.v1 ops, so the engine differentiates it and any
 * backend runs it.  Header-only because each loss is its own .so. */
#ifndef CV_PLUGINS_LOSS_COMMON_H
#define CV_PLUGINS_LOSS_COMMON_H

#include <string.h>
#include <cvnets/cvnets.h>

#define LOSS_MAX_OP_INPUTS 16 /* inputs of one concat: within every backend's limit */

/* Options of the distillation losses: the teacher is read by the trainer. */
#define LOSS_TEACHER_OPTIONS                                                                      \
    CV_OPT_PATH_("teacher_recipe", NULL, "recipe of the teacher model (its [model] section); the trainer " \
                 "builds the teacher from it and feeds its logits to this loss"),                   \
    CV_OPT_PATH_("teacher_checkpoint", NULL, "weights of the teacher (safetensors)")

static inline const cv_value *loss_opt(const cv_host *h, const cv_options *o, const char *key) {
    const cv_value *v = h->opt(o, key);
    return v && v->is_set ? v : NULL;
}
static inline double loss_opt_f(const cv_host *h, const cv_options *o, const char *key, double dflt) {
    const cv_value *v = loss_opt(h, o, key);
    return v ? v->f : dflt;
}
static inline int64_t loss_opt_i(const cv_host *h, const cv_options *o, const char *key, int64_t dflt) {
    const cv_value *v = loss_opt(h, o, key);
    return v ? v->i : dflt;
}

static inline cv_tensor *loss_concat(const cv_ops_v1 *o, cv_graph *g, cv_tensor **parts, int n, int axis) {
    if (n == 1) return parts[0];
    cv_axis_params p = { axis };
    return o->op(g, CV_OP_CONCAT, (cv_tensor *const *)parts, n, &p, sizeof p);
}

/* f32 [hi - lo] holding v[lo..hi): equal neighbours share one constant, and the
 * pieces are concatenated as a tree of ops with few inputs each (backends bound
 * the inputs of one op; the reference backend takes 16). */
static inline cv_tensor *loss_vector_range(const cv_ops_v1 *o, cv_graph *g, const double *v, int lo, int hi) {
    int runs = 0;
    for (int i = lo; i < hi; i++) runs += i == lo || v[i] != v[i - 1];
    cv_tensor *parts[LOSS_MAX_OP_INPUTS];
    int n = 0;
    if (runs <= LOSS_MAX_OP_INPUTS) {
        for (int i = lo; i < hi;) {
            int j = i + 1;
            while (j < hi && v[j] == v[i]) j++;
            cv_shape s = CV_SHAPE(j - i);
            parts[n++] = o->constant(g, &s, CV_F32, (float)v[i]);
            i = j;
        }
    } else {
        int chunk = (hi - lo + LOSS_MAX_OP_INPUTS - 1) / LOSS_MAX_OP_INPUTS;
        for (int i = lo; i < hi; i += chunk) parts[n++] = loss_vector_range(o, g, v, i, i + chunk < hi ? i + chunk : hi);
    }
    return loss_concat(o, g, parts, n, 0);
}
static inline cv_tensor *loss_vector(const cv_ops_v1 *o, cv_graph *g, const double *v, int n) {
    return n > 0 ? loss_vector_range(o, g, v, 0, n) : NULL;
}

/* f32 [n] = 0, 1, ..., n-1, built by doubling: a = [a, a + len] */
static inline cv_tensor *loss_arange(const cv_ops_v1 *o, cv_graph *g, int64_t n) {
    cv_shape one = CV_SHAPE(1);
    cv_tensor *a = o->constant(g, &one, CV_F32, 0.0f);
    int64_t len = 1;
    while (len < n) {
        cv_tensor *parts[2] = { a, cv_scalar(o, g, a, CV_S_ADD, (float)len) };
        a = loss_concat(o, g, parts, 2, 0);
        len *= 2;
    }
    if (len != n) {
        cv_slice_params p = { 0, 0, 0, n };
        a = CV_OP1(o, g, CV_OP_SLICE, a, &p);
    }
    return a;
}

/* f32 [N, C] one-hot rows from i32 labels [N]: relu(1 - |label - c|), exact for
 * integers; a label outside [0, C) (an ignore index) gives a row of zeros. */
static inline cv_tensor *loss_one_hot(const cv_ops_v1 *o, cv_graph *g, cv_tensor *labels, int64_t n, int64_t c) {
    cv_cast_params cp = { CV_F32 };
    cv_tensor *y = CV_OP1(o, g, CV_OP_CAST, labels, &cp);
    y = cv_reshape(o, g, y, CV_SHAPE(n, 1));
    cv_tensor *cls = cv_reshape(o, g, loss_arange(o, g, c), CV_SHAPE(1, c));
    cv_tensor *d = cv_unary(o, g, cv_binary(o, g, y, cls, CV_SUB), CV_ABS, 0);
    return cv_unary(o, g, cv_scalar(o, g, d, CV_S_RSUB, 1.0f), CV_RELU, 0);
}

/* Soft target with the arg-max of x along axis 1 (x [N, C, ...]): 1 where x equals
 * the maximum, split evenly among exact ties, 0 elsewhere.  The maximum is a tree
 * of element-wise maxima over two overlapping halves (the engine has no arg-max). */
static inline cv_tensor *loss_argmax_one_hot(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x, int64_t c) {
    cv_tensor *m = x;
    for (int64_t w = c; w > 1;) {
        int64_t h = (w + 1) / 2;
        cv_slice_params lo = { 1, 0, 0, h }, hi = { 1, 0, w - h, h };
        m = cv_binary(o, g, CV_OP1(o, g, CV_OP_SLICE, m, &lo), CV_OP1(o, g, CV_OP_SLICE, m, &hi), CV_MAX);
        w = h;
    }
    /* d = max - x >= 0; any d > 1e-30 maps to 1 (clamped first so nothing overflows) */
    cv_tensor *d = cv_binary(o, g, m, x, CV_SUB);
    d = cv_scalar(o, g, cv_scalar(o, g, cv_scalar(o, g, d, CV_S_CLAMP_MAX, 1.0f), CV_S_MUL, 1e30f), CV_S_CLAMP_MAX, 1.0f);
    cv_tensor *ind = cv_scalar(o, g, d, CV_S_RSUB, 1.0f);
    cv_tensor *count = cv_reduce(o, g, ind, CV_R_SUM, 1u << 1, 1);
    return cv_binary(o, g, ind, count, CV_DIV);
}

/* Cross entropy of logits against target (i32 labels or f32 soft); weight may be
 * NULL.  Smoothing applies only while training, as CVNets validates with plain CE. */
static inline cv_tensor *loss_cross_entropy(const cv_ops_v1 *o, cv_graph *g, cv_tensor *logits, cv_tensor *target,
                                            cv_tensor *weight, double smoothing, int ignore_index) {
    cv_ce_params p = { o->training(g) ? (float)smoothing : 0.0f, ignore_index };
    cv_tensor *in[3] = { logits, target, weight };
    return o->op(g, CV_OP_CROSS_ENTROPY, in, weight ? 3 : 2, &p, sizeof p);
}

/* The logits' shape and class count, or a recorded error naming the loss. */
static inline int loss_logits_shape(const cv_ops_v1 *o, cv_graph *g, const char *who, const cv_loss_inputs *in,
                                    cv_shape *s) {
    if (!in || !in->logits || !in->target || o->shape(in->logits, s) != CV_OK || s->ndim < 2)
        return o->fail(g, CV_ERR_INVALID, "loss/%s: needs logits [N,C] (or [N,C,H,W]) and targets", who);
    return CV_OK;
}

/* a * x + b * y, skipping a term whose weight is 0 */
static inline cv_tensor *loss_mix(const cv_ops_v1 *o, cv_graph *g, double a, cv_tensor *x, double b, cv_tensor *y) {
    cv_tensor *ax = a == 0 ? NULL : a == 1 ? x : cv_scalar(o, g, x, CV_S_MUL, (float)a);
    cv_tensor *by = b == 0 ? NULL : b == 1 ? y : cv_scalar(o, g, y, CV_S_MUL, (float)b);
    if (!ax) return by;
    if (!by) return ax;
    return cv_add(o, g, ax, by);
}

#endif
