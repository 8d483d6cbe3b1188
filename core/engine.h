/* core/engine.h — the host-internal tensor engine: parameter store, traced graphs,
 * autograd, memory plans and their execution on a backend.  Used by the trainer,
 * evaluator, `summary`, `plan` and `bench`; plugins only see cvnets/ops.h.
 *
 * Life cycle:
 *   cv_engine_create(backend)            one per run
 *   cv_net_create(engine, model, loss)   model + loss instances (not owned)
 *   cv_net_plan_get(net, shape, mode)    trace + autograd + memory plan, cached
 *                                        by (shape, mode); the first trace
 *                                        creates and initialises parameters
 *   cv_net_run(plan, batch)              forward (+ backward) on the backend
 *   optimizer / EMA work on the flat buffers through cv_net_run_update etc. */
#ifndef CV_CORE_ENGINE_H
#define CV_CORE_ENGINE_H

#include <cvnets/cvnets.h>

typedef struct cv_engine cv_engine;
typedef struct cv_net cv_net;
typedef struct cv_plan cv_plan;

typedef enum cv_mode { CV_MODE_TRAIN = 0, CV_MODE_EVAL = 1 } cv_mode;

/* A backend instance as the engine sees it. */
typedef struct cv_backend_ref {
    const cv_backend_vtable *vt;
    void *self;
} cv_backend_ref;

typedef struct cv_component_ref {
    const cv_component_desc *desc;
    void *self;
} cv_component_ref;

cv_engine *cv_engine_create(const cv_host *host, cv_backend_ref backend, uint64_t seed, cv_error *err);
void cv_engine_destroy(cv_engine *e);
const cv_ops_v1 *cv_engine_ops(void); /* the "cv.ops.v1" table */

/* model: a model component; loss: a loss component or desc == NULL (eval only) */
cv_net *cv_net_create(cv_engine *e, cv_component_ref model, cv_component_ref loss, int num_classes, cv_error *err);
void cv_net_destroy(cv_net *n);

/* in_shape is [N,C,H,W]; soft_targets selects f32 [N,C] targets over i32 [N] */
cv_plan *cv_net_plan_get(cv_net *n, const cv_shape *in_shape, cv_mode mode, int soft_targets, cv_error *err);

typedef struct cv_plan_info {
    size_t peak_bytes;        /* planned activations + workspace of one step */
    size_t naive_bytes;       /* sum of all intermediate sizes (no reuse) */
    size_t param_bytes;       /* params + grads + optimizer state */
    int64_t macs;             /* forward multiply-adds for the whole batch */
    int n_nodes;
} cv_plan_info;
void cv_plan_info_get(const cv_plan *p, cv_plan_info *out);

/* One step.  images: host f32 NCHW; targets: host i32[N] or f32[N][C].
 * Train mode writes gradients into the grad buffer (overwriting, or adding when
 * accumulate != 0) and returns the loss; logits_out (host, may be NULL) gets
 * [N][num_classes]. */
typedef struct cv_step_io {
    const float *images;
    const void *targets;
    float *logits_out;
    double loss;              /* out */
    int accumulate;
} cv_step_io;
int cv_net_run(cv_plan *p, cv_step_io *io, cv_error *err);

/* ---- parameters ----------------------------------------------------------------- */
typedef struct cv_param_info {
    const char *name;
    cv_shape shape;
    int64_t offset;           /* elements into the flat buffer of its class */
    uint32_t tags;            /* CV_TAG_BUFFER entries live in the buffer store */
} cv_param_info;

int cv_net_param_count(const cv_net *n);               /* params and buffers */
const cv_param_info *cv_net_param(const cv_net *n, int i);
int64_t cv_net_trainable_elems(const cv_net *n);
/* host copies of one parameter / buffer (for checkpoints, EMA, pretrained loads) */
int cv_net_param_read(cv_net *n, int i, float *dst, cv_error *err);
int cv_net_param_write(cv_net *n, int i, const float *src, cv_error *err);
/* allocate optimizer state: slots f32 per trainable element, zeroed */
int cv_net_alloc_state(cv_net *n, int slots, cv_error *err);
/* the optimizer's view: segments + run_update/sumsq callbacks bound to this net */
void cv_net_optim_step_init(cv_net *n, cv_optim_step *s);
/* whole-buffer helpers on the backend: 0 params, 1 grads, 2 state, 3 buffers */
int cv_net_buffer_read(cv_net *n, int which, float *dst, int64_t count, cv_error *err);
int cv_net_buffer_write(cv_net *n, int which, const float *src, int64_t count, cv_error *err);
int64_t cv_net_buffer_elems(const cv_net *n, int which);
int cv_net_grad_scale(cv_net *n, float factor, cv_error *err);
int cv_net_grad_sumsq(cv_net *n, double *out, cv_error *err);

