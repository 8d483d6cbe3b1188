/* conv.cu — 2-D convolution and its two gradients through cuDNN (v9 legacy API:
 * cudnnConvolutionForward / BackwardData / BackwardFilter) on NCHW f32 tensors.
 *
 * The algorithm of each (op, shapes, params) is chosen once by measurement with
 * cudnnFind*Algorithm: the fastest that succeeded, fits the workspace budget
 * (option workspace_mb) and — with deterministic = true — is marked
 * CUDNN_DETERMINISTIC.  prepare() does the search when the engine builds a plan
 * and keeps the choice in the node's prepared state; the engine then hands the
 * workspace it asked for to every run.  Choices are also cached per backend by
 * shape and data type, so the many identical layers of a ResNet are measured once.
 * TF32 is off unless tf32 = true (CUDNN_FMA_MATH), so results match FP32 references.
 *
 * cuDNN sees x, w and y in one layout and one data type: channels-last (NHWC
 * data, KRSC filter) when x or y is NHWC (ABI 1.3 layouts) and cuDNN has an
 * algorithm for it (else NCHW, through the copies below), else NCHW; 16-bit
 * with precision = bf16 / fp16 (float compute type, tensor-op math), else f32.
 * An operand stored otherwise gets a compute copy in the workspace: inputs are
 * converted into it (half.cu's cast when only the dtype differs, else one strided
 * copy that transposes and casts), cuDNN writes the output's copy, which is
 * converted back.  So the workspace is [copy of x | dw | y (each only when
 * needed) | cuDNN's]; in NHWC the filter is always converted (parameters are
 * KCRS).  A weight that is read (forward, backward-data) is converted into the
 * weight cache (wcache.cu) once after each write, not per convolution.  An NHWC
 * activation the engine stores in 16 bits (ABI 1.4) is cuDNN's operand itself when
 * cuDNN runs NHWC in that dtype: no copy; a bias is then added with one more
 * 16-bit rounding. */
#include <map>
#include <mutex>
#include <new>
#include <string.h>
#include "cuint.h"

struct conv_key {
    int op, dtype; /* dtype: CV_F32, CV_BF16 or CV_F16, what cuDNN computes on */
    int x_nhwc, y_nhwc, nhwc; /* how x and y are stored; nhwc: cuDNN runs channels-last */
    int x_dt, y_dt; /* how x and y are stored: f32, or 16-bit (ABI 1.4, NHWC only) */
    int64_t x[4], w[4], y[4];
    int32_t stride[2], pad[2], dil[2], groups;
    bool operator<(const conv_key &o) const { return memcmp(this, &o, sizeof *this) < 0; }
};

struct conv_choice { int algo; size_t ws; };

struct cu_algo_cache {
    std::mutex mu;
    std::map<conv_key, conv_choice> m;
};

/* what prepare() hands back for a node */
struct conv_prep { conv_key key; conv_choice choice; };

void cu_conv_cache_free(cu_backend *b) {
    delete b->algos;
    b->algos = NULL;
}

/* x, w, y shapes of the convolution behind op, from the kernel's operands */
static int conv_key_of(const cu_backend *b, const cv_kernel *k, conv_key *key) {
    memset(key, 0, sizeof *key);
    if (k->n_in < 2 || k->n_out < 1 || !k->params || k->params_size < sizeof(cv_conv_params)) return -1;
    const cv_ktensor *x, *w, *y;
    if (k->op == CV_OP_CONV2D) {
        x = &k->in[0]; w = &k->in[1]; y = &k->out[0];
        key->x_nhwc = cv_kernel_layout(k, 0, 0) == CV_LAYOUT_NHWC;
        key->y_nhwc = cv_kernel_layout(k, 1, 0) == CV_LAYOUT_NHWC;
    } else if (k->op == CV_OP_CONV2D_BWD_DATA) {
        y = &k->in[0]; w = &k->in[1]; x = &k->out[0];
        key->y_nhwc = cv_kernel_layout(k, 0, 0) == CV_LAYOUT_NHWC;
        key->x_nhwc = cv_kernel_layout(k, 1, 0) == CV_LAYOUT_NHWC;
    } else {
        y = &k->in[0]; x = &k->in[1]; w = &k->out[0];
        key->y_nhwc = cv_kernel_layout(k, 0, 0) == CV_LAYOUT_NHWC;
        key->x_nhwc = cv_kernel_layout(k, 0, 1) == CV_LAYOUT_NHWC;
    }
    key->nhwc = key->x_nhwc || key->y_nhwc;
    key->x_dt = x->dtype;
    key->y_dt = y->dtype;
    if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4) return -1;
    const cv_conv_params *p = (const cv_conv_params *)k->params;
    key->op = k->op;
    key->dtype = b->cfg.precision;
    for (int d = 0; d < 4; d++) { key->x[d] = x->shape[d]; key->w[d] = w->shape[d]; key->y[d] = y->shape[d]; }
    for (int d = 0; d < 2; d++) { key->stride[d] = p->stride[d]; key->pad[d] = p->pad[d]; key->dil[d] = p->dilation[d]; }
    key->groups = p->groups;
    for (int d = 0; d < 4; d++)
        if (key->x[d] > INT32_MAX || key->w[d] > INT32_MAX || key->y[d] > INT32_MAX) return -1;
    return 0;
}

