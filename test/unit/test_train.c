/* test_train.c — the training engine end to end on a tiny net (synthetic data,
 * reference backend): determinism, interrupt-and-resume equality, checkpoints
 * and their failure modes, EMA, SET bookkeeping, NaN and unwritable-folder errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "registry.h"
#include "support/testhost.h"
#include "support/tmpdir.h"
#include "train/checkpoint.h"
#include "train/ema.h"
#include "train/safetensors.h"
#include "train/trainer.h"

static const char *tiny_recipe =
    "[run]\nseed = 3\nepochs = 2\ndevice = ref\nlog_every = 1\n"
    "[dataset]\nname = synthetic\nlength = 48\nnum_classes = 4\nchannels = 1\nheight = 8\nwidth = 8\nworkers = 1\n"
    "[sampler]\nname = ssc_fbs\nbase_size = 8\nbatch_size = 16\n"
    "[transforms]\ntrain = horizontal_flip\n"
    "[model]\nname = resnet\ndepth = 18\nstem = cifar\nwidth_multiplier = 0.0625\n"
    "[loss]\nname = cross_entropy\n"
    "[optimizer]\nname = sgd\nmomentum = 0.9\n"
    "[scheduler]\nname = cosine\nmax_lr = 0.05\nwarmup_iterations = 2\n"
    "[ema]\nenable = true\nmomentum = 0.1\n";

/* a folder of test plugins (fixtures installed under their plugin names) that
 * new_ctx() also searches, when set */
static const char *fixture_dir;

static cv_ctx *new_ctx(void) {
    cv_ctx *ctx = th_ctx_new();
    cv_registry_use_defaults(ctx->registry, 0, 0);
    cr_assert_eq(cv_registry_add_dirs(ctx->registry, th_build_path("lib/cvnets/plugins")), CV_OK);
    if (fixture_dir) cr_assert_eq(cv_registry_add_dirs(ctx->registry, fixture_dir), CV_OK);
    ctx->log_level = CV_LOG_ERROR;
    return ctx;
}

/* Trains the tiny recipe into out (with extra --set overrides); returns the status. */
static int train(const char *recipe, const char *out, const char *const *sets, int nsets, int resume, int stop_after,
                 cv_train_summary *sum, cv_error *err) {
    cv_ctx *ctx = new_ctx();
    cv_session s;
    cv_error_init(err);
    int rc = cv_session_open(ctx, recipe, sets, nsets, out,
                             CV_NEED_TRAIN_DATA | CV_NEED_VAL_DATA | CV_NEED_OPTIM | CV_NEED_LOSS, &s, err);
    if (!rc) {
        cv_train_options o = { .resume = resume, .quiet = 1, .stop_after_epochs = stop_after };
        rc = cv_train_run(&s, &o, sum, err);
        cv_session_close(&s);
    }
    th_ctx_free(ctx);
    return rc;
}

static float *read_weights(const char *path, int64_t *n) {
    cv_error err;
    cv_error_init(&err);
    cv_st_file *f = cv_st_open(path, &err);
    cr_assert_not_null(f, "%s", err.message);
    int64_t total = 0;
    for (int i = 0; i < cv_st_count(f); i++) total += (int64_t)(cv_st_at(f, i)->bytes / 4);
    float *w = cv_alloc_array((size_t)total, sizeof(float)), *p = w;
    for (int i = 0; i < cv_st_count(f); i++) {
        memcpy(p, cv_st_at(f, i)->data, cv_st_at(f, i)->bytes);
        p += cv_st_at(f, i)->bytes / 4;
    }
    cv_st_close(f);
    *n = total;
    return w;
}

static void assert_same_file_weights(const char *a, const char *b) {
    int64_t na, nb;
    float *wa = read_weights(a, &na), *wb = read_weights(b, &nb);
    cr_assert_eq(na, nb);
    cr_assert(na > 100);
    for (int64_t i = 0; i < na; i++) cr_assert_eq(wa[i], wb[i], "weight %lld differs: %.9g vs %.9g", (long long)i, wa[i], wb[i]);
    cv_free(wa);
    cv_free(wb);
}

