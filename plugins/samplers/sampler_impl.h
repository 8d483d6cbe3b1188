/* plugins/samplers/sampler_impl.h — the one implementation behind the four
 * sampler plugins (ssc_fbs, msc_fbs, msc_vbs, msc_vbs_video).  Each plugin .c
 * defines SAMPLER_MODE and includes this file, so every plugin is a single .so
 * that links nothing but the host table.
 *
 * An epoch is a pure function of (seed, epoch, rank, world_size, active mask):
 *   pool    = active indices, shuffled with rng(seed; epoch, SHUFFLE_STREAM),
 *             each repeated num_repeats times (repeated augmentation);
 *   padded  to a multiple of world_size by wrapping to its start;
 *   shard   = padded[rank::world_size];
 *   steps   : step k draws its scale (and frames) from rng(seed; epoch, k), takes
 *             the next b indices of the shard, wrapping to the shard's start for
 *             the last batch so every batch has its full size.
 * The shard length and the scale draws are the same on every rank, so every rank
 * gets the same (h, w, b) sequence and step count without talking. */
#ifndef CV_SAMPLER_IMPL_H
#define CV_SAMPLER_IMPL_H

#include <cvnets/cvnets.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

enum { MODE_SSC_FBS = 0, MODE_MSC_FBS = 1, MODE_MSC_VBS = 2, MODE_MSC_VBS_VIDEO = 3 };

#define SHUFFLE_STREAM 0x5348554646ull /* "SHUFF": keeps the shuffle apart from step draws */
#define MAX_SCALES 64

typedef struct sampler {
    const cv_host *host;
    int mode, eval;
    uint64_t seed;
    int rank, world;
    int64_t length;
    /* options */
    int base_h, base_w, min_h, max_h, min_w, max_w, nscales, check, batch;
    int num_repeats, shuffle, scale_inc;
    double scale_inc_factor;
    int64_t ep_intervals[64];
    int n_ep;
    int frames, min_frames, max_frames, frame_scales;
    /* epoch state */
    int64_t epoch;
    cv_scale set[MAX_SCALES];
    int nset;
    int32_t frame_set[MAX_SCALES];
    int nframes;
    int64_t *shard, shard_len;
    int64_t *step_start;
    int32_t *step_scale, *step_frames, *step_n;
    int64_t nsteps, cap_steps;
    int64_t *batch_buf;
    int64_t batch_cap;
} sampler;

/* CVNets' make_divisible: nearest multiple of d (half up), at least d, and never
 * more than 10 % below v. */
static int sp_make_divisible(double v, int d) {
    if (d <= 1) return (int)(v + 0.5);
    int nv = (int)(v + d / 2.0) / d * d;
    if (nv < d) nv = d;
    if (nv < 0.9 * v) nv += d;
    return nv;
}

static int sp_cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* linspace(lo, hi, n) ∪ {base}, each rounded to a multiple of d, sorted, unique */
static int sp_axis(int base, int lo, int hi, int n, int d, int *out) {
    int k = 0;
    for (int i = 0; i < n && k < MAX_SCALES - 1; i++) {
        double v = n == 1 ? lo : lo + (double)(hi - lo) * i / (n - 1);
        out[k++] = sp_make_divisible(v, d);
    }
    out[k++] = sp_make_divisible(base, d);
    qsort(out, (size_t)k, sizeof *out, sp_cmp_int);
    int u = 0;
    for (int i = 0; i < k; i++)
        if (u == 0 || out[u - 1] != out[i]) out[u++] = out[i];
    return u;
}

/* The (h, w, batch) set of epoch: min/max grow by scale_inc_factor at every
 * epoch listed in ep_intervals that has been reached (CVNets' update_scales,
 * made a pure function of the epoch so a resumed run gets the same set). */
