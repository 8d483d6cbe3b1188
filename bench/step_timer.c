/* bench/step_timer.c — cvnets' side of bench/vs_torch.sh: times single training
 * steps (forward + loss + backward + optimizer update, as `cvnets bench` runs
 * them) and single inference forwards of a recipe's model at its base shape on
 * random data, each step timed on its own like the PyTorch peer does, and prints
 * one JSON line: median / min / max img/s of both, images per process CPU-second
 * (all threads; robust against other processes taking the cores), planned peak bytes of the
 * train and eval plans, bytes of params + grads + optimizer state, forward MACs
 * per image and the process's peak RSS (getrusage).  Not part of the cvnets
 * build: bench/vs_torch.sh compiles it against build/lib/libcvnets-core.a.
 *
 * With --profile, every kernel of the timed steps is timed by the engine (a
 * backend sync after each, so the step gets slower) and a per-op table (op kind,
 * forward/backward, calls, seconds, share, GFLOP/s of conv/matmul kernels) goes
 * to stderr.
 *
 *   step_timer RECIPE [--steps N] [--warmup N] [--mode train|infer|both] [--profile] [--set k=v]... */
#include "host.h"
#include "registry.h"
#include "train/runlog.h"
#include "train/session.h"

#include "engine/internal.h" /* cv_op_name */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct timing {
    double med, min, max; /* img/s */
    double img_per_cpu_s; /* images over process CPU seconds (all threads) of the timed steps */
} timing;

/* user + system CPU seconds of the whole process (every thread) */
static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static void print_profile(const char *what, cv_plan *p) {
    cv_op_profile rows[128];
    int n = cv_plan_profile(p, rows, 128);
    if (n > 128) n = 128;
    double total = 0;
    for (int i = 0; i < n; i++) total += rows[i].seconds;
    fprintf(stderr, "%s: %.3f s in kernels\n%-22s %4s %7s %9s %7s %9s\n", what, total, "op", "dir", "calls", "seconds",
            "share", "GFLOP/s");
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "%-22s %4s %7lld %9.3f %6.1f%%", cv_op_name(rows[i].op), rows[i].backward ? "bwd" : "fwd",
                (long long)rows[i].calls, rows[i].seconds, total > 0 ? 100 * rows[i].seconds / total : 0);
        if (rows[i].macs > 0 && rows[i].seconds > 0)
            fprintf(stderr, " %9.1f", 2.0 * (double)rows[i].macs / rows[i].seconds / 1e9);
        fputc('\n', stderr);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static timing summarise(double *ips, int n) {
    qsort(ips, (size_t)n, sizeof *ips, cmp_double);
    timing t = { n % 2 ? ips[n / 2] : 0.5 * (ips[n / 2 - 1] + ips[n / 2]), ips[0], ips[n - 1], 0 };
    return t;
}

/* warmup + steps runs of one plan; train also runs the optimizer after each step */
static int time_plan(cv_session *s, cv_plan *p, int train, const float *x, const int32_t *y, int batch, int warmup,
                     int steps, double *ips, double *cpu_s, cv_error *err) {
    cv_optim_step os;
    cv_net_optim_step_init(s->net, &os);
    os.lr = 1e-4;
    const cv_optimizer_vtable *ov = s->optimizer.desc->vtable;
    for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup) {
            cv_plan_profile_reset(p);
            *cpu_s = cpu_seconds();
        }
        double t0 = cv_now();
        cv_step_io io = { .images = x, .targets = y };
        int rc = cv_net_run(p, &io, err);
        if (!rc && train) {
            os.step = i + 1;
            rc = ov->step(s->optimizer.self, &os, err);
        }
        if (rc) return rc;
        double dt = cv_now() - t0;
        if (i >= warmup) ips[i - warmup] = batch / dt;
    }
    *cpu_s = cpu_seconds() - *cpu_s;
    return CV_OK;
}

