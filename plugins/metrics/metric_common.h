/* plugins/metrics/metric_common.h — what the metric plugins share: checking a
 * batch and the rank of the true class among the logits.  Header-only because
 * each metric is its own .so and plugins link nothing from each other. */
#ifndef CV_PLUGINS_METRIC_COMMON_H
#define CV_PLUGINS_METRIC_COMMON_H

#include <math.h>
#include <cvnets/cvnets.h>

/* A batch whose logits and labels the metric will read: CV_OK, or an error naming
 * the metric and what is wrong. */
static inline int metric_check_batch(const cv_host *h, const char *who, const cv_metric_batch *b, cv_error *err) {
    if (!b || b->n < 0 || (b->n > 0 && (!b->logits || !b->labels)) || b->num_classes <= 0)
        return h->set_error(err, CV_ERR_INVALID, "metric/%s: batch of %d samples with %d classes lacks logits or labels",
                            who, b ? b->n : -1, b ? b->num_classes : -1);
    for (int i = 0; i < b->n; i++)
        if (b->labels[i] >= b->num_classes)
            return h->set_error(err, CV_ERR_INVALID, "metric/%s: sample %d has label %d but the model has %d classes",
                                who, i, b->labels[i], b->num_classes);
    return CV_OK;
}

/* Number of classes ranked before the true class y: strictly larger logits, and
 * equal ones with a lower index (a stable descending sort), so ties never count
 * twice.  A NaN true logit ranks last. */
static inline int metric_rank(const float *row, int num_classes, int y) {
    float v = row[y];
    if (isnan(v)) return num_classes;
    int r = 0;
    for (int j = 0; j < num_classes; j++)
        if (row[j] > v || (row[j] == v && j < y)) r++;
    return r;
}

#endif
