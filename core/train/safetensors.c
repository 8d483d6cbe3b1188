/* core/train/safetensors.c — safetensors reader and atomic writer.  The reader
 * checks everything a corrupt or truncated file could get wrong (header length,
 * JSON syntax, dtypes, shapes against byte ranges, ranges inside the file, overlap
 * order) and names the file in every error. */
#include "safetensors.h"
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER (100u << 20)

static const char *const st_names[] = { "F32", "BF16", "F16", "I32", "U8" };

const char *cv_dtype_st_name(int dtype) { return dtype >= 0 && dtype <= CV_U8 ? st_names[dtype] : NULL; }

/* ---- writer ------------------------------------------------------------------------ */
typedef struct st_item { char *name; int dtype; cv_shape shape; void *data; size_t bytes; } st_item;
typedef struct st_meta { char *key, *value; } st_meta;

struct cv_st_writer {
    st_item *items;
    int n, cap;
    st_meta *meta;
    int n_meta, cap_meta;
};

cv_st_writer *cv_st_writer_create(void) { return cv_alloc_array(1, sizeof(cv_st_writer)); }

void cv_st_writer_destroy(cv_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) { cv_free(w->items[i].name); cv_free(w->items[i].data); }
    for (int i = 0; i < w->n_meta; i++) { cv_free(w->meta[i].key); cv_free(w->meta[i].value); }
    cv_free(w->items);
    cv_free(w->meta);
    cv_free(w);
}

static int grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return CV_OK;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *p = cv_alloc_array((size_t)nc, elem);
    if (!p) return CV_ERR_NOMEM;
    if (*arr) memcpy(p, *arr, (size_t)*cap * elem);
    cv_free(*arr);
    *arr = p;
    *cap = nc;
    return CV_OK;
}

int cv_st_add(cv_st_writer *w, const char *name, int dtype, const cv_shape *shape, const void *data, cv_error *err) {
    size_t es = cv_dtype_size(dtype);
    if (!es || !name || !*name || shape->ndim < 0 || shape->ndim > CV_MAX_DIMS)
        return cv_set_error(err, CV_ERR_INVALID, "safetensors: bad tensor '%s'", name ? name : "(null)");
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->items[i].name, name) == 0)
            return cv_set_error(err, CV_ERR_INVALID, "safetensors: duplicate tensor name '%s'", name);
    size_t bytes = es;
    for (int d = 0; d < shape->ndim; d++) {
        if (shape->dim[d] < 0 || (shape->dim[d] && bytes > SIZE_MAX / (size_t)shape->dim[d]))
            return cv_set_error(err, CV_ERR_INVALID, "safetensors: bad shape for '%s'", name);
        bytes *= (size_t)shape->dim[d];
    }
    if (grow((void **)&w->items, &w->cap, w->n + 1, sizeof(st_item)))
        return cv_set_error(err, CV_ERR_NOMEM, "safetensors: out of memory");
    st_item *it = &w->items[w->n];
    it->name = cv_strdup(name);
    it->data = cv_alloc(bytes);
    if (!it->name || !it->data) {
        cv_free(it->name);
        cv_free(it->data);
        return cv_set_error(err, CV_ERR_NOMEM, "safetensors: out of memory for '%s' (%zu bytes)", name, bytes);
    }
    if (bytes) memcpy(it->data, data, bytes);
    it->dtype = dtype;
    it->shape = *shape;
    it->bytes = bytes;
    w->n++;
    return CV_OK;
}

int cv_st_add_metadata(cv_st_writer *w, const char *key, const char *value, cv_error *err) {
    if (grow((void **)&w->meta, &w->cap_meta, w->n_meta + 1, sizeof(st_meta)))
        return cv_set_error(err, CV_ERR_NOMEM, "safetensors: out of memory");
    w->meta[w->n_meta].key = cv_strdup(key);
    w->meta[w->n_meta].value = cv_strdup(value);
    w->n_meta++;
    return CV_OK;
}

/* a growable string for the JSON header */
typedef struct sbuf { char *p; size_t n, cap; int oom; } sbuf;
static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->n + n + 1) nc *= 2;
        char *q = realloc(b->p, nc);
        if (!q) { b->oom = 1; return; }
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_fmt(sbuf *b, const char *fmt, long long v) {
    char t[64];
    int k = snprintf(t, sizeof t, fmt, v);
    sb_put(b, t, (size_t)k);
}
static void sb_json_string(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { char e[2] = { '\\', (char)c }; sb_put(b, e, 2); }
        else if (c < 0x20) { char e[8]; int k = snprintf(e, sizeof e, "\\u%04x", c); sb_put(b, e, (size_t)k); }
        else sb_put(b, (const char *)&c, 1);
    }
    sb_put(b, "\"", 1);
}

