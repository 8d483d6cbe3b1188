/* plugins/transforms/random_resized_crop.c — torchvision's RandomResizedCrop: a
 * window of random area (scale) and aspect ratio (log-uniform in ratio), ten
 * attempts then the central crop, resampled to the batch's target size. */
#include "transform_common.h"

#define WHO "transform/random_resized_crop"

typedef struct rrc {
    const cv_host *host;
    double scale[2], ratio[2];
    int interp;
} rrc;

static int rrc_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    rrc *t = h->alloc_array(1, sizeof *t);
    if (!t) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
    t->host = h;
    static const double dscale[2] = { 0.08, 1.0 }, dratio[2] = { 3.0 / 4.0, 4.0 / 3.0 };
    int ns = tc_list(h, a->opts, "scale", t->scale, 2, dscale, 2);
    int nr = tc_list(h, a->opts, "ratio", t->ratio, 2, dratio, 2);
    t->interp = tc_interp(h, a->opts, CV_INTERP_BILINEAR);
    const char *bad = NULL;
    if (ns != 2 || t->scale[0] > t->scale[1] || t->scale[0] <= 0) bad = "scale must be two numbers 0 < lo <= hi";
    else if (nr != 2 || t->ratio[0] > t->ratio[1] || t->ratio[0] <= 0) bad = "ratio must be two numbers 0 < lo <= hi";
    if (bad) {
        int rc = h->set_error(err, CV_ERR_INVALID, WHO ": %s (scale = %g, %g; ratio = %g, %g)", bad, t->scale[0],
                              t->scale[1], t->ratio[0], t->ratio[1]);
        h->free(t);
        return rc;
    }
    *self = t;
    return CV_OK;
}

static void rrc_destroy(void *self) {
    rrc *t = self;
    if (t) t->host->free(t);
}

/* RandomResizedCrop.get_params: the window (top, left, height, width) */
static void rrc_params(const rrc *t, cv_rng *rng, int height, int width, int *top, int *left, int *ch, int *cw) {
    const cv_host *h = t->host;
    double area = (double)height * width;
    double lr0 = log(t->ratio[0]), lr1 = log(t->ratio[1]);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target_area = area * tc_uniform(h, rng, t->scale[0], t->scale[1]);
        double aspect = exp(tc_uniform(h, rng, lr0, lr1));
        int w = (int)nearbyint(sqrt(target_area * aspect)); /* Python's round: half to even */
        int hh = (int)nearbyint(sqrt(target_area / aspect));
        if (w > 0 && w <= width && hh > 0 && hh <= height) {
            *top = tc_randint(h, rng, height - hh + 1);
            *left = tc_randint(h, rng, width - w + 1);
            *ch = hh;
            *cw = w;
            return;
        }
    }
    double in_ratio = (double)width / height;
    int w = width, hh = height;
    if (in_ratio < t->ratio[0]) {
        hh = (int)nearbyint(w / t->ratio[0]);
    } else if (in_ratio > t->ratio[1]) {
        w = (int)nearbyint(hh * t->ratio[1]);
    }
    *ch = hh;
    *cw = w;
    *top = (height - hh) / 2;
    *left = (width - w) / 2;
}

static int rrc_apply(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err) {
    rrc *t = self;
    const cv_host *h = t->host;
    int rc = tc_check(h, s, ctx, 1, WHO, err);
    if (rc != CV_OK) return rc;
    int top, left, ch, cw;
    rrc_params(t, &ctx->rng, s->image.h, s->image.w, &top, &left, &ch, &cw);
    return tc_sample_resized_crop(h, s, top, left, ch, cw, ctx->target_h, ctx->target_w, t->interp, WHO, err);
}

static const cv_option_desc rrc_options[] = {
    CV_OPT_FLOAT_LIST_("scale", "0.08, 1.0", 1e-6, 1.0, 2, 2, "range of the crop's area as a fraction of the image"),
    CV_OPT_FLOAT_LIST_("ratio", "0.75, 1.3333333333333333", 1e-3, 1e3, 2, 2,
                       "range of the crop's aspect ratio w/h (sampled log-uniformly)"),
    CV_OPT_ENUM_("interpolation", "bilinear", cv_interp_names, "resampling filter (Pillow's)"),
    CV_OPT_END,
};

static const cv_transform_vtable rrc_vtable = { sizeof(cv_transform_vtable), 0, 0, rrc_apply, NULL };
TC_DESC(rrc_desc, "random_resized_crop", "random area/aspect crop resized to the target size (torchvision RandomResizedCrop)",
        rrc_options, rrc_create, rrc_destroy, &rrc_vtable);

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &rrc_desc, err); }
