/* core/cli_bench.c — `cvnets bench RECIPE [--set k=v]… [--steps N] [--json]`:
 * measured training throughput (forward, backward and optimizer step on random
 * data) and planned peak memory at every shape of the sampler's scale set. */
#include "cli.h"
#include "train/runlog.h"
#include "train/session.h"

#include <string.h>

static int bench_shape(cv_session *s, cv_cli_args *a, const cv_scale *sc, long steps, double *img_s, size_t *peak,
                       cv_error *err) {
    cv_shape in = CV_SHAPE(sc->batch, s->in_channels, sc->h, sc->w);
    cv_plan *p = cv_net_plan_get(s->net, &in, CV_MODE_TRAIN, 0, err);
    if (!p) return err->status;
    cv_plan_info info;
    cv_plan_info_get(p, &info);
    *peak = info.peak_bytes;
    size_t n = (size_t)cv_shape_numel(&in);
    float *x = cv_alloc_array(n, sizeof(float));
    int32_t *y = cv_alloc_array((size_t)sc->batch, sizeof(int32_t));
    if (!x || !y) {
        cv_free(x);
        cv_free(y);
        return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    }
    cv_rng rng;
    s->ctx->host.rng_init(&rng, s->seed, NULL, 0);
    for (size_t i = 0; i < n; i++) x[i] = (float)s->ctx->host.rng_normal(&rng);
    for (int i = 0; i < sc->batch; i++) y[i] = (int32_t)(s->ctx->host.rng_u64(&rng) % (uint64_t)s->num_classes);
    cv_optim_step os;
    cv_net_optim_step_init(s->net, &os);
    os.lr = 1e-4;
    const cv_optimizer_vtable *ov = s->optimizer.desc->vtable;
    int rc = CV_OK;
    double t0 = 0;
    for (long i = 0; i < steps + 2 && !rc; i++) {
        if (i == 2) t0 = cv_now(); /* two warm-up steps */
        cv_step_io io = { .images = x, .targets = y };
        rc = cv_net_run(p, &io, err);
        os.step = i + 1;
        if (!rc) rc = ov->step(s->optimizer.self, &os, err);
    }
    double secs = cv_now() - t0;
    *img_s = rc ? 0 : (double)sc->batch * (double)steps / secs;
    cv_free(x);
    cv_free(y);
    (void)a;
    return rc;
}

int cv_cmd_bench(cv_ctx *ctx, int argc, char **argv) {
    cv_cli_args a;
    int rc = cv_cli_parse(ctx, argc, argv, "--set --steps --json", 1, 1, &a);
    if (rc) return rc < 0 ? CV_EXIT_OK : rc;
    long steps = a.steps > 0 ? a.steps : 10;
    cv_error err;
    cv_error_init(&err);
    cv_session s;
    if (cv_session_open(ctx, a.pos[0], a.sets, a.nsets, NULL, CV_NEED_TRAIN_DATA | CV_NEED_LOSS | CV_NEED_OPTIM, &s,
                        &err)) {
        fprintf(stderr, "cvnets bench: error: %s\n", err.message);
        cv_cli_args_free(&a);
        return CV_EXIT_FAIL;
    }
    const cv_sampler_vtable *sv = s.sampler.desc->vtable;
    cv_scale scales[64];
    int n = sv->scales(s.sampler.self, 0, scales, 64);
    if (n > 64) n = 64;
    int failed = 0;
    if (a.json) printf("{\"steps\": %ld, \"shapes\": [", steps);
    else printf("%6s %6s %7s %12s %14s\n", "h", "w", "batch", "img/s", "peak MiB");
    for (int i = 0; i < n && !failed; i++) {
        double ips = 0;
        size_t peak = 0;
        if (bench_shape(&s, &a, &scales[i], steps, &ips, &peak, &err)) { failed = 1; break; }
        if (a.json)
            printf("%s{\"h\": %d, \"w\": %d, \"batch\": %d, \"img_per_s\": %.2f, \"peak_bytes\": %zu}", i ? ", " : "",
                   scales[i].h, scales[i].w, scales[i].batch, ips, peak);
        else
            printf("%6d %6d %7d %12.1f %14.1f\n", scales[i].h, scales[i].w, scales[i].batch, ips,
                   (double)peak / (1 << 20));
        fflush(stdout);
    }
    if (a.json) printf("]}\n");
    if (failed) fprintf(stderr, "cvnets bench: error: %s\n", err.message);
    cv_session_close(&s);
    cv_cli_args_free(&a);
    return failed ? CV_EXIT_FAIL : CV_EXIT_OK;
}
