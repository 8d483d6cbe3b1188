/* core/schemas.c — option schemas of the recipe sections the host itself owns:
 * [run], [ema], [set], [transforms] and [metrics].  Component sections ([model],
 * [dataset], …) take their schema from the plugin they name. */
#include "recipe.h"

#include <string.h>

static const char *const precisions[] = { "fp32", "bf16", "fp16", NULL };
static const char *const nan_policies[] = { "stop", "skip", NULL };
static const char *const comms[] = { "none", "mpi", "nccl", NULL };
static const char *const scalings[] = { "auto", "dynamic", "off", NULL };

static const cv_option_desc run_schema[] = {
    CV_OPT_INT_RANGE("seed", "0", 0, 9.2e18, "seed of every random choice (sampling, augmentation, initialisation)"),
    CV_OPT_INT_RANGE("epochs", "1", 1, 1000000, "number of training epochs"),
    CV_OPT_STRING_("device", "cpu", "backend plugin that runs the ops: cpu, cuda, ref, or a third-party backend"),
    CV_OPT_INT_RANGE("threads", "0", 0, 4096, "CPU threads for the backend and the data loader (0: all cores)"),
    CV_OPT_ENUM_("precision", "fp32", precisions, "compute precision of activations (parameters stay fp32)"),
    CV_OPT_PATH_("out_dir", NULL, "run folder (default runs/<recipe name>; --out overrides)"),
    CV_OPT_INT_RANGE("log_every", "50", 1, 1e9, "log a metrics line every N optimizer steps"),
    CV_OPT_INT_RANGE("accum_freq", "1", 1, 4096, "accumulate gradients over N batches per optimizer step"),
    CV_OPT_FLOAT_RANGE("clip_grad_norm", "0", 0, 1e30, "clip the global gradient norm to this value (0: off)"),
    CV_OPT_ENUM_("nan_policy", "stop", nan_policies, "on a non-finite loss: stop the run, or skip the step"),
    CV_OPT_INT_RANGE("val_every", "1", 1, 1000000, "validate every N epochs"),
    CV_OPT_INT_RANGE("eval_size", "0", 0, 65536, "validation image size (0: the sampler's base size)"),
    CV_OPT_ENUM_("comm", "none", comms, "data-parallel communication: none, mpi or nccl (comm plugin)"),
    CV_OPT_BOOL_("comm_overlap", "true",
                 "data-parallel: all-reduce gradient buckets during backward as each becomes final (false: one "
                 "all-reduce after backward)"),
    CV_OPT_FLOAT_RANGE("comm_bucket_mib", "4", 1e-6, 65536, "data-parallel: size of a gradient bucket in MiB"),
    CV_OPT_BOOL_("sync_bn", "false",
                 "data-parallel: training batch norm uses mean and variance over all ranks (one all-reduce per layer "
                 "forward and one backward); no effect with one rank"),
    CV_OPT_ENUM_("loss_scaling", "auto", scalings,
                 "dynamic loss scaling: backward starts from the loss scale, gradients are divided by it, a step "
                 "whose gradients overflow is skipped and halves the scale (auto: dynamic for precision = fp16)"),
    CV_OPT_FLOAT_RANGE("loss_scale_init", "65536", 1, 3.4e38, "dynamic loss scaling: the first scale"),
    CV_OPT_INT_RANGE("loss_scale_window", "2000", 1, 1e9,
                     "dynamic loss scaling: double the scale after this many steps without overflow"),
    CV_OPT_END,
};

static const cv_option_desc ema_schema[] = {
    CV_OPT_BOOL_("enable", "false", "keep an exponential moving average of the weights and validate it too"),
    CV_OPT_FLOAT_RANGE("momentum", "0.0005", 0, 1, "EMA update: ema = (1 - momentum) * ema + momentum * weights"),
    CV_OPT_END,
};

static const cv_option_desc set_schema[] = {
    CV_OPT_BOOL_("enable", "false", "sample-efficient training: drop samples the model already classifies confidently"),
    CV_OPT_FLOAT_RANGE("confidence", "0.5", 0, 1, "a sample is easy when its true-class probability exceeds this"),
    CV_OPT_INT_RANGE("every_k_epochs", "5", 1, 1000000, "re-score the training set every K epochs"),
    CV_OPT_INT_RANGE("window", "5", 1, 1000000, "a sample is dropped after being easy this many times in a row"),
    CV_OPT_END,
};

static const cv_option_desc transforms_schema[] = {
    CV_OPT_STRING_("train", "", "transform plugins applied to training samples, in order (comma-separated)"),
    CV_OPT_STRING_("val", "", "transform plugins applied to validation samples, in order (comma-separated)"),
    CV_OPT_END,
};

static const cv_option_desc metrics_schema[] = {
    CV_OPT_STRING_("train", "loss", "metric plugins logged during training (comma-separated)"),
    CV_OPT_STRING_("val", "loss, top1", "metric plugins computed on validation; the first one picks best.safetensors"),
    CV_OPT_END,
};

const cv_option_desc *cv_host_section_schema(const char *section) {
    if (!section) return NULL;
    if (strcmp(section, "run") == 0) return run_schema;
    if (strcmp(section, "ema") == 0) return ema_schema;
    if (strcmp(section, "set") == 0) return set_schema;
    if (strcmp(section, "transforms") == 0) return transforms_schema;
    if (strcmp(section, "metrics") == 0) return metrics_schema;
    return NULL;
}
