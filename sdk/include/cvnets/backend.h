/* cvnets/backend.h — what a backend plugin (kind "backend") implements: memory on
 * its device and one kernel per op kind of cvnets/ops.h.  The host plans memory,
 * hands the backend plain strided tensors (logical NCHW shapes) and never looks
 * inside device memory except through upload/download.  A backend may keep
 * private per-node state (oneDNN primitives, cuDNN algorithms) created once by
 * prepare() when a plan is built and reused on every run.
 *
 * ABI 1.1 (layouts): a backend may let 4-D f32 activations stay in a blocked
 * layout between its kernels.  The host asks layout_class() for every kernel
 * node, chooses one layout per value (plain where any doubt) and tells each
 * kernel the layout of every operand in in_layout / out_layout.  Shapes and
 * strides in cv_ktensor stay the logical plain NCHW ones in every layout.
 * ABI 1.3: the blocked layout is the backend's choice (blocked_layout in the
 * vtable): oneDNN's nChw16c (CPU) or channels-last NHWC (CUDA, cuDNN).
 * ABI 1.4 (16-bit storage): a layout class may carry CV_LAYOUT_CLASS_BF16 (or
 * _F16); a blocked value whose every kernel says so is stored in that dtype: its
 * kernels see cv_ktensor.dtype CV_BF16 (CV_F16) for it, and it takes half the
 * bytes.  Such values are never graph inputs or outputs, parameters or views. */
#ifndef CVNETS_BACKEND_H
#define CVNETS_BACKEND_H

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A tensor as a kernel sees it: strides in elements; data on the backend's device.
 * Outputs are fully written by the kernel (no accumulation into them), except the
 * in-place update ops, which read and write their outputs. */
typedef struct cv_ktensor {
    int32_t dtype;
    int32_t ndim;
    int64_t shape[CV_MAX_DIMS];
    int64_t stride[CV_MAX_DIMS];
    void *data;
} cv_ktensor;

/* How an operand's bytes are laid out (ABI 1.1). */
enum {
    CV_LAYOUT_PLAIN = 0, /* as shape and strides say */
    /* a dense 4-D tensor N,C,H,W with C % 16 == 0 stored as oneDNN's nChw16c:
     * element (n,c,h,w) at ((n*(C/16) + c/16)*H*W + h*W + w)*16 + c%16 — the same
     * number of bytes as NCHW; for H = W = 1 the same bytes */
    CV_LAYOUT_C16 = 1,
    /* ABI 1.3: a dense 4-D tensor N,C,H,W stored channels-last (any C): element
     * (n,c,h,w) at ((n*H + h)*W + w)*C + c — the same number of bytes as NCHW;
     * for H = W = 1 the same bytes */
    CV_LAYOUT_NHWC = 2,
};

/* What layout_class() answers for one kernel node (ABI 1.1). */
enum {
    CV_LAYOUT_CLASS_PLAIN = 0,   /* every operand plain */
    CV_LAYOUT_CLASS_UNIFORM = 1, /* its 4-D operands may be C16 if all of them share one layout */
    CV_LAYOUT_CLASS_FREE = 2,    /* each 4-D operand independently plain or C16 */
    CV_LAYOUT_CLASS_MASK = 3,    /* the class; the bits above it are flags */
    /* ABI 1.4 flags, or'ed into UNIFORM or FREE: the node's blocked 4-D operands may
     * also be stored as bf16 (f16).  The host stores a blocked value in 16 bits only
     * when every node that touches it sets the same flag; a UNIFORM node's 4-D
     * operands then share the dtype, a FREE node's each have their own. */
    CV_LAYOUT_CLASS_BF16 = 4,
    CV_LAYOUT_CLASS_F16 = 8,
};

typedef struct cv_kernel {
    uint32_t struct_size;
    int32_t op;                 /* cv_op */
    const void *params;         /* the op's params struct (see ops.h) or NULL */
    uint32_t params_size;
    int32_t n_in, n_out;
    const cv_ktensor *in;
    const cv_ktensor *out;
    void *workspace;            /* workspace_bytes asked for by prepare() */
    size_t workspace_bytes;
    uint64_t seed;              /* for dropout / drop path: unique per (step, node) */
    void *prepared;             /* what prepare() returned for this node, or NULL */
    /* ABI 1.1 (read only when struct_size covers them): CV_LAYOUT_* per input and
     * per output, in prepare() and run() alike; NULL means all plain */
    const uint8_t *in_layout;
    const uint8_t *out_layout;
} cv_kernel;

