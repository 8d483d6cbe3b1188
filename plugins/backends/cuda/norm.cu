/* norm.cu — batch norm, layer norm and group norm, forward and backward.
 *
 * Own kernels serve all three (the reference's scheme): elements fall into
 * "stat" groups with one (mean, rstd) each and carry a "channel" for gamma/beta:
 *   batch norm x [N,C,*]: stat = c, channel = c
 *   layer norm x [.., D]: stat = row, channel = index in the last `axes` dims
 *   group norm x [N,C,*]: stat = n*G + c/(C/G), channel = c
 * One block per stat computes the statistics in double (two passes: mean, then
 * biased variance) and writes y; the backward pass does the same for dx, and one
 * block per channel sums dgamma / dbeta — no atomics.
 * With batch_norm = cudnn (the default) training-mode batch norm runs through
 * cudnnBatchNormalizationForwardTraining / Backward (spatial mode on x viewed as
 * [N,C,S,1]); cuDNN's running variance is the unbiased one, like ours.
 * Batch norm also takes channels-last (NHWC) x / y / dy / dx: cuDNN gets an NHWC
 * descriptor; eval is element-wise in either layout; our training forward and every
 * backward use bn_nhwc.cu's coalesced per-channel sums (index helpers here follow
 * the layout too, cu_ncs_at). */
#include <string.h>
#include "cuint.h"

enum { NORM_BATCH, NORM_LAYER, NORM_GROUP };

struct norm_layout {
    int kind, nhwc; /* nhwc: batch norm on channels-last operands */
    int64_t n, c, s, inner, groups, n_stats, n_chan, per_stat, per_chan;
};

__device__ static inline int64_t chan_elem(const norm_layout &l, int64_t ch, int64_t k) {
    if (l.kind == NORM_LAYER) return k * l.inner + ch;
    return cu_ncs_at(k / l.s, ch, k % l.s, l.c, l.s, l.nhwc);
}
__device__ static inline int64_t stat_elem(const norm_layout &l, int64_t stat, int64_t k) {
    if (l.kind == NORM_LAYER) return stat * l.inner + k;
    if (l.kind == NORM_BATCH) return chan_elem(l, stat, k);
    int64_t n = stat / l.groups, g = stat % l.groups, cpg = l.c / l.groups;
    return (n * l.c + g * cpg) * l.s + k;
}
__device__ static inline int64_t chan_of(const norm_layout &l, int64_t i) {
    return l.kind == NORM_LAYER ? i % l.inner : l.nhwc ? i % l.c : (i / l.s) % l.c;
}
__device__ static inline int64_t stat_of(const norm_layout &l, int64_t i) {
    if (l.kind == NORM_LAYER) return i / l.inner;
    int64_t c = chan_of(l, i);
    if (l.kind == NORM_BATCH) return c;
    return (i / (l.s * l.c)) * l.groups + c / (l.c / l.groups);
}

__global__ static void norm_fwd_kernel(norm_layout l, cu_norm_fwd a) {
    __shared__ double sh[CU_THREADS];
    for (int64_t st = blockIdx.x; st < l.n_stats; st += gridDim.x) {
        double mean, rstd;
        if (a.batch_stats) {
            double s = 0.0;
            for (int64_t k = threadIdx.x; k < l.per_stat; k += blockDim.x) s += a.x[stat_elem(l, st, k)];
            mean = cu_block_sum(s, sh) / (double)l.per_stat;
            double v = 0.0;
            for (int64_t k = threadIdx.x; k < l.per_stat; k += blockDim.x) {
                double d = a.x[stat_elem(l, st, k)] - mean;
                v += d * d;
            }
            double var = cu_block_sum(v, sh) / (double)l.per_stat;
            if (threadIdx.x == 0 && a.rm_out) {
                double unbias = (double)l.per_stat / (double)(l.per_stat - 1), m = a.momentum;
                double old_m = a.rm_in[st], old_v = a.rv_in[st];
                a.rm_out[st] = (float)((1.0 - m) * old_m + m * mean);
                a.rv_out[st] = (float)((1.0 - m) * old_v + m * var * unbias);
            }
            rstd = 1.0 / sqrt(var + a.eps);
        } else {
            mean = a.rm_in[st];
            rstd = 1.0 / sqrt((double)a.rv_in[st] + a.eps);
            if (threadIdx.x == 0 && a.rm_out) { a.rm_out[st] = a.rm_in[st]; a.rv_out[st] = a.rv_in[st]; }
        }
        for (int64_t k = threadIdx.x; k < l.per_stat; k += blockDim.x) {
            int64_t i = stat_elem(l, st, k), ch = chan_of(l, i);
            double g = a.gamma ? a.gamma[ch] : 1.0, b = a.beta ? a.beta[ch] : 0.0;
            a.y[i] = (float)((a.x[i] - mean) * rstd * g + b);
        }
        if (threadIdx.x == 0) {
            if (a.save_mean) a.save_mean[st] = (float)mean;
            if (a.save_rstd) a.save_rstd[st] = (float)rstd;
        }
    }
}

