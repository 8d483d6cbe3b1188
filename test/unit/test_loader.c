/* test/unit/test_loader.c — the data loader: identical batches in step order
 * under 0, 1 and 2 workers (with random transforms), u8 -> f32/255 collation,
 * one-hot soft labels, resizing to the sampler's size, bad samples replaced
 * deterministically and counted, SET's active mask, failure reporting, and the
 * data plan.  Transforms here are small in-test components (the real ones are
 * plugins of their own). */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/loader.h"
#include "data/plan.h"
#include "fixtures/images/imggen.h"
#include "support/testhost.h"

/* ---- in-test transforms ------------------------------------------------------------ */
/* per sample: to f32 (x/255) plus a random offset from ctx->rng in pixel 0 */
static int jitter_apply(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err) {
    const cv_host *h = self;
    size_t n = (size_t)s->image.h * s->image.w * s->image.c;
    float *f = h->alloc(n * sizeof *f);
    if (!f) return h->set_error(err, CV_ERR_NOMEM, "jitter: out of memory");
    for (size_t i = 0; i < n; i++) f[i] = ((uint8_t *)s->image.data)[i] / 255.0f;
    f[0] = 10.0f + (float)h->rng_uniform(&ctx->rng);
    h->free(s->image.data);
    s->image.data = f;
    s->image.dtype = CV_F32;
    return CV_OK;
}
/* batch: mix each label with the next sample's by a random weight */
static int mix_apply(void *self, cv_batch *b, cv_transform_ctx *ctx, cv_error *err) {
    const cv_host *h = self;
    (void)err;
    float lam = 0.25f + 0.5f * (float)h->rng_uniform(&ctx->rng);
    for (int i = 0; i < b->n; i++)
        for (int k = 0; k < b->num_classes; k++) {
            float a = b->soft_labels[i * b->num_classes + k];
            b->soft_labels[i * b->num_classes + k] = a * lam + (1 - lam) * (k == b->labels[(i + 1) % b->n]);
        }
    b->soft = 1;
    return CV_OK;
}
static int fail_apply(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err) {
    (void)s, (void)ctx;
    return ((const cv_host *)self)->set_error(err, CV_ERR_INVALID, "always fails");
}
static const cv_transform_vtable jitter_vt = { sizeof(cv_transform_vtable), 0, 0, jitter_apply, NULL };
static const cv_transform_vtable mix_vt = { sizeof(cv_transform_vtable), 1, 0, NULL, mix_apply };
static const cv_transform_vtable fail_vt = { sizeof(cv_transform_vtable), 0, 0, fail_apply, NULL };
static const cv_component_desc jitter_desc = { .struct_size = sizeof(cv_component_desc), .kind = CV_KIND_TRANSFORM,
                                               .name = "jitter", .vtable = &jitter_vt };
static const cv_component_desc mix_desc = { .struct_size = sizeof(cv_component_desc), .kind = CV_KIND_TRANSFORM,
                                            .name = "mix", .vtable = &mix_vt };
static const cv_component_desc fail_desc = { .struct_size = sizeof(cv_component_desc), .kind = CV_KIND_TRANSFORM,
                                             .name = "fail", .vtable = &fail_vt };

/* ---- helpers ------------------------------------------------------------------------ */
typedef struct digest {
    int64_t nsteps;
    uint64_t step_hash[64];
    int64_t bad, repl;
} digest;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static cv_component_ref make(cv_ctx *ctx, const char *kind, const char *name, const char *const *kv, int64_t len) {
    const cv_component_desc *d = th_load(ctx, kind, name);
    cv_create_args a = { .split = CV_SPLIT_TRAIN, .seed = 3, .dataset_length = len, .world_size = 1 };
    return (cv_component_ref){ d, th_create(ctx, d, kv, &a) };
}

