/* test/unit/test_comm_mpi.c — the mpi comm plugin and core/train/dist.c.
 *
 * The data-parallel equivalence test of issue 7: two ranks under
 * `mpirun -np 2`, each with half of a fixed batch, all-reduce (average) their
 * gradients and must match one process on the whole batch, for a network
 * without batch norm (conv + relu + global pool + linear, written inline), on
 * the reference backend.  The ranks are this same binary: started with
 * CV_DP_DRIVER=<mode> in its environment, main() runs the driver instead of
 * Criterion (no extra build rule).  Each rank writes what it computed to
 * $CV_DP_OUT.<rank>; the test compares those files with the single-process run.
 *
 * Also: a rank that dies makes rank 0 fail with the timeout message instead of
 * hanging (mpirun --enable-recovery keeps rank 0 alive so the comm itself must
 * notice; plain mpirun ends the job itself), single-process use without
 * mpirun, srun without PMI, option checks, and cv_dist's refusals. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "options.h"
#include "registry.h"
#include "train/dist.h"
#include "support/ce_loss.h"
#include "support/kernel_util.h"
#include "support/testhost.h"
#include "support/tmpdir.h"

/* ---- the inline model (no batch norm) and loss ---------------------------------- */
static cv_tensor *param(const cv_ops_v1 *o, cv_graph *g, const char *name, cv_shape s, int kind, uint32_t tags) {
    cv_init init = { kind, 0, 0 };
    return o->param(g, name, &s, init, tags);
}

static cv_tensor *dp_forward(void *self, const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    (void)self;
    o->scope_push(g, "conv1");
    cv_tensor *w = param(o, g, "weight", CV_SHAPE(4, 1, 3, 3), CV_INIT_KAIMING_NORMAL_FAN_OUT, 0);
    cv_tensor *b = param(o, g, "bias", CV_SHAPE(4), CV_INIT_UNIFORM, CV_TAG_BIAS);
    x = cv_conv2d(o, g, x, w, b, 1, 1, 1, 1);
    o->scope_pop(g);
    x = cv_unary(o, g, x, CV_RELU, 0);
    x = cv_reduce(o, g, x, CV_R_MEAN, 0xC, 0); /* global average pool: [N,4] */
    o->scope_push(g, "fc");
    cv_tensor *fw = param(o, g, "weight", CV_SHAPE(3, 4), CV_INIT_KAIMING_UNIFORM, 0);
    cv_tensor *fb = param(o, g, "bias", CV_SHAPE(3), CV_INIT_UNIFORM, CV_TAG_BIAS);
    x = cv_linear(o, g, x, fw, fb);
    o->scope_pop(g);
    return x;
}

static const cv_model_vtable dp_vt = { sizeof(cv_model_vtable), dp_forward, NULL };
static const cv_component_desc dp_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL,
                                           "dp_tiny", "classification", "test model", NULL, NULL, NULL, NULL, NULL,
                                           &dp_vt };

/* ---- the computation both the ranks and the single process run ------------------- */
enum { BATCH = 8, HW = 8, STEPS = 3, SET_N = 10, BIG = 300000 };

/* How the gradients are reduced (from the driver's environment; the single
 * process uses the defaults): overlap with backward or the blocking path, the
 * bucket size in floats (0: the default 4 MiB, more than the whole buffer), and
 * micro-steps of gradient accumulation per optimizer step. */
typedef struct dp_config {
    int overlap;
    int64_t bucket;
    int accum;
    int die_in_flight; /* rank 1 exits after its first backward, bucket reductions started */
} dp_config;

/* What one rank (or the single process) computed. */
typedef struct dp_result {
    int64_t n_grad, n_param;
    float *grad;       /* gradients of step 1, averaged over ranks */
    float *param;      /* parameters after STEPS SGD steps */
    double loss;       /* loss of step 1, averaged over ranks */
    int32_t chunks_ok; /* chunked all-reduce and broadcast gave the expected values */
    int32_t set_counter[SET_N];
    int32_t any_none, any_one; /* cv_dist_any with no rank / only the last rank flagging */
    int32_t in_sync;           /* cv_dist_check_in_sync after training: 1 passed */
    int32_t drift_caught;      /* ... after the last rank nudged one weight: 1 failed as it should */
    int32_t started_in_backward; /* buckets the hook started before cv_net_run returned (last step) */
    int32_t n_buckets;
    int32_t bad_spread; /* a "non-finite loss" on the last rank only made every rank's gradient NaN */
} dp_result;

static void make_batch(float *img, int32_t *lab) {
    ku_rng g = ku_rng_make(42);
    for (int n = 0; n < BATCH; n++) {
        lab[n] = n % 3;
        for (int i = 0; i < HW * HW; i++)
            img[n * HW * HW + i] = (i / HW * 3 / HW == lab[n] ? 1.0f : 0.0f) + 0.5f * (float)(ku_uniform(&g) - 0.5);
    }
}

