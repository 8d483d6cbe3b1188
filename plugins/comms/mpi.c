/* plugins/comms/mpi.c — the "mpi" comm: data-parallel collectives on host buffers
 * through MPI (OpenMPI from Debian), for CPU training launched by mpirun or srun.
 *
 * Every collective is non-blocking (MPI_Iallreduce / MPI_Ibcast / MPI_Ibarrier)
 * and polled with MPI_Test against a deadline of timeout_s, because a blocking
 * collective with a dead or stuck peer never returns: this way the survivors end
 * with an error naming the rank and the operation.  Errors are returned, not
 * fatal (MPI_ERRORS_RETURN on a private duplicate of MPI_COMM_WORLD).  After a
 * timeout the outstanding request cannot be cancelled (MPI has no cancel for
 * collectives), so the comm is marked broken: later calls fail at once with the
 * first message, and destroy skips MPI_Finalize, which would wait for the dead
 * peer.  timeout_s = 0 uses the blocking collectives instead (no deadline).
 * A process not started by an MPI launcher is a world of 1 and never calls MPI.
 * Large buffers go in chunks of chunk_mb so a count always fits an int.
 * iallreduce / test / wait (ABI 1.1) let the host overlap gradient buckets with
 * the backward pass; their wait polls against the same deadline. */
#include <cvnets/cvnets.h>

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct mpi_comm {
    const cv_host *host;
    MPI_Comm comm;
    int rank, world;
    int owns_init;        /* we called MPI_Init_thread, so we finalize */
    int no_mpi;           /* not started by an MPI launcher: a world of 1, MPI untouched */
    double timeout_s;     /* 0: wait forever */
    size_t chunk_bytes;
    int broken;           /* a collective timed out or failed; holds the first message */
    char broken_msg[CV_ERROR_MESSAGE_MAX];
} mpi_comm;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void mpi_message(int code, char *buf, size_t n) {
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, s, &len) != MPI_SUCCESS) snprintf(s, sizeof s, "MPI error %d", code);
    snprintf(buf, n, "%s", s);
}

/* Remember the first failure so a later call (and destroy) know the comm is unusable. */
static int fail(mpi_comm *c, cv_error *err, const char *fmt, const char *op, const char *detail) {
    if (!c->broken) {
        c->broken = 1;
        snprintf(c->broken_msg, sizeof c->broken_msg, fmt, c->rank, op, detail);
    }
    return c->host->set_error(err, CV_ERR_IO, "comm/mpi: %s", c->broken_msg);
}

/* Polls req until it completes or the deadline passes.  A non-blocking
 * collective only progresses inside MPI_Test, so the first second is a busy poll
 * as in MPI's own blocking calls (a yield costs a time slice on a loaded
 * machine: 6x slower on 0.4 MB); after that the peers are evidently late and
 * a 200 us sleep between tests keeps a long wait from burning a core. */
static int wait_request(mpi_comm *c, MPI_Request *req, const char *op, cv_error *err) {
    double start = now_s(), deadline = start + c->timeout_s, t = start;
    for (long polls = 0;; polls++) {
        int done = 0;
        int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
            char m[MPI_MAX_ERROR_STRING];
            mpi_message(rc, m, sizeof m);
            return fail(c, err, "rank %d: %s failed: %s (a peer probably died)", op, m);
        }
        if (done) return CV_OK;
        if ((polls & 255) == 0) t = now_s();
        if (c->timeout_s > 0 && t > deadline) {
            char ts[64];
            snprintf(ts, sizeof ts, "%g", c->timeout_s);
            return fail(c, err,
                        "rank %d: %s timed out after %s s (a peer probably died; raise [comm] timeout_s "
                        "if the ranks are only slow)",
                        op, ts);
        }
        if (t - start > 1.0) {
            struct timespec ts = { 0, 200000 };
            nanosleep(&ts, NULL);
        }
    }
}

