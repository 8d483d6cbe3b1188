/* test/unit/test_transform_geometry.c — the geometric transform plugins
 * (random_resized_crop, horizontal_flip, resize, center_crop, random_crop) loaded
 * through the host: exact crop windows for a fixed rng, re-derived here from
 * torchvision's algorithms and the host's generator, and hand-computed cases.
 * Images whose f32 pixel values encode their own coordinates (y * 100 + x) make a
 * nearest-neighbour output tell exactly which source pixel it came from.
 * torchvision constants: Debian bookworm python3-torchvision 0.14.1 on PIL images. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "support/testhost.h"

static cv_ctx *ctx;
static void setup(void) { ctx = th_ctx_new(); }
static void teardown(void) { th_ctx_free(ctx); }
TestSuite(transform_geometry, .init = setup, .fini = teardown);

static cv_sample coord_sample(int h, int w) {
    cv_sample s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.image = (cv_image){ h, w, 1, CV_F32, cv_alloc((size_t)h * w * sizeof(float)) };
    float *d = s.image.data;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) d[y * w + x] = (float)(y * 100 + x);
    return s;
}

static cv_sample u8_sample(int h, int w, int c) {
    cv_sample s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.image = (cv_image){ h, w, c, CV_U8, cv_alloc((size_t)h * w * c) };
    uint8_t *d = s.image.data;
    for (size_t i = 0; i < (size_t)h * w * c; i++) d[i] = (uint8_t)((37 * i + 11) % 256);
    return s;
}

static void free_sample(cv_sample *s) {
    cv_free(s->image.data);
    cv_free(s->mask.data);
    cv_free(s->boxes);
    cv_free(s->box_labels);
}

static cv_transform_ctx make_ctx(int th, int tw, uint64_t key) {
    cv_transform_ctx c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.target_h = th;
    c.target_w = tw;
    c.training = 1;
    cv_rng_init(&c.rng, 1234, &key, 1);
    return c;
}

static int run(const cv_component_desc *d, void *t, cv_sample *s, cv_transform_ctx *c, cv_error *err) {
    const cv_transform_vtable *vt = d->vtable;
    cr_assert_eq(vt->batch_level, 0);
    cv_error_init(err);
    return vt->apply(t, s, c, err);
}

/* the window's origin: the coordinate code of output pixel (0, 0) */
static void expect_window(const cv_sample *s, int top, int left, int h, int w) {
    cr_assert_eq(s->image.h, h, "height %d, want %d", s->image.h, h);
    cr_assert_eq(s->image.w, w, "width %d, want %d", s->image.w, w);
    const float *d = s->image.data;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            cr_assert_eq(d[y * w + x], (float)((top + y) * 100 + left + x), "pixel (%d,%d) = %g, want the source (%d,%d)",
                         y, x, d[y * w + x], top + y, left + x);
}

static int randint(cv_rng *r, int n) {
    int v = (int)(cv_rng_uniform(r) * n);
    return v >= n ? n - 1 : v;
}

/* ---- random_resized_crop ------------------------------------------------------------ */
Test(transform_geometry, rrc_falls_back_to_the_central_crop) {
    /* ratio fixed at 2 on a 10x10 image with scale 1: w = round(sqrt(200)) = 14 > 10
     * in all ten attempts, so the fallback: in_ratio 1 < 2 -> w = 10,
     * h = round(10 / 2) = 5, top = (10 - 5) // 2 = 2, left = 0 */
    const cv_component_desc *d = th_load(ctx, "transform", "random_resized_crop");
    const char *kv[] = { "scale=1.0, 1.0", "ratio=2.0, 2.0", "interpolation=nearest", NULL };
    void *t = th_create(ctx, d, kv, NULL);
    cv_sample s = coord_sample(10, 10);
    cv_transform_ctx c = make_ctx(5, 10, 7);
    cv_error err;
    cr_assert_eq(run(d, t, &s, &c, &err), CV_OK, "%s", err.message);
    expect_window(&s, 2, 0, 5, 10);
    free_sample(&s);
    th_destroy(d, t);
}

