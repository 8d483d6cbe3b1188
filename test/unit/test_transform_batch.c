/* test/unit/test_transform_batch.c — the batch transforms mixup and cutmix loaded
 * through the host: lambda replayed from the batch rng (the plugins' own Beta
 * sampler, from transform_common.h, is compiled in here), images and soft labels
 * mixed with the batch rolled by one as in torchvision's references, label rows
 * summing to 1, cutmix's lambda equal to the pasted area, the Beta sampler's
 * moments, and the pairing rule that gives each batch to exactly one of the two. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "support/testhost.h"
#include "../../plugins/transforms/transform_common.h"

static cv_ctx *ctx;
static const cv_host *H;
static void setup(void) {
    ctx = th_ctx_new();
    H = &ctx->host;
}
static void teardown(void) { th_ctx_free(ctx); }
TestSuite(transform_batch, .init = setup, .fini = teardown);

enum { N = 4, C = 2, HH = 6, WW = 5, K = 5 };

typedef struct test_batch {
    cv_batch b;
    float images[N * C * HH * WW];
    int32_t labels[N];
    float soft[N * K];
} test_batch;

/* image i is filled with the value i + 1 (so a mixed pixel tells its sources) */
static void make_batch(test_batch *t) {
    memset(t, 0, sizeof *t);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < C * HH * WW; j++) t->images[i * C * HH * WW + j] = (float)(i + 1);
        t->labels[i] = (i * 2) % K;
        t->soft[i * K + t->labels[i]] = 1.0f;
    }
    t->b = (cv_batch){ sizeof(cv_batch), N, C, HH, WW, K, t->images, t->labels, t->soft, 0 };
}

static cv_transform_ctx make_ctx(uint64_t key) {
    cv_transform_ctx c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.target_h = HH;
    c.target_w = WW;
    c.training = 1;
    c.num_classes = K;
    cv_rng_init(&c.rng, 5, &key, 1);
    return c;
}

static int apply(const cv_component_desc *d, void *t, cv_batch *b, cv_transform_ctx *c, cv_error *err) {
    const cv_transform_vtable *vt = d->vtable;
    cr_assert_eq(vt->batch_level, 1, "%s must be a batch transform", d->name);
    cv_error_init(err);
    return vt->apply_batch(t, b, c, err);
}

static void expect_rows_sum_to_one(const test_batch *t) {
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += t->soft[i * K + k];
        cr_assert_float_eq(s, 1.0, 1e-6, "row %d sums to %g", i, s);
    }
}

/* soft[i] = lam * onehot(i) + (1 - lam) * onehot(i - 1 mod N) */
static void expect_labels(const test_batch *t, double lam) {
    for (int i = 0; i < N; i++) {
        int prev = (i + N - 1) % N;
        for (int k = 0; k < K; k++) {
            double want = (t->labels[i] == k ? lam : 0.0) + (t->labels[prev] == k ? 1.0 - lam : 0.0);
            cr_assert_float_eq(t->soft[i * K + k], want, 1e-6, "soft[%d][%d] = %g, want %g (lambda %g)", i, k,
                               t->soft[i * K + k], want, lam);
        }
    }
    cr_assert_eq(t->b.soft, 1);
}

Test(transform_batch, mixup_mixes_images_and_labels_with_replayed_lambda) {
    const cv_component_desc *d = th_load(ctx, "transform", "mixup");
    const char *kv[] = { "alpha=0.4", NULL };
    void *t = th_create(ctx, d, kv, NULL);
    for (uint64_t key = 0; key < 10; key++) {
        test_batch tb;
        make_batch(&tb);
        cv_transform_ctx c = make_ctx(key);
        cv_rng r = c.rng;
        cr_assert(cv_rng_uniform(&r) < 1.0); /* the p draw (p = 1) */
        double lam = tc_beta(H, &r, 0.4, 0.4);
        cr_assert(lam >= 0 && lam <= 1);
        cv_error err;
        cr_assert_eq(apply(d, t, &tb.b, &c, &err), CV_OK, "%s", err.message);
        for (int i = 0; i < N; i++) {
            int prev = (i + N - 1) % N;
            float want = (float)lam * (float)(i + 1) + (float)(1.0 - lam) * (float)(prev + 1);
            for (int j = 0; j < C * HH * WW; j++)
                cr_assert_float_eq(tb.images[i * C * HH * WW + j], want, 1e-6, "image %d element %d", i, j);
        }
        expect_labels(&tb, lam);
        expect_rows_sum_to_one(&tb);
    }
    th_destroy(d, t);
}

