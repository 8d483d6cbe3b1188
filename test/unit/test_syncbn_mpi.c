/* test/unit/test_syncbn_mpi.c — [run] sync_bn at the command line, on a network
 * WITH batch norm (resnet_cifar depth 8, the reference backend):
 * `mpirun -np 2 cvnets train` with sync_bn and batch b per rank gives the same
 * gradients (logged grad_norm) and the same weights AND running statistics as
 * one process with batch 2b (within 1e-5 relative, f32 sums in another order);
 * without sync_bn it does not (so the comparison can fail); and with one process
 * ([run] comm = none, or comm = mpi under mpirun -np 1) sync_bn changes no bit.
 * Also a rank that dies while the other waits in a batch-norm all-reduce: the
 * survivor's step ends with the comm's timeout error naming the layer (this
 * binary is then its own MPI driver, CV_SBN_DRIVER=die). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "train/dist.h"
#include "train/safetensors.h"
#include "support/kernel_util.h"
#include "support/testhost.h"
#include "support/tmpdir.h"

static const char *recipe_text =
    "[run]\nseed = 3\nepochs = 1\ndevice = ref\nlog_every = 1\neval_size = 16\n"
    "[dataset]\nname = synthetic\nlength = 48\nnum_classes = 3\nchannels = 1\nheight = 16\nwidth = 16\nworkers = 0\n"
    "[sampler]\nname = ssc_fbs\nbase_size = 16\nbatch_size = 8\n"
    "[transforms]\ntrain =\nval =\n"
    "[model]\nname = resnet_cifar\ndepth = 8\nbase_width = 4\n"
    "[loss]\nname = cross_entropy\n"
    "[optimizer]\nname = sgd\nmomentum = 0.9\nweight_decay = 1e-4\n"
    "[scheduler]\nname = fixed\nlr = 0.1\n";

/* cvnets train under mpirun -np ranks (0: no mpirun); returns the shell status */
static int train(const char *recipe, const char *out, int ranks, const char *sets) {
    char cmd[32768], mpirun[128] = "";
    if (ranks) snprintf(mpirun, sizeof mpirun, "mpirun --allow-run-as-root --oversubscribe -np %d", ranks);
    /* BXFI_MAP would make the children think they are Criterion's sandboxes */
    snprintf(cmd, sizeof cmd,
             "unset BXFI_MAP GMON_OUT_PREFIX; ASAN_OPTIONS=detect_leaks=0 OMPI_MCA_plm=isolated "
             "OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none timeout -k 10 400 %s '%s' "
             "train '%s' --out '%s' %s > '%s.log' 2>&1",
             mpirun, th_build_path("bin/cvnets"), recipe, out, sets, out);
    return system(cmd);
}

static void train_ok(const char *recipe, const char *out, int ranks, const char *sets) {
    int st = train(recipe, out, ranks, sets);
    if (st) {
        char path[4200], text[6000] = "";
        snprintf(path, sizeof path, "%s.log", out);
        FILE *f = fopen(path, "r");
        if (f) {
            text[fread(text, 1, sizeof text - 1, f)] = 0;
            fclose(f);
        }
        cr_log_error("%s:\n%s", path, text);
    }
    cr_assert_eq(st, 0, "cvnets train (%d ranks) %s failed (status %d)", ranks, sets, st);
}

/* grad_norm of every step record in out/metrics.jsonl; returns the count */
static int grad_norms(const char *out, double *v, int max) {
    char path[4200], line[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", out);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no %s", path);
    int n = 0;
    while (fgets(line, sizeof line, f) && n < max) {
        const char *g = strstr(line, "\"grad_norm\":");
        if (strstr(line, "\"type\":\"step\"") && g) v[n++] = strtod(g + strlen("\"grad_norm\":"), NULL);
    }
    fclose(f);
    return n;
}

/* The largest relative difference over the f32 tensors of the two last.safetensors
 * (rel_floor keeps tiny values from dominating); *running counts the running
 * statistics compared. */
static double weight_diff(const char *a_dir, const char *b_dir, int *running) {
    cv_error err;
    cv_error_init(&err);
    char p1[4200], p2[4200];
    snprintf(p1, sizeof p1, "%s/last.safetensors", a_dir);
    snprintf(p2, sizeof p2, "%s/last.safetensors", b_dir);
    cv_st_file *a = cv_st_open(p1, &err), *b = cv_st_open(p2, &err);
    cr_assert(a && b, "%s", err.message);
    double worst = 0;
    int compared = 0;
    *running = 0;
    for (int i = 0; i < cv_st_count(a); i++) {
        const cv_st_tensor *ta = cv_st_at(a, i), *tb = cv_st_find(b, ta->name);
        cr_assert_not_null(tb, "%s is missing from %s", ta->name, p2);
        cr_assert_eq(ta->bytes, tb->bytes, "%s: sizes differ", ta->name);
        if (ta->dtype != CV_F32) continue;
        const float *x = ta->data, *y = tb->data;
        for (size_t k = 0; k < ta->bytes / sizeof(float); k++) {
            double d = fabs((double)x[k] - y[k]) / (fmax(fabs(x[k]), fabs(y[k])) + 1e-3);
            if (memcmp(&x[k], &y[k], sizeof(float)) != 0 && d == 0) d = 1e-30; /* -0 vs 0, NaN payloads */
            if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
        }
        compared++;
        *running += strstr(ta->name, "running_") != NULL;
    }
    cr_assert_gt(compared, 4, "only %d f32 tensors in the checkpoint", compared);
    cv_st_close(a);
    cv_st_close(b);
    return worst;
}

