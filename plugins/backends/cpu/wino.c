/* plugins/backends/cpu/wino.c — our bf16 Winograd F(2x2, 3x3) for 3x3 stride-1
 * pad-1 convolutions with precision = bf16: forward, backward-data and
 * backward-weights on the C16 bf16 activations the engine stores.  oneDNN 2.6 has
 * Winograd for f32 only, and its direct bf16 kernels already run at the
 * vdpbf16ps peak; F(2x2, 3x3) does 16 multiplications per 2x2 output tile where a
 * direct kernel does 36.
 *
 * A 2x2 output tile is Y = Aᵀ [Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)] A from its 4x4 input tile d
 * (origin one pixel up and left: the padding).  The sum over channels is, for each
 * of the 16 positions p of the 4x4 transformed tile, a GEMM
 *     M_p[tile][out] = V_p[tile][in] · U_p[in][out]
 * run here with vdpbf16ps (pairs of bf16 along the reduction, f32 accumulation)
 * on chunks of tiles small enough that V and M stay in L2.  Backward-data is the
 * same convolution of dy with the weights turned 180 degrees and transposed.
 * Backward-weights sums over tiles instead:
 *     dU_p[in][out] = Σ_tile V_p[tile][in] · (A dY Aᵀ)_p[tile][out],  dg = Gᵀ dU G,
 * each thread into its own dU, added at the end.  Transforms run in f32, their
 * results are rounded to bf16 once, as a direct bf16 kernel rounds its inputs.
 * Neighbouring tiles of a row share two input columns, whose first transform pass
 * (Bᵀ d) is done once. */
#include "cpu.h"

#include "simd_bf16.h"

#include <omp.h>
#include <string.h>

#define MR 6  /* GEMM rows per kernel call */
#define NRV 4 /* 16-lane column vectors per kernel call */
/* fewer 2x2 output tiles than this (batch x plane / 4) stay with oneDNN: the
 * per-call filter transform and the workspace outweigh the saving */
#define WINO_MIN_TILES 64
/* nor planes under 8x8: on ResNet-50's 4x4 last stage (512 channels) the direct
 * kernel skips the padding taps, a third of the nominal work, and was faster.  Its
 * weight gradient (one GEMM over im2col there) was 10-24 % faster as Winograd, on
 * 4x4 at batch 32 and on 7x7 at batch 16, but each thread's dU sums take 16 MiB at
 * 512 channels: the planned peak of a 2-thread bf16 ResNet-50 step grew by 35 MiB
 * (8 %) for about 0.5 % of its time, so they stay with the GEMM */
#define WINO_MIN_PLANE 64
/* nor fewer channels than this on either side: the transforms grow with C + K and
 * the GEMM with C x K; measured slower than the direct kernel at 16 and 32 channels
 * (ResNet-20 on CIFAR), faster from 64 (ResNet-50) */
#define WINO_MIN_CHANNELS 64

typedef struct wgeom { int64_t n, h, w, th, tw, tiles; } wgeom;

/* ---- which convolutions ------------------------------------------------------- */
/* the layout the kernel gives operand t */
static int layout_of(const cv_kernel *k, const cv_ktensor *t) {
    const int is_out = t >= k->out && t < k->out + k->n_out;
    return cv_kernel_layout(k, is_out, (int)(is_out ? t - k->out : t - k->in));
}
static int act_ok(const cv_kernel *k, const cv_ktensor *t) {
    return t->dtype == CV_BF16 && t->ndim == 4 && t->shape[1] % 16 == 0 && layout_of(k, t) == CV_LAYOUT_C16;
}

/* 3x3 stride 1 pad 1, no groups, dilation or bias; activations bf16 C16 with
 * channels in blocks of 16, weights f32 plain; conv_algorithm = auto */
