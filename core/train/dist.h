/* core/train/dist.h — data-parallel training glue: the comm component a recipe
 * names ([run] comm = mpi | nccl, options in [comm]) and the few collective steps
 * the trainer makes with it.  With [run] comm = none every call is a cheap no-op
 * (rank 0 of 1), so the trainer calls them unconditionally.
 *
 * Where each call goes (trainer.c / cli_train.c, in this order):
 *
 *   cv_session_open(ctx, recipe, ..., &s, err);
 *   cv_dist_open(&s, &d, err);                  creates the comm (MPI_Init here);
 *                                               before anything writes to out_dir
 *   cv_dist_reshard_sampler(&d, &s, err);       re-creates s.sampler with rank/world
 *                                               (the session made it with world 1)
 *   ... resume from a checkpoint if asked (every rank reads it) ...
 *   cv_dist_sync_params(&d, s.net, err);        params + buffers from rank 0, so every
 *                                               rank starts identical (after resume)
 *   for each epoch:
 *     SET scoring pass: cv_set_begin_pass; cv_set_record for this rank's samples;
 *     cv_dist_allreduce_set(&d, set, err);      then cv_set_end_pass (same mask everywhere)
 *     for each step:
 *       plan = cv_net_plan_get(...);
 *       cv_dist_grads_begin(&d, s.net, last, err);  last: the last micro-step of the
 *                                               optimizer step; arms the engine's
 *                                               gradient-ready hook (overlap)
 *       cv_net_run(plan, &io, err);             forward + backward on this rank's batch
 *                                               (accumulate for micro-steps as usual);
 *                                               full buckets start reducing meanwhile
 *       on the last micro-step, BEFORE optimizer_step (grad scale, norm, clip):
 *       cv_dist_allreduce_grads(&d, s.net, bad, err); gradients := mean over ranks
 *                                               (bad: this rank's loss was not finite
 *                                               in this optimizer step)
 *       optimizer_step(...)                     identical on every rank
 *       logs / progress / checkpoints: only if cv_dist_is_root(&d)
 *       cv_dist_check_in_sync(&d, s.net, err);  on EVERY rank before a checkpoint (optional)
 *       cv_dist_average(&d, vals, n, err)       optional: loss / metric sums for the log
 *       cv_dist_any(&d, stop_requested, &stop, err)  once per step: stop together
 *     validation: each rank may evaluate all of it, or a shard + cv_dist_average
 *   cv_dist_barrier(&d, err);                   before the final summary, optional
 *   cv_dist_close(&d);                          MPI_Finalize; after cv_session_close is fine
 *
 * Every rank must make the same calls in the same order.  In particular a rank
 * must not skip cv_dist_allreduce_grads because its own loss is not finite (the
 * trainer's nan_skip "continue"): it passes bad = 1 instead, and every rank's
 * gradient becomes NaN, so optimizer_step's grad-norm check then skips or stops
 * the step on every rank alike.  A peer that dies makes the next collective fail
 * with a cv_error (timeout [comm] timeout_s) instead of hanging.
 *
 * Gradient buckets: the flat gradient buffer is cut into contiguous buckets of
 * [run] comm_bucket_mib.  With [run] comm_overlap (and a comm that has the ABI
 * 1.1 non-blocking calls) a bucket starts its non-blocking all-reduce as soon as
 * the engine reports every element of it final, while backward goes on; the
 * reduction runs in place on the gradient buffer when the backend's memory is
 * what the comm takes (host memory for mpi, device memory for nccl), otherwise
 * on a host copy.  Without overlap: one blocking all-reduce of a host copy after
 * the backward pass. */
#ifndef CV_TRAIN_DIST_H
#define CV_TRAIN_DIST_H

#include "data/set.h"
#include "engine.h"
#include "train/session.h"

typedef struct cv_dist_bucket {
    int64_t first, n;            /* elements of the gradient buffer */
    int64_t pending;             /* elements not reported final yet in this step */
    void *req;                   /* the comm's request while started */
    int32_t started;
} cv_dist_bucket;

typedef struct cv_dist {
    cv_component_ref comm;       /* desc NULL with [run] comm = none */
    const cv_comm_vtable *vt;    /* NULL with [run] comm = none */
    int rank, world;
    float *scratch;              /* host copy of the grad / param buffer */
    int64_t scratch_n;
    /* gradient buckets (see above) */
    int overlap;                 /* [run] comm_overlap, and the comm can do it */
    int64_t bucket_elems;        /* [run] comm_bucket_mib in floats */
    cv_dist_bucket *buckets;
    int n_buckets;
    int64_t bucketed_n;          /* the gradient count the buckets were cut for */
    int *fifo;                   /* bucket indices in the order they started */
    int n_started, n_tested;     /* fifo[0, n_tested) are known to be complete */
    cv_net *net;                 /* set while a step's hook is armed */
    int in_place;                /* reduce the gradient buffer itself, else scratch */
    cv_error hook_err;           /* first failure inside the hook (it cannot return one) */
} cv_dist;

