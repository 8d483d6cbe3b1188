/* core/cli.c — `cvnets VERB …`: dispatch, usage texts and the flag parser every
 * verb shares.  The verbs themselves live in core/cli_<verb>.c. */
#include "cli.h"
#include "options.h"
#include "registry.h"

#include <stdlib.h>
#include <string.h>

typedef struct verb {
    const char *name;
    int (*fn)(cv_ctx *ctx, int argc, char **argv);
    const char *usage;
} verb;

static const verb verbs[] = {
    { "check", cv_cmd_check,
      "cvnets check RECIPE [--set section.key=value]... [--plugin-path DIR]\n"
      "  Load every plugin the recipe names and validate it completely; run nothing.\n" },
    { "train", cv_cmd_train,
      "cvnets train RECIPE [--set section.key=value]... [--out DIR] [--resume] [--plugin-path DIR]\n"
      "  Train; the run folder gets the resolved recipe, metrics.jsonl and checkpoints.\n" },
    { "eval", cv_cmd_eval,
      "cvnets eval RECIPE --checkpoint FILE [--set section.key=value]... [--json] [--plugin-path DIR]\n"
      "  Evaluate a checkpoint on the recipe's validation split.\n" },
    { "predict", cv_cmd_predict,
      "cvnets predict RECIPE --checkpoint FILE IMAGE... [--set section.key=value]... [--json] [--plugin-path DIR]\n"
      "  Classify images with a checkpoint.\n" },
    { "summary", cv_cmd_summary,
      "cvnets summary RECIPE [--set section.key=value]... [--json] [--plugin-path DIR]\n"
      "  Parameters and multiply-adds of the model at the eval size.\n" },
    { "plan", cv_cmd_plan,
      "cvnets plan RECIPE [--set section.key=value]... [--json] [--plugin-path DIR]\n"
      "  Input shapes, batch sizes, steps and planned peak memory.\n" },
    { "bench", cv_cmd_bench,
      "cvnets bench RECIPE [--steps N] [--set section.key=value]... [--json] [--plugin-path DIR]\n"
      "  Training images/s and peak memory per input shape.\n" },
    { "plugins", cv_cmd_plugins,
      "cvnets plugins [--json] [--plugin-path DIR]\n"
      "  Every plugin found in the search path: kind, name, task, ABI, file.\n" },
    { "help", cv_cmd_help,
      "cvnets help KIND/NAME [--plugin-path DIR]\n"
      "  A plugin's options: types, defaults, ranges and help (loads only that plugin).\n" },
    { "check-plugin", cv_cmd_check_plugin,
      "cvnets check-plugin FILE.so\n"
      "  Conformance checks for one plugin file: descriptors, schema defaults, create/destroy.\n" },
};
#define NVERBS ((int)(sizeof verbs / sizeof verbs[0]))

const char *cv_cli_usage(const char *name) {
    for (int i = 0; name && i < NVERBS; i++)
        if (strcmp(verbs[i].name, name) == 0) return verbs[i].usage;
    return "";
}

void cv_cli_print_usage(FILE *f, const char *name) {
    const char *u = cv_cli_usage(name);
    if (*u) {
        fprintf(f, "usage: %s", u);
        return;
    }
    fprintf(f, "usage: cvnets COMMAND [ARGS]\n\ncommands:\n");
    for (int i = 0; i < NVERBS; i++) fprintf(f, "  %s", verbs[i].usage);
    fprintf(f, "\nPlugins are searched in --plugin-path DIR, then $CVNETS_PLUGIN_PATH, then the\n"
               "lib/cvnets/plugins folder next to the executable's bin/.\n");
}

void cv_cli_error(const char *name, const cv_error *err) {
    fprintf(stderr, "cvnets %s: %s\n", name ? name : "", err->message[0] ? err->message : cv_status_name(err->status));
}

