/* core/train/ema.c — parameter EMA (see ema.h). */
#include "train/ema.h"
#include "host.h"

#include <string.h>

void cv_ema_blend(float *avg, const float *cur, int64_t n, double momentum) {
    const float m = (float)momentum, keep = (float)(1.0 - momentum);
    for (int64_t i = 0; i < n; i++) avg[i] = keep * avg[i] + m * cur[i];
}

int cv_ema_init(cv_ema *ema, cv_net *net, double momentum, cv_error *err) {
    memset(ema, 0, sizeof *ema);
    ema->momentum = momentum;
    ema->n_params = cv_net_buffer_elems(net, 0);
    ema->n_buffers = cv_net_buffer_elems(net, 3);
    size_t np = (size_t)(ema->n_params ? ema->n_params : 1), nb = (size_t)(ema->n_buffers ? ema->n_buffers : 1);
    ema->params = cv_alloc_array(np, sizeof(float));
    ema->scratch_p = cv_alloc_array(np, sizeof(float));
    ema->buffers = cv_alloc_array(nb, sizeof(float));
    ema->scratch_b = cv_alloc_array(nb, sizeof(float));
    if (!ema->params || !ema->scratch_p || !ema->buffers || !ema->scratch_b) {
        cv_ema_free(ema);
        return cv_set_error(err, CV_ERR_NOMEM, "EMA: out of memory for %lld parameters", (long long)ema->n_params);
    }
    if (cv_net_buffer_read(net, 0, ema->params, ema->n_params, err)) return err->status;
    if (ema->n_buffers && cv_net_buffer_read(net, 3, ema->buffers, ema->n_buffers, err)) return err->status;
    return CV_OK;
}

int cv_ema_update(cv_ema *ema, cv_net *net, cv_error *err) {
    if (cv_net_buffer_read(net, 0, ema->scratch_p, ema->n_params, err)) return err->status;
    cv_ema_blend(ema->params, ema->scratch_p, ema->n_params, ema->momentum);
    if (ema->n_buffers) {
        if (cv_net_buffer_read(net, 3, ema->scratch_b, ema->n_buffers, err)) return err->status;
        cv_ema_blend(ema->buffers, ema->scratch_b, ema->n_buffers, ema->momentum);
    }
    return CV_OK;
}

int cv_ema_swap(cv_ema *ema, cv_net *net, cv_error *err) {
    if (cv_net_buffer_read(net, 0, ema->scratch_p, ema->n_params, err)) return err->status;
    if (cv_net_buffer_write(net, 0, ema->params, ema->n_params, err)) return err->status;
    memcpy(ema->params, ema->scratch_p, (size_t)ema->n_params * sizeof(float));
    if (ema->n_buffers) {
        if (cv_net_buffer_read(net, 3, ema->scratch_b, ema->n_buffers, err)) return err->status;
        if (cv_net_buffer_write(net, 3, ema->buffers, ema->n_buffers, err)) return err->status;
        memcpy(ema->buffers, ema->scratch_b, (size_t)ema->n_buffers * sizeof(float));
    }
    return CV_OK;
}

void cv_ema_free(cv_ema *ema) {
    cv_free(ema->params);
    cv_free(ema->buffers);
    cv_free(ema->scratch_p);
    cv_free(ema->scratch_b);
    memset(ema, 0, sizeof *ema);
}
