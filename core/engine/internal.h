/* core/engine/internal.h — the engine's private data structures, shared by the
 * files of core/engine/ (graph building, shape inference, autograd, planner,
 * execution, parameter store).  Nothing here crosses the plugin boundary: plugins
 * see cv_tensor / cv_graph only as opaque handles through cvnets/ops.h. */
#ifndef CV_ENGINE_INTERNAL_H
#define CV_ENGINE_INTERNAL_H

#include "engine.h"
#include "host.h"

/* Engine-internal op kinds (never handed to a backend; outside cvnets/ops.h). */
enum {
    CV_OP_ALLREDUCE = 120, /* x -> y := sum over data-parallel ranks of x (f32; syncbn.c) */
};

/* where a storage lives */
enum {
    CV_STORE_ARENA = 0,  /* planned activation memory */
    CV_STORE_PARAM = 1,  /* the flat trainable-parameter buffer */
    CV_STORE_GRAD = 2,   /* the flat gradient buffer (final parameter gradients) */
    CV_STORE_BUFFER = 3, /* the flat buffer store (running stats) */
};

/* what a tensor is, for autograd and planning */
enum {
    CV_T_ALIAS = -1, /* for cv_graph_new_tensor: an activation whose storage the caller sets */
    CV_T_ACT = 0,    /* produced by a node */
    CV_T_INPUT = 1,  /* graph input (images, targets): uploaded each step */
    CV_T_PARAM = 2,  /* trainable parameter */
    CV_T_BUFFER = 3, /* buffer (CV_TAG_BUFFER): no gradient */
};

struct cv_tensor {
    cv_graph *g;
    int32_t id;
    int32_t dtype;
    cv_shape shape;
    int32_t kind;          /* CV_T_* */
    int32_t producer;      /* node index, -1 for inputs and params */
    int32_t storage;       /* index into g->storages */
    int32_t param;         /* index into the net's param table, or -1 */
    int64_t offset;        /* bytes into the storage (views) */
    int32_t requires_grad;
    int32_t is_output;     /* loss / logits: kept alive to the end of the step */
};

typedef struct cv_storage {
    int32_t where;         /* CV_STORE_* */
    int32_t rep;           /* union-find representative after in-place merging */
    int64_t bytes;
    int64_t offset;        /* bytes: arena offset (planned) or flat-buffer offset */
    int32_t def, last;     /* first defining node, last reading node */
    int32_t is_workspace;
    int32_t pinned;        /* graph input/output: never merged in place */
} cv_storage;

typedef struct cv_node {
    int32_t op;
    int32_t n_in, n_out;
    int32_t io;            /* index into g->ids: n_in inputs then n_out outputs */
    int32_t params_off;    /* byte offset into g->pbytes, -1 when no params */
    uint32_t params_size;
    int32_t scope;         /* index into g->scopes, -1 at top level */
    int32_t is_view;       /* no kernel: outputs alias inputs */
    int32_t backward;      /* appended by autograd */
    int32_t teacher;       /* recorded by the distillation teacher (not in MACs / layers) */
    int32_t inplace;       /* output 0 shares the storage of input inplace-1 (planner) */
    int32_t workspace;     /* storage index of the workspace or -1 */
    int64_t macs;
    size_t workspace_bytes;
    void *prepared;
} cv_node;

#define CV_TENSOR_BLOCK 256

struct cv_graph {
    struct cv_net *net;
    int32_t training;
    int32_t soft_targets;
    cv_shape in_shape;
    cv_error err;           /* sticky: first error wins */

    cv_tensor **blocks;     /* tensors in fixed blocks: handles never move */
    int32_t n_blocks, cap_blocks;
    int32_t n_tensors;

    cv_node *nodes;
    int32_t n_nodes, cap_nodes;
    int32_t n_forward;      /* nodes recorded by the model and loss */
    int32_t n_model;        /* nodes recorded by the model alone (eval without targets stops there) */

    int32_t *ids;
    int32_t n_ids, cap_ids;
    unsigned char *pbytes;
    int32_t n_pbytes, cap_pbytes;

    cv_storage *storages;
    int32_t n_storages, cap_storages;

