/* test/unit/test_sampler.c — the sampler plugins: the scale sets of issue 5
 * exactly, coverage of every index each epoch, identical (h, w, b) sequences
 * on every rank, SET's active mask, the scale schedule and the video variant. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "support/testhost.h"

typedef struct step_rec { int h, w, n, frames; } step_rec;

static void *mk(cv_ctx *ctx, const cv_component_desc *d, const char *const *kv, int64_t len, int rank, int world,
                int split) {
    cv_create_args a = { .dataset_length = len, .rank = rank, .world_size = world, .seed = 7, .split = split };
    return th_create(ctx, d, kv, &a);
}

/* runs one epoch; fills steps (may be NULL) and the concatenated indices */
static int64_t run_epoch(const cv_component_desc *d, void *s, int64_t epoch, const uint8_t *active, int64_t len,
                         step_rec *steps, int64_t *idx, int64_t cap) {
    const cv_sampler_vtable *vt = d->vtable;
    cv_error err;
    cv_error_init(&err);
    int64_t nb = 0;
    cr_assert_eq(vt->begin_epoch(s, epoch, active, len, &nb, &err), CV_OK, "%s", err.message);
    int64_t k = 0;
    for (int64_t i = 0; i < nb; i++) {
        cv_batch_spec b = { .struct_size = sizeof b };
        cr_assert_eq(vt->get_batch(s, i, &b, &err), CV_OK, "%s", err.message);
        if (steps) steps[i] = (step_rec){ b.h, b.w, b.n, b.frames };
        for (int j = 0; j < b.n; j++) {
            cr_assert(k < cap);
            idx[k++] = b.indices[j];
        }
    }
    return nb;
}

static const char *const paper[] = { "base_size=224", "batch_size=128", "min_size=128", "max_size=320",
                                     "scales=5", "check_scale=32", NULL };

Test(sampler, msc_vbs_scale_set_of_the_issue) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "sampler", "msc_vbs");
    void *s = mk(ctx, d, paper, 1000, 0, 1, CV_SPLIT_TRAIN);
    cv_scale sc[16];
    int n = ((const cv_sampler_vtable *)d->vtable)->scales(s, 0, sc, 16);
    const cv_scale want[5] = { { 128, 128, 392 }, { 192, 192, 174 }, { 224, 224, 128 }, { 288, 288, 77 },
                               { 320, 320, 62 } };
    cr_assert_eq(n, 5);
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(sc[i].h, want[i].h, "scale %d h %d", i, sc[i].h);
        cr_expect_eq(sc[i].w, want[i].w, "scale %d w %d", i, sc[i].w);
        cr_expect_eq(sc[i].batch, want[i].batch, "scale %d batch %d", i, sc[i].batch);
    }
    th_destroy(d, s);
    th_ctx_free(ctx);
}

Test(sampler, msc_fbs_and_ssc_fbs_sets) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *m = th_load(ctx, "sampler", "msc_fbs");
    void *s = mk(ctx, m, paper, 1000, 0, 1, CV_SPLIT_TRAIN);
    cv_scale sc[16];
    int n = ((const cv_sampler_vtable *)m->vtable)->scales(s, 0, sc, 16);
    const int sizes[5] = { 128, 192, 224, 288, 320 };
    cr_assert_eq(n, 5);
    for (int i = 0; i < 5; i++) cr_expect(sc[i].h == sizes[i] && sc[i].w == sizes[i] && sc[i].batch == 128);
    th_destroy(m, s);
    const cv_component_desc *f = th_load(ctx, "sampler", "ssc_fbs");
    const char *const kv[] = { "base_size=64", "batch_size=10", NULL };
    s = mk(ctx, f, kv, 95, 0, 1, CV_SPLIT_TRAIN);
    n = ((const cv_sampler_vtable *)f->vtable)->scales(s, 3, sc, 16);
    cr_assert_eq(n, 1);
    cr_expect(sc[0].h == 64 && sc[0].w == 64 && sc[0].batch == 10);
    step_rec st[32];
    int64_t idx[400];
    int64_t nb = run_epoch(f, s, 0, NULL, 95, st, idx, 400);
    cr_expect_eq(nb, 10, "95 samples in batches of 10 -> 10 steps, got %lld", (long long)nb);
    for (int i = 0; i < nb; i++) cr_expect(st[i].n == 10 && st[i].h == 64);
    th_destroy(f, s);
    th_ctx_free(ctx);
}

