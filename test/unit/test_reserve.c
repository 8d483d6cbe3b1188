/* test/unit/test_reserve.c — the trainer plans every shape of the sampler's scale
 * set before step 1 (core/train/reserve.c): the arena is allocated once, at the
 * worst case, and a multi-scale epoch never grows it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "support/testhost.h"
#include "support/tmpdir.h"
#include "train/reserve.h"
#include "train/trainer.h"

static const char *recipe_text =
    "[run]\nseed = 5\nepochs = 1\ndevice = ref\nlog_every = 1\n"
    "[dataset]\nname = synthetic\nlength = 64\nnum_classes = 3\nchannels = 1\nheight = 16\nwidth = 16\nworkers = 1\n"
    "[sampler]\nname = msc_fbs\nbase_size = 12\nmin_size = 8\nmax_size = 16\ncheck_scale = 4\nscales = 3\nbatch_size = 8\n"
    "[transforms]\ntrain = resize\n[transform.resize]\nsize = 0\n"
    "[model]\nname = resnet_cifar\ndepth = 8\nbase_width = 4\n"
    "[loss]\nname = cross_entropy\n[optimizer]\nname = sgd\n[scheduler]\nname = fixed\nlr = 0.01\n";

TestSuite(reserve, .fini = tmp_cleanup);

Test(reserve, worst_case_arena_before_step_one) {
    cv_ctx *ctx = th_ctx_new();
    cv_registry_use_defaults(ctx->registry, 0, 0);
    cr_assert_eq(cv_registry_add_dirs(ctx->registry, th_build_path("lib/cvnets/plugins")), CV_OK);
    ctx->log_level = CV_LOG_ERROR;
    const char *d = tmp_dir_new();
    const char *path = tmp_write(d, "msc.ini", recipe_text);
    char out[1100];
    snprintf(out, sizeof out, "%s/out", d);
    cv_session s;
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_session_open(ctx, path, NULL, 0, out,
                                 CV_NEED_TRAIN_DATA | CV_NEED_VAL_DATA | CV_NEED_OPTIM | CV_NEED_LOSS, &s, &err),
                 CV_OK, "%s", err.message);
    /* the base shape alone needs less than the largest scale */
    cv_shape base = CV_SHAPE(8, 1, 12, 12);
    cv_plan *p = cv_net_plan_get(s.net, &base, CV_MODE_TRAIN, 0, &err);
    cr_assert_not_null(p, "%s", err.message);
    size_t at_base = cv_net_arena_bytes(s.net);
    size_t worst = 0;
    cr_assert_eq(cv_train_reserve(&s, &worst, &err), CV_OK, "%s", err.message);
    cr_expect_gt(worst, at_base, "16x16 steps need more than 12x12 ones");
    cr_expect_eq(cv_net_arena_bytes(s.net), worst, "the arena holds the worst case");
    /* a whole multi-scale epoch never grows it */
    cv_train_options o = { .quiet = 1 };
    cv_train_summary sum;
    cr_assert_eq(cv_train_run(&s, &o, &sum, &err), CV_OK, "%s", err.message);
    cr_expect_eq(cv_net_arena_bytes(s.net), worst);
    /* and the steps did use several scales, the largest among them */
    char mpath[1200];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", out);
    FILE *f = fopen(mpath, "r");
    cr_assert_not_null(f);
    char line[8192];
    size_t max_step = 0;
    int sizes_seen = 0, seen[65] = { 0 };
    while (fgets(line, sizeof line, f)) {
        const char *pk = strstr(line, "\"peak_bytes\":"), *h = strstr(line, "\"h\":");
        if (!pk || !h) continue;
        size_t b = (size_t)strtoull(pk + 13, NULL, 10);
        int hh = atoi(h + 4);
        if (b > max_step) max_step = b;
        if (hh > 0 && hh <= 64 && !seen[hh]++) sizes_seen++;
    }
    fclose(f);
    cr_expect_gt(sizes_seen, 1, "msc_fbs drew more than one scale");
    cr_expect_leq(max_step, worst);
    cv_session_close(&s);
    th_ctx_free(ctx);
}
