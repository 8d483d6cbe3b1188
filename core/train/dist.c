/* core/train/dist.c — data-parallel glue between the trainer and a comm
 * component (see dist.h for where each call goes in a training step).
 * Parameters travel as one flat host copy; gradients in buckets, overlapped
 * with backward through the engine's gradient-ready hook (or, with overlap off,
 * as one flat host copy after backward). */
#include "train/dist.h"
#include "options.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

static int single(cv_dist *d) {
    memset(d, 0, sizeof *d);
    d->rank = 0;
    d->world = 1;
    d->bucket_elems = (int64_t)(CV_DIST_BUCKET_MIB * 1048576.0 / sizeof(float));
    return CV_OK;
}

/* the ABI 1.1 members exist in this comm's table and are set */
static int has_nonblocking(const cv_comm_vtable *vt) {
    return vt->struct_size >= offsetof(cv_comm_vtable, wait) + sizeof vt->wait && vt->iallreduce_sum_f32 && vt->wait;
}

void cv_dist_set_buckets(cv_dist *d, int overlap, int64_t bucket_floats) {
    d->overlap = overlap && d->vt && has_nonblocking(d->vt);
    d->bucket_elems = bucket_floats < 1 ? 1 : bucket_floats;
    d->bucketed_n = -1; /* recut on the next step */
}

int cv_dist_open_component(cv_component_ref comm, cv_dist *d, cv_error *err) {
    single(d);
    if (!comm.desc) return CV_OK;
    const cv_comm_vtable *vt = comm.desc->vtable;
    const char *why = NULL;
    if (comm.desc->kind != CV_KIND_COMM) why = "is not a comm component";
    else if (!vt || vt->struct_size < offsetof(cv_comm_vtable, iallreduce_sum_f32) || !vt->rank || !vt->world_size ||
             !vt->allreduce_sum_f32 || !vt->broadcast || !vt->barrier)
        why = "has an incomplete comm vtable";
    if (why) {
        int rc = cv_set_error(err, CV_ERR_ABI, "data-parallel: comm plugin %s %s", comm.desc->name, why);
        cv_component_ref_destroy(&comm);
        return rc;
    }
    d->comm = comm;
    d->vt = vt;
    cv_dist_set_buckets(d, 1, d->bucket_elems);
    d->rank = vt->rank(comm.self);
    d->world = vt->world_size(comm.self);
    if (d->world < 1 || d->rank < 0 || d->rank >= d->world) {
        int rc = cv_set_error(err, CV_ERR_INTERNAL, "data-parallel: comm %s reports rank %d of a world of %d",
                              comm.desc->name, d->rank, d->world);
        cv_dist_close(d);
        return rc;
    }
    return CV_OK;
}

int cv_dist_open(cv_session *s, cv_dist *d, cv_error *err) {
    single(d);
    const char *name = cv_recipe_component(s->recipe, "comm");
    if (!name || strcmp(name, "none") == 0) return CV_OK;
    cv_component_ref ref = { 0 };
    if (cv_session_create_component(s, "comm", NULL, &ref, err)) return err->status;
    if (cv_dist_open_component(ref, d, err)) return err->status;
    double mib = cv_recipe_float(s->recipe, "run", "comm_bucket_mib");
    cv_dist_set_buckets(d, (int)cv_recipe_int(s->recipe, "run", "comm_overlap"),
                        (int64_t)(mib * 1048576.0 / sizeof(float)));
    return CV_OK;
}

static void wait_all(cv_dist *d, cv_error *err);

void cv_dist_close(cv_dist *d) {
    if (!d) return;
    cv_error ignored;
    cv_error_init(&ignored);
    wait_all(d, &ignored); /* a failed step may leave reductions writing into the buffers */
    if (d->net) cv_net_set_grad_ready(d->net, NULL, NULL);
    cv_free(d->scratch);
    cv_free(d->buckets);
    cv_free(d->fifo);
    cv_component_ref_destroy(&d->comm);
    single(d);
}

void cv_dist_sampler_args(const cv_dist *d, cv_create_args *extra) {
    extra->rank = d->rank;
    extra->world_size = d->world;
}

int cv_dist_reshard_sampler(cv_dist *d, cv_session *s, cv_error *err) {
    if (d->world == 1 || !s->sampler.desc) return CV_OK;
    if (!s->dataset_train.desc)
        return cv_set_error(err, CV_ERR_INVALID, "data-parallel: the session has a sampler but no training dataset");
    const cv_dataset_vtable *dvt = s->dataset_train.desc->vtable;
    cv_create_args extra;
    memset(&extra, 0, sizeof extra);
    extra.struct_size = sizeof extra;
    extra.split = CV_SPLIT_TRAIN;
    extra.dataset_length = dvt->length(s->dataset_train.self);
    cv_dist_sampler_args(d, &extra);
    cv_component_ref fresh = { 0 };
    if (cv_session_create_component(s, "sampler", &extra, &fresh, err)) return err->status;
    cv_component_ref_destroy(&s->sampler);
    s->sampler = fresh;
    return CV_OK;
}

