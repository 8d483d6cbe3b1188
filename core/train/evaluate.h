/* core/train/evaluate.h — validation and scoring passes over a dataset with the
 * net in eval mode: top-1/top-5/loss plus the recipe's metric plugins, and the
 * per-sample scores SET needs. */
#ifndef CV_TRAIN_EVALUATE_H
#define CV_TRAIN_EVALUATE_H

#include "data/loader.h"
#include "data/set.h"
#include "train/session.h"

#define CV_EVAL_MAX_METRICS 16

typedef struct cv_eval_result {
    double top1, top5, loss;   /* percent, percent, mean cross-entropy */
    int64_t samples;
    double seconds;
    int n_metrics;
    const char *metric_names[CV_EVAL_MAX_METRICS];
    double metric_values[CV_EVAL_MAX_METRICS];
    const char *metric_json[CV_EVAL_MAX_METRICS]; /* owned by the plugins, valid until their next call */
} cv_eval_result;

/* A loader over split's dataset at the eval size, in order, with the val
 * transforms.  dataset: the session's dataset_val or dataset_train. */
int cv_eval_loader_open(cv_session *s, cv_component_ref dataset, cv_component_ref *seq_sampler, cv_loader **out,
                        cv_error *err);

/* Validation over one pass of loader.  set (may be NULL): record every sample's
 * correctness and confidence for SET instead of (as well as) the metrics. */
int cv_evaluate(cv_session *s, cv_loader *loader, cv_component_list *metrics, cv_set *set, cv_eval_result *out,
                cv_error *err);

/* top-k hits of one row of logits for label */
int cv_topk_hit(const float *logits, int classes, int label, int k);

#endif
