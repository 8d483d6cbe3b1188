/* test/unit/test_loss_eager.c — the loss plugins' graphs evaluated eagerly:
 * a small cv.ops.v1 implementation in this file runs every op the losses record
 * at once on the reference backend's kernels, so the loss values can be checked
 * against the formulas computed here in double precision without the tensor
 * engine.  (test_loss.c runs the same losses through the real engine, with
 * gradients.)  Covers label smoothing in training and not in eval, class weights
 * (more classes than one concat takes), ignore index, soft targets, BCE from
 * labels and its reductions, soft KL at a temperature, hard distillation with
 * ties and odd class counts, and the errors for a missing or mismatched teacher. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <criterion/criterion.h>
#include "support/testhost.h"

/* ---- an eager cv.ops.v1 on the ref backend ------------------------------------------ */
struct cv_tensor {
    cv_shape shape;
    int dtype;
    void *data;
};
#define MAX_TENSORS 4096
struct cv_graph {
    int training;
    int n;
    cv_tensor *t[MAX_TENSORS];
    int status;
    char message[512];
    const cv_backend_vtable *vt;
    void *be;
    int n_ops;
};

static int e_fail(cv_graph *g, int status, const char *fmt, ...) {
    if (!g->status) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->message, sizeof g->message, fmt, ap);
        va_end(ap);
        g->status = status;
    }
    return status;
}
static int e_failed(const cv_graph *g) { return g->status != 0; }
static int e_shape(const cv_tensor *t, cv_shape *out) {
    if (!t) return CV_ERR_INVALID;
    *out = t->shape;
    return CV_OK;
}
static int e_dtype(const cv_tensor *t) { return t ? t->dtype : -1; }
static int e_training(const cv_graph *g) { return g->training; }
static void e_scope_push(cv_graph *g, const char *fmt, ...) { (void)g; (void)fmt; }
static void e_scope_pop(cv_graph *g) { (void)g; }
static cv_tensor *e_input(cv_graph *g, int index) { e_fail(g, CV_ERR_UNSUPPORTED, "input %d", index); return NULL; }
static cv_tensor *e_param(cv_graph *g, const char *name, const cv_shape *s, cv_init init, uint32_t tags) {
    (void)s; (void)init; (void)tags;
    e_fail(g, CV_ERR_UNSUPPORTED, "param %s", name);
    return NULL;
}

static cv_tensor *e_new(cv_graph *g, const cv_shape *s, int dtype) {
    cr_assert(g->n < MAX_TENSORS);
    cv_tensor *t = calloc(1, sizeof *t);
    t->shape = *s;
    t->dtype = dtype;
    size_t n = (size_t)(s->ndim ? cv_shape_numel(s) : 1);
    t->data = calloc(n ? n : 1, 4);
    g->t[g->n++] = t;
    return t;
}
static cv_tensor *e_from(cv_graph *g, const cv_shape *s, int dtype, const void *src) {
    cv_tensor *t = e_new(g, s, dtype);
    memcpy(t->data, src, (size_t)cv_shape_numel(s) * 4);
    return t;
}
static cv_tensor *e_constant(cv_graph *g, const cv_shape *s, int dtype, float value) {
    cv_tensor *t = e_new(g, s, dtype);
    for (int64_t i = 0; i < cv_shape_numel(s); i++) ((float *)t->data)[i] = value;
    return t;
}

static cv_ktensor kt(const cv_tensor *t) {
    cv_ktensor k = { t->dtype, t->shape.ndim, { 0 }, { 0 }, t->data };
    int64_t st = 1;
    for (int d = t->shape.ndim - 1; d >= 0; d--) {
        k.shape[d] = t->shape.dim[d];
        k.stride[d] = st;
        st *= t->shape.dim[d];
    }
    return k;
}

