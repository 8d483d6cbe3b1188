/* cvnets/components.h — component descriptors and the vtable of every kind.
 *
 * A plugin registers cv_component_desc values; desc->vtable points to the
 * kind's vtable below (each starts with struct_size).  create() receives a
 * validated recipe section (args->opts) and returns an instance in *self;
 * destroy() frees it.  Components with state that a resumed run needs (optimizer
 * moments are host-owned; sampler, scheduler, SET, EMA positions are not) save and
 * restore it through save_state / load_state. */
#ifndef CVNETS_COMPONENTS_H
#define CVNETS_COMPONENTS_H

#include "abi.h"
#include "options.h"
#include "ops.h"
#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cv_split { CV_SPLIT_TRAIN = 0, CV_SPLIT_VAL = 1 } cv_split;

/* Everything a component may need at creation.  Fields not relevant to a kind
 * are zero. */
typedef struct cv_create_args {
    uint32_t struct_size;
    int32_t split;              /* datasets, transforms: cv_split */
    const cv_host *host;
    const cv_options *opts;     /* this component's validated section */
    uint64_t seed;              /* [run] seed */
    int32_t rank, world_size;   /* data-parallel position */
    int32_t threads;            /* [run] threads (backends) */
    int32_t num_classes;        /* from the dataset (models, losses, metrics, batch transforms) */
    int32_t in_channels;        /* from the dataset (models) */
    int64_t dataset_length;     /* samplers */
    const char *out_dir;        /* the run's output folder, may be NULL (check, help) */
    const char *recipe_dir;     /* folder of the recipe file, for relative paths */
} cv_create_args;

typedef struct cv_component_desc {
    uint32_t struct_size;
    uint32_t abi_major, abi_minor;  /* CV_ABI_MAJOR / CV_ABI_MINOR the plugin was built with */
    int32_t kind;                   /* cv_kind */
    const char *name;               /* must match the file: cvnets-<kind>-<name>.so */
    const char *task;               /* "classification", "segmentation", "detection", "any" */
    const char *summary;            /* one line for `cvnets plugins` and `cvnets help` */
    const cv_option_desc *options;  /* terminated by CV_OPT_END */
    int (*create)(const cv_create_args *args, void **self, cv_error *err);
    void (*destroy)(void *self);
    int (*save_state)(void *self, cv_state_writer *w, cv_error *err);  /* optional */
    int (*load_state)(void *self, cv_state_reader *r, cv_error *err);  /* optional */
    const void *vtable;             /* the kind's vtable */
} cv_component_desc;

/* ---- model ---------------------------------------------------------------------- */
typedef struct cv_model_vtable {
    uint32_t struct_size;
    /* classification logits [N, num_classes] for images x [N,C,H,W] */
    cv_tensor *(*forward)(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x);
    /* backbone: feature maps at strides 4, 8, 16, 32 (out[0..3]; NULL where the
     * output stride makes a level coincide with the previous one) */
    int (*features)(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x, cv_tensor *out[4]);
} cv_model_vtable;

/* ---- dataset -------------------------------------------------------------------- */
typedef struct cv_image {
    int32_t h, w, c;           /* HWC */
    int32_t dtype;             /* CV_U8 or CV_F32 */
    void *data;                /* host allocator; owned by the sample */
} cv_image;

typedef struct cv_sample {
    uint32_t struct_size;
    int32_t label;
    cv_image image;
    const char *path;          /* for error messages; may be NULL; owned by the dataset */
    cv_image mask;             /* segmentation (dtype CV_U8, c = 1), data NULL when absent */
    int32_t num_boxes;         /* detection: boxes [num_boxes][4] x0,y0,x1,y1 in pixels */
    float *boxes;              /* host allocator */
    int32_t *box_labels;       /* host allocator */
} cv_sample;

