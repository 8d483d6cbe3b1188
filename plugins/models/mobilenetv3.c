/* plugins/models/mobilenetv3.c — MobileNetV3 small / large (model "mobilenetv3")
 * with a width multiplier and torchvision's parameter names (features.N.block.*,
 * SE fc1/fc2, classifier.0 / classifier.3).  style = torchvision is the
 * MobileNetV3 paper's architecture (converted torchvision weights load);
 * style = cvnets is the model CVNets trained for the paper's Table 1 (5.4 M
 * parameters, 210.7 M multiply-adds).  Output stride 8/16 through dilation. */
#include <cvnets/cvnets.h>
#include <cvnets/nn.h>

#include <stdio.h>
#include <string.h>

static const char *const variants[] = { "large", "small", NULL };
static const char *const styles[] = { "torchvision", "cvnets", NULL };

static const cv_option_desc mv3_options[] = {
    CV_OPT_ENUM_("variant", "large", variants, "large or small"),
    CV_OPT_ENUM_("style", "torchvision", styles,
                 "torchvision: the MobileNetV3 paper's blocks (torchvision weights load); cvnets: the model CVNets "
                 "trained for its Table 1 (3x3 depthwise everywhere, SE squeeze >= 32, 1280/1024 head at any width)"),
    CV_OPT_INT_RANGE("num_classes", "0", 0, 1000000, "classifier outputs; 0 = the dataset's class count"),
    CV_OPT_FLOAT_RANGE("width_multiplier", "1.0", 0.1, 4.0, "channel multiplier (make_divisible to 8)"),
    CV_OPT_FLOAT_RANGE("dropout", "0.2", 0.0, 0.99, "dropout inside the classifier"),
    CV_OPT_BOOL_("zero_init_last_bn", "false", "initialise each block's project BN weight to 0"),
    CV_OPT_INT_RANGE("output_stride", "32", 8, 32, "8, 16 or 32; below 32 the last stages use dilation"),
    CV_OPT_PATH_("pretrained", NULL, "safetensors weights loaded by parameter name before training (the host reports missing and unexpected keys)"),
    CV_OPT_END
};

/* in, kernel, expanded, out, se, hardswish, stride (torchvision's bneck_conf) */
typedef struct bneck { short in, k, exp, out, se, hs, stride; } bneck;
static const bneck large_cfg[] = {
    { 16, 3, 16, 16, 0, 0, 1 },    { 16, 3, 64, 24, 0, 0, 2 },    { 24, 3, 72, 24, 0, 0, 1 },
    { 24, 5, 72, 40, 1, 0, 2 },    { 40, 5, 120, 40, 1, 0, 1 },   { 40, 5, 120, 40, 1, 0, 1 },
    { 40, 3, 240, 80, 0, 1, 2 },   { 80, 3, 200, 80, 0, 1, 1 },   { 80, 3, 184, 80, 0, 1, 1 },
    { 80, 3, 184, 80, 0, 1, 1 },   { 80, 3, 480, 112, 1, 1, 1 },  { 112, 3, 672, 112, 1, 1, 1 },
    { 112, 5, 672, 160, 1, 1, 2 }, { 160, 5, 960, 160, 1, 1, 1 }, { 160, 5, 960, 160, 1, 1, 1 },
};
static const bneck small_cfg[] = {
    { 16, 3, 16, 16, 1, 0, 2 },  { 16, 3, 72, 24, 0, 0, 2 },  { 24, 3, 88, 24, 0, 0, 1 },  { 24, 5, 96, 40, 1, 1, 2 },
    { 40, 5, 240, 40, 1, 1, 1 }, { 40, 5, 240, 40, 1, 1, 1 }, { 40, 5, 120, 48, 1, 1, 1 }, { 48, 5, 144, 48, 1, 1, 1 },
    { 48, 5, 288, 96, 1, 1, 2 }, { 96, 5, 576, 96, 1, 1, 1 }, { 96, 5, 576, 96, 1, 1, 1 },
};

typedef struct mv3 {
    const cv_host *host;
    int small, cvnets, num_classes, output_stride, zero_gamma;
    double width;
    float dropout;
} mv3;

static int adjust(const mv3 *m, int c) { return cv_make_divisible(c * m->width, 8, 8); }

/* torchvision's MobileNetV3 norms use eps 1e-3 and momentum 0.01 (CVNets: PyTorch's defaults) */
static float bn_eps(const mv3 *m) { return m->cvnets ? 0.0f : 1e-3f; }
static float bn_momentum(const mv3 *m) { return m->cvnets ? 0.0f : 0.01f; }

