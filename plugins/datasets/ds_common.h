/* plugins/datasets/ds_common.h — helpers the dataset plugins share (each plugin
 * includes this header, so every .so stays self-contained): option access, path
 * joining, reading whole files with a size bound, and class-name lists. */
#ifndef CV_DS_COMMON_H
#define CV_DS_COMMON_H

#include <cvnets/cvnets.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static inline const cv_value *ds_opt(const cv_create_args *a, const char *key) {
    const cv_value *v = a->opts ? a->host->opt(a->opts, key) : NULL;
    return v && v->is_set ? v : NULL;
}
static inline int64_t ds_int(const cv_create_args *a, const char *key, int64_t dflt) {
    const cv_value *v = ds_opt(a, key);
    return v ? v->i : dflt;
}
static inline const char *ds_str(const cv_create_args *a, const char *key, const char *dflt) {
    const cv_value *v = ds_opt(a, key);
    return v && v->s ? v->s : dflt;
}

/* dir + "/" + name into a host-allocated string; relative roots resolve against
 * the recipe's folder when the recipe gave one. */
static inline char *ds_join(const cv_host *h, const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = h->alloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (k && p[k - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}
static inline char *ds_root(const cv_create_args *a, const char *root) {
    if (root[0] != '/' && a->recipe_dir && a->recipe_dir[0]) return ds_join(a->host, a->recipe_dir, root);
    return a->host->strdup(root);
}

static inline int ds_is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}
static inline int ds_is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Whole file into host memory, refusing files above max_bytes (checked before
 * allocating).  On failure err names the path and the reason. */
static inline int ds_read_file(const cv_host *h, const char *comp, const char *path, size_t max_bytes,
                               uint8_t **data, size_t *size, cv_error *err) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return h->set_error(err, CV_ERR_IO, "%s: cannot open %s: %s", comp, path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return h->set_error(err, CV_ERR_IO, "%s: %s is not a regular file", comp, path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return h->set_error(err, CV_ERR_IO, "%s: %s is %lld bytes, above the limit of %zu", comp, path,
                            (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = h->alloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return h->set_error(err, CV_ERR_NOMEM, "%s: out of memory reading %s (%zu bytes)", comp, path, n);
    }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (got != n || bad) {
        h->free(buf);
        return h->set_error(err, CV_ERR_IO, "%s: read error in %s (%zu of %zu bytes)", comp, path, got, n);
    }
    *data = buf;
    *size = n;
    return CV_OK;
}

/* A growable list of host-allocated strings (class names, file paths). */
typedef struct ds_strings {
    char **v;
    int64_t n, cap;
} ds_strings;

static inline int ds_strings_push(const cv_host *h, ds_strings *l, char *s) {
    if (!s) return CV_ERR_NOMEM;
    if (l->n == l->cap) {
        int64_t cap = l->cap ? l->cap * 2 : 16;
        char **v = h->alloc_array((size_t)cap, sizeof *v);
        if (!v) {
            h->free(s);
            return CV_ERR_NOMEM;
        }
        if (l->n) memcpy(v, l->v, (size_t)l->n * sizeof *v);
        h->free(l->v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return CV_OK;
}
static inline void ds_strings_free(const cv_host *h, ds_strings *l) {
    for (int64_t i = 0; i < l->n; i++) h->free(l->v[i]);
    h->free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static inline int ds_cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

#endif