/* two epochs of a loader over ds/sp with the given transforms and workers */
static void run(cv_ctx *ctx, cv_component_ref ds, cv_component_ref sp, const cv_component_ref *tf, int ntf,
                int workers, const uint8_t *active, digest *out) {
    cv_loader_config cfg = { .host = &ctx->host, .dataset = ds, .sampler = sp, .transforms = tf,
                             .n_transforms = ntf, .workers = workers, .seed = 11, .training = 1 };
    cv_loader *l;
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_loader_create(&cfg, &l, &err), CV_OK, "%s", err.message);
    memset(out, 0, sizeof *out);
    for (int64_t epoch = 0; epoch < 2; epoch++) {
        int64_t nb;
        cr_assert_eq(cv_loader_begin_epoch(l, epoch, active, &nb, &err), CV_OK, "%s", err.message);
        for (int64_t s = 0; s < nb; s++) {
            cv_loaded_batch b;
            cr_assert_eq(cv_loader_next(l, &b, &err), CV_OK, "%s", err.message);
            cr_assert_eq(b.step, s);
            cr_assert_eq(b.epoch, epoch);
            const cv_batch *x = &b.batch;
            uint64_t h = 1469598103934665603ull;
            h = fnv(h, &x->n, sizeof x->n), h = fnv(h, &x->h, sizeof x->h), h = fnv(h, &x->w, sizeof x->w);
            h = fnv(h, x->images, sizeof(float) * x->n * x->c * x->h * x->w);
            h = fnv(h, x->labels, sizeof(int32_t) * x->n);
            h = fnv(h, x->soft_labels, sizeof(float) * x->n * x->num_classes);
            h = fnv(h, b.indices, sizeof(int64_t) * x->n);
            for (int i = 0; active && i < x->n; i++) cr_assert(active[b.indices[i]], "left-out index %lld loaded", (long long)b.indices[i]);
            out->step_hash[(out->nsteps++) % 64] ^= h;
        }
        cr_expect_neq(cv_loader_next(l, &(cv_loaded_batch){ 0 }, &err), CV_OK, "a batch after the last step");
        cv_error_init(&err);
    }
    out->bad = cv_loader_bad_samples(l);
    out->repl = cv_loader_replacements(l);
    cv_loader_destroy(l);
}

Test(loader, same_batches_under_0_1_2_workers) {
    cv_ctx *ctx = th_ctx_new();
    const char *const dkv[] = { "length=90", "num_classes=5", "channels=3", "height=16", "width=16", NULL };
    const char *const skv[] = { "base_size=16", "batch_size=8", "min_size=8", "max_size=24", "check_scale=8", NULL };
    cv_component_ref ds = make(ctx, "dataset", "synthetic", dkv, 0);
    cv_component_ref sp = make(ctx, "sampler", "msc_vbs", skv, 90);
    cv_component_ref tf[2] = { { &jitter_desc, &ctx->host }, { &mix_desc, &ctx->host } };
    digest d[3];
    for (int w = 0; w < 3; w++) run(ctx, ds, sp, tf, 2, w, NULL, &d[w]);
    cr_assert(d[0].nsteps > 4);
    for (int w = 1; w < 3; w++) {
        cr_expect_eq(d[w].nsteps, d[0].nsteps);
        cr_expect(memcmp(d[w].step_hash, d[0].step_hash, sizeof d[0].step_hash) == 0, "%d workers differ from 0", w);
    }
    /* without transforms as well (u8 collation path) */
    for (int w = 0; w < 3; w += 2) run(ctx, ds, sp, NULL, 0, w, NULL, &d[w]);
    cr_expect(memcmp(d[2].step_hash, d[0].step_hash, sizeof d[0].step_hash) == 0);
    th_destroy(sp.desc, sp.self);
    th_destroy(ds.desc, ds.self);
    th_ctx_free(ctx);
}

