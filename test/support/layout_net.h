/* test/support/layout_net.h — the network-level tests of blocked activation
 * layouts between kernels (ABI 1.1 / 1.3), shared by test_layout.c (the CPU
 * backend, C16) and test_cuda_nhwc.c (the CUDA backend, NHWC): a small
 * ResNet-style test model (variants that keep some values plain, or a random
 * layer sequence), an engine and net of it on a named backend, the check that a
 * plan's layouts agree with the backend's layout classes, and the comparisons of
 * a backend with layouts against the reference backend (all plain) and against
 * itself with CVNETS_LAYOUT=plain; and the checks of 16-bit storage (ABI 1.4)
 * shared by test_cpu_bf16_storage.c and test_cuda_nhwc.c.  Inputs are fresh random
 * values.  Like
 * net_rig.h, nothing here returns a status: a failing step fails the current
 * Criterion test.
 *
 * Example:
 *   net_rig r;
 *   mspec m;
 *   ln_rig_open(&r, &m, (ln_target){ "cpu", CV_LAYOUT_C16, NULL, NULL }, V_RESNET, 0);
 *   cv_plan *p = ln_plan(&r, 4, 12, CV_MODE_TRAIN);
 *   ln_expect_blocked_chain(&r, &m, p, CV_LAYOUT_C16);
 *   net_rig_close(&r);                                                          */
#ifndef CV_TEST_LAYOUT_NET_H
#define CV_TEST_LAYOUT_NET_H

#include <stdint.h>

#include "net_rig.h"

/* model variants: V_RESNET is stem, a projection block (16 -> 32 channels), an
 * identity block, global pool and fc; the others change one thing that keeps
 * the blocks' values plain with C16: the last block's value read through a view
 * and back, V_C24 blocks of 24 channels, a broadcast (squeeze-excitation)
 * multiply, a concat of both blocks, the last block's value a graph output;
 * V_W64 is V_RESNET with blocks of 64 channels (the CPU's bf16 Winograd takes them);
 * V_SE ends with a squeeze-excitation block as the zoo's (pool, 1x1 convolutions
 * 32 -> 16 -> 32 with ReLU and hard sigmoid, multiply): the pooled values are
 * blocked while the block's input is plain */
enum { V_RESNET, V_VIEW, V_C24, V_BCAST, V_CONCAT, V_OUTPUT, V_W64, V_SE };
/* the tensors of the last trace: stem conv, bn, relu, max pool, both blocks, the
 * [N,C] input of the classifier */
enum { T_CONV1, T_BN1, T_RELU1, T_POOL, T_BLOCK1, T_BLOCK2, T_HEAD, T_COUNT };
/* the layer codes of a random network: code % F_KINDS is the kind, the next two
 * base-2 digits pick among its forms (fuzz_forward in layout_net.c) */
enum { F_CONV, F_BN, F_ACT, F_RESID, F_MAXPOOL, F_AVGPOOL, F_VIEW, F_SE, F_CONCAT, F_ADAPT, F_SCALAR, F_SLICE,
       F_DROPOUT, F_KINDS };

typedef struct mspec {
    int variant;
    int adaptive;            /* global pool: 0 REDUCE mean over H,W; 1 ADAPTIVE_AVG_POOL2D to 1x1 */
    cv_tensor *t[T_COUNT];   /* tensors of the last trace */
    const uint8_t *fuzz;     /* a random layer sequence instead of the variant, n_fuzz codes */
    int n_fuzz;
} mspec;

/* a backend under test: its name ("cpu", "ref", "cuda"), the blocked layout its
 * plans must give (CV_LAYOUT_C16, CV_LAYOUT_NHWC; PLAIN for "ref"), what to
 * change on each rig just after it is opened, before its first plan (NULL:
 * nothing; test_layout.c: point the engine at another vtable), and its options
 * ("key=value", NULL-terminated; NULL: the defaults) */
typedef struct ln_target {
    const char *backend;
    int layout;
    void (*opened)(net_rig *r);
    const char *const *options;
} ln_target;

/* An engine on t's backend (seed 7) and a net of model m (cleared, then
 * variant and adaptive set) with 5 classes.  "cuda" is opened by cu_open()
 * (cuda_open.h) and fails the test with its reason when it cannot be: callers
 * check that it can first and skip. */
void ln_rig_open(net_rig *r, mspec *m, ln_target t, int variant, int adaptive);
/* the plan for a batch of n images 3 x hw x hw */
cv_plan *ln_plan(net_rig *r, int n, int hw, cv_mode mode);

/* Every kernel node's operands agree with the class r's backend gives it: PLAIN
 * nodes see only plain operands, UNIFORM nodes one layout over their 4-D
 * operands, and a blocked operand is in layout (the backend's) on an f32 4-D
 * tensor (or bf16 / f16 where the node's class carries that ABI 1.4 flag; a
 * UNIFORM node's 4-D operands one dtype), with C % 16 == 0 for C16.  Returns the
 * blocked slot count. */
