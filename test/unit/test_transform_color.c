/* test/unit/test_transform_color.c — the photometric transform plugins (normalize,
 * color_jitter, rand_augment, auto_augment, trivial_augment_wide, random_erasing)
 * loaded through the host.  Each plugin's random draws are replayed here in
 * torchvision's order with the host generator and the SDK primitives (compiled in:
 * tests link only libcvnets-core.a), so a wrong draw order, table entry or sign
 * rule shows up as a pixel difference.  The AutoAugment policies below were printed
 * from torchvision 0.14.1's AutoAugment(policy).policies; normalize's constants come from
 * torchvision's to_tensor + normalize on the same image (Debian python3-torchvision). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "support/testhost.h"
#include <cvnets/image_ops.h>

#include "../../sdk/lib/image_ops.c"
#include "../../sdk/lib/image_ops_affine.c"
#include "../../sdk/lib/image_ops_augment.c"
#include "../../sdk/lib/image_ops_color.c"
#include "../../sdk/lib/image_ops_resample.c"

static cv_ctx *ctx;
static const cv_host *H;
static void setup(void) {
    ctx = th_ctx_new();
    H = &ctx->host;
}
static void teardown(void) { th_ctx_free(ctx); }
TestSuite(transform_color, .init = setup, .fini = teardown);

static cv_image img_u8(int h, int w, int c, unsigned mul) {
    cv_image im = { h, w, c, CV_U8, cv_alloc((size_t)h * w * c) };
    for (size_t i = 0; i < (size_t)h * w * c; i++) ((uint8_t *)im.data)[i] = (uint8_t)((mul * i + 11) % 256);
    return im;
}

static cv_sample sample_of(cv_image im) {
    cv_sample s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.image = im;
    return s;
}

static cv_transform_ctx make_ctx(uint64_t key) {
    cv_transform_ctx c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.target_h = c.target_w = 8;
    c.training = 1;
    cv_rng_init(&c.rng, 99, &key, 1);
    return c;
}

static int apply(const cv_component_desc *d, void *t, cv_sample *s, cv_transform_ctx *c, cv_error *err) {
    cv_error_init(err);
    return ((const cv_transform_vtable *)d->vtable)->apply(t, s, c, err);
}

static int randint(cv_rng *r, int n) {
    int v = (int)(cv_rng_uniform(r) * n);
    return v >= n ? n - 1 : v;
}

static void same_image(const cv_image *a, const cv_image *b, const char *what, uint64_t key) {
    cr_assert(a->h == b->h && a->w == b->w && a->c == b->c && a->dtype == b->dtype, "%s key %llu: shape", what,
              (unsigned long long)key);
    cr_assert_eq(memcmp(a->data, b->data, cv_image_bytes(a)), 0, "%s key %llu: pixels differ", what,
                 (unsigned long long)key);
}

/* ---- normalize ------------------------------------------------------------------------ */
Test(transform_color, normalize_matches_to_tensor_and_normalize) {
    static const float want[6] = { -1.92953169f, -1.19537807f, -0.32296288f, -0.02868402f, 0.747899234f, 1.61167777f };
    const cv_component_desc *d = th_load(ctx, "transform", "normalize");
    void *t = th_create(ctx, d, NULL, NULL);
    cv_sample s = sample_of(img_u8(4, 5, 3, 37));
    cv_transform_ctx c = make_ctx(0);
    cv_error err;
    cr_assert_eq(apply(d, t, &s, &c, &err), CV_OK, "%s", err.message);
    cr_assert_eq(s.image.dtype, CV_F32);
    for (int i = 0; i < 6; i++) cr_assert_float_eq(((float *)s.image.data)[i], want[i], 1e-6, "element %d", i);
    /* an f32 image is taken as [0, 1] already: applying again normalises the values */
    float v0 = ((float *)s.image.data)[0];
    cr_assert_eq(apply(d, t, &s, &c, &err), CV_OK);
    cr_assert_float_eq(((float *)s.image.data)[0], (v0 - 0.485f) / 0.229f, 1e-5);
    cv_free(s.image.data);
    th_destroy(d, t);
}