Test(sampler, rectangular_sizes_pair_elementwise) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "sampler", "msc_vbs");
    const char *const kv[] = { "base_height=64", "base_width=96", "batch_size=16", "min_height=32", "max_height=96",
                               "min_width=64", "max_width=128", "scales=3", "check_scale=16", NULL };
    void *s = mk(ctx, d, kv, 100, 0, 1, CV_SPLIT_TRAIN);
    cv_scale sc[16];
    int n = ((const cv_sampler_vtable *)d->vtable)->scales(s, 0, sc, 16);
    /* heights {32, 64, 96} (64 is also the base), widths {64, 96, 128} */
    cr_assert_eq(n, 3);
    const int hs[3] = { 32, 64, 96 }, ws[3] = { 64, 96, 128 };
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(sc[i].h, hs[i]);
        cr_expect_eq(sc[i].w, ws[i]);
        cr_expect_eq(sc[i].batch, 64 * 96 * 16 / (hs[i] * ws[i]));
    }
    th_destroy(d, s);
    th_ctx_free(ctx);
}

static void check_coverage(const char *name) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "sampler", name);
    const char *const multi[] = { "base_size=32", "batch_size=8", "min_size=16", "max_size=64", "scales=4",
                                  "check_scale=8", NULL };
    const char *const single[] = { "base_size=32", "batch_size=8", NULL };
    const char *const *kv = strcmp(name, "ssc_fbs") ? multi : single;
    const int64_t len = 203;
    void *s = mk(ctx, d, kv, len, 0, 1, CV_SPLIT_TRAIN);
    static int64_t idx[100000];
    static step_rec st[10000];
    for (int64_t epoch = 0; epoch < 3; epoch++) {
        int64_t nb = run_epoch(d, s, epoch, NULL, len, st, idx, 100000);
        int64_t total = 0, last = 0;
        for (int64_t i = 0; i < nb; i++) total += st[i].n, last = st[i].n;
        int *seen = calloc((size_t)len, sizeof *seen);
        for (int64_t i = 0; i < total; i++) {
            cr_assert(idx[i] >= 0 && idx[i] < len);
            seen[idx[i]]++;
        }
        int64_t extra = 0;
        for (int64_t i = 0; i < len; i++) {
            cr_expect(seen[i] >= 1, "%s epoch %lld: index %lld never drawn", name, (long long)epoch, (long long)i);
            extra += seen[i] - 1;
        }
        /* only the last batch wraps around to fill itself */
        cr_expect_eq(extra, total - len);
        cr_expect(total - len < last, "%s: %lld padded indices, last batch %lld", name, (long long)(total - len),
                  (long long)last);
        free(seen);
    }
    th_destroy(d, s);
    th_ctx_free(ctx);
}

Test(sampler, every_index_once_per_epoch) {
    check_coverage("ssc_fbs");
    check_coverage("msc_fbs");
    check_coverage("msc_vbs");
    check_coverage("msc_vbs_video");
}

Test(sampler, same_epoch_same_order_new_epoch_new_order) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "sampler", "msc_vbs");
    void *a = mk(ctx, d, paper, 5000, 0, 1, CV_SPLIT_TRAIN), *b = mk(ctx, d, paper, 5000, 0, 1, CV_SPLIT_TRAIN);
    static int64_t ia[20000], ib[20000], ic[20000];
    static step_rec sa[1000], sb[1000], sc2[1000];
    int64_t na = run_epoch(d, a, 4, NULL, 5000, sa, ia, 20000);
    int64_t nb = run_epoch(d, b, 4, NULL, 5000, sb, ib, 20000);
    cr_assert_eq(na, nb);
    cr_assert(memcmp(sa, sb, (size_t)na * sizeof *sa) == 0);
    cr_assert(memcmp(ia, ib, 5000 * sizeof *ia) == 0);
    int64_t nc = run_epoch(d, b, 5, NULL, 5000, sc2, ic, 20000);
    cr_assert(nc != na || memcmp(sa, sc2, (size_t)na * sizeof *sa) != 0, "epoch 5 repeats epoch 4's scales");
    cr_assert(memcmp(ia, ic, 5000 * sizeof *ia) != 0, "epoch 5 repeats epoch 4's order");
    /* several scales are actually used */
    int used[5] = { 0 };
    for (int64_t i = 0; i < na; i++)
        for (int k = 0; k < 5; k++) used[k] |= sa[i].h == (int[]){ 128, 192, 224, 288, 320 }[k];
    cr_expect(used[0] + used[1] + used[2] + used[3] + used[4] >= 4);
    th_destroy(d, a);
    th_destroy(d, b);
    th_ctx_free(ctx);
}

