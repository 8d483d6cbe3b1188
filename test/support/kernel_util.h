/* test/support/kernel_util.h — helpers for tests that run op kernels through a
 * backend vtable (cvnets/backend.h): tensors in backend memory built from host
 * float arrays, one-call kernel runs, deterministic random inputs, closeness
 * assertions, and a generic finite-difference gradient checker that runs a
 * forward kernel and its backward kernel.  Used by the reference backend tests
 * and meant for every other backend (oneDNN CPU, CUDA): only vt->alloc, upload,
 * download, prepare, run, sync and release are used, never host access to data.
 *
 * Functions named ku_*_ok and ku_make / ku_get / ku_set fail the current
 * Criterion test (with the backend's message) instead of returning a status.
 *
 * Example:
 *   ku_backend be = { desc->vtable, self };
 *   ku_tensor x = ku_make(be, CV_F32, CV_SHAPE(2, 3), (float[]){ 1, -2, 3, -4, 5, -6 });
 *   ku_tensor y = ku_make(be, CV_F32, CV_SHAPE(2, 3), NULL);
 *   cv_unary_params p = { CV_RELU, 0 };
 *   ku_run_ok(be, CV_OP_UNARY, &p, sizeof p, &x, 1, &y, 1, 0);
 *   float got[6]; ku_get(be, &y, got);
 *   ku_free(be, &x); ku_free(be, &y);                                             */
#ifndef CV_TEST_KERNEL_UTIL_H
#define CV_TEST_KERNEL_UTIL_H

#include <cvnets/cvnets.h>

#define KU_MAX_IO 8

/* a backend instance: its vtable and the self pointer create() returned */
typedef struct ku_backend {
    const cv_backend_vtable *vt;
    void *self;
    const cv_component_desc *desc; /* set by ku_backend_open, for ku_backend_close */
} ku_backend;

/* Load build/lib/cvnets/plugins/cvnets-backend-<name>.so into ctx (a
 * th_ctx_new() context, test/support/testhost.h) and create one instance with
 * default options and threads = 1; fails the test otherwise. */
struct cv_ctx;
ku_backend ku_backend_open(struct cv_ctx *ctx, const char *name);
/* The CPU backend with precision = bf16 and 2 threads, or the test skipped (with the
 * backend's reason) on a CPU without AVX512-BF16; test_cpu_bf16.c checks that refusal. */
ku_backend ku_backend_open_cpu_bf16(struct cv_ctx *ctx);
void ku_backend_close(ku_backend be);

/* A tensor in backend memory.  ku_make gives dense row-major strides; a test may
 * edit kt.shape / kt.stride (and offset kt.data) to describe a strided view of
 * a bigger allocation, see ku_view.  owner is 1 when ku_free must free kt.data. */
typedef struct ku_tensor {
    cv_ktensor kt;
    int owner;
} ku_tensor;

/* a tensor described on the host: dtype, shape and (for inputs) f32 values */
typedef struct ku_spec {
    int dtype;
    cv_shape shape;
    const float *values;   /* inputs: host values; outputs: initial values or NULL (zeros) */
} ku_spec;

/* ---- tensors ------------------------------------------------------------------ */
/* new dense tensor; values (numel floats, converted to dtype) or NULL for zeros */
ku_tensor ku_make(ku_backend be, int dtype, cv_shape shape, const float *values);
/* a strided view into base's memory: element (i0, i1, ..) is at
 * offset + sum_d i_d * stride[d] elements from base's start (not owned) */
ku_tensor ku_view(const ku_tensor *base, int ndim, const int64_t *shape, const int64_t *stride, int64_t offset);
void ku_free(ku_backend be, ku_tensor *t);
int64_t ku_numel(const ku_tensor *t);
/* host f32 <-> the tensor (logical row-major order, honouring strides) */
void ku_set(ku_backend be, ku_tensor *t, const float *values);
void ku_get(ku_backend be, const ku_tensor *t, float *out);
/* ku_get into a fresh malloc'd array (free with free()) */
float *ku_get_new(ku_backend be, const ku_tensor *t);

/* ---- running kernels ------------------------------------------------------------- */
/* prepare (when the backend has it) + workspace + run + sync + release; returns the
 * status, message in err.  in/out may be NULL when their count is 0. */
int ku_run(ku_backend be, int op, const void *params, size_t params_size, const ku_tensor *in, int n_in,
           const ku_tensor *out, int n_out, uint64_t seed, cv_error *err);
/* ku_run with CV_LAYOUT_* per operand (ABI 1.1; NULL: all plain) */
int ku_run_layout(ku_backend be, int op, const void *params, size_t params_size, const ku_tensor *in, int n_in,
                  const uint8_t *in_layout, const ku_tensor *out, int n_out, const uint8_t *out_layout, uint64_t seed,
                  cv_error *err);
/* same; fails the test on error, naming the op */
void ku_run_ok(ku_backend be, int op, const void *params, size_t params_size, const ku_tensor *in, int n_in,
               const ku_tensor *out, int n_out, uint64_t seed);

