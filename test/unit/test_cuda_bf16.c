/* test/unit/test_cuda_bf16.c — the CUDA backend's 16-bit compute (`[run] precision =
 * bf16 | fp16`, the backend option `precision`): convolutions (forward, backward-data,
 * backward-weights) and matmul / linear read bf16 or f16 copies of their f32 inputs,
 * accumulate in f32 and leave f32 outputs.  Each case runs on the reference backend
 * and on two CUDA instances, bf16 (with deterministic = true) and fp16, with the same
 * fresh random inputs, and compares output 0 by the norm-wise relative error
 * ||got - want|| / ||want||: at most 1e-2 (issue 7's bf16 bound) and above 1e-6 (an
 * fp32-exact result means the 16-bit path never ran), and fp16's (11-bit mantissa)
 * below bf16's (8-bit), which tells the two types apart.  CUDA outputs start as NaN,
 * so an element left unwritten fails.  prepare() must ask for workspace holding the
 * 16-bit copies.  Skipped with the reason without a device or without CUDA=1; under
 * test/gpu/emulate.sh the emulated cuDNN / cuBLAS read and write the 16-bit types
 * (converting on load, rounding on store), so all of this runs there too. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
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

enum { BF16, FP16, N_PREC };
static const char *const prec_name[N_PREC] = { "bf16", "fp16" };

static cv_ctx *ctx;
static ku_backend ref, half[N_PREC];
static int n_open;
static ku_rng rng;
static char no_cuda[CV_ERROR_MESSAGE_MAX + 64];

/* the two 16-bit instances, or n_open < N_PREC and the reason in no_cuda */
static void setup(void) {
    ctx = th_ctx_new();
    ref = ku_backend_open(ctx, "ref");
    rng = ku_rng_make(20261128);
    const char *const *kv[N_PREC] = { (const char *const[]){ "precision=bf16", "deterministic=true", NULL },
                                      (const char *const[]){ "precision=fp16", NULL } };
    for (n_open = 0; n_open < N_PREC; n_open++)
        if (!cu_open(ctx, kv[n_open], &half[n_open], no_cuda, sizeof no_cuda)) return;
}
static void teardown(void) {
    for (int i = 0; i < n_open; i++) ku_backend_close(half[i]);
    ku_backend_close(ref);
    th_ctx_free(ctx);
}
TestSuite(cuda_half, .init = setup, .fini = teardown);

#define NEED_CUDA() do { if (n_open < N_PREC) cr_skip_test("%s", no_cuda); } while (0)

/* without a device too: the option is declared, and the host refuses other values */
Test(cuda_half, precision_option_declared) {
    if (!cu_built(CUDA_SO)) cr_skip_test("built without CUDA=1 (no %s)", CUDA_SO);
    const cv_component_desc *d = th_load(ctx, "backend", "cuda");
    const cv_option_desc *o = d->options;
    while (o->key && strcmp(o->key, "precision") != 0) o++;
    cr_assert(o->key, "the CUDA backend declares no option 'precision'");
    cr_expect_eq(o->type, CV_OPT_ENUM);
    cr_expect_str_eq(o->default_value, "fp32");
    cr_assert(o->choices && o->choices[0] && o->choices[1] && o->choices[2] && !o->choices[3], "three choices");
    cr_expect(!strcmp(o->choices[0], "fp32") && !strcmp(o->choices[1], "bf16") && !strcmp(o->choices[2], "fp16"),
              "choices fp32, bf16, fp16");
    cr_expect(strstr(o->help, "[run] precision") != NULL, "the help says the host sets it: %s", o->help);
    cv_create_args extra;
    memset(&extra, 0, sizeof extra);
    extra.struct_size = sizeof extra;
    cv_error err = { sizeof err, 0, "" };
    void *self = NULL;
    int st = th_try_create(ctx, d, (const char *const[]){ "precision=fp8", NULL }, &extra, &self, &err);
    cr_expect(st == CV_ERR_INVALID && strstr(err.message, "fp8"), "precision=fp8 refused by name, got %d: %s", st,
              err.message);
}

