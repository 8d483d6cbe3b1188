/* plugins/metrics/confusion_matrix.c — counts[true][predicted] over the samples
 * since the last reset (prediction: the first class with the largest logit).
 * value() is the mean per-class accuracy in percent over the classes that had
 * samples (balanced accuracy); *json gets the rows, e.g. [[5,1],[0,7]].  A sample
 * whose logits are all NaN counts against its class without a column. */
#include <stdio.h>
#include <string.h>
#include "metric_common.h"

typedef struct confusion {
    const cv_host *host;
    int32_t classes;     /* 0 until known */
    int64_t *counts;     /* classes x classes */
    int64_t *row_total;  /* samples per true class */
    char *json;
} confusion;

static int cm_alloc(confusion *m, int32_t classes, cv_error *err) {
    m->counts = m->host->alloc_array((size_t)classes * (size_t)classes, sizeof *m->counts);
    m->row_total = m->host->alloc_array((size_t)classes, sizeof *m->row_total);
    if (!m->counts || !m->row_total)
        return m->host->set_error(err, CV_ERR_NOMEM, "metric/confusion_matrix: out of memory for %d x %d counts",
                                  classes, classes);
    m->classes = classes;
    return CV_OK;
}

static void cm_destroy(void *self) {
    confusion *m = self;
    if (!m) return;
    m->host->free(m->counts);
    m->host->free(m->row_total);
    m->host->free(m->json);
    m->host->free(m);
}

static int cm_create(const cv_create_args *a, void **self, cv_error *err) {
    confusion *m = a->host->alloc_array(1, sizeof *m);
    if (!m) return a->host->set_error(err, CV_ERR_NOMEM, "metric/confusion_matrix: out of memory");
    m->host = a->host;
    if (a->num_classes > 0) {
        int rc = cm_alloc(m, a->num_classes, err);
        if (rc != CV_OK) { cm_destroy(m); return rc; }
    }
    *self = m;
    return CV_OK;
}

static void cm_reset(void *self) {
    confusion *m = self;
    if (m->classes == 0) return;
    memset(m->counts, 0, (size_t)m->classes * (size_t)m->classes * sizeof *m->counts);
    memset(m->row_total, 0, (size_t)m->classes * sizeof *m->row_total);
}

static int cm_update(void *self, const cv_metric_batch *b, cv_error *err) {
    confusion *m = self;
    int rc = metric_check_batch(m->host, "confusion_matrix", b, err);
    if (rc != CV_OK) return rc;
    if (m->classes == 0 && (rc = cm_alloc(m, b->num_classes, err)) != CV_OK) return rc;
    if (b->num_classes != m->classes)
        return m->host->set_error(err, CV_ERR_INVALID, "metric/confusion_matrix: batch has %d classes, the matrix %d",
                                  b->num_classes, m->classes);
    for (int i = 0; i < b->n; i++) {
        int y = b->labels[i];
        if (y < 0) continue; /* ignore index */
        const float *row = b->logits + (size_t)i * (size_t)b->num_classes;
        int best = -1;
        for (int j = 0; j < b->num_classes; j++)
            if (!isnan(row[j]) && (best < 0 || row[j] > row[best])) best = j;
        m->row_total[y]++;
        if (best >= 0) m->counts[(size_t)y * (size_t)m->classes + (size_t)best]++;
    }
    return CV_OK;
}

static void cm_render(confusion *m) {
    m->host->free(m->json);
    m->json = NULL;
    size_t cap = 3, n = (size_t)m->classes;
    for (size_t i = 0; i < n * n; i++) cap += (size_t)snprintf(NULL, 0, "%lld", (long long)m->counts[i]) + 1;
    cap += n * 3;
    char *s = m->host->alloc(cap);
    if (!s) return;
    size_t at = 0;
    s[at++] = '[';
    for (size_t i = 0; i < n; i++) {
        s[at++] = '[';
        for (size_t j = 0; j < n; j++)
            at += (size_t)snprintf(s + at, cap - at, j + 1 < n ? "%lld," : "%lld", (long long)m->counts[i * n + j]);
        s[at++] = ']';
        if (i + 1 < n) s[at++] = ',';
    }
    s[at++] = ']';
    s[at] = '\0';
    m->json = s;
}

static double cm_value(void *self, const char **json) {
    confusion *m = self;
    double sum = 0;
    int seen = 0;
    for (int c = 0; c < m->classes; c++) {
        if (!m->row_total[c]) continue;
        sum += (double)m->counts[(size_t)c * (size_t)m->classes + (size_t)c] / (double)m->row_total[c];
        seen++;
    }
    if (json) {
        cm_render(m);
        *json = m->json ? m->json : "[]";
    }
    return seen ? 100.0 * sum / seen : 0.0;
}

static const cv_option_desc cm_options[] = { CV_OPT_END };

static const cv_metric_vtable cm_vtable = { sizeof(cv_metric_vtable), cm_reset, cm_update, cm_value, 1, 0 };

static const cv_component_desc cm_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_METRIC, "confusion_matrix", "classification",
    "confusion matrix (JSON rows: true class, columns: predicted); value: mean per-class accuracy in percent",
    cm_options, cm_create, cm_destroy, NULL, NULL, &cm_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &cm_desc, err); }
