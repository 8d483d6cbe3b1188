/* plugins/transforms/auto_augment.c — torchvision's AutoAugment with its ImageNet,
 * CIFAR10 or SVHN policy: one of 25 sub-policies picked uniformly; each of its two
 * operations runs with its probability at its magnitude bin (10 bins), negated
 * when the drawn sign bit is 0 for the signed operations.  u8 images. */
#include "transform_common.h"

#define WHO "transform/auto_augment"

typedef struct aa_step { int op; double p; int bin; } aa_step; /* bin -1: no magnitude */

#define S(op, p, b) { CV_AUG_##op, p, b }
static const aa_step imagenet_policy[25][2] = {
    { S(POSTERIZE, 0.4, 8), S(ROTATE, 0.6, 9) },       { S(SOLARIZE, 0.6, 5), S(AUTOCONTRAST, 0.6, -1) },
    { S(EQUALIZE, 0.8, -1), S(EQUALIZE, 0.6, -1) },    { S(POSTERIZE, 0.6, 7), S(POSTERIZE, 0.6, 6) },
    { S(EQUALIZE, 0.4, -1), S(SOLARIZE, 0.2, 4) },     { S(EQUALIZE, 0.4, -1), S(ROTATE, 0.8, 8) },
    { S(SOLARIZE, 0.6, 3), S(EQUALIZE, 0.6, -1) },     { S(POSTERIZE, 0.8, 5), S(EQUALIZE, 1.0, -1) },
    { S(ROTATE, 0.2, 3), S(SOLARIZE, 0.6, 8) },        { S(EQUALIZE, 0.6, -1), S(POSTERIZE, 0.4, 6) },
    { S(ROTATE, 0.8, 8), S(COLOR, 0.4, 0) },           { S(ROTATE, 0.4, 9), S(EQUALIZE, 0.6, -1) },
    { S(EQUALIZE, 0.0, -1), S(EQUALIZE, 0.8, -1) },    { S(INVERT, 0.6, -1), S(EQUALIZE, 1.0, -1) },
    { S(COLOR, 0.6, 4), S(CONTRAST, 1.0, 8) },         { S(ROTATE, 0.8, 8), S(COLOR, 1.0, 2) },
    { S(COLOR, 0.8, 8), S(SOLARIZE, 0.8, 7) },         { S(SHARPNESS, 0.4, 7), S(INVERT, 0.6, -1) },
    { S(SHEAR_X, 0.6, 5), S(EQUALIZE, 1.0, -1) },      { S(COLOR, 0.4, 0), S(EQUALIZE, 0.6, -1) },
    { S(EQUALIZE, 0.4, -1), S(SOLARIZE, 0.2, 4) },     { S(SOLARIZE, 0.6, 5), S(AUTOCONTRAST, 0.6, -1) },
    { S(INVERT, 0.6, -1), S(EQUALIZE, 1.0, -1) },      { S(COLOR, 0.6, 4), S(CONTRAST, 1.0, 8) },
    { S(EQUALIZE, 0.8, -1), S(EQUALIZE, 0.6, -1) },
};
/* from torchvision's AutoAugmentPolicy tables */
static const aa_step cifar10_policy[25][2] = {
    { S(INVERT, 0.1, -1), S(CONTRAST, 0.2, 6) },  { S(ROTATE, 0.7, 2), S(TRANSLATE_X, 0.3, 9) },
    { S(SHARPNESS, 0.8, 1), S(SHARPNESS, 0.9, 3) },  { S(SHEAR_Y, 0.5, 8), S(TRANSLATE_Y, 0.7, 9) },
    { S(AUTOCONTRAST, 0.5, -1), S(EQUALIZE, 0.9, -1) },  { S(SHEAR_Y, 0.2, 7), S(POSTERIZE, 0.3, 7) },
    { S(COLOR, 0.4, 3), S(BRIGHTNESS, 0.6, 7) },  { S(SHARPNESS, 0.3, 9), S(BRIGHTNESS, 0.7, 9) },
    { S(EQUALIZE, 0.6, -1), S(EQUALIZE, 0.5, -1) },  { S(CONTRAST, 0.6, 7), S(SHARPNESS, 0.6, 5) },
    { S(COLOR, 0.7, 7), S(TRANSLATE_X, 0.5, 8) },  { S(EQUALIZE, 0.3, -1), S(AUTOCONTRAST, 0.4, -1) },
    { S(TRANSLATE_Y, 0.4, 3), S(SHARPNESS, 0.2, 6) },  { S(BRIGHTNESS, 0.9, 6), S(COLOR, 0.2, 8) },
    { S(SOLARIZE, 0.5, 2), S(INVERT, 0.0, -1) },  { S(EQUALIZE, 0.2, -1), S(AUTOCONTRAST, 0.6, -1) },
    { S(EQUALIZE, 0.2, -1), S(EQUALIZE, 0.6, -1) },  { S(COLOR, 0.9, 9), S(EQUALIZE, 0.6, -1) },
    { S(AUTOCONTRAST, 0.8, -1), S(SOLARIZE, 0.2, 8) },  { S(BRIGHTNESS, 0.1, 3), S(COLOR, 0.7, 0) },
    { S(SOLARIZE, 0.4, 5), S(AUTOCONTRAST, 0.9, -1) },  { S(TRANSLATE_Y, 0.9, 9), S(TRANSLATE_Y, 0.7, 9) },
    { S(AUTOCONTRAST, 0.9, -1), S(SOLARIZE, 0.8, 3) },  { S(EQUALIZE, 0.8, -1), S(INVERT, 0.1, -1) },
    { S(TRANSLATE_Y, 0.7, 9), S(AUTOCONTRAST, 0.9, -1) },
};
static const aa_step svhn_policy[25][2] = {
    { S(SHEAR_X, 0.9, 4), S(INVERT, 0.2, -1) },  { S(SHEAR_Y, 0.9, 8), S(INVERT, 0.7, -1) },
    { S(EQUALIZE, 0.6, -1), S(SOLARIZE, 0.6, 6) },  { S(INVERT, 0.9, -1), S(EQUALIZE, 0.6, -1) },
    { S(EQUALIZE, 0.6, -1), S(ROTATE, 0.9, 3) },  { S(SHEAR_X, 0.9, 4), S(AUTOCONTRAST, 0.8, -1) },
    { S(SHEAR_Y, 0.9, 8), S(INVERT, 0.4, -1) },  { S(SHEAR_Y, 0.9, 5), S(SOLARIZE, 0.2, 6) },
    { S(INVERT, 0.9, -1), S(AUTOCONTRAST, 0.8, -1) },  { S(EQUALIZE, 0.6, -1), S(ROTATE, 0.9, 3) },
    { S(SHEAR_X, 0.9, 4), S(SOLARIZE, 0.3, 3) },  { S(SHEAR_Y, 0.8, 8), S(INVERT, 0.7, -1) },
    { S(EQUALIZE, 0.9, -1), S(TRANSLATE_Y, 0.6, 6) },  { S(INVERT, 0.9, -1), S(EQUALIZE, 0.6, -1) },
    { S(CONTRAST, 0.3, 3), S(ROTATE, 0.8, 4) },  { S(INVERT, 0.8, -1), S(TRANSLATE_Y, 0.0, 2) },
    { S(SHEAR_Y, 0.7, 6), S(SOLARIZE, 0.4, 8) },  { S(INVERT, 0.6, -1), S(ROTATE, 0.8, 4) },
    { S(SHEAR_Y, 0.3, 7), S(TRANSLATE_X, 0.9, 3) },  { S(SHEAR_X, 0.1, 6), S(INVERT, 0.6, -1) },
    { S(SOLARIZE, 0.7, 2), S(TRANSLATE_Y, 0.6, 7) },  { S(SHEAR_Y, 0.8, 4), S(INVERT, 0.8, -1) },
    { S(SHEAR_X, 0.7, 9), S(TRANSLATE_Y, 0.8, 3) },  { S(SHEAR_Y, 0.8, 5), S(AUTOCONTRAST, 0.7, -1) },
    { S(SHEAR_X, 0.7, 2), S(INVERT, 0.1, -1) },
};
#undef S

