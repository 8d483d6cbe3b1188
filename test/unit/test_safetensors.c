/* test_safetensors.c — checkpoint file format: round trip, atomic replace, and
 * clear errors for truncated, corrupt and foreign files. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "train/safetensors.h"

static char dir[256];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/cv_st_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}
static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(safetensors, .init = setup, .fini = teardown);

static const char *path_in(const char *name) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static void write_sample(const char *path, float scale) {
    cv_error err;
    cv_error_init(&err);
    cv_st_writer *w = cv_st_writer_create();
    float a[6];
    for (int i = 0; i < 6; i++) a[i] = scale * (float)(i + 1);
    int32_t b[3] = { 7, -8, 9 };
    cv_shape sa = CV_SHAPE(2, 3), sb = CV_SHAPE(3);
    cr_assert_eq(cv_st_add(w, "layer.weight", CV_F32, &sa, a, &err), CV_OK, "%s", err.message);
    cr_assert_eq(cv_st_add(w, "counts", CV_I32, &sb, b, &err), CV_OK, "%s", err.message);
    cr_assert_eq(cv_st_add_metadata(w, "epoch", "3", &err), CV_OK);
    cr_assert_eq(cv_st_write_atomic(w, path, &err), CV_OK, "%s", err.message);
    cv_st_writer_destroy(w);
}

Test(safetensors, round_trip) {
    const char *p = path_in("a.safetensors");
    write_sample(p, 1.0f);
    cv_error err;
    cv_error_init(&err);
    cv_st_file *f = cv_st_open(p, &err);
    cr_assert_not_null(f, "%s", err.message);
    cr_assert_eq(cv_st_count(f), 2);
    const cv_st_tensor *t = cv_st_find(f, "layer.weight");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, CV_F32);
    cr_assert_eq(t->shape.ndim, 2);
    cr_assert_eq(t->shape.dim[1], 3);
    cr_assert_eq(((const float *)t->data)[5], 6.0f);
    const cv_st_tensor *c = cv_st_find(f, "counts");
    cr_assert_eq(((const int32_t *)c->data)[1], -8);
    cr_assert_str_eq(cv_st_metadata(f, "epoch"), "3");
    cr_assert_null(cv_st_metadata(f, "missing"));
    cv_st_close(f);
}

Test(safetensors, header_is_standard) {
    /* 8-byte little-endian length, then JSON that starts with '{' */
    const char *p = path_in("b.safetensors");
    write_sample(p, 1.0f);
    FILE *fp = fopen(p, "rb");
    unsigned char h[9];
    cr_assert_eq(fread(h, 1, 9, fp), 9);
    fclose(fp);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)h[i] << (8 * i);
    cr_assert(n > 10 && n % 8 == 0);
    cr_assert_eq(h[8], '{');
}

Test(safetensors, truncated_file_is_a_clear_error) {
    const char *p = path_in("c.safetensors");
    write_sample(p, 1.0f);
    FILE *fp = fopen(p, "rb");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    for (long cut = 0; cut < size; cut += 7) {
        cr_assert_eq(truncate(p, cut), 0);
        cv_error err;
        cv_error_init(&err);
        cv_st_file *f = cv_st_open(p, &err);
        cr_assert_null(f, "a file cut at %ld of %ld bytes must not open", cut, size);
        cr_assert_eq(err.status, CV_ERR_IO);
        cr_assert(strstr(err.message, p), "error names the file: %s", err.message);
        write_sample(p, 1.0f);
    }
}

Test(safetensors, garbage_is_a_clear_error) {
    const char *p = path_in("d.safetensors");
    FILE *fp = fopen(p, "wb");
    const unsigned char junk[] = { 16, 0, 0, 0, 0, 0, 0, 0, '{', '"', 'x', '"', ':', '[', '1', 0xff, 0, 0 };
    fwrite(junk, 1, sizeof junk, fp);
    fclose(fp);
    cv_error err;
    cv_error_init(&err);
    cr_assert_null(cv_st_open(p, &err));
    cr_assert(strstr(err.message, "corrupt checkpoint"), "%s", err.message);
}

Test(safetensors, missing_file) {
    cv_error err;
    cv_error_init(&err);
    cr_assert_null(cv_st_open(path_in("nope.safetensors"), &err));
    cr_assert(strstr(err.message, "nope.safetensors") && strstr(err.message, "No such file"), "%s", err.message);
}

Test(safetensors, atomic_replace_keeps_old_file_on_failure) {
    const char *p = path_in("e.safetensors");
    write_sample(p, 1.0f);
    /* a writer to a folder that does not exist fails without touching p */
    cv_error err;
    cv_error_init(&err);
    cv_st_writer *w = cv_st_writer_create();
    float x = 1;
    cv_shape s = CV_SHAPE(1);
    cr_assert_eq(cv_st_add(w, "x", CV_F32, &s, &x, &err), CV_OK);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/e.safetensors", dir);
    cr_assert_eq(cv_st_write_atomic(w, bad, &err), CV_ERR_IO);
    cr_assert(strstr(err.message, "cannot write checkpoint"), "%s", err.message);
    cv_st_writer_destroy(w);
    cv_error_init(&err);
    cv_st_file *f = cv_st_open(p, &err);
    cr_assert_not_null(f, "%s", err.message);
    cv_st_close(f);
}

Test(safetensors, duplicate_names_rejected) {
    cv_error err;
    cv_error_init(&err);
    cv_st_writer *w = cv_st_writer_create();
    float x = 1;
    cv_shape s = CV_SHAPE(1);
    cr_assert_eq(cv_st_add(w, "x", CV_F32, &s, &x, &err), CV_OK);
    cr_assert_eq(cv_st_add(w, "x", CV_F32, &s, &x, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "duplicate"));
    cv_st_writer_destroy(w);
}