static int load_plugin(cv_ctx *ctx, const char *kind, const char *name, const cv_component_desc **out, cv_error *err) {
    char rel[512];
    snprintf(rel, sizeof rel, "lib/cvnets/plugins/cvnets-%s-%s.so", kind, name);
    if (cv_registry_load_file(ctx, th_build_path(rel), err)) return err->status;
    const cv_plugin *p = cv_registry_find(ctx->registry, cv_kind_from_name(kind), name);
    if (!p) return cv_set_error(err, CV_ERR_INTERNAL, "%s/%s not registered", kind, name);
    *out = &p->desc;
    return CV_OK;
}

/* a component with options from "key=value" strings; *opts must outlive it */
static int create(cv_ctx *ctx, const cv_component_desc *d, const char *const *kv, cv_options **opts, void **self,
                  cv_error *err) {
    if (cv_options_from_kv(d->options, d->name, kv, opts, err)) return err->status;
    cv_create_args a;
    memset(&a, 0, sizeof a);
    a.struct_size = sizeof a;
    a.host = &ctx->host;
    a.opts = *opts;
    a.threads = 1;
    a.world_size = 1;
    return d->create(&a, self, err);
}

static int sgd(cv_net *net, cv_error *err) {
    cv_optim_step s;
    cv_net_optim_step_init(net, &s);
    cv_sgd_params sp = { 0.1f, 0.9f, 0.0f, 1e-4f, 0 };
    for (int i = 0; i < s.n_segments; i++)
        if (s.run_update(s.engine, CV_OP_SGD_UPDATE, &sp, sizeof sp, s.segments[i].offset, s.segments[i].count, err))
            return err->status;
    return CV_OK;
}

/* Chunked collectives (the comm is made with chunk_mb = 1): BIG floats are more
 * than one MiB.  Integers below 2^24 add exactly in f32. */
static int check_chunks(cv_dist *d, int32_t *ok, cv_error *err) {
    float *buf = cv_alloc_array(BIG, sizeof(float));
    if (!buf) return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    for (int i = 0; i < BIG; i++) buf[i] = (float)(i % 1000) * (float)(d->rank + 1);
    int rc = cv_dist_allreduce_sum(d, buf, BIG, err);
    float want = (float)(d->world * (d->world + 1) / 2);
    *ok = rc == CV_OK;
    for (int i = 0; i < BIG && *ok; i++) *ok = buf[i] == (float)(i % 1000) * want;
    for (int i = 0; i < BIG; i++) buf[i] = d->rank == 0 ? (float)i : -1.0f;
    if (rc == CV_OK) rc = cv_dist_broadcast(d, buf, BIG * sizeof(float), err);
    for (int i = 0; i < BIG && *ok; i++) *ok = buf[i] == (float)i;
    cv_free(buf);
    return rc;
}

/* SET decisions: rank r scores its half of SET_N samples, rank 0's as easy, the
 * others' as hard; after the all-reduce every rank holds the same counters. */
static int check_set(cv_dist *d, int32_t *counters, cv_error *err) {
    cv_set *set = NULL;
    if (cv_set_create(SET_N, 2, 0.5, &set, err)) return err->status;
    cv_set_begin_pass(set);
    int per = SET_N / d->world;
    for (int i = d->rank * per; i < (d->rank + 1) * per; i++) cv_set_record(set, i, d->rank == 0, 0.9, err);
    int rc = cv_dist_allreduce_set(d, set, err);
    if (rc == CV_OK) cv_set_end_pass(set);
    for (int i = 0; i < SET_N; i++) counters[i] = cv_set_counter(set, i);
    cv_set_destroy(set);
    return rc;
}

/* cv_dist_check_in_sync passes on trained ranks, then fails on every rank once
 * the last rank changes one weight by one ulp (world 1: nothing can differ). */
static int check_sync(cv_dist *d, cv_net *net, dp_result *r, cv_error *err) {
    if (cv_dist_check_in_sync(d, net, err)) return err->status;
    r->in_sync = 1;
    if (d->rank == d->world - 1) {
        r->param[0] = nextafterf(r->param[0], INFINITY);
        if (cv_net_buffer_write(net, 0, r->param, r->n_param, err)) return err->status;
        r->param[0] = nextafterf(r->param[0], -INFINITY);
    }
    cv_error local;
    cv_error_init(&local);
    int rc = cv_dist_check_in_sync(d, net, &local);
    r->drift_caught = d->world == 1 ? rc == CV_OK
                                    : rc == CV_ERR_INTERNAL && strstr(local.message, "1 of 2 ranks hold parameters");
    if (!r->drift_caught) fprintf(stderr, "rank %d: check_in_sync after a nudge: %s\n", d->rank, local.message);
    return CV_OK;
}

/* One more step in which only the last rank's loss is "not finite" (bad = 1):
 * every rank's gradient must come out all NaN (world 1: left alone). */
static int check_bad(cv_dist *d, cv_net *net, cv_plan *p, const float *img, const int32_t *lab, int32_t *spread,
                     cv_error *err) {
    cv_step_io io = { img, lab, NULL, 0, 0 };
    int64_t n = cv_net_buffer_elems(net, 1);
    float *g = cv_alloc_array((size_t)n, sizeof(float));
    if (!g) return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    int rc = cv_dist_grads_begin(d, net, 1, err);
    if (rc == CV_OK) rc = cv_net_run(p, &io, err);
    if (rc == CV_OK) rc = cv_dist_allreduce_grads(d, net, d->rank == d->world - 1, err);
    if (rc == CV_OK) rc = cv_net_buffer_read(net, 1, g, n, err);
    int nan = 0;
    for (int64_t i = 0; i < n; i++) nan += isnan(g[i]) != 0;
    *spread = d->world == 1 ? nan == 0 : nan == n;
    cv_free(g);
    return rc;
}

