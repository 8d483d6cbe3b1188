/* core/registry.c — loading plugin files and checking what they register.  The
 * checks here are the ABI's guard: version, struct sizes, names and schemas are
 * verified once at load so the rest of the host can trust a descriptor. */
#include "registry.h"
#include "options.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct loaded_file {
    char *path;
    void *handle;
} loaded_file;

struct cv_registry {
    cv_plugin *items;
    cv_option_desc **schemas; /* host copies, parallel to items */
    void **vtables;           /* zero-padded copies of vtables smaller than this host's (else NULL), parallel */
    int n, cap;
    loaded_file *files;
    int nfiles, capfiles;
    char **user_dirs;
    int nuser;
    int no_env, no_exe;
    char **search;            /* last computed search path */
    int nsearch;
    /* while an entry function runs */
    int loading;
    const char *loading_file;
    int want_kind;            /* -1: any name accepted */
    char want_name[256];
    int loading_start;
    cv_error loading_err;
};

cv_registry *cv_registry_create(void) { return cv_alloc_array(1, sizeof(cv_registry)); }

static void free_strings(char **v, int n) {
    for (int i = 0; i < n; i++) cv_free(v[i]);
    cv_free(v);
}

void cv_registry_destroy(cv_registry *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        cv_free(r->schemas[i]);
        cv_free(r->vtables[i]);
    }
    cv_free(r->items);
    cv_free(r->schemas);
    cv_free(r->vtables);
    /* handles stay open: plugin code may still be referenced (atexit handlers,
     * thread-locals of libraries they use), and the ABI promises no dlclose */
    for (int i = 0; i < r->nfiles; i++) cv_free(r->files[i].path);
    cv_free(r->files);
    free_strings(r->user_dirs, r->nuser);
    free_strings(r->search, r->nsearch);
    cv_free(r);
}

/* ---- names ---------------------------------------------------------------------- */
int cv_plugin_name_ok(const char *name) {
    if (!name || !*name) return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
    return 1;
}

int cv_plugin_file_parse(const char *path, int *kind, char *name, size_t name_size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len < 11 || strncmp(base, "cvnets-", 7) != 0 || strcmp(base + len - 3, ".so") != 0) return 0;
    const char *k = base + 7, *dash = strchr(k, '-');
    if (!dash) return 0;
    char kbuf[32];
    size_t klen = (size_t)(dash - k), nlen = (size_t)(base + len - 3 - (dash + 1));
    if (klen >= sizeof kbuf || nlen == 0 || nlen >= name_size) return 0;
    memcpy(kbuf, k, klen);
    kbuf[klen] = 0;
    *kind = cv_kind_from_name(kbuf);
    memcpy(name, dash + 1, nlen);
    name[nlen] = 0;
    return *kind >= 0 && cv_plugin_name_ok(name);
}

/* ---- struct-size checks ------------------------------------------------------------------ */
static size_t vtable_size(int kind) {
    switch (kind) {
    case CV_KIND_BACKEND: return sizeof(cv_backend_vtable);
    case CV_KIND_COMM: return sizeof(cv_comm_vtable);
    case CV_KIND_MODEL: return sizeof(cv_model_vtable);
    case CV_KIND_DATASET: return sizeof(cv_dataset_vtable);
    case CV_KIND_TRANSFORM: return sizeof(cv_transform_vtable);
    case CV_KIND_SAMPLER: return sizeof(cv_sampler_vtable);
    case CV_KIND_LOSS: return sizeof(cv_loss_vtable);
    case CV_KIND_OPTIMIZER: return sizeof(cv_optimizer_vtable);
    case CV_KIND_SCHEDULER: return sizeof(cv_scheduler_vtable);
    case CV_KIND_METRIC: return sizeof(cv_metric_vtable);
    default: return 0;
    }
}

/* A vtable's size in ABI 1.0: what a plugin built then registers.  Members
 * appended since are read through a zero-padded host copy, so they are NULL. */
static size_t vtable_size_1_0(int kind) {
    switch (kind) {
    case CV_KIND_BACKEND: return offsetof(cv_backend_vtable, layout_class);
    case CV_KIND_COMM: return offsetof(cv_comm_vtable, iallreduce_sum_f32);
    default: return vtable_size(kind);
    }
}

static int tail_is_zero(const void *p, size_t known, size_t size) {
    const unsigned char *b = p;
    for (size_t i = known; i < size; i++)
        if (b[i]) return 0;
    return 1;
}

