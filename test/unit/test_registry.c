/* test/unit/test_registry.c — the plugin loader: every bad plugin of issue 2 gets a
 * clear error and registers nothing; the search path order; never the cwd. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "registry.h"
#include "state.h"
#include "support/testhost.h"
#include "support/tmpdir.h"

static cv_ctx *isolated_ctx(void) {
    cv_ctx *ctx = th_ctx_new();
    cv_registry_use_defaults(ctx->registry, 0, 0);
    return ctx;
}

/* load fixture <fx>.so installed as cvnets-transform-<as>.so into a fresh dir */
static int load_fixture(cv_ctx *ctx, const char *fx, const char *as, cv_error *err, char *dir_out) {
    const char *dir = tmp_dir_new();
    tmp_put_fixture(dir, fx, as);
    if (dir_out) strcpy(dir_out, dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/cvnets-transform-%s.so", dir, as);
    cv_error_init(err);
    return cv_registry_load_file(ctx, path, err);
}

#define expect_msg(err, needle) \
    cr_expect(strstr((err).message, (needle)) != NULL, "message lacks '%s': %s", (needle), (err).message)

Test(registry, loads_a_good_plugin_and_creates_it) {
    cv_ctx *ctx = isolated_ctx();
    cv_error err;
    cr_assert_eq(load_fixture(ctx, "good", "good", &err, NULL), CV_OK, "%s", err.message);
    const cv_plugin *p = cv_registry_find(ctx->registry, CV_KIND_TRANSFORM, "good");
    cr_assert_not_null(p);
    cr_expect_eq(cv_schema_count(p->desc.options), 7);
    cr_expect_str_eq(p->desc.task, "any");
    void *self = th_create(ctx, &p->desc, (const char *const[]){ "level=200", NULL }, NULL);
    unsigned char px[4] = { 0, 50, 100, 200 };
    cv_sample s = { sizeof s, 0, { 2, 2, 1, CV_U8, px }, NULL, { 0 }, 0, NULL, NULL };
    cv_transform_ctx tc = { sizeof tc, 2, 2, 1, 10, { { 0, 0 }, 0 } };
    const cv_transform_vtable *vt = p->desc.vtable;
    cr_assert_eq(vt->apply(self, &s, &tc, &err), CV_OK);
    cr_expect_eq(px[0], 200);
    cr_expect_eq(px[3], 0);
    /* state round trip through the host */
    cv_state_writer *w = cv_state_writer_new();
    cr_assert_eq(p->desc.save_state(self, w, &err), CV_OK, "%s", err.message);
    cv_state_reader *r = cv_state_reader_new();
    cr_assert_eq(cv_state_reader_from_writer(r, w, &err), CV_OK);
    void *other = th_create(ctx, &p->desc, NULL, NULL);
    cr_assert_eq(p->desc.load_state(other, r, &err), CV_OK, "%s", err.message);
    cr_expect_eq(((int64_t *)other)[3], 1, "calls restored"); /* fx_state.calls */
    cv_state_reader_free(r);
    cv_state_writer_free(w);
    th_destroy(&p->desc, other);
    th_destroy(&p->desc, self);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, wrong_abi_major) {
    cv_ctx *ctx = isolated_ctx();
    cv_error err;
    cr_assert_eq(load_fixture(ctx, "bad_major", "bad_major", &err, NULL), CV_ERR_ABI);
    char want[64];
    snprintf(want, sizeof want, "ABI %d.%d", CV_ABI_MAJOR + 1, CV_ABI_MINOR);
    expect_msg(err, want);
    expect_msg(err, "major version must match");
    expect_msg(err, "cvnets-transform-bad_major.so");
    cr_expect_eq(cv_registry_count(ctx->registry), 0);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, newer_abi_minor) {
    cv_ctx *ctx = isolated_ctx();
    cv_error err;
    cr_assert_eq(load_fixture(ctx, "bad_minor", "bad_minor", &err, NULL), CV_ERR_ABI);
    char want[64];
    snprintf(want, sizeof want, "ABI %d.%d", CV_ABI_MAJOR, CV_ABI_MINOR + 1);
    expect_msg(err, want);
    snprintf(want, sizeof want, "newer than this host's %d.%d", CV_ABI_MAJOR, CV_ABI_MINOR);
    expect_msg(err, want);
    cr_expect_eq(cv_registry_count(ctx->registry), 0);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, missing_entry_symbol) {
    cv_ctx *ctx = isolated_ctx();
    cv_error err;
    cr_assert_eq(load_fixture(ctx, "no_entry", "no_entry", &err, NULL), CV_ERR_INVALID);
    expect_msg(err, "is not a cvnets plugin");
    expect_msg(err, "cvnets_plugin_entry_v1");
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, not_a_shared_object) {
    cv_ctx *ctx = isolated_ctx();
    const char *dir = tmp_dir_new();
    tmp_write(dir, "cvnets-model-junk.so", "this is not ELF\n");
    char path[4096];
    snprintf(path, sizeof path, "%s/cvnets-model-junk.so", dir);
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_registry_load_file(ctx, path, &err), CV_ERR_IO);
    expect_msg(err, "cannot load plugin");
    expect_msg(err, "cvnets-model-junk.so");
    th_ctx_free(ctx);
    tmp_cleanup();
}