int wino_handles(const cpu_backend *b, const cv_kernel *k) {
    if (!b->bf16 || !b->conv_auto || !b->blocked || !k->params || k->params_size < sizeof(cv_conv_params)) return 0;
    if ((k->op != CV_OP_CONV2D && k->op != CV_OP_CONV2D_BWD_DATA && k->op != CV_OP_CONV2D_BWD_WEIGHT) ||
        k->n_in != 2 || k->n_out != 1)
        return 0;
    const cv_conv_params *p = k->params;
    if (p->groups > 1 || p->stride[0] != 1 || p->stride[1] != 1 || p->pad[0] != 1 || p->pad[1] != 1 ||
        p->dilation[0] != 1 || p->dilation[1] != 1)
        return 0;
    const cv_ktensor *x, *w, *y;
    conv_operands(k, &x, &w, &y);
    return act_ok(k, x) && act_ok(k, y) && w->dtype == CV_F32 && w->ndim == 4 && kt_contiguous(w) &&
           layout_of(k, w) == CV_LAYOUT_PLAIN && w->shape[2] == 3 && w->shape[3] == 3 && w->shape[0] == y->shape[1] &&
           w->shape[1] == x->shape[1] && x->shape[0] == y->shape[0] && x->shape[2] == y->shape[2] &&
           x->shape[3] == y->shape[3] && x->shape[1] >= WINO_MIN_CHANNELS && y->shape[1] >= WINO_MIN_CHANNELS &&
           x->shape[2] * x->shape[3] >= WINO_MIN_PLANE &&
           x->shape[0] * ((x->shape[2] + 1) / 2) * ((x->shape[3] + 1) / 2) >= WINO_MIN_TILES;
}

/* ---- vectors of 16 channels (simd_bf16.h: ld16, st16) ---------------------------- */
/* a and b rounded to bf16 and interleaved a0 b0 a1 b1 ..: the pair layout vdpbf16ps reads */
BF16_FN static inline void st_pair(uint16_t *p, __m512 a, __m512 b) {
    static const uint16_t order[32] = { 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                        8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31 };
    const __m512i ab = (__m512i)_mm512_cvtne2ps_pbh(b, a); /* a in the low 16 lanes, b in the high */
    _mm512_storeu_si512(p, _mm512_permutexvar_epi16(_mm512_loadu_si512(order), ab));
}

/* ---- the transforms (per 16 channels; v[4 * i + j] is tile position (i, j)) ---- */
/* Bᵀ d of input column iw of the tile rows starting at oh - 1 (zeros outside the
 * plane); x is one 16-channel block of an image (h x w pixels of 16) */
BF16_FN static inline void col_in(const uint16_t *x, const wgeom *g, int64_t oh, int64_t iw, __m512 c[4]) {
    __m512 d[4];
    for (int i = 0; i < 4; i++) {
        const int64_t ih = oh - 1 + i;
        d[i] = ih >= 0 && ih < g->h && iw >= 0 && iw < g->w ? ld16(x + (ih * g->w + iw) * 16) : _mm512_setzero_ps();
    }
    c[0] = _mm512_sub_ps(d[0], d[2]);
    c[1] = _mm512_add_ps(d[1], d[2]);
    c[2] = _mm512_sub_ps(d[2], d[1]);
    c[3] = _mm512_sub_ps(d[1], d[3]);
}

/* V = Bᵀ d B of the 4x4 input tile whose output tile starts at (oh, ow), from its
 * columns' Bᵀ d in col[4][4]; next: the tile is the right neighbour of the previous
 * call's, whose last two columns (moved into col[0..1]) it shares */
BF16_FN static inline void tile_in(const uint16_t *x, const wgeom *g, int64_t oh, int64_t ow, int next, __m512 col[4][4],
                                   __m512 v[16]) {
    if (next)
        for (int i = 0; i < 4; i++) { col[0][i] = col[2][i]; col[1][i] = col[3][i]; }
    for (int j = next ? 2 : 0; j < 4; j++) col_in(x, g, oh, ow - 1 + j, col[j]);
    for (int i = 0; i < 4; i++) {
        v[4 * i] = _mm512_sub_ps(col[0][i], col[2][i]);
        v[4 * i + 1] = _mm512_add_ps(col[1][i], col[2][i]);
        v[4 * i + 2] = _mm512_sub_ps(col[2][i], col[1][i]);
        v[4 * i + 3] = _mm512_sub_ps(col[1][i], col[3][i]);
    }
}