/* dir/name and dir/sub/name, in a small ring of buffers */
static char *next_buf(void) {
    static char bufs[8][1024];
    static int k;
    return bufs[k++ % 8];
}
static const char *in(const char *dir, const char *name) {
    char *b = next_buf();
    snprintf(b, 1024, "%s/%s", dir, name);
    return b;
}
static const char *in2(const char *dir, const char *sub, const char *name) {
    char *b = next_buf();
    snprintf(b, 1024, "%s/%s/%s", dir, sub, name);
    return b;
}

TestSuite(train, .fini = tmp_cleanup, .timeout = 300);

Test(train, runs_logs_and_saves) {
    const char *d = tmp_dir_new();
    const char *recipe = tmp_write(d, "tiny.ini", tiny_recipe);
    cv_train_summary sum;
    cv_error err;
    cr_assert_eq(train(recipe, in(d, "out"), NULL, 0, 0, 0, &sum, &err), CV_OK, "%s", err.message);
    cr_assert_eq(sum.epochs_done, 2);
    cr_assert_eq(sum.iterations, 6, "48 samples / 16 per batch * 2 epochs");
    cr_assert(isfinite(sum.last_loss));
    const char *files[] = { "last.safetensors", "last.state.safetensors", "best.safetensors", "best_ema.safetensors",
                            "recipe.ini", "metrics.jsonl" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        struct stat st;
        cr_assert_eq(stat(in2(d, "out", files[i]), &st), 0, "%s was written", files[i]);
    }
    /* metrics.jsonl: a step record per iteration (log_every 1), two epoch records, a summary */
    FILE *f = fopen(in2(d, "out", "metrics.jsonl"), "r");
    char line[8192];
    int steps = 0, epochs = 0, summaries = 0;
    while (fgets(line, sizeof line, f)) {
        steps += strstr(line, "\"type\":\"step\"") != NULL;
        epochs += strstr(line, "\"type\":\"epoch\"") != NULL && strstr(line, "\"val_top1\"") && strstr(line, "\"ema_top1\"");
        summaries += strstr(line, "\"type\":\"summary\"") != NULL;
    }
    fclose(f);
    cr_assert_eq(steps, 6);
    cr_assert_eq(epochs, 2);
    cr_assert_eq(summaries, 1);
    /* the resolved recipe has every default filled in and loads again */
    cv_ctx *ctx = new_ctx();
    cv_recipe *r = NULL;
    cr_assert_eq(cv_recipe_load(ctx, in2(d, "out", "recipe.ini"), NULL, 0, &r, &err), CV_OK, "%s", err.message);
    cr_assert_eq(cv_recipe_int(r, "run", "epochs"), 2);
    cv_recipe_free(r);
    th_ctx_free(ctx);
}

Test(train, two_runs_are_identical) {
    const char *d = tmp_dir_new();
    const char *recipe = tmp_write(d, "tiny.ini", tiny_recipe);
    cv_train_summary s1, s2;
    cv_error err;
    cr_assert_eq(train(recipe, in(d, "a"), NULL, 0, 0, 0, &s1, &err), CV_OK, "%s", err.message);
    cr_assert_eq(train(recipe, in(d, "b"), NULL, 0, 0, 0, &s2, &err), CV_OK, "%s", err.message);
    cr_assert_eq(s1.last_loss, s2.last_loss);
    cr_assert_eq(s1.last_top1, s2.last_top1);
    assert_same_file_weights(in2(d, "a", "last.safetensors"), in2(d, "b", "last.safetensors"));
}

