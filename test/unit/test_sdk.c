/* test/unit/test_sdk.c — the third-party path end to end: `make install` into a
 * temporary prefix, build sdk/examples/invert out of tree with only pkg-config,
 * and see the installed cvnets load it (help, check-plugin) and run it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "registry.h"
#include "support/testhost.h"
#include "support/tmpdir.h"

static char output[65536];

/* run a shell command, capture stdout+stderr, return the exit code */
static int sh(const char *cmd) {
    char full[16384];
    snprintf(full, sizeof full, "( %s ) 2>&1", cmd);
    FILE *p = popen(full, "r");
    cr_assert_not_null(p);
    size_t n = fread(output, 1, sizeof output - 1, p);
    output[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

Test(sdk, example_plugin_builds_out_of_tree_against_the_installed_sdk, .timeout = 600) {
    const char *prefix = tmp_dir_new();
    const char *work = tmp_dir_new();
    char build[4096];
    snprintf(build, sizeof build, "%s", th_build_path(""));
    build[strlen(build) - 1] = 0; /* drop the trailing '/' */
    size_t blen = strlen(build);
    int asan = blen >= 5 && strcmp(build + blen - 5, "/asan") == 0;
    char cmd[16384];
    /* the same build folder and flags as the tree under test, so nothing rebuilds */
    snprintf(cmd, sizeof cmd,
             "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C '%s' install PREFIX='%s' BUILD='%s' %s",
             th_src_path(""), prefix, build, asan ? "SAN=1" : "");
    cr_assert_eq(sh(cmd), 0, "make install failed:\n%s", output);
    snprintf(cmd, sizeof cmd, "test -x '%s/bin/cvnets' && test -f '%s/include/cvnets/abi.h' && test -f '%s/lib/pkgconfig/cvnets-plugin.pc'",
             prefix, prefix, prefix);
    cr_assert_eq(sh(cmd), 0, "install is incomplete");

    /* out of tree: a copy of the example, nothing from the source tree but pkg-config */
    snprintf(cmd, sizeof cmd, "cp '%s'/* '%s'/ && cd '%s' && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PKG_CONFIG_PATH='%s/lib/pkgconfig' make",
             th_src_path("sdk/examples/invert"), work, work, prefix);
    cr_assert_eq(sh(cmd), 0, "example build failed:\n%s", output);
    cr_expect(strstr(output, "-I") && strstr(output, prefix), "flags come from the installed .pc:\n%s", output);

    snprintf(cmd, sizeof cmd, "env -u CVNETS_PLUGIN_PATH '%s/bin/cvnets' help transform/invert --plugin-path '%s'", prefix, work);
    cr_assert_eq(sh(cmd), 0, "%s", output);
    cr_expect(strstr(output, "transform/invert") != NULL, "%s", output);
    cr_expect(strstr(output, "a number in [1, 65535]") != NULL, "%s", output);

    snprintf(cmd, sizeof cmd, "'%s/bin/cvnets' check-plugin '%s/cvnets-transform-invert.so'", prefix, work);
    cr_expect_eq(sh(cmd), 0, "%s", output);

    /* the installed binary finds its installed plugins without any flag */
    snprintf(cmd, sizeof cmd, "cd / && env -u CVNETS_PLUGIN_PATH '%s/bin/cvnets' plugins --json", prefix);
    cr_expect_eq(sh(cmd), 0, "%s", output);
    cr_expect_eq(output[0], '[', "%s", output);

    /* and it works: load it here and invert an image */
    cv_ctx *ctx = th_ctx_new();
    cv_registry_use_defaults(ctx->registry, 0, 0);
    char so[4200];
    snprintf(so, sizeof so, "%s/cvnets-transform-invert.so", work);
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_registry_load_file(ctx, so, &err), CV_OK, "%s", err.message);
    const cv_plugin *p = cv_registry_find(ctx->registry, CV_KIND_TRANSFORM, "invert");
    cr_assert_not_null(p);
    void *self = th_create(ctx, &p->desc, (const char *const[]){ "max=200", NULL }, NULL);
    unsigned char px[2] = { 0, 150 };
    cv_sample s = { sizeof s, 0, { 1, 2, 1, CV_U8, px }, NULL, { 0 }, 0, NULL, NULL };
    cv_transform_ctx tc = { sizeof tc, 1, 2, 1, 10, { { 0, 0 }, 0 } };
    cr_assert_eq(((const cv_transform_vtable *)p->desc.vtable)->apply(self, &s, &tc, &err), CV_OK);
    cr_expect_eq(px[0], 200);
    cr_expect_eq(px[1], 50);
    th_destroy(&p->desc, self);
    th_ctx_free(ctx);
    tmp_cleanup();
}
