/* core/state.c — in-memory named blobs behind cv_host.state_write/state_read.
 * Writers and readers share one layout: a growable list of (name, bytes). */
#include "state.h"
#include "host.h"

#include <stdio.h>
#include <string.h>

typedef struct blob {
    char *name;
    void *data;
    size_t bytes;
} blob;

typedef struct blob_list {
    blob *items;
    int n, cap;
    char *prefix;
} blob_list;

struct cv_state_writer { blob_list l; };
struct cv_state_reader { blob_list l; };

static void list_free(blob_list *l) {
    for (int i = 0; i < l->n; i++) {
        cv_free(l->items[i].name);
        cv_free(l->items[i].data);
    }
    cv_free(l->items);
    cv_free(l->prefix);
}

static int set_prefix(blob_list *l, const char *prefix) {
    char *p = prefix && *prefix ? cv_strdup(prefix) : NULL;
    if (prefix && *prefix && !p) return CV_ERR_NOMEM;
    cv_free(l->prefix);
    l->prefix = p;
    return CV_OK;
}

/* prefix + name in buf; 0 when it does not fit */
static int full_name(const blob_list *l, const char *name, char *buf, size_t n) {
    int w = snprintf(buf, n, "%s%s", l->prefix ? l->prefix : "", name);
    return w >= 0 && (size_t)w < n;
}

static blob *find(const blob_list *l, const char *full) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, full) == 0) return &l->items[i];
    return NULL;
}

static int add(blob_list *l, const char *name, const void *data, size_t bytes, cv_error *err) {
    char full[512];
    if (!name || !*name) return cv_set_error(err, CV_ERR_INVALID, "state blob without a name");
    if (bytes && !data) return cv_set_error(err, CV_ERR_INVALID, "state '%s': %zu bytes from a NULL pointer", name, bytes);
    if (!full_name(l, name, full, sizeof full)) return cv_set_error(err, CV_ERR_INVALID, "state name '%s' is too long", name);
    if (find(l, full)) return cv_set_error(err, CV_ERR_INVALID, "state '%s' written twice", full);
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8;
        blob *items = cv_alloc_array((size_t)cap, sizeof *items);
        if (!items) return cv_set_error(err, CV_ERR_NOMEM, "out of memory saving state '%s'", full);
        if (l->n) memcpy(items, l->items, (size_t)l->n * sizeof *items);
        cv_free(l->items);
        l->items = items;
        l->cap = cap;
    }
    blob b = { cv_strdup(full), cv_alloc(bytes), bytes };
    if (!b.name || !b.data) {
        cv_free(b.name);
        cv_free(b.data);
        return cv_set_error(err, CV_ERR_NOMEM, "out of memory saving state '%s' (%zu bytes)", full, bytes);
    }
    if (bytes) memcpy(b.data, data, bytes);
    l->items[l->n++] = b;
    return CV_OK;
}

cv_state_writer *cv_state_writer_new(void) { return cv_alloc_array(1, sizeof(cv_state_writer)); }
void cv_state_writer_free(cv_state_writer *w) {
    if (!w) return;
    list_free(&w->l);
    cv_free(w);
}
int cv_state_writer_set_prefix(cv_state_writer *w, const char *prefix) { return set_prefix(&w->l, prefix); }
int cv_state_write(cv_state_writer *w, const char *name, const void *data, size_t bytes, cv_error *err) {
    if (!w) return cv_set_error(err, CV_ERR_INVALID, "state_write without a writer");
    return add(&w->l, name, data, bytes, err);
}
int cv_state_writer_count(const cv_state_writer *w) { return w ? w->l.n : 0; }
const char *cv_state_writer_name(const cv_state_writer *w, int i) {
    return w && i >= 0 && i < w->l.n ? w->l.items[i].name : NULL;
}
const void *cv_state_writer_data(const cv_state_writer *w, int i, size_t *bytes) {
    if (!w || i < 0 || i >= w->l.n) return NULL;
    if (bytes) *bytes = w->l.items[i].bytes;
    return w->l.items[i].data;
}

cv_state_reader *cv_state_reader_new(void) { return cv_alloc_array(1, sizeof(cv_state_reader)); }
void cv_state_reader_free(cv_state_reader *r) {
    if (!r) return;
    list_free(&r->l);
    cv_free(r);
}
int cv_state_reader_set_prefix(cv_state_reader *r, const char *prefix) { return set_prefix(&r->l, prefix); }
int cv_state_reader_add(cv_state_reader *r, const char *name, const void *data, size_t bytes, cv_error *err) {
    /* names added here are complete: the prefix only applies to lookups */
    char *saved = r->l.prefix;
    r->l.prefix = NULL;
    int rc = add(&r->l, name, data, bytes, err);
    r->l.prefix = saved;
    return rc;
}
int cv_state_reader_from_writer(cv_state_reader *r, const cv_state_writer *w, cv_error *err) {
    for (int i = 0; w && i < w->l.n; i++) {
        int rc = cv_state_reader_add(r, w->l.items[i].name, w->l.items[i].data, w->l.items[i].bytes, err);
        if (rc != CV_OK) return rc;
    }
    return CV_OK;
}
int cv_state_read(cv_state_reader *r, const char *name, void *data, size_t bytes, cv_error *err) {
    char full[512];
    if (!r) return cv_set_error(err, CV_ERR_INVALID, "state_read without a reader");
    if (!name || !full_name(&r->l, name, full, sizeof full))
        return cv_set_error(err, CV_ERR_INVALID, "bad state name '%s'", name ? name : "(null)");
    const blob *b = find(&r->l, full);
    if (!b) return cv_set_error(err, CV_ERR_IO, "the checkpoint has no state '%s' (it was saved by a different recipe or component?)", full);
    if (b->bytes != bytes)
        return cv_set_error(err, CV_ERR_INVALID, "state '%s' in the checkpoint is %zu bytes, the component expects %zu", full,
                            b->bytes, bytes);
    if (bytes && !data) return cv_set_error(err, CV_ERR_INVALID, "state '%s': read into a NULL pointer", full);
    if (bytes) memcpy(data, b->data, bytes);
    return CV_OK;
}
int cv_state_reader_has(const cv_state_reader *r, const char *name) {
    char full[512];
    return r && name && full_name(&r->l, name, full, sizeof full) && find(&r->l, full) != NULL;
}