/* the workspace prepare() asks for */
static size_t workspace_of(ku_backend be, int op, const void *p, size_t ps, const cv_shape *in, int n_in, cv_shape out) {
    cv_ktensor kin[3], kout;
    for (int i = 0; i < n_in; i++) kin[i] = (cv_ktensor){ .dtype = CV_F32, .ndim = in[i].ndim };
    kout = (cv_ktensor){ .dtype = CV_F32, .ndim = out.ndim };
    for (int i = 0; i < n_in; i++) memcpy(kin[i].shape, in[i].dim, sizeof in[i].dim);
    memcpy(kout.shape, out.dim, sizeof out.dim);
    cv_kernel k = { .struct_size = sizeof k, .op = op, .params = p, .params_size = (uint32_t)ps, .n_in = n_in,
                    .n_out = 1, .in = kin, .out = &kout };
    void *prepared = NULL;
    size_t ws = 0;
    cv_error err = { sizeof err, 0, "" };
    cr_assert(be.vt->prepare(be.self, &k, &prepared, &ws, &err) == CV_OK, "prepare: %s", err.message);
    if (prepared) be.vt->release(be.self, prepared);
    return ws;
}

/* op on ref and on both 16-bit instances with the same random inputs; input 0 of the CUDA
 * runs is a view one element into its allocation when `unaligned` (the casts' scalar path) */
static void compare(const char *name, int op, const void *p, size_t ps, const cv_shape *in, int n_in, cv_shape out,
                    int unaligned) {
    NEED_CUDA();
    float *v[3];
    for (int i = 0; i < n_in; i++) v[i] = ku_random(&rng, cv_shape_numel(&in[i]), -2, 2);
    int64_t n = cv_shape_numel(&out);
    float *nan = malloc((size_t)n * sizeof(float)), *res[1 + N_PREC] = { 0 }; /* ref, bf16, fp16 */
    cr_assert(nan);
    for (int64_t j = 0; j < n; j++) nan[j] = NAN;
    ku_tensor ti[3], to;
    for (int b = -1; b < N_PREC; b++) {
        ku_backend be = b < 0 ? ref : half[b];
        ku_tensor base = { 0 };
        for (int i = 0; i < n_in; i++) ti[i] = ku_make(be, CV_F32, in[i], v[i]);
        if (b >= 0 && unaligned) {
            int64_t n0 = cv_shape_numel(&in[0]), stride[CV_MAX_DIMS], s = 1;
            float *padded = calloc((size_t)n0 + 1, sizeof(float));
            cr_assert(padded);
            memcpy(padded + 1, v[0], (size_t)n0 * sizeof(float));
            base = ku_make(be, CV_F32, CV_SHAPE(n0 + 1), padded);
            free(padded);
            for (int d = in[0].ndim - 1; d >= 0; d--) { stride[d] = s; s *= in[0].dim[d]; }
            ku_free(be, &ti[0]);
            ti[0] = ku_view(&base, in[0].ndim, in[0].dim, stride, 1);
        }
        to = ku_make(be, CV_F32, out, b < 0 ? NULL : nan);
        ku_run_ok(be, op, p, ps, ti, n_in, &to, 1, 0);
        res[b + 1] = ku_get_new(be, &to);
        for (int i = 0; i < n_in; i++) ku_free(be, &ti[i]);
        ku_free(be, &base);
        ku_free(be, &to);
    }
    double rel[N_PREC];
    const float *want = res[0];
    for (int b = 0; b < N_PREC; b++) {
        char what[128];
        snprintf(what, sizeof what, "%s %s", name, prec_name[b]);
        rel[b] = ku_rel_err(what, res[b + 1], want, n);
        cr_log_info("%s %s: relative error %.3g", name, prec_name[b], rel[b]); /* kept in test/gpu/run.sh's log */
        cr_expect(rel[b] <= 1e-2, "%s %s: relative error %.3g above the bound 1e-2", name, prec_name[b], rel[b]);
        cr_expect(rel[b] > 1e-6, "%s %s: relative error %.3g: fp32-exact, the 16-bit path did not run", name,
                  prec_name[b], rel[b]);
    }
    cr_expect(rel[FP16] < rel[BF16], "%s: fp16's error %.3g is not below bf16's %.3g: wrong 16-bit type", name, rel[FP16],
              rel[BF16]);
    /* the 16-bit copies of both inputs (and of a convolution's result) live in the workspace,
     * except the weight a convolution reads (forward, backward-data): the weight cache keeps it */
    const int conv_reads_w = op == CV_OP_CONV2D || op == CV_OP_CONV2D_BWD_DATA;
    size_t need = 2 * (size_t)(cv_shape_numel(&in[0]) + (conv_reads_w ? 0 : cv_shape_numel(&in[1])));
    if (op != CV_OP_MATMUL && op != CV_OP_LINEAR) need += 2 * (size_t)n;
    for (int b = 0; b < N_PREC; b++) {
        size_t ws = workspace_of(half[b], op, p, ps, in, n_in, out);
        cr_expect(ws >= need, "%s %s: prepare asked for %zu bytes of workspace, the 16-bit copies need %zu", name,
                  prec_name[b], ws, need);
    }
    for (int i = 0; i < n_in; i++) free(v[i]);
    for (int b = 0; b <= N_PREC; b++) free(res[b]);
    free(nan);
}

