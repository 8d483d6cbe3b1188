/* test/unit/test_cli.c — the cvnets executable as a user runs it: usage and exit
 * codes on misuse, `plugins --json`, `help KIND/NAME`, `check`, `check-plugin`. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/testhost.h"
#include "support/tmpdir.h"

static char out_text[65536], err_text[65536];

static void slurp(const char *path, char *buf, size_t n) {
    FILE *f = fopen(path, "rb");
    buf[0] = 0;
    if (!f) return;
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = 0;
    fclose(f);
}

/* run `cvnets ARGS` (ARGS is shell text) with no CVNETS_PLUGIN_PATH; returns the exit code */
static int cvnets(const char *args) {
    static char dir[512]; /* one scratch folder, made again after tmp_cleanup */
    if (!dir[0] || access(dir, F_OK) != 0) snprintf(dir, sizeof dir, "%s", tmp_dir_new());
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cd %s && env -u CVNETS_PLUGIN_PATH %s %s >%s/out 2>%s/err", dir, th_build_path("bin/cvnets"),
             args, dir, dir);
    int st = system(cmd);
    char p[4200];
    snprintf(p, sizeof p, "%s/out", dir);
    slurp(p, out_text, sizeof out_text);
    snprintf(p, sizeof p, "%s/err", dir);
    slurp(p, err_text, sizeof err_text);
    cr_assert(WIFEXITED(st), "cvnets %s did not exit normally (signal?)\n%s", args, err_text);
    return WEXITSTATUS(st);
}

#define expect_in(text, needle) cr_expect(strstr((text), (needle)) != NULL, "lacks '%s':\n%s", (needle), (text))

/* a plugin folder with the good fixture and the frozen one, properly named */
static const char *fixture_dir(void) {
    const char *d = tmp_dir_new();
    tmp_put_fixture(d, "good", "good");
    tmp_put_fixture(d, "frozen_invert", "frozen_invert");
    return d;
}

Test(cli, no_arguments_prints_usage_and_fails) {
    cr_expect_eq(cvnets(""), 2);
    expect_in(err_text, "usage: cvnets COMMAND");
    expect_in(err_text, "check-plugin");
    tmp_cleanup();
}

Test(cli, top_level_help_succeeds) {
    cr_expect_eq(cvnets("--help"), 0);
    expect_in(out_text, "cvnets train RECIPE");
    cr_expect_eq(cvnets("help"), 0);
    expect_in(out_text, "cvnets plugins [--json]");
    tmp_cleanup();
}

Test(cli, unknown_command_suggests) {
    cr_expect_eq(cvnets("trian x.ini"), 2);
    expect_in(err_text, "unknown command 'trian'; did you mean 'train'?");
    tmp_cleanup();
}

Test(cli, every_verb_has_a_usage) {
    static const char *const verbs[] = { "check", "help", "check-plugin" };
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        char args[64], want[80];
        /* `cvnets help` alone is the top-level help: give it two arguments instead */
        snprintf(args, sizeof args, "%s%s", verbs[i], strcmp(verbs[i], "help") == 0 ? " a/b c/d" : "");
        cr_expect_eq(cvnets(args), 2, "%s without arguments", verbs[i]);
        snprintf(want, sizeof want, "usage: cvnets %s", verbs[i]);
        expect_in(err_text, want);
        snprintf(args, sizeof args, "%s --help", verbs[i]);
        cr_expect_eq(cvnets(args), 0);
        expect_in(out_text, want);
    }
    static const char *const all[] = { "train", "eval", "predict", "summary", "plan", "bench", "plugins" };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        char args[64], want[80];
        snprintf(args, sizeof args, "%s --help", all[i]);
        cvnets(args);
        snprintf(want, sizeof want, "cvnets %s", all[i]);
        cr_expect(strstr(out_text, want) || strstr(err_text, want), "no usage for %s", all[i]);
    }
    tmp_cleanup();
}