static int comm_error(cv_dist *d, cv_error *local, cv_error *err, const char *what, long long n) {
    return cv_set_error(err, local->status ? local->status : CV_ERR_IO, "data-parallel (rank %d of %d): %s (%lld): %s",
                        d->rank, d->world, what, n, local->message[0] ? local->message : "comm failed");
}

int cv_dist_allreduce_sum(cv_dist *d, float *buf, int64_t n, cv_error *err) {
    if (d->world == 1 || n == 0) return CV_OK;
    cv_error local;
    cv_error_init(&local);
    if (d->vt->allreduce_sum_f32(d->comm.self, buf, n, &local))
        return comm_error(d, &local, err, "all-reduce of floats", (long long)n);
    return CV_OK;
}

static int sync_bn_sum(void *ctx, float *buf, int64_t n, cv_error *err) { return cv_dist_allreduce_sum(ctx, buf, n, err); }

void cv_dist_sync_bn(cv_dist *d, cv_net *net, int on) {
    cv_net_set_collective(net, on && d->world > 1 ? sync_bn_sum : NULL, d);
}

int cv_dist_broadcast(cv_dist *d, void *buf, size_t bytes, cv_error *err) {
    if (d->world == 1 || bytes == 0) return CV_OK;
    cv_error local;
    cv_error_init(&local);
    if (d->vt->broadcast(d->comm.self, buf, bytes, 0, &local))
        return comm_error(d, &local, err, "broadcast from rank 0 of bytes", (long long)bytes);
    return CV_OK;
}

int cv_dist_any(cv_dist *d, int flag, int *any, cv_error *err) {
    float v = flag ? 1.0f : 0.0f;
    if (cv_dist_allreduce_sum(d, &v, 1, err)) return err->status;
    *any = v > 0.0f;
    return CV_OK;
}

int cv_dist_barrier(cv_dist *d, cv_error *err) {
    if (d->world == 1) return CV_OK;
    cv_error local;
    cv_error_init(&local);
    if (d->vt->barrier(d->comm.self, &local)) return comm_error(d, &local, err, "barrier of ranks", (long long)d->world);
    return CV_OK;
}

static int scratch(cv_dist *d, int64_t n, cv_error *err) {
    if (n <= d->scratch_n) return CV_OK;
    cv_free(d->scratch);
    d->scratch_n = 0;
    d->scratch = cv_alloc_array((size_t)n, sizeof(float));
    if (!d->scratch)
        return cv_set_error(err, CV_ERR_NOMEM, "data-parallel: out of memory for a %lld-float host bucket", (long long)n);
    d->scratch_n = n;
    return CV_OK;
}

static const char *const buffer_names[] = { "parameters", "gradients", "optimizer state", "buffers" };

/* Rank 0's element count against ours first: a mismatch (different recipes or
 * models on different ranks) would otherwise make the collectives disagree. */
static int same_count(cv_dist *d, int which, int64_t n, cv_error *err) {
    int64_t root_n = n;
    if (cv_dist_broadcast(d, &root_n, sizeof root_n, err)) return err->status;
    if (root_n != n)
        return cv_set_error(err, CV_ERR_INVALID,
                            "data-parallel: rank %d has %lld %s but rank 0 has %lld (do all ranks run the same recipe?)",
                            d->rank, (long long)n, buffer_names[which], (long long)root_n);
    return CV_OK;
}

int cv_dist_sync_params(cv_dist *d, cv_net *net, cv_error *err) {
    if (d->world == 1) return CV_OK;
    static const int which[] = { 0, 3 };
    for (size_t k = 0; k < sizeof which / sizeof which[0]; k++) {
        int64_t n = cv_net_buffer_elems(net, which[k]);
        if (same_count(d, which[k], n, err)) return err->status;
        if (n == 0) continue;
        if (scratch(d, n, err)) return err->status;
        if (d->rank == 0 && cv_net_buffer_read(net, which[k], d->scratch, n, err)) return err->status;
        if (cv_dist_broadcast(d, d->scratch, (size_t)n * sizeof(float), err)) return err->status;
        if (d->rank != 0 && cv_net_buffer_write(net, which[k], d->scratch, n, err)) return err->status;
    }
    return CV_OK;
}

