/* test/unit/test_transform_edges.c — every per-sample transform plugin on tiny and
 * odd-shaped images (1x1, 1xN, Nx1), 1 and 3 channels, u8 and f32, with many rng
 * keys: each call either succeeds with a well-formed image or fails with a message
 * that names the transform; nothing crashes (run under ASan/UBSan by make check). */
#include <criterion/criterion.h>
#include <string.h>

#include "support/testhost.h"

static const char *const per_sample[] = {
    "random_resized_crop", "horizontal_flip", "resize", "center_crop", "random_crop", "normalize",
    "color_jitter", "rand_augment", "auto_augment", "trivial_augment_wide", "random_erasing",
};

/* options that make every random branch reachable */
static const char *const *options_for(const char *name) {
    static const char *const jitter[] = { "brightness=0.5", "contrast=0.5", "saturation=0.5", "hue=0.5", NULL };
    static const char *const erase[] = { "p=1", "scale=0.0, 1.0", NULL };
    static const char *const crop[] = { "padding=1, 2", "pad_mode=symmetric", NULL };
    static const char *const ra[] = { "num_ops=4", "interpolation=bicubic", NULL };
    if (!strcmp(name, "color_jitter")) return jitter;
    if (!strcmp(name, "random_erasing")) return erase;
    if (!strcmp(name, "random_crop")) return crop;
    if (!strcmp(name, "rand_augment")) return ra;
    return NULL;
}

Test(transform_edges, tiny_and_odd_images_never_crash) {
    cv_ctx *ctx = th_ctx_new();
    static const int shapes[][2] = { { 1, 1 }, { 1, 7 }, { 9, 1 }, { 2, 3 }, { 3, 3 } };
    int ok = 0, refused = 0;
    for (size_t p = 0; p < sizeof per_sample / sizeof per_sample[0]; p++) {
        const cv_component_desc *d = th_load(ctx, "transform", per_sample[p]);
        void *t = th_create(ctx, d, options_for(per_sample[p]), NULL);
        const cv_transform_vtable *vt = d->vtable;
        for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
            for (int c = 1; c <= 3; c += 2)
                for (int f32 = 0; f32 <= 1; f32++)
                    for (uint64_t key = 0; key < 12; key++) {
                        int h = shapes[sh][0], w = shapes[sh][1];
                        size_t n = (size_t)h * w * c;
                        cv_sample s;
                        memset(&s, 0, sizeof s);
                        s.struct_size = sizeof s;
                        s.image = (cv_image){ h, w, c, f32 ? CV_F32 : CV_U8, cv_alloc(n * (f32 ? 4 : 1)) };
                        for (size_t i = 0; i < n; i++) {
                            if (f32) ((float *)s.image.data)[i] = (float)(i % 5) / 4.0f;
                            else ((uint8_t *)s.image.data)[i] = (uint8_t)(i * 53);
                        }
                        cv_transform_ctx tc;
                        memset(&tc, 0, sizeof tc);
                        tc.struct_size = sizeof tc;
                        tc.target_h = 1 + (int)(key % 3);
                        tc.target_w = 1 + (int)(key % 4);
                        cv_rng_init(&tc.rng, 3, &key, 1);
                        cv_error err;
                        cv_error_init(&err);
                        int rc = vt->apply(t, &s, &tc, &err);
                        if (rc == CV_OK) {
                            cr_assert(s.image.data && s.image.h >= 1 && s.image.w >= 1 && s.image.c == c,
                                      "%s: bad image after success", per_sample[p]);
                            ok++;
                        } else {
                            cr_assert(strstr(err.message, per_sample[p]), "%s: message '%s'", per_sample[p], err.message);
                            /* expected refusals: f32 into a u8-only augmentation, a grey
                             * image into normalize's default three means */
                            int u8_only = strstr(per_sample[p], "augment") != NULL;
                            int grey_norm = !strcmp(per_sample[p], "normalize") && c == 1;
                            cr_assert((u8_only && f32) || grey_norm, "%s %dx%dx%d f32=%d refused: %s", per_sample[p], h,
                                      w, c, f32, err.message);
                            refused++;
                        }
                        cv_free(s.image.data);
                    }
        th_destroy(d, t);
    }
    /* 3 augmentations x 5 shapes x 2 channel counts x 12 keys on f32, and
     * normalize on 5 grey shapes x 2 dtypes x 12 keys */
    cr_assert_eq(refused, 3 * 5 * 2 * 12 + 5 * 2 * 12, "%d refused, %d ok", refused, ok);
    th_ctx_free(ctx);
}

/* The same rng key gives the same output for every per-sample transform; the random
 * ones give different outputs for some other key. */
static void run_once(const cv_component_desc *d, void *t, uint64_t key, cv_image *out) {
    cv_sample s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.image = (cv_image){ 20, 24, 3, CV_U8, cv_alloc(20 * 24 * 3) };
    for (int i = 0; i < 20 * 24 * 3; i++) ((uint8_t *)s.image.data)[i] = (uint8_t)((i * 7919) >> 3);
    cv_transform_ctx tc;
    memset(&tc, 0, sizeof tc);
    tc.struct_size = sizeof tc;
    tc.target_h = 16;
    tc.target_w = 16;
    cv_rng_init(&tc.rng, 11, &key, 1);
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(((const cv_transform_vtable *)d->vtable)->apply(t, &s, &tc, &err), CV_OK, "%s: %s", d->name,
                 err.message);
    *out = s.image;
}

Test(transform_edges, fixed_key_is_deterministic) {
    cv_ctx *ctx = th_ctx_new();
    for (size_t p = 0; p < sizeof per_sample / sizeof per_sample[0]; p++) {
        const cv_component_desc *d = th_load(ctx, "transform", per_sample[p]);
        void *t = th_create(ctx, d, options_for(per_sample[p]), NULL);
        cv_image a, b;
        run_once(d, t, 42, &a);
        run_once(d, t, 42, &b);
        size_t bytes = (size_t)a.h * a.w * a.c * (a.dtype == CV_F32 ? 4 : 1);
        cr_assert(a.h == b.h && a.w == b.w && a.dtype == b.dtype && memcmp(a.data, b.data, bytes) == 0,
                  "%s: same key, different output", per_sample[p]);
        int random = strcmp(per_sample[p], "resize") && strcmp(per_sample[p], "center_crop") &&
                     strcmp(per_sample[p], "normalize");
        int differs = 0;
        for (uint64_t key = 43; random && key < 63 && !differs; key++) {
            cv_image c;
            run_once(d, t, key, &c);
            differs = c.h != a.h || c.w != a.w || memcmp(c.data, a.data, bytes) != 0;
            cv_free(c.data);
        }
        cr_assert(!random || differs, "%s: 20 other keys all gave the same output", per_sample[p]);
        cv_free(a.data);
        cv_free(b.data);
        th_destroy(d, t);
    }
    th_ctx_free(ctx);
}
