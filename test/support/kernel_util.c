/* test/support/kernel_util.c — backend-agnostic kernel test helpers and the
 * finite-difference gradient checker (see kernel_util.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "kernel_util.h"
#include "testhost.h"

/* ---- dtype conversion on the host (round to nearest even) ---------------------------- */
static size_t ku_esize(int dtype) {
    switch (dtype) {
    case CV_F32: case CV_I32: return 4;
    case CV_BF16: case CV_F16: return 2;
    case CV_U8: return 1;
    default: return 0;
    }
}

double ku_rel_err(const char *what, const float *got, const float *want, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        cr_assert(isfinite(got[i]), "%s: element %lld is %g (not written?)", what, (long long)i, got[i]);
        num += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
        den += (double)want[i] * want[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

uint16_t ku_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float ku_from_bf16(uint16_t h) {
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t ku_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) {
        float a;
        memcpy(&a, &ax, 4);
        return (uint16_t)(sign | (uint16_t)nearbyintf(a * 16777216.0f));
    }
    ax += 0xc8000fffu + ((ax >> 13) & 1u);
    return (uint16_t)(sign | (ax >> 13));
}

float ku_from_f16(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0) {
        float f = ldexpf((float)m, -24);
        return sign ? -f : f;
    }
    x = e == 31 ? (sign | 0x7f800000u | (m << 13)) : (sign | ((e + 112u) << 23) | (m << 13));
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static void ku_store(int dtype, void *base, int64_t i, float v) {
    switch (dtype) {
    case CV_F32: ((float *)base)[i] = v; break;
    case CV_BF16: ((uint16_t *)base)[i] = ku_to_bf16(v); break;
    case CV_F16: ((uint16_t *)base)[i] = ku_to_f16(v); break;
    case CV_I32: ((int32_t *)base)[i] = (int32_t)v; break;
    case CV_U8: ((uint8_t *)base)[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); break;
    default: break;
    }
}

static float ku_load(int dtype, const void *base, int64_t i) {
    switch (dtype) {
    case CV_F32: return ((const float *)base)[i];
    case CV_BF16: return ku_from_bf16(((const uint16_t *)base)[i]);
    case CV_F16: return ku_from_f16(((const uint16_t *)base)[i]);
    case CV_I32: return (float)((const int32_t *)base)[i];
    case CV_U8: return (float)((const uint8_t *)base)[i];
    default: return 0.0f;
    }
}

/* ---- backends ------------------------------------------------------------------------ */
ku_backend ku_backend_open(struct cv_ctx *ctx, const char *name) {
    ku_backend be = { NULL, NULL, NULL };
    const cv_component_desc *d = th_load(ctx, "backend", name);
    cr_assert(d != NULL && d->kind == CV_KIND_BACKEND && d->vtable != NULL, "backend %s did not load", name);
    cv_create_args extra;
    memset(&extra, 0, sizeof extra);
    extra.struct_size = sizeof extra;
    extra.threads = 1;
    be.self = th_create(ctx, d, NULL, &extra);
    be.vt = d->vtable;
    be.desc = d;
    cr_assert(be.vt->struct_size >= sizeof(cv_backend_vtable), "backend %s: vtable too small", name);
    return be;
}

ku_backend ku_backend_open_cpu_bf16(struct cv_ctx *ctx) {
    static const char *const bf16[] = { "precision=bf16", NULL };
    const cv_component_desc *d = th_load(ctx, "backend", "cpu");
    cv_create_args a = { .struct_size = sizeof a, .threads = 2 };
    cv_error err;
    cv_error_init(&err);
    void *self = NULL;
    if (th_try_create(ctx, d, bf16, &a, &self, &err) != CV_OK) {
        th_ctx_free(ctx);
        cr_skip_test("this CPU has no AVX512-BF16: %s", err.message);
    }
    return (ku_backend){ d->vtable, self, d };
}

void ku_backend_close(ku_backend be) {
    if (be.desc && be.self) th_destroy(be.desc, be.self);
}

/* ---- tensors ------------------------------------------------------------------------- */
int64_t ku_numel(const ku_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->kt.ndim; d++) n *= t->kt.shape[d];
    return n;
}