static int sp_scale_set(const sampler *s, int64_t epoch, cv_scale *out) {
    if (s->mode == MODE_SSC_FBS || s->eval) {
        out[0] = (cv_scale){ s->base_h, s->base_w, s->batch };
        return 1;
    }
    int min_h = s->min_h, max_h = s->max_h, min_w = s->min_w, max_w = s->max_w;
    if (s->scale_inc)
        for (int i = 0; i < s->n_ep; i++)
            if (s->ep_intervals[i] <= epoch) {
                min_h += (int)(min_h * s->scale_inc_factor);
                max_h += (int)(max_h * s->scale_inc_factor);
                min_w += (int)(min_w * s->scale_inc_factor);
                max_w += (int)(max_w * s->scale_inc_factor);
            }
    int hs[MAX_SCALES], ws[MAX_SCALES];
    int nh = sp_axis(s->base_h, min_h, max_h, s->nscales, s->check, hs);
    int nw = sp_axis(s->base_w, min_w, max_w, s->nscales, s->check, ws);
    int n = nh < nw ? nh : nw;
    int64_t area0 = (int64_t)s->base_h * s->base_w * s->batch;
    for (int i = 0; i < n; i++) {
        int64_t b = s->batch;
        if (s->mode == MODE_MSC_VBS || s->mode == MODE_MSC_VBS_VIDEO) {
            b = area0 / ((int64_t)hs[i] * ws[i]);
            if (b < 1) b = 1;
            if (b > INT32_MAX) b = INT32_MAX;
        }
        out[i] = (cv_scale){ hs[i], ws[i], (int32_t)b };
    }
    return n;
}

static const cv_value *sp_opt(const cv_create_args *a, const char *key) {
    const cv_value *v = a->host->opt(a->opts, key);
    return v && v->is_set ? v : NULL;
}
static int sp_int(const cv_create_args *a, const char *key, int dflt) {
    const cv_value *v = sp_opt(a, key);
    return v ? (int)v->i : dflt;
}

static int sp_fail(const cv_host *h, cv_error *err, int st, const char *fmt, int a, int b) {
    return h->set_error(err, st, fmt, a, b);
}

static void sp_free_epoch(sampler *s) {
    const cv_host *h = s->host;
    h->free(s->shard);
    h->free(s->step_start);
    h->free(s->step_scale);
    h->free(s->step_frames);
    h->free(s->step_n);
    s->shard = s->step_start = NULL;
    s->step_scale = s->step_frames = s->step_n = NULL;
    s->nsteps = s->cap_steps = s->shard_len = 0;
}

static void sp_destroy(void *self) {
    sampler *s = self;
    if (!s) return;
    sp_free_epoch(s);
    s->host->free(s->batch_buf);
    s->host->free(s);
}

