/* test/unit/test_engine_errors.c — bad input to the engine gives a clear error
 * naming the op and the shapes (never a crash): shape mismatches, wrong dtypes,
 * zero / negative sizes, 64-bit size overflow, NULL inputs, internal op kinds,
 * params size mismatches, conflicting parameters, non-scalar losses; errors are
 * sticky (the first one wins) and carry the name scope. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "host.h"

static void *f_alloc(void *s, size_t b) { (void)s; return calloc(1, b ? b : 1); }
static void f_free(void *s, void *p) { (void)s; free(p); }
static int f_copy(void *s, void *d, const void *src, size_t b, cv_error *e) { (void)s; (void)e; memcpy(d, src, b); return CV_OK; }
static int f_run(void *s, const cv_kernel *k, cv_error *e) { (void)s; (void)k; (void)e; return CV_OK; }
static const cv_backend_vtable fake_vt = { sizeof(cv_backend_vtable), 1, 0, f_alloc, f_free, f_copy, f_copy, NULL,
                                           NULL, NULL, f_run, NULL };

typedef cv_tensor *(*build_fn)(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x);
static cv_tensor *m_forward(void *self, const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) { return (*(build_fn *)self)(o, g, x); }
static cv_tensor *l_forward(void *self, const cv_ops_v1 *o, cv_graph *g, const cv_loss_inputs *in) {
    if (self) return in->logits; /* a non-scalar "loss" */
    cv_ce_params p = { 0, -100 };
    return CV_OP2(o, g, CV_OP_CROSS_ENTROPY, in->logits, in->target, &p);
}
static const cv_model_vtable m_vt = { sizeof(cv_model_vtable), m_forward, NULL };
static const cv_loss_vtable l_vt = { sizeof(cv_loss_vtable), 0, 0, l_forward };
static const cv_component_desc m_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL, "m",
                                          "any", "", NULL, NULL, NULL, NULL, NULL, &m_vt };
static const cv_component_desc l_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_LOSS, "l",
                                          "any", "", NULL, NULL, NULL, NULL, NULL, &l_vt };

/* trace fn on input [2,3,8,8] in training mode; returns the status, message in err */
static int trace(build_fn fn, int bad_loss, cv_error *err) {
    cv_error_init(err);
    cv_engine *e = cv_engine_create(NULL, (cv_backend_ref){ &fake_vt, NULL }, 1, err);
    cr_assert_not_null(e);
    static int one = 1;
    cv_net *n = cv_net_create(e, (cv_component_ref){ &m_desc, &fn }, (cv_component_ref){ &l_desc, bad_loss ? &one : NULL },
                              4, err);
    cr_assert_not_null(n);
    cv_shape s = CV_SHAPE(2, 3, 8, 8);
    cv_plan *p = cv_net_plan_get(n, &s, CV_MODE_TRAIN, 0, err);
    int st = p ? CV_OK : err->status;
    cv_net_destroy(n);
    cv_engine_destroy(e);
    return st;
}

static cv_tensor *P(const cv_ops_v1 *o, cv_graph *g, const char *name, cv_shape s) {
    cv_init init = { CV_INIT_NORMAL, 0.1f, 0 };
    return o->param(g, name, &s, init, 0);
}
static cv_tensor *head(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) { /* [N,C,H,W] -> [N,4] */
    cv_shape s;
    o->shape(x, &s);
    x = cv_reduce(o, g, x, CV_R_MEAN, 0xC, 0);
    return cv_linear(o, g, x, P(o, g, "head", CV_SHAPE(4, s.dim[1])), NULL);
}

#define EXPECT(fn, status, ...)                                                                       \
    do {                                                                                              \
        cv_error err_;                                                                                \
        int st_ = trace(fn, 0, &err_);                                                                \
        cr_assert_eq(st_, status, "status %d, message: %s", st_, err_.message);                       \
        const char *want_[] = { __VA_ARGS__ };                                                        \
        for (size_t i_ = 0; i_ < sizeof want_ / sizeof want_[0]; i_++)                                \
            cr_assert(strstr(err_.message, want_[i_]), "message lacks '%s': %s", want_[i_], err_.message); \
    } while (0)