Test(train, interrupted_then_resumed_equals_uninterrupted) {
    const char *d = tmp_dir_new();
    const char *recipe = tmp_write(d, "tiny.ini", tiny_recipe);
    const char *sets[] = { "run.epochs=3" };
    cv_train_summary s;
    cv_error err;
    cr_assert_eq(train(recipe, in(d, "full"), sets, 1, 0, 0, &s, &err), CV_OK, "%s", err.message);
    cr_assert_eq(train(recipe, in(d, "part"), sets, 1, 0, 1, &s, &err), CV_OK, "%s", err.message);
    cr_assert(s.interrupted);
    cr_assert_eq(s.epochs_done, 1);
    cr_assert_eq(train(recipe, in(d, "part"), sets, 1, 1, 0, &s, &err), CV_OK, "%s", err.message);
    cr_assert_eq(s.epochs_done, 2, "the resumed run trains the remaining epochs only");
    cr_assert_eq(s.iterations, 9);
    assert_same_file_weights(in2(d, "full", "last.safetensors"), in2(d, "part", "last.safetensors"));
    assert_same_file_weights(in2(d, "full", "best_ema.safetensors"), in2(d, "part", "best_ema.safetensors"));
}

Test(train, unwritable_output_folder_fails_before_training) {
    const char *d = tmp_dir_new();
    const char *recipe = tmp_write(d, "tiny.ini", tiny_recipe);
    cv_train_summary s;
    cv_error err;
    /* a path below a regular file can never be created */
    tmp_write(d, "file", "x");
    cr_assert_eq(train(recipe, in(d, "file/out"), NULL, 0, 0, 0, &s, &err), CV_ERR_IO);
    cr_assert(strstr(err.message, "output folder") && strstr(err.message, "file/out"), "%s", err.message);
}

Test(train, nan_loss_stops_with_step_and_keeps_checkpoint) {
    const char *d = tmp_dir_new();
    const char *recipe = tmp_write(d, "tiny.ini", tiny_recipe);
    cv_train_summary s;
    cv_error err;
    cr_assert_eq(train(recipe, in(d, "out"), NULL, 0, 0, 0, &s, &err), CV_OK, "%s", err.message);
    int64_t n0;
    float *before = read_weights(in2(d, "out", "last.safetensors"), &n0);
    /* resume with an absurd learning rate: the loss overflows to inf/NaN */
    const char *sets[] = { "run.epochs=6", "scheduler.max_lr=1e6", "scheduler.warmup_iterations=0" };
    int rc = train(recipe, in(d, "out"), sets, 3, 1, 0, &s, &err);
    cr_assert_eq(rc, CV_ERR_NUMERIC, "status %d: %s", rc, err.message);
    cr_assert(strstr(err.message, "not finite at epoch") && strstr(err.message, "last finite loss"), "%s", err.message);
    int64_t n1;
    float *after = read_weights(in2(d, "out", "last.safetensors"), &n1);
    cr_assert_eq(n0, n1);
    /* no epoch of the resumed run ended with finite weights: the checkpoint is the one before it */
    for (int64_t i = 0; i < n0; i++) cr_assert(after[i] == before[i], "weight %lld of the kept checkpoint changed", (long long)i);
    cv_free(before);
    cv_free(after);
}

/* nan_policy = skip: a NaN pixel in a fifth of the training samples (fixture
 * transform "nan") makes some batches' losses NaN; those steps are skipped and
 * counted, the batch-norm running statistics their forward touched are put back,
 * and the run ends with finite weights and a finite validation loss.  With the
 * default policy the same run stops at the first such step. */
