/* test/support/kcase.h — one op, described as a table entry (a kcase), run with
 * the same fresh random inputs on the reference backend and on every backend
 * under test, then compared: outputs of the tested side start as NaN (77 for
 * integer outputs) so an element it forgets fails, and every output (and every
 * input the op writes in place) must match within the case's bound.  Used by
 * test_cpu_vs_ref.c and test_cuda.c, which keep their own cases and bounds.
 *
 * Example:
 *   static kc_bench bench;          // ref, the backends under test, their labels, the rng
 *   #define CASE(...) KC_CASE(&bench, __VA_ARGS__)
 *   CASE(.name = "matmul 2d", .op = CV_OP_MATMUL, .p = KC_P(nn), .n_in = 2,
 *        .in = { F32(5, 7), F32(7, 3) }, .n_out = 1, .out = { F32(5, 3) }, .rtol = 2e-4, .atol = 2e-4); */
#ifndef CV_TEST_KCASE_H
#define CV_TEST_KCASE_H

#include "kernel_util.h"

typedef struct opd {
    int dtype;
    cv_shape shape;
    const float *v; /* inputs: fixed values (NULL: random); outputs: initial values (NULL: NaN) */
} opd;
#define F32(...) ((opd){ CV_F32, CV_SHAPE(__VA_ARGS__), NULL })
#define OPD(dt, vals, ...) ((opd){ (dt), CV_SHAPE(__VA_ARGS__), (vals) })

typedef struct kcase {
    const char *name;
    int op;
    const void *p;
    size_t ps;
    int n_in, n_out;
    opd in[8], out[8];
    double rtol, atol;
    float lo, hi;       /* range of random inputs; 0, 0: [-2, 2) */
    uint32_t init_out;  /* outputs also read (in-place ops): same random start on both */
    uint32_t check_in;  /* inputs written in place (running stats): compared after the run */
    const float *away;  /* keep random inputs this far (margin 0.02) from these points */
    int n_away;
} kcase;

#define KC_MAX_TESTED 4
/* the reference, the backends under test (label: how messages name each, e.g.
 * "cuda" gives "conv2d (cuda): output 0") and the random numbers of the inputs */
typedef struct kc_bench {
    ku_backend ref;
    int n;
    ku_backend test[KC_MAX_TESTED];
    const char *label[KC_MAX_TESTED];
    ku_rng *rng;
} kc_bench;

/* run c on the reference and on every tested backend and compare; fails the test */
void kc_check(const kc_bench *b, const kcase *c);
#define KC_CASE(b, ...) kc_check((b), &(kcase){ __VA_ARGS__ })
#define KC_P(x) &(x), sizeof(x)

/* conv2d forward, backward data and backward weight on one geometry (square
 * kernel k, stride s, padding pad, dilation dil, g groups, bias or not) */
void kc_conv_cases(const kc_bench *b, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int k, int s, int pad,
                   int dil, int g, int bias);

/* a normalisation forward (with and without saved stats) and its backward on the
 * stats the reference forward saved; x the input, g the affine parameters' shape,
 * stats the number of (mean, rstd) pairs */
void kc_norm_pair(const kc_bench *b, const char *name, int fwd, int bwd, const cv_norm_params *p, opd x, opd g,
                  int affine, int64_t stats);

#endif
