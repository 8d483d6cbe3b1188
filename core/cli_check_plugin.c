/* core/cli_check_plugin.c — `cvnets check-plugin FILE.so`: conformance checks
 * for one plugin file, each problem reported: the file name rule, exported and
 * imported symbols, descriptors and schemas (the loader's checks, defaults
 * included), the vtable's functions, and create + destroy with default options. */
#include "cli.h"
#include "cli_elf.h"
#include "options.h"
#include "registry.h"

#include <string.h>

typedef struct checker {
    int problems;
    int exports_entry;
} checker;

static void problem(checker *c, const char *fmt, const char *a, const char *b) {
    c->problems++;
    printf("  problem: ");
    printf(fmt, a, b);
    printf("\n");
}

static void on_symbol(void *user, const char *name, int defined) {
    checker *c = user;
    if (defined) {
        if (strcmp(name, CV_PLUGIN_ENTRY_SYMBOL) == 0) c->exports_entry = 1;
        else if (strcmp(name, "_init") && strcmp(name, "_fini") && strcmp(name, "_edata") && strcmp(name, "_end") &&
                 strcmp(name, "__bss_start"))
            problem(c, "exports '%s'%s: build with -fvisibility=hidden (only " CV_PLUGIN_ENTRY_SYMBOL " is exported)", name, "");
    } else if (strncmp(name, "cv_", 3) == 0) {
        problem(c, "needs the host symbol '%s'%s: plugins call the host only through the cv_host table", name, "");
    }
}

static void check_component(cv_ctx *ctx, const cv_plugin *p, checker *c) {
    const cv_component_desc *d = &p->desc;
    char id[300];
    snprintf(id, sizeof id, "%s/%s", cv_kind_name(d->kind), d->name);
    printf("%s (abi %u.%u, task %s): %s\n", id, d->abi_major, d->abi_minor, d->task, d->summary);
    cv_error err;
    cv_error_init(&err);
    if (!*d->summary) problem(c, "%s has no summary%s", id, "");
    for (int i = 0; i < cv_schema_count(d->options); i++)
        if (!d->options[i].help || !*d->options[i].help) problem(c, "option '%s' of %s has no help text", d->options[i].key, id);
    if (cv_component_check_vtable(d, &err) != CV_OK) {
        problem(c, "%s%s", err.message, "");
        return;
    }
    /* every required option needs a value to create: report, do not guess one */
    for (int i = 0; i < cv_schema_count(d->options); i++)
        if (d->options[i].required) {
            printf("  note: create skipped: required option '%s' has no default\n", d->options[i].key);
            return;
        }
    cv_options *opts;
    cv_error_init(&err);
    if (cv_options_from_kv(d->options, id, NULL, &opts, &err) != CV_OK) {
        problem(c, "default options do not validate: %s%s", err.message, "");
        return;
    }
    cv_create_args args;
    memset(&args, 0, sizeof args);
    args.struct_size = sizeof args;
    args.host = &ctx->host;
    args.opts = opts;
    args.world_size = 1;
    args.threads = 1;
    args.num_classes = 10;
    args.in_channels = 3;
    args.dataset_length = 100;
    void *self = NULL;
    cv_error_init(&err);
    int rc = d->create(&args, &self, &err);
    if (rc != CV_OK && rc == CV_ERR_IO && err.message[0]) {
        /* missing data or weights on this machine: the plugin reported it properly */
        printf("  note: create with default options failed (%s): %s\n", cv_status_name(rc), err.message);
    } else if (rc != CV_OK) {
        c->problems++;
        printf("  problem: create with default options failed (%s): %s\n", cv_status_name(rc),
               err.message[0] ? err.message : "(no message: fill err through host->set_error)");
    } else if (!self) {
        problem(c, "create returned CV_OK but no instance%s%s", "", "");
    } else {
        d->destroy(self);
        printf("  create + destroy with default options: ok\n");
    }
    cv_options_free(opts);
}

int cv_cmd_check_plugin(cv_ctx *ctx, int argc, char **argv) {
    cv_cli_args a;
    int rc = cv_cli_parse(ctx, argc, argv, "", 1, 1, &a);
    if (rc) return rc < 0 ? CV_EXIT_OK : rc;
    const char *file = a.pos[0];
    checker c = { 0, 0 };
    cv_error err;
    cv_error_init(&err);
    printf("checking %s\n", file);
    int kind;
    char name[256];
    int named = cv_plugin_file_parse(file, &kind, name, sizeof name);
    if (!named) problem(&c, "the file name is not cvnets-<kind>-<name>.so%s%s (the host loads plugins by that name)", "", "");
    if (cv_elf_symbols(file, on_symbol, &c, &err) != CV_OK) {
        problem(&c, "%s%s", err.message, "");
    } else if (!c.exports_entry) {
        problem(&c, "does not export %s%s", CV_PLUGIN_ENTRY_SYMBOL, "");
    }
    cv_error_init(&err);
    if (cv_registry_load_file_any_name(ctx, file, &err) != CV_OK) {
        problem(&c, "%s%s", err.message, "");
    } else {
        int mine = 0;
        for (int i = 0; i < cv_registry_count(ctx->registry); i++) {
            const cv_plugin *p = cv_registry_at(ctx->registry, i);
            mine++;
            if (named && (p->desc.kind != kind || strcmp(p->desc.name, name) != 0)) {
                char want[300];
                snprintf(want, sizeof want, "%s/%s", cv_kind_name(kind), name);
                problem(&c, "registers %s but the file name says %s", p->desc.name, want);
            }
            check_component(ctx, p, &c);
        }
        printf("%d component%s\n", mine, mine == 1 ? "" : "s");
    }
    if (c.problems) printf("%s: %d problem%s\n", file, c.problems, c.problems == 1 ? "" : "s");
    else printf("%s: ok\n", file);
    cv_cli_args_free(&a);
    return c.problems ? CV_EXIT_FAIL : CV_EXIT_OK;
}