Test(transform_geometry, rrc_window_follows_torchvision_draws) {
    const cv_component_desc *d = th_load(ctx, "transform", "random_resized_crop");
    const char *kv[] = { "interpolation=nearest", NULL };
    void *t = th_create(ctx, d, kv, NULL);
    int checked = 0;
    for (uint64_t key = 0; key < 40; key++) {
        /* torchvision's get_params, replayed with the same draws */
        cv_transform_ctx c = make_ctx(1, 1, key);
        cv_rng r = c.rng;
        int H = 37, W = 29, top = -1, left = -1, ch = 0, cw = 0;
        for (int a = 0; a < 10; a++) {
            double area = H * W * (0.08 + (1.0 - 0.08) * cv_rng_uniform(&r));
            double lr0 = log(3.0 / 4.0), lr1 = log(4.0 / 3.0);
            double ar = exp(lr0 + (lr1 - lr0) * cv_rng_uniform(&r));
            int w = (int)nearbyint(sqrt(area * ar)), h = (int)nearbyint(sqrt(area / ar));
            if (w > 0 && w <= W && h > 0 && h <= H) {
                top = randint(&r, H - h + 1);
                left = randint(&r, W - w + 1);
                ch = h;
                cw = w;
                break;
            }
        }
        if (top < 0) continue;
        /* a target equal to the window makes nearest resampling a plain copy */
        c.target_h = ch;
        c.target_w = cw;
        cv_sample s = coord_sample(H, W);
        cv_error err;
        cr_assert_eq(run(d, t, &s, &c, &err), CV_OK, "%s", err.message);
        expect_window(&s, top, left, ch, cw);
        free_sample(&s);
        checked++;
    }
    cr_assert_gt(checked, 30, "only %d keys gave a window in ten attempts", checked);
    th_destroy(d, t);
}

Test(transform_geometry, rrc_output_is_the_target_size_and_deterministic) {
    const cv_component_desc *d = th_load(ctx, "transform", "random_resized_crop");
    void *t = th_create(ctx, d, NULL, NULL);
    cv_sample a = u8_sample(40, 50, 3), b = u8_sample(40, 50, 3), e = u8_sample(40, 50, 3);
    cv_transform_ctx ca = make_ctx(24, 32, 5), cb = make_ctx(24, 32, 5), ce = make_ctx(24, 32, 6);
    cv_error err;
    cr_assert_eq(run(d, t, &a, &ca, &err), CV_OK);
    cr_assert_eq(run(d, t, &b, &cb, &err), CV_OK);
    cr_assert_eq(run(d, t, &e, &ce, &err), CV_OK);
    cr_assert(a.image.h == 24 && a.image.w == 32 && a.image.c == 3 && a.image.dtype == CV_U8);
    cr_assert_eq(memcmp(a.image.data, b.image.data, 24 * 32 * 3), 0, "same rng key, different output");
    cr_assert_neq(memcmp(a.image.data, e.image.data, 24 * 32 * 3), 0, "different keys gave the same crop");
    free_sample(&a);
    free_sample(&b);
    free_sample(&e);
    th_destroy(d, t);
}

Test(transform_geometry, rrc_without_target_size_is_an_error) {
    const cv_component_desc *d = th_load(ctx, "transform", "random_resized_crop");
    void *t = th_create(ctx, d, NULL, NULL);
    cv_sample s = u8_sample(8, 8, 1);
    s.path = "photos/cat.jpg";
    cv_transform_ctx c = make_ctx(0, 0, 1);
    cv_error err;
    cr_assert_eq(run(d, t, &s, &c, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "random_resized_crop") && strstr(err.message, "target") &&
              strstr(err.message, "photos/cat.jpg"), "%s", err.message);
    free_sample(&s);
    th_destroy(d, t);
}

Test(transform_geometry, rrc_rejects_reversed_scale) {
    const cv_component_desc *d = th_load(ctx, "transform", "random_resized_crop");
    const char *kv[] = { "scale=0.9, 0.1", NULL };
    void *t = NULL;
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(th_try_create(ctx, d, kv, NULL, &t, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "scale"), "%s", err.message);
}

/* ---- horizontal_flip -------------------------------------------------------------------- */
Test(transform_geometry, flip_mirrors_image_mask_and_boxes) {
    const cv_component_desc *d = th_load(ctx, "transform", "horizontal_flip");
    const char *kv[] = { "p=1", NULL };
    void *t = th_create(ctx, d, kv, NULL);
    cv_sample s = coord_sample(2, 5);
    s.mask = (cv_image){ 2, 5, 1, CV_U8, cv_alloc(10) };
    for (int i = 0; i < 10; i++) ((uint8_t *)s.mask.data)[i] = (uint8_t)i;
    s.num_boxes = 1;
    s.boxes = cv_alloc(4 * sizeof(float));
    s.box_labels = cv_alloc(sizeof(int32_t));
    s.boxes[0] = 1; s.boxes[1] = 0; s.boxes[2] = 3; s.boxes[3] = 2;
    cv_transform_ctx c = make_ctx(2, 5, 1);
    cv_error err;
    cr_assert_eq(run(d, t, &s, &c, &err), CV_OK);
    const float *p = s.image.data;
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 5; x++) cr_assert_eq(p[y * 5 + x], (float)(y * 100 + 4 - x));
    cr_assert_eq(((uint8_t *)s.mask.data)[0], 4);
    cr_assert_eq(((uint8_t *)s.mask.data)[9], 5);
    cr_assert(s.boxes[0] == 2 && s.boxes[2] == 4 && s.boxes[1] == 0 && s.boxes[3] == 2, "box %g %g %g %g", s.boxes[0],
              s.boxes[1], s.boxes[2], s.boxes[3]);
    free_sample(&s);
    th_destroy(d, t);
}