static int sp_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    if (a->dataset_length <= 0)
        return h->set_error(err, CV_ERR_INVALID, "sampler %s: the dataset is empty (dataset_length = %lld)",
                            SAMPLER_NAME, (long long)a->dataset_length);
    if (a->world_size > 1 && (a->rank < 0 || a->rank >= a->world_size))
        return h->set_error(err, CV_ERR_INVALID, "sampler %s: rank %d outside world_size %d", SAMPLER_NAME,
                            a->rank, a->world_size);
    sampler *s = h->alloc_array(1, sizeof *s);
    if (!s) return h->set_error(err, CV_ERR_NOMEM, "sampler %s: out of memory", SAMPLER_NAME);
    s->host = h;
    s->mode = SAMPLER_MODE;
    s->eval = a->split == CV_SPLIT_VAL;
    s->seed = a->seed;
    s->rank = a->world_size > 1 ? a->rank : 0;
    s->world = a->world_size > 1 ? a->world_size : 1;
    s->length = a->dataset_length;
    s->epoch = -1;
    int base = sp_int(a, "base_size", 224);
    s->base_h = sp_int(a, "base_height", 0) > 0 ? sp_int(a, "base_height", 0) : base;
    s->base_w = sp_int(a, "base_width", 0) > 0 ? sp_int(a, "base_width", 0) : base;
    s->batch = sp_int(a, "batch_size", 128);
    s->num_repeats = sp_int(a, "num_repeats", 1);
    s->shuffle = sp_opt(a, "shuffle") ? (int)sp_opt(a, "shuffle")->i : 1;
    if (s->eval) s->shuffle = 0, s->num_repeats = 1;
    int lo = sp_int(a, "min_size", base), hi = sp_int(a, "max_size", base);
    s->min_h = sp_int(a, "min_height", 0) > 0 ? sp_int(a, "min_height", 0) : lo;
    s->max_h = sp_int(a, "max_height", 0) > 0 ? sp_int(a, "max_height", 0) : hi;
    s->min_w = sp_int(a, "min_width", 0) > 0 ? sp_int(a, "min_width", 0) : lo;
    s->max_w = sp_int(a, "max_width", 0) > 0 ? sp_int(a, "max_width", 0) : hi;
    s->nscales = sp_int(a, "scales", 5);
    s->check = sp_int(a, "check_scale", 32);
    s->scale_inc = sp_opt(a, "scale_inc") ? (int)sp_opt(a, "scale_inc")->i : 0;
    s->scale_inc_factor = sp_opt(a, "scale_inc_factor") ? sp_opt(a, "scale_inc_factor")->f : 0.25;
    const cv_value *ep = sp_opt(a, "ep_intervals");
    if (ep) {
        if (ep->count > 64) {
            sp_destroy(s);
            return h->set_error(err, CV_ERR_INVALID, "sampler %s: ep_intervals has %d entries, at most 64",
                                SAMPLER_NAME, ep->count);
        }
        for (int i = 0; i < ep->count; i++) s->ep_intervals[s->n_ep++] = ep->ints[i];
    }
    s->frames = sp_int(a, "frames", 8);
    s->min_frames = sp_int(a, "min_frames", s->frames);
    s->max_frames = sp_int(a, "max_frames", s->frames);
    s->frame_scales = sp_int(a, "frame_scales", 3);
    int st = CV_OK;
    if (s->min_h > s->max_h || s->min_w > s->max_w)
        st = sp_fail(h, err, CV_ERR_INVALID, "sampler " SAMPLER_NAME ": min size %d is above max size %d",
                     s->min_h > s->max_h ? s->min_h : s->min_w, s->min_h > s->max_h ? s->max_h : s->max_w);
    else if (s->min_frames > s->max_frames)
        st = sp_fail(h, err, CV_ERR_INVALID, "sampler " SAMPLER_NAME ": min_frames %d is above max_frames %d",
                     s->min_frames, s->max_frames);
    else if (s->base_h <= 0 || s->base_w <= 0 || s->batch <= 0 || s->check <= 0)
        st = sp_fail(h, err, CV_ERR_INVALID, "sampler " SAMPLER_NAME ": base size %dx%d must be positive",
                     s->base_h, s->base_w);
    if (st) {
        sp_destroy(s);
        return st;
    }
    s->nset = sp_scale_set(s, 0, s->set);
    if (s->mode == MODE_MSC_VBS_VIDEO) {
        int fs[MAX_SCALES];
        s->nframes = sp_axis(s->frames, s->min_frames, s->max_frames, s->eval ? 0 : s->frame_scales, 1, fs);
        if (s->eval) s->nframes = 1, fs[0] = s->frames;
        for (int i = 0; i < s->nframes; i++) s->frame_set[i] = fs[i];
    }
    *self = s;
    return CV_OK;
}

static int sp_scales(void *self, int64_t epoch, cv_scale *out, int max) {
    sampler *s = self;
    cv_scale tmp[MAX_SCALES];
    int n = sp_scale_set(s, epoch < 0 ? 0 : epoch, tmp);
    for (int i = 0; i < n && i < max; i++) out[i] = tmp[i];
    return n;
}

static int sp_push_step(sampler *s, int64_t start, int k, int f, int64_t n, cv_error *err) {
    if (s->nsteps == s->cap_steps) {
        int64_t cap = s->cap_steps ? s->cap_steps * 2 : 1024;
        const cv_host *h = s->host;
        int64_t *a = h->alloc_array((size_t)cap, sizeof *a);
        int32_t *b = h->alloc_array((size_t)cap, sizeof *b), *c = h->alloc_array((size_t)cap, sizeof *c),
                *d = h->alloc_array((size_t)cap, sizeof *d);
        if (!a || !b || !c || !d) {
            h->free(a), h->free(b), h->free(c), h->free(d);
            return h->set_error(err, CV_ERR_NOMEM, "sampler %s: out of memory for %lld steps", SAMPLER_NAME,
                                (long long)cap);
        }
        if (s->nsteps) {
            memcpy(a, s->step_start, (size_t)s->nsteps * sizeof *a);
            memcpy(b, s->step_scale, (size_t)s->nsteps * sizeof *b);
            memcpy(c, s->step_frames, (size_t)s->nsteps * sizeof *c);
            memcpy(d, s->step_n, (size_t)s->nsteps * sizeof *d);
        }
        h->free(s->step_start), h->free(s->step_scale), h->free(s->step_frames), h->free(s->step_n);
        s->step_start = a, s->step_scale = b, s->step_frames = c, s->step_n = d;
        s->cap_steps = cap;
    }
    s->step_start[s->nsteps] = start;
    s->step_scale[s->nsteps] = k;
    s->step_frames[s->nsteps] = f;
    s->step_n[s->nsteps] = (int32_t)n;
    s->nsteps++;
    return CV_OK;
}

