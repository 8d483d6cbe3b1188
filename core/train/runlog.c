/* core/train/runlog.c — progress line and metrics.jsonl (see runlog.h). */
#include "train/runlog.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double cv_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void j_put(cv_json *j, const char *s) {
    size_t k = strlen(s);
    if (j->n + k + 2 >= sizeof j->buf) return; /* bounded: a field that does not fit is dropped */
    memcpy(j->buf + j->n, s, k);
    j->n += k;
    j->buf[j->n] = 0;
}
static void j_key(cv_json *j, const char *key) {
    j_put(j, j->fields++ ? ",\"" : "\"");
    j_put(j, key);
    j_put(j, "\":");
}
void cv_json_begin(cv_json *j) {
    j->n = 0;
    j->fields = 0;
    j->buf[0] = 0;
    j_put(j, "{");
}
void cv_json_num(cv_json *j, const char *key, double v) {
    char t[64];
    if (isfinite(v)) snprintf(t, sizeof t, "%.6g", v);
    else strcpy(t, "null");
    j_key(j, key);
    j_put(j, t);
}
void cv_json_int(cv_json *j, const char *key, int64_t v) {
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)v);
    j_key(j, key);
    j_put(j, t);
}
void cv_json_str(cv_json *j, const char *key, const char *v) {
    j_key(j, key);
    j_put(j, "\"");
    char t[2] = { 0, 0 };
    for (; v && *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (c == '"' || c == '\\') { j_put(j, "\\"); t[0] = (char)c; j_put(j, t); }
        else if (c < 0x20) j_put(j, " ");
        else { t[0] = (char)c; j_put(j, t); }
    }
    j_put(j, "\"");
}
void cv_json_raw(cv_json *j, const char *key, const char *json) {
    j_key(j, key);
    j_put(j, json);
}
const char *cv_json_end(cv_json *j) {
    j_put(j, "}");
    return j->buf;
}

int cv_runlog_open(cv_runlog *r, const char *jsonl_path, FILE *out) {
    memset(r, 0, sizeof *r);
    r->out = out ? out : stderr;
    r->tty = isatty(fileno(r->out));
    r->t_start = cv_now();
    if (jsonl_path) {
        r->jsonl = fopen(jsonl_path, "a");
        if (!r->jsonl) return -1;
    }
    return 0;
}

void cv_runlog_close(cv_runlog *r) {
    if (r->line_open) fputc('\n', r->out);
    r->line_open = 0;
    if (r->jsonl) fclose(r->jsonl);
    r->jsonl = NULL;
}

void cv_runlog_record(cv_runlog *r, const char *json_object) {
    if (!r->jsonl) return;
    fputs(json_object, r->jsonl);
    fputc('\n', r->jsonl);
    fflush(r->jsonl);
}

static void fmt_duration(char *buf, size_t n, double s) {
    if (!isfinite(s) || s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

void cv_runlog_progress(cv_runlog *r, int64_t epoch, int64_t epochs, int64_t step, int64_t steps,
                        double img_s, double loss, double lr, double eta_s) {
    char eta[32];
    fmt_duration(eta, sizeof eta, eta_s);
    if (r->tty) {
        fprintf(r->out, "\repoch %lld/%lld  step %lld/%lld  %.0f img/s  loss %.4f  lr %.5g  ETA %s   ",
                (long long)epoch + 1, (long long)epochs, (long long)step, (long long)steps, img_s, loss, lr, eta);
        r->line_open = 1;
    } else {
        fprintf(r->out, "epoch %lld/%lld step %lld/%lld img/s %.0f loss %.4f lr %.5g eta %s\n", (long long)epoch + 1,
                (long long)epochs, (long long)step, (long long)steps, img_s, loss, lr, eta);
    }
    fflush(r->out);
}

void cv_runlog_line(cv_runlog *r, const char *fmt, ...) {
    if (r->line_open) fputc('\n', r->out);
    r->line_open = 0;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->out, fmt, ap);
    va_end(ap);
    fputc('\n', r->out);
    fflush(r->out);
}
