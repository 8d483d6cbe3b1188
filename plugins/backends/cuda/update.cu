/* update.cu — the in-place optimizer updates over flat f32 buffers: SGD, Adam /
 * AdamW, RMSprop and LAMB, with torch.optim's formulas as the reference writes
 * them (per-element arithmetic in double).  LAMB's two norms are summed over
 * fixed chunks and then by one block, so the trust ratio is reproducible. */
#include <math.h>
#include "cuint.h"

static int update_check(cu_call *r, int n_min, int n_max) {
    int st = cu_arity(r, 1, 1, n_min, n_max);
    if (st) return st;
    for (int i = 0; i < r->n_out; i++)
        if (r->out[i].numel != r->in[0].numel) {
            char sg[96], so[96];
            return cu_fail(r, CV_ERR_INVALID, "output %d %s and grad %s have different element counts", i,
                           cu_shape_str(&r->out[i], so, sizeof so), cu_shape_str(&r->in[0], sg, sizeof sg));
        }
    return CV_OK;
}

__global__ static void sgd_kernel(const float *grad, float *param, float *buf, int64_t n, cv_sgd_params p) {
    CU_LOOP(i, n) {
        double g = (double)grad[i] + (double)p.weight_decay * param[i];
        if (p.momentum != 0.0f) {
            double b = (double)p.momentum * buf[i] + (1.0 - (double)p.dampening) * g;
            buf[i] = (float)b;
            g = p.nesterov ? g + (double)p.momentum * b : b;
        }
        param[i] = (float)(param[i] - (double)p.lr * g);
    }
}

int cu_sgd_update(cu_call *r) {
    const cv_sgd_params *p = (const cv_sgd_params *)r->params;
    int st = update_check(r, p->momentum != 0.0f ? 2 : 1, 2);
    if (st) return st;
    int64_t n = r->in[0].numel;
    if (n) sgd_kernel<<<cu_blocks(n), CU_THREADS, 0, r->b->stream>>>(r->in[0].f, r->out[0].f, r->n_out > 1 ? r->out[1].f : NULL, n, *p);
    return cu_launched(r, "sgd kernel");
}

__global__ static void adam_kernel(const float *grad, float *param, float *m, float *v, int64_t n, cv_adam_params p,
                                   double bc1, double bc2) {
    double b1 = p.beta1, b2 = p.beta2, lr = p.lr, wd = p.weight_decay;
    CU_LOOP(i, n) {
        double w = param[i], g = grad[i];
        if (p.decoupled) w *= 1.0 - lr * wd;
        else g += wd * w;
        double mi = b1 * m[i] + (1.0 - b1) * g, vi = b2 * v[i] + (1.0 - b2) * g * g;
        m[i] = (float)mi;
        v[i] = (float)vi;
        w -= lr / bc1 * mi / (sqrt(vi) / sqrt(bc2) + (double)p.eps);
        param[i] = (float)w;
    }
}

static int step_check(cu_call *r, const cv_adam_params *p) {
    if (p->step < 1) return cu_fail(r, CV_ERR_INVALID, "step %lld must be >= 1 (it is 1-based)", (long long)p->step);
    return CV_OK;
}

int cu_adam_update(cu_call *r) {
    const cv_adam_params *p = (const cv_adam_params *)r->params;
    int st = update_check(r, 3, 3);
    if (st || (st = step_check(r, p))) return st;
    int64_t n = r->in[0].numel;
    double bc1 = 1.0 - pow((double)p->beta1, (double)p->step), bc2 = 1.0 - pow((double)p->beta2, (double)p->step);
    if (n) adam_kernel<<<cu_blocks(n), CU_THREADS, 0, r->b->stream>>>(r->in[0].f, r->out[0].f, r->out[1].f, r->out[2].f, n, *p, bc1, bc2);
    return cu_launched(r, "adam kernel");
}

__global__ static void rmsprop_kernel(const float *grad, float *param, float *sq, float *mom, int64_t n,
                                      cv_rmsprop_params p) {
    double a = p.alpha;
    CU_LOOP(i, n) {
        double g = (double)grad[i] + (double)p.weight_decay * param[i];
        double s = a * sq[i] + (1.0 - a) * g * g;
        sq[i] = (float)s;
        double avg = p.eps_inside_sqrt ? sqrt(s + (double)p.eps) : sqrt(s) + (double)p.eps;
        double step = g / avg;
        if (p.momentum > 0.0f) {
            step = (double)p.momentum * mom[i] + step;
            mom[i] = (float)step;
        }
        param[i] = (float)(param[i] - (double)p.lr * step);
    }
}

