/* test/support/model_host.c — the minimal host of model_host.h: a cv_host table,
 * option parsing against a plugin's schema, and dlopen of a model plugin. */
#include "model_host.h"

#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MH_MAX_OPTS 64
#define MH_MAX_LIST 32

typedef struct mh_entry {
    const cv_option_desc *desc;
    cv_value v;
    char text[256];
    int64_t ints[MH_MAX_LIST];
    double floats[MH_MAX_LIST];
} mh_entry;

typedef struct mh_options {
    int n;
    mh_entry e[MH_MAX_OPTS];
} mh_options;

struct mh_host {
    cv_host host;
    void *dl;
    const cv_component_desc *desc;
};

static int h_set_error(cv_error *err, int status, const char *fmt, ...) CV_PRINTF(3, 4);
static int h_set_error(cv_error *err, int status, const char *fmt, ...) {
    if (!err || err->status != CV_OK) return status;
    err->status = status ? status : CV_ERR_INTERNAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return err->status;
}

static void h_log(void *ctx, int level, const char *component, const char *fmt, ...) CV_PRINTF(4, 5);
static void h_log(void *ctx, int level, const char *component, const char *fmt, ...) {
    (void)ctx;
    if (level < CV_LOG_WARN) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%s] ", component ? component : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void *h_alloc(size_t n) { return aligned_alloc(64, ((n ? n : 1) + 63) & ~(size_t)63); }
static void *h_alloc_array(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = h_alloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}
static void h_free(void *p) { free(p); }
static char *h_strdup(const char *s) {
    if (!s) return NULL;
    char *d = h_alloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

static const cv_value *h_opt(const cv_options *opts, const char *key) {
    const mh_options *o = (const mh_options *)opts;
    for (int i = 0; o && i < o->n; i++)
        if (strcmp(o->e[i].desc->key, key) == 0) return &o->e[i].v;
    return NULL;
}

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static void h_rng_init(cv_rng *r, uint64_t seed, const uint64_t *c, int n) {
    r->key[0] = mix64(seed);
    r->key[1] = mix64(seed + 1);
    for (int i = 0; i < n; i++) r->key[0] = mix64(r->key[0] ^ c[i]);
    r->counter = 0;
}
static uint64_t h_rng_u64(cv_rng *r) { return mix64(r->key[0] ^ mix64(r->counter++ + r->key[1])); }
static double h_rng_uniform(cv_rng *r) { return (double)(h_rng_u64(r) >> 11) * 0x1.0p-53; }
static double h_rng_normal(cv_rng *r) {
    double u1 = h_rng_uniform(r), u2 = h_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
static int h_state_write(cv_state_writer *w, const char *name, const void *d, size_t b, cv_error *err) {
    (void)w, (void)d, (void)b;
    return h_set_error(err, CV_ERR_UNSUPPORTED, "model_host: no state (%s)", name);
}
static int h_state_read(cv_state_reader *r, const char *name, void *d, size_t b, cv_error *err) {
    (void)r, (void)d, (void)b;
    return h_set_error(err, CV_ERR_UNSUPPORTED, "model_host: no state (%s)", name);
}
static const void *h_get_interface(void *ctx, const char *name) {
    (void)ctx, (void)name;
    return NULL;
}

static int h_register(void *ctx, const cv_component_desc *desc, cv_error *err) {
    mh_host *h = ctx;
    if (!desc || desc->struct_size < sizeof *desc || desc->kind != CV_KIND_MODEL)
        return h_set_error(err, CV_ERR_INVALID, "model_host: not a model descriptor");
    h->desc = desc;
    return CV_OK;
}

mh_host *mh_load(const char *name, cv_error *err) {
    const char *build = getenv("CVNETS_BUILD");
    char path[1024];
    snprintf(path, sizeof path, "%s/lib/cvnets/plugins/cvnets-model-%s.so", build ? build : "build", name);
    mh_host *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h->dl) {
        h_set_error(err, CV_ERR_IO, "dlopen %s: %s", path, dlerror());
        free(h);
        return NULL;
    }
    cv_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h->dl, CV_PLUGIN_ENTRY_SYMBOL);
    cv_host *t = &h->host;
    t->struct_size = sizeof *t;
    t->abi_major = CV_ABI_MAJOR;
    t->abi_minor = CV_ABI_MINOR;
    t->host_ctx = h;
    t->register_component = h_register;
    t->set_error = h_set_error;
    t->log = h_log;
    t->alloc = h_alloc;
    t->alloc_array = h_alloc_array;
    t->free = h_free;
    t->strdup = h_strdup;
    t->opt = h_opt;
    t->rng_init = h_rng_init;
    t->rng_u64 = h_rng_u64;
    t->rng_uniform = h_rng_uniform;
    t->rng_normal = h_rng_normal;
    t->state_write = h_state_write;
    t->state_read = h_state_read;
    t->get_interface = h_get_interface;
    if (!entry || entry(t, err) != CV_OK || !h->desc) {
        h_set_error(err, CV_ERR_ABI, "%s: no entry point or no model registered", path);
        dlclose(h->dl);
        free(h);
        return NULL;
    }
    return h;
}

void mh_free(mh_host *h) {
    if (!h) return;
    dlclose(h->dl);
    free(h);
}
const cv_host *mh_host_table(mh_host *h) { return &h->host; }
const cv_component_desc *mh_desc(mh_host *h) { return h->desc; }