Test(train, nan_policy_skip_skips_and_counts_the_steps) {
    const char *d = tmp_dir_new();
    const char *recipe = tmp_write(d, "tiny.ini", tiny_recipe);
    tmp_put_fixture_as(d, "fx_nan", "cvnets-transform-nan.so");
    fixture_dir = d;
    cv_train_summary s;
    cv_error err;
    const char *stop[] = { "transforms.train=nan", "run.epochs=2" };
    int rc = train(recipe, in(d, "stop"), stop, 2, 0, 0, &s, &err);
    cr_assert_eq(rc, CV_ERR_NUMERIC, "status %d: %s", rc, err.message);
    cr_assert(strstr(err.message, "the loss is not finite"), "%s", err.message);
    const char *skip[] = { "transforms.train=nan", "run.epochs=2", "run.nan_policy=skip" };
    rc = train(recipe, in(d, "skip"), skip, 3, 0, 0, &s, &err);
    fixture_dir = NULL;
    cr_assert_eq(rc, CV_OK, "%s", err.message);
    cr_assert(s.skipped_steps > 0 && s.iterations > 0, "%lld steps skipped, %lld made", (long long)s.skipped_steps,
              (long long)s.iterations);
    cr_assert_eq(s.skipped_steps + s.iterations, 6, "2 epochs of 3 batches");
    cr_assert(isfinite(s.last_loss), "last training loss %g", s.last_loss); /* a NaN validation loss would be an error */
    int64_t n;
    float *w = read_weights(in2(d, "skip", "last.safetensors"), &n);
    for (int64_t i = 0; i < n; i++) cr_assert(isfinite(w[i]), "weight %lld is %g", (long long)i, w[i]);
    cv_free(w);
}

Test(train, checkpoint_errors_are_clear) {
    const char *d = tmp_dir_new();
    const char *recipe = tmp_write(d, "tiny.ini", tiny_recipe);
    cv_train_summary s;
    cv_error err;
    const char *one[] = { "run.epochs=1" };
    cr_assert_eq(train(recipe, in(d, "out"), one, 1, 0, 0, &s, &err), CV_OK, "%s", err.message);
    const char *ck = in2(d, "out", "last.safetensors");

    cv_ctx *ctx = new_ctx();
    cv_session ses;
    /* a different model: wider net, same names, other shapes */
    const char *wide[] = { "model.width_multiplier=0.125" };
    cr_assert_eq(cv_session_open(ctx, recipe, wide, 1, in(d, "o2"), 0, &ses, &err), CV_OK, "%s", err.message);
    cv_error_init(&err);
    cr_assert_eq(cv_ckpt_load_weights(ses.net, ck, 1, NULL, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "does not fit this model") && strstr(err.message, "another shape"), "%s", err.message);
    cv_session_close(&ses);
    /* another family: names missing and unexpected */
    char other_text[4096];
    snprintf(other_text, sizeof other_text, "%.*s[model]\nname = mobilenetv2\nwidth_multiplier = 0.25\n%s",
             (int)(strstr(tiny_recipe, "[model]") - tiny_recipe), tiny_recipe, strstr(tiny_recipe, "[loss]"));
    const char *other = tmp_write(d, "other.ini", other_text);
    cv_error_init(&err);
    cr_assert_eq(cv_session_open(ctx, other, NULL, 0, in(d, "o3"), 0, &ses, &err), CV_OK, "%s", err.message);
    cr_assert_eq(cv_ckpt_load_weights(ses.net, ck, 1, NULL, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "missing") && strstr(err.message, "unexpected") && strstr(err.message, "resnet"),
              "%s", err.message);
    cv_session_close(&ses);
    /* truncated */
    cv_error_init(&err);
    cr_assert_eq(cv_session_open(ctx, recipe, NULL, 0, in(d, "o4"), 0, &ses, &err), CV_OK, "%s", err.message);
    FILE *f = fopen(ck, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    cr_assert_eq(truncate(ck, size / 2), 0);
    cv_error_init(&err);
    cr_assert_eq(cv_ckpt_load_weights(ses.net, ck, 1, NULL, &err), CV_ERR_IO);
    cr_assert(strstr(err.message, "corrupt checkpoint") && strstr(err.message, "last.safetensors"), "%s", err.message);
    cv_session_close(&ses);
    th_ctx_free(ctx);
}

Test(train, kill_during_checkpoint_write_keeps_previous) {
    const char *d = tmp_dir_new();
    const char *path = in(d, "w.safetensors");
    cv_error err;
    cv_error_init(&err);
    float big[1 << 16];
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) big[i] = (float)i;
    cv_shape sh = CV_SHAPE(1 << 16);
    cv_st_writer *w = cv_st_writer_create();
    for (int t = 0; t < 64; t++) {
        char name[32];
        snprintf(name, sizeof name, "t%d", t);
        cr_assert_eq(cv_st_add(w, name, CV_F32, &sh, big, &err), CV_OK);
    }
    cr_assert_eq(cv_st_write_atomic(w, path, &err), CV_OK, "%s", err.message);
    for (int round = 0; round < 8; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (;;) cv_st_write_atomic(w, path, &err); /* killed mid-write */
        }
        usleep(2000 + 3000 * round);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        cv_st_file *f = cv_st_open(path, &err);
        cr_assert_not_null(f, "after kill -9 in round %d: %s", round, err.message);
        cr_assert_eq(cv_st_count(f), 64);
        cv_st_close(f);
    }
    cv_st_writer_destroy(w);
}

