/* core/train/seq_sampler.c — in-order, fixed-resolution sampler (see seq_sampler.h). */
#include "train/seq_sampler.h"
#include "host.h"

typedef struct seq {
    int64_t length, count;
    int h, w, batch;
    int64_t *order;  /* the indices of this epoch */
} seq;

static int seq_begin(void *self, int64_t epoch, const uint8_t *active, int64_t n, int64_t *num_batches, cv_error *err) {
    seq *s = self;
    s->count = 0;
    for (int64_t i = 0; i < s->length; i++)
        if (!active || (i < n && active[i])) s->order[s->count++] = i;
    *num_batches = (s->count + s->batch - 1) / s->batch;
    return CV_OK;
}

static int seq_get(void *self, int64_t step, cv_batch_spec *out, cv_error *err) {
    seq *s = self;
    int64_t start = step * s->batch;
    if (step < 0 || start >= s->count)
        return cv_set_error(err, CV_ERR_INVALID, "sequential sampler: step %lld is past the end", (long long)step);
    out->h = s->h;
    out->w = s->w;
    out->n = (int32_t)(s->count - start < s->batch ? s->count - start : s->batch);
    out->indices = s->order + start;
    return CV_OK;
}

static int seq_scales(void *self, int64_t epoch, cv_scale *out, int max) {
    seq *s = self;
    if (max >= 1) {
        out[0].h = s->h;
        out[0].w = s->w;
        out[0].batch = s->batch;
    }
    return 1;
}

static const cv_sampler_vtable seq_vt = { sizeof(cv_sampler_vtable), seq_begin, seq_get, seq_scales };

static void seq_destroy(void *self) {
    seq *s = self;
    if (!s) return;
    cv_free(s->order);
    cv_free(s);
}

static const cv_component_desc seq_desc = {
    .struct_size = sizeof(cv_component_desc), .abi_major = CV_ABI_MAJOR, .abi_minor = CV_ABI_MINOR,
    .kind = CV_KIND_SAMPLER, .name = "sequential", .task = "any",
    .summary = "host-internal: every sample once, in order, at one resolution",
    .destroy = seq_destroy, .vtable = &seq_vt,
};

int cv_seq_sampler_create(int64_t length, int h, int w, int batch, cv_component_ref *out, cv_error *err) {
    if (length <= 0 || h <= 0 || w <= 0 || batch <= 0)
        return cv_set_error(err, CV_ERR_INVALID, "sequential sampler: bad size (length %lld, %dx%d, batch %d)",
                            (long long)length, h, w, batch);
    seq *s = cv_alloc_array(1, sizeof *s);
    if (s) s->order = cv_alloc_array((size_t)length, sizeof(int64_t));
    if (!s || !s->order) {
        seq_destroy(s);
        return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    }
    s->length = length;
    s->h = h;
    s->w = w;
    s->batch = batch;
    out->desc = &seq_desc;
    out->self = s;
    return CV_OK;
}

void cv_seq_sampler_destroy(cv_component_ref *ref) {
    if (ref && ref->self) seq_destroy(ref->self);
    if (ref) ref->self = NULL;
}
