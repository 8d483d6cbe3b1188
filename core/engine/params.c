/* core/engine/params.c — the parameter store: parameters and buffers created on
 * first use by scoped name, deterministic initialisation from (seed, name), and the
 * four flat device buffers (params, grads, optimizer state, buffers) kept in sync
 * as new parameters appear.  Host copies for checkpoints go through here too. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void fans(const cv_shape *s, double *fan_in, double *fan_out) {
    if (s->ndim < 2) {
        *fan_in = *fan_out = s->ndim ? (double)s->dim[0] : 1.0;
        return;
    }
    double rf = 1;
    for (int i = 2; i < s->ndim; i++) rf *= (double)s->dim[i];
    *fan_in = (double)s->dim[1] * rf;
    *fan_out = (double)s->dim[0] * rf;
}

/* N(0,1) pairs by Marsaglia's polar method: no trigonometry, two values per
 * accepted draw (parameter init is the slow part of the first trace) */
typedef struct normals { cv_rng r; double spare; int has_spare; } normals;
static double next_normal(normals *z) {
    if (z->has_spare) {
        z->has_spare = 0;
        return z->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * cv_rng_uniform(&z->r) - 1.0;
        v = 2.0 * cv_rng_uniform(&z->r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * log(s) / s);
    z->spare = v * f;
    z->has_spare = 1;
    return u * f;
}

void cv_param_init_values(float *dst, const cv_shape *shape, cv_init init, uint64_t seed, const char *name,
                          const cv_host *host) {
    (void)host;
    int64_t n = cv_shape_numel(shape);
    uint64_t coord = cv_hash_str(name);
    normals z = { .has_spare = 0 };
    cv_rng_init(&z.r, seed, &coord, 1);
    cv_rng *rp = &z.r;
    double fi, fo;
    fans(shape, &fi, &fo);
    double a = init.a, b = init.b;
    switch (init.kind) {
    case CV_INIT_ZEROS: for (int64_t i = 0; i < n; i++) dst[i] = 0; break;
    case CV_INIT_ONES: for (int64_t i = 0; i < n; i++) dst[i] = 1; break;
    case CV_INIT_CONSTANT: for (int64_t i = 0; i < n; i++) dst[i] = (float)a; break;
    case CV_INIT_NORMAL: for (int64_t i = 0; i < n; i++) dst[i] = (float)(a * next_normal(&z)); break;
    case CV_INIT_TRUNC_NORMAL:
        for (int64_t i = 0; i < n; i++) {
            double t;
            do t = next_normal(&z); while (t < -2.0 || t > 2.0); /* redraw outside ±2σ */
            dst[i] = (float)(a * t);
        }
        break;
    case CV_INIT_UNIFORM:
        for (int64_t i = 0; i < n; i++) dst[i] = (float)(a + (b - a) * cv_rng_uniform(rp));
        break;
    case CV_INIT_KAIMING_NORMAL_FAN_OUT: case CV_INIT_KAIMING_NORMAL_FAN_IN: {
        double fan = init.kind == CV_INIT_KAIMING_NORMAL_FAN_OUT ? fo : fi;
        double std = sqrt(2.0 / (1.0 + a * a)) / sqrt(fan); /* a: leaky-relu slope (0 for relu) */
        for (int64_t i = 0; i < n; i++) dst[i] = (float)(std * next_normal(&z));
        break;
    }
    case CV_INIT_KAIMING_UNIFORM: {
        double bound = sqrt(2.0 / (1.0 + a * a)) * sqrt(3.0 / fi);
        for (int64_t i = 0; i < n; i++) dst[i] = (float)(bound * (2 * cv_rng_uniform(rp) - 1));
        break;
    }
    case CV_INIT_XAVIER_UNIFORM: {
        double gain = a > 0 ? a : 1.0, bound = gain * sqrt(6.0 / (fi + fo));
        for (int64_t i = 0; i < n; i++) dst[i] = (float)(bound * (2 * cv_rng_uniform(rp) - 1));
        break;
    }
    default: for (int64_t i = 0; i < n; i++) dst[i] = 0; break;
    }
}

/* host staging holds the initial values of elements [synced, total); it grows
 * geometrically so creating P parameters costs O(total), not O(P * total) */
static int stage(float **host, int64_t *cap, int64_t synced, int64_t old_n, int64_t new_n) {
    int64_t need = new_n - synced;
    if (need <= *cap && *host) return CV_OK;
    int64_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    float *p = cv_alloc((size_t)nc * sizeof(float));
    if (!p) return CV_ERR_NOMEM;
    if (*host && old_n > synced) memcpy(p, *host, (size_t)(old_n - synced) * sizeof(float));
    cv_free(*host);
    *host = p;
    *cap = nc;
    return CV_OK;
}

cv_tensor *cv_graph_param(cv_graph *g, const char *name, const cv_shape *shape, cv_init init, uint32_t tags) {
    cv_net *n = g->net;
    char sb[2][96], full[768];
    if (!name || !*name || !shape) return cv_graph_failv(g, CV_ERR_INVALID, "param: missing name or shape"), NULL;
    if (!n) return cv_graph_failv(g, CV_ERR_INVALID, "param %s: graph has no parameter store", name), NULL;
    if (g->scope_path[0]) snprintf(full, sizeof full, "%s.%s", g->scope_path, name);
    else snprintf(full, sizeof full, "%s", name);
    int64_t bytes;
    int st = cv_shape_valid(shape, CV_F32, &bytes);
    if (st != CV_OK)
        return cv_graph_failv(g, CV_ERR_INVALID, "param %s: bad shape %s", full, cv_shape_str(shape, sb[0], sizeof sb[0])), NULL;
    int is_buf = (tags & CV_TAG_BUFFER) != 0;
    int idx = -1;
    for (int i = 0; i < n->n_params; i++)
        if (strcmp(n->params[i].info.name, full) == 0) {
            idx = i;
            break;
        }
    if (idx >= 0) {
        cv_param_entry *p = &n->params[idx];
        if (!cv_shape_equal(&p->info.shape, shape) || ((p->info.tags & CV_TAG_BUFFER) != 0) != is_buf)
            return cv_graph_failv(g, CV_ERR_INVALID, "param %s: requested as %s%s but it exists as %s%s", full,
                                  cv_shape_str(shape, sb[0], sizeof sb[0]), is_buf ? " buffer" : "",
                                  cv_shape_str(&p->info.shape, sb[1], sizeof sb[1]),
                                  (p->info.tags & CV_TAG_BUFFER) ? " buffer" : ""), NULL;
    } else {
        cv_param_entry *pe = cv_grow(n->params, &n->cap_params, n->n_params + 1, sizeof *pe);
        if (!pe) return cv_graph_failv(g, CV_ERR_NOMEM, "param %s: out of memory", full), NULL;
        n->params = pe;
        int64_t count = bytes / 4;
        int64_t *total = is_buf ? &n->n_buf : &n->n_train;
        float **host = is_buf ? &n->host_buf : &n->host_train;
        int64_t *cap = is_buf ? &n->host_cap_buf : &n->host_cap_train;
        int64_t synced = is_buf ? n->synced_buf : n->synced_train;
        if (*total > INT64_MAX / 8 - count || stage(host, cap, synced, *total, *total + count) != CV_OK)
            return cv_graph_failv(g, CV_ERR_NOMEM, "param %s: out of memory", full), NULL;
        idx = n->n_params;
        cv_param_entry *p = &pe[idx];
        memset(p, 0, sizeof *p);
        p->info.name = cv_strdup(full);
        if (!p->info.name) return cv_graph_failv(g, CV_ERR_NOMEM, "param %s: out of memory", full), NULL;
        p->info.shape = *shape;
        p->info.offset = *total;
        p->info.tags = tags;
        p->init = init;
        p->scope_len = (int32_t)strlen(g->scope_path);
        cv_param_init_values(*host + (*total - synced), shape, init, n->e->seed, full, n->e->host);
        *total += count;
        n->n_params++;
    }
    /* one tensor per param per graph */
    if (idx >= g->n_param_tensor) {
        int32_t cap = g->n_param_tensor;
        int32_t *pt = cv_grow(g->param_tensor, &cap, n->n_params, sizeof *pt);
        if (!pt) return cv_graph_failv(g, CV_ERR_NOMEM, "out of memory"), NULL;
        for (int i = g->n_param_tensor; i < cap; i++) pt[i] = -1;
        g->param_tensor = pt;
        g->n_param_tensor = cap;
    }
    if (g->param_tensor[idx] >= 0) return cv_graph_tensor(g, g->param_tensor[idx]);
    cv_param_entry *p = &n->params[idx];
    cv_tensor *t = cv_graph_new_tensor(g, CV_F32, shape, is_buf ? CV_T_BUFFER : CV_T_PARAM);
    if (!t) return NULL;
    t->param = idx;
    t->requires_grad = !is_buf;
    t->storage = cv_graph_new_storage(g, is_buf ? CV_STORE_BUFFER : CV_STORE_PARAM, bytes, p->info.offset * 4);
    if (t->storage < 0) return NULL;
    g->param_tensor[idx] = t->id;
    return t;
}

/* Grow one device buffer from old_n to new_n elements: keep the old contents (for
 * the state buffer, slot by slot, since each slot is a flat vector of the
 * trainable size), then append `fresh` (or zeros). */
static int regrow(cv_net *n, int which, int64_t old_t, int64_t new_t, int slots, const float *fresh, cv_error *err) {
    const cv_backend_vtable *vt = n->e->be.vt;
    void *self = n->e->be.self;
    int64_t old_total = old_t * slots, new_total = new_t * slots;
    if (new_total == old_total && n->dev[which]) return CV_OK;
    if (new_total == 0) return CV_OK;
    float *h = cv_alloc_array((size_t)new_total, sizeof(float));
    void *d = vt->alloc(self, (size_t)new_total * 4);
    if (!h || !d) {
        cv_free(h);
        if (d) vt->free(self, d);
        return cv_set_error(err, CV_ERR_NOMEM, "engine: cannot allocate %lld bytes for the %s buffer",
                            (long long)new_total * 4, which == 0 ? "parameter" : which == 1 ? "gradient" : which == 2 ? "optimizer state" : "buffer");
    }
    int st = CV_OK;
    if (n->dev[which] && old_total) {
        float *o = cv_alloc_array((size_t)old_total, sizeof(float));
        if (!o) st = cv_set_error(err, CV_ERR_NOMEM, "engine: out of memory");
        else st = vt->download(self, o, n->dev[which], (size_t)old_total * 4, err);
        if (st == CV_OK)
            for (int s = 0; s < slots; s++) memcpy(h + s * new_t, o + s * old_t, (size_t)old_t * 4);
        cv_free(o);
    }
    if (st == CV_OK && fresh) memcpy(h + old_t, fresh, (size_t)(new_t - old_t) * 4);
    if (st == CV_OK) st = vt->upload(self, d, h, (size_t)new_total * 4, err);
    cv_free(h);
    if (st != CV_OK) {
        vt->free(self, d);
        return st;
    }
    if (n->dev[which]) vt->free(self, n->dev[which]);
    n->dev[which] = d;
    n->dev_elems[which] = new_total;
    n->generation++;
    return CV_OK;
}

int cv_net_sync_buffers(cv_net *n, cv_error *err) {
    int st = CV_OK;
    if (n->n_train != n->synced_train || !n->synced_once) {
        int64_t old = n->synced_train;
        st = regrow(n, 0, old, n->n_train, 1, n->host_train, err);
        if (st == CV_OK) st = regrow(n, 1, old, n->n_train, 1, NULL, err);
        if (st == CV_OK && n->state_slots) st = regrow(n, 2, old, n->n_train, n->state_slots, NULL, err);
        if (st != CV_OK) return st;
        n->synced_train = n->n_train;
        cv_free(n->host_train);
        n->host_train = NULL;
        n->host_cap_train = 0;
        /* segments of trainable params for the optimizer; an optimizer may still hold
         * the previous array (cv_optim_step.segments), so it is retired, not freed */
        if (n->segments) {
            void **r = cv_grow(n->retired, &n->cap_retired, n->n_retired + 1, sizeof *r);
            if (!r) return cv_set_error(err, CV_ERR_NOMEM, "engine: out of memory");
            n->retired = r;
            r[n->n_retired++] = n->segments;
        }
        n->synced_once = 1;
        n->segments = cv_alloc_array((size_t)n->n_params + 1, sizeof *n->segments);
        if (!n->segments) return cv_set_error(err, CV_ERR_NOMEM, "engine: out of memory");
        n->n_segments = 0;
        for (int i = 0; i < n->n_params; i++) {
            const cv_param_info *pi = &n->params[i].info;
            if (pi->tags & CV_TAG_BUFFER) continue;
            n->segments[n->n_segments++] = (cv_param_segment){ pi->name, pi->offset, cv_shape_numel(&pi->shape), pi->tags, 0 };
        }
    }
    if (n->n_buf != n->synced_buf) {
        st = regrow(n, 3, n->synced_buf, n->n_buf, 1, n->host_buf, err);
        if (st != CV_OK) return st;
        n->synced_buf = n->n_buf;
        cv_free(n->host_buf);
        n->host_buf = NULL;
        n->host_cap_buf = 0;
    }
    return CV_OK;
}

void cv_net_params_free(cv_net *n) {
    for (int i = 0; i < n->n_params; i++) cv_free((void *)n->params[i].info.name);
    cv_free(n->params);
    cv_free(n->host_train);
    cv_free(n->host_buf);
    cv_free(n->segments);
    for (int i = 0; i < n->n_retired; i++) cv_free(n->retired[i]);
    cv_free(n->retired);
    for (int w = 0; w < 4; w++)
        if (n->dev[w]) n->e->be.vt->free(n->e->be.self, n->dev[w]);
}

/* ---- public parameter access ---------------------------------------------------------- */
int cv_net_param_count(const cv_net *n) { return n ? n->n_params : 0; }
const cv_param_info *cv_net_param(const cv_net *n, int i) {
    return n && i >= 0 && i < n->n_params ? &n->params[i].info : NULL;
}
int64_t cv_net_trainable_elems(const cv_net *n) { return n ? n->n_train : 0; }

static int param_io(cv_net *n, int i, float *dst, const float *src, cv_error *err) {
    if (!n || i < 0 || i >= n->n_params) return cv_set_error(err, CV_ERR_INVALID, "param index %d out of range", i);
    int st = cv_net_sync_buffers(n, err);
    if (st != CV_OK) return st;
    const cv_param_info *p = &n->params[i].info;
    int which = (p->tags & CV_TAG_BUFFER) ? 3 : 0;
    size_t bytes = (size_t)cv_shape_numel(&p->shape) * 4;
    char *base = (char *)n->dev[which] + p->offset * 4;
    const cv_backend_vtable *vt = n->e->be.vt;
    return dst ? vt->download(n->e->be.self, dst, base, bytes, err) : vt->upload(n->e->be.self, base, src, bytes, err);
}

int cv_net_param_read(cv_net *n, int i, float *dst, cv_error *err) { return param_io(n, i, dst, NULL, err); }
int cv_net_param_write(cv_net *n, int i, const float *src, cv_error *err) { return param_io(n, i, NULL, src, err); }

int cv_net_alloc_state(cv_net *n, int slots, cv_error *err) {
    if (!n || slots < 0 || slots > 8) return cv_set_error(err, CV_ERR_INVALID, "optimizer state: %d slots (0..8)", slots);
    int st = cv_net_sync_buffers(n, err);
    if (st != CV_OK) return st;
    if (n->dev[2]) {
        n->e->be.vt->free(n->e->be.self, n->dev[2]);
        n->dev[2] = NULL;
        n->dev_elems[2] = 0;
    }
    n->state_slots = slots;
    if (slots == 0) return CV_OK;
    return regrow(n, 2, 0, n->n_train, slots, NULL, err);
}

int64_t cv_net_buffer_elems(const cv_net *n, int which) {
    if (!n || which < 0 || which > 3) return 0;
    switch (which) {
    case 0: case 1: return n->n_train;
    case 2: return n->n_train * n->state_slots;
    default: return n->n_buf;
    }
}

static int buffer_io(cv_net *n, int which, float *dst, const float *src, int64_t count, cv_error *err) {
    if (!n || which < 0 || which > 3) return cv_set_error(err, CV_ERR_INVALID, "buffer %d: 0 params, 1 grads, 2 state, 3 buffers", which);
    int st = cv_net_sync_buffers(n, err);
    if (st != CV_OK) return st;
    int64_t have = cv_net_buffer_elems(n, which);
    if (count < 0 || count > have)
        return cv_set_error(err, CV_ERR_INVALID, "buffer %d: %lld elements asked, it holds %lld", which, (long long)count,
                            (long long)have);
    if (count == 0) return CV_OK;
    const cv_backend_vtable *vt = n->e->be.vt;
    return dst ? vt->download(n->e->be.self, dst, n->dev[which], (size_t)count * 4, err)
               : vt->upload(n->e->be.self, n->dev[which], src, (size_t)count * 4, err);
}

int cv_net_buffer_read(cv_net *n, int which, float *dst, int64_t count, cv_error *err) {
    return buffer_io(n, which, dst, NULL, count, err);
}
int cv_net_buffer_write(cv_net *n, int which, const float *src, int64_t count, cv_error *err) {
    return buffer_io(n, which, NULL, src, count, err);
}
