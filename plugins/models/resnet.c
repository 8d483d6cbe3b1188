/* plugins/models/resnet.c — ResNet-18/34/50/101 (model "resnet"), torchvision's
 * v1.5 layout and parameter names (stride on the 3x3 of the bottleneck), with
 * CVNets' options: squeeze-excitation, classifier dropout, stochastic depth,
 * zero-init of each block's last BN, a CIFAR-style stem for 28-32 px images, and
 * output stride 8/16 through dilation for segmentation backbones. */
#include <cvnets/cvnets.h>
#include <cvnets/nn.h>

#include <stdio.h>
#include <string.h>

static const char *const stems[] = { "imagenet", "cifar", NULL };

static const cv_option_desc resnet_options[] = {
    CV_OPT_INT_RANGE("depth", "50", 18, 101, "18, 34 (basic blocks), 50 or 101 (bottlenecks)"),
    CV_OPT_INT_RANGE("num_classes", "0", 0, 1000000, "classifier outputs; 0 = the dataset's class count"),
    CV_OPT_FLOAT_RANGE("width_multiplier", "1.0", 0.0625, 8.0, "scales the stage widths 64/128/256/512"),
    CV_OPT_FLOAT_RANGE("dropout", "0.0", 0.0, 0.99, "dropout before the classifier"),
    CV_OPT_FLOAT_RANGE("stochastic_depth", "0.0", 0.0, 0.99,
                       "drop-path rate of the last block; block i of n uses rate * i / n"),
    CV_OPT_BOOL_("squeeze_excitation", "false", "a squeeze-excitation (reduction 16) on every block's residual branch"),
    CV_OPT_BOOL_("zero_init_last_bn", "false", "initialise each block's last BN weight to 0"),
    CV_OPT_INT_RANGE("output_stride", "32", 8, 32, "8, 16 or 32; below 32 the last stages use dilation"),
    CV_OPT_ENUM_("stem", "imagenet", stems,
                 "imagenet: 7x7/2 conv + max-pool; cifar: 3x3/1 conv, no pool (28-32 px images)"),
    CV_OPT_PATH_("pretrained", NULL, "safetensors weights loaded by parameter name before training (the host reports missing and unexpected keys)"),
    CV_OPT_END
};

typedef struct resnet {
    const cv_host *host; /* frees this instance */
    int num_classes, bottleneck, se, zero_gamma, output_stride, cifar;
    int blocks[4], widths[4];
    float dropout, drop_path;
} resnet;

static cv_tensor *block(const cv_nn *nn, const resnet *m, cv_tensor *x, int planes, int stride, int dilation,
                        float drop_path) {
    int in = (int)cv_nn_dim(nn, x, 1), out = m->bottleneck ? planes * 4 : planes;
    cv_tensor *y;
    if (m->bottleneck) {
        y = cv_nn_act(nn, cv_nn_batch_norm(nn, "bn1", cv_nn_conv2d(nn, "conv1", x, planes, 1, 1, 0, 1, 1, 0), 0), CV_RELU);
        y = cv_nn_conv2d(nn, "conv2", y, planes, 3, stride, CV_PAD_SAME, dilation, 1, 0);
        y = cv_nn_act(nn, cv_nn_batch_norm(nn, "bn2", y, 0), CV_RELU);
        y = cv_nn_batch_norm(nn, "bn3", cv_nn_conv2d(nn, "conv3", y, out, 1, 1, 0, 1, 1, 0), m->zero_gamma);
    } else {
        y = cv_nn_conv2d(nn, "conv1", x, planes, 3, stride, CV_PAD_SAME, dilation, 1, 0);
        y = cv_nn_act(nn, cv_nn_batch_norm(nn, "bn1", y, 0), CV_RELU);
        y = cv_nn_conv2d(nn, "conv2", y, planes, 3, 1, CV_PAD_SAME, dilation, 1, 0);
        y = cv_nn_batch_norm(nn, "bn2", y, m->zero_gamma);
    }
    if (m->se) y = cv_nn_squeeze_excite(nn, "se", y, cv_make_divisible(out / 16.0, 8, 8), CV_RELU, CV_SIGMOID);
    y = cv_nn_drop_path(nn, y, drop_path);
    cv_tensor *id = x;
    if (stride != 1 || in != out) {
        id = cv_nn_conv2d(nn, "downsample.0", x, out, 1, stride, 0, 1, 1, 0);
        id = cv_nn_batch_norm(nn, "downsample.1", id, 0);
    }
    return cv_nn_act(nn, cv_add(nn->ops, nn->g, y, id), CV_RELU);
}

