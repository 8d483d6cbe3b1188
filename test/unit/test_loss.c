/* test/unit/test_loss.c — the loss plugins through the real tensor engine on the
 * reference backend: a test model whose logits are the input plus a [N,C] bias
 * parameter (so the bias gradient is dloss/dlogits), and, for the distillation
 * losses, a wrapper that feeds the plugin teacher logits taken from the input.
 * The loss value is checked against the formula in double precision, and the
 * engine's gradient against central finite differences of that formula. */
#include <math.h>
#include <string.h>
#include <criterion/criterion.h>
#include "support/testhost.h"
#include "engine.h"

#define N 4
#define C 5

/* ---- the test model: logits = x[:, :C] + bias ----------------------------------- */
static cv_tensor *tm_forward(void *self, const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    int channels = *(int *)self;
    cv_tensor *z = cv_reshape(o, g, x, CV_SHAPE(N, channels));
    if (channels != C) {
        cv_slice_params sp = { 1, 0, 0, C };
        z = CV_OP1(o, g, CV_OP_SLICE, z, &sp);
    }
    cv_shape bs = CV_SHAPE(N, C);
    cv_tensor *b = o->param(g, "bias", &bs, (cv_init){ CV_INIT_ZEROS, 0, 0 }, 0);
    return cv_add(o, g, z, b);
}
static const cv_model_vtable TM_VT = { sizeof(cv_model_vtable), tm_forward, NULL };
static const cv_component_desc TM_DESC = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL,
                                           "test_bias", "classification", "test", NULL, NULL, NULL, NULL, NULL, &TM_VT };

/* ---- a loss wrapper that supplies teacher logits = x[:, C:2C] --------------------- */
typedef struct wrap { const cv_component_desc *d; void *self; } wrap;
static cv_tensor *wrap_forward(void *self, const cv_ops_v1 *o, cv_graph *g, const cv_loss_inputs *in) {
    wrap *w = self;
    cv_tensor *x = cv_reshape(o, g, o->input(g, 0), CV_SHAPE(N, 2 * C));
    cv_slice_params sp = { 1, 0, C, C };
    cv_loss_inputs li = *in;
    li.teacher_logits = CV_OP1(o, g, CV_OP_SLICE, x, &sp);
    return ((const cv_loss_vtable *)w->d->vtable)->forward(w->self, o, g, &li);
}
static const cv_loss_vtable WRAP_VT = { sizeof(cv_loss_vtable), 1, 0, wrap_forward };
static const cv_component_desc WRAP_DESC = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_LOSS,
                                             "wrap", "any", "test", NULL, NULL, NULL, NULL, NULL, &WRAP_VT };

/* ---- fixture ------------------------------------------------------------------------ */
typedef struct efix {
    cv_ctx *ctx;
    const cv_component_desc *bd, *ld;
    void *be, *loss;
    wrap w;
    int channels;
    cv_engine *e;
    cv_net *net;
    cv_plan *plan;
    int bias_index;
} efix;

static void efix_open(efix *f, const char *name, const char *const *kv, int teacher, int soft) {
    memset(f, 0, sizeof *f);
    f->ctx = th_ctx_new();
    f->bd = th_load(f->ctx, "backend", "ref");
    cv_create_args extra = { sizeof extra };
    extra.threads = 1;
    extra.num_classes = C;
    f->be = th_create(f->ctx, f->bd, NULL, &extra);
    f->ld = th_load(f->ctx, "loss", name);
    f->loss = th_create(f->ctx, f->ld, kv, &extra);
    f->channels = teacher ? 2 * C : C;
    cv_error err = { sizeof err, 0, "" };
    f->e = cv_engine_create(&f->ctx->host, (cv_backend_ref){ f->bd->vtable, f->be }, 1, &err);
    cr_assert_not_null(f->e, "%s", err.message);
    cv_component_ref model = { &TM_DESC, &f->channels }, loss = { f->ld, f->loss };
    if (teacher) {
        f->w = (wrap){ f->ld, f->loss };
        loss = (cv_component_ref){ &WRAP_DESC, &f->w };
    }
    f->net = cv_net_create(f->e, model, loss, C, &err);
    cr_assert_not_null(f->net, "%s", err.message);
    cv_shape in = CV_SHAPE(N, f->channels, 1, 1);
    f->plan = cv_net_plan_get(f->net, &in, CV_MODE_TRAIN, soft, &err);
    cr_assert_not_null(f->plan, "%s", err.message);
    f->bias_index = -1;
    for (int i = 0; i < cv_net_param_count(f->net); i++)
        if (strstr(cv_net_param(f->net, i)->name, "bias")) f->bias_index = i;
    cr_assert_geq(f->bias_index, 0);
}
static void efix_close(efix *f) {
    cv_net_destroy(f->net);
    cv_engine_destroy(f->e);
    th_destroy(f->ld, f->loss);
    th_destroy(f->bd, f->be);
    th_ctx_free(f->ctx);
}
/* one training step: returns the loss; grad gets dloss/dbias = dloss/dlogits */
static double efix_run(efix *f, const float *x, const void *targets, float *grad) {
    cv_error err = { sizeof err, 0, "" };
    cv_step_io io = { x, targets, NULL, 0, 0 };
    cr_assert_eq(cv_net_run(f->plan, &io, &err), CV_OK, "%s", err.message);
    if (grad) {
        int64_t total = cv_net_buffer_elems(f->net, 1);
        float *all = calloc((size_t)total, sizeof *all);
        cr_assert_eq(cv_net_buffer_read(f->net, 1, all, total, &err), CV_OK, "%s", err.message);
        memcpy(grad, all + cv_net_param(f->net, f->bias_index)->offset, sizeof(float) * N * C);
        free(all);
    }
    return io.loss;
}

