/* test/unit/test_image_ops.c — the SDK image primitives (sdk/lib/image_ops*.c)
 * against values produced by the reference libraries on small images.
 *
 * Expected constants were generated once (not at test time) with Debian bookworm's
 * python3-pil 9.4.0 and python3-torchvision 0.14.1: geometry with Pillow
 * (Image.resize, torchvision.transforms.functional on PIL images), colour with
 * torchvision.transforms.functional on uint8 tensors.  The test image is
 * img(h, w, c)[i] = (37 i + 11) mod 256 over the HWC bytes, in both generators.
 *
 * Tests link only libcvnets-core.a, so the SDK sources are compiled in here. */
#include <criterion/criterion.h>
#include <math.h>
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
static cv_error err;

static void setup(void) {
    ctx = th_ctx_new();
    H = &ctx->host;
    cv_error_init(&err);
}
static void teardown(void) { th_ctx_free(ctx); }
TestSuite(image_ops, .init = setup, .fini = teardown);

static cv_image make(int h, int w, int c) {
    cv_image im;
    cr_assert_eq(cv_image_new(H, h, w, c, CV_U8, &im, "test", &err), CV_OK);
    uint8_t *d = im.data;
    for (size_t i = 0; i < cv_image_elems(&im); i++) d[i] = (uint8_t)((37 * i + 11) % 256);
    return im;
}

static void expect_u8(const cv_image *im, int h, int w, int c, const int *want, size_t n, const char *what) {
    cr_assert_eq(im->h, h, "%s: height %d, want %d", what, im->h, h);
    cr_assert_eq(im->w, w, "%s: width %d, want %d", what, im->w, w);
    cr_assert_eq(im->c, c, "%s: channels", what);
    cr_assert_eq(cv_image_elems(im), n, "%s: element count", what);
    const uint8_t *d = im->data;
    for (size_t i = 0; i < n; i++) cr_assert_eq(d[i], want[i], "%s: element %zu is %d, want %d", what, i, d[i], want[i]);
}
#define EXPECT(im, h, w, c, arr, what) expect_u8(im, h, w, c, arr, sizeof(arr) / sizeof(arr[0]), what)

/* ---- resampling (Pillow Image.resize) ---------------------------------------------- */
Test(image_ops, resize_upscale_matches_pillow) {
    static const int nearest[] = { 11, 48, 85, 122, 159, 196, 122, 159, 196, 233, 14, 51, 88, 125, 162, 88, 125, 162, 199, 236, 17, 97, 134, 171, 208, 245, 26, 208, 245, 26, 63, 100, 137, 174, 211, 248, 174, 211, 248, 29, 66, 103, 140, 177, 214, 251, 32, 69, 251, 32, 69, 106, 143, 180, 217, 254, 35, 217, 254, 35, 72, 109, 146 };
    static const int bilinear[] = { 24, 61, 98, 87, 124, 161, 145, 131, 168, 169, 27, 64, 120, 106, 143, 149, 153, 113, 212, 172, 30, 76, 113, 150, 139, 176, 140, 146, 183, 128, 42, 79, 116, 121, 158, 195, 146, 128, 165, 136, 45, 82, 127, 164, 201, 190, 125, 118, 197, 106, 88, 93, 130, 167, 172, 209, 118, 142, 179, 114, 59, 96, 133 };
    static const int bicubic[] = { 13, 50, 86, 78, 128, 174, 152, 137, 186, 178, 22, 59, 108, 99, 149, 146, 161, 114, 229, 183, 17, 70, 106, 151, 148, 190, 141, 154, 201, 124, 32, 79, 116, 120, 169, 217, 153, 130, 176, 135, 27, 73, 126, 173, 215, 204, 120, 108, 213, 89, 68, 98, 135, 172, 189, 231, 110, 146, 190, 106, 40, 93, 140 };
    cv_image a = make(4, 5, 3), o;
    cr_assert_eq(cv_image_resize(H, &a, 3, 7, CV_INTERP_NEAREST, &o, "t", &err), CV_OK, "%s", err.message);
    EXPECT(&o, 3, 7, 3, nearest, "nearest");
    cv_image_free(H, &o);
    cr_assert_eq(cv_image_resize(H, &a, 3, 7, CV_INTERP_BILINEAR, &o, "t", &err), CV_OK);
    EXPECT(&o, 3, 7, 3, bilinear, "bilinear");
    cv_image_free(H, &o);
    cr_assert_eq(cv_image_resize(H, &a, 3, 7, CV_INTERP_BICUBIC, &o, "t", &err), CV_OK);
    EXPECT(&o, 3, 7, 3, bicubic, "bicubic");
    cv_image_free(H, &o);
    cv_image_free(H, &a);
}

