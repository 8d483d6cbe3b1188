/* test/unit/test_optim.c — every optimizer plugin over several steps against
 * hand-computed values and double-precision reference formulas, executed by the
 * reference backend's update kernels on host arrays through a fake cv_optim_step.
 * Covers momentum and Nesterov, coupled (adam) vs decoupled (adamw) decay,
 * RMSprop's TensorFlow eps, LAMB's per-tensor trust ratio, the no-decay tags, and
 * how many update calls a step makes (contiguous runs are merged). */
#include <math.h>
#include <string.h>
#include <criterion/criterion.h>
#include "support/testhost.h"

#define N 10
#define MAX_CALLS 64

/* ---- a fake engine: flat host buffers + the ref backend's kernels ---------------- */
typedef struct call_log { int op; int64_t offset, count; float weight_decay; } call_log;

typedef struct fake_engine {
    const cv_backend_vtable *vt;
    void *be;
    float param[N], grad[N], state[3][N];
    int n_calls;
    call_log calls[MAX_CALLS];
} fake_engine;

static int update_outputs(int op) { return op == CV_OP_SGD_UPDATE ? 2 : 3; }

static int fake_run_update(void *engine, int op, const void *params, size_t params_size, int64_t offset,
                           int64_t count, cv_error *err) {
    fake_engine *e = engine;
    cr_assert(offset >= 0 && count > 0 && offset + count <= N, "update over [%lld, %lld)", (long long)offset,
              (long long)(offset + count));
    if (e->n_calls < MAX_CALLS) {
        call_log *c = &e->calls[e->n_calls];
        c->op = op;
        c->offset = offset;
        c->count = count;
        c->weight_decay = op == CV_OP_SGD_UPDATE       ? ((const cv_sgd_params *)params)->weight_decay
                          : op == CV_OP_RMSPROP_UPDATE ? ((const cv_rmsprop_params *)params)->weight_decay
                                                       : ((const cv_adam_params *)params)->weight_decay;
    }
    e->n_calls++;
    cv_ktensor in = { CV_F32, 1, { count }, { 1 }, e->grad + offset };
    cv_ktensor out[4];
    int n_out = update_outputs(op);
    for (int i = 0; i < n_out; i++) {
        out[i] = (cv_ktensor){ CV_F32, 1, { count }, { 1 }, i == 0 ? e->param + offset : e->state[i - 1] + offset };
    }
    cv_kernel k = { sizeof k, op, params, (uint32_t)params_size, 1, n_out, &in, out, NULL, 0, 0, NULL };
    void *prepared = NULL;
    size_t ws = 0;
    if (e->vt->prepare) {
        int rc = e->vt->prepare(e->be, &k, &prepared, &ws, err);
        if (rc != CV_OK) return rc;
    }
    void *wsbuf = ws ? e->vt->alloc(e->be, ws) : NULL;
    k.workspace = wsbuf;
    k.workspace_bytes = ws;
    k.prepared = prepared;
    int rc = e->vt->run(e->be, &k, err);
    if (wsbuf) e->vt->free(e->be, wsbuf);
    if (prepared && e->vt->release) e->vt->release(e->be, prepared);
    return rc;
}

static int fake_sumsq(void *engine, int which, int64_t offset, int64_t count, double *out, cv_error *err) {
    fake_engine *e = engine;
    const float *x = which == 0 ? e->param : e->grad;
    double s = 0;
    for (int64_t i = offset; i < offset + count; i++) s += (double)x[i] * x[i];
    *out = s;
    return CV_OK;
}

/* segments: a conv weight, a norm weight, a bias (norm), a class token */
static const cv_param_segment SEGS[4] = {
    { "conv.weight", 0, 4, 0, 0 },
    { "bn.weight", 4, 2, CV_TAG_NORM, 0 },
    { "bn.bias", 6, 2, CV_TAG_NORM | CV_TAG_BIAS, 0 },
    { "cls_token", 8, 2, CV_TAG_NO_DECAY, 0 },
};

