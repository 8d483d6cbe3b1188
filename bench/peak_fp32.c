/* bench/peak_fp32.c — the machine's measured fp32 peak for bench/vs_torch.sh:
 * each OpenMP thread runs chains of independent AVX-512 fused multiply-adds
 * (enough chains to cover the FMA latency on two ports), so the result is the
 * FMA throughput ceiling a GEMM could reach.  Best of several trials; prints
 * one JSON line.  Build: gcc -O2 -mavx512f -fopenmp bench/peak_fp32.c
 *   peak_fp32 [threads]   (default 2) */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define CHAINS 12 /* >= FMA latency (4) x FMA ports (2), and few enough to stay in registers */

/* separate variables, not an array: gcc keeps an array of __m512 in memory */
static float run(long iters) {
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    __m512 c0 = _mm512_set1_ps(1.00f), c1 = _mm512_set1_ps(1.01f), c2 = _mm512_set1_ps(1.02f);
    __m512 c3 = _mm512_set1_ps(1.03f), c4 = _mm512_set1_ps(1.04f), c5 = _mm512_set1_ps(1.05f);
    __m512 c6 = _mm512_set1_ps(1.06f), c7 = _mm512_set1_ps(1.07f), c8 = _mm512_set1_ps(1.08f);
    __m512 c9 = _mm512_set1_ps(1.09f), c10 = _mm512_set1_ps(1.10f), c11 = _mm512_set1_ps(1.11f);
    for (long i = 0; i < iters; i++) {
        c0 = _mm512_fmadd_ps(c0, a, b);
        c1 = _mm512_fmadd_ps(c1, a, b);
        c2 = _mm512_fmadd_ps(c2, a, b);
        c3 = _mm512_fmadd_ps(c3, a, b);
        c4 = _mm512_fmadd_ps(c4, a, b);
        c5 = _mm512_fmadd_ps(c5, a, b);
        c6 = _mm512_fmadd_ps(c6, a, b);
        c7 = _mm512_fmadd_ps(c7, a, b);
        c8 = _mm512_fmadd_ps(c8, a, b);
        c9 = _mm512_fmadd_ps(c9, a, b);
        c10 = _mm512_fmadd_ps(c10, a, b);
        c11 = _mm512_fmadd_ps(c11, a, b);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
    return _mm512_reduce_add_ps(s); /* keeps the loop alive */
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1) threads = 1;
    const long iters = 20 * 1000 * 1000;
    double best = 0, sink = 0;
    for (int trial = 0; trial < 5; trial++) {
        double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += run(iters);
        double dt = omp_get_wtime() - t0;
        double gflops = (double)threads * (double)iters * CHAINS * 16 * 2 / dt / 1e9;
        if (gflops > best) best = gflops;
    }
    printf("{\"threads\": %d, \"peak_fp32_gflops\": %.1f, \"per_thread\": %.1f, \"checksum\": %.3g}\n", threads, best,
           best / threads, sink);
    return 0;
}
