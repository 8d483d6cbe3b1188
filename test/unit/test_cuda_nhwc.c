/* test/unit/test_cuda_nhwc.c — the CUDA backend's channels-last layout between
 * kernels (ABI 1.3: blocked_layout = CV_LAYOUT_NHWC; backend option layout =
 * nhwc, the default): the engine's layout pass with the backend's layout_class
 * gives NHWC on conv -> bn -> relu chains (C = 24 too: NHWC has no C % 16 rule)
 * and plain where test_layout.c's C16 plans are plain (a view, a graph output,
 * a broadcast multiply, a concat); those plans against the reference backend
 * (loss, logits, every gradient and the running statistics, train and eval,
 * global pool by REDUCE and by adaptive pooling); SGD steps and random graphs
 * against the same backend with CVNETS_LAYOUT=plain; and the backend's errors
 * for layouts it does not take (C16, an unknown value, NHWC on a plain-only op
 * or mixed on a uniform one), naming the op and the operand.  With precision =
 * bf16 / fp16 (ABI 1.4) the NHWC values are stored in 16 bits: the plan, a
 * training step against f32 storage and the reference (also with batch_norm =
 * cudnn, and with cuDNN refusing NHWC convolutions), and SGD steps.  The model, the
 * checks and their bounds are test_layout.c's (test/support/layout_net.h).
 * Without a GPU these run under test/gpu/emulate.sh; a build without a CUDA
 * backend, or a machine without a device, skips with the reason. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "support/cuda_open.h"
#include "support/layout_net.h"
#include "support/zoo_run.h"

/* CUDA's libraries keep process-lifetime allocations; not ours to report under LSan */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libcuda\nleak:libcudart\nleak:libcudnn\nleak:libcublas\nleak:libnccl\nleak:_dlerror_run\n";
}

static cu_fixture fx; /* ctx, ref, cuda (when have_cuda) */
static void setup(void) { cu_fixture_open(&fx); }
static void teardown(void) { cu_fixture_close(&fx); }
TestSuite(cuda_nhwc, .init = setup, .fini = teardown);

/* every test needs a CUDA backend: skipped (not passed) without one */
#define NEED_CUDA() do { if (!fx.have_cuda) cr_skip_test("%s", fx.no_cuda); } while (0)

static const ln_target cuda = { "cuda", CV_LAYOUT_NHWC, NULL, NULL };
/* cuDNN's batch norm in training instead of ours (the GPU default; the emulation's default is
 * batch_norm = own, so that bn_nhwc.cu runs in the tests above) */
static const char *const cudnn_bn[] = { "batch_norm=cudnn", NULL };
static const ln_target cuda_cudnn_bn = { "cuda", CV_LAYOUT_NHWC, NULL, cudnn_bn };

/* ---- the layout pass ------------------------------------------------------------------------- */
Test(cuda_nhwc, conv_bn_relu_chains_are_nhwc_incl_24_channels) {
    NEED_CUDA();
    cr_assert_eq(fx.cuda.vt->blocked_layout, CV_LAYOUT_NHWC);
    ln_expect_blocked_chains(cuda, (const int[]){ V_RESNET, V_C24 }, 2);
}

Test(cuda_nhwc, views_outputs_broadcasts_and_concats_stay_plain) {
    NEED_CUDA();
    ln_expect_plain_tails(cuda, (const int[]){ V_VIEW, V_OUTPUT, V_BCAST, V_CONCAT }, 4);
}

/* ---- NHWC against the reference backend, and against CVNETS_LAYOUT=plain -------------------------- */
Test(cuda_nhwc, matches_ref_reduce_pool) {
    NEED_CUDA();
    ln_compare_with_ref(cuda, 0, 4, 12);
}

Test(cuda_nhwc, matches_ref_adaptive_pool) {
    NEED_CUDA();
    ln_compare_with_ref(cuda, 1, 4, 10);
}

Test(cuda_nhwc, matches_ref_with_cudnn_batch_norm) {
    NEED_CUDA();
    ln_compare_with_ref(cuda_cudnn_bn, 0, 4, 12);
    ln_compare_with_ref(cuda_cudnn_bn, 1, 4, 10);
}

/* cuDNN without NHWC kernels for these convolutions (the emulated cuDNN with CVNETS_EMU_DNN_NO_NHWC
 * set; a real GPU ignores it): the activations stay NHWC between kernels, each convolution is
 * computed in NCHW through transposing compute copies */