static cv_tensor *e_op(cv_graph *g, int op, cv_tensor *const *in, int n_in, const void *params, size_t ps) {
    if (g->status) return NULL;
    for (int i = 0; i < n_in; i++)
        if (!in[i]) { e_fail(g, CV_ERR_INVALID, "op %d: input %d is NULL", op, i); return NULL; }
    cr_assert(n_in <= 64, "op %d with %d inputs: more than the engine's limit", op, n_in);
    g->n_ops++;
    cv_shape os = in[0]->shape;
    int odt = CV_F32;
    switch (op) {
    case CV_OP_UNARY: case CV_OP_SCALAR: case CV_OP_SOFTMAX: break;
    case CV_OP_CAST: odt = ((const cv_cast_params *)params)->dtype; break;
    case CV_OP_RESHAPE: {
        os = ((const cv_reshape_params *)params)->shape;
        cr_assert_eq(cv_shape_numel(&os), cv_shape_numel(&in[0]->shape));
        return e_from(g, &os, in[0]->dtype, in[0]->data);
    }
    case CV_OP_BINARY: {
        const cv_shape *a = &in[0]->shape, *b = &in[1]->shape;
        int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
        os.ndim = nd;
        for (int d = 0; d < nd; d++) {
            int64_t da = d - (nd - a->ndim) >= 0 ? a->dim[d - (nd - a->ndim)] : 1;
            int64_t db = d - (nd - b->ndim) >= 0 ? b->dim[d - (nd - b->ndim)] : 1;
            cr_assert(da == db || da == 1 || db == 1, "binary: shapes do not broadcast");
            os.dim[d] = da > db ? da : db;
        }
        break;
    }
    case CV_OP_REDUCE: {
        const cv_reduce_params *p = params;
        cv_shape o = { 0, 0, { 0 } };
        for (int d = 0; d < in[0]->shape.ndim; d++) {
            if (p->axes & (1u << d)) { if (p->keepdim) o.dim[o.ndim++] = 1; }
            else o.dim[o.ndim++] = in[0]->shape.dim[d];
        }
        os = o;
        break;
    }
    case CV_OP_CONCAT: {
        int ax = ((const cv_axis_params *)params)->axis;
        os.dim[ax] = 0;
        for (int i = 0; i < n_in; i++) os.dim[ax] += in[i]->shape.dim[ax];
        break;
    }
    case CV_OP_SLICE: {
        const cv_slice_params *p = params;
        os.dim[p->axis] = p->length;
        break;
    }
    case CV_OP_CROSS_ENTROPY: case CV_OP_BCE_LOGITS: os = CV_SHAPE(1); break;
    default: e_fail(g, CV_ERR_UNSUPPORTED, "eager ops: op %d not implemented", op); return NULL;
    }
    cv_tensor *out = e_new(g, &os, odt);
    cv_ktensor kin[64], kout = kt(out);
    for (int i = 0; i < n_in; i++) kin[i] = kt(in[i]);
    cv_kernel k = { sizeof k, op, params, (uint32_t)ps, n_in, 1, kin, &kout, NULL, 0, 0, NULL };
    cv_error err = { sizeof err, 0, "" };
    int rc = g->vt->run(g->be, &k, &err);
    if (rc != CV_OK) { e_fail(g, rc, "%s", err.message); return NULL; }
    return out;
}

static const cv_ops_v1 EOPS = {
    sizeof(cv_ops_v1), e_input, e_shape, e_dtype, e_training, e_param, e_op, e_constant,
    e_scope_push, e_scope_pop, e_fail, e_failed,
};

/* ---- fixture ---------------------------------------------------------------------- */
typedef struct lfix {
    cv_ctx *ctx;
    const cv_component_desc *bd, *ld;
    void *be, *loss;
    cv_graph g;
} lfix;