struct conv_descs {
    cudnnTensorDescriptor_t x = NULL, y = NULL;
    cudnnFilterDescriptor_t w = NULL;
    cudnnConvolutionDescriptor_t c = NULL;
    ~conv_descs() {
        if (x) cudnnDestroyTensorDescriptor(x);
        if (y) cudnnDestroyTensorDescriptor(y);
        if (w) cudnnDestroyFilterDescriptor(w);
        if (c) cudnnDestroyConvolutionDescriptor(c);
    }
};

/* operand i (0 x, 1 w, 2 y): its shape, and whether and in which dtype the caller stores it
 * channels-last (weights: f32 KCRS) */
static const int64_t *shape_of(const conv_key *k, int i) { return i == 0 ? k->x : i == 1 ? k->w : k->y; }
static int stored_nhwc(const conv_key *k, int i) { return i == 0 ? k->x_nhwc : i == 2 ? k->y_nhwc : 0; }
static int stored_dt(const conv_key *k, int i) { return i == 0 ? k->x_dt : i == 2 ? k->y_dt : CV_F32; }

/* bytes of operand i's compute copy (0: cuDNN reads the caller's tensor), 256-byte multiples */
static size_t copy_bytes(const conv_key *k, int i) {
    if (stored_dt(k, i) == k->dtype && stored_nhwc(k, i) == k->nhwc) return 0;
    const int64_t *s = shape_of(k, i);
    size_t n = (size_t)(s[0] * s[1] * s[2] * s[3]) * cu_dtype_size(k->dtype);
    return cu_round256(n);
}
/* the copies in the workspace: an input weight's copy is kept in the weight cache instead (wcache.cu) */
static size_t ws_copy_bytes(const conv_key *k, int i) {
    return i == 1 && k->op != CV_OP_CONV2D_BWD_WEIGHT ? 0 : copy_bytes(k, i);
}
static size_t copies_bytes(const conv_key *k) { return ws_copy_bytes(k, 0) + ws_copy_bytes(k, 1) + ws_copy_bytes(k, 2); }

/* operand i between the caller's tensor t (f32, or 16-bit) and its compute copy c: into c
 * (inward), or back */
static int convert(cu_call *r, const conv_key *k, int i, void *t, void *c, int inward) {
    const int64_t *s = shape_of(k, i);
    if (stored_nhwc(k, i) == k->nhwc && stored_dt(k, i) == CV_F32) {
        const int64_t n = s[0] * s[1] * s[2] * s[3];
        return inward ? cu_narrow(r, c, (const float *)t, n) : cu_widen(r, (float *)t, c, n);
    }
    cu_view tv = cu_view_4d(stored_dt(k, i), s, stored_nhwc(k, i), t), cv = cu_view_4d(k->dtype, s, k->nhwc, c);
    return inward ? cu_copy_view(r, &cv, &tv) : cu_copy_view(r, &tv, &cv);
}