typedef struct cv_dataset_vtable {
    uint32_t struct_size;
    int64_t (*length)(void *self);
    int32_t (*num_classes)(void *self);
    int32_t (*channels)(void *self);
    const char *(*class_name)(void *self, int32_t label);
    /* fill *out (host-allocated image); CV_ERR_IO for a corrupt file, naming its path */
    int (*get)(void *self, int64_t index, cv_sample *out, cv_error *err);
} cv_dataset_vtable;

/* ---- transform ------------------------------------------------------------------ */
typedef struct cv_transform_ctx {
    uint32_t struct_size;
    int32_t target_h, target_w; /* the resolution the sampler chose for this batch */
    int32_t training;
    int32_t num_classes;
    cv_rng rng;                 /* derived from (seed, epoch, step, sample index) */
} cv_transform_ctx;

/* A collated batch on the host: images f32 NCHW; soft_labels [n][num_classes]
 * is always allocated and filled one-hot before batch transforms run. */
typedef struct cv_batch {
    uint32_t struct_size;
    int32_t n, c, h, w;
    int32_t num_classes;
    float *images;
    int32_t *labels;
    float *soft_labels;
    int32_t soft;              /* set to 1 by a batch transform that mixed labels */
} cv_batch;

typedef struct cv_transform_vtable {
    uint32_t struct_size;
    int32_t batch_level;       /* 0: apply() per sample; 1: apply_batch() per batch */
    int32_t reserved;
    /* may replace s->image (free the old one with host->free) */
    int (*apply)(void *self, cv_sample *s, cv_transform_ctx *ctx, cv_error *err);
    int (*apply_batch)(void *self, cv_batch *b, cv_transform_ctx *ctx, cv_error *err);
} cv_transform_vtable;

/* ---- sampler -------------------------------------------------------------------- */
typedef struct cv_batch_spec {
    uint32_t struct_size;
    int32_t h, w, n;
    const int64_t *indices;    /* n indices, owned by the sampler, valid until the next call */
    int32_t frames;            /* appended (ABI 1.0 readers check struct_size): frames per
                                  clip for video samplers, 0 for image batches */
} cv_batch_spec;

typedef struct cv_scale { int32_t h, w, batch; } cv_scale;

typedef struct cv_sampler_vtable {
    uint32_t struct_size;
    /* start an epoch; active[i] == 0 leaves sample i out (SET), active may be NULL */
    int (*begin_epoch)(void *self, int64_t epoch, const uint8_t *active, int64_t n,
                       int64_t *num_batches, cv_error *err);
    int (*get_batch)(void *self, int64_t step, cv_batch_spec *out, cv_error *err);
    /* the (h, w, batch) set this sampler draws from in epoch; returns the count
     * (may exceed max: call again with a bigger array) */
    int (*scales)(void *self, int64_t epoch, cv_scale *out, int max);
} cv_sampler_vtable;

/* ---- loss ------------------------------------------------------------------------ */
typedef struct cv_loss_inputs {
    uint32_t struct_size;
    cv_tensor *logits;          /* model output */
    cv_tensor *target;          /* i32 [N] labels or f32 [N,C] soft labels */
    cv_tensor *teacher_logits;  /* distillation losses; NULL otherwise */
} cv_loss_inputs;

typedef struct cv_loss_vtable {
    uint32_t struct_size;
    int32_t needs_teacher;
    int32_t reserved;
    cv_tensor *(*forward)(void *self, const cv_ops_v1 *ops, cv_graph *g, const cv_loss_inputs *in);
} cv_loss_vtable;

/* ---- optimizer ------------------------------------------------------------------- */
/* One contiguous run of the flat parameter buffer: a whole parameter tensor. */
typedef struct cv_param_segment {
    const char *name;
    int64_t offset, count;
    uint32_t tags;              /* CV_TAG_* */
    int32_t reserved;
} cv_param_segment;

