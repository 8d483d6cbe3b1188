/* test/unit/test_dp_train.c — issue 7's CI check at the command line:
 * `mpirun -np 2 cvnets train` with [run] comm = mpi and batch_size b per rank
 * gives the same gradients (the logged grad_norm of every step) and the same
 * weights after training as one process with batch 2b, for a network without
 * batch norm (a one-block ViT: LayerNorm only, no dropout) on the reference
 * backend.  The samplers shard padded[rank::world], so at every step the two
 * ranks' batches together are exactly the single process's batch.  Also: small
 * gradient buckets overlapped with backward train bit-identical weights to the
 * blocking path ([run] comm_overlap = false), and gradient accumulation over
 * ranks equals one process's batch. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "train/safetensors.h"
#include "support/testhost.h"
#include "support/tmpdir.h"

static const char *recipe_text =
    "[run]\nseed = 3\nepochs = 1\ndevice = ref\nlog_every = 1\neval_size = 16\n"
    "[dataset]\nname = synthetic\nlength = 48\nnum_classes = 3\nchannels = 1\nheight = 16\nwidth = 16\nworkers = 0\n"
    "[sampler]\nname = ssc_fbs\nbase_size = 16\nbatch_size = 8\n"
    "[transforms]\ntrain =\nval =\n"
    "[model]\nname = vit\ndepth = 1\npatch_size = 4\nimage_size = 16\ndropout = 0\n"
    "[loss]\nname = cross_entropy\n"
    "[optimizer]\nname = sgd\nmomentum = 0.9\nweight_decay = 1e-4\n"
    "[scheduler]\nname = fixed\nlr = 0.1\n";

/* Runs cvnets train (2 ranks under mpirun when ranks == 2); returns the shell status. */
static int train(const char *recipe, const char *out, int ranks, const char *sets) {
    char cmd[32768];
    /* BXFI_MAP would make the children think they are Criterion's sandboxes */
    snprintf(cmd, sizeof cmd,
             "unset BXFI_MAP GMON_OUT_PREFIX; ASAN_OPTIONS=detect_leaks=0 OMPI_MCA_plm=isolated "
             "OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none timeout -k 10 400 %s '%s' "
             "train '%s' --out '%s' %s > '%s.log' 2>&1",
             ranks > 1 ? "mpirun --allow-run-as-root --oversubscribe -np 2" : "", th_build_path("bin/cvnets"),
             recipe, out, sets, out);
    return system(cmd);
}