/* A dY Aᵀ of the 2x2 gradient tile at (oh, ow) (zeros outside the plane) */
BF16_FN static void tile_dy(const uint16_t *dy, const wgeom *g, int64_t oh, int64_t ow, __m512 v[16]) {
    __m512 d[4], r[8];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            d[2 * i + j] = oh + i < g->h && ow + j < g->w ? ld16(dy + ((oh + i) * g->w + ow + j) * 16) : _mm512_setzero_ps();
    for (int j = 0; j < 2; j++) { /* rows: A = [1 0; 1 1; 1 -1; 0 -1] */
        r[j] = d[j];
        r[2 + j] = _mm512_add_ps(d[j], d[2 + j]);
        r[4 + j] = _mm512_sub_ps(d[j], d[2 + j]);
        r[6 + j] = _mm512_sub_ps(_mm512_setzero_ps(), d[2 + j]);
    }
    for (int i = 0; i < 4; i++) {
        v[4 * i] = r[2 * i];
        v[4 * i + 1] = _mm512_add_ps(r[2 * i], r[2 * i + 1]);
        v[4 * i + 2] = _mm512_sub_ps(r[2 * i], r[2 * i + 1]);
        v[4 * i + 3] = _mm512_sub_ps(_mm512_setzero_ps(), r[2 * i + 1]);
    }
}

/* Y = Aᵀ M A written to the 2x2 output tile at (oh, ow) of y (one 16-channel block) */
BF16_FN static void tile_out(const __m512 m[16], const wgeom *g, int64_t oh, int64_t ow, uint16_t *y) {
    __m512 r[8];
    for (int j = 0; j < 4; j++) {
        r[j] = _mm512_add_ps(_mm512_add_ps(m[j], m[4 + j]), m[8 + j]);
        r[4 + j] = _mm512_sub_ps(_mm512_sub_ps(m[4 + j], m[8 + j]), m[12 + j]);
    }
    for (int i = 0; i < 2 && oh + i < g->h; i++) {
        uint16_t *row = y + ((oh + i) * g->w + ow) * 16;
        st16(row, _mm512_add_ps(_mm512_add_ps(r[4 * i], r[4 * i + 1]), r[4 * i + 2]));
        if (ow + 1 < g->w) st16(row + 16, _mm512_sub_ps(_mm512_sub_ps(r[4 * i + 1], r[4 * i + 2]), r[4 * i + 3]));
    }
}

/* U = G g Gᵀ of 16 filters at once (g[3 * i + j], one filter per lane) */
BF16_FN static void filter_in(const __m512 g[9], __m512 u[16]) {
    const __m512 h = _mm512_set1_ps(0.5f);
    __m512 t[12];
    for (int j = 0; j < 3; j++) {
        const __m512 s = _mm512_add_ps(g[j], g[6 + j]);
        t[j] = g[j];
        t[3 + j] = _mm512_mul_ps(h, _mm512_add_ps(s, g[3 + j]));
        t[6 + j] = _mm512_mul_ps(h, _mm512_sub_ps(s, g[3 + j]));
        t[9 + j] = g[6 + j];
    }
    for (int i = 0; i < 4; i++) {
        const __m512 s = _mm512_add_ps(t[3 * i], t[3 * i + 2]);
        u[4 * i] = t[3 * i];
        u[4 * i + 1] = _mm512_mul_ps(h, _mm512_add_ps(s, t[3 * i + 1]));
        u[4 * i + 2] = _mm512_mul_ps(h, _mm512_sub_ps(s, t[3 * i + 1]));
        u[4 * i + 3] = t[3 * i + 2];
    }
}

/* dg = Gᵀ dU G (3x3 from 4x4) */
BF16_FN static void filter_out(const __m512 u[16], __m512 g[9]) {
    const __m512 h = _mm512_set1_ps(0.5f);
    __m512 t[12];
    for (int j = 0; j < 4; j++) {
        const __m512 s = _mm512_mul_ps(h, _mm512_add_ps(u[4 + j], u[8 + j]));
        t[j] = _mm512_add_ps(u[j], s);
        t[4 + j] = _mm512_mul_ps(h, _mm512_sub_ps(u[4 + j], u[8 + j]));
        t[8 + j] = _mm512_add_ps(s, u[12 + j]);
    }
    for (int i = 0; i < 3; i++) {
        const __m512 s = _mm512_mul_ps(h, _mm512_add_ps(t[4 * i + 1], t[4 * i + 2]));
        g[3 * i] = _mm512_add_ps(t[4 * i], s);
        g[3 * i + 1] = _mm512_mul_ps(h, _mm512_sub_ps(t[4 * i + 1], t[4 * i + 2]));
        g[3 * i + 2] = _mm512_add_ps(s, t[4 * i + 3]);
    }
}

