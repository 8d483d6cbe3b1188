/* plugins/models/vit.c — Vision Transformer tiny / small / base (model "vit"):
 * a convolutional patch embedding, a class token, learned or sinusoidal
 * positions, pre-norm encoder blocks; torchvision's parameter names
 * (conv_proj, class_token, encoder.pos_embedding, encoder.layers.encoder_layer_i.*,
 * encoder.ln, heads.head).  The learned position table is sized for image_size
 * and bilinearly resized for other inputs (multi-scale training), as CVNets does. */
#include <cvnets/cvnets.h>
#include <cvnets/nn.h>

#include <string.h>

static const char *const variants[] = { "tiny", "small", "base", NULL };
static const char *const positions[] = { "learned", "sinusoidal", NULL };

static const cv_option_desc vit_options[] = {
    CV_OPT_ENUM_("variant", "tiny", variants, "tiny (192-d, 3 heads), small (384, 6) or base (768, 12); 12 layers"),
    CV_OPT_INT_RANGE("num_classes", "0", 0, 1000000, "classifier outputs; 0 = the dataset's class count"),
    CV_OPT_INT_RANGE("depth", "12", 1, 48, "encoder blocks (12 in every paper variant; fewer for small data)"),
    CV_OPT_INT_RANGE("patch_size", "16", 2, 64, "patch side in pixels (the embedding conv's kernel and stride)"),
    CV_OPT_INT_RANGE("image_size", "224", 16, 4096, "input side the learned position table is made for"),
    CV_OPT_ENUM_("positions", "learned", positions, "learned table or fixed sin/cos"),
    CV_OPT_FLOAT_RANGE("dropout", "0.0", 0.0, 0.99, "dropout after attention, in the MLP and on embeddings"),
    CV_OPT_FLOAT_RANGE("attn_dropout", "0.0", 0.0, 0.99, "dropout on attention weights"),
    CV_OPT_FLOAT_RANGE("stochastic_depth", "0.0", 0.0, 0.99, "drop-path rate of the last block (linear from 0)"),
    CV_OPT_PATH_("pretrained", NULL, "safetensors weights loaded by parameter name before training (the host reports missing and unexpected keys)"),
    CV_OPT_END
};

typedef struct vit {
    const cv_host *host;
    int dim, heads, layers, mlp_dim, num_classes, patch, image_size, sinusoidal;
    float dropout, attn_dropout, drop_path;
} vit;

/* position embeddings for a gh x gw grid plus the class token: [1, 1 + gh*gw, D] */
static cv_tensor *positions_for(const vit *m, const cv_nn *nn, int64_t gh, int64_t gw) {
    const cv_ops_v1 *o = nn->ops;
    if (m->sinusoidal) return cv_nn_sinusoidal_table(nn, (int)(1 + gh * gw), m->dim);
    int64_t g0 = m->image_size / m->patch;
    cv_init init = { CV_INIT_TRUNC_NORMAL, 0.02f, 0 };
    cv_tensor *pos = cv_nn_param(nn, "pos_embedding", CV_SHAPE(1, 1 + g0 * g0, m->dim), init, CV_TAG_NO_DECAY);
    if (gh == g0 && gw == g0) return pos;
    /* resize the grid part; the class token's entry is kept as is */
    cv_slice_params cls = { 1, 0, 0, 1 }, grid = { 1, 0, 1, g0 * g0 };
    cv_tensor *t = CV_OP1(o, nn->g, CV_OP_SLICE, pos, &grid);
    t = cv_permute(o, nn->g, cv_reshape(o, nn->g, t, CV_SHAPE(1, g0, g0, m->dim)), 4, (const int32_t[]){ 0, 3, 1, 2 });
    cv_resize_params rp = { (int32_t)gh, (int32_t)gw, CV_RESIZE_BILINEAR, 0 };
    t = CV_OP1(o, nn->g, CV_OP_RESIZE, t, &rp);
    t = cv_reshape(o, nn->g, cv_permute(o, nn->g, t, 4, (const int32_t[]){ 0, 2, 3, 1 }), CV_SHAPE(1, gh * gw, m->dim));
    cv_tensor *parts[2] = { CV_OP1(o, nn->g, CV_OP_SLICE, pos, &cls), t };
    cv_axis_params ax = { 1 };
    return o->op(nn->g, CV_OP_CONCAT, parts, 2, &ax, sizeof ax);
}

/* tokens after the final norm [B, 1 + N, D]; *gh, *gw get the patch grid */
static cv_tensor *encode(const vit *m, const cv_nn *nn, cv_tensor *x, int64_t *gh, int64_t *gw) {
    const cv_ops_v1 *o = nn->ops;
    int64_t b = cv_nn_dim(nn, x, 0);
    cv_init init = { CV_INIT_TRUNC_NORMAL, 0.02f, 0 };
    cv_tensor *cls = cv_nn_param(nn, "class_token", CV_SHAPE(1, 1, m->dim), init, CV_TAG_NO_DECAY);
    x = cv_nn_conv2d(nn, "conv_proj", x, m->dim, m->patch, m->patch, 0, 1, 1, 1);
    *gh = cv_nn_dim(nn, x, 2);
    *gw = cv_nn_dim(nn, x, 3);
    x = cv_reshape(o, nn->g, x, CV_SHAPE(b, m->dim, *gh * *gw));
    x = cv_permute(o, nn->g, x, 3, (const int32_t[]){ 0, 2, 1 }); /* [B, N, D] */
    cv_reshape_params bp = { CV_SHAPE(b, 1, m->dim) };
    cv_tensor *parts[2] = { CV_OP1(o, nn->g, CV_OP_BROADCAST_TO, cls, &bp), x };
    cv_axis_params ax = { 1 };
    x = o->op(nn->g, CV_OP_CONCAT, parts, 2, &ax, sizeof ax);
    o->scope_push(nn->g, "encoder");
    x = cv_nn_dropout(nn, cv_add(o, nn->g, x, positions_for(m, nn, *gh, *gw)), m->dropout);
    for (int i = 0; i < m->layers; i++) {
        float dp = m->layers > 1 ? m->drop_path * (float)i / (float)(m->layers - 1) : 0.0f;
        cv_transformer_config c = { m->heads, m->mlp_dim, CV_GELU, 1e-6f, m->dropout, m->attn_dropout, dp, NULL };
        o->scope_push(nn->g, "layers");
        o->scope_push(nn->g, "encoder_layer_%d", i);
        x = cv_nn_transformer_block(nn, x, &c);
        o->scope_pop(nn->g);
        o->scope_pop(nn->g);
    }
    x = cv_nn_layer_norm(nn, "ln", x, 1e-6f);
    o->scope_pop(nn->g);
    return x;
}