Test(transform_geometry, flip_probability_follows_the_rng) {
    const cv_component_desc *d = th_load(ctx, "transform", "horizontal_flip");
    void *t = th_create(ctx, d, NULL, NULL); /* p = 0.5 */
    int flipped = 0;
    for (uint64_t key = 0; key < 64; key++) {
        cv_transform_ctx c = make_ctx(1, 3, key);
        cv_rng r = c.rng;
        int want = cv_rng_uniform(&r) < 0.5;
        cv_sample s = coord_sample(1, 3);
        cv_error err;
        cr_assert_eq(run(d, t, &s, &c, &err), CV_OK);
        int got = ((float *)s.image.data)[0] == 2.0f;
        cr_assert_eq(got, want, "key %llu", (unsigned long long)key);
        flipped += got;
        free_sample(&s);
    }
    cr_assert(flipped > 16 && flipped < 48, "%d of 64 flipped", flipped);
    th_destroy(d, t);
}

/* ---- resize ------------------------------------------------------------------------------ */
static void resize_to(const char *const *kv, int ih, int iw, int th, int tw, int want_h, int want_w) {
    const cv_component_desc *d = th_load(ctx, "transform", "resize");
    void *t = th_create(ctx, d, kv, NULL);
    cv_sample s = u8_sample(ih, iw, 1);
    cv_transform_ctx c = make_ctx(th, tw, 1);
    cv_error err;
    cr_assert_eq(run(d, t, &s, &c, &err), CV_OK, "%s", err.message);
    cr_assert(s.image.h == want_h && s.image.w == want_w, "%dx%d -> %dx%d, want %dx%d", ih, iw, s.image.h, s.image.w,
              want_h, want_w);
    free_sample(&s);
    th_destroy(d, t);
}

Test(transform_geometry, resize_shorter_side_like_torchvision) {
    /* torchvision F.resize(PIL, 20) on 30x50 -> 20x33, on 50x30 -> 33x20; (7x33, 5) -> 5x23 */
    const char *kv20[] = { "size=20", NULL }, *kv5[] = { "size=5", NULL };
    resize_to(kv20, 30, 50, 0, 0, 20, 33);
    resize_to(kv20, 50, 30, 0, 0, 33, 20);
    resize_to(kv5, 7, 33, 0, 0, 5, 23);
}

Test(transform_geometry, resize_to_target_or_crop_pct) {
    resize_to(NULL, 30, 50, 16, 24, 16, 24);
    /* crop_pct 0.875 with target 28x28: shorter side floor(28 / 0.875) = 32 */
    const char *kv[] = { "crop_pct=0.875", NULL };
    resize_to(kv, 40, 60, 28, 28, 32, 48);
}

Test(transform_geometry, resize_values_match_pillow_and_mask_uses_nearest) {
    /* Pillow: img(4, 5, 3) bilinear to 7x3 (w x h); first values */
    static const int want[9] = { 24, 61, 98, 87, 124, 161, 145, 131, 168 };
    const cv_component_desc *d = th_load(ctx, "transform", "resize");
    void *t = th_create(ctx, d, NULL, NULL);
    cv_sample s = u8_sample(4, 5, 3);
    s.mask = (cv_image){ 4, 5, 1, CV_U8, cv_alloc(20) };
    for (int i = 0; i < 20; i++) ((uint8_t *)s.mask.data)[i] = (uint8_t)(i / 5 * 10 + i % 5); /* y*10+x */
    cv_transform_ctx c = make_ctx(3, 7, 1);
    cv_error err;
    cr_assert_eq(run(d, t, &s, &c, &err), CV_OK);
    for (int i = 0; i < 9; i++) cr_assert_eq(((uint8_t *)s.image.data)[i], want[i], "element %d", i);
    cr_assert(s.mask.h == 3 && s.mask.w == 7);
    /* nearest: row floor((y + 0.5) * 4/3), column floor((x + 0.5) * 5/7) */
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 7; x++) {
            int sy = (int)((y + 0.5) * 4.0 / 3.0), sx = (int)((x + 0.5) * 5.0 / 7.0);
            cr_assert_eq(((uint8_t *)s.mask.data)[y * 7 + x], sy * 10 + sx, "mask (%d,%d)", y, x);
        }
    free_sample(&s);
    th_destroy(d, t);
}