/* ---- additions by the engine (append-only) ------------------------------------------ */
/* Per-layer summary: forward MACs and trainable parameter counts per name scope,
 * scopes cut after max_depth components (0 = full path; "" is the top level), in
 * first-use order.  Returns the number of rows (out may be NULL to count them);
 * at most max rows are written. */
typedef struct cv_layer_info {
    char scope[128];
    int64_t macs;
    int64_t params;
} cv_layer_info;
int cv_plan_layers(const cv_plan *p, int max_depth, cv_layer_info *out, int max);
/* The step counter that seeds dropout / drop path (per (engine seed, step, node));
 * cv_net_run advances it after each training step.  Set it when resuming so a
 * resumed run is identical. */
void cv_net_set_step(cv_net *n, int64_t step);
/* Dynamic loss scaling: backward starts from dL/dL = scale instead of 1, so every
 * gradient (the flat gradient buffer included) comes out multiplied by it; the
 * trainer divides it out.  The loss value itself is not scaled.  Default 1. */
void cv_net_set_loss_scale(cv_net *n, float scale);
/* bytes of the activation arena allocated so far (the largest plan's peak) */
size_t cv_net_arena_bytes(const cv_net *n);
int64_t cv_net_get_step(const cv_net *n);
/* Distillation: a teacher model (not owned) traced into every plan that has a loss,
 * in eval mode, its logits handed to the loss as teacher_logits.  Its parameters
 * are named "teacher.<name>", stored as buffers (CV_TAG_BUFFER added: no gradient,
 * no optimizer state; load them with cv_net_param_write).  Call before the first
 * cv_net_plan_get. */
int cv_net_set_teacher(cv_net *n, cv_component_ref teacher, cv_error *err);
/* Per-op profile (for `bench`): with profiling on, every kernel is timed (with a
 * backend sync after each, so steps get slower).  cv_plan_profile sums the time
 * since the plan was built (or reset) per (op kind, forward/backward), with the
 * multiply-adds those kernels did; returns the row count (rows beyond max are
 * dropped), heaviest first. */
typedef struct cv_op_profile {
    int32_t op;             /* cv_op */
    int32_t backward;       /* 1: appended by autograd or a parameter update path */
    int64_t calls;
    double seconds;
    int64_t macs;           /* multiply-adds per call summed over calls (conv, matmul, linear) */
} cv_op_profile;
void cv_net_set_profiling(cv_net *n, int on);
int cv_plan_profile(const cv_plan *p, cv_op_profile *out, int max);
void cv_plan_profile_reset(cv_plan *p);
/* Gradient-ready hook (data-parallel overlap, core/engine/gradready.c): during a
 * training cv_net_run, fn(ctx, first, count) is called once per trainable
 * parameter with its slice [first, first + count) of the flat gradient buffer,
 * right after the last kernel that writes or reads that slice (the backend has
 * been synchronised: the values are in memory), so the caller may reduce it in
 * place while backward goes on.  Parameters that the plan does not touch, and
 * those created by a later trace (zero-filled), are reported after the last
 * kernel.  The schedule is computed once per plan.  fn NULL switches it off; the
 * caller sets it only for the runs that should report (e.g. the last micro-step
 * of gradient accumulation).  Inside fn only cv_net_buffer_data and
 * cv_net_buffer_read_range may be called on the net. */
typedef void (*cv_grad_ready_fn)(void *ctx, int64_t first, int64_t count);
void cv_net_set_grad_ready(cv_net *n, cv_grad_ready_fn fn, void *ctx);
/* The backend memory of flat buffer which (0 params, 1 grads, 2 state, 3 buffers),
 * valid until a new trace creates parameters; *host_accessible (may be NULL) is
 * the backend's host_accessible: 1 when it is ordinary host memory. */
void *cv_net_buffer_data(cv_net *n, int which, int *host_accessible);
/* Host copy of [first, first + count) of flat buffer which. */
int cv_net_buffer_read_range(cv_net *n, int which, int64_t first, int64_t count, float *dst, cv_error *err);
/* SyncBN (core/engine/syncbn.c): with a collective set, training batch norm
 * (training = 1 in a training plan) uses mean and variance over every rank: it
 * is traced as per-channel sum x and sum x^2 (plus the element count), one
 * fn(ctx, buf, count, err) that must replace buf[0, count) by its sum over all
 * ranks in place (every rank calls it in the same order), then the normalisation
 * from the global statistics, and the running statistics updated from them
 * (unbiased variance over the global count).  Backward calls fn once more per
 * layer (the sums of dL/dstats).  fn's data is a host copy (any backend); a
 * failure (a status other than CV_OK, with err set) ends the step with the
 * layer named.  Eval plans keep the fused kernel.  Set it before the first
 * training cv_net_plan_get (plans already traced keep their form); NULL: off. */
typedef int (*cv_collective_fn)(void *ctx, float *buf, int64_t count, cv_error *err);
void cv_net_set_collective(cv_net *n, cv_collective_fn fn, void *ctx);

#endif
