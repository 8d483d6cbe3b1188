/* core/train/ema.h — exponential moving average of a net's parameters and
 * buffers, as CVNets does it: ema = (1 - momentum) * ema + momentum * current,
 * kept on the host and swapped into the net for validation. */
#ifndef CV_TRAIN_EMA_H
#define CV_TRAIN_EMA_H

#include "engine.h"

typedef struct cv_ema {
    double momentum;
    int64_t n_params, n_buffers;
    float *params, *buffers;   /* the averages */
    float *scratch_p, *scratch_b;
} cv_ema;

int cv_ema_init(cv_ema *ema, cv_net *net, double momentum, cv_error *err);   /* starts at the current weights */
int cv_ema_update(cv_ema *ema, cv_net *net, cv_error *err);
/* swap the averages and the net's weights (call twice to undo) */
int cv_ema_swap(cv_ema *ema, cv_net *net, cv_error *err);
void cv_ema_free(cv_ema *ema);
/* the update rule on plain arrays (also used by the tests) */
void cv_ema_blend(float *avg, const float *cur, int64_t n, double momentum);

#endif
