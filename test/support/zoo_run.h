/* test/support/zoo_run.h — the model zoo's families on tiny inputs, on any backend:
 * a rig for a model plugin, random batches, one training step, the gradient-flow
 * check, and one training step plus one evaluation of a family in 16 bits against
 * the same family in f32 (test_models_engine.c on the CPU with precision = bf16,
 * test_cuda_nhwc.c on CUDA with bf16 / fp16). */
#ifndef CV_TEST_ZOO_RUN_H
#define CV_TEST_ZOO_RUN_H

#include <stdint.h>

#include "net_rig.h"

/* a family: the model plugin, its options, the input size and channels */
typedef struct zoo_tiny { const char *model, *kv[5]; int size, channels; } zoo_tiny;
/* every family of the zoo once (ResNet with squeeze-excitation and stochastic depth, with
 * output stride 16, with the CIFAR stem; MobileNetV1/V2/V3; ViT with a resized learned
 * table and with sinusoidal positions; MobileViT v1 and v2), at widths that keep them small */
extern const zoo_tiny zoo_tiny_models[];
extern const int zoo_n_tiny;

/* the net of model plugin name with options kv on backend be (ctx: its th_ctx_new()
 * context, owned by the rig from here), seed 42, cross entropy over `classes` */
void zoo_rig(net_rig *r, cv_ctx *ctx, ku_backend be, const char *name, const char *const *kv, int classes, int channels);

/* random images in [-1, 1) and labels i % classes */
typedef struct zoo_batch { cv_shape in; float *img; int32_t *lab; } zoo_batch;
zoo_batch zoo_batch_make(cv_shape in, int classes, uint64_t seed);
void zoo_batch_free(zoo_batch *b);
/* one training step of b; its loss (finite, or the test fails) */
double zoo_train_loss(net_rig *r, const zoo_batch *b);
/* every trainable parameter received a finite non-zero gradient (norm biases
 * excepted); returns the gradients (malloc'd) */
float *zoo_expect_gradient_flow(net_rig *r, const char *what);
/* random batch-norm running statistics (mean in [-0.5, 0.5), variance in [0.5, 2));
 * returns how many tensors were set */
int zoo_random_running_stats(net_rig *r, uint64_t seed);

/* Family t on rig h, whose backend stores activations in dt (CV_BF16 / CV_F16), against
 * rig f (f32), both from the same initial parameters.  Training (batch 8): h's plan
 * stores values in dt (but for ViT, whose values are not 4-D), every parameter gets a
 * finite non-zero gradient, the loss is within 5e-2 of f's (relative to 1 + |loss|).
 * Eval (batch 2, the same random running statistics on both): the logits within 3e-2
 * of f's largest.  Gradients are not compared: at initialisation these tiny networks
 * are so sensitive that a 4e-3 perturbation of the f32 input alone moves them by
 * 9-106 % (test_models_engine.c). */
void zoo_expect_16bit_close(net_rig *h, net_rig *f, const zoo_tiny *t, int dt, uint64_t seed);

#endif
