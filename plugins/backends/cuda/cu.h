/* cu.h — the CUDA backend's internal interface between plugin.c (C: descriptor,
 * options, entry point) and the .cu files (C++/CUDA: device, memory, kernels).
 * The functions below are the backend vtable; they are extern "C" with hidden
 * visibility, so the plugin still exports only cvnets_plugin_entry_v1. */
#ifndef CV_CUDA_CU_H
#define CV_CUDA_CU_H

#include <cvnets/cvnets.h>

#ifdef __cplusplus
extern "C" {
#endif

/* creation options, read from the recipe by plugin.c */
typedef struct cu_config {
    int device;            /* CUDA device ordinal */
    int deterministic;     /* only deterministic cuDNN algorithms */
    int tf32;              /* allow TF32 in cuDNN / cuBLAS (off: plain FP32 FMA) */
    int cudnn_bn;          /* batch norm through cuDNN (1) or own kernels (0) */
    int64_t workspace_mb;  /* cuDNN workspace budget per convolution */
    int precision;         /* CV_F32, or CV_BF16 / CV_F16: convolutions and matmuls read 16-bit copies */
    int graphs;            /* record plans as CUDA graphs (graph.cu) */
    int nhwc;              /* offer channels-last activations between kernels (ABI 1.3 layouts) */
} cu_config;

int cu_create(const cv_host *host, const cu_config *cfg, void **self, cv_error *err);
void cu_destroy(void *self);
void *cu_alloc(void *self, size_t bytes);
void cu_free(void *self, void *p);
int cu_upload(void *self, void *dst, const void *src, size_t bytes, cv_error *err);
int cu_download(void *self, void *dst, const void *src, size_t bytes, cv_error *err);
int cu_supports(void *self, int op, int dtype);
int cu_prepare(void *self, const cv_kernel *k, void **prepared, size_t *workspace_bytes, cv_error *err);
void cu_release(void *self, void *prepared);
int cu_run(void *self, const cv_kernel *k, cv_error *err);
int cu_sync(void *self, cv_error *err);
/* ABI 1.1 / 1.3: which ops take NHWC operands (dispatch.cu) */
int cu_layout_class(void *self, const cv_kernel *k);
/* ABI 1.2: recorded kernel sequences as CUDA graphs (graph.cu) */
int cu_graph_begin(void *self, cv_error *err);
int cu_graph_end(void *self, void **graph, cv_error *err);
int cu_graph_update(void *self, void *graph, int32_t index, const cv_kernel *k, cv_error *err);
int cu_graph_launch(void *self, void *graph, cv_error *err);
void cu_graph_release(void *self, void *graph);

#ifdef __cplusplus
}
#endif
#endif