static cv_tensor *ok_model(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) { return head(o, g, x); }
Test(engine_errors, a_good_model_traces) {
    cv_error err;
    cr_assert_eq(trace(ok_model, 0, &err), CV_OK, "%s", err.message);
}

static cv_tensor *conv_channels(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    o->scope_push(g, "layer1");
    o->scope_push(g, "%d", 0);
    x = cv_conv2d(o, g, x, P(o, g, "w", CV_SHAPE(4, 5, 3, 3)), NULL, 1, 1, 1, 1);
    o->scope_pop(g);
    o->scope_pop(g);
    return head(o, g, x);
}
Test(engine_errors, conv_channel_mismatch_names_op_shapes_and_scope) {
    EXPECT(conv_channels, CV_ERR_INVALID, "in layer1.0:", "conv2d", "[2,3,8,8]", "[4,5,3,3]");
}

static cv_tensor *bad_broadcast(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    return head(o, g, cv_add(o, g, x, P(o, g, "b", CV_SHAPE(5, 1, 1))));
}
Test(engine_errors, broadcast_mismatch) { EXPECT(bad_broadcast, CV_ERR_INVALID, "binary", "[2,3,8,8]", "[5,1,1]", "broadcast"); }

static cv_tensor *bad_matmul(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    (void)x;
    return cv_matmul(o, g, P(o, g, "a", CV_SHAPE(2, 3)), P(o, g, "b", CV_SHAPE(4, 4)), 0, 0);
}
Test(engine_errors, matmul_inner_mismatch) { EXPECT(bad_matmul, CV_ERR_INVALID, "matmul", "[2,3]", "[4,4]"); }

static cv_tensor *bad_linear(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    x = cv_reduce(o, g, x, CV_R_MEAN, 0xC, 0);
    return cv_linear(o, g, x, P(o, g, "w", CV_SHAPE(4, 7)), NULL);
}
Test(engine_errors, linear_weight_mismatch) { EXPECT(bad_linear, CV_ERR_INVALID, "linear", "[2,3]", "[4,7]"); }

static cv_tensor *bad_dtype(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    cv_tensor *t = cv_unary(o, g, o->input(g, 1), CV_RELU, 0); /* i32 labels */
    (void)t;
    return head(o, g, x);
}
Test(engine_errors, wrong_dtype) { EXPECT(bad_dtype, CV_ERR_INVALID, "unary", "i32"); }

static cv_tensor *bad_ce_target(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    cv_ce_params p = { 0, -100 };
    cv_tensor *l = head(o, g, x);
    cv_tensor *t = o->constant(g, &(cv_shape){ 1, 0, { 3 } }, CV_I32, 0);
    return CV_OP2(o, g, CV_OP_CROSS_ENTROPY, l, t, &p);
}
Test(engine_errors, cross_entropy_target_shape) { EXPECT(bad_ce_target, CV_ERR_INVALID, "cross_entropy", "[3]", "[2,4]"); }

static cv_tensor *zero_size(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    (void)P(o, g, "empty", CV_SHAPE(0, 3));
    return head(o, g, x);
}
Test(engine_errors, zero_size_param) { EXPECT(zero_size, CV_ERR_INVALID, "empty", "[0,3]"); }

static cv_tensor *negative_constant(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    cv_shape s = CV_SHAPE(4, -2);
    (void)o->constant(g, &s, CV_F32, 1);
    return head(o, g, x);
}
Test(engine_errors, negative_size) { EXPECT(negative_constant, CV_ERR_INVALID, "[4,-2]", ">= 1"); }

