/* test_train_cli.c — the real `cvnets train` process: Ctrl-C (SIGINT) mid-epoch
 * saves a resumable checkpoint and exits 130, `--resume` finishes the run with the
 * same weights as an uninterrupted one; `eval` and `predict` use the checkpoint. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/testhost.h"
#include "support/tmpdir.h"
#include "train/safetensors.h"

static const char *recipe_text =
    "[run]\nseed = 5\nepochs = 2\ndevice = ref\nlog_every = 1\nthreads = 1\n"
    "[dataset]\nname = synthetic\nlength = 768\nnum_classes = 4\nchannels = 1\nheight = 8\nwidth = 8\nworkers = 1\n"
    "[sampler]\nname = ssc_fbs\nbase_size = 8\nbatch_size = 16\n"
    "[transforms]\ntrain = horizontal_flip\n"
    "[model]\nname = resnet\ndepth = 18\nstem = cifar\nwidth_multiplier = 0.0625\n"
    "[loss]\nname = cross_entropy\n"
    "[optimizer]\nname = sgd\n"
    "[scheduler]\nname = cosine\nmax_lr = 0.05\n"
    "[ema]\nenable = true\n";

/* argv ends with NULL; output to dir/log; returns the pid */
static pid_t spawn(const char *dir, char *const argv[]) {
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        char log[1024];
        snprintf(log, sizeof log, "%s/log.txt", dir);
        if (!freopen(log, "a", stderr) || !freopen("/dev/null", "w", stdout)) _exit(99);
        execv(argv[0], argv);
        _exit(98);
    }
    return pid;
}

static int wait_status(pid_t pid) {
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "the process ended by a signal (%d) instead of exiting", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return WEXITSTATUS(st);
}

static int count_lines_with(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f)) n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

static int run(const char *dir, const char *recipe, const char *out, int resume) {
    char bin[1024];
    snprintf(bin, sizeof bin, "%s", th_build_path("bin/cvnets"));
    char *argv[] = { bin, "train", (char *)recipe, "--out", (char *)out, resume ? "--resume" : NULL, NULL };
    return wait_status(spawn(dir, argv));
}

static void same_weights(const char *a, const char *b) {
    cv_error err;
    cv_error_init(&err);
    cv_st_file *fa = cv_st_open(a, &err), *fb = cv_st_open(b, &err);
    cr_assert(fa && fb, "%s", err.message);
    cr_assert_eq(cv_st_count(fa), cv_st_count(fb));
    for (int i = 0; i < cv_st_count(fa); i++) {
        const cv_st_tensor *x = cv_st_at(fa, i), *y = cv_st_find(fb, x->name);
        cr_assert(y && x->bytes == y->bytes);
        cr_assert_eq(memcmp(x->data, y->data, x->bytes), 0, "tensor %s differs", x->name);
    }
    cv_st_close(fa);
    cv_st_close(fb);
}

TestSuite(train_cli, .fini = tmp_cleanup, .timeout = 600);

Test(train_cli, sigint_saves_and_resume_matches_uninterrupted) {
    const char *d = tmp_dir_new();
    const char *recipe = tmp_write(d, "r.ini", recipe_text);
    char full[1024], part[1024], metrics[1100];
    snprintf(full, sizeof full, "%s/full", d);
    snprintf(part, sizeof part, "%s/part", d);
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", part);
    cr_assert_eq(run(d, recipe, full, 0), 0, "uninterrupted run");

    char bin[1024];
    snprintf(bin, sizeof bin, "%s", th_build_path("bin/cvnets"));
    char *argv[] = { bin, "train", (char *)recipe, "--out", part, NULL };
    pid_t pid = spawn(d, argv);
    /* interrupt after a few logged steps, inside the first epoch */
    for (int i = 0; i < 6000 && count_lines_with(metrics, "\"type\":\"step\"") < 3; i++) usleep(10000);
    cr_assert(count_lines_with(metrics, "\"type\":\"step\"") >= 3, "the run logged steps");
    kill(pid, SIGINT);
    cr_assert_eq(wait_status(pid), 130, "Ctrl-C exits 130");
    char path[1200];
    snprintf(path, sizeof path, "%s/last.state.safetensors", part);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "a resumable checkpoint was saved");
    cr_assert_eq(count_lines_with(metrics, "\"type\":\"summary\""), 0, "the interrupted run did not finish");

    cr_assert_eq(run(d, recipe, part, 1), 0, "resumed run");
    cr_assert_eq(count_lines_with(metrics, "\"type\":\"summary\""), 1);
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/last.safetensors", full);
    snprintf(b, sizeof b, "%s/last.safetensors", part);
    same_weights(a, b);
    snprintf(a, sizeof a, "%s/best_ema.safetensors", full);
    snprintf(b, sizeof b, "%s/best_ema.safetensors", part);
    same_weights(a, b);
}

Test(train_cli, eval_and_predict_use_the_checkpoint) {
    const char *d = tmp_dir_new();
    char text[4096];
    snprintf(text, sizeof text, "%s", recipe_text);
    char *len = strstr(text, "length = 768");
    memcpy(len, "length = 064", 12);
    const char *recipe = tmp_write(d, "r.ini", text);
    char out[1024], cmd[4096], ck[1100];
    snprintf(out, sizeof out, "%s/out", d);
    cr_assert_eq(run(d, recipe, out, 0), 0);
    snprintf(ck, sizeof ck, "%s/last.safetensors", out);
    snprintf(cmd, sizeof cmd, "%s eval %s --checkpoint %s --json > %s/eval.json 2>&1", th_build_path("bin/cvnets"),
             recipe, ck, d);
    cr_assert_eq(system(cmd), 0);
    char p[1200];
    snprintf(p, sizeof p, "%s/eval.json", d);
    cr_assert_eq(count_lines_with(p, "\"top1\""), 1);
    /* a checkpoint that does not exist: clear error, exit 1 */
    snprintf(cmd, sizeof cmd, "%s eval %s --checkpoint %s/nope.safetensors > %s/eval2.txt 2>&1",
             th_build_path("bin/cvnets"), recipe, d, d);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 1);
    snprintf(p, sizeof p, "%s/eval2.txt", d);
    cr_assert_eq(count_lines_with(p, "nope.safetensors"), 1);
    /* predict on a grey 8x8 image (binary PGM, which stb_image reads) */
    snprintf(p, sizeof p, "%s/img.pgm", d);
    FILE *f = fopen(p, "wb");
    fprintf(f, "P5\n8 8\n255\n");
    for (int i = 0; i < 64; i++) fputc(i * 4, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s predict %s --checkpoint %s %s --json > %s/pred.json 2>&1",
             th_build_path("bin/cvnets"), recipe, ck, p, d);
    cr_assert_eq(system(cmd), 0);
    snprintf(p, sizeof p, "%s/pred.json", d);
    cr_assert_eq(count_lines_with(p, "\"top5\""), 1);
    /* a file that is not an image names its path */
    snprintf(p, sizeof p, "%s/not_an_image.png", d);
    f = fopen(p, "wb");
    fputs("hello", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s predict %s --checkpoint %s %s > %s/pred2.txt 2>&1", th_build_path("bin/cvnets"),
             recipe, ck, p, d);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof cmd, "%s/pred2.txt", d);
    cr_assert_eq(count_lines_with(cmd, "not_an_image.png"), 1);
}