Test(transform_batch, mixup_p_zero_leaves_the_batch_alone) {
    const cv_component_desc *d = th_load(ctx, "transform", "mixup");
    const char *kv[] = { "p=0", NULL };
    void *t = th_create(ctx, d, kv, NULL);
    test_batch tb, orig;
    make_batch(&tb);
    make_batch(&orig);
    cv_transform_ctx c = make_ctx(1);
    cv_error err;
    cr_assert_eq(apply(d, t, &tb.b, &c, &err), CV_OK);
    cr_assert_eq(memcmp(tb.images, orig.images, sizeof tb.images), 0);
    cr_assert_eq(memcmp(tb.soft, orig.soft, sizeof tb.soft), 0);
    cr_assert_eq(tb.b.soft, 0);
    th_destroy(d, t);
}

Test(transform_batch, cutmix_pastes_the_torchvision_box_and_adjusts_lambda) {
    const cv_component_desc *d = th_load(ctx, "transform", "cutmix");
    void *t = th_create(ctx, d, NULL, NULL); /* alpha 1 */
    int partial = 0;
    for (uint64_t key = 0; key < 30; key++) {
        test_batch tb;
        make_batch(&tb);
        cv_transform_ctx c = make_ctx(key);
        cv_rng r = c.rng;
        cr_assert(cv_rng_uniform(&r) < 1.0);
        double lam = tc_beta(H, &r, 1.0, 1.0);
        int rx = tc_randint(H, &r, WW), ry = tc_randint(H, &r, HH);
        double rr = 0.5 * sqrt(1.0 - lam);
        int rw = (int)(rr * WW), rh = (int)(rr * HH);
        int x1 = rx - rw < 0 ? 0 : rx - rw, y1 = ry - rh < 0 ? 0 : ry - rh;
        int x2 = rx + rw > WW ? WW : rx + rw, y2 = ry + rh > HH ? HH : ry + rh;
        double lam_box = 1.0 - (double)(x2 - x1) * (y2 - y1) / (WW * HH);
        cv_error err;
        cr_assert_eq(apply(d, t, &tb.b, &c, &err), CV_OK, "%s", err.message);
        int pasted = 0;
        for (int i = 0; i < N; i++) {
            int prev = (i + N - 1) % N;
            for (int ch = 0; ch < C; ch++)
                for (int y = 0; y < HH; y++)
                    for (int x = 0; x < WW; x++) {
                        int in = x >= x1 && x < x2 && y >= y1 && y < y2;
                        float v = tb.images[((i * C + ch) * HH + y) * WW + x];
                        cr_assert_eq(v, (float)(in ? prev + 1 : i + 1), "key %llu image %d (%d,%d,%d)",
                                     (unsigned long long)key, i, ch, y, x);
                        pasted += in && i == 0 && ch == 0;
                    }
        }
        /* lambda is the share of each image that stayed its own */
        cr_assert_float_eq(lam_box, 1.0 - (double)pasted / (WW * HH), 1e-12);
        expect_labels(&tb, lam_box);
        expect_rows_sum_to_one(&tb);
        partial += pasted > 0 && pasted < WW * HH;
    }
    cr_assert_gt(partial, 10, "only %d batches got a partial box", partial);
    th_destroy(d, t);
}

Test(transform_batch, beta_sampler_has_the_right_moments) {
    /* Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)); 20000 draws from a fixed key */
    const double alphas[3] = { 0.2, 1.0, 2.5 };
    for (int k = 0; k < 3; k++) {
        double a = alphas[k], s = 0, s2 = 0;
        cv_rng r;
        uint64_t key = (uint64_t)k;
        cv_rng_init(&r, 77, &key, 1);
        const int n = 20000;
        for (int i = 0; i < n; i++) {
            double x = tc_beta(H, &r, a, a);
            cr_assert(x >= 0 && x <= 1);
            s += x;
            s2 += x * x;
        }
        double mean = s / n, var = s2 / n - mean * mean, want_var = 1.0 / (4.0 * (2.0 * a + 1.0));
        cr_assert_float_eq(mean, 0.5, 0.015, "alpha %g: mean %g", a, mean);
        cr_assert_float_eq(var, want_var, 0.1 * want_var, "alpha %g: variance %g, want %g", a, var, want_var);
    }
}

