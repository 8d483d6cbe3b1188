/* core/recipe_validate.c — turning what was read into validated sections: each
 * section's plugin is loaded and its keys are checked against that plugin's
 * schema (or the host's, core/schemas.c).  Every problem is collected, so one
 * `cvnets check` shows all of them. */
#include "recipe_impl.h"

#include <string.h>

static const char *const component_sections[] = { "dataset", "sampler", "model", "loss", "optimizer", "scheduler" };
#define NCOMP 6
static const char *const host_sections[] = { "run", "ema", "set", "transforms", "metrics" };
#define NHOST 5
static const char *const required_sections[] = { "dataset", "model" };

static int is_component(const char *s) {
    for (int i = 0; i < NCOMP; i++)
        if (strcmp(s, component_sections[i]) == 0) return 1;
    return 0;
}
static int is_host(const char *s) { return cv_host_section_schema(s) != NULL; }

rc_section *rc_section_add(cv_recipe *r, const char *name, int kind, const char *plugin) {
    rc_section *s = rc_section_get(r, name);
    if (s) return s;
    rc_section *secs = cv_alloc_array((size_t)r->nsecs + 1, sizeof *secs);
    if (!secs) return NULL;
    if (r->nsecs) memcpy(secs, r->secs, (size_t)r->nsecs * sizeof *secs);
    cv_free(r->secs);
    r->secs = secs;
    s = &r->secs[r->nsecs];
    s->name = cv_strdup(name);
    s->kind = kind;
    s->plugin = plugin ? cv_strdup(plugin) : NULL;
    if (!s->name || (plugin && !s->plugin)) {
        cv_free(s->name);
        cv_free(s->plugin);
        return NULL;
    }
    r->nsecs++;
    return s;
}

/* where a section is declared: "file:line" of its first header, else of its
 * first key, else the recipe file */
static void section_where(const rc_input *in, const char *name, char *buf, size_t n) {
    for (int i = 0; i < in->nheaders; i++)
        if (strcmp(in->headers[i].name, name) == 0) {
            snprintf(buf, n, "%s:%d", in->path, in->headers[i].line);
            return;
        }
    for (int i = 0; i < in->nentries; i++)
        if (strcmp(in->entries[i].section, name) == 0) {
            snprintf(buf, n, "%s", in->entries[i].where);
            return;
        }
    snprintf(buf, n, "%s", in->path);
}

static const rc_entry *find_entry(const rc_input *in, const char *section, const char *key) {
    const rc_entry *last = NULL; /* --set comes after the file: the last one wins */
    for (int i = 0; i < in->nentries; i++)
        if (strcmp(in->entries[i].section, section) == 0 && strcmp(in->entries[i].key, key) == 0) last = &in->entries[i];
    return last;
}

/* Validate the keys of section `name` (all but skip_key) against schema. */
static cv_options *build_options(const rc_input *in, const char *name, const cv_option_desc *schema, const char *skip_key,
                                 const rc_entry *inject, rc_problems *pb) {
    char label[300];
    snprintf(label, sizeof label, "[%s]", name);
    cv_options *o = cv_options_new(schema, label);
    if (!o) {
        rc_problem(pb, CV_ERR_NOMEM, "out of memory validating [%s]", name);
        return NULL;
    }
    int ok = 1;
    for (int i = 0; i < in->nentries; i++) {
        const rc_entry *e = &in->entries[i];
        if (strcmp(e->section, name) != 0 || (skip_key && strcmp(e->key, skip_key) == 0)) continue;
        cv_error err;
        cv_error_init(&err);
        if (cv_options_set(o, e->key, e->value, e->where, &err) != CV_OK) {
            rc_problem(pb, err.status, "%s", err.message);
            ok = 0;
        }
    }
    if (ok && inject) {
        cv_error err;
        cv_error_init(&err);
        if (cv_options_set(o, inject->key, inject->value, inject->where, &err) != CV_OK) {
            rc_problem(pb, err.status, "%s", err.message);
            ok = 0;
        }
    }
    char where[4200];
    section_where(in, name, where, sizeof where);
    cv_error err;
    cv_error_init(&err);
    if (ok && cv_options_finish(o, where, &err) != CV_OK) {
        rc_problem(pb, err.status, "%s", err.message);
        ok = 0;
    }
    if (!ok) {
        cv_options_free(o);
        return NULL;
    }
    return o;
}

