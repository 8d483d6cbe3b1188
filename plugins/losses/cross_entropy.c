/* plugins/losses/cross_entropy.c — cross entropy over [N,C] (or [N,C,H,W]) logits
 * with hard i32 labels or soft f32 targets (MixUp / CutMix), label smoothing
 * (training only, as CVNets), per-class weights and an ignore index; PyTorch's
 * mean reduction (weighted mean over the positions not ignored).  One fused
 * CV_OP_CROSS_ENTROPY op. */
#include "loss_common.h"

typedef struct ce_loss {
    const cv_host *host;
    double smoothing;
    int ignore_index;
    int n_weights;
    double *weights;  /* NULL: no class weights */
} ce_loss;

static void ce_destroy(void *self) {
    ce_loss *l = self;
    if (!l) return;
    l->host->free(l->weights);
    l->host->free(l);
}

static int ce_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    ce_loss *l = h->alloc_array(1, sizeof *l);
    if (!l) return h->set_error(err, CV_ERR_NOMEM, "loss/cross_entropy: out of memory");
    l->host = h;
    l->smoothing = loss_opt_f(h, a->opts, "label_smoothing", 0.0);
    l->ignore_index = (int)loss_opt_i(h, a->opts, "ignore_index", -1);
    const cv_value *w = loss_opt(h, a->opts, "class_weights");
    if (w && w->count > 0) {
        if (a->num_classes > 0 && w->count != a->num_classes) {
            int rc = h->set_error(err, CV_ERR_INVALID, "loss/cross_entropy: class_weights has %d values but the dataset "
                                  "has %d classes", w->count, a->num_classes);
            ce_destroy(l);
            return rc;
        }
        l->weights = h->alloc_array((size_t)w->count, sizeof *l->weights);
        if (!l->weights) {
            ce_destroy(l);
            return h->set_error(err, CV_ERR_NOMEM, "loss/cross_entropy: out of memory");
        }
        memcpy(l->weights, w->floats, (size_t)w->count * sizeof *l->weights);
        l->n_weights = w->count;
    }
    *self = l;
    return CV_OK;
}

static cv_tensor *ce_forward(void *self, const cv_ops_v1 *o, cv_graph *g, const cv_loss_inputs *in) {
    ce_loss *l = self;
    cv_shape s;
    if (loss_logits_shape(o, g, "cross_entropy", in, &s) != CV_OK) return NULL;
    cv_tensor *weight = NULL;
    if (l->weights) {
        if (s.dim[1] != l->n_weights) {
            o->fail(g, CV_ERR_INVALID, "loss/cross_entropy: class_weights has %d values but the logits have %lld classes",
                    l->n_weights, (long long)s.dim[1]);
            return NULL;
        }
        weight = loss_vector(o, g, l->weights, l->n_weights);
    }
    return loss_cross_entropy(o, g, in->logits, in->target, weight, l->smoothing, l->ignore_index);
}

static const cv_option_desc ce_options[] = {
    CV_OPT_FLOAT_RANGE("label_smoothing", "0.0", 0, 0.999, "label smoothing while training (validation uses plain CE)"),
    CV_OPT_FLOAT_LIST_("class_weights", NULL, 0, 1e9, 1, 0, "one weight per class (weighted mean as PyTorch)"),
    CV_OPT_INT_RANGE("ignore_index", "-1", -1e9, 1e9, "label value that contributes nothing (segmentation: 255)"),
    CV_OPT_END,
};

static const cv_loss_vtable ce_vtable = { sizeof(cv_loss_vtable), 0, 0, ce_forward };

static const cv_component_desc ce_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_LOSS, "cross_entropy", "any",
    "cross entropy with label smoothing, class weights, ignore index; hard or soft (MixUp/CutMix) targets",
    ce_options, ce_create, ce_destroy, NULL, NULL, &ce_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &ce_desc, err); }
