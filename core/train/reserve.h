/* core/train/reserve.h — plan every training shape before step 1 (reserve.c). */
#ifndef CV_TRAIN_RESERVE_H
#define CV_TRAIN_RESERVE_H

#include "train/session.h"

/* Plans a training step at every shape of the sampler's scale set (the sampler
 * runs epoch 0's begin_epoch: call before the loader starts); the engine's arena
 * then has the worst case, returned in *worst (bytes; may be NULL). */
int cv_train_reserve(cv_session *s, size_t *worst, cv_error *err);

#endif