static void check_ranks(const char *name, int world, int64_t len, int repeats) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "sampler", name);
    char rep[32];
    snprintf(rep, sizeof rep, "num_repeats=%d", repeats);
    const char *const multi[] = { "base_size=32", "batch_size=8", "min_size=16", "max_size=64", "scales=3",
                                  "check_scale=8", rep, NULL };
    const char *const single[] = { "base_size=32", "batch_size=8", rep, NULL };
    const char *const *kv = strcmp(name, "ssc_fbs") ? multi : single;
    static step_rec st0[4000], st[4000];
    static int64_t idx[8][40000];
    int64_t n0 = 0, tot[8] = { 0 };
    int *seen = calloc((size_t)len, sizeof *seen);
    for (int r = 0; r < world; r++) {
        void *s = mk(ctx, d, kv, len, r, world, CV_SPLIT_TRAIN);
        int64_t n = run_epoch(d, s, 2, NULL, len, r ? st : st0, idx[r], 40000);
        if (r == 0) n0 = n;
        cr_assert_eq(n, n0, "%s rank %d: %lld steps, rank 0: %lld", name, r, (long long)n, (long long)n0);
        for (int64_t i = 0; r && i < n; i++)
            cr_assert(st[i].h == st0[i].h && st[i].w == st0[i].w && st[i].n == st0[i].n && st[i].frames == st0[i].frames,
                      "%s rank %d step %lld differs from rank 0", name, r, (long long)i);
        for (int64_t i = 0; i < n; i++) tot[r] += (r ? st : st0)[i].n;
        for (int64_t i = 0; i < tot[r]; i++) seen[idx[r][i]]++;
        th_destroy(d, s);
    }
    for (int64_t i = 0; i < len; i++) cr_expect(seen[i] >= repeats, "%s: index %lld seen %d times", name, (long long)i, seen[i]);
    free(seen);
    th_ctx_free(ctx);
}

Test(sampler, ranks_agree_without_talking) {
    check_ranks("msc_vbs", 3, 301, 1);
    check_ranks("msc_fbs", 4, 97, 1);
    check_ranks("ssc_fbs", 2, 51, 1);
    check_ranks("msc_vbs_video", 3, 100, 1);
    check_ranks("msc_vbs", 2, 101, 3); /* repeated augmentation */
}

Test(sampler, active_mask_leaves_samples_out) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "sampler", "msc_vbs");
    const char *const kv[] = { "base_size=32", "batch_size=8", "min_size=16", "max_size=64", NULL };
    void *s = mk(ctx, d, kv, 100, 0, 1, CV_SPLIT_TRAIN);
    uint8_t active[100];
    for (int i = 0; i < 100; i++) active[i] = i % 3 != 0;
    static int64_t idx[10000];
    static step_rec st[1000];
    int64_t nb = run_epoch(d, s, 0, active, 100, st, idx, 10000);
    int64_t total = 0;
    for (int64_t i = 0; i < nb; i++) total += st[i].n;
    int seen[100] = { 0 };
    for (int64_t i = 0; i < total; i++) seen[idx[i]]++;
    for (int i = 0; i < 100; i++) {
        if (i % 3 == 0) cr_expect_eq(seen[i], 0, "left-out index %d drawn", i);
        else cr_expect(seen[i] >= 1, "active index %d never drawn", i);
    }
    memset(active, 0, sizeof active);
    cv_error err;
    cv_error_init(&err);
    int64_t n;
    cr_expect_eq(((const cv_sampler_vtable *)d->vtable)->begin_epoch(s, 1, active, 100, &n, &err), CV_ERR_INVALID);
    cr_expect(strstr(err.message, "left out") != NULL, "%s", err.message);
    th_destroy(d, s);
    th_ctx_free(ctx);
}

