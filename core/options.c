/* core/options.c — parsing option text ("0.1", "true", "1, 2, 3") against a
 * component's schema into typed values, defaults, required keys, and the
 * "did you mean" suggestions used by every user-facing key error. */
#include "options.h"
#include "host.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cv_options {
    const cv_option_desc *schema;
    int n;
    char *section;
    cv_value *vals;
    char **text;
    char **where;
};

#define SCHEMA_MAX 4096

int cv_schema_count(const cv_option_desc *schema) {
    int n = 0;
    while (schema && n < SCHEMA_MAX && schema[n].key) n++;
    return n;
}

const cv_option_desc *cv_schema_find(const cv_option_desc *schema, const char *key) {
    for (int i = 0; schema && key && schema[i].key; i++)
        if (strcmp(schema[i].key, key) == 0) return &schema[i];
    return NULL;
}

const char *cv_opt_type_name(int type) {
    static const char *const names[] = { "bool", "int", "float", "string", "enum", "path", "int list", "float list" };
    return type >= 0 && type <= CV_OPT_FLOAT_LIST ? names[type] : "unknown type";
}

/* ---- text for "expected …" --------------------------------------------------------- */
static void fmt_num(char *buf, size_t n, double v, int integral) {
    if (integral && fabs(v) < 9.2e18 && v == (double)(long long)v)
        snprintf(buf, n, "%lld", (long long)v);
    else
        snprintf(buf, n, "%g", v);
}

static void range_text(const cv_option_desc *d, int integral, char *buf, size_t n) {
    char lo[40], hi[40];
    fmt_num(lo, sizeof lo, d->min, integral);
    fmt_num(hi, sizeof hi, d->max, integral);
    if (d->has_min && d->has_max) snprintf(buf, n, " in [%s, %s]", lo, hi);
    else if (d->has_min) snprintf(buf, n, " >= %s", lo);
    else if (d->has_max) snprintf(buf, n, " <= %s", hi);
    else buf[0] = 0;
}

void cv_option_expected(const cv_option_desc *d, char *buf, size_t n) {
    char r[100];
    int integral = d->type == CV_OPT_INT || d->type == CV_OPT_INT_LIST;
    range_text(d, integral, r, sizeof r);
    switch (d->type) {
    case CV_OPT_BOOL: snprintf(buf, n, "true or false"); break;
    case CV_OPT_INT: snprintf(buf, n, "an integer%s", r); break;
    case CV_OPT_FLOAT: snprintf(buf, n, "a number%s", r); break;
    case CV_OPT_STRING: snprintf(buf, n, "a string"); break;
    case CV_OPT_PATH: snprintf(buf, n, "a path"); break;
    case CV_OPT_ENUM: {
        size_t used = (size_t)snprintf(buf, n, "one of:");
        for (int i = 0; d->choices && d->choices[i] && used < n; i++)
            used += (size_t)snprintf(buf + used, n - used, "%s %s", i ? "," : "", d->choices[i]);
        break;
    }
    case CV_OPT_INT_LIST:
    case CV_OPT_FLOAT_LIST: {
        const char *what = d->type == CV_OPT_INT_LIST ? "integers" : "numbers";
        char cnt[64];
        if (d->min_count > 0 && d->max_count > 0 && d->min_count == d->max_count)
            snprintf(cnt, sizeof cnt, "%d", d->min_count);
        else if (d->min_count > 0 && d->max_count > 0)
            snprintf(cnt, sizeof cnt, "%d to %d", d->min_count, d->max_count);
        else if (d->min_count > 0)
            snprintf(cnt, sizeof cnt, "at least %d", d->min_count);
        else if (d->max_count > 0)
            snprintf(cnt, sizeof cnt, "at most %d", d->max_count);
        else
            cnt[0] = 0;
        snprintf(buf, n, "a comma-separated list of %s%s%s%s", cnt, cnt[0] ? " " : "", what, r);
        break;
    }
    default: snprintf(buf, n, "a value of unknown type %d", d->type); break;
    }
}

