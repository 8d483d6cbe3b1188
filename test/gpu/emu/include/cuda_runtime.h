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
#include <functional>
#include <thread>
#include <vector>
struct emu_dim { unsigned x, y, z; };
extern thread_local emu_dim blockIdx, threadIdx;
extern emu_dim blockDim, gridDim;
extern thread_local std::barrier<> *emu_bar;
static inline void __syncthreads(void) { if (emu_bar) emu_bar->arrive_and_wait(); }
typedef enum { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2, cudaErrorNotReady = 600,
               cudaErrorStreamCaptureUnsupported = 900, cudaErrorStreamCaptureInvalidated = 901 } cudaError_t;
typedef void *cudaStream_t;
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
#define cudaStreamNonBlocking 1
struct cudaDeviceProp { char name[256]; int multiProcessorCount; size_t totalGlobalMem; int major, minor; };
/* ---- stream capture and graphs: while a capture is open, work is recorded as
 * closures (arguments evaluated at the call, as CUDA does) instead of run; a
 * synchronising call invalidates the capture, as on a GPU */
typedef std::vector<std::function<void()>> emu_ops;
struct emu_graph_s { emu_ops ops; std::vector<struct emu_node_s *> nodes; };
struct emu_node_s { emu_ops ops; };
struct emu_exec_s { std::vector<emu_node_s *> nodes; std::vector<emu_ops> ops; };
typedef emu_graph_s *cudaGraph_t;
typedef emu_node_s *cudaGraphNode_t;
typedef emu_exec_s *cudaGraphExec_t;
enum cudaStreamCaptureMode { cudaStreamCaptureModeGlobal, cudaStreamCaptureModeThreadLocal, cudaStreamCaptureModeRelaxed };
extern emu_graph_s *emu_capture;     /* the open capture, or NULL */
extern int emu_capture_invalid;
static inline void emu_enqueue(std::function<void()> f) { if (emu_capture) emu_capture->ops.push_back(std::move(f)); else f(); }
static inline cudaError_t emu_sync_point(void) { if (!emu_capture) return cudaSuccess; emu_capture_invalid = 1; return cudaErrorStreamCaptureUnsupported; }
static inline cudaError_t cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode) {
    if (emu_capture) return cudaErrorInvalidValue;
    emu_capture = new emu_graph_s(); emu_capture_invalid = 0; return cudaSuccess;
}
static inline cudaError_t cudaGraphDestroy(cudaGraph_t g) { if (g) { for (auto *n : g->nodes) delete n; delete g; } return cudaSuccess; }
static inline cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t *g) {
    *g = emu_capture; emu_capture = nullptr;
    if (!*g) return cudaErrorInvalidValue;
    if (emu_capture_invalid) { cudaGraphDestroy(*g); *g = nullptr; return cudaErrorStreamCaptureInvalidated; }
    return cudaSuccess;
}
static inline cudaError_t cudaGraphCreate(cudaGraph_t *g, unsigned) { *g = new emu_graph_s(); return cudaSuccess; }
static inline cudaError_t cudaGraphAddChildGraphNode(cudaGraphNode_t *n, cudaGraph_t g, const cudaGraphNode_t *, size_t, cudaGraph_t child) {
    *n = new emu_node_s{ child->ops }; g->nodes.push_back(*n); return cudaSuccess;
}
static inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t *x, cudaGraph_t g, unsigned long long) {
    *x = new emu_exec_s(); for (auto *n : g->nodes) { (*x)->nodes.push_back(n); (*x)->ops.push_back(n->ops); } return cudaSuccess;
}
/* a child graph of another topology (here: another number of operations) is refused, as by CUDA */
static inline cudaError_t cudaGraphExecChildGraphNodeSetParams(cudaGraphExec_t x, cudaGraphNode_t n, cudaGraph_t child) {
    for (size_t i = 0; i < x->nodes.size(); i++)
        if (x->nodes[i] == n) { if (x->ops[i].size() != child->ops.size()) return cudaErrorInvalidValue; x->ops[i] = child->ops; return cudaSuccess; }
    return cudaErrorInvalidValue;
}
static inline cudaError_t cudaGraphLaunch(cudaGraphExec_t x, cudaStream_t) {
    if (emu_capture) return cudaErrorStreamCaptureUnsupported;
    for (auto &ops : x->ops) for (auto &f : ops) f();
    return cudaSuccess;
}
static inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t x) { delete x; return cudaSuccess; }
static inline cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
static inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
static inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int) { memset(p, 0, sizeof *p); strcpy(p->name, "emu"); return cudaSuccess; }
static inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, int) { *s = (void *)1; return cudaSuccess; }
static inline cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
static inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return emu_sync_point(); }
static inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }
static inline const char *cudaGetErrorString(cudaError_t e) { return e == cudaErrorStreamCaptureUnsupported ? "operation not permitted when stream is capturing" : e == cudaErrorStreamCaptureInvalidated ? "operation failed due to a previous error during capture" : "emu error"; }
static inline cudaError_t cudaMalloc(void **p, size_t n) { *p = aligned_alloc(256, (n + 255) / 256 * 256); if (*p) memset(*p, 0xff, n); return *p ? cudaSuccess : cudaErrorMemoryAllocation; }
static inline cudaError_t cudaFree(void *p) { free(p); return cudaSuccess; }
static inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind, cudaStream_t) { emu_enqueue([=] { memmove(d, s, n); }); return cudaSuccess; }
static inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind) { if (emu_capture) return emu_sync_point(); memmove(d, s, n); return cudaSuccess; }
static inline cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t) { emu_enqueue([=] { memset(d, v, n); }); return cudaSuccess; }
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) ushort4 { unsigned short x, y, z, w; };
static inline float4 make_float4(float x, float y, float z, float w) { return { x, y, z, w }; }
static inline ushort4 make_ushort4(unsigned short x, unsigned short y, unsigned short z, unsigned short w) { return { x, y, z, w }; }
static inline float __uint_as_float(uint32_t x) { float f; memcpy(&f, &x, 4); return f; }
static inline uint32_t __float_as_uint(float f) { uint32_t x; memcpy(&x, &f, 4); return x; }
/* a kernel's arguments, evaluated now (as at a CUDA launch), for a launch run now or later */
template <typename F, typename... A> static inline auto emu_bind(F *f, A... a) { return [=] { f(a...); }; }
/* kernels without __syncthreads: threads of a block one after the other */
template <typename F> static inline void emu_launch(unsigned grid, unsigned threads, F f) {
    emu_enqueue([=] {
        blockDim.x = threads; gridDim.x = grid;
        for (unsigned b = 0; b < grid; b++)
            for (unsigned t = 0; t < threads; t++) { blockIdx.x = b; threadIdx.x = t; f(); }
    });
}
/* kernels with __syncthreads: one OS thread per CUDA thread, a barrier per block */
template <typename F> static inline void emu_launch_sync(unsigned grid, unsigned threads, F f) {
    emu_enqueue([=] {
        blockDim.x = threads; gridDim.x = grid;
        for (unsigned b = 0; b < grid; b++) {
            std::barrier<> bar((std::ptrdiff_t)threads);
            std::vector<std::thread> ts;
            for (unsigned t = 0; t < threads; t++)
                ts.emplace_back([&, b, t] { blockIdx.x = b; threadIdx.x = t; emu_bar = &bar; f(); emu_bar = nullptr; });
            for (auto &th : ts) th.join();
        }
    });
}
