/* plugins/transforms/trivial_augment_wide.c — torchvision's TrivialAugmentWide: one
 * of the 14 RandAugment operations picked uniformly, with a uniformly drawn
 * magnitude bin of the wide space (shear 0.99, translate 32 px, rotate 135 degrees,
 * colour 0.99, posterize 8..2 bits) and a random sign.  u8 images. */
#include "transform_common.h"

#define WHO "transform/trivial_augment_wide"
#define TA_NUM_OPS 14

typedef struct trivaug {
    const cv_host *host;
    int bins, interp, nfill;
    double fill[CV_IMAGE_MAX_CHANNELS];
} trivaug;

static int trivaug_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    trivaug *t = h->alloc_array(1, sizeof *t);
    if (!t) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
    t->host = h;
    t->bins = (int)tc_i(h, a->opts, "num_magnitude_bins", 31);
    t->interp = tc_interp(h, a->opts, CV_INTERP_NEAREST);
    static const double zero = 0;
    t->nfill = tc_list(h, a->opts, "fill", t->fill, CV_IMAGE_MAX_CHANNELS, &zero, 1);
    *self = t;
    return CV_OK;
}

static void trivaug_destroy(void *self) {
    trivaug *t = self;
    if (t) t->host->free(t);
}

/* ops whose magnitude table is a single 0 (torchvision draws no bin for them) */
static int has_bins(int op) { return op != CV_AUG_IDENTITY && op != CV_AUG_AUTOCONTRAST && op != CV_AUG_EQUALIZE; }

static int trivaug_apply(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err) {
    trivaug *t = self;
    const cv_host *h = t->host;
    int rc = tc_check(h, s, ctx, 0, WHO, err);
    if (rc != CV_OK) return rc;
    if (!ctx) return h->set_error(err, CV_ERR_INVALID, WHO ": no transform context (rng)");
    if (s->image.dtype != CV_U8)
        return h->set_error(err, CV_ERR_INVALID, WHO ": needs a u8 image; put trivial_augment_wide before normalize");
    double fill[CV_IMAGE_MAX_CHANNELS];
    rc = tc_fill_for(h, t->fill, t->nfill, &s->image, fill, WHO, err);
    if (rc != CV_OK) return rc;
    int op = tc_randint(h, &ctx->rng, TA_NUM_OPS), is_signed = 0;
    int bin = has_bins(op) ? tc_randint(h, &ctx->rng, t->bins) : 0;
    double m = has_bins(op) ? cv_aug_magnitude(1, op, bin, t->bins, s->image.h, s->image.w, &is_signed) : 0.0;
    if (is_signed && tc_randint(h, &ctx->rng, 2)) m = -m;
    return cv_aug_apply(h, &s->image, op, m, t->interp, fill, WHO, err);
}

static const cv_option_desc trivaug_options[] = {
    CV_OPT_INT_RANGE("num_magnitude_bins", "31", 2, 1001, "number of magnitude bins"),
    CV_OPT_ENUM_("interpolation", "nearest", cv_interp_names, "filter of the geometric operations"),
    CV_OPT_FLOAT_LIST_("fill", "0", 0, 255, 1, CV_IMAGE_MAX_CHANNELS, "value of pixels uncovered by a warp (1 or per channel)"),
    CV_OPT_END,
};

static const cv_transform_vtable trivaug_vtable = { sizeof(cv_transform_vtable), 0, 0, trivaug_apply, NULL };
TC_DESC(trivaug_desc, "trivial_augment_wide", "torchvision TrivialAugmentWide (one op, random magnitude)",
        trivaug_options, trivaug_create, trivaug_destroy, &trivaug_vtable);

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &trivaug_desc, err); }