static void lfix_open(lfix *f, const char *name, const char *const *kv, int num_classes, int training) {
    memset(f, 0, sizeof *f);
    f->ctx = th_ctx_new();
    f->bd = th_load(f->ctx, "backend", "ref");
    cv_create_args extra = { sizeof extra };
    extra.threads = 1;
    f->be = th_create(f->ctx, f->bd, NULL, &extra);
    f->ld = th_load(f->ctx, "loss", name);
    extra.num_classes = num_classes;
    f->loss = th_create(f->ctx, f->ld, kv, &extra);
    f->g.vt = f->bd->vtable;
    f->g.be = f->be;
    f->g.training = training;
}
static void lfix_reset(lfix *f, int training) {
    for (int i = 0; i < f->g.n; i++) { free(f->g.t[i]->data); free(f->g.t[i]); }
    f->g.n = 0;
    f->g.status = 0;
    f->g.n_ops = 0;
    f->g.training = training;
}
static void lfix_close(lfix *f) {
    lfix_reset(f, 0);
    th_destroy(f->ld, f->loss);
    th_destroy(f->bd, f->be);
    th_ctx_free(f->ctx);
}
/* run the loss on host arrays; returns its value (fails the test on a graph error) */
static double run_loss(lfix *f, int n, int c, const float *logits, const int32_t *labels, const float *soft,
                       const float *teacher) {
    cv_shape ls = CV_SHAPE(n, c), ys = CV_SHAPE(n);
    cv_loss_inputs in = { sizeof in, e_from(&f->g, &ls, CV_F32, logits),
                          labels ? e_from(&f->g, &ys, CV_I32, labels) : e_from(&f->g, &ls, CV_F32, soft),
                          teacher ? e_from(&f->g, &ls, CV_F32, teacher) : NULL };
    const cv_loss_vtable *vt = f->ld->vtable;
    cv_tensor *out = vt->forward(f->loss, &EOPS, &f->g, &in);
    cr_assert_eq(f->g.status, 0, "graph error: %s", f->g.message);
    cr_assert_not_null(out);
    cr_assert_eq(out->dtype, CV_F32);
    cr_assert_eq(cv_shape_numel(&out->shape), 1, "loss must be one value");
    return ((float *)out->data)[0];
}

/* ---- reference formulas (double) --------------------------------------------------- */
static void log_softmax_d(const float *x, int c, double scale, double *lp) {
    double m = -INFINITY, s = 0;
    for (int j = 0; j < c; j++) m = fmax(m, x[j] * scale);
    for (int j = 0; j < c; j++) s += exp(x[j] * scale - m);
    for (int j = 0; j < c; j++) lp[j] = x[j] * scale - m - log(s);
}
/* PyTorch cross_entropy(mean) with weights w (NULL), smoothing eps, ignore index */
static double ce_ref(int n, int c, const float *x, const int32_t *y, const double *w, double eps, int ignore) {
    double num = 0, den = 0, lp[256];
    for (int i = 0; i < n; i++) {
        if (y[i] == ignore) continue;
        log_softmax_d(x + i * c, c, 1.0, lp);
        double wy = w ? w[y[i]] : 1.0, smooth = 0;
        for (int j = 0; j < c; j++) smooth -= (w ? w[j] : 1.0) * lp[j];
        num += (1 - eps) * -wy * lp[y[i]] + eps / c * smooth;
        den += wy;
    }
    return num / den;
}
static double ce_soft_ref(int n, int c, const float *x, const double *t, double eps) {
    double total = 0, lp[256];
    for (int i = 0; i < n; i++) {
        log_softmax_d(x + i * c, c, 1.0, lp);
        for (int j = 0; j < c; j++) total -= ((1 - eps) * t[i * c + j] + eps / c) * lp[j];
    }
    return total / n;
}

/* a deterministic batch */
static void fill(float *x, int n, double a, double b) {
    for (int i = 0; i < n; i++) x[i] = (float)(a * sin(0.7 * i + b) + 0.3 * cos(1.3 * i));
}
#define EXPECT_NEAR(got, want) cr_expect(fabs((got) - (want)) <= 2e-6 * fmax(1.0, fabs(want)), "loss %.9g, want %.9g", (double)(got), (double)(want))

/* ---- cross_entropy ------------------------------------------------------------------- */
Test(loss_eager_ce, smoothing_in_training_only) {
    lfix f;
    const char *kv[] = { "label_smoothing=0.1", NULL };
    lfix_open(&f, "cross_entropy", kv, 5, 1);
    float x[4 * 5];
    fill(x, 20, 2.0, 0.1);
    const int32_t y[4] = { 0, 3, 4, 1 };
    EXPECT_NEAR(run_loss(&f, 4, 5, x, y, NULL, NULL), ce_ref(4, 5, x, y, NULL, 0.1, -1));
    lfix_reset(&f, 0);
    EXPECT_NEAR(run_loss(&f, 4, 5, x, y, NULL, NULL), ce_ref(4, 5, x, y, NULL, 0.0, -1));
    lfix_close(&f);
}