Test(train, ema_blend_math) {
    float avg[3] = { 1, 2, 3 };
    const float cur[3] = { 3, 2, 1 };
    cv_ema_blend(avg, cur, 3, 0.25);
    cr_assert_float_eq(avg[0], 1.5f, 1e-6);
    cr_assert_float_eq(avg[1], 2.0f, 1e-6);
    cr_assert_float_eq(avg[2], 2.5f, 1e-6);
    cv_ema_blend(avg, cur, 3, 1.0);
    cr_assert_float_eq(avg[0], 3.0f, 1e-6, "momentum 1 takes the current weights");
}

Test(train, set_leaves_out_easy_samples_and_logs_it) {
    const char *d = tmp_dir_new();
    const char *recipe = tmp_write(d, "tiny.ini", tiny_recipe);
    /* confidence 0 makes every correctly classified sample easy; window 1 drops it at once */
    const char *sets[] = { "run.epochs=3", "set.enable=true", "set.every_k_epochs=1", "set.window=1",
                           "set.confidence=0" };
    cv_train_summary s;
    cv_error err;
    cr_assert_eq(train(recipe, in(d, "out"), sets, 5, 0, 0, &s, &err), CV_OK, "%s", err.message);
    FILE *f = fopen(in2(d, "out", "metrics.jsonl"), "r");
    char line[8192];
    int with_set = 0;
    while (fgets(line, sizeof line, f)) with_set += strstr(line, "\"set_left_out\"") != NULL;
    fclose(f);
    cr_assert_eq(with_set, 3, "every epoch record says how many samples SET left out");
    cr_assert(s.iterations < 9, "SET removed some optimizer steps (%lld)", (long long)s.iterations);
}

