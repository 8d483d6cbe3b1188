/* core/data/set.h — Sample Efficient Training (SET, paper section 3.2): one
 * counter per training sample.  Every k epochs the trainer scores the training
 * set; a sample predicted correctly with probability >= confidence is easy (+1),
 * otherwise hard (-1); counters are clipped to [0, window].  A sample whose
 * counter equals window is left out of training (active[i] = 0) until a scoring
 * pass finds it hard again.  Everything is O(N).
 *
 * Ranks: each rank scores its own shard, so decisions are gathered before they
 * are applied.  A pass is:
 *   cv_set_begin_pass(set);                     decisions all 0 (not scored)
 *   cv_set_record(set, index, correct, prob);   for every sample this rank scored
 *   comm->allreduce_sum_f32(cv_set_decisions(set), cv_set_size(set))   (world > 1)
 *   cv_set_end_pass(set);                       counters and mask updated
 * Only the sign of a gathered decision matters (padding can score a sample
 * twice), so every rank applies the same update and keeps the same mask. */
#ifndef CV_CORE_DATA_SET_H
#define CV_CORE_DATA_SET_H

#include <cvnets/cvnets.h>

typedef struct cv_set cv_set;

/* n samples, window w >= 1 (counter range [0, w]), confidence tau in [0, 1]. */
int cv_set_create(int64_t n, int window, double confidence, cv_set **out, cv_error *err);
void cv_set_destroy(cv_set *s);

void cv_set_begin_pass(cv_set *s);
/* one scored sample; prob is the predicted probability of the predicted class */
int cv_set_record(cv_set *s, int64_t index, int correct, double prob, cv_error *err);
float *cv_set_decisions(cv_set *s); /* n floats: +1 easy, -1 hard, 0 unscored */
int64_t cv_set_size(const cv_set *s);
/* applies the decisions; returns the number of samples left out afterwards */
int64_t cv_set_end_pass(cv_set *s);

const uint8_t *cv_set_active(const cv_set *s); /* n bytes, 0 = left out; for the sampler */
int64_t cv_set_left_out(const cv_set *s);
int cv_set_counter(const cv_set *s, int64_t index);

/* Counters as one blob for checkpoints: a 16-byte header (magic, n, window)
 * then n little-endian uint16.  load checks n and window against s. */
size_t cv_set_state_bytes(const cv_set *s);
void cv_set_save(const cv_set *s, void *buf);
int cv_set_load(cv_set *s, const void *buf, size_t bytes, cv_error *err);

#endif