/* load plugin kind/name for section; report at `where` */
static const cv_plugin *load_plugin(cv_ctx *ctx, int kind, const char *name, const char *section, const char *key,
                                    const char *where, rc_problems *pb) {
    const cv_plugin *p = NULL;
    cv_error err;
    cv_error_init(&err);
    if (cv_registry_load(ctx, kind, name, &p, &err) != CV_OK) {
        rc_problem(pb, err.status, "%s: [%s] %s = %s: %s", where, section, key, name, err.message);
        return NULL;
    }
    return p;
}

/* a plugin-backed section: name comes from plugin_name (already validated) */
/* the error names the key that chose the plugin: [model] name, [run] device, … */
/* [run] precision reaches the backend as its enum option `precision`, which only
 * the host sets: a backend without that option computes in fp32 only.  Fills e
 * and returns it, or NULL when nothing is to be injected (problems recorded). */
static const rc_entry *precision_entry(const cv_recipe *r, const rc_input *in, const cv_plugin *p, rc_entry *e,
                                       char *where, size_t n, rc_problems *pb) {
    const rc_entry *own = find_entry(in, "backend", "precision");
    if (own) {
        rc_problem(pb, CV_ERR_INVALID, "%s: [backend] precision: set it as [run] precision (one place for every backend)",
                   own->where);
        return NULL;
    }
    const char *prec = cv_recipe_str(r, "run", "precision");
    if (!prec) return NULL;
    const rc_entry *re = find_entry(in, "run", "precision");
    snprintf(where, n, "%s%s", re ? re->where : in->path, re ? "" : ": default");
    const cv_option_desc *d = cv_schema_find(p->desc.options, "precision");
    int ok = d && d->type == CV_OPT_ENUM && d->choices;
    for (int i = 0; ok && d->choices[i]; i++)
        if (strcmp(d->choices[i], prec) == 0) {
            *e = (rc_entry){ "backend", "precision", (char *)prec, where, re ? re->line : 0 };
            return e;
        }
    if (strcmp(prec, "fp32") == 0) return NULL; /* every backend computes in fp32 */
    char have[256] = "fp32";
    for (int i = 0; ok && d->choices[i]; i++)
        if (strcmp(d->choices[i], "fp32") != 0 && strlen(have) + strlen(d->choices[i]) + 3 < sizeof have)
            strcat(strcat(have, ", "), d->choices[i]);
    rc_problem(pb, CV_ERR_INVALID, "%s: [run] precision = %s: backend '%s' cannot compute in %s (it supports: %s)", where,
               prec, p->desc.name, prec, have);
    return NULL;
}

static void plugin_section(cv_ctx *ctx, cv_recipe *r, const rc_input *in, const char *section, int kind,
                           const char *plugin_name, const char *name_key, const char *where, const char *by_section,
                           const char *by_key, rc_problems *pb) {
    const cv_plugin *p = load_plugin(ctx, kind, plugin_name, by_section, by_key, where, pb);
    rc_section *s = rc_section_add(r, section, kind, plugin_name);
    if (!s) {
        rc_problem(pb, CV_ERR_NOMEM, "out of memory");
        return;
    }
    s->p = p;
    if (!p) return;
    if (cv_schema_find(p->desc.options, "name"))
        rc_problem(pb, CV_ERR_INVALID, "%s: %s/%s declares an option called 'name', which recipes use to pick the plugin",
                   p->file, cv_kind_name(kind), plugin_name);
    rc_entry inject;
    char iwhere[4200];
    const rc_entry *inj = kind == CV_KIND_BACKEND ? precision_entry(r, in, p, &inject, iwhere, sizeof iwhere, pb) : NULL;
    s->opts = build_options(in, section, p->desc.options, name_key, inj, pb);
}