/* stem + 4 stages; stage outputs go to feats (may be NULL) */
static cv_tensor *trunk(const resnet *m, const cv_nn *nn, cv_tensor *x, cv_tensor *feats[4]) {
    cv_nn_stride st;
    if (m->cifar) {
        x = cv_nn_conv2d(nn, "conv1", x, m->widths[0], 3, 1, 1, 1, 1, 0);
        x = cv_nn_act(nn, cv_nn_batch_norm(nn, "bn1", x, 0), CV_RELU);
        st = cv_nn_stride_init(m->output_stride, 1);
    } else {
        x = cv_nn_conv2d(nn, "conv1", x, m->widths[0], 7, 2, 3, 1, 1, 0);
        x = cv_nn_act(nn, cv_nn_batch_norm(nn, "bn1", x, 0), CV_RELU);
        x = cv_pool2d(nn->ops, nn->g, x, CV_POOL_MAX, 3, 2, 1, 0);
        st = cv_nn_stride_init(m->output_stride, 4);
    }
    int total = m->blocks[0] + m->blocks[1] + m->blocks[2] + m->blocks[3], idx = 0;
    for (int s = 0; s < 4; s++) {
        int first_dil;
        int stride = cv_nn_stage_stride(&st, s == 0 ? 1 : 2, &first_dil);
        nn->ops->scope_push(nn->g, "layer%d", s + 1);
        for (int b = 0; b < m->blocks[s]; b++, idx++) {
            nn->ops->scope_push(nn->g, "%d", b);
            x = block(nn, m, x, m->widths[s], b == 0 ? stride : 1, b == 0 ? first_dil : st.dilation,
                      m->drop_path * (float)idx / (float)total);
            nn->ops->scope_pop(nn->g);
        }
        nn->ops->scope_pop(nn->g);
        cv_nn_feature_put(feats, st.stride, x);
    }
    return x;
}

static cv_tensor *resnet_forward(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x) {
    const resnet *m = self;
    cv_nn nn = { ops, g };
    x = cv_nn_dropout(&nn, cv_nn_global_avg_pool(&nn, trunk(m, &nn, x, NULL)), m->dropout);
    return cv_nn_linear(&nn, "fc", x, m->num_classes, 1, CV_INIT_LINEAR);
}

static int resnet_features(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x, cv_tensor *out[4]) {
    cv_nn nn = { ops, g };
    for (int i = 0; i < 4; i++) out[i] = NULL;
    trunk(self, &nn, x, out);
    return ops->failed(g) ? CV_ERR_INVALID : CV_OK;
}

static int resnet_create(const cv_create_args *args, void **self, cv_error *err) {
    const cv_host *h = args->host;
    const cv_options *o = args->opts;
    int depth = (int)cv_opt_int(h, o, "depth", 50), os = (int)cv_opt_int(h, o, "output_stride", 32);
    static const int cfg[4][5] = { { 18, 2, 2, 2, 2 }, { 34, 3, 4, 6, 3 }, { 50, 3, 4, 6, 3 }, { 101, 3, 4, 23, 3 } };
    int which = -1;
    for (int i = 0; i < 4; i++)
        if (cfg[i][0] == depth) which = i;
    if (which < 0) return h->set_error(err, CV_ERR_INVALID, "model resnet: depth = %d; use 18, 34, 50 or 101", depth);
    if (os != 8 && os != 16 && os != 32)
        return h->set_error(err, CV_ERR_INVALID, "model resnet: output_stride = %d; use 8, 16 or 32", os);
    resnet *m = h->alloc_array(1, sizeof *m);
    if (!m) return h->set_error(err, CV_ERR_NOMEM, "model resnet: out of memory");
    m->host = h;
    m->bottleneck = depth >= 50;
    m->num_classes = cv_nn_num_classes(args, cv_opt_int(h, o, "num_classes", 0));
    double wm = cv_opt_float(h, o, "width_multiplier", 1.0);
    for (int i = 0; i < 4; i++) {
        m->blocks[i] = cfg[which][i + 1];
        m->widths[i] = wm == 1.0 ? 64 << i : cv_make_divisible((64 << i) * wm, 8, 8);
    }
    m->dropout = (float)cv_opt_float(h, o, "dropout", 0.0);
    m->drop_path = (float)cv_opt_float(h, o, "stochastic_depth", 0.0);
    m->se = (int)cv_opt_int(h, o, "squeeze_excitation", 0);
    m->zero_gamma = (int)cv_opt_int(h, o, "zero_init_last_bn", 0);
    m->output_stride = os;
    m->cifar = strcmp(cv_opt_str(h, o, "stem", "imagenet"), "cifar") == 0;
    *self = m;
    return CV_OK;
}

static void resnet_destroy(void *self) {
    if (self) ((resnet *)self)->host->free(self);
}

static const cv_model_vtable resnet_vtable = { sizeof(cv_model_vtable), resnet_forward, resnet_features };

static const cv_component_desc resnet_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL, "resnet", "classification",
    "ResNet-18/34/50/101 (torchvision names), optional SE, stochastic depth, dilation",
    resnet_options, resnet_create, resnet_destroy, NULL, NULL, &resnet_vtable,
};

CV_PLUGIN_ENTRY {
    return host->register_component(host->host_ctx, &resnet_desc, err);
}
