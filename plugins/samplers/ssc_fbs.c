/* plugins/samplers/ssc_fbs.c — single-scale fixed-batch sampler.
 * The implementation is shared with the other samplers: see sampler_impl.h. */
#define SAMPLER_MODE MODE_SSC_FBS
#define SAMPLER_NAME "ssc_fbs"
#include "sampler_impl.h"

static const cv_option_desc sp_options[] = {
    SP_COMMON_OPTS,
    CV_OPT_END,
};

static const cv_component_desc sp_desc = {
    .struct_size = sizeof(cv_component_desc),
    .abi_major = CV_ABI_MAJOR,
    .abi_minor = CV_ABI_MINOR,
    .kind = CV_KIND_SAMPLER,
    .name = SAMPLER_NAME,
    .task = "any",
    .summary = "single scale (base size), fixed batch size",
    .options = sp_options,
    .create = sp_create,
    .destroy = sp_destroy,
    .vtable = &sp_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &sp_desc, err); }
