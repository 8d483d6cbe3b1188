/* plugins/transforms/horizontal_flip.c — torchvision's RandomHorizontalFlip: mirror
 * the sample left-right with probability p (image, mask and boxes). */
#include "transform_common.h"

#define WHO "transform/horizontal_flip"

typedef struct hflip {
    const cv_host *host;
    double p;
} hflip;

static int hflip_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    hflip *t = h->alloc_array(1, sizeof *t);
    if (!t) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
    t->host = h;
    t->p = tc_f(h, a->opts, "p", 0.5);
    *self = t;
    return CV_OK;
}

static void hflip_destroy(void *self) {
    hflip *t = self;
    if (t) t->host->free(t);
}

static int hflip_apply(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err) {
    hflip *t = self;
    int rc = tc_check(t->host, s, ctx, 0, WHO, err);
    if (rc != CV_OK) return rc;
    if (!ctx) return t->host->set_error(err, CV_ERR_INVALID, WHO ": no transform context (rng)");
    if (!(t->host->rng_uniform(&ctx->rng) < t->p)) return CV_OK;
    cv_image_hflip(&s->image);
    if (s->mask.data) cv_image_hflip(&s->mask);
    float w = (float)s->image.w;
    for (int i = 0; s->boxes && i < s->num_boxes; i++) {
        float *b = s->boxes + 4 * i, x0 = b[0];
        b[0] = w - b[2];
        b[2] = w - x0;
    }
    return CV_OK;
}

static const cv_option_desc hflip_options[] = {
    CV_OPT_FLOAT_RANGE("p", "0.5", 0, 1, "probability of flipping"),
    CV_OPT_END,
};

static const cv_transform_vtable hflip_vtable = { sizeof(cv_transform_vtable), 0, 0, hflip_apply, NULL };
TC_DESC(hflip_desc, "horizontal_flip", "mirror left-right with probability p (torchvision RandomHorizontalFlip)",
        hflip_options, hflip_create, hflip_destroy, &hflip_vtable);

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &hflip_desc, err); }
