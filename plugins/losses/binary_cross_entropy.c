/* plugins/losses/binary_cross_entropy.c — BCE-with-logits per class, against
 * one-hot rows made from i32 labels or against soft f32 targets.  CVNets sums
 * over batch and classes (reduction = sum, its only form); mean and batch_mean
 * (sum / N) are offered because the sum grows with the batch size, which the
 * variable batch sizes of multi-scale sampling make uneven. */
#include <string.h>
#include "loss_common.h"

static const char *const bce_reductions[] = { "sum", "mean", "batch_mean", NULL };
enum { BCE_SUM, BCE_MEAN, BCE_BATCH_MEAN };

typedef struct bce_loss {
    const cv_host *host;
    int reduction;
} bce_loss;

static int bce_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    bce_loss *l = h->alloc_array(1, sizeof *l);
    if (!l) return h->set_error(err, CV_ERR_NOMEM, "loss/binary_cross_entropy: out of memory");
    l->host = h;
    const cv_value *r = loss_opt(h, a->opts, "reduction");
    l->reduction = !r ? BCE_SUM : strcmp(r->s, "mean") == 0 ? BCE_MEAN : strcmp(r->s, "batch_mean") == 0 ? BCE_BATCH_MEAN : BCE_SUM;
    *self = l;
    return CV_OK;
}

static void bce_destroy(void *self) {
    bce_loss *l = self;
    if (l) l->host->free(l);
}

static cv_tensor *bce_forward(void *self, const cv_ops_v1 *o, cv_graph *g, const cv_loss_inputs *in) {
    bce_loss *l = self;
    cv_shape s;
    if (loss_logits_shape(o, g, "binary_cross_entropy", in, &s) != CV_OK) return NULL;
    if (s.ndim != 2) {
        o->fail(g, CV_ERR_INVALID, "loss/binary_cross_entropy: logits must be [N,C], got %d dims", s.ndim);
        return NULL;
    }
    cv_tensor *target = in->target;
    if (o->dtype(target) == CV_I32) target = loss_one_hot(o, g, target, s.dim[0], s.dim[1]);
    cv_tensor *mean = o->op(g, CV_OP_BCE_LOGITS, (cv_tensor *const[]){ in->logits, target }, 2, NULL, 0);
    if (l->reduction == BCE_MEAN) return mean;
    double scale = (double)s.dim[1] * (l->reduction == BCE_SUM ? (double)s.dim[0] : 1.0);
    return cv_scalar(o, g, mean, CV_S_MUL, (float)scale);
}

static const cv_option_desc bce_options[] = {
    CV_OPT_ENUM_("reduction", "sum", bce_reductions, "sum (CVNets), mean over all elements, or batch_mean (sum / N)"),
    CV_OPT_END,
};

static const cv_loss_vtable bce_vtable = { sizeof(cv_loss_vtable), 0, 0, bce_forward };

static const cv_component_desc bce_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_LOSS, "binary_cross_entropy", "classification",
    "per-class binary cross entropy with logits (one-hot from labels, or soft targets)",
    bce_options, bce_create, bce_destroy, NULL, NULL, &bce_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &bce_desc, err); }
