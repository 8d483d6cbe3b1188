/* test/unit/test_dataset.c — the IDX, CIFAR-10 and synthetic dataset plugins:
 * Fashion-MNIST from Debian's dataset-fashion-mnist, IDX and CIFAR files written
 * here (gzip and plain), and every bad input of issue 5 for them: missing root,
 * truncated files, labels out of range, mismatched counts. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "support/testhost.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(p);
}
static void rm_tree(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static char *tmpdir(void) {
    static char buf[8][64];
    static int k;
    char *d = buf[k++ % 8];
    strcpy(d, "/tmp/cvnets-ds-XXXXXX");
    cr_assert_not_null(mkdtemp(d));
    return d;
}

static void write_bytes(const char *dir, const char *name, const void *d, size_t n, int gz) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(gzwrite(f, d, (unsigned)n), (int)n);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(d, 1, n, f), n);
        fclose(f);
    }
}

/* IDX images [n][h][w] and labels [n]; returns bytes in *out (malloc) */
static size_t idx_images(int n, int h, int w, uint8_t **out) {
    size_t sz = 16 + (size_t)n * h * w;
    uint8_t *b = malloc(sz);
    uint8_t hdr[16] = { 0, 0, 8, 3, 0, 0, (uint8_t)(n >> 8), (uint8_t)n, 0, 0, 0, (uint8_t)h, 0, 0, 0, (uint8_t)w };
    memcpy(b, hdr, 16);
    for (size_t i = 16; i < sz; i++) b[i] = (uint8_t)(i * 7);
    *out = b;
    return sz;
}
static size_t idx_labels(int n, int bad_at, uint8_t **out) {
    uint8_t *b = malloc(8 + (size_t)n);
    uint8_t hdr[8] = { 0, 0, 8, 1, 0, 0, (uint8_t)(n >> 8), (uint8_t)n };
    memcpy(b, hdr, 8);
    for (int i = 0; i < n; i++) b[8 + i] = (uint8_t)(i % 10);
    if (bad_at >= 0) b[8 + bad_at] = 10;
    *out = b;
    return 8 + (size_t)n;
}

static void make_mnist(const char *dir, int n, int gz, size_t cut_images, int bad_label, int label_n) {
    uint8_t *im, *lb;
    size_t ni = idx_images(n, 28, 28, &im), nl = idx_labels(label_n, bad_label, &lb);
    const char *suffix = gz ? ".gz" : "";
    char a[128], b[128];
    for (int s = 0; s < 2; s++) {
        snprintf(a, sizeof a, "%s-images-idx3-ubyte%s", s ? "t10k" : "train", suffix);
        snprintf(b, sizeof b, "%s-labels-idx1-ubyte%s", s ? "t10k" : "train", suffix);
        write_bytes(dir, a, im, cut_images ? cut_images : ni, gz);
        write_bytes(dir, b, lb, nl, gz);
    }
    free(im);
    free(lb);
}

static int try_ds(cv_ctx *ctx, const char *name, const char *root, int split, void **self, cv_error *err,
                  const cv_component_desc **d) {
    *d = th_load(ctx, "dataset", name);
    char kv0[600];
    snprintf(kv0, sizeof kv0, "root=%s", root);
    const char *const kv[] = { kv0, NULL };
    cv_create_args a = { .split = split };
    cv_error_init(err);
    return th_try_create(ctx, *d, kv, &a, self, err);
}

