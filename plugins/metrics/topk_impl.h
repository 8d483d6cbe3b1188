/* plugins/metrics/topk_impl.h — top-k accuracy in percent (as CVNets reports it),
 * shared by top1.c and top5.c, which only set TOPK_K and TOPK_NAME.  Samples with
 * a negative label (an ignore index) are not counted. */
#include "metric_common.h"

typedef struct topk {
    const cv_host *host;
    int64_t correct, total;
} topk;

static int topk_create(const cv_create_args *a, void **self, cv_error *err) {
    topk *t = a->host->alloc_array(1, sizeof *t);
    if (!t) return a->host->set_error(err, CV_ERR_NOMEM, "metric/%s: out of memory", TOPK_NAME);
    t->host = a->host;
    *self = t;
    return CV_OK;
}

static void topk_destroy(void *self) {
    topk *t = self;
    if (t) t->host->free(t);
}

static void topk_reset(void *self) {
    topk *t = self;
    t->correct = t->total = 0;
}

static int topk_update(void *self, const cv_metric_batch *b, cv_error *err) {
    topk *t = self;
    int rc = metric_check_batch(t->host, TOPK_NAME, b, err);
    if (rc != CV_OK) return rc;
    for (int i = 0; i < b->n; i++) {
        if (b->labels[i] < 0) continue;
        t->total++;
        t->correct += metric_rank(b->logits + (size_t)i * (size_t)b->num_classes, b->num_classes, b->labels[i]) < TOPK_K;
    }
    return CV_OK;
}

static double topk_value(void *self, const char **json) {
    topk *t = self;
    if (json) *json = NULL;
    return t->total ? 100.0 * (double)t->correct / (double)t->total : 0.0;
}

static const cv_option_desc topk_options[] = { CV_OPT_END };

static const cv_metric_vtable topk_vtable = {
    sizeof(cv_metric_vtable), topk_reset, topk_update, topk_value, 1, 0,
};

static const cv_component_desc topk_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_METRIC, TOPK_NAME, "classification",
    TOPK_SUMMARY, topk_options, topk_create, topk_destroy, NULL, NULL, &topk_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &topk_desc, err); }
