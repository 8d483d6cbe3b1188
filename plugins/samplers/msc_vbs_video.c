/* plugins/samplers/msc_vbs_video.c — multi-scale variable-batch sampler for video clips.
 * The implementation is shared with the other samplers: see sampler_impl.h. */
#define SAMPLER_MODE MODE_MSC_VBS_VIDEO
#define SAMPLER_NAME "msc_vbs_video"
#include "sampler_impl.h"

static const cv_option_desc sp_options[] = {
    SP_COMMON_OPTS,
    SP_MULTI_OPTS,
    CV_OPT_INT_RANGE("frames", "8", 1, 4096, "frames per clip at which batch_size holds"),
    CV_OPT_INT_RANGE("min_frames", "4", 1, 4096, "fewest frames per clip"),
    CV_OPT_INT_RANGE("max_frames", "16", 1, 4096, "most frames per clip"),
    CV_OPT_INT_RANGE("frame_scales", "3", 1, 32, "points of linspace(min_frames, max_frames) before adding frames"),
    CV_OPT_END,
};

static const cv_component_desc sp_desc = {
    .struct_size = sizeof(cv_component_desc),
    .abi_major = CV_ABI_MAJOR,
    .abi_minor = CV_ABI_MINOR,
    .kind = CV_KIND_SAMPLER,
    .name = SAMPLER_NAME,
    .task = "any",
    .summary = "msc_vbs for video: also draws frames per clip and scales the batch by frames/f",
    .options = sp_options,
    .create = sp_create,
    .destroy = sp_destroy,
    .vtable = &sp_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &sp_desc, err); }