Test(dataset, fashion_mnist_from_debian) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "dataset", "fashion_mnist");
    cv_create_args a = { .split = CV_SPLIT_TRAIN };
    void *tr = th_create(ctx, d, NULL, &a); /* default root: Debian's package */
    a.split = CV_SPLIT_VAL;
    void *va = th_create(ctx, d, NULL, &a);
    const cv_dataset_vtable *vt = d->vtable;
    cr_expect_eq(vt->length(tr), 60000);
    cr_expect_eq(vt->length(va), 10000);
    cr_expect_eq(vt->num_classes(tr), 10);
    cr_expect_eq(vt->channels(tr), 1);
    cr_expect_str_eq(vt->class_name(tr, 9), "Ankle boot");
    cr_expect_str_eq(vt->class_name(tr, 0), "T-shirt/top");
    cr_expect_null(vt->class_name(tr, 10));
    cv_error err;
    cv_error_init(&err);
    cv_sample s = { .struct_size = sizeof s };
    cr_assert_eq(vt->get(tr, 0, &s, &err), CV_OK, "%s", err.message);
    cr_expect_eq(s.label, 9, "the first Fashion-MNIST training label is 9 (ankle boot), got %d", s.label);
    cr_expect(s.image.h == 28 && s.image.w == 28 && s.image.c == 1 && s.image.dtype == CV_U8);
    long sum = 0;
    for (int i = 0; i < 784; i++) sum += ((uint8_t *)s.image.data)[i];
    cr_expect(sum > 10000, "image 0 looks empty (sum %ld)", sum);
    cr_expect(strstr(s.path, "train-images-idx3-ubyte") != NULL, "%s", s.path);
    ctx->host.free(s.image.data);
    int hist[10] = { 0 };
    for (int64_t i = 0; i < 10000; i += 7) {
        cv_sample t = { .struct_size = sizeof t };
        cr_assert_eq(vt->get(va, i, &t, &err), CV_OK);
        hist[t.label]++;
        ctx->host.free(t.image.data);
    }
    for (int k = 0; k < 10; k++) cr_expect(hist[k] > 80, "class %d drawn %d times in 1429", k, hist[k]);
    cr_expect_eq(vt->get(tr, 60000, &s, &err), CV_ERR_INVALID);
    th_destroy(d, tr);
    th_destroy(d, va);
    th_ctx_free(ctx);
}

Test(dataset, missing_root_says_how_to_get_the_data) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d;
    void *s;
    cv_error err;
    cr_expect_eq(try_ds(ctx, "fashion_mnist", "/nonexistent/fmnist", CV_SPLIT_TRAIN, &s, &err, &d), CV_ERR_IO);
    cr_expect(strstr(err.message, "/nonexistent/fmnist") != NULL, "%s", err.message);
    cr_expect(strstr(err.message, "apt-get install dataset-fashion-mnist") != NULL, "%s", err.message);
    cr_expect_eq(try_ds(ctx, "cifar10", "/nonexistent/c10", CV_SPLIT_TRAIN, &s, &err, &d), CV_ERR_IO);
    cr_expect(strstr(err.message, "/nonexistent/c10") != NULL && strstr(err.message, "cifar-10") != NULL, "%s",
              err.message);
    char *dir = tmpdir(); /* folder exists, files do not */
    cr_expect_eq(try_ds(ctx, "mnist", dir, CV_SPLIT_VAL, &s, &err, &d), CV_ERR_IO);
    cr_expect(strstr(err.message, "t10k-images-idx3-ubyte.gz") != NULL, "%s", err.message);
    rm_tree(dir);
    th_ctx_free(ctx);
}

Test(dataset, mnist_gzip_and_plain) {
    for (int gz = 0; gz < 2; gz++) {
        cv_ctx *ctx = th_ctx_new();
        char *dir = tmpdir();
        make_mnist(dir, 30, gz, 0, -1, 30);
        const cv_component_desc *d;
        void *s;
        cv_error err;
        cr_assert_eq(try_ds(ctx, "mnist", dir, CV_SPLIT_TRAIN, &s, &err, &d), CV_OK, "%s", err.message);
        const cv_dataset_vtable *vt = d->vtable;
        cr_expect_eq(vt->length(s), 30);
        cv_sample x = { .struct_size = sizeof x };
        cr_assert_eq(vt->get(s, 13, &x, &err), CV_OK);
        cr_expect_eq(x.label, 3);
        cr_expect_eq(((uint8_t *)x.image.data)[5], (uint8_t)((16 + 13 * 784 + 5) * 7));
        ctx->host.free(x.image.data);
        th_destroy(d, s);
        rm_tree(dir);
        th_ctx_free(ctx);
    }
}

