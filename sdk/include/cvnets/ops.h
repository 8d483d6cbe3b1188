/* cvnets/ops.h — the graph-building op interface ("cv.ops.v1"), fetched with
 * host->get_interface(host->host_ctx, CV_OPS_INTERFACE).
 *
 * Models, losses and backbones describe computation by calling ops on opaque
 * cv_tensor handles.  The calls are traced into a graph for the current input
 * shape (nothing is computed while tracing); the host appends the backward pass
 * from each op's gradient rule, plans memory, caches the plan by (shape, mode)
 * and runs it on the backend.  Errors are sticky: an op given a NULL input or
 * bad shapes records one error on the graph (naming the op and the shapes) and
 * returns NULL, so a model need not check every call; the host reports it.
 *
 * Op kinds and their params structs are append-only.  Kinds marked "internal"
 * are produced by autograd or called on flat buffers by the optimizer and EMA;
 * every backend implements them all. */
#ifndef CVNETS_OPS_H
#define CVNETS_OPS_H

#include "abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CV_OPS_INTERFACE "cv.ops.v1"
#define CV_MAX_DIMS 5

typedef enum cv_dtype { CV_F32 = 0, CV_BF16 = 1, CV_F16 = 2, CV_I32 = 3, CV_U8 = 4 } cv_dtype;

typedef struct cv_shape {
    int32_t ndim;
    int32_t reserved;
    int64_t dim[CV_MAX_DIMS];
} cv_shape;

typedef struct cv_tensor cv_tensor; /* a value in a graph being traced */
typedef struct cv_graph cv_graph;

