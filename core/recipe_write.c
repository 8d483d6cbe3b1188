/* core/recipe_write.c — the resolved recipe: every section and key with the
 * value in force (recipe, --set or default), so a run folder records exactly
 * what ran and can be re-run with `cvnets train out_dir/recipe.ini`. */
#include "recipe_impl.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static const char *const order[] = { "run", "backend", "comm", "dataset", "sampler", "model", "loss",
                                     "optimizer", "scheduler", "ema", "set", "transforms", "transform.", "metrics", "metric." };

static void write_section(const rc_section *s, FILE *f) {
    fprintf(f, "[%s]\n", s->name);
    int is_named = s->kind >= 0 && strcmp(s->name, "backend") != 0 && strcmp(s->name, "comm") != 0 &&
                   strncmp(s->name, "transform.", 10) != 0 && strncmp(s->name, "metric.", 7) != 0;
    if (is_named) fprintf(f, "name = %s\n", s->plugin);
    if (s->kind >= 0 && !is_named) fprintf(f, "; plugin: %s/%s\n", cv_kind_name(s->kind), s->plugin);
    for (int i = 0; s->opts && i < cv_options_count(s->opts); i++) {
        const char *text = cv_options_text(s->opts, i);
        const char *key = cv_options_desc(s->opts, i)->key;
        if (text) fprintf(f, "%s = %s\n", key, text);
        else fprintf(f, "; %s is not set\n", key);
    }
    fputc('\n', f);
}

int cv_recipe_write(const cv_recipe *r, FILE *f) {
    fprintf(f, "; resolved from %s: every key with the value in force\n\n", r->path);
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        size_t len = strlen(order[o]);
        int prefix = order[o][len - 1] == '.';
        for (int i = 0; i < r->nsecs; i++) {
            const rc_section *s = &r->secs[i];
            if (prefix ? strncmp(s->name, order[o], len) == 0 : strcmp(s->name, order[o]) == 0) write_section(s, f);
        }
    }
    return ferror(f) ? CV_ERR_IO : CV_OK;
}

int cv_recipe_write_resolved(const cv_recipe *r, const char *path, cv_error *err) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return cv_set_error(err, CV_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    int rc = cv_recipe_write(r, f);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) rc = CV_ERR_IO;
    if (fclose(f) != 0) rc = CV_ERR_IO;
    if (rc != CV_OK) {
        unlink(tmp);
        return cv_set_error(err, CV_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return cv_set_error(err, CV_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    }
    return CV_OK;
}
