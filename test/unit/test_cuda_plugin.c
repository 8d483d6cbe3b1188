/* test/unit/test_cuda_plugin.c — the CUDA backend and the NCCL comm as plugins.
 *
 * Without a device (CI): both load through the real host, register, export the
 * C ABI, and create() fails with a message a person can act on ("no CUDA device:
 * cudaGetDeviceCount returned ...") — this is what proves that `make CUDA=1`
 * links.  With a device: the deterministic option repeats bit for bit, and a
 * one-rank NCCL communicator runs allreduce, broadcast and barrier.  Skipped with
 * the reason when the plugins were not built (no CUDA=1). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/cuda_open.h"
#include "support/kernel_util.h"
#include "support/testhost.h"

#define NCCL_SO "lib/cvnets/plugins/cvnets-comm-nccl.so"

/* CUDA's libraries keep process-lifetime allocations; not ours to report under LSan */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libcuda\nleak:libcudart\nleak:libcudnn\nleak:libcublas\nleak:libnccl\nleak:_dlerror_run\n";
}

static cu_fixture fx; /* ctx, ref, cuda (when have_cuda), rng */

static void setup(void) { cu_fixture_open(&fx); }
static void teardown(void) { cu_fixture_close(&fx); }
TestSuite(cuda_plugin, .init = setup, .fini = teardown);

/* every comparison needs a device: skipped (not passed) without one */
#define NEED_CUDA() do { if (!fx.have_cuda) cr_skip_test("%s", fx.no_cuda); } while (0)
/* ---- without a device: load, register, clear failure --------------------------------------------- */
Test(cuda_plugin, loads_registers_and_explains_a_missing_device) {
    if (!cu_built(CUDA_SO)) cr_skip_test("built without CUDA=1 (no %s)", CUDA_SO);
    const cv_component_desc *d = th_load(fx.ctx, "backend", "cuda");
    cr_assert_str_eq(d->name, "cuda");
    cr_assert_eq(d->kind, CV_KIND_BACKEND);
    const cv_backend_vtable *vt = d->vtable;
    cr_assert(vt && vt->struct_size >= sizeof *vt, "vtable");
    cr_expect_eq(vt->host_accessible, 0, "device memory is not host memory");
    cr_expect(vt->supports(NULL, CV_OP_CONV2D, CV_F32) && vt->supports(NULL, CV_OP_COPY, CV_I32) &&
                  !vt->supports(NULL, CV_OP_CONV2D, CV_I32) && !vt->supports(NULL, CV_OP_CONV3D, CV_F32),
              "supports() follows the reference's dtype rules");
    cv_create_args extra;
    memset(&extra, 0, sizeof extra);
    extra.struct_size = sizeof extra;
    cv_error err = { sizeof err, 0, "" };
    void *self = NULL;
    int st = th_try_create(fx.ctx, d, NULL, &extra, &self, &err);
    if (st == CV_OK) { /* a machine with a GPU: creation works; the comparisons above test the rest */
        th_destroy(d, self);
        return;
    }
    cr_expect_eq(st, CV_ERR_UNSUPPORTED, "status %d: %s", st, err.message);
    cr_expect(strstr(err.message, "no CUDA device: cudaGetDeviceCount returned") != NULL,
              "create() without a device names the cause: %s", err.message);
}

Test(cuda_plugin, nccl_comm_loads_and_explains_a_missing_device) {
    if (!cu_built(NCCL_SO)) cr_skip_test("built without CUDA=1 (no %s)", NCCL_SO);
    const cv_component_desc *d = th_load(fx.ctx, "comm", "nccl");
    cr_assert_str_eq(d->name, "nccl");
    const cv_comm_vtable *vt = d->vtable;
    cr_assert(vt && vt->struct_size >= sizeof *vt);
    cr_expect_eq(vt->device_buffers, 1, "NCCL reduces device buffers");
    if (fx.have_cuda) cr_skip_test("a device is present: the NCCL collectives are exercised by test/gpu/run.sh");
    cv_create_args extra;
    memset(&extra, 0, sizeof extra);
    extra.struct_size = sizeof extra;
    extra.world_size = 1;
    cv_error err = { sizeof err, 0, "" };
    void *self = NULL;
    int st = th_try_create(fx.ctx, d, NULL, &extra, &self, &err);
    cr_expect(st != CV_OK, "create() without a device must fail");
    cr_expect(strstr(err.message, "no CUDA device") != NULL, "the message names the cause: %s", err.message);
}

