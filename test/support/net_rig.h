/* test/support/net_rig.h — the set-up the engine tests share: a context, a
 * backend opened in it, an engine and one net (a model component and a loss
 * component), and the steps those tests repeat on it: the plan for an input
 * shape, one plain SGD update over every optimizer segment, and a copy of a
 * flat net buffer.  Nothing here returns a status: a step that fails fails the
 * current Criterion test with the engine's message.
 *
 * Example:
 *   cv_ctx *ctx = th_ctx_new();
 *   net_rig r;
 *   net_rig_open(&r, ctx, ku_backend_open(ctx, "ref"), 7, (cv_component_ref){ &my_model, NULL }, ce_loss(), 3);
 *   cv_plan *p = net_rig_plan(&r, CV_SHAPE(4, 1, 8, 8), CV_MODE_TRAIN);
 *   ... cv_net_run(p, &io, &r.err) ...
 *   net_rig_close(&r);                                                         */
#ifndef CV_TEST_NET_RIG_H
#define CV_TEST_NET_RIG_H

#include <cvnets/cvnets.h>

#include "engine.h"
#include "kernel_util.h"
#include "testhost.h"

typedef struct net_rig {
    cv_ctx *ctx;
    ku_backend be;
    cv_engine *e;
    cv_net *n;
    cv_error err;
    cv_component_ref model; /* as given to net_rig_open */
    /* set by the caller when model.self came from th_create in ctx: net_rig_close
     * then destroys it (after the net, before the context unloads its plugin) */
    int owns_model;
} net_rig;

/* ctx (from th_ctx_new) and be (opened in ctx) now belong to the rig; an engine
 * on be with seed, and a net of model and loss with classes classes */
void net_rig_open(net_rig *r, cv_ctx *ctx, ku_backend be, uint64_t seed, cv_component_ref model, cv_component_ref loss,
                  int classes);
/* destroys the net, the engine, an owned model, the backend and the context */
void net_rig_close(net_rig *r);

/* the net's (cached) plan for the input shape in and mode */
cv_plan *net_rig_plan(net_rig *r, cv_shape in, cv_mode mode);
/* one SGD update with sp over every optimizer segment (there must be one) */
void net_rig_sgd(net_rig *r, const cv_sgd_params *sp);
/* a malloc'd copy of net buffer which (0 params, 1 grads, 2 state, 3 buffers),
 * its element count in *count; free with free() */
float *net_rig_read(net_rig *r, int which, int64_t *count);

#endif
