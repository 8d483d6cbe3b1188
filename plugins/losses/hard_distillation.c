/* plugins/losses/hard_distillation.c — DeiT's hard distillation:
 *   label_loss_weight * CE(student, y) + distillation_loss_weight * CE(student, argmax teacher)
 * (0.5 / 0.5 by default).  The teacher's class is the arg-max of its logits, ties
 * split evenly; the label term takes hard or soft (MixUp / CutMix) targets.
 * label_smoothing applies to the label term, distillation_label_smoothing to the
 * teacher term (CVNets' hard_distillation.label_smoothing), both while training. */
#include "loss_common.h"

typedef struct hard_distill {
    const cv_host *host;
    double label_weight, distill_weight, smoothing, distill_smoothing;
} hard_distill;

static int hd_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    hard_distill *l = h->alloc_array(1, sizeof *l);
    if (!l) return h->set_error(err, CV_ERR_NOMEM, "loss/hard_distillation: out of memory");
    l->host = h;
    l->label_weight = loss_opt_f(h, a->opts, "label_loss_weight", 0.5);
    l->distill_weight = loss_opt_f(h, a->opts, "distillation_loss_weight", 0.5);
    l->smoothing = loss_opt_f(h, a->opts, "label_smoothing", 0.0);
    l->distill_smoothing = loss_opt_f(h, a->opts, "distillation_label_smoothing", 0.0);
    if (l->label_weight == 0 && l->distill_weight == 0) {
        h->free(l);
        return h->set_error(err, CV_ERR_INVALID,
                            "loss/hard_distillation: label_loss_weight and distillation_loss_weight are both 0");
    }
    *self = l;
    return CV_OK;
}

static void hd_destroy(void *self) {
    hard_distill *l = self;
    if (l) l->host->free(l);
}

static cv_tensor *hd_forward(void *self, const cv_ops_v1 *o, cv_graph *g, const cv_loss_inputs *in) {
    hard_distill *l = self;
    cv_shape s, ts;
    if (loss_logits_shape(o, g, "hard_distillation", in, &s) != CV_OK) return NULL;
    if (!in->teacher_logits || o->shape(in->teacher_logits, &ts) != CV_OK) {
        o->fail(g, CV_ERR_INVALID,
                "loss/hard_distillation: no teacher logits (set [loss] teacher_recipe so the trainer runs a teacher)");
        return NULL;
    }
    if (ts.ndim != s.ndim || memcmp(ts.dim, s.dim, sizeof s.dim[0] * (size_t)s.ndim) != 0) {
        o->fail(g, CV_ERR_INVALID, "loss/hard_distillation: teacher logits [%lld,%lld] do not match the student's [%lld,%lld]",
                (long long)ts.dim[0], (long long)(ts.ndim > 1 ? ts.dim[1] : 0), (long long)s.dim[0], (long long)s.dim[1]);
        return NULL;
    }
    cv_tensor *ce_label = l->label_weight != 0
                              ? loss_cross_entropy(o, g, in->logits, in->target, NULL, l->smoothing, -1) : NULL;
    cv_tensor *ce_teacher = NULL;
    if (l->distill_weight != 0) {
        cv_tensor *t = loss_argmax_one_hot(o, g, in->teacher_logits, s.dim[1]);
        ce_teacher = loss_cross_entropy(o, g, in->logits, t, NULL, l->distill_smoothing, -1);
    }
    return loss_mix(o, g, l->label_weight, ce_label, l->distill_weight, ce_teacher);
}

static const cv_option_desc hd_options[] = {
    CV_OPT_FLOAT_RANGE("label_loss_weight", "0.5", 0, 1e3, "weight of the cross entropy against the labels"),
    CV_OPT_FLOAT_RANGE("distillation_loss_weight", "0.5", 0, 1e3, "weight of the cross entropy against the teacher's class"),
    CV_OPT_FLOAT_RANGE("label_smoothing", "0.0", 0, 0.999, "label smoothing of the label term (training only)"),
    CV_OPT_FLOAT_RANGE("distillation_label_smoothing", "0.0", 0, 0.999, "label smoothing of the teacher term (training only)"),
    LOSS_TEACHER_OPTIONS,
    CV_OPT_END,
};

static const cv_loss_vtable hd_vtable = { sizeof(cv_loss_vtable), 1, 0, hd_forward };

static const cv_component_desc hd_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_LOSS, "hard_distillation", "classification",
    "DeiT hard distillation: 0.5 CE(student, labels) + 0.5 CE(student, argmax teacher)",
    hd_options, hd_create, hd_destroy, NULL, NULL, &hd_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &hd_desc, err); }