static double grad_norm_diff(const char *a_dir, const char *b_dir) {
    double g1[16], g2[16], worst = 0;
    int n1 = grad_norms(a_dir, g1, 16), n2 = grad_norms(b_dir, g2, 16);
    cr_assert_eq(n1, 3, "%s logged %d steps, expected 48 / 16 = 3", a_dir, n1);
    cr_assert_eq(n2, n1, "%s logged %d steps, %s %d", b_dir, n2, a_dir, n1);
    for (int i = 0; i < n1; i++) {
        cr_assert_gt(g1[i], 0, "step %d: zero gradient norm in %s", i + 1, a_dir);
        worst = fmax(worst, fabs(g1[i] - g2[i]) / g1[i]);
    }
    return worst;
}

Test(syncbn_mpi, two_ranks_with_sync_bn_match_one_process_and_without_do_not, .timeout = 900) {
    const char *dir = tmp_dir_new();
    const char *recipe = tmp_write(dir, "sbn.ini", recipe_text);
    char one[4096], sync[4096], local[4096];
    snprintf(one, sizeof one, "%s/one", dir);
    snprintf(sync, sizeof sync, "%s/sync", dir);
    snprintf(local, sizeof local, "%s/local", dir);
    train_ok(recipe, one, 0, "--set sampler.batch_size=16");
    train_ok(recipe, sync, 2, "--set run.comm=mpi --set run.sync_bn=true --set comm.timeout_s=120");
    train_ok(recipe, local, 2, "--set run.comm=mpi --set comm.timeout_s=120");
    int running = 0;
    double gs = grad_norm_diff(one, sync), ws = weight_diff(one, sync, &running);
    cr_assert_gt(running, 4, "only %d running statistics in the checkpoint", running);
    cr_assert(gs <= 1e-5, "sync_bn: gradient norms differ from one process by %.3g relative", gs);
    if (getenv("SYNCBN_VERBOSE")) fprintf(stderr, "sync_bn vs one process: grad norms %.3g, weights %.3g\n", gs, ws);
    cr_assert(ws <= 1e-5, "sync_bn: weights / running stats differ from one process by %.3g relative", ws);
    double gl = grad_norm_diff(one, local), wl = weight_diff(one, local, &running);
    cr_assert(gl > 1e-3 && wl > 1e-3,
              "without sync_bn the ranks' batch norm should differ from one process (grad norms %.3g, weights %.3g)", gl,
              wl);
    tmp_cleanup();
}

/* One process: sync_bn changes nothing, bit for bit (comm = none; comm = mpi as a
 * world of 1 under mpirun -np 1). */
Test(syncbn_mpi, one_process_with_sync_bn_is_bit_identical, .timeout = 900) {
    const char *dir = tmp_dir_new();
    const char *recipe = tmp_write(dir, "sbn.ini", recipe_text);
    char off[4096], on[4096], mpi_on[4096];
    snprintf(off, sizeof off, "%s/off", dir);
    snprintf(on, sizeof on, "%s/on", dir);
    snprintf(mpi_on, sizeof mpi_on, "%s/mpi_on", dir);
    train_ok(recipe, off, 0, "--set sampler.batch_size=16");
    train_ok(recipe, on, 0, "--set sampler.batch_size=16 --set run.sync_bn=true");
    train_ok(recipe, mpi_on, 1, "--set sampler.batch_size=16 --set run.comm=mpi --set run.sync_bn=true");
    int running = 0;
    cr_assert(weight_diff(off, on, &running) == 0, "comm = none: sync_bn changed the weights");
    cr_assert(weight_diff(off, mpi_on, &running) == 0, "mpirun -np 1: sync_bn changed the weights");
    cr_assert(grad_norm_diff(off, on) == 0 && grad_norm_diff(off, mpi_on) == 0, "sync_bn changed a gradient norm");
    tmp_cleanup();
}

/* ---- a rank dies during the batch-norm all-reduce ------------------------------------------ */
/* CV_SBN_DRIVER=die under mpirun -np 2: both ranks meet at a barrier, then rank 1
 * exits (a crashed peer) and rank 0 runs one SyncBN training step of
 * resnet_cifar on the reference backend; its first collective is the forward
 * all-reduce of the stem's batch norm.  Rank 0 writes the step's error message
 * (or "the step succeeded") to $CV_SBN_OUT.0. */
