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
 *       cv_net_run(plan, &io, err);             forward + backward on this rank's batch
 *                                               (accumulate for micro-steps as usual)
 *       on the last micro-step, BEFORE optimizer_step (grad scale, norm, clip):
 *       cv_dist_allreduce_grads(&d, s.net, err); gradients := mean over ranks
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
 * trainer's nan_skip "continue"): all-reduce anyway — a NaN on one rank makes the
 * mean NaN on all, optimizer_step's grad-norm check then skips or stops the step
 * on every rank alike.  A peer that dies makes the next collective fail with a
 * cv_error (timeout [comm] timeout_s) instead of hanging. */
#ifndef CV_TRAIN_DIST_H
#define CV_TRAIN_DIST_H

#include "data/set.h"
#include "engine.h"
#include "train/session.h"

typedef struct cv_dist {
    cv_component_ref comm;       /* desc NULL with [run] comm = none */
    const cv_comm_vtable *vt;    /* NULL with [run] comm = none */
    int rank, world;
    float *scratch;              /* host copy of the grad / param buffer */
    int64_t scratch_n;
} cv_dist;

/* Creates the comm component of s's recipe (section "comm"), or a single-process
 * cv_dist for [run] comm = none.  Fails for a comm with device buffers (nccl)
 * until the CUDA backend wires them (the message says so). */
int cv_dist_open(cv_session *s, cv_dist *d, cv_error *err);
/* Same, from a comm instance created elsewhere (tests); d owns it afterwards.
 * comm.desc == NULL gives the single-process cv_dist. */
int cv_dist_open_component(cv_component_ref comm, cv_dist *d, cv_error *err);
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
/* Gradient buffer (which 1) := sum over ranks / world, as one flat bucket on a
 * host copy.  Not overlapped with backward. */
int cv_dist_allreduce_grads(cv_dist *d, cv_net *net, cv_error *err);
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
/* *any := 1 when flag is non-zero on any rank.  For decisions every rank must
 * take at the same step, e.g. stopping on a signal that reached only some ranks
 * (or reached them at different steps): call once per step, stop when *any. */
int cv_dist_any(cv_dist *d, int flag, int *any, cv_error *err);
int cv_dist_barrier(cv_dist *d, cv_error *err);

#endif
