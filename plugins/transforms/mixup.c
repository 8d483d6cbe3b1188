/* plugins/transforms/mixup.c — MixUp as torchvision's references (RandomMixup):
 * with probability p, lambda ~ Beta(alpha, alpha) (two gammas from the batch rng)
 * and every image and soft label becomes lambda * itself + (1 - lambda) * its
 * predecessor in the batch (the batch rolled by one).  With pair_with_other, it
 * shares batches with cutmix: one of the two per batch (see transform_common.h). */
#include "transform_common.h"

#define WHO "transform/mixup"

typedef struct mixup {
    const cv_host *host;
    double alpha, p;
    int paired;
} mixup;

static int mixup_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    mixup *t = h->alloc_array(1, sizeof *t);
    if (!t) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
    t->host = h;
    t->alpha = tc_f(h, a->opts, "alpha", 0.2);
    t->p = tc_f(h, a->opts, "p", 1.0);
    t->paired = (int)tc_i(h, a->opts, "pair_with_other", 0);
    if (!(t->alpha > 0)) {
        int rc = h->set_error(err, CV_ERR_INVALID, WHO ": alpha = %g must be positive", t->alpha);
        h->free(t);
        return rc;
    }
    *self = t;
    return CV_OK;
}

static void mixup_destroy(void *self) {
    mixup *t = self;
    if (t) t->host->free(t);
}

static int mixup_apply_batch(void *self, cv_batch *b, cv_transform_ctx *ctx, cv_error *err) {
    mixup *t = self;
    const cv_host *h = t->host;
    int rc = tc_check_batch(h, b, ctx, WHO, err);
    if (rc != CV_OK) return rc;
    if (t->paired && (b->soft || !tc_pair_turn(h, ctx, 0))) return CV_OK; /* never on top of the other */
    if (h->rng_uniform(&ctx->rng) >= t->p) return CV_OK;
    double lam = tc_beta(h, &ctx->rng, t->alpha, t->alpha);
    size_t per = (size_t)b->c * b->h * b->w;
    float *last = h->alloc(per * sizeof(float));
    if (!last) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory for a %dx%dx%d image", b->c, b->h, b->w);
    memcpy(last, b->images + (size_t)(b->n - 1) * per, per * sizeof(float));
    float l = (float)lam, m = (float)(1.0 - lam);
    for (int i = b->n - 1; i >= 0; i--) {
        float *d = b->images + (size_t)i * per;
        const float *o = i > 0 ? d - per : last;
        for (size_t j = 0; j < per; j++) d[j] = d[j] * l + o[j] * m;
    }
    h->free(last);
    return tc_mix_labels(h, b, lam, WHO, err);
}

static const cv_option_desc mixup_options[] = {
    CV_OPT_FLOAT_RANGE("alpha", "0.2", 1e-6, 1e6, "Beta(alpha, alpha) concentration"),
    CV_OPT_FLOAT_RANGE("p", "1.0", 0, 1, "probability of mixing a batch (once chosen)"),
    CV_OPT_BOOL_("pair_with_other", "false", "true when cutmix is also listed: one of the two per batch, 50/50"),
    CV_OPT_END,
};

static const cv_transform_vtable mixup_vtable = { sizeof(cv_transform_vtable), 1, 0, NULL, mixup_apply_batch };
TC_DESC(mixup_desc, "mixup", "MixUp of the batch with itself rolled by one (torchvision references RandomMixup)",
        mixup_options, mixup_create, mixup_destroy, &mixup_vtable);

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &mixup_desc, err); }