/* ---- the GEMM ------------------------------------------------------------------ */
/* c[i * crs + 16 j ..] (+)= Σ_kk A(i, kk) · B(kk, j) for rows i < mr and vectors j < nr:
 * A(i, kk) the bf16 pair at a + i * ars + kk * aks, B(kk, j) the 16 pairs at
 * b + kk * bks + 32 j; acc: add to c instead of overwriting it */
BF16_FN static inline __attribute__((always_inline)) void kern(int mr, int nr, const uint16_t *a, int64_t ars, int64_t aks,
                                                         const uint16_t *b, int64_t bks, int64_t pairs, float *c,
                                                         int64_t crs, int acc) {
    __m512 s[MR][NRV];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) s[i][j] = acc ? _mm512_loadu_ps(c + i * crs + 16 * j) : _mm512_setzero_ps();
    for (int64_t kk = 0; kk < pairs; kk++) {
        __m512bh bv[NRV];
        for (int j = 0; j < nr; j++) bv[j] = (__m512bh)_mm512_loadu_si512(b + kk * bks + 32 * j);
        for (int i = 0; i < mr; i++) {
            int32_t ap;
            memcpy(&ap, a + i * ars + kk * aks, sizeof ap);
            const __m512bh av = (__m512bh)_mm512_set1_epi32(ap);
            for (int j = 0; j < nr; j++) s[i][j] = _mm512_dpbf16_ps(s[i][j], av, bv[j]);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) _mm512_storeu_ps(c + i * crs + 16 * j, s[i][j]);
}

BF16_FN static void kern_any(int mr, int nr, const uint16_t *a, int64_t ars, int64_t aks, const uint16_t *b, int64_t bks,
                        int64_t pairs, float *c, int64_t crs, int acc) {
    switch (mr * 8 + nr) {
#define K_(m, n) case m * 8 + n: kern(m, n, a, ars, aks, b, bks, pairs, c, crs, acc); break;
#define K_ROW(m) K_(m, 1) K_(m, 2) K_(m, 3) K_(m, 4)
    K_ROW(1) K_ROW(2) K_ROW(3) K_ROW(4) K_ROW(5) K_ROW(6)
#undef K_ROW
#undef K_
    default: break;
    }
}

/* rows x (16 nvec) of c from `pairs` reduction pairs, in MR x NRV blocks (strides as kern) */
BF16_FN static void gemm(int64_t rows, int64_t nvec, const uint16_t *a, int64_t ars, int64_t aks, const uint16_t *b,
                    int64_t bks, int64_t pairs, float *c, int64_t crs, int acc) {
    for (int64_t j0 = 0; j0 < nvec; j0 += NRV)
        for (int64_t i0 = 0; i0 < rows; i0 += MR)
            kern_any(rows - i0 < MR ? (int)(rows - i0) : MR, nvec - j0 < NRV ? (int)(nvec - j0) : NRV, a + i0 * ars, ars,
                     aks, b + 32 * j0, bks, pairs, c + i0 * crs + 16 * j0, crs, acc);
}

/* ---- forward and backward-data ------------------------------------------------ */
/* a tile of a chunk: its image, the origin of its 2x2 output tile, and whether it is
 * the right neighbour of the chunk's previous tile (tile_in's next) */
typedef struct wtile { int64_t img, oh, ow; int next; } wtile;
#define MAX_CHUNK 128 /* tiles per chunk, at most (fwd_chunk, BWD_CHUNK) */

static void chunk_tiles(const wgeom *g, int64_t t0, int64_t n, wtile *tl) {
    const int64_t per = g->th * g->tw;
    for (int64_t tt = 0; tt < n; tt++) {
        const int64_t t = t0 + tt, r = t % per;
        tl[tt] = (wtile){ t / per, 2 * (r / g->tw), 2 * (r % g->tw), 0 };
        tl[tt].next = tt > 0 && tl[tt].img == tl[tt - 1].img && tl[tt].oh == tl[tt - 1].oh;
    }
}

/* tiles per chunk of the forward form: V and M of a chunk in about 192 KiB */
static int64_t fwd_chunk(int64_t R, int64_t O) {
    int64_t t = (192 << 10) / (16 * (2 * R + 4 * O));
    t -= t % MR;
    return t < MR ? MR : t > MAX_CHUNK ? MAX_CHUNK : t;
}
/* tiles per chunk of the weight gradient (even).  Each chunk reads and writes all
 * of the thread's dU sums (4 MiB at 256 channels): 128 tiles a chunk measured
 * 4-14 % faster per call than 64 on ResNet-50's layers; 256 was slower at 256
 * channels, whose chunk's transformed tiles then outgrow L3's share */
