/* plugins/schedulers/cosine.c — cosine annealing (Loshchilov & Hutter) with CVNets'
 * semantics: after W warmup iterations, iteration-based
 *     lr = min + 0.5 (max - min) (1 + cos(pi t / T)),  t = it - W,  T = max_iterations - W + 1
 * or epoch-based with t = epoch (minus the warmup epoch when adjust_period_for_epochs)
 * and T = max_epochs. */
#include <math.h>
#include "sched_common.h"

typedef struct cosine {
    sched_common c;
    double min_lr, max_lr;
    int iteration_based;
} cosine;

static int cosine_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    cosine *s = h->alloc_array(1, sizeof *s);
    if (!s) return h->set_error(err, CV_ERR_NOMEM, "scheduler/cosine: out of memory");
    int rc = sched_common_init(&s->c, a, "cosine", err);
    if (rc != CV_OK) { h->free(s); return rc; }
    s->min_lr = sched_opt_f(h, a->opts, "min_lr", 1e-5);
    s->max_lr = sched_opt_f(h, a->opts, "max_lr", 0.1);
    s->iteration_based = (int)sched_opt_i(h, a->opts, "is_iteration_based", 1);
    if (s->min_lr > s->max_lr) {
        rc = h->set_error(err, CV_ERR_INVALID, "scheduler/cosine: min_lr (%g) is above max_lr (%g)", s->min_lr,
                          s->max_lr);
        h->free(s);
        return rc;
    }
    *self = s;
    return CV_OK;
}

static void cosine_destroy(void *self) {
    cosine *s = self;
    if (s) s->c.host->free(s);
}

static double cosine_lr(void *self, const cv_sched_point *p) {
    cosine *s = self;
    double lr;
    if (sched_warmup(&s->c, p, s->max_lr, &lr)) return sched_finish(lr);
    double t, period;
    if (s->iteration_based) {
        int64_t w = sched_warmup_iters(&s->c, p);
        t = (double)(p->iteration - w);
        period = (double)(sched_max_iterations(&s->c, p) - w + 1);
    } else {
        double num, den;
        sched_epoch_adjust(&s->c, &num, &den);
        t = (double)p->epoch - num;
        period = (double)sched_max_epochs(&s->c, p) - den;
    }
    if (period <= 0) period = 1;
    lr = s->min_lr + 0.5 * (s->max_lr - s->min_lr) * (1.0 + cos(M_PI * t / period));
    return sched_finish(lr);
}

static int cosine_save(void *self, cv_state_writer *w, cv_error *err) { return sched_common_save(&((cosine *)self)->c, w, err); }
static int cosine_load(void *self, cv_state_reader *r, cv_error *err) { return sched_common_load(&((cosine *)self)->c, r, err); }

static const cv_option_desc cosine_options[] = {
    CV_OPT_FLOAT_RANGE("max_lr", "0.1", 0, 1e6, "learning rate at the end of warmup (start of the cosine)"),
    CV_OPT_FLOAT_RANGE("min_lr", "1e-5", 0, 1e6, "learning rate at the end of the schedule"),
    CV_OPT_BOOL_("is_iteration_based", "true", "anneal per optimizer iteration (true) or per epoch (false)"),
    SCHED_COMMON_OPTIONS,
    CV_OPT_END,
};

static const cv_scheduler_vtable cosine_vtable = { sizeof(cv_scheduler_vtable), cosine_lr };

static const cv_component_desc cosine_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_SCHEDULER, "cosine", "any",
    "cosine annealing from max_lr to min_lr with linear warmup (CVNets semantics)",
    cosine_options, cosine_create, cosine_destroy, cosine_save, cosine_load, &cosine_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &cosine_desc, err); }