Test(loader, collation_scaling_labels_and_transforms) {
    cv_ctx *ctx = th_ctx_new();
    const char *const dkv[] = { "length=20", "num_classes=4", "channels=2", "height=6", "width=5", NULL };
    const char *const skv[] = { "base_size=6", "base_width=5", "batch_size=4", "shuffle=false", NULL };
    cv_component_ref ds = make(ctx, "dataset", "synthetic", dkv, 0);
    cv_component_ref sp = make(ctx, "sampler", "ssc_fbs", skv, 20);
    const cv_dataset_vtable *dv = ds.desc->vtable;
    for (int with_tf = 0; with_tf < 2; with_tf++) {
        cv_component_ref tf[2] = { { &jitter_desc, &ctx->host }, { &mix_desc, &ctx->host } };
        cv_loader_config cfg = { .host = &ctx->host, .dataset = ds, .sampler = sp, .transforms = tf,
                                 .n_transforms = with_tf ? 2 : 0, .workers = 2, .seed = 1 };
        cv_loader *l;
        cv_error err;
        cv_error_init(&err);
        cr_assert_eq(cv_loader_create(&cfg, &l, &err), CV_OK, "%s", err.message);
        int64_t nb;
        cr_assert_eq(cv_loader_begin_epoch(l, 0, NULL, &nb, &err), CV_OK);
        cr_assert_eq(nb, 5);
        cv_loaded_batch b;
        cr_assert_eq(cv_loader_next(l, &b, &err), CV_OK, "%s", err.message);
        cr_assert_eq(cv_loader_next(l, &b, &err), CV_OK, "%s", err.message); /* step 1: indices 4..7 */
        cr_expect(b.batch.n == 4 && b.batch.c == 2 && b.batch.h == 6 && b.batch.w == 5 && b.batch.num_classes == 4);
        for (int i = 0; i < 4; i++) {
            cr_expect_eq(b.indices[i], 4 + i);
            cv_sample s = { .struct_size = sizeof s };
            cr_assert_eq(dv->get(ds.self, 4 + i, &s, &err), CV_OK);
            cr_expect_eq(b.batch.labels[i], s.label);
            const uint8_t *px = s.image.data;
            for (int c = 0; c < 2; c++)
                for (int p = 0; p < 30; p++) {
                    float got = b.batch.images[((size_t)i * 2 + c) * 30 + p];
                    if (with_tf && c == 0 && p == 0) cr_expect(got >= 10.0f && got < 11.0f, "jitter lost: %f", got);
                    else cr_expect_float_eq(got, px[p * 2 + c] / 255.0f, 1e-6, "sample %d c %d p %d", i, c, p);
                }
            float sum = 0;
            for (int k = 0; k < 4; k++) sum += b.batch.soft_labels[i * 4 + k];
            cr_expect_float_eq(sum, 1.0f, 1e-5);
            if (!with_tf) cr_expect_eq(b.batch.soft_labels[i * 4 + s.label], 1.0f);
            ctx->host.free(s.image.data);
        }
        cr_expect_eq(b.batch.soft, with_tf);
        cv_loader_destroy(l);
    }
    th_destroy(sp.desc, sp.self);
    th_destroy(ds.desc, ds.self);
    th_ctx_free(ctx);
}

