/* core/state.h — named state blobs of stateful components (sampler, scheduler,
 * EMA, SET, …).  A component saves through cv_host.state_write into a writer,
 * which copies each blob; the checkpoint code then iterates the writer to
 * serialise the blobs, and on resume builds a reader from (name, bytes) pairs
 * that components read back by name with their expected size. */
#ifndef CV_CORE_STATE_H
#define CV_CORE_STATE_H

#include <stddef.h>
#include <cvnets/cvnets.h>

cv_state_writer *cv_state_writer_new(void);
void cv_state_writer_free(cv_state_writer *w);
/* Names written after this get "<prefix>" in front (e.g. "scheduler."), so
 * components need not know where their blobs live.  NULL or "" clears it. */
int cv_state_writer_set_prefix(cv_state_writer *w, const char *prefix);
/* cv_host.state_write: copies data; a name written twice is an error */
int cv_state_write(cv_state_writer *w, const char *name, const void *data, size_t bytes, cv_error *err);
int cv_state_writer_count(const cv_state_writer *w);
/* the i-th blob in write order (full name, prefix included) */
const char *cv_state_writer_name(const cv_state_writer *w, int i);
const void *cv_state_writer_data(const cv_state_writer *w, int i, size_t *bytes);

cv_state_reader *cv_state_reader_new(void);
void cv_state_reader_free(cv_state_reader *r);
/* add one blob (copied); a duplicate name is an error */
int cv_state_reader_add(cv_state_reader *r, const char *name, const void *data, size_t bytes, cv_error *err);
int cv_state_reader_set_prefix(cv_state_reader *r, const char *prefix);
/* a reader holding copies of everything w holds (prefixes as written) */
int cv_state_reader_from_writer(cv_state_reader *r, const cv_state_writer *w, cv_error *err);
/* cv_host.state_read: missing name -> CV_ERR_IO, size mismatch -> CV_ERR_INVALID,
 * each naming the blob and both sizes */
int cv_state_read(cv_state_reader *r, const char *name, void *data, size_t bytes, cv_error *err);
/* 1 when the reader has prefix+name */
int cv_state_reader_has(const cv_state_reader *r, const char *name);

#endif
