/* plugins/samplers/msc_vbs.c — multi-scale variable-batch sampler (CVNets' VariableBatchSampler).
 * The implementation is shared with the other samplers: see sampler_impl.h. */
#define SAMPLER_MODE MODE_MSC_VBS
#define SAMPLER_NAME "msc_vbs"
#include "sampler_impl.h"

static const cv_option_desc sp_options[] = {
    SP_COMMON_OPTS,
    SP_MULTI_OPTS,
    CV_OPT_END,
};

static const cv_component_desc sp_desc = {
    .struct_size = sizeof(cv_component_desc),
    .abi_major = CV_ABI_MAJOR,
    .abi_minor = CV_ABI_MINOR,
    .kind = CV_KIND_SAMPLER,
    .name = SAMPLER_NAME,
    .task = "any",
    .summary = "multi-scale variable batch: b = floor(base_h*base_w*batch_size / (h*w)) per scale",
    .options = sp_options,
    .create = sp_create,
    .destroy = sp_destroy,
    .vtable = &sp_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &sp_desc, err); }