typedef struct cv_backend_vtable {
    uint32_t struct_size;
    int32_t host_accessible;    /* 1 when device memory is ordinary host memory */
    /* the blocked layout layout_class() offers: CV_LAYOUT_C16 (also 0, the
     * meaning before ABI 1.3) or CV_LAYOUT_NHWC (ABI 1.3; was `reserved`) */
    int32_t blocked_layout;
    void *(*alloc)(void *self, size_t bytes);           /* NULL on failure; 64-byte aligned */
    void (*free)(void *self, void *p);
    int (*upload)(void *self, void *dst, const void *src, size_t bytes, cv_error *err);
    int (*download)(void *self, void *dst, const void *src, size_t bytes, cv_error *err);
    /* 1 when this backend runs op on this dtype */
    int (*supports)(void *self, int op, int dtype);
    /* optional: build per-node state once for these shapes; data pointers are NULL */
    int (*prepare)(void *self, const cv_kernel *k, void **prepared, size_t *workspace_bytes, cv_error *err);
    void (*release)(void *self, void *prepared);
    int (*run)(void *self, const cv_kernel *k, cv_error *err);
    int (*sync)(void *self, cv_error *err);
    /* ABI 1.1, optional (NULL: every operand plain): CV_LAYOUT_CLASS_* for this
     * node, from shapes, dtypes and params (data and layouts NULL).  Only 4-D f32
     * activations are ever given the blocked layout (C16: only with C % 16 == 0).
     * ABI 1.4: the class may carry CV_LAYOUT_CLASS_BF16 or _F16 (see above). */
    int (*layout_class)(void *self, const cv_kernel *k);
    /* ABI 1.2, optional (NULL: kernels always run one by one): record a plan's
     * kernel sequence once and replay it (CUDA graphs).  Between graph_begin and
     * graph_end, run() records its kernel instead of executing it; graph_end
     * returns the recording in *graph (NULL, and the recording discarded, when
     * err is already set or recording failed).  graph_update re-records the
     * index-th kernel of the recording (0-based, in run() order) with k's new
     * params or seed, same operands.  graph_launch executes a recording;
     * sync() then reports failures of its kernels.  graph_begin, graph_update and
     * graph_launch return CV_ERR_UNSUPPORTED when the backend cannot (graphs
     * switched off, a kernel that cannot be recorded, a recording made stale
     * since): the engine then records again or runs kernel by kernel. */
    int (*graph_begin)(void *self, cv_error *err);
    int (*graph_end)(void *self, void **graph, cv_error *err);
    int (*graph_update)(void *self, void *graph, int32_t index, const cv_kernel *k, cv_error *err);
    int (*graph_launch)(void *self, void *graph, cv_error *err);
    void (*graph_release)(void *self, void *graph);
} cv_backend_vtable;

/* Helpers for a backend with a blocked layout (libcvnets-sdk, sdk/lib/kernel_layout.c). */
/* the layout of k's operand i (is_out: an output): CV_LAYOUT_* (PLAIN when none is given) */
int cv_kernel_layout(const cv_kernel *k, int is_out, int i);
/* The first operand of k whose layout is neither PLAIN nor `layout` (the backend's
 * blocked one): that layout, the operand in *is_out / *index; PLAIN when there is none. */
int cv_kernel_foreign_layout(const cv_kernel *k, int layout, int *is_out, int *index);
/* The first operand of k given `layout` (the backend's blocked one) that a kernel of
 * layout class cls (flags included) cannot take, in *is_out / *index, and why: "does
 * not take with these operands", "takes only when all its 4-D operands share it (and
 * one dtype)", "takes only on dense 4-D" (C16: "…, C % 16 == 0"), "does not take
 * stored in 16 bits" (a bf16 / f16 operand without the class's flag); NULL when
 * every such operand fits. */
const char *cv_kernel_layout_fault(const cv_kernel *k, int cls, int layout, int *is_out, int *index);
/* Shape patterns for layout_class():
 * 1 when k has one output and every input has its shape (element-wise on equal
 * shapes reads the same bytes in any layout); when k is a REDUCE of a 4-D
 * [N,C,H,W] over H,W (to [N,C] or [N,C,1,1]) or over N,H,W (to [C]); when k is
 * a BROADCAST_TO from [N,C,1,1] to [N,C,H,W]. */
int cv_kernel_same_shapes(const cv_kernel *k);
int cv_kernel_reduce_hw(const cv_kernel *k);
int cv_kernel_broadcast_hw(const cv_kernel *k);
/* The layout class of the kernels whose answer is the same in any blocked layout:
 * adaptive average pooling (FREE when its small side is 1x1, else UNIFORM), REDUCE
 * and BROADCAST_TO on the patterns above (FREE), element-wise ops on equal shapes
 * (UNARY(_BWD), BINARY, SCALAR, COPY) and FILL (UNIFORM), PLAIN for other shapes
 * of these ops; -1 for every other op, which the backend classifies itself. */
int cv_kernel_shape_layout_class(const cv_kernel *k);

#ifdef __cplusplus
}
#endif
#endif
