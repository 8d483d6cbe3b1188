/* sdk/lib/nn_model.c — model plumbing of the SDK helper library (cvnets/nn.h):
 * option reading with defaults, output-stride / dilation bookkeeping for
 * backbones, feature-slot placement and the default class count. */
#include <cvnets/nn.h>

int64_t cv_opt_int(const cv_host *h, const cv_options *o, const char *key, int64_t def) {
    const cv_value *v = h && o ? h->opt(o, key) : NULL;
    return v && v->is_set ? v->i : def;
}

double cv_opt_float(const cv_host *h, const cv_options *o, const char *key, double def) {
    const cv_value *v = h && o ? h->opt(o, key) : NULL;
    return v && v->is_set ? v->f : def;
}

const char *cv_opt_str(const cv_host *h, const cv_options *o, const char *key, const char *def) {
    const cv_value *v = h && o ? h->opt(o, key) : NULL;
    return v && v->is_set && v->s ? v->s : def;
}

cv_nn_stride cv_nn_stride_init(int output_stride, int stem_stride) {
    cv_nn_stride st = { output_stride > 0 ? output_stride : 32, stem_stride > 0 ? stem_stride : 1, 1 };
    return st;
}

int cv_nn_stage_stride(cv_nn_stride *st, int stride, int *first_dilation) {
    if (first_dilation) *first_dilation = st->dilation;
    if (stride <= 1) return 1;
    if (st->stride * stride > st->output_stride) {
        st->dilation *= stride;
        return 1;
    }
    st->stride *= stride;
    return stride;
}

void cv_nn_feature_put(cv_tensor *out[4], int stride, cv_tensor *t) {
    if (!out) return;
    int slot = 0;
    while (slot < 3 && (4 << slot) < stride) slot++;
    out[slot] = t;
}

int cv_nn_num_classes(const cv_create_args *args, int64_t option) {
    if (option > 0) return (int)option;
    if (args && args->num_classes > 0) return args->num_classes;
    return 1000;
}
