/* bench/cpu_ops_bench.c — micro-benchmarks of the CPU backend's kernels
 * (cvnets-backend-cpu.so) called directly through its vtable: convolution
 * forward / backward-data / backward-weights of ResNet-18's 3x3 layers at 128 px,
 * batch 32, in both conv_layout modes, plus batch norm and relu for scale; then,
 * where the CPU has AVX512-BF16, ResNet-50's 3x3 stride-1 layers at 128 and 224 px
 * with precision = bf16 on bf16 C16 activations (as the engine stores them),
 * conv_algorithm = auto (our Winograd where it applies) against direct (oneDNN's
 * bf16 kernel).
 * Prints ms per call and GFLOP/s.  Measured, never asserted.  Build and run:
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Isdk/include bench/cpu_ops_bench.c -ldl -lm -o build/cpu_ops_bench
 *   build/cpu_ops_bench build/lib/cvnets/plugins/cvnets-backend-cpu.so [threads]
 * It loads the plugin with a minimal host table of its own (no core library). */
#include <cvnets/cvnets.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const cv_component_desc *found;
static const char *layout_value, *precision_value, *algorithm_value;

static int reg(void *ctx, const cv_component_desc *d, cv_error *err) { (void)ctx; (void)err; found = d; return CV_OK; }
static int set_error(cv_error *err, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return err->status = status;
}
static void *halloc(size_t n) { return aligned_alloc(64, (n + 63) & ~(size_t)63); }
static void *halloc_array(size_t n, size_t s) { void *p = halloc(n * s); if (p) memset(p, 0, n * s); return p; }
static void hfree(void *p) { free(p); }
static const cv_value *opt(const cv_options *o, const char *key) {
    static cv_value v;
    (void)o;
    const char *value = !strcmp(key, "conv_layout") ? layout_value
                        : !strcmp(key, "precision") ? precision_value
                        : !strcmp(key, "conv_algorithm") ? algorithm_value : NULL;
    if (!value) return NULL;
    v = (cv_value){ sizeof v, CV_OPT_ENUM, 1, 0, 0, 0, value, NULL, NULL };
    return &v;
}

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
/* CPU seconds used by the process over the last time_op (all threads): on a
 * shared machine wall time includes other people's work, CPU time does not */
static double last_cpu_ms;

static cv_ktensor kt(int ndim, const int64_t *shape) {
    cv_ktensor t = { CV_F32, ndim, { 0 }, { 0 }, NULL };
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) { t.shape[d] = shape[d]; t.stride[d] = s; s *= shape[d]; }
    t.data = halloc((size_t)s * 4);
    for (int64_t i = 0; i < s; i++) ((float *)t.data)[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    return t;
}

/* a bf16 [N,C,H,W] activation, C16 when given the layout (the values do not matter) */
static cv_ktensor kt_bf16(const int64_t *shape) {
    cv_ktensor t = kt(4, shape);
    t.dtype = CV_BF16;
    for (int64_t i = 0; i < shape[0] * shape[1] * shape[2] * shape[3]; i++) ((uint16_t *)t.data)[i] = (uint16_t)(0x3f00 + i % 97);
    return t;
}

/* the operand layouts of the next time_op (NULL: all plain) */
static const uint8_t *in_layout, *out_layout;

/* prepare once, run reps times; returns ms per run */
static double time_op(const cv_backend_vtable *vt, void *self, int op, const void *p, size_t ps, cv_ktensor *in, int n_in,
                      cv_ktensor *out, int n_out, int reps, const char **impl) {
    cv_kernel k = { sizeof k, op, p, (uint32_t)ps, n_in, n_out, in, out, NULL, 0, 0, NULL, in_layout, out_layout };
    cv_error err = { sizeof err, 0, "" };
    void *prep = NULL;
    size_t ws = 0;
    if (vt->prepare(self, &k, &prep, &ws, &err)) { fprintf(stderr, "prepare: %s\n", err.message); exit(1); }
    k.prepared = prep;
    k.workspace = ws ? halloc(ws) : NULL;
    k.workspace_bytes = ws;
    (void)impl;
    if (vt->run(self, &k, &err)) { fprintf(stderr, "run: %s\n", err.message); exit(1); }
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int r = 0; r < reps; r++) vt->run(self, &k, &err);
    double ms = (clock_s(CLOCK_MONOTONIC) - t0) * 1e3 / reps;
    last_cpu_ms = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e3 / reps;
    vt->release(self, prep);
    free(k.workspace);
    return ms;
}

/* ResNet-50's 3x3 stride-1 layers at 128 px, batch 32, and at 224 px, batch 16,
 * precision = bf16 on bf16 C16 activations: conv_algorithm = auto (our Winograd
 * F(2x2,3x3) where it applies) against direct (oneDNN's bf16 kernel); GFLOP/s count
 * the direct kernel's work */