typedef struct ofix {
    cv_ctx *ctx;
    const cv_component_desc *bd, *od;
    const cv_optimizer_vtable *ovt;
    void *opt;
    fake_engine e;
} ofix;

static void ofix_open(ofix *f, const char *name, const char *const *kv) {
    memset(f, 0, sizeof *f);
    f->ctx = th_ctx_new();
    f->bd = th_load(f->ctx, "backend", "ref");
    cv_create_args extra = { sizeof extra };
    extra.threads = 1;
    f->e.be = th_create(f->ctx, f->bd, NULL, &extra);
    f->e.vt = f->bd->vtable;
    f->od = th_load(f->ctx, "optimizer", name);
    f->ovt = f->od->vtable;
    f->opt = th_create(f->ctx, f->od, kv, NULL);
    for (int i = 0; i < N; i++) f->e.param[i] = 0.5f + 0.25f * (float)i * (i % 2 ? -1.f : 1.f);
}
static void ofix_close(ofix *f) {
    th_destroy(f->od, f->opt);
    th_destroy(f->bd, f->e.be);
    th_ctx_free(f->ctx);
}
static float grad_at(int i, int t) { return (float)(0.3 * sin(1.7 * i + 0.9 * t) + 0.05 * i); }

static void ofix_step(ofix *f, int t, double lr, const cv_param_segment *segs, int nseg) {
    for (int i = 0; i < N; i++) f->e.grad[i] = grad_at(i, t);
    cv_optim_step s = { sizeof s, nseg, segs, lr, t, &f->e, fake_run_update, fake_sumsq };
    cv_error err = { sizeof err, 0, "" };
    cr_assert_eq(f->ovt->step(f->opt, &s, &err), CV_OK, "step %d: %s", t, err.message);
}

static void expect_close(const float *got, const double *want, int n, double rel, const char *what) {
    for (int i = 0; i < n; i++)
        cr_expect(fabs(got[i] - want[i]) <= rel * fmax(1e-3, fabs(want[i])), "%s[%d] = %.9g, want %.9g", what, i,
                  (double)got[i], want[i]);
}

/* decay per element for SEGS under the given rule */
static double wd_of(int i, double wd, int no_decay_bn_filter_bias) {
    if (i >= 8) return 0;                               /* CV_TAG_NO_DECAY */
    if (i >= 4 && no_decay_bn_filter_bias) return 0;   /* norm / bias */
    return wd;
}

/* ---- SGD ------------------------------------------------------------------------- */
Test(optim_sgd, momentum_by_hand) {
    ofix f;
    const char *kv[] = { "momentum=0.9", "weight_decay=0", NULL };
    ofix_open(&f, "sgd", kv);
    cv_param_segment one = { "w", 0, 1, 0, 0 };
    const double want[3] = { 0.95, 0.855, 0.7195 }; /* p = 1, g = 0.5, lr = 0.1 */
    f.e.param[0] = 1.0f;
    for (int t = 1; t <= 3; t++) {
        f.e.grad[0] = 0.5f;
        cv_optim_step s = { sizeof s, 1, &one, 0.1, t, &f.e, fake_run_update, fake_sumsq };
        cv_error err = { sizeof err, 0, "" };
        cr_assert_eq(f.ovt->step(f.opt, &s, &err), CV_OK, "%s", err.message);
        cr_expect_float_eq(f.e.param[0], want[t - 1], 1e-6, "step %d: p = %.9g", t, (double)f.e.param[0]);
    }
    cr_expect_float_eq(f.e.state[0][0], 1.355, 1e-6); /* the momentum buffer */
    ofix_close(&f);
}