Test(cuda_nhwc, matches_ref_when_cudnn_refuses_nhwc_convolutions) {
    NEED_CUDA();
    setenv("CVNETS_EMU_DNN_NO_NHWC", "1", 1);
    ln_compare_with_ref(cuda, 0, 4, 12);
    unsetenv("CVNETS_EMU_DNN_NO_NHWC");
}

Test(cuda_nhwc, sgd_steps_match_the_plain_layout) {
    NEED_CUDA();
    ln_expect_sgd_steps_match_plain(cuda, 5);
}

Test(cuda_nhwc, random_graphs_match_the_plain_layout) {
    NEED_CUDA();
    /* 24 graphs (the CPU test's 32 take ~25 s under the emulation); 6 of them have NHWC values */
    const int blocked = ln_random_graphs(cuda, 24);
    cr_expect_geq(blocked, 4, "random graphs with NHWC values: %d of 24", blocked);
}

/* ---- activations stored in 16 bits (ABI 1.4: precision = bf16 / fp16) -------------------------------- */
static const char *const bf16_opts[] = { "precision=bf16", NULL }, *const fp16_opts[] = { "precision=fp16", NULL };
static const char *const bf16_cudnn_bn[] = { "precision=bf16", "batch_norm=cudnn", NULL };
static const ln_target cuda_bf16 = { "cuda", CV_LAYOUT_NHWC, NULL, bf16_opts };
static const ln_target cuda_fp16 = { "cuda", CV_LAYOUT_NHWC, NULL, fp16_opts };
static const ln_target ref = { "ref", CV_LAYOUT_PLAIN, NULL, NULL };

Test(cuda_nhwc, bf16_and_fp16_store_the_blocks_in_16_bits) {
    NEED_CUDA();
    ln_expect_half_storage(cuda_bf16, CV_BF16);
    ln_expect_half_storage(cuda_fp16, CV_F16);
    ln_expect_half_storage((ln_target){ "cuda", CV_LAYOUT_NHWC, NULL, bf16_cudnn_bn }, CV_BF16);
}

Test(cuda_nhwc, a_bf16_step_stays_close_to_f32_storage_and_the_reference) {
    NEED_CUDA();
    ln_half_step_close(cuda_bf16, CV_BF16, NULL, V_RESNET, 12);
    ln_half_step_close(cuda_bf16, CV_BF16, &ref, V_RESNET, 12);
    /* with batch_norm = cudnn, 16-bit batch norms still run ours (norm.cu) */
    ln_half_step_close((ln_target){ "cuda", CV_LAYOUT_NHWC, NULL, bf16_cudnn_bn }, CV_BF16, &ref, V_RESNET, 12);
}

/* a squeeze-excitation block (V_SE): its pool reads a plain f32 value into a blocked
 * 16-bit one, its gradient's BROADCAST_TO the other way (test_cpu_bf16_storage.c) */
Test(cuda_nhwc, a_squeeze_excitation_block_trains_in_16_bits) {
    NEED_CUDA();
    ln_half_step_close(cuda_bf16, CV_BF16, &ref, V_SE, 12);
    ln_half_step_close(cuda_fp16, CV_F16, &ref, V_SE, 12);
}

/* every family of the zoo in bf16 and in fp16 against the reference backend in f32
 * (zoo_run.h: 16-bit storage, gradient flow, the loss, eval logits); what the
 * squeeze-excitation bug of the CPU backend (test_cpu_bf16_storage.c) would have been
 * here, and whatever the transformers' ops do in 16 bits */
Test(cuda_nhwc, every_model_family_runs_in_16_bits, .timeout = 1800) {
    NEED_CUDA();
    const char *const *opts[2] = { bf16_opts, fp16_opts };
    for (int d = 0; d < 2; d++)
        for (int m = 0; m < zoo_n_tiny; m++) {
            const zoo_tiny *t = &zoo_tiny_models[m];
            net_rig h, f;
            cv_ctx *ctx = th_ctx_new(), *rctx = th_ctx_new();
            ku_backend be;
            char why[CV_ERROR_MESSAGE_MAX + 64];
            cr_assert(cu_open(ctx, opts[d], &be, why, sizeof why), "backend cuda: %s", why);
            zoo_rig(&h, ctx, be, t->model, t->kv, 5, t->channels);
            zoo_rig(&f, rctx, ku_backend_open(rctx, "ref"), t->model, t->kv, 5, t->channels);
            zoo_expect_16bit_close(&h, &f, t, d ? CV_F16 : CV_BF16, 17);
            net_rig_close(&h);
            net_rig_close(&f);
        }
}