Test(dataset, idx_bad_inputs) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d;
    void *s;
    cv_error err;
    struct { size_t cut; int bad_label, label_n, gz; const char *want; } cases[] = {
        { 16 + 29 * 784 + 100, -1, 30, 1, "truncated" }, /* short image data */
        { 10, -1, 30, 0, "truncated IDX header" },
        { 0, 7, 30, 1, "label 10 of sample 7" },
        { 0, -1, 25, 0, "25 labels" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *dir = tmpdir();
        make_mnist(dir, 30, cases[i].gz, cases[i].cut, cases[i].bad_label, cases[i].label_n);
        cr_expect_neq(try_ds(ctx, "mnist", dir, CV_SPLIT_TRAIN, &s, &err, &d), CV_OK, "case %zu accepted", i);
        cr_expect(strstr(err.message, cases[i].want) != NULL, "case %zu: %s", i, err.message);
        cr_expect(strstr(err.message, dir) != NULL, "case %zu names no path: %s", i, err.message);
        rm_tree(dir);
    }
    /* a gzip stream cut in the middle */
    char *dir = tmpdir();
    make_mnist(dir, 30, 1, 0, -1, 30);
    char path[512];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    FILE *f = fopen(path, "rb");
    uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_bytes(dir, "train-images-idx3-ubyte.gz", buf, n / 2, 0);
    cr_expect_eq(try_ds(ctx, "mnist", dir, CV_SPLIT_TRAIN, &s, &err, &d), CV_ERR_IO);
    cr_expect(strstr(err.message, "gzip") != NULL, "%s", err.message);
    /* not an IDX file at all */
    write_bytes(dir, "train-images-idx3-ubyte.gz", "hello world, not idx", 20, 1);
    cr_expect_eq(try_ds(ctx, "mnist", dir, CV_SPLIT_TRAIN, &s, &err, &d), CV_ERR_IO);
    cr_expect(strstr(err.message, "not an IDX file") != NULL, "%s", err.message);
    rm_tree(dir);
    th_ctx_free(ctx);
}

static void make_cifar(const char *dir, int per_file, int bad_file, int bad_rec, size_t cut, int meta) {
    const char *names[6] = { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                             "data_batch_5.bin", "test_batch.bin" };
    uint8_t *b = malloc((size_t)per_file * 3073);
    for (int f = 0; f < 6; f++) {
        for (int r = 0; r < per_file; r++) {
            uint8_t *rec = b + (size_t)r * 3073;
            rec[0] = (uint8_t)((f * per_file + r) % 10);
            if (f == bad_file && r == bad_rec) rec[0] = 11;
            for (int i = 0; i < 3072; i++) rec[1 + i] = (uint8_t)(i / 1024 * 100 + f + r);
        }
        write_bytes(dir, names[f], b, f == bad_file && cut ? cut : (size_t)per_file * 3073, 0);
    }
    if (meta) write_bytes(dir, "batches.meta.txt", "plane\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n", 51, 0);
    free(b);
}

Test(dataset, cifar10_binary_batches) {
    cv_ctx *ctx = th_ctx_new();
    char *dir = tmpdir();
    char sub[600];
    snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", dir);
    mkdir(sub, 0755);
    make_cifar(sub, 4, -1, 0, 0, 1);
    const cv_component_desc *d;
    void *tr, *va;
    cv_error err;
    cr_assert_eq(try_ds(ctx, "cifar10", dir, CV_SPLIT_TRAIN, &tr, &err, &d), CV_OK, "%s", err.message);
    cr_assert_eq(try_ds(ctx, "cifar10", sub, CV_SPLIT_VAL, &va, &err, &d), CV_OK, "%s", err.message);
    const cv_dataset_vtable *vt = d->vtable;
    cr_expect_eq(vt->length(tr), 20);
    cr_expect_eq(vt->length(va), 4);
    cr_expect_str_eq(vt->class_name(tr, 0), "plane");
    cr_expect_str_eq(vt->class_name(tr, 9), "truck");
    cv_sample s = { .struct_size = sizeof s };
    cr_assert_eq(vt->get(tr, 9, &s, &err), CV_OK); /* file 2 (data_batch_3), record 1 */
    cr_expect_eq(s.label, 9);
    cr_expect(s.image.h == 32 && s.image.w == 32 && s.image.c == 3);
    const uint8_t *p = s.image.data;
    cr_expect(p[0] == 3 && p[1] == 103 && p[2] == 203, "HWC from planar: %d %d %d", p[0], p[1], p[2]);
    cr_expect(strstr(s.path, "data_batch_3.bin") != NULL, "%s", s.path);
    ctx->host.free(s.image.data);
    th_destroy(d, tr);
    th_destroy(d, va);
    rm_tree(dir);
    th_ctx_free(ctx);
}