__global__ static void norm_bwd_kernel(norm_layout l, cu_norm_bwd a) {
    __shared__ double sh[CU_THREADS];
    for (int64_t st = blockIdx.x; st < l.n_stats; st += gridDim.x) {
        double mu = a.mean[st], rs = a.rstd[st], sg = 0.0, sgx = 0.0;
        if (a.through_stats) {
            for (int64_t k = threadIdx.x; k < l.per_stat; k += blockDim.x) {
                int64_t i = stat_elem(l, st, k);
                double g = (double)a.dy[i] * a.gamma[chan_of(l, i)];
                sg += g;
                sgx += g * (a.x[i] - mu) * rs;
            }
            sg = cu_block_sum(sg, sh);
            sgx = cu_block_sum(sgx, sh);
        }
        for (int64_t k = threadIdx.x; k < l.per_stat; k += blockDim.x) {
            int64_t i = stat_elem(l, st, k);
            double xhat = (a.x[i] - mu) * rs, d = (double)a.dy[i] * a.gamma[chan_of(l, i)];
            if (a.through_stats) d -= (sg + xhat * sgx) / (double)l.per_stat;
            a.dx[i] = (float)(d * rs);
        }
    }
}

__global__ static void norm_chan_kernel(norm_layout l, cu_norm_bwd a) {
    __shared__ double sh[CU_THREADS];
    for (int64_t ch = blockIdx.x; ch < l.n_chan; ch += gridDim.x) {
        double dg = 0.0, db = 0.0;
        for (int64_t k = threadIdx.x; k < l.per_chan; k += blockDim.x) {
            int64_t i = chan_elem(l, ch, k), st = stat_of(l, i);
            double xhat = (a.x[i] - (double)a.mean[st]) * a.rstd[st];
            dg += (double)a.dy[i] * xhat;
            db += a.dy[i];
        }
        dg = cu_block_sum(dg, sh);
        db = cu_block_sum(db, sh);
        if (threadIdx.x == 0) {
            if (a.dgamma) a.dgamma[ch] = (float)dg;
            if (a.dbeta) a.dbeta[ch] = (float)db;
        }
    }
}

/* batch norm with the running statistics (eval): element-wise, one thread per element in
 * storage order (coalesced in NCHW and NHWC alike); the channel's scale and shift are
 * computed in double as the per-statistic kernel does */
__global__ static void bn_eval_kernel(norm_layout l, cu_norm_fwd a, int64_t n) {
    CU_LOOP(i, n) {
        const int64_t c = chan_of(l, i);
        const double rstd = 1.0 / sqrt((double)a.rv_in[c] + a.eps), g = a.gamma ? a.gamma[c] : 1.0,
                     b = a.beta ? a.beta[c] : 0.0;
        cu_st(a.ya, i, (float)((cu_ld(a.xa, i) - (double)a.rm_in[c]) * rstd * g + b));
    }
}

/* what eval batch norm writes per channel: the saved statistics and the untouched running ones */
__global__ static void bn_eval_stats_kernel(cu_norm_fwd a, int64_t c) {
    CU_LOOP(i, c) {
        if (a.save_mean) a.save_mean[i] = a.rm_in[i];
        if (a.save_rstd) a.save_rstd[i] = (float)(1.0 / sqrt((double)a.rv_in[i] + a.eps));
        if (a.rm_out) { a.rm_out[i] = a.rm_in[i]; a.rv_out[i] = a.rv_in[i]; }
    }
}

static unsigned grid_of(int64_t n) { return (unsigned)(n < (1 << 20) ? (n > 0 ? n : 1) : (1 << 20)); }

