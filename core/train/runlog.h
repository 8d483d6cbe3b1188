/* core/train/runlog.h — what a run shows and records: a progress line on a
 * terminal (plain lines otherwise) and metrics.jsonl in the output folder, one
 * JSON object per logged step and per epoch. */
#ifndef CV_TRAIN_RUNLOG_H
#define CV_TRAIN_RUNLOG_H

#include <stdint.h>
#include <stdio.h>

typedef struct cv_runlog {
    FILE *jsonl;            /* metrics.jsonl, NULL when not writing (non-zero ranks, eval) */
    FILE *out;              /* progress / log lines (stderr) */
    int tty;                /* out is a terminal: one rewritten progress line */
    int line_open;          /* a progress line without its newline is on screen */
    double t_start;         /* wall clock at open */
} cv_runlog;

/* A JSON object built field by field: cv_json_begin, cv_json_num/int/str, cv_json_end. */
typedef struct cv_json { char buf[4096]; size_t n; int fields; } cv_json;
void cv_json_begin(cv_json *j);
void cv_json_num(cv_json *j, const char *key, double v);   /* NaN/Inf written as null */
void cv_json_int(cv_json *j, const char *key, int64_t v);
void cv_json_str(cv_json *j, const char *key, const char *v);
void cv_json_raw(cv_json *j, const char *key, const char *json);
const char *cv_json_end(cv_json *j);

double cv_now(void); /* monotonic seconds */

/* jsonl_path may be NULL */
int cv_runlog_open(cv_runlog *r, const char *jsonl_path, FILE *out);
void cv_runlog_close(cv_runlog *r);
void cv_runlog_record(cv_runlog *r, const char *json_object);
/* progress: epoch e/E, step s/S, throughput, loss, lr, ETA of the epoch */
void cv_runlog_progress(cv_runlog *r, int64_t epoch, int64_t epochs, int64_t step, int64_t steps,
                        double img_s, double loss, double lr, double eta_s);
/* a full line (ends any open progress line first) */
void cv_runlog_line(cv_runlog *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
