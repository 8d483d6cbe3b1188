/* core/train/checkpoint.c — weights and training state as safetensors (see checkpoint.h). */
#include "train/checkpoint.h"
#include "host.h"
#include "train/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE_BLOB_PREFIX "blob."

#define TEACHER_PREFIX "teacher."

/* Which net parameters a load or save with this prefix covers: "" means the
 * model itself (everything but the distillation teacher's "teacher.*"). */
static int belongs(const char *name, const char *prefix) {
    if (!*prefix) return strncmp(name, TEACHER_PREFIX, strlen(TEACHER_PREFIX)) != 0;
    return strncmp(name, prefix, strlen(prefix)) == 0;
}

static int write_metadata_i64(cv_st_writer *w, const char *key, int64_t v, cv_error *err) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return cv_st_add_metadata(w, key, buf, err);
}
static int write_metadata_f64(cv_st_writer *w, const char *key, double v, cv_error *err) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    return cv_st_add_metadata(w, key, buf, err);
}

int cv_ckpt_write_weights(cv_net *net, const cv_ema *ema, const char *model, const char *path, cv_error *err) {
    cv_st_writer *w = cv_st_writer_create();
    if (!w) return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    int rc = cv_st_add_metadata(w, "format", "cvnets", err);
    if (!rc && model) rc = cv_st_add_metadata(w, "model", model, err);
    float *tmp = NULL;
    for (int i = 0; !rc && i < cv_net_param_count(net); i++) {
        const cv_param_info *p = cv_net_param(net, i);
        if (!belongs(p->name, "")) continue; /* a distillation teacher is not part of the model */
        int64_t n = cv_shape_numel(&p->shape);
        cv_free(tmp);
        tmp = cv_alloc_array((size_t)(n ? n : 1), sizeof(float));
        if (!tmp) { rc = cv_set_error(err, CV_ERR_NOMEM, "out of memory"); break; }
        if (ema) {
            const float *src = (p->tags & CV_TAG_BUFFER) ? ema->buffers : ema->params;
            memcpy(tmp, src + p->offset, (size_t)n * sizeof(float));
        } else if ((rc = cv_net_param_read(net, i, tmp, err))) {
            break;
        }
        rc = cv_st_add(w, p->name, CV_F32, &p->shape, tmp, err);
    }
    cv_free(tmp);
    if (!rc) rc = cv_st_write_atomic(w, path, err);
    cv_st_writer_destroy(w);
    return rc;
}

/* Appends "name (reason)" items to a bounded list for one error message. */
typedef struct problems { char text[700]; int count; } problems;
static void problem(problems *pr, const char *fmt, const char *name, const char *extra) {
    pr->count++;
    size_t used = strlen(pr->text);
    if (used > sizeof pr->text - 80) {
        if (!strstr(pr->text, ", …")) strcat(pr->text, ", …");
        return;
    }
    snprintf(pr->text + used, sizeof pr->text - used, fmt, used ? ", " : "", name, extra ? extra : "");
}

int cv_ckpt_load_weights(cv_net *net, const char *path, int strict, int *loaded, cv_error *err) {
    return cv_ckpt_load_weights_prefixed(net, path, "", strict, loaded, err);
}

