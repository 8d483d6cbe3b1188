/* test/support/kcase_ops.h — the op cases shared by the backend comparisons
 * (test_cpu_vs_ref.c, test_cuda.c): each function runs one group of kcase
 * entries (kcase.h) on b's reference and tested backends, with the bounds
 * stated in those files' headers.  Cases one backend alone runs stay in its file. */
#ifndef CV_TEST_KCASE_OPS_H
#define CV_TEST_KCASE_OPS_H

#include "kcase.h"

/* the output size of a pooling window k, stride s, padding p (ceil_mode: round up,
 * dropping a last window that starts in the padding) */
int64_t kc_pool_out(int64_t in, int k, int s, int p, int ceil_mode);
/* POOL2D_BWD with x (random, a third of it rounded to halves: ties), y the reference's
 * forward of x (so a backend's "first element equal to y" path runs) and random dy */
void kc_pool_bwd_true_y(const kc_bench *b, const char *name, const cv_pool_params *p, cv_shape xs, cv_shape ys,
                        double rtol, double atol);

void kc_ops_matmul(const kc_bench *b);
void kc_ops_batch_norm(const kc_bench *b);
void kc_ops_layer_norm(const kc_bench *b);
void kc_ops_group_norm(const kc_bench *b);
void kc_ops_unary_and_grad(const kc_bench *b);
void kc_ops_binary_broadcast(const kc_bench *b);
void kc_ops_scalar(const kc_bench *b);
void kc_ops_reduce_and_sum_to(const kc_bench *b);
void kc_ops_softmax(const kc_bench *b);
void kc_ops_pool2d(const kc_bench *b);
void kc_ops_adaptive_avg_pool(const kc_bench *b);
void kc_ops_resize(const kc_bench *b);
void kc_ops_shape_ops(const kc_bench *b);
void kc_ops_dropout(const kc_bench *b);
void kc_ops_cross_entropy(const kc_bench *b);
void kc_ops_bce_and_smooth_l1(const kc_bench *b);
void kc_ops_embedding(const kc_bench *b);
void kc_ops_updates(const kc_bench *b);

#endif
