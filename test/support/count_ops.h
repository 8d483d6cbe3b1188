/* test/support/count_ops.h — a shape-only implementation of cv_ops_v1 for model
 * tests: it infers output shapes of the ops models use, records parameters
 * (name, shape, tags, init) and sums forward multiply-adds (convolution, linear,
 * matmul), without computing anything.  It is independent of the engine, so it
 * also cross-checks the engine's counts. */
#ifndef CV_TEST_COUNT_OPS_H
#define CV_TEST_COUNT_OPS_H

#include <cvnets/cvnets.h>

const cv_ops_v1 *cnt_ops(void);

/* A graph whose input 0 is f32 `input` and input 1 i32 [N] targets. */
cv_graph *cnt_graph_new(cv_shape input, int training);
void cnt_graph_free(cv_graph *g);
/* Start a new trace (new input shape / mode), keeping the parameters. */
void cnt_graph_retrace(cv_graph *g, cv_shape input, int training);

const char *cnt_error(const cv_graph *g);     /* "" when nothing failed */
int64_t cnt_macs(const cv_graph *g);           /* forward multiply-adds of this trace */
int64_t cnt_trainable(const cv_graph *g);      /* elements of non-buffer params */
int cnt_op_count(const cv_graph *g, int op);   /* ops of a kind in this trace */
int cnt_param_count(const cv_graph *g);
const char *cnt_param_name(const cv_graph *g, int i);
cv_shape cnt_param_shape(const cv_graph *g, int i);
uint32_t cnt_param_tags(const cv_graph *g, int i);
cv_init cnt_param_init(const cv_graph *g, int i);
int cnt_param_find(const cv_graph *g, const char *name); /* index or -1 */
/* "[1, 2, 3]" into buf */
const char *cnt_shape_str(const cv_shape *s, char *buf, size_t n);

#endif