/* ---- op kinds --------------------------------------------------------------- */
typedef enum cv_op {
    /* forward ops */
    CV_OP_CONV2D = 1,          /* x[N,C,H,W], w[O,C/g,kh,kw], (b[O]) -> y        cv_conv_params */
    CV_OP_CONV3D = 2,          /* reserved for video                              cv_conv_params */
    CV_OP_MATMUL = 3,          /* a[..,M,K], b[..,K,N] (batch dims broadcast)     cv_matmul_params */
    CV_OP_LINEAR = 4,          /* x[..,K], w[N,K], (b[N]) -> [..,N]               no params */
    CV_OP_BATCH_NORM = 5,      /* x[N,C,..], gamma, beta, run_mean, run_var       cv_norm_params */
    CV_OP_LAYER_NORM = 6,      /* x, gamma, beta over the last `axes` dims        cv_norm_params */
    CV_OP_GROUP_NORM = 7,      /* x[N,C,..], gamma[C], beta[C]                    cv_norm_params */
    CV_OP_UNARY = 8,           /* elementwise                                     cv_unary_params */
    CV_OP_BINARY = 9,          /* a, b with numpy broadcasting                    cv_binary_params */
    CV_OP_SCALAR = 10,         /* x op value                                      cv_scalar_params */
    CV_OP_REDUCE = 11,         /* sum/mean over axes                              cv_reduce_params */
    CV_OP_POOL2D = 12,         /* max/avg                                         cv_pool_params */
    CV_OP_ADAPTIVE_AVG_POOL2D = 13, /*                                            cv_resize_params */
    CV_OP_RESIZE = 14,         /* bilinear / nearest                              cv_resize_params */
    CV_OP_CONCAT = 15,         /* n inputs along axis                             cv_axis_params */
    CV_OP_SLICE = 16,          /* [start, start+length) along axis                cv_slice_params */
    CV_OP_PAD = 17,            /* constant pad; negative pads crop                cv_pad_params */
    CV_OP_RESHAPE = 18,        /* a view when contiguous                          cv_reshape_params */
    CV_OP_PERMUTE = 19,        /*                                                 cv_permute_params */
    CV_OP_SOFTMAX = 20,        /* softmax / log-softmax along axis                cv_softmax_params */
    CV_OP_DROPOUT = 21,        /* identity in eval                                cv_dropout_params */
    CV_OP_DROP_PATH = 22,      /* per-sample stochastic depth, identity in eval   cv_dropout_params */
    CV_OP_CROSS_ENTROPY = 23,  /* logits[N,C(,H,W)], target i32[N(,H,W)] or f32[N,C] soft, (weight[C]) -> scalar mean  cv_ce_params */
    CV_OP_BCE_LOGITS = 24,     /* logits, target f32 same shape -> scalar mean   no params */
    CV_OP_SMOOTH_L1 = 25,      /* pred, target -> scalar mean                     cv_smooth_l1_params */
    CV_OP_CAST = 26,           /*                                                 cv_cast_params */
    CV_OP_EMBEDDING = 27,      /* weight[V,D], idx i32[..] -> [..,D]              no params */
    CV_OP_BROADCAST_TO = 28,   /* expand to a shape                               cv_reshape_params */
    CV_OP_SUM_TO = 29,         /* sum broadcast dims back to a shape              cv_reshape_params */

    /* internal: gradients */
    CV_OP_CONV2D_BWD_DATA = 64,   /* dy, w -> dx                   cv_conv_params */
    CV_OP_CONV2D_BWD_WEIGHT = 65, /* dy, x -> dw                   cv_conv_params */
    CV_OP_BATCH_NORM_BWD = 66,    /* x, dy, gamma, mean, rstd -> dx, dgamma, dbeta   cv_norm_params */
    CV_OP_LAYER_NORM_BWD = 67,    /* same inputs/outputs as BATCH_NORM_BWD           cv_norm_params */
    CV_OP_GROUP_NORM_BWD = 68,    /* same inputs/outputs as BATCH_NORM_BWD           cv_norm_params */
    CV_OP_UNARY_BWD = 69,         /* x, dy -> dx                   cv_unary_params */
    CV_OP_POOL2D_BWD = 70,        /* x, y, dy -> dx                cv_pool_params */
    CV_OP_ADAPTIVE_AVG_POOL2D_BWD = 71, /* dy -> dx (shape of x in out) cv_resize_params */
    CV_OP_RESIZE_BWD = 72,        /* dy -> dx                      cv_resize_params */
    CV_OP_SOFTMAX_BWD = 73,       /* y, dy -> dx                   cv_softmax_params */
    CV_OP_DROPOUT_BWD = 74,       /* mask, dy -> dx                cv_dropout_params */
    CV_OP_CROSS_ENTROPY_BWD = 75, /* logits, target, (weight), dloss -> dlogits  cv_ce_params */
    CV_OP_BCE_LOGITS_BWD = 76,    /* logits, target, dloss -> dlogits */
    CV_OP_SMOOTH_L1_BWD = 77,     /* pred, target, dloss -> dpred  cv_smooth_l1_params */
    CV_OP_EMBEDDING_BWD = 78,     /* idx, dy -> dweight */

    /* internal: flat-buffer updates (in place on out[0..]) */
    CV_OP_SGD_UPDATE = 96,      /* in: grad; out: param, momentum        cv_sgd_params */
    CV_OP_ADAM_UPDATE = 97,     /* in: grad; out: param, m, v            cv_adam_params */
    CV_OP_RMSPROP_UPDATE = 98,  /* in: grad; out: param, sq_avg, mom     cv_rmsprop_params */
    CV_OP_LAMB_UPDATE = 99,     /* in: grad; out: param, m, v            cv_adam_params (one tensor per call) */
    CV_OP_SUMSQ = 100,          /* in: x; out: f32[1] sum of squares */
    CV_OP_AXPBY = 101,          /* in: x; out: y := a*y + b*x            cv_axpby_params */
    CV_OP_FILL = 102,           /* out: y := value                       cv_scalar_params */
    CV_OP_COPY = 103,           /* in: x; out: y := x (dtype may differ: converts) */
    CV_OP_NONFINITE = 104,      /* in: x; out: f32[1] count of NaN/Inf */
} cv_op;

/* ---- params ----------------------------------------------------------------- */
typedef struct cv_conv_params {
    int32_t stride[3], pad[3], dilation[3]; /* [h, w] for 2-D; [t, h, w] for 3-D */
    int32_t groups;
} cv_conv_params;

