/* cvnets/nn.h — the SDK helper library (libcvnets-sdk.a): network building blocks
 * for model plugins, written only against cv_ops_v1 so third-party models reuse
 * them unchanged.  Every helper records ops on the graph being traced and creates
 * its parameters on first use (later traces get the same tensors back).
 *
 * Naming: a helper given a non-NULL `name` pushes it as a scope, so its parameters
 * are "<current scope>.<name>.weight" and so on; NULL creates them directly in the
 * current scope.  Batch norm uses torchvision's names (weight, bias, running_mean,
 * running_var); conv_norm_act uses torchvision's Conv2dNormActivation layout
 * ("<name>.0.weight" conv, "<name>.1.*" norm), so models built from these blocks
 * load torchvision state dicts converted to safetensors.
 *
 * Errors are sticky on the graph (see ops.h): a helper given a NULL tensor returns
 * NULL and the first error names the op and shapes. */
#ifndef CVNETS_NN_H
#define CVNETS_NN_H

#include "ops.h"
#include "components.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What every helper needs: the op table and the graph being traced. */
typedef struct cv_nn {
    const cv_ops_v1 *ops;
    cv_graph *g;
} cv_nn;

#define CV_ACT_NONE (-1) /* "no activation" where a cv_unary_fn is expected */
#define CV_PAD_SAME (-1) /* padding dilation*(k-1)/2 */

/* CVNets' channel rounding: the nearest multiple of divisor (at least min_value,
 * divisor when min_value <= 0), bumped up one step when rounding lost over 10 %. */
int cv_make_divisible(double v, int divisor, int min_value);

/* Dimension i of x (negative counts from the end); 0 for a NULL tensor. */
int64_t cv_nn_dim(const cv_nn *nn, cv_tensor *x, int i);

/* A parameter in the current scope (thin wrapper over ops->param). */
cv_tensor *cv_nn_param(const cv_nn *nn, const char *name, cv_shape shape, cv_init init, uint32_t tags);

/* Initialisers as CVNets uses them. */
static inline cv_init cv_init_const(int kind, float a, float b) { cv_init i = { kind, a, b }; return i; }
#define CV_INIT_CONV cv_init_const(CV_INIT_KAIMING_NORMAL_FAN_OUT, 0, 0)
#define CV_INIT_LINEAR cv_init_const(CV_INIT_NORMAL, 0.01f, 0)
#define CV_INIT_LINEAR_TRUNC cv_init_const(CV_INIT_TRUNC_NORMAL, 0.02f, 0)

/* 2-D convolution, weight [out, C/groups, k, k] (kaiming normal, fan out) and an
 * optional zero bias (tag bias).  pad = CV_PAD_SAME for dilation*(k-1)/2. */
cv_tensor *cv_nn_conv2d(const cv_nn *nn, const char *name, cv_tensor *x, int out_ch, int k, int stride,
                        int pad, int dilation, int groups, int bias);

/* Batch norm over dim 1 with weight (1, or 0 when zero_gamma), bias (0) tagged
 * norm, and running_mean / running_var buffers.  eps 1e-5, momentum 0.1 (PyTorch's
 * defaults); batch statistics while tracing a training step.  The _ex form takes
 * eps and momentum (0 = default; torchvision's MobileNetV3 uses 1e-3 and 0.01). */
cv_tensor *cv_nn_batch_norm(const cv_nn *nn, const char *name, cv_tensor *x, int zero_gamma);
cv_tensor *cv_nn_batch_norm_ex(const cv_nn *nn, const char *name, cv_tensor *x, int zero_gamma, float eps,
                               float momentum);
/* Layer norm over the last dim (weight 1, bias 0, tagged norm). */
cv_tensor *cv_nn_layer_norm(const cv_nn *nn, const char *name, cv_tensor *x, float eps);
/* Group norm over dim 1 (groups = 1 is CVNets' "layer_norm_2d"). */
cv_tensor *cv_nn_group_norm(const cv_nn *nn, const char *name, cv_tensor *x, int groups, float eps);

/* Element-wise activation; CV_ACT_NONE returns x. */
cv_tensor *cv_nn_act(const cv_nn *nn, cv_tensor *x, int act);

/* y = x W^T + b over the last dim; W [out, in] with init, b zeros (tag bias). */
cv_tensor *cv_nn_linear(const cv_nn *nn, const char *name, cv_tensor *x, int out, int bias, cv_init init);
/* The same with explicit parameter names (bias_name NULL: no bias). */
cv_tensor *cv_nn_linear_named(const cv_nn *nn, const char *weight_name, const char *bias_name, cv_tensor *x,
                              int out, cv_init init);

