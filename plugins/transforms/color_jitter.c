/* plugins/transforms/color_jitter.c — torchvision's ColorJitter: brightness,
 * contrast and saturation factors drawn uniformly from [max(0, 1 - v), 1 + v] (or
 * an explicit [lo, hi]), hue from [-v, v]; the four operations run in a random
 * order (torch.randperm(4)), each only when configured.  u8 or f32 images, 1 or 3
 * channels (saturation and hue leave a grey image unchanged). */
#include "transform_common.h"

#define WHO "transform/color_jitter"

enum { JIT_BRIGHTNESS, JIT_CONTRAST, JIT_SATURATION, JIT_HUE, JIT_COUNT };
static const char *const jit_keys[JIT_COUNT] = { "brightness", "contrast", "saturation", "hue" };

typedef struct jitter {
    const cv_host *host;
    int on[JIT_COUNT];
    double lo[JIT_COUNT], hi[JIT_COUNT];
} jitter;

static int jitter_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    jitter *t = h->alloc_array(1, sizeof *t);
    if (!t) return h->set_error(err, CV_ERR_NOMEM, WHO ": out of memory");
    t->host = h;
    int rc = CV_OK;
    for (int k = 0; k < JIT_COUNT && rc == CV_OK; k++) {
        double v[2] = { 0, 0 };
        static const double zero = 0;
        int n = tc_list(h, a->opts, jit_keys[k], v, 2, &zero, 1);
        double centre = k == JIT_HUE ? 0.0 : 1.0;
        if (n == 1) {
            if (v[0] < 0) {
                rc = h->set_error(err, CV_ERR_INVALID, WHO ": %s = %g must be non-negative", jit_keys[k], v[0]);
                break;
            }
            t->lo[k] = k == JIT_HUE ? -v[0] : fmax(0.0, 1.0 - v[0]);
            t->hi[k] = centre + v[0];
        } else if (n == 2) {
            t->lo[k] = v[0];
            t->hi[k] = v[1];
        } else {
            rc = h->set_error(err, CV_ERR_INVALID, WHO ": %s takes 1 or 2 values, got %d", jit_keys[k], n);
            break;
        }
        if (rc == CV_OK && (t->lo[k] > t->hi[k] || (k != JIT_HUE && t->lo[k] < 0) ||
                            (k == JIT_HUE && (t->lo[k] < -0.5 || t->hi[k] > 0.5))))
            rc = h->set_error(err, CV_ERR_INVALID, WHO ": %s range [%g, %g] is invalid (%s)", jit_keys[k], t->lo[k],
                              t->hi[k], k == JIT_HUE ? "hue must lie in [-0.5, 0.5]" : "need 0 <= lo <= hi");
        t->on[k] = !(t->lo[k] == centre && t->hi[k] == centre);
    }
    if (rc != CV_OK) {
        h->free(t);
        return rc;
    }
    *self = t;
    return CV_OK;
}

static void jitter_destroy(void *self) {
    jitter *t = self;
    if (t) t->host->free(t);
}

static int jitter_apply(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err) {
    jitter *t = self;
    const cv_host *h = t->host;
    int rc = tc_check(h, s, ctx, 0, WHO, err);
    if (rc != CV_OK) return rc;
    if (!ctx) return h->set_error(err, CV_ERR_INVALID, WHO ": no transform context (rng)");
    if (s->image.c != 1 && s->image.c != 3)
        return h->set_error(err, CV_ERR_INVALID, WHO ": needs a 1- or 3-channel image, got %d channels", s->image.c);
    int order[JIT_COUNT] = { 0, 1, 2, 3 };
    for (int i = JIT_COUNT - 1; i > 0; i--) { /* randperm(4) */
        int j = tc_randint(h, &ctx->rng, i + 1), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    double f[JIT_COUNT] = { 0 };
    for (int k = 0; k < JIT_COUNT; k++)
        if (t->on[k]) f[k] = tc_uniform(h, &ctx->rng, t->lo[k], t->hi[k]);
    for (int i = 0; i < JIT_COUNT && rc == CV_OK; i++) {
        int k = order[i];
        if (!t->on[k]) continue;
        switch (k) {
        case JIT_BRIGHTNESS: rc = cv_image_adjust_brightness(h, &s->image, f[k], WHO, err); break;
        case JIT_CONTRAST: rc = cv_image_adjust_contrast(h, &s->image, f[k], WHO, err); break;
        case JIT_SATURATION: rc = cv_image_adjust_saturation(h, &s->image, f[k], WHO, err); break;
        default: rc = cv_image_adjust_hue(h, &s->image, f[k], WHO, err); break;
        }
    }
    return rc;
}

static const cv_option_desc jitter_options[] = {
    CV_OPT_FLOAT_LIST_("brightness", "0", 0, 1e3, 1, 2, "v: factor in [max(0, 1 - v), 1 + v]; or lo, hi; 0 = off"),
    CV_OPT_FLOAT_LIST_("contrast", "0", 0, 1e3, 1, 2, "v: factor in [max(0, 1 - v), 1 + v]; or lo, hi; 0 = off"),
    CV_OPT_FLOAT_LIST_("saturation", "0", 0, 1e3, 1, 2, "v: factor in [max(0, 1 - v), 1 + v]; or lo, hi; 0 = off"),
    CV_OPT_FLOAT_LIST_("hue", "0", -0.5, 0.5, 1, 2, "v: hue shift in [-v, v] (v <= 0.5); or lo, hi; 0 = off"),
    CV_OPT_END,
};

static const cv_transform_vtable jitter_vtable = { sizeof(cv_transform_vtable), 0, 0, jitter_apply, NULL };
TC_DESC(jitter_desc, "color_jitter", "random brightness, contrast, saturation, hue in random order (torchvision ColorJitter)",
        jitter_options, jitter_create, jitter_destroy, &jitter_vtable);

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &jitter_desc, err); }