Test(transform_color, normalize_channel_mismatch_is_explained) {
    const cv_component_desc *d = th_load(ctx, "transform", "normalize");
    void *t = th_create(ctx, d, NULL, NULL); /* three means */
    cv_sample s = sample_of(img_u8(2, 2, 1, 37));
    s.path = "digits/7.png";
    cv_transform_ctx c = make_ctx(0);
    cv_error err;
    cr_assert_eq(apply(d, t, &s, &c, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "1 channels") && strstr(err.message, "digits/7.png"), "%s", err.message);
    th_destroy(d, t);
    const char *kv[] = { "mean=0.5", "std=0.25", NULL };
    t = th_create(ctx, d, kv, NULL);
    cr_assert_eq(apply(d, t, &s, &c, &err), CV_OK, "%s", err.message);
    cr_assert_float_eq(((float *)s.image.data)[0], (11.0f / 255.0f - 0.5f) / 0.25f, 1e-6);
    cv_free(s.image.data);
    th_destroy(d, t);
    const char *bad[] = { "std=0.2, 0", NULL };
    void *u = NULL;
    cv_error_init(&err);
    cr_assert_neq(th_try_create(ctx, d, bad, NULL, &u, &err), CV_OK);
}

/* ---- color_jitter ------------------------------------------------------------------------ */
Test(transform_color, color_jitter_replays_torchvision_order) {
    const cv_component_desc *d = th_load(ctx, "transform", "color_jitter");
    const char *kv[] = { "brightness=0.4", "contrast=0.4", "saturation=0.4", "hue=0.1", NULL };
    void *t = th_create(ctx, d, kv, NULL);
    for (uint64_t key = 0; key < 12; key++) {
        cv_transform_ctx c = make_ctx(key);
        cv_rng r = c.rng;
        int order[4] = { 0, 1, 2, 3 };
        for (int i = 3; i > 0; i--) {
            int j = randint(&r, i + 1), tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        double b = 0.6 + 0.8 * cv_rng_uniform(&r), ct = 0.6 + 0.8 * cv_rng_uniform(&r);
        double sa = 0.6 + 0.8 * cv_rng_uniform(&r), hu = -0.1 + 0.2 * cv_rng_uniform(&r);
        cv_image want = img_u8(6, 7, 3, 53);
        cv_error err;
        cv_error_init(&err);
        for (int i = 0; i < 4; i++) {
            int rc = order[i] == 0   ? cv_image_adjust_brightness(H, &want, b, "t", &err)
                     : order[i] == 1 ? cv_image_adjust_contrast(H, &want, ct, "t", &err)
                     : order[i] == 2 ? cv_image_adjust_saturation(H, &want, sa, "t", &err)
                                     : cv_image_adjust_hue(H, &want, hu, "t", &err);
            cr_assert_eq(rc, CV_OK);
        }
        cv_sample s = sample_of(img_u8(6, 7, 3, 53));
        cr_assert_eq(apply(d, t, &s, &c, &err), CV_OK, "%s", err.message);
        same_image(&s.image, &want, "color_jitter", key);
        cv_free(s.image.data);
        cv_free(want.data);
    }
    th_destroy(d, t);
}

Test(transform_color, color_jitter_brightness_by_hand_and_f32) {
    const cv_component_desc *d = th_load(ctx, "transform", "color_jitter");
    const char *kv[] = { "brightness=0.5", NULL };
    void *t = th_create(ctx, d, kv, NULL);
    cv_transform_ctx c = make_ctx(3);
    cv_rng r = c.rng;
    for (int i = 0; i < 3; i++) cv_rng_uniform(&r); /* randperm(4) */
    float f = (float)(0.5 + cv_rng_uniform(&r));
    cv_sample s = sample_of(img_u8(3, 3, 1, 37));
    cv_error err;
    cr_assert_eq(apply(d, t, &s, &c, &err), CV_OK);
    for (int i = 0; i < 9; i++) {
        float v = f * (float)((37 * i + 11) % 256);
        int want = v > 255 ? 255 : (int)v;
        cr_assert_eq(((uint8_t *)s.image.data)[i], want, "pixel %d: factor %g", i, f);
    }
    cv_free(s.image.data);
    /* f32 input: same factor, bound 1, no truncation */
    float px[4] = { 0.1f, 0.5f, 0.9f, 0.0f };
    cv_image fim = { 2, 2, 1, CV_F32, cv_alloc(sizeof px) };
    memcpy(fim.data, px, sizeof px);
    s = sample_of(fim);
    c = make_ctx(3);
    cr_assert_eq(apply(d, t, &s, &c, &err), CV_OK);
    for (int i = 0; i < 4; i++) cr_assert_float_eq(((float *)s.image.data)[i], fminf(f * px[i], 1.0f), 1e-7);
    cv_free(s.image.data);
    th_destroy(d, t);
}

/* ---- rand_augment ----------------------------------------------------------------------- */
Test(transform_color, rand_augment_replays_ops_magnitudes_and_signs) {
    const cv_component_desc *d = th_load(ctx, "transform", "rand_augment");
    void *t = th_create(ctx, d, NULL, NULL);
    int seen[CV_AUG_COUNT] = { 0 };
    double zero[3] = { 0, 0, 0 };
    for (uint64_t key = 0; key < 120; key++) {
        cv_transform_ctx c = make_ctx(key);
        cv_rng r = c.rng;
        cv_image want = img_u8(9, 11, 3, 37);
        cv_error err;
        cv_error_init(&err);
        for (int i = 0; i < 2; i++) { /* num_ops 2, magnitude 9 of 31 */
            int op = randint(&r, 14), sig = 0;
            double m = cv_aug_magnitude(0, op, 9, 31, 9, 11, &sig);
            if (sig && randint(&r, 2)) m = -m;
            cr_assert_eq(cv_aug_apply(H, &want, op, m, CV_INTERP_NEAREST, zero, "t", &err), CV_OK);
            seen[op]++;
        }
        cv_sample s = sample_of(img_u8(9, 11, 3, 37));
        cr_assert_eq(apply(d, t, &s, &c, &err), CV_OK, "%s", err.message);
        same_image(&s.image, &want, "rand_augment", key);
        cv_free(s.image.data);
        cv_free(want.data);
    }
    for (int op = 0; op < 14; op++) cr_assert_gt(seen[op], 0, "%s never drawn in 240 picks", cv_aug_op_name(op));
    cr_assert_eq(seen[CV_AUG_INVERT], 0, "Invert is not a RandAugment op");
    th_destroy(d, t);
}

Test(transform_color, rand_augment_needs_u8) {
    const cv_component_desc *d = th_load(ctx, "transform", "rand_augment");
    void *t = th_create(ctx, d, NULL, NULL);
    cv_image f = { 2, 2, 3, CV_F32, cv_alloc_array(12, sizeof(float)) };
    cv_sample s = sample_of(f);
    cv_transform_ctx c = make_ctx(1);
    cv_error err;
    cr_assert_eq(apply(d, t, &s, &c, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "u8") && strstr(err.message, "before normalize"), "%s", err.message);
    cv_free(s.image.data);
    th_destroy(d, t);
    const char *bad[] = { "magnitude=31", NULL };
    void *u = NULL;
    cv_error_init(&err);
    cr_assert_eq(th_try_create(ctx, d, bad, NULL, &u, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "num_magnitude_bins"), "%s", err.message);
}

/* ---- auto_augment (policies from torchvision's AutoAugment(policy).policies) ------------- */
typedef struct policy_step { const char *op; double p; int bin; } policy_step;
static const policy_step imagenet[25][2] = {
    { { "Posterize", 0.4, 8 }, { "Rotate", 0.6, 9 } },      { { "Solarize", 0.6, 5 }, { "AutoContrast", 0.6, -1 } },
    { { "Equalize", 0.8, -1 }, { "Equalize", 0.6, -1 } },   { { "Posterize", 0.6, 7 }, { "Posterize", 0.6, 6 } },
    { { "Equalize", 0.4, -1 }, { "Solarize", 0.2, 4 } },    { { "Equalize", 0.4, -1 }, { "Rotate", 0.8, 8 } },
    { { "Solarize", 0.6, 3 }, { "Equalize", 0.6, -1 } },    { { "Posterize", 0.8, 5 }, { "Equalize", 1.0, -1 } },
    { { "Rotate", 0.2, 3 }, { "Solarize", 0.6, 8 } },       { { "Equalize", 0.6, -1 }, { "Posterize", 0.4, 6 } },
    { { "Rotate", 0.8, 8 }, { "Color", 0.4, 0 } },          { { "Rotate", 0.4, 9 }, { "Equalize", 0.6, -1 } },
    { { "Equalize", 0.0, -1 }, { "Equalize", 0.8, -1 } },   { { "Invert", 0.6, -1 }, { "Equalize", 1.0, -1 } },
    { { "Color", 0.6, 4 }, { "Contrast", 1.0, 8 } },        { { "Rotate", 0.8, 8 }, { "Color", 1.0, 2 } },
    { { "Color", 0.8, 8 }, { "Solarize", 0.8, 7 } },        { { "Sharpness", 0.4, 7 }, { "Invert", 0.6, -1 } },
    { { "ShearX", 0.6, 5 }, { "Equalize", 1.0, -1 } },      { { "Color", 0.4, 0 }, { "Equalize", 0.6, -1 } },
    { { "Equalize", 0.4, -1 }, { "Solarize", 0.2, 4 } },    { { "Solarize", 0.6, 5 }, { "AutoContrast", 0.6, -1 } },
    { { "Invert", 0.6, -1 }, { "Equalize", 1.0, -1 } },     { { "Color", 0.6, 4 }, { "Contrast", 1.0, 8 } },
    { { "Equalize", 0.8, -1 }, { "Equalize", 0.6, -1 } },
};

static const policy_step cifar10[25][2] = {
    { { "Invert", 0.1, -1 }, { "Contrast", 0.2, 6 } }, { { "Rotate", 0.7, 2 }, { "TranslateX", 0.3, 9 } },
    { { "Sharpness", 0.8, 1 }, { "Sharpness", 0.9, 3 } }, { { "ShearY", 0.5, 8 }, { "TranslateY", 0.7, 9 } },
    { { "AutoContrast", 0.5, -1 }, { "Equalize", 0.9, -1 } }, { { "ShearY", 0.2, 7 }, { "Posterize", 0.3, 7 } },
    { { "Color", 0.4, 3 }, { "Brightness", 0.6, 7 } }, { { "Sharpness", 0.3, 9 }, { "Brightness", 0.7, 9 } },
    { { "Equalize", 0.6, -1 }, { "Equalize", 0.5, -1 } }, { { "Contrast", 0.6, 7 }, { "Sharpness", 0.6, 5 } },
    { { "Color", 0.7, 7 }, { "TranslateX", 0.5, 8 } }, { { "Equalize", 0.3, -1 }, { "AutoContrast", 0.4, -1 } },
    { { "TranslateY", 0.4, 3 }, { "Sharpness", 0.2, 6 } }, { { "Brightness", 0.9, 6 }, { "Color", 0.2, 8 } },
    { { "Solarize", 0.5, 2 }, { "Invert", 0.0, -1 } }, { { "Equalize", 0.2, -1 }, { "AutoContrast", 0.6, -1 } },
    { { "Equalize", 0.2, -1 }, { "Equalize", 0.6, -1 } }, { { "Color", 0.9, 9 }, { "Equalize", 0.6, -1 } },
    { { "AutoContrast", 0.8, -1 }, { "Solarize", 0.2, 8 } }, { { "Brightness", 0.1, 3 }, { "Color", 0.7, 0 } },
    { { "Solarize", 0.4, 5 }, { "AutoContrast", 0.9, -1 } }, { { "TranslateY", 0.9, 9 }, { "TranslateY", 0.7, 9 } },
    { { "AutoContrast", 0.9, -1 }, { "Solarize", 0.8, 3 } }, { { "Equalize", 0.8, -1 }, { "Invert", 0.1, -1 } },
    { { "TranslateY", 0.7, 9 }, { "AutoContrast", 0.9, -1 } },
};
static const policy_step svhn[25][2] = {
    { { "ShearX", 0.9, 4 }, { "Invert", 0.2, -1 } }, { { "ShearY", 0.9, 8 }, { "Invert", 0.7, -1 } },
    { { "Equalize", 0.6, -1 }, { "Solarize", 0.6, 6 } }, { { "Invert", 0.9, -1 }, { "Equalize", 0.6, -1 } },
    { { "Equalize", 0.6, -1 }, { "Rotate", 0.9, 3 } }, { { "ShearX", 0.9, 4 }, { "AutoContrast", 0.8, -1 } },
    { { "ShearY", 0.9, 8 }, { "Invert", 0.4, -1 } }, { { "ShearY", 0.9, 5 }, { "Solarize", 0.2, 6 } },
    { { "Invert", 0.9, -1 }, { "AutoContrast", 0.8, -1 } }, { { "Equalize", 0.6, -1 }, { "Rotate", 0.9, 3 } },
    { { "ShearX", 0.9, 4 }, { "Solarize", 0.3, 3 } }, { { "ShearY", 0.8, 8 }, { "Invert", 0.7, -1 } },
    { { "Equalize", 0.9, -1 }, { "TranslateY", 0.6, 6 } }, { { "Invert", 0.9, -1 }, { "Equalize", 0.6, -1 } },
    { { "Contrast", 0.3, 3 }, { "Rotate", 0.8, 4 } }, { { "Invert", 0.8, -1 }, { "TranslateY", 0.0, 2 } },
    { { "ShearY", 0.7, 6 }, { "Solarize", 0.4, 8 } }, { { "Invert", 0.6, -1 }, { "Rotate", 0.8, 4 } },
    { { "ShearY", 0.3, 7 }, { "TranslateX", 0.9, 3 } }, { { "ShearX", 0.1, 6 }, { "Invert", 0.6, -1 } },
    { { "Solarize", 0.7, 2 }, { "TranslateY", 0.6, 7 } }, { { "ShearY", 0.8, 4 }, { "Invert", 0.8, -1 } },
    { { "ShearX", 0.7, 9 }, { "TranslateY", 0.8, 3 } }, { { "ShearY", 0.8, 5 }, { "AutoContrast", 0.7, -1 } },
    { { "ShearX", 0.7, 2 }, { "Invert", 0.1, -1 } },
};

static int op_by_name(const char *name) {
    for (int op = 0; op < CV_AUG_COUNT; op++)
        if (strcmp(cv_aug_op_name(op), name) == 0) return op;
    cr_assert_fail("no op named %s", name);
    return -1;
}

static void replay_auto_augment(const char *policy, const policy_step (*table)[2]) {
    const cv_component_desc *d = th_load(ctx, "transform", "auto_augment");
    char opt[64];
    snprintf(opt, sizeof opt, "policy=%s", policy);
    const char *kv[] = { opt, NULL };
    void *t = th_create(ctx, d, kv, NULL);
    int policies_seen[25] = { 0 };
    for (uint64_t key = 0; key < 150; key++) {
        cv_transform_ctx c = make_ctx(key);
        cv_rng r = c.rng;
        int id = randint(&r, 25);
        double probs[2] = { cv_rng_uniform(&r), cv_rng_uniform(&r) };
        int signs[2] = { randint(&r, 2), randint(&r, 2) };
        policies_seen[id]++;
        cv_image want = img_u8(12, 10, 3, 41);
        cv_error err;
        cv_error_init(&err);
        for (int i = 0; i < 2; i++) {
            if (!(probs[i] <= table[id][i].p)) continue;
            int op = op_by_name(table[id][i].op), sig = 0;
            double m = table[id][i].bin >= 0 ? cv_aug_magnitude(0, op, table[id][i].bin, 10, 12, 10, &sig) : 0.0;
            if (sig && signs[i] == 0) m = -m;
            cr_assert_eq(cv_aug_apply(H, &want, op, m, CV_INTERP_NEAREST, NULL, "t", &err), CV_OK);
        }
        cv_sample s = sample_of(img_u8(12, 10, 3, 41));
        cr_assert_eq(apply(d, t, &s, &c, &err), CV_OK, "%s", err.message);
        same_image(&s.image, &want, policy, key);
        cv_free(s.image.data);
        cv_free(want.data);
    }
    int distinct = 0;
    for (int i = 0; i < 25; i++) distinct += policies_seen[i] > 0;
    cr_assert_gt(distinct, 20, "only %d of 25 sub-policies drawn", distinct);
    th_destroy(d, t);
}

Test(transform_color, auto_augment_replays_the_three_policies) {
    replay_auto_augment("imagenet", imagenet);
    replay_auto_augment("cifar10", cifar10);
    replay_auto_augment("svhn", svhn);
}

/* ---- trivial_augment_wide --------------------------------------------------------------------- */
Test(transform_color, trivial_augment_wide_replays_draws) {
    const cv_component_desc *d = th_load(ctx, "transform", "trivial_augment_wide");
    void *t = th_create(ctx, d, NULL, NULL);
    for (uint64_t key = 0; key < 80; key++) {
        cv_transform_ctx c = make_ctx(key);
        cv_rng r = c.rng;
        int op = randint(&r, 14), sig = 0;
        int has_bins = op != CV_AUG_IDENTITY && op != CV_AUG_AUTOCONTRAST && op != CV_AUG_EQUALIZE;
        double m = 0.0;
        if (has_bins) m = cv_aug_magnitude(1, op, randint(&r, 31), 31, 10, 10, &sig);
        if (sig && randint(&r, 2)) m = -m;
        cv_image want = img_u8(10, 10, 1, 29);
        cv_error err;
        cv_error_init(&err);
        cr_assert_eq(cv_aug_apply(H, &want, op, m, CV_INTERP_NEAREST, NULL, "t", &err), CV_OK);
        cv_sample s = sample_of(img_u8(10, 10, 1, 29));
        cr_assert_eq(apply(d, t, &s, &c, &err), CV_OK, "%s", err.message);
        same_image(&s.image, &want, "trivial_augment_wide", key);
        cv_free(s.image.data);
        cv_free(want.data);
    }
    th_destroy(d, t);
}

/* ---- random_erasing --------------------------------------------------------------------------- */
static int erase_box(cv_rng *r, int H_, int W_, int C, float *noise, int *top, int *left, int *eh, int *ew) {
    double lr0 = log(0.3), lr1 = log(3.3);
    for (int a = 0; a < 10; a++) {
        double area = H_ * W_ * (0.02 + (0.33 - 0.02) * cv_rng_uniform(r));
        double ar = exp(lr0 + (lr1 - lr0) * cv_rng_uniform(r));
        int h = (int)nearbyint(sqrt(area * ar)), w = (int)nearbyint(sqrt(area / ar));
        if (!(h < H_ && w < W_)) continue;
        for (int i = 0; noise && i < C * h * w; i++) noise[i] = (float)cv_rng_normal(r);
        *top = randint(r, H_ - h + 1);
        *left = randint(r, W_ - w + 1);
        *eh = h;
        *ew = w;
        return 1;
    }
    return 0;
}

Test(transform_color, random_erasing_replays_box_and_noise) {
    const cv_component_desc *d = th_load(ctx, "transform", "random_erasing");
    const char *kv[] = { "p=1", "value=random", NULL };
    void *t = th_create(ctx, d, kv, NULL);
    int erased = 0;
    for (uint64_t key = 0; key < 20; key++) {
        cv_transform_ctx c = make_ctx(key);
        cv_rng r = c.rng;
        cr_assert(cv_rng_uniform(&r) < 1.0); /* the p draw */
        static float noise[3 * 16 * 20];
        int top = 0, left = 0, eh = 0, ew = 0;
        int hit = erase_box(&r, 16, 20, 3, noise, &top, &left, &eh, &ew);
        cv_image im = { 16, 20, 3, CV_F32, cv_alloc(16 * 20 * 3 * sizeof(float)) };
        for (int i = 0; i < 960; i++) ((float *)im.data)[i] = 5.0f;
        cv_sample s = sample_of(im);
        cv_error err;
        cr_assert_eq(apply(d, t, &s, &c, &err), CV_OK, "%s", err.message);
        const float *p = s.image.data;
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 20; x++)
                for (int ch = 0; ch < 3; ch++) {
                    int in = hit && y >= top && y < top + eh && x >= left && x < left + ew;
                    float want = in ? noise[(ch * eh + (y - top)) * ew + (x - left)] : 5.0f;
                    cr_assert_eq(p[(y * 20 + x) * 3 + ch], want, "key %llu (%d,%d,%d)", (unsigned long long)key, y, x, ch);
                }
        erased += hit;
        cv_free(s.image.data);
    }
    cr_assert_gt(erased, 15);
    th_destroy(d, t);
}

Test(transform_color, random_erasing_u8_takes_only_a_number) {
    const cv_component_desc *d = th_load(ctx, "transform", "random_erasing");
    const char *kv[] = { "p=1", "value=random", NULL };
    void *t = th_create(ctx, d, kv, NULL);
    cv_sample s = sample_of(img_u8(8, 8, 1, 37));
    cv_transform_ctx c = make_ctx(0);
    cv_error err;
    cr_assert_eq(apply(d, t, &s, &c, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "after normalize"), "%s", err.message);
    th_destroy(d, t);
    const char *kv2[] = { "p=1", "value=200", NULL };
    t = th_create(ctx, d, kv2, NULL);
    cr_assert_eq(apply(d, t, &s, &c, &err), CV_OK);
    int n200 = 0;
    for (int i = 0; i < 64; i++) n200 += ((uint8_t *)s.image.data)[i] == 200;
    cr_assert_gt(n200, 0);
    cv_free(s.image.data);
    th_destroy(d, t);
    const char *bad[] = { "value=blue", NULL };
    void *u = NULL;
    cv_error_init(&err);
    cr_assert_eq(th_try_create(ctx, d, bad, NULL, &u, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "blue"), "%s", err.message);
}