ku_tensor ku_make(ku_backend be, int dtype, cv_shape shape, const float *values) {
    ku_tensor t;
    memset(&t, 0, sizeof t);
    cr_assert(ku_esize(dtype) > 0, "ku_make: unknown dtype %d", dtype);
    cr_assert(shape.ndim >= 0 && shape.ndim <= CV_MAX_DIMS, "ku_make: bad ndim %d", shape.ndim);
    t.kt.dtype = dtype;
    t.kt.ndim = shape.ndim;
    int64_t stride = 1;
    for (int d = shape.ndim - 1; d >= 0; d--) {
        t.kt.shape[d] = shape.dim[d];
        t.kt.stride[d] = stride;
        stride *= shape.dim[d];
    }
    size_t bytes = (size_t)stride * ku_esize(dtype);
    t.kt.data = be.vt->alloc(be.self, bytes ? bytes : 1);
    cr_assert(t.kt.data != NULL, "ku_make: backend alloc of %zu bytes failed", bytes);
    t.owner = 1;
    if (values) {
        ku_set(be, &t, values);
    } else {
        void *zero = calloc(1, bytes ? bytes : 1);
        cv_error err = { sizeof err, 0, "" };
        int st = be.vt->upload(be.self, t.kt.data, zero, bytes, &err);
        free(zero);
        cr_assert(st == CV_OK, "ku_make: upload failed: %s", err.message);
    }
    return t;
}

ku_tensor ku_view(const ku_tensor *base, int ndim, const int64_t *shape, const int64_t *stride, int64_t offset) {
    ku_tensor t = *base;
    t.owner = 0;
    t.kt.ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        t.kt.shape[d] = shape[d];
        t.kt.stride[d] = stride[d];
    }
    t.kt.data = (char *)base->kt.data + offset * (int64_t)ku_esize(base->kt.dtype);
    return t;
}

void ku_free(ku_backend be, ku_tensor *t) {
    if (t->owner && t->kt.data) be.vt->free(be.self, t->kt.data);
    t->kt.data = NULL;
    t->owner = 0;
}

/* element offset of logical element i, and the span (max offset + 1) */
static int64_t ku_offset(const cv_ktensor *t, int64_t i) {
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (i % t->shape[d]) * t->stride[d];
        i /= t->shape[d];
    }
    return off;
}

static int64_t ku_span(const cv_ktensor *t) {
    int64_t span = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] == 0) return 0;
        span += (t->shape[d] - 1) * t->stride[d];
    }
    return span;
}

/* the span as host bytes (downloaded when download != 0) */
static void *ku_host_span(ku_backend be, const ku_tensor *t, int download, size_t *bytes) {
    *bytes = (size_t)ku_span(&t->kt) * ku_esize(t->kt.dtype);
    void *h = calloc(1, *bytes ? *bytes : 1);
    cr_assert(h != NULL, "kernel_util: out of host memory");
    if (download && *bytes) {
        cv_error err = { sizeof err, 0, "" };
        int st = be.vt->download(be.self, h, t->kt.data, *bytes, &err);
        cr_assert(st == CV_OK, "kernel_util: download failed: %s", err.message);
    }
    return h;
}

void ku_set(ku_backend be, ku_tensor *t, const float *values) {
    size_t bytes;
    int64_t n = ku_numel(t);
    int dense = 1;
    int64_t s = 1;
    for (int d = t->kt.ndim - 1; d >= 0; d--) {
        if (t->kt.shape[d] != 1 && t->kt.stride[d] != s) dense = 0;
        s *= t->kt.shape[d];
    }
    void *h = ku_host_span(be, t, !dense, &bytes);
    for (int64_t i = 0; i < n; i++) ku_store(t->kt.dtype, h, ku_offset(&t->kt, i), values[i]);
    cv_error err = { sizeof err, 0, "" };
    int st = bytes ? be.vt->upload(be.self, t->kt.data, h, bytes, &err) : CV_OK;
    free(h);
    cr_assert(st == CV_OK, "ku_set: upload failed: %s", err.message);
}

void ku_get(ku_backend be, const ku_tensor *t, float *out) {
    size_t bytes;
    void *h = ku_host_span(be, t, 1, &bytes);
    int64_t n = ku_numel(t);
    for (int64_t i = 0; i < n; i++) out[i] = ku_load(t->kt.dtype, h, ku_offset(&t->kt, i));
    free(h);
}

float *ku_get_new(ku_backend be, const ku_tensor *t) {
    int64_t n = ku_numel(t);
    float *out = malloc((size_t)(n ? n : 1) * sizeof(float));
    cr_assert(out != NULL, "ku_get_new: out of host memory");
    ku_get(be, t, out);
    return out;
}