static cv_tensor *huge(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    cv_shape s = CV_SHAPE(1LL << 31, 1LL << 31, 4);
    (void)o->constant(g, &s, CV_F32, 1);
    return head(o, g, x);
}
Test(engine_errors, size_overflow) { EXPECT(huge, CV_ERR_NOMEM, "[2147483648,2147483648,4]", "overflow"); }

static cv_tensor *bad_reshape(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    return head(o, g, cv_reshape(o, g, x, CV_SHAPE(2, 3, 8, 9)));
}
Test(engine_errors, reshape_count) { EXPECT(bad_reshape, CV_ERR_INVALID, "reshape", "[2,3,8,8]", "384", "432"); }

static cv_tensor *null_input(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    (void)x;
    return cv_unary(o, g, NULL, CV_RELU, 0);
}
Test(engine_errors, null_input) { EXPECT(null_input, CV_ERR_INVALID, "unary", "NULL"); }

static cv_tensor *sticky(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    cv_tensor *a = cv_add(o, g, x, P(o, g, "b", CV_SHAPE(7))); /* first error */
    cr_assert_null(a);
    cr_assert(o->failed(g));
    cv_tensor *b = cv_matmul(o, g, x, x, 0, 0); /* would be valid, but the graph failed */
    cr_assert_null(b, "ops after a failure return NULL");
    o->fail(g, CV_ERR_IO, "a later error");
    return head(o, g, x);
}
Test(engine_errors, first_error_wins) { EXPECT(sticky, CV_ERR_INVALID, "binary", "[7]"); }

static cv_tensor *internal_op(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    cv_conv_params p = { { 1, 1, 1 }, { 0, 0, 0 }, { 1, 1, 1 }, 1 };
    cv_tensor *in[2] = { x, x };
    return o->op(g, CV_OP_CONV2D_BWD_DATA, in, 2, &p, sizeof p);
}
Test(engine_errors, internal_op_kind) { EXPECT(internal_op, CV_ERR_INVALID, "conv2d_bwd_data", "not a forward op"); }

static cv_tensor *bad_params_size(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    int fn = CV_RELU;
    return o->op(g, CV_OP_UNARY, &x, 1, &fn, sizeof fn);
}
Test(engine_errors, params_size) { EXPECT(bad_params_size, CV_ERR_INVALID, "unary", "params size 4", "expected 8"); }

static cv_tensor *param_conflict(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    o->scope_push(g, "fc");
    (void)P(o, g, "weight", CV_SHAPE(4, 3));
    (void)P(o, g, "weight", CV_SHAPE(4, 5));
    o->scope_pop(g);
    return head(o, g, x);
}
Test(engine_errors, parameter_shape_conflict) { EXPECT(param_conflict, CV_ERR_INVALID, "fc.weight", "[4,5]", "[4,3]"); }

static cv_tensor *bad_pool(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    return head(o, g, cv_pool2d(o, g, x, CV_POOL_MAX, 9, 1, 0, 0));
}
Test(engine_errors, pool_larger_than_input) { EXPECT(bad_pool, CV_ERR_INVALID, "pool2d", "[2,3,8,8]"); }

static cv_tensor *bad_concat(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    cv_axis_params p = { 1 };
    cv_tensor *in[2] = { x, P(o, g, "c", CV_SHAPE(2, 3, 8, 7)) };
    return head(o, g, o->op(g, CV_OP_CONCAT, in, 2, &p, sizeof p));
}
Test(engine_errors, concat_mismatch) { EXPECT(bad_concat, CV_ERR_INVALID, "concat", "[2,3,8,7]", "[2,3,8,8]"); }

static cv_tensor *bad_slice(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    cv_slice_params p = { 2, 0, 6, 4 };
    return head(o, g, CV_OP1(o, g, CV_OP_SLICE, x, &p));
}
Test(engine_errors, slice_out_of_range) { EXPECT(bad_slice, CV_ERR_INVALID, "slice", "start 6, length 4", "[2,3,8,8]"); }

