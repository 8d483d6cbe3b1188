/* test/unit/test_abi_compat.c — plugins built against the frozen ABI 1.0 headers
 * whose vtables have grown since (backend: layout_class; comm: the non-blocking
 * all-reduce) load on today's host, and the members they lack read as NULL
 * through the registry's zero-padded copy, so callers need only a NULL check. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>

#include "registry.h"
#include "support/testhost.h"
#include "support/tmpdir.h"

static const cv_plugin *load_frozen(cv_ctx *ctx, const char *kind, int k) {
    const char *dir = tmp_dir_new();
    char fx[64], file[96], path[4300];
    snprintf(fx, sizeof fx, "frozen_%s", kind);
    snprintf(file, sizeof file, "cvnets-%s-frozen_%s.so", kind, kind);
    tmp_put_fixture_as(dir, fx, file);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_registry_load_file(ctx, path, &err), CV_OK, "%s", err.message);
    const cv_plugin *p = cv_registry_find(ctx->registry, k, fx);
    cr_assert_not_null(p);
    cr_expect_eq(p->desc.abi_minor, 0);
    return p;
}

Test(abi_compat, backend_1_0_has_no_layout_class) {
    cv_ctx *ctx = th_ctx_new();
    cv_registry_use_defaults(ctx->registry, 0, 0);
    const cv_backend_vtable *vt = load_frozen(ctx, "backend", CV_KIND_BACKEND)->desc.vtable;
    cr_expect_eq(vt->struct_size, offsetof(cv_backend_vtable, layout_class), "the plugin's own size is kept");
    cr_expect_null(vt->layout_class);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(abi_compat, comm_1_0_has_no_async_allreduce) {
    cv_ctx *ctx = th_ctx_new();
    cv_registry_use_defaults(ctx->registry, 0, 0);
    const cv_comm_vtable *vt = load_frozen(ctx, "comm", CV_KIND_COMM)->desc.vtable;
    cr_expect_eq(vt->struct_size, offsetof(cv_comm_vtable, iallreduce_sum_f32));
    cr_expect_null(vt->iallreduce_sum_f32);
    cr_expect_null(vt->test);
    cr_expect_null(vt->wait);
    th_ctx_free(ctx);
    tmp_cleanup();
}
