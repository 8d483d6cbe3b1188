/* test/unit/test_sched.c — every learning-rate scheduler plugin at hand-computed
 * points: warmup start, inside, last warmup iteration and the first one after it,
 * decay in the middle and at the end, epoch- and iteration-based, the period
 * overrides and the warmup state that epoch-based adjustment keeps. */
#include <math.h>
#include <criterion/criterion.h>
#include "support/testhost.h"
#include "state.h"

typedef struct sched_fixture {
    cv_ctx *ctx;
    const cv_component_desc *d;
    void *self;
} sched_fixture;

static sched_fixture open_sched(const char *name, const char *const *kv) {
    sched_fixture f;
    f.ctx = th_ctx_new();
    f.d = th_load(f.ctx, "scheduler", name);
    f.self = th_create(f.ctx, f.d, kv, NULL);
    return f;
}
static void close_sched(sched_fixture *f) {
    th_destroy(f->d, f->self);
    th_ctx_free(f->ctx);
}
static double lr_at(sched_fixture *f, int64_t epoch, int64_t it, int64_t max_epochs, int64_t max_iters) {
    const cv_scheduler_vtable *vt = f->d->vtable;
    cv_sched_point p = { sizeof p, 0, epoch, max_epochs, it, max_iters };
    return vt->lr(f->self, &p);
}
/* CVNets hands round(lr, 8) to the optimizer */
static double r8(double x) { return round(x * 1e8) / 1e8; }
#define EXPECT_LR(got, want) cr_expect_float_eq((got), r8(want), 1e-12, "lr %.12g, want %.12g", (got), r8(want))

Test(sched_fixed, warmup_then_constant) {
    const char *kv[] = { "lr=0.2", "warmup_iterations=4", "warmup_init_lr=0.0", NULL };
    sched_fixture f = open_sched("fixed", kv);
    EXPECT_LR(lr_at(&f, 0, 0, 10, 100), 0.0);
    EXPECT_LR(lr_at(&f, 0, 1, 10, 100), 0.05);
    EXPECT_LR(lr_at(&f, 0, 3, 10, 100), 0.15);
    EXPECT_LR(lr_at(&f, 0, 4, 10, 100), 0.2);
    EXPECT_LR(lr_at(&f, 9, 99, 10, 100), 0.2);
    close_sched(&f);
}

Test(sched_cosine, iteration_based_with_warmup) {
    const char *kv[] = { "max_lr=0.1", "min_lr=0.001", "warmup_iterations=10", "warmup_init_lr=0.01", NULL };
    sched_fixture f = open_sched("cosine", kv);
    const double T = 110 - 10 + 1; /* CVNets' period: max_iterations - warmup + 1 */
    EXPECT_LR(lr_at(&f, 0, 0, 5, 110), 0.01);
    EXPECT_LR(lr_at(&f, 0, 5, 5, 110), 0.01 + 5 * 0.009);
    EXPECT_LR(lr_at(&f, 0, 9, 5, 110), 0.01 + 9 * 0.009);
    EXPECT_LR(lr_at(&f, 0, 10, 5, 110), 0.1); /* t = 0 right after warmup */
    EXPECT_LR(lr_at(&f, 0, 11, 5, 110), 0.001 + 0.5 * 0.099 * (1 + cos(M_PI * 1 / T)));
    EXPECT_LR(lr_at(&f, 2, 60, 5, 110), 0.001 + 0.5 * 0.099 * (1 + cos(M_PI * 50 / T)));
    EXPECT_LR(lr_at(&f, 4, 110, 5, 110), 0.001 + 0.5 * 0.099 * (1 + cos(M_PI * 100 / T)));
    close_sched(&f);
}

Test(sched_cosine, epoch_based) {
    const char *kv[] = { "max_lr=1.0", "min_lr=0.0", "is_iteration_based=false", NULL };
    sched_fixture f = open_sched("cosine", kv);
    for (int e = 0; e < 10; e++) EXPECT_LR(lr_at(&f, e, e * 7, 10, 70), 0.5 * (1 + cos(M_PI * e / 10.0)));
    close_sched(&f);
}

Test(sched_cosine, overrides_take_precedence_over_the_run) {
    const char *kv[] = { "max_lr=1.0", "min_lr=0.0", "max_iterations=20", NULL };
    sched_fixture f = open_sched("cosine", kv);
    EXPECT_LR(lr_at(&f, 0, 7, 10, 1000), 0.5 * (1 + cos(M_PI * 7 / 21.0)));
    close_sched(&f);
}