Test(loss_eager_ce, class_weights_and_ignore_index) {
    lfix f;
    const char *kv[] = { "class_weights=1.0, 2.0, 2.0, 0.5", "ignore_index=255", "label_smoothing=0.2", NULL };
    lfix_open(&f, "cross_entropy", kv, 4, 1);
    float x[5 * 4];
    fill(x, 20, 1.5, 0.4);
    const int32_t y[5] = { 1, 255, 3, 0, 2 };
    const double w[4] = { 1.0, 2.0, 2.0, 0.5 };
    EXPECT_NEAR(run_loss(&f, 5, 4, x, y, NULL, NULL), ce_ref(5, 4, x, y, w, 0.2, 255));
    lfix_close(&f);
}

Test(loss_eager_ce, many_class_weights_build_in_groups) {
    enum { C = 150, B = 3 };
    char list[C * 8] = "class_weights=";
    double w[C];
    for (int j = 0; j < C; j++) {
        w[j] = 0.5 + (j % 7) * 0.25;
        char item[16];
        snprintf(item, sizeof item, j ? ", %g" : "%g", w[j]);
        strcat(list, item);
    }
    const char *kv[] = { list, NULL };
    lfix f;
    lfix_open(&f, "cross_entropy", kv, C, 1);
    float x[B * C];
    fill(x, B * C, 3.0, 0.2);
    const int32_t y[B] = { 5, 149, 70 };
    EXPECT_NEAR(run_loss(&f, B, C, x, y, NULL, NULL), ce_ref(B, C, x, y, w, 0.0, -1));
    lfix_close(&f);
}

Test(loss_eager_ce, soft_targets_from_mixup) {
    lfix f;
    const char *kv[] = { "label_smoothing=0.1", NULL };
    lfix_open(&f, "cross_entropy", kv, 3, 1);
    float x[2 * 3];
    fill(x, 6, 1.0, 0.0);
    const float t[6] = { 0.7f, 0.3f, 0.0f, 0.0f, 0.4f, 0.6f };
    const double td[6] = { 0.7f, 0.3f, 0.0f, 0.0f, 0.4f, 0.6f };
    EXPECT_NEAR(run_loss(&f, 2, 3, x, NULL, t, NULL), ce_soft_ref(2, 3, x, td, 0.1));
    lfix_close(&f);
}

Test(loss_eager_ce, wrong_number_of_class_weights) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "loss", "cross_entropy");
    cv_create_args extra = { sizeof extra };
    extra.num_classes = 3;
    const char *kv[] = { "class_weights=1, 2", NULL };
    void *self = NULL;
    cv_error err = { sizeof err, 0, "" };
    cr_expect_eq(th_try_create(ctx, d, kv, &extra, &self, &err), CV_ERR_INVALID);
    cr_expect(strstr(err.message, "class_weights has 2 values") != NULL, "message: %s", err.message);
    th_ctx_free(ctx);
}

/* ---- binary_cross_entropy ----------------------------------------------------------- */
static double bce_sum_ref(int n, int c, const float *x, const double *t) {
    double s = 0;
    for (int i = 0; i < n * c; i++) {
        double z = x[i];
        s += fmax(z, 0) - z * t[i] + log1p(exp(-fabs(z)));
    }
    return s;
}

Test(loss_eager_bce, one_hot_from_labels_sum_as_cvnets) {
    lfix f;
    lfix_open(&f, "binary_cross_entropy", NULL, 6, 1);
    float x[3 * 6];
    fill(x, 18, 2.5, 0.3);
    const int32_t y[3] = { 5, 0, 2 };
    double t[18] = { 0 };
    for (int i = 0; i < 3; i++) t[i * 6 + y[i]] = 1;
    EXPECT_NEAR(run_loss(&f, 3, 6, x, y, NULL, NULL), bce_sum_ref(3, 6, x, t));
    lfix_close(&f);
}

