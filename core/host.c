/* core/host.c — the cv_host table: allocation, errors, logging, deterministic
 * random numbers, kind names.  Registration, options, state and interfaces are
 * provided by registry.c, options.c, state.c and engine code; this file only
 * wires them into the table. */
#include "host.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* defined by the modules that own them */
int cv_registry_register(void *host_ctx, const cv_component_desc *desc, cv_error *err);
const cv_value *cv_options_get(const cv_options *opts, const char *key);
int cv_state_write(cv_state_writer *w, const char *name, const void *data, size_t bytes, cv_error *err);
int cv_state_read(cv_state_reader *r, const char *name, void *data, size_t bytes, cv_error *err);
cv_registry *cv_registry_create(void);
void cv_registry_destroy(cv_registry *r);

static const char *const kind_names[CV_KIND_COUNT_V1] = {
    "backend", "comm", "model", "dataset", "transform", "sampler", "loss", "optimizer", "scheduler", "metric",
};
static const char *const kind_dirs[CV_KIND_COUNT_V1] = {
    "backends", "comms", "models", "datasets", "transforms", "samplers", "losses", "optimizers", "schedulers", "metrics",
};

const char *cv_kind_name(int kind) { return kind >= 0 && kind < CV_KIND_COUNT_V1 ? kind_names[kind] : NULL; }
const char *cv_kind_dir(int kind) { return kind >= 0 && kind < CV_KIND_COUNT_V1 ? kind_dirs[kind] : NULL; }
int cv_kind_from_name(const char *name) {
    for (int k = 0; name && k < CV_KIND_COUNT_V1; k++)
        if (strcmp(name, kind_names[k]) == 0) return k;
    return -1;
}

const char *cv_status_name(int status) {
    switch (status) {
    case CV_OK: return "ok";
    case CV_ERR_INVALID: return "invalid input";
    case CV_ERR_NOMEM: return "out of memory";
    case CV_ERR_IO: return "i/o error";
    case CV_ERR_UNSUPPORTED: return "unsupported";
    case CV_ERR_ABI: return "ABI mismatch";
    case CV_ERR_NUMERIC: return "non-finite value";
    case CV_ERR_INTERNAL: return "internal error";
    case CV_ERR_INTERRUPTED: return "interrupted";
    default: return "unknown error";
    }
}

/* ---- memory ------------------------------------------------------------------ */
void *cv_alloc(size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (bytes > SIZE_MAX - 63) return NULL;
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}
void *cv_alloc_array(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = cv_alloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}
void cv_free(void *p) { free(p); }
char *cv_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = cv_alloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- errors and logging ------------------------------------------------------------ */
void cv_error_init(cv_error *err) {
    memset(err, 0, sizeof *err);
    err->struct_size = sizeof *err;
}

int cv_set_error(cv_error *err, int status, const char *fmt, ...) {
    if (!err || err->status != CV_OK) return status; /* first failure wins */
    err->status = status ? status : CV_ERR_INTERNAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return err->status;
}

static const char *const level_names[] = { "debug", "info", "warning", "error" };

void cv_log(cv_ctx *ctx, int level, const char *component, const char *fmt, ...) {
    if (!ctx || level < ctx->log_level) return;
    if (level < 0) level = 0;
    if (level > 3) level = 3;
    FILE *f = ctx->log_file ? ctx->log_file : stderr;
    va_list ap;
    va_start(ap, fmt);
    if (level >= CV_LOG_WARN) fprintf(f, "%s: ", level_names[level]);
    if (component && *component) fprintf(f, "[%s] ", component);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    va_end(ap);
}

static void host_log(void *host_ctx, int level, const char *component, const char *fmt, ...) CV_PRINTF(4, 5);
static void host_log(void *host_ctx, int level, const char *component, const char *fmt, ...) {
    cv_ctx *ctx = host_ctx;
    if (!ctx || level < ctx->log_level) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cv_log(ctx, level, component, "%s", buf);
}

