/* plugins/transforms/rand_augment.c — torchvision's RandAugment: num_ops times, one
 * of 14 operations picked uniformly (Identity, ShearX, ShearY, TranslateX,
 * TranslateY, Rotate, Brightness, Color, Contrast, Sharpness, Posterize, Solarize,
 * AutoContrast, Equalize) at bin `magnitude` of num_magnitude_bins, its sign
 * flipped with probability 1/2 for the signed ones.  u8 images. */
#include "transform_common.h"

#define WHO "transform/rand_augment"
#define RA_NUM_OPS 14 /* cv_aug_op values 0..13, in torchvision's order */

typedef struct randaug {
    const cv_host *host;
    int num_ops, magnitude, bins, interp, nfill;
    double fill[CV_IMAGE_MAX_CHANNELS];
} randaug;

static int randaug_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    randaug *t = h->alloc_array(1, sizeof *t);
    if (!t) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
    t->host = h;
    t->num_ops = (int)tc_i(h, a->opts, "num_ops", 2);
    t->magnitude = (int)tc_i(h, a->opts, "magnitude", 9);
    t->bins = (int)tc_i(h, a->opts, "num_magnitude_bins", 31);
    t->interp = tc_interp(h, a->opts, CV_INTERP_NEAREST);
    static const double zero = 0;
    t->nfill = tc_list(h, a->opts, "fill", t->fill, CV_IMAGE_MAX_CHANNELS, &zero, 1);
    if (t->magnitude >= t->bins) {
        int rc = h->set_error(err, CV_ERR_INVALID, WHO ": magnitude %d must be below num_magnitude_bins (%d)",
                              t->magnitude, t->bins);
        h->free(t);
        return rc;
    }
    *self = t;
    return CV_OK;
}

static void randaug_destroy(void *self) {
    randaug *t = self;
    if (t) t->host->free(t);
}

static int randaug_apply(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err) {
    randaug *t = self;
    const cv_host *h = t->host;
    int rc = tc_check(h, s, ctx, 0, WHO, err);
    if (rc != CV_OK) return rc;
    if (!ctx) return h->set_error(err, CV_ERR_INVALID, WHO ": no transform context (rng)");
    if (s->image.dtype != CV_U8)
        return h->set_error(err, CV_ERR_INVALID, WHO ": needs a u8 image; put rand_augment before normalize");
    double fill[CV_IMAGE_MAX_CHANNELS];
    rc = tc_fill_for(h, t->fill, t->nfill, &s->image, fill, WHO, err);
    for (int i = 0; i < t->num_ops && rc == CV_OK; i++) {
        int op = tc_randint(h, &ctx->rng, RA_NUM_OPS), is_signed = 0;
        double m = cv_aug_magnitude(0, op, t->magnitude, t->bins, s->image.h, s->image.w, &is_signed);
        if (is_signed && tc_randint(h, &ctx->rng, 2)) m = -m;
        rc = cv_aug_apply(h, &s->image, op, m, t->interp, fill, WHO, err);
    }
    return rc;
}

static const cv_option_desc randaug_options[] = {
    CV_OPT_INT_RANGE("num_ops", "2", 0, 64, "operations applied one after the other"),
    CV_OPT_INT_RANGE("magnitude", "9", 0, 1000, "magnitude bin of every operation"),
    CV_OPT_INT_RANGE("num_magnitude_bins", "31", 2, 1001, "number of magnitude bins"),
    CV_OPT_ENUM_("interpolation", "nearest", cv_interp_names, "filter of the geometric operations"),
    CV_OPT_FLOAT_LIST_("fill", "0", 0, 255, 1, CV_IMAGE_MAX_CHANNELS, "value of pixels uncovered by a warp (1 or per channel)"),
    CV_OPT_END,
};

static const cv_transform_vtable randaug_vtable = { sizeof(cv_transform_vtable), 0, 0, randaug_apply, NULL };
TC_DESC(randaug_desc, "rand_augment", "torchvision RandAugment (num_ops 2, magnitude 9 of 31 bins)", randaug_options,
        randaug_create, randaug_destroy, &randaug_vtable);

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &randaug_desc, err); }
