/* nccl.c — the NCCL comm plugin "nccl" (cvnets-comm-nccl.so, built by
 * `make CUDA=1`): data-parallel collectives on device buffers (device_buffers = 1),
 * one process per GPU.
 *
 * Timeouts: the communicator is created non-blocking and every collective is
 * polled (cudaStreamQuery + ncclCommGetAsyncError) instead of waited on; when it
 * has not finished after timeout_s seconds — a peer died or hangs — the
 * communicator is aborted with ncclCommAbort and the call returns an error, so
 * every surviving rank ends with a message instead of hanging.
 * Ordering: the backend enqueues work on its own stream, so a collective first
 * waits for the device to be idle (cudaDeviceSynchronize).  A host pointer is
 * staged through a device buffer. */
#include <cuda_runtime_api.h>
#include <nccl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "boot.h"

typedef struct nccl_comm {
    const cv_host *host;
    nccl_place place;
    int device;
    double timeout_s;
    cudaStream_t stream;
    ncclComm_t comm;
    void *stage;        /* device staging for host buffers */
    size_t stage_bytes;
    int broken;         /* aborted after a failure: every later call fails */
} nccl_comm;

static const cv_option_desc nccl_options[] = {
    CV_OPT_FLOAT_RANGE("timeout_s", "600", 1, 86400,
                       "seconds a bootstrap or collective may take before the communicator is aborted"),
    CV_OPT_END,
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail_cuda(nccl_comm *c, cudaError_t e, const char *what, cv_error *err) {
    cudaGetLastError();
    return c->host->set_error(err, CV_ERR_INTERNAL, "comm nccl: rank %d: %s failed: %s", c->place.rank, what,
                              cudaGetErrorString(e));
}

static int fail_nccl(nccl_comm *c, ncclResult_t r, const char *what, cv_error *err) {
    const char *last = ncclGetLastError(c->comm);
    return c->host->set_error(err, CV_ERR_INTERNAL, "comm nccl: rank %d of %d: %s failed: %s%s%s", c->place.rank,
                              c->place.world, what, ncclGetErrorString(r), last && *last ? ": " : "", last ? last : "");
}

/* abort so that no later call blocks on a dead peer */
static void abort_comm(nccl_comm *c) {
    if (c->comm && !c->broken) ncclCommAbort(c->comm);
    c->comm = NULL;
    c->broken = 1;
}

/* one poll: *done when the communicator has no call in progress and, when
 * stream_too, the stream (or, when ev is set, the work before ev) is finished */
static int poll_once(nccl_comm *c, int stream_too, cudaEvent_t ev, const char *what, int *done, cv_error *err) {
    ncclResult_t async = ncclSuccess;
    ncclResult_t r = ncclCommGetAsyncError(c->comm, &async);
    if (r != ncclSuccess || (async != ncclSuccess && async != ncclInProgress)) {
        int st = fail_nccl(c, r != ncclSuccess ? r : async, what, err);
        abort_comm(c);
        return st;
    }
    *done = async == ncclSuccess;
    if (*done && (stream_too || ev)) {
        cudaError_t e = ev ? cudaEventQuery(ev) : cudaStreamQuery(c->stream);
        if (e != cudaSuccess && e != cudaErrorNotReady) {
            int st = fail_cuda(c, e, what, err);
            abort_comm(c);
            return st;
        }
        *done = e == cudaSuccess;
    }
    return CV_OK;
}

/* poll until the communicator (and, when stream_too, the stream; when ev is
 * set, the work recorded before ev) is done */
static int wait_done(nccl_comm *c, int stream_too, cudaEvent_t ev, const char *what, cv_error *err) {
    double deadline = now_s() + c->timeout_s;
    for (;;) {
        int done = 0, st = poll_once(c, stream_too, ev, what, &done, err);
        if (st) return st;
        if (done) return CV_OK;
        if (now_s() > deadline) {
            abort_comm(c);
            return c->host->set_error(err, CV_ERR_IO,
                                      "comm nccl: rank %d of %d: %s did not finish within %g s (a rank died or stalled); "
                                      "the communicator was aborted",
                                      c->place.rank, c->place.world, what, c->timeout_s);
        }
        struct timespec ts = { 0, 50 * 1000 };
        nanosleep(&ts, NULL);
    }
}

static int nccl_create(const cv_create_args *args, void **self, cv_error *err) {
    const cv_host *h = args->host;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        cudaGetLastError();
        return h->set_error(err, CV_ERR_UNSUPPORTED,
                            "comm nccl: no CUDA device: cudaGetDeviceCount returned %d (%s), %d devices; use comm = mpi "
                            "on CPUs",
                            (int)e, e == cudaSuccess ? "no error" : cudaGetErrorString(e), count);
    }
    nccl_comm *c = h->alloc_array(1, sizeof *c);
    if (!c) return h->set_error(err, CV_ERR_NOMEM, "comm nccl: out of memory");
    c->host = h;
    c->timeout_s = 600;
    const cv_value *v = args->opts ? h->opt(args->opts, "timeout_s") : NULL;
    if (v && v->is_set) c->timeout_s = v->f;
    int st = nccl_place_from_env(args, &c->place, err);
    if (st) { h->free(c); return st; }
    c->device = c->place.local_rank >= 0 ? c->place.local_rank % count : c->place.rank % count;
    if ((e = cudaSetDevice(c->device)) != cudaSuccess ||
        (e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        st = fail_cuda(c, e, "selecting the device", err);
        h->free(c);
        return st;
    }
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    ncclResult_t r = ncclSuccess;
    if (c->place.rank == 0 && (r = ncclGetUniqueId(&id)) != ncclSuccess) st = fail_nccl(c, r, "ncclGetUniqueId", err);
    if (!st) st = nccl_exchange_id(h, &c->place, &id, sizeof id, c->timeout_s, err);
    if (!st) {
        ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
        cfg.blocking = 0; /* so a missing peer shows up as a timeout, not a hang */
        r = ncclCommInitRankConfig(&c->comm, c->place.world, id, c->place.rank, &cfg);
        if (r != ncclSuccess && r != ncclInProgress) st = fail_nccl(c, r, "ncclCommInitRankConfig", err);
        else st = wait_done(c, 0, NULL, "ncclCommInitRankConfig", err);
    }
    if (st) {
        abort_comm(c);
        cudaStreamDestroy(c->stream);
        h->free(c);
        return st;
    }
    h->log(h->host_ctx, CV_LOG_INFO, "comm nccl", "rank %d of %d (rank from %s) on device %d, timeout %g s",
           c->place.rank, c->place.world, c->place.rank_from, c->device, c->timeout_s);
    *self = c;
    return CV_OK;
}

static void nccl_destroy(void *self) {
    nccl_comm *c = self;
    if (!c) return;
    if (c->comm) {
        cudaStreamSynchronize(c->stream);
        ncclCommDestroy(c->comm);
    }
    if (c->stage) cudaFree(c->stage);
    if (c->stream) cudaStreamDestroy(c->stream);
    c->host->free(c);
}

static int32_t nccl_rank(void *self) { return ((nccl_comm *)self)->place.rank; }
static int32_t nccl_world(void *self) { return ((nccl_comm *)self)->place.world; }

/* a device pointer for buf: buf itself, or the staging buffer holding a copy */
static int device_view(nccl_comm *c, void *buf, size_t bytes, void **dev, int *staged, cv_error *err) {
    struct cudaPointerAttributes at;
    cudaError_t e = cudaPointerGetAttributes(&at, buf);
    if (e == cudaSuccess && (at.type == cudaMemoryTypeDevice || at.type == cudaMemoryTypeManaged)) {
        *dev = buf;
        *staged = 0;
        return CV_OK;
    }
    cudaGetLastError();
    if (c->stage_bytes < bytes) {
        if (c->stage) cudaFree(c->stage);
        c->stage = NULL;
        c->stage_bytes = 0;
        if ((e = cudaMalloc(&c->stage, bytes)) != cudaSuccess) return fail_cuda(c, e, "allocating a staging buffer", err);
        c->stage_bytes = bytes;
    }
    if ((e = cudaMemcpy(c->stage, buf, bytes, cudaMemcpyHostToDevice)) != cudaSuccess)
        return fail_cuda(c, e, "staging a host buffer", err);
    *dev = c->stage;
    *staged = 1;
    return CV_OK;
}

static int ready(nccl_comm *c, const char *what, cv_error *err) {
    if (c->broken)
        return c->host->set_error(err, CV_ERR_IO, "comm nccl: rank %d: %s after the communicator was aborted by an "
                                  "earlier failure", c->place.rank, what);
    cudaError_t e = cudaDeviceSynchronize(); /* the backend's stream must have produced the buffer */
    return e == cudaSuccess ? CV_OK : fail_cuda(c, e, "waiting for the backend before a collective", err);
}

static int finish(nccl_comm *c, ncclResult_t r, void *buf, void *dev, size_t bytes, int staged, const char *what,
                  cv_error *err) {
    if (r != ncclSuccess && r != ncclInProgress) {
        int st = fail_nccl(c, r, what, err);
        abort_comm(c);
        return st;
    }
    int st = wait_done(c, 1, NULL, what, err);
    if (!st && staged) {
        cudaError_t e = cudaMemcpy(buf, dev, bytes, cudaMemcpyDeviceToHost);
        if (e != cudaSuccess) st = fail_cuda(c, e, "copying a staged result back", err);
    }
    return st;
}

static int nccl_allreduce(void *self, float *buf, int64_t n, cv_error *err) {
    nccl_comm *c = self;
    if (n < 0 || (n > 0 && !buf))
        return c->host->set_error(err, CV_ERR_INVALID, "comm nccl: allreduce of %lld floats at %p", (long long)n, (void *)buf);
    if (n == 0) return CV_OK;
    int st = ready(c, "allreduce", err), staged = 0;
    void *dev = NULL;
    if (!st) st = device_view(c, buf, (size_t)n * sizeof(float), &dev, &staged, err);
    if (st) return st;
    ncclResult_t r = ncclAllReduce(dev, dev, (size_t)n, ncclFloat32, ncclSum, c->comm, c->stream);
    return finish(c, r, buf, dev, (size_t)n * sizeof(float), staged, "ncclAllReduce", err);
}

static int nccl_broadcast(void *self, void *buf, size_t bytes, int root, cv_error *err) {
    nccl_comm *c = self;
    if (root < 0 || root >= c->place.world || (bytes && !buf))
        return c->host->set_error(err, CV_ERR_INVALID, "comm nccl: broadcast of %zu bytes from root %d of %d", bytes, root,
                                  c->place.world);
    if (!bytes) return CV_OK;
    int st = ready(c, "broadcast", err), staged = 0;
    void *dev = NULL;
    if (!st) st = device_view(c, buf, bytes, &dev, &staged, err);
    if (st) return st;
    ncclResult_t r = ncclBroadcast(dev, dev, bytes, ncclUint8, root, c->comm, c->stream);
    return finish(c, r, buf, dev, bytes, staged, "ncclBroadcast", err);
}

static int nccl_barrier(void *self, cv_error *err) {
    nccl_comm *c = self;
    float one = 1.0f;
    return nccl_allreduce(c, &one, 1, err); /* staged: every rank must take part */
}

/* Non-blocking all-reduce of device memory (ABI 1.1): ncclAllReduce on the
 * comm's stream and an event after it.  No device synchronisation first: the
 * host has synchronised the backend before handing over a finished bucket, and
 * the comm's stream runs beside the backend's, so backward continues. */
static int nccl_iallreduce(void *self, float *buf, int64_t n, void **req, cv_error *err) {
    nccl_comm *c = self;
    *req = NULL;
    if (n < 0 || (n > 0 && !buf))
        return c->host->set_error(err, CV_ERR_INVALID, "comm nccl: iallreduce of %lld floats at %p", (long long)n, (void *)buf);
    if (c->broken)
        return c->host->set_error(err, CV_ERR_IO, "comm nccl: rank %d: iallreduce after the communicator was aborted by "
                                  "an earlier failure", c->place.rank);
    if (n == 0) return CV_OK;
    struct cudaPointerAttributes at;
    cudaError_t e = cudaPointerGetAttributes(&at, buf);
    if (e != cudaSuccess || (at.type != cudaMemoryTypeDevice && at.type != cudaMemoryTypeManaged)) {
        cudaGetLastError();
        return c->host->set_error(err, CV_ERR_INVALID, "comm nccl: iallreduce needs device memory; %p is host memory "
                                  "(use allreduce_sum_f32, which stages it)", (void *)buf);
    }
    cudaEvent_t ev = NULL;
    if ((e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming)) != cudaSuccess)
        return fail_cuda(c, e, "cudaEventCreate", err);
    ncclResult_t r = ncclAllReduce(buf, buf, (size_t)n, ncclFloat32, ncclSum, c->comm, c->stream);
    int st = CV_OK;
    if (r != ncclSuccess && r != ncclInProgress) {
        st = fail_nccl(c, r, "ncclAllReduce", err);
        abort_comm(c);
    }
    /* a non-blocking communicator may still be enqueueing: the event must follow the kernel */
    if (!st) st = wait_done(c, 0, NULL, "ncclAllReduce (enqueue)", err);
    if (!st && (e = cudaEventRecord(ev, c->stream)) != cudaSuccess) {
        st = fail_cuda(c, e, "cudaEventRecord", err);
        abort_comm(c);
    }
    if (st) {
        cudaEventDestroy(ev);
        return st;
    }
    *req = ev;
    return CV_OK;
}

