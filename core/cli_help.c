/* core/cli_help.c — `cvnets help KIND/NAME`: one plugin's options with their
 * types, defaults, ranges and help text, loading only that plugin. */
#include "cli.h"
#include "options.h"
#include "registry.h"

#include <string.h>

/* "model/resnet" -> kind, name; 0 when malformed */
static int split_id(const char *id, int *kind, char *name, size_t n) {
    const char *slash = strchr(id, '/');
    if (!slash || (size_t)(slash - id) >= 32) return 0;
    char k[32];
    memcpy(k, id, (size_t)(slash - id));
    k[slash - id] = 0;
    *kind = cv_kind_from_name(k);
    snprintf(name, n, "%s", slash + 1);
    return *kind >= 0;
}

void cv_help_print(FILE *f, const cv_plugin *p);
void cv_help_print(FILE *f, const cv_plugin *p) {
    const cv_component_desc *d = &p->desc;
    fprintf(f, "%s/%s — %s\n", cv_kind_name(d->kind), d->name, d->summary);
    fprintf(f, "task: %s   abi: %u.%u   file: %s\n", d->task, d->abi_major, d->abi_minor, p->file);
    int n = cv_schema_count(d->options);
    if (n == 0) {
        fprintf(f, "\noptions: none\n");
        return;
    }
    if (d->kind == CV_KIND_TRANSFORM)
        fprintf(f, "\noptions (recipe section [transform.%s]; list it in [transforms] train or val):\n", d->name);
    else if (d->kind == CV_KIND_BACKEND)
        fprintf(f, "\noptions (recipe section [backend], with [run] device = %s):\n", d->name);
    else if (d->kind == CV_KIND_COMM)
        fprintf(f, "\noptions (recipe section [comm], with [run] comm = %s):\n", d->name);
    else if (d->kind == CV_KIND_METRIC)
        fprintf(f, "\noptions (recipe section [metric.%s]; list it in [metrics] train or val):\n", d->name);
    else
        fprintf(f, "\noptions (recipe section [%s], with name = %s):\n", cv_kind_name(d->kind), d->name);
    for (int i = 0; i < n; i++) {
        const cv_option_desc *o = &d->options[i];
        char exp[512];
        cv_option_expected(o, exp, sizeof exp);
        fprintf(f, "  %-22s %-10s ", o->key, cv_opt_type_name(o->type));
        if (o->required) fprintf(f, "(required)");
        else if (o->default_value) fprintf(f, "default: %s", o->default_value);
        else fprintf(f, "(no default)");
        fprintf(f, "\n  %-22s expects %s\n", "", exp);
        if (o->help && *o->help) fprintf(f, "  %-22s %s\n", "", o->help);
    }
}

int cv_cmd_help(cv_ctx *ctx, int argc, char **argv) {
    cv_cli_args a;
    int rc = cv_cli_parse(ctx, argc, argv, "", 1, 1, &a);
    if (rc) return rc < 0 ? CV_EXIT_OK : rc;
    int kind;
    char name[256];
    if (!split_id(a.pos[0], &kind, name, sizeof name)) {
        fprintf(stderr, "cvnets help: '%s' is not KIND/NAME (KIND: backend, comm, model, dataset, transform, sampler, "
                        "loss, optimizer, scheduler, metric)\n", a.pos[0]);
        cv_cli_print_usage(stderr, "help");
        cv_cli_args_free(&a);
        return CV_EXIT_USAGE;
    }
    const cv_plugin *p;
    cv_error err;
    cv_error_init(&err);
    if (cv_registry_load(ctx, kind, name, &p, &err) != CV_OK) {
        cv_cli_error("help", &err);
        cv_cli_args_free(&a);
        return CV_EXIT_FAIL;
    }
    cv_help_print(stdout, p);
    cv_cli_args_free(&a);
    return CV_EXIT_OK;
}