/* ---- parsing -------------------------------------------------------------------------- */
static int fail(const cv_option_desc *d, const char *text, const char *where, const char *section,
                cv_error *err, const char *why) {
    char exp[512];
    cv_option_expected(d, exp, sizeof exp);
    return cv_set_error(err, CV_ERR_INVALID, "%s%s%s%s%s = '%s': %s%sexpected %s", where ? where : "", where ? ": " : "",
                        section ? section : "", section ? " " : "", d->key, text, why ? why : "", why ? "; " : "",
                        exp);
}

static int in_range(const cv_option_desc *d, double x) {
    return !(d->has_min && x < d->min) && !(d->has_max && x > d->max);
}

static int parse_int(const char *s, int64_t *out) {
    if (!*s) return 0;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return 0;
    *out = v;
    return 1;
}

static int parse_float(const char *s, double *out) {
    if (!*s) return 0;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v)) return 0;
    if (errno == ERANGE && fabs(v) > 1.0) return 0;
    *out = v;
    return 1;
}

static int parse_bool(const char *s, int64_t *out) {
    static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) return *out = 1, 1;
        if (strcasecmp(s, no[i]) == 0) return *out = 0, 1;
    }
    return 0;
}

/* copy of s without surrounding blanks */
static char *trimmed(const char *s, size_t len) {
    while (len && isspace((unsigned char)*s)) s++, len--;
    while (len && isspace((unsigned char)s[len - 1])) len--;
    char *r = cv_alloc(len + 1);
    if (!r) return NULL;
    memcpy(r, s, len);
    r[len] = 0;
    return r;
}

static int parse_list(const cv_option_desc *d, const char *text, cv_value *v, const char *where,
                      const char *section, cv_error *err) {
    int is_int = d->type == CV_OPT_INT_LIST;
    char *all = trimmed(text, strlen(text));
    if (!all) return cv_set_error(err, CV_ERR_NOMEM, "out of memory parsing %s", d->key);
    int count = 0;
    if (*all) {
        count = 1;
        for (const char *p = all; *p; p++) count += *p == ',';
    }
    int64_t *ints = is_int ? cv_alloc_array((size_t)count + 1, sizeof *ints) : NULL;
    double *floats = is_int ? NULL : cv_alloc_array((size_t)count + 1, sizeof *floats);
    if (!ints && !floats) {
        cv_free(all);
        return cv_set_error(err, CV_ERR_NOMEM, "out of memory parsing %s", d->key);
    }
    int rc = CV_OK;
    const char *p = all;
    for (int i = 0; i < count && rc == CV_OK; i++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *item = trimmed(p, len);
        char why[160];
        if (!item) {
            rc = cv_set_error(err, CV_ERR_NOMEM, "out of memory parsing %s", d->key);
            break;
        }
        double x = 0;
        int ok = is_int ? parse_int(item, &ints[i]) : parse_float(item, &floats[i]);
        if (ok) x = is_int ? (double)ints[i] : floats[i];
        if (!*item) {
            snprintf(why, sizeof why, "element %d is empty", i + 1);
            rc = fail(d, text, where, section, err, why);
        } else if (!ok) {
            snprintf(why, sizeof why, "element %d ('%.60s') is not %s", i + 1, item, is_int ? "an integer" : "a finite number");
            rc = fail(d, text, where, section, err, why);
        } else if (!in_range(d, x)) {
            snprintf(why, sizeof why, "element %d (%.60s) is out of range", i + 1, item);
            rc = fail(d, text, where, section, err, why);
        }
        cv_free(item);
        p = comma ? comma + 1 : p + len;
    }
    if (rc == CV_OK && ((d->min_count > 0 && count < d->min_count) || (d->max_count > 0 && count > d->max_count))) {
        char why[80];
        snprintf(why, sizeof why, "%d element%s given", count, count == 1 ? "" : "s");
        rc = fail(d, text, where, section, err, why);
    }
    cv_free(all);
    if (rc != CV_OK) {
        cv_free(ints);
        cv_free(floats);
        return rc;
    }
    v->count = count;
    v->ints = ints;
    v->floats = floats;
    return CV_OK;
}

