/* test/unit/test_layout.c — blocked activation layouts between kernels (ABI 1.1,
 * 1.3): the engine's layout pass (core/engine/layout.c) with the CPU backend's
 * layout_class on small ResNet-style graphs (conv -> bn -> relu -> conv chains
 * get C16; a value read through a view, a graph output, C = 24, a broadcast
 * multiply and a concat stay plain; every node's operands agree with its class);
 * the same pass when the backend offers NHWC instead (the CPU backend's vtable
 * with blocked_layout = NHWC, planned only: C = 24 gets it too) or a layout
 * value it does not know (none); the CPU backend running those plans against the
 * reference backend (all plain) — loss, logits, every gradient and the running
 * statistics, train and eval, with a global pool by REDUCE and by adaptive
 * pooling — a few SGD steps and random graphs with C16 layouts against
 * CVNETS_LAYOUT=plain; and the CPU backend's errors for layouts it does not
 * take.  The model, the checks and their bounds are shared with
 * test_cuda_nhwc.c: test/support/layout_net.h. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine/internal.h"
#include "support/layout_net.h"

/* see test_cpu_vs_ref.c: LSan cannot scan oneDNN's dynamic TLS */
const char *__lsan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void) { return "use_tls=0"; }
const char *__lsan_default_suppressions(void) { return "leak:_dlerror_run\n"; }

static const ln_target cpu = { "cpu", CV_LAYOUT_C16, NULL, NULL };

/* ---- the layout pass ------------------------------------------------------------------------- */
Test(layout, conv_bn_relu_chains_are_blocked) { ln_expect_blocked_chains(cpu, (const int[]){ V_RESNET }, 1); }

Test(layout, views_outputs_odd_channels_broadcasts_and_concats_stay_plain) {
    ln_expect_plain_tails(cpu, (const int[]){ V_VIEW, V_OUTPUT, V_C24, V_BCAST, V_CONCAT }, 5);
}

Test(layout, env_plain_and_the_reference_backend_give_no_layouts) {
    net_rig r;
    mspec m;
    setenv("CVNETS_LAYOUT", "plain", 1);
    ln_rig_open(&r, &m, cpu, V_RESNET, 0);
    cv_plan *p = ln_plan(&r, 4, 12, CV_MODE_TRAIN);
    unsetenv("CVNETS_LAYOUT");
    cr_expect_null(p->layout);
    cr_expect_eq(ln_check_consistent(&r, p, CV_LAYOUT_C16), 0);
    net_rig_close(&r);
    ln_rig_open(&r, &m, (ln_target){ "ref", CV_LAYOUT_PLAIN, NULL, NULL }, V_RESNET, 0);
    cr_expect_null(r.be.vt->layout_class, "the reference backend stays the all-plain oracle");
    p = ln_plan(&r, 4, 12, CV_MODE_TRAIN);
    cr_expect_null(p->layout);
    net_rig_close(&r);
}

/* ---- a backend that offers another blocked layout (ABI 1.3) ---------------------------------------- */
/* the CPU backend's vtable with blocked_layout = layout, for the rig's layout
 * checks and the engine's layout pass; planned only, without prepare (the CPU
 * kernels take only C16) */
static cv_backend_vtable offered;
static void offer(net_rig *r, int layout) {
    offered = *r->be.vt;
    offered.blocked_layout = layout;
    offered.prepare = NULL;
    r->be.vt = &offered;
    r->e->be.vt = &offered;
}
static void offer_nhwc(net_rig *r) { offer(r, CV_LAYOUT_NHWC); }
static void offer_unknown(net_rig *r) { offer(r, 9); }
static const ln_target cpu_nhwc = { "cpu", CV_LAYOUT_NHWC, offer_nhwc, NULL };

Test(layout, a_backend_offering_nhwc_gets_nhwc_on_any_channel_count) {
    ln_expect_blocked_chains(cpu_nhwc, (const int[]){ V_RESNET, V_C24 }, 2);
    /* with C16 the blocks of 24 channels stay plain */
    net_rig r;
    mspec m;
    ln_rig_open(&r, &m, cpu, V_C24, 0);
    cv_plan *p = ln_plan(&r, 4, 12, CV_MODE_TRAIN);
    ln_expect_plain_tail(&r, &m, p, CV_LAYOUT_C16);
    cr_expect_eq(cv_tensor_layout(p, m.t[T_CONV1]), CV_LAYOUT_C16);
    net_rig_close(&r);
}

