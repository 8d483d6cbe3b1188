/* core/cli_check.c — `cvnets check RECIPE [--set …]`: load every plugin the
 * recipe names and validate every section, without creating anything. */
#include "cli.h"
#include "recipe.h"

int cv_cmd_check(cv_ctx *ctx, int argc, char **argv) {
    cv_cli_args a;
    int rc = cv_cli_parse(ctx, argc, argv, "--set", 1, 1, &a);
    if (rc) return rc < 0 ? CV_EXIT_OK : rc;
    cv_recipe *r;
    cv_error err;
    cv_error_init(&err);
    if (cv_recipe_load(ctx, a.pos[0], a.sets, a.nsets, &r, &err) != CV_OK) {
        fprintf(stderr, "%s\n", err.message);
        fprintf(stderr, "cvnets check: %s is not valid\n", a.pos[0]);
        cv_cli_args_free(&a);
        return CV_EXIT_FAIL;
    }
    const char *const *tr, *const *tv, *const *mv;
    int ntr = cv_recipe_list(r, "transforms", "train", &tr), ntv = cv_recipe_list(r, "transforms", "val", &tv);
    int nmv = cv_recipe_list(r, "metrics", "val", &mv);
    const char *opt = cv_recipe_component(r, "optimizer"), *sch = cv_recipe_component(r, "scheduler");
    printf("%s: ok — model %s, dataset %s, backend %s, optimizer %s, scheduler %s, %lld epochs, %d+%d transforms, "
           "%d val metrics, %d plugins loaded\n",
           a.pos[0], cv_recipe_component(r, "model"), cv_recipe_component(r, "dataset"), cv_recipe_component(r, "backend"),
           opt ? opt : "-", sch ? sch : "-", (long long)cv_recipe_int(r, "run", "epochs"), ntr, ntv, nmv,
           cv_registry_count(ctx->registry));
    cv_recipe_free(r);
    cv_cli_args_free(&a);
    return CV_EXIT_OK;
}