static int check_usable(mpi_comm *c, cv_error *err) {
    if (c->broken)
        return c->host->set_error(err, CV_ERR_IO, "comm/mpi: unusable after an earlier failure: %s", c->broken_msg);
    return CV_OK;
}

static int start_failed(mpi_comm *c, int rc, const char *op, cv_error *err) {
    char m[MPI_MAX_ERROR_STRING];
    mpi_message(rc, m, sizeof m);
    return fail(c, err, "rank %d: %s failed: %s", op, m);
}

static int32_t mpi_rank(void *self) { return ((mpi_comm *)self)->rank; }
static int32_t mpi_world(void *self) { return ((mpi_comm *)self)->world; }

static int mpi_allreduce(void *self, float *buf, int64_t n, cv_error *err) {
    mpi_comm *c = self;
    if (check_usable(c, err)) return err->status;
    if (n < 0 || (n > 0 && !buf))
        return c->host->set_error(err, CV_ERR_INVALID, "comm/mpi: allreduce of %lld floats at %p", (long long)n,
                                  (void *)buf);
    if (c->world == 1) return CV_OK;
    int64_t chunk = (int64_t)(c->chunk_bytes / sizeof(float));
    for (int64_t off = 0; off < n; off += chunk) {
        int cnt = (int)(n - off < chunk ? n - off : chunk);
        MPI_Request req;
        if (c->timeout_s == 0) { /* no deadline: MPI's tuned blocking algorithms */
            int rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, cnt, MPI_FLOAT, MPI_SUM, c->comm);
            if (rc != MPI_SUCCESS) return start_failed(c, rc, "allreduce", err);
            continue;
        }
        int rc = MPI_Iallreduce(MPI_IN_PLACE, buf + off, cnt, MPI_FLOAT, MPI_SUM, c->comm, &req);
        if (rc != MPI_SUCCESS) return start_failed(c, rc, "allreduce", err);
        if (wait_request(c, &req, "allreduce", err)) return err->status;
    }
    return CV_OK;
}

/* A non-blocking all-reduce: one MPI request per chunk. */
typedef struct mpi_req {
    int n;
    MPI_Request r[];
} mpi_req;

static int mpi_iallreduce(void *self, float *buf, int64_t n, void **req, cv_error *err) {
    mpi_comm *c = self;
    *req = NULL;
    if (check_usable(c, err)) return err->status;
    if (n < 0 || (n > 0 && !buf))
        return c->host->set_error(err, CV_ERR_INVALID, "comm/mpi: iallreduce of %lld floats at %p", (long long)n,
                                  (void *)buf);
    if (c->world == 1 || n == 0) return CV_OK;
    int64_t chunk = (int64_t)(c->chunk_bytes / sizeof(float)), chunks = (n + chunk - 1) / chunk;
    mpi_req *q = c->host->alloc(sizeof *q + (size_t)chunks * sizeof(MPI_Request));
    if (!q) return c->host->set_error(err, CV_ERR_NOMEM, "comm/mpi: out of memory for a request");
    q->n = 0;
    for (int64_t off = 0; off < n; off += chunk) {
        int cnt = (int)(n - off < chunk ? n - off : chunk);
        int rc = MPI_Iallreduce(MPI_IN_PLACE, buf + off, cnt, MPI_FLOAT, MPI_SUM, c->comm, &q->r[q->n]);
        if (rc != MPI_SUCCESS) { /* the chunks already started stay pending: the comm is broken now */
            c->host->free(q);
            return start_failed(c, rc, "iallreduce", err);
        }
        q->n++;
    }
    *req = q;
    return CV_OK;
}

static int mpi_test(void *self, void *req, int *done, cv_error *err) {
    mpi_comm *c = self;
    mpi_req *q = req;
    *done = 1;
    if (check_usable(c, err)) return err->status;
    if (!q) return CV_OK;
    int rc = MPI_Testall(q->n, q->r, done, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) {
        char m[MPI_MAX_ERROR_STRING];
        mpi_message(rc, m, sizeof m);
        return fail(c, err, "rank %d: %s failed: %s (a peer probably died)", "iallreduce", m);
    }
    return CV_OK;
}

