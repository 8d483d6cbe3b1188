/* plugins/transforms/normalize.c — torchvision's ToTensor + Normalize: a u8 image
 * becomes f32 x / 255, then (x - mean[c]) / std[c].  An f32 image is taken to be in
 * [0, 1] already.  mean and std have one value (every channel) or one per channel. */
#include "transform_common.h"

#define WHO "transform/normalize"

typedef struct norm {
    const cv_host *host;
    double mean[CV_IMAGE_MAX_CHANNELS], std[CV_IMAGE_MAX_CHANNELS];
    int nmean, nstd;
} norm;

static int norm_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    norm *t = h->alloc_array(1, sizeof *t);
    if (!t) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
    t->host = h;
    static const double dmean[3] = { 0.485, 0.456, 0.406 }, dstd[3] = { 0.229, 0.224, 0.225 };
    t->nmean = tc_list(h, a->opts, "mean", t->mean, CV_IMAGE_MAX_CHANNELS, dmean, 3);
    t->nstd = tc_list(h, a->opts, "std", t->std, CV_IMAGE_MAX_CHANNELS, dstd, 3);
    int rc = CV_OK;
    if (t->nmean < 1 || t->nmean > CV_IMAGE_MAX_CHANNELS || t->nstd < 1 || t->nstd > CV_IMAGE_MAX_CHANNELS)
        rc = h->set_error(err, CV_ERR_INVALID, WHO ": mean has %d and std %d values; give 1..%d each", t->nmean, t->nstd,
                          CV_IMAGE_MAX_CHANNELS);
    for (int i = 0; rc == CV_OK && i < t->nstd; i++)
        if (!(t->std[i] > 0))
            rc = h->set_error(err, CV_ERR_INVALID, WHO ": std[%d] = %g; every std must be positive", i, t->std[i]);
    if (rc != CV_OK) {
        h->free(t);
        return rc;
    }
    *self = t;
    return CV_OK;
}

static void norm_destroy(void *self) {
    norm *t = self;
    if (t) t->host->free(t);
}

static int norm_apply(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err) {
    norm *t = self;
    const cv_host *h = t->host;
    int rc = tc_check(h, s, ctx, 0, WHO, err);
    if (rc != CV_OK) return rc;
    int c = s->image.c;
    if ((t->nmean != 1 && t->nmean != c) || (t->nstd != 1 && t->nstd != c))
        return h->set_error(err, CV_ERR_INVALID, WHO ": the image has %d channels but mean has %d and std %d values%s%s",
                            c, t->nmean, t->nstd, s->path ? "; image " : "", s->path ? s->path : "");
    float mean[CV_IMAGE_MAX_CHANNELS], sd[CV_IMAGE_MAX_CHANNELS];
    for (int i = 0; i < c; i++) {
        mean[i] = (float)t->mean[t->nmean == 1 ? 0 : i];
        sd[i] = (float)t->std[t->nstd == 1 ? 0 : i];
    }
    size_t n = cv_image_elems(&s->image);
    if (s->image.dtype == CV_U8) {
        cv_image out;
        rc = cv_image_new(h, s->image.h, s->image.w, c, CV_F32, &out, WHO, err);
        if (rc != CV_OK) return rc;
        const uint8_t *in = s->image.data;
        float *o = out.data;
        for (size_t i = 0; i < n; i++) o[i] = ((float)in[i] / 255.0f - mean[i % c]) / sd[i % c];
        cv_image_replace(h, &s->image, &out);
    } else {
        float *o = s->image.data;
        for (size_t i = 0; i < n; i++) o[i] = (o[i] - mean[i % c]) / sd[i % c];
    }
    return CV_OK;
}

static const cv_option_desc norm_options[] = {
    CV_OPT_FLOAT_LIST_("mean", "0.485, 0.456, 0.406", -1e6, 1e6, 1, CV_IMAGE_MAX_CHANNELS,
                       "per-channel mean of the [0, 1] image (one value: every channel)"),
    CV_OPT_FLOAT_LIST_("std", "0.229, 0.224, 0.225", 1e-12, 1e6, 1, CV_IMAGE_MAX_CHANNELS,
                       "per-channel standard deviation (one value: every channel)"),
    CV_OPT_END,
};

static const cv_transform_vtable norm_vtable = { sizeof(cv_transform_vtable), 0, 0, norm_apply, NULL };
TC_DESC(norm_desc, "normalize", "u8 to f32 in [0, 1], then (x - mean) / std per channel (ToTensor + Normalize)",
        norm_options, norm_create, norm_destroy, &norm_vtable);

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &norm_desc, err); }