/* The whole computation for this rank of d (world 1: the reference). seed differs
 * per rank on purpose: cv_dist_sync_params must make the ranks identical. */
static int dp_compute(cv_ctx *ctx, cv_dist *d, const dp_config *cfg, uint64_t seed, dp_result *r, cv_error *err) {
    memset(r, 0, sizeof *r);
    cv_dist_set_buckets(d, cfg->overlap, cfg->bucket > 0 ? cfg->bucket : (int64_t)(CV_DIST_BUCKET_MIB * 262144));
    const cv_component_desc *bd = NULL;
    cv_options *bo = NULL;
    void *bself = NULL;
    cv_engine *e = NULL;
    cv_net *net = NULL;
    int rc = load_plugin(ctx, "backend", "ref", &bd, err);
    if (rc == CV_OK) rc = create(ctx, bd, NULL, &bo, &bself, err);
    if (rc == CV_OK) {
        e = cv_engine_create(&ctx->host, (cv_backend_ref){ bd->vtable, bself }, seed, err);
        if (e) net = cv_net_create(e, (cv_component_ref){ &dp_desc, NULL }, ce_loss(), 3, err);
        if (!net) rc = err->status ? err->status : CV_ERR_INTERNAL;
    }
    float img[BATCH * HW * HW];
    int32_t lab[BATCH];
    make_batch(img, lab);
    int per = BATCH / d->world / cfg->accum, first = d->rank * per * cfg->accum;
    cv_shape in = CV_SHAPE(per, 1, HW, HW);
    cv_plan *p = NULL;
    if (rc == CV_OK && !(p = cv_net_plan_get(net, &in, CV_MODE_TRAIN, 0, err))) rc = err->status;
    if (rc == CV_OK) rc = cv_net_alloc_state(net, 1, err);
    if (rc == CV_OK) rc = cv_dist_sync_params(d, net, err);
    for (int step = 0; step < STEPS && rc == CV_OK; step++) {
        double loss = 0;
        for (int m = 0; m < cfg->accum && rc == CV_OK; m++) {
            int at = first + m * per;
            cv_step_io io = { img + (size_t)at * HW * HW, lab + at, NULL, 0, m > 0 };
            rc = cv_dist_grads_begin(d, net, m + 1 == cfg->accum, err);
            if (rc == CV_OK) rc = cv_net_run(p, &io, err);
            loss += io.loss / cfg->accum;
        }
        if (cfg->die_in_flight && d->rank == 1) _exit(3); /* its buckets are in flight: a crashed peer */
        r->started_in_backward = d->n_started;
        r->n_buckets = d->n_buckets;
        if (rc == CV_OK) rc = cv_dist_allreduce_grads(d, net, 0, err);
        if (rc == CV_OK && cfg->accum > 1) rc = cv_net_grad_scale(net, 1.0f / (float)cfg->accum, err);
        if (rc == CV_OK && step == 0) {
            r->loss = loss;
            rc = cv_dist_average(d, &r->loss, 1, err);
            r->n_grad = cv_net_buffer_elems(net, 1);
            r->grad = cv_alloc_array((size_t)r->n_grad, sizeof(float));
            if (rc == CV_OK) rc = cv_net_buffer_read(net, 1, r->grad, r->n_grad, err);
        }
        if (rc == CV_OK) rc = sgd(net, err);
    }
    if (rc == CV_OK) {
        r->n_param = cv_net_buffer_elems(net, 0);
        r->param = cv_alloc_array((size_t)r->n_param, sizeof(float));
        rc = cv_net_buffer_read(net, 0, r->param, r->n_param, err);
    }
    if (rc == CV_OK) rc = check_sync(d, net, r, err);
    if (rc == CV_OK) rc = check_chunks(d, &r->chunks_ok, err);
    if (rc == CV_OK) rc = check_set(d, r->set_counter, err);
    int any = -1;
    if (rc == CV_OK) rc = cv_dist_any(d, 0, &any, err);
    r->any_none = any;
    if (rc == CV_OK) rc = cv_dist_any(d, d->rank == d->world - 1, &any, err);
    r->any_one = any;
    if (rc == CV_OK) rc = check_bad(d, net, p, img + (size_t)first * HW * HW, lab + first, &r->bad_spread, err);
    if (net) cv_net_destroy(net);
    if (e) cv_engine_destroy(e);
    if (bself) bd->destroy(bself);
    cv_options_free(bo);
    return rc;
}

static void dp_result_free(dp_result *r) {
    cv_free(r->grad);
    cv_free(r->param);
    memset(r, 0, sizeof *r);
}