/* ---- references in double --------------------------------------------------------------- */
typedef double (*ref_fn)(const double *z, const void *ctx);
static void log_softmax_d(const double *x, double scale, double *lp) {
    double m = -INFINITY, s = 0;
    for (int j = 0; j < C; j++) m = fmax(m, x[j] * scale);
    for (int j = 0; j < C; j++) s += exp(x[j] * scale - m);
    for (int j = 0; j < C; j++) lp[j] = x[j] * scale - m - log(s);
}
typedef struct ce_ctx { const int32_t *y; const double *soft; const double *w; double eps; int ignore; } ce_ctx;
static double ce_ref(const double *z, const void *vctx) {
    const ce_ctx *c = vctx;
    double num = 0, den = 0, lp[C];
    for (int i = 0; i < N; i++) {
        log_softmax_d(z + i * C, 1.0, lp);
        if (c->soft) {
            for (int j = 0; j < C; j++) num -= ((1 - c->eps) * c->soft[i * C + j] + c->eps / C) * lp[j];
            den += 1;
            continue;
        }
        if (c->y[i] == c->ignore) continue;
        double wy = c->w ? c->w[c->y[i]] : 1, sm = 0;
        for (int j = 0; j < C; j++) sm -= (c->w ? c->w[j] : 1) * lp[j];
        num += (1 - c->eps) * -wy * lp[c->y[i]] + c->eps / C * sm;
        den += wy;
    }
    return num / den;
}
typedef struct bce_ctx { const double *t; double scale; } bce_ctx;
static double bce_ref(const double *z, const void *vctx) {
    const bce_ctx *c = vctx;
    double s = 0;
    for (int i = 0; i < N * C; i++) s += fmax(z[i], 0) - z[i] * c->t[i] + log1p(exp(-fabs(z[i])));
    return s * c->scale;
}
typedef struct kd_ctx { const float *teacher; double T; const int32_t *y; double wl, wd; } kd_ctx;
static double kl_ref(const double *z, const void *vctx) {
    const kd_ctx *c = vctx;
    double total = 0, ls[C], lt[C], t[C];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < C; j++) t[j] = c->teacher[i * C + j];
        log_softmax_d(z + i * C, 1 / c->T, ls);
        log_softmax_d(t, 1 / c->T, lt);
        for (int j = 0; j < C; j++) total += exp(lt[j]) * (lt[j] - ls[j]);
    }
    double kl = total / N * c->T * c->T;
    ce_ctx ce = { c->y, NULL, NULL, 0, -1 };
    return c->wd * kl + (c->wl ? c->wl * ce_ref(z, &ce) : 0);
}
static double hard_ref(const double *z, const void *vctx) {
    const kd_ctx *c = vctx;
    int32_t ty[N];
    for (int i = 0; i < N; i++) {
        int best = 0;
        for (int j = 1; j < C; j++) if (c->teacher[i * C + j] > c->teacher[i * C + best]) best = j;
        ty[i] = best;
    }
    ce_ctx a = { c->y, NULL, NULL, 0, -1 }, b = { ty, NULL, NULL, 0, -1 };
    return c->wl * ce_ref(z, &a) + c->wd * ce_ref(z, &b);
}

/* value and gradient against the reference and its central differences */
static void check(efix *f, const float *x, const void *targets, ref_fn ref, const void *ctx) {
    float grad[N * C];
    double loss = efix_run(f, x, targets, grad);
    double z[N * C];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C; j++) z[i * C + j] = x[i * f->channels + j];
    double want = ref(z, ctx);
    cr_expect(fabs(loss - want) <= 1e-5 * fmax(1, fabs(want)), "loss %.9g, want %.9g", loss, want);
    for (int k = 0; k < N * C; k++) {
        const double h = 1e-5;
        double zp[N * C], zm[N * C];
        memcpy(zp, z, sizeof z);
        memcpy(zm, z, sizeof z);
        zp[k] += h;
        zm[k] -= h;
        double fd = (ref(zp, ctx) - ref(zm, ctx)) / (2 * h);
        cr_expect(fabs(grad[k] - fd) <= 1e-4 * fmax(0.1, fabs(fd)) + 1e-6, "dloss/dlogit[%d] = %.9g, finite difference %.9g",
                  k, (double)grad[k], fd);
    }
}

