/* core/data/loader.h — the data loader: worker threads turn sampler steps into
 * collated batches (dataset get -> per-sample transforms -> collate to f32 NCHW
 * with one-hot soft labels -> batch transforms) and hand them to the trainer in
 * step order through a bounded ring.
 *
 * Determinism: every random choice derives from (seed, epoch, step, sample
 * position), so a batch's content does not depend on the number of workers.
 * A sample whose get() or transform fails is logged once (path and reason),
 * counted, and replaced by another index chosen from (seed, epoch, step,
 * position, attempt); the run goes on.
 *
 * Typical use by the trainer:
 *   cv_loader_config cfg = { .host = host, .dataset = ds, .sampler = sp,
 *                            .transforms = tf, .n_transforms = ntf,
 *                            .workers = 4, .seed = seed, .training = 1 };
 *   cv_loader *ld; cv_loader_create(&cfg, &ld, err);
 *   for epoch:  cv_loader_begin_epoch(ld, epoch, set_active_or_NULL, &nb, err);
 *               for step < nb: cv_loader_next(ld, &b, err);  use b.batch, b.indices
 *   cv_loader_destroy(ld);                                                       */
#ifndef CV_CORE_DATA_LOADER_H
#define CV_CORE_DATA_LOADER_H

#include <cvnets/cvnets.h>
#include "engine.h" /* cv_component_ref */

typedef struct cv_loader cv_loader;

typedef struct cv_loader_config {
    const cv_host *host;            /* allocator, logging, rng */
    cv_component_ref dataset;       /* kind dataset */
    cv_component_ref sampler;       /* kind sampler */
    const cv_component_ref *transforms; /* recipe order; per-sample (batch_level 0)
                                       run on each sample, batch-level ones on the
                                       collated batch, each group in list order */
    int n_transforms;
    int workers;                    /* worker threads; 0 runs everything in next() */
    int ring;                       /* ready batches buffered; 0 = 2 * max(1, workers) */
    uint64_t seed;                  /* [run] seed */
    int training;                   /* passed to transforms in cv_transform_ctx */
    int num_classes;                /* 0: the dataset's */
    int max_retries;                /* replacements tried for one bad sample; 0 = 16 */
} cv_loader_config;

/* One delivered batch.  Everything it points to is owned by the loader and
 * stays valid until the next cv_loader_next / begin_epoch / destroy. */
typedef struct cv_loaded_batch {
    int64_t epoch, step;
    cv_batch batch;                 /* f32 NCHW images, labels, soft labels */
    const int64_t *indices;         /* batch.n dataset indices actually used (after
                                       replacement of bad samples) */
    const int64_t *requested;       /* batch.n indices the sampler asked for (SET scoring) */
    int32_t frames;                 /* video samplers: frames per clip; 0 for images */
} cv_loaded_batch;

/* Checks the component kinds and vtables; starts the worker threads. */
int cv_loader_create(const cv_loader_config *cfg, cv_loader **out, cv_error *err);

/* Starts epoch (stops and drains any epoch in progress).  active: SET's mask
 * (dataset length bytes, 0 = left out) or NULL.  *num_batches: steps this epoch,
 * identical on every rank. */
int cv_loader_begin_epoch(cv_loader *l, int64_t epoch, const uint8_t *active, int64_t *num_batches,
                          cv_error *err);

/* The next batch in step order; blocks until it is ready.  CV_ERR_INVALID when
 * the epoch has no more batches; any failure of a worker (other than a bad
 * sample, which is replaced) is returned here with its message. */
int cv_loader_next(cv_loader *l, cv_loaded_batch *out, cv_error *err);

/* Bad-sample accounting since create: distinct dataset indices that failed,
 * and replacements made (one index can fail in several epochs). */
int64_t cv_loader_bad_samples(const cv_loader *l);
int64_t cv_loader_replacements(const cv_loader *l);

/* Stops the workers and frees everything (NULL is fine). */
void cv_loader_destroy(cv_loader *l);

#endif