int cv_ckpt_load_weights_prefixed(cv_net *net, const char *path, const char *prefix, int strict, int *loaded,
                                  cv_error *err) {
    size_t plen = strlen(prefix);
    cv_st_file *f = cv_st_open(path, err);
    if (!f) return err->status;
    problems missing = { "", 0 }, mismatch = { "", 0 }, unexpected = { "", 0 };
    int np = cv_net_param_count(net);
    const cv_st_tensor **match = cv_alloc_array((size_t)(np ? np : 1), sizeof *match);
    if (!match) { cv_st_close(f); return cv_set_error(err, CV_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < np; i++) {
        const cv_param_info *p = cv_net_param(net, i);
        if (!belongs(p->name, prefix)) continue;
        const cv_st_tensor *t = cv_st_find(f, p->name + plen);
        if (!t) { problem(&missing, "%s%s%s", p->name + plen, NULL); continue; }
        int same = t->dtype == CV_F32 && t->shape.ndim == p->shape.ndim;
        for (int d = 0; same && d < p->shape.ndim; d++) same = t->shape.dim[d] == p->shape.dim[d];
        if (!same) {
            char want[160] = " (checkpoint ", *q = want + strlen(want);
            for (int d = 0; d < t->shape.ndim; d++) q += sprintf(q, d ? "x%lld" : "%lld", (long long)t->shape.dim[d]);
            q += sprintf(q, ", model ");
            for (int d = 0; d < p->shape.ndim; d++) q += sprintf(q, d ? "x%lld" : "%lld", (long long)p->shape.dim[d]);
            strcpy(q, ")");
            problem(&mismatch, "%s%s%s", p->name + plen, want);
            continue;
        }
        match[i] = t;
    }
    for (int j = 0; j < cv_st_count(f); j++) {
        const cv_st_tensor *t = cv_st_at(f, j);
        int known = 0;
        for (int i = 0; i < np && !known; i++) {
            const char *name = cv_net_param(net, i)->name;
            known = belongs(name, prefix) && strcmp(name + plen, t->name) == 0;
        }
        if (!known) problem(&unexpected, "%s%s%s", t->name, NULL);
    }
    int rc = CV_OK;
    if (strict && (missing.count || mismatch.count || unexpected.count)) {
        const char *model = cv_st_metadata(f, "model");
        rc = cv_set_error(err, CV_ERR_INVALID,
                          "checkpoint %s does not fit this model%s%s%s: %d missing [%s], %d with another shape [%s], "
                          "%d unexpected [%s]",
                          path, model ? " (it was saved from model '" : "", model ? model : "", model ? "')" : "",
                          missing.count, missing.text, mismatch.count, mismatch.text, unexpected.count, unexpected.text);
    }
    int n_loaded = 0;
    for (int i = 0; !rc && i < np; i++) {
        if (!match[i]) continue;
        if ((rc = cv_net_param_write(net, i, match[i]->data, err))) break;
        n_loaded++;
    }
    if (!rc && !strict && (missing.count || mismatch.count || unexpected.count))
        fprintf(stderr, "warning: %s: loaded %d tensors; %d missing [%s]; %d with another shape [%s]; %d unexpected [%s]\n",
                path, n_loaded, missing.count, missing.text, mismatch.count, mismatch.text, unexpected.count,
                unexpected.text);
    if (loaded) *loaded = n_loaded;
    cv_free(match);
    cv_st_close(f);
    return rc;
}

static int add_flat(cv_st_writer *w, const char *name, const float *data, int64_t n, cv_error *err) {
    cv_shape s = CV_SHAPE(n);
    return cv_st_add(w, name, CV_F32, &s, data, err);
}

int cv_ckpt_write_state(cv_net *net, const cv_ema *ema, const cv_train_state *ts,
                        const cv_state_writer *blobs, const char *path, cv_error *err) {
    cv_st_writer *w = cv_st_writer_create();
    if (!w) return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    int rc = cv_st_add_metadata(w, "format", "cvnets-train-state", err);
    if (!rc) rc = write_metadata_i64(w, "epoch", ts->epoch, err);
    if (!rc) rc = write_metadata_i64(w, "step_in_epoch", ts->step_in_epoch, err);
    if (!rc) rc = write_metadata_i64(w, "iteration", ts->iteration, err);
    if (!rc) rc = write_metadata_f64(w, "best_top1", ts->best_top1, err);
    if (!rc) rc = write_metadata_f64(w, "best_top1_ema", ts->best_top1_ema, err);
    if (!rc) rc = write_metadata_f64(w, "last_loss", ts->last_loss, err);
    if (!rc) rc = write_metadata_f64(w, "loss_scale", ts->loss_scale, err);
    if (!rc) rc = write_metadata_i64(w, "scale_good_steps", ts->scale_good_steps, err);
    int64_t ns = cv_net_buffer_elems(net, 2);
    if (!rc && ns > 0) {
        float *st = cv_alloc_array((size_t)ns, sizeof(float));
        if (!st) rc = cv_set_error(err, CV_ERR_NOMEM, "out of memory for optimizer state");
        if (!rc) rc = cv_net_buffer_read(net, 2, st, ns, err);
        if (!rc) rc = add_flat(w, "optimizer.state", st, ns, err);
        cv_free(st);
    }
    if (!rc && ema && ema->params) {
        rc = add_flat(w, "ema.params", ema->params, ema->n_params, err);
        if (!rc && ema->n_buffers) rc = add_flat(w, "ema.buffers", ema->buffers, ema->n_buffers, err);
    }
    for (int i = 0; !rc && blobs && i < cv_state_writer_count(blobs); i++) {
        size_t bytes = 0;
        const void *data = cv_state_writer_data(blobs, i, &bytes);
        char name[512];
        snprintf(name, sizeof name, STATE_BLOB_PREFIX "%s", cv_state_writer_name(blobs, i));
        cv_shape s = CV_SHAPE((int64_t)bytes);
        rc = cv_st_add(w, name, CV_U8, &s, data, err);
    }
    if (!rc) rc = cv_st_write_atomic(w, path, err);
    cv_st_writer_destroy(w);
    return rc;
}

static int read_i64(const cv_st_file *f, const char *path, const char *key, int64_t *out, cv_error *err) {
    const char *v = cv_st_metadata(f, key);
    char *end = NULL;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || *end) return cv_set_error(err, CV_ERR_IO, "training state %s: missing or bad '%s'", path, key);
    *out = x;
    return CV_OK;
}
static int read_f64(const cv_st_file *f, const char *path, const char *key, double *out, cv_error *err) {
    const char *v = cv_st_metadata(f, key);
    char *end = NULL;
    double x = v ? strtod(v, &end) : 0;
    if (!v || *end) return cv_set_error(err, CV_ERR_IO, "training state %s: missing or bad '%s'", path, key);
    *out = x;
    return CV_OK;
}