#define BWD_CHUNK 128

/* the 16 lanes' offsets, `step` floats apart */
BF16_FN static inline __m512i lane_steps(int64_t step) {
    return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                              _mm512_set1_epi32((int)step));
}

/* U[p][r / 2][o][r % 2] (bf16) = (G g Gᵀ)_p of reduction channel r, output channel o:
 * forward g(r, o) = w[o][r]; backward-data (flip) g(r, o) = w[r][o] turned 180
 * degrees.  One block: reduction channels 2 rp and 2 rp + 1, output channels o0.. */
BF16_FN static void filter_block(const float *w, int64_t R, int64_t O, int flip, int64_t rp, int64_t o0, uint16_t *U) {
    const __m512i lanes = lane_steps(flip ? 9 : R * 9);
    __m512 u[2][16];
    for (int h = 0; h < 2; h++) {
        const int64_t r = 2 * rp + h;
        const float *base = flip ? w + (r * O + o0) * 9 : w + (o0 * R + r) * 9;
        __m512 gv[9];
        for (int tap = 0; tap < 9; tap++) gv[tap] = _mm512_i32gather_ps(lanes, base + (flip ? 8 - tap : tap), 4);
        filter_in(gv, u[h]);
    }
    for (int p = 0; p < 16; p++) st_pair(U + ((p * (R / 2) + rp) * O + o0) * 2, u[0][p], u[1][p]);
}

/* (The OpenMP regions below stay outside the AVX-512 functions: clang outlines a
 * region's body without its function's target attribute.) */
static void filters(const float *w, int64_t R, int64_t O, int flip, uint16_t *U, int threads) {
    /* the lanes (16 output channels) of one gather are 9 floats apart with flip, R * 9
     * without: then walk the reduction channels innermost, so that each lane reads
     * its filters in order */
    const int64_t nrp = R / 2, nob = O / 16;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < nrp * nob; i++)
        filter_block(w, R, O, flip, flip ? i / nob : i % nrp, 16 * (flip ? i % nob : i / nrp), U);
}

/* one chunk (tiles t0 .. t0 + n) of the forward form: its input tiles transformed
 * into V[p][tile][R], multiplied into M[p][tile][O], transformed into the output */
BF16_FN static void fwd_chunk_run(const uint16_t *x, int64_t R, const uint16_t *U, int64_t O, uint16_t *y, const wgeom *g,
                                  int64_t tb, int64_t t0, int64_t n, uint16_t *V, float *M) {
    const int64_t hw = g->h * g->w;
    wtile tl[MAX_CHUNK];
    chunk_tiles(g, t0, n, tl);
    for (int64_t cb = 0; cb < R / 16; cb++) {
        __m512 col[4][4], v[16];
        for (int64_t tt = 0; tt < n; tt++) {
            tile_in(x + (tl[tt].img * (R / 16) + cb) * hw * 16, g, tl[tt].oh, tl[tt].ow, tl[tt].next, col, v);
            for (int p = 0; p < 16; p++) st16(V + (p * tb + tt) * R + cb * 16, v[p]);
        }
    }
    for (int p = 0; p < 16; p++)
        gemm(n, O / 16, V + p * tb * R, R, 2, U + p * (R / 2) * O * 2, 2 * O, R / 2, M + p * tb * O, O, 0);
    for (int64_t tt = 0; tt < n; tt++)
        for (int64_t ob = 0; ob < O / 16; ob++) {
            __m512 m[16];
            for (int p = 0; p < 16; p++) m[p] = _mm512_loadu_ps(M + (p * tb + tt) * O + ob * 16);
            tile_out(m, g, tl[tt].oh, tl[tt].ow, y + (tl[tt].img * (O / 16) + ob) * hw * 16);
        }
}

/* y (O channels) = the convolution of x (R channels) with U, chunk by chunk, each
 * thread with its own V and M in ws, `per` bytes apart (wino_layout) */
static void conv_fwd_form(const uint16_t *x, int64_t R, const uint16_t *U, int64_t O, uint16_t *y, const wgeom *g,
                          char *ws, size_t per, int threads) {
    const int64_t tb = fwd_chunk(R, O), chunks = (g->tiles + tb - 1) / tb;
    const size_t vbytes = (size_t)(16 * tb * R) * 2;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t ch = 0; ch < chunks; ch++) {
        uint16_t *V = (uint16_t *)(ws + per * (size_t)omp_get_thread_num());
        const int64_t t0 = ch * tb;
        fwd_chunk_run(x, R, U, O, y, g, tb, t0, g->tiles - t0 < tb ? g->tiles - t0 : tb, V, (float *)((char *)V + vbytes));
    }
}

