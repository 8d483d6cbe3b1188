/* plugins/optimizers/sgd.c — SGD with momentum (PyTorch semantics, which CVNets
 * uses): g += wd p; buf = momentum buf + (1 - dampening) g; p -= lr (g + momentum
 * buf) with nesterov, else p -= lr buf.  The arithmetic is the backend's
 * CV_OP_SGD_UPDATE kernel; this plugin picks parameters and decay per run.
 * PyTorch sets the buffer to the first gradient undamped; the kernel's buffer
 * starts at zero, so step 1 runs with dampening 0 to give the same value. */
#include "optim_common.h"

typedef struct sgd {
    optim_base b;
    double momentum, dampening;
    int nesterov;
} sgd;

static int sgd_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    sgd *o = h->alloc_array(1, sizeof *o);
    if (!o) return h->set_error(err, CV_ERR_NOMEM, "optimizer/sgd: out of memory");
    optim_base_init(&o->b, a, "sgd");
    o->momentum = optim_opt_f(h, a->opts, "momentum", 0.9);
    o->dampening = optim_opt_f(h, a->opts, "dampening", 0.0);
    o->nesterov = (int)optim_opt_i(h, a->opts, "nesterov", 0);
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0)) {
        int rc = h->set_error(err, CV_ERR_INVALID,
                              "optimizer/sgd: nesterov = true needs momentum > 0 and dampening = 0 (got momentum %g, "
                              "dampening %g)", o->momentum, o->dampening);
        h->free(o);
        return rc;
    }
    *self = o;
    return CV_OK;
}

static void sgd_destroy(void *self) {
    sgd *o = self;
    if (o) o->b.host->free(o);
}

static int sgd_run(void *self, const cv_optim_step *s, int decay, int64_t offset, int64_t count, cv_error *err) {
    sgd *o = self;
    cv_sgd_params p = { (float)s->lr, (float)o->momentum, s->step == 1 ? 0.0f : (float)o->dampening,
                        decay ? (float)o->b.weight_decay : 0.0f, o->nesterov };
    return s->run_update(s->engine, CV_OP_SGD_UPDATE, &p, sizeof p, offset, count, err);
}

static int sgd_step(void *self, const cv_optim_step *s, cv_error *err) {
    sgd *o = self;
    int rc = optim_check_step(&o->b, s, err);
    return rc != CV_OK ? rc : optim_for_each_run(o, &o->b, s, sgd_run, err);
}

static const cv_option_desc sgd_options[] = {
    CV_OPT_FLOAT_RANGE("momentum", "0.9", 0, 1, "momentum factor (0: plain SGD)"),
    CV_OPT_BOOL_("nesterov", "false", "Nesterov momentum"),
    CV_OPT_FLOAT_RANGE("dampening", "0", 0, 1, "dampening of the momentum"),
    OPTIM_COMMON_OPTIONS,
    CV_OPT_END,
};

static const cv_optimizer_vtable sgd_vtable = { sizeof(cv_optimizer_vtable), 1, 0, sgd_step };

static const cv_component_desc sgd_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_OPTIMIZER, "sgd", "any",
    "SGD with momentum, Nesterov, dampening and weight decay",
    sgd_options, sgd_create, sgd_destroy, NULL, NULL, &sgd_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &sgd_desc, err); }