/* ---- with a device: determinism and a one-rank NCCL communicator ------------------------------------ */
static ku_backend open_cuda(const char *const *kv) {
    ku_backend be;
    char why[CV_ERROR_MESSAGE_MAX + 64];
    cr_assert(cu_open(fx.ctx, kv, &be, why, sizeof why), "%s", why);
    return be;
}

/* deterministic = true: the same convolution gradients and batch norm, bit for bit, on every run */
Test(cuda_plugin, deterministic_option_repeats_bitwise) {
    NEED_CUDA();
    const char *const kv[] = { "deterministic=true", "batch_norm=own", NULL };
    ku_backend be = open_cuda(kv);
    cv_conv_params p = { { 1, 1, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, 1 };
    float *xs = ku_random(&fx.rng, 4 * 16 * 12 * 12, -1, 1), *dys = ku_random(&fx.rng, 4 * 32 * 12 * 12, -1, 1);
    ku_tensor x = ku_make(be, CV_F32, CV_SHAPE(4, 16, 12, 12), xs), dy = ku_make(be, CV_F32, CV_SHAPE(4, 32, 12, 12), dys);
    ku_tensor dw = ku_make(be, CV_F32, CV_SHAPE(32, 16, 3, 3), NULL), in[2] = { dy, x };
    float *first = NULL;
    for (int rep = 0; rep < 3; rep++) {
        ku_run_ok(be, CV_OP_CONV2D_BWD_WEIGHT, &p, sizeof p, in, 2, &dw, 1, 0);
        float *got = ku_get_new(be, &dw);
        if (!first) first = got;
        else {
            cr_expect(memcmp(first, got, sizeof(float) * 32 * 16 * 9) == 0, "repeat %d differs", rep);
            free(got);
        }
    }
    free(first);
    free(xs);
    free(dys);
    ku_free(be, &x); ku_free(be, &dy); ku_free(be, &dw);
    ku_backend_close(be);
}

Test(cuda_plugin, nccl_one_rank_collectives) {
    NEED_CUDA();
    if (!cu_built(NCCL_SO)) cr_skip_test("built without CUDA=1 (no %s)", NCCL_SO);
    if (getenv("WORLD_SIZE") || getenv("OMPI_COMM_WORLD_SIZE") || getenv("SLURM_NTASKS") || getenv("PMI_SIZE"))
        cr_skip_test("a launcher's placement is in the environment: a one-rank check would join it");
    const cv_component_desc *d = th_load(fx.ctx, "comm", "nccl");
    const cv_comm_vtable *vt = d->vtable;
    cv_create_args extra;
    memset(&extra, 0, sizeof extra);
    extra.struct_size = sizeof extra;
    extra.world_size = 1;
    void *self = th_create(fx.ctx, d, NULL, &extra);
    cr_expect_eq(vt->rank(self), 0);
    cr_expect_eq(vt->world_size(self), 1);
    static const float vals[5] = { 1, -2, 3.5f, 0, 7 };
    ku_tensor t = ku_make(fx.cuda, CV_F32, CV_SHAPE(5), vals);
    cv_error err = { sizeof err, 0, "" };
    cr_expect_eq(vt->allreduce_sum_f32(self, t.kt.data, 5, &err), CV_OK, "%s", err.message);
    cr_expect_eq(vt->broadcast(self, t.kt.data, 5 * sizeof(float), 0, &err), CV_OK, "%s", err.message);
    cr_expect_eq(vt->barrier(self, &err), CV_OK, "%s", err.message);
    float got[5];
    ku_get(fx.cuda, &t, got);
    ku_assert_close(got, vals, 5, 0, 0, "one-rank allreduce / broadcast leave the buffer as it was");
    cr_expect(vt->broadcast(self, t.kt.data, 4, 3, &err) != CV_OK, "root 3 of 1 rank must be refused");
    ku_free(fx.cuda, &t);
    th_destroy(d, self);
}