    /* scopes: the current path and interned snapshots for nodes */
    char scope_path[512];
    int32_t scope_len[32];
    int32_t scope_depth;
    int32_t scope_overflow;  /* pushes beyond the stack, ignored symmetrically */
    int32_t cur_scope;       /* interned id of scope_path, -1 when stale */
    int32_t backward_scope;  /* autograd: scope of the forward node being differentiated, or -2 */
    int32_t frozen;          /* tracing the teacher: params become buffers, nodes are not counted */
    char **scopes;
    int32_t n_scopes, cap_scopes;

    int32_t *param_tensor;   /* net param index -> tensor id in this graph (-1) */
    int32_t n_param_tensor;

    cv_tensor *inputs[2];
    cv_tensor *logits, *loss;
    int32_t seed_node;       /* autograd's FILL of dL/dL (its value is the net's loss scale), -1 */
};

/* ---- parameter store (params.c) ----------------------------------------------- */
typedef struct cv_param_entry {
    cv_param_info info;     /* name owned here */
    cv_init init;
    int32_t scope_len;      /* length of the scope prefix of info.name */
} cv_param_entry;

struct cv_engine {
    const cv_host *host;
    cv_backend_ref be;
    uint64_t seed;
};

struct cv_net {
    cv_engine *e;
    cv_component_ref model, loss, teacher;
    int num_classes;

    cv_param_entry *params;
    int32_t n_params, cap_params;
    int64_t n_train, n_buf;         /* elements */
    float *host_train, *host_buf;    /* initial values of params created since the last sync */
    int64_t host_cap_train, host_cap_buf;
    int64_t synced_train, synced_buf; /* elements already on the device */

    void *dev[4];                   /* params, grads, state, buffers */
    int64_t dev_elems[4];
    int32_t state_slots;
    uint64_t generation;            /* bumped whenever a device buffer moves */

    void *arena;
    size_t arena_bytes;
    void *scratch;                  /* f32[16] for SUMSQ / NONFINITE results */

    cv_param_segment *segments;
    int32_t n_segments;
    int32_t synced_once;            /* the device buffers and segments exist */
    void **retired;                 /* old segment arrays: optimizers may hold them until destroy */
    int32_t n_retired, cap_retired;

    cv_plan **plans;
    int32_t n_plans, cap_plans;
    int64_t step;                   /* runs so far: seeds dropout */
    float loss_scale;               /* value of dL/dL that starts backward (dynamic loss scaling; 1) */
    int32_t profiling;              /* time every kernel */
    int32_t naive_plan;             /* tests: no reuse, no in-place (every storage its own bytes) */
    cv_grad_ready_fn grad_ready;    /* gradready.c: the data-parallel hook, or NULL */
    void *grad_ready_ctx;
    cv_collective_fn collective;    /* syncbn.c: SyncBN's all-reduce, or NULL (per-rank batch norm) */
    void *collective_ctx;
};

typedef struct cv_exec_node {
    cv_kernel k;
    int32_t node;
    int32_t needs_seed;
    int64_t calls;                   /* profile */
    double seconds;
} cv_exec_node;

struct cv_plan {
    cv_net *net;
    cv_graph *g;
    cv_shape in_shape;
    int32_t mode, soft_targets, accumulate;
    struct cv_plan *accum;           /* the accumulate variant, built on first use */
    cv_plan_info info;
    size_t arena_bytes;
    cv_exec_node *exec;
    int32_t n_exec;
    int32_t n_exec_model;            /* exec nodes of the model alone */
    cv_ktensor *kt;                  /* all kernel tensors, exec nodes point in */
    uint8_t *layout;                 /* CV_LAYOUT_* per operand slot (indexed like g->ids); NULL: all plain */
    int32_t n_kt;
    uint64_t bound_generation;
    int32_t n_params_built;          /* net params when traced: later ones get zero grads */
    cv_error kerr;                   /* the backend's error of the failing kernel */
    struct cv_grad_ready *grad_ready; /* gradready.c: which params are final after which kernel */
    float *coll_host;                /* syncbn.c: host copy for CV_OP_ALLREDUCE nodes, or NULL */
    struct cv_replay *replay;        /* replay.c: the backend's recording of the kernel sequence, or NULL */
    int32_t replay_off;              /* replay.c: the backend declined to record this plan */
    int64_t replay_records, replay_launches, replay_updates; /* replay.c: counts, for tests and the profile */
};