Test(loss_eager_bce, soft_targets_and_reductions) {
    float x[2 * 4];
    fill(x, 8, 1.2, 0.9);
    const float t[8] = { 0.1f, 0.9f, 0, 0, 0.5f, 0.5f, 0, 0 };
    double td[8];
    for (int i = 0; i < 8; i++) td[i] = t[i];
    const char *mean[] = { "reduction=mean", NULL }, *bm[] = { "reduction=batch_mean", NULL };
    lfix f;
    lfix_open(&f, "binary_cross_entropy", mean, 4, 1);
    EXPECT_NEAR(run_loss(&f, 2, 4, x, NULL, t, NULL), bce_sum_ref(2, 4, x, td) / 8);
    lfix_close(&f);
    lfix_open(&f, "binary_cross_entropy", bm, 4, 1);
    EXPECT_NEAR(run_loss(&f, 2, 4, x, NULL, t, NULL), bce_sum_ref(2, 4, x, td) / 2);
    lfix_close(&f);
}

/* ---- soft_kl ------------------------------------------------------------------------ */
static double kl_ref(int n, int c, const float *s, const float *t, double T) {
    double total = 0, ls[256], lt[256];
    for (int i = 0; i < n; i++) {
        log_softmax_d(s + i * c, c, 1 / T, ls);
        log_softmax_d(t + i * c, c, 1 / T, lt);
        for (int j = 0; j < c; j++) total += exp(lt[j]) * (lt[j] - ls[j]);
    }
    return total / n * T * T;
}

Test(loss_eager_soft_kl, temperature_batchmean) {
    lfix f;
    const char *kv[] = { "temperature=2.0", NULL };
    lfix_open(&f, "soft_kl", kv, 5, 1);
    cr_expect_eq(((const cv_loss_vtable *)f.ld->vtable)->needs_teacher, 1);
    float s[3 * 5], t[3 * 5];
    fill(s, 15, 2.0, 0.0);
    fill(t, 15, 3.0, 1.1);
    const int32_t y[3] = { 1, 2, 3 };
    EXPECT_NEAR(run_loss(&f, 3, 5, s, y, NULL, t), kl_ref(3, 5, s, t, 2.0));
    /* identical distributions: zero */
    lfix_reset(&f, 1);
    cr_expect(fabs(run_loss(&f, 3, 5, s, y, NULL, s)) < 1e-6);
    lfix_close(&f);
}

Test(loss_eager_soft_kl, mixed_with_labels) {
    lfix f;
    const char *kv[] = { "temperature=4", "label_loss_weight=0.3", "distillation_loss_weight=0.7", NULL };
    lfix_open(&f, "soft_kl", kv, 4, 1);
    float s[2 * 4], t[2 * 4];
    fill(s, 8, 1.0, 0.5);
    fill(t, 8, 2.0, 2.0);
    const int32_t y[2] = { 3, 0 };
    EXPECT_NEAR(run_loss(&f, 2, 4, s, y, NULL, t), 0.3 * ce_ref(2, 4, s, y, NULL, 0, -1) + 0.7 * kl_ref(2, 4, s, t, 4));
    lfix_close(&f);
}

Test(loss_eager_soft_kl, missing_or_mismatched_teacher_is_a_graph_error) {
    lfix f;
    lfix_open(&f, "soft_kl", NULL, 3, 1);
    float s[6];
    fill(s, 6, 1, 0);
    const int32_t y[2] = { 0, 1 };
    cv_shape ls = CV_SHAPE(2, 3), ys = CV_SHAPE(2), ts = CV_SHAPE(2, 4);
    cv_loss_inputs in = { sizeof in, e_from(&f.g, &ls, CV_F32, s), e_from(&f.g, &ys, CV_I32, y), NULL };
    const cv_loss_vtable *vt = f.ld->vtable;
    cr_expect_null(vt->forward(f.loss, &EOPS, &f.g, &in));
    cr_expect(strstr(f.g.message, "teacher_recipe") != NULL, "message: %s", f.g.message);
    lfix_reset(&f, 1);
    float t8[8] = { 0 };
    in.logits = e_from(&f.g, &ls, CV_F32, s);
    in.target = e_from(&f.g, &ys, CV_I32, y);
    in.teacher_logits = e_from(&f.g, &ts, CV_F32, t8);
    cr_expect_null(vt->forward(f.loss, &EOPS, &f.g, &in));
    cr_expect(strstr(f.g.message, "[2,4]") != NULL, "message: %s", f.g.message);
    lfix_close(&f);
}