/* Creates the comm component of s's recipe (section "comm"), or a single-process
 * cv_dist for [run] comm = none; bucket options from [run]. */
int cv_dist_open(cv_session *s, cv_dist *d, cv_error *err);
/* Same, from a comm instance created elsewhere (tests); d owns it afterwards.
 * comm.desc == NULL gives the single-process cv_dist.  Overlap on (when the comm
 * can), buckets of CV_DIST_BUCKET_MIB. */
int cv_dist_open_component(cv_component_ref comm, cv_dist *d, cv_error *err);
#define CV_DIST_BUCKET_MIB 4.0
/* overlap 0: the blocking path; bucket_floats >= 1 */
void cv_dist_set_buckets(cv_dist *d, int overlap, int64_t bucket_floats);
/* Waits for reductions still in flight (after an error), then frees everything. */
void cv_dist_close(cv_dist *d);

static inline int cv_dist_rank(const cv_dist *d) { return d->rank; }
static inline int cv_dist_world(const cv_dist *d) { return d->world; }
/* the rank that writes checkpoints, logs and progress */
static inline int cv_dist_is_root(const cv_dist *d) { return d->rank == 0; }

/* The sampler's create args: rank and world size (other fields untouched). */
void cv_dist_sampler_args(const cv_dist *d, cv_create_args *extra);
/* Replaces s->sampler by one created with this rank's shard (no-op for world 1). */
int cv_dist_reshard_sampler(cv_dist *d, cv_session *s, cv_error *err);

/* Parameters (which 0) and buffers (which 3, e.g. BN running stats) from rank 0. */
int cv_dist_sync_params(cv_dist *d, cv_net *net, cv_error *err);
/* Before a training cv_net_run: with overlap, on the last micro-step (last != 0)
 * arms the engine's gradient-ready hook so each bucket starts its reduction as
 * soon as it is final; otherwise disarms it. */
int cv_dist_grads_begin(cv_dist *d, cv_net *net, int last, cv_error *err);
/* Gradient buffer (which 1) := sum over ranks / world: starts the buckets not
 * started yet, waits for all, scales by 1/world.  bad != 0 on any rank (a
 * non-finite loss) makes the result NaN on every rank. */
int cv_dist_allreduce_grads(cv_dist *d, cv_net *net, int bad, cv_error *err);
/* Checks that every rank holds bit-identical parameters (a hash of buffer 0 against
 * rank 0's): ranks that apply the same averaged gradients to the same weights stay
 * identical, so a difference means a bug or a rank that skipped a step.  Every
 * rank gets the same verdict (CV_ERR_INTERNAL naming how many ranks differ).
 * Cheap next to a checkpoint write: call it before each one. */
int cv_dist_check_in_sync(cv_dist *d, cv_net *net, cv_error *err);
/* SET decisions of this pass summed over ranks (see core/data/set.h). */
int cv_dist_allreduce_set(cv_dist *d, cv_set *set, cv_error *err);
/* vals[i] := mean over ranks (f32 on the wire; for logs and metrics). */
int cv_dist_average(cv_dist *d, double *vals, int n, cv_error *err);
/* buf[i] := sum over ranks, in place. */
int cv_dist_allreduce_sum(cv_dist *d, float *buf, int64_t n, cv_error *err);
int cv_dist_broadcast(cv_dist *d, void *buf, size_t bytes, cv_error *err); /* from rank 0 */
/* [run] sync_bn: training batch norm of net uses statistics over every rank (the
 * engine's collective is cv_dist_allreduce_sum on d, which must outlive the net's
 * training runs).  No-op for world 1 (the fused per-rank kernel, same bits).
 * Call before the first training plan is traced (cv_train_reserve). */
void cv_dist_sync_bn(cv_dist *d, cv_net *net, int on);
/* *any := 1 when flag is non-zero on any rank.  For decisions every rank must
 * take at the same step, e.g. stopping on a signal that reached only some ranks
 * (or reached them at different steps): call once per step, stop when *any. */
int cv_dist_any(cv_dist *d, int flag, int *any, cv_error *err);
int cv_dist_barrier(cv_dist *d, cv_error *err);

#endif
