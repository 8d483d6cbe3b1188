/* plugins/schedulers/fixed.c — a constant learning rate after linear warmup. */
#include "sched_common.h"

typedef struct fixed {
    sched_common c;
    double lr;
} fixed;

static int fixed_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    fixed *s = h->alloc_array(1, sizeof *s);
    if (!s) return h->set_error(err, CV_ERR_NOMEM, "scheduler/fixed: out of memory");
    int rc = sched_common_init(&s->c, a, "fixed", err);
    if (rc != CV_OK) { h->free(s); return rc; }
    s->lr = sched_opt_f(h, a->opts, "lr", 0.1);
    *self = s;
    return CV_OK;
}

static void fixed_destroy(void *self) {
    fixed *s = self;
    if (s) s->c.host->free(s);
}

static double fixed_lr(void *self, const cv_sched_point *p) {
    fixed *s = self;
    double lr;
    if (sched_warmup(&s->c, p, s->lr, &lr)) return sched_finish(lr);
    return sched_finish(s->lr);
}

static int fixed_save(void *self, cv_state_writer *w, cv_error *err) { return sched_common_save(&((fixed *)self)->c, w, err); }
static int fixed_load(void *self, cv_state_reader *r, cv_error *err) { return sched_common_load(&((fixed *)self)->c, r, err); }

static const cv_option_desc fixed_options[] = {
    CV_OPT_FLOAT_RANGE("lr", "0.1", 0, 1e6, "the learning rate"),
    SCHED_COMMON_OPTIONS,
    CV_OPT_END,
};

static const cv_scheduler_vtable fixed_vtable = { sizeof(cv_scheduler_vtable), fixed_lr };

static const cv_component_desc fixed_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_SCHEDULER, "fixed", "any",
    "constant learning rate with linear warmup",
    fixed_options, fixed_create, fixed_destroy, fixed_save, fixed_load, &fixed_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &fixed_desc, err); }
