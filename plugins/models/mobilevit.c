/* plugins/models/mobilevit.c — MobileViT v1 xx_small / x_small / small (model
 * "mobilevit"), CVNets' configuration: a 3x3/2 stem, MobileNetV2 blocks
 * (SiLU) in stages 1-2, and in stages 3-5 a strided MobileNetV2 block followed
 * by a MobileViT block (local convs, transformer over 2x2 patches, fusion), a
 * 1x1 expansion (4x, at most 960) and a linear classifier.  Names are
 * CVNets-like (conv_1, layer_K.I, conv_1x1_exp, classifier.fc); output stride
 * 8/16 through dilation. */
#include <cvnets/cvnets.h>
#include <cvnets/nn.h>

#include <string.h>

static const char *const variants[] = { "xx_small", "x_small", "small", NULL };

static const cv_option_desc mvit_options[] = {
    CV_OPT_ENUM_("variant", "small", variants, "xx_small (1.3 M), x_small (2.3 M) or small (5.6 M parameters)"),
    CV_OPT_INT_RANGE("num_classes", "0", 0, 1000000, "classifier outputs; 0 = the dataset's class count"),
    CV_OPT_INT_RANGE("heads", "4", 1, 64, "attention heads of every transformer"),
    CV_OPT_FLOAT_RANGE("dropout", "0.1", 0.0, 0.99, "dropout before the classifier"),
    CV_OPT_FLOAT_RANGE("transformer_dropout", "0.0", 0.0, 0.99, "dropout inside the transformers"),
    CV_OPT_FLOAT_RANGE("attn_dropout", "0.0", 0.0, 0.99, "dropout on attention weights"),
    CV_OPT_FLOAT_RANGE("stochastic_depth", "0.0", 0.0, 0.99, "drop-path rate in the transformers"),
    CV_OPT_BOOL_("zero_init_last_bn", "false", "initialise each MobileNetV2 block's project BN weight to 0"),
    CV_OPT_INT_RANGE("output_stride", "32", 8, 32, "8, 16 or 32; below 32 the last stages use dilation"),
    CV_OPT_PATH_("pretrained", NULL, "safetensors weights loaded by parameter name before training (the host reports missing and unexpected keys)"),
    CV_OPT_END
};

/* per variant: mv2 expansion, stage channels 1..5, transformer dims 3..5, MLP dims 3..5 */
typedef struct mvit_cfg { int exp, out[5], dim[3], mlp[3]; } mvit_cfg;
static const mvit_cfg cfgs[3] = {
    { 2, { 16, 24, 48, 64, 80 }, { 64, 80, 96 }, { 128, 160, 192 } },
    { 4, { 32, 48, 64, 80, 96 }, { 96, 120, 144 }, { 192, 240, 288 } },
    { 4, { 32, 64, 96, 128, 160 }, { 144, 192, 240 }, { 288, 384, 480 } },
};
static const int stage_blocks[5] = { 1, 3, 1, 1, 1 }; /* mv2 blocks per stage */
static const int vit_blocks[3] = { 2, 4, 3 };

typedef struct mvit {
    const cv_host *host;
    const mvit_cfg *cfg;
    int num_classes, heads, output_stride, zero_gamma;
    float dropout, tr_dropout, attn_dropout, drop_path;
} mvit;

static cv_tensor *mv2_block(const cv_nn *nn, const mvit *m, cv_tensor *x, int out, int stride, int dilation) {
    int in = (int)cv_nn_dim(nn, x, 1);
    cv_ir_config c = { CV_IR_TV_V2, cv_make_divisible(in * m->cfg->exp, 8, 8), out, 3, stride, dilation, CV_SILU,
                       0, 0, 0, m->zero_gamma, 0.0f, 0.0f, 0.0f };
    return cv_nn_inverted_residual(nn, x, &c);
}

