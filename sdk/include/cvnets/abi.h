/* cvnets/abi.h — the stable C ABI between the cvnets host and its plugins.
 *
 * A plugin exports exactly one symbol, cvnets_plugin_entry_v1.  The host calls it
 * with a const function table (cv_host) and the plugin registers one or more
 * component descriptors through it.  Rules that keep the ABI stable:
 *   - every struct that crosses the boundary starts with uint32_t struct_size;
 *   - structs and tables are append-only: new members go at the end and a reader
 *     checks struct_size before touching them;
 *   - a plugin loads when its abi_major equals the host's and its abi_minor is
 *     not newer than the host's;
 *   - errors are values: functions return CV_OK or a negative cv_status and fill
 *     a host-owned cv_error; no plugin exits or aborts on bad input;
 *   - memory handed across the boundary is allocated and freed with the host's
 *     allocator (cv_host.alloc / cv_host.free).
 * Large surfaces (the graph/op interface, image I/O) are separate versioned
 * interfaces fetched by name with cv_host.get_interface. */
#ifndef CVNETS_ABI_H
#define CVNETS_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CV_ABI_MAJOR 1
#define CV_ABI_MINOR 4 /* 1.1: tensor layouts between kernels (backend.h), non-blocking all-reduce (components.h);
                        * 1.2: recorded kernel sequences, CUDA graphs (backend.h);
                        * 1.3: channels-last NHWC as a backend's blocked layout (backend.h);
                        * 1.4: blocked activations stored in 16 bits (backend.h, layout classes) */

#if defined(__GNUC__)
#define CV_EXPORT __attribute__((visibility("default")))
#define CV_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CV_EXPORT
#define CV_PRINTF(a, b)
#endif

/* ---- status codes (negative = failure) ------------------------------------ */
typedef enum cv_status {
    CV_OK = 0,
    CV_ERR_INVALID = -1,     /* bad argument, option or input data */
    CV_ERR_NOMEM = -2,       /* allocation failed or a size would overflow */
    CV_ERR_IO = -3,          /* file missing, unreadable, truncated, corrupt */
    CV_ERR_UNSUPPORTED = -4, /* valid request this component cannot do */
    CV_ERR_ABI = -5,         /* version or struct-size mismatch */
    CV_ERR_NUMERIC = -6,     /* NaN/Inf where a finite value is required */
    CV_ERR_INTERNAL = -7,    /* a bug: an invariant did not hold */
    CV_ERR_INTERRUPTED = -8, /* stopped by a signal */
} cv_status;

/* Host-owned error: the first failure wins, later ones are ignored so the
 * message names the root cause.  Fill it through cv_host.set_error. */
#define CV_ERROR_MESSAGE_MAX 1024
typedef struct cv_error {
    uint32_t struct_size;
    int32_t status;
    char message[CV_ERROR_MESSAGE_MAX];
} cv_error;

/* ---- component kinds ------------------------------------------------------- */
typedef enum cv_kind {
    CV_KIND_BACKEND = 0,
    CV_KIND_COMM = 1,
    CV_KIND_MODEL = 2,
    CV_KIND_DATASET = 3,
    CV_KIND_TRANSFORM = 4,
    CV_KIND_SAMPLER = 5,
    CV_KIND_LOSS = 6,
    CV_KIND_OPTIMIZER = 7,
    CV_KIND_SCHEDULER = 8,
    CV_KIND_METRIC = 9,
    CV_KIND_COUNT_V1 = 10 /* number of kinds in ABI 1.0; never reordered */
} cv_kind;

typedef enum cv_log_level { CV_LOG_DEBUG = 0, CV_LOG_INFO = 1, CV_LOG_WARN = 2, CV_LOG_ERROR = 3 } cv_log_level;

/* ---- deterministic random numbers ----------------------------------------- */
/* A counter-based generator: the stream is a pure function of its key, so every
 * random choice can be derived from (seed, epoch, step, sample index) whatever
 * the number of threads or ranks.  Plain data: plugins may copy it freely. */