Test(optim_sgd, nesterov_by_hand) {
    ofix f;
    const char *kv[] = { "momentum=0.9", "nesterov=true", "weight_decay=0", NULL };
    ofix_open(&f, "sgd", kv);
    cv_param_segment one = { "w", 0, 1, 0, 0 };
    const double want[3] = { 0.905, 0.7695, 0.59755 };
    f.e.param[0] = 1.0f;
    for (int t = 1; t <= 3; t++) {
        f.e.grad[0] = 0.5f;
        cv_optim_step s = { sizeof s, 1, &one, 0.1, t, &f.e, fake_run_update, fake_sumsq };
        cv_error err = { sizeof err, 0, "" };
        cr_assert_eq(f.ovt->step(f.opt, &s, &err), CV_OK, "%s", err.message);
        cr_expect_float_eq(f.e.param[0], want[t - 1], 1e-6, "step %d: p = %.9g", t, (double)f.e.param[0]);
    }
    ofix_close(&f);
}

Test(optim_sgd, dampening_by_hand_first_buffer_is_the_gradient) {
    ofix f;
    const char *kv[] = { "momentum=0.9", "dampening=0.5", "weight_decay=0", NULL };
    ofix_open(&f, "sgd", kv);
    cv_param_segment one = { "w", 0, 1, 0, 0 };
    /* torch.optim.SGD: buf_1 = g; buf_t = 0.9 buf + 0.5 g */
    const double want_p[3] = { 0.95, 0.88, 0.792 }, want_buf[3] = { 0.5, 0.7, 0.88 };
    f.e.param[0] = 1.0f;
    for (int t = 1; t <= 3; t++) {
        f.e.grad[0] = 0.5f;
        cv_optim_step s = { sizeof s, 1, &one, 0.1, t, &f.e, fake_run_update, fake_sumsq };
        cv_error err = { sizeof err, 0, "" };
        cr_assert_eq(f.ovt->step(f.opt, &s, &err), CV_OK, "%s", err.message);
        cr_expect_float_eq(f.e.param[0], want_p[t - 1], 1e-6, "step %d: p = %.9g", t, (double)f.e.param[0]);
        cr_expect_float_eq(f.e.state[0][0], want_buf[t - 1], 1e-6, "step %d: buf = %.9g", t, (double)f.e.state[0][0]);
    }
    ofix_close(&f);
}

static void run_sgd_case(const char *const *kv, double wd, int nesterov, int no_decay_bn, int calls_per_step) {
    ofix f;
    ofix_open(&f, "sgd", kv);
    double p[N], buf[N] = { 0 };
    for (int i = 0; i < N; i++) p[i] = f.e.param[i];
    const double lrs[3] = { 0.1, 0.05, 0.2 };
    for (int t = 1; t <= 3; t++) {
        ofix_step(&f, t, lrs[t - 1], SEGS, 4);
        for (int i = 0; i < N; i++) {
            double g = grad_at(i, t) + wd_of(i, wd, no_decay_bn) * p[i];
            buf[i] = 0.9 * buf[i] + g;
            p[i] -= lrs[t - 1] * (nesterov ? g + 0.9 * buf[i] : buf[i]);
        }
    }
    expect_close(f.e.param, p, N, 1e-5, "param");
    expect_close(f.e.state[0], buf, N, 1e-5, "momentum");
    cr_expect_eq(f.e.n_calls, 3 * calls_per_step, "%d update calls for 3 steps", f.e.n_calls);
    ofix_close(&f);
}

Test(optim_sgd, weight_decay_with_no_decay_tags) {
    const char *kv[] = { "momentum=0.9", "weight_decay=0.1", "no_decay_bn_filter_bias=true", NULL };
    /* runs per step: conv (decay) + norm, bias, cls token (no decay, contiguous) */
    run_sgd_case(kv, 0.1, 0, 1, 2);
}

Test(optim_sgd, weight_decay_everywhere_but_no_decay_tag) {
    const char *kv[] = { "momentum=0.9", "weight_decay=0.1", NULL };
    run_sgd_case(kv, 0.1, 0, 0, 2);
}

