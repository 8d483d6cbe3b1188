/* core/data/loader.c — worker threads, the ring of ready batches, bad-sample
 * replacement (API and guarantees in loader.h).
 *
 * Ring: step s is built in slot s % ring.  A worker takes the lowest step not
 * yet taken when its slot is free; the consumer releases a slot when it asks
 * for the next batch.  So at most `ring` batches exist at once (memory bound)
 * and delivery is in step order whatever the workers' speed.  Only the sampler
 * call (its indices are valid until its next call) and the bad-sample table run
 * under the lock; loading, transforms and collation run unlocked, which is why
 * datasets and per-sample transforms must be safe to call from several threads
 * on one instance. */
#include "data/loader.h"
#include "data/collate.h"
#include "host.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define REPLACE_STREAM 0x5245504cull /* "REPL" */
#define BATCH_STREAM 0x42415443ull   /* "BATC" */

enum { SLOT_FREE = 0, SLOT_WORKING, SLOT_READY, SLOT_FAILED, SLOT_DELIVERED };

typedef struct slot {
    int state;
    int64_t step;
    int32_t h, w, n, frames, soft_mixed;
    int64_t *requested, *indices;
    int32_t *labels;
    float *images, *soft;
    size_t cap_n, cap_images;
    cv_error err;
} slot;

struct cv_loader {
    cv_loader_config cfg;
    const cv_host *host;
    const cv_dataset_vtable *ds;
    const cv_sampler_vtable *sp;
    cv_component_ref *sample_tf, *batch_tf;
    int n_sample_tf, n_batch_tf;
    int64_t length;
    int channels, num_classes, max_retries;

    pthread_mutex_t mu;
    pthread_cond_t work_cv, ready_cv;
    pthread_t *threads;
    int nthreads, stop;

    int64_t epoch, nsteps, next_job, next_out;
    uint8_t *active; /* copy of the epoch's mask, NULL = all */
    slot *slots;
    int ring;

    uint8_t *bad_seen; /* per dataset index: already logged */
    int64_t bad_count, replacements;
};

/* ---- one batch ------------------------------------------------------------------ */
static void free_sample(const cv_host *h, cv_sample *s) {
    h->free(s->image.data);
    h->free(s->mask.data);
    h->free(s->boxes);
    h->free(s->box_labels);
    memset(&s->image, 0, sizeof s->image);
    memset(&s->mask, 0, sizeof s->mask);
    s->boxes = NULL;
    s->box_labels = NULL;
}

static int grow(slot *sl, size_t n, size_t images, int num_classes) {
    if (n > sl->cap_n) {
        cv_free(sl->requested), cv_free(sl->indices), cv_free(sl->labels), cv_free(sl->soft);
        sl->requested = cv_alloc_array(n, sizeof(int64_t));
        sl->indices = cv_alloc_array(n, sizeof(int64_t));
        sl->labels = cv_alloc_array(n, sizeof(int32_t));
        sl->soft = cv_alloc_array(n, (size_t)num_classes * sizeof(float));
        sl->cap_n = sl->requested && sl->indices && sl->labels && sl->soft ? n : 0;
        if (!sl->cap_n) return CV_ERR_NOMEM;
    }
    if (images > sl->cap_images) {
        cv_free(sl->images);
        sl->images = cv_alloc_array(images, sizeof(float));
        sl->cap_images = sl->images ? images : 0;
        if (!sl->images) return CV_ERR_NOMEM;
    }
    return CV_OK;
}

/* Logs a bad index once and counts it; returns the replacement index. */
static int64_t replace(cv_loader *l, int64_t epoch, int64_t step, int pos, int attempt, int64_t bad,
                       const char *why) {
    pthread_mutex_lock(&l->mu);
    l->replacements++;
    if (!l->bad_seen[bad]) {
        l->bad_seen[bad] = 1;
        l->bad_count++;
        l->host->log(l->host->host_ctx, CV_LOG_WARN, "loader", "skipping sample %lld: %s (replaced by another sample)",
                     (long long)bad, why);
    }
    const uint8_t *active = l->active;
    pthread_mutex_unlock(&l->mu);
    cv_rng rng;
    uint64_t c[4] = { (uint64_t)epoch, (uint64_t)step, (uint64_t)pos, (uint64_t)attempt };
    cv_rng_init(&rng, l->cfg.seed ^ REPLACE_STREAM, c, 4);
    int64_t r = 0;
    for (int t = 0; t < 64; t++) { /* prefer an active sample; SET rarely leaves most out */
        r = (int64_t)(cv_rng_u64(&rng) % (uint64_t)l->length);
        if (r != bad && (!active || active[r])) break;
    }
    return r;
}