Test(image_ops, resize_downscale_antialiases_like_pillow) {
    static const int bilinear[] = { 66, 91, 157, 164, 76, 110, 179, 144, 72, 136, 191, 118 };
    static const int bicubic[] = { 56, 89, 166, 178, 56, 114, 188, 151, 57, 128, 204, 113 };
    static const int box_bilinear[] = { 88, 62, 110, 193, 109, 65 };
    cv_image g = make(6, 6, 1), o;
    cr_assert_eq(cv_image_resize(H, &g, 4, 3, CV_INTERP_BILINEAR, &o, "t", &err), CV_OK);
    EXPECT(&o, 4, 3, 1, bilinear, "bilinear 6x6 -> 4x3");
    cv_image_free(H, &o);
    cr_assert_eq(cv_image_resize(H, &g, 4, 3, CV_INTERP_BICUBIC, &o, "t", &err), CV_OK);
    EXPECT(&o, 4, 3, 1, bicubic, "bicubic 6x6 -> 4x3");
    cv_image_free(H, &o);
    /* Pillow box=(1, 1, 5, 4): rows 1..3, columns 1..4 */
    cr_assert_eq(cv_image_resized_crop(H, &g, 1, 1, 3, 4, 2, 3, CV_INTERP_BILINEAR, &o, "t", &err), CV_OK);
    EXPECT(&o, 2, 3, 1, box_bilinear, "resized crop");
    cv_image_free(H, &o);
    cv_image_free(H, &g);
}

Test(image_ops, resize_f32_bilinear_by_hand) {
    /* 1x2 -> 1x4 upsampling: centres at 0.25, 0.75, 1.25, 1.75 of the source, so
     * weights (1, 0), (0.75, 0.25), (0.25, 0.75), (0, 1) after edge renormalisation */
    cv_image a, o;
    cr_assert_eq(cv_image_new(H, 1, 2, 1, CV_F32, &a, "t", &err), CV_OK);
    ((float *)a.data)[0] = 0.0f;
    ((float *)a.data)[1] = 1.0f;
    cr_assert_eq(cv_image_resize(H, &a, 1, 4, CV_INTERP_BILINEAR, &o, "t", &err), CV_OK);
    const float *d = o.data, want[4] = { 0.0f, 0.25f, 0.75f, 1.0f };
    for (int i = 0; i < 4; i++) cr_assert_float_eq(d[i], want[i], 1e-6, "x=%d: %g", i, d[i]);
    cv_image_free(H, &o);
    cv_image_free(H, &a);
}

Test(image_ops, resized_crop_rejects_box_outside) {
    cv_image a = make(4, 4, 1), o = { 0 };
    cr_assert_eq(cv_image_resized_crop(H, &a, 2, 0, 3, 4, 2, 2, CV_INTERP_BILINEAR, &o, "transform/x", &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "transform/x") && strstr(err.message, "not inside"), "%s", err.message);
    cv_image_free(H, &a);
}

