/* device.cu — the CUDA backend instance: device selection, stream, cuDNN,
 * cuBLAS (with a workspace of ours) and cuBLASLt handles, the caching device
 * allocator, upload / download and sync.
 *
 * Allocator: cudaMalloc is slow and synchronising, and the engine frees and
 * re-allocates the same sizes every step, so freed blocks go to a size-ordered
 * free list and are handed out again for requests of up to the same size (at
 * most 2x waste).  Sizes are rounded up (512 B below 1 MiB, 2 MiB above).  All
 * work runs on one stream, so a block freed after its last kernel was enqueued
 * can be reused by later work without a sync.  When cudaMalloc fails, the cached
 * blocks are released and the allocation is tried once more. */
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <stdio.h>
#include <string.h>
#include "cuint.h"

struct cu_cache {
    std::mutex mu;
    std::multimap<size_t, void *> free_blocks;
    std::unordered_map<void *, size_t> live;
    size_t cached_bytes = 0, live_bytes = 0, peak_bytes = 0;
    uint64_t epoch = 0; /* releases to the driver */
};

static size_t round_size(size_t n) {
    if (n == 0) n = 1;
    if (n < (1u << 20)) return (n + 511) & ~(size_t)511;
    size_t m = (size_t)2 << 20;
    return (n + m - 1) / m * m;
}

static void cache_release_all(cu_cache *c) {
    for (auto &kv : c->free_blocks) cudaFree(kv.second);
    c->free_blocks.clear();
    c->cached_bytes = 0;
    c->epoch++;
}

uint64_t cu_cache_epoch(cu_backend *b) {
    std::lock_guard<std::mutex> lock(b->cache->mu);
    return b->cache->epoch;
}

void *cu_cache_get(cu_backend *b, size_t bytes) {
    cu_cache *c = b->cache;
    size_t n = round_size(bytes);
    std::lock_guard<std::mutex> lock(c->mu);
    auto it = c->free_blocks.lower_bound(n);
    if (it != c->free_blocks.end() && it->first <= 2 * n) {
        void *p = it->second;
        size_t sz = it->first;
        c->free_blocks.erase(it);
        c->cached_bytes -= sz;
        c->live[p] = sz;
        c->live_bytes += sz;
        if (c->live_bytes > c->peak_bytes) c->peak_bytes = c->live_bytes;
        return p;
    }
    void *p = NULL;
    if (cudaMalloc(&p, n) != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky-free error state of the failed call */
        cudaStreamSynchronize(b->stream);
        cache_release_all(c);
        if (cudaMalloc(&p, n) != cudaSuccess) {
            cudaGetLastError();
            return NULL;
        }
    }
    try {
        c->live[p] = n;
    } catch (...) {
        cudaFree(p);
        return NULL;
    }
    c->live_bytes += n;
    if (c->live_bytes > c->peak_bytes) c->peak_bytes = c->live_bytes;
    return p;
}

size_t cu_cache_block_bytes(cu_backend *b, void *p) {
    std::lock_guard<std::mutex> lock(b->cache->mu);
    auto it = b->cache->live.find(p);
    return it == b->cache->live.end() ? 0 : it->second;
}

void cu_cache_put(cu_backend *b, void *p) {
    if (!p) return;
    cu_cache *c = b->cache;
    std::lock_guard<std::mutex> lock(c->mu);
    auto it = c->live.find(p);
    if (it == c->live.end()) return; /* not ours: ignore rather than corrupt the heap */
    size_t sz = it->second;
    c->live.erase(it);
    c->live_bytes -= sz;
    try {
        c->free_blocks.emplace(sz, p);
        c->cached_bytes += sz;
    } catch (...) {
        cudaFree(p);
    }
}

const char *cu_dnn_str(cudnnStatus_t s) { return cudnnGetErrorString(s); }

const char *cu_blas_str(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "architecture mismatch";
    case CUBLAS_STATUS_MAPPING_ERROR: return "mapping error";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "execution failed";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "internal error";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
    default: return "unknown cuBLAS status";
    }
}