Test(train, distillation_from_a_teacher_checkpoint) {
    const char *d = tmp_dir_new();
    const char *teacher = tmp_write(d, "teacher.ini", tiny_recipe);
    cv_train_summary s;
    cv_error err;
    const char *one[] = { "run.epochs=1" };
    cr_assert_eq(train(teacher, in(d, "teacher"), one, 1, 0, 0, &s, &err), CV_OK, "%s", err.message);
    const char *losses[] = { "hard_distillation", "soft_kl" };
    for (int i = 0; i < 2; i++) {
        char text[4096];
        snprintf(text, sizeof text, "%.*s[loss]\nname = %s\nteacher_recipe = teacher.ini\n"
                 "teacher_checkpoint = teacher/last.safetensors\n%s",
                 (int)(strstr(tiny_recipe, "[loss]") - tiny_recipe), tiny_recipe, losses[i],
                 strstr(tiny_recipe, "[optimizer]"));
        const char *student = tmp_write(d, "student.ini", text);
        cr_assert_eq(train(student, in(d, losses[i]), one, 1, 0, 0, &s, &err), CV_OK, "%s: %s", losses[i], err.message);
        cr_assert(isfinite(s.last_loss) && s.last_loss > 0, "%s loss %g", losses[i], s.last_loss);
        /* the student's checkpoint holds the student only */
        cv_st_file *f = cv_st_open(in2(d, losses[i], "last.safetensors"), &err);
        cr_assert_not_null(f, "%s", err.message);
        for (int k = 0; k < cv_st_count(f); k++)
            cr_assert(strncmp(cv_st_at(f, k)->name, "teacher.", 8) != 0, "%s", cv_st_at(f, k)->name);
        cv_st_close(f);
    }
    /* a missing teacher checkpoint is a clear error */
    char text[4096];
    snprintf(text, sizeof text, "%.*s[loss]\nname = soft_kl\nteacher_recipe = teacher.ini\n"
             "teacher_checkpoint = nowhere.safetensors\n%s",
             (int)(strstr(tiny_recipe, "[loss]") - tiny_recipe), tiny_recipe, strstr(tiny_recipe, "[optimizer]"));
    const char *bad = tmp_write(d, "bad.ini", text);
    cr_assert_eq(train(bad, in(d, "bad"), one, 1, 0, 0, &s, &err), CV_ERR_IO);
    cr_assert(strstr(err.message, "nowhere.safetensors"), "%s", err.message);
}

Test(train, pretrained_weights_and_class_count) {
    const char *d = tmp_dir_new();
    const char *recipe = tmp_write(d, "tiny.ini", tiny_recipe);
    cv_train_summary s;
    cv_error err;
    const char *one[] = { "run.epochs=1" };
    cr_assert_eq(train(recipe, in(d, "out"), one, 1, 0, 0, &s, &err), CV_OK, "%s", err.message);
    /* [model] pretrained: the session starts from the file's weights */
    char set[1200];
    snprintf(set, sizeof set, "model.pretrained=%s", in2(d, "out", "last.safetensors"));
    const char *sets[] = { set };
    cv_ctx *ctx = new_ctx();
    cv_session ses;
    cr_assert_eq(cv_session_open(ctx, recipe, sets, 1, in(d, "o2"), CV_NEED_VAL_DATA, &ses, &err), CV_OK, "%s",
                 err.message);
    cv_st_file *f = cv_st_open(in2(d, "out", "last.safetensors"), &err);
    cr_assert_not_null(f, "%s", err.message);
    int checked = 0;
    for (int i = 0; i < cv_net_param_count(ses.net); i++) {
        const cv_param_info *p = cv_net_param(ses.net, i);
        const cv_st_tensor *t = cv_st_find(f, p->name);
        cr_assert_not_null(t, "%s", p->name);
        float *v = cv_alloc_array(t->bytes / 4, sizeof(float));
        cr_assert_eq(cv_net_param_read(ses.net, i, v, &err), CV_OK);
        cr_assert_eq(memcmp(v, t->data, t->bytes), 0, "%s loaded", p->name);
        cv_free(v);
        checked++;
    }
    cr_assert(checked > 10);
    cv_st_close(f);
    cv_session_close(&ses);
    /* a classifier wider than the dataset's classes is refused before any step */
    const char *wide[] = { "model.num_classes=7" };
    cv_error_init(&err);
    cr_assert_eq(cv_session_open(ctx, recipe, wide, 1, in(d, "o3"), CV_NEED_VAL_DATA, &ses, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "num_classes = 7") && strstr(err.message, "4 classes"), "%s", err.message);
    th_ctx_free(ctx);
}

/* Gradient accumulation: 2 micro-batches of 8 make the same update as one batch of
 * 16 for a net without batch norm (ViT: layer norm is per sample), and clipping the
 * global gradient norm keeps the run finite and logs the norm before clipping. */
