/* bench/wino_error.c — why the CPU backend's bf16 Winograd uses 2x2 output tiles:
 * the norm-wise error of Winograd F(m x m', 3x3) when the transformed tiles and
 * filters are rounded to bf16 (as vdpbf16ps needs them) and summed over C channels
 * in f32, against the exact convolution of the same bf16 inputs; the direct bf16
 * kernel's error (inputs rounded, products exact) is printed for scale.  The
 * transforms are built by Toom-Cook from the interpolation points given (plus the
 * point at infinity).  Issue 7 bounds bf16 results at 1e-2.  Build and run:
 *   cc -O2 -std=c11 bench/wino_error.c -lm -o build/wino_error && build/wino_error [C]
 * Measured, never asserted. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NMAX 6 /* tile size m + 2 */
#define CMAX 1024

static float bf16(float x) { /* round to nearest even (no NaN here) */
    uint32_t u;
    memcpy(&u, &x, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

static uint64_t rng = 88172645463325252ull;
static double normal(void) { /* Box-Muller on xorshift64 */
    double u[2];
    for (int i = 0; i < 2; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        u[i] = ((rng >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A: the m x m output tile of the n x n input tile d
 * (n = m + 2), the matrices from points p[0..m] and infinity */
typedef struct wmat { int m, n; double at[NMAX][NMAX], g[NMAX][3], bt[NMAX][NMAX]; } wmat;

/* coefficients of Π_{j != skip} (x - p_j) over j < np, lowest first */
static void poly(const double *p, int np, int skip, double *c) {
    int deg = 0;
    memset(c, 0, NMAX * sizeof *c);
    c[0] = 1;
    for (int j = 0; j < np; j++) {
        if (j == skip) continue;
        for (int t = deg + 1; t > 0; t--) c[t] = c[t - 1] - p[j] * c[t];
        c[0] *= -p[j];
        deg++;
    }
}

static wmat build(int m, const double *p) {
    wmat w = { .m = m, .n = m + 2 };
    const int np = m + 1; /* finite points */
    for (int i = 0; i < np; i++) {
        double den = 1;
        for (int j = 0; j < np; j++)
            if (j != i) den *= p[i] - p[j];
        for (int k = 0; k < 3; k++) w.g[i][k] = pow(p[i], k) / den;
        poly(p, np, i, w.bt[i]);
        for (int r = 0; r < m; r++) w.at[r][i] = pow(p[i], r);
    }
    w.g[np][2] = 1;
    w.at[m - 1][np] = 1;
    poly(p, np, -1, w.bt[np]);
    return w;
}

/* out = L · in · Rᵀ (L: a x b, in: b x c, R: d x c) */
static void sandwich(int a, int b, int c, int d, const double *L, int ls, const double *in, int is, const double *R, int rs,
                     double *out, int os) {
    double t[NMAX][NMAX];
    for (int i = 0; i < a; i++)
        for (int j = 0; j < c; j++) {
            double s = 0;
            for (int k = 0; k < b; k++) s += L[i * ls + k] * in[k * is + j];
            t[i][j] = s;
        }
    for (int i = 0; i < a; i++)
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < c; k++) s += t[i][k] * R[j * rs + k];
            out[i * os + j] = s;
        }
}

/* norm-wise errors over `trials` output tiles of a C-channel sum, rows transformed
 * by r and columns by c (r == c: square tiles): Winograd with bf16 V and U, and the
 * direct kernel on bf16 inputs, against f64 on the f32 inputs */
static void run(const char *name, const wmat *r, const wmat *c, int C, int trials) {
    const int mr = r->m, nr = r->n, mc = c->m, nc = c->n;
    double e_w = 0, e_d = 0, ref = 0;
    static double d[CMAX][NMAX][NMAX], db[CMAX][NMAX][NMAX], g[CMAX][3][3], gb[CMAX][3][3];
    for (int t = 0; t < trials; t++) {
        double M[NMAX][NMAX] = { { 0 } }, y[NMAX][NMAX] = { { 0 } }, yd[NMAX][NMAX] = { { 0 } }, o[NMAX][NMAX];
        for (int ch = 0; ch < C; ch++) {
            for (int i = 0; i < nr; i++)
                for (int j = 0; j < nc; j++) db[ch][i][j] = bf16((float)(d[ch][i][j] = normal()));
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) gb[ch][i][j] = bf16((float)(g[ch][i][j] = normal() / sqrt(9.0 * C)));
            double V[NMAX][NMAX], U[NMAX][NMAX];
            sandwich(nr, nr, nc, nc, &r->bt[0][0], NMAX, &db[ch][0][0], NMAX, &c->bt[0][0], NMAX, &V[0][0], NMAX);
            sandwich(nr, 3, 3, nc, &r->g[0][0], 3, &gb[ch][0][0], 3, &c->g[0][0], 3, &U[0][0], NMAX);
            for (int i = 0; i < nr; i++)
                for (int j = 0; j < nc; j++) M[i][j] += (double)bf16((float)V[i][j]) * bf16((float)U[i][j]);
            for (int i = 0; i < mr; i++)
                for (int j = 0; j < mc; j++)
                    for (int a = 0; a < 3; a++)
                        for (int b = 0; b < 3; b++) {
                            y[i][j] += d[ch][i + a][j + b] * g[ch][a][b];
                            yd[i][j] += db[ch][i + a][j + b] * gb[ch][a][b];
                        }
        }
        sandwich(mr, nr, nc, mc, &r->at[0][0], NMAX, &M[0][0], NMAX, &c->at[0][0], NMAX, &o[0][0], NMAX);
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < mc; j++) {
                e_w += (o[i][j] - y[i][j]) * (o[i][j] - y[i][j]);
                e_d += (yd[i][j] - y[i][j]) * (yd[i][j] - y[i][j]);
                ref += y[i][j] * y[i][j];
            }
    }
    printf("%-42s C %4d: Winograd %.2e   direct %.2e   multiplications per output %.2f\n", name, C, sqrt(e_w / ref),
           sqrt(e_d / ref), (double)(nr * nc) / (mr * mc));
}

int main(int argc, char **argv) {
    int C = argc > 1 ? atoi(argv[1]) : 64;
    if (C < 1 || C > CMAX) { fprintf(stderr, "C: 1..%d\n", CMAX); return 1; }
    /* output rows, their points; output columns, their points */
    static const struct { const char *name; int mr; double pr[5]; int mc; double pc[5]; } cases[] = {
        { "F(2x2,3x3) points 0 1 -1", 2, { 0, 1, -1 }, 2, { 0, 1, -1 } },
        { "F(2x4,3x3) points 0 1 -1 / 0 1 -1 1/2 -2", 2, { 0, 1, -1 }, 4, { 0, 1, -1, 0.5, -2 } },
        { "F(3x3,3x3) points 0 1 -1 2", 3, { 0, 1, -1, 2 }, 3, { 0, 1, -1, 2 } },
        { "F(3x3,3x3) points 0 1 -1 1/2", 3, { 0, 1, -1, 0.5 }, 3, { 0, 1, -1, 0.5 } },
        { "F(4x4,3x3) points 0 1 -1 2 -2", 4, { 0, 1, -1, 2, -2 }, 4, { 0, 1, -1, 2, -2 } },
        { "F(4x4,3x3) points 0 1 -1 1/2 -2", 4, { 0, 1, -1, 0.5, -2 }, 4, { 0, 1, -1, 0.5, -2 } },
    };
    printf("bf16 Winograd against the exact convolution, norm-wise over 200 tiles (direct: 9 per output)\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const wmat r = build(cases[i].mr, cases[i].pr), c = build(cases[i].mc, cases[i].pc);
        run(cases[i].name, &r, &c, C, 200);
    }
    return 0;
}
