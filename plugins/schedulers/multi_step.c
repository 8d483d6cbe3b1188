/* plugins/schedulers/multi_step.c — step decay: after warmup the rate is
 * lr * gamma^k, k = the number of milestone epochs <= the current epoch.
 * CVNets applies each milestone when it first sees that epoch after warmup; as a
 * pure function of the epoch this gives the same rates whenever warmup ends before
 * the first milestone, and resumes exactly without saving anything extra. */
#include <math.h>
#include "sched_common.h"

#define MAX_MILESTONES 64

typedef struct multi_step {
    sched_common c;
    double lr, gamma;
    int n_milestones;
    int64_t milestones[MAX_MILESTONES];
} multi_step;

static int ms_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    multi_step *s = h->alloc_array(1, sizeof *s);
    if (!s) return h->set_error(err, CV_ERR_NOMEM, "scheduler/multi_step: out of memory");
    int rc = sched_common_init(&s->c, a, "multi_step", err);
    if (rc != CV_OK) { h->free(s); return rc; }
    s->lr = sched_opt_f(h, a->opts, "lr", 0.1);
    s->gamma = sched_opt_f(h, a->opts, "gamma", 0.1);
    const cv_value *m = sched_opt(h, a->opts, "milestones");
    if (m) {
        /* duplicates count once, as CVNets' sorted(set(milestones)) */
        for (int i = 0; i < m->count; i++) {
            int dup = 0;
            for (int j = 0; j < s->n_milestones; j++) dup |= s->milestones[j] == m->ints[i];
            if (dup) continue;
            if (s->n_milestones == MAX_MILESTONES) {
                h->free(s);
                return h->set_error(err, CV_ERR_INVALID, "scheduler/multi_step: milestones has more than %d epochs",
                                    MAX_MILESTONES);
            }
            s->milestones[s->n_milestones++] = m->ints[i];
        }
    }
    *self = s;
    return CV_OK;
}

static void ms_destroy(void *self) {
    multi_step *s = self;
    if (s) s->c.host->free(s);
}

static double ms_lr(void *self, const cv_sched_point *p) {
    multi_step *s = self;
    double lr;
    if (sched_warmup(&s->c, p, s->lr, &lr)) return sched_finish(lr);
    lr = s->lr;
    for (int i = 0; i < s->n_milestones; i++)
        if (s->milestones[i] <= p->epoch) lr *= s->gamma;
    return sched_finish(lr);
}

static int ms_save(void *self, cv_state_writer *w, cv_error *err) { return sched_common_save(&((multi_step *)self)->c, w, err); }
static int ms_load(void *self, cv_state_reader *r, cv_error *err) { return sched_common_load(&((multi_step *)self)->c, r, err); }

static const cv_option_desc ms_options[] = {
    CV_OPT_FLOAT_RANGE("lr", "0.1", 0, 1e6, "learning rate after warmup, before the first milestone"),
    CV_OPT_FLOAT_RANGE("gamma", "0.1", 0, 1e6, "factor applied at each milestone"),
    CV_OPT_INT_LIST_("milestones", NULL, 0, 1e9, 0, MAX_MILESTONES, "epochs (0-based) at which the rate is multiplied by gamma"),
    SCHED_COMMON_OPTIONS,
    CV_OPT_END,
};

static const cv_scheduler_vtable ms_vtable = { sizeof(cv_scheduler_vtable), ms_lr };

static const cv_component_desc ms_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_SCHEDULER, "multi_step", "any",
    "step decay by gamma at milestone epochs, with linear warmup",
    ms_options, ms_create, ms_destroy, ms_save, ms_load, &ms_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &ms_desc, err); }
