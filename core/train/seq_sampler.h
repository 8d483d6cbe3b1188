/* core/train/seq_sampler.h — a host-internal sampler that walks a dataset in order
 * at one fixed resolution: validation, SET scoring, `eval`.  It is a component
 * like the plugins' samplers so the same loader serves training and evaluation. */
#ifndef CV_TRAIN_SEQ_SAMPLER_H
#define CV_TRAIN_SEQ_SAMPLER_H

#include "engine.h"

/* length samples (or only those with active[i] != 0 when given at begin_epoch),
 * batches of batch at h x w; the last batch may be smaller. */
int cv_seq_sampler_create(int64_t length, int h, int w, int batch, cv_component_ref *out, cv_error *err);
void cv_seq_sampler_destroy(cv_component_ref *ref);

#endif
