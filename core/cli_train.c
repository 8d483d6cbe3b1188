/* core/cli_train.c — `cvnets train RECIPE [--set k=v]… [--out DIR] [--resume]`. */
#include "cli.h"
#include "train/trainer.h"

int cv_cmd_train(cv_ctx *ctx, int argc, char **argv) {
    cv_cli_args a;
    int rc = cv_cli_parse(ctx, argc, argv, "--set --out --resume", 1, 1, &a);
    if (rc) return rc < 0 ? CV_EXIT_OK : rc;
    cv_error err;
    cv_error_init(&err);
    cv_session s;
    int exit_code = CV_EXIT_OK;
    if (cv_session_open(ctx, a.pos[0], a.sets, a.nsets, a.out_dir,
                        CV_NEED_TRAIN_DATA | CV_NEED_VAL_DATA | CV_NEED_OPTIM | CV_NEED_LOSS, &s, &err)) {
        fprintf(stderr, "cvnets train: error: %s\n", err.message);
        cv_cli_args_free(&a);
        return CV_EXIT_FAIL;
    }
    cv_train_install_signal_handlers();
    cv_train_options o = { .resume = a.resume };
    cv_train_summary sum;
    if (cv_train_run(&s, &o, &sum, &err)) {
        fprintf(stderr, "cvnets train: %s: %s\n", err.status == CV_ERR_INTERRUPTED ? "stopped" : "error", err.message);
        exit_code = err.status == CV_ERR_INTERRUPTED ? 130 : CV_EXIT_FAIL;
    }
    cv_session_close(&s);
    cv_cli_args_free(&a);
    return exit_code;
}