/* ---- crop, pad, flip --------------------------------------------------------------- */
Test(image_ops, pad_modes_match_torchvision) {
    /* F.pad(img 2x3, [left 2, top 1, right 3, bottom 2]) */
    static const int constant[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11, 48, 85, 0, 0, 0, 0, 0, 122, 159, 196, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    static const int edge[] = { 11, 11, 11, 48, 85, 85, 85, 85, 11, 11, 11, 48, 85, 85, 85, 85, 122, 122, 122, 159, 196, 196, 196, 196, 122, 122, 122, 159, 196, 196, 196, 196, 122, 122, 122, 159, 196, 196, 196, 196 };
    static const int reflect[] = { 196, 159, 122, 159, 196, 159, 122, 159, 85, 48, 11, 48, 85, 48, 11, 48, 196, 159, 122, 159, 196, 159, 122, 159, 85, 48, 11, 48, 85, 48, 11, 48, 196, 159, 122, 159, 196, 159, 122, 159 };
    static const int symmetric[] = { 48, 11, 11, 48, 85, 85, 48, 11, 48, 11, 11, 48, 85, 85, 48, 11, 159, 122, 122, 159, 196, 196, 159, 122, 159, 122, 122, 159, 196, 196, 159, 122, 48, 11, 11, 48, 85, 85, 48, 11 };
    const int *want[4] = { constant, edge, reflect, symmetric };
    cv_image a = make(2, 3, 1), o;
    for (int m = 0; m < 4; m++) {
        cr_assert_eq(cv_image_pad(H, &a, 1, 2, 2, 3, m, NULL, &o, "t", &err), CV_OK);
        expect_u8(&o, 5, 8, 1, want[m], 40, cv_pad_mode_names[m]);
        cv_image_free(H, &o);
    }
    cv_image_free(H, &a);
}

Test(image_ops, crop_fills_outside_and_flips_mirror) {
    cv_image a = make(2, 3, 1), o;
    double fill = 7;
    cr_assert_eq(cv_image_crop(H, &a, -1, 1, 2, 3, &fill, &o, "t", &err), CV_OK);
    static const int want[] = { 7, 7, 7, 48, 85, 7 };
    EXPECT(&o, 2, 3, 1, want, "crop with fill");
    cv_image_free(H, &o);
    cv_image_hflip(&a);
    static const int hf[] = { 85, 48, 11, 196, 159, 122 };
    EXPECT(&a, 2, 3, 1, hf, "hflip");
    cv_image_vflip(&a);
    static const int vf[] = { 196, 159, 122, 85, 48, 11 };
    EXPECT(&a, 2, 3, 1, vf, "vflip");
    cv_image_free(H, &a);
}

/* ---- affine warps (F.affine / F.rotate on PIL images) ---------------------------- */
Test(image_ops, rotate_and_shear_match_pillow) {
    static const int rot30[] = { 9, 85, 122, 88, 9, 48, 14, 51, 236, 17, 196, 162, 199, 165, 202, 125, 162, 128, 128, 94, 9, 54, 20, 57, 9 };
    static const int rot45_bilinear[] = { 0, 111, 95, 67, 0, 58, 43, 94, 145, 147, 141, 170, 199, 174, 150, 175, 146, 122, 98, 83, 0, 74, 90, 30, 0 };
    static const int shear_x[] = { 11, 48, 85, 122, 159, 196, 233, 14, 51, 88, 125, 162, 199, 236, 17, 54, 91, 128, 165, 202, 239, 20, 57, 94, 131, 168, 205, 242, 23, 60, 208, 245, 26, 63, 100, 137, 174, 211, 248, 29, 66, 103, 0, 0, 0, 251, 32, 69, 106, 143, 180, 217, 254, 35, 72, 109, 146, 0, 0, 0 };
    static const int translate[] = { 0, 0, 0, 0, 0, 0, 11, 48, 85, 122, 159, 196, 233, 14, 51, 0, 0, 0, 0, 0, 0, 54, 91, 128, 165, 202, 239, 20, 57, 94, 0, 0, 0, 0, 0, 0, 97, 134, 171, 208, 245, 26, 63, 100, 137, 0, 0, 0, 0, 0, 0, 140, 177, 214, 251, 32, 69, 106, 143, 180 };
    cv_image g = make(5, 5, 1), a = make(4, 5, 3), o;
    double fill = 9;
    cr_assert_eq(cv_image_rotate(H, &g, 30.0, CV_INTERP_NEAREST, &fill, &o, "t", &err), CV_OK);
    EXPECT(&o, 5, 5, 1, rot30, "rotate 30 nearest fill 9");
    cv_image_free(H, &o);
    cr_assert_eq(cv_image_rotate(H, &g, 45.0, CV_INTERP_BILINEAR, NULL, &o, "t", &err), CV_OK);
    EXPECT(&o, 5, 5, 1, rot45_bilinear, "rotate 45 bilinear");
    cv_image_free(H, &o);
    /* RandAugment's ShearX at magnitude 0.3 and TranslateX by 2 */
    cv_image b = make(4, 5, 3);
    cr_assert_eq(cv_aug_apply(H, &b, CV_AUG_SHEAR_X, 0.3, CV_INTERP_NEAREST, NULL, "t", &err), CV_OK);
    EXPECT(&b, 4, 5, 3, shear_x, "ShearX 0.3");
    cv_image_free(H, &b);
    b = make(4, 5, 3);
    cr_assert_eq(cv_aug_apply(H, &b, CV_AUG_TRANSLATE_X, 2.7, CV_INTERP_NEAREST, NULL, "t", &err), CV_OK);
    EXPECT(&b, 4, 5, 3, translate, "TranslateX int(2.7) = 2");
    cv_image_free(H, &b);
    cv_image_free(H, &a);
    cv_image_free(H, &g);
}

Test(image_ops, rotate_90_is_an_exact_transpose) {
    cv_image g = make(3, 3, 1), o;
    cr_assert_eq(cv_image_rotate(H, &g, 90.0, CV_INTERP_BILINEAR, NULL, &o, "t", &err), CV_OK);
    const uint8_t *s = g.data, *d = o.data;
    /* counter-clockwise: the top row becomes the left column, read bottom-up */
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++) cr_assert_eq(d[y * 3 + x], s[x * 3 + (2 - y)], "(%d,%d)", y, x);
    cv_image_free(H, &o);
    cv_image_free(H, &g);
}