/* split a comma list of plugin names into r->lists[l], loading each */
static void plugin_list(cv_ctx *ctx, cv_recipe *r, const rc_input *in, const char *section, const char *key, int kind,
                        int l, rc_problems *pb) {
    const cv_value *v = cv_options_get(cv_recipe_options(r, section), key);
    if (!v || !v->is_set) return;
    const rc_entry *e = find_entry(in, section, key);
    char where[4200];
    if (e) snprintf(where, sizeof where, "%s", e->where);
    else snprintf(where, sizeof where, "%s: default", in->path);
    const char *p = v->s;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (!*p) break;
        const char *end = p;
        while (*end && *end != ',') end++;
        const char *stop = end;
        while (stop > p && (stop[-1] == ' ' || stop[-1] == '\t')) stop--;
        char name[256];
        size_t n = (size_t)(stop - p);
        snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), p);
        p = end;
        if (!cv_plugin_name_ok(name)) {
            rc_problem(pb, CV_ERR_INVALID, "%s: [%s] %s: '%s' is not a plugin name (a-z, 0-9, '_'; comma-separated)",
                       where, section, key, name);
            continue;
        }
        int dup = 0;
        for (int i = 0; i < r->nlist[l]; i++) dup |= strcmp(r->lists[l][i], name) == 0;
        if (dup && kind == CV_KIND_METRIC) {
            rc_problem(pb, CV_ERR_INVALID, "%s: [%s] %s lists '%s' twice", where, section, key, name);
            continue;
        }
        /* kept even when it fails to load (already reported): a [transform.x]
         * section for it is then not "unused" */
        load_plugin(ctx, kind, name, section, key, where, pb);
        char **nl = cv_alloc_array((size_t)r->nlist[l] + 1, sizeof *nl);
        char *s = cv_strdup(name);
        if (!nl || !s) {
            cv_free(nl);
            cv_free(s);
            rc_problem(pb, CV_ERR_NOMEM, "out of memory");
            return;
        }
        if (r->nlist[l]) memcpy(nl, r->lists[l], (size_t)r->nlist[l] * sizeof *nl);
        cv_free(r->lists[l]);
        nl[r->nlist[l]++] = s;
        r->lists[l] = nl;
    }
}

/* every section name that appears, in order, each once */
static int section_names(const rc_input *in, const char **names, int max) {
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        int count = pass ? in->nentries : in->nheaders;
        for (int i = 0; i < count && n < max; i++) {
            const char *s = pass ? in->entries[i].section : in->headers[i].name;
            int seen = 0;
            for (int j = 0; j < n; j++) seen |= strcmp(names[j], s) == 0;
            if (!seen) names[n++] = s;
        }
    }
    return n;
}

static void check_structure(const cv_recipe *r, const rc_input *in, rc_problems *pb) {
    /* a section header twice: keys would merge silently */
    for (int i = 0; i < in->nheaders; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(in->headers[i].name, in->headers[j].name) == 0) {
                rc_problem(pb, CV_ERR_INVALID, "%s:%d: section [%s] appears twice (first at line %d)", in->path,
                           in->headers[i].line, in->headers[i].name, in->headers[j].line);
                break;
            }
    /* a key twice in the file (--set overrides are not duplicates) */
    for (int i = 0; i < in->nentries; i++) {
        const rc_entry *e = &in->entries[i];
        if (!e->line) continue;
        for (int j = 0; j < i; j++) {
            const rc_entry *f = &in->entries[j];
            if (f->line && strcmp(e->section, f->section) == 0 && strcmp(e->key, f->key) == 0) {
                rc_problem(pb, CV_ERR_INVALID, "%s: [%s] duplicate key '%s' (first set at line %d)", e->where, e->section,
                           e->key, f->line);
                break;
            }
        }
    }
    (void)r;
}

