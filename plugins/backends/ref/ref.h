/* ref.h — internals of the reference backend (cvnets-backend-ref.so): the per-call
 * view every kernel works on, and the kernel entry points of each file.
 *
 * The dispatcher (plugin.c) turns every input into a contiguous f32 array (and
 * additionally a contiguous i32 array for i32 inputs), whatever its dtype and
 * strides, and gives every output a contiguous f32 array that it converts back
 * afterwards.  So each kernel below only ever sees dense row-major f32 data and
 * can be written as the textbook loop; speed is not a goal here. */
#ifndef CV_REF_H
#define CV_REF_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <cvnets/cvnets.h>

#define REF_MAX_IO 16

/* one dense operand */
typedef struct ref_t {
    int ndim;
    int64_t shape[CV_MAX_DIMS];
    int64_t numel;
    int dtype;       /* dtype of the caller's tensor (before conversion) */
    float *f;        /* contiguous f32 values (read and write for outputs) */
    int32_t *i;      /* contiguous i32 values, for i32 inputs only, else NULL */
} ref_t;

typedef struct ref_run {
    const cv_host *host;
    const cv_kernel *k;
    const void *params;
    cv_error *err;
    const char *op_name;
    int n_in, n_out;
    ref_t in[REF_MAX_IO];
    ref_t out[REF_MAX_IO];
    /* set by a kernel that wrote into in[i] (batch norm running statistics);
     * the dispatcher then stores in[i].f back into the caller's tensor */
    int in_written[REF_MAX_IO];
} ref_run;

typedef int (*ref_kernel_fn)(ref_run *r);

/* ---- helpers (plugin.c) ---------------------------------------------------------- */
/* record an error "ref backend: <OP>: <message>" and return status */
int ref_fail(ref_run *r, int status, const char *fmt, ...) CV_PRINTF(3, 4);
/* "[2,3,4]" into buf (for error messages) */
const char *ref_shape_str(const ref_t *t, char *buf, size_t n);
/* arity check: n_in in [min_in, max_in], n_out in [min_out, max_out] */
int ref_arity(ref_run *r, int min_in, int max_in, int min_out, int max_out);
/* 1 when a and b have the same shape; otherwise records an error naming both */
int ref_same_shape(ref_run *r, const ref_t *a, const char *an, const ref_t *b, const char *bn);
/* zeroed scratch memory from the host allocator; NULL (error recorded) on failure */
void *ref_scratch(ref_run *r, size_t n, size_t size);
void ref_scratch_free(ref_run *r, void *p);
/* normalise a possibly negative axis; -1 (error recorded) when out of range */
int ref_axis(ref_run *r, int axis, int ndim);

/* numpy broadcasting (right-aligned): 1 when src can broadcast to dst; and the
 * row-major index into src of the element that dst's element i reads */
int ref_bcast_ok(const int64_t *src, int src_nd, const int64_t *dst, int dst_nd);
int64_t ref_bcast_index(const int64_t *src, int src_nd, const int64_t *dst, int dst_nd, int64_t i);

/* the counter hash of dropout / drop path: uniform in [0,1) for (seed, i) */
double ref_hash_uniform(uint64_t seed, uint64_t i);

/* ---- dtype conversion (convert.c) ------------------------------------------------ */
size_t ref_dtype_size(int dtype);
double ref_load(int dtype, const void *base, int64_t elem);   /* elem: element offset */
void ref_store(int dtype, void *base, int64_t elem, double v);
uint16_t ref_f32_to_bf16(float f);
float ref_bf16_to_f32(uint16_t h);
uint16_t ref_f32_to_f16(float f);
float ref_f16_to_f32(uint16_t h);
/* element offset of the i-th element in row-major logical order */
int64_t ref_offset(const cv_ktensor *t, int64_t i);
int ref_is_contiguous(const cv_ktensor *t);
int64_t ref_numel(const cv_ktensor *t);

/* ---- kernels ---------------------------------------------------------------------- */
int ref_conv2d(ref_run *r);
int ref_conv2d_bwd_data(ref_run *r);
int ref_conv2d_bwd_weight(ref_run *r);
int ref_matmul(ref_run *r);
int ref_linear(ref_run *r);
int ref_batch_norm(ref_run *r);
int ref_layer_norm(ref_run *r);
int ref_group_norm(ref_run *r);
int ref_batch_norm_bwd(ref_run *r);
int ref_layer_norm_bwd(ref_run *r);
int ref_group_norm_bwd(ref_run *r);
int ref_unary(ref_run *r);
int ref_unary_bwd(ref_run *r);
int ref_binary(ref_run *r);
int ref_scalar(ref_run *r);
int ref_broadcast_to(ref_run *r);
int ref_sum_to(ref_run *r);
int ref_reduce(ref_run *r);
int ref_pool2d(ref_run *r);
int ref_pool2d_bwd(ref_run *r);
int ref_adaptive_avg_pool2d(ref_run *r);
int ref_adaptive_avg_pool2d_bwd(ref_run *r);
int ref_resize(ref_run *r);
int ref_resize_bwd(ref_run *r);
int ref_concat(ref_run *r);
int ref_slice(ref_run *r);
int ref_pad(ref_run *r);
int ref_reshape(ref_run *r);
int ref_permute(ref_run *r);
int ref_softmax(ref_run *r);
int ref_softmax_bwd(ref_run *r);
int ref_dropout(ref_run *r);
int ref_drop_path(ref_run *r);
int ref_dropout_bwd(ref_run *r);
int ref_embedding(ref_run *r);
int ref_embedding_bwd(ref_run *r);
int ref_cross_entropy(ref_run *r);
int ref_cross_entropy_bwd(ref_run *r);
int ref_bce_logits(ref_run *r);
int ref_bce_logits_bwd(ref_run *r);
int ref_smooth_l1(ref_run *r);
int ref_smooth_l1_bwd(ref_run *r);
int ref_sgd_update(ref_run *r);
int ref_adam_update(ref_run *r);
int ref_rmsprop_update(ref_run *r);
int ref_lamb_update(ref_run *r);
int ref_sumsq(ref_run *r);
int ref_axpby(ref_run *r);
int ref_fill(ref_run *r);
int ref_nonfinite(ref_run *r);
/* CAST and COPY convert directly between the caller's tensors (exact for i32) */
int ref_convert_copy(const cv_host *host, const cv_kernel *k, const char *op_name, cv_error *err);

#endif