static void conv_all(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int k, int s, int pad, int g, int bias,
                     int unaligned) {
    cv_conv_params p = { { s, s, 1 }, { pad, pad, 0 }, { 1, 1, 1 }, g };
    int64_t Ho = (H + 2 * pad - k) / s + 1, Wo = (W + 2 * pad - k) / s + 1;
    cv_shape x = CV_SHAPE(N, C, H, W), w = CV_SHAPE(O, C / g, k, k), y = CV_SHAPE(N, O, Ho, Wo), b = CV_SHAPE(O);
    compare("conv2d", CV_OP_CONV2D, &p, sizeof p, (cv_shape[]){ x, w, b }, bias ? 3 : 2, y, unaligned);
    compare("conv2d_bwd_data", CV_OP_CONV2D_BWD_DATA, &p, sizeof p, (cv_shape[]){ y, w }, 2, x, unaligned);
    compare("conv2d_bwd_weight", CV_OP_CONV2D_BWD_WEIGHT, &p, sizeof p, (cv_shape[]){ y, x }, 2, w, unaligned);
}

Test(cuda_half, conv_3x3_resnet_layer) { conv_all(4, 16, 10, 10, 16, 3, 1, 1, 1, 1, 0); }
Test(cuda_half, conv_1x1_and_stride2) {
    conv_all(2, 32, 8, 8, 16, 1, 1, 0, 1, 0, 0);
    conv_all(2, 8, 15, 15, 16, 3, 2, 1, 1, 0, 0);
}
/* odd element counts (the casts' tail) and an input one element off alignment (scalar casts) */
Test(cuda_half, conv_odd_sizes_unaligned) {
    conv_all(2, 3, 17, 17, 8, 7, 2, 3, 1, 1, 1);
    conv_all(3, 5, 9, 9, 7, 3, 1, 1, 1, 0, 1);
}
Test(cuda_half, conv_depthwise) { conv_all(2, 16, 10, 10, 16, 3, 1, 1, 16, 0, 0); }

