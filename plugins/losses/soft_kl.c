/* plugins/losses/soft_kl.c — soft distillation: KL(teacher || student) of the
 * temperature-softened class distributions, summed over classes and averaged
 * over the batch, times T^2 (CVNets' soft_kl_loss, i.e. PyTorch's kl_div with
 * batchmean and log targets).  Optionally mixed with the label cross entropy:
 *   label_loss_weight * CE(student, y) + distillation_loss_weight * KL.
 * The teacher's logits come from the trainer (in->teacher_logits). */
#include "loss_common.h"

typedef struct soft_kl {
    const cv_host *host;
    double temperature, label_weight, distill_weight, smoothing;
} soft_kl;

static int skl_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    soft_kl *l = h->alloc_array(1, sizeof *l);
    if (!l) return h->set_error(err, CV_ERR_NOMEM, "loss/soft_kl: out of memory");
    l->host = h;
    l->temperature = loss_opt_f(h, a->opts, "temperature", 1.0);
    l->label_weight = loss_opt_f(h, a->opts, "label_loss_weight", 0.0);
    l->distill_weight = loss_opt_f(h, a->opts, "distillation_loss_weight", 1.0);
    l->smoothing = loss_opt_f(h, a->opts, "label_smoothing", 0.0);
    if (l->label_weight == 0 && l->distill_weight == 0) {
        h->free(l);
        return h->set_error(err, CV_ERR_INVALID, "loss/soft_kl: label_loss_weight and distillation_loss_weight are both 0");
    }
    *self = l;
    return CV_OK;
}

static void skl_destroy(void *self) {
    soft_kl *l = self;
    if (l) l->host->free(l);
}

static cv_tensor *skl_forward(void *self, const cv_ops_v1 *o, cv_graph *g, const cv_loss_inputs *in) {
    soft_kl *l = self;
    cv_shape s, ts;
    if (loss_logits_shape(o, g, "soft_kl", in, &s) != CV_OK) return NULL;
    if (!in->teacher_logits || o->shape(in->teacher_logits, &ts) != CV_OK) {
        o->fail(g, CV_ERR_INVALID, "loss/soft_kl: no teacher logits (set [loss] teacher_recipe so the trainer runs a teacher)");
        return NULL;
    }
    if (ts.ndim != s.ndim || memcmp(ts.dim, s.dim, sizeof s.dim[0] * (size_t)s.ndim) != 0) {
        o->fail(g, CV_ERR_INVALID, "loss/soft_kl: teacher logits [%lld,%lld] do not match the student's [%lld,%lld]",
                (long long)ts.dim[0], (long long)(ts.ndim > 1 ? ts.dim[1] : 0), (long long)s.dim[0], (long long)s.dim[1]);
        return NULL;
    }
    float inv_t = (float)(1.0 / l->temperature);
    cv_tensor *ls = cv_softmax(o, g, cv_scalar(o, g, in->logits, CV_S_MUL, inv_t), 1, 1);
    cv_tensor *lt = cv_softmax(o, g, cv_scalar(o, g, in->teacher_logits, CV_S_MUL, inv_t), 1, 1);
    cv_tensor *pt = cv_unary(o, g, lt, CV_EXP, 0);
    cv_tensor *kl = cv_mul(o, g, pt, cv_binary(o, g, lt, ls, CV_SUB));
    uint32_t all = (1u << s.ndim) - 1u;
    kl = cv_reduce(o, g, kl, CV_R_SUM, all, 0);
    kl = cv_scalar(o, g, kl, CV_S_MUL, (float)(l->temperature * l->temperature / (double)s.dim[0]));
    cv_tensor *ce = l->label_weight != 0 ? loss_cross_entropy(o, g, in->logits, in->target, NULL, l->smoothing, -1) : NULL;
    return loss_mix(o, g, l->label_weight, ce, l->distill_weight, kl);
}

static const cv_option_desc skl_options[] = {
    CV_OPT_FLOAT_RANGE("temperature", "1.0", 1e-3, 1e3, "softmax temperature T of both distributions (loss scaled by T^2)"),
    CV_OPT_FLOAT_RANGE("label_loss_weight", "0.0", 0, 1e3, "weight of the cross entropy against the labels"),
    CV_OPT_FLOAT_RANGE("distillation_loss_weight", "1.0", 0, 1e3, "weight of the KL term"),
    CV_OPT_FLOAT_RANGE("label_smoothing", "0.0", 0, 0.999, "label smoothing of the label term (training only)"),
    LOSS_TEACHER_OPTIONS,
    CV_OPT_END,
};

static const cv_loss_vtable skl_vtable = { sizeof(cv_loss_vtable), 1, 0, skl_forward };

static const cv_component_desc skl_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_LOSS, "soft_kl", "classification",
    "soft distillation: T^2 * KL(teacher || student) at temperature T, optionally mixed with label CE",
    skl_options, skl_create, skl_destroy, NULL, NULL, &skl_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &skl_desc, err); }