typedef struct cv_optim_step {
    uint32_t struct_size;
    int32_t n_segments;
    const cv_param_segment *segments;  /* trainable parameters only */
    double lr;
    int64_t step;                       /* 1-based optimizer step */
    void *engine;
    /* run an update op (CV_OP_*_UPDATE) over [offset, offset+count) of the flat
     * param, grad and state buffers; the op's state slots are state 0..k-1 */
    int (*run_update)(void *engine, int op, const void *params, size_t params_size,
                      int64_t offset, int64_t count, cv_error *err);
    /* sum of squares of [offset, offset+count) of: 0 params, 1 grads */
    int (*sumsq)(void *engine, int which, int64_t offset, int64_t count, double *out, cv_error *err);
} cv_optim_step;

typedef struct cv_optimizer_vtable {
    uint32_t struct_size;
    int32_t state_slots;        /* f32 state values per parameter element (momentum: 1, adam: 2) */
    int32_t reserved;
    int (*step)(void *self, const cv_optim_step *s, cv_error *err);
} cv_optimizer_vtable;

/* ---- scheduler -------------------------------------------------------------------- */
typedef struct cv_sched_point {
    uint32_t struct_size;
    int32_t reserved;
    int64_t epoch, max_epochs;
    int64_t iteration;          /* global optimizer iteration, 0-based */
    int64_t max_iterations;     /* estimate for iteration-based schedules */
} cv_sched_point;

typedef struct cv_scheduler_vtable {
    uint32_t struct_size;
    double (*lr)(void *self, const cv_sched_point *p);
} cv_scheduler_vtable;

/* ---- metric ------------------------------------------------------------------------ */
typedef struct cv_metric_batch {
    uint32_t struct_size;
    int32_t n, num_classes;
    const float *logits;        /* host, [n][num_classes] */
    const int32_t *labels;      /* host, [n] */
    double loss;                /* mean loss of this batch */
    double grad_norm;           /* training only, else 0 */
} cv_metric_batch;

typedef struct cv_metric_vtable {
    uint32_t struct_size;
    void (*reset)(void *self);
    int (*update)(void *self, const cv_metric_batch *b, cv_error *err);
    /* the headline value; *json (may be NULL) gets a JSON value owned by the
     * plugin, valid until the next call (e.g. a confusion matrix) */
    double (*value)(void *self, const char **json);
    int32_t higher_is_better;
    int32_t reserved;
} cv_metric_vtable;

/* ---- comm -------------------------------------------------------------------------- */
typedef struct cv_comm_vtable {
    uint32_t struct_size;
    int32_t device_buffers;     /* 1: buffers are backend device memory (NCCL); 0: host */
    int32_t reserved;
    int32_t (*rank)(void *self);
    int32_t (*world_size)(void *self);
    int (*allreduce_sum_f32)(void *self, float *buf, int64_t n, cv_error *err);
    int (*broadcast)(void *self, void *buf, size_t bytes, int root, cv_error *err);
    int (*barrier)(void *self, cv_error *err);
    /* ABI 1.1, optional (NULL, or beyond struct_size: the host uses the blocking
     * allreduce_sum_f32 after the backward pass).  A non-blocking sum in place:
     * iallreduce_sum_f32 starts it and sets *req to a handle (NULL when already
     * done); buf must hold its final values (the host has synchronised the
     * backend) and must not be read or written until wait returns.  Every rank
     * starts its reductions in the same order.  wait completes the reduction and
     * releases req, on success and on failure alike (a dead or stuck peer: an
     * error after the comm's timeout, as for the blocking calls; wait(NULL) is
     * CV_OK).  test (optional) makes progress without blocking and sets *done
     * to 1 once wait would return at once; req stays valid until wait.
     * buf is host memory for device_buffers = 0 and device memory for 1. */
    int (*iallreduce_sum_f32)(void *self, float *buf, int64_t n, void **req, cv_error *err);
    int (*test)(void *self, void *req, int *done, cv_error *err);
    int (*wait)(void *self, void *req, cv_error *err);
} cv_comm_vtable;

#ifdef __cplusplus
}
#endif
#endif
