/* bn_nhwc.cu — our batch norm in training (forward) and its backward on channels-last
 * (NHWC) operands, i.e. x as [rows = N*H*W, C] row-major.  norm.cu's kernels give one
 * block to each channel, which reads NHWC with a stride of C; here consecutive threads
 * take consecutive channels of a row, so every read is coalesced:
 *   1. each of up to BN_CHUNKS blocks of rows sums its rows per channel (double),
 *   2. one thread per channel adds the chunks' partial sums in chunk order,
 *   3. the result is applied element-wise.
 * Fixed order everywhere, no atomics: bitwise reproducible, like the rest of the backend
 * (the summation order differs from the NCHW kernels', so results differ in the last bits).
 * The forward is two passes like norm.cu's (mean, then the biased variance around it).
 * Used with batch_norm = own or deterministic = true, and for activations stored in
 * 16 bits (ABI 1.4: read and written through cu_ld / cu_st); cuDNN's batch norm takes
 * NHWC f32 itself otherwise.  Scratch: 2 * BN_CHUNKS * C + 4 * C doubles (dispatch.cu reserves it). */
#include "cuint.h"

enum { BN_CHUNKS = 64 };

struct bn_sum_args {
    cu_act x, dy; /* f32 or 16-bit (ABI 1.4) */
    const double *mean, *rstd; /* per channel; the second pass and the backward only */
    int64_t rows, c, per_chunk, chunks;
    int pass; /* 0: sum x; 1: sum (x - mean)^2; 2: sum dy and dy * xhat */
};

/* partial sums: block b serves chunk b / tiles and channels of tile b % tiles */
__global__ static void bn_partial_kernel(bn_sum_args a, double *p0, double *p1) {
    const int64_t tiles = (a.c + blockDim.x - 1) / blockDim.x;
    for (int64_t b = blockIdx.x; b < a.chunks * tiles; b += gridDim.x) {
        const int64_t chunk = b / tiles, ch = (b % tiles) * blockDim.x + threadIdx.x;
        if (ch >= a.c) continue;
        const int64_t r0 = chunk * a.per_chunk, r1 = r0 + a.per_chunk < a.rows ? r0 + a.per_chunk : a.rows;
        double s0 = 0.0, s1 = 0.0;
        for (int64_t row = r0; row < r1; row++) {
            const int64_t i = row * a.c + ch;
            if (a.pass == 0) {
                s0 += cu_ld(a.x, i);
            } else if (a.pass == 1) {
                const double d = cu_ld(a.x, i) - a.mean[ch];
                s0 += d * d;
            } else {
                const double dy = cu_ld(a.dy, i);
                s0 += dy;
                s1 += dy * ((cu_ld(a.x, i) - a.mean[ch]) * a.rstd[ch]);
            }
        }
        p0[chunk * a.c + ch] = s0;
        if (p1) p1[chunk * a.c + ch] = s1;
    }
}

/* out[ch] = the chunks' partial sums of channel ch, in chunk order */
__global__ static void bn_total_kernel(const double *p, int64_t chunks, int64_t c, double *out) {
    CU_LOOP(ch, c) {
        double s = 0.0;
        for (int64_t k = 0; k < chunks; k++) s += p[k * c + ch];
        out[ch] = s;
    }
}

/* per-channel sums of pass a.pass into t0 (and t1); p0, p1 hold chunks * c partials */
static int channel_sums(cu_call *r, bn_sum_args a, double *p0, double *p1, double *t0, double *t1) {
    const int64_t tiles = (a.c + CU_THREADS - 1) / CU_THREADS;
    const int64_t blocks = a.chunks * tiles;
    bn_partial_kernel<<<(unsigned)(blocks < (1 << 20) ? blocks : (1 << 20)), CU_THREADS, 0, r->b->stream>>>(a, p0, p1);
    int st = cu_launched(r, "batch norm partial sums kernel");
    if (!st) bn_total_kernel<<<cu_blocks(a.c), CU_THREADS, 0, r->b->stream>>>(p0, a.chunks, a.c, t0);
    if (!st) st = cu_launched(r, "batch norm channel sums kernel");
    if (!st && p1) bn_total_kernel<<<cu_blocks(a.c), CU_THREADS, 0, r->b->stream>>>(p1, a.chunks, a.c, t1);
    return st ? st : p1 ? cu_launched(r, "batch norm channel sums kernel") : CV_OK;
}

/* scratch: [partials 0 | partials 1 | 4 per-channel double arrays] */
static double *scratch_of(cu_call *r, int64_t chunks, int64_t c) {
    return (double *)cu_scratch(r, (size_t)(2 * chunks * c + 4 * c) * sizeof(double));
}

static bn_sum_args sum_args(int64_t rows, int64_t c, cu_act x, cu_act dy) {
    bn_sum_args a;
    a.x = x;
    a.dy = dy;
    a.mean = a.rstd = NULL;
    a.rows = rows;
    a.c = c;
    a.chunks = rows < BN_CHUNKS ? rows : BN_CHUNKS;
    a.per_chunk = (rows + a.chunks - 1) / a.chunks;
    a.chunks = (rows + a.per_chunk - 1) / a.per_chunk;
    a.pass = 0;
    return a;
}