static int norm_setup(cu_call *r, int kind, const cu_t *x, norm_layout *l) {
    const cv_norm_params *p = (const cv_norm_params *)r->params;
    char sx[96];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->s = 1;
    l->c = 1;
    l->groups = 1;
    if (kind == NORM_LAYER) {
        if (p->axes < 1 || p->axes > x->ndim)
            return cu_fail(r, CV_ERR_INVALID, "axes %d out of range for x %s", p->axes, cu_shape_str(x, sx, sizeof sx));
        l->inner = 1;
        for (int d = x->ndim - p->axes; d < x->ndim; d++) l->inner *= x->shape[d];
        l->n_stats = l->inner ? x->numel / l->inner : 0;
        l->n_chan = l->inner;
        l->per_stat = l->inner;
        l->per_chan = l->n_stats;
        return CV_OK;
    }
    if (x->ndim < 2) return cu_fail(r, CV_ERR_INVALID, "x %s must be at least [N,C]", cu_shape_str(x, sx, sizeof sx));
    l->n = x->shape[0];
    l->c = x->shape[1];
    l->nhwc = kind == NORM_BATCH && x->nhwc;
    for (int d = 2; d < x->ndim; d++) l->s *= x->shape[d];
    l->n_chan = l->c;
    l->per_chan = l->n * l->s;
    if (kind == NORM_BATCH) {
        l->n_stats = l->c;
        l->per_stat = l->n * l->s;
    } else {
        l->groups = p->groups;
        if (p->groups < 1 || l->c % p->groups)
            return cu_fail(r, CV_ERR_INVALID, "groups %d does not divide the %lld channels of x %s", p->groups,
                           (long long)l->c, cu_shape_str(x, sx, sizeof sx));
        l->n_stats = l->n * l->groups;
        l->per_stat = l->c / l->groups * l->s;
    }
    return CV_OK;
}

static int check_len(cu_call *r, const cu_t *t, const char *what, int64_t want) {
    if (t->numel == want) return CV_OK;
    char s[96];
    return cu_fail(r, CV_ERR_INVALID, "%s %s must have %lld elements", what, cu_shape_str(t, s, sizeof s), (long long)want);
}

/* x viewed as [N, C, S, 1] (stored NCHW or NHWC) for cuDNN's spatial batch norm */
static int bn_descs(cu_call *r, const norm_layout *l, cudnnTensorDescriptor_t *xd, cudnnTensorDescriptor_t *bd) {
    int st = cu_dnn(r, cudnnCreateTensorDescriptor(xd), "cudnnCreateTensorDescriptor");
    if (!st) st = cu_dnn(r, cudnnCreateTensorDescriptor(bd), "cudnnCreateTensorDescriptor");
    if (!st && (l->n > INT32_MAX || l->c > INT32_MAX || l->s > INT32_MAX))
        st = cu_fail(r, CV_ERR_UNSUPPORTED, "x is too large for cuDNN batch norm (use batch_norm = own)");
    if (!st)
        st = cu_dnn(r, cudnnSetTensor4dDescriptor(*xd, l->nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                                  (int)l->n, (int)l->c, (int)l->s, 1),
                    "cudnnSetTensor4dDescriptor");
    if (!st) st = cu_dnn(r, cudnnDeriveBNTensorDescriptor(*bd, *xd, CUDNN_BATCHNORM_SPATIAL), "cudnnDeriveBNTensorDescriptor");
    return st;
}

static float *out_or_scratch(cu_call *r, int i, int64_t n) {
    return r->n_out > i ? r->out[i].f : (float *)cu_scratch(r, (size_t)(n ? n : 1) * sizeof(float));
}

static int bn_cudnn_forward(cu_call *r, const norm_layout *l) {
    const cv_norm_params *p = (const cv_norm_params *)r->params;
    cudaStream_t s = r->b->stream;
    float *rm = r->in[3].f, *rv = r->in[4].f;
    int st = CV_OK;
    if (r->n_out >= 5) { /* running stats go to outputs 3, 4; inputs stay as they are */
        st = cu_cuda(r, cudaMemcpyAsync(r->out[3].f, rm, (size_t)l->c * 4, cudaMemcpyDeviceToDevice, s), "copy running mean");
        if (!st) st = cu_cuda(r, cudaMemcpyAsync(r->out[4].f, rv, (size_t)l->c * 4, cudaMemcpyDeviceToDevice, s), "copy running var");
        rm = r->out[3].f;
        rv = r->out[4].f;
    } else {
        r->in_written[3] = r->in_written[4] = 1;
    }
    float *sm = out_or_scratch(r, 1, l->c), *sr = out_or_scratch(r, 2, l->c);
    if (!sm || !sr) return r->err->status;
    cudnnTensorDescriptor_t xd = NULL, bd = NULL;
    if (!st) st = bn_descs(r, l, &xd, &bd);
    const float one = 1.0f, zero = 0.0f;
    if (!st)
        st = cu_dnn(r, cudnnBatchNormalizationForwardTraining(r->b->cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd,
                                                               r->in[0].f, xd, r->out[0].f, bd, r->in[1].f, r->in[2].f,
                                                               p->momentum, rm, rv, p->eps, sm, sr),
                    "cudnnBatchNormalizationForwardTraining");
    if (xd) cudnnDestroyTensorDescriptor(xd);
    if (bd) cudnnDestroyTensorDescriptor(bd);
    return st;
}

