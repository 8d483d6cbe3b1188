/* plugins/optimizers/adam_impl.h — Adam, shared by adam.c (ADAM_DECOUPLED 0:
 * L2 decay added to the gradient, as torch.optim.Adam) and adamw.c (1: decoupled
 * decay p -= lr wd p, as torch.optim.AdamW).  Bias-corrected moments; the
 * arithmetic is the backend's CV_OP_ADAM_UPDATE kernel.  CVNets' defaults. */
#include "optim_common.h"

typedef struct adam {
    optim_base b;
    double beta1, beta2, eps;
} adam;

static int adam_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    adam *o = h->alloc_array(1, sizeof *o);
    if (!o) return h->set_error(err, CV_ERR_NOMEM, "optimizer/%s: out of memory", ADAM_NAME);
    optim_base_init(&o->b, a, ADAM_NAME);
    o->beta1 = optim_opt_f(h, a->opts, "beta1", 0.9);
    o->beta2 = optim_opt_f(h, a->opts, "beta2", 0.98);
    o->eps = optim_opt_f(h, a->opts, "eps", 1e-8);
    *self = o;
    return CV_OK;
}

static void adam_destroy(void *self) {
    adam *o = self;
    if (o) o->b.host->free(o);
}

static int adam_run(void *self, const cv_optim_step *s, int decay, int64_t offset, int64_t count, cv_error *err) {
    adam *o = self;
    cv_adam_params p = { (float)s->lr, (float)o->beta1, (float)o->beta2, (float)o->eps,
                         decay ? (float)o->b.weight_decay : 0.0f, ADAM_DECOUPLED, s->step };
    return s->run_update(s->engine, CV_OP_ADAM_UPDATE, &p, sizeof p, offset, count, err);
}

static int adam_step(void *self, const cv_optim_step *s, cv_error *err) {
    adam *o = self;
    int rc = optim_check_step(&o->b, s, err);
    return rc != CV_OK ? rc : optim_for_each_run(o, &o->b, s, adam_run, err);
}

static const cv_option_desc adam_options[] = {
    CV_OPT_FLOAT_RANGE("beta1", "0.9", 0, 0.999999, "decay of the first moment"),
    CV_OPT_FLOAT_RANGE("beta2", "0.98", 0, 0.999999999, "decay of the second moment"),
    CV_OPT_FLOAT_RANGE("eps", "1e-8", 0, 1, "added to the root of the second moment"),
    OPTIM_COMMON_OPTIONS,
    CV_OPT_END,
};

static const cv_optimizer_vtable adam_vtable = { sizeof(cv_optimizer_vtable), 2, 0, adam_step };

static const cv_component_desc adam_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_OPTIMIZER, ADAM_NAME, "any", ADAM_SUMMARY,
    adam_options, adam_create, adam_destroy, NULL, NULL, &adam_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &adam_desc, err); }
