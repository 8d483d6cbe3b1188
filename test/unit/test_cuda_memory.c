/* test/unit/test_cuda_memory.c — where the CUDA backend keeps what it derives from
 * operands.  (1) The weight cache (wcache.cu): with precision = bf16 a convolution
 * reads a converted copy of its weight, kept from one kernel to the next until the
 * weight is written.  Every write must reach the next convolution: an upload, a
 * kernel writing the weight, a kernel writing only part of it through a view, and
 * (CUDA graphs) a write between two launches of a recording whose convolutions were
 * recorded while the copy was current.  Each result is compared with the reference
 * backend on the weight's new values by the norm-wise relative error (<= 1e-2, the
 * bf16 bound of test_cuda_bf16.c); a stale copy (the weight is negated and scaled
 * each time) is off by more than 100 %.  (2) Gathered operands (a strided view made
 * dense for a kernel) and a kernel's scratch (loss terms here) live at the start of the
 * workspace prepare() asks for, so they are part of the plan's arena; without that
 * workspace they come from the allocator.
 * Skipped with the reason without a device or without CUDA=1; runs under
 * test/gpu/emulate.sh. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support/cuda_open.h"
#include "support/kernel_util.h"
#include "support/testhost.h"

/* CUDA's libraries keep process-lifetime allocations; not ours to report under LSan */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libcuda\nleak:libcudart\nleak:libcudnn\nleak:libcublas\nleak:_dlerror_run\n";
}

enum { N = 2, C = 8, H = 6, O = 16, K = 3 };
#define NX (N * C * H * H)
#define NW (O * C * K * K)
#define NY (N * O * H * H)

static cv_ctx *ctx;
static ku_backend ref, cuda;
static int have_cuda;
static char no_cuda[CV_ERROR_MESSAGE_MAX + 64];
static const cv_conv_params cp = { { 1, 1, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, 1 };

static void setup(void) {
    ctx = th_ctx_new();
    ref = ku_backend_open(ctx, "ref");
    const char *const kv[] = { "precision=bf16", NULL };
    have_cuda = cu_open(ctx, kv, &cuda, no_cuda, sizeof no_cuda);
}
static void teardown(void) {
    if (have_cuda) ku_backend_close(cuda);
    ku_backend_close(ref);
    th_ctx_free(ctx);
}
TestSuite(cuda_memory, .init = setup, .fini = teardown);

#define NEED_CUDA() do { if (!have_cuda) cr_skip_test("%s", no_cuda); } while (0)

/* ---- one convolution kernel, prepared once, run eagerly or recorded ------------------------------ */
typedef struct conv_k {
    cv_kernel k;
    cv_ktensor in[2], out[1];
} conv_k;

static void conv_k_make(conv_k *c, int op, const ku_tensor *a, const ku_tensor *b, const ku_tensor *y) {
    memset(c, 0, sizeof *c);
    c->in[0] = a->kt;
    c->in[1] = b->kt;
    c->out[0] = y->kt;
    c->k = (cv_kernel){ .struct_size = sizeof(cv_kernel), .op = op, .params = &cp, .params_size = sizeof cp,
                        .n_in = 2, .n_out = 1, .in = c->in, .out = c->out };
    size_t ws = 0;
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cuda.vt->prepare(cuda.self, &c->k, &c->k.prepared, &ws, &err), CV_OK, "%s", err.message);
    c->k.workspace_bytes = ws;
    c->k.workspace = ws ? cuda.vt->alloc(cuda.self, ws) : NULL;
    cr_assert(!ws || c->k.workspace);
}
static void conv_k_run(conv_k *c) {
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cuda.vt->run(cuda.self, &c->k, &err), CV_OK, "%s", err.message);
}
static void conv_k_free(conv_k *c) {
    cuda.vt->release(cuda.self, c->k.prepared);
    cuda.vt->free(cuda.self, c->k.workspace);
}
static void sync_ok(void) {
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cuda.vt->sync(cuda.self, &err), CV_OK, "%s", err.message);
}

