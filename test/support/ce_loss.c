/* test/support/ce_loss.c — see ce_loss.h. */
#include "support/ce_loss.h"

static cv_tensor *ce_forward(void *self, const cv_ops_v1 *o, cv_graph *g, const cv_loss_inputs *in) {
    (void)self;
    cv_ce_params p = { 0.0f, -100 };
    return CV_OP2(o, g, CV_OP_CROSS_ENTROPY, in->logits, in->target, &p);
}

static const cv_loss_vtable ce_vt = { sizeof(cv_loss_vtable), 0, 0, ce_forward };
static const cv_component_desc ce_desc = { sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_LOSS,
                                           "ce", "any", "test loss", NULL, NULL, NULL, NULL, NULL, &ce_vt };

cv_component_ref ce_loss(void) { return (cv_component_ref){ &ce_desc, NULL }; }