typedef struct cv_matmul_params { int32_t trans_a, trans_b; } cv_matmul_params;

typedef struct cv_norm_params {
    float eps, momentum;   /* momentum: running = (1-m)*running + m*batch (PyTorch convention) */
    int32_t training;      /* batch norm: 1 uses batch stats and updates running stats */
    int32_t groups;        /* group norm */
    int32_t axes;          /* layer norm: number of trailing dims normalised */
} cv_norm_params;

typedef enum cv_unary_fn {
    CV_RELU = 0, CV_RELU6, CV_LEAKY_RELU, CV_GELU, CV_GELU_TANH, CV_SILU, CV_HARDSWISH,
    CV_HARDSIGMOID, CV_SIGMOID, CV_TANH, CV_EXP, CV_LOG, CV_SQRT, CV_RSQRT, CV_NEG, CV_ABS,
    CV_SQUARE, CV_IDENTITY
} cv_unary_fn;
typedef struct cv_unary_params { int32_t fn; float alpha; } cv_unary_params;

typedef enum cv_binary_fn { CV_ADD = 0, CV_SUB, CV_MUL, CV_DIV, CV_MAX, CV_MIN } cv_binary_fn;
typedef struct cv_binary_params { int32_t fn; } cv_binary_params;

typedef enum cv_scalar_fn { CV_S_ADD = 0, CV_S_MUL, CV_S_POW, CV_S_RSUB, CV_S_CLAMP_MIN, CV_S_CLAMP_MAX } cv_scalar_fn;
typedef struct cv_scalar_params { int32_t fn; float value; } cv_scalar_params;

typedef enum cv_reduce_fn { CV_R_SUM = 0, CV_R_MEAN } cv_reduce_fn;
typedef struct cv_reduce_params { int32_t fn; uint32_t axes; int32_t keepdim; } cv_reduce_params; /* axes: bit i = dim i */

typedef enum cv_pool_fn { CV_POOL_MAX = 0, CV_POOL_AVG } cv_pool_fn;
typedef struct cv_pool_params {
    int32_t fn, kernel[2], stride[2], pad[2], ceil_mode, count_include_pad;
} cv_pool_params;

typedef enum cv_resize_mode { CV_RESIZE_BILINEAR = 0, CV_RESIZE_NEAREST } cv_resize_mode;
typedef struct cv_resize_params { int32_t out_h, out_w, mode, align_corners; } cv_resize_params;

typedef struct cv_axis_params { int32_t axis; } cv_axis_params;
typedef struct cv_slice_params { int32_t axis; int32_t reserved; int64_t start, length; } cv_slice_params;
typedef struct cv_pad_params { int64_t before[CV_MAX_DIMS], after[CV_MAX_DIMS]; float value; } cv_pad_params;
typedef struct cv_reshape_params { cv_shape shape; } cv_reshape_params;
typedef struct cv_permute_params { int32_t perm[CV_MAX_DIMS]; } cv_permute_params;
typedef struct cv_softmax_params { int32_t axis, log; } cv_softmax_params;
typedef struct cv_dropout_params { float p; } cv_dropout_params;
typedef struct cv_ce_params { float label_smoothing; int32_t ignore_index; } cv_ce_params;
typedef struct cv_smooth_l1_params { float beta; } cv_smooth_l1_params;
typedef struct cv_cast_params { int32_t dtype; } cv_cast_params;

typedef struct cv_sgd_params { float lr, momentum, dampening, weight_decay; int32_t nesterov; } cv_sgd_params;
typedef struct cv_adam_params {
    float lr, beta1, beta2, eps, weight_decay;
    int32_t decoupled; /* 1: AdamW-style decay; 0: L2 added to the gradient */
    int64_t step;      /* 1-based, for bias correction */
} cv_adam_params;
typedef struct cv_rmsprop_params {
    float lr, alpha, eps, momentum, weight_decay;
    int32_t eps_inside_sqrt; /* TensorFlow style: sqrt(v + eps) */
} cv_rmsprop_params;
typedef struct cv_axpby_params { float a, b; } cv_axpby_params;