/* ---- comparisons with the reference on the weight's current values ------------------------------ */
/* the reference's output of op (CONV2D: a = x; BWD_DATA: a = dy) with weight w */
static float *ref_conv(int op, const float *a, const float *w) {
    ku_tensor ta = ku_make(ref, CV_F32, op == CV_OP_CONV2D ? CV_SHAPE(N, C, H, H) : CV_SHAPE(N, O, H, H), a);
    ku_tensor tw = ku_make(ref, CV_F32, CV_SHAPE(O, C, K, K), w);
    ku_tensor ty = ku_make(ref, CV_F32, op == CV_OP_CONV2D ? CV_SHAPE(N, O, H, H) : CV_SHAPE(N, C, H, H), NULL);
    ku_tensor in[2] = { ta, tw };
    ku_run_ok(ref, op, &cp, sizeof cp, in, 2, &ty, 1, 0);
    float *y = ku_get_new(ref, &ty);
    ku_free(ref, &ta);
    ku_free(ref, &tw);
    ku_free(ref, &ty);
    return y;
}

static void expect_like_ref(const ku_tensor *got_t, int op, const float *a, const float *w, const char *what) {
    float *got = ku_get_new(cuda, got_t), *want = ref_conv(op, a, w);
    const int64_t n = op == CV_OP_CONV2D ? NY : NX;
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
        den += (double)want[i] * want[i];
    }
    const double rel = sqrt(num / (den > 0 ? den : 1));
    cr_expect(rel <= 1e-2, "%s: relative error %.3g against the reference on the current weight (stale copy?)", what,
              rel);
    free(got);
    free(want);
}

/* w := -2 w on the host (a stale copy is then far off) */
static void next_weight(float *w) {
    for (int i = 0; i < NW; i++) w[i] *= -2.0f;
}

/* x, w, dy on the host and the device, y and dx, and the forward and backward-data kernels */
typedef struct pair {
    float *x, *w, *dy;
    ku_tensor tx, tw, tdy, ty, tdx;
    conv_k fwd, bwd;
} pair;

static void pair_open(pair *p, uint64_t seed) {
    ku_rng r = ku_rng_make(seed);
    p->x = ku_random(&r, NX, -1, 1);
    p->w = ku_random(&r, NW, -1, 1);
    p->dy = ku_random(&r, NY, -1, 1);
    p->tx = ku_make(cuda, CV_F32, CV_SHAPE(N, C, H, H), p->x);
    p->tw = ku_make(cuda, CV_F32, CV_SHAPE(O, C, K, K), p->w);
    p->tdy = ku_make(cuda, CV_F32, CV_SHAPE(N, O, H, H), p->dy);
    p->ty = ku_make(cuda, CV_F32, CV_SHAPE(N, O, H, H), NULL);
    p->tdx = ku_make(cuda, CV_F32, CV_SHAPE(N, C, H, H), NULL);
    conv_k_make(&p->fwd, CV_OP_CONV2D, &p->tx, &p->tw, &p->ty);
    conv_k_make(&p->bwd, CV_OP_CONV2D_BWD_DATA, &p->tdy, &p->tw, &p->tdx);
}

static void pair_close(pair *p) {
    conv_k_free(&p->fwd);
    conv_k_free(&p->bwd);
    ku_tensor *all[] = { &p->tx, &p->tw, &p->tdy, &p->ty, &p->tdx };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ku_free(cuda, all[i]);
    free(p->x);
    free(p->w);
    free(p->dy);
}

/* the device weight := host values w, by a COPY kernel from another tensor */
static void copy_into(ku_tensor *dst, cv_shape shape, const float *w) {
    ku_tensor src = ku_make(cuda, CV_F32, shape, w);
    ku_run_ok(cuda, CV_OP_COPY, NULL, 0, &src, 1, dst, 1, 0);
    ku_free(cuda, &src);
}