extern "C" int cu_create(const cv_host *host, const cu_config *cfg, void **self, cv_error *err) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        cudaGetLastError();
        return host->set_error(err, CV_ERR_UNSUPPORTED,
                               "backend cuda: no CUDA device: cudaGetDeviceCount returned %d (%s), %d devices; "
                               "use device = cpu, or run on a machine with an NVIDIA GPU and driver",
                               (int)e, e == cudaSuccess ? "no error" : cudaGetErrorString(e), count);
    }
    if (cfg->device < 0 || cfg->device >= count)
        return host->set_error(err, CV_ERR_INVALID, "backend cuda: device = %d, but only %d CUDA device(s) exist",
                               cfg->device, count);
    cu_backend *b = (cu_backend *)host->alloc_array(1, sizeof *b);
    if (!b) return host->set_error(err, CV_ERR_NOMEM, "backend cuda: out of memory creating the instance");
    b->host = host;
    b->cfg = *cfg;
    b->cache = new (std::nothrow) cu_cache();
    const char *what = NULL;
    cudaDeviceProp prop;
    cudnnStatus_t ds = CUDNN_STATUS_SUCCESS;
    cublasStatus_t bs = CUBLAS_STATUS_SUCCESS;
    if (!b->cache) what = "allocator";
    else if ((e = cudaSetDevice(cfg->device)) != cudaSuccess) what = "cudaSetDevice";
    else if ((e = cudaGetDeviceProperties(&prop, cfg->device)) != cudaSuccess) what = "cudaGetDeviceProperties";
    else if ((e = cudaStreamCreateWithFlags(&b->stream, cudaStreamNonBlocking)) != cudaSuccess) what = "cudaStreamCreate";
    else if ((ds = cudnnCreate(&b->cudnn)) != CUDNN_STATUS_SUCCESS) what = "cudnnCreate";
    else if ((ds = cudnnSetStream(b->cudnn, b->stream)) != CUDNN_STATUS_SUCCESS) what = "cudnnSetStream";
    else if ((bs = cublasCreate(&b->cublas)) != CUBLAS_STATUS_SUCCESS) what = "cublasCreate";
    else if ((bs = cublasSetStream(b->cublas, b->stream)) != CUBLAS_STATUS_SUCCESS) what = "cublasSetStream";
    else if ((bs = cublasSetMathMode(b->cublas, cfg->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH)) !=
             CUBLAS_STATUS_SUCCESS)
        what = "cublasSetMathMode";
    else if ((bs = cublasLtCreate(&b->cublaslt)) != CUBLAS_STATUS_SUCCESS) what = "cublasLtCreate";
    else if (!(b->blas_ws = cu_cache_get(b, CU_BLAS_WS))) what = "allocating cuBLAS's workspace";
    else if ((bs = cublasSetWorkspace(b->cublas, b->blas_ws, CU_BLAS_WS)) != CUBLAS_STATUS_SUCCESS) what = "cublasSetWorkspace";
    if (what) {
        const char *why = e != cudaSuccess ? cudaGetErrorString(e)
                          : ds != CUDNN_STATUS_SUCCESS ? cudnnGetErrorString(ds)
                          : bs != CUBLAS_STATUS_SUCCESS ? cu_blas_str(bs) : "out of memory";
        cudaGetLastError();
        host->set_error(err, CV_ERR_INTERNAL, "backend cuda: %s failed on device %d: %s", what, cfg->device, why);
        cu_destroy(b);
        return err->status;
    }
    snprintf(b->device_name, sizeof b->device_name, "%s", prop.name);
    host->log(host->host_ctx, CV_LOG_INFO, "backend cuda",
              "device %d: %s, %d SMs, %.1f GiB, compute %d.%d, cuDNN %zu, deterministic %d, tf32 %d, precision %s",
              cfg->device, prop.name, prop.multiProcessorCount, (double)prop.totalGlobalMem / (1 << 30), prop.major,
              prop.minor, cudnnGetVersion(), cfg->deterministic, cfg->tf32,
              cfg->precision == CV_BF16 ? "bf16" : cfg->precision == CV_F16 ? "fp16" : "fp32");
    *self = b;
    return CV_OK;
}

extern "C" void cu_destroy(void *self) {
    cu_backend *b = (cu_backend *)self;
    if (!b) return;
    if (b->stream) cudaStreamSynchronize(b->stream);
    if (b->recording) cu_graph_release(b, b->recording); /* destroyed mid-recording */
    cu_conv_cache_free(b);
    if (b->cublaslt) cublasLtDestroy(b->cublaslt); /* the libraries first: cuBLAS uses blas_ws until then */
    if (b->cublas) cublasDestroy(b->cublas);
    if (b->cudnn) cudnnDestroy(b->cudnn);
    if (b->cache) {
        cu_wcache_free(b);
        cu_cache_put(b, b->blas_ws);
        b->host->log(b->host->host_ctx, CV_LOG_DEBUG, "backend cuda", "allocator peak %.1f MiB",
                     (double)b->cache->peak_bytes / (1 << 20));
        cache_release_all(b->cache);
        for (auto &kv : b->cache->live) cudaFree(kv.first); /* leaked by the caller: still ours to free */
        delete b->cache;
    }
    if (b->stream) cudaStreamDestroy(b->stream);
    b->host->free(b);
}

extern "C" void *cu_alloc(void *self, size_t bytes) { return cu_cache_get((cu_backend *)self, bytes); }

extern "C" void cu_free(void *self, void *p) {
    cu_backend *b = (cu_backend *)self;
    if (p) cu_wcache_forget(b, p, cu_cache_block_bytes(b, p));
    cu_cache_put(b, p);
}

static int copy_bytes(cu_backend *b, void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, const char *what,
                      cv_error *err) {
    if (!bytes) return CV_OK;
    if (!dst || !src)
        return b->host->set_error(err, CV_ERR_INVALID, "backend cuda: %s of %zu bytes with a NULL pointer", what, bytes);
    cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, b->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(b->stream);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return b->host->set_error(err, CV_ERR_INTERNAL, "backend cuda: %s of %zu bytes failed: %s", what, bytes,
                                  cudaGetErrorString(e));
    }
    return CV_OK;
}

extern "C" int cu_upload(void *self, void *dst, const void *src, size_t bytes, cv_error *err) {
    cu_wcache_written((cu_backend *)self, dst, bytes);
    return copy_bytes((cu_backend *)self, dst, src, bytes, cudaMemcpyHostToDevice, "upload", err);
}

extern "C" int cu_download(void *self, void *dst, const void *src, size_t bytes, cv_error *err) {
    return copy_bytes((cu_backend *)self, dst, src, bytes, cudaMemcpyDeviceToHost, "download", err);
}

extern "C" int cu_sync(void *self, cv_error *err) {
    cu_backend *b = (cu_backend *)self;
    cudaError_t e = cudaStreamSynchronize(b->stream);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return b->host->set_error(err, CV_ERR_INTERNAL, "backend cuda: a kernel failed (seen at sync): %s",
                                  cudaGetErrorString(e));
    }
    return cu_graph_checks(b, err);
}
