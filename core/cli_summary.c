/* core/cli_summary.c — `cvnets summary RECIPE [--set k=v]… [--json]`: parameters and
 * multiply-adds of the model at the recipe's evaluation size, per layer and in
 * total (the paper's "Params" and "FLOPs"). */
#include "cli.h"
#include "options.h"
#include "train/session.h"

int cv_cmd_summary(cv_ctx *ctx, int argc, char **argv) {
    cv_cli_args a;
    int rc = cv_cli_parse(ctx, argc, argv, "--set --json", 1, 1, &a);
    if (rc) return rc < 0 ? CV_EXIT_OK : rc;
    cv_error err;
    cv_error_init(&err);
    cv_session s;
    if (cv_session_open(ctx, a.pos[0], a.sets, a.nsets, NULL, 0, &s, &err)) {
        fprintf(stderr, "cvnets summary: error: %s\n", err.message);
        cv_cli_args_free(&a);
        return CV_EXIT_FAIL;
    }
    cv_shape in = CV_SHAPE(1, s.in_channels, s.eval_h, s.eval_w);
    cv_plan *p = cv_net_plan_get(s.net, &in, CV_MODE_EVAL, 0, &err);
    int failed = !p;
    if (p) {
        cv_plan_info info;
        cv_plan_info_get(p, &info);
        int64_t params = cv_net_trainable_elems(s.net);
        /* the classifier's width: the model's num_classes when set, else the dataset's */
        const cv_value *nc = cv_options_get(cv_recipe_options(s.recipe, "model"), "num_classes");
        int classes = nc && nc->is_set && nc->i > 0 ? (int)nc->i : s.num_classes;
        if (a.json) {
            printf("{\"model\": \"%s\", \"input\": [1, %d, %d, %d], \"num_classes\": %d, \"params\": %lld, \"macs\": %lld}\n",
                   s.model.desc->name, s.in_channels, s.eval_h, s.eval_w, classes, (long long)params,
                   (long long)info.macs);
        } else {
            int n = cv_plan_layers(p, 2, NULL, 0);
            cv_layer_info *rows = cv_alloc_array((size_t)(n ? n : 1), sizeof *rows);
            if (rows) n = cv_plan_layers(p, 2, rows, n);
            printf("%-40s %14s %16s\n", "layer", "params", "MACs");
            for (int i = 0; rows && i < n; i++)
                printf("%-40s %14lld %16lld\n", rows[i].scope[0] ? rows[i].scope : "(top)", (long long)rows[i].params,
                       (long long)rows[i].macs);
            cv_free(rows);
            printf("model %s at %dx%dx%d, %d classes: %.3f M parameters, %.1f M multiply-adds\n", s.model.desc->name,
                   s.in_channels, s.eval_h, s.eval_w, classes, (double)params / 1e6, (double)info.macs / 1e6);
        }
    } else {
        fprintf(stderr, "cvnets summary: error: %s\n", err.message);
    }
    cv_session_close(&s);
    cv_cli_args_free(&a);
    return failed ? CV_EXIT_FAIL : CV_EXIT_OK;
}