Test(optim_sgd, nesterov_with_decay_and_one_call_without_decay) {
    const char *kv[] = { "momentum=0.9", "nesterov=true", "weight_decay=0.05", "no_decay_bn_filter_bias=true", NULL };
    run_sgd_case(kv, 0.05, 1, 1, 2);
    const char *kv0[] = { "momentum=0.9", "weight_decay=0", NULL };
    run_sgd_case(kv0, 0.0, 0, 0, 1);
}

Test(optim_sgd, calls_follow_runs_and_decay_flags) {
    ofix f;
    const char *kv[] = { "momentum=0.9", "weight_decay=0.1", "no_decay_bn_filter_bias=true", NULL };
    ofix_open(&f, "sgd", kv);
    /* a gap between segments breaks a run even with the same decay */
    const cv_param_segment gap[3] = { { "a", 0, 2, 0, 0 }, { "b", 3, 2, 0, 0 }, { "c", 5, 3, CV_TAG_BIAS, 0 } };
    ofix_step(&f, 1, 0.1, gap, 3);
    cr_assert_eq(f.e.n_calls, 3);
    cr_expect_eq(f.e.calls[0].offset, 0);
    cr_expect_eq(f.e.calls[0].count, 2);
    cr_expect_float_eq(f.e.calls[0].weight_decay, 0.1f, 1e-9);
    cr_expect_eq(f.e.calls[1].offset, 3);
    cr_expect_float_eq(f.e.calls[2].weight_decay, 0.0f, 1e-9);
    cr_expect_eq(f.e.calls[2].op, CV_OP_SGD_UPDATE);
    /* element 2 lies in no segment: untouched */
    float before = 0.5f + 0.25f * 2.0f;
    cr_expect_float_eq(f.e.param[2], before, 1e-9);
    ofix_close(&f);
}

Test(optim_sgd, rejects_bad_options_and_steps) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "optimizer", "sgd");
    void *self = NULL;
    cv_error err = { sizeof err, 0, "" };
    const char *kv[] = { "momentum=0", "nesterov=true", NULL };
    cr_expect_eq(th_try_create(ctx, d, kv, NULL, &self, &err), CV_ERR_INVALID);
    cr_expect(strstr(err.message, "nesterov") != NULL, "message: %s", err.message);
    th_ctx_free(ctx);

    ofix f;
    ofix_open(&f, "sgd", NULL);
    cv_optim_step s = { sizeof s, 4, SEGS, NAN, 1, &f.e, fake_run_update, fake_sumsq };
    cv_error e2 = { sizeof e2, 0, "" };
    cr_expect_eq(f.ovt->step(f.opt, &s, &e2), CV_ERR_NUMERIC);
    cr_expect(strstr(e2.message, "learning rate") != NULL, "message: %s", e2.message);
    cr_expect_eq(f.e.n_calls, 0);
    ofix_close(&f);
}

/* ---- Adam / AdamW ------------------------------------------------------------------ */
Test(optim_adam, coupled_vs_decoupled_first_step_by_hand) {
    /* p = 1, g = 0.5, lr = 0.1, wd = 0.1, eps ~ 0: Adam's first step is lr * sign */
    const char *kv[] = { "beta1=0.9", "beta2=0.999", "eps=1e-12", "weight_decay=0.1", NULL };
    ofix a, w;
    ofix_open(&a, "adam", kv);
    ofix_open(&w, "adamw", kv);
    cv_param_segment one = { "w", 0, 1, 0, 0 };
    a.e.param[0] = w.e.param[0] = 1.0f;
    a.e.grad[0] = w.e.grad[0] = 0.5f;
    cv_optim_step sa = { sizeof sa, 1, &one, 0.1, 1, &a.e, fake_run_update, fake_sumsq };
    cv_optim_step sw = { sizeof sw, 1, &one, 0.1, 1, &w.e, fake_run_update, fake_sumsq };
    cv_error err = { sizeof err, 0, "" };
    cr_assert_eq(a.ovt->step(a.opt, &sa, &err), CV_OK, "%s", err.message);
    cr_assert_eq(w.ovt->step(w.opt, &sw, &err), CV_OK, "%s", err.message);
    cr_expect_float_eq(a.e.param[0], 0.9, 1e-6, "adam: %.9g", (double)a.e.param[0]);   /* 1 - 0.1 */
    cr_expect_float_eq(w.e.param[0], 0.89, 1e-6, "adamw: %.9g", (double)w.e.param[0]); /* 1 * (1 - 0.01) - 0.1 */
    cr_expect_float_eq(a.e.state[0][0], 0.06, 1e-7);  /* m = 0.1 * (0.5 + 0.1) */
    cr_expect_float_eq(w.e.state[0][0], 0.05, 1e-7);  /* m = 0.1 * 0.5 */
    cr_expect_float_eq(a.e.state[1][0], 0.00036, 2e-8); /* beta2 is a float */
    cr_expect_float_eq(w.e.state[1][0], 0.00025, 2e-8);
    ofix_close(&a);
    ofix_close(&w);
}

