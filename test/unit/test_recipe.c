/* test/unit/test_recipe.c — INI recipes: a valid one resolves with defaults;
 * every mistake of issue 2 is reported with file:line, the key, what was
 * expected and the nearest valid name; unreadable files, over-long lines and
 * non-UTF-8 bytes are caught. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recipe.h"
#include "options.h"
#include "support/testhost.h"
#include "support/tmpdir.h"

static const char *plugdir;

/* a plugin folder with one fixture of every kind a recipe needs */
static cv_ctx *recipe_ctx(void) {
    plugdir = tmp_dir_new();
    static const char *const fx[][2] = {
        { "fx_model", "cvnets-model-fx.so" },         { "fx_dataset", "cvnets-dataset-fx.so" },
        { "fx_sampler", "cvnets-sampler-fx.so" },     { "fx_loss", "cvnets-loss-fx.so" },
        { "fx_optimizer", "cvnets-optimizer-fx.so" }, { "fx_scheduler", "cvnets-scheduler-fx.so" },
        { "fx_backend", "cvnets-backend-fx.so" },     { "fx_metric", "cvnets-metric-fx.so" },
        { "fx_top1", "cvnets-metric-top1.so" },       { "fx_loss_metric", "cvnets-metric-loss.so" },
        { "good", "cvnets-transform-good.so" },
    };
    for (size_t i = 0; i < sizeof fx / sizeof fx[0]; i++) tmp_put_fixture_as(plugdir, fx[i][0], fx[i][1]);
    cv_ctx *ctx = th_ctx_new();
    cv_registry_use_defaults(ctx->registry, 0, 0);
    cr_assert_eq(cv_registry_add_dirs(ctx->registry, plugdir), CV_OK);
    return ctx;
}

static const char *const base_recipe =
    "; a small valid recipe\n"                  /* 1 */
    "[run]\n"                                   /* 2 */
    "device = fx\n"                             /* 3 */
    "epochs = 3\n"                              /* 4 */
    "\n"                                        /* 5 */
    "[dataset]\n"                               /* 6 */
    "name = fx\n"                               /* 7 */
    "root = /data\n"                            /* 8 */
    "\n"                                        /* 9 */
    "[model]\n"                                 /* 10 */
    "name = fx\n"                               /* 11 */
    "variant = small\n"                         /* 12 */
    "depth = 18\n"                              /* 13 */
    "\n"                                        /* 14 */
    "[transforms]\n"                            /* 15 */
    "train = good\n"                            /* 16 */
    "val = good\n"                              /* 17 */
    "\n"                                        /* 18 */
    "[transform.good]\n"                        /* 19 */
    "level = 100\n";                            /* 20 */

static int load_text(cv_ctx *ctx, const char *text, const char *const *sets, int nsets, cv_recipe **r, cv_error *err,
                     const char **path) {
    const char *dir = tmp_dir_new();
    const char *p = tmp_write(dir, "r.ini", text);
    if (path) *path = p;
    cv_error_init(err);
    return cv_recipe_load(ctx, p, sets, nsets, r, err);
}

/* base_recipe with line `line` (1-based) replaced by repl ("" removes it) */
static char *with_line(int line, const char *repl) {
    static char buf[4096];
    const char *p = base_recipe;
    size_t used = 0;
    for (int n = 1; *p; n++) {
        const char *nl = strchr(p, '\n');
        size_t len = (size_t)(nl - p) + 1;
        if (n == line) used += (size_t)sprintf(buf + used, "%s", repl);
        else memcpy(buf + used, p, len), used += len;
        p += len;
    }
    buf[used] = 0;
    return buf;
}

#define expect_msg(err, needle) \
    cr_expect(strstr((err).message, (needle)) != NULL, "message lacks '%s':\n%s", (needle), (err).message)