/* ---- random numbers ------------------------------------------------------------------
 * A counter-based generator: out = mix(key, counter).  splitmix64's finaliser is a
 * bijection with full avalanche, so distinct (key, counter) pairs give
 * independent-looking outputs and any stream can be re-created from its key. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void cv_rng_init(cv_rng *rng, uint64_t seed, const uint64_t *coords, int ncoords) {
    uint64_t a = mix64(seed + 0x9E3779B97F4A7C15ull), b = mix64(seed ^ 0xD1B54A32D192ED03ull);
    for (int i = 0; i < ncoords; i++) {
        a = mix64(a ^ mix64(coords[i] + 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1)));
        b = mix64(b + a);
    }
    rng->key[0] = a;
    rng->key[1] = b;
    rng->counter = 0;
}

uint64_t cv_rng_u64(cv_rng *rng) {
    uint64_t c = rng->counter++;
    return mix64(rng->key[0] ^ mix64(c * 0x9E3779B97F4A7C15ull + rng->key[1]));
}

double cv_rng_uniform(cv_rng *rng) { return (double)(cv_rng_u64(rng) >> 11) * 0x1.0p-53; }

double cv_rng_normal(cv_rng *rng) {
    /* Box-Muller; uses two draws per value so the stream position stays simple */
    double u1 = cv_rng_uniform(rng), u2 = cv_rng_uniform(rng);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- versioned interfaces ----------------------------------------------------------- */
static const void *host_get_interface(void *host_ctx, const char *name) {
    cv_ctx *ctx = host_ctx;
    for (int i = 0; ctx && name && i < ctx->n_interfaces; i++)
        if (strcmp(ctx->interfaces[i].name, name) == 0) return ctx->interfaces[i].table;
    return NULL;
}

int cv_ctx_add_interface(cv_ctx *ctx, const char *name, const void *table) {
    for (int i = 0; i < ctx->n_interfaces; i++)
        if (strcmp(ctx->interfaces[i].name, name) == 0) {
            ctx->interfaces[i].table = table;
            return CV_OK;
        }
    if (ctx->n_interfaces >= (int)(sizeof ctx->interfaces / sizeof ctx->interfaces[0])) return CV_ERR_NOMEM;
    ctx->interfaces[ctx->n_interfaces].name = name;
    ctx->interfaces[ctx->n_interfaces].table = table;
    ctx->n_interfaces++;
    return CV_OK;
}

/* ---- the context ------------------------------------------------------------------------ */
cv_ctx *cv_ctx_create(void) {
    cv_ctx *ctx = cv_alloc_array(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->log_level = CV_LOG_INFO;
    const char *lv = getenv("CVNETS_LOG"); /* debug | info | warning | error */
    if (lv && *lv) {
        int l = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(lv, level_names[i]) == 0) l = i;
        if (l < 0)
            fprintf(stderr, "warning: CVNETS_LOG=%s is not a log level (debug, info, warning or error); using info\n", lv);
        else
            ctx->log_level = l;
    }
    ctx->registry = cv_registry_create();
    if (!ctx->registry) {
        cv_free(ctx);
        return NULL;
    }
    cv_host *h = &ctx->host;
    h->struct_size = sizeof *h;
    h->abi_major = CV_ABI_MAJOR;
    h->abi_minor = CV_ABI_MINOR;
    h->host_ctx = ctx;
    h->register_component = cv_registry_register;
    h->set_error = cv_set_error;
    h->log = host_log;
    h->alloc = cv_alloc;
    h->alloc_array = cv_alloc_array;
    h->free = cv_free;
    h->strdup = cv_strdup;
    h->opt = cv_options_get;
    h->rng_init = cv_rng_init;
    h->rng_u64 = cv_rng_u64;
    h->rng_uniform = cv_rng_uniform;
    h->rng_normal = cv_rng_normal;
    h->state_write = cv_state_write;
    h->state_read = cv_state_read;
    h->get_interface = host_get_interface;
    return ctx;
}

void cv_ctx_destroy(cv_ctx *ctx) {
    if (!ctx) return;
    cv_registry_destroy(ctx->registry);
    cv_free(ctx);
}
