/* test/unit/test_dataset_images.c — the image_folder plugin on JPEG/PNG files:
 * fixtures written at test time (grey, RGBA, 16-bit and palette PNG; baseline
 * and progressive JPEG, colour and grey), real photos shipped by Debian packages
 * on this machine, the class index file, and the bad inputs of issue 5 (empty
 * class folder, missing root, corrupt bytes, zero and huge dimensions). */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixtures/images/imggen.h"
#include "support/testhost.h"

#define W 21
#define H 13

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(p);
}
static void rm_tree(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static void mkdirs(const char *root, const char *rel) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (char *s = p + strlen(root) + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}
static void put(const char *root, const char *rel, const ig_buf *b) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    cr_assert_eq(ig_write_file(p, b), 0, "cannot write %s", p);
}

typedef struct fixture {
    char root[64];
    uint8_t *rgb, *grey; /* sources */
    uint16_t rgb16[W * H * 3];
    uint8_t pal_idx[W * H], palette[4 * 3];
} fixture;

/* root/train/{a_cat,b_dog}/..., root/val/{a_cat,b_dog}/... */
static void make_fixture(fixture *f) {
    strcpy(f->root, "/tmp/cvnets-img-XXXXXX");
    cr_assert_not_null(mkdtemp(f->root));
    mkdirs(f->root, "train/b_dog");
    mkdirs(f->root, "train/a_cat");
    mkdirs(f->root, "val/a_cat");
    mkdirs(f->root, "val/b_dog");
    f->rgb = ig_picture(W, H, 3, 1);
    f->grey = ig_picture(W, H, 1, 2);
    uint8_t *rgba = ig_picture(W, H, 4, 3);
    for (int i = 0; i < W * H * 3; i++) f->rgb16[i] = (uint16_t)(i * 211 + 7);
    for (int i = 0; i < W * H; i++) f->pal_idx[i] = (uint8_t)(i % 4);
    const uint8_t pal[12] = { 255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30 };
    memcpy(f->palette, pal, 12);
    struct { const char *rel; int kind; } files[] = {
        { "train/a_cat/grey.png", 0 },  { "train/a_cat/rgba.png", 1 },     { "train/a_cat/rgb16.png", 2 },
        { "train/a_cat/palette.png", 3 }, { "train/a_cat/base.jpg", 4 },  { "train/a_cat/prog.jpg", 5 },
        { "train/a_cat/grey.jpg", 6 },  { "train/a_cat/greyprog.jpeg", 7 }, { "train/b_dog/rgb.png", 8 },
        { "train/b_dog/UPPER.JPG", 4 }, { "val/a_cat/x.png", 8 },          { "val/b_dog/y.png", 0 },
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        ig_buf b = { 0 };
        switch (files[i].kind) {
        case 0: ig_png(&b, W, H, 8, 0, f->grey, NULL, 0); break;
        case 1: ig_png(&b, W, H, 8, 6, rgba, NULL, 0); break;
        case 2: ig_png(&b, W, H, 16, 2, f->rgb16, NULL, 0); break;
        case 3: ig_png(&b, W, H, 8, 3, f->pal_idx, f->palette, 4); break;
        case 4: ig_jpeg(&b, f->rgb, W, H, 3, 0); break;
        case 5: ig_jpeg(&b, f->rgb, W, H, 3, 1); break;
        case 6: ig_jpeg(&b, f->grey, W, H, 1, 0); break;
        case 7: ig_jpeg(&b, f->grey, W, H, 1, 1); break;
        case 8: ig_png(&b, W, H, 8, 2, f->rgb, NULL, 0); break;
        }
        put(f->root, files[i].rel, &b);
        free(b.p);
    }
    ig_buf junk = { 0 };
    ig_put(&junk, "not an image", 12);
    put(f->root, "train/b_dog/notes.txt", &junk); /* ignored: not .jpg/.png */
    put(f->root, "train/b_dog/.hidden.png", &junk); /* ignored: hidden */
    free(junk.p);
    free(rgba);
}
static void free_fixture(fixture *f) {
    rm_tree(f->root);
    free(f->rgb);
    free(f->grey);
}

static void *open_if(cv_ctx *ctx, const cv_component_desc *d, const char *root, int split, const char *extra_kv,
                     const char *out_dir) {
    char kv0[600];
    snprintf(kv0, sizeof kv0, "root=%s", root);
    const char *const kv[] = { kv0, extra_kv, NULL };
    cv_create_args a = { .split = split, .out_dir = out_dir };
    return th_create(ctx, d, kv, &a);
}

