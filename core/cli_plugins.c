/* core/cli_plugins.c — `cvnets plugins [--json]`: load every cvnets-*.so of the
 * search path and list what registered; files that fail are reported, not fatal. */
#include "cli.h"
#include "registry.h"

#include <string.h>

typedef struct problems {
    int n;
    int json;
} problems;

static void report(void *user, const char *file, const cv_error *err) {
    problems *p = user;
    p->n++;
    fprintf(stderr, "cvnets plugins: warning: %s\n", err->message);
    (void)file;
}

int cv_cmd_plugins(cv_ctx *ctx, int argc, char **argv) {
    cv_cli_args a;
    int rc = cv_cli_parse(ctx, argc, argv, "--json", 0, 0, &a);
    if (rc) return rc < 0 ? CV_EXIT_OK : rc;
    problems p = { 0, a.json };
    int failed = cv_registry_load_all(ctx, report, &p);
    const cv_registry *r = ctx->registry;
    int n = cv_registry_count(r);
    if (a.json) {
        printf("[");
        for (int i = 0; i < n; i++) {
            const cv_plugin *pl = cv_registry_at(r, i);
            printf("%s\n  {\"kind\": ", i ? "," : "");
            cv_json_string(stdout, cv_kind_name(pl->desc.kind));
            printf(", \"name\": ");
            cv_json_string(stdout, pl->desc.name);
            printf(", \"task\": ");
            cv_json_string(stdout, pl->desc.task);
            printf(", \"abi\": \"%u.%u\", \"file\": ", pl->desc.abi_major, pl->desc.abi_minor);
            cv_json_string(stdout, pl->file);
            printf(", \"summary\": ");
            cv_json_string(stdout, pl->desc.summary);
            printf("}");
        }
        printf("%s]\n", n ? "\n" : "");
    } else {
        if (n == 0) {
            const char **dirs;
            int nd = cv_registry_search_dirs(ctx->registry, &dirs);
            fprintf(stderr, "no plugins found (searched %d director%s", nd, nd == 1 ? "y" : "ies");
            for (int i = 0; i < nd; i++) fprintf(stderr, "%s%s", i ? ", " : ": ", dirs[i]);
            fprintf(stderr, ")\n");
        }
        for (int k = 0; k < CV_KIND_COUNT_V1; k++)
            for (int i = 0; i < n; i++) {
                const cv_plugin *pl = cv_registry_at(r, i);
                if (pl->desc.kind != k) continue;
                char id[300];
                snprintf(id, sizeof id, "%s/%s", cv_kind_name(k), pl->desc.name);
                printf("%-34s %-15s abi %u.%u  %s\n", id, pl->desc.task, pl->desc.abi_major, pl->desc.abi_minor,
                       pl->desc.summary);
            }
    }
    cv_cli_args_free(&a);
    /* a broken file does not hide the others, but it must not pass silently */
    return failed ? CV_EXIT_FAIL : CV_EXIT_OK;
}
