/* plugin.c — registration of the CUDA backend "cuda" (cvnets-backend-cuda.so):
 * its options and the vtable.  Everything that touches CUDA lives in the .cu
 * files behind cu.h; this file is plain C so the entry point keeps the C ABI. */
#include <string.h>
#include "cu.h"

static const char *const bn_choices[] = { "cudnn", "own", NULL };
static const char *const precision_choices[] = { "fp32", "bf16", "fp16", NULL };
static const char *const layout_choices[] = { "nhwc", "nchw", NULL };
static const cv_option_desc cuda_options[] = {
    CV_OPT_INT_RANGE("device", "0", 0, 63, "CUDA device ordinal"),
    CV_OPT_BOOL_("deterministic", "false",
                 "only deterministic cuDNN convolution algorithms and our batch norm (our kernels never use atomics)"),
    CV_OPT_BOOL_("tf32", "false", "allow TF32 tensor-core math in convolutions and matmuls (faster, ~1e-3 relative error)"),
    CV_OPT_ENUM_("batch_norm", "cudnn", bn_choices,
                 "batch norm kernels: cudnn (cudnnBatchNormalization*, training) or own (exact double accumulation)"),
    CV_OPT_INT_RANGE("workspace_mb", "1024", 0, 65536, "cuDNN workspace budget of one convolution, in MiB"),
    CV_OPT_ENUM_("precision", "fp32", precision_choices,
                 "set by the host from [run] precision: bf16 / fp16 run convolutions and matmuls in 16 bits "
                 "(tensor cores, f32 accumulation) and store the NHWC activations between kernels in 16 bits; "
                 "parameters, gradients, norm statistics, losses and updates stay f32"),
    CV_OPT_BOOL_("graphs", "true",
                 "record each plan's kernels once as a CUDA graph and replay it every step (fewer launches; "
                 "steps with profiling, overlapped all-reduce or SyncBN run kernel by kernel)"),
    CV_OPT_ENUM_("layout", "nhwc", layout_choices,
                 "activations between kernels: nhwc (channels-last where every op touching a value takes it: "
                 "convolutions, batch norm, pooling, element-wise, global pooling; cuDNN's tensor-core layout) or "
                 "nchw (always the engine's plain layout)"),
    CV_OPT_END,
};

static const cv_backend_vtable cuda_vtable = {
    .struct_size = sizeof(cv_backend_vtable),
    .host_accessible = 0,
    .blocked_layout = CV_LAYOUT_NHWC,
    .alloc = cu_alloc,
    .free = cu_free,
    .upload = cu_upload,
    .download = cu_download,
    .supports = cu_supports,
    .prepare = cu_prepare,
    .release = cu_release,
    .run = cu_run,
    .sync = cu_sync,
    .layout_class = cu_layout_class,
    .graph_begin = cu_graph_begin,
    .graph_end = cu_graph_end,
    .graph_update = cu_graph_update,
    .graph_launch = cu_graph_launch,
    .graph_release = cu_graph_release,
};

static int cuda_create(const cv_create_args *args, void **self, cv_error *err) {
    const cv_host *h = args->host;
    cu_config cfg = { 0, 0, 0, 1, 1024, CV_F32, 1, 1 };
    const cv_value *v;
    if (args->opts) {
        if ((v = h->opt(args->opts, "device")) && v->is_set) cfg.device = (int)v->i;
        if ((v = h->opt(args->opts, "deterministic")) && v->is_set) cfg.deterministic = v->i != 0;
        if ((v = h->opt(args->opts, "tf32")) && v->is_set) cfg.tf32 = v->i != 0;
        if ((v = h->opt(args->opts, "batch_norm")) && v->is_set && v->s) cfg.cudnn_bn = strcmp(v->s, "own") != 0;
        if ((v = h->opt(args->opts, "workspace_mb")) && v->is_set) cfg.workspace_mb = v->i;
        if ((v = h->opt(args->opts, "precision")) && v->is_set && v->s)
            cfg.precision = strcmp(v->s, "bf16") == 0 ? CV_BF16 : strcmp(v->s, "fp16") == 0 ? CV_F16 : CV_F32;
        if ((v = h->opt(args->opts, "graphs")) && v->is_set) cfg.graphs = v->i != 0;
        if ((v = h->opt(args->opts, "layout")) && v->is_set && v->s) cfg.nhwc = strcmp(v->s, "nhwc") == 0;
    }
    return cu_create(h, &cfg, self, err);
}

static const cv_component_desc cuda_desc = {
    .struct_size = sizeof(cv_component_desc),
    .abi_major = CV_ABI_MAJOR,
    .abi_minor = CV_ABI_MINOR,
    .kind = CV_KIND_BACKEND,
    .name = "cuda",
    .task = "any",
    .summary = "CUDA backend: cuDNN convolutions / batch norm / pooling, cuBLAS matmul, own kernels for the rest",
    .options = cuda_options,
    .create = cuda_create,
    .destroy = cu_destroy,
    .vtable = &cuda_vtable,
};

CV_PLUGIN_ENTRY {
    return host->register_component(host->host_ctx, &cuda_desc, err);
}