static int dp_write(const char *path, const dp_result *r) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(&r->n_grad, sizeof r->n_grad, 1, f) == 1 &&
             fwrite(r->grad, sizeof(float), (size_t)r->n_grad, f) == (size_t)r->n_grad &&
             fwrite(&r->n_param, sizeof r->n_param, 1, f) == 1 &&
             fwrite(r->param, sizeof(float), (size_t)r->n_param, f) == (size_t)r->n_param &&
             fwrite(&r->loss, sizeof r->loss, 1, f) == 1 && fwrite(&r->chunks_ok, sizeof r->chunks_ok, 1, f) == 1 &&
             fwrite(r->set_counter, sizeof r->set_counter, 1, f) == 1 &&
             fwrite(&r->any_none, sizeof r->any_none, 1, f) == 1 && fwrite(&r->any_one, sizeof r->any_one, 1, f) == 1 &&
             fwrite(&r->in_sync, sizeof r->in_sync, 1, f) == 1 &&
             fwrite(&r->drift_caught, sizeof r->drift_caught, 1, f) == 1 &&
             fwrite(&r->started_in_backward, sizeof r->started_in_backward, 1, f) == 1 &&
             fwrite(&r->n_buckets, sizeof r->n_buckets, 1, f) == 1 &&
             fwrite(&r->bad_spread, sizeof r->bad_spread, 1, f) == 1;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int dp_read(const char *path, dp_result *r) {
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int ok = fread(&r->n_grad, sizeof r->n_grad, 1, f) == 1 && r->n_grad > 0 && r->n_grad < 100000;
    if (ok) r->grad = cv_alloc_array((size_t)r->n_grad, sizeof(float));
    ok = ok && r->grad && fread(r->grad, sizeof(float), (size_t)r->n_grad, f) == (size_t)r->n_grad;
    ok = ok && fread(&r->n_param, sizeof r->n_param, 1, f) == 1 && r->n_param > 0 && r->n_param < 100000;
    if (ok) r->param = cv_alloc_array((size_t)r->n_param, sizeof(float));
    ok = ok && r->param && fread(r->param, sizeof(float), (size_t)r->n_param, f) == (size_t)r->n_param;
    ok = ok && fread(&r->loss, sizeof r->loss, 1, f) == 1 && fread(&r->chunks_ok, sizeof r->chunks_ok, 1, f) == 1 &&
         fread(r->set_counter, sizeof r->set_counter, 1, f) == 1 &&
         fread(&r->any_none, sizeof r->any_none, 1, f) == 1 && fread(&r->any_one, sizeof r->any_one, 1, f) == 1 &&
         fread(&r->in_sync, sizeof r->in_sync, 1, f) == 1 && fread(&r->drift_caught, sizeof r->drift_caught, 1, f) == 1 &&
         fread(&r->started_in_backward, sizeof r->started_in_backward, 1, f) == 1 &&
         fread(&r->n_buckets, sizeof r->n_buckets, 1, f) == 1 &&
         fread(&r->bad_spread, sizeof r->bad_spread, 1, f) == 1;
    fclose(f);
    return ok ? 0 : -1;
}

/* ---- the driver: one MPI rank ------------------------------------------------------ */
static int driver_fail(int rank, const cv_error *err) {
    fprintf(stderr, "dp driver rank %d: %s\n", rank, err->message);
    return 1;
}

/* The comm and cv_dist started without mpirun (world 1): writes "ok" or the first
 * failed check to path. */
static int single_checks(cv_dist *d, const char *path) {
    const cv_comm_vtable *vt = d->vt;
    void *self = d->comm.self;
    cv_error err;
    cv_error_init(&err);
    float buf[3] = { 1, 2, 3 };
    const char *bad = NULL;
    if (!vt || vt->device_buffers) bad = "no host-buffer comm";
    else if (vt->rank(self) != 0 || vt->world_size(self) != 1 || !cv_dist_is_root(d) || cv_dist_world(d) != 1)
        bad = "not rank 0 of 1";
    else if (vt->allreduce_sum_f32(self, buf, 3, &err) || buf[0] != 1 || buf[1] != 2 || buf[2] != 3)
        bad = "allreduce changed a world-of-1 buffer or failed";
    else if (vt->broadcast(self, buf, sizeof buf, 0, &err) || vt->barrier(self, &err) || cv_dist_barrier(d, &err))
        bad = "broadcast or barrier failed";
    else if (vt->broadcast(self, buf, sizeof buf, 1, &err) != CV_ERR_INVALID ||
             !strstr(err.message, "broadcast from rank 1 of a world of 1"))
        bad = "a broadcast from rank 1 of 1 was not refused";
    else {
        cv_error_init(&err);
        if (vt->allreduce_sum_f32(self, NULL, 4, &err) != CV_ERR_INVALID) bad = "an all-reduce of NULL was accepted";
    }
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    fprintf(f, "%s%s%s\n", bad ? bad : "ok", bad ? ": " : "", bad ? err.message : "");
    fclose(f);
    return bad != NULL;
}

/* a driver that expects rc to fail writes err's message (else `otherwise`) to
 * path; returns the driver's status: 0 when it failed as expected */