/* ---- graph.c ------------------------------------------------------------------ */
cv_graph *cv_graph_new(cv_net *net, const cv_shape *in_shape, int training, int soft_targets);
void cv_graph_free(cv_graph *g, const cv_backend_ref *be);
cv_tensor *cv_graph_tensor(cv_graph *g, int32_t id);
int cv_graph_failv(cv_graph *g, int status, const char *fmt, ...) CV_PRINTF(3, 4);
/* a new tensor: ACT / INPUT get their own arena storage; PARAM / BUFFER / ALIAS
 * (an activation) get none, the caller sets t->storage */
cv_tensor *cv_graph_new_tensor(cv_graph *g, int dtype, const cv_shape *shape, int32_t kind);
int32_t cv_graph_new_storage(cv_graph *g, int where, int64_t bytes, int64_t offset);
/* record a node; outputs already created; returns node index or -1 */
int32_t cv_graph_add_node(cv_graph *g, int op, cv_tensor *const *in, int n_in, cv_tensor *const *out, int n_out,
                          const void *params, size_t params_size);
/* run shape inference and record an op (forward or internal): the autograd builder */
cv_tensor *cv_graph_emit(cv_graph *g, int op, cv_tensor *const *in, int n_in, const void *params, size_t params_size);
/* an alias of x with another shape of the same size (a RESHAPE view node) */
cv_tensor *cv_graph_view(cv_graph *g, cv_tensor *x, const cv_shape *shape);
/* slice: a view when the range is contiguous, else a SLICE node */
cv_tensor *cv_graph_slice(cv_graph *g, cv_tensor *x, const cv_slice_params *p);
cv_tensor *cv_graph_fill(cv_graph *g, const cv_shape *shape, int dtype, float value);
/* elementwise builders for autograd and syncbn.c (NULL in, NULL out: chains stop at the first error) */
cv_tensor *cv_graph_binary(cv_graph *g, cv_tensor *a, cv_tensor *b, int fn);
cv_tensor *cv_graph_scalar(cv_graph *g, cv_tensor *x, int fn, float v);
cv_tensor *cv_graph_unary(cv_graph *g, cv_tensor *x, int fn);
static inline int32_t *cv_node_in(const cv_graph *g, const cv_node *n) { return g->ids + n->io; }
static inline int32_t *cv_node_out(const cv_graph *g, const cv_node *n) { return g->ids + n->io + n->n_in; }
static inline const void *cv_node_params(const cv_graph *g, const cv_node *n) {
    return n->params_off < 0 ? NULL : g->pbytes + n->params_off;
}

/* ---- shape.c ------------------------------------------------------------------- */
const char *cv_op_name(int op);
const char *cv_dtype_name(int dtype);
size_t cv_dtype_size(int dtype);
/* "[8,3,32,32] f32" into buf */
const char *cv_shape_str(const cv_shape *s, char *buf, size_t n);
int cv_shape_valid(const cv_shape *s, int dtype, int64_t *bytes);
int cv_shape_equal(const cv_shape *a, const cv_shape *b);
int cv_broadcast_shape(const cv_shape *a, const cv_shape *b, cv_shape *out);
/* The expected params struct size of a forward or internal op, or -1 when unknown;
 * 0 when the op takes no params. */
int cv_op_params_size(int op);
/* Infer output shapes and dtypes for op (params validated), or fill g's error
 * naming op and shapes.  Returns the output count (>=1) or -1. */
int cv_infer(cv_graph *g, int op, cv_tensor *const *in, int n_in, const void *params,
             cv_shape *out_shape, int32_t *out_dtype, int max_out);
int64_t cv_op_macs(int op, cv_tensor *const *in, int n_in, const cv_shape *out0, const void *params);