Test(transform_batch, paired_mixup_and_cutmix_take_turns) {
    const cv_component_desc *dm = th_load(ctx, "transform", "mixup");
    const cv_component_desc *dc = th_load(ctx, "transform", "cutmix");
    const char *kv[] = { "pair_with_other=true", NULL };
    void *m = th_create(ctx, dm, kv, NULL), *cm = th_create(ctx, dc, kv, NULL);
    int by_mixup = 0, by_cutmix = 0;
    for (uint64_t key = 0; key < 200; key++) {
        test_batch a, b;
        make_batch(&a);
        make_batch(&b);
        /* the loader runs both with one context, in recipe order */
        cv_transform_ctx c = make_ctx(key);
        cv_error err;
        cr_assert_eq(apply(dm, m, &a.b, &c, &err), CV_OK);
        int mixed_by_mixup = a.b.soft;
        cr_assert_eq(apply(dc, cm, &a.b, &c, &err), CV_OK);
        int mixed_total = a.b.soft;
        /* the other order, fresh context: the same one must win */
        cv_transform_ctx c2 = make_ctx(key);
        cr_assert_eq(apply(dc, cm, &b.b, &c2, &err), CV_OK);
        int cut_first = b.b.soft;
        cr_assert_eq(mixed_total, 1, "key %llu: neither mixed", (unsigned long long)key);
        cr_assert_eq(cut_first, !mixed_by_mixup, "key %llu: both or neither", (unsigned long long)key);
        /* with mixup the pixels are blends; with cutmix they stay whole sample values */
        by_mixup += mixed_by_mixup;
        by_cutmix += !mixed_by_mixup;
        expect_rows_sum_to_one(&a);
    }
    cr_assert(by_mixup > 70 && by_cutmix > 70, "mixup %d, cutmix %d of 200", by_mixup, by_cutmix);
    th_destroy(dm, m);
    th_destroy(dc, cm);
}

Test(transform_batch, paired_transforms_never_stack_even_with_different_keys) {
    /* a loader that derives a different rng key per batch transform (and passes
     * the running batch->soft along): the pair may skip a batch but never mixes
     * it twice */
    const cv_component_desc *dm = th_load(ctx, "transform", "mixup");
    const cv_component_desc *dc = th_load(ctx, "transform", "cutmix");
    const char *kv[] = { "pair_with_other=true", NULL };
    void *m = th_create(ctx, dm, kv, NULL), *cm = th_create(ctx, dc, kv, NULL);
    for (uint64_t key = 0; key < 100; key++) {
        test_batch a;
        make_batch(&a);
        cv_transform_ctx c1 = make_ctx(2 * key), c2 = make_ctx(2 * key + 1);
        cv_error err;
        cr_assert_eq(apply(dm, m, &a.b, &c1, &err), CV_OK);
        int by_mixup = a.b.soft;
        cr_assert_eq(apply(dc, cm, &a.b, &c2, &err), CV_OK);
        if (by_mixup) /* cutmix stood aside: every pixel is still a blend of two whole images */
            for (int j = 1; j < C * HH * WW; j++) cr_assert_eq(a.images[j], a.images[0], "key %llu", (unsigned long long)key);
        expect_rows_sum_to_one(&a);
    }
    th_destroy(dm, m);
    th_destroy(dc, cm);
}

Test(transform_batch, batch_without_soft_labels_is_an_error) {
    const cv_component_desc *d = th_load(ctx, "transform", "cutmix");
    void *t = th_create(ctx, d, NULL, NULL);
    test_batch tb;
    make_batch(&tb);
    tb.b.soft_labels = NULL;
    cv_transform_ctx c = make_ctx(0);
    cv_error err;
    cr_assert_eq(apply(d, t, &tb.b, &c, &err), CV_ERR_INVALID);
    cr_assert(strstr(err.message, "cutmix") && strstr(err.message, "soft labels"), "%s", err.message);
    th_destroy(d, t);
}