/* ---- colour (torchvision tensor functions on uint8) ------------------------------ */
typedef int (*colour_fn)(const cv_host *, cv_image *, double, const char *, cv_error *);

static void expect_colour(colour_fn fn, double arg, const int *want, const char *what) {
    cv_image a = make(4, 5, 3);
    cr_assert_eq(fn(H, &a, arg, "t", &err), CV_OK, "%s: %s", what, err.message);
    expect_u8(&a, 4, 5, 3, want, 60, what);
    cv_image_free(H, &a);
}

Test(image_ops, colour_adjustments_match_torchvision) {
    static const int brightness[] = { 14, 62, 110, 158, 206, 254, 255, 18, 66, 114, 162, 210, 255, 255, 22, 70, 118, 166, 214, 255, 255, 26, 74, 122, 170, 218, 255, 255, 29, 78, 126, 174, 222, 255, 255, 33, 81, 130, 178, 226, 255, 255, 37, 85, 133, 182, 230, 255, 255, 41, 89, 137, 185, 233, 255, 255, 45, 93, 141, 189 };
    static const int contrast[] = { 58, 80, 102, 125, 147, 169, 191, 60, 82, 104, 126, 149, 171, 193, 62, 84, 106, 128, 150, 173, 195, 63, 86, 108, 130, 152, 174, 197, 65, 87, 110, 132, 154, 176, 198, 67, 89, 111, 134, 156, 178, 200, 69, 91, 113, 135, 158, 180, 202, 71, 93, 115, 137, 159, 182, 204, 72, 95, 117, 139 };
    static const int saturation[] = { 0, 54, 124, 95, 165, 235, 255, 0, 22, 61, 131, 201, 199, 255, 0, 27, 97, 167, 138, 208, 255, 0, 63, 133, 104, 174, 244, 255, 0, 31, 70, 140, 210, 207, 255, 0, 36, 106, 176, 147, 217, 255, 2, 72, 142, 113, 183, 253, 255, 0, 40, 79, 149, 219, 217, 255, 0, 45, 115, 185 };
    static const int hue[] = { 62, 10, 85, 173, 122, 196, 226, 233, 13, 139, 88, 162, 16, 236, 97, 105, 53, 128, 216, 165, 239, 71, 19, 94, 182, 130, 205, 235, 242, 23, 148, 97, 171, 25, 245, 106, 114, 62, 137, 225, 174, 248, 80, 29, 103, 191, 140, 214, 244, 251, 32, 157, 106, 180, 34, 254, 115, 123, 72, 146 };
    static const int sharpness[] = { 11, 48, 85, 122, 159, 196, 233, 14, 51, 88, 125, 162, 199, 236, 17, 54, 91, 128, 184, 231, 255, 0, 27, 74, 131, 187, 234, 242, 23, 60, 97, 134, 171, 237, 255, 0, 33, 80, 137, 193, 240, 255, 29, 66, 103, 140, 177, 214, 251, 32, 69, 106, 143, 180, 217, 254, 35, 72, 109, 146 };
    static const int solarize[] = { 11, 48, 85, 122, 96, 59, 22, 14, 51, 88, 125, 93, 56, 19, 17, 54, 91, 127, 90, 53, 16, 20, 57, 94, 124, 87, 50, 13, 23, 60, 97, 121, 84, 47, 10, 26, 63, 100, 118, 81, 44, 7, 29, 66, 103, 115, 78, 41, 4, 32, 69, 106, 112, 75, 38, 1, 35, 72, 109, 109 };
    expect_colour(cv_image_adjust_brightness, 1.3, brightness, "brightness 1.3");
    expect_colour(cv_image_adjust_contrast, 0.6, contrast, "contrast 0.6");
    expect_colour(cv_image_adjust_saturation, 1.9, saturation, "saturation 1.9");
    expect_colour(cv_image_adjust_hue, 0.2, hue, "hue 0.2");
    expect_colour(cv_image_adjust_sharpness, 1.5, sharpness, "sharpness 1.5");
    expect_colour(cv_image_solarize, 128.0, solarize, "solarize 128");
}