/* One sample at position pos: get, per-sample transforms, collate.  Bad
 * samples are replaced; only after max_retries replacements does the batch
 * fail. */
static int load_one(cv_loader *l, slot *sl, int64_t epoch, int pos, cv_error *err) {
    const cv_host *h = l->host;
    int64_t idx = sl->requested[pos];
    size_t plane = (size_t)sl->h * sl->w;
    for (int attempt = 0;; attempt++) {
        cv_sample s;
        memset(&s, 0, sizeof s);
        s.struct_size = sizeof s;
        cv_error e;
        cv_error_init(&e);
        int rc = l->cfg.dataset.desc && idx >= 0 && idx < l->length
                     ? l->ds->get(l->cfg.dataset.self, idx, &s, &e)
                     : cv_set_error(&e, CV_ERR_INVALID, "index %lld outside the dataset [0, %lld)", (long long)idx,
                                    (long long)l->length);
        for (int t = 0; rc == CV_OK && t < l->n_sample_tf; t++) {
            const cv_transform_vtable *tv = l->sample_tf[t].desc->vtable;
            cv_transform_ctx ctx = { .struct_size = sizeof ctx, .target_h = sl->h, .target_w = sl->w,
                                     .training = l->cfg.training, .num_classes = l->num_classes };
            uint64_t c[4] = { (uint64_t)epoch, (uint64_t)sl->step, (uint64_t)pos, (uint64_t)idx };
            cv_rng_init(&ctx.rng, l->cfg.seed ^ (uint64_t)t * 0x9E3779B97F4A7C15ull, c, 4);
            rc = tv->apply(l->sample_tf[t].self, &s, &ctx, &e);
            if (rc) {
                char msg[CV_ERROR_MESSAGE_MAX];
                snprintf(msg, sizeof msg, "%s", e.message);
                snprintf(e.message, sizeof e.message, "transform %.100s on %.300s: %.600s", l->sample_tf[t].desc->name,
                         s.path ? s.path : "sample", msg);
            }
        }
        char why[512];
        if (rc == CV_OK && (s.label < 0 || s.label >= l->num_classes))
            rc = cv_set_error(&e, CV_ERR_IO, "%s: label %d outside [0, %d)", s.path ? s.path : "sample", s.label,
                              l->num_classes);
        if (rc == CV_OK &&
            cv_collate_image(&s.image, sl->images + (size_t)pos * l->channels * plane, l->channels, sl->h, sl->w,
                             why, sizeof why) != CV_OK)
            rc = cv_set_error(&e, CV_ERR_IO, "%s: %s", s.path ? s.path : "sample", why);
        if (rc == CV_OK) {
            sl->labels[pos] = s.label;
            sl->indices[pos] = idx;
            free_sample(h, &s);
            return CV_OK;
        }
        free_sample(h, &s);
        if (rc == CV_ERR_NOMEM || rc == CV_ERR_INTERNAL || rc == CV_ERR_INTERRUPTED)
            return cv_set_error(err, rc, "%s", e.message);
        if (attempt >= l->max_retries)
            return cv_set_error(err, CV_ERR_IO,
                                "loader: sample %lld and %d replacements failed in epoch %lld step %lld; last: %s",
                                (long long)sl->requested[pos], attempt, (long long)epoch, (long long)sl->step,
                                e.message);
        idx = replace(l, epoch, sl->step, pos, attempt, idx, e.message);
    }
}