typedef struct cv_rng {
    uint64_t key[2];
    uint64_t counter;
} cv_rng;

/* ---- opaque handles -------------------------------------------------------- */
typedef struct cv_options cv_options;     /* a validated recipe section */
typedef struct cv_state_writer cv_state_writer;
typedef struct cv_state_reader cv_state_reader;
struct cv_component_desc;

/* ---- option values (see options.h for schemas) ----------------------------- */
typedef enum cv_opt_type {
    CV_OPT_BOOL = 0,
    CV_OPT_INT = 1,
    CV_OPT_FLOAT = 2,
    CV_OPT_STRING = 3,
    CV_OPT_ENUM = 4,
    CV_OPT_PATH = 5,
    CV_OPT_INT_LIST = 6,
    CV_OPT_FLOAT_LIST = 7,
} cv_opt_type;

typedef struct cv_value {
    uint32_t struct_size;
    int32_t type;        /* cv_opt_type */
    int32_t is_set;      /* 1 when the recipe (or a default) gave a value */
    int32_t count;       /* list length for the list types */
    int64_t i;           /* BOOL, INT */
    double f;            /* FLOAT */
    const char *s;       /* STRING, ENUM, PATH (never NULL when is_set) */
    const int64_t *ints; /* INT_LIST */
    const double *floats;/* FLOAT_LIST */
} cv_value;

/* ---- the host table -------------------------------------------------------- */
typedef struct cv_host {
    uint32_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t reserved0;
    void *host_ctx; /* passed back as the first argument of every call below */

    /* registration: only valid during cvnets_plugin_entry_v1 */
    int (*register_component)(void *host_ctx, const struct cv_component_desc *desc, cv_error *err);

    /* errors and logging */
    int (*set_error)(cv_error *err, int status, const char *fmt, ...) CV_PRINTF(3, 4);
    void (*log)(void *host_ctx, int level, const char *component, const char *fmt, ...) CV_PRINTF(4, 5);

    /* memory: everything freed by the other side goes through these */
    void *(*alloc)(size_t bytes);            /* 64-byte aligned; NULL on failure */
    void *(*alloc_array)(size_t n, size_t size); /* overflow-checked, zeroed */
    void (*free)(void *p);
    char *(*strdup)(const char *s);

    /* options of a validated section; NULL when the key is not in the schema */
    const cv_value *(*opt)(const cv_options *opts, const char *key);

    /* random numbers: init from a seed and up to 4 stream coordinates */
    void (*rng_init)(cv_rng *rng, uint64_t seed, const uint64_t *coords, int ncoords);
    uint64_t (*rng_u64)(cv_rng *rng);
    double (*rng_uniform)(cv_rng *rng);       /* [0, 1) */
    double (*rng_normal)(cv_rng *rng);        /* N(0, 1) */

    /* stateful components save and restore through these (named blobs) */
    int (*state_write)(cv_state_writer *w, const char *name, const void *data, size_t bytes, cv_error *err);
    int (*state_read)(cv_state_reader *r, const char *name, void *data, size_t bytes, cv_error *err);

    /* versioned interfaces by name, e.g. CV_OPS_INTERFACE ("cv.ops.v1"); NULL if unknown */
    const void *(*get_interface)(void *host_ctx, const char *name);
} cv_host;

/* The one symbol a plugin exports.  Register components through host, return
 * CV_OK, or fill err and return a negative status. */
typedef int (*cv_plugin_entry_fn)(const cv_host *host, cv_error *err);
#define CV_PLUGIN_ENTRY_SYMBOL "cvnets_plugin_entry_v1"
#define CV_PLUGIN_ENTRY CV_EXPORT int cvnets_plugin_entry_v1(const cv_host *host, cv_error *err)

/* Convenience: read a struct member only when the producer's struct has it. */
#define CV_HAS_MEMBER(ptr, type, member) \
    ((ptr)->struct_size >= offsetof(type, member) + sizeof(((type *)0)->member))

#ifdef __cplusplus
}
#endif
#endif
