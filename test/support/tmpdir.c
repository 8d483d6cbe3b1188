/* test/support/tmpdir.c — see tmpdir.h. */
#include "tmpdir.h"
#include "testhost.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TMP_MAX_DIRS 32
#define TMP_MAX_FILES 64
static char tmp_dirs[TMP_MAX_DIRS][512];
static int tmp_ndirs;
static char tmp_files[TMP_MAX_FILES][1024];
static int tmp_nfiles;

const char *tmp_dir_new(void) {
    cr_assert_lt(tmp_ndirs, TMP_MAX_DIRS, "too many temporary folders");
    const char *base = getenv("TMPDIR");
    char *d = tmp_dirs[tmp_ndirs];
    snprintf(d, sizeof tmp_dirs[0], "%s/cvnets-test-XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(d), "mkdtemp %s failed", d);
    tmp_ndirs++;
    return d;
}

const char *tmp_write_bytes(const char *dir, const char *name, const void *data, unsigned long n) {
    cr_assert_lt(tmp_nfiles, TMP_MAX_FILES, "too many temporary files");
    char *path = tmp_files[tmp_nfiles++];
    snprintf(path, sizeof tmp_files[0], "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
    return path;
}

const char *tmp_write(const char *dir, const char *name, const char *text) {
    return tmp_write_bytes(dir, name, text, strlen(text));
}

void tmp_put_fixture_as(const char *dir, const char *fixture, const char *file_name) {
    char rel[256];
    snprintf(rel, sizeof rel, "test/fixtures/%s.so", fixture);
    const char *src = th_build_path(rel);
    FILE *in = fopen(src, "rb");
    cr_assert_not_null(in, "fixture %s is not built (make %s)", src, src);
    char dst[1024];
    snprintf(dst, sizeof dst, "%s/%s", dir, file_name);
    FILE *out = fopen(dst, "wb");
    cr_assert_not_null(out, "cannot write %s", dst);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) cr_assert_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

void tmp_put_fixture(const char *dir, const char *fixture, const char *as) {
    char name[256];
    snprintf(name, sizeof name, "cvnets-transform-%s.so", as);
    tmp_put_fixture_as(dir, fixture, name);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tmp_cleanup(void) {
    for (int i = 0; i < tmp_ndirs; i++) nftw(tmp_dirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmp_ndirs = 0;
    tmp_nfiles = 0;
}