static cv_tensor *bad_permute(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    return head(o, g, cv_permute(o, g, x, 4, (int32_t[]){ 0, 1, 1, 3 }));
}
Test(engine_errors, permute_not_a_permutation) { EXPECT(bad_permute, CV_ERR_INVALID, "permute", "[2,3,8,8]"); }

static cv_tensor *bad_axes(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) { return head(o, g, cv_reduce(o, g, x, CV_R_SUM, 0x30, 0)); }
Test(engine_errors, reduce_axes) { EXPECT(bad_axes, CV_ERR_INVALID, "reduce", "0x30", "[2,3,8,8]"); }

static cv_tensor *nothing(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) { (void)o; (void)g; (void)x; return NULL; }
Test(engine_errors, model_returns_nothing) { EXPECT(nothing, CV_ERR_INVALID, "model m", "no tensor"); }

Test(engine_errors, loss_must_be_scalar) {
    cv_error err;
    int st = trace(ok_model, 1, &err);
    cr_assert_eq(st, CV_ERR_INVALID, "%s", err.message);
    cr_assert(strstr(err.message, "loss must be one f32 value") && strstr(err.message, "[2,4]"), "%s", err.message);
}

Test(engine_errors, bad_input_shapes) {
    cv_error err;
    cv_error_init(&err);
    cv_engine *e = cv_engine_create(NULL, (cv_backend_ref){ &fake_vt, NULL }, 1, &err);
    build_fn fn = ok_model;
    cv_net *n = cv_net_create(e, (cv_component_ref){ &m_desc, &fn }, (cv_component_ref){ &l_desc, NULL }, 4, &err);
    cv_shape z = CV_SHAPE(2, 3, 0, 8), three = CV_SHAPE(2, 3, 8), big = CV_SHAPE(1LL << 40, 1LL << 20, 1LL << 10, 1);
    cr_assert_null(cv_net_plan_get(n, &z, CV_MODE_TRAIN, 0, &err));
    cr_assert(strstr(err.message, "[2,3,0,8]"), "%s", err.message);
    cv_error_init(&err);
    cr_assert_null(cv_net_plan_get(n, &three, CV_MODE_EVAL, 0, &err));
    cr_assert(strstr(err.message, "[N,C,H,W]"), "%s", err.message);
    cv_error_init(&err);
    cr_assert_null(cv_net_plan_get(n, &big, CV_MODE_EVAL, 0, &err));
    cr_assert(strstr(err.message, "fits"), "%s", err.message);
    cv_net_destroy(n);
    cv_engine_destroy(e);
}

static cv_tensor *output_overflow(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    cv_pad_params p;
    memset(&p, 0, sizeof p);
    p.after[0] = 1LL << 61;
    return head(o, g, CV_OP1(o, g, CV_OP_PAD, x, &p));
}
Test(engine_errors, output_size_overflow) { EXPECT(output_overflow, CV_ERR_NOMEM, "pad: output", "[2,3,8,8]", "overflows"); }

/* a backend whose conv2d kernel fails: the step's error names layer, op, shape and cause */
static int fail_run(void *s, const cv_kernel *k, cv_error *e) {
    (void)s;
    if (k->op == CV_OP_CONV2D) {
        e->status = CV_ERR_UNSUPPORTED;
        snprintf(e->message, sizeof e->message, "kernel says no");
        return CV_ERR_UNSUPPORTED;
    }
    return CV_OK;
}
static const cv_backend_vtable failing_vt = { sizeof(cv_backend_vtable), 1, 0, f_alloc, f_free, f_copy, f_copy, NULL,
                                              NULL, NULL, fail_run, NULL };