static int die_driver(void) {
    const char *out = getenv("CV_SBN_OUT");
    if (!out || !*out) return 2;
    cv_ctx *ctx = th_ctx_new();
    cv_error err;
    cv_error_init(&err);
    const cv_component_desc *cd = th_load(ctx, "comm", "mpi");
    const char *ckv[] = { "timeout_s=3", NULL };
    void *cself = NULL;
    cv_dist d;
    if (th_try_create(ctx, cd, ckv, NULL, &cself, &err) ||
        cv_dist_open_component((cv_component_ref){ cd, cself }, &d, &err) || cv_dist_barrier(&d, &err)) {
        fprintf(stderr, "sbn driver: %s\n", err.message);
        return 2;
    }
    if (d.rank == 1) _exit(3); /* no finalize, no goodbye */
    cv_create_args extra = { .struct_size = sizeof extra, .num_classes = 3, .in_channels = 1, .world_size = 1 };
    const cv_component_desc *md = th_load(ctx, "model", "resnet_cifar"), *ld = th_load(ctx, "loss", "cross_entropy");
    const char *mkv[] = { "depth=8", "base_width=4", NULL };
    void *mself = th_create(ctx, md, mkv, &extra), *lself = th_create(ctx, ld, NULL, &extra);
    ku_backend be = ku_backend_open(ctx, "ref");
    cv_engine *e = cv_engine_create(&ctx->host, (cv_backend_ref){ be.vt, be.self }, 1, &err);
    cv_net *net = e ? cv_net_create(e, (cv_component_ref){ md, mself }, (cv_component_ref){ ld, lself }, 3, &err) : NULL;
    int rc = net ? CV_OK : err.status;
    if (net) cv_dist_sync_bn(&d, net, 1);
    cv_shape in = CV_SHAPE(4, 1, 16, 16);
    cv_plan *p = net ? cv_net_plan_get(net, &in, CV_MODE_TRAIN, 0, &err) : NULL;
    if (net && !p) rc = err.status;
    float img[4 * 16 * 16];
    int32_t lab[4] = { 0, 1, 2, 0 };
    for (int i = 0; i < 4 * 16 * 16; i++) img[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
    cv_step_io io = { img, lab, NULL, 0, 0 };
    if (p) rc = cv_net_run(p, &io, &err);
    char path[4200];
    snprintf(path, sizeof path, "%s.0", out);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%s\n", rc ? err.message : "the step succeeded");
        fclose(f);
    }
    cv_net_destroy(net);
    cv_engine_destroy(e);
    ku_backend_close(be);
    th_destroy(md, mself);
    th_destroy(ld, lself);
    cv_dist_close(&d);
    th_ctx_free(ctx);
    return 0;
}

int main(int argc, char *argv[]) {
    const char *mode = getenv("CV_SBN_DRIVER");
    if (mode && strcmp(mode, "die") == 0) return die_driver();
    struct criterion_test_set *tests = criterion_initialize();
    int result = 0;
    if (criterion_handle_args(argc, argv, true)) result = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    return result;
}

/* --enable-recovery keeps rank 0 alive after rank 1 dies: only the comm's timeout
 * (3 s) can end its batch-norm all-reduce. */
Test(syncbn_mpi, a_rank_dying_during_the_bn_allreduce_ends_the_step_with_a_clear_error, .timeout = 300) {
    char exe[4096], out[4096], cmd[16384], path[4200], text[2048] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    cr_assert(n > 0, "cannot find this test binary");
    exe[n] = 0;
    snprintf(out, sizeof out, "%s/die", tmp_dir_new());
    snprintf(cmd, sizeof cmd,
             "unset BXFI_MAP GMON_OUT_PREFIX; CV_SBN_DRIVER=die CV_SBN_OUT='%s' CVNETS_BUILD='%s' ASAN_OPTIONS=detect_leaks=0 "
             "OMPI_MCA_plm=isolated OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none "
             "timeout -k 10 240 mpirun --allow-run-as-root --oversubscribe --enable-recovery -np 2 '%s' > '%s.log' 2>&1",
             out, th_build_path(""), exe, out);
    int st = system(cmd);
    cr_assert(!(WIFEXITED(st) && WEXITSTATUS(st) == 124), "mpirun hung: killed by timeout");
    snprintf(path, sizeof path, "%s.0", out);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "rank 0 wrote no message to %s (mpirun status %d)", path, st);
    text[fread(text, 1, sizeof text - 1, f)] = 0;
    fclose(f);
    cr_assert(strstr(text, "allreduce_sum") && strstr(text, "bn") && strstr(text, "timed out after 3 s"),
              "rank 0 said: %s", text);
    tmp_cleanup();
}