static void run_adam_case(const char *name, int decoupled, int no_decay_bn) {
    const char *kv_bn[] = { "beta1=0.8", "beta2=0.95", "eps=1e-6", "weight_decay=0.2", "no_decay_bn_filter_bias=true", NULL };
    const char *kv[] = { "beta1=0.8", "beta2=0.95", "eps=1e-6", "weight_decay=0.2", NULL };
    ofix f;
    ofix_open(&f, name, no_decay_bn ? kv_bn : kv);
    double p[N], m[N] = { 0 }, v[N] = { 0 };
    for (int i = 0; i < N; i++) p[i] = f.e.param[i];
    const double lrs[4] = { 0.01, 0.02, 0.03, 0.015 };
    for (int t = 1; t <= 4; t++) {
        ofix_step(&f, t, lrs[t - 1], SEGS, 4);
        for (int i = 0; i < N; i++) {
            double wd = wd_of(i, 0.2, no_decay_bn), g = grad_at(i, t);
            if (decoupled) p[i] *= 1 - lrs[t - 1] * wd;
            else g += wd * p[i];
            m[i] = 0.8 * m[i] + 0.2 * g;
            v[i] = 0.95 * v[i] + 0.05 * g * g;
            double mh = m[i] / (1 - pow(0.8, t)), vh = v[i] / (1 - pow(0.95, t));
            p[i] -= lrs[t - 1] * mh / (sqrt(vh) + 1e-6);
        }
    }
    expect_close(f.e.param, p, N, 2e-5, "param");
    expect_close(f.e.state[0], m, N, 2e-5, "m");
    expect_close(f.e.state[1], v, N, 2e-5, "v");
    cr_expect_eq(f.e.n_calls, 4 * 2);
    for (int c = 0; c < f.e.n_calls && c < MAX_CALLS; c++) cr_expect_eq(f.e.calls[c].op, CV_OP_ADAM_UPDATE);
    ofix_close(&f);
}

Test(optim_adam, coupled_four_steps_with_no_decay_tags) { run_adam_case("adam", 0, 1); }
Test(optim_adam, coupled_four_steps) { run_adam_case("adam", 0, 0); }
Test(optim_adamw, decoupled_four_steps_with_no_decay_tags) { run_adam_case("adamw", 1, 1); }
Test(optim_adamw, decoupled_four_steps) { run_adam_case("adamw", 1, 0); }