/* A struct from the plugin: smaller than ABI 1.0's is broken (1.0 is the first
 * version, so every member of today's struct existed); larger is fine only when
 * the members this host does not know are all zero (unused). */
static int check_size(const char *what, const char *who, const void *p, uint32_t size, size_t known, cv_error *err) {
    if (size < known)
        return cv_set_error(err, CV_ERR_ABI, "%s: %s struct_size is %u bytes, ABI %d.%d needs %zu", who, what, size,
                            CV_ABI_MAJOR, CV_ABI_MINOR, known);
    if (size > 65536) return cv_set_error(err, CV_ERR_ABI, "%s: %s struct_size %u is implausible", who, what, size);
    if (size > known && !tail_is_zero(p, known, size))
        return cv_set_error(err, CV_ERR_ABI,
                            "%s: %s is %u bytes and sets members beyond the %zu this host knows (ABI %d.%d); it needs a "
                            "newer cvnets",
                            who, what, size, known, CV_ABI_MAJOR, CV_ABI_MINOR);
    return CV_OK;
}

/* Copy a plugin's schema into the host layout, checking each entry's size. */
static int copy_schema(const cv_option_desc *src, const char *who, cv_option_desc **out, cv_error *err) {
    *out = NULL;
    int n = 0;
    size_t stride = src && src[0].key ? src[0].struct_size : sizeof(cv_option_desc);
    if (src && src[0].key) {
        int rc = check_size("option schema entry", who, src, src[0].struct_size, sizeof(cv_option_desc), err);
        if (rc != CV_OK) return rc;
    }
    const unsigned char *base = (const unsigned char *)src;
    for (; src; n++) {
        const cv_option_desc *d = (const cv_option_desc *)(base + (size_t)n * stride);
        if (!d->key) break;
        if (n >= 4096) return cv_set_error(err, CV_ERR_INVALID, "%s: option schema has no CV_OPT_END terminator", who);
        if (d->struct_size != stride)
            return cv_set_error(err, CV_ERR_ABI, "%s: option '%s' has struct_size %u, the first option %zu", who, d->key,
                                d->struct_size, stride);
        int rc = check_size("option schema entry", who, d, d->struct_size, sizeof(cv_option_desc), err);
        if (rc != CV_OK) return rc;
    }
    cv_option_desc *copy = cv_alloc_array((size_t)n + 1, sizeof *copy);
    if (!copy) return cv_set_error(err, CV_ERR_NOMEM, "out of memory loading %s", who);
    for (int i = 0; i < n; i++) memcpy(&copy[i], base + (size_t)i * stride, sizeof *copy);
    *out = copy; /* copy[n] is zero: the terminator */
    return CV_OK;
}