static int64_t find(const cv_dataset_vtable *vt, void *ds, const char *suffix, cv_sample *s, cv_ctx *ctx) {
    cv_error err;
    for (int64_t i = 0; i < vt->length(ds); i++) {
        cv_error_init(&err);
        memset(s, 0, sizeof *s);
        s->struct_size = sizeof *s;
        int rc = vt->get(ds, i, s, &err);
        cr_assert_eq(rc, CV_OK, "%s", err.message);
        size_t n = strlen(s->path), m = strlen(suffix);
        if (n >= m && strcmp(s->path + n - m, suffix) == 0) return i;
        ctx->host.free(s->image.data);
    }
    cr_assert_fail("%s not in the dataset", suffix);
    return -1;
}

static double mae(const uint8_t *a, const uint8_t *b, size_t n) {
    double e = 0;
    for (size_t i = 0; i < n; i++) e += abs((int)a[i] - (int)b[i]);
    return e / n;
}

Test(images, formats_decode_to_the_right_pixels) {
    fixture f;
    make_fixture(&f);
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "dataset", "image_folder");
    const cv_dataset_vtable *vt = d->vtable;
    void *ds = open_if(ctx, d, f.root, CV_SPLIT_TRAIN, NULL, f.root);
    cr_expect_eq(vt->length(ds), 10);
    cr_expect_eq(vt->num_classes(ds), 2);
    cr_expect_eq(vt->channels(ds), 3);
    cr_expect_str_eq(vt->class_name(ds, 0), "a_cat");
    cr_expect_str_eq(vt->class_name(ds, 1), "b_dog");
    char idx_path[128];
    snprintf(idx_path, sizeof idx_path, "%s/classes.txt", f.root);
    FILE *fp = fopen(idx_path, "r");
    cr_assert_not_null(fp, "class index %s not written", idx_path);
    char text[100] = { 0 };
    cr_expect(fread(text, 1, sizeof text - 1, fp) > 0);
    fclose(fp);
    cr_expect_str_eq(text, "0\ta_cat\n1\tb_dog\n");

    cv_sample s, t;
    const size_t n3 = W * H * 3;
    find(vt, ds, "/grey.png", &s, ctx);
    cr_expect(s.image.h == H && s.image.w == W && s.image.c == 3 && s.label == 0);
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 3; c++) cr_assert_eq(((uint8_t *)s.image.data)[i * 3 + c], f.grey[i]);
    ctx->host.free(s.image.data);

    find(vt, ds, "/rgba.png", &s, ctx);
    uint8_t *rgba = ig_picture(W, H, 4, 3);
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 3; c++) cr_assert_eq(((uint8_t *)s.image.data)[i * 3 + c], rgba[i * 4 + c]);
    free(rgba);
    ctx->host.free(s.image.data);

    find(vt, ds, "/rgb16.png", &s, ctx); /* 16 bits reduced to their high byte */
    for (size_t i = 0; i < n3; i++) cr_assert_eq(((uint8_t *)s.image.data)[i], f.rgb16[i] >> 8, "sample %zu", i);
    ctx->host.free(s.image.data);

    find(vt, ds, "/palette.png", &s, ctx);
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 3; c++)
            cr_assert_eq(((uint8_t *)s.image.data)[i * 3 + c], f.palette[f.pal_idx[i] * 3 + c]);
    ctx->host.free(s.image.data);

    find(vt, ds, "/base.jpg", &s, ctx);
    find(vt, ds, "/prog.jpg", &t, ctx);
    cr_expect(memcmp(s.image.data, t.image.data, n3) == 0, "progressive and baseline JPEG decode differently");
    cr_expect(mae(s.image.data, f.rgb, n3) < 4.0, "baseline JPEG error %.2f", mae(s.image.data, f.rgb, n3));
    ctx->host.free(s.image.data), ctx->host.free(t.image.data);

    find(vt, ds, "/grey.jpg", &s, ctx);
    find(vt, ds, "/greyprog.jpeg", &t, ctx);
    cr_expect(memcmp(s.image.data, t.image.data, n3) == 0, "grey progressive and baseline JPEG differ");
    uint8_t grey3[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) grey3[i] = f.grey[i / 3];
    cr_expect(mae(s.image.data, grey3, n3) < 4.0, "grey JPEG error %.2f", mae(s.image.data, grey3, n3));
    ctx->host.free(s.image.data), ctx->host.free(t.image.data);

    find(vt, ds, "/UPPER.JPG", &s, ctx);
    cr_expect_eq(s.label, 1);
    ctx->host.free(s.image.data);
    th_destroy(d, ds);

    /* channels = 1 converts colour to grey; the val split keeps train's labels */
    ds = open_if(ctx, d, f.root, CV_SPLIT_VAL, "channels=1", NULL);
    cr_expect_eq(vt->length(ds), 2);
    cr_expect_eq(vt->channels(ds), 1);
    find(vt, ds, "/y.png", &s, ctx);
    cr_expect(s.label == 1 && s.image.c == 1);
    cr_expect(memcmp(s.image.data, f.grey, W * H) == 0);
    ctx->host.free(s.image.data);
    th_destroy(d, ds);
    th_ctx_free(ctx);
    free_fixture(&f);
}

