/* test/support/net_rig.c — see net_rig.h. */
#include "net_rig.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

void net_rig_open(net_rig *r, cv_ctx *ctx, ku_backend be, uint64_t seed, cv_component_ref model, cv_component_ref loss,
                  int classes) {
    memset(r, 0, sizeof *r);
    cv_error_init(&r->err);
    r->ctx = ctx;
    r->be = be;
    r->model = model;
    r->e = cv_engine_create(&ctx->host, (cv_backend_ref){ be.vt, be.self }, seed, &r->err);
    cr_assert_not_null(r->e, "engine: %s", r->err.message);
    r->n = cv_net_create(r->e, model, loss, classes, &r->err);
    cr_assert_not_null(r->n, "net: %s", r->err.message);
}

void net_rig_close(net_rig *r) {
    cv_net_destroy(r->n);
    cv_engine_destroy(r->e);
    if (r->owns_model) th_destroy(r->model.desc, r->model.self);
    ku_backend_close(r->be);
    th_ctx_free(r->ctx);
}

cv_plan *net_rig_plan(net_rig *r, cv_shape in, cv_mode mode) {
    cv_plan *p = cv_net_plan_get(r->n, &in, mode, 0, &r->err);
    cr_assert_not_null(p, "plan: %s", r->err.message);
    return p;
}

void net_rig_sgd(net_rig *r, const cv_sgd_params *sp) {
    cv_optim_step s;
    cv_net_optim_step_init(r->n, &s);
    cr_assert_gt(s.n_segments, 0, "sgd: no optimizer segments");
    for (int i = 0; i < s.n_segments; i++) {
        int st = s.run_update(s.engine, CV_OP_SGD_UPDATE, sp, sizeof *sp, s.segments[i].offset, s.segments[i].count, &r->err);
        cr_assert_eq(st, CV_OK, "sgd: %s", r->err.message);
    }
}

float *net_rig_read(net_rig *r, int which, int64_t *count) {
    *count = cv_net_buffer_elems(r->n, which);
    float *v = malloc((size_t)*count * sizeof(float) + 1); /* + 1: not NULL for an empty buffer */
    cr_assert_not_null(v);
    cr_assert_eq(cv_net_buffer_read(r->n, which, v, *count, &r->err), CV_OK, "buffer %d: %s", which, r->err.message);
    return v;
}