int ln_check_consistent(const net_rig *r, const cv_plan *p, int layout);
/* p of model m (V_RESNET, or V_C24 when layout has no C % 16 rule) is
 * consistent with blocked operands, every tensor from the stem conv to the last
 * block is in layout, the [N,C] head, the graph input and the logits are plain */
void ln_expect_blocked_chain(const net_rig *r, const mspec *m, const cv_plan *p, int layout);
/* p of model m (a variant that ends the blocks plain) is consistent, the last
 * block's value and (but for V_CONCAT) through the residual add the block
 * before are plain, the stem's bn and pool are in layout */
void ln_expect_plain_tail(const net_rig *r, const mspec *m, const cv_plan *p, int layout);
/* ln_expect_blocked_chain on t for each of the n variants, both global pools,
 * training and eval plans of a batch 4 x 3 x 12 x 12 */
void ln_expect_blocked_chains(ln_target t, const int *variants, int n);
/* ln_expect_plain_tail on t for each of the n variants (training plans) */
void ln_expect_plain_tails(ln_target t, const int *variants, int n);

/* n random images 3 x hw x hw in [-1, 1) and labels in 0..4 from seed */
void ln_batch(float *img, int32_t *lab, int n, int hw, uint64_t seed);
/* the norm-wise relative error of net buffer which (net_rig_read) of a against b (equal sizes) */
double ln_buffers_rel(net_rig *a, net_rig *b, int which);
/* net buffer which (net_rig_read) of a and b: equal sizes, close within rtol / atol */
void ln_expect_buffers_close(net_rig *a, net_rig *b, int which, double rtol, double atol, const char *what);

/* V_RESNET with the given global pool on t against the reference backend, one
 * batch of n x 3 x hw x hw: same initial parameters; training: loss, logits,
 * every gradient and the running statistics; eval: logits.  The network
 * composes ~10 convolutions (2e-4 each in test_cpu_vs_ref.c) and batch norms:
 * rtol 2e-3 / atol 2e-4.  Both of t's plans have blocked operands. */
void ln_compare_with_ref(ln_target t, int adaptive, int n, int hw);
/* `steps` SGD steps of V_RESNET on t's backend with layouts and with
 * CVNETS_LAYOUT=plain give the same losses (1e-4 relative to 1 + |loss|: only
 * the summation order differs), and the steps trained; steps <= 16 */
void ln_expect_sgd_steps_match_plain(ln_target t, int steps);
/* `seeds` random networks (3..8 layers each, seed s from 900 + s), train and
 * eval, on t's backend with layouts and with CVNETS_LAYOUT=plain: loss and
 * logits within 1e-4, gradients 1e-3 / 1e-4, running statistics 1e-4 / 1e-5.
 * Returns how many of them had blocked values in their training plan. */
int ln_random_graphs(ln_target t, int seeds);

/* backend be refuses a kernel (one output; layouts lin / lout, NULL: plain) with
 * CV_ERR_INVALID and a message holding want */
void ln_expect_kernel_error(ku_backend be, int op, const void *p, size_t ps, const cv_ktensor *in, int n_in,
                           const uint8_t *lin, const cv_ktensor *out, const uint8_t *lout, const char *want);

/* ---- 16-bit storage between kernels (ABI 1.4): t's plans store blocked values in dt ---- */
/* ln_plan, with CVNETS_LAYOUT=f32 (blocked, nothing stored in 16 bits) when f32 */
cv_plan *ln_plan_storage(net_rig *r, int n, int hw, cv_mode mode, int f32);
/* how many of p's tensors have dtype dt */
int ln_count_dtype(const cv_plan *p, int dt);
/* V_RESNET's plans (train and eval, global pool by REDUCE and by adaptive pooling)
 * store every tensor from the stem conv to the last block in dt and keep the head,
 * the input and the logits f32; with CVNETS_LAYOUT=f32 nothing is dt and the planned
 * peak is larger */
void ln_expect_half_storage(ln_target t, int dt);
/* one training step of `variant` (batch 8 x 3 x hw x hw) with dt storage on t against
 * f32 storage on t (other NULL) or against *other: norm-wise relative errors of the
 * loss <= 5e-3, logits <= 1e-2, gradients <= 2e-2 and > 1e-6, running statistics <= 2e-3
 * (logged with --verbose) */
void ln_half_step_close(ln_target t, int dt, const ln_target *other, int variant, int hw);
/* 8 SGD steps of `variant` on one batch (8 x 3 x hw x hw) with dt storage follow f32
 * storage (3e-2 relative to 1 + |loss|) and bring the loss below 0.8 of its start */
void ln_half_sgd_follows_f32(ln_target t, int dt, int variant, int hw);

#endif