static int read_flat(const cv_st_file *f, const char *path, const char *name, int64_t n, const float **out,
                     cv_error *err) {
    const cv_st_tensor *t = cv_st_find(f, name);
    if (!t || t->dtype != CV_F32 || t->shape.ndim != 1 || t->shape.dim[0] != n)
        return cv_set_error(err, CV_ERR_INVALID, "training state %s: '%s' is missing or is not %lld values "
                            "(a checkpoint of another model or optimizer?)", path, name, (long long)n);
    *out = t->data;
    return CV_OK;
}

int cv_ckpt_load_state(cv_net *net, cv_ema *ema, cv_train_state *ts, cv_state_reader *blobs,
                       const char *path, cv_error *err) {
    cv_st_file *f = cv_st_open(path, err);
    if (!f) return err->status;
    int rc = CV_OK;
    const char *fmt = cv_st_metadata(f, "format");
    if (!fmt || strcmp(fmt, "cvnets-train-state") != 0)
        rc = cv_set_error(err, CV_ERR_INVALID, "%s is not a cvnets training-state file", path);
    if (!rc) rc = read_i64(f, path, "epoch", &ts->epoch, err);
    if (!rc) rc = read_i64(f, path, "step_in_epoch", &ts->step_in_epoch, err);
    if (!rc) rc = read_i64(f, path, "iteration", &ts->iteration, err);
    if (!rc) rc = read_f64(f, path, "best_top1", &ts->best_top1, err);
    if (!rc) rc = read_f64(f, path, "best_top1_ema", &ts->best_top1_ema, err);
    if (!rc) rc = read_f64(f, path, "last_loss", &ts->last_loss, err);
    /* loss scaling came later: files without it keep the caller's values */
    if (!rc && cv_st_metadata(f, "loss_scale")) rc = read_f64(f, path, "loss_scale", &ts->loss_scale, err);
    if (!rc && cv_st_metadata(f, "scale_good_steps"))
        rc = read_i64(f, path, "scale_good_steps", &ts->scale_good_steps, err);
    int64_t ns = cv_net_buffer_elems(net, 2);
    const float *st = NULL, *ep = NULL, *eb = NULL;
    if (!rc && ns > 0) rc = read_flat(f, path, "optimizer.state", ns, &st, err);
    if (!rc && ema && ema->params) {
        rc = read_flat(f, path, "ema.params", ema->n_params, &ep, err);
        if (!rc && ema->n_buffers) rc = read_flat(f, path, "ema.buffers", ema->n_buffers, &eb, err);
    }
    size_t plen = strlen(STATE_BLOB_PREFIX);
    for (int i = 0; !rc && blobs && i < cv_st_count(f); i++) {
        const cv_st_tensor *t = cv_st_at(f, i);
        if (strncmp(t->name, STATE_BLOB_PREFIX, plen) == 0)
            rc = cv_state_reader_add(blobs, t->name + plen, t->data, t->bytes, err);
    }
    /* everything checked: now change the net */
    if (!rc && st) rc = cv_net_buffer_write(net, 2, st, ns, err);
    if (!rc && ep) memcpy(ema->params, ep, (size_t)ema->n_params * sizeof(float));
    if (!rc && eb) memcpy(ema->buffers, eb, (size_t)ema->n_buffers * sizeof(float));
    cv_st_close(f);
    return rc;
}