static int sp_begin_epoch(void *self, int64_t epoch, const uint8_t *active, int64_t n, int64_t *num_batches,
                          cv_error *err) {
    sampler *s = self;
    const cv_host *h = s->host;
    if (active && n != s->length)
        return h->set_error(err, CV_ERR_INVALID, "sampler %s: active mask has %lld entries, dataset has %lld",
                            SAMPLER_NAME, (long long)n, (long long)s->length);
    sp_free_epoch(s);
    s->epoch = epoch;
    s->nset = sp_scale_set(s, epoch, s->set);
    int64_t pool = 0;
    for (int64_t i = 0; i < s->length; i++) pool += !active || active[i];
    if (pool == 0)
        return h->set_error(err, CV_ERR_INVALID, "sampler %s: every sample of the dataset is left out in epoch %lld",
                            SAMPLER_NAME, (long long)epoch);
    int64_t reps = s->num_repeats > 0 ? s->num_repeats : 1;
    int64_t total = pool * reps;
    int64_t padded = (total + s->world - 1) / s->world * s->world;
    int64_t *list = h->alloc_array((size_t)padded, sizeof *list);
    s->shard_len = padded / s->world;
    s->shard = h->alloc_array((size_t)s->shard_len, sizeof *s->shard);
    if (!list || !s->shard) {
        h->free(list);
        return h->set_error(err, CV_ERR_NOMEM, "sampler %s: out of memory for %lld indices", SAMPLER_NAME,
                            (long long)padded);
    }
    int64_t k = 0;
    for (int64_t i = 0; i < s->length; i++)
        if (!active || active[i]) list[k++] = i;
    if (s->shuffle) {
        cv_rng rng;
        uint64_t coords[2] = { (uint64_t)epoch, SHUFFLE_STREAM };
        h->rng_init(&rng, s->seed, coords, 2);
        for (int64_t i = pool - 1; i > 0; i--) {
            int64_t j = (int64_t)(h->rng_u64(&rng) % (uint64_t)(i + 1));
            int64_t t = list[i];
            list[i] = list[j];
            list[j] = t;
        }
    }
    if (reps > 1) /* expand in place from the back: each index reps times in a row */
        for (int64_t i = pool - 1; i >= 0; i--)
            for (int64_t r = reps - 1; r >= 0; r--) list[i * reps + r] = list[i];
    for (int64_t i = total; i < padded; i++) list[i] = list[(i - total) % total];
    for (int64_t i = 0; i < s->shard_len; i++) list[i] = list[i * s->world + s->rank];
    memcpy(s->shard, list, (size_t)s->shard_len * sizeof *list);
    h->free(list);

    int64_t maxb = 0;
    for (int64_t pos = 0, step = 0; pos < s->shard_len; step++) {
        int ki = 0, f = 0;
        cv_rng rng;
        uint64_t coords[2] = { (uint64_t)epoch, (uint64_t)step };
        h->rng_init(&rng, s->seed, coords, 2);
        if (s->nset > 1) ki = (int)(h->rng_uniform(&rng) * s->nset);
        int64_t b = s->set[ki].batch;
        if (s->mode == MODE_MSC_VBS_VIDEO) {
            int fi = s->nframes > 1 ? (int)(h->rng_uniform(&rng) * s->nframes) : 0;
            f = s->frame_set[fi];
            /* keep pixels per batch constant: fewer clips when clips are longer */
            b = (int64_t)s->set[ki].batch * s->frames / f;
            if (b < 1) b = 1;
        }
        int64_t nb = b;
        if (s->eval && pos + nb > s->shard_len) nb = s->shard_len - pos; /* eval: last batch partial */
        int st = sp_push_step(s, pos, ki, f, nb, err);
        if (st) return st;
        if (nb > maxb) maxb = nb;
        pos += b;
    }
    if (maxb > s->batch_cap) {
        h->free(s->batch_buf);
        s->batch_buf = h->alloc_array((size_t)maxb, sizeof *s->batch_buf);
        s->batch_cap = s->batch_buf ? maxb : 0;
        if (!s->batch_buf)
            return h->set_error(err, CV_ERR_NOMEM, "sampler %s: out of memory for a batch of %lld", SAMPLER_NAME,
                                (long long)maxb);
    }
    *num_batches = s->nsteps;
    return CV_OK;
}

