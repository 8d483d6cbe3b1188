/* test/unit/test_dataset_fuzz.c — a deterministic slice of the fuzzing in
 * test/fuzz/: a few hundred truncated and mutated IDX buffers (raw and gzip)
 * through the IDX reader, and a few hundred mutated PNG/JPEG files through the
 * image_folder plugin.  Each input must give a checked result or a clear error
 * naming the file; none may crash (run under ASan/UBSan by `make check`). */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../plugins/datasets/idx.h"
#include "fixtures/images/imggen.h"
#include "support/testhost.h"

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }
static void *t_alloc(size_t n) { return malloc(n ? n : 1); }

static size_t gzip_mem(const uint8_t *src, size_t n, uint8_t *dst, size_t cap) {
    z_stream z;
    memset(&z, 0, sizeof z);
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)src, z.avail_in = (uInt)n, z.next_out = dst, z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t out = z.total_out;
    deflateEnd(&z);
    return out;
}

static int check_idx(const uint8_t *b, size_t n) {
    char why[256];
    idx_header hd;
    int ok = 0;
    for (int dims = 1; dims <= 3; dims += 2)
        if (idx_parse(b, n, dims, &hd, why, sizeof why) == 0) {
            cr_assert(hd.offset + hd.count <= n, "accepted an IDX promising %llu bytes in %zu",
                      (unsigned long long)hd.count, n);
            ok++;
        } else {
            cr_assert(why[0] != 0, "an IDX error without a reason");
        }
    uint8_t *out;
    size_t on;
    if (ds_gunzip(b, n, 1 << 20, t_alloc, free, &out, &on, why, sizeof why) == 0) {
        if (idx_parse(out, on, 3, &hd, why, sizeof why) == 0) cr_assert(hd.offset + hd.count <= on);
        free(out);
    } else {
        cr_assert(why[0] != 0);
    }
    return ok;
}

Test(fuzz, idx_reader_mutations) {
    uint8_t raw[16 + 5 * 4 * 3];
    const uint8_t hdr[16] = { 0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 4, 0, 0, 0, 3 };
    memcpy(raw, hdr, 16);
    for (size_t i = 16; i < sizeof raw; i++) raw[i] = (uint8_t)i;
    uint8_t gz[512];
    size_t gzn = gzip_mem(raw, sizeof raw, gz, sizeof gz);
    cr_assert_eq(check_idx(raw, sizeof raw), 1, "the unmutated IDX must parse");
    int accepted = 0, total = 0;
    for (size_t cut = 0; cut <= sizeof raw; cut++, total++) accepted += check_idx(raw, cut) > 0;
    for (size_t cut = 0; cut <= gzn; cut++, total++) check_idx(gz, cut);
    uint32_t seed = 12345;
    uint8_t m[sizeof raw], mg[512];
    for (int k = 0; k < 200; k++, total += 2) {
        memcpy(m, raw, sizeof raw);
        memcpy(mg, gz, gzn);
        for (int f = 0; f < 1 + k % 4; f++) {
            m[lcg(&seed) % 16] ^= (uint8_t)(1u << (lcg(&seed) % 8)); /* header bits */
            mg[lcg(&seed) % gzn] ^= (uint8_t)(lcg(&seed) >> 24);
        }
        if (k % 10 == 0) m[4] = m[5] = m[6] = m[7] = 0xff; /* a huge first dimension */
        check_idx(m, sizeof m);
        check_idx(mg, gzn);
    }
    cr_expect_eq(accepted, 1, "only the full buffer is a complete IDX file (%d accepted)", accepted);
    cr_expect(total > 300);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(p);
}

Test(fuzz, image_decoder_mutations) {
    char root[64] = "/tmp/cvnets-fuzz-XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    char dir[128];
    snprintf(dir, sizeof dir, "%s/train", root);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/train/x", root);
    mkdir(dir, 0755);
    uint8_t *pic = ig_picture(19, 11, 3, 9);
    ig_buf seeds[4] = { { 0 } };
    ig_png(&seeds[0], 19, 11, 8, 2, pic, NULL, 0);
    ig_jpeg(&seeds[1], pic, 19, 11, 3, 0);
    ig_jpeg(&seeds[2], pic, 19, 11, 3, 1);
    uint16_t s16[19 * 11];
    for (int i = 0; i < 19 * 11; i++) s16[i] = (uint16_t)(i * 300);
    ig_png(&seeds[3], 19, 11, 16, 0, s16, NULL, 0);
    uint32_t seed = 777;
    int nfiles = 0;
    for (int s = 0; s < 4; s++) {
        for (int k = 0; k < 80; k++, nfiles++) {
            ig_buf b = { 0 };
            ig_put(&b, seeds[s].p, seeds[s].n);
            if (k < 20) {
                b.n = (size_t)k * seeds[s].n / 20; /* truncation */
            } else {
                int flips = 1 + k % 6;
                for (int f = 0; f < flips; f++) {
                    /* favour the headers, where sizes and tables live */
                    size_t at = k % 2 ? lcg(&seed) % (b.n < 64 ? b.n : 64) : lcg(&seed) % b.n;
                    b.p[at] = (uint8_t)(lcg(&seed) >> 24);
                }
            }
            char p[256];
            snprintf(p, sizeof p, "%s/m%d_%03d.%s", dir, s, k, s == 0 || s == 3 ? "png" : "jpg");
            cr_assert_eq(ig_write_file(p, &b), 0);
            free(b.p);
        }
    }
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "dataset", "image_folder");
    const cv_dataset_vtable *vt = d->vtable;
    char rk[128];
    snprintf(rk, sizeof rk, "root=%s", root);
    const char *const kv[] = { rk, "max_pixels=100000", NULL };
    cv_create_args a = { .split = CV_SPLIT_TRAIN };
    void *ds = th_create(ctx, d, kv, &a);
    cr_assert_eq(vt->length(ds), nfiles);
    int ok = 0, bad = 0;
    for (int64_t i = 0; i < vt->length(ds); i++) {
        cv_sample smp = { .struct_size = sizeof smp };
        cv_error err;
        cv_error_init(&err);
        int rc = vt->get(ds, i, &smp, &err);
        if (rc == CV_OK) {
            cr_assert(smp.image.w > 0 && smp.image.h > 0 && (int64_t)smp.image.w * smp.image.h <= 100000);
            ok++;
            ctx->host.free(smp.image.data);
        } else {
            cr_assert_eq(rc, CV_ERR_IO, "%s", err.message);
            cr_assert(strstr(err.message, smp.path) != NULL, "%s", err.message);
            bad++;
        }
    }
    cr_expect(ok > 0 && bad > 0, "%d decoded, %d rejected", ok, bad);
    th_destroy(d, ds);
    th_ctx_free(ctx);
    for (int s = 0; s < 4; s++) free(seeds[s].p);
    free(pic);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