/* conv (no bias) -> batch norm -> activation, named as torchvision's
 * Conv2dNormActivation: "<name>.0.weight", "<name>.1.{weight,bias,running_*}". */
cv_tensor *cv_nn_conv_norm_act(const cv_nn *nn, const char *name, cv_tensor *x, int out_ch, int k, int stride,
                               int dilation, int groups, int act);
cv_tensor *cv_nn_conv_norm_act_ex(const cv_nn *nn, const char *name, cv_tensor *x, int out_ch, int k, int stride,
                                  int dilation, int groups, int act, float bn_eps, float bn_momentum);

/* Dropout / stochastic depth; nothing is recorded when p <= 0 or in eval. */
cv_tensor *cv_nn_dropout(const cv_nn *nn, cv_tensor *x, float p);
cv_tensor *cv_nn_drop_path(const cv_nn *nn, cv_tensor *x, float p);

/* Mean over H and W: [N,C,H,W] -> [N,C]. */
cv_tensor *cv_nn_global_avg_pool(const cv_nn *nn, cv_tensor *x);

/* Squeeze-excitation: x * gate(fc2(act(fc1(avgpool(x))))) with 1x1 convolutions
 * with bias named "<name>.fc1" and "<name>.fc2" (torchvision's layout). */
cv_tensor *cv_nn_squeeze_excite(const cv_nn *nn, const char *name, cv_tensor *x, int squeeze_ch, int act,
                                int gate);

/* Inverted residual (MobileNetV2/V3).  Parameter layout follows torchvision:
 *   CV_IR_TV_V2: "conv.0" expand CNA (when hidden != in), "conv.k" depthwise CNA,
 *                "conv.k+1" project conv, "conv.k+2" project BN
 *   CV_IR_TV_V3: "block.0" expand CNA, "block.k" depthwise CNA, "block.k+1" SE
 *                (when se_ch > 0), next "block.j.0" / "block.j.1" project conv + BN
 * Residual when stride 1 and in == out. */
enum { CV_IR_TV_V2 = 0, CV_IR_TV_V3 = 1 };
typedef struct cv_ir_config {
    int layout;      /* CV_IR_TV_V2 or CV_IR_TV_V3 */
    int hidden;      /* expanded channels */
    int out;         /* output channels */
    int kernel;      /* depthwise kernel */
    int stride, dilation;
    int act;         /* activation of expand and depthwise */
    int se_ch;       /* squeeze channels, 0 for no SE */
    int se_act, se_gate;
    int zero_gamma;  /* zero-init the project BN's weight */
    float drop_path; /* stochastic depth on the residual branch */
    float bn_eps, bn_momentum; /* 0 = PyTorch's defaults */
} cv_ir_config;
cv_tensor *cv_nn_inverted_residual(const cv_nn *nn, cv_tensor *x, const cv_ir_config *c);

/* Multi-head self-attention on x [B, N, D] via cv_attention: one fused QKV
 * projection weight [3D, D] (q, k, v stacked) and an output projection. */
typedef struct cv_mhsa_names {
    const char *qkv_weight, *qkv_bias; /* e.g. "in_proj_weight", "in_proj_bias" */
    const char *out_proj;              /* scope of the output linear, e.g. "out_proj" */
} cv_mhsa_names;
cv_tensor *cv_nn_mhsa(const cv_nn *nn, const char *name, const cv_mhsa_names *names, cv_tensor *x, int heads,
                      float attn_dropout);

/* Pre-norm transformer encoder block on x [B, N, D]:
 *   x = x + drop_path(dropout(MHSA(LN1(x))));  x = x + drop_path(MLP(LN2(x)))
 * with MLP = fc1 -> act -> dropout -> fc2 -> dropout.  Names default to
 * torchvision's EncoderBlock (ln_1, self_attention.{in_proj_weight, in_proj_bias,
 * out_proj}, ln_2, mlp.0, mlp.3); see cv_transformer_names_cvnets for CVNets'. */
typedef struct cv_transformer_names {
    const char *ln1, *attn, *ln2, *fc1, *fc2;
    cv_mhsa_names mhsa;
} cv_transformer_names;
extern const cv_transformer_names cv_transformer_names_torchvision;
extern const cv_transformer_names cv_transformer_names_cvnets;
typedef struct cv_transformer_config {
    int heads, mlp_dim;
    int act;             /* CV_GELU (ViT) or CV_SILU (MobileViT) */
    float ln_eps;        /* 1e-6 (torchvision ViT) or 1e-5 */
    float dropout, attn_dropout, drop_path;
    const cv_transformer_names *names; /* NULL: torchvision's */
} cv_transformer_config;
cv_tensor *cv_nn_transformer_block(const cv_nn *nn, cv_tensor *x, const cv_transformer_config *c);