Test(layout, nhwc_keeps_views_outputs_broadcasts_and_concats_plain) {
    ln_expect_plain_tails(cpu_nhwc, (const int[]){ V_VIEW, V_OUTPUT, V_BCAST, V_CONCAT }, 4);
}

Test(layout, an_unknown_blocked_layout_gives_no_layouts) {
    net_rig r;
    mspec m;
    ln_rig_open(&r, &m, (ln_target){ "cpu", CV_LAYOUT_PLAIN, offer_unknown, NULL }, V_RESNET, 0);
    cv_plan *p = ln_plan(&r, 4, 12, CV_MODE_TRAIN);
    cr_expect_null(p->layout, "blocked_layout 9 is no layout the engine knows");
    net_rig_close(&r);
}

/* ---- the CPU backend with layouts against the reference backend --------------------------------- */
Test(layout, cpu_blocked_matches_ref_reduce_pool) { ln_compare_with_ref(cpu, 0, 4, 12); }
Test(layout, cpu_blocked_matches_ref_adaptive_pool) { ln_compare_with_ref(cpu, 1, 4, 10); }
/* batch 16: oneDNN may pick Winograd for the 3x3 layers */
Test(layout, cpu_blocked_matches_ref_batch16) { ln_compare_with_ref(cpu, 0, 16, 8); }

/* ---- C16 against CVNETS_LAYOUT=plain on the CPU backend ------------------------------------------ */
Test(layout, sgd_steps_match_the_plain_layout) { ln_expect_sgd_steps_match_plain(cpu, 5); }

Test(layout, random_graphs_match_the_plain_layout) {
    /* one plain-only layer keeps its whole residual stream plain: 12 of these 32 have blocked values */
    const int blocked = ln_random_graphs(cpu, 32);
    cr_expect_geq(blocked, 8, "random graphs with blocked values: %d of 32", blocked);
}

/* ---- bad layouts: the CPU backend names the op and the operand ----------------------------------- */
static cv_ktensor kt4(float *data, int64_t n, int64_t c, int64_t h, int64_t w) {
    cv_ktensor t = { CV_F32, 4, { n, c, h, w }, { c * h * w, h * w, w, 1 }, data };
    return t;
}

Test(layout, cpu_rejects_layouts_it_does_not_take) {
    cv_ctx *ctx = th_ctx_new();
    ku_backend be = ku_backend_open(ctx, "cpu");
    static float a[2 * 32 * 4 * 4], b[2 * 32 * 4 * 4], s[2 * 32], y[2 * 32 * 4 * 4];
    const uint8_t c16[2] = { CV_LAYOUT_C16, CV_LAYOUT_C16 }, plain[1] = { CV_LAYOUT_PLAIN }, bad[1] = { 7 };
    cv_unary_params up = { CV_RELU, 0 };
    cv_ktensor x24 = kt4(a, 2, 24, 4, 4), y24 = kt4(y, 2, 24, 4, 4);
    ln_expect_kernel_error(be, CV_OP_UNARY, &up, sizeof up, &x24, 1, c16, &y24, c16, "unary: input 0 [2,24,4,4] is given the blocked layout (C16), which this op takes only on dense 4-D, C % 16 == 0");
    cv_ktensor x = kt4(a, 2, 32, 4, 4), yy = kt4(y, 2, 32, 4, 4);
    ln_expect_kernel_error(be, CV_OP_UNARY, &up, sizeof up, &x, 1, c16, &yy, plain, "only when all its 4-D operands share it");
    ln_expect_kernel_error(be, CV_OP_UNARY, &up, sizeof up, &x, 1, bad, &yy, plain, "unknown layout 7");
    cv_softmax_params sp = { 1, 0 };
    ln_expect_kernel_error(be, CV_OP_SOFTMAX, &sp, sizeof sp, &x, 1, c16, &yy, c16, "softmax: input 0");
    cv_binary_params bp = { CV_MUL };
    cv_ktensor bin[2] = { kt4(b, 2, 32, 4, 4), kt4(s, 2, 32, 1, 1) };
    ln_expect_kernel_error(be, CV_OP_BINARY, &bp, sizeof bp, bin, 2, c16, &yy, c16, "does not take with these operands");
    ku_backend_close(be);
    th_ctx_free(ctx);
}