Test(sampler, scale_schedule_grows_sizes) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "sampler", "msc_vbs");
    const char *const kv[] = { "base_size=224", "batch_size=128", "min_size=128", "max_size=320", "scale_inc=true",
                               "scale_inc_factor=0.25", "ep_intervals=10, 20", NULL };
    void *s = mk(ctx, d, kv, 1000, 0, 1, CV_SPLIT_TRAIN);
    const cv_sampler_vtable *vt = d->vtable;
    cv_scale a[16], b[16], c[16];
    int na = vt->scales(s, 9, a, 16), nb = vt->scales(s, 10, b, 16), nc = vt->scales(s, 25, c, 16);
    cr_assert(na > 0 && nb > 0 && nc > 0);
    cr_expect_eq(a[0].h, 128);
    cr_expect_eq(a[na - 1].h, 320);
    cr_expect_eq(b[0].h, 160); /* 128 + int(128 * 0.25) */
    cr_expect_eq(b[nb - 1].h, 416); /* 320 + 80, rounded to 32: 416 */
    cr_expect_eq(c[0].h, 192); /* 160 + 40 = 200 -> 192 */
    th_destroy(d, s);
    th_ctx_free(ctx);
}

Test(sampler, video_variant_draws_frames) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "sampler", "msc_vbs_video");
    const char *const kv[] = { "base_size=32", "batch_size=16", "min_size=16", "max_size=64", "frames=8",
                               "min_frames=4", "max_frames=16", "frame_scales=3", NULL };
    void *s = mk(ctx, d, kv, 500, 0, 1, CV_SPLIT_TRAIN);
    cv_scale sc[16];
    int ns = ((const cv_sampler_vtable *)d->vtable)->scales(s, 0, sc, 16);
    static int64_t idx[100000];
    static step_rec st[10000];
    int64_t nb = run_epoch(d, s, 0, NULL, 500, st, idx, 100000);
    int fr[17] = { 0 };
    for (int64_t i = 0; i < nb; i++) {
        cr_assert(st[i].frames == 4 || st[i].frames == 10 || st[i].frames == 16 || st[i].frames == 8,
                  "frames %d", st[i].frames);
        fr[st[i].frames]++;
        int base_b = 0;
        for (int k = 0; k < ns; k++)
            if (sc[k].h == st[i].h) base_b = sc[k].batch;
        int want = base_b * 8 / st[i].frames;
        cr_expect_eq(st[i].n, want < 1 ? 1 : want);
    }
    cr_expect(fr[4] && fr[8] && fr[16], "frames drawn: 4:%d 8:%d 10:%d 16:%d", fr[4], fr[8], fr[10], fr[16]);
    th_destroy(d, s);
    th_ctx_free(ctx);
}

Test(sampler, eval_split_is_ordered_with_partial_last_batch) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "sampler", "msc_vbs");
    void *s = mk(ctx, d, paper, 300, 0, 1, CV_SPLIT_VAL);
    static int64_t idx[1000];
    step_rec st[10];
    int64_t nb = run_epoch(d, s, 0, NULL, 300, st, idx, 1000);
    cr_assert_eq(nb, 3);
    cr_expect(st[0].n == 128 && st[1].n == 128 && st[2].n == 44);
    for (int i = 0; i < 300; i++) cr_expect_eq(idx[i], i);
    for (int i = 0; i < 3; i++) cr_expect(st[i].h == 224 && st[i].w == 224);
    th_destroy(d, s);
    th_ctx_free(ctx);
}

Test(sampler, bad_options_are_errors) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "sampler", "msc_vbs");
    cv_error err;
    cv_error_init(&err);
    void *s = NULL;
    const char *const kv[] = { "min_size=300", "max_size=100", NULL };
    cv_create_args a = { .dataset_length = 10 };
    cr_expect_eq(th_try_create(ctx, d, kv, &a, &s, &err), CV_ERR_INVALID);
    cr_expect(strstr(err.message, "min size 300") != NULL, "%s", err.message);
    cv_error_init(&err);
    a.dataset_length = 0;
    cr_expect_eq(th_try_create(ctx, d, NULL, &a, &s, &err), CV_ERR_INVALID);
    cr_expect(strstr(err.message, "empty") != NULL, "%s", err.message);
    cv_error_init(&err);
    a.dataset_length = 10;
    s = th_create(ctx, d, NULL, &a);
    cv_batch_spec b = { .struct_size = sizeof b };
    cr_expect_eq(((const cv_sampler_vtable *)d->vtable)->get_batch(s, 0, &b, &err), CV_ERR_INVALID);
    th_destroy(d, s);
    th_ctx_free(ctx);
}