/* mean and rstd (double) from the sums; running statistics and the saved ones */
__global__ static void bn_stats_kernel(cu_norm_fwd n, int64_t rows, int64_t c, const double *sum, const double *sq,
                                       double *mean, double *rstd, int pass) {
    CU_LOOP(ch, c) {
        if (pass == 0) {
            mean[ch] = sum[ch] / (double)rows;
            continue;
        }
        const double var = sq[ch] / (double)rows, m = n.momentum;
        rstd[ch] = 1.0 / sqrt(var + n.eps);
        if (n.rm_out) {
            const double unbias = (double)rows / (double)(rows - 1), old_m = n.rm_in[ch], old_v = n.rv_in[ch];
            n.rm_out[ch] = (float)((1.0 - m) * old_m + m * mean[ch]);
            n.rv_out[ch] = (float)((1.0 - m) * old_v + m * var * unbias);
        }
        if (n.save_mean) n.save_mean[ch] = (float)mean[ch];
        if (n.save_rstd) n.save_rstd[ch] = (float)rstd[ch];
    }
}

__global__ static void bn_apply_kernel(cu_norm_fwd n, int64_t rows, int64_t c, const double *mean, const double *rstd) {
    CU_LOOP(i, rows * c) {
        const int64_t ch = i % c;
        const double g = n.gamma ? n.gamma[ch] : 1.0, b = n.beta ? n.beta[ch] : 0.0;
        cu_st(n.ya, i, (float)((cu_ld(n.xa, i) - mean[ch]) * rstd[ch] * g + b));
    }
}

int cu_bn_nhwc_forward(cu_call *r, int64_t rows, int64_t c, const cu_norm_fwd *n) {
    const cu_act none = { NULL, NULL, CV_F32 };
    bn_sum_args a = sum_args(rows, c, n->xa, none);
    double *s = scratch_of(r, a.chunks, c);
    if (!s) return r->err->status;
    double *p0 = s, *t0 = s + 2 * a.chunks * c, *mean = t0 + c, *rstd = mean + c;
    int st = channel_sums(r, a, p0, NULL, t0, NULL);
    if (!st) bn_stats_kernel<<<cu_blocks(c), CU_THREADS, 0, r->b->stream>>>(*n, rows, c, t0, nullptr, mean, rstd, 0);
    if (!st) st = cu_launched(r, "batch norm mean kernel");
    a.pass = 1;
    a.mean = mean;
    if (!st) st = channel_sums(r, a, p0, NULL, t0, NULL);
    if (!st) bn_stats_kernel<<<cu_blocks(c), CU_THREADS, 0, r->b->stream>>>(*n, rows, c, nullptr, t0, mean, rstd, 1);
    if (!st) st = cu_launched(r, "batch norm variance kernel");
    if (!st) bn_apply_kernel<<<cu_blocks(rows * c), CU_THREADS, 0, r->b->stream>>>(*n, rows, c, mean, rstd);
    return st ? st : cu_launched(r, "batch norm apply kernel");
}

/* the saved f32 statistics as doubles */
__global__ static void bn_widen_kernel(const float *m, const float *rs, int64_t c, double *mean, double *rstd) {
    CU_LOOP(ch, c) {
        mean[ch] = m[ch];
        rstd[ch] = rs[ch];
    }
}

/* dx, and dgamma = sum dy * xhat, dbeta = sum dy */
__global__ static void bn_backward_kernel(cu_norm_bwd n, int64_t rows, int64_t c, const double *mean,
                                          const double *rstd, const double *sdy, const double *sdyx) {
    CU_LOOP(i, rows * c) {
        const int64_t ch = i % c;
        const double g = n.gamma[ch], rs = rstd[ch], xhat = (cu_ld(n.xa, i) - mean[ch]) * rs;
        double d = (double)cu_ld(n.dya, i) * g;
        if (n.through_stats) d -= (g * sdy[ch] + xhat * g * sdyx[ch]) / (double)rows;
        cu_st(n.dxa, i, (float)(d * rs));
        if (i < c) {
            if (n.dgamma) n.dgamma[i] = (float)sdyx[i];
            if (n.dbeta) n.dbeta[i] = (float)sdy[i];
        }
    }
}

int cu_bn_nhwc_backward(cu_call *r, int64_t rows, int64_t c, const cu_norm_bwd *n) {
    bn_sum_args a = sum_args(rows, c, n->xa, n->dya);
    double *s = scratch_of(r, a.chunks, c);
    if (!s) return r->err->status;
    double *p0 = s, *p1 = s + a.chunks * c, *sdy = p1 + a.chunks * c, *sdyx = sdy + c, *mean = sdyx + c, *rstd = mean + c;
    bn_widen_kernel<<<cu_blocks(c), CU_THREADS, 0, r->b->stream>>>(n->mean, n->rstd, c, mean, rstd);
    int st = cu_launched(r, "batch norm statistics kernel");
    a.pass = 2;
    a.mean = mean;
    a.rstd = rstd;
    if (!st) st = channel_sums(r, a, p0, p1, sdy, sdyx);
    if (!st) bn_backward_kernel<<<cu_blocks(rows * c), CU_THREADS, 0, r->b->stream>>>(*n, rows, c, mean, rstd, sdy, sdyx);
    return st ? st : cu_launched(r, "batch norm backward kernel");
}

size_t cu_bn_nhwc_scratch(int64_t rows, int64_t c) {
    const int64_t chunks = rows < BN_CHUNKS ? rows : BN_CHUNKS;
    return (size_t)(2 * chunks * c + 4 * c) * sizeof(double) + 256;
}