int main(int argc, char **argv) {
    const char *recipe = NULL, *mode = "both";
    const char *sets[64];
    int nsets = 0, steps = 7, warmup = 3, profile = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--steps") == 0) steps = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--warmup") == 0) warmup = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--mode") == 0) mode = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--set") == 0 && nsets < 64) sets[nsets++] = argv[++i];
        else if (strcmp(argv[i], "--profile") == 0) profile = 1;
        else if (argv[i][0] != '-' && !recipe) recipe = argv[i];
        else {
            fprintf(stderr, "usage: step_timer RECIPE [--steps N] [--warmup N] [--mode train|infer|both] [--profile] "
                            "[--set k=v]...\n");
            return 2;
        }
    }
    if (!recipe || steps < 1 || warmup < 0) {
        fprintf(stderr, "step_timer: need a recipe and --steps >= 1\n");
        return 2;
    }
    int do_train = strcmp(mode, "infer") != 0, do_infer = strcmp(mode, "train") != 0;
    cv_ctx *ctx = cv_ctx_create();
    if (!ctx) return 1;
    cv_error err;
    cv_error_init(&err);
    cv_session s;
    if (cv_session_open(ctx, recipe, sets, nsets, NULL, CV_NEED_TRAIN_DATA | CV_NEED_LOSS | CV_NEED_OPTIM, &s, &err)) {
        fprintf(stderr, "step_timer: %s\n", err.message);
        cv_ctx_destroy(ctx);
        return 1;
    }
    int rc = cv_session_base_scale(&s, &err);
    if (profile) cv_net_set_profiling(s.net, 1);
    int batch = s.base_batch, h = s.base_h, w = s.base_w;
    cv_shape in = CV_SHAPE(batch, s.in_channels, h, w);
    size_t n = (size_t)batch * (size_t)s.in_channels * (size_t)h * (size_t)w;
    float *x = malloc(n * sizeof *x);
    int32_t *y = malloc((size_t)batch * sizeof *y);
    double *ips = malloc((size_t)steps * sizeof *ips);
    if (!x || !y || !ips) rc = cv_set_error(&err, CV_ERR_NOMEM, "out of memory");
    if (!rc) {
        cv_rng rng;
        ctx->host.rng_init(&rng, 1, NULL, 0);
        for (size_t i = 0; i < n; i++) x[i] = (float)ctx->host.rng_normal(&rng);
        for (int i = 0; i < batch; i++) y[i] = (int32_t)(ctx->host.rng_u64(&rng) % (uint64_t)s.num_classes);
    }
    timing tt = { 0, 0, 0, 0 }, ti = { 0, 0, 0, 0 };
    cv_plan_info train_info = { 0 }, eval_info = { 0 };
    if (!rc && do_train) {
        cv_plan *p = cv_net_plan_get(s.net, &in, CV_MODE_TRAIN, 0, &err);
        double cpu = 0;
        rc = p ? time_plan(&s, p, 1, x, y, batch, warmup, steps, ips, &cpu, &err) : err.status;
        if (!rc) {
            cv_plan_info_get(p, &train_info);
            tt = summarise(ips, steps);
            tt.img_per_cpu_s = (double)batch * steps / cpu;
            if (profile) print_profile("train", p);
        }
    }
    if (!rc && do_infer) {
        cv_plan *p = cv_net_plan_get(s.net, &in, CV_MODE_EVAL, 0, &err);
        double cpu = 0;
        rc = p ? time_plan(&s, p, 0, x, y, batch, warmup, steps, ips, &cpu, &err) : err.status;
        if (!rc) {
            cv_plan_info_get(p, &eval_info);
            ti = summarise(ips, steps);
            ti.img_per_cpu_s = (double)batch * steps / cpu;
            if (profile) print_profile("infer", p);
        }
    }
    if (rc) fprintf(stderr, "step_timer: %s\n", err.message);
    else {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        int64_t macs = (do_train ? train_info.macs : eval_info.macs) / batch;
        printf("{\"recipe\": \"%s\", \"h\": %d, \"w\": %d, \"batch\": %d, \"steps\": %d, \"warmup\": %d, "
               "\"threads\": %d, \"params\": %lld, \"fwd_macs_per_img\": %lld, "
               "\"train_img_s_med\": %.2f, \"train_img_s_min\": %.2f, \"train_img_s_max\": %.2f, "
               "\"infer_img_s_med\": %.2f, \"infer_img_s_min\": %.2f, \"infer_img_s_max\": %.2f, "
               "\"train_img_per_cpu_s\": %.3f, \"infer_img_per_cpu_s\": %.3f, "
               "\"train_peak_bytes\": %zu, \"eval_peak_bytes\": %zu, \"param_bytes\": %zu, \"peak_rss_mib\": %.1f}\n",
               recipe, h, w, batch, steps, warmup, s.threads, (long long)cv_net_trainable_elems(s.net),
               (long long)macs, tt.med, tt.min, tt.max, ti.med, ti.min, ti.max, tt.img_per_cpu_s, ti.img_per_cpu_s,
               train_info.peak_bytes,
               eval_info.peak_bytes, train_info.param_bytes ? train_info.param_bytes : eval_info.param_bytes,
               (double)ru.ru_maxrss / 1024.0);
    }
    free(x);
    free(y);
    free(ips);
    cv_session_close(&s);
    cv_ctx_destroy(ctx);
    return rc ? 1 : 0;
}
