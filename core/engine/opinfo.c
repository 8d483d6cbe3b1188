/* core/engine/opinfo.c — static facts about op kinds and dtypes: names for error
 * messages and profiles, element sizes, and the params struct each op expects. */
#include "internal.h"

const char *cv_op_name(int op) {
    switch (op) {
    case CV_OP_CONV2D: return "conv2d";
    case CV_OP_CONV3D: return "conv3d";
    case CV_OP_MATMUL: return "matmul";
    case CV_OP_LINEAR: return "linear";
    case CV_OP_BATCH_NORM: return "batch_norm";
    case CV_OP_LAYER_NORM: return "layer_norm";
    case CV_OP_GROUP_NORM: return "group_norm";
    case CV_OP_UNARY: return "unary";
    case CV_OP_BINARY: return "binary";
    case CV_OP_SCALAR: return "scalar";
    case CV_OP_REDUCE: return "reduce";
    case CV_OP_POOL2D: return "pool2d";
    case CV_OP_ADAPTIVE_AVG_POOL2D: return "adaptive_avg_pool2d";
    case CV_OP_RESIZE: return "resize";
    case CV_OP_CONCAT: return "concat";
    case CV_OP_SLICE: return "slice";
    case CV_OP_PAD: return "pad";
    case CV_OP_RESHAPE: return "reshape";
    case CV_OP_PERMUTE: return "permute";
    case CV_OP_SOFTMAX: return "softmax";
    case CV_OP_DROPOUT: return "dropout";
    case CV_OP_DROP_PATH: return "drop_path";
    case CV_OP_CROSS_ENTROPY: return "cross_entropy";
    case CV_OP_BCE_LOGITS: return "bce_with_logits";
    case CV_OP_SMOOTH_L1: return "smooth_l1";
    case CV_OP_CAST: return "cast";
    case CV_OP_EMBEDDING: return "embedding";
    case CV_OP_BROADCAST_TO: return "broadcast_to";
    case CV_OP_SUM_TO: return "sum_to";
    case CV_OP_CONV2D_BWD_DATA: return "conv2d_bwd_data";
    case CV_OP_CONV2D_BWD_WEIGHT: return "conv2d_bwd_weight";
    case CV_OP_BATCH_NORM_BWD: return "batch_norm_bwd";
    case CV_OP_LAYER_NORM_BWD: return "layer_norm_bwd";
    case CV_OP_GROUP_NORM_BWD: return "group_norm_bwd";
    case CV_OP_UNARY_BWD: return "unary_bwd";
    case CV_OP_POOL2D_BWD: return "pool2d_bwd";
    case CV_OP_ADAPTIVE_AVG_POOL2D_BWD: return "adaptive_avg_pool2d_bwd";
    case CV_OP_RESIZE_BWD: return "resize_bwd";
    case CV_OP_SOFTMAX_BWD: return "softmax_bwd";
    case CV_OP_DROPOUT_BWD: return "dropout_bwd";
    case CV_OP_CROSS_ENTROPY_BWD: return "cross_entropy_bwd";
    case CV_OP_BCE_LOGITS_BWD: return "bce_with_logits_bwd";
    case CV_OP_SMOOTH_L1_BWD: return "smooth_l1_bwd";
    case CV_OP_EMBEDDING_BWD: return "embedding_bwd";
    case CV_OP_SGD_UPDATE: return "sgd_update";
    case CV_OP_ADAM_UPDATE: return "adam_update";
    case CV_OP_RMSPROP_UPDATE: return "rmsprop_update";
    case CV_OP_LAMB_UPDATE: return "lamb_update";
    case CV_OP_SUMSQ: return "sumsq";
    case CV_OP_AXPBY: return "axpby";
    case CV_OP_FILL: return "fill";
    case CV_OP_COPY: return "copy";
    case CV_OP_NONFINITE: return "nonfinite";
    case CV_OP_ALLREDUCE: return "allreduce_sum";
    default: return "unknown-op";
    }
}

const char *cv_dtype_name(int dtype) {
    switch (dtype) {
    case CV_F32: return "f32";
    case CV_BF16: return "bf16";
    case CV_F16: return "f16";
    case CV_I32: return "i32";
    case CV_U8: return "u8";
    default: return "bad-dtype";
    }
}

size_t cv_dtype_size(int dtype) {
    switch (dtype) {
    case CV_F32: case CV_I32: return 4;
    case CV_BF16: case CV_F16: return 2;
    case CV_U8: return 1;
    default: return 0;
    }
}

int cv_op_params_size(int op) {
    switch (op) {
    case CV_OP_CONV2D: case CV_OP_CONV3D: case CV_OP_CONV2D_BWD_DATA: case CV_OP_CONV2D_BWD_WEIGHT:
        return (int)sizeof(cv_conv_params);
    case CV_OP_MATMUL: return (int)sizeof(cv_matmul_params);
    case CV_OP_BATCH_NORM: case CV_OP_LAYER_NORM: case CV_OP_GROUP_NORM: case CV_OP_BATCH_NORM_BWD:
    case CV_OP_LAYER_NORM_BWD: case CV_OP_GROUP_NORM_BWD:
        return (int)sizeof(cv_norm_params);
    case CV_OP_UNARY: case CV_OP_UNARY_BWD: return (int)sizeof(cv_unary_params);
    case CV_OP_BINARY: return (int)sizeof(cv_binary_params);
    case CV_OP_SCALAR: case CV_OP_FILL: return (int)sizeof(cv_scalar_params);
    case CV_OP_REDUCE: return (int)sizeof(cv_reduce_params);
    case CV_OP_POOL2D: case CV_OP_POOL2D_BWD: return (int)sizeof(cv_pool_params);
    case CV_OP_ADAPTIVE_AVG_POOL2D: case CV_OP_RESIZE: case CV_OP_ADAPTIVE_AVG_POOL2D_BWD: case CV_OP_RESIZE_BWD:
        return (int)sizeof(cv_resize_params);
    case CV_OP_CONCAT: return (int)sizeof(cv_axis_params);
    case CV_OP_SLICE: return (int)sizeof(cv_slice_params);
    case CV_OP_PAD: return (int)sizeof(cv_pad_params);
    case CV_OP_RESHAPE: case CV_OP_BROADCAST_TO: case CV_OP_SUM_TO: return (int)sizeof(cv_reshape_params);
    case CV_OP_PERMUTE: return (int)sizeof(cv_permute_params);
    case CV_OP_SOFTMAX: case CV_OP_SOFTMAX_BWD: return (int)sizeof(cv_softmax_params);
    case CV_OP_DROPOUT: case CV_OP_DROP_PATH: case CV_OP_DROPOUT_BWD: return (int)sizeof(cv_dropout_params);
    case CV_OP_CROSS_ENTROPY: case CV_OP_CROSS_ENTROPY_BWD: return (int)sizeof(cv_ce_params);
    case CV_OP_SMOOTH_L1: case CV_OP_SMOOTH_L1_BWD: return (int)sizeof(cv_smooth_l1_params);
    case CV_OP_CAST: return (int)sizeof(cv_cast_params);
    case CV_OP_LINEAR: case CV_OP_BCE_LOGITS: case CV_OP_BCE_LOGITS_BWD: case CV_OP_EMBEDDING:
    case CV_OP_EMBEDDING_BWD: case CV_OP_COPY: case CV_OP_SUMSQ: case CV_OP_NONFINITE: case CV_OP_ALLREDUCE:
        return 0;
    case CV_OP_AXPBY: return (int)sizeof(cv_axpby_params);
    default: return -1;
    }
}