Test(cuda_nhwc, an_fp16_step_stays_close_to_the_reference) {
    NEED_CUDA();
    ln_half_step_close(cuda_fp16, CV_F16, &ref, V_RESNET, 12);
}

Test(cuda_nhwc, bf16_sgd_steps_follow_f32_storage) {
    NEED_CUDA();
    ln_half_sgd_follows_f32(cuda_bf16, CV_BF16, V_RESNET, 12);
}

/* cuDNN without NHWC kernels: convolutions computed in NCHW from and into the 16-bit NHWC activations */
Test(cuda_nhwc, bf16_storage_when_cudnn_refuses_nhwc_convolutions) {
    NEED_CUDA();
    setenv("CVNETS_EMU_DNN_NO_NHWC", "1", 1);
    ln_half_step_close(cuda_bf16, CV_BF16, &ref, V_RESNET, 12);
    unsetenv("CVNETS_EMU_DNN_NO_NHWC");
}

/* Each kernel on NHWC operands twice on a backend with precision = dt's: activations f32, then
 * stored in dt, from the same dt-exact values.  Every dt output is the f32 run's rounded to dt
 * (1 ulp: 2^-7 relative in bf16, 2^-10 in f16); f32 outputs agree to 1e-5. */
enum { PN = 2, PC = 16, PH = 5, PW = 5 };
typedef struct pair16 {
    cv_shape shape;
    int act;            /* a 4-D NHWC activation: stored in dt in the second run */
    float v[8 * PC * 3 * 3 > PN * PC * PH * PW ? 8 * PC * 3 * 3 : PN * PC * PH * PW]; /* the largest: w */
} pair16;

static float round_to(int dt, float v) { return dt == CV_BF16 ? ku_from_bf16(ku_to_bf16(v)) : ku_from_f16(ku_to_f16(v)); }

static void p16(pair16 *o, cv_shape shape, int act, int dt, ku_rng *g, float lo, float hi) {
    o->shape = shape;
    o->act = act;
    for (int64_t i = 0; i < cv_shape_numel(&shape); i++) o->v[i] = round_to(dt, lo + (hi - lo) * (float)ku_uniform(g));
}

static void kernel_pair16(ku_backend be, int dt, const char *name, int op, const void *p, size_t ps, const pair16 *in,
                          int n_in, const pair16 *out, int n_out) {
    float *got[2][6];
    uint8_t lin[6], lout[6];
    for (int run = 0; run < 2; run++) {
        ku_tensor ti[6], to[6];
        for (int i = 0; i < n_in; i++) {
            ti[i] = ku_make(be, run && in[i].act ? dt : CV_F32, in[i].shape, in[i].v);
            lin[i] = in[i].act ? CV_LAYOUT_NHWC : CV_LAYOUT_PLAIN;
        }
        for (int i = 0; i < n_out; i++) {
            to[i] = ku_make(be, run && out[i].act ? dt : CV_F32, out[i].shape, NULL);
            lout[i] = out[i].act ? CV_LAYOUT_NHWC : CV_LAYOUT_PLAIN;
        }
        cv_error err;
        cv_error_init(&err);
        cr_assert_eq(ku_run_layout(be, op, p, ps, ti, n_in, lin, to, n_out, lout, 0, &err), CV_OK, "%s (run %d): %s", name,
                     run, err.message);
        for (int i = 0; i < n_out; i++) got[run][i] = ku_get_new(be, &to[i]);
        for (int i = 0; i < n_in; i++) ku_free(be, &ti[i]);
        for (int i = 0; i < n_out; i++) ku_free(be, &to[i]);
    }
    for (int j = 0; j < n_out; j++) {
        for (int64_t i = 0; i < cv_shape_numel(&out[j].shape); i++) {
            const float want = got[0][j][i], g = got[1][j][i];
            const double tol = out[j].act ? ldexp(fabs(want), dt == CV_BF16 ? -7 : -10) + 1e-6 : 1e-5 * (1 + fabs(want));
            cr_assert(fabs(g - want) <= tol, "%s %s: output %d element %lld: %g stored in 16 bits, %g in f32", name,
                      cv_dtype_name(dt), j, (long long)i, g, want);
        }
        free(got[0][j]);
        free(got[1][j]);
    }
}

