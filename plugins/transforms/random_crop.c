/* plugins/transforms/random_crop.c — torchvision's RandomCrop: optional padding
 * (1, 2 or 4 values as torchvision reads them; constant / edge / reflect /
 * symmetric), padding up to the crop size when the image is smaller
 * (pad_if_needed), then a uniformly placed window of the target size. */
#include "transform_common.h"

#define WHO "transform/random_crop"

typedef struct rcrop {
    const cv_host *host;
    int size, pad_if_needed, mode;
    int pad[4]; /* left, top, right, bottom */
    double fill;
} rcrop;

static int rcrop_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    rcrop *t = h->alloc_array(1, sizeof *t);
    if (!t) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
    t->host = h;
    t->size = (int)tc_i(h, a->opts, "size", 0);
    t->pad_if_needed = (int)tc_i(h, a->opts, "pad_if_needed", 1);
    t->fill = tc_f(h, a->opts, "fill", 0.0);
    t->mode = cv_pad_mode_from_name(tc_s(h, a->opts, "pad_mode", "constant"));
    if (t->mode < 0) t->mode = CV_PAD_CONSTANT;
    double p[4] = { 0 };
    static const double zero = 0;
    int n = tc_list(h, a->opts, "padding", p, 4, &zero, 1);
    if (n == 1) {
        for (int i = 0; i < 4; i++) t->pad[i] = (int)p[0];
    } else if (n == 2) { /* left/right, top/bottom */
        t->pad[0] = t->pad[2] = (int)p[0];
        t->pad[1] = t->pad[3] = (int)p[1];
    } else if (n == 4) {
        for (int i = 0; i < 4; i++) t->pad[i] = (int)p[i];
    } else {
        h->free(t);
        return h->set_error(err, CV_ERR_INVALID,
                            WHO ": padding has %d values; give 1 (all sides), 2 (left/right, top/bottom) or 4 (left, top, right, bottom)", n);
    }
    *self = t;
    return CV_OK;
}

static void rcrop_destroy(void *self) {
    rcrop *t = self;
    if (t) t->host->free(t);
}

static int pad_sample(const rcrop *t, cv_sample *s, int left, int top, int right, int bottom, cv_error *err) {
    const cv_host *h = t->host;
    if (!left && !top && !right && !bottom) return CV_OK;
    double fill[CV_IMAGE_MAX_CHANNELS];
    for (int i = 0; i < CV_IMAGE_MAX_CHANNELS; i++) fill[i] = t->fill;
    cv_image out;
    int rc = cv_image_pad(h, &s->image, top, bottom, left, right, t->mode, fill, &out, WHO, err);
    if (rc != CV_OK) return rc;
    cv_image_replace(h, &s->image, &out);
    if (s->mask.data) {
        rc = cv_image_pad(h, &s->mask, top, bottom, left, right, t->mode, NULL, &out, WHO, err);
        if (rc != CV_OK) return rc;
        cv_image_replace(h, &s->mask, &out);
    }
    tc_boxes_affine(s, 1, 1, left, top, s->image.w, s->image.h);
    return CV_OK;
}

static int rcrop_apply(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err) {
    rcrop *t = self;
    const cv_host *h = t->host;
    int rc = tc_check(h, s, ctx, t->size == 0, WHO, err);
    if (rc != CV_OK) return rc;
    if (!ctx) return h->set_error(err, CV_ERR_INVALID, WHO ": no transform context (rng)");
    int th = t->size > 0 ? t->size : ctx->target_h, tw = t->size > 0 ? t->size : ctx->target_w;
    rc = pad_sample(t, s, t->pad[0], t->pad[1], t->pad[2], t->pad[3], err);
    if (rc != CV_OK) return rc;
    /* as torchvision: the missing width is added on both sides, then the height */
    if (t->pad_if_needed && s->image.w < tw) rc = pad_sample(t, s, tw - s->image.w, 0, tw - s->image.w, 0, err);
    if (rc == CV_OK && t->pad_if_needed && s->image.h < th) rc = pad_sample(t, s, 0, th - s->image.h, 0, th - s->image.h, err);
    if (rc != CV_OK) return rc;
    int ih = s->image.h, iw = s->image.w;
    if (ih < th || iw < tw)
        return h->set_error(err, CV_ERR_INVALID, WHO ": crop %dx%d is larger than the %dx%d image%s%s (set pad_if_needed = true)",
                            th, tw, ih, iw, s->path ? " " : "", s->path ? s->path : "");
    if (ih == th && iw == tw) return CV_OK;
    int top = tc_randint(h, &ctx->rng, ih - th + 1);
    int left = tc_randint(h, &ctx->rng, iw - tw + 1);
    return tc_sample_crop(h, s, top, left, th, tw, NULL, WHO, err);
}

static const cv_option_desc rcrop_options[] = {
    CV_OPT_INT_RANGE("size", "0", 0, CV_IMAGE_MAX_SIDE, "crop size x size; 0 = the batch's target size"),
    CV_OPT_INT_LIST_("padding", "0", 0, 4096, 1, 4,
                     "padding first: 1 value (all sides), 2 (left/right, top/bottom) or 4 (left, top, right, bottom)"),
    CV_OPT_ENUM_("pad_mode", "constant", cv_pad_mode_names, "how padded pixels are made"),
    CV_OPT_FLOAT_RANGE("fill", "0", -1e6, 1e6, "value of constant padding, in the image's units (u8 clamps to 0..255)"),
    CV_OPT_BOOL_("pad_if_needed", "true", "pad an image smaller than the crop instead of failing"),
    CV_OPT_END,
};

static const cv_transform_vtable rcrop_vtable = { sizeof(cv_transform_vtable), 0, 0, rcrop_apply, NULL };
TC_DESC(rcrop_desc, "random_crop", "pad, then crop a random window of the target size (torchvision RandomCrop)",
        rcrop_options, rcrop_create, rcrop_destroy, &rcrop_vtable);

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &rcrop_desc, err); }