Test(cli, misuse_exits_2) {
    cr_expect_eq(cvnets("plugins --bogus"), 2);
    expect_in(err_text, "unknown option '--bogus'");
    expect_in(err_text, "usage: cvnets plugins");
    cr_expect_eq(cvnets("plugins extra"), 2);
    cr_expect_eq(cvnets("check a.ini b.ini"), 2);
    cr_expect_eq(cvnets("check a.ini --set"), 2);
    expect_in(err_text, "needs a value");
    cr_expect_eq(cvnets("check a.ini --set novalue"), 2);
    expect_in(err_text, "--set needs section.key=value");
    cr_expect_eq(cvnets("help model"), 2);
    expect_in(err_text, "is not KIND/NAME");
    tmp_cleanup();
}

Test(cli, plugins_json_lists_plugins) {
    const char *d = fixture_dir();
    char args[4200];
    snprintf(args, sizeof args, "plugins --json --plugin-path %s", d);
    cr_assert_eq(cvnets(args), 0, "%s", err_text);
    cr_expect_eq(out_text[0], '[');
    cr_expect(strstr(out_text, "]\n") != NULL);
    char want[160]; /* fixtures are built against today's SDK: its minor version */
    snprintf(want, sizeof want, "{\"kind\": \"transform\", \"name\": \"good\", \"task\": \"any\", \"abi\": \"1.%d\", \"file\": \"",
             CV_ABI_MINOR);
    expect_in(out_text, want);
    expect_in(out_text, "\"name\": \"frozen_invert\"");
    expect_in(out_text, "cvnets-transform-good.so\"");
    tmp_cleanup();
}

Test(cli, plugins_reports_broken_files_but_lists_the_rest) {
    const char *d = fixture_dir();
    tmp_put_fixture(d, "bad_major", "bad_major");
    char args[4200];
    snprintf(args, sizeof args, "plugins --plugin-path %s", d);
    cr_expect_eq(cvnets(args), 1);
    expect_in(err_text, "warning:");
    char want[32];
    snprintf(want, sizeof want, "ABI 2.%d", CV_ABI_MINOR);
    expect_in(err_text, want);
    expect_in(out_text, "transform/good");
    tmp_cleanup();
}

Test(cli, plugins_finds_the_installed_folder_next_to_bin) {
    /* $ORIGIN/../lib/cvnets/plugins: the build tree's own plugins, if any are built */
    cr_assert_eq(cvnets("plugins --json"), 0, "%s", err_text);
    cr_expect_eq(out_text[0], '[');
    tmp_cleanup();
}

Test(cli, help_shows_options) {
    const char *d = fixture_dir();
    char args[4200];
    snprintf(args, sizeof args, "help transform/good --plugin-path %s", d);
    cr_assert_eq(cvnets(args), 0, "%s", err_text);
    expect_in(out_text, "transform/good");
    expect_in(out_text, "fixture transform");
    expect_in(out_text, "level");
    expect_in(out_text, "default: 255");
    expect_in(out_text, "an integer in [1, 255]");
    expect_in(out_text, "maximum pixel value");
    expect_in(out_text, "one of: invert, keep");
    expect_in(out_text, "a comma-separated list of 2 numbers in [0, 1]");
    snprintf(args, sizeof args, "help transform/goood --plugin-path %s", d);
    cr_expect_eq(cvnets(args), 1);
    expect_in(err_text, "no transform plugin 'goood'");
    expect_in(err_text, "did you mean 'good'?");
    tmp_cleanup();
}

Test(cli, help_loads_only_that_plugin) {
    const char *d = fixture_dir();
    tmp_put_fixture(d, "bad_major", "bad_major"); /* would fail if help loaded everything */
    char args[4200];
    snprintf(args, sizeof args, "help transform/good --plugin-path %s", d);
    cr_expect_eq(cvnets(args), 0, "%s", err_text);
    tmp_cleanup();
}

