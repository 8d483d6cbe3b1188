/* core/train/reserve.c — before step 1, plan every input shape the sampler can
 * produce (epoch 0's scale set, drawn or not) so that the activation arena is
 * allocated once at the worst case: a multi-scale run cannot run out of memory
 * mid-epoch, and the first step at each scale pays no planning.  Batch-level
 * transforms (MixUp, CutMix) make soft targets: then both variants are planned. */
#include "train/reserve.h"

#include "data/plan.h"

static int has_batch_transform(const cv_component_list *tf) {
    for (int i = 0; i < tf->n; i++)
        if (((const cv_transform_vtable *)tf->items[i].desc->vtable)->batch_level) return 1;
    return 0;
}

int cv_train_reserve(cv_session *s, size_t *worst, cv_error *err) {
    const cv_dataset_vtable *dv = s->dataset_train.desc->vtable;
    cv_data_plan dp = { 0 };
    if (cv_data_plan_epoch(s->sampler, 0, dv->length(s->dataset_train.self), NULL, &dp, err)) return err->status;
    const int soft_variants = has_batch_transform(&s->tf_train) ? 2 : 1;
    size_t peak = 0;
    int rc = CV_OK;
    for (int i = 0; !rc && i < dp.n; i++)
        for (int soft = 0; !rc && soft < soft_variants; soft++) {
            if (dp.shapes[i].frames > 0) break; /* video clips: planned at their first batch */
            cv_shape in = CV_SHAPE(dp.shapes[i].batch, s->in_channels, dp.shapes[i].h, dp.shapes[i].w);
            cv_plan *p = cv_net_plan_get(s->net, &in, CV_MODE_TRAIN, soft, err);
            if (!p) {
                rc = err->status;
                break;
            }
            cv_plan_info info;
            cv_plan_info_get(p, &info);
            if (info.peak_bytes > peak) peak = info.peak_bytes;
        }
    cv_data_plan_free(&dp);
    if (worst) *worst = peak;
    return rc;
}