void cv_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* ---- flags ---------------------------------------------------------------------------- */
static int allowed_flag(const char *allowed, const char *flag) {
    size_t n = strlen(flag);
    for (const char *p = allowed ? strstr(allowed, flag) : NULL; p; p = strstr(p + 1, flag))
        if ((p == allowed || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return 1;
    return 0;
}

static int usage_error(const char *name, const char *fmt, const char *arg) {
    fprintf(stderr, "cvnets %s: ", name);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    cv_cli_print_usage(stderr, name);
    return CV_EXIT_USAGE;
}

void cv_cli_args_free(cv_cli_args *a) {
    free(a->pos);
    free(a->sets);
    memset(a, 0, sizeof *a);
}

int cv_cli_parse(cv_ctx *ctx, int argc, char **argv, const char *allowed, int npos_min, int npos_max, cv_cli_args *a) {
    memset(a, 0, sizeof *a);
    a->verb = argc > 0 ? argv[0] : "";
    a->pos = calloc((size_t)argc + 1, sizeof *a->pos);
    a->sets = calloc((size_t)argc + 1, sizeof *a->sets);
    if (!a->pos || !a->sets) {
        cv_cli_args_free(a);
        fprintf(stderr, "cvnets: out of memory\n");
        return CV_EXIT_FAIL;
    }
    const char *name = a->verb;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (only_pos || arg[0] != '-' || arg[1] == 0) {
            a->pos[a->npos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            cv_cli_print_usage(stdout, name);
            cv_cli_args_free(a);
            return -1;
        }
        /* --flag=value or --flag value */
        char flag[64];
        const char *value = NULL;
        const char *eq = strchr(arg, '=');
        size_t flen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (flen >= sizeof flag) flen = sizeof flag - 1;
        memcpy(flag, arg, flen);
        flag[flen] = 0;
        int takes_value = strcmp(flag, "--set") == 0 || strcmp(flag, "--out") == 0 || strcmp(flag, "--checkpoint") == 0 ||
                          strcmp(flag, "--steps") == 0 || strcmp(flag, "--plugin-path") == 0;
        int known = takes_value || strcmp(flag, "--json") == 0 || strcmp(flag, "--resume") == 0;
        if (!known || (strcmp(flag, "--plugin-path") != 0 && !allowed_flag(allowed, flag))) {
            int r = usage_error(name, "unknown option '%s'", arg);
            cv_cli_args_free(a);
            return r;
        }
        if (takes_value) {
            if (eq) value = eq + 1;
            else if (i + 1 < argc) value = argv[++i];
            else {
                int r = usage_error(name, "option '%s' needs a value", flag);
                cv_cli_args_free(a);
                return r;
            }
        } else if (eq) {
            int r = usage_error(name, "option '%s' takes no value", flag);
            cv_cli_args_free(a);
            return r;
        }
        if (strcmp(flag, "--set") == 0) {
            if (!strchr(value, '=') || !strchr(value, '.') || strchr(value, '.') > strchr(value, '=')) {
                int r = usage_error(name, "--set needs section.key=value, got '%s'", value);
                cv_cli_args_free(a);
                return r;
            }
            a->sets[a->nsets++] = value;
        } else if (strcmp(flag, "--out") == 0) a->out_dir = value;
        else if (strcmp(flag, "--checkpoint") == 0) a->checkpoint = value;
        else if (strcmp(flag, "--json") == 0) a->json = 1;
        else if (strcmp(flag, "--resume") == 0) a->resume = 1;
        else if (strcmp(flag, "--steps") == 0) {
            char *end;
            long v = strtol(value, &end, 10);
            if (*end || v <= 0) {
                int r = usage_error(name, "--steps needs a positive integer, got '%s'", value);
                cv_cli_args_free(a);
                return r;
            }
            a->steps = v;
        } else if (strcmp(flag, "--plugin-path") == 0) {
            if (!*value || cv_registry_add_dirs(ctx->registry, value) != CV_OK) {
                int r = usage_error(name, "bad --plugin-path '%s'", value);
                cv_cli_args_free(a);
                return r;
            }
        }
    }
    if (a->npos < npos_min || (npos_max >= 0 && a->npos > npos_max)) {
        int r = usage_error(name, a->npos < npos_min ? "%s" : "too many arguments%s",
                            a->npos < npos_min ? "missing argument" : "");
        cv_cli_args_free(a);
        return r;
    }
    return CV_EXIT_OK;
}

/* ---- dispatch ---------------------------------------------------------------------------- */
int cv_cli_main(int argc, char **argv) {
    cv_ctx *ctx = cv_ctx_create();
    if (!ctx) {
        fprintf(stderr, "cvnets: out of memory\n");
        return CV_EXIT_FAIL;
    }
    int i = 1, rc;
    /* --plugin-path DIR may also come before the verb */
    while (i + 1 < argc && strcmp(argv[i], "--plugin-path") == 0) {
        cv_registry_add_dirs(ctx->registry, argv[i + 1]);
        i += 2;
    }
    if (i >= argc) {
        cv_cli_print_usage(stderr, NULL);
        rc = CV_EXIT_USAGE;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
               (strcmp(argv[i], "help") == 0 && i + 1 == argc)) {
        cv_cli_print_usage(stdout, NULL);
        rc = CV_EXIT_OK;
    } else {
        rc = -2;
        for (int v = 0; v < NVERBS; v++)
            if (strcmp(verbs[v].name, argv[i]) == 0) {
                rc = verbs[v].fn(ctx, argc - i, argv + i);
                break;
            }
        if (rc == -2) {
            const char *names[NVERBS];
            for (int v = 0; v < NVERBS; v++) names[v] = verbs[v].name;
            const char *near = cv_nearest(argv[i], names, NVERBS);
            fprintf(stderr, "cvnets: unknown command '%s'%s%s%s\n", argv[i], near ? "; did you mean '" : "",
                    near ? near : "", near ? "'?" : "");
            cv_cli_print_usage(stderr, NULL);
            rc = CV_EXIT_USAGE;
        }
    }
    cv_ctx_destroy(ctx);
    return rc;
}