/* Fixed sinusoidal position table [1, n, d] (d even): the first d/2 channels are
 * sin(pos * w_i), the last d/2 cos(pos * w_i), w_i = 10000^(-i/(d/2)).  Built
 * from plain ops (angle-addition doubling from Taylor series of sin/cos of each
 * w_i <= 1), so it needs no parameter and fits any sequence length. */
cv_tensor *cv_nn_sinusoidal_table(const cv_nn *nn, int n, int d);

/* Unfold [B, C, H, W] (H, W multiples of ph, pw) into patches [B, ph*pw, N, C]
 * with N = (H/ph)*(W/pw), and fold it back — MobileViT's unfolding, using at most
 * 5-D views. */
cv_tensor *cv_nn_unfold_patches(const cv_nn *nn, cv_tensor *x, int ph, int pw);
cv_tensor *cv_nn_fold_patches(const cv_nn *nn, cv_tensor *p, int h, int w, int ph, int pw);

/* MobileViT (v1) block, CVNets' layout: local_rep.conv_3x3 (CNA) and
 * local_rep.conv_1x1 (to dim), `blocks` transformer blocks (CVNets' names) on the
 * unfolded patches + a LayerNorm (global_rep.0 .. global_rep.<blocks>), conv_proj
 * (1x1 CNA back to the input's channels), concat with the input, fusion (3x3
 * CNA).  Inputs whose size is not a multiple of the patch are resized (bilinear)
 * and resized back, as CVNets does. */
typedef struct cv_mobilevit_config {
    int dim, mlp_dim, blocks, heads, patch;
    int act;                  /* CV_SILU */
    float dropout, attn_dropout, drop_path;
    int dilation;             /* of the 3x3 convolutions */
} cv_mobilevit_config;
cv_tensor *cv_nn_mobilevit_block(const cv_nn *nn, cv_tensor *x, const cv_mobilevit_config *c);

/* MobileViTv2 block (separable linear self-attention), CVNets' layout: local_rep
 * (depthwise 3x3 CNA, 1x1 conv), global_rep (blocks x LinearAttnFFN with
 * GroupNorm(1) + GroupNorm(1)), conv_proj (1x1 conv + BN).  Inputs whose size is
 * not a multiple of the patch are resized up (bilinear) and, unlike CVNets, back
 * after folding, so the block keeps its input's size (backbone strides stay exact). */
typedef struct cv_mobilevit2_config {
    int dim, ffn_dim, blocks, patch;
    int act;
    float dropout, attn_dropout;
    int dilation;
} cv_mobilevit2_config;
cv_tensor *cv_nn_mobilevit2_block(const cv_nn *nn, cv_tensor *x, const cv_mobilevit2_config *c);

/* ---- model plumbing ------------------------------------------------------------ */
/* A validated option's value, or def when the key is absent or unset. */
int64_t cv_opt_int(const cv_host *h, const cv_options *o, const char *key, int64_t def);
double cv_opt_float(const cv_host *h, const cv_options *o, const char *key, double def);
const char *cv_opt_str(const cv_host *h, const cv_options *o, const char *key, const char *def);

/* Output-stride bookkeeping for backbones (segmentation / detection): a stage
 * that would take the running stride past output_stride keeps stride 1 and
 * doubles the dilation instead (torchvision's replace_stride_with_dilation).
 * cv_nn_stage_stride returns the stride the stage's first block uses and sets
 * *first_dilation to the dilation of that block (the previous one, as
 * torchvision does); later blocks use st->dilation. */
typedef struct cv_nn_stride {
    int output_stride; /* 8, 16 or 32 (0 = 32) */
    int stride;        /* running stride of the current feature map */
    int dilation;      /* current dilation */
} cv_nn_stride;
cv_nn_stride cv_nn_stride_init(int output_stride, int stem_stride);
int cv_nn_stage_stride(cv_nn_stride *st, int stride, int *first_dilation);

/* Put a stage output into the backbone slot of its stride (4, 8, 16, 32 ->
 * out[0..3]; smaller strides go to out[0], larger to out[3]); a later stage at
 * the same stride replaces an earlier one.  out may be NULL. */
void cv_nn_feature_put(cv_tensor *out[4], int stride, cv_tensor *t);

/* The models' default classifier size: the option when > 0, else the dataset's
 * (args->num_classes), else 1000. */
int cv_nn_num_classes(const cv_create_args *args, int64_t option);

#ifdef __cplusplus
}
#endif
#endif