static void kernels16(const char *const *opts, int dt) {
    ku_backend be;
    char why[CV_ERROR_MESSAGE_MAX + 64];
    cr_assert(cu_open(fx.ctx, opts, &be, why, sizeof why), "backend cuda: %s", why);
    ku_rng g = ku_rng_make(61);
    const cv_shape X = CV_SHAPE(PN, PC, PH, PW), Y = CV_SHAPE(PN, 8, PH, PW), W = CV_SHAPE(8, PC, 3, 3), V = CV_SHAPE(PC);
    static pair16 x, dy, y, w, b8, gam, bet, rm, rv, st, dyc, pool;
    p16(&x, X, 1, dt, &g, -2, 2);
    p16(&dy, X, 1, dt, &g, -1, 1);
    p16(&y, X, 1, dt, &g, 0, 0);
    p16(&w, W, 0, dt, &g, -0.3f, 0.3f);
    p16(&b8, CV_SHAPE(8), 0, dt, &g, -1, 1);
    p16(&dyc, Y, 1, dt, &g, -1, 1);
    cv_conv_params cp = { { 1, 1, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, 1 };
    pair16 yc = { Y, 1, { 0 } }, dw = { W, 0, { 0 } };
    kernel_pair16(be, dt, "conv2d", CV_OP_CONV2D, &cp, sizeof cp, (pair16[]){ x, w }, 2, &yc, 1);
    kernel_pair16(be, dt, "conv2d with bias", CV_OP_CONV2D, &cp, sizeof cp, (pair16[]){ x, w, b8 }, 3, &yc, 1);
    kernel_pair16(be, dt, "conv2d_bwd_data", CV_OP_CONV2D_BWD_DATA, &cp, sizeof cp, (pair16[]){ dyc, w }, 2, &y, 1);
    kernel_pair16(be, dt, "conv2d_bwd_weight", CV_OP_CONV2D_BWD_WEIGHT, &cp, sizeof cp, (pair16[]){ dyc, x }, 2, &dw, 1);
    p16(&gam, V, 0, dt, &g, 0.5f, 1.5f);
    p16(&bet, V, 0, dt, &g, -0.5f, 0.5f);
    p16(&rm, V, 0, dt, &g, -0.1f, 0.1f);
    p16(&rv, V, 0, dt, &g, 0.9f, 1.1f);
    pair16 mean = { V, 0, { 0 } }, rstd = { V, 0, { 0 } }, dg = { V, 0, { 0 } }, dbe = { V, 0, { 0 } };
    for (int training = 1; training >= 0; training--) {
        cv_norm_params np = { 1e-5f, 0.1f, training, 0, 0 };
        kernel_pair16(be, dt, training ? "batch_norm" : "batch_norm eval", CV_OP_BATCH_NORM, &np, sizeof np,
                      (pair16[]){ x, gam, bet, rm, rv }, 5, (pair16[]){ y, mean, rstd, rm, rv }, 5);
        p16(&st, V, 0, dt, &g, 0.8f, 1.2f);
        kernel_pair16(be, dt, "batch_norm_bwd", CV_OP_BATCH_NORM_BWD, &np, sizeof np, (pair16[]){ x, dy, gam, rm, st }, 5,
                      (pair16[]){ y, dg, dbe }, 3);
    }
    cv_unary_params relu = { CV_RELU, 0 }, gelu = { CV_GELU, 0 };
    kernel_pair16(be, dt, "relu", CV_OP_UNARY, &relu, sizeof relu, &x, 1, &y, 1);
    kernel_pair16(be, dt, "relu_bwd", CV_OP_UNARY_BWD, &relu, sizeof relu, (pair16[]){ x, dy }, 2, &y, 1);
    kernel_pair16(be, dt, "gelu_bwd", CV_OP_UNARY_BWD, &gelu, sizeof gelu, (pair16[]){ x, dy }, 2, &y, 1);
    cv_binary_params add = { CV_ADD };
    kernel_pair16(be, dt, "add", CV_OP_BINARY, &add, sizeof add, (pair16[]){ x, dy }, 2, &y, 1);
    cv_scalar_params half = { CV_S_MUL, 0.5f };
    kernel_pair16(be, dt, "scalar", CV_OP_SCALAR, &half, sizeof half, &x, 1, &y, 1);
    /* 75 elements: 18 groups of four, then 3 one by one */
    static pair16 ox, ody, oy;
    p16(&ox, CV_SHAPE(1, 3, 5, 5), 1, dt, &g, -2, 2);
    p16(&ody, CV_SHAPE(1, 3, 5, 5), 1, dt, &g, -1, 1);
    p16(&oy, CV_SHAPE(1, 3, 5, 5), 1, dt, &g, 0, 0);
    kernel_pair16(be, dt, "relu, 75 elements", CV_OP_UNARY, &relu, sizeof relu, &ox, 1, &oy, 1);
    kernel_pair16(be, dt, "add, 75 elements", CV_OP_BINARY, &add, sizeof add, (pair16[]){ ox, ody }, 2, &oy, 1);
    /* widened by the dispatcher: pooling and its gradient, the global pool */
    cv_pool_params pp = { CV_POOL_MAX, { 3, 3 }, { 2, 2 }, { 1, 1 }, 0, 1 };
    p16(&pool, CV_SHAPE(PN, PC, 3, 3), 1, dt, &g, 0, 0);
    kernel_pair16(be, dt, "max_pool", CV_OP_POOL2D, &pp, sizeof pp, &x, 1, &pool, 1);
    cv_reduce_params hw = { CV_R_MEAN, 0xCu, 1 };
    pair16 nc = { CV_SHAPE(PN, PC, 1, 1), 0, { 0 } };
    kernel_pair16(be, dt, "reduce", CV_OP_REDUCE, &hw, sizeof hw, &x, 1, &nc, 1);
    ku_backend_close(be);
}

Test(cuda_nhwc, kernels_on_16_bit_activations_give_the_f32_results_rounded) {
    NEED_CUDA();
    kernels16(bf16_opts, CV_BF16);
    kernels16(fp16_opts, CV_F16);
}

/* ---- bad layouts: the backend names the op and the operand ---------------------------------------- */
/* a dense [n,c,h,w] f32 in backend memory at data */
static cv_ktensor kt4(void *data, int64_t n, int64_t c, int64_t h, int64_t w) {
    cv_ktensor t = { CV_F32, 4, { n, c, h, w }, { c * h * w, h * w, w, 1 }, data };
    return t;
}

/* the kernel (one output) is refused with a message holding `where` (op and
 * operand) and `why` */
static void expect_layout_error(int op, const void *p, size_t ps, const cv_ktensor *in, int n_in, const uint8_t *lin,
                                const cv_ktensor *out, const uint8_t *lout, const char *where, const char *why) {
    cv_kernel k = { .struct_size = sizeof k, .op = op, .params = p, .params_size = (uint32_t)ps, .n_in = n_in,
                    .n_out = 1, .in = in, .out = out, .in_layout = lin, .out_layout = lout };
    cv_error err;
    cv_error_init(&err);
    cr_expect_eq(fx.cuda.vt->run(fx.cuda.self, &k, &err), CV_ERR_INVALID, "%s: accepted", where);
    cr_expect(strstr(err.message, where) && strstr(err.message, why), "'%s' lacks '%s' or '%s'", err.message, where, why);
}

Test(cuda_nhwc, rejects_layouts_it_does_not_take) {
    NEED_CUDA();
    const size_t bytes = 2 * 32 * 4 * 4 * sizeof(float);
    void *a = fx.cuda.vt->alloc(fx.cuda.self, bytes), *y = fx.cuda.vt->alloc(fx.cuda.self, bytes);
    cr_assert(a && y);
    const uint8_t c16[1] = { CV_LAYOUT_C16 }, nhwc[1] = { CV_LAYOUT_NHWC }, plain[1] = { CV_LAYOUT_PLAIN },
                  bad[1] = { 7 };
    cv_unary_params up = { CV_RELU, 0 };
    cv_ktensor x24 = kt4(a, 2, 24, 4, 4), y24 = kt4(y, 2, 24, 4, 4);
    expect_layout_error(CV_OP_UNARY, &up, sizeof up, &x24, 1, c16, &y24, c16, "backend cuda: UNARY: input 0",
                        "is given layout C16, which this backend does not use");
    expect_layout_error(CV_OP_UNARY, &up, sizeof up, &x24, 1, plain, &y24, bad, "backend cuda: UNARY: output 0",
                        "which this backend does not use");
    cv_ktensor x = kt4(a, 2, 32, 4, 4), yy = kt4(y, 2, 32, 4, 4);
    expect_layout_error(CV_OP_UNARY, &up, sizeof up, &x, 1, nhwc, &yy, plain, "backend cuda: UNARY: input 0 [2,32,4,4]",
                        "is given layout NHWC, which this op takes only when all its 4-D operands share it");
    cv_softmax_params sp = { 1, 0 };
    expect_layout_error(CV_OP_SOFTMAX, &sp, sizeof sp, &x, 1, nhwc, &yy, nhwc, "backend cuda: SOFTMAX: input 0 [2,32,4,4]",
                        "is given layout NHWC, which this op does not take with these operands");
    fx.cuda.vt->free(fx.cuda.self, a);
    fx.cuda.vt->free(fx.cuda.self, y);
}