static cv_tensor *scoped_conv(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    o->scope_push(g, "stem");
    x = cv_conv2d(o, g, x, P(o, g, "w", CV_SHAPE(4, 3, 3, 3)), NULL, 1, 1, 1, 1);
    o->scope_pop(g);
    return head(o, g, x);
}
Test(engine_errors, kernel_failure_names_the_node) {
    cv_error err;
    cv_error_init(&err);
    cv_engine *e = cv_engine_create(NULL, (cv_backend_ref){ &failing_vt, NULL }, 1, &err);
    build_fn fn = scoped_conv;
    cv_net *n = cv_net_create(e, (cv_component_ref){ &m_desc, &fn }, (cv_component_ref){ &l_desc, NULL }, 4, &err);
    cv_shape s = CV_SHAPE(2, 3, 8, 8);
    cv_plan *p = cv_net_plan_get(n, &s, CV_MODE_TRAIN, 0, &err);
    cr_assert_not_null(p, "%s", err.message);
    float img[2 * 3 * 8 * 8] = { 0 };
    int32_t lab[2] = { 0, 1 };
    cv_step_io io = { img, lab, NULL, 0, 0 };
    cr_assert_eq(cv_net_run(p, &io, &err), CV_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, "stem: conv2d on [2,3,8,8]: kernel says no"), "%s", err.message);
    cv_net_destroy(n);
    cv_engine_destroy(e);
}

/* conv3d (reserved for video): shapes are inferred; training graphs say it has no gradient yet */
static cv_tensor *conv3d(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    x = cv_reshape(o, g, x, CV_SHAPE(2, 3, 1, 8, 8));
    cv_conv_params p = { { 1, 2, 2 }, { 0, 1, 1 }, { 1, 1, 1 }, 1 };
    cv_tensor *in[2] = { x, P(o, g, "w3", CV_SHAPE(5, 3, 1, 3, 3)) };
    cv_tensor *y = o->op(g, CV_OP_CONV3D, in, 2, &p, sizeof p);
    cv_shape s;
    if (y) {
        o->shape(y, &s);
        cr_assert_eq(s.ndim, 5);
        cr_assert(s.dim[0] == 2 && s.dim[1] == 5 && s.dim[2] == 1 && s.dim[3] == 4 && s.dim[4] == 4);
        y = cv_reshape(o, g, y, CV_SHAPE(2, 5, 4, 4));
    }
    return head(o, g, y);
}
Test(engine_errors, conv3d_eval_only) {
    EXPECT(conv3d, CV_ERR_UNSUPPORTED, "conv3d", "no gradient");
    cv_error err;
    cv_error_init(&err);
    cv_engine *e = cv_engine_create(NULL, (cv_backend_ref){ &fake_vt, NULL }, 1, &err);
    build_fn fn = conv3d;
    cv_net *n = cv_net_create(e, (cv_component_ref){ &m_desc, &fn }, (cv_component_ref){ NULL, NULL }, 4, &err);
    cv_shape s = CV_SHAPE(2, 3, 8, 8);
    cv_plan *p = cv_net_plan_get(n, &s, CV_MODE_EVAL, 0, &err);
    cr_assert_not_null(p, "%s", err.message);
    cv_plan_info info;
    cv_plan_info_get(p, &info);
    cr_assert_eq(info.macs, 2LL * 5 * 16 * 27 + 2 * 4 * 5);
    cv_net_destroy(n);
    cv_engine_destroy(e);
}

/* ---- fuzz: random op kinds with random (often absurd) params never crash ---------------- */
#include "engine/internal.h"

static uint64_t fz_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static int64_t fz_value(uint64_t *s) {
    static const int64_t v[] = { -1, 0, 1, 2, 3, 4, 7, 8, -3, 64, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, 1LL << 40 };
    return v[fz_next(s) % (sizeof v / sizeof v[0])];
}