static void show_log(const char *out) {
    char path[4200], text[6000];
    snprintf(path, sizeof path, "%s.log", out);
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    cr_log_error("%s:\n%s", path, text);
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

/* Every f32 tensor of a/last.safetensors against b's, within rel relative (0: bit-identical). */
static void same_weights(const char *a_dir, const char *b_dir, float rel) {
    cv_error err;
    cv_error_init(&err);
    char p1[4200], p2[4200];
    snprintf(p1, sizeof p1, "%s/last.safetensors", a_dir);
    snprintf(p2, sizeof p2, "%s/last.safetensors", b_dir);
    cv_st_file *a = cv_st_open(p1, &err), *b = cv_st_open(p2, &err);
    cr_assert(a && b, "%s", err.message);
    int compared = 0;
    for (int i = 0; i < cv_st_count(a); i++) {
        const cv_st_tensor *ta = cv_st_at(a, i), *tb = cv_st_find(b, ta->name);
        cr_assert_not_null(tb, "%s is missing from %s", ta->name, p2);
        cr_assert_eq(ta->bytes, tb->bytes, "%s: sizes differ", ta->name);
        if (ta->dtype != CV_F32) continue;
        const float *x = ta->data, *y = tb->data;
        for (size_t k = 0; k < ta->bytes / sizeof(float); k++) {
            float tol = rel > 0 ? rel * fmaxf(fabsf(x[k]), fabsf(y[k])) + 1e-7f : 0.0f;
            cr_assert(fabsf(x[k] - y[k]) <= tol && (rel > 0 || memcmp(&x[k], &y[k], sizeof(float)) == 0),
                      "%s[%zu] after training: %.9g in %s, %.9g in %s", ta->name, k, y[k], b_dir, x[k], a_dir);
        }
        compared++;
    }
    cr_assert_gt(compared, 4, "only %d f32 tensors in the checkpoint", compared);
    cv_st_close(a);
    cv_st_close(b);
}

/* The logged grad_norm of every optimizer step of b against a (3 steps), within 1e-5 relative. */
static void same_grad_norms(const char *a_dir, const char *b_dir) {
    double g1[16], g2[16];
    int n1 = grad_norms(a_dir, g1, 16), n2 = grad_norms(b_dir, g2, 16);
    cr_assert_eq(n1, 3, "%s logged %d steps, expected 48 / 16 = 3", a_dir, n1);
    cr_assert_eq(n2, n1, "%s logged %d steps, %s %d", b_dir, n2, a_dir, n1);
    for (int i = 0; i < n1; i++)
        cr_assert(fabs(g1[i] - g2[i]) <= 1e-5 * fabs(g1[i]) && g1[i] > 0,
                  "step %d: gradient norm %.9g in %s, %.9g in %s", i + 1, g2[i], b_dir, g1[i], a_dir);
}

static void train_ok(const char *recipe, const char *out, int ranks, const char *sets) {
    int st = train(recipe, out, ranks, sets);
    if (st) show_log(out);
    cr_assert_eq(st, 0, "%s cvnets train %s failed (status %d)", ranks > 1 ? "mpirun -np 2" : "", sets, st);
}

/* overlap on (the default), one 4 MiB bucket larger than the whole gradient */
Test(dp_train, mpirun_two_ranks_match_one_process_on_the_union_batch, .timeout = 900) {
    const char *dir = tmp_dir_new();
    const char *recipe = tmp_write(dir, "dp.ini", recipe_text);
    char one[4096], two[4096];
    snprintf(one, sizeof one, "%s/one", dir);
    snprintf(two, sizeof two, "%s/two", dir);
    train_ok(recipe, one, 1, "--set sampler.batch_size=16");
    train_ok(recipe, two, 2, "--set run.comm=mpi --set comm.timeout_s=120");
    same_grad_norms(one, two);
    same_weights(one, two, 1e-5f);
    tmp_cleanup();
}

/* Buckets of 0.001 MiB (262 floats) split most of the ViT's parameters: the
 * overlapped run and the blocking one (comm_overlap = false) train bit-identical
 * weights, and both match one process. */
Test(dp_train, small_overlapped_buckets_train_the_same_weights_as_the_blocking_path, .timeout = 900) {
    const char *dir = tmp_dir_new();
    const char *recipe = tmp_write(dir, "dp.ini", recipe_text);
    char one[4096], over[4096], block[4096];
    snprintf(one, sizeof one, "%s/one", dir);
    snprintf(over, sizeof over, "%s/over", dir);
    snprintf(block, sizeof block, "%s/block", dir);
    train_ok(recipe, one, 1, "--set sampler.batch_size=16");
    train_ok(recipe, over, 2, "--set run.comm=mpi --set run.comm_bucket_mib=0.001");
    train_ok(recipe, block, 2, "--set run.comm=mpi --set run.comm_overlap=false");
    same_weights(block, over, 0);
    same_grad_norms(one, over);
    same_weights(one, over, 1e-5f);
    tmp_cleanup();
}

/* accum_freq = 2 with batch 4 per rank: 2 micro-steps x 2 ranks x 4 images are
 * one process's batch of 16; only the last micro-step overlaps its buckets. */
Test(dp_train, gradient_accumulation_over_two_ranks_matches_one_process, .timeout = 900) {
    const char *dir = tmp_dir_new();
    const char *recipe = tmp_write(dir, "dp.ini", recipe_text);
    char one[4096], two[4096];
    snprintf(one, sizeof one, "%s/one", dir);
    snprintf(two, sizeof two, "%s/two", dir);
    train_ok(recipe, one, 1, "--set sampler.batch_size=16");
    train_ok(recipe, two, 2,
             "--set run.comm=mpi --set run.accum_freq=2 --set sampler.batch_size=4 --set run.comm_bucket_mib=0.001");
    same_grad_norms(one, two);
    same_weights(one, two, 1e-5f);
    tmp_cleanup();
}