static cv_tensor *vit_forward(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x) {
    const vit *m = self;
    cv_nn nn = { ops, g };
    int64_t gh, gw, b = cv_nn_dim(&nn, x, 0);
    x = encode(m, &nn, x, &gh, &gw);
    cv_slice_params cls = { 1, 0, 0, 1 };
    x = cv_reshape(ops, g, CV_OP1(ops, g, CV_OP_SLICE, x, &cls), CV_SHAPE(b, m->dim));
    return cv_nn_linear(&nn, "heads.head", x, m->num_classes, 1, CV_INIT_LINEAR_TRUNC);
}

/* ViT has one scale, the patch grid [B, D, H/p, W/p].  The other backbone
 * levels are derived without parameters (CVNets' simple FPN learns them):
 * finer strides by bilinear upsampling, coarser ones by max-pooling. */
static int vit_features(void *self, const cv_ops_v1 *ops, cv_graph *g, cv_tensor *x, cv_tensor *out[4]) {
    const vit *m = self;
    cv_nn nn = { ops, g };
    int64_t gh, gw, b = cv_nn_dim(&nn, x, 0), h = cv_nn_dim(&nn, x, 2), w = cv_nn_dim(&nn, x, 3);
    for (int i = 0; i < 4; i++) out[i] = NULL;
    x = encode(m, &nn, x, &gh, &gw);
    cv_slice_params tokens = { 1, 0, 1, gh * gw };
    x = cv_permute(ops, g, CV_OP1(ops, g, CV_OP_SLICE, x, &tokens), 3, (const int32_t[]){ 0, 2, 1 });
    x = cv_reshape(ops, g, x, CV_SHAPE(b, m->dim, gh, gw));
    for (int i = 0; i < 4; i++) {
        int stride = 4 << i;
        if (stride == m->patch) {
            out[i] = x;
        } else if (stride > m->patch && stride % m->patch == 0) {
            int k = stride / m->patch;
            out[i] = gh >= k && gw >= k ? cv_pool2d(ops, g, x, CV_POOL_MAX, k, k, 0, 0) : NULL;
        } else if (h >= stride && w >= stride) {
            cv_resize_params rp = { (int32_t)(h / stride), (int32_t)(w / stride), CV_RESIZE_BILINEAR, 0 };
            out[i] = CV_OP1(ops, g, CV_OP_RESIZE, x, &rp);
        }
    }
    return ops->failed(g) ? CV_ERR_INVALID : CV_OK;
}

static int vit_create(const cv_create_args *args, void **self, cv_error *err) {
    const cv_host *h = args->host;
    const cv_options *o = args->opts;
    const char *variant = cv_opt_str(h, o, "variant", "tiny");
    int dim = strcmp(variant, "base") == 0 ? 768 : strcmp(variant, "small") == 0 ? 384 : 192;
    int patch = (int)cv_opt_int(h, o, "patch_size", 16), image = (int)cv_opt_int(h, o, "image_size", 224);
    if (image % patch)
        return h->set_error(err, CV_ERR_INVALID, "model vit: image_size %d is not a multiple of patch_size %d", image,
                            patch);
    vit *m = h->alloc_array(1, sizeof *m);
    if (!m) return h->set_error(err, CV_ERR_NOMEM, "model vit: out of memory");
    m->host = h;
    m->dim = dim;
    m->heads = dim / 64;
    m->layers = (int)cv_opt_int(h, o, "depth", 12);
    m->mlp_dim = 4 * dim;
    m->num_classes = cv_nn_num_classes(args, cv_opt_int(h, o, "num_classes", 0));
    m->patch = patch;
    m->image_size = image;
    m->sinusoidal = strcmp(cv_opt_str(h, o, "positions", "learned"), "sinusoidal") == 0;
    m->dropout = (float)cv_opt_float(h, o, "dropout", 0.0);
    m->attn_dropout = (float)cv_opt_float(h, o, "attn_dropout", 0.0);
    m->drop_path = (float)cv_opt_float(h, o, "stochastic_depth", 0.0);
    *self = m;
    return CV_OK;
}

static void vit_destroy(void *self) {
    if (self) ((vit *)self)->host->free(self);
}

static const cv_model_vtable vit_vtable = { sizeof(cv_model_vtable), vit_forward, vit_features };

static const cv_component_desc vit_desc = {
    sizeof(cv_component_desc), CV_ABI_MAJOR, CV_ABI_MINOR, CV_KIND_MODEL, "vit", "classification",
    "Vision Transformer tiny/small/base (torchvision names), learned or sinusoidal positions",
    vit_options, vit_create, vit_destroy, NULL, NULL, &vit_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &vit_desc, err); }
