/* core/cli_check_plugin.c — `cvnets check-plugin FILE.so` (pending). */
#include "cli.h"

int cv_cmd_check_plugin(cv_ctx *ctx, int argc, char **argv) {
    cv_cli_args a;
    int rc = cv_cli_parse(ctx, argc, argv, "", 1, 1, &a);
    if (rc) return rc < 0 ? CV_EXIT_OK : rc;
    fprintf(stderr, "cvnets check-plugin: not built yet\n");
    cv_cli_args_free(&a);
    return CV_EXIT_FAIL;
}