static int bn_cudnn_backward(cu_call *r, const norm_layout *l) {
    const cv_norm_params *p = (const cv_norm_params *)r->params;
    float *dg = out_or_scratch(r, 1, l->c), *db = out_or_scratch(r, 2, l->c);
    if (!dg || !db) return r->err->status;
    cudnnTensorDescriptor_t xd = NULL, bd = NULL;
    int st = bn_descs(r, l, &xd, &bd);
    const float one = 1.0f, zero = 0.0f;
    if (!st)
        st = cu_dnn(r, cudnnBatchNormalizationBackward(r->b->cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, xd,
                                                        r->in[0].f, xd, r->in[1].f, xd, r->out[0].f, bd, r->in[2].f, dg,
                                                        db, p->eps, r->in[3].f, r->in[4].f),
                    "cudnnBatchNormalizationBackward");
    if (xd) cudnnDestroyTensorDescriptor(xd);
    if (bd) cudnnDestroyTensorDescriptor(bd);
    return st;
}

static int use_cudnn_bn(cu_call *r, int kind, const norm_layout *l) {
    const cv_norm_params *p = (const cv_norm_params *)r->params;
    /* cuDNN's batch norm backward is not documented as reproducible: deterministic mode uses ours */
    /* activations stored in 16 bits (ABI 1.4) go to ours: bn_nhwc.cu reads them as they are */
    return kind == NORM_BATCH && r->b->cfg.cudnn_bn && !r->b->cfg.deterministic && p->training &&
           p->eps >= CUDNN_BN_MIN_EPSILON && l->n > 0 && l->per_stat > 1 && !r->in[0].h;
}

static int norm_forward(cu_call *r, int kind) {
    const cv_norm_params *p = (const cv_norm_params *)r->params;
    int st = kind == NORM_BATCH ? cu_arity(r, 5, 5, 1, 5) : cu_arity(r, 1, 3, 1, 3);
    if (st) return st;
    const cu_t *x = &r->in[0];
    norm_layout l;
    if ((st = norm_setup(r, kind, x, &l))) return st;
    if (!cu_same_shape(r, x, "x", &r->out[0], "y")) return CV_ERR_INVALID;
    static const char *in_names[] = { "x", "gamma", "beta", "run_mean", "run_var" };
    for (int i = 1; i < r->n_in; i++)
        if ((st = check_len(r, &r->in[i], in_names[i], l.n_chan))) return st;
    for (int i = 1; i < r->n_out; i++)
        if ((st = check_len(r, &r->out[i], i == 1 ? "save_mean" : i == 2 ? "save_rstd" : "new running stat", l.n_stats)))
            return st;
    if (kind == NORM_BATCH && p->training && l.per_stat < 2) {
        char sx[96];
        return cu_fail(r, CV_ERR_INVALID, "training needs more than 1 value per channel, x is %s",
                       cu_shape_str(x, sx, sizeof sx));
    }
    if (x->numel == 0) return CV_OK;
    if (use_cudnn_bn(r, kind, &l)) return bn_cudnn_forward(r, &l);
    cu_norm_fwd a;
    memset(&a, 0, sizeof a);
    a.x = x->f;
    a.gamma = r->n_in > 1 ? r->in[1].f : NULL;
    a.beta = r->n_in > 2 ? r->in[2].f : NULL;
    a.y = r->out[0].f;
    a.xa = cu_act_of(x);
    a.ya = cu_act_out_of(&r->out[0]);
    a.save_mean = r->n_out > 1 ? r->out[1].f : NULL;
    a.save_rstd = r->n_out > 2 ? r->out[2].f : NULL;
    a.eps = p->eps;
    a.momentum = p->momentum;
    a.batch_stats = kind != NORM_BATCH || p->training;
    if (kind == NORM_BATCH) {
        a.rm_in = r->in[3].f;
        a.rv_in = r->in[4].f;
        if (r->n_out >= 5) { a.rm_out = r->out[3].f; a.rv_out = r->out[4].f; }
        else if (p->training) {
            a.rm_out = r->in[3].f;
            a.rv_out = r->in[4].f;
            r->in_written[3] = r->in_written[4] = 1;
        }
    }
    if (l.nhwc && a.batch_stats) return cu_bn_nhwc_forward(r, l.n * l.s, l.c, &a); /* coalesced (bn_nhwc.cu) */
    if (x->h && a.batch_stats) return cu_fail(r, CV_ERR_UNSUPPORTED, "16-bit x must be NHWC");
    if (!a.batch_stats) {
        bn_eval_kernel<<<cu_blocks(x->numel), CU_THREADS, 0, r->b->stream>>>(l, a, x->numel);
        int st2 = cu_launched(r, "batch norm eval kernel");
        if (st2 || !(a.save_mean || a.save_rstd || a.rm_out)) return st2;
        bn_eval_stats_kernel<<<cu_blocks(l.c), CU_THREADS, 0, r->b->stream>>>(a, l.c);
        return cu_launched(r, "batch norm eval statistics kernel");
    }
    norm_fwd_kernel<<<grid_of(l.n_stats), CU_THREADS, 0, r->b->stream>>>(l, a);
    return cu_launched(r, "norm forward kernel");
}

