/* plugins/metrics/grad_norm.c — the mean global gradient norm (before clipping,
 * as the trainer reports it) over the updates since the last reset.  Batches with
 * a zero norm (evaluation) are not counted. */
#include "metric_common.h"

typedef struct grad_norm {
    const cv_host *host;
    double sum;
    int64_t n;
} grad_norm;

static int gn_create(const cv_create_args *a, void **self, cv_error *err) {
    grad_norm *m = a->host->alloc_array(1, sizeof *m);
    if (!m) return a->host->set_error(err, CV_ERR_NOMEM, "metric/grad_norm: out of memory");
    m->host = a->host;
    *self = m;
    return CV_OK;
}

static void gn_destroy(void *self) {
    grad_norm *m = self;
    if (m) m->host->free(m);
}

static void gn_reset(void *self) {
    grad_norm *m = self;
    m->sum = 0;
    m->n = 0;
}

static int gn_update(void *self, const cv_metric_batch *b, cv_error *err) {
    grad_norm *m = self;
    if (!b) return m->host->set_error(err, CV_ERR_INVALID, "metric/grad_norm: no batch");
    if (b->grad_norm == 0.0) return CV_OK;
    m->sum += b->grad_norm;
    m->n++;
    return CV_OK;
}

static double gn_value(void *self, const char **json) {
    grad_norm *m = self;
    if (json) *json = NULL;
    return m->n ? m->sum / (double)m->n : 0.0;
}

static const cv_option_desc gn_options[] = { CV_OPT_END };

static const cv_metric_vtable gn_vtable = { sizeof(cv_metric_vtable), gn_reset, gn_update, gn_value, 0, 0 };

static const cv_component_desc gn_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_METRIC, "grad_norm", "any",
    "mean global gradient norm over the training updates", gn_options, gn_create, gn_destroy, NULL, NULL, &gn_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &gn_desc, err); }