/* returns a cuDNN status and names the failing call in *what */
static cudnnStatus_t make_descs(cu_backend *b, const conv_key *k, conv_descs *d, const char **what) {
    cudnnStatus_t s;
    cudnnDataType_t t = k->dtype == CV_BF16 ? CUDNN_DATA_BFLOAT16 : k->dtype == CV_F16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
    cudnnMathType_t math = k->dtype != CV_F32 ? CUDNN_TENSOR_OP_MATH : b->cfg.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
#define DNN(call) do { *what = #call; if ((s = (call)) != CUDNN_STATUS_SUCCESS) return s; } while (0)
    DNN(cudnnCreateTensorDescriptor(&d->x));
    DNN(cudnnCreateTensorDescriptor(&d->y));
    DNN(cudnnCreateFilterDescriptor(&d->w));
    DNN(cudnnCreateConvolutionDescriptor(&d->c));
    cudnnTensorFormat_t f = k->nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    DNN(cudnnSetTensor4dDescriptor(d->x, f, t, (int)k->x[0], (int)k->x[1], (int)k->x[2], (int)k->x[3]));
    DNN(cudnnSetTensor4dDescriptor(d->y, f, t, (int)k->y[0], (int)k->y[1], (int)k->y[2], (int)k->y[3]));
    DNN(cudnnSetFilter4dDescriptor(d->w, t, f, (int)k->w[0], (int)k->w[1], (int)k->w[2], (int)k->w[3]));
    DNN(cudnnSetConvolution2dDescriptor(d->c, k->pad[0], k->pad[1], k->stride[0], k->stride[1], k->dil[0], k->dil[1],
                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    DNN(cudnnSetConvolutionGroupCount(d->c, k->groups));
    DNN(cudnnSetConvolutionMathType(d->c, math));
#undef DNN
    return CUDNN_STATUS_SUCCESS;
}

/* pick the fastest acceptable result of a cudnnFind* call */
template <typename Perf>
static int pick(const Perf *perf, int n, size_t budget, int deterministic, conv_choice *out) {
    for (int i = 0; i < n; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > budget) continue;
        if (deterministic && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
        out->algo = (int)perf[i].algo;
        out->ws = perf[i].memory;
        return 1;
    }
    return 0;
}

/* measure (or look up) the algorithm for key; errors name the op and shapes */
static int choose(cu_backend *b, const conv_key *k, conv_choice *out, cv_error *err) {
    if (!b->algos) {
        b->algos = new (std::nothrow) cu_algo_cache();
        if (!b->algos) return b->host->set_error(err, CV_ERR_NOMEM, "backend cuda: out of memory for the algorithm cache");
    }
    {
        std::lock_guard<std::mutex> lock(b->algos->mu);
        auto it = b->algos->m.find(*k);
        if (it != b->algos->m.end()) { *out = it->second; return CV_OK; }
    }
    conv_descs d;
    const char *what = "";
    cudnnStatus_t s = make_descs(b, k, &d, &what);
    size_t budget = (size_t)b->cfg.workspace_mb << 20;
    int det = b->cfg.deterministic, found = 0, n = 0;
    if (s == CUDNN_STATUS_SUCCESS) {
        if (k->op == CV_OP_CONV2D) {
            cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
            what = "cudnnFindConvolutionForwardAlgorithm";
            s = cudnnFindConvolutionForwardAlgorithm(b->cudnn, d.x, d.w, d.c, d.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf);
            if (s == CUDNN_STATUS_SUCCESS) found = pick(perf, n, budget, det, out);
            if (!found && s == CUDNN_STATUS_SUCCESS) {
                out->algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
                what = "cudnnGetConvolutionForwardWorkspaceSize";
                s = cudnnGetConvolutionForwardWorkspaceSize(b->cudnn, d.x, d.w, d.c, d.y,
                                                            (cudnnConvolutionFwdAlgo_t)out->algo, &out->ws);
            }
        } else if (k->op == CV_OP_CONV2D_BWD_DATA) {
            cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
            what = "cudnnFindConvolutionBackwardDataAlgorithm";
            s = cudnnFindConvolutionBackwardDataAlgorithm(b->cudnn, d.w, d.y, d.c, d.x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                          &n, perf);
            if (s == CUDNN_STATUS_SUCCESS) found = pick(perf, n, budget, det, out);
            if (!found && s == CUDNN_STATUS_SUCCESS) {
                out->algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
                what = "cudnnGetConvolutionBackwardDataWorkspaceSize";
                s = cudnnGetConvolutionBackwardDataWorkspaceSize(b->cudnn, d.w, d.y, d.c, d.x,
                                                                 (cudnnConvolutionBwdDataAlgo_t)out->algo, &out->ws);
            }
        } else {
            cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
            what = "cudnnFindConvolutionBackwardFilterAlgorithm";
            s = cudnnFindConvolutionBackwardFilterAlgorithm(b->cudnn, d.x, d.y, d.c, d.w,
                                                            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf);
            if (s == CUDNN_STATUS_SUCCESS) found = pick(perf, n, budget, det, out);
            if (!found && s == CUDNN_STATUS_SUCCESS) {
                out->algo = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
                what = "cudnnGetConvolutionBackwardFilterWorkspaceSize";
                s = cudnnGetConvolutionBackwardFilterWorkspaceSize(b->cudnn, d.x, d.y, d.c, d.w,
                                                                   (cudnnConvolutionBwdFilterAlgo_t)out->algo, &out->ws);
            }
        }
    }
    if (s != CUDNN_STATUS_SUCCESS)
        return b->host->set_error(err, s == CUDNN_STATUS_NOT_SUPPORTED ? CV_ERR_UNSUPPORTED : CV_ERR_INTERNAL,
                                  "backend cuda: %s: %s failed: %s (x [%lld,%lld,%lld,%lld], w [%lld,%lld,%lld,%lld], "
                                  "y [%lld,%lld,%lld,%lld], stride %dx%d, pad %dx%d, dilation %dx%d, groups %d, %s)",
                                  cu_op_name(k->op), what, cudnnGetErrorString(s), (long long)k->x[0], (long long)k->x[1],
                                  (long long)k->x[2], (long long)k->x[3], (long long)k->w[0], (long long)k->w[1],
                                  (long long)k->w[2], (long long)k->w[3], (long long)k->y[0], (long long)k->y[1],
                                  (long long)k->y[2], (long long)k->y[3], k->stride[0], k->stride[1], k->pad[0],
                                  k->pad[1], k->dil[0], k->dil[1], k->groups,
                                  k->dtype == CV_BF16 ? "bf16" : k->dtype == CV_F16 ? "fp16" : "fp32");
    cudaGetLastError(); /* cudnnFind may leave a recoverable allocation error behind */
    std::lock_guard<std::mutex> lock(b->algos->mu);
    try { b->algos->m[*k] = *out; } catch (...) { /* the cache is an optimisation */ }
    return CV_OK;
}

/* choose() for key; when cuDNN has nothing for it channels-last (UNSUPPORTED), once more in
 * NCHW (key->nhwc = 0): the NHWC operands then go through the compute copies */
static int choose_any_layout(cu_backend *b, conv_key *key, conv_choice *out, cv_error *err) {
    if (!key->nhwc) return choose(b, key, out, err);
    cv_error first;
    memset(&first, 0, sizeof first);
    first.struct_size = sizeof first;
    int st = choose(b, key, out, &first);
    if (st == CV_OK) return CV_OK;
    if (st != CV_ERR_UNSUPPORTED) return b->host->set_error(err, st, "%s", first.message);
    b->host->log(b->host->host_ctx, CV_LOG_DEBUG, "backend cuda", "%s; computing it in NCHW", first.message);
    key->nhwc = 0;
    return choose(b, key, out, err);
}

/* the same convolution, whatever layout cuDNN computes it in (prepare() may have chosen NCHW) */
static int same_conv(const conv_key *a, const conv_key *b) {
    conv_key x = *a;
    x.nhwc = b->nhwc;
    return memcmp(&x, b, sizeof x) == 0;
}

int cu_conv_prepare(cu_backend *b, const cv_kernel *k, void **prepared, size_t *ws, cv_error *err) {
    conv_key key;
    if (conv_key_of(b, k, &key)) return CV_OK; /* run() reports the bad operands with their shapes */
    conv_prep *p = (conv_prep *)b->host->alloc_array(1, sizeof *p);
    if (!p) return b->host->set_error(err, CV_ERR_NOMEM, "backend cuda: out of memory preparing %s", cu_op_name(k->op));
    int st = choose_any_layout(b, &key, &p->choice, err);
    if (st) {
        b->host->free(p);
        return st;
    }
    p->key = key;
    *prepared = p;
    if (ws) *ws = copies_bytes(&key) + p->choice.ws;
    return CV_OK;
}


/* ---- geometry checks as the reference, then the cuDNN call ------------------------------------ */
static int geometry(cu_call *r, const cu_t *x, const cu_t *w, const cu_t *y) {
    const cv_conv_params *p = (const cv_conv_params *)r->params;
    char sx[96], sw[96], sy[96];
    if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4)
        return cu_fail(r, CV_ERR_INVALID, "x %s, w %s and y %s must all be 4-d", cu_shape_str(x, sx, sizeof sx),
                       cu_shape_str(w, sw, sizeof sw), cu_shape_str(y, sy, sizeof sy));
    if (p->groups < 1 || p->stride[0] < 1 || p->stride[1] < 1 || p->dilation[0] < 1 || p->dilation[1] < 1 ||
        p->pad[0] < 0 || p->pad[1] < 0)
        return cu_fail(r, CV_ERR_INVALID, "bad params: groups %d, stride %dx%d, dilation %dx%d, pad %dx%d", p->groups,
                       p->stride[0], p->stride[1], p->dilation[0], p->dilation[1], p->pad[0], p->pad[1]);
    int64_t eh = x->shape[2] + 2 * p->pad[0] - p->dilation[0] * (w->shape[2] - 1) - 1;
    int64_t ew = x->shape[3] + 2 * p->pad[1] - p->dilation[1] * (w->shape[3] - 1) - 1;
    int64_t ho = eh < 0 ? 0 : eh / p->stride[0] + 1, wo = ew < 0 ? 0 : ew / p->stride[1] + 1;
    int64_t c = x->shape[1], o = w->shape[0];
    if (c % p->groups || o % p->groups || w->shape[1] * p->groups != c || eh < 0 || ew < 0 || y->shape[0] != x->shape[0] ||
        y->shape[1] != o || y->shape[2] != ho || y->shape[3] != wo)
        return cu_fail(r, CV_ERR_INVALID,
                       "x %s, w %s, y %s do not fit groups %d, stride %dx%d, pad %dx%d, dilation %dx%d "
                       "(expected y [%lld,%lld,%lld,%lld])",
                       cu_shape_str(x, sx, sizeof sx), cu_shape_str(w, sw, sizeof sw), cu_shape_str(y, sy, sizeof sy),
                       p->groups, p->stride[0], p->stride[1], p->pad[0], p->pad[1], p->dilation[0], p->dilation[1],
                       (long long)x->shape[0], (long long)o, (long long)ho, (long long)wo);
    return CV_OK;
}

__global__ static void bias_kernel(cu_act_out y, const float *b, int64_t n, int64_t o, int64_t s, int nhwc) {
    const cu_act ya = { y.f, y.h, y.dt };
    CU_LOOP(i, n) cu_st(y, i, cu_ld(ya, i) + b[nhwc ? i % o : (i / s) % o]);
}

/* the caller's data of operand t: f32, or 16-bit stored */
static void *data_of(const cu_t *t) { return t->h ? (void *)t->h : (void *)t->f; }

static int conv_run(cu_call *r, const cu_t *x, const cu_t *w, const cu_t *y) {
    int st = geometry(r, x, w, y);
    if (st) return st;
    if (x->numel == 0 || w->numel == 0 || y->numel == 0) {
        /* nothing to convolve: the output is zeros (or the bias, added below) */
        const cu_t *out = &r->out[0];
        st = cu_cuda(r, cudaMemsetAsync(data_of(out), 0, (size_t)out->numel * (out->h ? 2 : sizeof(float)), r->b->stream),
                     "cudaMemsetAsync");
        if (st || r->k->op != CV_OP_CONV2D || r->n_in < 3 || y->numel == 0) return st;
    }
    conv_key key;
    if (conv_key_of(r->b, r->k, &key)) return cu_fail(r, CV_ERR_INVALID, "operands do not describe a 2-D convolution");
    conv_choice ch;
    const conv_prep *prep = (const conv_prep *)r->k->prepared;
    if (prep && same_conv(&prep->key, &key)) {
        key = prep->key;
        ch = prep->choice;
    } else if ((st = choose_any_layout(r->b, &key, &ch, r->err))) {
        return st;
    }
    conv_descs d;
    const char *what = "";
    cudnnStatus_t s = make_descs(r->b, &key, &d, &what);
    if (s != CUDNN_STATUS_SUCCESS) return cu_dnn(r, s, what);
    const float one = 1.0f, zero = 0.0f;
    cudnnHandle_t h = r->b->cudnn;
    if (x->numel && w->numel && y->numel) {
        /* the operands cuDNN sees, x, w, y: the caller's in place, or compute copies at the workspace's start */
        const cu_t *t[3] = { x, w, y };
        void *p[3] = { data_of(x), w->f, data_of(y) };
        int out = r->k->op == CV_OP_CONV2D ? 2 : r->k->op == CV_OP_CONV2D_BWD_DATA ? 0 : 1;
        size_t lo = copies_bytes(&key);
        char *region = lo + ch.ws ? (char *)cu_workspace(r, lo + ch.ws) : NULL;
        if (lo + ch.ws && !region) return r->err->status;
        void *ws = ch.ws ? region + lo : NULL;
        size_t off = 0;
        for (int i = 0; i < 3 && !st; i++) {
            size_t n = ws_copy_bytes(&key, i);
            if (n) {
                p[i] = region + off;
                off += n;
                if (i != out) st = convert(r, &key, i, data_of(t[i]), p[i], 1);
            } else if (copy_bytes(&key, i)) { /* the weight, read: its cached copy */
                int current = 0;
                if (!(p[i] = cu_wcache_get(r, w->f, key.w, key.dtype, key.nhwc, &current))) return r->err->status;
                if (!current && (st = convert(r, &key, i, w->f, p[i], 1))) cu_wcache_written(r->b, w->f, 1);
            }
        }
        if (st) return st;
        if (r->k->op == CV_OP_CONV2D)
            st = cu_dnn(r, cudnnConvolutionForward(h, &one, d.x, p[0], d.w, p[1], d.c, (cudnnConvolutionFwdAlgo_t)ch.algo,
                                                   ws, ch.ws, &zero, d.y, p[2]),
                        "cudnnConvolutionForward");
        else if (r->k->op == CV_OP_CONV2D_BWD_DATA)
            st = cu_dnn(r, cudnnConvolutionBackwardData(h, &one, d.w, p[1], d.y, p[2], d.c,
                                                        (cudnnConvolutionBwdDataAlgo_t)ch.algo, ws, ch.ws, &zero, d.x, p[0]),
                        "cudnnConvolutionBackwardData");
        else
            st = cu_dnn(r, cudnnConvolutionBackwardFilter(h, &one, d.x, p[0], d.y, p[2], d.c,
                                                          (cudnnConvolutionBwdFilterAlgo_t)ch.algo, ws, ch.ws, &zero, d.w,
                                                          p[1]),
                        "cudnnConvolutionBackwardFilter");
        if (!st && copy_bytes(&key, out)) st = convert(r, &key, out, data_of(t[out]), p[out], 0);
    }
    if (!st && r->k->op == CV_OP_CONV2D && r->n_in == 3) {
        if (r->in[2].numel != w->shape[0]) {
            char sb[96];
            return cu_fail(r, CV_ERR_INVALID, "bias %s must have %lld elements", cu_shape_str(&r->in[2], sb, sizeof sb),
                           (long long)w->shape[0]);
        }
        int64_t sp = y->shape[2] * y->shape[3];
        if (y->numel)
            bias_kernel<<<cu_blocks(y->numel), CU_THREADS, 0, r->b->stream>>>(cu_act_out_of(y), r->in[2].f, y->numel,
                                                                             w->shape[0], sp ? sp : 1, y->nhwc);
        st = cu_launched(r, "conv bias kernel");
    }
    return st;
}

int cu_conv2d(cu_call *r) {
    int st = cu_arity(r, 2, 3, 1, 1);
    return st ? st : conv_run(r, &r->in[0], &r->in[1], &r->out[0]);
}
int cu_conv2d_bwd_data(cu_call *r) {
    int st = cu_arity(r, 2, 2, 1, 1);
    return st ? st : conv_run(r, &r->out[0], &r->in[1], &r->in[0]);
}
int cu_conv2d_bwd_weight(cu_call *r) {
    int st = cu_arity(r, 2, 2, 1, 1);
    return st ? st : conv_run(r, &r->in[1], &r->out[0], &r->in[0]);
}