static int nccl_test(void *self, void *req, int *done, cv_error *err) {
    nccl_comm *c = self;
    *done = 1;
    if (!req) return CV_OK;
    if (c->broken)
        return c->host->set_error(err, CV_ERR_IO, "comm nccl: rank %d: test after the communicator was aborted",
                                  c->place.rank);
    return poll_once(c, 0, (cudaEvent_t)req, "ncclAllReduce", done, err);
}

/* polls the request's event against timeout_s; releases it either way */
static int nccl_wait(void *self, void *req, cv_error *err) {
    nccl_comm *c = self;
    if (!req) return CV_OK;
    int st = c->broken ? c->host->set_error(err, CV_ERR_IO, "comm nccl: rank %d: wait after the communicator was "
                                            "aborted by an earlier failure", c->place.rank)
                       : wait_done(c, 0, (cudaEvent_t)req, "ncclAllReduce", err);
    cudaEventDestroy((cudaEvent_t)req);
    return st;
}

static const cv_comm_vtable nccl_vtable = {
    .struct_size = sizeof(cv_comm_vtable),
    .device_buffers = 1,
    .rank = nccl_rank,
    .world_size = nccl_world,
    .allreduce_sum_f32 = nccl_allreduce,
    .broadcast = nccl_broadcast,
    .barrier = nccl_barrier,
    .iallreduce_sum_f32 = nccl_iallreduce,
    .test = nccl_test,
    .wait = nccl_wait,
};

static const cv_component_desc nccl_desc = {
    .struct_size = sizeof(cv_component_desc),
    .abi_major = CV_ABI_MAJOR,
    .abi_minor = CV_ABI_MINOR,
    .kind = CV_KIND_COMM,
    .name = "nccl",
    .task = "any",
    .summary = "NCCL collectives on GPU buffers; one process per GPU, placed by RANK/WORLD_SIZE, mpirun or srun",
    .options = nccl_options,
    .create = nccl_create,
    .destroy = nccl_destroy,
    .vtable = &nccl_vtable,
};

CV_PLUGIN_ENTRY {
    return host->register_component(host->host_ctx, &nccl_desc, err);
}