/* ---- running kernels -------------------------------------------------------------------- */
int ku_run(ku_backend be, int op, const void *params, size_t params_size, const ku_tensor *in, int n_in,
           const ku_tensor *out, int n_out, uint64_t seed, cv_error *err) {
    return ku_run_layout(be, op, params, params_size, in, n_in, NULL, out, n_out, NULL, seed, err);
}

int ku_run_layout(ku_backend be, int op, const void *params, size_t params_size, const ku_tensor *in, int n_in,
                  const uint8_t *in_layout, const ku_tensor *out, int n_out, const uint8_t *out_layout, uint64_t seed,
                  cv_error *err) {
    cv_ktensor kin[KU_MAX_IO * 2], kout[KU_MAX_IO * 2], pin[KU_MAX_IO * 2], pout[KU_MAX_IO * 2];
    if (n_in > KU_MAX_IO * 2 || n_out > KU_MAX_IO * 2) {
        snprintf(err->message, sizeof err->message, "ku_run: too many operands");
        return err->status = CV_ERR_INVALID;
    }
    for (int i = 0; i < n_in; i++) { kin[i] = in[i].kt; pin[i] = in[i].kt; pin[i].data = NULL; }
    for (int i = 0; i < n_out; i++) { kout[i] = out[i].kt; pout[i] = out[i].kt; pout[i].data = NULL; }
    cv_kernel k = { .struct_size = sizeof(cv_kernel), .op = op, .params = params, .params_size = (uint32_t)params_size,
                    .n_in = n_in, .n_out = n_out, .in = pin, .out = pout, .seed = seed, .in_layout = in_layout,
                    .out_layout = out_layout };
    void *prepared = NULL, *ws = NULL;
    size_t ws_bytes = 0;
    int st = CV_OK;
    if (be.vt->prepare) st = be.vt->prepare(be.self, &k, &prepared, &ws_bytes, err);
    if (st == CV_OK && ws_bytes) {
        ws = be.vt->alloc(be.self, ws_bytes);
        if (!ws) {
            snprintf(err->message, sizeof err->message, "ku_run: workspace of %zu bytes", ws_bytes);
            st = err->status = CV_ERR_NOMEM;
        }
    }
    if (st == CV_OK) {
        k.in = kin;
        k.out = kout;
        k.prepared = prepared;
        k.workspace = ws;
        k.workspace_bytes = ws_bytes;
        st = be.vt->run(be.self, &k, err);
        if (st == CV_OK && be.vt->sync) st = be.vt->sync(be.self, err);
    }
    if (prepared && be.vt->release) be.vt->release(be.self, prepared);
    if (ws) be.vt->free(be.self, ws);
    return st;
}

void ku_run_ok(ku_backend be, int op, const void *params, size_t params_size, const ku_tensor *in, int n_in,
               const ku_tensor *out, int n_out, uint64_t seed) {
    cv_error err = { sizeof err, 0, "" };
    int st = ku_run(be, op, params, params_size, in, n_in, out, n_out, seed, &err);
    cr_assert(st == CV_OK, "op %d failed with status %d: %s", op, st, err.message);
}

/* ---- random numbers ------------------------------------------------------------------------ */
ku_rng ku_rng_make(uint64_t seed) {
    ku_rng r = { seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull };
    return r;
}

double ku_uniform(ku_rng *r) {
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

float *ku_random(ku_rng *r, int64_t n, float lo, float hi) {
    float *x = malloc((size_t)(n ? n : 1) * sizeof(float));
    cr_assert(x != NULL, "ku_random: out of host memory");
    for (int64_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * ku_uniform(r));
    return x;
}

double ku_hash_uniform(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 40) * (1.0 / 16777216.0);
}

void ku_keep_away(float *x, int64_t n, const float *points, int n_points, float margin) {
    for (int64_t i = 0; i < n; i++)
        for (int p = 0; p < n_points; p++)
            if (fabsf(x[i] - points[p]) < margin) x[i] = x[i] < points[p] ? points[p] - margin : points[p] + margin;
}

void ku_assert_close(const float *got, const float *want, int64_t n, double rtol, double atol, const char *what) {
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        int ok = (isnan(g) && isnan(w)) || (isinf(w) && g == w) || fabs(g - w) <= atol + rtol * fabs(w);
        cr_assert(ok, "%s: element %lld is %.9g, expected %.9g (rtol %g, atol %g)", what, (long long)i, g, w, rtol, atol);
    }
}