/* ---- gradients ---------------------------------------------------------------------- */
/* Blocking: one host copy of the whole buffer, all-reduced, scaled, written back. */
static int allreduce_grads_blocking(cv_dist *d, cv_net *net, int bad, cv_error *err) {
    int64_t n = cv_net_buffer_elems(net, 1);
    if (n == 0) return CV_OK;
    if (bad && cv_net_grad_scale(net, NAN, err)) return err->status; /* makes the mean NaN everywhere */
    if (scratch(d, n, err)) return err->status;
    if (cv_net_buffer_read(net, 1, d->scratch, n, err)) return err->status;
    cv_error local;
    cv_error_init(&local);
    if (d->vt->allreduce_sum_f32(d->comm.self, d->scratch, n, &local))
        return comm_error(d, &local, err, "gradient all-reduce of floats", (long long)n);
    const float inv = 1.0f / (float)d->world;
    for (int64_t i = 0; i < n; i++) d->scratch[i] *= inv;
    return cv_net_buffer_write(net, 1, d->scratch, n, err);
}

/* contiguous buckets of bucket_elems over n gradients (the last one shorter) */
static int cut_buckets(cv_dist *d, int64_t n, cv_error *err) {
    if (n == d->bucketed_n) return CV_OK;
    int64_t nb = (n + d->bucket_elems - 1) / d->bucket_elems;
    cv_free(d->buckets);
    cv_free(d->fifo);
    d->bucketed_n = -1;
    d->n_buckets = 0;
    d->buckets = cv_alloc_array((size_t)nb + 1, sizeof *d->buckets);
    d->fifo = cv_alloc_array((size_t)nb + 1, sizeof *d->fifo);
    if (!d->buckets || !d->fifo)
        return cv_set_error(err, CV_ERR_NOMEM, "data-parallel: out of memory for %lld gradient buckets", (long long)nb);
    for (int64_t b = 0; b < nb; b++) {
        d->buckets[b].first = b * d->bucket_elems;
        d->buckets[b].n = b + 1 < nb ? d->bucket_elems : n - b * d->bucket_elems;
    }
    d->n_buckets = (int)nb;
    d->bucketed_n = n;
    return CV_OK;
}

/* starts bucket b's non-blocking all-reduce; failures go to hook_err */
static void start_bucket(cv_dist *d, int b) {
    cv_dist_bucket *k = &d->buckets[b];
    k->started = 1;
    if (d->hook_err.status) return;
    float *buf;
    if (d->in_place) {
        buf = (float *)cv_net_buffer_data(d->net, 1, NULL) + k->first;
    } else {
        buf = d->scratch + k->first;
        if (cv_net_buffer_read_range(d->net, 1, k->first, k->n, buf, &d->hook_err)) return;
    }
    cv_error local;
    cv_error_init(&local);
    if (d->vt->iallreduce_sum_f32(d->comm.self, buf, k->n, &k->req, &local)) {
        k->req = NULL;
        comm_error(d, &local, &d->hook_err, "gradient bucket all-reduce of floats", (long long)k->n);
        return;
    }
    d->fifo[d->n_started++] = b;
}

/* Lets started reductions progress (MPI moves data only inside its calls):
 * tests the oldest one not known to be complete. */
static void progress(cv_dist *d) {
    if (!d->vt->test || d->hook_err.status) return;
    while (d->n_tested < d->n_started) {
        int done = 0;
        cv_error local;
        cv_error_init(&local);
        cv_dist_bucket *k = &d->buckets[d->fifo[d->n_tested]];
        if (d->vt->test(d->comm.self, k->req, &done, &local)) {
            comm_error(d, &local, &d->hook_err, "gradient bucket all-reduce of floats", (long long)k->n);
            return;
        }
        if (!done) return;
        d->n_tested++;
    }
}

/* the engine's gradient-ready hook: [first, first + count) of the gradients is final */
static void grad_ready(void *ctx, int64_t first, int64_t count) {
    cv_dist *d = ctx;
    int64_t end = first + count;
    for (int64_t b = first / d->bucket_elems; b < d->n_buckets && d->buckets[b].first < end; b++) {
        cv_dist_bucket *k = &d->buckets[b];
        int64_t lo = first > k->first ? first : k->first, hi = end < k->first + k->n ? end : k->first + k->n;
        k->pending -= hi - lo;
        if (k->pending == 0 && !k->started) start_bucket(d, (int)b);
    }
    progress(d);
}