static int write_failure(const char *path, int rc, const cv_error *err, const char *otherwise) {
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%s\n", rc ? err->message : otherwise);
        fclose(f);
    }
    return rc ? 0 : 1;
}

static int env_int(const char *name, int def) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

/* CV_DP_DRIVER=single: single_checks without mpirun.
 * CV_DP_DRIVER=grads: compute and write $CV_DP_OUT.<rank>; CV_DP_OVERLAP,
 * CV_DP_BUCKET (floats) and CV_DP_ACCUM set the dp_config.
 * CV_DP_DRIVER=die: rank 1 exits after the first barrier; rank 0's gradient
 * all-reduce must fail; it writes the message to $CV_DP_OUT.0.
 * CV_DP_DRIVER=die_in_flight: rank 1 exits while its gradient buckets are being
 * reduced; rank 0 writes its error message to $CV_DP_OUT.0. */
static int dp_driver(const char *mode) {
    const char *out = getenv("CV_DP_OUT");
    const char *timeout = getenv("CV_DP_TIMEOUT");
    if (!out || !*out) {
        fprintf(stderr, "dp driver: CV_DP_OUT is not set\n");
        return 2;
    }
    char tkv[64];
    snprintf(tkv, sizeof tkv, "timeout_s=%s", timeout && *timeout ? timeout : "120");
    const char *kv[] = { tkv, "chunk_mb=1", NULL };
    cv_error err;
    cv_error_init(&err);
    cv_ctx *ctx = cv_ctx_create();
    if (!ctx) return 2;
    ctx->log_level = CV_LOG_WARN;
    const cv_component_desc *cd = NULL;
    cv_options *co = NULL;
    void *cself = NULL;
    cv_dist d;
    int rc = load_plugin(ctx, "comm", "mpi", &cd, &err);
    if (rc == CV_OK) rc = create(ctx, cd, kv, &co, &cself, &err);
    if (rc == CV_OK) rc = cv_dist_open_component((cv_component_ref){ cd, cself }, &d, &err);
    if (rc) return driver_fail(-1, &err);
    int status = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s.%d", out, d.rank);
    if (strcmp(mode, "single") == 0) {
        status = single_checks(&d, path);
    } else if (strcmp(mode, "die") == 0) {
        if (cv_dist_barrier(&d, &err)) return driver_fail(d.rank, &err);
        if (d.rank == 1) _exit(3); /* no finalize, no goodbye: a crashed peer */
        float g[16] = { 0 };
        rc = cv_dist_allreduce_sum(&d, g, 16, &err);
        status = write_failure(path, rc, &err, "the all-reduce with a dead peer succeeded");
    } else {
        dp_config cfg = { env_int("CV_DP_OVERLAP", 1), env_int("CV_DP_BUCKET", 0), env_int("CV_DP_ACCUM", 1),
                          strcmp(mode, "die_in_flight") == 0 };
        dp_result r;
        rc = dp_compute(ctx, &d, &cfg, 11 + 1000 * (uint64_t)d.rank, &r, &err);
        if (cfg.die_in_flight) {
            status = write_failure(path, rc, &err, "the step with a dead peer succeeded");
        } else {
            if (rc == CV_OK && dp_write(path, &r)) rc = cv_set_error(&err, CV_ERR_IO, "cannot write %s", path);
            if (rc) status = driver_fail(d.rank, &err);
        }
        dp_result_free(&r);
    }
    cv_dist_close(&d);
    cv_options_free(co);
    cv_ctx_destroy(ctx);
    return status;
}

int main(int argc, char *argv[]) {
    const char *mode = getenv("CV_DP_DRIVER");
    if (mode && *mode) return dp_driver(mode);
    struct criterion_test_set *tests = criterion_initialize();
    int result = 0;
    if (criterion_handle_args(argc, argv, true)) result = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    return result;
}

/* ---- tests -------------------------------------------------------------------------- */
/* Runs this binary as 2 MPI ranks in driver mode (mpirun_flags NULL: one process
 * without mpirun); returns the shell's status.
 * The MCA settings keep mpirun on this machine (no ssh, shared memory only), as
 * in a container without a network. */
static int run_ranks(const char *mode, const char *mpirun_flags, const char *out, const char *timeout_s, const char *env) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    cr_assert(n > 0, "cannot find this test binary");
    exe[n] = 0;
    char cmd[16384];
    /* BXFI_MAP would make the ranks think they are Criterion's own sandboxes.
     * OpenMPI keeps allocations in components it unloads at MPI_Finalize, which
     * the sanitizer build can neither attribute nor suppress: no leak check in
     * MPI ranks (the process without mpirun never starts MPI and keeps it). */
    snprintf(cmd, sizeof cmd,
             "unset BXFI_MAP GMON_OUT_PREFIX; CV_DP_DRIVER=%s CV_DP_OUT='%s' CV_DP_TIMEOUT=%s CVNETS_BUILD='%s' %s %s "
             "OMPI_MCA_plm=isolated OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none "
             "timeout -k 10 240 %s%s%s '%s' > '%s.log' 2>&1",
             mode, out, timeout_s, th_build_path(""), env ? env : "", mpirun_flags ? "ASAN_OPTIONS=detect_leaks=0" : "",
             mpirun_flags ? "mpirun --allow-run-as-root --oversubscribe " : "", mpirun_flags ? mpirun_flags : "",
             mpirun_flags ? " -np 2" : "", exe, out);
    return system(cmd);
}