/* ---- parameter initialisation and tags --------------------------------------- */
typedef enum cv_init_kind {
    CV_INIT_ZEROS = 0, CV_INIT_ONES, CV_INIT_CONSTANT, CV_INIT_NORMAL, CV_INIT_TRUNC_NORMAL,
    CV_INIT_UNIFORM, CV_INIT_KAIMING_NORMAL_FAN_OUT, CV_INIT_KAIMING_NORMAL_FAN_IN,
    CV_INIT_KAIMING_UNIFORM, CV_INIT_XAVIER_UNIFORM
} cv_init_kind;
typedef struct cv_init { int32_t kind; float a, b; } cv_init; /* a: std / value / low; b: high */

enum {
    CV_TAG_NORM = 1u << 0,     /* a normalisation weight or bias (no decay with no_decay_bn_filter_bias) */
    CV_TAG_BIAS = 1u << 1,     /* a bias (same) */
    CV_TAG_BUFFER = 1u << 2,   /* state, not trained: running stats (no gradient) */
    CV_TAG_NO_DECAY = 1u << 3, /* never decayed (class token, positional embedding) */
};

/* ---- the interface ------------------------------------------------------------ */
typedef struct cv_ops_v1 {
    uint32_t struct_size;
    /* graph inputs: 0 = images f32 [N,C,H,W]; 1 = targets (i32 [N] or f32 [N,C] soft) */
    cv_tensor *(*input)(cv_graph *g, int index);
    int (*shape)(const cv_tensor *t, cv_shape *out);  /* CV_OK, or an error for NULL */
    int (*dtype)(const cv_tensor *t);
    int (*training)(const cv_graph *g);               /* 1 while tracing a training step */
    /* a parameter or buffer, named "<scope>.<name>"; created on first use, the
     * same tensor (shape checked) on every later trace */
    cv_tensor *(*param)(cv_graph *g, const char *name, const cv_shape *shape, cv_init init, uint32_t tags);
    cv_tensor *(*op)(cv_graph *g, int op, cv_tensor *const *inputs, int n_inputs, const void *params, size_t params_size);
    cv_tensor *(*constant)(cv_graph *g, const cv_shape *shape, int dtype, float value);
    /* name scopes for parameters and the per-layer summary ("layer1", "0", "conv1") */
    void (*scope_push)(cv_graph *g, const char *fmt, ...) CV_PRINTF(2, 3);
    void (*scope_pop)(cv_graph *g);
    /* record an error (first one wins); returns status */
    int (*fail)(cv_graph *g, int status, const char *fmt, ...) CV_PRINTF(3, 4);
    int (*failed)(const cv_graph *g); /* non-zero once an error is recorded */
} cv_ops_v1;

/* ---- inline helpers (header-only; no ABI cost) --------------------------------- */
static inline cv_shape cv_shape_make(int ndim, const int64_t *dims) {
    cv_shape s = { ndim, 0, { 0 } };
    for (int i = 0; i < ndim && i < CV_MAX_DIMS; i++) s.dim[i] = dims[i];
    return s;
}
#define CV_SHAPE(...) cv_shape_make((int)(sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)), (int64_t[]){ __VA_ARGS__ })

static inline int64_t cv_shape_numel(const cv_shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->dim[i];
    return n;
}

#ifndef __cplusplus
#define CV_OP1(o, g, kind, a, p) (o)->op((g), (kind), (cv_tensor *const[]){ (a) }, 1, (p), sizeof(*(p)))
#define CV_OP2(o, g, kind, a, b, p) (o)->op((g), (kind), (cv_tensor *const[]){ (a), (b) }, 2, (p), sizeof(*(p)))
#else /* C++ (CUDA plugins) has no array compound literals */
#define CV_OP1(o, g, kind, a, p) [&]() { cv_tensor *const in_[] = { (a) }; return (o)->op((g), (kind), in_, 1, (p), sizeof(*(p))); }()
#define CV_OP2(o, g, kind, a, b, p) [&]() { cv_tensor *const in_[] = { (a), (b) }; return (o)->op((g), (kind), in_, 2, (p), sizeof(*(p))); }()
#endif

