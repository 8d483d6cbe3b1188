/* plugins/transforms/transform_common.h — helpers shared by the transform plugins
 * (header only: every .c in this folder is its own plugin): option access,
 * random draws through the host's counter-based rng, sample checks, and keeping
 * a segmentation mask and detection boxes in step with a geometric change. */
#ifndef CV_TRANSFORM_COMMON_H
#define CV_TRANSFORM_COMMON_H

#include <math.h>
#include <string.h>
#include <cvnets/cvnets.h>
#include <cvnets/image_ops.h>

static inline double tc_f(const cv_host *h, const cv_options *o, const char *key, double def) {
    const cv_value *v = o ? h->opt(o, key) : NULL;
    return v && v->is_set ? (v->type == CV_OPT_FLOAT ? v->f : (double)v->i) : def;
}

static inline int64_t tc_i(const cv_host *h, const cv_options *o, const char *key, int64_t def) {
    const cv_value *v = o ? h->opt(o, key) : NULL;
    return v && v->is_set ? v->i : def;
}

static inline const char *tc_s(const cv_host *h, const cv_options *o, const char *key, const char *def) {
    const cv_value *v = o ? h->opt(o, key) : NULL;
    return v && v->is_set && v->s ? v->s : def;
}

/* a list option (ints or floats) into out[max]; returns the count, or the
 * defaults' count when the key is unset */
static inline int tc_list(const cv_host *h, const cv_options *o, const char *key, double *out, int max,
                          const double *def, int ndef) {
    const cv_value *v = o ? h->opt(o, key) : NULL;
    if (v && v->is_set && v->count > 0) {
        int n = v->count < max ? v->count : max;
        for (int i = 0; i < n; i++) out[i] = v->type == CV_OPT_INT_LIST ? (double)v->ints[i] : v->floats[i];
        return v->count;
    }
    for (int i = 0; i < ndef && i < max; i++) out[i] = def[i];
    return ndef;
}

/* interpolation option: "nearest" / "bilinear" / "bicubic" */
static inline int tc_interp(const cv_host *h, const cv_options *o, int def) {
    int i = cv_interp_from_name(tc_s(h, o, "interpolation", NULL));
    return i < 0 ? def : i;
}

/* torch.randint(0, n): an integer in [0, n) */
static inline int tc_randint(const cv_host *h, cv_rng *r, int n) {
    if (n <= 1) return 0;
    int v = (int)(h->rng_uniform(r) * n);
    return v >= n ? n - 1 : v;
}

static inline double tc_uniform(const cv_host *h, cv_rng *r, double a, double b) {
    return a + (b - a) * h->rng_uniform(r);
}

/* Gamma(a, 1) by Marsaglia & Tsang (boosted for a < 1); Beta(a, b) = Ga / (Ga + Gb),
 * i.e. torch._sample_dirichlet([a, b])[0] */