static void inputs(float *x, int channels, double a, double b) {
    for (int i = 0; i < N * channels; i++) x[i] = (float)(a * sin(0.9 * i + b) + 0.2 * cos(2.1 * i));
}

Test(loss_engine, cross_entropy_smoothing_weights_ignore) {
    const char *kv[] = { "label_smoothing=0.1", "class_weights=1, 2, 0.5, 1, 3", "ignore_index=255", NULL };
    efix f;
    efix_open(&f, "cross_entropy", kv, 0, 0);
    float x[N * C];
    inputs(x, C, 2.0, 0.3);
    const int32_t y[N] = { 4, 255, 0, 2 };
    const double w[C] = { 1, 2, 0.5, 1, 3 };
    ce_ctx c = { y, NULL, w, 0.1, 255 };
    check(&f, x, y, ce_ref, &c);
    efix_close(&f);
}

Test(loss_engine, cross_entropy_soft_targets) {
    efix f;
    efix_open(&f, "cross_entropy", NULL, 0, 1);
    float x[N * C], t[N * C] = { 0 };
    inputs(x, C, 1.5, 1.0);
    double td[N * C] = { 0 };
    for (int i = 0; i < N; i++) {
        t[i * C + i] = 0.6f;
        t[i * C + (i + 2) % C] = 0.4f;
    }
    for (int k = 0; k < N * C; k++) td[k] = t[k];
    ce_ctx c = { NULL, td, NULL, 0, -1 };
    check(&f, x, t, ce_ref, &c);
    efix_close(&f);
}

Test(loss_engine, binary_cross_entropy_from_labels) {
    efix f;
    efix_open(&f, "binary_cross_entropy", NULL, 0, 0);
    float x[N * C];
    inputs(x, C, 2.5, 0.7);
    const int32_t y[N] = { 1, 4, 0, 1 };
    double t[N * C] = { 0 };
    for (int i = 0; i < N; i++) t[i * C + y[i]] = 1;
    bce_ctx c = { t, 1.0 };
    check(&f, x, y, bce_ref, &c);
    efix_close(&f);
}

Test(loss_engine, soft_kl_with_label_mix) {
    const char *kv[] = { "temperature=2", "label_loss_weight=0.5", "distillation_loss_weight=0.5", NULL };
    efix f;
    efix_open(&f, "soft_kl", kv, 1, 0);
    float x[N * 2 * C], teacher[N * C];
    inputs(x, 2 * C, 2.0, 0.1);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C; j++) teacher[i * C + j] = x[i * 2 * C + C + j];
    const int32_t y[N] = { 0, 1, 2, 3 };
    kd_ctx c = { teacher, 2.0, y, 0.5, 0.5 };
    check(&f, x, y, kl_ref, &c);
    efix_close(&f);
}

Test(loss_engine, hard_distillation) {
    efix f;
    efix_open(&f, "hard_distillation", NULL, 1, 0);
    float x[N * 2 * C], teacher[N * C];
    inputs(x, 2 * C, 3.0, 0.5);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C; j++) teacher[i * C + j] = x[i * 2 * C + C + j];
    const int32_t y[N] = { 4, 3, 2, 1 };
    kd_ctx c = { teacher, 1.0, y, 0.5, 0.5 };
    check(&f, x, y, hard_ref, &c);
    efix_close(&f);
}

Test(loss_engine, missing_teacher_fails_the_plan_with_a_message) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *bd = th_load(ctx, "backend", "ref"), *ld = th_load(ctx, "loss", "hard_distillation");
    cv_create_args extra = { sizeof extra };
    extra.threads = 1;
    extra.num_classes = C;
    void *be = th_create(ctx, bd, NULL, &extra), *loss = th_create(ctx, ld, NULL, &extra);
    cv_error err = { sizeof err, 0, "" };
    cv_engine *e = cv_engine_create(&ctx->host, (cv_backend_ref){ bd->vtable, be }, 1, &err);
    int channels = C;
    cv_net *net = cv_net_create(e, (cv_component_ref){ &TM_DESC, &channels }, (cv_component_ref){ ld, loss }, C, &err);
    cr_assert_not_null(net, "%s", err.message);
    cv_shape in = CV_SHAPE(N, C, 1, 1);
    cr_expect_null(cv_net_plan_get(net, &in, CV_MODE_TRAIN, 0, &err));
    cr_expect(strstr(err.message, "teacher_recipe") != NULL, "message: %s", err.message);
    cv_net_destroy(net);
    cv_engine_destroy(e);
    th_destroy(ld, loss);
    th_destroy(bd, be);
    th_ctx_free(ctx);
}
