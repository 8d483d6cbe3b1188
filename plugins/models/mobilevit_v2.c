/* plugins/models/mobilevit_v2.c — MobileViTv2 (model "mobilevit_v2") with a width
 * multiplier, CVNets' configuration: a 3x3/2 stem, MobileNetV2 blocks (SiLU,
 * expansion 2) in stages 1-2, and in stages 3-5 a strided MobileNetV2 block and
 * a MobileViTv2 block (separable linear self-attention over 2x2 patches,
 * GroupNorm(1)), then global pooling and a linear classifier.  CVNets-like names
 * (conv_1, layer_K.I, classifier.fc); output stride 8/16 through dilation. */
#include <cvnets/cvnets.h>
#include <cvnets/nn.h>

static const cv_option_desc mvit2_options[] = {
    CV_OPT_FLOAT_RANGE("width_multiplier", "1.0", 0.25, 4.0, "CVNets' widths 0.5 ... 2.0 (1.0: 4.9 M parameters)"),
    CV_OPT_INT_RANGE("num_classes", "0", 0, 1000000, "classifier outputs; 0 = the dataset's class count"),
    CV_OPT_FLOAT_RANGE("dropout", "0.0", 0.0, 0.99, "dropout before the classifier"),
    CV_OPT_FLOAT_RANGE("transformer_dropout", "0.0", 0.0, 0.99, "dropout inside the attention blocks"),
    CV_OPT_FLOAT_RANGE("attn_dropout", "0.0", 0.0, 0.99, "dropout on the context scores"),
    CV_OPT_BOOL_("zero_init_last_bn", "false", "initialise each MobileNetV2 block's project BN weight to 0"),
    CV_OPT_INT_RANGE("output_stride", "32", 8, 32, "8, 16 or 32; below 32 the last stages use dilation"),
    CV_OPT_PATH_("pretrained", NULL, "safetensors weights loaded by parameter name before training (the host reports missing and unexpected keys)"),
    CV_OPT_END
};

typedef struct mvit2 {
    const cv_host *host;
    int stem, out[5], dim[3], num_classes, output_stride, zero_gamma;
    float dropout, tr_dropout, attn_dropout;
} mvit2;

static const int stage_blocks[5] = { 1, 2, 1, 1, 1 };
static const int attn_blocks[3] = { 2, 4, 3 };

static cv_tensor *trunk(const mvit2 *m, const cv_nn *nn, cv_tensor *x, cv_tensor *feats[4]) {
    x = cv_nn_conv_norm_act(nn, "conv_1", x, m->stem, 3, 2, 1, 1, CV_SILU);
    cv_nn_stride st = cv_nn_stride_init(m->output_stride, 2);
    for (int s = 0; s < 5; s++) {
        int first_dil, stride = cv_nn_stage_stride(&st, s == 0 ? 1 : 2, &first_dil), b = 0;
        nn->ops->scope_push(nn->g, "layer_%d", s + 1);
        for (; b < stage_blocks[s]; b++) {
            int in = (int)cv_nn_dim(nn, x, 1);
            cv_ir_config c = { CV_IR_TV_V2, cv_make_divisible(in * 2, 8, 8), m->out[s], 3, b == 0 ? stride : 1,
                               b == 0 ? first_dil : st.dilation, CV_SILU, 0, 0, 0, m->zero_gamma, 0.0f, 0.0f, 0.0f };
            nn->ops->scope_push(nn->g, "%d", b);
            x = cv_nn_inverted_residual(nn, x, &c);
            nn->ops->scope_pop(nn->g);
        }
        if (s >= 2) {
            int d = m->dim[s - 2];
            cv_mobilevit2_config c = { d, (2 * d) / 16 * 16, attn_blocks[s - 2], 2, CV_SILU, m->tr_dropout,
                                       m->attn_dropout, st.dilation };
            nn->ops->scope_push(nn->g, "%d", b);
            x = cv_nn_mobilevit2_block(nn, x, &c);
            nn->ops->scope_pop(nn->g);
        }
        nn->ops->scope_pop(nn->g);
        cv_nn_feature_put(feats, st.stride, x);
    }
    return x;
}

static cv_tensor *mvit2_forward(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x) {
    const mvit2 *m = self;
    cv_nn nn = { ops, g };
    x = cv_nn_dropout(&nn, cv_nn_global_avg_pool(&nn, trunk(m, &nn, x, NULL)), m->dropout);
    return cv_nn_linear(&nn, "classifier.fc", x, m->num_classes, 1, CV_INIT_LINEAR);
}

static int mvit2_features(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x, cv_tensor *out[4]) {
    cv_nn nn = { ops, g };
    for (int i = 0; i < 4; i++) out[i] = NULL;
    trunk(self, &nn, x, out);
    return ops->failed(g) ? CV_ERR_INVALID : CV_OK;
}

static int mvit2_create(const cv_create_args *args, void **self, cv_error *err) {
    const cv_host *h = args->host;
    const cv_options *o = args->opts;
    int os = (int)cv_opt_int(h, o, "output_stride", 32);
    if (os != 8 && os != 16 && os != 32)
        return h->set_error(err, CV_ERR_INVALID, "model mobilevit_v2: output_stride = %d; use 8, 16 or 32", os);
    mvit2 *m = h->alloc_array(1, sizeof *m);
    if (!m) return h->set_error(err, CV_ERR_NOMEM, "model mobilevit_v2: out of memory");
    double w = cv_opt_float(h, o, "width_multiplier", 1.0), s0 = 32 * w;
    m->host = h;
    m->stem = cv_make_divisible(s0 < 16 ? 16 : s0 > 64 ? 64 : s0, 8, 16);
    m->out[0] = cv_make_divisible(64 * w, 16, 0);
    static const int outs[4] = { 128, 256, 384, 512 }, dims[3] = { 128, 192, 256 };
    for (int i = 0; i < 4; i++) m->out[i + 1] = cv_make_divisible(outs[i] * w, 8, 0);
    for (int i = 0; i < 3; i++) m->dim[i] = cv_make_divisible(dims[i] * w, 8, 0);
    m->num_classes = cv_nn_num_classes(args, cv_opt_int(h, o, "num_classes", 0));
    m->dropout = (float)cv_opt_float(h, o, "dropout", 0.0);
    m->tr_dropout = (float)cv_opt_float(h, o, "transformer_dropout", 0.0);
    m->attn_dropout = (float)cv_opt_float(h, o, "attn_dropout", 0.0);
    m->zero_gamma = (int)cv_opt_int(h, o, "zero_init_last_bn", 0);
    m->output_stride = os;
    *self = m;
    return CV_OK;
}

static void mvit2_destroy(void *self) {
    if (self) ((mvit2 *)self)->host->free(self);
}

static const cv_model_vtable mvit2_vtable = { sizeof(cv_model_vtable), mvit2_forward, mvit2_features };

static const cv_component_desc mvit2_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL, "mobilevit_v2", "classification",
    "MobileViTv2 with a width multiplier (CVNets configuration), dilation for segmentation",
    mvit2_options, mvit2_create, mvit2_destroy, NULL, NULL, &mvit2_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &mvit2_desc, err); }