/* ---- params.c ------------------------------------------------------------------ */
cv_tensor *cv_graph_param(cv_graph *g, const char *name, const cv_shape *shape, cv_init init, uint32_t tags);
int cv_net_sync_buffers(cv_net *n, cv_error *err); /* device buffers hold every param */
void cv_net_params_free(cv_net *n);
void cv_param_init_values(float *dst, const cv_shape *shape, cv_init init, uint64_t seed, const char *name,
                          const cv_host *host);

/* ---- autograd.c ------------------------------------------------------------------ */
/* append the backward pass of g->loss; accumulate selects AXPBY into the grad buffer */
int cv_autograd(cv_graph *g, int accumulate);

/* ---- planner.c ----------------------------------------------------------------------- */
/* liveness, in-place merging, best-fit arena offsets; fills peak/naive */
int cv_plan_memory(cv_graph *g, size_t *peak_bytes, size_t *naive_bytes, cv_error *err);
/* the storage holding tensor t after in-place merging */
int32_t cv_storage_rep(const cv_graph *g, int32_t s);

/* ---- layout.c ----------------------------------------------------------------------------- */
/* choose p->layout from the backend's layout_class (before cv_plan_prepare) */
int cv_plan_layouts(cv_plan *p, cv_error *err);
/* the layout the plan gives tensor t (CV_LAYOUT_*), for tests and tools */
int cv_tensor_layout(const cv_plan *p, const cv_tensor *t);

/* ---- exec.c ------------------------------------------------------------------------- */
/* the dense logical (plain NCHW strides) kernel view of t, data NULL */
void cv_fill_ktensor(cv_ktensor *k, const cv_tensor *t);
int cv_plan_prepare(cv_plan *p, cv_error *err);   /* backend->prepare per kernel node */
int cv_plan_compile(cv_plan *p, cv_error *err);   /* kernels with resolved pointers */
int cv_plan_bind(cv_plan *p, cv_error *err);      /* re-resolve after buffers moved */
int cv_plan_execute(cv_plan *p, cv_step_io *io, cv_error *err);
void cv_plan_release(cv_plan *p);
/* the kernel loop of a step (exec.c): the first n_exec kernels one by one */
int cv_exec_kernels(cv_plan *p, int32_t n_exec, int hook, cv_error *err);
int cv_exec_one(cv_plan *p, cv_exec_node *x);
int cv_exec_fail(cv_plan *p, const cv_exec_node *x, int st, cv_error *err);

/* ---- replay.c: the kernel sequence recorded by the backend (ABI 1.2, CUDA graphs) ---- */
/* 1 when this step may run as a recording: the backend records, it did not decline
 * this plan, and nothing runs between kernels (profiling, the gradient-ready hook,
 * SyncBN's host all-reduce) */
int cv_replay_wanted(const cv_plan *p, int hook);
/* the first n_exec kernels: the recording launched (re-recorded when stale), or one by one */
int cv_replay_run(cv_plan *p, int32_t n_exec, cv_error *err);
void cv_replay_free(cv_plan *p);

/* ---- gradready.c ------------------------------------------------------------------------ */
/* the gradient-ready schedule of p (built on first use when the net has a hook) */
int cv_grad_ready_begin(cv_plan *p, cv_error *err);
/* report the params whose gradients are final after exec node e (p->n_exec: after the loop) */
int cv_grad_ready_after(cv_plan *p, int32_t e, cv_error *err);
void cv_grad_ready_free(cv_plan *p);

/* ---- syncbn.c ----------------------------------------------------------------------------- */
/* training batch norm over every rank (the net has a collective): in = x, gamma,
 * beta, running mean, running var; returns y */
cv_tensor *cv_syncbn_trace(cv_graph *g, cv_tensor *const *in, const cv_norm_params *p);
/* the host buffer CV_OP_ALLREDUCE nodes need (at compile time) */
int cv_collective_prepare(cv_plan *p, cv_error *err);
/* run one CV_OP_ALLREDUCE kernel: download, the net's collective, upload */
int cv_collective_run(cv_plan *p, const cv_kernel *k, cv_error *err);

/* helpers */
uint64_t cv_hash_str(const char *s);
void *cv_grow(void *p, int32_t *cap, int32_t need, size_t elem);

#endif
