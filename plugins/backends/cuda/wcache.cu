/* wcache.cu — convolution weights in cuDNN's form, kept from one kernel to the
 * next.  With precision = bf16 / fp16 or in NHWC (KRSC filters) a convolution
 * reads a converted copy of its plain f32 weight; the forward and the
 * backward-data convolution of a step read the same one, so it is converted
 * once after each write of the weight instead of once per convolution.
 *
 * An entry maps (weight pointer, shape, dtype, KRSC or not) to a device copy
 * and a "current" flag.  The dispatcher clears the flag of every entry whose
 * weight overlaps bytes a kernel writes (its outputs, and inputs it writes back),
 * upload() does the same for the bytes it writes, and freeing the weight's block
 * drops the entry.  A recording (CUDA graph) starts with every flag cleared, so
 * its first reader records the conversion and its later readers rely on it within
 * the same replay; copies are never moved while the backend lives, because
 * graphs keep their addresses. */
#include <new>
#include <vector>
#include <string.h>
#include "cuint.h"

struct wc_entry {
    const void *src;
    size_t src_bytes;
    int64_t shape[4];
    int dtype, krsc, current;
    void *copy;
};

struct cu_wcache {
    std::vector<wc_entry> e;
};

void *cu_wcache_get(cu_call *r, const float *w, const int64_t *shape, int dtype, int krsc, int *current) {
    cu_backend *b = r->b;
    if (!b->wcache && !(b->wcache = new (std::nothrow) cu_wcache())) {
        cu_fail(r, CV_ERR_NOMEM, "out of host memory for the weight cache");
        return NULL;
    }
    for (wc_entry &x : b->wcache->e)
        if (x.src == w && x.dtype == dtype && x.krsc == krsc && !memcmp(x.shape, shape, sizeof x.shape)) {
            *current = x.current;
            x.current = 1;
            return x.copy;
        }
    const size_t n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
    wc_entry x = { w, n * sizeof(float), { shape[0], shape[1], shape[2], shape[3] }, dtype, krsc, 1, NULL };
    x.copy = cu_cache_get(b, n * cu_dtype_size(dtype));
    if (!x.copy) {
        cu_fail(r, CV_ERR_NOMEM, "out of device memory for a %zu-element weight copy", n);
        return NULL;
    }
    try {
        b->wcache->e.push_back(x);
    } catch (...) {
        cu_cache_put(b, x.copy);
        cu_fail(r, CV_ERR_NOMEM, "out of host memory for the weight cache");
        return NULL;
    }
    *current = 0;
    return x.copy;
}

void cu_wcache_written(cu_backend *b, const void *p, size_t bytes) {
    if (!b->wcache || !bytes) return;
    const char *lo = (const char *)p, *hi = lo + bytes;
    for (wc_entry &x : b->wcache->e)
        if ((const char *)x.src < hi && lo < (const char *)x.src + x.src_bytes) x.current = 0;
}

void cu_wcache_stale(cu_backend *b) {
    if (b->wcache)
        for (wc_entry &x : b->wcache->e) x.current = 0;
}

void cu_wcache_forget(cu_backend *b, const void *p, size_t bytes) {
    if (!b->wcache) return;
    std::vector<wc_entry> &e = b->wcache->e;
    const char *lo = (const char *)p, *hi = lo + bytes;
    for (size_t i = e.size(); i-- > 0;)
        if ((const char *)e[i].src < hi && lo < (const char *)e[i].src + e[i].src_bytes) {
            cu_cache_put(b, e[i].copy);
            e.erase(e.begin() + (long)i);
        }
}

void cu_wcache_free(cu_backend *b) {
    if (!b->wcache) return;
    for (wc_entry &x : b->wcache->e) cu_cache_put(b, x.copy);
    delete b->wcache;
    b->wcache = NULL;
}

/* the bytes a strided tensor spans, from its first element */
static size_t extent(const cv_ktensor *t) {
    int64_t last = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] == 0) return 0;
        last += (t->shape[d] - 1) * (t->stride[d] < 0 ? -t->stride[d] : t->stride[d]);
    }
    return (size_t)(last + 1) * cu_dtype_size(t->dtype);
}

void cu_wcache_kernel_wrote(cu_backend *b, const cv_kernel *k, const int *in_written) {
    if (!b->wcache) return;
    for (int i = 0; i < k->n_out; i++) cu_wcache_written(b, k->out[i].data, extent(&k->out[i]));
    for (int i = 0; in_written && i < k->n_in; i++)
        if (in_written[i]) cu_wcache_written(b, k->in[i].data, extent(&k->in[i]));
}
