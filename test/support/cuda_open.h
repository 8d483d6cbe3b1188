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

#endif
