/* test/unit/test_comm_nccl.c — the NCCL comm's non-blocking all-reduce (ABI 1.1),
 * which data-parallel training overlaps with backward: on a machine with a CUDA
 * device, a one-rank communicator reduces a device buffer through
 * iallreduce / test / wait and leaves it as it was, wait(NULL) succeeds, and a
 * host pointer is refused with a message (the blocking call stages host memory,
 * the non-blocking one does not).  Skipped with the reason without a device or
 * without `make CUDA=1`. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support/kernel_util.h"
#include "support/testhost.h"

/* CUDA's libraries keep process-lifetime allocations; not ours to report under LSan */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libcuda\nleak:libcudart\nleak:libnccl\nleak:_dlerror_run\n";
}

#define NCCL_SO "lib/cvnets/plugins/cvnets-comm-nccl.so"

Test(comm_nccl, one_rank_nonblocking_allreduce_of_device_memory, .timeout = 120) {
    struct stat st;
    if (stat(th_build_path(NCCL_SO), &st) != 0) cr_skip_test("built without CUDA=1 (no %s)", NCCL_SO);
    if (getenv("WORLD_SIZE") || getenv("OMPI_COMM_WORLD_SIZE") || getenv("SLURM_NTASKS") || getenv("PMI_SIZE"))
        cr_skip_test("a launcher's placement is in the environment: a one-rank check would join it");
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *bd = th_load(ctx, "backend", "cuda");
    cv_create_args extra;
    memset(&extra, 0, sizeof extra);
    extra.struct_size = sizeof extra;
    extra.threads = 1;
    extra.world_size = 1;
    cv_error err;
    cv_error_init(&err);
    void *bself = NULL;
    if (th_try_create(ctx, bd, NULL, &extra, &bself, &err) != CV_OK) {
        th_ctx_free(ctx);
        cr_skip_test("%s", err.message);
    }
    ku_backend cuda = { bd->vtable, bself, bd };
    const cv_component_desc *d = th_load(ctx, "comm", "nccl");
    const cv_comm_vtable *vt = d->vtable;
    cr_assert(vt->iallreduce_sum_f32 && vt->test && vt->wait, "the NCCL comm lacks the ABI 1.1 calls");
    void *self = th_create(ctx, d, NULL, &extra);
    ku_rng rng = ku_rng_make(7);
    float *vals = ku_random(&rng, 1000, -1, 1);
    ku_tensor t = ku_make(cuda, CV_F32, CV_SHAPE(1000), vals);
    void *req = NULL;
    cr_assert_eq(vt->iallreduce_sum_f32(self, t.kt.data, 1000, &req, &err), CV_OK, "%s", err.message);
    int done = 0;
    cr_assert_eq(vt->test(self, req, &done, &err), CV_OK, "%s", err.message);
    cr_assert_eq(vt->wait(self, req, &err), CV_OK, "%s", err.message);
    cr_assert_eq(vt->wait(self, NULL, &err), CV_OK, "%s", err.message);
    float got[1000];
    ku_get(cuda, &t, got);
    cr_assert(memcmp(got, vals, sizeof got) == 0, "a one-rank sum changed the buffer");
    float host[4] = { 1, 2, 3, 4 };
    cr_assert_eq(vt->iallreduce_sum_f32(self, host, 4, &req, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "needs device memory"), "%s", err.message);
    cr_assert_null(req);
    free(vals);
    ku_free(cuda, &t);
    th_destroy(d, self);
    ku_backend_close(cuda);
    th_ctx_free(ctx);
}