static int write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0) { if (errno == EINTR) continue; return -1; }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

int cv_st_write_atomic(cv_st_writer *w, const char *path, cv_error *err) {
    sbuf h = { 0 };
    sb_str(&h, "{");
    if (w->n_meta) {
        sb_str(&h, "\"__metadata__\":{");
        for (int i = 0; i < w->n_meta; i++) {
            if (i) sb_str(&h, ",");
            sb_json_string(&h, w->meta[i].key);
            sb_str(&h, ":");
            sb_json_string(&h, w->meta[i].value);
        }
        sb_str(&h, "}");
    }
    size_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const st_item *it = &w->items[i];
        if (i || w->n_meta) sb_str(&h, ",");
        sb_json_string(&h, it->name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, cv_dtype_st_name(it->dtype));
        sb_str(&h, "\",\"shape\":[");
        for (int d = 0; d < it->shape.ndim; d++) sb_fmt(&h, d ? ",%lld" : "%lld", (long long)it->shape.dim[d]);
        sb_fmt(&h, "],\"data_offsets\":[%lld,", (long long)off);
        off += it->bytes;
        sb_fmt(&h, "%lld]}", (long long)off);
    }
    sb_str(&h, "}");
    while (!h.oom && h.n % 8) sb_str(&h, " "); /* keep the data 8-byte aligned */
    if (h.oom) {
        free(h.p);
        return cv_set_error(err, CV_ERR_NOMEM, "safetensors: out of memory writing %s", path);
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) { free(h.p); return cv_set_error(err, CV_ERR_NOMEM, "out of memory"); }
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = CV_OK;
    if (fd < 0) {
        rc = cv_set_error(err, CV_ERR_IO, "cannot write checkpoint %s: %s", tmp, strerror(errno));
        goto out;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
    int bad = write_all(fd, len8, 8) || write_all(fd, h.p, h.n);
    for (int i = 0; i < w->n && !bad; i++) bad = write_all(fd, w->items[i].data, w->items[i].bytes);
    if (!bad) bad = fsync(fd);
    int saved = errno;
    if (close(fd) && !bad) { bad = 1; saved = errno; }
    if (bad) {
        unlink(tmp);
        rc = cv_set_error(err, CV_ERR_IO, "cannot write checkpoint %s: %s (the previous file, if any, is intact)",
                          path, strerror(saved));
        goto out;
    }
    if (rename(tmp, path)) {
        saved = errno;
        unlink(tmp);
        rc = cv_set_error(err, CV_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(saved));
        goto out;
    }
    /* make the rename itself durable */
    char *dir = strdup(path);
    if (dir) {
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0; else strcpy(dir, ".");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) { fsync(dfd); close(dfd); }
        free(dir);
    }
out:
    free(tmp);
    free(h.p);
    return rc;
}

/* ---- reader ------------------------------------------------------------------------- */
typedef struct st_entry { cv_st_tensor t; char *name; } st_entry;

struct cv_st_file {
    unsigned char *blob; /* the whole file */
    size_t size;
    st_entry *e;
    int n, cap;
    st_meta *meta;
    int n_meta, cap_meta;
};

void cv_st_close(cv_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) cv_free(f->e[i].name);
    for (int i = 0; i < f->n_meta; i++) { cv_free(f->meta[i].key); cv_free(f->meta[i].value); }
    cv_free(f->e);
    cv_free(f->meta);
    free(f->blob);
    cv_free(f);
}

int cv_st_count(const cv_st_file *f) { return f->n; }
const cv_st_tensor *cv_st_at(const cv_st_file *f, int i) { return i >= 0 && i < f->n ? &f->e[i].t : NULL; }
const cv_st_tensor *cv_st_find(const cv_st_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->e[i].name, name) == 0) return &f->e[i].t;
    return NULL;
}
const char *cv_st_metadata(const cv_st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}

/* A tiny JSON reader for exactly what a safetensors header may hold. */
typedef struct jp { const char *s, *end, *base; const char *path; cv_error *err; } jp;