/* ---- backward-weights ------------------------------------------------------------ */
/* the n tiles tl of a chunk, transformed for every 16-channel block of src (nch
 * channels; Bᵀ d B, or A dY Aᵀ when dy) and stored in pairs of tiles at
 * dst[p][tile / 2][nch][2] (half_tb pairs per position; an odd last tile pairs
 * with zeros) */
BF16_FN static void pair_tiles(const uint16_t *src, int64_t nch, int dy, const wgeom *g, const wtile *tl, int64_t n,
                               int64_t half_tb, uint16_t *dst) {
    const int64_t hw = g->h * g->w;
    for (int64_t cb = 0; cb < nch / 16; cb++) {
        __m512 col[4][4], v[2][16];
        for (int64_t q = 0; 2 * q < n; q++) {
            for (int h = 0; h < 2; h++) {
                if (2 * q + h == n) {
                    for (int p = 0; p < 16; p++) v[1][p] = _mm512_setzero_ps();
                    continue;
                }
                const wtile *t = &tl[2 * q + h];
                const uint16_t *plane = src + (t->img * (nch / 16) + cb) * hw * 16;
                if (dy) tile_dy(plane, g, t->oh, t->ow, v[h]);
                else tile_in(plane, g, t->oh, t->ow, t->next, col, v[h]);
            }
            for (int p = 0; p < 16; p++) st_pair(dst + ((p * half_tb + q) * nch + cb * 16) * 2, v[0][p], v[1][p]);
        }
    }
}

/* one chunk (tiles t0 .. t0 + n) of the weight gradient: V and A dY Aᵀ with tiles
 * in pairs (Vt[p][tile / 2][C][2], Dt[p][tile / 2][K][2]), then dU_p[C][K] (+)=
 * Vt_pᵀ · Dt_p (acc: add to dU instead of overwriting it) */
BF16_FN static void bwd_chunk_run(const uint16_t *dy, int64_t K, const uint16_t *x, int64_t C, const wgeom *g, int64_t t0,
                                  int64_t n, uint16_t *Vt, uint16_t *Dt, float *dU, int acc) {
    const int64_t tb = BWD_CHUNK, pairs = (n + 1) / 2;
    wtile tl[MAX_CHUNK];
    chunk_tiles(g, t0, n, tl);
    pair_tiles(x, C, 0, g, tl, n, tb / 2, Vt);
    pair_tiles(dy, K, 1, g, tl, n, tb / 2, Dt);
    for (int p = 0; p < 16; p++)
        gemm(C, K / 16, Vt + p * (tb / 2) * C * 2, 2, 2 * C, Dt + p * (tb / 2) * K * 2, 2 * K, pairs, dU + p * K * C, K, acc);
}

/* input channel c of dw[K][C][3][3]: the team's dU (`per` bytes apart in ws) added,
 * then Gᵀ dU G */
BF16_FN static void bwd_finish(const char *ws, size_t per, int team, int64_t C, int64_t K, int64_t c, float *dw) {
    const __m512i lanes = lane_steps(C * 9);
    for (int64_t k0 = 0; k0 < K; k0 += 16) {
        __m512 u[16], gv[9];
        for (int p = 0; p < 16; p++) {
            u[p] = _mm512_setzero_ps();
            for (int t = 0; t < team; t++)
                u[p] = _mm512_add_ps(u[p], _mm512_loadu_ps((const float *)(ws + per * (size_t)t) + (p * C + c) * K + k0));
        }
        filter_out(u, gv);
        for (int tap = 0; tap < 9; tap++) _mm512_i32scatter_ps(dw + (k0 * C + c) * 9 + tap, lanes, gv[tap], 4);
    }
}

/* dw from dy (K channels) and x (C channels): each thread sums its chunks into its
 * own dU (then Vt, Dt; `per` bytes apart in ws, wino_layout), then the team's dU are
 * added and turned into dw */