Test(cuda_memory, every_write_of_the_weight_reaches_the_next_convolution) {
    NEED_CUDA();
    pair p;
    pair_open(&p, 20261129);
    conv_k_run(&p.fwd); /* converts w */
    conv_k_run(&p.bwd); /* reads the same copy */
    expect_like_ref(&p.ty, CV_OP_CONV2D, p.x, p.w, "first forward");
    expect_like_ref(&p.tdx, CV_OP_CONV2D_BWD_DATA, p.dy, p.w, "backward-data after the forward");

    next_weight(p.w); /* by upload */
    ku_set(cuda, &p.tw, p.w);
    conv_k_run(&p.bwd);
    conv_k_run(&p.fwd);
    expect_like_ref(&p.tdx, CV_OP_CONV2D_BWD_DATA, p.dy, p.w, "after an upload");
    expect_like_ref(&p.ty, CV_OP_CONV2D, p.x, p.w, "forward after an upload");

    next_weight(p.w); /* by a kernel */
    copy_into(&p.tw, CV_SHAPE(O, C, K, K), p.w);
    conv_k_run(&p.fwd);
    expect_like_ref(&p.ty, CV_OP_CONV2D, p.x, p.w, "after a COPY into the weight");

    /* only the last output channel, through a view of the weight's memory */
    const int64_t at = (O - 1) * C * K * K;
    for (int64_t i = at; i < NW; i++) p.w[i] = 3.0f * (float)(i % 7) - 9.0f;
    ku_tensor tail = ku_view(&p.tw, 4, (int64_t[]){ 1, C, K, K }, (int64_t[]){ C * K * K, K * K, K, 1 }, at);
    copy_into(&tail, CV_SHAPE(1, C, K, K), p.w + at);
    conv_k_run(&p.fwd);
    expect_like_ref(&p.ty, CV_OP_CONV2D, p.x, p.w, "after a COPY into part of the weight");
    pair_close(&p);
}

/* A recording starts with no copy current, whatever came before: its forward converts
 * and its backward-data reads that copy, so launches after a write see the new weight. */
Test(cuda_memory, a_recording_converts_the_weight_it_reads) {
    NEED_CUDA();
    pair p;
    pair_open(&p, 20261130);
    conv_k_run(&p.fwd); /* the copy is current when the recording starts */
    sync_ok();
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cuda.vt->graph_begin(cuda.self, &err), CV_OK, "%s", err.message);
    conv_k_run(&p.fwd);
    conv_k_run(&p.bwd);
    void *graph = NULL;
    cr_assert_eq(cuda.vt->graph_end(cuda.self, &graph, &err), CV_OK, "%s", err.message);
    for (int launch = 0; launch < 3; launch++) {
        next_weight(p.w);
        if (launch == 1) copy_into(&p.tw, CV_SHAPE(O, C, K, K), p.w); /* a kernel write instead of an upload */
        else ku_set(cuda, &p.tw, p.w);
        if (launch == 2) conv_k_run(&p.fwd); /* eager use between launches makes the copy current again */
        cr_assert_eq(cuda.vt->graph_launch(cuda.self, graph, &err), CV_OK, "%s", err.message);
        sync_ok();
        expect_like_ref(&p.ty, CV_OP_CONV2D, p.x, p.w, launch == 2 ? "recorded forward, eager use before" : "recorded forward");
        expect_like_ref(&p.tdx, CV_OP_CONV2D_BWD_DATA, p.dy, p.w, "recorded backward-data");
    }
    cuda.vt->graph_release(cuda.self, graph);
    pair_close(&p);
}