/* ---- comparing backends ---------------------------------------------------------------------- */
void ku_compare_backends(ku_backend test, ku_backend ref, int op, const void *params, size_t params_size,
                         const ku_spec *in, int n_in, const ku_spec *out, int n_out, uint64_t seed, double rtol,
                         double atol) {
    cr_assert(n_in >= 0 && n_in <= KU_MAX_IO && n_out >= 1 && n_out <= KU_MAX_IO, "ku_compare_backends: bad counts");
    ku_backend be[2] = { test, ref };
    ku_tensor ti[2][KU_MAX_IO], to[2][KU_MAX_IO];
    float *res[2][KU_MAX_IO];
    for (int b = 0; b < 2; b++) {
        for (int i = 0; i < n_in; i++) ti[b][i] = ku_make(be[b], in[i].dtype, in[i].shape, in[i].values);
        for (int i = 0; i < n_out; i++) to[b][i] = ku_make(be[b], out[i].dtype, out[i].shape, out[i].values);
        cv_error err = { sizeof err, 0, "" };
        int st = ku_run(be[b], op, params, params_size, ti[b], n_in, to[b], n_out, seed, &err);
        cr_assert(st == CV_OK, "op %d failed on the %s backend (status %d): %s", op, b ? "reference" : "tested", st,
                  err.message);
        for (int i = 0; i < n_out; i++) res[b][i] = ku_get_new(be[b], &to[b][i]);
    }
    for (int i = 0; i < n_out; i++) {
        char what[64];
        snprintf(what, sizeof what, "op %d output %d vs the reference", op, i);
        ku_assert_close(res[0][i], res[1][i], cv_shape_numel(&out[i].shape), rtol, atol, what);
    }
    for (int b = 0; b < 2; b++) {
        for (int i = 0; i < n_in; i++) ku_free(be[b], &ti[b][i]);
        for (int i = 0; i < n_out; i++) {
            ku_free(be[b], &to[b][i]);
            free(res[b][i]);
        }
    }
}

/* ---- finite differences ---------------------------------------------------------------------- */
static double ku_weighted_sum(ku_backend be, const ku_tensor *y, const float *r) {
    float *v = ku_get_new(be, y);
    double s = 0.0;
    for (int64_t i = 0; i < ku_numel(y); i++) s += (double)r[i] * v[i];
    free(v);
    return s;
}