int cu_rmsprop_update(cu_call *r) {
    const cv_rmsprop_params *p = (const cv_rmsprop_params *)r->params;
    int st = update_check(r, p->momentum > 0.0f ? 3 : 2, 3);
    if (st) return st;
    int64_t n = r->in[0].numel;
    if (n)
        rmsprop_kernel<<<cu_blocks(n), CU_THREADS, 0, r->b->stream>>>(r->in[0].f, r->out[0].f, r->out[1].f,
                                                                       r->n_out > 2 ? r->out[2].f : NULL, n, *p);
    return cu_launched(r, "rmsprop kernel");
}

/* ---- LAMB ------------------------------------------------------------------------------------ */
__device__ static inline double lamb_u(const float *m, const float *v, const float *param, int64_t i, double bc1,
                                       double bc2, double eps, double wd) {
    return ((double)m[i] / bc1) / (sqrt((double)v[i] / bc2) + eps) + wd * param[i];
}

__global__ static void lamb_moments_kernel(const float *grad, const float *param, float *m, float *v, int64_t n,
                                           int64_t chunk, cv_adam_params p, double bc1, double bc2, double *part) {
    __shared__ double sh[CU_THREADS];
    double b1 = p.beta1, b2 = p.beta2, pn = 0.0, un = 0.0;
    int64_t lo = (int64_t)blockIdx.x * chunk, hi = lo + chunk < n ? lo + chunk : n;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        double g = grad[i];
        m[i] = (float)(b1 * m[i] + (1.0 - b1) * g);
        v[i] = (float)(b2 * v[i] + (1.0 - b2) * g * g);
        double u = lamb_u(m, v, param, i, bc1, bc2, p.eps, p.weight_decay);
        pn += (double)param[i] * param[i];
        un += u * u;
    }
    pn = cu_block_sum(pn, sh);
    un = cu_block_sum(un, sh);
    if (threadIdx.x == 0) { part[2 * blockIdx.x] = pn; part[2 * blockIdx.x + 1] = un; }
}

__global__ static void lamb_trust_kernel(const double *part, int64_t chunks, double *trust) {
    __shared__ double sh[CU_THREADS];
    double pn = 0.0, un = 0.0;
    for (int64_t i = threadIdx.x; i < chunks; i += blockDim.x) { pn += part[2 * i]; un += part[2 * i + 1]; }
    pn = cu_block_sum(pn, sh);
    un = cu_block_sum(un, sh);
    if (threadIdx.x == 0) trust[0] = pn > 0.0 && un > 0.0 ? sqrt(pn) / sqrt(un) : 1.0;
}

__global__ static void lamb_apply_kernel(float *param, const float *m, const float *v, int64_t n, cv_adam_params p,
                                         double bc1, double bc2, const double *trust) {
    double t = trust[0];
    CU_LOOP(i, n) {
        double u = lamb_u(m, v, param, i, bc1, bc2, p.eps, p.weight_decay);
        param[i] = (float)(param[i] - (double)p.lr * t * u);
    }
}

int cu_lamb_update(cu_call *r) {
    const cv_adam_params *p = (const cv_adam_params *)r->params;
    int st = update_check(r, 3, 3);
    if (st || (st = step_check(r, p))) return st;
    int64_t n = r->in[0].numel;
    if (n == 0) return CV_OK;
    double bc1 = 1.0 - pow((double)p->beta1, (double)p->step), bc2 = 1.0 - pow((double)p->beta2, (double)p->step);
    int64_t chunk = (n + 1023) / 1024, chunks = (n + chunk - 1) / chunk;
    double *part = (double *)cu_scratch(r, (size_t)(2 * chunks + 1) * sizeof(double));
    if (!part) return r->err->status;
    double *trust = part + 2 * chunks;
    cudaStream_t s = r->b->stream;
    lamb_moments_kernel<<<(unsigned)chunks, CU_THREADS, 0, s>>>(r->in[0].f, r->out[0].f, r->out[1].f, r->out[2].f, n, chunk,
                                                               *p, bc1, bc2, part);
    lamb_trust_kernel<<<1, CU_THREADS, 0, s>>>(part, chunks, trust);
    lamb_apply_kernel<<<cu_blocks(n), CU_THREADS, 0, s>>>(r->out[0].f, r->out[1].f, r->out[2].f, n, *p, bc1, bc2, trust);
    return cu_launched(r, "lamb kernels");
}