Test(sched_cosine, epoch_based_adjusted_after_warmup_and_state_round_trip) {
    const char *kv[] = { "max_lr=1.0", "min_lr=0.0", "is_iteration_based=false", "adjust_period_for_epochs=true",
                         "warmup_iterations=5", "warmup_init_lr=0.5", NULL };
    sched_fixture f = open_sched("cosine", kv);
    /* 3 iterations per epoch: warmup covers epoch 0 and the first two of epoch 1 */
    EXPECT_LR(lr_at(&f, 0, 0, 10, 30), 0.5);
    EXPECT_LR(lr_at(&f, 1, 4, 10, 30), 0.5 + 4 * 0.1);
    /* epoch 1 after warmup: CVNets' (epoch - (1 + 1)) / (10 - 1) */
    EXPECT_LR(lr_at(&f, 1, 5, 10, 30), 0.5 * (1 + cos(M_PI * -1 / 9.0)));
    EXPECT_LR(lr_at(&f, 2, 6, 10, 30), 1.0);
    EXPECT_LR(lr_at(&f, 5, 15, 10, 30), 0.5 * (1 + cos(M_PI * 3 / 9.0)));

    /* a resumed run without the warmup points must give the same rates */
    cv_error err = { sizeof err, 0, "" };
    cv_state_writer *w = cv_state_writer_new();
    cr_assert_eq(f.d->save_state(f.self, w, &err), CV_OK, "%s", err.message);
    cv_state_reader *r = cv_state_reader_new();
    cr_assert_eq(cv_state_reader_from_writer(r, w, &err), CV_OK, "%s", err.message);
    sched_fixture g = open_sched("cosine", kv);
    cr_assert_eq(g.d->load_state(g.self, r, &err), CV_OK, "%s", err.message);
    EXPECT_LR(lr_at(&g, 5, 15, 10, 30), 0.5 * (1 + cos(M_PI * 3 / 9.0)));
    cv_state_reader_free(r);
    cv_state_writer_free(w);
    close_sched(&g);
    close_sched(&f);
}

Test(sched_cosine, warmup_epochs_convert_with_iterations_per_epoch) {
    const char *kv[] = { "max_lr=0.3", "min_lr=0.0", "warmup_epochs=2", "warmup_init_lr=0.1", NULL };
    sched_fixture f = open_sched("cosine", kv);
    /* 10 epochs of 10 iterations: warmup is 20 iterations */
    EXPECT_LR(lr_at(&f, 0, 0, 10, 100), 0.1);
    EXPECT_LR(lr_at(&f, 1, 10, 10, 100), 0.2);
    EXPECT_LR(lr_at(&f, 1, 19, 10, 100), 0.1 + 19 * 0.01);
    EXPECT_LR(lr_at(&f, 2, 20, 10, 100), 0.3);
    close_sched(&f);
}

Test(sched_cosine, rejects_both_warmup_forms_and_inverted_bounds) {
    cv_ctx *ctx = th_ctx_new();
    const cv_component_desc *d = th_load(ctx, "scheduler", "cosine");
    void *self = NULL;
    cv_error err = { sizeof err, 0, "" };
    const char *both[] = { "warmup_iterations=10", "warmup_epochs=1", NULL };
    cr_expect_eq(th_try_create(ctx, d, both, NULL, &self, &err), CV_ERR_INVALID);
    cr_expect(strstr(err.message, "warmup_epochs") != NULL, "message: %s", err.message);
    cv_error err2 = { sizeof err2, 0, "" };
    const char *inv[] = { "min_lr=0.5", "max_lr=0.1", NULL };
    cr_expect_eq(th_try_create(ctx, d, inv, NULL, &self, &err2), CV_ERR_INVALID);
    cr_expect(strstr(err2.message, "min_lr") != NULL, "message: %s", err2.message);
    th_ctx_free(ctx);
}

Test(sched_polynomial, epoch_based_default) {
    const char *kv[] = { "start_lr=0.1", "end_lr=0.0", "power=0.9", NULL };
    sched_fixture f = open_sched("polynomial", kv);
    EXPECT_LR(lr_at(&f, 0, 0, 10, 100), 0.1);
    EXPECT_LR(lr_at(&f, 5, 50, 10, 100), 0.1 * pow(0.5, 0.9));
    EXPECT_LR(lr_at(&f, 9, 99, 10, 100), 0.1 * pow(0.1, 0.9));
    EXPECT_LR(lr_at(&f, 12, 120, 10, 100), 0.0); /* past the planned end: end_lr */
    close_sched(&f);
}