typedef struct seen { int n; char msgs[8][CV_ERROR_MESSAGE_MAX]; } seen;
static void collect(void *user, const char *file, const cv_error *err) {
    seen *s = user;
    (void)file;
    if (s->n < 8) strcpy(s->msgs[s->n], err->message);
    s->n++;
}

Test(registry, scan_skips_non_plugins_and_reports_broken_ones) {
    cv_ctx *ctx = isolated_ctx();
    const char *dir = tmp_dir_new();
    tmp_put_fixture(dir, "good", "good");
    tmp_put_fixture_as(dir, "no_entry", "libsomething.so");     /* not cvnets-*: ignored */
    tmp_put_fixture_as(dir, "no_entry", "cvnets-transform-no_entry.so");
    tmp_write(dir, "README", "not a plugin");
    cr_assert_eq(cv_registry_add_dirs(ctx->registry, dir), CV_OK);
    seen s = { 0 };
    int failed = cv_registry_load_all(ctx, collect, &s);
    cr_expect_eq(failed, 1);
    cr_expect_eq(s.n, 1);
    cr_expect(strstr(s.msgs[0], "cvnets-transform-no_entry.so") != NULL, "%s", s.msgs[0]);
    cr_expect_eq(cv_registry_count(ctx->registry), 1);
    cr_expect_not_null(cv_registry_find(ctx->registry, CV_KIND_TRANSFORM, "good"));
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, entry_failing_with_a_message_registers_nothing) {
    cv_ctx *ctx = isolated_ctx();
    cv_error err;
    cr_assert_eq(load_fixture(ctx, "entry_fails", "entry_fails", &err, NULL), CV_ERR_IO);
    expect_msg(err, "failed to initialise");
    expect_msg(err, "cannot open /nonexistent/weights.bin");
    cr_expect_eq(cv_registry_count(ctx->registry), 0, "the component registered before the failure is rolled back");
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, entry_failing_without_a_message) {
    cv_ctx *ctx = isolated_ctx();
    cv_error err;
    cr_assert_eq(load_fixture(ctx, "entry_fails_silently", "entry_fails_silently", &err, NULL), CV_ERR_INTERNAL);
    expect_msg(err, "without a message");
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, duplicate_registration_names_both_files) {
    cv_ctx *ctx = isolated_ctx();
    char a[4096], b[4096], pa[4200], pb[4200];
    cv_error err;
    cr_assert_eq(load_fixture(ctx, "good", "good", &err, a), CV_OK, "%s", err.message);
    cr_assert_eq(load_fixture(ctx, "good", "good", &err, b), CV_ERR_INVALID);
    snprintf(pa, sizeof pa, "%s/cvnets-transform-good.so", a);
    snprintf(pb, sizeof pb, "%s/cvnets-transform-good.so", b);
    expect_msg(err, "transform/good is registered twice");
    expect_msg(err, pa);
    expect_msg(err, pb);
    cr_expect_eq(cv_registry_count(ctx->registry), 1);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, duplicate_registration_within_one_file) {
    cv_ctx *ctx = isolated_ctx();
    cv_error err;
    cr_assert_eq(load_fixture(ctx, "dup_self", "dup_self", &err, NULL), CV_ERR_INVALID);
    expect_msg(err, "transform/dup_self is registered twice");
    cr_expect_eq(cv_registry_count(ctx->registry), 0);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, same_file_twice_is_loaded_once) {
    cv_ctx *ctx = isolated_ctx();
    char dir[4096], path[4200], link[4200];
    cv_error err;
    cr_assert_eq(load_fixture(ctx, "good", "good", &err, dir), CV_OK);
    snprintf(path, sizeof path, "%s/cvnets-transform-good.so", dir);
    const char *d2 = tmp_dir_new();
    snprintf(link, sizeof link, "%s/cvnets-transform-good.so", d2);
    cr_assert_eq(symlink(path, link), 0);
    cr_expect_eq(cv_registry_load_file(ctx, link, &err), CV_OK, "%s", err.message);
    cr_expect_eq(cv_registry_load_file(ctx, path, &err), CV_OK, "%s", err.message);
    cr_expect_eq(cv_registry_count(ctx->registry), 1);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, file_name_must_match_registered_name) {
    cv_ctx *ctx = isolated_ctx();
    cv_error err;
    cr_assert_eq(load_fixture(ctx, "wrong_name", "wrong_name", &err, NULL), CV_ERR_INVALID);
    expect_msg(err, "registers transform/other but its file name says transform/wrong_name");
    cr_expect_eq(cv_registry_count(ctx->registry), 0);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, file_name_must_follow_the_rule) {
    cv_ctx *ctx = isolated_ctx();
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_registry_load_file(ctx, th_build_path("test/fixtures/good.so"), &err), CV_ERR_INVALID);
    expect_msg(err, "cvnets-<kind>-<name>.so");
    cv_error_init(&err);
    cr_expect_eq(cv_registry_load_file_any_name(ctx, th_build_path("test/fixtures/good.so"), &err), CV_OK, "%s",
                 err.message);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, larger_struct_with_nonzero_tail_is_refused) {
    cv_ctx *ctx = isolated_ctx();
    cv_error err;
    cr_assert_eq(load_fixture(ctx, "big_tail", "big_tail", &err, NULL), CV_ERR_ABI);
    expect_msg(err, "component descriptor");
    expect_msg(err, "beyond the");
    expect_msg(err, "needs a newer cvnets");
    cr_expect_eq(cv_registry_count(ctx->registry), 0);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, larger_struct_with_zero_tail_is_accepted) {
    cv_ctx *ctx = isolated_ctx();
    cv_error err;
    cr_assert_eq(load_fixture(ctx, "big_zero", "big_zero", &err, NULL), CV_OK, "%s", err.message);
    const cv_plugin *p = cv_registry_find(ctx->registry, CV_KIND_TRANSFORM, "big_zero");
    cr_assert_not_null(p);
    cr_expect_eq(p->desc.struct_size, sizeof(cv_component_desc), "the host keeps a normalised copy");
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, invalid_default_in_schema) {
    cv_ctx *ctx = isolated_ctx();
    cv_error err;
    cr_assert_eq(load_fixture(ctx, "bad_default", "bad_default", &err, NULL), CV_ERR_INVALID);
    expect_msg(err, "invalid default for option 'depth'");
    expect_msg(err, "'7'");
    expect_msg(err, "an integer in [18, 101]");
    cr_expect_eq(cv_registry_count(ctx->registry), 0);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, register_outside_entry_is_refused) {
    cv_ctx *ctx = isolated_ctx();
    cv_error err;
    cv_error_init(&err);
    cv_component_desc d = { sizeof d };
    cr_expect_eq(ctx->host.register_component(ctx->host.host_ctx, &d, &err), CV_ERR_INVALID);
    expect_msg(err, "only valid inside");
    th_ctx_free(ctx);
}

