/* core/cli_plan.c — `cvnets plan RECIPE [--set k=v]… [--json]`: without training,
 * every input shape the sampler uses in the first epoch with its batch size, its
 * steps and the planned peak memory of a training step at that shape. */
#include "cli.h"
#include "data/plan.h"
#include "train/session.h"

int cv_cmd_plan(cv_ctx *ctx, int argc, char **argv) {
    cv_cli_args a;
    int rc = cv_cli_parse(ctx, argc, argv, "--set --json", 1, 1, &a);
    if (rc) return rc < 0 ? CV_EXIT_OK : rc;
    cv_error err;
    cv_error_init(&err);
    cv_session s;
    if (cv_session_open(ctx, a.pos[0], a.sets, a.nsets, NULL, CV_NEED_TRAIN_DATA | CV_NEED_LOSS | CV_NEED_OPTIM, &s,
                        &err)) {
        fprintf(stderr, "cvnets plan: error: %s\n", err.message);
        cv_cli_args_free(&a);
        return CV_EXIT_FAIL;
    }
    const cv_dataset_vtable *dv = s.dataset_train.desc->vtable;
    cv_data_plan dp = { 0 };
    int failed = cv_data_plan_epoch(s.sampler, 0, dv->length(s.dataset_train.self), NULL, &dp, &err);
    size_t worst = 0, params = 0;
    size_t *peaks = failed ? NULL : cv_alloc_array((size_t)(dp.n ? dp.n : 1), sizeof(size_t));
    for (int i = 0; !failed && i < dp.n; i++) {
        cv_shape in = CV_SHAPE(dp.shapes[i].batch, s.in_channels, dp.shapes[i].h, dp.shapes[i].w);
        cv_plan *p = cv_net_plan_get(s.net, &in, CV_MODE_TRAIN, 0, &err);
        if (!p) { failed = 1; break; }
        cv_plan_info info;
        cv_plan_info_get(p, &info);
        peaks[i] = info.peak_bytes;
        params = info.param_bytes;
        if (info.peak_bytes > worst) worst = info.peak_bytes;
    }
    if (failed) {
        fprintf(stderr, "cvnets plan: error: %s\n", err.message);
    } else if (a.json) {
        printf("{\"shapes\": [");
        for (int i = 0; i < dp.n; i++)
            printf("%s{\"h\": %d, \"w\": %d, \"batch\": %d, \"steps\": %lld, \"peak_bytes\": %zu}", i ? ", " : "",
                   dp.shapes[i].h, dp.shapes[i].w, dp.shapes[i].batch, (long long)dp.shapes[i].steps, peaks[i]);
        printf("], \"steps_per_epoch\": %lld, \"samples_per_epoch\": %lld, \"peak_bytes\": %zu, \"param_bytes\": %zu}\n",
               (long long)dp.steps_per_epoch, (long long)dp.samples_per_epoch, worst, params);
    } else {
        printf("%6s %6s %7s %8s %14s\n", "h", "w", "batch", "steps", "peak MiB");
        for (int i = 0; i < dp.n; i++)
            printf("%6d %6d %7d %8lld %14.1f\n", dp.shapes[i].h, dp.shapes[i].w, dp.shapes[i].batch,
                   (long long)dp.shapes[i].steps, (double)peaks[i] / (1 << 20));
        printf("%lld steps per epoch; planned peak %.1f MiB of activations + %.1f MiB of parameters, gradients "
               "and optimizer state\n", (long long)dp.steps_per_epoch, (double)worst / (1 << 20),
               (double)params / (1 << 20));
    }
    cv_free(peaks);
    cv_data_plan_free(&dp);
    cv_session_close(&s);
    cv_cli_args_free(&a);
    return failed ? CV_EXIT_FAIL : CV_EXIT_OK;
}
