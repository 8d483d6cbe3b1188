/* plugins/transforms/center_crop.c — torchvision's CenterCrop to the target size
 * (or size x size): offsets round((in - out) / 2) half to even, and an image
 * smaller than the crop is padded with zeros ((d // 2) before, the rest after). */
#include "transform_common.h"

#define WHO "transform/center_crop"

typedef struct ccrop {
    const cv_host *host;
    int size;
} ccrop;

static int ccrop_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    ccrop *t = h->alloc_array(1, sizeof *t);
    if (!t) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
    t->host = h;
    t->size = (int)tc_i(h, a->opts, "size", 0);
    *self = t;
    return CV_OK;
}

static void ccrop_destroy(void *self) {
    ccrop *t = self;
    if (t) t->host->free(t);
}

/* start of the crop along one axis (negative: padding before) */
static int crop_start(int in, int out) {
    if (out > in) return -((out - in) / 2);
    return (int)nearbyint((in - out) / 2.0);
}

static int ccrop_apply(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err) {
    ccrop *t = self;
    const cv_host *h = t->host;
    int rc = tc_check(h, s, ctx, t->size == 0, WHO, err);
    if (rc != CV_OK) return rc;
    int oh = t->size > 0 ? t->size : ctx->target_h, ow = t->size > 0 ? t->size : ctx->target_w;
    if (oh == s->image.h && ow == s->image.w) return CV_OK;
    return tc_sample_crop(h, s, crop_start(s->image.h, oh), crop_start(s->image.w, ow), oh, ow, NULL, WHO, err);
}

static const cv_option_desc ccrop_options[] = {
    CV_OPT_INT_RANGE("size", "0", 0, CV_IMAGE_MAX_SIDE, "crop size x size; 0 = the batch's target size"),
    CV_OPT_END,
};

static const cv_transform_vtable ccrop_vtable = { sizeof(cv_transform_vtable), 0, 0, ccrop_apply, NULL };
TC_DESC(ccrop_desc, "center_crop", "crop the centre to the target size (torchvision CenterCrop)", ccrop_options,
        ccrop_create, ccrop_destroy, &ccrop_vtable);

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &ccrop_desc, err); }