Test(registry, search_order_user_dir_then_env) {
    cv_ctx *ctx = th_ctx_new();
    cv_registry_use_defaults(ctx->registry, 1, 0);
    const char *a = tmp_dir_new();
    const char *b = tmp_dir_new();
    tmp_put_fixture(a, "good", "good");
    tmp_put_fixture(b, "good", "good");
    tmp_put_fixture(b, "big_zero", "big_zero");
    setenv("CVNETS_PLUGIN_PATH", b, 1);
    cr_assert_eq(cv_registry_add_dirs(ctx->registry, a), CV_OK);
    const char **dirs;
    int nd = cv_registry_search_dirs(ctx->registry, &dirs);
    cr_assert_eq(nd, 2);
    char first[4096], second[4096]; /* dirs is only valid until the next search */
    strcpy(first, dirs[0]);
    strcpy(second, dirs[1]);
    const cv_plugin *p;
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_registry_load(ctx, CV_KIND_TRANSFORM, "good", &p, &err), CV_OK, "%s", err.message);
    cr_expect(strncmp(p->file, first, strlen(first)) == 0, "--plugin-path wins: %s", p->file);
    cr_assert_eq(cv_registry_load(ctx, CV_KIND_TRANSFORM, "big_zero", &p, &err), CV_OK, "%s", err.message);
    cr_expect(strncmp(p->file, second, strlen(second)) == 0, "found through the environment: %s", p->file);
    unsetenv("CVNETS_PLUGIN_PATH");
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, empty_env_entries_do_not_mean_cwd) {
    cv_ctx *ctx = th_ctx_new();
    cv_registry_use_defaults(ctx->registry, 1, 0);
    const char *dir = tmp_dir_new();
    tmp_put_fixture(dir, "good", "good");
    cr_assert_eq(chdir(dir), 0);
    setenv("CVNETS_PLUGIN_PATH", "::", 1);
    const cv_plugin *p;
    cv_error err;
    cv_error_init(&err);
    cr_expect_eq(cv_registry_load(ctx, CV_KIND_TRANSFORM, "good", &p, &err), CV_ERR_INVALID);
    expect_msg(err, "not found");
    unsetenv("CVNETS_PLUGIN_PATH");
    cr_assert_eq(chdir("/"), 0);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, missing_plugin_lists_directories_and_names) {
    cv_ctx *ctx = isolated_ctx();
    const char *dir = tmp_dir_new();
    tmp_put_fixture(dir, "good", "good");
    tmp_put_fixture(dir, "big_zero", "big_zero");
    cr_assert_eq(chdir(dir), 0); /* the working directory is never searched */
    cv_registry_add_dirs(ctx->registry, dir);
    const cv_plugin *p;
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_registry_load(ctx, CV_KIND_TRANSFORM, "goad", &p, &err), CV_ERR_INVALID);
    expect_msg(err, "cvnets-transform-goad.so not found in");
    expect_msg(err, "big_zero, good");
    expect_msg(err, "did you mean 'good'?");
    cv_error_init(&err);
    cr_assert_eq(cv_registry_load(ctx, CV_KIND_MODEL, "resnet", &p, &err), CV_ERR_INVALID);
    expect_msg(err, "no model plugins");
    cr_assert_eq(chdir("/"), 0);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, cwd_is_never_searched) {
    cv_ctx *ctx = isolated_ctx();
    const char *dir = tmp_dir_new();
    tmp_put_fixture(dir, "good", "good");
    cr_assert_eq(chdir(dir), 0);
    const cv_plugin *p;
    cv_error err;
    cv_error_init(&err);
    cr_expect_eq(cv_registry_load(ctx, CV_KIND_TRANSFORM, "good", &p, &err), CV_ERR_INVALID);
    expect_msg(err, "none exists");
    cr_assert_eq(chdir("/"), 0);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(registry, plugin_file_names) {
    int kind;
    char name[64];
    cr_expect(cv_plugin_file_parse("/x/cvnets-model-resnet.so", &kind, name, sizeof name));
    cr_expect_eq(kind, CV_KIND_MODEL);
    cr_expect_str_eq(name, "resnet");
    cr_expect(cv_plugin_file_parse("cvnets-transform-random_resized_crop.so", &kind, name, sizeof name));
    cr_expect_not(cv_plugin_file_parse("cvnets-models-resnet.so", &kind, name, sizeof name));
    cr_expect_not(cv_plugin_file_parse("cvnets-model-.so", &kind, name, sizeof name));
    cr_expect_not(cv_plugin_file_parse("cvnets-model-Res.so", &kind, name, sizeof name));
    cr_expect_not(cv_plugin_file_parse("libcvnets-model-a.so", &kind, name, sizeof name));
}

/* check-plugin's vtable check: a backend's blocked_layout must be a layout this host knows */
static void *vt_alloc(void *self, size_t n) { (void)self; (void)n; return NULL; }
static void vt_free(void *self, void *p) { (void)self; (void)p; }
static int vt_copy(void *self, void *d, const void *s, size_t n, cv_error *err) { (void)self; (void)d; (void)s; (void)n; (void)err; return CV_OK; }
static int vt_supports(void *self, int op, int dtype) { (void)self; (void)op; (void)dtype; return 1; }
static int vt_run(void *self, const cv_kernel *k, cv_error *err) { (void)self; (void)k; (void)err; return CV_OK; }
static int vt_sync(void *self, cv_error *err) { (void)self; (void)err; return CV_OK; }

Test(registry, backend_blocked_layout_must_be_known) {
    cv_backend_vtable vt = { .struct_size = sizeof vt, .alloc = vt_alloc, .free = vt_free, .upload = vt_copy,
                             .download = vt_copy, .supports = vt_supports, .run = vt_run, .sync = vt_sync };
    cv_component_desc d = { .struct_size = sizeof d, .abi_major = CV_ABI_MAJOR, .abi_minor = CV_ABI_MINOR,
                            .kind = CV_KIND_BACKEND, .name = "lay", .task = "any", .summary = "test", .vtable = &vt };
    const int good[] = { 0, CV_LAYOUT_C16, CV_LAYOUT_NHWC };
    for (int i = 0; i < 3; i++) {
        cv_error err;
        cv_error_init(&err);
        vt.blocked_layout = good[i];
        cr_expect_eq(cv_component_check_vtable(&d, &err), CV_OK, "blocked_layout %d: %s", good[i], err.message);
    }
    cv_error err;
    cv_error_init(&err);
    vt.blocked_layout = 9;
    cr_expect_eq(cv_component_check_vtable(&d, &err), CV_ERR_INVALID);
    cr_expect(strstr(err.message, "backend/lay: its vtable's blocked_layout is 9") != NULL, "%s", err.message);
}
