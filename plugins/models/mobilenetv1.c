/* plugins/models/mobilenetv1.c — MobileNetV1 (model "mobilenetv1") as CVNets
 * builds it: a 3x3/2 stem and 13 depthwise-separable blocks in five stages, with
 * CVNets' channel rounding make_divisible(int(c * width), 16) — so the 0.25 model
 * has a 16-channel stem and 0.5 M parameters — and CVNets-style names
 * (conv_1, layer_K.I.dw_conv / pw_conv, classifier.fc).  Output stride 8/16 by
 * dilation of the depthwise convs. */
#include <cvnets/cvnets.h>
#include <cvnets/nn.h>

static const cv_option_desc mv1_options[] = {
    CV_OPT_INT_RANGE("num_classes", "0", 0, 1000000, "classifier outputs; 0 = the dataset's class count"),
    CV_OPT_FLOAT_RANGE("width_multiplier", "1.0", 0.1, 4.0, "channel multiplier (CVNets: 0.25, 0.5, 0.75, 1.0)"),
    CV_OPT_FLOAT_RANGE("dropout", "0.1", 0.0, 0.99, "dropout before the classifier"),
    CV_OPT_BOOL_("zero_init_last_bn", "false", "initialise each block's pointwise BN weight to 0"),
    CV_OPT_INT_RANGE("output_stride", "32", 8, 32, "8, 16 or 32; below 32 the last stages use dilation"),
    CV_OPT_PATH_("pretrained", NULL, "safetensors weights loaded by parameter name before training (the host reports missing and unexpected keys)"),
    CV_OPT_END
};

typedef struct mv1 {
    const cv_host *host;
    int num_classes, output_stride, zero_gamma;
    double width;
    float dropout;
} mv1;

/* per stage: channels, stride of its first block, extra stride-1 blocks */
static const int mv1_cfg[5][3] = { { 64, 1, 1 }, { 128, 2, 1 }, { 256, 2, 1 }, { 512, 2, 5 }, { 1024, 2, 1 } };

static int scale(const mv1 *m, int c) { return cv_make_divisible((int)(c * m->width), 16, 16); }

static cv_tensor *separable(const cv_nn *nn, const mv1 *m, cv_tensor *x, int out, int stride, int dilation) {
    int in = (int)cv_nn_dim(nn, x, 1);
    x = cv_nn_conv_norm_act(nn, "dw_conv", x, in, 3, stride, dilation, in, CV_RELU);
    nn->ops->scope_push(nn->g, "pw_conv");
    x = cv_nn_conv2d(nn, "0", x, out, 1, 1, 0, 1, 1, 0);
    x = cv_nn_act(nn, cv_nn_batch_norm(nn, "1", x, m->zero_gamma), CV_RELU);
    nn->ops->scope_pop(nn->g);
    return x;
}

static cv_tensor *trunk(const mv1 *m, const cv_nn *nn, cv_tensor *x, cv_tensor *feats[4]) {
    x = cv_nn_conv_norm_act(nn, "conv_1", x, scale(m, 32), 3, 2, 1, 1, CV_RELU);
    cv_nn_stride st = cv_nn_stride_init(m->output_stride, 2);
    for (int s = 0; s < 5; s++) {
        int out = scale(m, mv1_cfg[s][0]), first_dil, b = 0;
        int stride = cv_nn_stage_stride(&st, mv1_cfg[s][1], &first_dil);
        nn->ops->scope_push(nn->g, "layer_%d", s + 1);
        if (mv1_cfg[s][1] == 2) { /* CVNets: a strided block, then the repeats */
            nn->ops->scope_push(nn->g, "%d", b++);
            x = separable(nn, m, x, out, stride, first_dil);
            nn->ops->scope_pop(nn->g);
        }
        for (int r = 0; r < mv1_cfg[s][2]; r++) {
            nn->ops->scope_push(nn->g, "%d", b++);
            x = separable(nn, m, x, out, 1, st.dilation);
            nn->ops->scope_pop(nn->g);
        }
        nn->ops->scope_pop(nn->g);
        cv_nn_feature_put(feats, st.stride, x);
    }
    return x;
}

static cv_tensor *mv1_forward(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x) {
    const mv1 *m = self;
    cv_nn nn = { ops, g };
    x = cv_nn_dropout(&nn, cv_nn_global_avg_pool(&nn, trunk(m, &nn, x, NULL)), m->dropout);
    return cv_nn_linear(&nn, "classifier.fc", x, m->num_classes, 1, CV_INIT_LINEAR);
}

static int mv1_features(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x, cv_tensor *out[4]) {
    cv_nn nn = { ops, g };
    for (int i = 0; i < 4; i++) out[i] = NULL;
    trunk(self, &nn, x, out);
    return ops->failed(g) ? CV_ERR_INVALID : CV_OK;
}

static int mv1_create(const cv_create_args *args, void **self, cv_error *err) {
    const cv_host *h = args->host;
    const cv_options *o = args->opts;
    int os = (int)cv_opt_int(h, o, "output_stride", 32);
    if (os != 8 && os != 16 && os != 32)
        return h->set_error(err, CV_ERR_INVALID, "model mobilenetv1: output_stride = %d; use 8, 16 or 32", os);
    mv1 *m = h->alloc_array(1, sizeof *m);
    if (!m) return h->set_error(err, CV_ERR_NOMEM, "model mobilenetv1: out of memory");
    m->host = h;
    m->num_classes = cv_nn_num_classes(args, cv_opt_int(h, o, "num_classes", 0));
    m->width = cv_opt_float(h, o, "width_multiplier", 1.0);
    m->dropout = (float)cv_opt_float(h, o, "dropout", 0.1);
    m->zero_gamma = (int)cv_opt_int(h, o, "zero_init_last_bn", 0);
    m->output_stride = os;
    *self = m;
    return CV_OK;
}

static void mv1_destroy(void *self) {
    if (self) ((mv1 *)self)->host->free(self);
}

static const cv_model_vtable mv1_vtable = { sizeof(cv_model_vtable), mv1_forward, mv1_features };

static const cv_component_desc mv1_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL, "mobilenetv1", "classification",
    "MobileNetV1 with a width multiplier (CVNets channel rounding), dilation for segmentation",
    mv1_options, mv1_create, mv1_destroy, NULL, NULL, &mv1_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &mv1_desc, err); }