static void show_log(const char *out) {
    char path[4096], text[8192];
    snprintf(path, sizeof path, "%s.log", out);
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    cr_log_error("mpirun output:\n%s", text);
}

static int close_enough(float a, float b) { return fabsf(a - b) <= 1e-5f * fmaxf(fabsf(a), fabsf(b)) + 1e-7f; }

/* 2 ranks under mpirun with [comm] timeout_s and the dp_config in env, against
 * one process on the union batch; got[rank] receives what each rank computed. */
static void check_two_ranks(const char *timeout_s, const char *env, dp_result got[2]) {
    char out[4096];
    snprintf(out, sizeof out, "%s/dp", tmp_dir_new());
    int st = run_ranks("grads", "", out, timeout_s, env);
    if (st != 0) show_log(out);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "mpirun -np 2 failed (status %d) with %s", st, env);

    /* the reference: one process, the whole batch, the same code with a world of 1 */
    cv_ctx *ctx = th_ctx_new();
    cv_dist one;
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_dist_open_component((cv_component_ref){ NULL, NULL }, &one, &err), CV_OK);
    dp_result ref;
    const dp_config plain = { 1, 0, 1, 0 };
    cr_assert_eq(dp_compute(ctx, &one, &plain, 11, &ref, &err), CV_OK, "%s", err.message);
    cr_assert(ref.chunks_ok);

    for (int rank = 0; rank < 2; rank++) {
        char path[4200];
        snprintf(path, sizeof path, "%s.%d", out, rank);
        dp_result *r = &got[rank];
        cr_assert_eq(dp_read(path, r), 0, "rank %d wrote no readable %s", rank, path);
        cr_assert_eq(r->n_grad, ref.n_grad);
        cr_assert_eq(r->n_param, ref.n_param);
        int64_t nonzero = 0;
        for (int64_t i = 0; i < r->n_grad; i++) {
            nonzero += ref.grad[i] != 0;
            cr_assert(close_enough(r->grad[i], ref.grad[i]), "%s: rank %d gradient[%lld] = %.9g, one process: %.9g", env,
                      rank, (long long)i, r->grad[i], ref.grad[i]);
        }
        cr_assert_gt(nonzero, r->n_grad / 2, "the reference gradient is mostly zero: the test would prove nothing");
        for (int64_t i = 0; i < r->n_param; i++)
            cr_assert(close_enough(r->param[i], ref.param[i]), "%s: rank %d parameter[%lld] after %d steps = %.9g, one "
                      "process: %.9g", env, rank, (long long)i, STEPS, r->param[i], ref.param[i]);
        cr_assert(fabs(r->loss - ref.loss) <= 1e-5 * fabs(ref.loss), "rank %d mean loss %.9g, one process %.9g", rank,
                  r->loss, ref.loss);
        cr_assert(r->chunks_ok, "rank %d: chunked all-reduce / broadcast gave wrong values", rank);
        for (int i = 0; i < SET_N; i++)
            cr_assert_eq(r->set_counter[i], i < SET_N / 2 ? 1 : 0, "rank %d SET counter %d = %d", rank, i,
                         r->set_counter[i]);
        cr_assert(r->any_none == 0 && r->any_one == 1, "rank %d: cv_dist_any gave %d (no flag) and %d (rank 1's flag)",
                  rank, r->any_none, r->any_one);
        cr_assert(r->in_sync, "rank %d: the trained ranks were not bit-identical", rank);
        cr_assert(r->drift_caught, "rank %d: a one-ulp difference on rank 1 went unnoticed (see the mpirun log)", rank);
        cr_assert(r->bad_spread, "%s: rank %d: rank 1's non-finite loss did not make this rank's gradient NaN", env,
                  rank);
    }
    cr_assert(ref.bad_spread, "world 1: cv_dist_allreduce_grads(bad) changed the gradient");
    cr_assert(ref.in_sync && ref.drift_caught, "world 1: cv_dist_check_in_sync failed");
    cr_assert(ref.any_none == 0 && ref.any_one == 1, "world 1: cv_dist_any gave %d and %d", ref.any_none, ref.any_one);
    dp_result_free(&ref);
    cv_dist_close(&one);
    th_ctx_free(ctx);
}

static void free_two(dp_result got[2]) {
    dp_result_free(&got[0]);
    dp_result_free(&got[1]);
    tmp_cleanup();
}

/* overlap on, the default bucket (4 MiB) larger than the whole 55-float buffer:
 * one bucket, started by the hook during backward */
Test(comm_mpi, two_ranks_match_one_process_on_the_union_batch, .timeout = 300) {
    dp_result got[2];
    check_two_ranks("120", "", got);
    for (int rank = 0; rank < 2; rank++)
        cr_assert(got[rank].n_buckets == 1 && got[rank].started_in_backward == 1,
                  "rank %d: %d of %d buckets started during backward", rank, got[rank].started_in_backward,
                  got[rank].n_buckets);
    free_two(got);
}

