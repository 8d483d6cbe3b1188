/* core/data/plan.c — shapes, batch sizes and steps of one sampler epoch (plan.h). */
#include "data/plan.h"
#include "host.h"

#include <stdlib.h>
#include <string.h>

static int cmp_shape(const void *a, const void *b) {
    const cv_data_plan_shape *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    if (x->w != y->w) return x->w < y->w ? -1 : 1;
    if (x->batch != y->batch) return x->batch < y->batch ? -1 : 1;
    return (x->frames > y->frames) - (x->frames < y->frames);
}

/* index of (h, w, b, f) in p, adding it when absent; -1 when out of memory */
static int find_or_add(cv_data_plan *p, int *cap, int32_t h, int32_t w, int32_t b, int32_t f) {
    for (int i = 0; i < p->n; i++)
        if (p->shapes[i].h == h && p->shapes[i].w == w && p->shapes[i].batch == b && p->shapes[i].frames == f) return i;
    if (p->n == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        cv_data_plan_shape *s = cv_alloc_array((size_t)ncap, sizeof *s);
        if (!s) return -1;
        if (p->n) memcpy(s, p->shapes, (size_t)p->n * sizeof *s);
        cv_free(p->shapes);
        p->shapes = s;
        *cap = ncap;
    }
    p->shapes[p->n] = (cv_data_plan_shape){ h, w, b, f, 0 };
    return p->n++;
}

int cv_data_plan_epoch(cv_component_ref sampler, int64_t epoch, int64_t dataset_length, const uint8_t *active,
                       cv_data_plan *out, cv_error *err) {
    memset(out, 0, sizeof *out);
    if (!sampler.desc || sampler.desc->kind != CV_KIND_SAMPLER || !sampler.desc->vtable)
        return cv_set_error(err, CV_ERR_INVALID, "plan: not a sampler component");
    const cv_sampler_vtable *vt = sampler.desc->vtable;
    int cap = 0;
    cv_scale set[64];
    int ns = vt->scales ? vt->scales(sampler.self, epoch, set, 64) : 0;
    for (int i = 0; i < ns && i < 64; i++)
        if (find_or_add(out, &cap, set[i].h, set[i].w, set[i].batch, 0) < 0) goto nomem;
    int64_t nb = 0;
    int rc = vt->begin_epoch(sampler.self, epoch, active, dataset_length, &nb, err);
    if (rc) {
        cv_data_plan_free(out);
        return rc;
    }
    for (int64_t s = 0; s < nb; s++) {
        cv_batch_spec b;
        memset(&b, 0, sizeof b);
        b.struct_size = sizeof b;
        rc = vt->get_batch(sampler.self, s, &b, err);
        if (rc) {
            cv_data_plan_free(out);
            return rc;
        }
        int k = find_or_add(out, &cap, b.h, b.w, b.n, b.frames);
        if (k < 0) goto nomem;
        out->shapes[k].steps++;
        out->samples_per_epoch += b.n;
    }
    out->steps_per_epoch = nb;
    qsort(out->shapes, (size_t)out->n, sizeof *out->shapes, cmp_shape);
    return CV_OK;
nomem:
    cv_data_plan_free(out);
    return cv_set_error(err, CV_ERR_NOMEM, "plan: out of memory");
}

void cv_data_plan_free(cv_data_plan *p) {
    cv_free(p->shapes);
    memset(p, 0, sizeof *p);
}