Test(cuda_half, linear_and_matmul) {
    compare("linear", CV_OP_LINEAR, NULL, 0, (cv_shape[]){ CV_SHAPE(16, 96), CV_SHAPE(40, 96), CV_SHAPE(40) }, 3,
            CV_SHAPE(16, 40), 0);
    compare("linear bias, odd rows, unaligned", CV_OP_LINEAR, NULL, 0,
            (cv_shape[]){ CV_SHAPE(7, 40), CV_SHAPE(12, 40), CV_SHAPE(12) }, 3, CV_SHAPE(7, 12), 1);
    compare("linear 3d, unaligned", CV_OP_LINEAR, NULL, 0, (cv_shape[]){ CV_SHAPE(2, 7, 33), CV_SHAPE(9, 33) }, 2,
            CV_SHAPE(2, 7, 9), 1);
    cv_matmul_params nt = { 0, 1 }, tn = { 1, 0 }, nn = { 0, 0 };
    compare("matmul trans_b", CV_OP_MATMUL, &nt, sizeof nt, (cv_shape[]){ CV_SHAPE(3, 20, 48), CV_SHAPE(3, 24, 48) }, 2,
            CV_SHAPE(3, 20, 24), 0);
    compare("matmul trans_a", CV_OP_MATMUL, &tn, sizeof tn, (cv_shape[]){ CV_SHAPE(2, 33, 9), CV_SHAPE(2, 33, 11) }, 2,
            CV_SHAPE(2, 9, 11), 1);
    /* b shared by every batch (stride 0) */
    compare("matmul broadcast 2d b", CV_OP_MATMUL, &nn, sizeof nn, (cv_shape[]){ CV_SHAPE(2, 3, 5, 40), CV_SHAPE(40, 6) },
            2, CV_SHAPE(2, 3, 5, 6), 0);
}

/* a partly broadcast operand is expanded straight into its 16-bit copy */
Test(cuda_half, matmul_partial_broadcast) {
    cv_matmul_params nn = { 0, 0 };
    compare("matmul broadcast batch", CV_OP_MATMUL, &nn, sizeof nn, (cv_shape[]){ CV_SHAPE(3, 1, 5, 37), CV_SHAPE(4, 37, 6) },
            2, CV_SHAPE(3, 4, 5, 6), 0);
}

/* deterministic = true (the bf16 instance): convolution gradients and matmul repeat bit for bit */
Test(cuda_half, deterministic_repeats_bitwise) {
    NEED_CUDA();
    ku_backend be = half[BF16];
    cv_conv_params p = { { 1, 1, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, 1 };
    cv_matmul_params mp = { 0, 1 };
    struct { int op; const void *p; size_t ps; cv_shape in[2], out; } c[] = {
        { CV_OP_CONV2D_BWD_WEIGHT, &p, sizeof p, { CV_SHAPE(4, 32, 12, 12), CV_SHAPE(4, 16, 12, 12) }, CV_SHAPE(32, 16, 3, 3) },
        { CV_OP_CONV2D_BWD_DATA, &p, sizeof p, { CV_SHAPE(4, 32, 12, 12), CV_SHAPE(32, 16, 3, 3) }, CV_SHAPE(4, 16, 12, 12) },
        { CV_OP_MATMUL, &mp, sizeof mp, { CV_SHAPE(2, 64, 96), CV_SHAPE(2, 48, 96) }, CV_SHAPE(2, 64, 48) },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        ku_tensor in[2], out = ku_make(be, CV_F32, c[i].out, NULL);
        for (int j = 0; j < 2; j++) {
            float *v = ku_random(&rng, cv_shape_numel(&c[i].in[j]), -1, 1);
            in[j] = ku_make(be, CV_F32, c[i].in[j], v);
            free(v);
        }
        size_t bytes = sizeof(float) * (size_t)cv_shape_numel(&c[i].out);
        float *first = NULL;
        for (int rep = 0; rep < 3; rep++) {
            ku_run_ok(be, c[i].op, c[i].p, c[i].ps, in, 2, &out, 1, 0);
            float *got = ku_get_new(be, &out);
            if (!first) first = got;
            else {
                cr_expect(memcmp(first, got, bytes) == 0, "op %d: repeat %d differs", c[i].op, rep);
                free(got);
            }
        }
        free(first);
        ku_free(be, &in[0]);
        ku_free(be, &in[1]);
        ku_free(be, &out);
    }
}
