/* plugins/models/mobilenetv2.c — MobileNetV2 (model "mobilenetv2") with a width
 * multiplier, torchvision's parameter names (features.N.conv.*, classifier.1)
 * and CVNets' channel rounding (make_divisible to 8; the 32-channel stem and the
 * last 1280 channels are never narrowed), output stride 8/16 through dilation of
 * the depthwise convs. */
#include <cvnets/cvnets.h>
#include <cvnets/nn.h>

#include <stdio.h>

static const cv_option_desc mv2_options[] = {
    CV_OPT_INT_RANGE("num_classes", "0", 0, 1000000, "classifier outputs; 0 = the dataset's class count"),
    CV_OPT_FLOAT_RANGE("width_multiplier", "1.0", 0.1, 4.0, "channel multiplier (CVNets: 0.25, 0.5, 0.75, 1.0)"),
    CV_OPT_FLOAT_RANGE("dropout", "0.2", 0.0, 0.99, "dropout before the classifier"),
    CV_OPT_BOOL_("zero_init_last_bn", "false", "initialise each block's project BN weight to 0"),
    CV_OPT_INT_RANGE("output_stride", "32", 8, 32, "8, 16 or 32; below 32 the last stages use dilation"),
    CV_OPT_PATH_("pretrained", NULL, "safetensors weights loaded by parameter name before training (the host reports missing and unexpected keys)"),
    CV_OPT_END
};

typedef struct mv2 {
    const cv_host *host;
    int num_classes, output_stride, zero_gamma;
    double width;
    float dropout;
} mv2;

/* expansion t, channels c, repeats n, stride s (the MobileNetV2 paper's table) */
static const int mv2_cfg[7][4] = {
    { 1, 16, 1, 1 }, { 6, 24, 2, 2 }, { 6, 32, 3, 2 }, { 6, 64, 4, 2 }, { 6, 96, 3, 1 }, { 6, 160, 3, 2 }, { 6, 320, 1, 1 },
};

static cv_tensor *trunk(const mv2 *m, const cv_nn *nn, cv_tensor *x, cv_tensor *feats[4]) {
    int in = 32; /* CVNets keeps the stem at 32 channels for every width (why its 0.25 has 50.5 M MACs) */
    int last = cv_make_divisible(1280 * (m->width > 1.0 ? m->width : 1.0), 8, 8);
    nn->ops->scope_push(nn->g, "features");
    x = cv_nn_conv_norm_act(nn, "0", x, in, 3, 2, 1, 1, CV_RELU6);
    cv_nn_stride st = cv_nn_stride_init(m->output_stride, 2);
    int idx = 1;
    char name[16];
    for (int r = 0; r < 7; r++) {
        int out = cv_make_divisible(mv2_cfg[r][1] * m->width, 8, 8), first_dil;
        int stride = cv_nn_stage_stride(&st, mv2_cfg[r][3], &first_dil);
        for (int b = 0; b < mv2_cfg[r][2]; b++, idx++) {
            int hidden = cv_make_divisible((int)(in * mv2_cfg[r][0] + 0.5), 8, 8);
            if (mv2_cfg[r][0] == 1) hidden = in;
            cv_ir_config c = { CV_IR_TV_V2, hidden, out, 3, b == 0 ? stride : 1, b == 0 ? first_dil : st.dilation,
                               CV_RELU6, 0, 0, 0, m->zero_gamma, 0.0f, 0.0f, 0.0f };
            nn->ops->scope_push(nn->g, "%d", idx);
            x = cv_nn_inverted_residual(nn, x, &c);
            nn->ops->scope_pop(nn->g);
            in = out;
        }
        cv_nn_feature_put(feats, st.stride, x);
    }
    snprintf(name, sizeof name, "%d", idx);
    x = cv_nn_conv_norm_act(nn, name, x, last, 1, 1, 1, 1, CV_RELU6);
    cv_nn_feature_put(feats, st.stride, x);
    nn->ops->scope_pop(nn->g);
    return x;
}

static cv_tensor *mv2_forward(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x) {
    const mv2 *m = self;
    cv_nn nn = { ops, g };
    x = cv_nn_dropout(&nn, cv_nn_global_avg_pool(&nn, trunk(m, &nn, x, NULL)), m->dropout);
    return cv_nn_linear(&nn, "classifier.1", x, m->num_classes, 1, CV_INIT_LINEAR);
}

static int mv2_features(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x, cv_tensor *out[4]) {
    cv_nn nn = { ops, g };
    for (int i = 0; i < 4; i++) out[i] = NULL;
    trunk(self, &nn, x, out);
    return ops->failed(g) ? CV_ERR_INVALID : CV_OK;
}

static int mv2_create(const cv_create_args *args, void **self, cv_error *err) {
    const cv_host *h = args->host;
    const cv_options *o = args->opts;
    int os = (int)cv_opt_int(h, o, "output_stride", 32);
    if (os != 8 && os != 16 && os != 32)
        return h->set_error(err, CV_ERR_INVALID, "model mobilenetv2: output_stride = %d; use 8, 16 or 32", os);
    mv2 *m = h->alloc_array(1, sizeof *m);
    if (!m) return h->set_error(err, CV_ERR_NOMEM, "model mobilenetv2: out of memory");
    m->host = h;
    m->num_classes = cv_nn_num_classes(args, cv_opt_int(h, o, "num_classes", 0));
    m->width = cv_opt_float(h, o, "width_multiplier", 1.0);
    m->dropout = (float)cv_opt_float(h, o, "dropout", 0.2);
    m->zero_gamma = (int)cv_opt_int(h, o, "zero_init_last_bn", 0);
    m->output_stride = os;
    *self = m;
    return CV_OK;
}

static void mv2_destroy(void *self) {
    if (self) ((mv2 *)self)->host->free(self);
}

static const cv_model_vtable mv2_vtable = { sizeof(cv_model_vtable), mv2_forward, mv2_features };

static const cv_component_desc mv2_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL, "mobilenetv2", "classification",
    "MobileNetV2 with a width multiplier (torchvision names), dilation for segmentation",
    mv2_options, mv2_create, mv2_destroy, NULL, NULL, &mv2_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &mv2_desc, err); }
