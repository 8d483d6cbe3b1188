/* core/cli_check.c — `cvnets check RECIPE [--set …]` (recipe loader pending). */
#include "cli.h"

int cv_cmd_check(cv_ctx *ctx, int argc, char **argv) {
    cv_cli_args a;
    int rc = cv_cli_parse(ctx, argc, argv, "--set", 1, 1, &a);
    if (rc) return rc < 0 ? CV_EXIT_OK : rc;
    fprintf(stderr, "cvnets check: not built yet\n");
    cv_cli_args_free(&a);
    return CV_EXIT_FAIL;
}