/* ---- deterministic random numbers ---------------------------------------------------- */
typedef struct ku_rng { uint64_t state; } ku_rng;
/* bf16 / f16 <-> f32 (round to nearest even, NaN kept quiet) */
uint16_t ku_to_bf16(float f);
float ku_from_bf16(uint16_t h);
uint16_t ku_to_f16(float f);
float ku_from_f16(uint16_t h);
ku_rng ku_rng_make(uint64_t seed);
double ku_uniform(ku_rng *r);                         /* [0, 1) */
float *ku_random(ku_rng *r, int64_t n, float lo, float hi); /* malloc'd array, uniform in [lo, hi) */
/* ||got - want|| / ||want|| (norm-wise; 1 stands in for ||want|| = 0), failing the
 * test when an element of got is not finite (what: the message's prefix) */
double ku_rel_err(const char *what, const float *got, const float *want, int64_t n);
/* [n,c,hw] plain f32 to C16 ([n][c/16][hw][16], c % 16 == 0): as f32 into f and / or
 * rounded to bf16 into h (either may be NULL) */
void ku_to_c16(const float *x, int64_t n, int64_t c, int64_t hw, float *f, uint16_t *h);
/* push every |x - point| < margin to point +- margin (keep inputs off kinks) */
void ku_keep_away(float *x, int64_t n, const float *points, int n_points, float margin);

/* The dropout / drop path mask contract every backend follows (doc/backend-ref.md):
 * element (dropout) or sample (drop path) i is kept iff ku_hash_uniform(seed, i) >= p,
 * seed being cv_kernel.seed; kept values are scaled by 1/(1-p). */
double ku_hash_uniform(uint64_t seed, uint64_t i);

/* ---- comparisons ------------------------------------------------------------------------ */
/* fail the test unless |got - want| <= atol + rtol * |want| for every element;
 * the message names what, the first bad index and both values */
void ku_assert_close(const float *got, const float *want, int64_t n, double rtol, double atol, const char *what);

/* ---- comparing a backend with the reference ----------------------------------------------- */
/* Run op with the same host inputs on two backends and compare every output:
 * |got - want| <= atol + rtol * |want|, want from ref.  Output specs with values
 * give the initial contents (the in-place update ops read them).  Fails the
 * current test naming the op, the output and the element. */
void ku_compare_backends(ku_backend test, ku_backend ref, int op, const void *params, size_t params_size,
                         const ku_spec *in, int n_in, const ku_spec *out, int n_out, uint64_t seed, double rtol,
                         double atol);

/* ---- finite-difference gradient check ------------------------------------------------------ */
/* A backward kernel input: a forward input, a forward output, or the upstream
 * gradient dy of forward output 0 (the checker's random weights). */
typedef struct ku_ref { int src, index; } ku_ref;
enum { KU_SRC_IN = 0, KU_SRC_OUT = 1, KU_SRC_DY = 2 };
#define KU_IN(i) ((ku_ref){ KU_SRC_IN, (i) })
#define KU_OUT(i) ((ku_ref){ KU_SRC_OUT, (i) })
#define KU_DY ((ku_ref){ KU_SRC_DY, 0 })


/* The scalar L = sum_j r_j * y0_j (y0: forward output 0, r: random weights in
 * [-1, 1], also the dy handed to the backward kernel) is differentiated with
 * respect to the forward inputs listed in grad_of, numerically by central
 * differences (x +- eps, in double from the f32 forward) and analytically by the
 * backward kernel, whose output k is dL/d(input grad_of[k]); grad_of[k] = -1
 * leaves output k unchecked (its shape then comes from bwd_out_shape[k]).
 * A gradient element passes when |num - ana| <= atol + rtol * max(|num|, |ana|). */
typedef struct ku_gradcheck {
    const char *name;                       /* for messages */
    int fwd_op;
    const void *fwd_params;
    size_t fwd_params_size;
    uint64_t seed;                          /* kernel seed (dropout) and the weights r */
    int n_in;
    ku_spec in[KU_MAX_IO];
    int n_out;
    ku_spec out[KU_MAX_IO];
    int bwd_op;
    const void *bwd_params;
    size_t bwd_params_size;
    int n_bwd_in;
    ku_ref bwd_in[KU_MAX_IO];
    int n_bwd_out;
    int grad_of[KU_MAX_IO];
    cv_shape bwd_out_shape[KU_MAX_IO];      /* only for grad_of[k] == -1 */
    double eps;                             /* 0: 1e-2 */
    double rtol, atol;                      /* 0: 1e-2 and 1e-3 */
} ku_gradcheck;

typedef struct ku_gradcheck_result {
    int64_t checked;        /* gradient elements compared */
    double max_abs_err;
    char worst[256];        /* the worst element: which input, index, both values */
    int failed;             /* elements out of tolerance */
} ku_gradcheck_result;

/* runs the check; returns CV_OK (then see res->failed) or a kernel error in err */
int ku_gradcheck_run(ku_backend be, const ku_gradcheck *c, ku_gradcheck_result *res, cv_error *err);
/* runs the check and fails the test on a kernel error or any element out of tolerance */
void ku_gradcheck_assert(ku_backend be, const ku_gradcheck *c);

#endif
