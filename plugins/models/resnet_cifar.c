/* plugins/models/resnet_cifar.c — CIFAR-style ResNet-(6n+2) (model "resnet_cifar",
 * He et al. 2016 section 4.2): conv3x3(cin->16) + BN + ReLU, three stages of n
 * basic blocks with 16/32/64 channels and strides 1/2/2, option-B shortcuts (1x1
 * conv + BN where the shape changes), global average pool, fc.  Exactly the
 * PyTorch peer's CifarResNet (bench/torch_train_step.py), with the same parameter
 * names (conv, bn, layers.<i>.conv1 ..., layers.<i>.short.0/1, fc), so its weights
 * load by name and parameter counts compare one to one. */
#include <cvnets/cvnets.h>
#include <cvnets/nn.h>

static const cv_option_desc rc_options[] = {
    CV_OPT_INT_RANGE("depth", "20", 8, 1202, "6n+2: 20, 32, 44, 56, 110 (n = 3, 5, 7, 9, 18 blocks per stage)"),
    CV_OPT_INT_RANGE("num_classes", "0", 0, 1000000, "classifier outputs; 0 = the dataset's class count"),
    CV_OPT_INT_RANGE("base_width", "16", 1, 1024, "channels of the first stage; the others are 2x and 4x"),
    CV_OPT_BOOL_("zero_init_last_bn", "false", "initialise each block's last BN weight to 0"),
    CV_OPT_PATH_("pretrained", NULL, "safetensors weights loaded by parameter name before training"),
    CV_OPT_END
};

typedef struct resnet_cifar {
    const cv_host *host; /* frees this instance */
    int n, num_classes, width, zero_gamma;
} resnet_cifar;

static cv_tensor *basic_block(const cv_nn *nn, cv_tensor *x, int out, int stride, int zero_gamma) {
    int in = (int)cv_nn_dim(nn, x, 1);
    cv_tensor *y = cv_nn_conv2d(nn, "conv1", x, out, 3, stride, 1, 1, 1, 0);
    y = cv_nn_act(nn, cv_nn_batch_norm(nn, "bn1", y, 0), CV_RELU);
    y = cv_nn_batch_norm(nn, "bn2", cv_nn_conv2d(nn, "conv2", y, out, 3, 1, 1, 1, 1, 0), zero_gamma);
    cv_tensor *sc = x;
    if (stride != 1 || in != out)
        sc = cv_nn_batch_norm(nn, "short.1", cv_nn_conv2d(nn, "short.0", x, out, 1, stride, 0, 1, 1, 0), 0);
    return cv_nn_act(nn, cv_add(nn->ops, nn->g, y, sc), CV_RELU);
}

/* stem + 3 stages; the stage outputs (strides 1, 2, 4) go to feats when given */
static cv_tensor *trunk(const resnet_cifar *m, const cv_nn *nn, cv_tensor *x, cv_tensor *feats[4]) {
    x = cv_nn_act(nn, cv_nn_batch_norm(nn, "bn", cv_nn_conv2d(nn, "conv", x, m->width, 3, 1, 1, 1, 1, 0), 0),
                  CV_RELU);
    int idx = 0;
    for (int s = 0; s < 3; s++) {
        for (int b = 0; b < m->n; b++, idx++) {
            nn->ops->scope_push(nn->g, "layers.%d", idx);
            x = basic_block(nn, x, m->width << s, b == 0 && s > 0 ? 2 : 1, m->zero_gamma);
            nn->ops->scope_pop(nn->g);
        }
        /* strides 1, 2, 4 all land in out[0] (the last stage wins): these small
         * nets have no stride-8+ maps, so out[1..3] stay NULL */
        cv_nn_feature_put(feats, 1 << s, x);
    }
    return x;
}

static cv_tensor *rc_forward(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x) {
    const resnet_cifar *m = self;
    cv_nn nn = { ops, g };
    x = cv_nn_global_avg_pool(&nn, trunk(m, &nn, x, NULL));
    return cv_nn_linear(&nn, "fc", x, m->num_classes, 1, CV_INIT_LINEAR);
}

static int rc_features(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x, cv_tensor *out[4]) {
    cv_nn nn = { ops, g };
    for (int i = 0; i < 4; i++) out[i] = NULL;
    trunk(self, &nn, x, out);
    return ops->failed(g) ? CV_ERR_INVALID : CV_OK;
}

static int rc_create(const cv_create_args *args, void **self, cv_error *err) {
    const cv_host *h = args->host;
    const cv_options *o = args->opts;
    int depth = (int)cv_opt_int(h, o, "depth", 20);
    if (depth < 8 || (depth - 2) % 6 != 0)
        return h->set_error(err, CV_ERR_INVALID,
                            "model resnet_cifar: depth = %d is not 6n+2; use 20, 32, 44, 56 or 110", depth);
    resnet_cifar *m = h->alloc_array(1, sizeof *m);
    if (!m) return h->set_error(err, CV_ERR_NOMEM, "model resnet_cifar: out of memory");
    m->host = h;
    m->n = (depth - 2) / 6;
    m->num_classes = cv_nn_num_classes(args, cv_opt_int(h, o, "num_classes", 0));
    m->width = (int)cv_opt_int(h, o, "base_width", 16);
    m->zero_gamma = (int)cv_opt_int(h, o, "zero_init_last_bn", 0);
    *self = m;
    return CV_OK;
}

static void rc_destroy(void *self) {
    if (self) ((resnet_cifar *)self)->host->free(self);
}

static const cv_model_vtable rc_vtable = { sizeof(cv_model_vtable), rc_forward, rc_features };

static const cv_component_desc rc_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL, "resnet_cifar", "classification",
    "CIFAR-style ResNet-(6n+2) (20/32/44/56/110), option-B shortcuts",
    rc_options, rc_create, rc_destroy, NULL, NULL, &rc_vtable,
};

CV_PLUGIN_ENTRY {
    return host->register_component(host->host_ctx, &rc_desc, err);
}
