/* loss.cu — cross entropy (hard / soft targets, label smoothing, ignore_index,
 * class weights, [N,C,*] logits), BCE with logits, smooth L1 and embedding, with
 * their gradients, as the reference defines them (mean reduction; an all-ignored
 * batch gives loss and gradient 0).  Per-position terms go to scratch arrays of
 * doubles and are summed by one block in a fixed order.  A hard target or an
 * embedding index out of range is found by a min-reduction on the device and
 * reported with its position and value (one small read-back). */
#include "cuint.h"

/* first position whose index is outside [0, hi) (and not ignore when use_ignore); n when none */
__global__ static void first_bad_kernel(const int32_t *idx, int64_t n, int64_t hi, int use_ignore, int32_t ignore,
                                        int64_t *out) {
    __shared__ int64_t sh[CU_THREADS];
    int64_t best = n;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        int32_t v = idx[i];
        if ((use_ignore && v == ignore) || (v >= 0 && v < hi)) continue;
        if (i < best) best = i;
        break; /* later i of this thread are larger */
    }
    sh[threadIdx.x] = best;
    __syncthreads();
    for (int s = CU_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s && sh[threadIdx.x + s] < sh[threadIdx.x]) sh[threadIdx.x] = sh[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[0] = sh[0];
}

/* -1 when every index is fine, else records an error naming position and value */
static int check_indices(cu_call *r, const int32_t *idx, int64_t n, int64_t hi, int use_ignore, int32_t ignore,
                         const char *what) {
    if (n == 0) return CV_OK;
    const int recorded = r->b->recording != NULL; /* a CUDA graph: read back at sync (graph.cu) */
    int64_t *dev = recorded ? cu_graph_check_slot(r, idx, n, hi, use_ignore, ignore, what)
                            : (int64_t *)cu_scratch(r, sizeof(int64_t));
    if (!dev) return r->err->status;
    first_bad_kernel<<<1, CU_THREADS, 0, r->b->stream>>>(idx, n, hi, use_ignore, ignore, dev);
    int64_t pos;
    int st = cu_launched(r, "index check kernel");
    if (st || recorded) return st;
    if (!st) st = cu_read_i64(r, dev, &pos);
    if (st || pos >= n) return st;
    int32_t v = 0;
    st = cu_cuda(r, cudaMemcpy(&v, idx + pos, sizeof v, cudaMemcpyDeviceToHost), "reading a bad index");
    if (st) return st;
    if (use_ignore)
        return cu_fail(r, CV_ERR_INVALID, "%s %d at position %lld is outside [0, %lld) and is not ignore_index %d", what,
                       v, (long long)pos, (long long)hi, ignore);
    return cu_fail(r, CV_ERR_INVALID, "%s %d at position %lld is outside [0, %lld)", what, v, (long long)pos, (long long)hi);
}

/* ---- cross entropy ------------------------------------------------------------------------ */
struct ce_args {
    const float *x, *soft, *w;
    const int32_t *hard;
    int64_t n, c, s;
    double eps;
    int32_t ignore;
};

__device__ static inline double ce_lse(const ce_args &a, int64_t n, int64_t s) {
    double m = -INFINITY, sum = 0.0;
    for (int64_t c = 0; c < a.c; c++) m = fmax(m, (double)a.x[(n * a.c + c) * a.s + s]);
    for (int64_t c = 0; c < a.c; c++) sum += exp((double)a.x[(n * a.c + c) * a.s + s] - m);
    return m + log(sum);
}

/* per position: loss numerator num[pos] and normaliser share den[pos] */
__global__ static void ce_terms_kernel(ce_args a, double *num, double *den) {
    CU_LOOP(pos, a.n * a.s) {
        int64_t n = pos / a.s, s = pos % a.s;
        double C = (double)a.c, total = 0.0, d = 1.0;
        if (a.hard) {
            int32_t y = a.hard[pos];
            if (y == a.ignore || y < 0 || y >= a.c) { num[pos] = 0.0; den[pos] = 0.0; continue; }
            double lse = ce_lse(a, n, s), wy = a.w ? a.w[y] : 1.0;
            total = -(1.0 - a.eps) * wy * ((double)a.x[(n * a.c + y) * a.s + s] - lse);
            for (int64_t c = 0; c < a.c; c++)
                total -= a.eps / C * (a.w ? a.w[c] : 1.0) * ((double)a.x[(n * a.c + c) * a.s + s] - lse);
            d = wy;
        } else {
            double lse = ce_lse(a, n, s);
            for (int64_t c = 0; c < a.c; c++) {
                int64_t i = (n * a.c + c) * a.s + s;
                double t = (1.0 - a.eps) * a.soft[i] + a.eps / C;
                total -= (a.w ? a.w[c] : 1.0) * t * ((double)a.x[i] - lse);
            }
        }
        num[pos] = total;
        den[pos] = d;
    }
}

