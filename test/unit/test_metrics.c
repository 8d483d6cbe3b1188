/* test/unit/test_metrics.c — the metric plugins on small hand-made batches:
 * top-1/top-5 with ties and ignore labels, the sample-weighted loss, the mean
 * gradient norm, and the confusion matrix rows and balanced accuracy. */
#include <math.h>
#include <string.h>
#include <criterion/criterion.h>
#include "support/testhost.h"

typedef struct mfix {
    cv_ctx *ctx;
    const cv_component_desc *d;
    const cv_metric_vtable *vt;
    void *self;
} mfix;

static mfix open_metric(const char *name, int num_classes) {
    mfix f;
    f.ctx = th_ctx_new();
    f.d = th_load(f.ctx, "metric", name);
    f.vt = f.d->vtable;
    cv_create_args extra = { sizeof extra };
    extra.num_classes = num_classes;
    f.self = th_create(f.ctx, f.d, NULL, &extra);
    return f;
}
static void close_metric(mfix *f) {
    th_destroy(f->d, f->self);
    th_ctx_free(f->ctx);
}
static void feed(mfix *f, int n, int c, const float *logits, const int32_t *labels, double loss, double gn) {
    cv_metric_batch b = { sizeof b, n, c, logits, labels, loss, gn };
    cv_error err = { sizeof err, 0, "" };
    cr_assert_eq(f->vt->update(f->self, &b, &err), CV_OK, "%s", err.message);
}

/* 3 samples x 6 classes */
static const float L6[3][6] = {
    { 0.1f, 0.9f, 0.3f, 0.2f, 0.0f, -1.f },  /* label 1: rank 0 */
    { 5.0f, 4.0f, 3.0f, 2.0f, 1.0f, 0.5f },  /* label 5: rank 5 (outside top-5) */
    { 1.0f, 1.0f, 1.0f, 0.0f, 0.0f, 0.0f },  /* label 2: ties with 0 and 1 -> rank 2 */
};
static const int32_t Y6[3] = { 1, 5, 2 };

Test(metric_topk, top1_and_top5_with_ties) {
    mfix t1 = open_metric("top1", 6), t5 = open_metric("top5", 6);
    feed(&t1, 3, 6, &L6[0][0], Y6, 0, 0);
    feed(&t5, 3, 6, &L6[0][0], Y6, 0, 0);
    cr_expect_float_eq(t1.vt->value(t1.self, NULL), 100.0 / 3, 1e-9);
    cr_expect_float_eq(t5.vt->value(t5.self, NULL), 200.0 / 3, 1e-9);
    cr_expect_eq(t1.vt->higher_is_better, 1);
    /* a second batch accumulates; an ignored label (-1) is not counted */
    const float l2[2][6] = { { 0, 0, 0, 0, 0, 9 }, { 0, 0, 0, 0, 0, 9 } };
    const int32_t y2[2] = { 5, -1 };
    feed(&t1, 2, 6, &l2[0][0], y2, 0, 0);
    cr_expect_float_eq(t1.vt->value(t1.self, NULL), 50.0, 1e-9);
    t1.vt->reset(t1.self);
    cr_expect_float_eq(t1.vt->value(t1.self, NULL), 0.0, 1e-12);
    close_metric(&t1);
    close_metric(&t5);
}

Test(metric_topk, nan_true_logit_is_wrong_and_bad_label_is_an_error) {
    mfix t1 = open_metric("top1", 3);
    const float l[2][3] = { { NAN, 0, 0 }, { 0, 1, 0 } };
    const int32_t y[2] = { 0, 1 };
    feed(&t1, 2, 3, &l[0][0], y, 0, 0);
    cr_expect_float_eq(t1.vt->value(t1.self, NULL), 50.0, 1e-9);
    const int32_t bad[1] = { 3 };
    cv_metric_batch b = { sizeof b, 1, 3, &l[1][0], bad, 0, 0 };
    cv_error err = { sizeof err, 0, "" };
    cr_expect_eq(t1.vt->update(t1.self, &b, &err), CV_ERR_INVALID);
    cr_expect(strstr(err.message, "label 3") != NULL, "message: %s", err.message);
    close_metric(&t1);
}

Test(metric_loss, weighted_by_batch_size) {
    mfix m = open_metric("loss", 6);
    feed(&m, 3, 6, &L6[0][0], Y6, 2.0, 0);
    feed(&m, 1, 6, &L6[0][0], Y6, 6.0, 0);
    cr_expect_float_eq(m.vt->value(m.self, NULL), (3 * 2.0 + 1 * 6.0) / 4, 1e-12);
    cr_expect_eq(m.vt->higher_is_better, 0);
    close_metric(&m);
}

Test(metric_grad_norm, mean_over_updates) {
    mfix m = open_metric("grad_norm", 6);
    feed(&m, 3, 6, &L6[0][0], Y6, 0, 1.5);
    feed(&m, 1, 6, &L6[0][0], Y6, 0, 0.5);
    feed(&m, 2, 6, &L6[0][0], Y6, 0, 0.0); /* an evaluation batch: not an update */
    cr_expect_float_eq(m.vt->value(m.self, NULL), 1.0, 1e-12);
    close_metric(&m);
}

Test(metric_confusion_matrix, rows_and_balanced_accuracy) {
    mfix m = open_metric("confusion_matrix", 3);
    const float l[5][3] = { { 3, 1, 0 }, { 0, 2, 1 }, { 0, 2, 1 }, { 1, 0, 4 }, { 1, 1, 0 } };
    const int32_t y[5] = { 0, 1, 2, 2, 1 };
    feed(&m, 5, 3, &l[0][0], y, 0, 0);
    const char *json = NULL;
    double v = m.vt->value(m.self, &json);
    cr_assert_not_null(json);
    /* class 0: 1/1, class 1: 1/2 (tie 1,1 -> class 0), class 2: 1/2 */
    cr_expect_str_eq(json, "[[1,0,0],[1,1,0],[0,1,1]]");
    cr_expect_float_eq(v, 100.0 * (1.0 + 0.5 + 0.5) / 3, 1e-9);
    m.vt->reset(m.self);
    v = m.vt->value(m.self, &json);
    cr_expect_str_eq(json, "[[0,0,0],[0,0,0],[0,0,0]]");
    cr_expect_float_eq(v, 0.0, 1e-12);
    close_metric(&m);
}

Test(metric_confusion_matrix, classes_learned_from_first_batch) {
    mfix m = open_metric("confusion_matrix", 0);
    const float l[1][2] = { { 0, 1 } };
    const int32_t y[1] = { 1 };
    feed(&m, 1, 2, &l[0][0], y, 0, 0);
    const char *json = NULL;
    cr_expect_float_eq(m.vt->value(m.self, &json), 100.0, 1e-9);
    cr_expect_str_eq(json, "[[0,0],[0,1]]");
    const float l3[1][3] = { { 0, 1, 2 } };
    cv_metric_batch b = { sizeof b, 1, 3, &l3[0][0], y, 0, 0 };
    cv_error err = { sizeof err, 0, "" };
    cr_expect_eq(m.vt->update(m.self, &b, &err), CV_ERR_INVALID);
    close_metric(&m);
}