typedef struct autoaug {
    const cv_host *host;
    const aa_step (*policy)[2];
    int interp, nfill;
    double fill[CV_IMAGE_MAX_CHANNELS];
} autoaug;

static int autoaug_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    autoaug *t = h->alloc_array(1, sizeof *t);
    if (!t) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
    t->host = h;
    t->interp = tc_interp(h, a->opts, CV_INTERP_NEAREST);
    static const double zero = 0;
    t->nfill = tc_list(h, a->opts, "fill", t->fill, CV_IMAGE_MAX_CHANNELS, &zero, 1);
    const char *pol = tc_s(h, a->opts, "policy", "imagenet");
    t->policy = !strcmp(pol, "cifar10") ? cifar10_policy : !strcmp(pol, "svhn") ? svhn_policy : imagenet_policy;
    *self = t;
    return CV_OK;
}

static void autoaug_destroy(void *self) {
    autoaug *t = self;
    if (t) t->host->free(t);
}

static int autoaug_apply(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err) {
    autoaug *t = self;
    const cv_host *h = t->host;
    int rc = tc_check(h, s, ctx, 0, WHO, err);
    if (rc != CV_OK) return rc;
    if (!ctx) return h->set_error(err, CV_ERR_INVALID, WHO ": no transform context (rng)");
    if (s->image.dtype != CV_U8)
        return h->set_error(err, CV_ERR_INVALID, WHO ": needs a u8 image; put auto_augment before normalize");
    double fill[CV_IMAGE_MAX_CHANNELS];
    rc = tc_fill_for(h, t->fill, t->nfill, &s->image, fill, WHO, err);
    if (rc != CV_OK) return rc;
    /* AutoAugment.get_params: policy id, two probabilities, two sign bits */
    int id = tc_randint(h, &ctx->rng, 25);
    double probs[2] = { h->rng_uniform(&ctx->rng), h->rng_uniform(&ctx->rng) };
    int signs[2] = { tc_randint(h, &ctx->rng, 2), tc_randint(h, &ctx->rng, 2) };
    for (int i = 0; i < 2 && rc == CV_OK; i++) {
        const aa_step *st = &t->policy[id][i];
        if (!(probs[i] <= st->p)) continue;
        int is_signed = 0;
        double m = st->bin >= 0 ? cv_aug_magnitude(0, st->op, st->bin, 10, s->image.h, s->image.w, &is_signed) : 0.0;
        if (is_signed && signs[i] == 0) m = -m;
        rc = cv_aug_apply(h, &s->image, st->op, m, t->interp, fill, WHO, err);
    }
    return rc;
}

static const char *const policies[] = { "imagenet", "cifar10", "svhn", NULL };
static const cv_option_desc autoaug_options[] = {
    CV_OPT_ENUM_("policy", "imagenet", policies, "learned policy (torchvision's tables)"),
    CV_OPT_ENUM_("interpolation", "nearest", cv_interp_names, "filter of the geometric operations"),
    CV_OPT_FLOAT_LIST_("fill", "0", 0, 255, 1, CV_IMAGE_MAX_CHANNELS, "value of pixels uncovered by a warp (1 or per channel)"),
    CV_OPT_END,
};

static const cv_transform_vtable autoaug_vtable = { sizeof(cv_transform_vtable), 0, 0, autoaug_apply, NULL };
TC_DESC(autoaug_desc, "auto_augment", "torchvision AutoAugment (ImageNet, CIFAR10 or SVHN policy)", autoaug_options, autoaug_create,
        autoaug_destroy, &autoaug_vtable);

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &autoaug_desc, err); }