Test(engine_errors, random_params_never_crash) {
    cv_error err;
    cv_error_init(&err);
    cv_engine *e = cv_engine_create(NULL, (cv_backend_ref){ &fake_vt, NULL }, 1, &err);
    build_fn fn = ok_model;
    cv_net *n = cv_net_create(e, (cv_component_ref){ &m_desc, &fn }, (cv_component_ref){ &l_desc, NULL }, 4, &err);
    const cv_ops_v1 *o = cv_engine_ops();
    uint64_t s = 42;
    int ok = 0, failed = 0;
    for (int it = 0; it < 20000; it++) {
        cv_shape in = CV_SHAPE(2, 4, 6, 6);
        cv_graph *g = cv_graph_new(n, &in, (int)(fz_next(&s) & 1), 0);
        cr_assert_not_null(g);
        cv_tensor *t[4];
        t[0] = o->input(g, 0);
        t[1] = o->input(g, 1);
        cv_init init = { CV_INIT_NORMAL, 1, 0 };
        cv_shape ps[3] = { CV_SHAPE(4, 4, 3, 3), CV_SHAPE(4), CV_SHAPE(6, 6) };
        int pi = (int)(fz_next(&s) % 3);
        t[2] = o->param(g, pi == 0 ? "w" : pi == 1 ? "v" : "m", &ps[pi], init, 0);
        t[3] = o->constant(g, &ps[(pi + 1) % 3], CV_F32, 1.0f);
        int op = 1 + (int)(fz_next(&s) % CV_OP_SUM_TO);
        int64_t params[16];
        for (int i = 0; i < 16; i++) params[i] = fz_value(&s);
        float *fp = (float *)params;
        if (fz_next(&s) & 1) fp[0] = 0.5f; /* sometimes a sane leading float (eps, p, smoothing) */
        int want = cv_op_params_size(op);
        size_t psize = want >= 0 ? (size_t)want : 0;
        int n_in = 1 + (int)(fz_next(&s) % 5);
        cv_tensor *in_t[5];
        for (int i = 0; i < n_in; i++) in_t[i] = t[fz_next(&s) % 4];
        cv_tensor *y = o->op(g, op, in_t, n_in, psize ? (const void *)params : NULL, psize);
        if (y) {
            ok++;
            /* differentiate and plan what traced, whatever its odd params */
            cv_shape ys;
            o->shape(y, &ys);
            cv_tensor *l = ys.ndim ? cv_reduce(o, g, y, CV_R_SUM, (1u << ys.ndim) - 1, 0) : y;
            if (g->training && l && o->dtype(l) == CV_F32) {
                g->loss = l;
                if (cv_autograd(g, (int)(fz_next(&s) & 1)) == CV_OK) {
                    size_t peak, naive;
                    cv_error perr;
                    cv_error_init(&perr);
                    cr_assert_eq(cv_plan_memory(g, &peak, &naive, &perr), CV_OK, "%s", perr.message);
                    cr_assert_leq(peak, naive);
                } else cr_assert_neq(g->err.message[0], 0, "op %d: autograd failed silently", op);
            }
        } else {
            failed++;
            cr_assert(o->failed(g), "op %d returned NULL without an error", op);
            cr_assert_neq(g->err.message[0], 0, "op %d: empty message", op);
        }
        cv_graph_free(g, NULL);
    }
    cr_assert(ok > 100 && failed > 100, "ok %d failed %d", ok, failed);
    cv_net_destroy(n);
    cv_engine_destroy(e);
}

/* a kernel larger than the padded input: (8 + 0 - 16) / 1 + 1 would round toward
 * zero to 1 in C; it must be an error naming both shapes */
static cv_tensor *b_big_kernel(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    return head(o, g, cv_conv2d(o, g, x, P(o, g, "w", CV_SHAPE(4, 3, 16, 16)), NULL, 1, 0, 1, 1));
}
Test(engine_errors, conv_kernel_larger_than_input) {
    cv_error err;
    cr_assert_eq(trace(b_big_kernel, 0, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "larger than the padded input") && strstr(err.message, "[2,3,8,8]"), "%s", err.message);
}