/* ---- registration ---------------------------------------------------------------------- */
static int fail_load(cv_registry *r, cv_error *err, int status, const char *fmt, ...) CV_PRINTF(4, 5);
static int fail_load(cv_registry *r, cv_error *err, int status, const char *fmt, ...) {
    char msg[CV_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cv_set_error(&r->loading_err, status, "%s", msg);
    return cv_set_error(err, status, "%s", msg);
}

int cv_registry_register(void *host_ctx, const cv_component_desc *desc, cv_error *err) {
    cv_ctx *ctx = host_ctx;
    cv_registry *r = ctx ? ctx->registry : NULL;
    if (!r) return cv_set_error(err, CV_ERR_INVALID, "register_component called with a bad host context");
    if (!r->loading)
        return cv_set_error(err, CV_ERR_INVALID, "register_component is only valid inside cvnets_plugin_entry_v1");
    const char *file = r->loading_file;
    if (!desc) return fail_load(r, err, CV_ERR_INVALID, "%s: registered a NULL descriptor", file);
    cv_error e;
    cv_error_init(&e);
    if (check_size("component descriptor", file, desc, desc->struct_size, sizeof(cv_component_desc), &e) != CV_OK)
        return fail_load(r, err, e.status, "%s", e.message);
    cv_component_desc d;
    memcpy(&d, desc, sizeof d);
    d.struct_size = sizeof d;
    const char *kname = cv_kind_name(d.kind);
    char who[600];
    snprintf(who, sizeof who, "%s: %s/%s", file, kname ? kname : "?", d.name ? d.name : "(null)");
    if (d.abi_major != CV_ABI_MAJOR)
        return fail_load(r, err, CV_ERR_ABI, "%s was built for cvnets ABI %u.%u; this host is ABI %d.%d (the major version must match: rebuild the plugin against this SDK)",
                         who, d.abi_major, d.abi_minor, CV_ABI_MAJOR, CV_ABI_MINOR);
    if (d.abi_minor > CV_ABI_MINOR)
        return fail_load(r, err, CV_ERR_ABI, "%s was built for cvnets ABI %u.%u, newer than this host's %d.%d: upgrade cvnets or rebuild the plugin against this SDK",
                         who, d.abi_major, d.abi_minor, CV_ABI_MAJOR, CV_ABI_MINOR);
    if (!kname) return fail_load(r, err, CV_ERR_INVALID, "%s: unknown component kind %d", file, d.kind);
    if (!cv_plugin_name_ok(d.name))
        return fail_load(r, err, CV_ERR_INVALID, "%s: component name '%s' must be non-empty and use only a-z, 0-9 and '_'",
                         file, d.name ? d.name : "(null)");
    if (r->want_kind >= 0 && (d.kind != r->want_kind || strcmp(d.name, r->want_name) != 0))
        return fail_load(r, err, CV_ERR_INVALID, "%s registers %s/%s but its file name says %s/%s (files are named cvnets-<kind>-<name>.so)",
                         file, kname, d.name, cv_kind_name(r->want_kind), r->want_name);
    if (!d.create || !d.destroy) return fail_load(r, err, CV_ERR_INVALID, "%s: create and destroy are required", who);
    if (!d.vtable) return fail_load(r, err, CV_ERR_INVALID, "%s: no vtable", who);
    const uint32_t vsize = *(const uint32_t *)d.vtable;
    if (check_size("vtable", who, d.vtable, vsize, vsize < vtable_size(d.kind) ? vtable_size_1_0(d.kind)
                                                                               : vtable_size(d.kind), &e) != CV_OK)
        return fail_load(r, err, e.status, "%s", e.message);
    if (!d.task) d.task = "any";
    if (!d.summary) d.summary = "";
    const cv_plugin *dup = cv_registry_find(r, d.kind, d.name);
    if (dup)
        return fail_load(r, err, CV_ERR_INVALID, "%s/%s is registered twice: by %s and by %s", kname, d.name, dup->file, file);
    cv_option_desc *schema;
    if (copy_schema(d.options, who, &schema, &e) != CV_OK) return fail_load(r, err, e.status, "%s", e.message);
    char owner[300];
    snprintf(owner, sizeof owner, "%s/%s (%s)", kname, d.name, file);
    if (cv_schema_check(schema, owner, &e) != CV_OK) {
        cv_free(schema);
        return fail_load(r, err, e.status, "%s", e.message);
    }
    d.options = schema;
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 32;
        cv_plugin *items = cv_alloc_array((size_t)cap, sizeof *items);
        cv_option_desc **schemas = cv_alloc_array((size_t)cap, sizeof *schemas);
        void **vtables = cv_alloc_array((size_t)cap, sizeof *vtables);
        if (!items || !schemas || !vtables) {
            cv_free(items);
            cv_free(schemas);
            cv_free(vtables);
            cv_free(schema);
            return fail_load(r, err, CV_ERR_NOMEM, "out of memory registering %s", who);
        }
        if (r->n) {
            memcpy(items, r->items, (size_t)r->n * sizeof *items);
            memcpy(schemas, r->schemas, (size_t)r->n * sizeof *schemas);
            memcpy(vtables, r->vtables, (size_t)r->n * sizeof *vtables);
        }
        cv_free(r->items);
        cv_free(r->schemas);
        cv_free(r->vtables);
        r->vtables = vtables;
        r->items = items;
        r->schemas = schemas;
        r->cap = cap;
    }
    r->items[r->n].desc = d;
    r->items[r->n].file = file;
    r->vtables[r->n] = NULL;
    if (vsize < vtable_size(d.kind)) { /* an older plugin: members it lacks read as zero */
        void *padded = cv_alloc_array(1, vtable_size(d.kind));
        if (!padded) {
            cv_free(schema);
            return fail_load(r, err, CV_ERR_NOMEM, "out of memory registering %s", who);
        }
        memcpy(padded, d.vtable, vsize);
        r->items[r->n].desc.vtable = r->vtables[r->n] = padded;
    }
    r->schemas[r->n] = schema;
    r->n++;
    return CV_OK;
}