int cv_value_parse(const cv_option_desc *d, const char *text, cv_value *v, const char *where,
                   const char *section, cv_error *err) {
    memset(v, 0, sizeof *v);
    v->struct_size = sizeof *v;
    v->type = d->type;
    if (!text) text = "";
    int rc = CV_OK;
    char *t = trimmed(text, strlen(text));
    if (!t) return cv_set_error(err, CV_ERR_NOMEM, "out of memory parsing %s", d->key);
    switch (d->type) {
    case CV_OPT_BOOL:
        if (!parse_bool(t, &v->i)) rc = fail(d, t, where, section, err, NULL);
        break;
    case CV_OPT_INT:
        if (!parse_int(t, &v->i)) rc = fail(d, t, where, section, err, NULL);
        else if (!in_range(d, (double)v->i)) rc = fail(d, t, where, section, err, "out of range");
        else v->f = (double)v->i;
        break;
    case CV_OPT_FLOAT:
        if (!parse_float(t, &v->f)) rc = fail(d, t, where, section, err, NULL);
        else if (!in_range(d, v->f)) rc = fail(d, t, where, section, err, "out of range");
        break;
    case CV_OPT_ENUM: {
        int n = 0, found = 0;
        while (d->choices && d->choices[n]) found |= strcmp(d->choices[n], t) == 0, n++;
        if (!found) {
            const char *near = cv_nearest(t, (const char *const *)d->choices, n);
            char why[160];
            if (near) snprintf(why, sizeof why, "did you mean '%s'?", near);
            rc = fail(d, t, where, section, err, near ? why : "not a valid choice");
        }
        break;
    }
    case CV_OPT_PATH:
        if (!*t) rc = fail(d, t, where, section, err, "empty path");
        break;
    case CV_OPT_STRING: break;
    case CV_OPT_INT_LIST:
    case CV_OPT_FLOAT_LIST: rc = parse_list(d, t, v, where, section, err); break;
    default: rc = cv_set_error(err, CV_ERR_INVALID, "%s: option type %d is unknown", d->key, d->type); break;
    }
    if (rc != CV_OK) {
        cv_free(t);
        memset(v, 0, sizeof *v);
        v->struct_size = sizeof *v;
        v->type = d->type;
        return rc;
    }
    /* s always carries the text form, which is also what the resolved recipe shows */
    v->s = t;
    v->is_set = 1;
    return CV_OK;
}

void cv_value_clear(cv_value *v) {
    cv_free((void *)v->s);
    cv_free((void *)v->ints);
    cv_free((void *)v->floats);
    int type = v->type;
    memset(v, 0, sizeof *v);
    v->struct_size = sizeof *v;
    v->type = type;
}

/* ---- schema checks ------------------------------------------------------------------ */
static int key_ok(const char *k) {
    if (!*k) return 0;
    for (; *k; k++)
        if (!(islower((unsigned char)*k) || isdigit((unsigned char)*k) || *k == '_')) return 0;
    return 1;
}