/* ---- hard_distillation ---------------------------------------------------------------- */
static double hard_ref(int n, int c, const float *s, const int32_t *y, const float *t, double wl, double wd) {
    int32_t ty[64];
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int j = 1; j < c; j++) if (t[i * c + j] > t[i * c + best]) best = j;
        ty[i] = best;
    }
    return wl * ce_ref(n, c, s, y, NULL, 0, -1) + wd * ce_ref(n, c, s, ty, NULL, 0, -1);
}

Test(loss_eager_hard_distillation, deit_half_and_half_odd_class_counts) {
    const int cs[4] = { 2, 5, 7, 33 };
    for (int k = 0; k < 4; k++) {
        int c = cs[k], n = 4;
        lfix f;
        lfix_open(&f, "hard_distillation", NULL, c, 1);
        float s[4 * 33], t[4 * 33];
        fill(s, n * c, 2.0, 0.3 * k);
        fill(t, n * c, 4.0, 1.7 + k);
        const int32_t y[4] = { 0, 1, (int32_t)(c - 1), 1 };
        EXPECT_NEAR(run_loss(&f, n, c, s, y, NULL, t), hard_ref(n, c, s, y, t, 0.5, 0.5));
        lfix_close(&f);
    }
}

Test(loss_eager_hard_distillation, ties_split_and_weights) {
    lfix f;
    const char *kv[] = { "label_loss_weight=0.25", "distillation_loss_weight=1.0", NULL };
    lfix_open(&f, "hard_distillation", kv, 3, 1);
    float s[2 * 3];
    fill(s, 6, 1.5, 0.2);
    const float t[6] = { 1, 5, 2, 7, 0, 7 }; /* row 2: classes 0 and 2 tie */
    const int32_t y[2] = { 2, 1 };
    double lp[3], tie = 0;
    log_softmax_d(s + 3, 3, 1.0, lp);
    tie = -(0.5 * lp[0] + 0.5 * lp[2]);
    log_softmax_d(s, 3, 1.0, lp);
    double teacher_term = (-lp[1] + tie) / 2;
    EXPECT_NEAR(run_loss(&f, 2, 3, s, y, NULL, t), 0.25 * ce_ref(2, 3, s, y, NULL, 0, -1) + teacher_term);
    lfix_close(&f);
}

Test(loss_eager_hard_distillation, soft_label_term_and_smoothing) {
    lfix f;
    const char *kv[] = { "label_smoothing=0.1", "distillation_label_smoothing=0.2", NULL };
    lfix_open(&f, "hard_distillation", kv, 4, 1);
    float s[2 * 4], t[2 * 4];
    fill(s, 8, 1.0, 0.0);
    fill(t, 8, 3.0, 0.6);
    const float soft[8] = { 0.5f, 0.5f, 0, 0, 0, 0, 0.2f, 0.8f };
    double sd[8], td[8] = { 0 };
    for (int i = 0; i < 8; i++) sd[i] = soft[i];
    for (int i = 0; i < 2; i++) {
        int best = 0;
        for (int j = 1; j < 4; j++) if (t[i * 4 + j] > t[i * 4 + best]) best = j;
        td[i * 4 + best] = 1;
    }
    double want = 0.5 * ce_soft_ref(2, 4, s, sd, 0.1) + 0.5 * ce_soft_ref(2, 4, s, td, 0.2);
    EXPECT_NEAR(run_loss(&f, 2, 4, s, NULL, soft, t), want);
    lfix_close(&f);
}