__global__ static void ce_final_kernel(const double *num, const double *den, int64_t p, float *loss, double *denom_out) {
    __shared__ double sh[CU_THREADS];
    double a = 0.0, b = 0.0;
    for (int64_t i = threadIdx.x; i < p; i += blockDim.x) { a += num[i]; b += den[i]; }
    a = cu_block_sum(a, sh);
    b = cu_block_sum(b, sh);
    if (threadIdx.x == 0) {
        if (loss) loss[0] = b == 0.0 ? 0.0f : (float)(a / b);
        if (denom_out) denom_out[0] = b;
    }
}

__global__ static void ce_grad_kernel(ce_args a, const double *denom, const float *dloss, float *dx) {
    CU_LOOP(pos, a.n * a.s) {
        int64_t n = pos / a.s, s = pos % a.s;
        double C = (double)a.c, D = denom[0];
        int32_t y = a.hard ? a.hard[pos] : 0;
        if ((a.hard && y == a.ignore) || D == 0.0) {
            for (int64_t c = 0; c < a.c; c++) dx[(n * a.c + c) * a.s + s] = 0.0f;
            continue;
        }
        double lse = ce_lse(a, n, s), scale = (double)dloss[0] / D, wsum = 0.0, tw = 0.0;
        for (int64_t c = 0; c < a.c; c++) wsum += a.w ? a.w[c] : 1.0;
        if (!a.hard)
            for (int64_t c = 0; c < a.c; c++)
                tw += (a.w ? a.w[c] : 1.0) * ((1.0 - a.eps) * a.soft[(n * a.c + c) * a.s + s] + a.eps / C);
        for (int64_t c = 0; c < a.c; c++) {
            int64_t i = (n * a.c + c) * a.s + s;
            double pc = exp((double)a.x[i] - lse), w = a.w ? a.w[c] : 1.0, g;
            if (!a.hard) {
                double t = (1.0 - a.eps) * a.soft[i] + a.eps / C;
                g = tw * pc - w * t;
            } else {
                double wy = a.w ? a.w[y] : 1.0;
                g = (1.0 - a.eps) * wy * (pc - (c == y ? 1.0 : 0.0)) + a.eps / C * (wsum * pc - w);
            }
            dx[i] = (float)(g * scale);
        }
    }
}

static int ce_setup(cu_call *r, const cu_t *logits, const cu_t *target, const cu_t *weight, ce_args *a) {
    char sl[96], st[96], sw[96];
    if (logits->ndim < 2)
        return cu_fail(r, CV_ERR_INVALID, "logits %s must be [N,C] or [N,C,H,W]", cu_shape_str(logits, sl, sizeof sl));
    const cv_ce_params *p = (const cv_ce_params *)r->params;
    a->x = logits->f;
    a->n = logits->shape[0];
    a->c = logits->shape[1];
    a->s = 1;
    for (int d = 2; d < logits->ndim; d++) a->s *= logits->shape[d];
    a->eps = p->label_smoothing;
    a->ignore = p->ignore_index;
    a->hard = target->i;
    a->soft = target->i ? NULL : target->f;
    if (!a->hard) {
        if (!cu_same_shape(r, logits, "logits", target, "soft target")) return CV_ERR_INVALID;
    } else {
        int ok = target->ndim == logits->ndim - 1 && target->shape[0] == a->n;
        for (int d = 2; ok && d < logits->ndim; d++) ok = target->shape[d - 1] == logits->shape[d];
        if (!ok)
            return cu_fail(r, CV_ERR_INVALID, "i32 target %s does not match logits %s (want [N] or [N,H,W])",
                           cu_shape_str(target, st, sizeof st), cu_shape_str(logits, sl, sizeof sl));
    }
    a->w = weight ? weight->f : NULL;
    if (weight && weight->numel != a->c)
        return cu_fail(r, CV_ERR_INVALID, "class weight %s must have C = %lld elements", cu_shape_str(weight, sw, sizeof sw),
                       (long long)a->c);
    if (a->hard) return check_indices(r, a->hard, a->n * a->s, a->c, 1, a->ignore, "target");
    return CV_OK;
}

