/* plugins/optimizers/rmsprop.c — RMSprop (PyTorch semantics): g += wd p;
 * v = alpha v + (1 - alpha) g^2; d = sqrt(v) + eps, or sqrt(v + eps) with
 * eps_inside_sqrt as TensorFlow (and the MobileNet recipes) do; with momentum
 * buf = momentum buf + g / d and p -= lr buf, else p -= lr g / d.  The arithmetic
 * is the backend's CV_OP_RMSPROP_UPDATE kernel.  v starts at zero. */
#include "optim_common.h"

typedef struct rmsprop {
    optim_base b;
    double alpha, eps, momentum;
    int eps_inside_sqrt;
} rmsprop;

static int rms_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    rmsprop *o = h->alloc_array(1, sizeof *o);
    if (!o) return h->set_error(err, CV_ERR_NOMEM, "optimizer/rmsprop: out of memory");
    optim_base_init(&o->b, a, "rmsprop");
    o->alpha = optim_opt_f(h, a->opts, "alpha", 0.99);
    o->eps = optim_opt_f(h, a->opts, "eps", 1e-8);
    o->momentum = optim_opt_f(h, a->opts, "momentum", 0.0);
    o->eps_inside_sqrt = (int)optim_opt_i(h, a->opts, "eps_inside_sqrt", 0);
    *self = o;
    return CV_OK;
}

static void rms_destroy(void *self) {
    rmsprop *o = self;
    if (o) o->b.host->free(o);
}

static int rms_run(void *self, const cv_optim_step *s, int decay, int64_t offset, int64_t count, cv_error *err) {
    rmsprop *o = self;
    cv_rmsprop_params p = { (float)s->lr, (float)o->alpha, (float)o->eps, (float)o->momentum,
                            decay ? (float)o->b.weight_decay : 0.0f, o->eps_inside_sqrt };
    return s->run_update(s->engine, CV_OP_RMSPROP_UPDATE, &p, sizeof p, offset, count, err);
}

static int rms_step(void *self, const cv_optim_step *s, cv_error *err) {
    rmsprop *o = self;
    int rc = optim_check_step(&o->b, s, err);
    return rc != CV_OK ? rc : optim_for_each_run(o, &o->b, s, rms_run, err);
}

static const cv_option_desc rms_options[] = {
    CV_OPT_FLOAT_RANGE("alpha", "0.99", 0, 1, "decay of the running mean of squared gradients (TF: decay)"),
    CV_OPT_FLOAT_RANGE("eps", "1e-8", 0, 1, "added to the denominator"),
    CV_OPT_FLOAT_RANGE("momentum", "0", 0, 1, "momentum factor"),
    CV_OPT_BOOL_("eps_inside_sqrt", "false", "TensorFlow style: sqrt(v + eps) instead of sqrt(v) + eps"),
    OPTIM_COMMON_OPTIONS,
    CV_OPT_END,
};

static const cv_optimizer_vtable rms_vtable = { sizeof(cv_optimizer_vtable), 2, 0, rms_step };

static const cv_component_desc rms_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_OPTIMIZER, "rmsprop", "any",
    "RMSprop with momentum and weight decay; TensorFlow-style eps as an option",
    rms_options, rms_create, rms_destroy, NULL, NULL, &rms_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &rms_desc, err); }