/* ---- RMSprop ------------------------------------------------------------------------ */
static void run_rmsprop_case(int tf_eps, double momentum) {
    char mom[64];
    snprintf(mom, sizeof mom, "momentum=%g", momentum);
    const char *kv[] = { "alpha=0.9", "eps=1e-3", mom, tf_eps ? "eps_inside_sqrt=true" : "eps_inside_sqrt=false",
                         "weight_decay=0.1", "no_decay_bn_filter_bias=true", NULL };
    ofix f;
    ofix_open(&f, "rmsprop", kv);
    double p[N], sq[N] = { 0 }, buf[N] = { 0 };
    for (int i = 0; i < N; i++) p[i] = f.e.param[i];
    const double lrs[3] = { 0.01, 0.02, 0.005 };
    for (int t = 1; t <= 3; t++) {
        ofix_step(&f, t, lrs[t - 1], SEGS, 4);
        for (int i = 0; i < N; i++) {
            double g = grad_at(i, t) + wd_of(i, 0.1, 1) * p[i];
            sq[i] = 0.9 * sq[i] + 0.1 * g * g;
            double d = tf_eps ? sqrt(sq[i] + 1e-3) : sqrt(sq[i]) + 1e-3;
            if (momentum > 0) {
                buf[i] = momentum * buf[i] + g / d;
                p[i] -= lrs[t - 1] * buf[i];
            } else {
                p[i] -= lrs[t - 1] * g / d;
            }
        }
    }
    expect_close(f.e.param, p, N, 2e-5, "param");
    expect_close(f.e.state[0], sq, N, 2e-5, "sq_avg");
    if (momentum > 0) expect_close(f.e.state[1], buf, N, 2e-5, "momentum");
    cr_expect_eq(f.e.n_calls, 3 * 2);
    ofix_close(&f);
}

Test(optim_rmsprop, torch_eps_with_momentum) { run_rmsprop_case(0, 0.9); }
Test(optim_rmsprop, tensorflow_eps_with_momentum) { run_rmsprop_case(1, 0.9); }
Test(optim_rmsprop, tensorflow_eps_without_momentum) { run_rmsprop_case(1, 0.0); }

/* ---- LAMB -------------------------------------------------------------------------- */
static void run_lamb_case(int always_adapt) {
    const char *kv[] = { "beta1=0.9", "beta2=0.99", "eps=1e-6", "weight_decay=0.1", "no_decay_bn_filter_bias=true",
                         always_adapt ? "always_adapt=true" : "always_adapt=false", NULL };
    ofix f;
    ofix_open(&f, "lamb", kv);
    double p[N], m[N] = { 0 }, v[N] = { 0 };
    for (int i = 0; i < N; i++) p[i] = f.e.param[i];
    const double lrs[3] = { 0.05, 0.1, 0.02 };
    for (int t = 1; t <= 3; t++) {
        ofix_step(&f, t, lrs[t - 1], SEGS, 4);
        for (int s = 0; s < 4; s++) {
            int lo = (int)SEGS[s].offset, hi = lo + (int)SEGS[s].count;
            double wd = wd_of(lo, 0.1, 1), r[N], pn = 0, rn = 0;
            for (int i = lo; i < hi; i++) {
                double g = grad_at(i, t);
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.99 * v[i] + 0.01 * g * g;
                double mh = m[i] / (1 - pow(0.9, t)), vh = v[i] / (1 - pow(0.99, t));
                r[i] = mh / (sqrt(vh) + 1e-6) + wd * p[i];
                pn += p[i] * p[i];
                rn += r[i] * r[i];
            }
            int adapt = wd > 0 || always_adapt;
            double ratio = adapt && pn > 0 && rn > 0 ? sqrt(pn) / sqrt(rn) : 1.0;
            for (int i = lo; i < hi; i++) p[i] -= lrs[t - 1] * ratio * r[i];
        }
    }
    expect_close(f.e.param, p, N, 2e-5, "param");
    expect_close(f.e.state[0], m, N, 2e-5, "m");
    expect_close(f.e.state[1], v, N, 2e-5, "v");
    /* per step: the decayed conv weight alone, then either one merged plain run or
     * one adapted call per remaining tensor */
    cr_expect_eq(f.e.n_calls, 3 * (always_adapt ? 4 : 2), "%d calls", f.e.n_calls);
    cr_expect_eq(f.e.calls[0].op, CV_OP_LAMB_UPDATE);
    cr_expect_eq(f.e.calls[0].count, 4);
    ofix_close(&f);
}

Test(optim_lamb, trust_ratio_per_tensor) { run_lamb_case(0); }
Test(optim_lamb, always_adapt) { run_lamb_case(1); }
