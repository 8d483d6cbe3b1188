/* test/unit/test_abi.c — proof that ABI 1.0 stays stable: the recorded layout of
 * every public struct still holds (and 1.1's appended members sit after it), a
 * plugin compiled against the frozen 1.0 headers loads and works on today's
 * host, and every built plugin exports only its entry symbol and needs no host
 * symbol. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "abi/layout_v1_0.h"
#include "registry.h"
#include "state.h"
#include "support/testhost.h"
#include "support/tmpdir.h"

Test(abi, version_is_1_x) {
    cr_expect_eq(CV_ABI_MAJOR, 1, "a new major version needs a new entry symbol and frozen headers");
    cr_expect_geq(CV_ABI_MINOR, 0);
}

/* Members of 1.0 keep their offsets; structs may only grow (append-only). */
Test(abi, layout_of_every_public_struct_is_unchanged) {
    int structs = 0, members = 0;
#define S(type, size)                                                                                          \
    do {                                                                                                       \
        structs++;                                                                                             \
        cr_expect_geq(sizeof(type), (size_t)(size), #type " shrank from %zu to %zu bytes", (size_t)(size),     \
                      sizeof(type));                                                                           \
    } while (0);
#define M(type, member, off)                                                                                   \
    do {                                                                                                       \
        members++;                                                                                             \
        cr_expect_eq(offsetof(type, member), (size_t)(off), #type "." #member " moved from %zu to %zu",        \
                     (size_t)(off), offsetof(type, member));                                                   \
    } while (0);
    CV_LAYOUT_V1_0(S, M)
#undef S
#undef M
    cr_expect_eq(structs, 56, "the recorded table covers every struct of the 1.0 headers");
    cr_expect_gt(members, 250);
}

/* The record of ABI 1.1 (blocked layouts): members appended after the whole 1.0
 * struct, nothing else moved (the 1.0 record above still holds). */
Test(abi, v1_1_layout_members_are_appended) {
    cr_expect_geq(CV_ABI_MINOR, 1);
    cr_expect_eq(offsetof(cv_kernel, in_layout), 80, "right after the 1.0 cv_kernel (80 bytes)");
    cr_expect_eq(offsetof(cv_kernel, out_layout), 88);
    cr_expect_eq(sizeof(cv_kernel), 96);
    cr_expect_eq(offsetof(cv_backend_vtable, layout_class), 88, "right after the 1.0 vtable (88 bytes)");
    cr_expect_eq(offsetof(cv_backend_vtable, graph_begin), 96, "the 1.1 vtable ends after layout_class (96 bytes)");
    cr_expect_eq(CV_LAYOUT_PLAIN, 0);
    cr_expect_eq(CV_LAYOUT_C16, 1);
    cr_expect_eq(CV_LAYOUT_CLASS_PLAIN, 0);
    cr_expect_eq(CV_LAYOUT_CLASS_UNIFORM, 1);
    cr_expect_eq(CV_LAYOUT_CLASS_FREE, 2);
}

/* The record of ABI 1.2 (recorded kernel sequences): five members appended after
 * the whole 1.1 backend vtable, nothing else moved. */
Test(abi, v1_2_graph_members_are_appended) {
    cr_expect_geq(CV_ABI_MINOR, 2);
    cr_expect_eq(offsetof(cv_backend_vtable, graph_begin), 96);
    cr_expect_eq(offsetof(cv_backend_vtable, graph_end), 104);
    cr_expect_eq(offsetof(cv_backend_vtable, graph_update), 112);
    cr_expect_eq(offsetof(cv_backend_vtable, graph_launch), 120);
    cr_expect_eq(offsetof(cv_backend_vtable, graph_release), 128);
    cr_expect_eq(sizeof(cv_backend_vtable), 136);
    cr_expect_eq(sizeof(cv_kernel), 96, "cv_kernel is unchanged since 1.1");
}

/* The record of ABI 1.3 (NHWC): a new layout value and the backend's choice of
 * blocked layout in the vtable's former `reserved` member — no struct moved, and
 * a 1.2 backend's 0 there still means C16. */
Test(abi, v1_3_blocked_layout_takes_the_reserved_member) {
    cr_expect_geq(CV_ABI_MINOR, 3);
    cr_expect_eq(CV_LAYOUT_NHWC, 2);
    cr_expect_eq(offsetof(cv_backend_vtable, blocked_layout), 8, "where 1.0 had int32 reserved");
    cr_expect_eq(sizeof(((cv_backend_vtable *)0)->blocked_layout), 4);
    cr_expect_eq(sizeof(cv_backend_vtable), 136, "the vtable is unchanged since 1.2");
}

/* The record of ABI 1.4 (16-bit storage of blocked activations): flags above the
 * layout class's two bits; no struct changed. */
