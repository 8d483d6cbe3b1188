/* plugins/optimizers/lamb.c — LAMB (You et al. 2020): Adam moments with bias
 * correction, r = m_hat / (sqrt(v_hat) + eps) + wd p, and a per-tensor trust ratio
 * ||p|| / ||r|| (1 when either norm is 0): p -= lr * ratio * r.  The backend's
 * CV_OP_LAMB_UPDATE kernel does this for one tensor per call, so decayed
 * segments go one by one.  As in BERT's and timm's LAMB, tensors without weight
 * decay (norms and biases under no_decay_bn_filter_bias, CV_TAG_NO_DECAY) are not
 * layer-adapted unless always_adapt is set: they get the plain bias-corrected Adam
 * step, in merged runs. */
#include "optim_common.h"

typedef struct lamb {
    optim_base b;
    double beta1, beta2, eps;
    int always_adapt;
} lamb;

static int lamb_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    lamb *o = h->alloc_array(1, sizeof *o);
    if (!o) return h->set_error(err, CV_ERR_NOMEM, "optimizer/lamb: out of memory");
    optim_base_init(&o->b, a, "lamb");
    o->beta1 = optim_opt_f(h, a->opts, "beta1", 0.9);
    o->beta2 = optim_opt_f(h, a->opts, "beta2", 0.999);
    o->eps = optim_opt_f(h, a->opts, "eps", 1e-6);
    o->always_adapt = (int)optim_opt_i(h, a->opts, "always_adapt", 0);
    *self = o;
    return CV_OK;
}

static void lamb_destroy(void *self) {
    lamb *o = self;
    if (o) o->b.host->free(o);
}

static cv_adam_params lamb_params(const lamb *o, const cv_optim_step *s, int decay) {
    cv_adam_params p = { (float)s->lr, (float)o->beta1, (float)o->beta2, (float)o->eps,
                         decay ? (float)o->b.weight_decay : 0.0f, 1, s->step };
    return p;
}

/* the no-decay runs: plain Adam (decoupled form, zero decay) */
static int lamb_plain_run(void *self, const cv_optim_step *s, int decay, int64_t offset, int64_t count, cv_error *err) {
    lamb *o = self;
    if (decay) return CV_OK; /* done per tensor in lamb_step */
    cv_adam_params p = lamb_params(o, s, 0);
    return s->run_update(s->engine, CV_OP_ADAM_UPDATE, &p, sizeof p, offset, count, err);
}

static int lamb_step(void *self, const cv_optim_step *s, cv_error *err) {
    lamb *o = self;
    int rc = optim_check_step(&o->b, s, err);
    if (rc != CV_OK) return rc;
    for (int i = 0; i < s->n_segments; i++) {
        const cv_param_segment *seg = &s->segments[i];
        if (seg->count <= 0 || (seg->tags & CV_TAG_BUFFER)) continue;
        int decay = optim_segment_decays(&o->b, seg);
        if (!decay && !o->always_adapt) continue;
        cv_adam_params p = lamb_params(o, s, decay);
        rc = s->run_update(s->engine, CV_OP_LAMB_UPDATE, &p, sizeof p, seg->offset, seg->count, err);
        if (rc != CV_OK) return rc;
    }
    return o->always_adapt ? CV_OK : optim_for_each_run(o, &o->b, s, lamb_plain_run, err);
}

static const cv_option_desc lamb_options[] = {
    CV_OPT_FLOAT_RANGE("beta1", "0.9", 0, 0.999999, "decay of the first moment"),
    CV_OPT_FLOAT_RANGE("beta2", "0.999", 0, 0.999999999, "decay of the second moment"),
    CV_OPT_FLOAT_RANGE("eps", "1e-6", 0, 1, "added to the root of the second moment"),
    CV_OPT_BOOL_("always_adapt", "false", "apply the trust ratio to tensors without weight decay too"),
    OPTIM_COMMON_OPTIONS,
    CV_OPT_END,
};

static const cv_optimizer_vtable lamb_vtable = { sizeof(cv_optimizer_vtable), 2, 0, lamb_step };

static const cv_component_desc lamb_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_OPTIMIZER, "lamb", "any",
    "LAMB: Adam with decoupled decay and a per-tensor trust ratio",
    lamb_options, lamb_create, lamb_destroy, NULL, NULL, &lamb_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &lamb_desc, err); }
