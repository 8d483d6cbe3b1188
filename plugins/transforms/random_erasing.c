/* plugins/transforms/random_erasing.c — torchvision's RandomErasing: with
 * probability p, up to ten attempts to place a rectangle of random area (scale)
 * and aspect ratio (log-uniform in ratio) strictly smaller than the image; it is
 * filled with `value` (a number) or, with value = random, per-pixel N(0, 1)
 * values drawn channel by channel.  Meant for the f32 image after normalize;
 * a u8 image accepts only a numeric value. */
#include "transform_common.h"

#include <stdlib.h>

#define WHO "transform/random_erasing"

typedef struct erase {
    const cv_host *host;
    double p, scale[2], ratio[2], value;
    int random;
} erase;

static int erase_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    erase *t = h->alloc_array(1, sizeof *t);
    if (!t) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
    t->host = h;
    t->p = tc_f(h, a->opts, "p", 0.5);
    static const double dscale[2] = { 0.02, 0.33 }, dratio[2] = { 0.3, 3.3 };
    int ns = tc_list(h, a->opts, "scale", t->scale, 2, dscale, 2);
    int nr = tc_list(h, a->opts, "ratio", t->ratio, 2, dratio, 2);
    const char *v = tc_s(h, a->opts, "value", "0");
    int rc = CV_OK;
    if (strcmp(v, "random") == 0) {
        t->random = 1;
    } else {
        char *end = NULL;
        t->value = strtod(v, &end);
        if (!end || end == v || *end || !isfinite(t->value))
            rc = h->set_error(err, CV_ERR_INVALID, WHO ": value = '%s' is neither a number nor 'random'", v);
    }
    if (rc == CV_OK && (ns != 2 || nr != 2 || t->scale[0] > t->scale[1] || t->ratio[0] > t->ratio[1] || t->ratio[0] <= 0))
        rc = h->set_error(err, CV_ERR_INVALID, WHO ": scale and ratio must each be lo, hi with lo <= hi (ratio > 0)");
    if (rc != CV_OK) {
        h->free(t);
        return rc;
    }
    *self = t;
    return CV_OK;
}

static void erase_destroy(void *self) {
    erase *t = self;
    if (t) t->host->free(t);
}

static int erase_apply(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err) {
    erase *t = self;
    const cv_host *h = t->host;
    int rc = tc_check(h, s, ctx, 0, WHO, err);
    if (rc != CV_OK) return rc;
    if (!ctx) return h->set_error(err, CV_ERR_INVALID, WHO ": no transform context (rng)");
    cv_image *im = &s->image;
    if (im->dtype == CV_U8 && t->random)
        return h->set_error(err, CV_ERR_INVALID, WHO ": value = random needs the f32 image; put random_erasing after normalize");
    if (!(h->rng_uniform(&ctx->rng) < t->p)) return CV_OK;
    int H = im->h, W = im->w, C = im->c;
    double area = (double)H * W, lr0 = log(t->ratio[0]), lr1 = log(t->ratio[1]);
    for (int attempt = 0; attempt < 10; attempt++) {
        double erase_area = area * tc_uniform(h, &ctx->rng, t->scale[0], t->scale[1]);
        double aspect = exp(tc_uniform(h, &ctx->rng, lr0, lr1));
        int eh = (int)nearbyint(sqrt(erase_area * aspect)), ew = (int)nearbyint(sqrt(erase_area / aspect));
        if (!(eh < H && ew < W)) continue;
        float *noise = NULL;
        if (t->random) { /* drawn before the position, [c][h][w], as torchvision does */
            noise = h->alloc((size_t)C * eh * ew * sizeof(float) + 1);
            if (!noise) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
            for (size_t i = 0; i < (size_t)C * eh * ew; i++) noise[i] = (float)h->rng_normal(&ctx->rng);
        }
        int top = tc_randint(h, &ctx->rng, H - eh + 1), left = tc_randint(h, &ctx->rng, W - ew + 1);
        for (int y = 0; y < eh; y++)
            for (int x = 0; x < ew; x++)
                for (int c = 0; c < C; c++) {
                    size_t o = ((size_t)(top + y) * W + (left + x)) * C + c;
                    double v = noise ? noise[((size_t)c * eh + y) * ew + x] : t->value;
                    if (im->dtype == CV_F32) ((float *)im->data)[o] = (float)v;
                    else ((uint8_t *)im->data)[o] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : v);
                }
        if (noise) h->free(noise);
        return CV_OK;
    }
    return CV_OK; /* no rectangle fitted: the image is left as it was */
}

static const cv_option_desc erase_options[] = {
    CV_OPT_FLOAT_RANGE("p", "0.5", 0, 1, "probability of erasing"),
    CV_OPT_FLOAT_LIST_("scale", "0.02, 0.33", 0, 1, 2, 2, "range of the erased area as a fraction of the image"),
    CV_OPT_FLOAT_LIST_("ratio", "0.3, 3.3", 1e-3, 1e3, 2, 2, "range of the rectangle's aspect ratio h/w"),
    CV_OPT_STRING_("value", "0", "fill: a number (image units) or 'random' for per-pixel N(0, 1)"),
    CV_OPT_END,
};

static const cv_transform_vtable erase_vtable = { sizeof(cv_transform_vtable), 0, 0, erase_apply, NULL };
TC_DESC(erase_desc, "random_erasing", "erase a random rectangle (torchvision RandomErasing)", erase_options,
        erase_create, erase_destroy, &erase_vtable);

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &erase_desc, err); }
