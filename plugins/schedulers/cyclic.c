/* plugins/schedulers/cyclic.c — CVNets' cyclic schedule (Mehta et al., ESPNetv2):
 * total_cycles - 1 cycles of epochs_per_cycle epochs each, in which the rate jumps
 * to max_lr = min_lr * epochs_per_cycle and falls linearly back to min_lr (epoch
 * e of the run uses entry e % epochs_per_cycle of [min, max, ..., > min]); at each
 * epoch in `steps` both bounds shrink by gamma^(position in steps + 1), as CVNets
 * does; the remaining epochs anneal from min_lr to last_cycle_end_lr, linearly or
 * by a cosine.  Everything is a pure function of the epoch (resumes exactly). */
#include <math.h>
#include <string.h>
#include "sched_common.h"

#define MAX_STEPS 64

static const char *const cyclic_last_types[] = { "linear", "cosine", NULL };

typedef struct cyclic {
    sched_common c;
    double min_lr, end_lr, gamma;
    int64_t cycle_length, n_cycles;
    int cosine_last;
    int n_steps;
    int64_t steps[MAX_STEPS];
} cyclic;

static int cyclic_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    cyclic *s = h->alloc_array(1, sizeof *s);
    if (!s) return h->set_error(err, CV_ERR_NOMEM, "scheduler/cyclic: out of memory");
    int rc = sched_common_init(&s->c, a, "cyclic", err);
    if (rc != CV_OK) { h->free(s); return rc; }
    s->min_lr = sched_opt_f(h, a->opts, "min_lr", 0.1);
    s->end_lr = sched_opt_f(h, a->opts, "last_cycle_end_lr", 1e-3);
    s->gamma = sched_opt_f(h, a->opts, "gamma", 0.5);
    s->cycle_length = sched_opt_i(h, a->opts, "epochs_per_cycle", 5);
    s->n_cycles = sched_opt_i(h, a->opts, "total_cycles", 11) - 1;
    const cv_value *t = sched_opt(h, a->opts, "last_cycle_type");
    s->cosine_last = t && strcmp(t->s, "cosine") == 0;
    if (s->min_lr < s->end_lr) {
        rc = h->set_error(err, CV_ERR_INVALID, "scheduler/cyclic: min_lr (%g) must not be below last_cycle_end_lr (%g)",
                          s->min_lr, s->end_lr);
        h->free(s);
        return rc;
    }
    const cv_value *st = sched_opt(h, a->opts, "steps");
    if (st) {
        for (int i = 0; i < st->count && s->n_steps < MAX_STEPS; i++) s->steps[s->n_steps++] = st->ints[i];
    } else {
        s->gamma = 1.0; /* no steps: CVNets steps at max_epochs with gamma 1, i.e. never */
    }
    *self = s;
    return CV_OK;
}

static void cyclic_destroy(void *self) {
    cyclic *s = self;
    if (s) s->c.host->free(s);
}

/* the shrink factor in force at epoch e (steps at or before e, capped at the end of the cycles) */
static double cyclic_factor(const cyclic *s, int64_t e) {
    double f = 1.0;
    for (int i = 0; i < s->n_steps; i++) {
        int first = 1; /* CVNets' list.index: the first occurrence decides the exponent */
        for (int j = 0; j < i; j++) first &= s->steps[j] != s->steps[i];
        if (first && s->steps[i] <= e) f *= pow(s->gamma, (double)(i + 1));
    }
    return f;
}

static double cyclic_lr(void *self, const cv_sched_point *p) {
    cyclic *s = self;
    double lr;
    if (sched_warmup(&s->c, p, s->min_lr, &lr)) return sched_finish(lr);
    int64_t cyclic_epochs = s->cycle_length * s->n_cycles;
    int64_t max_epochs = sched_max_epochs(&s->c, p);
    int64_t e = p->epoch;
    double f = cyclic_factor(s, e < cyclic_epochs ? e : cyclic_epochs);
    double lo = s->min_lr * f, hi = s->min_lr * (double)s->cycle_length * f;
    if (e <= cyclic_epochs) {
        /* numpy.linspace(hi, lo, L, float32) rotated right by one */
        int64_t idx = e % s->cycle_length, L = s->cycle_length;
        int64_t k = idx == 0 ? L - 1 : idx - 1;
        double v = (k == L - 1) ? lo : hi + (double)k * ((lo - hi) / (double)(L - 1));
        return sched_finish((double)(float)v);
    }
    int64_t last_epochs = max_epochs - cyclic_epochs;
    if (s->cosine_last) {
        double period = (double)(max_epochs - cyclic_epochs + 1);
        lr = s->end_lr + 0.5 * (lo - s->end_lr) * (1.0 + cos(M_PI * (double)(e - cyclic_epochs) / period));
    } else {
        double step = last_epochs > 0 ? (lo - s->end_lr) / (double)last_epochs : 0.0;
        lr = lo - (double)(e - cyclic_epochs + 1) * step;
    }
    return sched_finish(lr);
}

static int cyclic_save(void *self, cv_state_writer *w, cv_error *err) { return sched_common_save(&((cyclic *)self)->c, w, err); }
static int cyclic_load(void *self, cv_state_reader *r, cv_error *err) { return sched_common_load(&((cyclic *)self)->c, r, err); }

static const cv_option_desc cyclic_options[] = {
    CV_OPT_FLOAT_RANGE("min_lr", "0.1", 0, 1e6, "lowest rate of a cycle (the highest is min_lr * epochs_per_cycle)"),
    CV_OPT_FLOAT_RANGE("last_cycle_end_lr", "1e-3", 0, 1e6, "rate at the end of the last (annealing) cycle"),
    CV_OPT_INT_RANGE("total_cycles", "11", 1, 1e6, "number of cycles, the last (annealing) one included"),
    CV_OPT_INT_RANGE("epochs_per_cycle", "5", 1, 1e6, "epochs in each cycle"),
    CV_OPT_INT_LIST_("steps", NULL, 0, 1e9, 0, MAX_STEPS, "epochs at which both cycle bounds shrink by gamma"),
    CV_OPT_FLOAT_RANGE("gamma", "0.5", 0, 1e6, "shrink factor at each step epoch"),
    CV_OPT_ENUM_("last_cycle_type", "linear", cyclic_last_types, "annealing in the last cycle"),
    SCHED_COMMON_OPTIONS,
    CV_OPT_END,
};

static const cv_scheduler_vtable cyclic_vtable = { sizeof(cv_scheduler_vtable), cyclic_lr };

static const cv_component_desc cyclic_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_SCHEDULER, "cyclic", "any",
    "CVNets cyclic schedule (ESPNetv2): linear cycles, then a linear or cosine last cycle",
    cyclic_options, cyclic_create, cyclic_destroy, cyclic_save, cyclic_load, &cyclic_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &cyclic_desc, err); }
