/* core/host.h — the host context (no globals: everything hangs off a cv_ctx) and
 * the cv_host function table handed to plugins. */
#ifndef CV_CORE_HOST_H
#define CV_CORE_HOST_H

#include <stdio.h>
#include <cvnets/cvnets.h>

typedef struct cv_registry cv_registry;

typedef struct cv_ctx {
    cv_host host;            /* host.host_ctx points back to this */
    cv_registry *registry;
    int log_level;           /* messages below this level are dropped */
    FILE *log_file;          /* stderr unless redirected */
    struct { const char *name; const void *table; } interfaces[8]; /* get_interface */
    int n_interfaces;
} cv_ctx;

cv_ctx *cv_ctx_create(void);
void cv_ctx_destroy(cv_ctx *ctx);
/* make a versioned interface (e.g. the engine's "cv.ops.v1") available to plugins */
int cv_ctx_add_interface(cv_ctx *ctx, const char *name, const void *table);

/* the host-side implementations, also used directly by core code */
void *cv_alloc(size_t bytes);
void *cv_alloc_array(size_t n, size_t size);
void cv_free(void *p);
char *cv_strdup(const char *s);
int cv_set_error(cv_error *err, int status, const char *fmt, ...) CV_PRINTF(3, 4);
void cv_error_init(cv_error *err);
void cv_log(cv_ctx *ctx, int level, const char *component, const char *fmt, ...) CV_PRINTF(4, 5);
void cv_rng_init(cv_rng *rng, uint64_t seed, const uint64_t *coords, int ncoords);
uint64_t cv_rng_u64(cv_rng *rng);
double cv_rng_uniform(cv_rng *rng);
double cv_rng_normal(cv_rng *rng);
const char *cv_kind_name(int kind);       /* "model", …; NULL when out of range */
const char *cv_kind_dir(int kind);        /* "models", … */
int cv_kind_from_name(const char *name);  /* -1 when unknown */
const char *cv_status_name(int status);

#endif