static void expect_error_at(const char *text, int line, const char *needle1, const char *needle2) {
    cv_ctx *ctx = recipe_ctx();
    cv_recipe *r = (cv_recipe *)1;
    cv_error err;
    const char *path;
    cr_assert_neq(load_text(ctx, text, NULL, 0, &r, &err, &path), CV_OK, "recipe should be refused:\n%s", text);
    cr_expect_null(r);
    char at[4200];
    if (line > 0) snprintf(at, sizeof at, "%s:%d: ", path, line);
    else snprintf(at, sizeof at, "%s: ", path);
    expect_msg(err, at);
    if (needle1) expect_msg(err, needle1);
    if (needle2) expect_msg(err, needle2);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(recipe, valid_recipe_resolves_with_defaults) {
    cv_ctx *ctx = recipe_ctx();
    cv_recipe *r;
    cv_error err;
    cr_assert_eq(load_text(ctx, base_recipe, NULL, 0, &r, &err, NULL), CV_OK, "%s", err.message);
    cr_expect_str_eq(cv_recipe_component(r, "model"), "fx");
    cr_expect_str_eq(cv_recipe_component(r, "backend"), "fx");
    cr_expect_null(cv_recipe_component(r, "comm"));
    cr_expect_null(cv_recipe_component(r, "optimizer"));
    cr_expect_not_null(cv_recipe_plugin(r, "dataset"));
    const cv_options *m = cv_recipe_options(r, "model");
    cr_assert_not_null(m);
    cr_expect_eq(cv_options_get(m, "depth")->i, 18);
    cr_expect_float_eq(cv_options_get(m, "dropout")->f, 0.1, 1e-12, "default filled");
    cr_expect_eq(cv_options_get(m, "widths")->count, 2);
    cr_expect_float_eq(cv_options_get(m, "widths")->floats[1], 2.0, 1e-12);
    cr_expect_null(cv_options_get(m, "name"), "name picks the plugin, it is not an option");
    cr_expect_eq(cv_recipe_int(r, "run", "epochs"), 3);
    cr_expect_eq(cv_recipe_int(r, "run", "seed"), 0);
    cr_expect_str_eq(cv_recipe_str(r, "run", "precision"), "fp32");
    cr_expect_eq(cv_recipe_int(r, "ema", "enable"), 0);
    cr_expect_eq(cv_options_get(cv_recipe_options(r, "transform.good"), "level")->i, 100);
    const char *const *names;
    cr_expect_eq(cv_recipe_list(r, "transforms", "train", &names), 1);
    cr_expect_str_eq(names[0], "good");
    cr_assert_eq(cv_recipe_list(r, "metrics", "val", &names), 2);
    cr_expect_str_eq(names[0], "loss");
    cr_expect_str_eq(names[1], "top1");
    cr_expect_str_eq(cv_recipe_out_dir(r), "runs/r");
    cv_recipe_free(r);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(recipe, resolved_recipe_round_trips) {
    cv_ctx *ctx = recipe_ctx();
    cv_recipe *r, *again;
    cv_error err;
    cr_assert_eq(load_text(ctx, base_recipe, (const char *const[]){ "model.depth=34" }, 1, &r, &err, NULL), CV_OK, "%s",
                 err.message);
    const char *dir = tmp_dir_new();
    char out[4200];
    snprintf(out, sizeof out, "%s/resolved.ini", dir);
    cr_assert_eq(cv_recipe_write_resolved(r, out, &err), CV_OK, "%s", err.message);
    cv_error_init(&err);
    cr_assert_eq(cv_recipe_load(ctx, out, NULL, 0, &again, &err), CV_OK, "resolved recipe must load: %s", err.message);
    cr_expect_eq(cv_options_get(cv_recipe_options(again, "model"), "depth")->i, 34);
    cr_expect_str_eq(cv_recipe_str(again, "run", "nan_policy"), "stop");
    /* every default is written out */
    FILE *f = fopen(out, "r");
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    cr_expect(strstr(text, "dropout = 0.1\n") != NULL, "%s", text);
    cr_expect(strstr(text, "clip_grad_norm = 0\n") != NULL, "%s", text);
    cr_expect(strstr(text, "[transform.good]\n") != NULL, "%s", text);
    cr_expect(strstr(text, "name = fx\n") != NULL, "%s", text);
    cv_recipe_free(again);
    cv_recipe_free(r);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(recipe, set_overrides_with_the_same_checks) {
    cv_ctx *ctx = recipe_ctx();
    cv_recipe *r;
    cv_error err;
    const char *sets[] = { "model.depth=30", "transform.good.level=7", "ema.enable=true", "run.seed=42" };
    cr_assert_eq(load_text(ctx, base_recipe, sets, 4, &r, &err, NULL), CV_OK, "%s", err.message);
    cr_expect_eq(cv_options_get(cv_recipe_options(r, "model"), "depth")->i, 30);
    cr_expect_eq(cv_options_get(cv_recipe_options(r, "transform.good"), "level")->i, 7);
    cr_expect_eq(cv_recipe_int(r, "ema", "enable"), 1);
    cr_expect_eq(cv_recipe_int(r, "run", "seed"), 42);
    cv_recipe_free(r);

    const char *bad[] = { "model.depth=7", "model.deph=20", "modle.depth=20", "nodot=1" };
    cr_assert_neq(load_text(ctx, base_recipe, bad, 4, &r, &err, NULL), CV_OK);
    expect_msg(err, "--set model.depth=7: [model] depth = '7': out of range; expected an integer in [18, 101]");
    expect_msg(err, "--set model.deph=20: [model] unknown key 'deph'; did you mean 'depth'?");
    expect_msg(err, "unknown section [modle]; did you mean [model]?");
    expect_msg(err, "--set nodot=1: expected section.key=value");
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(recipe, unknown_section) {
    expect_error_at(with_line(10, "[modle]\n"), 10, "unknown section [modle]; did you mean [model]?", NULL);
}

Test(recipe, unknown_key) {
    expect_error_at(with_line(13, "deph = 18\n"), 13, "[model] unknown key 'deph'; did you mean 'depth'?",
                    "valid keys: depth, dropout, widths, variant, pretrained");
}

Test(recipe, unknown_key_in_host_section) {
    expect_error_at(with_line(4, "epoch = 3\n"), 4, "[run] unknown key 'epoch'; did you mean 'epochs'?", NULL);
}

Test(recipe, wrong_type) {
    expect_error_at(with_line(13, "depth = fifty\n"), 13, "[model] depth = 'fifty'", "expected an integer in [18, 101]");
}

Test(recipe, out_of_range) {
    expect_error_at(with_line(13, "depth = 7\n"), 13, "depth = '7': out of range", "expected an integer in [18, 101]");
}

Test(recipe, bad_choice) {
    expect_error_at(with_line(12, "variant = smal\n"), 12, "variant = 'smal': did you mean 'small'?",
                    "expected one of: small, large");
}

Test(recipe, missing_required_key) {
    expect_error_at(with_line(12, ""), 10, "[model] missing required key 'variant'", "one of: small, large");
}

Test(recipe, duplicate_key) {
    expect_error_at(with_line(13, "depth = 18\ndepth = 34\n"), 14, "[model] duplicate key 'depth' (first set at line 13)",
                    NULL);
}

Test(recipe, duplicate_section) {
    expect_error_at(with_line(18, "[model]\n"), 18, "section [model] appears twice (first at line 10)", NULL);
}

Test(recipe, missing_plugin_name) {
    expect_error_at(with_line(11, ""), 10, "[model] missing required key 'name'", NULL);
}

Test(recipe, unknown_plugin) {
    expect_error_at(with_line(7, "name = fz\n"), 7, "[dataset] name = fz: no dataset plugin 'fz'", "did you mean 'fx'?");
}

Test(recipe, unknown_backend_and_transform) {
    expect_error_at(with_line(3, "device = cdua\n"), 3, "[run] device = cdua: no backend plugin 'cdua'", NULL);
    expect_error_at(with_line(16, "train = goood\n"), 16, "[transforms] train = goood: no transform plugin 'goood'",
                    "did you mean 'good'?");
}

/* [run] precision reaches the backend's `precision` option; fx declares none */
Test(recipe, precision_the_backend_cannot_compute) {
    expect_error_at(with_line(4, "precision = bf16\n"), 4,
                    "[run] precision = bf16: backend 'fx' cannot compute in bf16 (it supports: fp32)", NULL);
}

Test(recipe, precision_belongs_in_run) {
    expect_error_at(with_line(5, "[backend]\nprecision = bf16\n"), 6, "[backend] precision: set it as [run] precision",
                    NULL);
}

Test(recipe, fp32_needs_no_backend_option) {
    cv_ctx *ctx = recipe_ctx();
    cv_recipe *r = NULL;
    cv_error err;
    cr_assert_eq(load_text(ctx, with_line(4, "precision = fp32\n"), NULL, 0, &r, &err, NULL), CV_OK, "%s", err.message);
    cr_expect_null(cv_options_get(cv_recipe_options(r, "backend"), "precision"));
    cv_recipe_free(r);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(recipe, transform_section_not_listed) {
    expect_error_at(with_line(19, "[transform.god]\n"), 19, "section [transform.god] is not used",
                    "did you mean [transform.good]?");
}

Test(recipe, metric_sections_and_failed_names) {
    char text[4096];
    /* a metric section for a listed metric is fine (defaults when absent) */
    cv_ctx *ctx = recipe_ctx();
    cv_recipe *r;
    cv_error err;
    snprintf(text, sizeof text, "%s[metrics]\nval = fx, top1\n[metric.fx]\nrate = 0.25\n", base_recipe);
    cr_assert_eq(load_text(ctx, text, NULL, 0, &r, &err, NULL), CV_OK, "%s", err.message);
    cr_expect_float_eq(cv_options_get(cv_recipe_options(r, "metric.fx"), "rate")->f, 0.25, 1e-12);
    cr_expect_not_null(cv_recipe_options(r, "metric.top1"));
    cr_expect_str_eq(cv_recipe_component(r, "metric.top1"), "top1");
    cv_recipe_free(r);
    th_ctx_free(ctx);
    tmp_cleanup();
    /* unlisted metric section */
    snprintf(text, sizeof text, "%s[metric.fz]\nrate = 0.25\n", base_recipe);
    expect_error_at(text, 21, "section [metric.fz] is not used: 'fz' is not listed in [metrics] train or val", NULL);
    /* a listed transform that fails to load is reported once, its section is not "unused" */
    ctx = recipe_ctx();
    snprintf(text, sizeof text, "%s[transform.goood]\nlevel = 3\n", with_line(16, "train = goood\n"));
    cr_assert_neq(load_text(ctx, text, NULL, 0, &r, &err, NULL), CV_OK);
    expect_msg(err, ":16: [transforms] train = goood: no transform plugin 'goood'");
    cr_expect(strstr(err.message, "is not used") == NULL, "%s", err.message);
    cr_expect(strstr(err.message, "goood'\n") == NULL || strstr(strstr(err.message, "goood'") + 1, "no transform plugin") == NULL,
              "reported once: %s", err.message);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(recipe, missing_section) {
    const char *text = "[run]\ndevice = fx\n[dataset]\nname = fx\n";
    expect_error_at(text, 0, "missing section [model]", NULL);
}

Test(recipe, key_outside_section) {
    char text[4096];
    snprintf(text, sizeof text, "seed = 1\n%s", base_recipe);
    expect_error_at(text, 1, "key 'seed' comes before any [section]", NULL);
}

Test(recipe, syntax_error) {
    expect_error_at(with_line(14, "this line has no equals sign\n"), 14, "cannot parse this line", NULL);
}

Test(recipe, every_mistake_at_once) {
    const char *text =
        "[run]\n"                 /* 1 */
        "device = fx\n"           /* 2 */
        "epochs = many\n"         /* 3 wrong type */
        "[dataset]\n"             /* 4 */
        "name = fx\n"             /* 5 */
        "limit = -1\n"            /* 6 out of range */
        "[model]\n"               /* 7 missing required variant */
        "name = fx\n"             /* 8 */
        "deph = 18\n"             /* 9 unknown key */
        "pretrained = maybe\n"    /* 10 wrong type */
        "pretrained = yes\n"      /* 11 duplicate */
        "[optimizer]\n"           /* 12 */
        "name = fx\n"             /* 13 */
        "[run.extra]\n"           /* 14 unknown section */
        "x = 1\n"                 /* 15 */
        "[run]\n"                 /* 16 duplicate section */
        "precision = fp64\n";     /* 17 bad choice */
    cv_ctx *ctx = recipe_ctx();
    cv_recipe *r;
    cv_error err;
    const char *p;
    cr_assert_eq(load_text(ctx, text, NULL, 0, &r, &err, &p), CV_ERR_INVALID);
    char at[4200];
    const int lines[] = { 3, 6, 9, 11, 14, 16, 17 };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        snprintf(at, sizeof at, "%s:%d: ", p, lines[i]);
        expect_msg(err, at);
    }
    expect_msg(err, "epochs = 'many'");
    expect_msg(err, "limit = '-1': out of range");
    expect_msg(err, "did you mean 'depth'?");
    expect_msg(err, "duplicate key 'pretrained'");
    expect_msg(err, "unknown section [run.extra]");
    expect_msg(err, "precision = 'fp64'");
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(recipe, unreadable_file) {
    cv_ctx *ctx = recipe_ctx();
    cv_recipe *r;
    cv_error err;
    cv_error_init(&err);
    cr_expect_eq(cv_recipe_load(ctx, "/nonexistent/recipe.ini", NULL, 0, &r, &err), CV_ERR_IO);
    expect_msg(err, "cannot read recipe /nonexistent/recipe.ini: No such file or directory");
    cv_error_init(&err);
    cr_expect_eq(cv_recipe_load(ctx, plugdir, NULL, 0, &r, &err), CV_ERR_IO);
    expect_msg(err, "not a regular file");
    if (geteuid() != 0) { /* root reads anything: the permission case only means something for users */
        const char *dir = tmp_dir_new();
        const char *p = tmp_write(dir, "locked.ini", base_recipe);
        chmod(p, 0);
        cv_error_init(&err);
        cr_expect_eq(cv_recipe_load(ctx, p, NULL, 0, &r, &err), CV_ERR_IO);
        expect_msg(err, "Permission denied");
    }
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(recipe, over_long_line) {
    char line[400];
    memset(line, 'a', sizeof line);
    memcpy(line, "root = /", 8);
    strcpy(line + 300, "\n");
    expect_error_at(with_line(8, line), 8, "line is 300 characters long; libinih reads at most", NULL);
}

Test(recipe, longest_line_that_fits) {
    /* 198 characters + newline + NUL fill libinih's 200-byte buffer exactly */
    char line[400];
    memset(line, 'a', sizeof line);
    memcpy(line, "root = /", 8);
    strcpy(line + 198, "\n");
    cv_ctx *ctx = recipe_ctx();
    cv_recipe *r;
    cv_error err;
    cr_assert_eq(load_text(ctx, with_line(8, line), NULL, 0, &r, &err, NULL), CV_OK, "%s", err.message);
    cr_expect_eq(strlen(cv_options_get(cv_recipe_options(r, "dataset"), "root")->s), 191);
    cv_recipe_free(r);
    strcpy(line + 199, "\n");
    line[198] = 'a';
    cr_expect_neq(load_text(ctx, with_line(8, line), NULL, 0, &r, &err, NULL), CV_OK);
    expect_msg(err, "line is 199 characters long; libinih reads at most 198 per line");
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(recipe, non_utf8_bytes) {
    expect_error_at(with_line(8, "root = /data/caf\xe9\n"), 8, "byte 0xE9 at column 17 is not valid UTF-8", NULL);
}

Test(recipe, utf8_text_is_fine) {
    cv_ctx *ctx = recipe_ctx();
    cv_recipe *r;
    cv_error err;
    cr_assert_eq(load_text(ctx, with_line(8, "root = /data/caf\xc3\xa9 ; comment\n"), NULL, 0, &r, &err, NULL), CV_OK, "%s",
                 err.message);
    cr_expect_str_eq(cv_options_get(cv_recipe_options(r, "dataset"), "root")->s, "/data/caf\xc3\xa9");
    cv_recipe_free(r);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(recipe, byte_order_mark_and_crlf) {
    cv_ctx *ctx = recipe_ctx();
    cv_recipe *r;
    cv_error err;
    const char *good = "\xEF\xBB\xBF[run]\r\ndevice = fx\r\nseed = 5\r\n[dataset]\r\nname = fx\r\n[model]\r\nname = fx\r\n"
                       "variant = large\r\n";
    cr_assert_eq(load_text(ctx, good, NULL, 0, &r, &err, NULL), CV_OK, "%s", err.message);
    cr_expect_eq(cv_recipe_int(r, "run", "seed"), 5);
    cr_expect_str_eq(cv_options_get(cv_recipe_options(r, "model"), "variant")->s, "large");
    cv_recipe_free(r);
    char bad[512];
    snprintf(bad, sizeof bad, "%s[run]\r\n", good);
    cr_assert_neq(load_text(ctx, bad, NULL, 0, &r, &err, NULL), CV_OK);
    expect_msg(err, ":9: section [run] appears twice (first at line 1)");
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(recipe, nul_byte) {
    cv_ctx *ctx = recipe_ctx();
    const char *dir = tmp_dir_new();
    char text[256] = "[run]\nseed = 1\0x\n";
    const char *p = tmp_write_bytes(dir, "r.ini", text, 17);
    cv_recipe *r;
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_recipe_load(ctx, p, NULL, 0, &r, &err), CV_ERR_INVALID);
    expect_msg(err, ":2: contains a NUL byte");
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(recipe, continuation_lines_join) {
    cv_ctx *ctx = recipe_ctx();
    cv_recipe *r;
    cv_error err;
    char text[4096];
    snprintf(text, sizeof text, "%s[metrics]\nval = loss,\n      top1\n", base_recipe);
    cr_assert_eq(load_text(ctx, text, NULL, 0, &r, &err, NULL), CV_OK, "%s", err.message);
    const char *const *names;
    cr_assert_eq(cv_recipe_list(r, "metrics", "val", &names), 2);
    cr_expect_str_eq(names[1], "top1");
    cv_recipe_free(r);
    th_ctx_free(ctx);
    tmp_cleanup();
}