static inline cv_tensor *cv_unary(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x, int fn, float alpha) {
    cv_unary_params p = { fn, alpha };
    return CV_OP1(o, g, CV_OP_UNARY, x, &p);
}
static inline cv_tensor *cv_binary(const cv_ops_v1 *o, cv_graph *g, cv_tensor *a, cv_tensor *b, int fn) {
    cv_binary_params p = { fn };
    return CV_OP2(o, g, CV_OP_BINARY, a, b, &p);
}
static inline cv_tensor *cv_add(const cv_ops_v1 *o, cv_graph *g, cv_tensor *a, cv_tensor *b) { return cv_binary(o, g, a, b, CV_ADD); }
static inline cv_tensor *cv_mul(const cv_ops_v1 *o, cv_graph *g, cv_tensor *a, cv_tensor *b) { return cv_binary(o, g, a, b, CV_MUL); }
static inline cv_tensor *cv_scalar(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x, int fn, float v) {
    cv_scalar_params p = { fn, v };
    return CV_OP1(o, g, CV_OP_SCALAR, x, &p);
}
static inline cv_tensor *cv_reshape(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x, cv_shape s) {
    cv_reshape_params p = { s };
    return CV_OP1(o, g, CV_OP_RESHAPE, x, &p);
}
static inline cv_tensor *cv_permute(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x, int ndim, const int32_t *perm) {
    cv_permute_params p = { { 0 } };
    for (int i = 0; i < ndim && i < CV_MAX_DIMS; i++) p.perm[i] = perm[i];
    return CV_OP1(o, g, CV_OP_PERMUTE, x, &p);
}
static inline cv_tensor *cv_reduce(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x, int fn, uint32_t axes, int keepdim) {
    cv_reduce_params p = { fn, axes, keepdim };
    return CV_OP1(o, g, CV_OP_REDUCE, x, &p);
}
static inline cv_tensor *cv_softmax(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x, int axis, int log) {
    cv_softmax_params p = { axis, log };
    return CV_OP1(o, g, CV_OP_SOFTMAX, x, &p);
}
static inline cv_tensor *cv_matmul(const cv_ops_v1 *o, cv_graph *g, cv_tensor *a, cv_tensor *b, int ta, int tb) {
    cv_matmul_params p = { ta, tb };
    return CV_OP2(o, g, CV_OP_MATMUL, a, b, &p);
}
static inline cv_tensor *cv_linear(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x, cv_tensor *w, cv_tensor *b) {
    cv_tensor *in[3] = { x, w, b };
    return o->op(g, CV_OP_LINEAR, in, b ? 3 : 2, NULL, 0);
}
static inline cv_tensor *cv_conv2d(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x, cv_tensor *w, cv_tensor *b,
                                   int stride, int pad, int dilation, int groups) {
    cv_conv_params p = { { stride, stride, 1 }, { pad, pad, 0 }, { dilation, dilation, 1 }, groups };
    cv_tensor *in[3] = { x, w, b };
    return o->op(g, CV_OP_CONV2D, in, b ? 3 : 2, &p, sizeof p);
}
static inline cv_tensor *cv_pool2d(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x, int fn, int k, int stride, int pad, int ceil_mode) {
    cv_pool_params p = { fn, { k, k }, { stride, stride }, { pad, pad }, ceil_mode, 1 };
    return CV_OP1(o, g, CV_OP_POOL2D, x, &p);
}
/* scaled-dot-product attention as a plain composition: softmax(q k^T * scale) v */
static inline cv_tensor *cv_attention(const cv_ops_v1 *o, cv_graph *g, cv_tensor *q, cv_tensor *k, cv_tensor *v, float scale) {
    cv_tensor *s = cv_scalar(o, g, cv_matmul(o, g, q, k, 0, 1), CV_S_MUL, scale);
    return cv_matmul(o, g, cv_softmax(o, g, s, -1, 0), v, 0, 0);
}

#ifdef __cplusplus
}
#endif
#endif