/* timeout_s = 0: the blocking collectives (and MPI_Waitall for the buckets), same results */
Test(comm_mpi, blocking_collectives_match_too, .timeout = 300) {
    dp_result got[2];
    check_two_ranks("0", "", got);
    free_two(got);
}

/* Buckets of 7 floats split the 36-float conv weight and the 12-float fc weight
 * across bucket boundaries; the overlapped run must give bit-identical gradients
 * and weights to the blocking path (overlap off), and both match one process. */
Test(comm_mpi, small_overlapped_buckets_are_bit_identical_to_the_blocking_path, .timeout = 300) {
    dp_result over[2], block[2];
    check_two_ranks("120", "CV_DP_BUCKET=7", over);
    check_two_ranks("120", "CV_DP_OVERLAP=0", block);
    for (int rank = 0; rank < 2; rank++) {
        cr_assert(over[rank].n_buckets == 8 && over[rank].started_in_backward == 8,
                  "rank %d: %d of %d buckets of 7 floats started during backward (55 floats: expected 8)", rank,
                  over[rank].started_in_backward, over[rank].n_buckets);
        cr_assert_eq(block[rank].started_in_backward, 0, "overlap off started %d buckets", block[rank].started_in_backward);
        cr_assert(memcmp(over[rank].grad, block[rank].grad, (size_t)over[rank].n_grad * sizeof(float)) == 0,
                  "rank %d: overlapped gradients differ from the blocking path's", rank);
        cr_assert(memcmp(over[rank].param, block[rank].param, (size_t)over[rank].n_param * sizeof(float)) == 0,
                  "rank %d: weights after %d steps differ between the overlapped and the blocking path", rank, STEPS);
    }
    dp_result_free(&over[0]);
    dp_result_free(&over[1]);
    free_two(block);
}

/* 2 micro-steps of 2 images per rank: only the last one's backward starts buckets */
Test(comm_mpi, gradient_accumulation_with_overlap_matches_one_process, .timeout = 300) {
    dp_result got[2];
    check_two_ranks("120", "CV_DP_ACCUM=2 CV_DP_BUCKET=7", got);
    for (int rank = 0; rank < 2; rank++)
        cr_assert_eq(got[rank].started_in_backward, 8, "rank %d: %d buckets started in the last micro-step", rank,
                     got[rank].started_in_backward);
    free_two(got);
}

/* rank 0's all-reduce (or broadcast) must end with the timeout message of the comm */
static void expect_timeout(const char *mode) {
    char out[4096], path[4200], text[2048] = "";
    snprintf(out, sizeof out, "%s/die", tmp_dir_new());
    int st = run_ranks(mode, "--enable-recovery", out, "3", "CV_DP_BUCKET=7");
    cr_assert(!(WIFEXITED(st) && WEXITSTATUS(st) == 124), "mpirun hung: killed by timeout");
    snprintf(path, sizeof path, "%s.0", out);
    FILE *f = fopen(path, "r");
    if (!f) show_log(out);
    cr_assert_not_null(f, "rank 0 wrote no message to %s", path);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    cr_assert(strstr(text, "rank 0: allreduce timed out after 3 s (a peer probably died") != NULL, "rank 0 said: %s",
              text);
    cr_assert(strstr(text, "data-parallel (rank 0 of 2)") != NULL, "rank 0 said: %s", text);
    tmp_cleanup();
}

/* With --enable-recovery mpirun leaves rank 0 running after rank 1 dies: only the
 * comm's own timeout can end its all-reduce. */
Test(comm_mpi, dead_peer_gives_a_timeout_error_not_a_hang, .timeout = 300) { expect_timeout("die"); }

/* The same while rank 0's gradient buckets are in flight (non-blocking, started
 * by the hook during backward): the wait ends with the timeout error. */
Test(comm_mpi, dead_peer_during_overlapped_buckets_gives_a_timeout_error, .timeout = 300) {
    expect_timeout("die_in_flight");
}

/* Plain mpirun ends the whole job when a rank exits abnormally: every rank ends. */
Test(comm_mpi, dead_peer_under_plain_mpirun_ends_the_job, .timeout = 300) {
    char out[4096];
    snprintf(out, sizeof out, "%s/die", tmp_dir_new());
    int st = run_ranks("die", "", out, "100", NULL);
    cr_assert(WIFEXITED(st), "mpirun did not exit normally (status %d)", st);
    cr_assert_neq(WEXITSTATUS(st), 124, "mpirun hung: killed by timeout");
    cr_assert_neq(WEXITSTATUS(st), 0, "mpirun reported success although rank 1 died");
    tmp_cleanup();
}

/* Without an MPI launcher the plugin is a world of 1 and leaves MPI alone.  Run
 * in a child process with the environment a user's shell would give it. */
Test(comm_mpi, single_process_without_mpirun, .timeout = 120) {
    char out[4096], path[4200], text[2048] = "";
    snprintf(out, sizeof out, "%s/single", tmp_dir_new());
    int st = run_ranks("single", NULL, out, "5", NULL);
    snprintf(path, sizeof path, "%s.0", out);
    FILE *f = fopen(path, "r");
    if (!f) show_log(out);
    cr_assert_not_null(f, "the process wrote no %s (status %d)", path, st);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    cr_assert_str_eq(text, "ok\n");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    tmp_cleanup();
}