int cv_dist_grads_begin(cv_dist *d, cv_net *net, int last, cv_error *err) {
    if (d->world == 1 || !d->overlap) return CV_OK;
    cv_net_set_grad_ready(net, NULL, NULL);
    d->net = NULL;
    int64_t n = cv_net_buffer_elems(net, 1);
    if (!last || n == 0) return CV_OK;
    int host = 0;
    cv_net_buffer_data(net, 1, &host);
    if (d->vt->device_buffers && host) return CV_OK; /* a device comm on host memory: the blocking path stages it */
    d->in_place = d->vt->device_buffers == !host;
    if (!d->in_place && scratch(d, n, err)) return err->status;
    if (cut_buckets(d, n, err)) return err->status;
    for (int b = 0; b < d->n_buckets; b++) {
        d->buckets[b].pending = d->buckets[b].n;
        d->buckets[b].started = 0;
        d->buckets[b].req = NULL;
    }
    d->n_started = d->n_tested = 0;
    cv_error_init(&d->hook_err);
    d->net = net;
    cv_net_set_grad_ready(net, grad_ready, d);
    return CV_OK;
}

/* waits for every started bucket; the first failure goes to err */
static void wait_all(cv_dist *d, cv_error *err) {
    for (int i = 0; i < d->n_started; i++) {
        cv_dist_bucket *k = &d->buckets[d->fifo[i]];
        cv_error local;
        cv_error_init(&local);
        if (d->vt->wait(d->comm.self, k->req, &local) && !err->status)
            comm_error(d, &local, err, "gradient bucket all-reduce of floats", (long long)k->n);
        k->req = NULL;
    }
    d->n_started = d->n_tested = 0;
}

int cv_dist_allreduce_grads(cv_dist *d, cv_net *net, int bad, cv_error *err) {
    if (d->world == 1) return CV_OK;
    if (d->net != net) return allreduce_grads_blocking(d, net, bad, err);
    cv_net_set_grad_ready(net, NULL, NULL);
    /* buckets the hook did not start (nothing reported them: e.g. a failed step), in order */
    for (int b = 0; b < d->n_buckets && !d->hook_err.status; b++)
        if (!d->buckets[b].started) start_bucket(d, b);
    d->net = NULL;
    cv_error local;
    cv_error_init(&local);
    wait_all(d, &local);
    if (d->hook_err.status) return cv_set_error(err, d->hook_err.status, "%s", d->hook_err.message);
    if (local.status) return cv_set_error(err, local.status, "%s", local.message);
    if (!d->in_place && cv_net_buffer_write(net, 1, d->scratch, d->bucketed_n, err)) return err->status;
    /* the ranks' buckets are already summed: a rank with a non-finite loss tells the others now */
    float any_bad = bad ? 1.0f : 0.0f;
    if (cv_dist_allreduce_sum(d, &any_bad, 1, err)) return err->status;
    return cv_net_grad_scale(net, any_bad > 0 ? NAN : 1.0f / (float)d->world, err);
}

/* FNV-1a over the bytes: equal weights give equal hashes on every machine */
static uint64_t hash_floats(const float *v, int64_t n) {
    const unsigned char *b = (const unsigned char *)v;
    uint64_t h = 1469598103934665603ull;
    for (int64_t i = 0; i < n * (int64_t)sizeof(float); i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

int cv_dist_check_in_sync(cv_dist *d, cv_net *net, cv_error *err) {
    if (d->world == 1) return CV_OK;
    int64_t n = cv_net_buffer_elems(net, 0);
    if (same_count(d, 0, n, err)) return err->status;
    if (scratch(d, n, err)) return err->status;
    if (n > 0 && cv_net_buffer_read(net, 0, d->scratch, n, err)) return err->status;
    uint64_t mine = hash_floats(d->scratch, n), root = mine;
    if (cv_dist_broadcast(d, &root, sizeof root, err)) return err->status;
    float differ = mine != root ? 1.0f : 0.0f;
    if (cv_dist_allreduce_sum(d, &differ, 1, err)) return err->status;
    if (differ > 0)
        return cv_set_error(err, CV_ERR_INTERNAL,
                            "data-parallel: %d of %d ranks hold parameters that differ from rank 0's (this is rank %d, "
                            "%s); the ranks have diverged",
                            (int)differ, d->world, d->rank, mine != root ? "different" : "same as rank 0");
    return CV_OK;
}

int cv_dist_allreduce_set(cv_dist *d, cv_set *set, cv_error *err) {
    return cv_dist_allreduce_sum(d, cv_set_decisions(set), cv_set_size(set), err);
}

int cv_dist_average(cv_dist *d, double *vals, int n, cv_error *err) {
    if (d->world == 1 || n <= 0) return CV_OK;
    float small[32];
    float *f = n <= 32 ? small : cv_alloc_array((size_t)n, sizeof(float));
    if (!f) return cv_set_error(err, CV_ERR_NOMEM, "data-parallel: out of memory averaging %d values", n);
    for (int i = 0; i < n; i++) f[i] = (float)vals[i];
    int rc = cv_dist_allreduce_sum(d, f, n, err);
    if (rc == CV_OK)
        for (int i = 0; i < n; i++) vals[i] = (double)f[i] / (double)d->world;
    if (f != small) cv_free(f);
    return rc;
}