int cv_schema_check(const cv_option_desc *schema, const char *owner, cv_error *err) {
    int n = cv_schema_count(schema);
    if (n >= SCHEMA_MAX) return cv_set_error(err, CV_ERR_INVALID, "%s: option schema has no CV_OPT_END terminator", owner);
    for (int i = 0; i < n; i++) {
        const cv_option_desc *d = &schema[i];
        if (!key_ok(d->key))
            return cv_set_error(err, CV_ERR_INVALID, "%s: option %d has key '%s'; keys use only a-z, 0-9 and '_'",
                                owner, i + 1, d->key);
        for (int j = 0; j < i; j++)
            if (strcmp(schema[j].key, d->key) == 0)
                return cv_set_error(err, CV_ERR_INVALID, "%s: option '%s' is declared twice", owner, d->key);
        if (d->type < CV_OPT_BOOL || d->type > CV_OPT_FLOAT_LIST)
            return cv_set_error(err, CV_ERR_INVALID, "%s: option '%s' has unknown type %d", owner, d->key, d->type);
        if (d->type == CV_OPT_ENUM && (!d->choices || !d->choices[0]))
            return cv_set_error(err, CV_ERR_INVALID, "%s: enum option '%s' has no choices", owner, d->key);
        if (d->has_min && d->has_max && d->min > d->max)
            return cv_set_error(err, CV_ERR_INVALID, "%s: option '%s' has min %g > max %g", owner, d->key, d->min, d->max);
        if (d->min_count < 0 || d->max_count < 0 || (d->max_count > 0 && d->min_count > d->max_count))
            return cv_set_error(err, CV_ERR_INVALID, "%s: option '%s' has list length bounds %d..%d", owner, d->key,
                                d->min_count, d->max_count);
        if (d->default_value) {
            cv_value v;
            cv_error e;
            cv_error_init(&e);
            if (cv_value_parse(d, d->default_value, &v, NULL, NULL, &e) != CV_OK)
                return cv_set_error(err, CV_ERR_INVALID, "%s: invalid default for option '%s': %s", owner, d->key,
                                    e.message);
            cv_value_clear(&v);
        }
    }
    return CV_OK;
}

/* ---- cv_options -------------------------------------------------------------------------- */
cv_options *cv_options_new(const cv_option_desc *schema, const char *section) {
    cv_options *o = cv_alloc_array(1, sizeof *o);
    if (!o) return NULL;
    o->schema = schema;
    o->n = cv_schema_count(schema);
    o->section = cv_strdup(section ? section : "");
    o->vals = cv_alloc_array((size_t)o->n + 1, sizeof *o->vals);
    o->text = cv_alloc_array((size_t)o->n + 1, sizeof *o->text);
    o->where = cv_alloc_array((size_t)o->n + 1, sizeof *o->where);
    if (!o->section || !o->vals || !o->text || !o->where) {
        cv_options_free(o);
        return NULL;
    }
    for (int i = 0; i < o->n; i++) {
        o->vals[i].struct_size = sizeof(cv_value);
        o->vals[i].type = schema[i].type;
    }
    return o;
}

void cv_options_free(cv_options *o) {
    if (!o) return;
    for (int i = 0; i < o->n; i++) {
        if (o->vals) cv_value_clear(&o->vals[i]);
        if (o->where) cv_free(o->where[i]);
    }
    cv_free(o->vals);
    cv_free(o->text);
    cv_free(o->where);
    cv_free(o->section);
    cv_free(o);
}

static int index_of(const cv_options *o, const char *key) {
    for (int i = 0; key && i < o->n; i++)
        if (strcmp(o->schema[i].key, key) == 0) return i;
    return -1;
}

int cv_options_set(cv_options *o, const char *key, const char *text, const char *where, cv_error *err) {
    int i = index_of(o, key);
    if (i < 0) {
        const char *near = cv_nearest_key(key, o->schema);
        char keys[600];
        size_t used = 0;
        keys[0] = 0;
        for (int k = 0; k < o->n && used < sizeof keys; k++)
            used += (size_t)snprintf(keys + used, sizeof keys - used, "%s%s", k ? ", " : "", o->schema[k].key);
        return cv_set_error(err, CV_ERR_INVALID, "%s%s%s unknown key '%s'%s%s%s (valid keys: %s)", where ? where : "",
                            where ? ": " : "", o->section, key ? key : "", near ? "; did you mean '" : "",
                            near ? near : "", near ? "'?" : "", o->n ? keys : "none");
    }
    cv_value v;
    int rc = cv_value_parse(&o->schema[i], text, &v, where, o->section, err);
    if (rc != CV_OK) return rc;
    char *w = where ? cv_strdup(where) : NULL;
    if (where && !w) {
        cv_value_clear(&v);
        return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    }
    cv_value_clear(&o->vals[i]);
    cv_free(o->where[i]);
    o->vals[i] = v;
    o->text[i] = (char *)v.s;
    o->where[i] = w;
    return CV_OK;
}