/* Completes every chunk against the deadline (timeout_s = 0: MPI_Waitall) and
 * frees the request whatever happens. */
static int mpi_wait(void *self, void *req, cv_error *err) {
    mpi_comm *c = self;
    mpi_req *q = req;
    if (!q) return CV_OK;
    int st = check_usable(c, err);
    if (st == CV_OK && c->timeout_s == 0) {
        int rc = MPI_Waitall(q->n, q->r, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) st = start_failed(c, rc, "iallreduce", err);
    }
    for (int i = 0; st == CV_OK && c->timeout_s > 0 && i < q->n; i++) st = wait_request(c, &q->r[i], "allreduce", err);
    c->host->free(q);
    return st;
}

static int mpi_broadcast(void *self, void *buf, size_t bytes, int root, cv_error *err) {
    mpi_comm *c = self;
    if (check_usable(c, err)) return err->status;
    if (root < 0 || root >= c->world)
        return c->host->set_error(err, CV_ERR_INVALID, "comm/mpi: broadcast from rank %d of a world of %d", root,
                                  c->world);
    if (bytes > 0 && !buf) return c->host->set_error(err, CV_ERR_INVALID, "comm/mpi: broadcast of NULL");
    if (c->world == 1) return CV_OK;
    for (size_t off = 0; off < bytes; off += c->chunk_bytes) {
        int cnt = (int)(bytes - off < c->chunk_bytes ? bytes - off : c->chunk_bytes);
        MPI_Request req;
        if (c->timeout_s == 0) {
            int rc = MPI_Bcast((char *)buf + off, cnt, MPI_BYTE, root, c->comm);
            if (rc != MPI_SUCCESS) return start_failed(c, rc, "broadcast", err);
            continue;
        }
        int rc = MPI_Ibcast((char *)buf + off, cnt, MPI_BYTE, root, c->comm, &req);
        if (rc != MPI_SUCCESS) return start_failed(c, rc, "broadcast", err);
        if (wait_request(c, &req, "broadcast", err)) return err->status;
    }
    return CV_OK;
}

static int mpi_barrier(void *self, cv_error *err) {
    mpi_comm *c = self;
    if (check_usable(c, err)) return err->status;
    if (c->world == 1) return CV_OK;
    if (c->timeout_s == 0) {
        int rc = MPI_Barrier(c->comm);
        return rc == MPI_SUCCESS ? CV_OK : start_failed(c, rc, "barrier", err);
    }
    MPI_Request req;
    int rc = MPI_Ibarrier(c->comm, &req);
    if (rc != MPI_SUCCESS) return start_failed(c, rc, "barrier", err);
    return wait_request(c, &req, "barrier", err);
}

/* mpirun (OpenMPI), srun --mpi=pmix / pmi2, MPICH's and MVAPICH's launchers
 * leave one of these in every rank's environment. */