int ku_gradcheck_run(ku_backend be, const ku_gradcheck *c, ku_gradcheck_result *res, cv_error *err) {
    ku_tensor in[KU_MAX_IO], out[KU_MAX_IO], bin[KU_MAX_IO], bout[KU_MAX_IO], dy;
    double eps = c->eps > 0 ? c->eps : 1e-2, rtol = c->rtol > 0 ? c->rtol : 1e-2, atol = c->atol > 0 ? c->atol : 1e-3;
    memset(res, 0, sizeof *res);
    int bad = c->n_in < 1 || c->n_in > KU_MAX_IO || c->n_out < 1 || c->n_out > KU_MAX_IO || c->n_bwd_in < 0 ||
              c->n_bwd_in > KU_MAX_IO || c->n_bwd_out < 1 || c->n_bwd_out > KU_MAX_IO;
    for (int i = 0; !bad && i < c->n_in; i++) bad = c->in[i].values == NULL;
    for (int k = 0; !bad && k < c->n_bwd_out; k++) bad = c->grad_of[k] >= c->n_in;
    for (int i = 0; !bad && i < c->n_bwd_in; i++) {
        ku_ref r = c->bwd_in[i];
        bad = r.src == KU_SRC_IN ? r.index < 0 || r.index >= c->n_in
              : r.src == KU_SRC_OUT ? r.index < 0 || r.index >= c->n_out : r.src != KU_SRC_DY;
    }
    if (bad) {
        snprintf(err->message, sizeof err->message, "ku_gradcheck %s: bad case (counts, missing input values or a "
                 "reference out of range)", c->name ? c->name : "");
        return err->status = CV_ERR_INVALID;
    }
    for (int i = 0; i < c->n_in; i++) in[i] = ku_make(be, c->in[i].dtype, c->in[i].shape, c->in[i].values);
    for (int i = 0; i < c->n_out; i++) out[i] = ku_make(be, c->out[i].dtype, c->out[i].shape, NULL);
    int st = ku_run(be, c->fwd_op, c->fwd_params, c->fwd_params_size, in, c->n_in, out, c->n_out, c->seed, err);
    /* the weights r of L = sum r*y0, also the backward's dy */
    ku_rng rng = ku_rng_make(c->seed ^ 0x5eedull);
    int64_t ny = ku_numel(&out[0]);
    float *r = ku_random(&rng, ny, -1.0f, 1.0f);
    for (int64_t i = 0; i < ny; i++) r[i] = r[i] >= 0 ? r[i] + 0.1f : r[i] - 0.1f; /* never ~0 */
    dy = ku_make(be, CV_F32, c->out[0].shape, r);
    for (int i = 0; i < c->n_bwd_in; i++) {
        ku_ref ref = c->bwd_in[i];
        bin[i] = ref.src == KU_SRC_IN ? in[ref.index] : ref.src == KU_SRC_OUT ? out[ref.index] : dy;
    }
    for (int k = 0; k < c->n_bwd_out; k++)
        bout[k] = ku_make(be, CV_F32, c->grad_of[k] >= 0 ? c->in[c->grad_of[k]].shape : c->bwd_out_shape[k], NULL);
    if (st == CV_OK)
        st = ku_run(be, c->bwd_op, c->bwd_params, c->bwd_params_size, bin, c->n_bwd_in, bout, c->n_bwd_out, c->seed, err);
    for (int k = 0; st == CV_OK && k < c->n_bwd_out; k++) {
        int which = c->grad_of[k];
        if (which < 0) continue;
        float *ana = ku_get_new(be, &bout[k]);
        int64_t n = ku_numel(&in[which]);
        float *x = malloc((size_t)(n ? n : 1) * sizeof(float));
        memcpy(x, c->in[which].values, (size_t)n * sizeof(float));
        for (int64_t e = 0; e < n && st == CV_OK; e++) {
            float x0 = x[e], xp = (float)(x0 + eps), xm = (float)(x0 - eps);
            x[e] = xp;
            ku_set(be, &in[which], x);
            st = ku_run(be, c->fwd_op, c->fwd_params, c->fwd_params_size, in, c->n_in, out, c->n_out, c->seed, err);
            double lp = st == CV_OK ? ku_weighted_sum(be, &out[0], r) : 0.0;
            x[e] = xm;
            ku_set(be, &in[which], x);
            if (st == CV_OK)
                st = ku_run(be, c->fwd_op, c->fwd_params, c->fwd_params_size, in, c->n_in, out, c->n_out, c->seed, err);
            double lm = st == CV_OK ? ku_weighted_sum(be, &out[0], r) : 0.0;
            x[e] = x0;
            double num = (lp - lm) / ((double)xp - (double)xm), a = ana[e], diff = fabs(num - a);
            res->checked++;
            if (diff > atol + rtol * fmax(fabs(num), fabs(a))) res->failed++;
            if (diff > res->max_abs_err || res->checked == 1) {
                res->max_abs_err = diff;
                snprintf(res->worst, sizeof res->worst, "d/d input %d element %lld: numeric %.6g, backward kernel %.6g",
                         which, (long long)e, num, a);
            }
        }
        ku_set(be, &in[which], x);
        free(x);
        free(ana);
    }
    for (int i = 0; i < c->n_in; i++) ku_free(be, &in[i]);
    for (int i = 0; i < c->n_out; i++) ku_free(be, &out[i]);
    for (int k = 0; k < c->n_bwd_out; k++) ku_free(be, &bout[k]);
    ku_free(be, &dy);
    free(r);
    return st;
}

void ku_gradcheck_assert(ku_backend be, const ku_gradcheck *c) {
    cv_error err = { sizeof err, 0, "" };
    ku_gradcheck_result res;
    int st = ku_gradcheck_run(be, c, &res, &err);
    cr_assert(st == CV_OK, "%s: kernel failed (status %d): %s", c->name ? c->name : "gradcheck", st, err.message);
    cr_assert(res.checked > 0, "%s: nothing was checked", c->name ? c->name : "gradcheck");
    cr_assert(res.failed == 0, "%s: %d of %lld gradient elements out of tolerance; worst %s",
              c->name ? c->name : "gradcheck", res.failed, (long long)res.checked, res.worst);
}

void ku_to_c16(const float *x, int64_t n, int64_t c, int64_t hw, float *f, uint16_t *h) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++) {
                const int64_t at = ((i * (c / 16) + ch / 16) * hw + p) * 16 + ch % 16;
                const float v = x[(i * c + ch) * hw + p];
                if (f) f[at] = v;
                if (h) h[at] = ku_to_bf16(v);
            }
}
