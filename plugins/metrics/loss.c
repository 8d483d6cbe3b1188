/* plugins/metrics/loss.c — the mean loss over an epoch: each batch's mean loss
 * weighted by its number of samples, so the variable batch sizes of multi-scale
 * sampling do not skew it. */
#include "metric_common.h"

typedef struct loss_metric {
    const cv_host *host;
    double sum;
    int64_t n;
} loss_metric;

static int lm_create(const cv_create_args *a, void **self, cv_error *err) {
    loss_metric *m = a->host->alloc_array(1, sizeof *m);
    if (!m) return a->host->set_error(err, CV_ERR_NOMEM, "metric/loss: out of memory");
    m->host = a->host;
    *self = m;
    return CV_OK;
}

static void lm_destroy(void *self) {
    loss_metric *m = self;
    if (m) m->host->free(m);
}

static void lm_reset(void *self) {
    loss_metric *m = self;
    m->sum = 0;
    m->n = 0;
}

static int lm_update(void *self, const cv_metric_batch *b, cv_error *err) {
    loss_metric *m = self;
    if (!b || b->n < 0) return m->host->set_error(err, CV_ERR_INVALID, "metric/loss: batch with a negative sample count");
    m->sum += b->loss * (double)b->n;
    m->n += b->n;
    return CV_OK;
}

static double lm_value(void *self, const char **json) {
    loss_metric *m = self;
    if (json) *json = NULL;
    return m->n ? m->sum / (double)m->n : 0.0;
}

static const cv_option_desc lm_options[] = { CV_OPT_END };

static const cv_metric_vtable lm_vtable = { sizeof(cv_metric_vtable), lm_reset, lm_update, lm_value, 0, 0 };

static const cv_component_desc lm_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_METRIC, "loss", "any",
    "mean loss, batches weighted by their sample count", lm_options, lm_create, lm_destroy, NULL, NULL, &lm_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &lm_desc, err); }