/* ---- loading files ---------------------------------------------------------------------- */
static void rollback(cv_registry *r, int start) {
    for (int i = start; i < r->n; i++) {
        cv_free(r->schemas[i]);
        cv_free(r->vtables[i]);
    }
    r->n = start;
}

static int load_file(cv_ctx *ctx, const char *path, int check_name, cv_error *err) {
    cv_registry *r = ctx->registry;
    char real[PATH_MAX];
    if (!realpath(path, real)) return cv_set_error(err, CV_ERR_IO, "cannot open plugin %s: %s", path, strerror(errno));
    for (int i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i].path, real) == 0) return CV_OK;
    int kind = -1;
    char name[256];
    if (!cv_plugin_file_parse(real, &kind, name, sizeof name)) {
        if (check_name)
            return cv_set_error(err, CV_ERR_INVALID,
                                "%s: plugin files are named cvnets-<kind>-<name>.so (kind: backend, comm, model, dataset, "
                                "transform, sampler, loss, optimizer, scheduler or metric; name: a-z, 0-9, '_')",
                                real);
        kind = -1;
    }
    if (r->nfiles == r->capfiles) {
        int cap = r->capfiles ? 2 * r->capfiles : 16;
        loaded_file *f = cv_alloc_array((size_t)cap, sizeof *f);
        if (!f) return cv_set_error(err, CV_ERR_NOMEM, "out of memory loading %s", real);
        if (r->nfiles) memcpy(f, r->files, (size_t)r->nfiles * sizeof *f);
        cv_free(r->files);
        r->files = f;
        r->capfiles = cap;
    }
    char *saved = cv_strdup(real);
    if (!saved) return cv_set_error(err, CV_ERR_NOMEM, "out of memory loading %s", real);
    dlerror();
    void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        cv_free(saved);
        return cv_set_error(err, CV_ERR_IO, "cannot load plugin %s: %s", real, why ? why : "dlopen failed");
    }
    dlerror();
    void *sym = dlsym(h, CV_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        dlclose(h); /* not a plugin: none of its code was called by us */
        cv_free(saved);
        return cv_set_error(err, CV_ERR_INVALID, "%s is not a cvnets plugin: it does not export %s", real,
                            CV_PLUGIN_ENTRY_SYMBOL);
    }
    cv_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object to function pointer without a pedantic cast */
    r->loading = 1;
    r->loading_file = saved;
    r->want_kind = check_name ? kind : -1;
    snprintf(r->want_name, sizeof r->want_name, "%s", kind >= 0 ? name : "");
    r->loading_start = r->n;
    cv_error_init(&r->loading_err);
    cv_error e;
    cv_error_init(&e);
    int rc = entry(&ctx->host, &e);
    r->loading = 0;
    int start = r->loading_start;
    if (r->loading_err.status != CV_OK) { /* a registration failed, even if the plugin ignored it */
        rollback(r, start);
        cv_free(saved);
        return cv_set_error(err, r->loading_err.status, "%s", r->loading_err.message);
    }
    if (rc != CV_OK) {
        rollback(r, start);
        cv_free(saved);
        if (e.status == CV_OK || !e.message[0])
            return cv_set_error(err, rc < 0 ? rc : CV_ERR_INTERNAL, "plugin %s failed to initialise (%s) without a message",
                                real, cv_status_name(rc));
        return cv_set_error(err, rc < 0 ? rc : e.status, "plugin %s failed to initialise: %s", real, e.message);
    }
    if (r->n == start) {
        cv_free(saved);
        return cv_set_error(err, CV_ERR_INVALID, "plugin %s registered no component", real);
    }
    if (check_name && !cv_registry_find(r, kind, name)) {
        rollback(r, start);
        cv_free(saved);
        return cv_set_error(err, CV_ERR_INVALID, "plugin %s did not register %s/%s", real, cv_kind_name(kind), name);
    }
    r->files[r->nfiles].path = saved;
    r->files[r->nfiles].handle = h;
    r->nfiles++;
    cv_log(ctx, CV_LOG_DEBUG, "host", "loaded %s (%d component%s)", saved, r->n - start, r->n - start == 1 ? "" : "s");
    return CV_OK;
}

int cv_registry_load_file(cv_ctx *ctx, const char *path, cv_error *err) { return load_file(ctx, path, 1, err); }
int cv_registry_load_file_any_name(cv_ctx *ctx, const char *path, cv_error *err) { return load_file(ctx, path, 0, err); }

