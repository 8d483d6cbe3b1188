/* test/unit/test_loader_e2e.c — the loader with the real plugins end to end:
 * Fashion-MNIST from Debian through random_resized_crop, horizontal_flip,
 * rand_augment, normalize, random_erasing and the paired mixup/cutmix, with the
 * msc_vbs sampler on two ranks.  Batches must be identical under 1 and 2
 * workers (this also runs the transforms from several threads at once), and
 * the ranks must agree on shapes and step count. */
#include <criterion/criterion.h>
#include <string.h>

#include "data/loader.h"
#include "support/testhost.h"

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

typedef struct run_out {
    int64_t steps;
    uint64_t hash[40];
    int32_t h[40], n[40];
    int mixed;
} run_out;

static void run(int workers, int rank, run_out *o) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *dd = th_load(ctx, "dataset", "fashion_mnist");
    cv_create_args da = { .split = CV_SPLIT_TRAIN };
    void *ds = th_create(ctx, dd, NULL, &da);
    const cv_component_desc *sd = th_load(ctx, "sampler", "msc_vbs");
    const char *const skv[] = { "base_size=28", "batch_size=32", "min_size=16", "max_size=40", "check_scale=8", NULL };
    cv_create_args sa = { .seed = 5, .rank = rank, .world_size = 2, .dataset_length = 60000 };
    void *sp = th_create(ctx, sd, skv, &sa);
    struct { const char *name; const char *kv[3]; } tfs[] = {
        { "random_resized_crop", { "scale=0.5, 1.0", NULL } },
        { "horizontal_flip", { NULL } },
        { "rand_augment", { NULL } },
        { "normalize", { "mean=0.286", "std=0.353", NULL } },
        { "random_erasing", { "p=0.5", NULL } },
        { "mixup", { "pair_with_other=true", NULL } },
        { "cutmix", { "pair_with_other=true", NULL } },
    };
    cv_component_ref tf[7];
    for (int i = 0; i < 7; i++) {
        tf[i].desc = th_load(ctx, "transform", tfs[i].name);
        cv_create_args ta = { .split = CV_SPLIT_TRAIN, .num_classes = 10, .in_channels = 1, .seed = 5 };
        tf[i].self = th_create(ctx, tf[i].desc, tfs[i].kv, &ta);
    }
    cv_loader_config cfg = { .host = &ctx->host, .dataset = { dd, ds }, .sampler = { sd, sp }, .transforms = tf,
                             .n_transforms = 7, .workers = workers, .seed = 5, .training = 1 };
    cv_loader *l;
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_loader_create(&cfg, &l, &err), CV_OK, "%s", err.message);
    int64_t nb;
    cr_assert_eq(cv_loader_begin_epoch(l, 3, NULL, &nb, &err), CV_OK, "%s", err.message);
    memset(o, 0, sizeof *o);
    o->steps = nb;
    for (int s = 0; s < 40; s++) {
        cv_loaded_batch b;
        cr_assert_eq(cv_loader_next(l, &b, &err), CV_OK, "%s", err.message);
        const cv_batch *x = &b.batch;
        cr_assert(x->c == 1 && x->h == x->w && x->num_classes == 10);
        uint64_t h = fnv(1469598103934665603ull, x->images, sizeof(float) * x->n * x->c * x->h * x->w);
        o->hash[s] = fnv(h, x->soft_labels, sizeof(float) * x->n * 10);
        o->h[s] = x->h;
        o->n[s] = x->n;
        o->mixed += x->soft;
        for (int i = 0; i < x->n; i++) {
            float sum = 0;
            for (int k = 0; k < 10; k++) sum += x->soft_labels[i * 10 + k];
            cr_assert_float_eq(sum, 1.0f, 1e-4);
        }
    }
    cr_expect_eq(cv_loader_bad_samples(l), 0);
    cv_loader_destroy(l);
    for (int i = 0; i < 7; i++) th_destroy(tf[i].desc, tf[i].self);
    th_destroy(sd, sp);
    th_destroy(dd, ds);
    th_ctx_free(ctx);
}

Test(loader_e2e, fashion_mnist_with_real_transforms_is_deterministic) {
    static run_out a, b, r1;
    run(1, 0, &a);
    run(2, 0, &b);
    run(2, 1, &r1);
    cr_expect_eq(a.steps, b.steps);
    cr_expect(memcmp(a.hash, b.hash, sizeof a.hash) == 0, "1 and 2 workers give different batches");
    cr_expect(a.mixed > 20, "mixup/cutmix mixed only %d of 40 batches", a.mixed);
    cr_expect_eq(r1.steps, a.steps, "ranks disagree on the step count");
    cr_expect(memcmp(r1.h, a.h, sizeof a.h) == 0 && memcmp(r1.n, a.n, sizeof a.n) == 0, "ranks disagree on shapes");
    cr_expect(memcmp(r1.hash, a.hash, sizeof a.hash) != 0, "ranks loaded the same samples");
}
