/* test/unit/test_engine_views.c — views and broadcasting through the engine on the
 * reference backend: reshape and outermost-axis slices are aliases (no kernel,
 * no copy) that read the right elements; other slices become SLICE kernels;
 * broadcasting edge cases (scalars, size-1 dims on either side, rank
 * differences) give the numpy result. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine/internal.h"
#include "support/kernel_util.h"
#include "support/testhost.h"

/* the backend under test: the reference one unless CVNETS_ENGINE_BACKEND names another */
static const char *engine_backend(void) {
    const char *b = getenv("CVNETS_ENGINE_BACKEND");
    return b && *b ? b : "ref";
}

typedef cv_tensor *(*build_fn)(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x);
static cv_tensor *m_forward(void *self, const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) { return (*(build_fn *)self)(o, g, x); }
static const cv_model_vtable m_vt = { sizeof(cv_model_vtable), m_forward, NULL };
static const cv_component_desc m_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL, "m",
                                          "any", "", NULL, NULL, NULL, NULL, NULL, &m_vt };

/* run fn in eval mode on images x [2,3,4,5] = 0,1,2,..; returns the plan and fills out */
static cv_plan *run(build_fn fn, float *out, cv_net **np, cv_engine **ep, cv_ctx **cp, ku_backend *bp) {
    static build_fn keep;
    keep = fn;
    cv_error err;
    cv_error_init(&err);
    *cp = th_ctx_new();
    *bp = ku_backend_open(*cp, engine_backend());
    *ep = cv_engine_create(&(*cp)->host, (cv_backend_ref){ bp->vt, bp->self }, 1, &err);
    *np = cv_net_create(*ep, (cv_component_ref){ &m_desc, &keep }, (cv_component_ref){ NULL, NULL }, 1, &err);
    cr_assert(*ep && *np, "%s", err.message);
    cv_shape s = CV_SHAPE(2, 3, 4, 5);
    cv_plan *p = cv_net_plan_get(*np, &s, CV_MODE_EVAL, 0, &err);
    cr_assert_not_null(p, "%s", err.message);
    float img[120];
    for (int i = 0; i < 120; i++) img[i] = (float)i;
    cv_step_io io = { img, NULL, out, 0, 0 };
    cr_assert_eq(cv_net_run(p, &io, &err), CV_OK, "%s", err.message);
    return p;
}
static void done(cv_net *n, cv_engine *e, cv_ctx *c, ku_backend b) {
    cv_net_destroy(n);
    cv_engine_destroy(e);
    ku_backend_close(b);
    th_ctx_free(c);
}
static int kernels_of(const cv_plan *p, int op) {
    int k = 0;
    for (int i = 0; i < p->n_exec; i++) k += p->exec[i].k.op == op;
    return k;
}

/* reshape [2,3,4,5] -> [6,20], slice rows 2..4 (a view), reshape [1,3,20] (view), slice along
 * axis 1 of a [1,3,20] (still contiguous: a view), +0 so the result is a fresh tensor */
static cv_tensor *views(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    x = cv_reshape(o, g, x, CV_SHAPE(6, 20));
    cv_slice_params s0 = { 0, 0, 2, 3 };
    x = CV_OP1(o, g, CV_OP_SLICE, x, &s0);
    x = cv_reshape(o, g, x, CV_SHAPE(1, 3, 20));
    cv_slice_params s1 = { 1, 0, 1, 2 };
    x = CV_OP1(o, g, CV_OP_SLICE, x, &s1);
    return cv_scalar(o, g, x, CV_S_ADD, 0.0f);
}
Test(engine_views, reshape_and_outer_slices_are_aliases) {
    float out[40];
    cv_net *n; cv_engine *e; cv_ctx *c; ku_backend b;
    cv_plan *p = run(views, out, &n, &e, &c, &b);
    cr_assert_eq(kernels_of(p, CV_OP_RESHAPE), 0);
    cr_assert_eq(kernels_of(p, CV_OP_SLICE), 0);
    cr_assert_eq(p->n_exec, 1, "only the scalar add runs");
    /* rows 2..4 of [6,20] are elements 40..99; then rows 1..2 of those: 60..99 */
    for (int i = 0; i < 40; i++) cr_assert_eq(out[i], (float)(60 + i), "element %d: %g", i, out[i]);
    done(n, e, c, b);
}

static cv_tensor *inner_slice(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    cv_slice_params s = { 3, 0, 1, 3 }; /* W 1..3 of [2,3,4,5] */
    return CV_OP1(o, g, CV_OP_SLICE, x, &s);
}
Test(engine_views, inner_slice_is_a_kernel) {
    float out[72];
    cv_net *n; cv_engine *e; cv_ctx *c; ku_backend b;
    cv_plan *p = run(inner_slice, out, &n, &e, &c, &b);
    cr_assert_eq(kernels_of(p, CV_OP_SLICE), 1);
    for (int r = 0; r < 24; r++)
        for (int j = 0; j < 3; j++) cr_assert_eq(out[r * 3 + j], (float)(r * 5 + 1 + j));
    done(n, e, c, b);
}

/* broadcasting: a [2,1,5] + c [4,1] -> [2,4,5] (size-1 dims on both sides, ranks differ),
 * minus a 0-d scalar */
static cv_tensor *bcast(const cv_ops_v1 *o, cv_graph *g, cv_tensor *x) {
    cv_tensor *a = cv_reshape(o, g, cv_reduce(o, g, x, CV_R_SUM, 0x6, 1), CV_SHAPE(2, 1, 5)); /* sum over C,H */
    cv_tensor *c = cv_reshape(o, g, cv_reduce(o, g, x, CV_R_MEAN, 0xB, 0), CV_SHAPE(4, 1)); /* mean over N,C,W */
    cv_slice_params s = { 0, 0, 1, 1 };
    cv_tensor *one = CV_OP1(o, g, CV_OP_SLICE, cv_reshape(o, g, x, CV_SHAPE(120)), &s); /* x[1] = 1, a view */
    cv_tensor *sc = cv_reshape(o, g, one, (cv_shape){ 0, 0, { 0 } });
    cv_tensor *y = cv_add(o, g, a, c);
    return cv_binary(o, g, y, sc, CV_SUB);
}
Test(engine_views, broadcasting_edge_cases) {
    float out[40];
    cv_net *n; cv_engine *e; cv_ctx *c; ku_backend b;
    cv_plan *p = run(bcast, out, &n, &e, &c, &b);
    cv_plan_info info;
    cv_plan_info_get(p, &info);
    cr_assert_eq(p->g->logits->shape.ndim, 3);
    for (int i = 0; i < 2; i++)
        for (int h = 0; h < 4; h++)
            for (int w = 0; w < 5; w++) {
                double a = 12.0 * (60 * i + w) + 240 + 90, cm = 52 + 5 * h;
                cr_assert_float_eq(out[(i * 4 + h) * 5 + w], a + cm - 1, 1e-3, "[%d,%d,%d]", i, h, w);
            }
    done(n, e, c, b);
}