Test(loader, resizes_to_the_sampler_size_and_respects_active_mask) {
    cv_ctx *ctx = th_ctx_new();
    const char *const dkv[] = { "length=40", "num_classes=3", "channels=1", "height=28", "width=28", NULL };
    const char *const skv[] = { "base_size=32", "batch_size=4", "min_size=16", "max_size=48", "check_scale=16", NULL };
    cv_component_ref ds = make(ctx, "dataset", "synthetic", dkv, 0);
    cv_component_ref sp = make(ctx, "sampler", "msc_vbs", skv, 40);
    uint8_t active[40];
    for (int i = 0; i < 40; i++) active[i] = i % 4 != 1;
    digest d0, d2;
    run(ctx, ds, sp, NULL, 0, 0, active, &d0);
    run(ctx, ds, sp, NULL, 0, 2, active, &d2);
    cr_expect(memcmp(d0.step_hash, d2.step_hash, sizeof d0.step_hash) == 0);
    /* every batch has the sampler's (h, w) */
    cv_loader_config cfg = { .host = &ctx->host, .dataset = ds, .sampler = sp, .workers = 1 };
    cv_loader *l;
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_loader_create(&cfg, &l, &err), CV_OK);
    int64_t nb;
    cr_assert_eq(cv_loader_begin_epoch(l, 0, NULL, &nb, &err), CV_OK);
    const cv_sampler_vtable *sv = sp.desc->vtable;
    int sizes_seen = 0;
    for (int64_t s = 0; s < nb; s++) {
        cv_loaded_batch b;
        cr_assert_eq(cv_loader_next(l, &b, &err), CV_OK, "%s", err.message);
        cr_expect(b.batch.h == 16 || b.batch.h == 32 || b.batch.h == 48, "h %d", b.batch.h);
        cr_expect_eq(b.batch.h, b.batch.w);
        sizes_seen |= 1 << (b.batch.h / 16);
        for (size_t i = 0; i < (size_t)b.batch.n * b.batch.h * b.batch.w; i++)
            cr_assert(b.batch.images[i] >= 0.0f && b.batch.images[i] <= 1.0f);
    }
    cr_expect(sizes_seen & ~(1 << 2), "only the base size was drawn");
    /* restart an epoch halfway: the loader drains and starts over */
    cr_assert_eq(cv_loader_begin_epoch(l, 1, NULL, &nb, &err), CV_OK);
    cv_loaded_batch b;
    cr_assert_eq(cv_loader_next(l, &b, &err), CV_OK);
    cr_assert_eq(cv_loader_begin_epoch(l, 1, NULL, &nb, &err), CV_OK);
    cr_assert_eq(cv_loader_next(l, &b, &err), CV_OK);
    cr_expect_eq(b.step, 0);
    cv_loader_destroy(l);
    (void)sv;
    th_destroy(sp.desc, sp.self);
    th_destroy(ds.desc, ds.self);
    th_ctx_free(ctx);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(p);
}