static const char *vit_recipe =
    "[run]\nseed = 3\nepochs = 1\ndevice = ref\nlog_every = 1\neval_size = 16\n"
    "[dataset]\nname = synthetic\nlength = 48\nnum_classes = 3\nchannels = 1\nheight = 16\nwidth = 16\nworkers = 0\n"
    "[sampler]\nname = ssc_fbs\nbase_size = 16\nbatch_size = 16\nshuffle = false\n"
    "[transforms]\ntrain =\nval =\n"
    "[model]\nname = vit\ndepth = 1\npatch_size = 4\nimage_size = 16\ndropout = 0\n"
    "[loss]\nname = cross_entropy\n"
    "[optimizer]\nname = sgd\nmomentum = 0.9\nweight_decay = 1e-4\n"
    "[scheduler]\nname = fixed\nlr = 0.1\n";

Test(train, gradient_accumulation_equals_the_union_batch) {
    const char *d = tmp_dir_new();
    const char *recipe = tmp_write(d, "vit.ini", vit_recipe);
    cv_train_summary s1, s2;
    cv_error err;
    cr_assert_eq(train(recipe, in(d, "one"), NULL, 0, 0, 0, &s1, &err), CV_OK, "%s", err.message);
    const char *acc[] = { "sampler.batch_size=8", "run.accum_freq=2" };
    cr_assert_eq(train(recipe, in(d, "two"), acc, 2, 0, 0, &s2, &err), CV_OK, "%s", err.message);
    cr_assert_eq(s1.iterations, 3);
    cr_assert_eq(s2.iterations, 3, "6 micro-batches of 8 are 3 optimizer steps");
    int64_t na, nb;
    float *wa = read_weights(in2(d, "one", "last.safetensors"), &na), *wb = read_weights(in2(d, "two", "last.safetensors"), &nb);
    cr_assert_eq(na, nb);
    for (int64_t i = 0; i < na; i++)
        cr_assert(fabsf(wa[i] - wb[i]) <= 1e-5f * (1 + fabsf(wa[i])), "weight %lld: %.8g vs %.8g", (long long)i, wa[i], wb[i]);
    cv_free(wa);
    cv_free(wb);
    const char *clip[] = { "run.clip_grad_norm=1e-3" };
    cr_assert_eq(train(recipe, in(d, "clip"), clip, 1, 0, 0, &s1, &err), CV_OK, "%s", err.message);
    float *wc = read_weights(in2(d, "clip", "last.safetensors"), &na);
    float *w0 = read_weights(in2(d, "one", "last.safetensors"), &nb);
    double moved = 0;
    for (int64_t i = 0; i < na; i++) moved += fabs((double)wc[i] - w0[i]);
    cr_assert(moved > 0, "clipping changes the run");
    cv_free(wc);
    cv_free(w0);
    /* each step record logs the norm before clipping, above the 1e-3 it was clipped to */
    FILE *f = fopen(in2(d, "clip", "metrics.jsonl"), "r");
    cr_assert(f);
    char line[8192];
    int steps = 0;
    while (fgets(line, sizeof line, f)) {
        const char *g = strstr(line, "\"grad_norm\":");
        if (!strstr(line, "\"type\":\"step\"") || !g) continue;
        double norm = strtod(g + strlen("\"grad_norm\":"), NULL);
        cr_expect(norm > 1e-3, "step %d logs grad_norm %g, not the norm before clipping", steps, norm);
        steps++;
    }
    fclose(f);
    cr_assert_eq(steps, 3, "a step record with grad_norm per optimizer step");
}

/* Dynamic loss scaling with powers of two changes no bit: every gradient is the
 * unscaled one times 2^k, exactly, and dividing it out is exact too.  The scale
 * doubles after each window of 4 good steps (1024 -> 2048 at step 4 of 6). */
