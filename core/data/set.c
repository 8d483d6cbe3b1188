/* core/data/set.c — SET counters and the active mask (see set.h). */
#include "data/set.h"
#include "host.h"

#include <string.h>

#define SET_MAGIC 0x31544553u /* "SET1" */

struct cv_set {
    int64_t n;
    int window;
    double confidence;
    uint16_t *counter;
    uint8_t *active;
    float *decision;
    int64_t left_out;
};

int cv_set_create(int64_t n, int window, double confidence, cv_set **out, cv_error *err) {
    *out = NULL;
    if (n <= 0) return cv_set_error(err, CV_ERR_INVALID, "[set]: the training set is empty (%lld samples)", (long long)n);
    if (window < 1 || window > 65535)
        return cv_set_error(err, CV_ERR_INVALID, "[set] window = %d: expected an integer in [1, 65535]", window);
    if (!(confidence >= 0.0 && confidence <= 1.0))
        return cv_set_error(err, CV_ERR_INVALID, "[set] confidence = %g: expected a number in [0, 1]", confidence);
    cv_set *s = cv_alloc_array(1, sizeof *s);
    if (s) {
        s->counter = cv_alloc_array((size_t)n, sizeof *s->counter);
        s->active = cv_alloc((size_t)n);
        s->decision = cv_alloc_array((size_t)n, sizeof *s->decision);
    }
    if (!s || !s->counter || !s->active || !s->decision) {
        cv_set_destroy(s);
        return cv_set_error(err, CV_ERR_NOMEM, "[set]: out of memory for %lld counters", (long long)n);
    }
    s->n = n;
    s->window = window;
    s->confidence = confidence;
    memset(s->active, 1, (size_t)n);
    *out = s;
    return CV_OK;
}

void cv_set_destroy(cv_set *s) {
    if (!s) return;
    cv_free(s->counter);
    cv_free(s->active);
    cv_free(s->decision);
    cv_free(s);
}

void cv_set_begin_pass(cv_set *s) { memset(s->decision, 0, (size_t)s->n * sizeof *s->decision); }

int cv_set_record(cv_set *s, int64_t index, int correct, double prob, cv_error *err) {
    if (index < 0 || index >= s->n)
        return cv_set_error(err, CV_ERR_INVALID, "[set]: scored index %lld outside [0, %lld)", (long long)index,
                            (long long)s->n);
    s->decision[index] = correct && prob >= s->confidence ? 1.0f : -1.0f;
    return CV_OK;
}

float *cv_set_decisions(cv_set *s) { return s->decision; }
int64_t cv_set_size(const cv_set *s) { return s->n; }

int64_t cv_set_end_pass(cv_set *s) {
    int64_t out = 0;
    for (int64_t i = 0; i < s->n; i++) {
        int c = s->counter[i];
        if (s->decision[i] > 0 && c < s->window) c++;
        else if (s->decision[i] < 0 && c > 0) c--;
        s->counter[i] = (uint16_t)c;
        s->active[i] = c < s->window;
        out += c >= s->window;
    }
    s->left_out = out;
    return out;
}

const uint8_t *cv_set_active(const cv_set *s) { return s->active; }
int64_t cv_set_left_out(const cv_set *s) { return s->left_out; }
int cv_set_counter(const cv_set *s, int64_t index) { return index >= 0 && index < s->n ? s->counter[index] : -1; }

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t cv_set_state_bytes(const cv_set *s) { return 16 + (size_t)s->n * 2; }

void cv_set_save(const cv_set *s, void *buf) {
    uint8_t *p = buf;
    put_u32(p, SET_MAGIC);
    put_u32(p + 4, (uint32_t)s->n);
    put_u32(p + 8, (uint32_t)((uint64_t)s->n >> 32));
    put_u32(p + 12, (uint32_t)s->window);
    for (int64_t i = 0; i < s->n; i++) {
        p[16 + 2 * i] = (uint8_t)s->counter[i];
        p[17 + 2 * i] = (uint8_t)(s->counter[i] >> 8);
    }
}

int cv_set_load(cv_set *s, const void *buf, size_t bytes, cv_error *err) {
    const uint8_t *p = buf;
    if (bytes < 16 || get_u32(p) != SET_MAGIC)
        return cv_set_error(err, CV_ERR_IO, "[set]: checkpoint state is not a SET counter blob (%zu bytes)", bytes);
    int64_t n = (int64_t)((uint64_t)get_u32(p + 4) | (uint64_t)get_u32(p + 8) << 32);
    uint32_t w = get_u32(p + 12);
    if (n != s->n)
        return cv_set_error(err, CV_ERR_INVALID, "[set]: checkpoint has counters for %lld samples, the dataset has %lld",
                            (long long)n, (long long)s->n);
    if (w != (uint32_t)s->window)
        return cv_set_error(err, CV_ERR_INVALID, "[set]: checkpoint was saved with window %u, the recipe says %d", w,
                            s->window);
    if (bytes != cv_set_state_bytes(s))
        return cv_set_error(err, CV_ERR_IO, "[set]: counter blob is %zu bytes, expected %zu", bytes,
                            cv_set_state_bytes(s));
    int64_t out = 0;
    for (int64_t i = 0; i < n; i++) {
        unsigned c = p[16 + 2 * i] | (unsigned)p[17 + 2 * i] << 8;
        if (c > w)
            return cv_set_error(err, CV_ERR_IO, "[set]: counter %lld is %u, above the window %u", (long long)i, c, w);
        s->counter[i] = (uint16_t)c;
    }
    for (int64_t i = 0; i < n; i++) {
        s->active[i] = s->counter[i] < w;
        out += s->counter[i] >= w;
    }
    s->left_out = out;
    return CV_OK;
}
