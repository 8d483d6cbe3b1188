/* core/registry_vtable.c — which functions each kind's vtable must provide (and,
 * for a backend, that its blocked layout is one this host knows), for
 * check-plugin and for code about to call into a component. */
#include "registry.h"

int cv_component_check_vtable(const cv_component_desc *d, cv_error *err) {
    const char *missing = NULL;
#define NEED(type, field) \
    do { \
        if (!missing && !((const type *)d->vtable)->field) missing = #field; \
    } while (0)
    switch (d->kind) {
    case CV_KIND_BACKEND:
        NEED(cv_backend_vtable, alloc); NEED(cv_backend_vtable, free); NEED(cv_backend_vtable, upload);
        NEED(cv_backend_vtable, download); NEED(cv_backend_vtable, supports); NEED(cv_backend_vtable, run);
        NEED(cv_backend_vtable, sync);
        if (!missing && !((const cv_backend_vtable *)d->vtable)->prepare != !((const cv_backend_vtable *)d->vtable)->release)
            missing = "prepare/release (both or neither)";
        if (!missing) {
            const int l = ((const cv_backend_vtable *)d->vtable)->blocked_layout;
            if (l != 0 && l != CV_LAYOUT_C16 && l != CV_LAYOUT_NHWC)
                return cv_set_error(err, CV_ERR_INVALID,
                                    "%s/%s: its vtable's blocked_layout is %d, not a layout this host knows (0 or %d: "
                                    "C16, %d: NHWC)", cv_kind_name(d->kind), d->name, l, CV_LAYOUT_C16, CV_LAYOUT_NHWC);
        }
        break;
    case CV_KIND_COMM:
        NEED(cv_comm_vtable, rank); NEED(cv_comm_vtable, world_size); NEED(cv_comm_vtable, allreduce_sum_f32);
        NEED(cv_comm_vtable, broadcast); NEED(cv_comm_vtable, barrier);
        break;
    case CV_KIND_MODEL: NEED(cv_model_vtable, forward); break;
    case CV_KIND_DATASET:
        NEED(cv_dataset_vtable, length); NEED(cv_dataset_vtable, num_classes); NEED(cv_dataset_vtable, channels);
        NEED(cv_dataset_vtable, get);
        break;
    case CV_KIND_TRANSFORM:
        if (((const cv_transform_vtable *)d->vtable)->batch_level) {
            NEED(cv_transform_vtable, apply_batch);
        } else {
            NEED(cv_transform_vtable, apply);
        }
        break;
    case CV_KIND_SAMPLER:
        NEED(cv_sampler_vtable, begin_epoch); NEED(cv_sampler_vtable, get_batch); NEED(cv_sampler_vtable, scales);
        break;
    case CV_KIND_LOSS: NEED(cv_loss_vtable, forward); break;
    case CV_KIND_OPTIMIZER: NEED(cv_optimizer_vtable, step); break;
    case CV_KIND_SCHEDULER: NEED(cv_scheduler_vtable, lr); break;
    case CV_KIND_METRIC: NEED(cv_metric_vtable, reset); NEED(cv_metric_vtable, update); NEED(cv_metric_vtable, value); break;
    default: missing = "a known kind"; break;
    }
#undef NEED
    if (!missing && !d->save_state != !d->load_state) missing = "save_state/load_state (both or neither)";
    if (missing)
        return cv_set_error(err, CV_ERR_INVALID, "%s/%s: its vtable lacks %s", cv_kind_name(d->kind), d->name, missing);
    return CV_OK;
}