static int parse_value(const cv_option_desc *d, const char *text, mh_entry *e, cv_error *err) {
    cv_value *v = &e->v;
    char *end;
    snprintf(e->text, sizeof e->text, "%s", text);
    v->struct_size = sizeof *v;
    v->type = d->type;
    v->is_set = 1;
    switch (d->type) {
    case CV_OPT_BOOL:
        if (!strcasecmp(text, "true") || !strcmp(text, "1") || !strcasecmp(text, "yes")) v->i = 1;
        else if (!strcasecmp(text, "false") || !strcmp(text, "0") || !strcasecmp(text, "no")) v->i = 0;
        else return h_set_error(err, CV_ERR_INVALID, "option %s: '%s' is not a boolean", d->key, text);
        return CV_OK;
    case CV_OPT_INT:
        v->i = strtoll(text, &end, 10);
        if (end == text || *end) return h_set_error(err, CV_ERR_INVALID, "option %s: '%s' is not an integer", d->key, text);
        if ((d->has_min && v->i < d->min) || (d->has_max && v->i > d->max))
            return h_set_error(err, CV_ERR_INVALID, "option %s: %s out of range", d->key, text);
        return CV_OK;
    case CV_OPT_FLOAT:
        v->f = strtod(text, &end);
        if (end == text || *end) return h_set_error(err, CV_ERR_INVALID, "option %s: '%s' is not a number", d->key, text);
        if ((d->has_min && v->f < d->min) || (d->has_max && v->f > d->max))
            return h_set_error(err, CV_ERR_INVALID, "option %s: %s out of range", d->key, text);
        return CV_OK;
    case CV_OPT_ENUM: {
        int ok = 0;
        for (const char *const *c = d->choices; c && *c; c++) ok |= strcmp(*c, text) == 0;
        if (!ok) return h_set_error(err, CV_ERR_INVALID, "option %s: '%s' is not one of the choices", d->key, text);
        v->s = e->text;
        return CV_OK;
    }
    case CV_OPT_STRING:
    case CV_OPT_PATH:
        v->s = e->text;
        return CV_OK;
    case CV_OPT_INT_LIST:
    case CV_OPT_FLOAT_LIST: {
        const char *p = text;
        v->count = 0;
        while (*p && v->count < MH_MAX_LIST) {
            if (d->type == CV_OPT_INT_LIST) e->ints[v->count] = strtoll(p, &end, 10);
            else e->floats[v->count] = strtod(p, &end);
            if (end == p) return h_set_error(err, CV_ERR_INVALID, "option %s: bad list '%s'", d->key, text);
            v->count++;
            p = end;
            while (*p == ',' || *p == ' ') p++;
        }
        v->ints = e->ints;
        v->floats = e->floats;
        return CV_OK;
    }
    default:
        return h_set_error(err, CV_ERR_INVALID, "option %s: unknown type %d", d->key, d->type);
    }
}

int mh_create(mh_host *h, const char *const *kv, int num_classes, int in_channels, mh_model *m, cv_error *err) {
    memset(m, 0, sizeof *m);
    mh_options *o = calloc(1, sizeof *o);
    if (!o) return CV_ERR_NOMEM;
    const cv_component_desc *d = h->desc;
    for (const cv_option_desc *od = d->options; od && od->key; od++) {
        if (o->n == MH_MAX_OPTS) break;
        mh_entry *e = &o->e[o->n++];
        e->desc = od;
        e->v.struct_size = sizeof e->v;
        e->v.type = od->type;
        if (od->default_value && parse_value(od, od->default_value, e, err) != CV_OK) goto fail;
    }
    for (int i = 0; kv && kv[i]; i++) {
        const char *eq = strchr(kv[i], '=');
        size_t len = eq ? (size_t)(eq - kv[i]) : strlen(kv[i]);
        mh_entry *e = NULL;
        for (int j = 0; j < o->n; j++)
            if (strlen(o->e[j].desc->key) == len && strncmp(o->e[j].desc->key, kv[i], len) == 0) e = &o->e[j];
        if (!e || !eq) {
            h_set_error(err, CV_ERR_INVALID, "model %s: unknown option '%s'", d->name, kv[i]);
            goto fail;
        }
        if (parse_value(e->desc, eq + 1, e, err) != CV_OK) goto fail;
    }
    cv_create_args a = { 0 };
    a.struct_size = sizeof a;
    a.host = &h->host;
    a.opts = (const cv_options *)o;
    a.seed = 1;
    a.world_size = 1;
    a.threads = 1;
    a.num_classes = num_classes;
    a.in_channels = in_channels;
    int rc = d->create(&a, &m->self, err);
    if (rc != CV_OK) {
        if (err->status == CV_OK) h_set_error(err, rc, "model %s: create failed without a message", d->name);
        goto fail;
    }
    m->desc = d;
    m->opts = o;
    return CV_OK;
fail:
    free(o);
    return err->status ? err->status : CV_ERR_INVALID;
}

void mh_model_free(mh_model *m) {
    if (m->desc && m->self) m->desc->destroy(m->self);
    free(m->opts);
    memset(m, 0, sizeof *m);
}

const cv_model_vtable *mh_vtable(const mh_model *m) { return m->desc->vtable; }
