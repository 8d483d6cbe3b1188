/* core/cli_pending.c — verbs whose implementation is not built yet.  The lead
 * replaces each with core/cli_<verb>.c and removes it from here. */
#include "cli.h"

static int pending(const char *verb, int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "cvnets %s: not built yet in this version of cvnets\n", verb);
    return CV_EXIT_FAIL;
}

int cv_cmd_train(cv_ctx *ctx, int argc, char **argv) { (void)ctx; return pending("train", argc, argv); }
int cv_cmd_eval(cv_ctx *ctx, int argc, char **argv) { (void)ctx; return pending("eval", argc, argv); }
int cv_cmd_predict(cv_ctx *ctx, int argc, char **argv) { (void)ctx; return pending("predict", argc, argv); }
int cv_cmd_summary(cv_ctx *ctx, int argc, char **argv) { (void)ctx; return pending("summary", argc, argv); }
int cv_cmd_plan(cv_ctx *ctx, int argc, char **argv) { (void)ctx; return pending("plan", argc, argv); }
int cv_cmd_bench(cv_ctx *ctx, int argc, char **argv) { (void)ctx; return pending("bench", argc, argv); }