static int sp_get_batch(void *self, int64_t step, cv_batch_spec *out, cv_error *err) {
    sampler *s = self;
    if (s->epoch < 0)
        return s->host->set_error(err, CV_ERR_INVALID, "sampler %s: get_batch before begin_epoch", SAMPLER_NAME);
    if (step < 0 || step >= s->nsteps)
        return s->host->set_error(err, CV_ERR_INVALID, "sampler %s: step %lld outside [0, %lld) of epoch %lld",
                                  SAMPLER_NAME, (long long)step, (long long)s->nsteps, (long long)s->epoch);
    int64_t start = s->step_start[step], n = s->step_n[step];
    for (int64_t j = 0; j < n; j++) s->batch_buf[j] = s->shard[(start + j) % s->shard_len];
    const cv_scale *sc = &s->set[s->step_scale[step]];
    out->h = sc->h;
    out->w = sc->w;
    out->n = (int32_t)n;
    out->indices = s->batch_buf;
    if (CV_HAS_MEMBER(out, cv_batch_spec, frames)) out->frames = s->step_frames[step];
    return CV_OK;
}

static const cv_sampler_vtable sp_vtable = {
    .struct_size = sizeof(cv_sampler_vtable),
    .begin_epoch = sp_begin_epoch,
    .get_batch = sp_get_batch,
    .scales = sp_scales,
};

/* ---- option schemas ------------------------------------------------------------- */
#define SP_COMMON_OPTS                                                                                    \
    CV_OPT_INT_RANGE("base_size", "224", 1, 65536, "training resolution (square) the batch size refers to"), \
    CV_OPT_INT_RANGE("base_width", "0", 0, 65536, "base width; 0 = base_size"),                          \
    CV_OPT_INT_RANGE("base_height", "0", 0, 65536, "base height; 0 = base_size"),                        \
    CV_OPT_INT_RANGE("batch_size", "128", 1, 1 << 24, "images per process per step at the base size"),  \
    CV_OPT_INT_RANGE("num_repeats", "1", 1, 64, "repeated augmentation: each index this many times per epoch"), \
    CV_OPT_BOOL_("shuffle", "true", "shuffle every training epoch (seeded by seed and epoch)")

#define SP_MULTI_OPTS                                                                                     \
    CV_OPT_INT_RANGE("min_size", "128", 1, 65536, "smallest resolution of the scale set"),               \
    CV_OPT_INT_RANGE("max_size", "320", 1, 65536, "largest resolution of the scale set"),                \
    CV_OPT_INT_RANGE("min_width", "0", 0, 65536, "smallest width; 0 = min_size"),                        \
    CV_OPT_INT_RANGE("max_width", "0", 0, 65536, "largest width; 0 = max_size"),                         \
    CV_OPT_INT_RANGE("min_height", "0", 0, 65536, "smallest height; 0 = min_size"),                      \
    CV_OPT_INT_RANGE("max_height", "0", 0, 65536, "largest height; 0 = max_size"),                       \
    CV_OPT_INT_RANGE("scales", "5", 1, 32, "points of linspace(min, max) before adding the base size"),  \
    CV_OPT_INT_RANGE("check_scale", "32", 1, 1024, "every size is rounded to a multiple of this"),       \
    CV_OPT_BOOL_("scale_inc", "false", "grow min/max sizes at the epochs in ep_intervals"),              \
    CV_OPT_FLOAT_RANGE("scale_inc_factor", "0.25", 0, 10, "growth of min/max at each listed epoch"),      \
    CV_OPT_INT_LIST_("ep_intervals", NULL, 0, 1e9, 0, 64, "epochs at which scale_inc grows the sizes")

#endif
