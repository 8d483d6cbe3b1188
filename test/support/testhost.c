/* test/support/testhost.c — the helpers of testhost.h: load built plugins through
 * the real registry and create components from "key=value" options. */
#include "testhost.h"
#include "options.h"
#include "registry.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Options handed to create() stay alive until th_ctx_free: components may keep
 * pointers into them (strings, lists).  Tests run one per process, so a small
 * table keyed by context is enough. */
#define TH_MAX_OPTS 256
static struct { cv_ctx *ctx; cv_options *opts; } th_opts[TH_MAX_OPTS];

cv_ctx *th_ctx_new(void) {
    cv_ctx *ctx = cv_ctx_create();
    cr_assert_not_null(ctx, "cv_ctx_create failed");
    ctx->log_level = CV_LOG_WARN;
    return ctx;
}

void th_ctx_free(cv_ctx *ctx) {
    for (int i = 0; i < TH_MAX_OPTS; i++)
        if (th_opts[i].ctx == ctx && th_opts[i].opts) {
            cv_options_free(th_opts[i].opts);
            th_opts[i].ctx = NULL;
            th_opts[i].opts = NULL;
        }
    cv_ctx_destroy(ctx);
}

static const char *path_in(const char *env, const char *fallback, const char *rel) {
    static char bufs[16][4096];
    static int next;
    char *b = bufs[next++ % 16];
    const char *root = getenv(env);
    snprintf(b, sizeof bufs[0], "%s/%s", root && *root ? root : fallback, rel);
    return b;
}

const char *th_build_path(const char *rel) { return path_in("CVNETS_BUILD", "build", rel); }
const char *th_src_path(const char *rel) { return path_in("CVNETS_SRC", ".", rel); }

const cv_component_desc *th_load(cv_ctx *ctx, const char *kind, const char *name) {
    int k = cv_kind_from_name(kind);
    cr_assert(k >= 0, "th_load: unknown kind '%s'", kind);
    char rel[512];
    snprintf(rel, sizeof rel, "lib/cvnets/plugins/cvnets-%s-%s.so", kind, name);
    cv_error err;
    cv_error_init(&err);
    int rc = cv_registry_load_file(ctx, th_build_path(rel), &err);
    cr_assert_eq(rc, CV_OK, "loading %s/%s failed: %s", kind, name, err.message);
    const cv_plugin *p = cv_registry_find(ctx->registry, k, name);
    cr_assert_not_null(p, "%s/%s not registered after loading", kind, name);
    return &p->desc;
}

int th_try_create(cv_ctx *ctx, const cv_component_desc *d, const char *const *kv, const cv_create_args *extra,
                  void **self, cv_error *err) {
    *self = NULL;
    char section[300];
    snprintf(section, sizeof section, "%s/%s", cv_kind_name(d->kind), d->name);
    cv_options *opts;
    int rc = cv_options_from_kv(d->options, section, kv, &opts, err);
    if (rc != CV_OK) return rc;
    int slot = -1;
    for (int i = 0; i < TH_MAX_OPTS && slot < 0; i++)
        if (!th_opts[i].opts) slot = i;
    if (slot < 0) {
        cv_options_free(opts);
        return cv_set_error(err, CV_ERR_NOMEM, "testhost: more than %d live option sets", TH_MAX_OPTS);
    }
    th_opts[slot].ctx = ctx;
    th_opts[slot].opts = opts;
    cv_create_args args;
    memset(&args, 0, sizeof args);
    if (extra) args = *extra;
    args.struct_size = sizeof args;
    args.host = &ctx->host;
    args.opts = opts;
    return d->create(&args, self, err);
}

void *th_create(cv_ctx *ctx, const cv_component_desc *d, const char *const *kv, const cv_create_args *extra) {
    cv_error err;
    cv_error_init(&err);
    void *self = NULL;
    int rc = th_try_create(ctx, d, kv, extra, &self, &err);
    cr_assert_eq(rc, CV_OK, "creating %s/%s failed: %s", cv_kind_name(d->kind), d->name, err.message);
    return self;
}

void th_destroy(const cv_component_desc *d, void *self) {
    if (d && self) d->destroy(self);
}
