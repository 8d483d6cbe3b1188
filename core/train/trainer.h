/* core/train/trainer.h — the training loop: epochs over the sampler's batches,
 * forward/backward, gradient accumulation and clipping, optimizer and scheduler
 * steps, EMA, SET, validation of plain and EMA weights, checkpoints, resume,
 * Ctrl-C handling and the run log. */
#ifndef CV_TRAIN_TRAINER_H
#define CV_TRAIN_TRAINER_H

#include "train/session.h"

typedef struct cv_train_options {
    int resume;              /* continue from out_dir/last.* */
    int quiet;               /* no progress lines (tests) */
    int64_t stop_after_epochs; /* > 0: return after this many epochs of this invocation
                                  (as if interrupted at an epoch boundary; tests) */
} cv_train_options;

typedef struct cv_train_summary {
    int64_t epochs_done, iterations, skipped_steps, samples_seen;
    int64_t overflow_steps;  /* dynamic loss scaling: steps skipped because gradients overflowed */
    double loss_scale;       /* the last loss scale (1 without loss scaling) */
    double best_top1, best_top1_ema, last_top1, last_top5, last_loss;
    double seconds;
    int interrupted;
} cv_train_summary;

/* Runs the session (opened with train, val, optim and loss needs). */
int cv_train_run(cv_session *s, const cv_train_options *o, cv_train_summary *out, cv_error *err);

/* Signal handling for SIGINT/SIGTERM: the loop finishes the current step, saves
 * a resumable checkpoint and returns CV_ERR_INTERRUPTED. */
void cv_train_install_signal_handlers(void);

#endif