static int launched_by_mpi(void) {
    static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
                                        "MV2_COMM_WORLD_SIZE", NULL };
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static int mpi_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    const cv_value *vt = h->opt(a->opts, "timeout_s");
    const cv_value *vc = h->opt(a->opts, "chunk_mb");
    double timeout = vt && vt->is_set ? vt->f : 300.0;
    int64_t chunk_mb = vc && vc->is_set ? vc->i : 64;
    if (!(timeout >= 0) || chunk_mb < 1 || chunk_mb > 1024)
        return h->set_error(err, CV_ERR_INVALID, "comm/mpi: timeout_s %g must be >= 0, chunk_mb %lld in [1, 1024]",
                            timeout, (long long)chunk_mb);
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    if (!inited && !launched_by_mpi()) {
        const char *step_tasks = getenv("SLURM_STEP_NUM_TASKS");
        if (step_tasks && atoi(step_tasks) > 1)
            return h->set_error(err, CV_ERR_INVALID,
                                "comm/mpi: srun started %s tasks without an MPI process-management interface, so "
                                "each would train alone; use srun --mpi=pmix (or pmi2)",
                                step_tasks);
        /* a world of 1 needs no MPI at all (and a singleton MPI_Init costs time and memory) */
        mpi_comm *c = h->alloc_array(1, sizeof *c);
        if (!c) return h->set_error(err, CV_ERR_NOMEM, "comm/mpi: out of memory");
        c->host = h;
        c->world = 1;
        c->no_mpi = 1;
        c->timeout_s = timeout;
        c->chunk_bytes = (size_t)chunk_mb << 20;
        *self = c;
        return CV_OK;
    }
    MPI_Finalized(&finalized);
    if (finalized)
        return h->set_error(err, CV_ERR_UNSUPPORTED,
                            "comm/mpi: MPI was already finalized in this process and cannot start again "
                            "(create the mpi comm once per process)");
    int owns = 0;
    if (!inited) {
        int provided = 0;
        /* the trainer calls collectives from one thread; loader threads never do */
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return h->set_error(err, CV_ERR_IO, "comm/mpi: MPI_Init_thread failed (is this process started by "
                                                "mpirun or srun?)");
        owns = 1;
    }
    mpi_comm *c = h->alloc_array(1, sizeof *c);
    if (!c) {
        if (owns) MPI_Finalize();
        return h->set_error(err, CV_ERR_NOMEM, "comm/mpi: out of memory");
    }
    c->host = h;
    c->owns_init = owns;
    c->timeout_s = timeout;
    c->chunk_bytes = (size_t)chunk_mb << 20;
    /* a private communicator: our error handler does not change the application's */
    c->comm = MPI_COMM_NULL;
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &c->comm);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(c->comm, &c->rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(c->comm, &c->world);
    if (rc != MPI_SUCCESS) {
        char m[MPI_MAX_ERROR_STRING];
        mpi_message(rc, m, sizeof m);
        if (c->comm != MPI_COMM_NULL) MPI_Comm_free(&c->comm);
        if (owns) MPI_Finalize();
        h->free(c);
        return h->set_error(err, CV_ERR_IO, "comm/mpi: setting up the communicator failed: %s", m);
    }
    if (a->world_size > 1 && (a->world_size != c->world || a->rank != c->rank))
        h->log(h->host_ctx, CV_LOG_WARN, "comm/mpi",
               "create args say rank %d of %d but MPI says rank %d of %d; using MPI's", a->rank, a->world_size,
               c->rank, c->world);
    *self = c;
    return CV_OK;
}

static void mpi_destroy(void *self) {
    mpi_comm *c = self;
    if (!c) return;
    /* after a timeout a request is still pending on a dead peer: freeing the
     * communicator or finalizing would block, so leave both to process exit */
    if (!c->broken && !c->no_mpi) {
        MPI_Comm_free(&c->comm);
        if (c->owns_init) MPI_Finalize();
    }
    c->host->free(c);
}

static const cv_option_desc mpi_options[] = {
    CV_OPT_FLOAT_RANGE("timeout_s", "300", 0, 1e7,
                       "seconds a collective may wait for the other ranks before failing (0: forever, "
                       "with MPI's blocking collectives)"),
    CV_OPT_INT_RANGE("chunk_mb", "64", 1, 1024, "largest single MPI call in MiB; bigger buffers go in chunks"),
    CV_OPT_END,
};

static const cv_comm_vtable mpi_vtable = {
    sizeof(cv_comm_vtable), 0, 0, mpi_rank, mpi_world, mpi_allreduce, mpi_broadcast, mpi_barrier,
    mpi_iallreduce, mpi_test, mpi_wait,
};

static const cv_component_desc mpi_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_COMM, "mpi", "any",
    "data-parallel collectives over MPI on host buffers (CPU training under mpirun / srun), with timeouts",
    mpi_options, mpi_create, mpi_destroy, NULL, NULL, &mpi_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &mpi_desc, err); }