static inline double tc_gamma(const cv_host *h, cv_rng *r, double a) {
    double boost = 1.0;
    if (a < 1.0) {
        double u = 1.0 - h->rng_uniform(r); /* (0, 1] */
        boost = pow(u, 1.0 / a);
        a += 1.0;
    }
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (int tries = 0; tries < 1000; tries++) {
        double x = h->rng_normal(r), v = 1.0 + c * x;
        if (v <= 0.0) continue;
        v = v * v * v;
        double u = h->rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v * boost;
        if (u > 0.0 && log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v * boost;
    }
    return d * boost; /* practically unreachable: acceptance is above 95 % */
}

static inline double tc_beta(const cv_host *h, cv_rng *r, double a, double b) {
    double x = tc_gamma(h, r, a), y = tc_gamma(h, r, b);
    return x + y > 0.0 ? x / (x + y) : 0.5;
}

/* The sample's image exists; its target size is known when need_target. */
static inline int tc_check(const cv_host *h, const cv_sample *s, const cv_transform_ctx *ctx, int need_target,
                           const char *who, cv_error *err) {
    if (!s) return h->set_error(err, CV_ERR_INVALID, "%s: no sample", who);
    int rc = cv_image_check(h, &s->image, who, err);
    if (rc != CV_OK) return rc;
    if (need_target && (!ctx || ctx->target_h <= 0 || ctx->target_w <= 0))
        return h->set_error(err, CV_ERR_INVALID, "%s: no target size in the transform context (target %dx%d)%s%s",
                            who, ctx ? ctx->target_h : 0, ctx ? ctx->target_w : 0, s->path ? ", image " : "",
                            s->path ? s->path : "");
    return CV_OK;
}

/* Replace the mask by the same window of it resampled (nearest) to out_h x out_w:
 * what cropping / resizing the image did, done to the labels. */
static inline int tc_mask_resized_crop(const cv_host *h, cv_sample *s, int top, int left, int ch, int cw, int out_h,
                                       int out_w, const char *who, cv_error *err) {
    if (!s->mask.data) return CV_OK;
    cv_image out;
    int rc = cv_image_resized_crop(h, &s->mask, top, left, ch, cw, out_h, out_w, CV_INTERP_NEAREST, &out, who, err);
    if (rc == CV_OK) cv_image_replace(h, &s->mask, &out);
    return rc;
}

/* Map boxes x' = x * sx + tx, y' = y * sy + ty, clip to the new w x h image and
 * drop boxes left without area. */
static inline void tc_boxes_affine(cv_sample *s, double sx, double sy, double tx, double ty, int w, int h) {
    int k = 0;
    for (int i = 0; s->boxes && i < s->num_boxes; i++) {
        float *b = s->boxes + 4 * i;
        double x0 = b[0] * sx + tx, y0 = b[1] * sy + ty, x1 = b[2] * sx + tx, y1 = b[3] * sy + ty;
        x0 = fmin(fmax(x0, 0), w);
        x1 = fmin(fmax(x1, 0), w);
        y0 = fmin(fmax(y0, 0), h);
        y1 = fmin(fmax(y1, 0), h);
        if (x1 <= x0 || y1 <= y0) continue;
        float *d = s->boxes + 4 * k;
        d[0] = (float)x0;
        d[1] = (float)y0;
        d[2] = (float)x1;
        d[3] = (float)y1;
        if (s->box_labels) s->box_labels[k] = s->box_labels[i];
        k++;
    }
    if (s->boxes) s->num_boxes = k;
}

/* Crop the window (top, left, ch x cw) of the sample and resample it to
 * out_h x out_w: image with interp, mask with nearest, boxes mapped. */
static inline int tc_sample_resized_crop(const cv_host *h, cv_sample *s, int top, int left, int ch, int cw, int out_h,
                                         int out_w, int interp, const char *who, cv_error *err) {
    cv_image out;
    int rc = cv_image_resized_crop(h, &s->image, top, left, ch, cw, out_h, out_w, interp, &out, who, err);
    if (rc != CV_OK) return rc;
    cv_image_replace(h, &s->image, &out);
    rc = tc_mask_resized_crop(h, s, top, left, ch, cw, out_h, out_w, who, err);
    tc_boxes_affine(s, (double)out_w / cw, (double)out_h / ch, -left * (double)out_w / cw, -top * (double)out_h / ch,
                    out_w, out_h);
    return rc;
}

/* The window (top, left, ch x cw), which may reach outside the image: outside
 * pixels take fill (image) and 0 (mask). */
static inline int tc_sample_crop(const cv_host *h, cv_sample *s, int top, int left, int ch, int cw, const double *fill,
                                 const char *who, cv_error *err) {
    cv_image out;
    int rc = cv_image_crop(h, &s->image, top, left, ch, cw, fill, &out, who, err);
    if (rc != CV_OK) return rc;
    cv_image_replace(h, &s->image, &out);
    if (s->mask.data) {
        rc = cv_image_crop(h, &s->mask, top, left, ch, cw, NULL, &out, who, err);
        if (rc != CV_OK) return rc;
        cv_image_replace(h, &s->mask, &out);
    }
    tc_boxes_affine(s, 1, 1, -left, -top, cw, ch);
    return CV_OK;
}

/* The `fill` option (1 value or one per channel) expanded to the image's
 * channels in out; CV_ERR_INVALID when its length fits neither. */
static inline int tc_fill_for(const cv_host *h, const double *fill, int nfill, const cv_image *im, double *out,
                              const char *who, cv_error *err) {
    if (nfill != 1 && nfill != im->c)
        return h->set_error(err, CV_ERR_INVALID, "%s: fill has %d values but the image has %d channels", who, nfill,
                            im->c);
    for (int i = 0; i < im->c; i++) out[i] = fill[nfill == 1 ? 0 : i];
    return CV_OK;
}

/* ---- batch transforms (mixup, cutmix) ------------------------------------------------ */

/* When mixup and cutmix are both listed, each is created with pair_with_other =
 * true and exactly one of them mixes a batch: both draw u from the batch rng's key
 * at this reserved counter (whatever either has drawn before), mixup takes the
 * batch when u < 0.5, cutmix otherwise — CVNets' RandomChoice of the two.  The
 * loader must hand both the same rng key for this to be exact; as a safeguard a
 * paired transform also stands aside when the batch arrives already mixed
 * (batch->soft), so the two are never stacked even with different keys. */
#define TC_PAIR_COUNTER ((uint64_t)1 << 63)
static inline int tc_pair_turn(const cv_host *h, const cv_transform_ctx *ctx, int is_cutmix) {
    cv_rng pick = ctx->rng;
    pick.counter = TC_PAIR_COUNTER;
    double u = h->rng_uniform(&pick);
    return is_cutmix ? u >= 0.5 : u < 0.5;
}

static inline int tc_check_batch(const cv_host *h, const cv_batch *b, const cv_transform_ctx *ctx, const char *who,
                                 cv_error *err) {
    if (!b || !ctx) return h->set_error(err, CV_ERR_INVALID, "%s: no batch or no transform context", who);
    if (b->n < 1 || b->c < 1 || b->h < 1 || b->w < 1 || !b->images)
        return h->set_error(err, CV_ERR_INVALID, "%s: batch [%d, %d, %d, %d] has no images", who, b->n, b->c, b->h, b->w);
    if (b->num_classes < 1 || !b->soft_labels)
        return h->set_error(err, CV_ERR_INVALID, "%s: batch has no soft labels (num_classes %d); the loader must fill them one-hot",
                            who, b->num_classes);
    return CV_OK;
}

/* soft[i] = lam * soft[i] + (1 - lam) * soft[i - 1] (rolled by one, as torchvision's
 * references do), in float32 like torch */
static inline int tc_mix_labels(const cv_host *h, cv_batch *b, double lam, const char *who, cv_error *err) {
    int k = b->num_classes;
    float *last = h->alloc((size_t)k * sizeof(float));
    if (!last) return h->set_error(err, CV_ERR_NOMEM, "%s: out of memory", who);
    memcpy(last, b->soft_labels + (size_t)(b->n - 1) * k, (size_t)k * sizeof(float));
    float l = (float)lam, m = (float)(1.0 - lam);
    for (int i = b->n - 1; i >= 0; i--) {
        float *d = b->soft_labels + (size_t)i * k;
        const float *o = i > 0 ? d - k : last;
        for (int j = 0; j < k; j++) d[j] = d[j] * l + o[j] * m;
    }
    h->free(last);
    b->soft = 1;
    return CV_OK;
}

/* One component descriptor of kind transform. */
#define TC_DESC(var, name_, summary_, options_, create_, destroy_, vtable_)                                  \
    static const cv_component_desc var = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR,        \
                                           CV_KIND_TRANSFORM, name_, "any", summary_, options_, create_,    \
                                           destroy_, NULL, NULL, vtable_ }

#endif
