/* core/recipe.h — INI recipes: load (libinih, with line numbers), apply --set
 * overrides, validate every section against the schema of the plugin it names
 * (loading those plugins), and write the resolved recipe with every default.
 *
 * Sections:
 *   [run] [ema] [set] [transforms] [metrics]   host schemas (core/schemas.c)
 *   [dataset] [sampler] [model] [loss] [optimizer] [scheduler]
 *                         name = <plugin>; the other keys are its options
 *   [transform.<name>]    options of transform plugin <name>, which must be
 *                         listed in [transforms] train or val
 *   [metric.<name>]       options of metric plugin <name>, listed in [metrics]
 *   [backend]             options of the backend plugin [run] device names
 *   [comm]                options of the comm plugin [run] comm names
 * Every problem is reported as "file:line: [section] …" with what was expected
 * and, for names, the nearest valid one; the whole list goes into err. */
#ifndef CV_CORE_RECIPE_H
#define CV_CORE_RECIPE_H

#include <stdio.h>
#include "host.h"
#include "registry.h"

typedef struct cv_recipe cv_recipe;

/* Load, override and validate.  sets: "section.key=value" strings (the section
 * may contain dots: transform.resize.size=32).  On failure *out is NULL and
 * err->message holds one line per problem (file order, at most ~10). */
int cv_recipe_load(cv_ctx *ctx, const char *path, const char *const *sets, int nsets, cv_recipe **out, cv_error *err);
void cv_recipe_free(cv_recipe *r);

const char *cv_recipe_path(const cv_recipe *r);
const char *cv_recipe_dir(const cv_recipe *r);   /* folder of the recipe (for relative paths) */
/* run folder: [run] out_dir, else "runs/<recipe file name without .ini>" */
const char *cv_recipe_out_dir(const cv_recipe *r);

/* A section's validated options ("run", "model", "transform.resize", "backend"…);
 * NULL when the recipe has no such section.  Host sections, [backend] and
 * [comm] (when [run] comm != none) always exist, filled with defaults. */
const cv_options *cv_recipe_options(const cv_recipe *r, const char *section);
/* Plugin chosen by a section: "model" -> "resnet", "backend" -> [run] device,
 * "comm" -> [run] comm ("none" gives NULL), "transform.x" / "metric.x" -> "x"; NULL if absent. */
const char *cv_recipe_component(const cv_recipe *r, const char *section);
const cv_plugin *cv_recipe_plugin(const cv_recipe *r, const char *section);
/* Lists of plugin names: ("transforms", "train"|"val") and ("metrics", "train"|"val").
 * Returns the count; *names valid as long as the recipe. */
int cv_recipe_list(const cv_recipe *r, const char *section, const char *key, const char *const **names);

/* typed shortcuts for host sections; the key must exist in the schema */
int64_t cv_recipe_int(const cv_recipe *r, const char *section, const char *key);
double cv_recipe_float(const cv_recipe *r, const char *section, const char *key);
const char *cv_recipe_str(const cv_recipe *r, const char *section, const char *key);

/* The resolved recipe: every section and key, defaults filled, as INI. */
int cv_recipe_write(const cv_recipe *r, FILE *f);
int cv_recipe_write_resolved(const cv_recipe *r, const char *path, cv_error *err);

/* Section names in resolved order, for iteration (count, then i-th name). */
int cv_recipe_section_count(const cv_recipe *r);
const char *cv_recipe_section_name(const cv_recipe *r, int i);

/* schema of a host section ("run", "ema", "set", "transforms", "metrics"), else NULL */
const cv_option_desc *cv_host_section_schema(const char *section);

#endif