static void conv_bwd_weights(const uint16_t *dy, int64_t K, const uint16_t *x, int64_t C, float *dw, const wgeom *g,
                             char *ws, size_t per, int threads) {
    const int64_t tb = BWD_CHUNK, chunks = (g->tiles + tb - 1) / tb;
    const size_t ubytes = (size_t)(16 * K * C) * 4, vbytes = (size_t)(16 * (tb / 2) * C) * 4;
    #pragma omp parallel num_threads(threads)
    {
        const int me = omp_get_thread_num(), team = omp_get_num_threads(); /* team <= threads */
        float *dU = (float *)(ws + per * (size_t)me);
        uint16_t *Vt = (uint16_t *)((char *)dU + ubytes), *Dt = (uint16_t *)((char *)Vt + vbytes);
        int fresh = 1; /* dU not written yet: the first chunk stores instead of adding */
        #pragma omp for schedule(static) nowait
        for (int64_t ch = 0; ch < chunks; ch++) {
            const int64_t t0 = ch * tb;
            bwd_chunk_run(dy, K, x, C, g, t0, g->tiles - t0 < tb ? g->tiles - t0 : tb, Vt, Dt, dU, !fresh);
            fresh = 0;
        }
        if (fresh) memset(dU, 0, ubytes); /* a thread without chunks */
        #pragma omp barrier
        /* every thread's dU is complete */
        #pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) bwd_finish(ws, per, team, C, K, c, dw);
    }
}

/* ---- the op -------------------------------------------------------------------- */
static wgeom geom_of(const cv_ktensor *x) {
    wgeom g = { x->shape[0], x->shape[2], x->shape[3], (x->shape[2] + 1) / 2, (x->shape[3] + 1) / 2, 0 };
    g.tiles = g.n * g.th * g.tw;
    return g;
}

/* bytes of workspace: the filters U (forward forms), then each thread's slice of
 * per_thread bytes (V, M; or dU, Vt, Dt), every part 64-byte aligned */
static size_t wino_layout(const cv_kernel *k, int threads, size_t *u_bytes, size_t *per_thread) {
    const cv_ktensor *x, *w, *y;
    conv_operands(k, &x, &w, &y);
    const int64_t C = x->shape[1], K = y->shape[1];
    if (k->op == CV_OP_CONV2D_BWD_WEIGHT) {
        *u_bytes = 0;
        *per_thread = (size_t)(16 * K * C) * 4 + (size_t)(16 * (BWD_CHUNK / 2) * (C + K)) * 4;
    } else {
        const int64_t R = k->op == CV_OP_CONV2D ? C : K, O = k->op == CV_OP_CONV2D ? K : C, tb = fwd_chunk(R, O);
        *u_bytes = ((size_t)(16 * R * O) * 2 + 63) & ~(size_t)63;
        *per_thread = (size_t)(16 * tb * R) * 2 + (size_t)(16 * tb * O) * 4;
    }
    *per_thread = (*per_thread + 63) & ~(size_t)63;
    return *u_bytes + *per_thread * (size_t)threads;
}

size_t wino_scratch_bytes(const cpu_backend *b, const cv_kernel *k) {
    size_t u, per;
    return wino_layout(k, b->threads, &u, &per);
}

int run_wino(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    size_t u_bytes, per;
    const size_t need = wino_layout(k, b->threads, &u_bytes, &per);
    cpu_scratch s;
    char *ws;
    if (scratch_begin(&s, k, need) != CV_OK || !(ws = scratch_take(&s, need)))
        return CPU_FAIL(b, err, CV_ERR_NOMEM, "backend cpu: %s: no memory for %zu bytes of Winograd workspace",
                        op_name(k->op), need);
    const cv_ktensor *x, *w, *y;
    conv_operands(k, &x, &w, &y);
    const wgeom g = geom_of(x);
    const int64_t C = x->shape[1], K = y->shape[1];
    if (k->op == CV_OP_CONV2D_BWD_WEIGHT) {
        conv_bwd_weights(y->data, K, x->data, C, w->data, &g, ws, per, b->threads);
    } else {
        const int fwd = k->op == CV_OP_CONV2D;
        uint16_t *U = (uint16_t *)ws;
        filters(w->data, fwd ? C : K, fwd ? K : C, !fwd, U, b->threads);
        if (fwd) conv_fwd_form(x->data, C, U, K, y->data, &g, ws + u_bytes, per, b->threads);
        else conv_fwd_form(y->data, K, U, C, x->data, &g, ws + u_bytes, per, b->threads);
    }
    scratch_end(&s);
    return CV_OK;
}