Test(train, loss_scaling_by_powers_of_two_is_exact) {
    const char *d = tmp_dir_new();
    const char *recipe = tmp_write(d, "tiny.ini", tiny_recipe);
    const char *dyn[] = { "run.loss_scaling=dynamic", "run.loss_scale_init=1024", "run.loss_scale_window=4" };
    cv_train_summary s1, s2;
    cv_error err;
    cr_assert_eq(train(recipe, in(d, "off"), NULL, 0, 0, 0, &s1, &err), CV_OK, "%s", err.message);
    cr_assert_eq(train(recipe, in(d, "dyn"), dyn, 3, 0, 0, &s2, &err), CV_OK, "%s", err.message);
    cr_assert_eq(s1.loss_scale, 1.0, "auto with fp32 precision: no scaling");
    cr_assert_eq(s2.loss_scale, 2048.0);
    cr_assert_eq(s2.overflow_steps, 0);
    cr_assert_eq(s2.iterations, 6);
    cr_assert_eq(s1.last_loss, s2.last_loss, "the loss value itself is not scaled");
    assert_same_file_weights(in2(d, "off", "last.safetensors"), in2(d, "dyn", "last.safetensors"));
}

/* A scale so large that the gradients overflow: the step is skipped (weights
 * untouched), the scale halves, and training goes on once it fits. */
Test(train, loss_scale_overflow_skips_the_step_and_halves) {
    const char *d = tmp_dir_new();
    const char *recipe = tmp_write(d, "tiny.ini", tiny_recipe);
    const char *dyn[] = { "run.loss_scaling=dynamic", "run.loss_scale_init=3e38", "run.epochs=3" };
    cv_train_summary s;
    cv_error err;
    cr_assert_eq(train(recipe, in(d, "out"), dyn, 3, 0, 0, &s, &err), CV_OK, "%s", err.message);
    cr_assert_gt(s.overflow_steps, 0, "3e38 times the loss gradient must overflow");
    cr_assert_eq(s.iterations + s.overflow_steps, 9, "every batch is either a step or a skipped overflow");
    cr_assert_gt(s.iterations, 0, "after halving the scale training proceeds");
    cr_assert(s.loss_scale <= 3e38 / 2, "the scale was halved: %g", s.loss_scale);
    cr_assert(isfinite(s.last_loss));
    int64_t n;
    float *w = read_weights(in2(d, "out", "last.safetensors"), &n);
    for (int64_t i = 0; i < n; i++) cr_assert(isfinite(w[i]), "weight %lld is %g", (long long)i, w[i]);
    cv_free(w);
    /* the summary record names both */
    FILE *f = fopen(in2(d, "out", "metrics.jsonl"), "r");
    char line[8192];
    int found = 0;
    while (fgets(line, sizeof line, f))
        found |= strstr(line, "\"type\":\"summary\"") && strstr(line, "\"overflow_steps\"") && strstr(line, "\"loss_scale\"");
    fclose(f);
    cr_assert(found);
}

/* the scale and its window count are training state: resume continues them */
Test(train, loss_scale_survives_resume) {
    const char *d = tmp_dir_new();
    const char *recipe = tmp_write(d, "tiny.ini", tiny_recipe);
    const char *sets[] = { "run.epochs=3", "run.loss_scaling=dynamic", "run.loss_scale_init=8", "run.loss_scale_window=2" };
    cv_train_summary s;
    cv_error err;
    cr_assert_eq(train(recipe, in(d, "full"), sets, 4, 0, 0, &s, &err), CV_OK, "%s", err.message);
    double full_scale = s.loss_scale;
    cr_assert_eq(train(recipe, in(d, "part"), sets, 4, 0, 1, &s, &err), CV_OK, "%s", err.message);
    cr_assert(s.interrupted);
    cr_assert_eq(train(recipe, in(d, "part"), sets, 4, 1, 0, &s, &err), CV_OK, "%s", err.message);
    cr_assert_eq(s.loss_scale, full_scale);
    cr_assert_eq(full_scale, 8.0 * 16, "9 steps with a window of 2: four doublings");
    assert_same_file_weights(in2(d, "full", "last.safetensors"), in2(d, "part", "last.safetensors"));
}