static void expect_create_error(cv_ctx *ctx, const cv_component_desc *d, const char *root, int split,
                                const char *want1, const char *want2) {
    char kv0[600];
    snprintf(kv0, sizeof kv0, "root=%s", root);
    const char *const kv[] = { kv0, NULL };
    cv_create_args a = { .split = split };
    cv_error err;
    cv_error_init(&err);
    void *s = NULL;
    cr_expect_neq(th_try_create(ctx, d, root ? kv : NULL, &a, &s, &err), CV_OK, "accepted %s", root);
    cr_expect(strstr(err.message, want1) != NULL, "%s", err.message);
    if (want2) cr_expect(strstr(err.message, want2) != NULL, "%s", err.message);
    if (s) th_destroy(d, s);
}

Test(images, bad_folders) {
    fixture f;
    make_fixture(&f);
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "dataset", "image_folder");
    expect_create_error(ctx, d, NULL, CV_SPLIT_TRAIN, "root is not set", NULL);
    expect_create_error(ctx, d, "/nonexistent/imagenet", CV_SPLIT_TRAIN, "/nonexistent/imagenet", "does not exist");
    mkdirs(f.root, "train/c_empty");
    char want[200];
    snprintf(want, sizeof want, "%s/train/c_empty", f.root);
    expect_create_error(ctx, d, f.root, CV_SPLIT_TRAIN, want, "is empty");
    mkdirs(f.root, "val/c_empty");
    snprintf(want, sizeof want, "%s/val/c_empty", f.root);
    expect_create_error(ctx, d, f.root, CV_SPLIT_VAL, want, "is empty");
    rmdir(want);
    snprintf(want, sizeof want, "%s/val/c_empty", f.root);
    expect_create_error(ctx, d, f.root, CV_SPLIT_VAL, want, "is missing");
    th_ctx_free(ctx);
    free_fixture(&f);
}

/* every corrupt file: get() fails with CV_ERR_IO naming the path, never crashes */
Test(images, corrupt_and_oversized_files) {
    char root[64] = "/tmp/cvnets-bad-XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    mkdirs(root, "train/x");
    uint8_t *pic = ig_picture(W, H, 3, 4);
    ig_buf jpg = { 0 }, png = { 0 };
    ig_jpeg(&jpg, pic, W, H, 3, 0);
    ig_png(&png, W, H, 8, 2, pic, NULL, 0);
    typedef struct bad_file { const char *name; ig_buf b; const char *why; } bad_file;
    bad_file bad[8];
    int nb = 0;
    ig_buf b = { 0 };
    ig_put(&b, "this is text, not an image, whatever its name", 45);
    bad[nb++] = (bad_file){ "garbage.jpg", b, "not a readable" };
    b = (ig_buf){ 0 };
    ig_put(&b, png.p, 33); /* signature + IHDR, no data */
    bad[nb++] = (bad_file){ "headeronly.png", b, "corrupt image data" };
    b = (ig_buf){ 0 };
    ig_png(&b, 0, 5, 8, 0, pic, NULL, 0);
    bad[nb++] = (bad_file){ "zero.png", b, "" };
    b = (ig_buf){ 0 };
    ig_put(&b, jpg.p, jpg.n);
    for (size_t i = 0; i + 8 < b.n; i++) /* SOF0: height and width to 60000 */
        if (b.p[i] == 0xFF && b.p[i + 1] == 0xC0) {
            b.p[i + 5] = 0xEA, b.p[i + 6] = 0x60, b.p[i + 7] = 0xEA, b.p[i + 8] = 0x60;
            break;
        }
    bad[nb++] = (bad_file){ "huge.jpg", b, "above the limit" };
    b = (ig_buf){ 0 };
    ig_put(&b, png.p, png.n);
    b.p[16] = 0, b.p[17] = 0, b.p[18] = 0x2e, b.p[19] = 0xe0; /* width 12000 */
    b.p[20] = 0, b.p[21] = 0, b.p[22] = 0x2e, b.p[23] = 0xe0; /* height 12000: 144 Mpx > max_pixels */
    bad[nb++] = (bad_file){ "huge.png", b, "above the limit" };
    b = (ig_buf){ 0 };
    bad[nb++] = (bad_file){ "empty.png", b, "empty file" };
    for (int i = 0; i < nb; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "train/x/%s", bad[i].name);
        put(root, rel, &bad[i].b);
    }
    put(root, "train/x/zgood.png", &png);
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "dataset", "image_folder");
    const cv_dataset_vtable *vt = d->vtable;
    void *ds = open_if(ctx, d, root, CV_SPLIT_TRAIN, "max_pixels=1000000", NULL);
    cr_assert_eq(vt->length(ds), nb + 1);
    for (int64_t i = 0; i < vt->length(ds); i++) {
        cv_sample s = { .struct_size = sizeof s };
        cv_error err;
        cv_error_init(&err);
        int rc = vt->get(ds, i, &s, &err);
        if (strstr(s.path, "zgood.png")) {
            cr_expect_eq(rc, CV_OK, "%s", err.message);
            ctx->host.free(s.image.data);
            continue;
        }
        cr_expect_eq(rc, CV_ERR_IO, "%s decoded", s.path);
        cr_expect(strstr(err.message, s.path) != NULL, "message names no path: %s", err.message);
        for (int k = 0; k < nb; k++)
            if (strstr(s.path, bad[k].name)) cr_expect(strstr(err.message, bad[k].why) != NULL, "%s", err.message);
        cr_expect_null(s.image.data);
    }
    th_destroy(d, ds);
    th_ctx_free(ctx);
    for (int i = 0; i < nb; i++) free(bad[i].b.p);
    free(jpg.p), free(png.p), free(pic);
    rm_tree(root);
}