const cv_plugin *cv_registry_find(const cv_registry *r, int kind, const char *name) {
    for (int i = 0; r && name && i < r->n; i++)
        if (r->items[i].desc.kind == kind && strcmp(r->items[i].desc.name, name) == 0) return &r->items[i];
    return NULL;
}

int cv_registry_count(const cv_registry *r) { return r ? r->n : 0; }
const cv_plugin *cv_registry_at(const cv_registry *r, int i) { return r && i >= 0 && i < r->n ? &r->items[i] : NULL; }

/* ---- search path ---------------------------------------------------------------------------- */
static int push_dir(char ***v, int *n, const char *dir) {
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(dir, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) return CV_OK; /* missing: skip */
    for (int i = 0; i < *n; i++)
        if (strcmp((*v)[i], real) == 0) return CV_OK;
    char **nv = cv_alloc_array((size_t)*n + 1, sizeof *nv);
    char *s = cv_strdup(real);
    if (!nv || !s) {
        cv_free(nv);
        cv_free(s);
        return CV_ERR_NOMEM;
    }
    if (*n) memcpy(nv, *v, (size_t)*n * sizeof *nv);
    cv_free(*v);
    nv[(*n)++] = s;
    *v = nv;
    return CV_OK;
}

/* split a ':'-list; empty entries would mean "the working directory" in PATH
 * conventions, so they are dropped */
static int push_list(char ***v, int *n, const char *list, int keep_missing) {
    const char *p = list;
    while (p && *p) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len > 0 && len < PATH_MAX) {
            char dir[PATH_MAX];
            memcpy(dir, p, len);
            dir[len] = 0;
            int rc;
            if (keep_missing) { /* user dirs are kept verbatim (made absolute when they exist) */
                char real[PATH_MAX];
                char **nv = cv_alloc_array((size_t)*n + 1, sizeof *nv);
                char *s = cv_strdup(realpath(dir, real) ? real : dir);
                if (!nv || !s) {
                    cv_free(nv);
                    cv_free(s);
                    return CV_ERR_NOMEM;
                }
                if (*n) memcpy(nv, *v, (size_t)*n * sizeof *nv);
                cv_free(*v);
                nv[(*n)++] = s;
                *v = nv;
                rc = CV_OK;
            } else {
                rc = push_dir(v, n, dir);
            }
            if (rc != CV_OK) return rc;
        }
        p = colon ? colon + 1 : NULL;
    }
    return CV_OK;
}

int cv_registry_add_dirs(cv_registry *r, const char *dirs) { return push_list(&r->user_dirs, &r->nuser, dirs, 1); }

void cv_registry_use_defaults(cv_registry *r, int use_env, int use_exe_dir) {
    r->no_env = !use_env;
    r->no_exe = !use_exe_dir;
}

