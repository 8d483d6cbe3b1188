/* test/support/cuda_open.h — opening the CUDA backend plugin in a test, or the
 * reason why not (not built with CUDA=1, or create() failed: no device), so
 * that the CUDA tests skip with that reason instead of passing. */
#ifndef CV_TEST_CUDA_OPEN_H
#define CV_TEST_CUDA_OPEN_H

#include <stddef.h>

#include "kernel_util.h"

#define CUDA_SO "lib/cvnets/plugins/cvnets-backend-cuda.so"

/* 1 when rel (e.g. CUDA_SO) is a file in the build folder ($CVNETS_BUILD) */
int cu_built(const char *rel);

/* Load the CUDA backend into ctx (a th_ctx_new() context) and create one
 * instance with the options kv ("key=value" list, NULL-terminated; NULL:
 * defaults) and threads = 1 into *be.  Returns 1, or 0 with the reason in why. */
int cu_open(struct cv_ctx *ctx, const char *const *kv, ku_backend *be, char *why, size_t why_size);

/* The set-up of the CUDA test suites: a context, the reference backend, the
 * CUDA backend with default options (have_cuda = 1) or the reason in no_cuda,
 * and the random numbers (seed 20261128).  cu_fixture_close frees what opened. */
typedef struct cu_fixture {
    struct cv_ctx *ctx;
    ku_backend ref, cuda;
    ku_rng rng;
    int have_cuda;
    char no_cuda[CV_ERROR_MESSAGE_MAX + 64];
} cu_fixture;
void cu_fixture_open(cu_fixture *f);
void cu_fixture_close(cu_fixture *f);

#endif