static int norm_backward(cu_call *r, int kind) {
    const cv_norm_params *p = (const cv_norm_params *)r->params;
    int st = cu_arity(r, 5, 5, 1, 3);
    if (st) return st;
    const cu_t *x = &r->in[0], *dy = &r->in[1];
    norm_layout l;
    if ((st = norm_setup(r, kind, x, &l))) return st;
    if (!cu_same_shape(r, x, "x", dy, "dy") || !cu_same_shape(r, x, "x", &r->out[0], "dx")) return CV_ERR_INVALID;
    if ((st = check_len(r, &r->in[2], "gamma", l.n_chan)) || (st = check_len(r, &r->in[3], "mean", l.n_stats)) ||
        (st = check_len(r, &r->in[4], "rstd", l.n_stats)))
        return st;
    for (int i = 1; i < r->n_out; i++)
        if ((st = check_len(r, &r->out[i], i == 1 ? "dgamma" : "dbeta", l.n_chan))) return st;
    if (x->numel == 0) return CV_OK;
    if (use_cudnn_bn(r, kind, &l)) return bn_cudnn_backward(r, &l);
    cu_norm_bwd a;
    a.x = x->f;
    a.dy = dy->f;
    a.xa = cu_act_of(x);
    a.dya = cu_act_of(dy);
    a.dxa = cu_act_out_of(&r->out[0]);
    a.gamma = r->in[2].f;
    a.mean = r->in[3].f;
    a.rstd = r->in[4].f;
    a.dx = r->out[0].f;
    a.dgamma = r->n_out > 1 ? r->out[1].f : NULL;
    a.dbeta = r->n_out > 2 ? r->out[2].f : NULL;
    a.through_stats = kind != NORM_BATCH || p->training;
    if (l.nhwc) return cu_bn_nhwc_backward(r, l.n * l.s, l.c, &a); /* coalesced (bn_nhwc.cu) */
    if (x->h) return cu_fail(r, CV_ERR_UNSUPPORTED, "16-bit x must be NHWC");
    norm_bwd_kernel<<<grid_of(l.n_stats), CU_THREADS, 0, r->b->stream>>>(l, a);
    if ((st = cu_launched(r, "norm backward kernel"))) return st;
    if (r->n_out > 1) {
        norm_chan_kernel<<<grid_of(l.n_chan), CU_THREADS, 0, r->b->stream>>>(l, a);
        st = cu_launched(r, "norm dgamma/dbeta kernel");
    }
    return st;
}

int cu_batch_norm(cu_call *r) { return norm_forward(r, NORM_BATCH); }
int cu_layer_norm(cu_call *r) { return norm_forward(r, NORM_LAYER); }
int cu_group_norm(cu_call *r) { return norm_forward(r, NORM_GROUP); }
int cu_batch_norm_bwd(cu_call *r) { return norm_backward(r, NORM_BATCH); }
int cu_layer_norm_bwd(cu_call *r) { return norm_backward(r, NORM_LAYER); }
int cu_group_norm_bwd(cu_call *r) { return norm_backward(r, NORM_GROUP); }
