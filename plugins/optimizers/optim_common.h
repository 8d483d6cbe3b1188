/* plugins/optimizers/optim_common.h — what every optimizer plugin shares: the
 * weight-decay options, which segments decay, and walking the parameter segments
 * as few, long runs (contiguous segments with the same decay go to the backend as
 * one update call, so a whole model usually costs one or two calls per step).
 *
 * Header-only (static inline) because each optimizer is its own .so and plugins
 * link nothing from each other or from the host. */
#ifndef CV_PLUGINS_OPTIM_COMMON_H
#define CV_PLUGINS_OPTIM_COMMON_H

#include <math.h>
#include <cvnets/cvnets.h>

/* Schema entries every optimizer accepts (CVNets' optim.weight_decay default). */
#define OPTIM_COMMON_OPTIONS                                                                          \
    CV_OPT_FLOAT_RANGE("weight_decay", "4e-5", 0, 10, "weight decay (L2 penalty, or decoupled for adamw/lamb)"), \
    CV_OPT_BOOL_("no_decay_bn_filter_bias", "false",                                                   \
                 "no weight decay on normalisation parameters and biases (CV_TAG_NORM / CV_TAG_BIAS)")

typedef struct optim_base {
    const cv_host *host;
    const char *name;
    double weight_decay;
    int no_decay_bn_filter_bias;
} optim_base;

static inline const cv_value *optim_opt(const cv_host *h, const cv_options *o, const char *key) {
    const cv_value *v = h->opt(o, key);
    return v && v->is_set ? v : NULL;
}
static inline double optim_opt_f(const cv_host *h, const cv_options *o, const char *key, double dflt) {
    const cv_value *v = optim_opt(h, o, key);
    return v ? v->f : dflt;
}
static inline int64_t optim_opt_i(const cv_host *h, const cv_options *o, const char *key, int64_t dflt) {
    const cv_value *v = optim_opt(h, o, key);
    return v ? v->i : dflt;
}

static inline void optim_base_init(optim_base *b, const cv_create_args *a, const char *name) {
    b->host = a->host;
    b->name = name;
    b->weight_decay = optim_opt_f(a->host, a->opts, "weight_decay", 4e-5);
    b->no_decay_bn_filter_bias = (int)optim_opt_i(a->host, a->opts, "no_decay_bn_filter_bias", 0);
}

/* 1 when weight decay applies to this segment: never for CV_TAG_NO_DECAY (class
 * tokens, positional embeddings), not for norm parameters and biases when
 * no_decay_bn_filter_bias is set, and never when weight_decay is 0 (so every
 * segment is in one class and the runs are as long as possible). */
static inline int optim_segment_decays(const optim_base *b, const cv_param_segment *seg) {
    if (b->weight_decay == 0.0) return 0;
    if (seg->tags & CV_TAG_NO_DECAY) return 0;
    if (b->no_decay_bn_filter_bias && (seg->tags & (CV_TAG_NORM | CV_TAG_BIAS))) return 0;
    return 1;
}

/* The step is usable: callbacks present and a finite, non-negative rate. */
static inline int optim_check_step(const optim_base *b, const cv_optim_step *s, cv_error *err) {
    if (!s || s->struct_size < sizeof(cv_optim_step) || !s->run_update || (s->n_segments > 0 && !s->segments))
        return b->host->set_error(err, CV_ERR_ABI, "optimizer/%s: incomplete cv_optim_step (struct_size %u)", b->name,
                                  s ? s->struct_size : 0u);
    if (!isfinite(s->lr) || s->lr < 0)
        return b->host->set_error(err, CV_ERR_NUMERIC, "optimizer/%s: learning rate %g at step %lld is not a finite "
                                  "non-negative number", b->name, s->lr, (long long)s->step);
    if (s->step < 1)
        return b->host->set_error(err, CV_ERR_INVALID, "optimizer/%s: step %lld (steps are 1-based)", b->name,
                                  (long long)s->step);
    return CV_OK;
}

/* Called once per run of segments: [offset, offset + count) all decay or all do not. */
typedef int (*optim_run_fn)(void *self, const cv_optim_step *s, int decay, int64_t offset, int64_t count,
                            cv_error *err);

/* Merges neighbouring segments (the next starts where the previous ended) with the
 * same decay class into one run.  Empty segments and buffers are skipped. */
static inline int optim_for_each_run(void *self, const optim_base *b, const cv_optim_step *s, optim_run_fn fn,
                                     cv_error *err) {
    int64_t run_off = 0, run_cnt = 0;
    int run_decay = 0, have = 0;
    for (int i = 0; i < s->n_segments; i++) {
        const cv_param_segment *seg = &s->segments[i];
        if (seg->count <= 0 || (seg->tags & CV_TAG_BUFFER)) continue;
        int decay = optim_segment_decays(b, seg);
        if (have && decay == run_decay && seg->offset == run_off + run_cnt) {
            run_cnt += seg->count;
            continue;
        }
        if (have) {
            int rc = fn(self, s, run_decay, run_off, run_cnt, err);
            if (rc != CV_OK) return rc;
        }
        have = 1;
        run_off = seg->offset;
        run_cnt = seg->count;
        run_decay = decay;
    }
    return have ? fn(self, s, run_decay, run_off, run_cnt, err) : CV_OK;
}

#endif