/* ---- center_crop -------------------------------------------------------------------------- */
Test(transform_geometry, center_crop_matches_torchvision) {
    /* F.center_crop(PIL img(4, 5, 1), [3, 3]) and [6, 4] (zero padding) */
    static const int small[9] = { 48, 85, 122, 233, 14, 51, 162, 199, 236 };
    static const int padded[24] = { 0, 0, 0, 0, 11, 48, 85, 122, 196, 233, 14, 51, 125, 162, 199, 236, 54, 91, 128, 165, 0, 0, 0, 0 };
    const cv_component_desc *d = th_load(ctx, "transform", "center_crop");
    void *t = th_create(ctx, d, NULL, NULL);
    cv_sample s = u8_sample(4, 5, 1);
    cv_transform_ctx c = make_ctx(3, 3, 1);
    cv_error err;
    cr_assert_eq(run(d, t, &s, &c, &err), CV_OK);
    for (int i = 0; i < 9; i++) cr_assert_eq(((uint8_t *)s.image.data)[i], small[i], "3x3 element %d", i);
    free_sample(&s);
    s = u8_sample(4, 5, 1);
    c = make_ctx(6, 4, 1);
    cr_assert_eq(run(d, t, &s, &c, &err), CV_OK);
    cr_assert(s.image.h == 6 && s.image.w == 4);
    for (int i = 0; i < 24; i++) cr_assert_eq(((uint8_t *)s.image.data)[i], padded[i], "6x4 element %d", i);
    free_sample(&s);
    th_destroy(d, t);
}

/* ---- random_crop -------------------------------------------------------------------------- */
Test(transform_geometry, random_crop_pads_then_picks_a_window) {
    const cv_component_desc *d = th_load(ctx, "transform", "random_crop");
    const char *kv[] = { "padding=2", "fill=-1", NULL };
    void *t = th_create(ctx, d, kv, NULL);
    for (uint64_t key = 0; key < 10; key++) {
        cv_transform_ctx c = make_ctx(4, 4, key);
        cv_rng r = c.rng;
        int top = randint(&r, 8 - 4 + 1), left = randint(&r, 5); /* padded 8x8 */
        cv_sample s = coord_sample(4, 4);
        cv_error err;
        cr_assert_eq(run(d, t, &s, &c, &err), CV_OK, "%s", err.message);
        cr_assert(s.image.h == 4 && s.image.w == 4);
        const float *p = s.image.data;
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++) {
                int sy = top + y - 2, sx = left + x - 2;
                float want = (sy < 0 || sy >= 4 || sx < 0 || sx >= 4) ? -1.0f : (float)(sy * 100 + sx);
                cr_assert_eq(p[y * 4 + x], want, "key %llu (%d,%d): %g want %g", (unsigned long long)key, y, x,
                             p[y * 4 + x], want);
            }
        free_sample(&s);
    }
    th_destroy(d, t);
}

Test(transform_geometry, random_crop_pad_if_needed_and_reflect) {
    const cv_component_desc *d = th_load(ctx, "transform", "random_crop");
    const char *kv[] = { "pad_mode=reflect", NULL };
    void *t = th_create(ctx, d, kv, NULL);
    /* 3x3 image, crop 5x5: width padded by 2 on both sides (3x7), then height (7x7) */
    cv_transform_ctx c = make_ctx(5, 5, 3);
    cv_rng r = c.rng;
    int top = randint(&r, 3), left = randint(&r, 3);
    cv_sample s = coord_sample(3, 3);
    cv_error err;
    cr_assert_eq(run(d, t, &s, &c, &err), CV_OK, "%s", err.message);
    cr_assert(s.image.h == 5 && s.image.w == 5);
    /* reflect index of padded coordinate i over n = 3: -2 -> 2, -1 -> 1, 3 -> 1, 4 -> 0 */
    static const int refl[7] = { 2, 1, 0, 1, 2, 1, 0 };
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 5; x++)
            cr_assert_eq(((float *)s.image.data)[y * 5 + x], (float)(refl[top + y] * 100 + refl[left + x]), "(%d,%d)", y, x);
    free_sample(&s);
    th_destroy(d, t);

    const char *kv2[] = { "pad_if_needed=false", NULL };
    t = th_create(ctx, d, kv2, NULL);
    s = coord_sample(3, 3);
    c = make_ctx(5, 5, 3);
    cr_assert_eq(run(d, t, &s, &c, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "pad_if_needed"), "%s", err.message);
    free_sample(&s);
    th_destroy(d, t);
}
