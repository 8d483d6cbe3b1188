/* test/unit/test_models_recipes.c — the paper's ImageNet recipes (recipes/imagenet/)
 * through the real CLI: each one checks against its plugins' schemas, `cvnets
 * summary --json` reports the paper's Table 1 parameters and multiply-adds
 * (within 2 % or half of the last printed digit), and `cvnets plan` plans every
 * scale of its multi-scale sampler, all with --set dataset.name=synthetic. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "support/testhost.h"

/* run a command, capture up to cap-1 bytes of stdout; returns the exit status */
static int run_cmd(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen %s", cmd);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double json_number(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    cr_assert_not_null(p, "no \"%s\" in %s", key, json);
    return strtod(p + strlen(pat), NULL);
}

typedef struct recipe_row {
    const char *file;
    double params_m, macs, half_digit, rel;
} recipe_row;

static const recipe_row rows[] = {
    { "mobilenetv1_0.25.ini", 0.5, 46.3e6, 0.05e6, 0.02 },
    { "mobilenetv1_1.0.ini", 4.2, 568.7e6, 0.05e6, 0.02 },
    { "mobilenetv2_0.25.ini", 1.5, 50.5e6, 0.05e6, 0.02 },
    { "mobilenetv2_1.0.ini", 3.5, 300.7e6, 0.05e6, 0.02 },
    { "mobilenetv3_large.ini", 5.4, 210.7e6, 0.05e6, 0.02 },
    { "resnet50.ini", 25.6, 4.1e9, 0.05e9, 0.02 },
    { "resnet101.ini", 44.5, 7.7e9, 0.05e9, 0.02 },
    { "resnet101_advanced.ini", 44.5, 7.7e9, 0.05e9, 0.02 },
    { "vit_tiny.ini", 5.7, 1.3e9, 0.05e9, 0.02 },
};

static void cli(char *cmd, size_t n, const char *verb, const char *file, const char *extra) {
    char rel[256];
    snprintf(rel, sizeof rel, "recipes/imagenet/%s", file);
    snprintf(cmd, n, "'%s' %s '%s' %s 2>&1", th_build_path("bin/cvnets"), verb, th_src_path(rel), extra);
}

Test(models_recipes, every_recipe_checks_with_an_image_folder_root) {
    char cmd[2048], out[8192];
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        cli(cmd, sizeof cmd, "check", rows[i].file, "--set dataset.root=/nonexistent/imagenet");
        int st = run_cmd(cmd, out, sizeof out);
        cr_expect_eq(st, 0, "%s: cvnets check failed:\n%s", rows[i].file, out);
    }
}

Test(models_recipes, summary_matches_table1, .timeout = 600) {
    char cmd[2048], out[8192];
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const recipe_row *r = &rows[i];
        cli(cmd, sizeof cmd, "summary", r->file, "--set dataset.name=synthetic --json");
        int st = run_cmd(cmd, out, sizeof out);
        cr_assert_eq(st, 0, "%s: cvnets summary failed:\n%s", r->file, out);
        const char *json = strrchr(out, '{');
        cr_assert_not_null(json, "%s: no JSON in %s", r->file, out);
        double params = json_number(json, "params") / 1e6, macs = json_number(json, "macs");
        double tp = fmax(0.02 * r->params_m, 0.05), tm = fmax(r->rel * r->macs, r->half_digit);
        cr_expect(fabs(params - r->params_m) <= tp, "%s: %.3f M params, paper %.1f M", r->file, params, r->params_m);
        cr_expect(fabs(macs - r->macs) <= tm, "%s: %.4g multiply-adds, paper %.4g", r->file, macs, r->macs);
    }
}

Test(models_recipes, every_recipe_plans_all_scales, .timeout = 900) {
    char cmd[2048], out[16384];
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        /* a small batch keeps every scale but not the GiBs of activations the
         * paper's per-process batch plans (slow to reserve under ASan) */
        cli(cmd, sizeof cmd, "plan", rows[i].file, "--set dataset.name=synthetic --set sampler.batch_size=16 --json");
        int st = run_cmd(cmd, out, sizeof out);
        cr_expect_eq(st, 0, "%s: cvnets plan failed:\n%s", rows[i].file, out);
        /* MSc-VBS over 128..320 px in 5 scales (plus the base size when it is not one of them) */
        int shapes = 0;
        for (const char *p = out; (p = strstr(p, "\"h\":")) != NULL; p++) shapes++;
        cr_expect_geq(shapes, 5, "%s: %d planned shapes in %s", rows[i].file, shapes, out);
        cr_expect(strstr(out, "\"peak_bytes\"") != NULL, "%s: no peak memory in %s", rows[i].file, out);
    }
}
