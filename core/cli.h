/* core/cli.h — the `cvnets` command line: one function per verb (one file each,
 * core/cli_<verb>.c) and the flag parser they share.  Exit codes: 0 success,
 * 1 the work failed (invalid recipe, plugin error), 2 misuse (bad flags). */
#ifndef CV_CORE_CLI_H
#define CV_CORE_CLI_H

#include <stdio.h>
#include "host.h"

#define CV_EXIT_OK 0
#define CV_EXIT_FAIL 1
#define CV_EXIT_USAGE 2

/* argv[0] is the verb; the rest its arguments */
int cv_cmd_check(cv_ctx *ctx, int argc, char **argv);
int cv_cmd_train(cv_ctx *ctx, int argc, char **argv);
int cv_cmd_eval(cv_ctx *ctx, int argc, char **argv);
int cv_cmd_predict(cv_ctx *ctx, int argc, char **argv);
int cv_cmd_summary(cv_ctx *ctx, int argc, char **argv);
int cv_cmd_plan(cv_ctx *ctx, int argc, char **argv);
int cv_cmd_bench(cv_ctx *ctx, int argc, char **argv);
int cv_cmd_plugins(cv_ctx *ctx, int argc, char **argv);
int cv_cmd_help(cv_ctx *ctx, int argc, char **argv);
int cv_cmd_check_plugin(cv_ctx *ctx, int argc, char **argv);

/* The whole program: create a context, dispatch on argv[1], return the exit code. */
int cv_cli_main(int argc, char **argv);

/* ---- shared flag parsing --------------------------------------------------------- */
typedef struct cv_cli_args {
    const char *verb;
    const char **pos;          /* positional arguments */
    int npos;
    const char **sets;         /* --set section.key=value, in order */
    int nsets;
    const char *out_dir;       /* --out DIR */
    const char *checkpoint;    /* --checkpoint FILE */
    int json;                  /* --json */
    int resume;                /* --resume */
    long steps;                /* --steps N (0 when absent) */
} cv_cli_args;

/* Parse argv[1..argc) for a verb.  allowed lists the flags this verb takes,
 * e.g. "--set --out --json"; --plugin-path DIR (added to ctx's registry) and
 * --help are always accepted.  npos_min/npos_max bound the positional
 * arguments (npos_max < 0: unbounded).  Returns CV_EXIT_OK, or prints the
 * problem and the verb's usage to stderr and returns CV_EXIT_USAGE; with
 * --help prints the usage to stdout and returns -1 (the caller exits 0). */
int cv_cli_parse(cv_ctx *ctx, int argc, char **argv, const char *allowed, int npos_min, int npos_max, cv_cli_args *a);
void cv_cli_args_free(cv_cli_args *a);
/* the usage text of a verb ("" for an unknown verb) */
const char *cv_cli_usage(const char *verb);
void cv_cli_print_usage(FILE *f, const char *verb);
/* print an error as "cvnets VERB: message" to stderr */
void cv_cli_error(const char *verb, const cv_error *err);
/* write s as a JSON string literal (quotes included) */
void cv_json_string(FILE *f, const char *s);

#endif