int cv_options_finish(cv_options *o, const char *where, cv_error *err) {
    for (int i = 0; i < o->n; i++) {
        const cv_option_desc *d = &o->schema[i];
        if (o->vals[i].is_set) continue;
        if (d->required) {
            char exp[512];
            cv_option_expected(d, exp, sizeof exp);
            return cv_set_error(err, CV_ERR_INVALID, "%s%s%s missing required key '%s' (%s: %s)", where ? where : "",
                                where ? ": " : "", o->section, d->key, exp, d->help ? d->help : "no help");
        }
        if (!d->default_value) continue;
        cv_value v;
        int rc = cv_value_parse(d, d->default_value, &v, "default", o->section, err);
        if (rc != CV_OK) return rc;
        o->vals[i] = v;
        o->text[i] = (char *)v.s;
    }
    return CV_OK;
}

int cv_options_from_kv(const cv_option_desc *schema, const char *section, const char *const *kv,
                       cv_options **out, cv_error *err) {
    *out = NULL;
    cv_options *o = cv_options_new(schema, section);
    if (!o) return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    for (int i = 0; kv && kv[i]; i++) {
        const char *eq = strchr(kv[i], '=');
        if (!eq) {
            cv_options_free(o);
            return cv_set_error(err, CV_ERR_INVALID, "%s: '%s' is not key=value", section, kv[i]);
        }
        char *key = trimmed(kv[i], (size_t)(eq - kv[i]));
        int rc = key ? cv_options_set(o, key, eq + 1, NULL, err) : cv_set_error(err, CV_ERR_NOMEM, "out of memory");
        cv_free(key);
        if (rc != CV_OK) {
            cv_options_free(o);
            return rc;
        }
    }
    int rc = cv_options_finish(o, NULL, err);
    if (rc != CV_OK) {
        cv_options_free(o);
        return rc;
    }
    *out = o;
    return CV_OK;
}

const cv_value *cv_options_get(const cv_options *o, const char *key) {
    int i = o ? index_of(o, key) : -1;
    return i < 0 ? NULL : &o->vals[i];
}
int cv_options_count(const cv_options *o) { return o ? o->n : 0; }
const cv_option_desc *cv_options_desc(const cv_options *o, int i) { return &o->schema[i]; }
const cv_value *cv_options_value(const cv_options *o, int i) { return &o->vals[i]; }
const char *cv_options_text(const cv_options *o, int i) { return o->vals[i].is_set ? o->text[i] : NULL; }
const char *cv_options_where(const cv_options *o, int i) { return o->where[i]; }
const cv_option_desc *cv_options_schema(const cv_options *o) { return o->schema; }

/* ---- suggestions -------------------------------------------------------------------- */
size_t cv_edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 255 || lb > 255) return (size_t)-1;
    size_t row[256];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *cv_nearest(const char *word, const char *const *cands, int n) {
    if (!word || !cands) return NULL;
    size_t limit = strlen(word) / 3;
    if (limit < 2) limit = 2;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (int i = 0; i < n && cands[i]; i++) {
        size_t d = cv_edit_distance(word, cands[i]);
        if (d < best_d) best_d = d, best = cands[i];
    }
    return best;
}

const char *cv_nearest_key(const char *word, const cv_option_desc *schema) {
    int n = cv_schema_count(schema);
    const char *keys[SCHEMA_MAX];
    for (int i = 0; i < n; i++) keys[i] = schema[i].key;
    return cv_nearest(word, keys, n);
}