Test(image_ops, posterize_invert_autocontrast_equalize_match_torchvision) {
    static const int posterize[] = { 0, 32, 64, 96, 128, 192, 224, 0, 32, 64, 96, 160, 192, 224, 0, 32, 64, 128, 160, 192, 224, 0, 32, 64, 128, 160, 192, 224, 0, 32, 96, 128, 160, 192, 224, 0, 32, 96, 128, 160, 192, 224, 0, 64, 96, 128, 160, 192, 224, 32, 64, 96, 128, 160, 192, 224, 32, 64, 96, 128 };
    static const int invert[] = { 244, 207, 170, 133, 96, 59, 22, 241, 204, 167, 130, 93, 56, 19, 238, 201, 164, 127, 90, 53, 16, 235, 198, 161, 124, 87, 50, 13, 232, 195, 158, 121, 84, 47, 10, 229, 192, 155, 118, 81, 44, 7, 226, 189, 152, 115, 78, 41, 4, 223, 186, 149, 112, 75, 38, 1, 220, 183, 146, 109 };
    static const int autocontrast[] = { 0, 38, 74, 119, 153, 197, 238, 0, 35, 85, 119, 158, 199, 238, 0, 46, 80, 123, 165, 199, 241, 12, 46, 83, 127, 165, 206, 246, 8, 48, 93, 127, 167, 212, 246, 8, 55, 93, 131, 174, 208, 255, 21, 55, 92, 140, 174, 215, 255, 21, 57, 102, 136, 180, 221, 255, 17, 68, 102, 140 };
    static const int eq_first16[] = { 8, 50, 83, 125, 158, 200, 241, 8, 50, 92, 125, 167, 200, 241, 17, 50 };
    cv_image a = make(4, 5, 3);
    cr_assert_eq(cv_image_posterize(H, &a, 3, "t", &err), CV_OK);
    EXPECT(&a, 4, 5, 3, posterize, "posterize 3");
    cv_image_free(H, &a);
    a = make(4, 5, 3);
    cr_assert_eq(cv_image_invert(H, &a, "t", &err), CV_OK);
    EXPECT(&a, 4, 5, 3, invert, "invert");
    cv_image_free(H, &a);
    a = make(4, 5, 3); /* low-contrast version: x // 4 + 60 */
    for (size_t i = 0; i < 60; i++) ((uint8_t *)a.data)[i] = (uint8_t)(((uint8_t *)a.data)[i] / 4 + 60);
    cr_assert_eq(cv_image_autocontrast(H, &a, "t", &err), CV_OK);
    EXPECT(&a, 4, 5, 3, autocontrast, "autocontrast");
    cv_image_free(H, &a);
    a = make(40, 40, 1); /* x // 8: 32 levels, enough pixels for a non-zero step */
    for (size_t i = 0; i < 1600; i++) ((uint8_t *)a.data)[i] /= 8;
    cr_assert_eq(cv_image_equalize(H, &a, "t", &err), CV_OK);
    long sum = 0;
    for (size_t i = 0; i < 1600; i++) sum += ((uint8_t *)a.data)[i];
    for (int i = 0; i < 16; i++) cr_assert_eq(((uint8_t *)a.data)[i], eq_first16[i], "equalize element %d", i);
    cr_assert_eq(sum, 206562, "equalize: sum of all pixels %ld", sum);
    cv_image_free(H, &a);
}