static int build(cv_loader *l, slot *sl, int64_t epoch) {
    cv_error *err = &sl->err;
    size_t images = (size_t)sl->n * l->channels * sl->h * sl->w;
    if (grow(sl, (size_t)sl->n, images, l->num_classes))
        return cv_set_error(err, CV_ERR_NOMEM, "loader: out of memory for a batch of %dx%dx%dx%d", sl->n, l->channels,
                            sl->h, sl->w);
    for (int i = 0; i < sl->n; i++) {
        int rc = load_one(l, sl, epoch, i, err);
        if (rc) return rc;
    }
    memset(sl->soft, 0, (size_t)sl->n * l->num_classes * sizeof(float));
    sl->soft_mixed = 0;
    for (int i = 0; i < sl->n; i++) sl->soft[(size_t)i * l->num_classes + sl->labels[i]] = 1.0f;
    for (int t = 0; t < l->n_batch_tf; t++) {
        const cv_transform_vtable *tv = l->batch_tf[t].desc->vtable;
        cv_batch b = { .struct_size = sizeof b, .n = sl->n, .c = l->channels, .h = sl->h, .w = sl->w,
                       .num_classes = l->num_classes, .images = sl->images, .labels = sl->labels,
                       .soft_labels = sl->soft, .soft = sl->soft_mixed };
        cv_transform_ctx ctx = { .struct_size = sizeof ctx, .target_h = sl->h, .target_w = sl->w,
                                 .training = l->cfg.training, .num_classes = l->num_classes };
        /* one key for every batch transform of a batch: paired mixup/cutmix read the
         * same draw to pick which of them runs (doc/transforms.md, loader contract) */
        uint64_t c[3] = { (uint64_t)epoch, (uint64_t)sl->step, BATCH_STREAM };
        cv_rng_init(&ctx.rng, l->cfg.seed, c, 3);
        int rc = tv->apply_batch(l->batch_tf[t].self, &b, &ctx, err);
        sl->soft_mixed |= b.soft;
        if (rc) return cv_set_error(err, rc, "loader: batch transform %s failed", l->batch_tf[t].desc->name);
        if (b.images != sl->images || b.soft_labels != sl->soft || b.labels != sl->labels)
            return cv_set_error(err, CV_ERR_INTERNAL,
                                "loader: batch transform %s replaced the batch buffers; it must work in place",
                                l->batch_tf[t].desc->name);
    }
    return CV_OK;
}

/* Takes the next step's spec from the sampler into sl (lock held). */
static int take_spec(cv_loader *l, slot *sl, int64_t step) {
    cv_batch_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.struct_size = sizeof spec;
    cv_error_init(&sl->err);
    sl->step = step;
    int rc = l->sp->get_batch(l->cfg.sampler.self, step, &spec, &sl->err);
    if (rc) return rc;
    if (spec.n <= 0 || spec.h <= 0 || spec.w <= 0 || !spec.indices)
        return cv_set_error(&sl->err, CV_ERR_INTERNAL, "loader: sampler %s gave an empty batch (%d x %dx%d) at step %lld",
                            l->cfg.sampler.desc->name, spec.n, spec.h, spec.w, (long long)step);
    sl->h = spec.h;
    sl->w = spec.w;
    sl->n = spec.n;
    sl->frames = spec.frames;
    if (grow(sl, (size_t)spec.n, 0, l->num_classes))
        return cv_set_error(&sl->err, CV_ERR_NOMEM, "loader: out of memory for a batch of %d", spec.n);
    memcpy(sl->requested, spec.indices, (size_t)spec.n * sizeof *sl->requested);
    return CV_OK;
}