static cv_tensor *trunk(const mv3 *m, const cv_nn *nn, cv_tensor *x, cv_tensor *feats[4]) {
    const bneck *cfg = m->small ? small_cfg : large_cfg;
    int n = m->small ? (int)(sizeof small_cfg / sizeof *small_cfg) : (int)(sizeof large_cfg / sizeof *large_cfg);
    char name[16];
    nn->ops->scope_push(nn->g, "features");
    x = cv_nn_conv_norm_act_ex(nn, "0", x, adjust(m, cfg[0].in), 3, 2, 1, 1, CV_HARDSWISH, bn_eps(m), bn_momentum(m));
    cv_nn_stride st = cv_nn_stride_init(m->output_stride, 2);
    for (int i = 0; i < n; i++) {
        int first_dil, stride = cv_nn_stage_stride(&st, cfg[i].stride, &first_dil);
        int exp = adjust(m, cfg[i].exp);
        /* torchvision dilates the whole strided block, unlike ResNet */
        /* CVNets' block (cvnets/modules/mobilenetv2.py of the paper's release) had
         * no kernel-size argument: its "5x5" depthwise convs were 3x3 */
        int se = cv_make_divisible(exp / 4, 8, 8);
        if (m->cvnets && se < 32) se = 32;
        cv_ir_config c = { CV_IR_TV_V3, exp, adjust(m, cfg[i].out), m->cvnets ? 3 : cfg[i].k, stride, st.dilation,
                           cfg[i].hs ? CV_HARDSWISH : CV_RELU, cfg[i].se ? se : 0,
                           CV_RELU, CV_HARDSIGMOID, m->zero_gamma, 0.0f, bn_eps(m), bn_momentum(m) };
        (void)first_dil;
        nn->ops->scope_push(nn->g, "%d", i + 1);
        x = cv_nn_inverted_residual(nn, x, &c);
        nn->ops->scope_pop(nn->g);
        cv_nn_feature_put(feats, st.stride, x);
    }
    snprintf(name, sizeof name, "%d", n + 1);
    x = cv_nn_conv_norm_act_ex(nn, name, x, 6 * adjust(m, cfg[n - 1].out), 1, 1, 1, 1, CV_HARDSWISH, bn_eps(m),
                               bn_momentum(m));
    cv_nn_feature_put(feats, st.stride, x);
    nn->ops->scope_pop(nn->g);
    return x;
}

static cv_tensor *mv3_forward(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x) {
    const mv3 *m = self;
    cv_nn nn = { ops, g };
    x = cv_nn_global_avg_pool(&nn, trunk(m, &nn, x, NULL));
    int head = m->small ? 1024 : 1280;
    x = cv_nn_linear(&nn, "classifier.0", x, m->cvnets ? head : adjust(m, head), 1, CV_INIT_LINEAR);
    x = cv_nn_dropout(&nn, cv_nn_act(&nn, x, CV_HARDSWISH), m->dropout);
    return cv_nn_linear(&nn, "classifier.3", x, m->num_classes, 1, CV_INIT_LINEAR);
}

static int mv3_features(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x, cv_tensor *out[4]) {
    cv_nn nn = { ops, g };
    for (int i = 0; i < 4; i++) out[i] = NULL;
    trunk(self, &nn, x, out);
    return ops->failed(g) ? CV_ERR_INVALID : CV_OK;
}

static int mv3_create(const cv_create_args *args, void **self, cv_error *err) {
    const cv_host *h = args->host;
    const cv_options *o = args->opts;
    int os = (int)cv_opt_int(h, o, "output_stride", 32);
    if (os != 8 && os != 16 && os != 32)
        return h->set_error(err, CV_ERR_INVALID, "model mobilenetv3: output_stride = %d; use 8, 16 or 32", os);
    mv3 *m = h->alloc_array(1, sizeof *m);
    if (!m) return h->set_error(err, CV_ERR_NOMEM, "model mobilenetv3: out of memory");
    m->host = h;
    m->small = strcmp(cv_opt_str(h, o, "variant", "large"), "small") == 0;
    m->cvnets = strcmp(cv_opt_str(h, o, "style", "torchvision"), "cvnets") == 0;
    m->num_classes = cv_nn_num_classes(args, cv_opt_int(h, o, "num_classes", 0));
    m->width = cv_opt_float(h, o, "width_multiplier", 1.0);
    m->dropout = (float)cv_opt_float(h, o, "dropout", 0.2);
    m->zero_gamma = (int)cv_opt_int(h, o, "zero_init_last_bn", 0);
    m->output_stride = os;
    *self = m;
    return CV_OK;
}

static void mv3_destroy(void *self) {
    if (self) ((mv3 *)self)->host->free(self);
}

static const cv_model_vtable mv3_vtable = { sizeof(cv_model_vtable), mv3_forward, mv3_features };

static const cv_component_desc mv3_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL, "mobilenetv3", "classification",
    "MobileNetV3 small/large with a width multiplier (torchvision names), dilation for segmentation",
    mv3_options, mv3_create, mv3_destroy, NULL, NULL, &mv3_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &mv3_desc, err); }
