/* core/train/checkpoint.h — checkpoints as safetensors files.
 *   <name>.safetensors        weights: every parameter and buffer by its name
 *                             (torchvision-style names), readable by other tools
 *   <name>.state.safetensors  training state: optimizer moments, EMA weights,
 *                             component state blobs (sampler, scheduler, SET …),
 *                             counters (epoch, step, iteration, best metrics)
 * Both are written atomically, so an interrupted write never replaces a good file. */
#ifndef CV_TRAIN_CHECKPOINT_H
#define CV_TRAIN_CHECKPOINT_H

#include "engine.h"
#include "state.h"
#include "train/ema.h"

typedef struct cv_train_state {
    int64_t epoch;          /* epoch in progress (or the next one when step_in_epoch == 0) */
    int64_t step_in_epoch;  /* batches of that epoch already trained */
    int64_t iteration;      /* optimizer steps so far */
    double best_top1, best_top1_ema;
    double last_loss;
    double loss_scale;      /* dynamic loss scaling: the scale, and steps since it last changed */
    int64_t scale_good_steps;
} cv_train_state;

/* Weights of net (or of ema's averages when ema != NULL).  model names the model
 * plugin in the metadata so a checkpoint of another model is recognised. */
int cv_ckpt_write_weights(cv_net *net, const cv_ema *ema, const char *model, const char *path, cv_error *err);
/* Load weights by name.  Missing, unexpected and mis-shaped tensors are listed in
 * the error (strict) or logged and skipped (!strict, for pretrained backbones:
 * *loaded receives the count).  Nothing is written to the net unless all checks pass. */
int cv_ckpt_load_weights(cv_net *net, const char *path, int strict, int *loaded, cv_error *err);
/* Same for the parameters named "<prefix><name>" (e.g. a distillation teacher's
 * "teacher."), read from tensors named "<name>". */
int cv_ckpt_load_weights_prefixed(cv_net *net, const char *path, const char *prefix, int strict, int *loaded,
                                  cv_error *err);

int cv_ckpt_write_state(cv_net *net, const cv_ema *ema, const cv_train_state *ts,
                        const cv_state_writer *blobs, const char *path, cv_error *err);
/* Restores optimizer state (net must have its state allocated), EMA (when ema
 * is initialised), counters, and fills blobs with the component blobs. */
int cv_ckpt_load_state(cv_net *net, cv_ema *ema, cv_train_state *ts, cv_state_reader *blobs,
                       const char *path, cv_error *err);

#endif