static int scalar_out(cu_call *r, const cu_t *t, const char *what) {
    if (t->numel == 1) return CV_OK;
    char s[96];
    return cu_fail(r, CV_ERR_INVALID, "%s %s must hold one value", what, cu_shape_str(t, s, sizeof s));
}

/* num / den per position, summed; loss (may be NULL) and the normaliser (may be NULL) */
static int ce_sums(cu_call *r, const ce_args *a, float *loss, double *denom) {
    int64_t p = a->n * a->s;
    double *num = (double *)cu_scratch(r, (size_t)(p ? p : 1) * sizeof(double));
    double *den = (double *)cu_scratch(r, (size_t)(p ? p : 1) * sizeof(double));
    if (!num || !den) return r->err->status;
    if (p) ce_terms_kernel<<<cu_blocks(p), CU_THREADS, 0, r->b->stream>>>(*a, num, den);
    int st = cu_launched(r, "cross entropy kernel");
    if (st) return st;
    ce_final_kernel<<<1, CU_THREADS, 0, r->b->stream>>>(num, den, p, loss, denom);
    return cu_launched(r, "cross entropy sum kernel");
}

int cu_cross_entropy(cu_call *r) {
    int st = cu_arity(r, 2, 3, 1, 1);
    ce_args a;
    if (st || (st = ce_setup(r, &r->in[0], &r->in[1], r->n_in == 3 ? &r->in[2] : NULL, &a)) ||
        (st = scalar_out(r, &r->out[0], "loss")))
        return st;
    return ce_sums(r, &a, r->out[0].f, NULL);
}

int cu_cross_entropy_bwd(cu_call *r) {
    int st = cu_arity(r, 3, 4, 1, 1);
    ce_args a;
    const cu_t *dloss = &r->in[r->n_in - 1];
    if (st || (st = ce_setup(r, &r->in[0], &r->in[1], r->n_in == 4 ? &r->in[2] : NULL, &a)) ||
        (st = scalar_out(r, dloss, "dloss")))
        return st;
    if (!cu_same_shape(r, &r->in[0], "logits", &r->out[0], "dlogits")) return CV_ERR_INVALID;
    double *denom = (double *)cu_scratch(r, sizeof(double));
    if (!denom) return r->err->status;
    if ((st = ce_sums(r, &a, NULL, denom))) return st;
    int64_t p = a.n * a.s;
    if (p) ce_grad_kernel<<<cu_blocks(p), CU_THREADS, 0, r->b->stream>>>(a, denom, dloss->f, r->out[0].f);
    return cu_launched(r, "cross entropy backward kernel");
}

/* ---- BCE with logits and smooth L1 ----------------------------------------------------------- */
__global__ static void pair_terms_kernel(const float *x, const float *t, double *out, int64_t n, int fn, double beta) {
    CU_LOOP(i, n) {
        double a = x[i], b = t[i];
        if (fn == 0) {
            out[i] = fmax(a, 0.0) - a * b + log1p(exp(-fabs(a)));
        } else {
            double d = fabs(a - b);
            out[i] = d < beta ? 0.5 * d * d / beta : d - 0.5 * beta;
        }
    }
}

__global__ static void pair_grad_kernel(const float *x, const float *t, const float *dloss, float *dx, int64_t n, int fn,
                                        double beta) {
    double scale = (double)dloss[0] / (double)n;
    CU_LOOP(i, n) {
        double a = x[i], b = t[i], g;
        if (fn == 0) {
            double sg = a >= 0 ? 1.0 / (1.0 + exp(-a)) : exp(a) / (1.0 + exp(a));
            g = sg - b;
        } else {
            double d = a - b;
            g = fabs(d) < beta ? d / beta : (d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0);
        }
        dx[i] = (float)(g * scale);
    }
}