Test(image_ops, u8_only_ops_reject_f32_with_a_message) {
    cv_image f;
    cr_assert_eq(cv_image_new(H, 2, 2, 3, CV_F32, &f, "t", &err), CV_OK);
    memset(f.data, 0, cv_image_bytes(&f));
    cr_assert_eq(cv_image_posterize(H, &f, 4, "transform/rand_augment", &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "u8") && strstr(err.message, "transform/rand_augment"), "%s", err.message);
    cv_error_init(&err);
    cr_assert_eq(cv_image_equalize(H, &f, "t", &err), CV_ERR_INVALID);
    cv_error_init(&err);
    cv_image two = { 2, 2, 2, CV_U8, f.data };
    cr_assert_eq(cv_image_adjust_saturation(H, &two, 1.5, "t", &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "2 channels"), "%s", err.message);
    cv_image_free(H, &f);
}

Test(image_ops, oversized_images_are_rejected_before_allocating) {
    cv_image o;
    cr_assert_eq(cv_image_new(H, 100000, 100000, 3, CV_U8, &o, "t", &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "100000x100000"), "%s", err.message);
}

/* ---- augmentation spaces (torchvision.transforms.autoaugment) ---------------------- */
Test(image_ops, rand_augment_magnitudes_match_torchvision) {
    /* RandAugment()._augmentation_space(31, (32, 48)), bin 9 */
    static const struct { int op; double m; int sig; } ra[14] = {
        { CV_AUG_IDENTITY, 0.0, 0 },       { CV_AUG_SHEAR_X, 0.09000000357627869, 1 },
        { CV_AUG_SHEAR_Y, 0.09000000357627869, 1 }, { CV_AUG_TRANSLATE_X, 6.525680065155029, 1 },
        { CV_AUG_TRANSLATE_Y, 4.3504533767700195, 1 }, { CV_AUG_ROTATE, 9.0, 1 },
        { CV_AUG_BRIGHTNESS, 0.26999998092651367, 1 }, { CV_AUG_COLOR, 0.26999998092651367, 1 },
        { CV_AUG_CONTRAST, 0.26999998092651367, 1 }, { CV_AUG_SHARPNESS, 0.26999998092651367, 1 },
        { CV_AUG_POSTERIZE, 7.0, 0 },      { CV_AUG_SOLARIZE, 178.5, 0 },
        { CV_AUG_AUTOCONTRAST, 0.0, 0 },   { CV_AUG_EQUALIZE, 0.0, 0 },
    };
    static const char *names[14] = { "Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness",
                                     "Color", "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize" };
    for (int i = 0; i < 14; i++) {
        cr_assert_eq(ra[i].op, i, "op order");
        cr_assert_str_eq(cv_aug_op_name(i), names[i]);
        int sig = -1;
        double m = cv_aug_magnitude(0, i, 9, 31, 32, 48, &sig);
        cr_assert_eq(m, ra[i].m, "%s: magnitude %.17g, torchvision %.17g", names[i], m, ra[i].m);
        cr_assert_eq(sig, ra[i].sig, "%s: signed", names[i]);
    }
}

