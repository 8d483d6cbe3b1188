/* core/cli_eval.c — `cvnets eval RECIPE --checkpoint FILE [--set k=v]… [--json]`:
 * top-1 / top-5 / loss of a checkpoint on the recipe's validation split. */
#include "cli.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/seq_sampler.h"

int cv_cmd_eval(cv_ctx *ctx, int argc, char **argv) {
    cv_cli_args a;
    int rc = cv_cli_parse(ctx, argc, argv, "--set --checkpoint --json", 1, 1, &a);
    if (rc) return rc < 0 ? CV_EXIT_OK : rc;
    if (!a.checkpoint) {
        fprintf(stderr, "cvnets eval: --checkpoint FILE is required\n");
        cv_cli_print_usage(stderr, "eval");
        cv_cli_args_free(&a);
        return CV_EXIT_USAGE;
    }
    cv_error err;
    cv_error_init(&err);
    cv_session s;
    cv_component_ref sampler = { 0 };
    cv_loader *ld = NULL;
    cv_eval_result r;
    int failed = cv_session_open(ctx, a.pos[0], a.sets, a.nsets, NULL, CV_NEED_VAL_DATA | CV_NEED_LOSS, &s, &err);
    if (!failed) failed = cv_ckpt_load_weights(s.net, a.checkpoint, 1, NULL, &err);
    if (!failed) failed = cv_eval_loader_open(&s, s.dataset_val, &sampler, &ld, &err);
    if (!failed) failed = cv_evaluate(&s, ld, &s.metrics_val, NULL, &r, &err);
    if (failed) {
        fprintf(stderr, "cvnets eval: error: %s\n", err.message);
    } else if (a.json) {
        printf("{\"top1\": %.4f, \"top5\": %.4f, \"loss\": %.6f, \"samples\": %lld", r.top1, r.top5, r.loss,
               (long long)r.samples);
        for (int i = 0; i < r.n_metrics; i++) {
            if (r.metric_json[i]) printf(", \"%s\": %s", r.metric_names[i], r.metric_json[i]);
            else printf(", \"%s\": %.6g", r.metric_names[i], r.metric_values[i]);
        }
        printf("}\n");
    } else {
        printf("top1 %.2f%%  top5 %.2f%%  loss %.4f  (%lld samples, %.1f s)\n", r.top1, r.top5, r.loss,
               (long long)r.samples, r.seconds);
    }
    cv_loader_destroy(ld);
    cv_seq_sampler_destroy(&sampler);
    if (s.recipe) cv_session_close(&s);
    cv_cli_args_free(&a);
    return failed ? CV_EXIT_FAIL : CV_EXIT_OK;
}