/* ---- real photos from Debian packages on this machine ----------------------------- */
static char found_jpg[8][1024], found_png[8][1024];
static int n_jpg, n_png;
static int collect(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)f;
    if (flag != FTW_F || st->st_size < 2000 || st->st_size > (4 << 20)) return 0;
    const char *dot = strrchr(p, '.');
    if (!dot || strlen(p) >= 1024) return 0;
    for (int i = 0; i < n_jpg; i++) /* /usr/share is walked after some of its sub-folders */
        if (!strcmp(found_jpg[i], p)) return 0;
    for (int i = 0; i < n_png; i++)
        if (!strcmp(found_png[i], p)) return 0;
    if ((!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg")) && n_jpg < 8) strcpy(found_jpg[n_jpg++], p);
    if (!strcasecmp(dot, ".png") && n_png < 8) strcpy(found_png[n_png++], p);
    return n_jpg >= 2 && n_png >= 6; /* enough variety, and keeps the walk short */
}

Test(images, real_photos_from_debian_packages) {
    const char *dirs[] = { "/usr/share/backgrounds", "/usr/share/images", "/usr/share/pixmaps", "/usr/share/doc",
                           "/usr/share", "/usr/lib" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0] && (n_jpg < 2 || n_png < 6); i++)
        nftw(dirs[i], collect, 32, FTW_PHYS);
    cr_assert(n_jpg > 0, "no JPEG file under /usr/share or /usr/lib: install a Debian package that ships photos");
    cr_assert(n_png > 0, "no PNG file under /usr/share or /usr/lib");
    char root[64] = "/tmp/cvnets-real-XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    mkdirs(root, "train/jpeg");
    mkdirs(root, "train/png");
    for (int i = 0; i < n_jpg; i++) {
        char l[256];
        snprintf(l, sizeof l, "%s/train/jpeg/%d.jpg", root, i);
        cr_assert_eq(symlink(found_jpg[i], l), 0);
    }
    for (int i = 0; i < n_png; i++) {
        char l[256];
        snprintf(l, sizeof l, "%s/train/png/%d.png", root, i);
        cr_assert_eq(symlink(found_png[i], l), 0);
    }
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "dataset", "image_folder");
    const cv_dataset_vtable *vt = d->vtable;
    void *ds = open_if(ctx, d, root, CV_SPLIT_TRAIN, NULL, NULL);
    cr_assert_eq(vt->length(ds), n_jpg + n_png);
    for (int64_t i = 0; i < vt->length(ds); i++) {
        cv_sample s = { .struct_size = sizeof s };
        cv_error err;
        cv_error_init(&err);
        cr_expect_eq(vt->get(ds, i, &s, &err), CV_OK, "%s", err.message);
        if (s.image.data) {
            cr_expect(s.image.w > 0 && s.image.h > 0 && s.image.c == 3);
            ctx->host.free(s.image.data);
        }
    }
    th_destroy(d, ds);
    th_ctx_free(ctx);
    rm_tree(root);
}
