/* core/train/safetensors.h — reading and atomically writing safetensors files
 * (8-byte little-endian header length, a JSON header naming each tensor's dtype,
 * shape and byte range, then the raw data), so checkpoints open in other tools. */
#ifndef CV_TRAIN_SAFETENSORS_H
#define CV_TRAIN_SAFETENSORS_H

#include <cvnets/cvnets.h>

typedef struct cv_st_writer cv_st_writer;
typedef struct cv_st_file cv_st_file;

typedef struct cv_st_tensor {
    const char *name;
    int32_t dtype;          /* CV_F32, CV_BF16, CV_F16, CV_I32, CV_U8 */
    cv_shape shape;
    const void *data;
    size_t bytes;
} cv_st_tensor;

cv_st_writer *cv_st_writer_create(void);
void cv_st_writer_destroy(cv_st_writer *w);
/* data is copied; names must be unique */
int cv_st_add(cv_st_writer *w, const char *name, int dtype, const cv_shape *shape, const void *data, cv_error *err);
int cv_st_add_metadata(cv_st_writer *w, const char *key, const char *value, cv_error *err);
/* temporary file in the same folder, fsync, rename over path, fsync the folder:
 * a crash or a full disk never leaves a half-written file at path */
int cv_st_write_atomic(cv_st_writer *w, const char *path, cv_error *err);

cv_st_file *cv_st_open(const char *path, cv_error *err);
void cv_st_close(cv_st_file *f);
int cv_st_count(const cv_st_file *f);
const cv_st_tensor *cv_st_at(const cv_st_file *f, int i);
const cv_st_tensor *cv_st_find(const cv_st_file *f, const char *name);
const char *cv_st_metadata(const cv_st_file *f, const char *key); /* NULL when absent */

size_t cv_dtype_size(int dtype); /* bytes per element (the engine's, core/engine/shape.c) */
const char *cv_dtype_st_name(int dtype); /* "F32", … */

#endif
