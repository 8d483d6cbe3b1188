/* core/options.h — validated option values (cv_options) built from a component's
 * schema (cv_option_desc[]), plus the helpers `help`, `check-plugin` and the
 * recipe loader share: schema checks, "what was expected" text and the nearest
 * valid key for "did you mean". */
#ifndef CV_CORE_OPTIONS_H
#define CV_CORE_OPTIONS_H

#include <stddef.h>
#include <cvnets/cvnets.h>

/* Number of entries of a schema terminated by CV_OPT_END (key == NULL).  The
 * host only walks schemas with stride sizeof(cv_option_desc): the registry
 * copies plugin schemas into that layout when it loads them. */
int cv_schema_count(const cv_option_desc *schema);
const cv_option_desc *cv_schema_find(const cv_option_desc *schema, const char *key);

/* Checks a schema: keys present, unique and made of [a-z0-9_]; known types;
 * enum choices present; min <= max; every default parses and is in range.
 * owner names the component in messages ("model/resnet"). */
int cv_schema_check(const cv_option_desc *schema, const char *owner, cv_error *err);

/* What a value of this option must look like, e.g. "an integer in [18, 101]",
 * "one of: sgd, adamw", "a list of 1 to 3 numbers >= 0". */
void cv_option_expected(const cv_option_desc *d, char *buf, size_t n);
const char *cv_opt_type_name(int type); /* "int", "float list", … */

/* Parse one value's text against d into *v.  Lists and strings are allocated
 * with cv_alloc; release them with cv_value_clear.  On error err says
 * "<where>: <section> <key> = <text>: expected …" (where/section may be NULL). */
int cv_value_parse(const cv_option_desc *d, const char *text, cv_value *v, const char *where,
                   const char *section, cv_error *err);
void cv_value_clear(cv_value *v);

/* ---- cv_options: one validated section ------------------------------------------ */
/* section: how messages name the section, e.g. "[model]" or "model/resnet".
 * The schema must outlive the options (plugins are never unloaded). */
cv_options *cv_options_new(const cv_option_desc *schema, const char *section);
void cv_options_free(cv_options *o);
/* Set one key from text.  Unknown key: CV_ERR_INVALID with the nearest valid key.
 * A key set twice keeps the last value (the recipe loader reports duplicates
 * itself).  where: "file:line", "--set" or NULL; kept for cv_options_where. */
int cv_options_set(cv_options *o, const char *key, const char *text, const char *where, cv_error *err);
/* Fill defaults and check required keys; where names the section's location. */
int cv_options_finish(cv_options *o, const char *where, cv_error *err);
/* Convenience: new + set each "key=value" (NULL-terminated kv, may be NULL) + finish. */
int cv_options_from_kv(const cv_option_desc *schema, const char *section, const char *const *kv,
                       cv_options **out, cv_error *err);

/* NULL when key is not in the schema; otherwise a value with is_set = 0 when the
 * key has neither a value nor a default.  This is cv_host.opt. */
const cv_value *cv_options_get(const cv_options *opts, const char *key);
int cv_options_count(const cv_options *o);
const cv_option_desc *cv_options_desc(const cv_options *o, int i);
const cv_value *cv_options_value(const cv_options *o, int i);
/* the value as recipe text (what was written, or the default), NULL when unset */
const char *cv_options_text(const cv_options *o, int i);
/* where the value came from ("file:line", "--set"), NULL for a default */
const char *cv_options_where(const cv_options *o, int i);
const cv_option_desc *cv_options_schema(const cv_options *o);

/* ---- suggestions ------------------------------------------------------------------ */
size_t cv_edit_distance(const char *a, const char *b);
/* The candidate nearest to word (edit distance at most max(2, strlen/3)), or NULL. */
const char *cv_nearest(const char *word, const char *const *cands, int n);
/* Same over the keys of a schema. */
const char *cv_nearest_key(const char *word, const cv_option_desc *schema);

#endif
