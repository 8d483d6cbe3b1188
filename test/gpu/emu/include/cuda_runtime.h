/* test/gpu/emu/include/cuda_runtime.h — host emulation of the CUDA runtime subset the backend uses
 * (test/gpu/emulate.sh): device memory is host memory, one stream, kernels run on the CPU. */
#pragma once
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <stdint.h>
#define __global__
#define __device__
#define __host__
#define __shared__ static
#include <barrier>
#include <thread>
#include <vector>
struct emu_dim { unsigned x, y, z; };
extern thread_local emu_dim blockIdx, threadIdx;
extern emu_dim blockDim, gridDim;
extern thread_local std::barrier<> *emu_bar;
static inline void __syncthreads(void) { if (emu_bar) emu_bar->arrive_and_wait(); }
typedef enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2, cudaErrorNotReady = 600 } cudaError_t;
typedef void *cudaStream_t;
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
#define cudaStreamNonBlocking 1
struct cudaDeviceProp { char name[256]; int multiProcessorCount; size_t totalGlobalMem; int major, minor; };
static inline cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
static inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
static inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int) { memset(p, 0, sizeof *p); strcpy(p->name, "emu"); return cudaSuccess; }
static inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, int) { *s = (void *)1; return cudaSuccess; }
static inline cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
static inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
static inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }
static inline const char *cudaGetErrorString(cudaError_t) { return "emu error"; }
static inline cudaError_t cudaMalloc(void **p, size_t n) { *p = aligned_alloc(256, (n + 255) / 256 * 256); if (*p) memset(*p, 0xff, n); return *p ? cudaSuccess : cudaErrorMemoryAllocation; }
static inline cudaError_t cudaFree(void *p) { free(p); return cudaSuccess; }
static inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind, cudaStream_t) { memmove(d, s, n); return cudaSuccess; }
static inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind) { memmove(d, s, n); return cudaSuccess; }
static inline cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t) { memset(d, v, n); return cudaSuccess; }
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) ushort4 { unsigned short x, y, z, w; };
static inline float4 make_float4(float x, float y, float z, float w) { return { x, y, z, w }; }
static inline ushort4 make_ushort4(unsigned short x, unsigned short y, unsigned short z, unsigned short w) { return { x, y, z, w }; }
static inline float __uint_as_float(uint32_t x) { float f; memcpy(&f, &x, 4); return f; }
static inline uint32_t __float_as_uint(float f) { uint32_t x; memcpy(&x, &f, 4); return x; }
/* kernels without __syncthreads: threads of a block one after the other */
template <typename F> static inline void emu_launch(unsigned grid, unsigned threads, F f) {
    blockDim.x = threads; gridDim.x = grid;
    for (unsigned b = 0; b < grid; b++)
        for (unsigned t = 0; t < threads; t++) { blockIdx.x = b; threadIdx.x = t; f(); }
}
/* kernels with __syncthreads: one OS thread per CUDA thread, a barrier per block */
template <typename F> static inline void emu_launch_sync(unsigned grid, unsigned threads, F f) {
    blockDim.x = threads; gridDim.x = grid;
    for (unsigned b = 0; b < grid; b++) {
        std::barrier<> bar((std::ptrdiff_t)threads);
        std::vector<std::thread> ts;
        for (unsigned t = 0; t < threads; t++)
            ts.emplace_back([&, b, t] { blockIdx.x = b; threadIdx.x = t; emu_bar = &bar; f(); emu_bar = nullptr; });
        for (auto &th : ts) th.join();
    }
}
