/* test/support/cuda_open.c — the CUDA backend for a test, or why not (cuda_open.h). */
#include "cuda_open.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "testhost.h"

int cu_built(const char *rel) {
    struct stat sb;
    return stat(th_build_path(rel), &sb) == 0 && S_ISREG(sb.st_mode);
}

int cu_open(cv_ctx *ctx, const char *const *kv, ku_backend *be, char *why, size_t why_size) {
    if (!cu_built(CUDA_SO)) {
        snprintf(why, why_size, "built without CUDA=1 (no %s)", CUDA_SO);
        return 0;
    }
    const cv_component_desc *d = th_load(ctx, "backend", "cuda");
    cv_create_args extra;
    memset(&extra, 0, sizeof extra);
    extra.struct_size = sizeof extra;
    extra.threads = 1;
    cv_error err = { sizeof err, 0, "" };
    void *self = NULL;
    if (th_try_create(ctx, d, kv, &extra, &self, &err) != CV_OK) {
        snprintf(why, why_size, "%s", err.message);
        return 0;
    }
    *be = (ku_backend){ d->vtable, self, d };
    return 1;
}

void cu_fixture_open(cu_fixture *f) {
    f->ctx = th_ctx_new();
    f->ref = ku_backend_open(f->ctx, "ref");
    f->rng = ku_rng_make(20261128);
    f->have_cuda = cu_open(f->ctx, NULL, &f->cuda, f->no_cuda, sizeof f->no_cuda);
}

void cu_fixture_close(cu_fixture *f) {
    if (f->have_cuda) ku_backend_close(f->cuda);
    ku_backend_close(f->ref);
    th_ctx_free(f->ctx);
}