/* ---- gathered operands ---------------------------------------------------------------------- */
/* RELU of the transpose of an [8,6] tensor: its input is a strided view, gathered */
Test(cuda_memory, gathered_operands_use_the_workspace_prepare_reserves) {
    NEED_CUDA();
    enum { R = 8, S = 6 };
    ku_rng rng = ku_rng_make(20261131);
    float *v = ku_random(&rng, R * S, -1, 1), want[R * S], got[R * S];
    ku_tensor base = ku_make(cuda, CV_F32, CV_SHAPE(R, S), v), y = ku_make(cuda, CV_F32, CV_SHAPE(S, R), NULL);
    ku_tensor xt = ku_view(&base, 2, (int64_t[]){ S, R }, (int64_t[]){ 1, S }, 0);
    for (int i = 0; i < S; i++)
        for (int j = 0; j < R; j++) want[i * R + j] = v[j * S + i] > 0 ? v[j * S + i] : 0;
    cv_unary_params up = { CV_RELU, 0 };
    cv_kernel k = { .struct_size = sizeof k, .op = CV_OP_UNARY, .params = &up, .params_size = sizeof up, .n_in = 1,
                    .n_out = 1, .in = &xt.kt, .out = &y.kt };
    cv_error err;
    cv_error_init(&err);
    size_t ws = 0;
    cr_assert_eq(cuda.vt->prepare(cuda.self, &k, &k.prepared, &ws, &err), CV_OK, "%s", err.message);
    cr_expect_geq(ws, sizeof(float) * R * S, "prepare asked for %zu bytes, the gathered input needs %zu", ws,
                  sizeof(float) * R * S);
    for (int with_ws = 1; with_ws >= 0; with_ws--) {
        k.workspace = with_ws ? cuda.vt->alloc(cuda.self, ws) : NULL;
        k.workspace_bytes = with_ws ? ws : 0;
        cr_assert_eq(cuda.vt->run(cuda.self, &k, &err), CV_OK, "%s", err.message);
        sync_ok();
        ku_get(cuda, &y, got);
        ku_assert_close(got, want, R * S, 0, 0, with_ws ? "relu of the gathered view" : "without a workspace");
        if (with_ws) { /* the dense copy of the view is what the workspace's start holds */
            float dense[R * S];
            cr_assert_eq(cuda.vt->download(cuda.self, dense, k.workspace, sizeof dense, &err), CV_OK, "%s", err.message);
            for (int i = 0; i < S; i++)
                for (int j = 0; j < R; j++)
                    cr_assert_eq(dense[i * R + j], v[j * S + i], "workspace element %d,%d is not the gathered input", i, j);
            cuda.vt->free(cuda.self, k.workspace);
        }
    }
    if (k.prepared) cuda.vt->release(cuda.self, k.prepared);
    ku_free(cuda, &base);
    ku_free(cuda, &y);
    free(v);
}

/* cross entropy's per-position terms (two doubles each) are scratch reserved by prepare() */
Test(cuda_memory, loss_terms_are_reserved_by_prepare) {
    NEED_CUDA();
    enum { B = 4, CL = 5, P = 7 };
    cv_ktensor logits = { CV_F32, 3, { B, CL, P }, { CL * P, P, 1 }, NULL };
    cv_ktensor target = { CV_I32, 2, { B, P }, { P, 1 }, NULL };
    cv_ktensor loss = { CV_F32, 1, { 1 }, { 1 }, NULL };
    cv_ktensor in[2] = { logits, target };
    cv_ce_params cp_ = { 0.0f, -100 };
    cv_kernel k = { .struct_size = sizeof k, .op = CV_OP_CROSS_ENTROPY, .params = &cp_, .params_size = sizeof cp_,
                    .n_in = 2, .n_out = 1, .in = in, .out = &loss };
    cv_error err;
    cv_error_init(&err);
    size_t ws = 0;
    void *prep = NULL;
    cr_assert_eq(cuda.vt->prepare(cuda.self, &k, &prep, &ws, &err), CV_OK, "%s", err.message);
    cr_expect_geq(ws, 2 * sizeof(double) * B * P, "prepare asked for %zu bytes, the loss terms need %zu", ws,
                  2 * sizeof(double) * B * P);
    if (prep) cuda.vt->release(cuda.self, prep);
}
