/* plugins/transforms/cutmix.c — CutMix as torchvision's references (RandomCutmix):
 * with probability p, lambda ~ Beta(alpha, alpha); a box centred at a uniform
 * pixel with half sides int(r * W), int(r * H), r = sqrt(1 - lambda) / 2, clipped
 * to the image, is pasted from each image's predecessor in the batch (rolled by
 * one); lambda becomes 1 - box area / image area and mixes the soft labels.  With
 * pair_with_other it shares batches with mixup (see transform_common.h). */
#include "transform_common.h"

#define WHO "transform/cutmix"

typedef struct cutmix {
    const cv_host *host;
    double alpha, p;
    int paired;
} cutmix;

static int cutmix_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    cutmix *t = h->alloc_array(1, sizeof *t);
    if (!t) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
    t->host = h;
    t->alpha = tc_f(h, a->opts, "alpha", 1.0);
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

static void cutmix_destroy(void *self) {
    cutmix *t = self;
    if (t) t->host->free(t);
}

static int cutmix_apply_batch(void *self, cv_batch *b, cv_transform_ctx *ctx, cv_error *err) {
    cutmix *t = self;
    const cv_host *h = t->host;
    int rc = tc_check_batch(h, b, ctx, WHO, err);
    if (rc != CV_OK) return rc;
    if (t->paired && (b->soft || !tc_pair_turn(h, ctx, 1))) return CV_OK; /* never on top of the other */
    if (h->rng_uniform(&ctx->rng) >= t->p) return CV_OK;
    double lam = tc_beta(h, &ctx->rng, t->alpha, t->alpha);
    int W = b->w, H = b->h;
    int rx = tc_randint(h, &ctx->rng, W), ry = tc_randint(h, &ctx->rng, H);
    double r = 0.5 * sqrt(1.0 - lam);
    int rw = (int)(r * W), rh = (int)(r * H);
    int x1 = rx - rw < 0 ? 0 : rx - rw, y1 = ry - rh < 0 ? 0 : ry - rh;
    int x2 = rx + rw > W ? W : rx + rw, y2 = ry + rh > H ? H : ry + rh;
    if (x2 > x1 && y2 > y1) {
        size_t plane = (size_t)H * W, per = plane * b->c, bw = (size_t)(x2 - x1);
        float *last = h->alloc((size_t)b->c * (y2 - y1) * bw * sizeof(float));
        if (!last) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
        const float *src = b->images + (size_t)(b->n - 1) * per;
        for (int c = 0; c < b->c; c++)
            for (int y = y1; y < y2; y++)
                memcpy(last + ((size_t)c * (y2 - y1) + (y - y1)) * bw, src + c * plane + (size_t)y * W + x1, bw * sizeof(float));
        for (int i = b->n - 1; i >= 0; i--) {
            float *d = b->images + (size_t)i * per;
            for (int c = 0; c < b->c; c++)
                for (int y = y1; y < y2; y++) {
                    const float *o = i > 0 ? d - per + c * plane + (size_t)y * W + x1
                                           : last + ((size_t)c * (y2 - y1) + (y - y1)) * bw;
                    memcpy(d + c * plane + (size_t)y * W + x1, o, bw * sizeof(float));
                }
        }
        h->free(last);
    }
    lam = 1.0 - (double)(x2 - x1) * (y2 - y1) / ((double)W * H);
    return tc_mix_labels(h, b, lam, WHO, err);
}

static const cv_option_desc cutmix_options[] = {
    CV_OPT_FLOAT_RANGE("alpha", "1.0", 1e-6, 1e6, "Beta(alpha, alpha) concentration"),
    CV_OPT_FLOAT_RANGE("p", "1.0", 0, 1, "probability of mixing a batch (once chosen)"),
    CV_OPT_BOOL_("pair_with_other", "false", "true when mixup is also listed: one of the two per batch, 50/50"),
    CV_OPT_END,
};

static const cv_transform_vtable cutmix_vtable = { sizeof(cv_transform_vtable), 1, 0, NULL, cutmix_apply_batch };
TC_DESC(cutmix_desc, "cutmix", "CutMix of the batch with itself rolled by one (torchvision references RandomCutmix)",
        cutmix_options, cutmix_create, cutmix_destroy, &cutmix_vtable);

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &cutmix_desc, err); }