Test(loader, bad_samples_are_replaced_counted_and_deterministic) {
    char root[64] = "/tmp/cvnets-ld-XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    char p[256];
    snprintf(p, sizeof p, "%s/train", root);
    mkdir(p, 0755);
    for (int c = 0; c < 2; c++) {
        snprintf(p, sizeof p, "%s/train/c%d", root, c);
        mkdir(p, 0755);
        for (int i = 0; i < 12; i++) {
            ig_buf b = { 0 };
            if (i == 3 || (c == 1 && i == 7)) {
                ig_put(&b, "broken", 6); /* three corrupt files in all */
            } else {
                uint8_t *pic = ig_picture(10, 10, 3, (unsigned)(c * 100 + i));
                ig_png(&b, 10, 10, 8, 2, pic, NULL, 0);
                free(pic);
            }
            snprintf(p, sizeof p, "%s/train/c%d/%02d.png", root, c, i);
            cr_assert_eq(ig_write_file(p, &b), 0);
            free(b.p);
        }
    }
    cv_ctx *ctx = th_ctx_new();
    char rk[128];
    snprintf(rk, sizeof rk, "root=%s", root);
    const char *const dkv[] = { rk, NULL };
    const char *const skv[] = { "base_size=10", "batch_size=6", NULL };
    cv_component_ref ds = make(ctx, "dataset", "image_folder", dkv, 0);
    cv_component_ref sp = make(ctx, "sampler", "ssc_fbs", skv, 24);
    digest d0, d1, d2;
    run(ctx, ds, sp, NULL, 0, 0, NULL, &d0);
    run(ctx, ds, sp, NULL, 0, 1, NULL, &d1);
    run(ctx, ds, sp, NULL, 0, 2, NULL, &d2);
    cr_expect_eq(d0.bad, 3, "bad samples counted: %lld", (long long)d0.bad);
    cr_expect_eq(d0.repl, 6, "two epochs x three bad files: %lld replacements", (long long)d0.repl);
    cr_expect(d1.bad == 3 && d2.bad == 3 && d1.repl == 6 && d2.repl == 6);
    cr_expect(memcmp(d0.step_hash, d1.step_hash, sizeof d0.step_hash) == 0);
    cr_expect(memcmp(d0.step_hash, d2.step_hash, sizeof d0.step_hash) == 0);
    th_destroy(sp.desc, sp.self);
    th_destroy(ds.desc, ds.self);
    th_ctx_free(ctx);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

Test(loader, a_transform_that_always_fails_stops_the_epoch_with_its_message) {
    cv_ctx *ctx = th_ctx_new();
    ctx->log_level = CV_LOG_ERROR; /* the warnings for each bad sample are expected */
    const char *const dkv[] = { "length=30", NULL };
    const char *const skv[] = { "base_size=32", "batch_size=5", NULL };
    cv_component_ref ds = make(ctx, "dataset", "synthetic", dkv, 0);
    cv_component_ref sp = make(ctx, "sampler", "ssc_fbs", skv, 30);
    cv_component_ref tf[1] = { { &fail_desc, &ctx->host } };
    for (int w = 0; w < 3; w += 2) {
        cv_loader_config cfg = { .host = &ctx->host, .dataset = ds, .sampler = sp, .transforms = tf,
                                 .n_transforms = 1, .workers = w, .max_retries = 3 };
        cv_loader *l;
        cv_error err;
        cv_error_init(&err);
        cr_assert_eq(cv_loader_create(&cfg, &l, &err), CV_OK);
        int64_t nb;
        cr_assert_eq(cv_loader_begin_epoch(l, 0, NULL, &nb, &err), CV_OK);
        cv_loaded_batch b;
        cr_expect_eq(cv_loader_next(l, &b, &err), CV_ERR_IO);
        cr_expect(strstr(err.message, "3 replacements failed") && strstr(err.message, "transform fail") &&
                      strstr(err.message, "always fails"),
                  "%s", err.message);
        cv_loader_destroy(l);
    }
    /* a dataset component passed as the sampler is refused */
    cv_loader_config bad = { .host = &ctx->host, .dataset = ds, .sampler = ds };
    cv_loader *l;
    cv_error err;
    cv_error_init(&err);
    cr_expect_eq(cv_loader_create(&bad, &l, &err), CV_ERR_INVALID);
    th_destroy(sp.desc, sp.self);
    th_destroy(ds.desc, ds.self);
    th_ctx_free(ctx);
}

Test(loader, data_plan_lists_shapes_and_steps) {
    cv_ctx *ctx = th_ctx_new();
    const char *const skv[] = { "base_size=224", "batch_size=128", "min_size=128", "max_size=320", NULL };
    cv_component_ref sp = make(ctx, "sampler", "msc_vbs", skv, 50000);
    cv_data_plan p;
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_data_plan_epoch(sp, 0, 50000, NULL, &p, &err), CV_OK, "%s", err.message);
    cr_assert_eq(p.n, 5);
    const int bs[5] = { 392, 174, 128, 77, 62 }, hs[5] = { 128, 192, 224, 288, 320 };
    int64_t steps = 0;
    for (int i = 0; i < 5; i++) {
        cr_expect(p.shapes[i].h == hs[i] && p.shapes[i].w == hs[i] && p.shapes[i].batch == bs[i]);
        cr_expect(p.shapes[i].steps > 0);
        steps += p.shapes[i].steps;
    }
    cr_expect_eq(steps, p.steps_per_epoch);
    cr_expect(p.samples_per_epoch >= 50000 && p.samples_per_epoch < 50000 + 392);
    cv_data_plan_free(&p);
    th_destroy(sp.desc, sp.self);
    th_ctx_free(ctx);
}