static cv_tensor *trunk(const mvit *m, const cv_nn *nn, cv_tensor *x, cv_tensor *feats[4]) {
    x = cv_nn_conv_norm_act(nn, "conv_1", x, 16, 3, 2, 1, 1, CV_SILU);
    cv_nn_stride st = cv_nn_stride_init(m->output_stride, 2);
    for (int s = 0; s < 5; s++) {
        int first_dil, stride = cv_nn_stage_stride(&st, s == 0 ? 1 : 2, &first_dil), b = 0;
        nn->ops->scope_push(nn->g, "layer_%d", s + 1);
        for (; b < stage_blocks[s]; b++) {
            nn->ops->scope_push(nn->g, "%d", b);
            x = mv2_block(nn, m, x, m->cfg->out[s], b == 0 ? stride : 1, b == 0 ? first_dil : st.dilation);
            nn->ops->scope_pop(nn->g);
        }
        if (s >= 2) {
            cv_mobilevit_config c = { m->cfg->dim[s - 2], m->cfg->mlp[s - 2], vit_blocks[s - 2], m->heads, 2, CV_SILU,
                                      m->tr_dropout, m->attn_dropout, m->drop_path, st.dilation };
            nn->ops->scope_push(nn->g, "%d", b);
            x = cv_nn_mobilevit_block(nn, x, &c);
            nn->ops->scope_pop(nn->g);
        }
        nn->ops->scope_pop(nn->g);
        cv_nn_feature_put(feats, st.stride, x);
    }
    int exp = 4 * m->cfg->out[4];
    x = cv_nn_conv_norm_act(nn, "conv_1x1_exp", x, exp < 960 ? exp : 960, 1, 1, 1, 1, CV_SILU);
    cv_nn_feature_put(feats, st.stride, x);
    return x;
}

static cv_tensor *mvit_forward(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x) {
    const mvit *m = self;
    cv_nn nn = { ops, g };
    x = cv_nn_dropout(&nn, cv_nn_global_avg_pool(&nn, trunk(m, &nn, x, NULL)), m->dropout);
    return cv_nn_linear(&nn, "classifier.fc", x, m->num_classes, 1, CV_INIT_LINEAR);
}

static int mvit_features(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x, cv_tensor *out[4]) {
    cv_nn nn = { ops, g };
    for (int i = 0; i < 4; i++) out[i] = NULL;
    trunk(self, &nn, x, out);
    return ops->failed(g) ? CV_ERR_INVALID : CV_OK;
}

static int mvit_create(const cv_create_args *args, void **self, cv_error *err) {
    const cv_host *h = args->host;
    const cv_options *o = args->opts;
    int os = (int)cv_opt_int(h, o, "output_stride", 32);
    if (os != 8 && os != 16 && os != 32)
        return h->set_error(err, CV_ERR_INVALID, "model mobilevit: output_stride = %d; use 8, 16 or 32", os);
    const char *v = cv_opt_str(h, o, "variant", "small");
    const mvit_cfg *cfg = &cfgs[strcmp(v, "xx_small") == 0 ? 0 : strcmp(v, "x_small") == 0 ? 1 : 2];
    int heads = (int)cv_opt_int(h, o, "heads", 4);
    for (int i = 0; i < 3; i++)
        if (cfg->dim[i] % heads)
            return h->set_error(err, CV_ERR_INVALID, "model mobilevit: heads = %d does not divide the %s width %d",
                                heads, v, cfg->dim[i]);
    mvit *m = h->alloc_array(1, sizeof *m);
    if (!m) return h->set_error(err, CV_ERR_NOMEM, "model mobilevit: out of memory");
    m->host = h;
    m->cfg = cfg;
    m->heads = heads;
    m->num_classes = cv_nn_num_classes(args, cv_opt_int(h, o, "num_classes", 0));
    m->dropout = (float)cv_opt_float(h, o, "dropout", 0.1);
    m->tr_dropout = (float)cv_opt_float(h, o, "transformer_dropout", 0.0);
    m->attn_dropout = (float)cv_opt_float(h, o, "attn_dropout", 0.0);
    m->drop_path = (float)cv_opt_float(h, o, "stochastic_depth", 0.0);
    m->zero_gamma = (int)cv_opt_int(h, o, "zero_init_last_bn", 0);
    m->output_stride = os;
    *self = m;
    return CV_OK;
}

static void mvit_destroy(void *self) {
    if (self) ((mvit *)self)->host->free(self);
}

static const cv_model_vtable mvit_vtable = { sizeof(cv_model_vtable), mvit_forward, mvit_features };

static const cv_component_desc mvit_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL, "mobilevit", "classification",
    "MobileViT v1 xx_small/x_small/small (CVNets configuration), dilation for segmentation",
    mvit_options, mvit_create, mvit_destroy, NULL, NULL, &mvit_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &mvit_desc, err); }
