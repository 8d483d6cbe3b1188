/* plugins/schedulers/polynomial.c — polynomial decay with CVNets' semantics: after
 * W warmup iterations
 *     lr = (start_lr - end_lr) (1 - f)^power + end_lr
 * with f = (it - W) / (max_iterations - W + 1) when iteration-based, or
 * f = epoch / max_epochs (shifted by the warmup epoch with adjust_period_for_epochs). */
#include <math.h>
#include "sched_common.h"

typedef struct poly {
    sched_common c;
    double start_lr, end_lr, power;
    int iteration_based;
} poly;

static int poly_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    poly *s = h->alloc_array(1, sizeof *s);
    if (!s) return h->set_error(err, CV_ERR_NOMEM, "scheduler/polynomial: out of memory");
    int rc = sched_common_init(&s->c, a, "polynomial", err);
    if (rc != CV_OK) { h->free(s); return rc; }
    s->start_lr = sched_opt_f(h, a->opts, "start_lr", 0.1);
    s->end_lr = sched_opt_f(h, a->opts, "end_lr", 0.0);
    s->power = sched_opt_f(h, a->opts, "power", 0.9);
    s->iteration_based = (int)sched_opt_i(h, a->opts, "is_iteration_based", 0);
    *self = s;
    return CV_OK;
}

static void poly_destroy(void *self) {
    poly *s = self;
    if (s) s->c.host->free(s);
}

static double poly_lr(void *self, const cv_sched_point *p) {
    poly *s = self;
    double lr, f;
    if (sched_warmup(&s->c, p, s->start_lr, &lr)) return sched_finish(lr);
    if (s->iteration_based) {
        int64_t w = sched_warmup_iters(&s->c, p);
        f = (double)(p->iteration - w) / (double)(sched_max_iterations(&s->c, p) - w + 1);
    } else {
        double num, den;
        sched_epoch_adjust(&s->c, &num, &den);
        double period = (double)sched_max_epochs(&s->c, p) - den;
        f = ((double)p->epoch - num) / (period > 0 ? period : 1.0);
    }
    /* past the end (a longer run than planned) the rate stays at end_lr instead
     * of raising a negative base to a fractional power */
    if (f < 0) f = 0;
    if (f > 1) f = 1;
    lr = (s->start_lr - s->end_lr) * pow(1.0 - f, s->power) + s->end_lr;
    return sched_finish(lr);
}

static int poly_save(void *self, cv_state_writer *w, cv_error *err) { return sched_common_save(&((poly *)self)->c, w, err); }
static int poly_load(void *self, cv_state_reader *r, cv_error *err) { return sched_common_load(&((poly *)self)->c, r, err); }

static const cv_option_desc poly_options[] = {
    CV_OPT_FLOAT_RANGE("start_lr", "0.1", 0, 1e6, "learning rate at the end of warmup"),
    CV_OPT_FLOAT_RANGE("end_lr", "0.0", 0, 1e6, "learning rate at the end of the schedule"),
    CV_OPT_FLOAT_RANGE("power", "0.9", 0, 1e3, "polynomial power"),
    CV_OPT_BOOL_("is_iteration_based", "false", "decay per optimizer iteration (true) or per epoch (false)"),
    SCHED_COMMON_OPTIONS,
    CV_OPT_END,
};

static const cv_scheduler_vtable poly_vtable = { sizeof(cv_scheduler_vtable), poly_lr };

static const cv_component_desc poly_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_SCHEDULER, "polynomial", "any",
    "polynomial decay from start_lr to end_lr with linear warmup (CVNets semantics)",
    poly_options, poly_create, poly_destroy, poly_save, poly_load, &poly_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &poly_desc, err); }