/* ---- threads ---------------------------------------------------------------------- */
static void *worker(void *arg) {
    cv_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        slot *sl = l->next_job < l->nsteps ? &l->slots[l->next_job % l->ring] : NULL;
        if (!sl || sl->state != SLOT_FREE) {
            pthread_cond_wait(&l->work_cv, &l->mu);
            continue;
        }
        int64_t step = l->next_job++, epoch = l->epoch;
        sl->state = SLOT_WORKING;
        int rc = take_spec(l, sl, step);
        pthread_mutex_unlock(&l->mu);
        if (rc == CV_OK) rc = build(l, sl, epoch);
        pthread_mutex_lock(&l->mu);
        sl->state = rc == CV_OK ? SLOT_READY : SLOT_FAILED;
        pthread_cond_broadcast(&l->ready_cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static int is_kind(const cv_component_ref *r, int kind) {
    return r->desc && r->desc->kind == kind && r->desc->vtable;
}

int cv_loader_create(const cv_loader_config *cfg, cv_loader **out, cv_error *err) {
    *out = NULL;
    if (!cfg || !cfg->host) return cv_set_error(err, CV_ERR_INVALID, "loader: no configuration or host");
    if (!is_kind(&cfg->dataset, CV_KIND_DATASET) || !is_kind(&cfg->sampler, CV_KIND_SAMPLER))
        return cv_set_error(err, CV_ERR_INVALID, "loader: needs a dataset and a sampler component");
    const cv_dataset_vtable *ds = cfg->dataset.desc->vtable;
    const cv_sampler_vtable *sp = cfg->sampler.desc->vtable;
    if (ds->struct_size < sizeof *ds || sp->struct_size < sizeof *sp)
        return cv_set_error(err, CV_ERR_ABI, "loader: dataset %s or sampler %s has a short vtable",
                            cfg->dataset.desc->name, cfg->sampler.desc->name);
    cv_loader *l = cv_alloc_array(1, sizeof *l);
    if (!l) return cv_set_error(err, CV_ERR_NOMEM, "loader: out of memory");
    l->cfg = *cfg;
    l->host = cfg->host;
    l->ds = ds;
    l->sp = sp;
    l->length = ds->length(cfg->dataset.self);
    l->channels = ds->channels(cfg->dataset.self);
    l->num_classes = cfg->num_classes > 0 ? cfg->num_classes : ds->num_classes(cfg->dataset.self);
    l->max_retries = cfg->max_retries > 0 ? cfg->max_retries : 16;
    l->ring = cfg->ring > 0 ? cfg->ring : 2 * (cfg->workers > 0 ? cfg->workers : 1);
    l->nsteps = 0;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work_cv, NULL);
    pthread_cond_init(&l->ready_cv, NULL);
    int st = CV_OK;
    if (l->length <= 0 || l->channels <= 0 || l->num_classes <= 0)
        st = cv_set_error(err, CV_ERR_INVALID, "loader: dataset %s reports length %lld, %d channels, %d classes",
                          cfg->dataset.desc->name, (long long)l->length, l->channels, l->num_classes);
    if (!st) {
        l->sample_tf = cv_alloc_array((size_t)cfg->n_transforms + 1, sizeof *l->sample_tf);
        l->batch_tf = cv_alloc_array((size_t)cfg->n_transforms + 1, sizeof *l->batch_tf);
        l->slots = cv_alloc_array((size_t)l->ring, sizeof *l->slots);
        l->bad_seen = cv_alloc_array((size_t)l->length, 1);
        if (!l->sample_tf || !l->batch_tf || !l->slots || !l->bad_seen)
            st = cv_set_error(err, CV_ERR_NOMEM, "loader: out of memory");
    }
    for (int i = 0; !st && i < cfg->n_transforms; i++) {
        const cv_component_ref *t = &cfg->transforms[i];
        const cv_transform_vtable *tv = t->desc ? t->desc->vtable : NULL;
        if (!is_kind(t, CV_KIND_TRANSFORM) || tv->struct_size < sizeof *tv)
            st = cv_set_error(err, CV_ERR_INVALID, "loader: transform %d is not a transform component", i);
        else if (tv->batch_level ? !tv->apply_batch : !tv->apply)
            st = cv_set_error(err, CV_ERR_INVALID, "loader: transform %s has no %s function", t->desc->name,
                              tv->batch_level ? "apply_batch" : "apply");
        else if (tv->batch_level) l->batch_tf[l->n_batch_tf++] = *t;
        else l->sample_tf[l->n_sample_tf++] = *t;
    }
    l->nthreads = 0;
    if (!st && cfg->workers > 0) {
        l->threads = cv_alloc_array((size_t)cfg->workers, sizeof *l->threads);
        if (!l->threads) st = cv_set_error(err, CV_ERR_NOMEM, "loader: out of memory");
        for (int i = 0; !st && i < cfg->workers; i++) {
            if (pthread_create(&l->threads[i], NULL, worker, l) != 0)
                st = cv_set_error(err, CV_ERR_INTERNAL, "loader: cannot start worker thread %d of %d", i + 1,
                                  cfg->workers);
            else l->nthreads++;
        }
    }
    if (st) {
        cv_loader_destroy(l);
        return st;
    }
    *out = l;
    return CV_OK;
}

/* Waits until no slot is being built, then frees every slot (lock held). */
static void quiesce(cv_loader *l) {
    l->nsteps = 0; /* no new jobs */
    for (;;) {
        int busy = 0;
        for (int i = 0; i < l->ring; i++) busy |= l->slots[i].state == SLOT_WORKING;
        if (!busy) break;
        pthread_cond_wait(&l->ready_cv, &l->mu);
    }
    for (int i = 0; i < l->ring; i++) l->slots[i].state = SLOT_FREE;
}

int cv_loader_begin_epoch(cv_loader *l, int64_t epoch, const uint8_t *active, int64_t *num_batches, cv_error *err) {
    pthread_mutex_lock(&l->mu);
    quiesce(l);
    if (active) {
        if (!l->active) l->active = cv_alloc((size_t)l->length);
        if (!l->active) {
            pthread_mutex_unlock(&l->mu);
            return cv_set_error(err, CV_ERR_NOMEM, "loader: out of memory");
        }
        memcpy(l->active, active, (size_t)l->length);
    } else {
        cv_free(l->active);
        l->active = NULL;
    }
    int64_t n = 0;
    int rc = l->sp->begin_epoch(l->cfg.sampler.self, epoch, l->active, l->length, &n, err);
    if (rc == CV_OK) {
        l->epoch = epoch;
        l->next_job = l->next_out = 0;
        l->nsteps = n;
        *num_batches = n;
        pthread_cond_broadcast(&l->work_cv);
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int cv_loader_next(cv_loader *l, cv_loaded_batch *out, cv_error *err) {
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < l->ring; i++) /* the previous batch goes back to the ring */
        if (l->slots[i].state == SLOT_DELIVERED) l->slots[i].state = SLOT_FREE;
    pthread_cond_broadcast(&l->work_cv);
    if (l->next_out >= l->nsteps) {
        int64_t n = l->nsteps;
        pthread_mutex_unlock(&l->mu);
        return cv_set_error(err, CV_ERR_INVALID, "loader: epoch %lld has no batch after step %lld", (long long)l->epoch,
                            (long long)n);
    }
    slot *sl = &l->slots[l->next_out % l->ring];
    int rc = CV_OK;
    if (l->nthreads == 0) { /* no workers: build here */
        int64_t step = l->next_job++;
        sl->state = SLOT_WORKING;
        rc = take_spec(l, sl, step);
        pthread_mutex_unlock(&l->mu);
        if (rc == CV_OK) rc = build(l, sl, l->epoch);
        pthread_mutex_lock(&l->mu);
        sl->state = rc == CV_OK ? SLOT_READY : SLOT_FAILED;
    }
    while (!(sl->step == l->next_out && (sl->state == SLOT_READY || sl->state == SLOT_FAILED)))
        pthread_cond_wait(&l->ready_cv, &l->mu);
    if (sl->state == SLOT_FAILED) {
        rc = cv_set_error(err, sl->err.status ? sl->err.status : CV_ERR_INTERNAL, "%s", sl->err.message);
        sl->state = SLOT_DELIVERED;
        l->nsteps = l->next_out; /* the epoch cannot go on */
        pthread_mutex_unlock(&l->mu);
        return rc;
    }
    sl->state = SLOT_DELIVERED;
    memset(out, 0, sizeof *out);
    out->epoch = l->epoch;
    out->step = sl->step;
    out->batch = (cv_batch){ .struct_size = sizeof(cv_batch), .n = sl->n, .c = l->channels, .h = sl->h, .w = sl->w,
                             .num_classes = l->num_classes, .images = sl->images, .labels = sl->labels,
                             .soft_labels = sl->soft, .soft = sl->soft_mixed };
    out->indices = sl->indices;
    out->requested = sl->requested;
    out->frames = sl->frames;
    l->next_out++;
    pthread_mutex_unlock(&l->mu);
    return CV_OK;
}

int64_t cv_loader_bad_samples(const cv_loader *l) {
    pthread_mutex_lock((pthread_mutex_t *)&l->mu);
    int64_t n = l->bad_count;
    pthread_mutex_unlock((pthread_mutex_t *)&l->mu);
    return n;
}

int64_t cv_loader_replacements(const cv_loader *l) {
    pthread_mutex_lock((pthread_mutex_t *)&l->mu);
    int64_t n = l->replacements;
    pthread_mutex_unlock((pthread_mutex_t *)&l->mu);
    return n;
}

void cv_loader_destroy(cv_loader *l) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    l->nsteps = 0;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->nthreads; i++) pthread_join(l->threads[i], NULL);
    for (int i = 0; l->slots && i < l->ring; i++) {
        slot *sl = &l->slots[i];
        cv_free(sl->requested), cv_free(sl->indices), cv_free(sl->labels), cv_free(sl->soft), cv_free(sl->images);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->work_cv);
    pthread_cond_destroy(&l->ready_cv);
    cv_free(l->threads);
    cv_free(l->slots);
    cv_free(l->sample_tf);
    cv_free(l->batch_tf);
    cv_free(l->bad_seen);
    cv_free(l->active);
    cv_free(l);
}
