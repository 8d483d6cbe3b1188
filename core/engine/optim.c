/* core/engine/optim.c — the optimizer's view of a net: segments of the flat
 * trainable-parameter buffer, update kernels (CV_OP_*_UPDATE) run over slices of
 * the param / grad / state buffers, sums of squares, gradient scaling.  Each call
 * builds its kernel on the stack: no allocation per step. */
#include "internal.h"

#include <string.h>

static cv_ktensor slice(void *base, int64_t offset, int64_t count) {
    cv_ktensor k;
    memset(&k, 0, sizeof k);
    k.dtype = CV_F32;
    k.ndim = 1;
    k.shape[0] = count;
    k.stride[0] = 1;
    k.data = (char *)base + offset * 4;
    return k;
}

static int run_kernel(cv_net *n, int op, const void *params, size_t psize, const cv_ktensor *in, int n_in,
                      const cv_ktensor *out, int n_out, cv_error *err) {
    cv_kernel k = { sizeof(cv_kernel), op, params, (uint32_t)psize, n_in, n_out, in, out, NULL, 0, 0, NULL, NULL, NULL };
    return n->e->be.vt->run(n->e->be.self, &k, err);
}

static int update_slots(int op, const void *params, int *need, size_t *psize) {
    switch (op) {
    case CV_OP_SGD_UPDATE:
        *psize = sizeof(cv_sgd_params);
        *need = ((const cv_sgd_params *)params)->momentum != 0 ? 1 : 0;
        return 1;
    case CV_OP_ADAM_UPDATE: case CV_OP_LAMB_UPDATE:
        *psize = sizeof(cv_adam_params);
        *need = 2;
        return 1;
    case CV_OP_RMSPROP_UPDATE:
        *psize = sizeof(cv_rmsprop_params);
        *need = ((const cv_rmsprop_params *)params)->momentum != 0 ? 2 : 1;
        return 1;
    default: return 0;
    }
}

static int run_update(void *engine, int op, const void *params, size_t params_size, int64_t offset, int64_t count,
                      cv_error *err) {
    cv_net *n = engine;
    int need = 0;
    size_t want = 0;
    if (!n || !params || !update_slots(op, params, &need, &want))
        return cv_set_error(err, CV_ERR_INVALID, "run_update: op %d (%s) is not an optimizer update", op, cv_op_name(op));
    if (params_size != want)
        return cv_set_error(err, CV_ERR_INVALID, "run_update: %s params are %zu bytes, expected %zu", cv_op_name(op),
                            params_size, want);
    if (offset < 0 || count < 1 || offset > n->n_train - count)
        return cv_set_error(err, CV_ERR_INVALID, "run_update: slice [%lld, +%lld) outside the %lld trainable elements",
                            (long long)offset, (long long)count, (long long)n->n_train);
    if (n->state_slots < need)
        return cv_set_error(err, CV_ERR_INVALID, "run_update: %s needs %d optimizer state slots, %d allocated",
                            cv_op_name(op), need, n->state_slots);
    int st = cv_net_sync_buffers(n, err);
    if (st != CV_OK) return st;
    cv_ktensor in = slice(n->dev[1], offset, count), out[3];
    out[0] = slice(n->dev[0], offset, count);
    for (int s = 0; s < need; s++) out[1 + s] = slice(n->dev[2], (int64_t)s * n->n_train + offset, count);
    return run_kernel(n, op, params, params_size, &in, 1, out, 1 + need, err);
}

static int sumsq(void *engine, int which, int64_t offset, int64_t count, double *out, cv_error *err) {
    cv_net *n = engine;
    if (!n || (which != 0 && which != 1) || !out)
        return cv_set_error(err, CV_ERR_INVALID, "sumsq: which must be 0 (params) or 1 (grads)");
    if (offset < 0 || count < 0 || offset > n->n_train - count)
        return cv_set_error(err, CV_ERR_INVALID, "sumsq: slice [%lld, +%lld) outside the %lld trainable elements",
                            (long long)offset, (long long)count, (long long)n->n_train);
    *out = 0;
    if (count == 0) return CV_OK;
    int st = cv_net_sync_buffers(n, err);
    if (st != CV_OK) return st;
    cv_ktensor in = slice(n->dev[which], offset, count), o = slice(n->scratch, 0, 1);
    st = run_kernel(n, CV_OP_SUMSQ, NULL, 0, &in, 1, &o, 1, err);
    float v = 0;
    if (st == CV_OK) st = n->e->be.vt->download(n->e->be.self, &v, n->scratch, sizeof v, err);
    *out = v;
    return st;
}

void cv_net_optim_step_init(cv_net *n, cv_optim_step *s) {
    memset(s, 0, sizeof *s);
    s->struct_size = sizeof *s;
    if (!n) return;
    cv_error e;
    cv_error_init(&e);
    cv_net_sync_buffers(n, &e);
    s->n_segments = n->n_segments;
    s->segments = n->segments;
    s->engine = n;
    s->run_update = run_update;
    s->sumsq = sumsq;
}

int cv_net_grad_scale(cv_net *n, float factor, cv_error *err) {
    if (!n) return cv_set_error(err, CV_ERR_INVALID, "grad_scale: no net");
    if (n->n_train == 0) return CV_OK;
    int st = cv_net_sync_buffers(n, err);
    if (st != CV_OK) return st;
    cv_axpby_params p = { factor, 0.0f };
    cv_ktensor g = slice(n->dev[1], 0, n->n_train);
    return run_kernel(n, CV_OP_AXPBY, &p, sizeof p, &g, 1, &g, 1, err);
}

int cv_net_grad_sumsq(cv_net *n, double *out, cv_error *err) {
    if (!n) return cv_set_error(err, CV_ERR_INVALID, "grad_sumsq: no net");
    return sumsq(n, 1, 0, n->n_train, out, err);
}