/* srun without --mpi: every task would be a world of 1 and train alone */
Test(comm_mpi, srun_without_pmi_is_refused) {
    setenv("SLURM_STEP_NUM_TASKS", "4", 1);
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "comm", "mpi");
    void *self = NULL;
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(th_try_create(ctx, d, NULL, NULL, &self, &err), CV_ERR_INVALID);
    cr_assert_null(self);
    cr_assert(strstr(err.message, "srun started 4 tasks") && strstr(err.message, "--mpi=pmix"), "%s", err.message);
    th_ctx_free(ctx);
}

Test(comm_mpi, options_are_checked) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "comm", "mpi");
    const char *bad[][2] = { { "timeout_s=-1", NULL }, { "chunk_mb=0", NULL }, { "timeout=5", NULL } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *self = NULL;
        cv_error err;
        cv_error_init(&err);
        cr_assert_neq(th_try_create(ctx, d, bad[i], NULL, &self, &err), CV_OK, "%s was accepted", bad[i][0]);
        cr_assert_null(self);
        cr_assert(err.message[0], "no message for %s", bad[i][0]);
    }
    th_ctx_free(ctx);
}

/* ---- cv_dist without a comm, and its refusals --------------------------------------- */
static int fake_created;
static int32_t fake_rank(void *s) { (void)s; return 0; }
static int32_t fake_world(void *s) { (void)s; return 2; }
static int fake_allreduce(void *s, float *b, int64_t n, cv_error *e) { (void)s; (void)b; (void)n; (void)e; return 0; }
static int fake_bcast(void *s, void *b, size_t n, int r, cv_error *e) { (void)s; (void)b; (void)n; (void)r; (void)e; return 0; }
static int fake_barrier(void *s, cv_error *e) { (void)s; (void)e; return 0; }
static void fake_destroy(void *s) { (void)s; fake_created--; }
static const cv_comm_vtable fake_device_vt = { sizeof(cv_comm_vtable), 1, 0, fake_rank, fake_world,
                                               fake_allreduce, fake_bcast, fake_barrier };
static const cv_component_desc fake_device_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR,
                                                    CV_KIND_COMM, "fakenccl", "any", "test", NULL, NULL,
                                                    fake_destroy, NULL, NULL, &fake_device_vt };

/* A comm of ABI 1.0 (a table without the non-blocking calls) or with device
 * buffers is accepted, without overlap; a table smaller than 1.0's or a
 * component of another kind is refused and destroyed. */
Test(comm_mpi, dist_accepts_abi_1_0_and_device_comms_and_refuses_other_kinds) {
    cv_dist d;
    cv_error err;
    cv_error_init(&err);
    cv_comm_vtable vt = fake_device_vt;
    cv_component_desc desc = fake_device_desc;
    desc.vtable = &vt;
    vt.struct_size = (uint32_t)offsetof(cv_comm_vtable, iallreduce_sum_f32);
    fake_created = 1;
    cr_assert_eq(cv_dist_open_component((cv_component_ref){ &desc, &fake_created }, &d, &err), CV_OK, "%s", err.message);
    cr_assert(d.world == 2 && d.rank == 0 && !d.overlap, "world %d rank %d overlap %d", d.world, d.rank, d.overlap);
    cv_dist_close(&d);
    cr_assert_eq(fake_created, 0, "close did not destroy the comm");

    vt.struct_size -= 8;
    fake_created = 1;
    cr_assert_eq(cv_dist_open_component((cv_component_ref){ &desc, &fake_created }, &d, &err), CV_ERR_ABI);
    cr_assert(strstr(err.message, "fakenccl") && strstr(err.message, "incomplete comm vtable"), "%s", err.message);
    cr_assert_eq(fake_created, 0, "the refused comm was not destroyed");
    cr_assert_eq(d.world, 1);
    cv_error_init(&err);
    fake_created = 1;
    cr_assert_eq(cv_dist_open_component((cv_component_ref){ &dp_desc, NULL }, &d, &err), CV_ERR_ABI);
    cr_assert(strstr(err.message, "not a comm component"), "%s", err.message);
}

Test(comm_mpi, dist_single_process_is_a_no_op) {
    cv_dist d;
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_dist_open_component((cv_component_ref){ NULL, NULL }, &d, &err), CV_OK);
    cr_assert(cv_dist_is_root(&d));
    float v[2] = { 3, 4 };
    double m[2] = { 1.5, 2.5 };
    cr_assert_eq(cv_dist_allreduce_sum(&d, v, 2, &err), CV_OK);
    cr_assert_eq(cv_dist_average(&d, m, 2, &err), CV_OK);
    cr_assert(v[0] == 3 && v[1] == 4 && m[0] == 1.5 && m[1] == 2.5);
    cv_create_args a;
    memset(&a, 0, sizeof a);
    cv_dist_sampler_args(&d, &a);
    cr_assert(a.rank == 0 && a.world_size == 1);
    cv_dist_close(&d);
}