Test(abi, v1_4_layout_class_flags) {
    cr_expect_geq(CV_ABI_MINOR, 4);
    cr_expect_eq(CV_LAYOUT_CLASS_MASK, 3);
    cr_expect_eq(CV_LAYOUT_CLASS_BF16, 4);
    cr_expect_eq(CV_LAYOUT_CLASS_F16, 8);
    cr_expect_eq(CV_LAYOUT_CLASS_FREE & ~CV_LAYOUT_CLASS_MASK, 0, "the classes fit under the mask");
    cr_expect_eq(sizeof(cv_backend_vtable), 136, "the vtable is unchanged since 1.2");
    cr_expect_eq(sizeof(cv_kernel), 96, "cv_kernel is unchanged since 1.1");
}

Test(abi, frozen_plugin_loads_and_works_on_todays_host) {
    cv_ctx *ctx = th_ctx_new();
    cv_registry_use_defaults(ctx->registry, 0, 0);
    const char *dir = tmp_dir_new();
    tmp_put_fixture(dir, "frozen_invert", "frozen_invert");
    char path[4200];
    snprintf(path, sizeof path, "%s/cvnets-transform-frozen_invert.so", dir);
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_registry_load_file(ctx, path, &err), CV_OK, "%s", err.message);
    const cv_plugin *p = cv_registry_find(ctx->registry, CV_KIND_TRANSFORM, "frozen_invert");
    cr_assert_not_null(p);
    cr_expect_eq(p->desc.abi_major, 1);
    cr_expect_eq(p->desc.abi_minor, 0);
    void *self = th_create(ctx, &p->desc, (const char *const[]){ "level=10", "scale=0.5, 0.75", NULL }, NULL);
    unsigned char px[3] = { 1, 2, 10 };
    cv_sample s = { sizeof s, 0, { 1, 3, 1, CV_U8, px }, NULL, { 0 }, 0, NULL, NULL };
    cv_transform_ctx tc = { sizeof tc, 1, 3, 1, 10, { { 0, 0 }, 0 } };
    cr_assert_eq(((const cv_transform_vtable *)p->desc.vtable)->apply(self, &s, &tc, &err), CV_OK);
    cr_expect_eq(px[0], 9);
    cr_expect_eq(px[2], 0);
    cv_state_writer *w = cv_state_writer_new();
    cr_expect_eq(p->desc.save_state(self, w, &err), CV_OK, "%s", err.message);
    cr_expect_eq(cv_state_writer_count(w), 1);
    cv_state_writer_free(w);
    th_destroy(&p->desc, self);
    th_ctx_free(ctx);
    tmp_cleanup();
}

/* run nm on file; returns the symbols, one per line */
static void nm_symbols(const char *file, const char *mode, char *out, size_t n) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "nm -D %s --format=posix '%s' 2>&1", mode, file);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run nm");
    size_t used = 0;
    char line[1024];
    out[0] = 0;
    while (fgets(line, sizeof line, p)) {
        char *sp = strchr(line, ' ');
        if (sp) *sp = 0; /* posix format: "name type value size" */
        size_t len = strlen(line);
        if (used + len + 2 < n) {
            memcpy(out + used, line, len);
            used += len;
            out[used++] = '\n';
            out[used] = 0;
        }
    }
    cr_assert_eq(pclose(p), 0, "nm failed on %s: %s", file, out);
}

static int check_exports(const char *file) {
    static char syms[1 << 16];
    nm_symbols(file, "--defined-only", syms, sizeof syms);
    int entry = 0;
    for (char *s = strtok(syms, "\n"); s; s = strtok(NULL, "\n")) {
        if (strcmp(s, "cvnets_plugin_entry_v1") == 0) entry = 1;
        else if (strcmp(s, "_init") && strcmp(s, "_fini") && strcmp(s, "_edata") && strcmp(s, "_end") &&
                 strcmp(s, "__bss_start"))
            cr_expect_fail("%s exports '%s': plugins export only cvnets_plugin_entry_v1", file, s);
    }
    cr_expect(entry, "%s does not export cvnets_plugin_entry_v1", file);
    nm_symbols(file, "--undefined-only", syms, sizeof syms);
    for (char *s = strtok(syms, "\n"); s; s = strtok(NULL, "\n"))
        cr_expect(strncmp(s, "cv_", 3) != 0, "%s needs the host symbol '%s'", file, s);
    return 1;
}

Test(abi, every_built_plugin_exports_only_its_entry) {
    const char *dir = th_build_path("lib/cvnets/plugins");
    DIR *d = opendir(dir);
    int checked = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0) continue;
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            checked += check_exports(path);
        }
        closedir(d);
    }
    /* the fixtures are built like third-party plugins: the same rule holds */
    checked += check_exports(th_build_path("test/fixtures/good.so"));
    checked += check_exports(th_build_path("test/fixtures/frozen_invert.so"));
    cr_expect_geq(checked, 2);
    cr_log_info("checked %d plugin files", checked);
}