Test(dataset, cifar10_bad_inputs) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d;
    void *s;
    cv_error err;
    char *dir = tmpdir();
    make_cifar(dir, 3, 2, 0, 3073 * 2 + 100, 0); /* data_batch_3 truncated mid-record */
    cr_expect_eq(try_ds(ctx, "cifar10", dir, CV_SPLIT_TRAIN, &s, &err, &d), CV_ERR_IO);
    cr_expect(strstr(err.message, "data_batch_3.bin is truncated") != NULL, "%s", err.message);
    make_cifar(dir, 3, 4, 1, 0, 0); /* label 11 in data_batch_5 record 1 */
    cr_expect_eq(try_ds(ctx, "cifar10", dir, CV_SPLIT_TRAIN, &s, &err, &d), CV_ERR_IO);
    cr_expect(strstr(err.message, "data_batch_5.bin: record 1 has label 11") != NULL, "%s", err.message);
    make_cifar(dir, 3, 5, 0, 0, 0); /* test_batch bad; without meta: standard names */
    cr_expect_eq(try_ds(ctx, "cifar10", dir, CV_SPLIT_VAL, &s, &err, &d), CV_ERR_IO);
    cr_expect_eq(try_ds(ctx, "cifar10", dir, CV_SPLIT_TRAIN, &s, &err, &d), CV_OK, "%s", err.message);
    cr_expect_str_eq(((const cv_dataset_vtable *)d->vtable)->class_name(s, 1), "automobile");
    th_destroy(d, s);
    rm_tree(dir);
    th_ctx_free(ctx);
}

Test(dataset, synthetic_is_deterministic) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "dataset", "synthetic");
    const char *const kv[] = { "length=50", "num_classes=4", "channels=2", "height=5", "width=7", NULL };
    cv_create_args a = { .split = CV_SPLIT_TRAIN, .seed = 1 };
    void *x = th_create(ctx, d, kv, &a), *y = th_create(ctx, d, kv, &a);
    a.split = CV_SPLIT_VAL;
    void *v = th_create(ctx, d, kv, &a);
    const cv_dataset_vtable *vt = d->vtable;
    cr_expect(vt->length(x) == 50 && vt->num_classes(x) == 4 && vt->channels(x) == 2);
    cr_expect_str_eq(vt->class_name(x, 3), "class_3");
    cv_error err;
    cv_error_init(&err);
    int seen[4] = { 0 }, differ = 0;
    for (int i = 0; i < 50; i++) {
        cv_sample s = { .struct_size = sizeof s }, t = { .struct_size = sizeof t }, u = { .struct_size = sizeof u };
        cr_assert_eq(vt->get(x, i, &s, &err), CV_OK);
        cr_assert_eq(vt->get(y, i, &t, &err), CV_OK);
        cr_assert_eq(vt->get(v, i, &u, &err), CV_OK);
        cr_expect(s.image.h == 5 && s.image.w == 7 && s.image.c == 2);
        cr_expect_eq(s.label, t.label);
        cr_expect(memcmp(s.image.data, t.image.data, 70) == 0);
        differ += memcmp(s.image.data, u.image.data, 70) != 0;
        seen[s.label]++;
        ctx->host.free(s.image.data), ctx->host.free(t.image.data), ctx->host.free(u.image.data);
    }
    cr_expect(differ > 40, "val split repeats train (%d of 50 differ)", differ);
    for (int k = 0; k < 4; k++) cr_expect(seen[k] > 3, "label %d drawn %d times", k, seen[k]);
    th_destroy(d, x), th_destroy(d, y), th_destroy(d, v);
    th_ctx_free(ctx);
}