static void jp_ws(jp *p) { while (p->s < p->end && (*p->s == ' ' || *p->s == '\n' || *p->s == '\r' || *p->s == '\t')) p->s++; }
static int jp_fail(jp *p, const char *what) {
    return cv_set_error(p->err, CV_ERR_IO, "corrupt checkpoint %s: bad header JSON (%s at byte %ld)", p->path, what,
                        (long)(p->s - p->base) + 8);
}
static int jp_expect(jp *p, char c) {
    jp_ws(p);
    if (p->s >= p->end || *p->s != c) return jp_fail(p, "unexpected character");
    p->s++;
    return CV_OK;
}
static int jp_string(jp *p, char **out) {
    jp_ws(p);
    if (p->s >= p->end || *p->s != '"') return jp_fail(p, "expected a string");
    p->s++;
    size_t cap = 64, n = 0;
    char *b = cv_alloc(cap);
    if (!b) return cv_set_error(p->err, CV_ERR_NOMEM, "out of memory");
    while (p->s < p->end && *p->s != '"') {
        char c = *p->s++;
        if (c == '\\') {
            if (p->s >= p->end) break;
            char e = *p->s++;
            if (e == 'u') {
                if (p->end - p->s < 4) break;
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    char h = *p->s++;
                    v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
                }
                c = v < 0x80 ? (char)v : '?';
            } else c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e;
        }
        if (n + 2 > cap) {
            char *q = cv_alloc(cap * 2);
            if (!q) { cv_free(b); return cv_set_error(p->err, CV_ERR_NOMEM, "out of memory"); }
            memcpy(q, b, n);
            cv_free(b);
            b = q;
            cap *= 2;
        }
        b[n++] = c;
    }
    if (p->s >= p->end) { cv_free(b); return jp_fail(p, "unterminated string"); }
    p->s++;
    b[n] = 0;
    *out = b;
    return CV_OK;
}
static int jp_int(jp *p, int64_t *out) {
    jp_ws(p);
    int64_t v = 0;
    int digits = 0;
    while (p->s < p->end && *p->s >= '0' && *p->s <= '9') {
        if (v > (INT64_MAX - 9) / 10) return jp_fail(p, "integer too large");
        v = v * 10 + (*p->s++ - '0');
        digits++;
    }
    if (!digits) return jp_fail(p, "expected a non-negative integer");
    *out = v;
    return CV_OK;
}
static int jp_int_array(jp *p, int64_t *vals, int max, int *count) {
    if (jp_expect(p, '[')) return p->err->status;
    int n = 0;
    jp_ws(p);
    if (p->s < p->end && *p->s == ']') { p->s++; *count = 0; return CV_OK; }
    for (;;) {
        int64_t v = 0;
        if (jp_int(p, &v)) return p->err->status;
        if (n >= max) return jp_fail(p, "too many array elements");
        vals[n++] = v;
        jp_ws(p);
        if (p->s < p->end && *p->s == ',') { p->s++; continue; }
        if (jp_expect(p, ']')) return p->err->status;
        break;
    }
    *count = n;
    return CV_OK;
}

static int parse_tensor(jp *p, cv_st_file *f, char *name, size_t data_size, const unsigned char *data) {
    char *dtype = NULL;
    int64_t shape[CV_MAX_DIMS + 1], offs[3];
    int nshape = -1, noffs = -1;
    if (jp_expect(p, '{')) return p->err->status;
    for (;;) {
        char *k = NULL;
        if (jp_string(p, &k) || jp_expect(p, ':')) { cv_free(k); cv_free(dtype); return p->err->status; }
        int rc;
        if (strcmp(k, "dtype") == 0) { cv_free(dtype); dtype = NULL; rc = jp_string(p, &dtype); }
        else if (strcmp(k, "shape") == 0) rc = jp_int_array(p, shape, CV_MAX_DIMS + 1, &nshape);
        else if (strcmp(k, "data_offsets") == 0) rc = jp_int_array(p, offs, 3, &noffs);
        else rc = jp_fail(p, "unknown tensor field");
        cv_free(k);
        if (rc) { cv_free(dtype); return rc; }
        jp_ws(p);
        if (p->s < p->end && *p->s == ',') { p->s++; continue; }
        if (jp_expect(p, '}')) { cv_free(dtype); return p->err->status; }
        break;
    }
    int dt = -1;
    for (int i = 0; dtype && i <= CV_U8; i++)
        if (strcmp(dtype, st_names[i]) == 0) dt = i;
    int rc = CV_OK;
    if (dt < 0)
        rc = cv_set_error(p->err, CV_ERR_UNSUPPORTED, "checkpoint %s: tensor '%s' has dtype %s, which cvnets does not read",
                          p->path, name, dtype ? dtype : "(missing)");
    else if (nshape < 0 || nshape > CV_MAX_DIMS || noffs != 2 || offs[0] > offs[1] || (uint64_t)offs[1] > data_size)
        rc = cv_set_error(p->err, CV_ERR_IO, "corrupt checkpoint %s: tensor '%s' has a bad shape or byte range "
                          "(the file may be truncated)", p->path, name);
    cv_free(dtype);
    if (rc) return rc;
    size_t bytes = cv_dtype_size(dt);
    for (int d = 0; d < nshape; d++) {
        if (shape[d] && bytes > SIZE_MAX / (uint64_t)shape[d]) { bytes = SIZE_MAX; break; }
        bytes *= (size_t)shape[d];
    }
    if (bytes != (size_t)(offs[1] - offs[0]))
        return cv_set_error(p->err, CV_ERR_IO, "corrupt checkpoint %s: tensor '%s' shape does not match its %lld bytes",
                            p->path, name, (long long)(offs[1] - offs[0]));
    if (grow((void **)&f->e, &f->cap, f->n + 1, sizeof(st_entry)))
        return cv_set_error(p->err, CV_ERR_NOMEM, "out of memory");
    st_entry *e = &f->e[f->n++];
    e->name = name;
    e->t.name = name;
    e->t.dtype = dt;
    e->t.shape.ndim = nshape;
    for (int d = 0; d < nshape; d++) e->t.shape.dim[d] = shape[d];
    e->t.data = data + offs[0];
    e->t.bytes = bytes;
    return CV_OK;
}

