/* core/recipe_impl.h — the recipe's internal layout, shared by recipe.c
 * (reading, accessors), recipe_validate.c and recipe_write.c.  Not installed,
 * not for other modules: use recipe.h. */
#ifndef CV_CORE_RECIPE_IMPL_H
#define CV_CORE_RECIPE_IMPL_H

#include "options.h"
#include "recipe.h"

/* one "key = value" as read (or given with --set) */
typedef struct rc_entry {
    char *section, *key, *value;
    char *where;     /* "file:line" or "--set section.key=value" */
    int line;        /* 0 for --set */
} rc_entry;

/* a "[section]" header line */
typedef struct rc_header {
    char *name;
    int line;
} rc_header;

typedef struct rc_section {
    char *name;              /* "run", "model", "transform.resize", … */
    int kind;                /* cv_kind of the plugin, -1 for host sections */
    char *plugin;            /* plugin name, NULL for host sections */
    const cv_plugin *p;
    cv_options *opts;
} rc_section;

enum { RC_LIST_TRANSFORMS_TRAIN, RC_LIST_TRANSFORMS_VAL, RC_LIST_METRICS_TRAIN, RC_LIST_METRICS_VAL, RC_NLISTS };

struct cv_recipe {
    char *path, *dir, *out_dir;
    rc_section *secs;
    int nsecs;
    char **lists[RC_NLISTS];
    int nlist[RC_NLISTS];
};

/* problems collected while reading and validating: one line each */
typedef struct rc_problems {
    char text[CV_ERROR_MESSAGE_MAX];
    size_t used;
    int n, status, dropped;
} rc_problems;

void rc_problem(rc_problems *p, int status, const char *fmt, ...) CV_PRINTF(3, 4);

/* everything read from the file and --set, before validation */
typedef struct rc_input {
    const char *path;
    rc_entry *entries;
    int nentries, cap;
    rc_header *headers;
    int nheaders, capheaders;
} rc_input;

int rc_add_entry(rc_input *in, const char *section, const char *key, const char *value, int line, const char *where);

/* build r's sections from in (loads plugins through ctx) */
void rc_validate(cv_ctx *ctx, cv_recipe *r, const rc_input *in, rc_problems *pb);
rc_section *rc_section_add(cv_recipe *r, const char *name, int kind, const char *plugin);
rc_section *rc_section_get(const cv_recipe *r, const char *name);

#endif
