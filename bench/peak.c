/* bench/peak.c — the machine's measured arithmetic peak: each OpenMP thread runs
 * chains of independent AVX-512 fused multiply-adds (enough chains to cover the
 * latency on two ports), so the result is the throughput ceiling a GEMM could
 * reach.  fp32: vfmadd (16 multiply-adds per instruction), the peak of
 * bench/vs_torch.sh; bf16: vdpbf16ps (32 bf16 products summed into 16 f32 lanes),
 * the ceiling of a bf16 convolution on a CPU without AMX.  Best of several
 * trials; prints one JSON line.
 *   Build: gcc -O2 -mavx512f -mavx512bf16 -fopenmp bench/peak.c -o peak
 *   peak [threads] [fp32|bf16]   (default 2 fp32) */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAINS 12 /* >= FMA latency (4) x FMA ports (2), and few enough to stay in registers */

/* 12 independent accumulators, each updated by STEP(c) every iteration, summed at
 * the end (which keeps the loop alive).  Separate variables, not an array: gcc
 * keeps an array of __m512 in memory. */
#define RUN_CHAINS(STEP)                                                                          \
    __m512 c0 = _mm512_set1_ps(1.00f), c1 = _mm512_set1_ps(1.01f), c2 = _mm512_set1_ps(1.02f);    \
    __m512 c3 = _mm512_set1_ps(1.03f), c4 = _mm512_set1_ps(1.04f), c5 = _mm512_set1_ps(1.05f);    \
    __m512 c6 = _mm512_set1_ps(1.06f), c7 = _mm512_set1_ps(1.07f), c8 = _mm512_set1_ps(1.08f);    \
    __m512 c9 = _mm512_set1_ps(1.09f), c10 = _mm512_set1_ps(1.10f), c11 = _mm512_set1_ps(1.11f);  \
    for (long i = 0; i < iters; i++) {                                                            \
        STEP(c0); STEP(c1); STEP(c2); STEP(c3); STEP(c4); STEP(c5);                               \
        STEP(c6); STEP(c7); STEP(c8); STEP(c9); STEP(c10); STEP(c11);                             \
    }                                                                                             \
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),         \
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));        \
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));          \
    return _mm512_reduce_add_ps(s)

static float run_fp32(long iters) {
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
#define FMA(c) c = _mm512_fmadd_ps(c, a, b)
    RUN_CHAINS(FMA);
}

/* c += a[2i] * b[2i] + a[2i+1] * b[2i+1] per lane: 32 bf16 products per instruction */
static float run_bf16(long iters) {
    const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3380); /* 1, ~6e-8 */
#define DPBF16(c) c = _mm512_dpbf16_ps(c, a, b)
    RUN_CHAINS(DPBF16);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1) threads = 1;
    const int bf16 = argc > 2 && strcmp(argv[2], "bf16") == 0;
    float (*run)(long) = bf16 ? run_bf16 : run_fp32;
    const int macs = bf16 ? 32 : 16; /* multiply-adds per instruction */
    const long iters = 20 * 1000 * 1000;
    double best = 0, sink = 0;
    for (int trial = 0; trial < 5; trial++) {
        double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += run(iters);
        double dt = omp_get_wtime() - t0;
        double gflops = (double)threads * (double)iters * CHAINS * macs * 2 / dt / 1e9;
        if (gflops > best) best = gflops;
    }
    printf("{\"threads\": %d, \"peak_%s_gflops\": %.1f, \"per_thread\": %.1f, \"checksum\": %.3g}\n", threads,
           bf16 ? "bf16" : "fp32", best, best / threads, sink);
    return 0;
}