static int parse_metadata(jp *p, cv_st_file *f) {
    if (jp_expect(p, '{')) return p->err->status;
    jp_ws(p);
    if (p->s < p->end && *p->s == '}') { p->s++; return CV_OK; }
    for (;;) {
        char *k = NULL, *v = NULL;
        if (jp_string(p, &k) || jp_expect(p, ':') || jp_string(p, &v)) { cv_free(k); cv_free(v); return p->err->status; }
        if (grow((void **)&f->meta, &f->cap_meta, f->n_meta + 1, sizeof(st_meta))) {
            cv_free(k); cv_free(v);
            return cv_set_error(p->err, CV_ERR_NOMEM, "out of memory");
        }
        f->meta[f->n_meta].key = k;
        f->meta[f->n_meta].value = v;
        f->n_meta++;
        jp_ws(p);
        if (p->s < p->end && *p->s == ',') { p->s++; continue; }
        return jp_expect(p, '}');
    }
}

cv_st_file *cv_st_open(const char *path, cv_error *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        cv_set_error(err, CV_ERR_IO, "cannot open checkpoint %s: %s", path, strerror(errno));
        return NULL;
    }
    cv_st_file *f = cv_alloc_array(1, sizeof *f);
    struct stat st;
    if (!f || fstat(fileno(fp), &st) || st.st_size < 8) {
        if (f) cv_set_error(err, CV_ERR_IO, "corrupt checkpoint %s: %lld bytes is too short for a safetensors file",
                            path, (long long)st.st_size);
        else cv_set_error(err, CV_ERR_NOMEM, "out of memory");
        fclose(fp);
        cv_free(f);
        return NULL;
    }
    f->size = (size_t)st.st_size;
    f->blob = malloc(f->size);
    if (!f->blob || fread(f->blob, 1, f->size, fp) != f->size) {
        cv_set_error(err, CV_ERR_IO, "cannot read checkpoint %s", path);
        fclose(fp);
        cv_st_close(f);
        return NULL;
    }
    fclose(fp);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)f->blob[i] << (8 * i);
    if (hlen > ST_MAX_HEADER || hlen > f->size - 8) {
        cv_set_error(err, CV_ERR_IO, "corrupt checkpoint %s: header length %llu does not fit in the %zu-byte file "
                     "(truncated or not a safetensors file)", path, (unsigned long long)hlen, f->size);
        cv_st_close(f);
        return NULL;
    }
    jp p = { (const char *)f->blob + 8, (const char *)f->blob + 8 + hlen, (const char *)f->blob + 8, path, err };
    const unsigned char *data = f->blob + 8 + hlen;
    size_t data_size = f->size - 8 - hlen;
    if (jp_expect(&p, '{')) goto fail;
    jp_ws(&p);
    if (p.s < p.end && *p.s == '}') return f;
    for (;;) {
        char *name = NULL;
        if (jp_string(&p, &name) || jp_expect(&p, ':')) { cv_free(name); goto fail; }
        int rc;
        if (strcmp(name, "__metadata__") == 0) { cv_free(name); rc = parse_metadata(&p, f); }
        else if (cv_st_find(f, name)) {
            rc = cv_set_error(err, CV_ERR_IO, "corrupt checkpoint %s: tensor '%s' appears twice", path, name);
            cv_free(name);
        } else {
            rc = parse_tensor(&p, f, name, data_size, data);
            if (rc) cv_free(name);
        }
        if (rc) goto fail;
        jp_ws(&p);
        if (p.s < p.end && *p.s == ',') { p.s++; continue; }
        if (jp_expect(&p, '}')) goto fail;
        break;
    }
    return f;
fail:
    cv_st_close(f);
    return NULL;
}