static void bf16_layers(const cv_backend_vtable *vt, cv_host *h, int threads) {
    static const int64_t layers[][3] = { { 64, 32, 32 }, { 128, 16, 32 }, { 256, 8, 32 }, { 512, 4, 32 },
                                         { 64, 56, 16 }, { 128, 28, 16 }, { 256, 14, 16 }, { 512, 7, 16 } };
    static const char *algs[2] = { "auto", "direct" };
    static const uint8_t c16_w[2] = { CV_LAYOUT_C16, CV_LAYOUT_PLAIN }, c16_c16[2] = { CV_LAYOUT_C16, CV_LAYOUT_C16 };
    static const uint8_t c16[1] = { CV_LAYOUT_C16 }, plain[1] = { CV_LAYOUT_PLAIN };
    cv_error err = { sizeof err, 0, "" };
    layout_value = "blocked";
    precision_value = "bf16";
    printf("\nbf16 (C16 bf16 activations), ResNet-50's 3x3 stride-1 layers at 128 px (batch 32) and 224 px (batch 16):"
           " ms per call (GF/s)\n");
    printf("%-8s %-14s %22s %22s %22s\n", "algo", "layer", "fwd", "bwd-data", "bwd-weights");
    for (int a = 0; a < 2; a++) {
        algorithm_value = algs[a];
        cv_create_args ca = { .struct_size = sizeof ca, .host = h, .opts = (const cv_options *)h, .threads = threads };
        void *self = NULL;
        if (found->create(&ca, &self, &err)) { printf("(skipped: %s)\n", err.message); return; }
        for (int i = 0; i < 8; i++) {
            int64_t C = layers[i][0], H = layers[i][1], N = layers[i][2];
            int64_t xs[4] = { N, C, H, H }, wsz[4] = { C, C, 3, 3 };
            cv_ktensor x = kt_bf16(xs), w = kt(4, wsz), y = kt_bf16(xs);
            cv_conv_params p = { { 1, 1, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, 1 };
            double gflop = 2.0 * N * C * H * H * C * 9 / 1e9, ms[3];
            cv_ktensor fin[2] = { x, w }, bdin[2] = { y, w }, bwin[2] = { y, x };
            in_layout = c16_w, out_layout = c16;
            ms[0] = time_op(vt, self, CV_OP_CONV2D, &p, sizeof p, fin, 2, &y, 1, 5, NULL);
            ms[1] = time_op(vt, self, CV_OP_CONV2D_BWD_DATA, &p, sizeof p, bdin, 2, &x, 1, 5, NULL);
            in_layout = c16_c16, out_layout = plain;
            ms[2] = time_op(vt, self, CV_OP_CONV2D_BWD_WEIGHT, &p, sizeof p, bwin, 2, &w, 1, 5, NULL);
            in_layout = out_layout = NULL;
            char name[64];
            snprintf(name, sizeof name, "%lldch %lldx%lld b%lld", (long long)C, (long long)H, (long long)H, (long long)N);
            printf("%-8s %-14s", algs[a], name);
            for (int d = 0; d < 3; d++) printf(" %10.2f (%9.1f)", ms[d], gflop / ms[d] * 1e3);
            printf("\n");
            free(x.data); free(w.data); free(y.data);
        }
        found->destroy(self);
    }
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "build/lib/cvnets/plugins/cvnets-backend-cpu.so";
    int threads = argc > 2 ? atoi(argv[2]) : 0;
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!so) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    cv_plugin_entry_fn entry = (cv_plugin_entry_fn)dlsym(so, CV_PLUGIN_ENTRY_SYMBOL);
    cv_host h = { 0 };
    h.struct_size = sizeof h; h.abi_major = CV_ABI_MAJOR; h.abi_minor = CV_ABI_MINOR;
    h.register_component = reg; h.set_error = set_error; h.alloc = halloc; h.alloc_array = halloc_array;
    h.free = hfree; h.opt = opt;
    cv_error err = { sizeof err, 0, "" };
    if (!entry || entry(&h, &err) || !found) { fprintf(stderr, "entry failed: %s\n", err.message); return 1; }
    const cv_backend_vtable *vt = found->vtable;
    static const int64_t layers[][3] = { { 64, 32, 32 }, { 128, 16, 16 }, { 256, 8, 8 }, { 512, 4, 4 } };
    const char *layouts[2] = { "blocked", "plain" };
    printf("ResNet-18 3x3 convolutions at 128 px, batch 32 (threads %s)\n", threads ? argv[2] : "all");
    printf("GF/s = GFLOP per wall second; GF/cpu-s = GFLOP per CPU second of the process (all threads)\n");
    printf("%-8s %-14s %22s %22s %22s\n", "layout", "layer", "fwd GF/s (GF/cpu-s)", "bwd-data", "bwd-weights");
    for (int l = 0; l < 2; l++) {
        layout_value = layouts[l];
        precision_value = algorithm_value = NULL;
        cv_create_args a = { .struct_size = sizeof a, .host = &h, .opts = (const cv_options *)&h, .threads = threads };
        void *self = NULL;
        if (found->create(&a, &self, &err)) { fprintf(stderr, "create: %s\n", err.message); return 1; }
        for (int i = 0; i < 4; i++) {
            int64_t C = layers[i][0], H = layers[i][1], N = 32;
            int64_t xs[4] = { N, C, H, H }, wsz[4] = { C, C, 3, 3 };
            cv_ktensor x = kt(4, xs), w = kt(4, wsz), y = kt(4, xs);
            cv_conv_params p = { { 1, 1, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, 1 };
            double gflop = 2.0 * N * C * H * H * C * 9 / 1e9;
            int reps = 5;
            cv_ktensor fin[2] = { x, w }, bdin[2] = { y, w }, bwin[2] = { y, x };
            double f = time_op(vt, self, CV_OP_CONV2D, &p, sizeof p, fin, 2, &y, 1, reps, NULL), fc = last_cpu_ms;
            double bd = time_op(vt, self, CV_OP_CONV2D_BWD_DATA, &p, sizeof p, bdin, 2, &x, 1, reps, NULL), bdc = last_cpu_ms;
            double bw = time_op(vt, self, CV_OP_CONV2D_BWD_WEIGHT, &p, sizeof p, bwin, 2, &w, 1, reps, NULL), bwc = last_cpu_ms;
            char name[64];
            snprintf(name, sizeof name, "%lldch %lldx%lld", (long long)C, (long long)H, (long long)H);
            printf("%-8s %-14s %10.1f (%9.1f) %10.1f (%9.1f) %10.1f (%9.1f)\n", layouts[l], name, gflop / f * 1e3,
                   gflop / fc * 1e3, gflop / bd * 1e3, gflop / bdc * 1e3, gflop / bw * 1e3, gflop / bwc * 1e3);
            free(x.data); free(w.data); free(y.data);
        }
        if (l == 0) { /* per-element ops for scale, on the layer1 activation */
            int64_t xs[4] = { 32, 64, 32, 32 }, cs[1] = { 64 };
            cv_ktensor x = kt(4, xs), y = kt(4, xs), dy = kt(4, xs), g = kt(1, cs), b = kt(1, cs), rm = kt(1, cs),
                       rv = kt(1, cs), m = kt(1, cs), rs = kt(1, cs), dg = kt(1, cs), db = kt(1, cs);
            for (int c = 0; c < 64; c++) ((float *)rv.data)[c] = 1.0f;
            cv_norm_params np = { 1e-5f, 0.1f, 1, 0, 0 };
            cv_ktensor bin[5] = { x, g, b, rm, rv }, bout[3] = { y, m, rs };
            double bf = time_op(vt, self, CV_OP_BATCH_NORM, &np, sizeof np, bin, 5, bout, 3, 5, NULL);
            for (int c = 0; c < 64; c++) ((float *)rs.data)[c] = 1.0f;
            cv_ktensor bbin[5] = { x, dy, g, m, rs }, bbout[3] = { y, dg, db };
            double bb = time_op(vt, self, CV_OP_BATCH_NORM_BWD, &np, sizeof np, bbin, 5, bbout, 3, 5, NULL);
            cv_unary_params up = { CV_RELU, 0 };
            double r = time_op(vt, self, CV_OP_UNARY, &up, sizeof up, &x, 1, &y, 1, 10, NULL);
            cv_ktensor rin[2] = { x, dy };
            double rb = time_op(vt, self, CV_OP_UNARY_BWD, &up, sizeof up, rin, 2, &y, 1, 10, NULL);
            cv_binary_params ap = { CV_ADD };
            cv_ktensor ain[2] = { x, dy };
            double ad = time_op(vt, self, CV_OP_BINARY, &ap, sizeof ap, ain, 2, &y, 1, 10, NULL);
            double gb = 32.0 * 64 * 32 * 32 * 4 / 1e9;
            printf("on [32,64,32,32] (%.0f MB): batch_norm fwd %.2f ms, bwd %.2f ms; relu %.2f ms, relu_bwd %.2f ms, add %.2f ms (%.1f GB/s)\n",
                   gb * 1e3, bf, bb, r, rb, ad, 3 * gb / ad * 1e3);
        }
        found->destroy(self);
    }
    bf16_layers(vt, &h, threads);
    return 0;
}
