/* plugins/schedulers/sched_common.h — what every learning-rate scheduler shares:
 * the warmup options, linear warmup from warmup_init_lr, the period overrides
 * (max_epochs / max_iterations) and CVNets' rounding of the rate to 8 places.
 *
 * Header-only (static inline) because each scheduler is its own .so and
 * plugins link nothing from each other or from the host. */
#ifndef CV_PLUGINS_SCHED_COMMON_H
#define CV_PLUGINS_SCHED_COMMON_H

#include <math.h>
#include <string.h>
#include <cvnets/cvnets.h>

/* Schema entries every scheduler accepts; put them before CV_OPT_END. */
#define SCHED_COMMON_OPTIONS                                                                          \
    CV_OPT_FLOAT_RANGE("warmup_init_lr", "1e-7", 0, 1e6, "learning rate at iteration 0 of the linear warmup"), \
    CV_OPT_INT_RANGE("warmup_iterations", "0", 0, 1e12, "optimizer iterations of linear warmup (0: none)"),    \
    CV_OPT_FLOAT_RANGE("warmup_epochs", NULL, 0, 1e6,                                                   \
                       "warmup length in epochs instead of iterations, converted with the run's "     \
                       "iterations per epoch (max_iterations / max_epochs)"),                          \
    CV_OPT_INT_RANGE("max_epochs", NULL, 1, 1e9, "override the run's number of epochs for the schedule"), \
    CV_OPT_INT_RANGE("max_iterations", NULL, 1, 1e12,                                                   \
                     "override the run's estimated number of iterations for the schedule"),            \
    CV_OPT_BOOL_("adjust_period_for_epochs", "false",                                                  \
                 "epoch-based decay starts after the epoch in which warmup ended (CVNets' "           \
                 "scheduler.adjust_period_for_epochs)")

typedef struct sched_common {
    const cv_host *host;
    double warmup_init_lr;
    int64_t warmup_iterations;
    double warmup_epochs;       /* < 0: not set */
    int64_t max_epochs;         /* 0: take the run's */
    int64_t max_iterations;     /* 0: take the run's */
    int adjust_period;
    int64_t warmup_last_epoch;  /* last epoch seen inside warmup (state) */
} sched_common;

static inline const cv_value *sched_opt(const cv_host *h, const cv_options *o, const char *key) {
    const cv_value *v = h->opt(o, key);
    return v && v->is_set ? v : NULL;
}
static inline double sched_opt_f(const cv_host *h, const cv_options *o, const char *key, double dflt) {
    const cv_value *v = sched_opt(h, o, key);
    return v ? v->f : dflt;
}
static inline int64_t sched_opt_i(const cv_host *h, const cv_options *o, const char *key, int64_t dflt) {
    const cv_value *v = sched_opt(h, o, key);
    return v ? v->i : dflt;
}

static inline int sched_common_init(sched_common *c, const cv_create_args *a, const char *who, cv_error *err) {
    const cv_host *h = a->host;
    memset(c, 0, sizeof *c);
    c->host = h;
    c->warmup_init_lr = sched_opt_f(h, a->opts, "warmup_init_lr", 1e-7);
    c->warmup_iterations = sched_opt_i(h, a->opts, "warmup_iterations", 0);
    c->warmup_epochs = sched_opt_f(h, a->opts, "warmup_epochs", -1.0);
    c->max_epochs = sched_opt_i(h, a->opts, "max_epochs", 0);
    c->max_iterations = sched_opt_i(h, a->opts, "max_iterations", 0);
    c->adjust_period = (int)sched_opt_i(h, a->opts, "adjust_period_for_epochs", 0);
    if (c->warmup_epochs >= 0 && c->warmup_iterations > 0)
        return h->set_error(err, CV_ERR_INVALID,
                            "scheduler/%s: set either warmup_iterations (%lld) or warmup_epochs (%g), not both",
                            who, (long long)c->warmup_iterations, c->warmup_epochs);
    return CV_OK;
}

static inline int64_t sched_max_epochs(const sched_common *c, const cv_sched_point *p) {
    int64_t m = c->max_epochs > 0 ? c->max_epochs : p->max_epochs;
    return m > 0 ? m : 1;
}
static inline int64_t sched_max_iterations(const sched_common *c, const cv_sched_point *p) {
    int64_t m = c->max_iterations > 0 ? c->max_iterations : p->max_iterations;
    return m > 0 ? m : 1;
}

/* Warmup length in iterations: warmup_epochs converts with the run's mean
 * iterations per epoch, because multi-scale epochs have varying lengths and only
 * the estimate is known up front. */
static inline int64_t sched_warmup_iters(const sched_common *c, const cv_sched_point *p) {
    if (c->warmup_epochs < 0) return c->warmup_iterations;
    double per_epoch = (double)sched_max_iterations(c, p) / (double)sched_max_epochs(c, p);
    return (int64_t)ceil(c->warmup_epochs * per_epoch - 1e-9);
}

/* 1 and *lr set while p is inside warmup, which ramps linearly from
 * warmup_init_lr at iteration 0 towards target (reached at iteration W). */
static inline int sched_warmup(sched_common *c, const cv_sched_point *p, double target, double *lr) {
    int64_t w = sched_warmup_iters(c, p);
    if (p->iteration >= w) return 0;
    if (p->epoch > c->warmup_last_epoch) c->warmup_last_epoch = p->epoch;
    *lr = c->warmup_init_lr + (double)p->iteration * ((target - c->warmup_init_lr) / (double)w);
    return 1;
}

/* CVNets' epoch-based decay, optionally shifted to start after the warmup epoch:
 * the (numerator, denominator) adjustments of its adjust_period_for_epochs. */
static inline void sched_epoch_adjust(const sched_common *c, double *num, double *den) {
    *num = c->adjust_period ? (double)c->warmup_last_epoch + 1.0 : 0.0;
    *den = c->adjust_period ? (double)c->warmup_last_epoch : 0.0;
}

/* CVNets rounds the rate to 8 decimal places before handing it to the optimizer,
 * and never lets it go negative. */
static inline double sched_finish(double lr) {
    if (!(lr > 0.0)) return 0.0;
    return round(lr * 1e8) / 1e8;
}

/* Only the warmup bookkeeping is state; the rest is a pure function of the point. */
static inline int sched_common_save(const sched_common *c, cv_state_writer *w, cv_error *err) {
    return c->host->state_write(w, "warmup_last_epoch", &c->warmup_last_epoch, sizeof c->warmup_last_epoch, err);
}
static inline int sched_common_load(sched_common *c, cv_state_reader *r, cv_error *err) {
    return c->host->state_read(r, "warmup_last_epoch", &c->warmup_last_epoch, sizeof c->warmup_last_epoch, err);
}

#endif