Test(image_ops, wide_and_autoaugment_magnitudes_match_torchvision) {
    /* TrivialAugmentWide()._augmentation_space(31), bins 0, 1, 15, 30 */
    static const int bins[4] = { 0, 1, 15, 30 };
    static const double shear[4] = { 0.0, 0.032999999821186066, 0.4950000047683716, 0.9900000095367432 };
    static const double translate[4] = { 0.0, 1.0666667222976685, 16.0, 32.0 };
    static const double rotate[4] = { 0.0, 4.5, 67.5, 135.0 };
    static const double posterize[4] = { 8, 8, 5, 2 };
    static const double solarize[4] = { 255.0, 246.5, 127.5, 0.0 };
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(cv_aug_magnitude(1, CV_AUG_SHEAR_X, bins[i], 31, 9, 9, NULL), shear[i]);
        cr_assert_eq(cv_aug_magnitude(1, CV_AUG_BRIGHTNESS, bins[i], 31, 9, 9, NULL), shear[i]);
        cr_assert_eq(cv_aug_magnitude(1, CV_AUG_TRANSLATE_Y, bins[i], 31, 9, 9, NULL), translate[i]);
        cr_assert_eq(cv_aug_magnitude(1, CV_AUG_ROTATE, bins[i], 31, 9, 9, NULL), rotate[i]);
        cr_assert_eq(cv_aug_magnitude(1, CV_AUG_POSTERIZE, bins[i], 31, 9, 9, NULL), posterize[i]);
        cr_assert_eq(cv_aug_magnitude(1, CV_AUG_SOLARIZE, bins[i], 31, 9, 9, NULL), solarize[i]);
    }
    /* AutoAugment()._augmentation_space(10, (32, 48)), bins 0, 3, 8, 9 */
    static const int abins[4] = { 0, 3, 8, 9 };
    static const double tx[4] = { 0.0, 7.250755310058594, 19.33534812927246, 21.75226593017578 };
    static const double rot[4] = { 0.0, 10.0, 26.66666603088379, 30.0 };
    static const double color[4] = { 0.0, 0.29999998211860657, 0.7999999523162842, 0.8999999761581421 };
    static const double post[4] = { 8, 7, 4, 4 };
    static const double sol[4] = { 255.0, 170.0, 28.33333396911621, 0.0 };
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(cv_aug_magnitude(0, CV_AUG_TRANSLATE_X, abins[i], 10, 32, 48, NULL), tx[i]);
        cr_assert_eq(cv_aug_magnitude(0, CV_AUG_ROTATE, abins[i], 10, 32, 48, NULL), rot[i]);
        cr_assert_eq(cv_aug_magnitude(0, CV_AUG_COLOR, abins[i], 10, 32, 48, NULL), color[i]);
        cr_assert_eq(cv_aug_magnitude(0, CV_AUG_POSTERIZE, abins[i], 10, 32, 48, NULL), post[i]);
        cr_assert_eq(cv_aug_magnitude(0, CV_AUG_SOLARIZE, abins[i], 10, 32, 48, NULL), sol[i]);
    }
}