int cv_registry_search_dirs(cv_registry *r, const char ***dirs) {
    free_strings(r->search, r->nsearch);
    r->search = NULL;
    r->nsearch = 0;
    for (int i = 0; i < r->nuser; i++) push_dir(&r->search, &r->nsearch, r->user_dirs[i]);
    if (!r->no_env) {
        const char *env = secure_getenv("CVNETS_PLUGIN_PATH"); /* NULL under setuid/setgid */
        if (env) push_list(&r->search, &r->nsearch, env, 0);
    }
    if (!r->no_exe) {
        char exe[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (len > 0) {
            exe[len] = 0;
            char *slash = strrchr(exe, '/');
            if (slash) {
                *slash = 0;
                char dir[PATH_MAX + 32];
                snprintf(dir, sizeof dir, "%s/../lib/cvnets/plugins", exe);
                push_dir(&r->search, &r->nsearch, dir);
            }
        }
    }
    *dirs = (const char **)r->search;
    return r->nsearch;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* file names matching cvnets-<prefix>*.so in dir, sorted */
static int list_dir(const char *dir, const char *prefix, char ***out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    char **v = NULL;
    int n = 0, cap = 0;
    struct dirent *ent;
    size_t plen = strlen(prefix);
    while ((ent = readdir(d))) {
        size_t len = strlen(ent->d_name);
        if (len < plen + 3 || strncmp(ent->d_name, prefix, plen) != 0 || strcmp(ent->d_name + len - 3, ".so") != 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nv = cv_alloc_array((size_t)cap, sizeof *nv);
            if (!nv) break;
            if (n) memcpy(nv, v, (size_t)n * sizeof *nv);
            cv_free(v);
            v = nv;
        }
        if (!(v[n] = cv_strdup(ent->d_name))) break;
        n++;
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, by_name);
    *out = v;
    return n;
}

int cv_registry_load(cv_ctx *ctx, int kind, const char *name, const cv_plugin **out, cv_error *err) {
    cv_registry *r = ctx->registry;
    *out = NULL;
    const char *kname = cv_kind_name(kind);
    if (!kname) return cv_set_error(err, CV_ERR_INVALID, "unknown plugin kind %d", kind);
    if (!cv_plugin_name_ok(name))
        return cv_set_error(err, CV_ERR_INVALID, "'%s' is not a valid %s name (use a-z, 0-9 and '_')", name ? name : "", kname);
    if ((*out = cv_registry_find(r, kind, name))) return CV_OK;
    const char **dirs;
    int nd = cv_registry_search_dirs(r, &dirs);
    char file[300];
    snprintf(file, sizeof file, "cvnets-%s-%s.so", kname, name);
    for (int i = 0; i < nd; i++) {
        char path[PATH_MAX + 320];
        snprintf(path, sizeof path, "%s/%s", dirs[i], file);
        if (access(path, F_OK) != 0) continue;
        int rc = cv_registry_load_file(ctx, path, err);
        if (rc != CV_OK) return rc;
        *out = cv_registry_find(r, kind, name);
        return *out ? CV_OK : cv_set_error(err, CV_ERR_INTERNAL, "%s loaded but %s/%s is missing", path, kname, name);
    }
    /* not found: say where we looked and what is there, with the nearest name */
    char msg[CV_ERROR_MESSAGE_MAX];
    size_t used = 0;
#define APPEND(...) (used += used < sizeof msg ? (size_t)snprintf(msg + used, sizeof msg - used, __VA_ARGS__) : 0)
    APPEND("no %s plugin '%s': %s not found in", kname, name, file);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "cvnets-%s-", kname);
    const char *names[256];
    char *owned[256];
    int nn = 0;
    if (nd == 0) APPEND(" any directory (none exists: use --plugin-path DIR or CVNETS_PLUGIN_PATH)");
    for (int i = 0; i < nd; i++) {
        char **files;
        int nf = list_dir(dirs[i], prefix, &files);
        APPEND("%s %s (", i ? ";" : "", dirs[i]);
        if (nf == 0) APPEND("no %s plugins", kname);
        for (int j = 0; j < nf; j++) {
            files[j][strlen(files[j]) - 3] = 0; /* drop ".so" */
            const char *short_name = files[j] + strlen(prefix);
            APPEND("%s%s", j ? ", " : "", short_name);
            if (nn < 256) {
                owned[nn] = files[j];
                names[nn++] = short_name;
            } else {
                cv_free(files[j]);
            }
        }
        APPEND(")");
        cv_free(files);
    }
#undef APPEND
    const char *near = cv_nearest(name, names, nn);
    int rc = cv_set_error(err, CV_ERR_INVALID, "%s%s%s%s", msg, near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    for (int i = 0; i < nn; i++) cv_free(owned[i]);
    return rc;
}

int cv_registry_load_all(cv_ctx *ctx, cv_registry_error_fn on_error, void *user) {
    cv_registry *r = ctx->registry;
    const char **dirs;
    int nd = cv_registry_search_dirs(r, &dirs), failed = 0;
    for (int i = 0; i < nd; i++) {
        char **files;
        int nf = list_dir(dirs[i], "cvnets-", &files);
        for (int j = 0; j < nf; j++) {
            char path[PATH_MAX + 320];
            snprintf(path, sizeof path, "%s/%s", dirs[i], files[j]);
            cv_error e;
            cv_error_init(&e);
            int kind;
            char name[256];
            const cv_plugin *seen;
            if (cv_plugin_file_parse(path, &kind, name, sizeof name) && (seen = cv_registry_find(r, kind, name))) {
                char real[PATH_MAX];
                if (realpath(path, real) && strcmp(real, seen->file) != 0 && on_error) {
                    cv_set_error(&e, CV_ERR_INVALID, "%s/%s in %s is shadowed by %s (earlier in the search path)",
                                 cv_kind_name(kind), name, path, seen->file);
                    on_error(user, path, &e);
                }
            } else if (cv_registry_load_file(ctx, path, &e) != CV_OK) {
                failed++;
                if (on_error) on_error(user, path, &e);
            }
            cv_free(files[j]);
        }
        cv_free(files);
    }
    return failed;
}