static int pair_loss(cu_call *r, int fn, int backward) {
    int st = cu_arity(r, backward ? 3 : 2, backward ? 3 : 2, 1, 1);
    if (st) return st;
    double beta = 0.0;
    if (fn == 1) {
        beta = ((const cv_smooth_l1_params *)r->params)->beta;
        if (!(beta >= 0.0)) return cu_fail(r, CV_ERR_INVALID, "beta = %g must be >= 0", beta);
    }
    const char *an = fn ? "pred" : "logits";
    if (!cu_same_shape(r, &r->in[0], an, &r->in[1], "target")) return CV_ERR_INVALID;
    int64_t n = r->in[0].numel;
    if (backward) {
        if ((st = scalar_out(r, &r->in[2], "dloss"))) return st;
        if (!cu_same_shape(r, &r->in[0], an, &r->out[0], fn ? "dpred" : "dlogits")) return CV_ERR_INVALID;
        if (n) pair_grad_kernel<<<cu_blocks(n), CU_THREADS, 0, r->b->stream>>>(r->in[0].f, r->in[1].f, r->in[2].f, r->out[0].f, n, fn, beta);
        return cu_launched(r, "loss backward kernel");
    }
    if ((st = scalar_out(r, &r->out[0], "loss"))) return st;
    double *terms = (double *)cu_scratch(r, (size_t)(n ? n : 1) * sizeof(double));
    if (!terms) return r->err->status;
    if (n) pair_terms_kernel<<<cu_blocks(n), CU_THREADS, 0, r->b->stream>>>(r->in[0].f, r->in[1].f, terms, n, fn, beta);
    if ((st = cu_launched(r, "loss kernel"))) return st;
    return cu_sum_f64(r, terms, n, r->out[0].f, n ? 1.0 / (double)n : 0.0, NULL);
}

int cu_bce_logits(cu_call *r) { return pair_loss(r, 0, 0); }
int cu_bce_logits_bwd(cu_call *r) { return pair_loss(r, 0, 1); }
int cu_smooth_l1(cu_call *r) { return pair_loss(r, 1, 0); }
int cu_smooth_l1_bwd(cu_call *r) { return pair_loss(r, 1, 1); }

/* ---- embedding ------------------------------------------------------------------------------ */
__global__ static void embedding_kernel(const float *w, const int32_t *idx, float *y, int64_t n, int64_t d) {
    CU_LOOP(i, n * d) y[i] = w[(int64_t)idx[i / d] * d + i % d];
}

/* dweight[v, j] = sum of dy[i, j] over positions i with idx[i] == v (a gather: no atomics) */
__global__ static void embedding_bwd_kernel(const int32_t *idx, const float *dy, float *dw, int64_t n, int64_t v,
                                            int64_t d) {
    CU_LOOP(o, v * d) {
        int64_t row = o / d, j = o % d;
        double acc = 0.0;
        for (int64_t i = 0; i < n; i++)
            if (idx[i] == row) acc += dy[i * d + j];
        dw[o] = (float)acc;
    }
}

static int embedding_check(cu_call *r, const cu_t *weight, const cu_t *idx, const cu_t *y) {
    char sw[96], si[96], sy[96];
    if (!idx->i) return cu_fail(r, CV_ERR_INVALID, "idx must be i32 (got dtype %d)", idx->dtype);
    int ok = weight->ndim == 2 && y->ndim == idx->ndim + 1 && y->shape[y->ndim - 1] == weight->shape[1];
    for (int d = 0; ok && d < idx->ndim; d++) ok = y->shape[d] == idx->shape[d];
    if (!ok)
        return cu_fail(r, CV_ERR_INVALID, "weight %s, idx %s and y %s do not fit y[..,D] = weight[V,D][idx[..]]",
                       cu_shape_str(weight, sw, sizeof sw), cu_shape_str(idx, si, sizeof si), cu_shape_str(y, sy, sizeof sy));
    return check_indices(r, idx->i, idx->numel, weight->shape[0], 0, 0, "index");
}

int cu_embedding(cu_call *r) {
    int st = cu_arity(r, 2, 2, 1, 1);
    if (st || (st = embedding_check(r, &r->in[0], &r->in[1], &r->out[0]))) return st;
    int64_t n = r->in[1].numel, d = r->in[0].shape[1];
    if (n * d > 0) embedding_kernel<<<cu_blocks(n * d), CU_THREADS, 0, r->b->stream>>>(r->in[0].f, r->in[1].i, r->out[0].f, n, d);
    return cu_launched(r, "embedding kernel");
}

int cu_embedding_bwd(cu_call *r) {
    int st = cu_arity(r, 2, 2, 1, 1);
    if (st || (st = embedding_check(r, &r->out[0], &r->in[0], &r->in[1]))) return st;
    int64_t n = r->in[0].numel, v = r->out[0].shape[0], d = r->out[0].shape[1];
    if (v * d > 0)
        embedding_bwd_kernel<<<cu_blocks(v * d), CU_THREADS, 0, r->b->stream>>>(r->in[0].i, r->in[1].f, r->out[0].f, n, v, d);
    return cu_launched(r, "embedding backward kernel");
}