Test(cli, check_valid_and_invalid_recipes) {
    const char *d = tmp_dir_new();
    tmp_put_fixture_as(d, "fx_model", "cvnets-model-fx.so");
    tmp_put_fixture_as(d, "fx_dataset", "cvnets-dataset-fx.so");
    tmp_put_fixture_as(d, "fx_backend", "cvnets-backend-fx.so");
    tmp_put_fixture_as(d, "fx_top1", "cvnets-metric-top1.so");
    tmp_put_fixture_as(d, "fx_loss_metric", "cvnets-metric-loss.so");
    const char *r = tmp_write(d, "r.ini", "[run]\ndevice = fx\n[dataset]\nname = fx\n[model]\nname = fx\nvariant = small\n");
    char args[8400];
    snprintf(args, sizeof args, "check %s --plugin-path %s", r, d);
    cr_expect_eq(cvnets(args), 0, "%s", err_text);
    expect_in(out_text, ": ok");
    expect_in(out_text, "model fx");
    snprintf(args, sizeof args, "check %s --plugin-path %s --set model.depth=7 --set run.epoch=2", r, d);
    cr_expect_eq(cvnets(args), 1);
    expect_in(err_text, "--set model.depth=7: [model] depth = '7': out of range");
    expect_in(err_text, "did you mean 'epochs'?");
    expect_in(err_text, "is not valid");
    snprintf(args, sizeof args, "check /nonexistent.ini --plugin-path %s", d);
    cr_expect_eq(cvnets(args), 1);
    expect_in(err_text, "cannot read recipe /nonexistent.ini");
    tmp_cleanup();
}

Test(cli, check_plugin_good_and_bad) {
    const char *d = fixture_dir();
    tmp_put_fixture(d, "bad_default", "bad_default");
    tmp_put_fixture(d, "wrong_name", "wrong_name");
    char args[4200];
    snprintf(args, sizeof args, "check-plugin %s/cvnets-transform-good.so", d);
    cr_expect_eq(cvnets(args), 0, "%s%s", out_text, err_text);
    expect_in(out_text, "create + destroy with default options: ok");
    expect_in(out_text, "cvnets-transform-good.so: ok");
    snprintf(args, sizeof args, "check-plugin %s/cvnets-transform-bad_default.so", d);
    cr_expect_eq(cvnets(args), 1);
    expect_in(out_text, "invalid default for option 'depth'");
    snprintf(args, sizeof args, "check-plugin %s/cvnets-transform-wrong_name.so", d);
    cr_expect_eq(cvnets(args), 1);
    expect_in(out_text, "registers other but the file name says transform/wrong_name");
    snprintf(args, sizeof args, "check-plugin %s", th_build_path("test/fixtures/no_entry.so"));
    cr_expect_eq(cvnets(args), 1);
    expect_in(out_text, "exports 'fixture_not_a_plugin'");
    expect_in(out_text, "does not export cvnets_plugin_entry_v1");
    snprintf(args, sizeof args, "check-plugin /nonexistent/cvnets-model-x.so");
    cr_expect_eq(cvnets(args), 1);
    expect_in(out_text, "cannot");
    tmp_cleanup();
}

Test(cli, pending_verbs_fail_cleanly) {
    /* verbs whose implementation lives elsewhere still answer, never crash */
    int rc = cvnets("train /nonexistent.ini");
    cr_expect_neq(rc, 0);
    tmp_cleanup();
}

/* CVNETS_PLUGIN_PATH is read with secure_getenv: a setuid cvnets must not load
 * plugins from a directory the invoking user chose through the environment. */
Test(cli, plugin_path_variable_is_ignored_when_setuid) {
    const char *d = fixture_dir();
    chmod(d, 0755);
    const char *bin = tmp_dir_new();
    chmod(bin, 0755);
    char cmd[8400], copy[4200];
    snprintf(copy, sizeof copy, "%s/cvnets", bin);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", th_build_path("bin/cvnets"), copy);
    cr_assert_eq(system(cmd), 0);
    /* the plain copy honours the variable */
    snprintf(cmd, sizeof cmd, "cd / && CVNETS_PLUGIN_PATH='%s' '%s' help transform/good >/dev/null 2>&1", d, copy);
    cr_expect_eq(WEXITSTATUS(system(cmd)), 0, "CVNETS_PLUGIN_PATH works for a normal program");
    if (geteuid() == 0) {
        /* root running a program setuid to another user: AT_SECURE is set */
        cr_assert_eq(chown(copy, 65534, 65534), 0);
        cr_assert_eq(chmod(copy, 04755), 0);
    } else {
        /* a user can only make a program setgid to one of their groups; any group
         * other than the real one sets AT_SECURE */
        gid_t groups[64];
        int n = getgroups(64, groups), other = -1;
        for (int i = 0; i < n && other < 0; i++)
            if (groups[i] != getgid()) other = (int)groups[i];
        cr_assert_geq(other, 0, "needs root or a supplementary group to build a setuid/setgid program");
        cr_assert_eq(chown(copy, (uid_t)-1, (gid_t)other), 0);
        cr_assert_eq(chmod(copy, 02755), 0);
    }
    snprintf(cmd, sizeof cmd, "cd / && CVNETS_PLUGIN_PATH='%s' '%s' help transform/good >%s/out 2>&1", d, copy, bin);
    int st = system(cmd);
    char p[4300];
    snprintf(p, sizeof p, "%s/out", bin);
    slurp(p, out_text, sizeof out_text);
    cr_expect_eq(WEXITSTATUS(st), 1, "setuid: the variable must be ignored\n%s", out_text);
    expect_in(out_text, "no transform plugin 'good'");
    tmp_cleanup();
}

