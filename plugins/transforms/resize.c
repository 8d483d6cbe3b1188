/* plugins/transforms/resize.c — torchvision's Resize: the shorter side to `size`
 * (the longer one to int(size * long / short)); with size = 0 the image goes to
 * the batch's target size, or, with crop_pct set, its shorter side goes to
 * floor(min(target) / crop_pct) as timm's evaluation transform does before a
 * centre crop. */
#include "transform_common.h"

#define WHO "transform/resize"

typedef struct resize {
    const cv_host *host;
    int size, interp;
    double crop_pct;
} resize;

static int resize_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    resize *t = h->alloc_array(1, sizeof *t);
    if (!t) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
    t->host = h;
    t->size = (int)tc_i(h, a->opts, "size", 0);
    t->crop_pct = tc_f(h, a->opts, "crop_pct", 0.0);
    t->interp = tc_interp(h, a->opts, CV_INTERP_BILINEAR);
    *self = t;
    return CV_OK;
}

static void resize_destroy(void *self) {
    resize *t = self;
    if (t) t->host->free(t);
}

/* torchvision's _compute_resized_output_size for a single int */
static void shorter_side_to(int ih, int iw, int size, int *oh, int *ow) {
    int shorter = iw <= ih ? iw : ih, longer = iw <= ih ? ih : iw;
    int new_long = (int)((double)size * longer / shorter);
    if (iw <= ih) { *ow = size; *oh = new_long; }
    else { *oh = size; *ow = new_long; }
}

static int resize_apply(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err) {
    resize *t = self;
    const cv_host *h = t->host;
    int rc = tc_check(h, s, ctx, t->size == 0, WHO, err);
    if (rc != CV_OK) return rc;
    int oh, ow, ih = s->image.h, iw = s->image.w;
    if (t->size > 0) {
        shorter_side_to(ih, iw, t->size, &oh, &ow);
    } else if (t->crop_pct > 0) {
        int m = ctx->target_h < ctx->target_w ? ctx->target_h : ctx->target_w;
        shorter_side_to(ih, iw, (int)floor(m / t->crop_pct), &oh, &ow);
    } else {
        oh = ctx->target_h;
        ow = ctx->target_w;
    }
    if (oh < 1 || ow < 1)
        return h->set_error(err, CV_ERR_INVALID, WHO ": resizing %dx%d gives an empty %dx%d image%s%s", ih, iw, oh, ow,
                            s->path ? " for " : "", s->path ? s->path : "");
    return tc_sample_resized_crop(h, s, 0, 0, ih, iw, oh, ow, t->interp, WHO, err);
}

static const cv_option_desc resize_options[] = {
    CV_OPT_INT_RANGE("size", "0", 0, CV_IMAGE_MAX_SIDE,
                     "shorter side after resizing; 0 = the batch's target size (see crop_pct)"),
    CV_OPT_FLOAT_RANGE("crop_pct", "0", 0, 1,
                       "with size = 0: shorter side to floor(min(target) / crop_pct); 0 = exactly the target size"),
    CV_OPT_ENUM_("interpolation", "bilinear", cv_interp_names, "resampling filter (Pillow's)"),
    CV_OPT_END,
};

static const cv_transform_vtable resize_vtable = { sizeof(cv_transform_vtable), 0, 0, resize_apply, NULL };
TC_DESC(resize_desc, "resize", "resize the shorter side to size, or to the target size (torchvision Resize)",
        resize_options, resize_create, resize_destroy, &resize_vtable);

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &resize_desc, err); }