Test(sched_polynomial, iteration_based_with_warmup) {
    const char *kv[] = { "start_lr=0.5", "end_lr=0.01", "power=2", "is_iteration_based=true",
                         "warmup_iterations=3", "warmup_init_lr=0.2", NULL };
    sched_fixture f = open_sched("polynomial", kv);
    EXPECT_LR(lr_at(&f, 0, 0, 1, 43), 0.2);
    EXPECT_LR(lr_at(&f, 0, 2, 1, 43), 0.2 + 2 * 0.1);
    EXPECT_LR(lr_at(&f, 0, 3, 1, 43), 0.5);
    /* (it - 3) / (43 - 3 + 1) */
    EXPECT_LR(lr_at(&f, 0, 23, 1, 43), 0.49 * pow(1 - 20 / 41.0, 2) + 0.01);
    close_sched(&f);
}

Test(sched_multi_step, milestones_and_warmup) {
    const char *kv[] = { "lr=0.1", "gamma=0.1", "milestones=6, 3, 3", "warmup_iterations=4", "warmup_init_lr=0.02", NULL };
    sched_fixture f = open_sched("multi_step", kv);
    EXPECT_LR(lr_at(&f, 0, 0, 10, 50), 0.02);
    EXPECT_LR(lr_at(&f, 0, 3, 10, 50), 0.02 + 3 * 0.02);
    EXPECT_LR(lr_at(&f, 0, 4, 10, 50), 0.1);
    EXPECT_LR(lr_at(&f, 2, 14, 10, 50), 0.1);
    EXPECT_LR(lr_at(&f, 3, 15, 10, 50), 0.01); /* duplicate milestone 3 counts once */
    EXPECT_LR(lr_at(&f, 5, 29, 10, 50), 0.01);
    EXPECT_LR(lr_at(&f, 6, 30, 10, 50), 0.001);
    EXPECT_LR(lr_at(&f, 9, 49, 10, 50), 0.001);
    close_sched(&f);
}

Test(sched_cyclic, cycles_then_linear_last_cycle) {
    const char *kv[] = { "min_lr=0.1", "epochs_per_cycle=5", "total_cycles=3", "last_cycle_end_lr=0.001", NULL };
    sched_fixture f = open_sched("cyclic", kv);
    /* cycle lrs: float32 linspace(0.5, 0.1, 5) rotated: 0.1, 0.5, 0.4, 0.3, 0.2 */
    const double cyc[5] = { 0.1, 0.5, 0.4, 0.3, 0.2 };
    for (int e = 0; e <= 10; e++) EXPECT_LR(lr_at(&f, e, e * 10, 14, 140), (double)(float)cyc[e % 5]);
    const double step = (0.1 - 0.001) / 4;
    EXPECT_LR(lr_at(&f, 11, 110, 14, 140), (double)(float)0.1 - 2 * step);
    EXPECT_LR(lr_at(&f, 13, 130, 14, 140), (double)(float)0.1 - 4 * step);
    close_sched(&f);
}

Test(sched_cyclic, steps_shrink_bounds_and_cosine_last_cycle) {
    const char *kv[] = { "min_lr=0.1", "epochs_per_cycle=5", "total_cycles=3", "last_cycle_end_lr=0.001",
                         "steps=5, 8", "gamma=0.5", "last_cycle_type=cosine", "warmup_iterations=2",
                         "warmup_init_lr=0.0", NULL };
    sched_fixture f = open_sched("cyclic", kv);
    EXPECT_LR(lr_at(&f, 0, 0, 14, 140), 0.0);
    EXPECT_LR(lr_at(&f, 0, 1, 14, 140), 0.05); /* warmup towards min_lr */
    EXPECT_LR(lr_at(&f, 1, 10, 14, 140), (double)(float)0.5);
    /* step at epoch 5 (first in list): x0.5; at 8 (second): a further x0.25, as CVNets */
    EXPECT_LR(lr_at(&f, 5, 50, 14, 140), (double)(float)0.05);
    EXPECT_LR(lr_at(&f, 6, 60, 14, 140), (double)(float)0.25);
    EXPECT_LR(lr_at(&f, 7, 70, 14, 140), (double)(float)0.2);
    EXPECT_LR(lr_at(&f, 8, 80, 14, 140), (double)(float)0.0375); /* bounds 0.0125 .. 0.0625 */
    EXPECT_LR(lr_at(&f, 10, 100, 14, 140), (double)(float)0.0125);
    /* last cycle: cosine from the shrunk min_lr over max_epochs - cyclic_epochs + 1 */
    EXPECT_LR(lr_at(&f, 11, 110, 14, 140), 0.001 + 0.5 * (0.0125 - 0.001) * (1 + cos(M_PI * 1 / 5.0)));
    EXPECT_LR(lr_at(&f, 13, 130, 14, 140), 0.001 + 0.5 * (0.0125 - 0.001) * (1 + cos(M_PI * 3 / 5.0)));
    close_sched(&f);
}