void rc_validate(cv_ctx *ctx, cv_recipe *r, const rc_input *in, rc_problems *pb) {
    check_structure(r, in, pb);
    /* host sections always exist (defaults) */
    for (int i = 0; i < NHOST; i++) {
        rc_section *s = rc_section_add(r, host_sections[i], -1, NULL);
        if (!s) {
            rc_problem(pb, CV_ERR_NOMEM, "out of memory");
            return;
        }
        s->opts = build_options(in, host_sections[i], cv_host_section_schema(host_sections[i]), NULL, NULL, pb);
    }
    char where[4200];
    /* backend and comm come from [run] */
    const char *device = cv_recipe_str(r, "run", "device");
    if (device) {
        const rc_entry *e = find_entry(in, "run", "device");
        snprintf(where, sizeof where, "%s%s", e ? e->where : in->path, e ? "" : ": default");
        if (!cv_plugin_name_ok(device))
            rc_problem(pb, CV_ERR_INVALID, "%s: [run] device = '%s': expected a backend plugin name (cpu, cuda, ref…)",
                       where, device);
        else
            plugin_section(ctx, r, in, "backend", CV_KIND_BACKEND, device, NULL, where, "run", "device", pb);
    }
    const char *comm = cv_recipe_str(r, "run", "comm");
    if (comm && strcmp(comm, "none") != 0) {
        const rc_entry *e = find_entry(in, "run", "comm");
        snprintf(where, sizeof where, "%s%s", e ? e->where : in->path, e ? "" : ": default");
        plugin_section(ctx, r, in, "comm", CV_KIND_COMM, comm, NULL, where, "run", "comm", pb);
    }
    /* the components, in a fixed order */
    for (int i = 0; i < NCOMP; i++) {
        const char *sec = component_sections[i];
        int present = 0;
        for (int j = 0; j < in->nheaders; j++) present |= strcmp(in->headers[j].name, sec) == 0;
        for (int j = 0; j < in->nentries; j++) present |= strcmp(in->entries[j].section, sec) == 0;
        if (!present) continue;
        const rc_entry *e = find_entry(in, sec, "name");
        section_where(in, sec, where, sizeof where);
        if (!e) {
            rc_problem(pb, CV_ERR_INVALID, "%s: [%s] missing required key 'name' (the %s plugin to use; see `cvnets plugins`)",
                       where, sec, sec);
            continue;
        }
        const char *nm = e->value;
        if (!cv_plugin_name_ok(nm)) {
            rc_problem(pb, CV_ERR_INVALID, "%s: [%s] name = '%s': expected a plugin name (a-z, 0-9, '_')", e->where, sec, nm);
            continue;
        }
        plugin_section(ctx, r, in, sec, cv_kind_from_name(sec), nm, "name", e->where, sec, "name", pb);
    }
    for (int i = 0; i < (int)(sizeof required_sections / sizeof required_sections[0]); i++) {
        int found = 0;
        for (int j = 0; j < in->nheaders; j++) found |= strcmp(in->headers[j].name, required_sections[i]) == 0;
        for (int j = 0; j < in->nentries; j++) found |= strcmp(in->entries[j].section, required_sections[i]) == 0;
        if (!found)
            rc_problem(pb, CV_ERR_INVALID, "%s: missing section [%s] (with name = <%s plugin>)", in->path,
                       required_sections[i], required_sections[i]);
    }
    /* lists of transforms and metrics */
    plugin_list(ctx, r, in, "transforms", "train", CV_KIND_TRANSFORM, RC_LIST_TRANSFORMS_TRAIN, pb);
    plugin_list(ctx, r, in, "transforms", "val", CV_KIND_TRANSFORM, RC_LIST_TRANSFORMS_VAL, pb);
    plugin_list(ctx, r, in, "metrics", "train", CV_KIND_METRIC, RC_LIST_METRICS_TRAIN, pb);
    plugin_list(ctx, r, in, "metrics", "val", CV_KIND_METRIC, RC_LIST_METRICS_VAL, pb);
    /* each listed transform or metric gets its section [transform.x] / [metric.x] */
    for (int l = 0; l < RC_NLISTS; l++)
        for (int i = 0; i < r->nlist[l]; i++) {
            int is_tr = l <= RC_LIST_TRANSFORMS_VAL;
            char sec[300];
            snprintf(sec, sizeof sec, "%s.%s", is_tr ? "transform" : "metric", r->lists[l][i]);
            if (rc_section_get(r, sec)) continue;
            if (!cv_registry_find(ctx->registry, is_tr ? CV_KIND_TRANSFORM : CV_KIND_METRIC, r->lists[l][i])) {
                rc_section_add(r, sec, is_tr ? CV_KIND_TRANSFORM : CV_KIND_METRIC, r->lists[l][i]); /* reported */
                continue;
            }
            section_where(in, sec, where, sizeof where);
            plugin_section(ctx, r, in, sec, is_tr ? CV_KIND_TRANSFORM : CV_KIND_METRIC, r->lists[l][i], NULL, where,
                           is_tr ? "transforms" : "metrics", l == RC_LIST_TRANSFORMS_TRAIN || l == RC_LIST_METRICS_TRAIN ? "train" : "val",
                           pb);
        }
    /* anything else is unknown */
    const char *names[512];
    int n = section_names(in, names, 512);
    for (int i = 0; i < n; i++) {
        const char *s = names[i];
        if (is_host(s) || is_component(s) || rc_section_get(r, s)) continue;
        section_where(in, s, where, sizeof where);
        if (strcmp(s, "backend") == 0 || strcmp(s, "comm") == 0) {
            rc_problem(pb, CV_ERR_INVALID, "%s: [%s] has options but [run] %s names no %s plugin", where, s,
                       strcmp(s, "backend") == 0 ? "device" : "comm", s);
            continue;
        }
        int is_tr = strncmp(s, "transform.", 10) == 0, is_me = strncmp(s, "metric.", 7) == 0;
        if (is_tr || is_me) {
            const char *item = s + (is_tr ? 10 : 7);
            const char *listed[64];
            int nl = 0;
            for (int l = is_tr ? RC_LIST_TRANSFORMS_TRAIN : RC_LIST_METRICS_TRAIN;
                 l <= (is_tr ? RC_LIST_TRANSFORMS_VAL : RC_LIST_METRICS_VAL); l++)
                for (int k = 0; k < r->nlist[l] && nl < 64; k++) listed[nl++] = r->lists[l][k];
            const char *near = cv_nearest(item, listed, nl);
            rc_problem(pb, CV_ERR_INVALID, "%s: section [%s] is not used: '%s' is not listed in [%s] train or val%s%s%s%s",
                       where, s, item, is_tr ? "transforms" : "metrics", near ? "; did you mean [" : "",
                       near ? (is_tr ? "transform." : "metric.") : "", near ? near : "", near ? "]?" : "");
            continue;
        }
        const char *known[NCOMP + NHOST + 4];
        int nk = 0;
        for (int k = 0; k < NHOST; k++) known[nk++] = host_sections[k];
        for (int k = 0; k < NCOMP; k++) known[nk++] = component_sections[k];
        known[nk++] = "backend";
        known[nk++] = "comm";
        known[nk++] = "transform";
        known[nk++] = "metric";
        const char *near = cv_nearest(s, known, nk);
        rc_problem(pb, CV_ERR_INVALID,
                   "%s: unknown section [%s]%s%s%s (sections: run, dataset, sampler, model, loss, optimizer, scheduler, "
                   "ema, set, transforms, transform.<name>, metrics, metric.<name>, backend, comm)",
                   where, s, near ? "; did you mean [" : "", near ? near : "", near ? "]?" : "");
    }
}
