/* sdk/examples/invert/invert.c — a complete third-party cvnets plugin: the
 * transform "invert" maps every pixel p to max - p.  Build it against an
 * installed SDK with the Makefile next to this file; see doc/host.md, "Write a
 * plugin".  Everything the plugin needs from cvnets comes through the cv_host
 * table handed to the entry function: it links nothing from the host. */
#include <cvnets/cvnets.h>

typedef struct invert {
    const cv_host *host;
    double max;   /* the [transform.invert] max option */
    double p;     /* probability of inverting a sample */
} invert;

/* The options a recipe may set in [transform.invert], with defaults written as
 * recipe text; the host validates them before create() is ever called. */
static const cv_option_desc invert_options[] = {
    CV_OPT_FLOAT_RANGE("max", "255", 1, 65535, "value a pixel is subtracted from (255 for 8-bit images)"),
    CV_OPT_FLOAT_RANGE("p", "1.0", 0, 1, "probability of inverting each sample"),
    CV_OPT_END,
};

static int invert_create(const cv_create_args *args, void **self, cv_error *err) {
    const cv_host *h = args->host;
    invert *t = h->alloc_array(1, sizeof *t);
    if (!t) return h->set_error(err, CV_ERR_NOMEM, "invert: out of memory");
    t->host = h;
    t->max = h->opt(args->opts, "max")->f;
    t->p = h->opt(args->opts, "p")->f;
    *self = t;
    return CV_OK;
}

static void invert_destroy(void *self) {
    invert *t = self;
    if (t) t->host->free(t);
}

static int invert_apply(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err) {
    invert *t = self;
    /* ctx->rng is derived from (seed, epoch, step, sample index): reproducible
     * whatever the number of loader threads */
    if (t->p < 1.0 && t->host->rng_uniform(&ctx->rng) >= t->p) return CV_OK;
    size_t n = (size_t)s->image.h * (size_t)s->image.w * (size_t)s->image.c;
    if (s->image.dtype == CV_U8) {
        unsigned char *px = s->image.data;
        for (size_t i = 0; i < n; i++) {
            double v = t->max - px[i];
            px[i] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    } else if (s->image.dtype == CV_F32) {
        float *px = s->image.data;
        for (size_t i = 0; i < n; i++) px[i] = (float)t->max - px[i];
    } else {
        return t->host->set_error(err, CV_ERR_UNSUPPORTED, "invert: image dtype %d is neither u8 nor f32 (%s)",
                                  s->image.dtype, s->path ? s->path : "no path");
    }
    return CV_OK;
}

static const cv_transform_vtable invert_vtable = {
    .struct_size = sizeof(cv_transform_vtable),
    .batch_level = 0, /* apply() runs once per sample */
    .apply = invert_apply,
};

static const cv_component_desc invert_desc = {
    .struct_size = sizeof(cv_component_desc),
    .abi_major = CV_ABI_MAJOR,
    .abi_minor = CV_ABI_MINOR,
    .kind = CV_KIND_TRANSFORM,
    .name = "invert", /* must match the file name: cvnets-transform-invert.so */
    .task = "any",
    .summary = "invert pixel values: p -> max - p (example plugin from the cvnets SDK)",
    .options = invert_options,
    .create = invert_create,
    .destroy = invert_destroy,
    .vtable = &invert_vtable,
};

/* The one exported symbol: register what this file provides. */
CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &invert_desc, err); }
