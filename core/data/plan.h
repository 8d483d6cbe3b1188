/* core/data/plan.h — the data part of `cvnets plan`: for a sampler instance and
 * an epoch, every input shape it will use, its batch size and how many steps
 * of the epoch use it.  The lead's plan command adds peak memory per shape. */
#ifndef CV_CORE_DATA_PLAN_H
#define CV_CORE_DATA_PLAN_H

#include <cvnets/cvnets.h>
#include "engine.h" /* cv_component_ref */

typedef struct cv_data_plan_shape {
    int32_t h, w, batch, frames; /* frames: video samplers, else 0 */
    int64_t steps;               /* steps of the epoch at this shape (0: in the scale set, not drawn) */
} cv_data_plan_shape;

typedef struct cv_data_plan {
    cv_data_plan_shape *shapes; /* sorted by (h, w, batch, frames); cv_free with cv_data_plan_free */
    int n;
    int64_t steps_per_epoch;
    int64_t samples_per_epoch;   /* sum of batch sizes over the steps (this rank) */
} cv_data_plan;

/* Runs the sampler's begin_epoch (this changes the instance's current epoch:
 * use an instance of its own) and walks every step.  active as for the sampler
 * (NULL = all of dataset_length). */
int cv_data_plan_epoch(cv_component_ref sampler, int64_t epoch, int64_t dataset_length, const uint8_t *active,
                       cv_data_plan *out, cv_error *err);
void cv_data_plan_free(cv_data_plan *p);

#endif
