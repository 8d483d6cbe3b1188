/* plugins/backends/cpu/dnn.h — the per-node oneDNN state of the CPU backend and
 * the helpers dnn_ops.c uses to describe each op's primitive. */
#ifndef CV_BACKEND_CPU_DNN_H
#define CV_BACKEND_CPU_DNN_H

#include "cpu.h"

#define DNN_MAX_ARGS 10

/* One primitive argument: the caller's tensor (user) and, when the primitive
 * picked another layout, its own copy in the workspace (inner) with the reorder
 * between them. */
typedef struct dnn_arg {
    int arg;                 /* DNNL_ARG_* */
    int is_out;
    int index;               /* kernel input/output index; < 0: a workspace buffer */
    int pack;                /* strides oneDNN cannot take: dense copy at pack_off */
    size_t pack_off, ws_off, inner_off;
    dnnl_memory_t user, inner;
    dnnl_primitive_t reorder;
    int64_t to_bf16;         /* > 0: the inner copy is the same layout in bf16, this many elements (bf16.c) */
} dnn_arg;

typedef struct dnn_node {
    int op;
    dnnl_primitive_t prim;
    int nargs;
    dnn_arg args[DNN_MAX_ARGS];
    dnnl_memory_t scratch;
    size_t scratch_off, ws_total;
    char impl[48];           /* oneDNN implementation name, for the docs and benchmarks */
    /* batch norm */
    int bn_training;
    int64_t bn_channels, bn_count;
    float bn_eps, bn_momentum;
    int bn_mean_arg, bn_var_arg; /* index into args of the workspace mean/variance (backward: shift) */
    /* convolution weight gradient as one GEMM (small outputs, see dnn_ops.c) */
    int gemm_dw, gemm_bf16; /* gemm_bf16: the operands are bf16 (precision = bf16) */
    int64_t cv_n, cv_c, cv_h, cv_w, cv_o, cv_ho, cv_wo, cv_kh, cv_kw;
    int cv_sh, cv_sw, cv_ph, cv_pw, cv_dh, cv_dw;
    int dyt_arg, col_arg;
} dnn_node;

typedef struct dnn_build {
    cpu_backend *b;
    const cv_kernel *k;
    cv_error *err;
    dnn_node *node;
    dnnl_primitive_desc_t pd, hint;
} dnn_build;

int dnn_fail(dnn_build *bd, dnnl_status_t s, const char *what);
void dnn_md_of(dnnl_memory_desc_t *md, const cv_ktensor *t);
void dnn_md_c16(dnnl_memory_desc_t *md, const cv_ktensor *t);
int dnn_arg_add(dnn_build *bd, int arg, int is_out, int index, const dnnl_memory_desc_t *user_md);
int dnn_finish(dnn_build *bd);
dnnl_primitive_attr_t dnn_attr(void);

/* dnn_ops.c */
int dnn_build_op(dnn_build *bd);
int dnn_before(dnn_build *bd, char *ws);
int dnn_after(dnn_build *bd, char *ws);
int dnn_empty_input(cpu_backend *b, const cv_kernel *k, cv_error *err);
const char *dnn_impl_name(const void *prepared);

#endif