/* Every plugin the build produced answers `help` and passes the conformance
 * checks of `check-plugin` that do not depend on this machine's data: symbols,
 * descriptor, schema, help texts, vtable.  (A create that fails on default
 * options is tolerated when it says why — e.g. a dataset folder that is not
 * here — and is reported by check-plugin itself.) */
Test(cli, every_built_plugin_has_help_and_conforms, .timeout = 300) {
    char dir[4096]; /* th_build_path's buffers are reused by later calls */
    snprintf(dir, sizeof dir, "%s", th_build_path("lib/cvnets/plugins"));
    char list[4300];
    snprintf(list, sizeof list, "ls '%s' 2>/dev/null", dir);
    FILE *p = popen(list, "r");
    cr_assert_not_null(p);
    char name[512];
    int n = 0;
    static char files[256][512];
    while (n < 256 && fgets(name, sizeof name, p)) {
        name[strcspn(name, "\n")] = 0;
        if (strncmp(name, "cvnets-", 7) == 0 && strstr(name, ".so")) snprintf(files[n++], sizeof files[0], "%s", name);
    }
    pclose(p);
    for (int i = 0; i < n; i++) {
        char kind[64], pname[200], args[8400];
        const char *k = files[i] + 7, *dash = strchr(k, '-');
        cr_assert_not_null(dash, "%s", files[i]);
        snprintf(kind, sizeof kind, "%.*s", (int)(dash - k), k);
        snprintf(pname, sizeof pname, "%.*s", (int)(strlen(dash + 1) - 3), dash + 1);
        snprintf(args, sizeof args, "help %s/%s", kind, pname);
        cr_expect_eq(cvnets(args), 0, "cvnets %s failed: %s", args, err_text);
        expect_in(out_text, "options");
        snprintf(args, sizeof args, "check-plugin '%s/%s'", dir, files[i]);
        int rc = cvnets(args);
        cr_expect(rc == 0 || rc == 1, "check-plugin %s exited %d", files[i], rc);
        for (char *line = strtok(out_text, "\n"); line; line = strtok(NULL, "\n"))
            if (strstr(line, "problem:") && !strstr(line, "create with default options failed"))
                cr_expect_fail("%s: %s", files[i], line);
        cr_expect(strstr(out_text, "(no message") == NULL, "%s: create failed without a message", files[i]);
    }
    cr_log_info("%d built plugins checked", n);
    tmp_cleanup();
}

/* CVNETS_LOG sets the log level: debug shows which plugin file was loaded; a bad value is named */
Test(cli, cvnets_log_sets_the_level) {
    setenv("CVNETS_LOG", "debug", 1);
    cr_expect_eq(cvnets("help model/resnet"), 0);
    expect_in(err_text, "[host] loaded ");
    expect_in(err_text, "cvnets-model-resnet.so (1 component)");
    setenv("CVNETS_LOG", "loud", 1);
    cr_expect_eq(cvnets("help model/resnet"), 0);
    expect_in(err_text, "CVNETS_LOG=loud is not a log level (debug, info, warning or error)");
    cr_expect(strstr(err_text, "[host] loaded") == NULL, "debug lines at the default level:\n%s", err_text);
    unsetenv("CVNETS_LOG");
    cr_expect_eq(cvnets("help model/resnet"), 0);
    cr_expect(strstr(err_text, "[host] loaded") == NULL, "debug lines without CVNETS_LOG:\n%s", err_text);
    tmp_cleanup();
}
