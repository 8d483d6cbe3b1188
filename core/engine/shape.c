/* core/engine/shape.c — shape helpers and shape inference with
 * validation for every op kind of cvnets/ops.h.  Every failure fills the graph's
 * sticky error with the op name and the shapes involved, so a model author can
 * see which call was wrong without a debugger. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static int is_float(int dt) { return dt == CV_F32 || dt == CV_BF16 || dt == CV_F16; }

const char *cv_shape_str(const cv_shape *s, char *buf, size_t n) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; s && i < s->ndim && i < CV_MAX_DIMS && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)s->dim[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

int cv_shape_equal(const cv_shape *a, const cv_shape *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i]) return 0;
    return 1;
}

/* CV_OK when 0 <= ndim <= 5, every dim >= 1 and the byte size fits int64 */
int cv_shape_valid(const cv_shape *s, int dtype, int64_t *bytes) {
    if (s->ndim < 0 || s->ndim > CV_MAX_DIMS) return CV_ERR_INVALID;
    int64_t n = (int64_t)cv_dtype_size(dtype);
    if (n == 0) return CV_ERR_INVALID;
    for (int i = 0; i < s->ndim; i++) {
        if (s->dim[i] < 1) return CV_ERR_INVALID;
        if (__builtin_mul_overflow(n, s->dim[i], &n)) return CV_ERR_NOMEM;
    }
    if (bytes) *bytes = n;
    return CV_OK;
}

int cv_broadcast_shape(const cv_shape *a, const cv_shape *b, cv_shape *out) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    cv_shape r = { nd, 0, { 0 } };
    for (int i = 0; i < nd; i++) {
        int ia = a->ndim - nd + i, ib = b->ndim - nd + i;
        int64_t da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
        if (da != db && da != 1 && db != 1) return CV_ERR_INVALID;
        r.dim[i] = da == 1 ? db : da;
    }
    *out = r;
    return CV_OK;
}

/* ---- inference ------------------------------------------------------------------- */
#define SH(t, i) cv_shape_str(&(t)->shape, sb[i], sizeof sb[i])
#define FAIL(...) (cv_graph_failv(g, CV_ERR_INVALID, __VA_ARGS__), -1)

static int norm_axis(int axis, int ndim) { return axis < 0 ? axis + ndim : axis; }

static int want_inputs(cv_graph *g, const char *name, int n_in, int lo, int hi) {
    if (n_in < lo || n_in > hi) {
        if (lo == hi) cv_graph_failv(g, CV_ERR_INVALID, "%s: expects %d inputs, got %d", name, lo, n_in);
        else cv_graph_failv(g, CV_ERR_INVALID, "%s: expects %d to %d inputs, got %d", name, lo, hi, n_in);
        return 0;
    }
    return 1;
}

static int64_t conv_out(int64_t in, int k, int s, int p, int d) {
    int64_t eff = (int64_t)d * (k - 1) + 1, num = in + 2 * (int64_t)p - eff;
    return num < 0 ? 0 : num / s + 1; /* C division rounds a negative num toward zero: check first */
}

static int infer_conv(cv_graph *g, const char *nm, cv_tensor *const *in, int n_in, const cv_conv_params *p,
                      int sp, cv_shape *out) {
    char sb[3][96];
    if (!want_inputs(g, nm, n_in, 2, 3)) return -1;
    cv_tensor *x = in[0], *w = in[1], *b = n_in > 2 ? in[2] : NULL;
    if (x->shape.ndim != sp + 2) return FAIL("%s: input must be %dD, got %s", nm, sp + 2, SH(x, 0));
    if (w->shape.ndim != sp + 2) return FAIL("%s: weight must be %dD [O,C/groups,k..], got %s", nm, sp + 2, SH(w, 0));
    if (!is_float(x->dtype) || w->dtype != x->dtype)
        return FAIL("%s: input %s and weight %s must share one floating dtype", nm, cv_dtype_name(x->dtype),
                    cv_dtype_name(w->dtype));
    int gr = p->groups;
    int64_t C = x->shape.dim[1], O = w->shape.dim[0];
    if (gr < 1 || C % gr || O % gr)
        return FAIL("%s: groups %d must divide input channels %lld and output channels %lld (x %s, w %s)", nm, gr,
                    (long long)C, (long long)O, SH(x, 0), SH(w, 1));
    if (w->shape.dim[1] != C / gr)
        return FAIL("%s: input x %s has %lld channels but weight %s expects %lld per group (groups %d)", nm, SH(x, 0),
                    (long long)C, SH(w, 1), (long long)w->shape.dim[1], gr);
    if (b && (b->shape.ndim != 1 || b->shape.dim[0] != O || b->dtype != x->dtype))
        return FAIL("%s: bias %s must be [%lld] %s", nm, SH(b, 2), (long long)O, cv_dtype_name(x->dtype));
    *out = x->shape;
    out->dim[1] = O;
    for (int i = 0; i < sp; i++) {
        int s = p->stride[i], pd = p->pad[i], d = p->dilation[i]; /* [h,w] or [t,h,w] */
        if (s < 1 || d < 1 || pd < 0)
            return FAIL("%s: stride %d, dilation %d must be >= 1 and padding %d >= 0", nm, s, d, pd);
        int64_t o = conv_out(x->shape.dim[2 + i], (int)w->shape.dim[2 + i], s, pd, d);
        if (o < 1)
            return FAIL("%s: kernel %s (dilation %d) is larger than the padded input %s", nm, SH(w, 1), d, SH(x, 0));
        out->dim[2 + i] = o;
    }
    return 1;
}

static int infer_matmul(cv_graph *g, cv_tensor *a, cv_tensor *b, const cv_matmul_params *p, cv_shape *out) {
    char sb[2][96];
    if (a->shape.ndim < 2 || b->shape.ndim < 2)
        return FAIL("matmul: both operands need >= 2 dims, got %s and %s", SH(a, 0), SH(b, 1));
    if (!is_float(a->dtype) || a->dtype != b->dtype) return FAIL("matmul: operands must share one floating dtype");
    int na = a->shape.ndim, nb = b->shape.ndim;
    int64_t M = p->trans_a ? a->shape.dim[na - 1] : a->shape.dim[na - 2];
    int64_t K = p->trans_a ? a->shape.dim[na - 2] : a->shape.dim[na - 1];
    int64_t K2 = p->trans_b ? b->shape.dim[nb - 1] : b->shape.dim[nb - 2];
    int64_t N = p->trans_b ? b->shape.dim[nb - 2] : b->shape.dim[nb - 1];
    if (K != K2)
        return FAIL("matmul: inner sizes differ: a %s (trans %d) has K=%lld, b %s (trans %d) has K=%lld", SH(a, 0),
                    p->trans_a, (long long)K, SH(b, 1), p->trans_b, (long long)K2);
    cv_shape ba = a->shape, bb = b->shape;
    ba.ndim -= 2;
    bb.ndim -= 2;
    if (cv_broadcast_shape(&ba, &bb, out) != CV_OK)
        return FAIL("matmul: batch dims of %s and %s do not broadcast", SH(a, 0), SH(b, 1));
    if (out->ndim + 2 > CV_MAX_DIMS) return FAIL("matmul: result has more than %d dims", CV_MAX_DIMS);
    out->dim[out->ndim++] = M;
    out->dim[out->ndim++] = N;
    return 1;
}

static int same_shape_dtype(cv_graph *g, const char *nm, cv_tensor *a, cv_tensor *b, const char *what) {
    char sb[2][96];
    if (!cv_shape_equal(&a->shape, &b->shape) || a->dtype != b->dtype) {
        (void)FAIL("%s: %s %s %s must match %s %s", nm, what, SH(b, 1), cv_dtype_name(b->dtype), SH(a, 0),
             cv_dtype_name(a->dtype));
        return 0;
    }
    return 1;
}

static int vec_of(cv_graph *g, const char *nm, cv_tensor *t, int64_t C, const char *what, cv_tensor *x) {
    char sb[2][96];
    if (t->shape.ndim != 1 || t->shape.dim[0] != C || t->dtype != CV_F32) {
        (void)FAIL("%s: %s must be f32 [%lld] for input %s, got %s %s", nm, what, (long long)C, SH(x, 0), SH(t, 1),
             cv_dtype_name(t->dtype));
        return 0;
    }
    return 1;
}

static int infer_norm(cv_graph *g, int op, cv_tensor *const *in, int n_in, const cv_norm_params *p,
                      cv_shape *out, int32_t *dt) {
    char sb[2][96];
    const char *nm = cv_op_name(op);
    cv_tensor *x = in[0];
    if (!is_float(x->dtype)) return FAIL("%s: input must be floating, got %s", nm, cv_dtype_name(x->dtype));
    if (!(p->eps > 0)) return FAIL("%s: eps must be > 0, got %g", nm, (double)p->eps);
    out[0] = x->shape;
    dt[0] = dt[1] = dt[2] = CV_F32;
    dt[0] = x->dtype;
    if (op == CV_OP_BATCH_NORM) {
        if (!want_inputs(g, nm, n_in, 5, 5)) return -1;
        if (x->shape.ndim < 2) return FAIL("batch_norm: input must be [N,C,..], got %s", SH(x, 0));
        int64_t C = x->shape.dim[1];
        static const char *const what[] = { "", "gamma", "beta", "running mean", "running var" };
        for (int i = 1; i < 5; i++)
            if (!vec_of(g, nm, in[i], C, what[i], x)) return -1;
        if (!(p->momentum >= 0 && p->momentum <= 1)) return FAIL("batch_norm: momentum %g outside [0,1]", (double)p->momentum);
        if (!p->training) return 1;
        out[1] = out[2] = CV_SHAPE(C);
        return 3;
    }
    if (!want_inputs(g, nm, n_in, 3, 3)) return -1;
    if (op == CV_OP_LAYER_NORM) {
        int ax = p->axes;
        if (ax < 1 || ax > x->shape.ndim)
            return FAIL("layer_norm: axes %d must be in 1..%d for input %s", ax, x->shape.ndim, SH(x, 0));
        cv_shape ws = { ax, 0, { 0 } };
        for (int i = 0; i < ax; i++) ws.dim[i] = x->shape.dim[x->shape.ndim - ax + i];
        for (int i = 1; i < 3; i++)
            if (!cv_shape_equal(&in[i]->shape, &ws) || in[i]->dtype != CV_F32)
                return FAIL("layer_norm: %s %s must be f32 %s (the last %d dims of %s)", i == 1 ? "gamma" : "beta",
                            SH(in[i], 1), cv_shape_str(&ws, sb[1], sizeof sb[1]), ax, SH(x, 0));
        cv_shape ms = { x->shape.ndim - ax, 0, { 0 } };
        for (int i = 0; i < ms.ndim; i++) ms.dim[i] = x->shape.dim[i];
        out[1] = out[2] = ms;
        return 3;
    }
    /* group norm */
    if (x->shape.ndim < 2) return FAIL("group_norm: input must be [N,C,..], got %s", SH(x, 0));
    int64_t C = x->shape.dim[1];
    if (p->groups < 1 || C % p->groups)
        return FAIL("group_norm: groups %d must divide the %lld channels of %s", p->groups, (long long)C, SH(x, 0));
    if (!vec_of(g, nm, in[1], C, "gamma", x) || !vec_of(g, nm, in[2], C, "beta", x)) return -1;
    out[1] = out[2] = CV_SHAPE(x->shape.dim[0], p->groups);
    return 3;
}

static int infer_pool(cv_graph *g, cv_tensor *x, const cv_pool_params *p, cv_shape *out) {
    char sb[1][96];
    if (x->shape.ndim != 4) return FAIL("pool2d: input must be [N,C,H,W], got %s", SH(x, 0));
    if (p->fn != CV_POOL_MAX && p->fn != CV_POOL_AVG) return FAIL("pool2d: unknown fn %d", p->fn);
    *out = x->shape;
    for (int i = 0; i < 2; i++) {
        int k = p->kernel[i], s = p->stride[i], pd = p->pad[i];
        if (k < 1 || s < 1 || pd < 0 || pd * 2 > k)
            return FAIL("pool2d: kernel %d, stride %d must be >= 1 and 0 <= padding %d <= kernel/2 (input %s)", k, s,
                        pd, SH(x, 0));
        int64_t H = x->shape.dim[2 + i], num = H + 2 * (int64_t)pd - k;
        if (num < 0) return FAIL("pool2d: kernel %d larger than padded input %s", k, SH(x, 0));
        int64_t o = (p->ceil_mode ? (num + s - 1) / s : num / s) + 1;
        if (p->ceil_mode && (o - 1) * s >= H + pd) o--; /* last window must start inside */
        out->dim[2 + i] = o;
    }
    return 1;
}

static int infer_loss(cv_graph *g, int op, cv_tensor *const *in, int n_in, const void *params, cv_shape *out) {
    char sb[3][96];
    const char *nm = cv_op_name(op);
    cv_tensor *x = in[0], *t = in[1];
    *out = (cv_shape){ 0, 0, { 0 } };
    if (x->dtype != CV_F32) return FAIL("%s: logits must be f32, got %s", nm, cv_dtype_name(x->dtype));
    if (op == CV_OP_CROSS_ENTROPY) {
        if (x->shape.ndim != 2 && x->shape.ndim != 4)
            return FAIL("cross_entropy: logits must be [N,C] or [N,C,H,W], got %s", SH(x, 0));
        if (t->dtype == CV_I32) {
            cv_shape ts = x->shape;
            ts.ndim--;
            for (int i = 1; i < ts.ndim; i++) ts.dim[i] = x->shape.dim[i + 1];
            if (!cv_shape_equal(&t->shape, &ts))
                return FAIL("cross_entropy: class-index target %s must be %s for logits %s", SH(t, 1),
                            cv_shape_str(&ts, sb[2], sizeof sb[2]), SH(x, 0));
        } else if (t->dtype == CV_F32) {
            if (!cv_shape_equal(&t->shape, &x->shape))
                return FAIL("cross_entropy: soft target %s must match logits %s", SH(t, 1), SH(x, 0));
        } else return FAIL("cross_entropy: target must be i32 labels or f32 soft labels, got %s", cv_dtype_name(t->dtype));
        if (n_in == 3 && !vec_of(g, nm, in[2], x->shape.dim[1], "class weight", x)) return -1;
        const cv_ce_params *p = params;
        if (!(p->label_smoothing >= 0 && p->label_smoothing < 1))
            return FAIL("cross_entropy: label_smoothing %g outside [0,1)", (double)p->label_smoothing);
        return 1;
    }
    if (!same_shape_dtype(g, nm, x, t, "target")) return -1;
    if (op == CV_OP_SMOOTH_L1 && !(((const cv_smooth_l1_params *)params)->beta >= 0))
        return FAIL("smooth_l1: beta must be >= 0");
    return 1;
}

/* shape inference for forward ops; internal (gradient) ops trust their caller
 * (autograd) but are checked for the properties their kernels rely on */
int cv_infer(cv_graph *g, int op, cv_tensor *const *in, int n_in, const void *params, cv_shape *out,
             int32_t *dt, int max_out) {
    char sb[3][96];
    const char *nm = cv_op_name(op);
    (void)max_out;
    dt[0] = n_in > 0 ? in[0]->dtype : CV_F32;
    if (n_in > 0) out[0] = in[0]->shape;
    switch (op) {
    case CV_OP_CONV2D: return infer_conv(g, nm, in, n_in, params, 2, out);
    case CV_OP_CONV3D: return infer_conv(g, nm, in, n_in, params, 3, out);
    case CV_OP_MATMUL:
        if (!want_inputs(g, nm, n_in, 2, 2)) return -1;
        return infer_matmul(g, in[0], in[1], params, out);
    case CV_OP_LINEAR: {
        if (!want_inputs(g, nm, n_in, 2, 3)) return -1;
        cv_tensor *x = in[0], *w = in[1];
        if (x->shape.ndim < 1 || w->shape.ndim != 2 || w->shape.dim[1] != x->shape.dim[x->shape.ndim - 1])
            return FAIL("linear: input %s needs weight [N,%lld], got %s", SH(x, 0),
                        (long long)(x->shape.ndim ? x->shape.dim[x->shape.ndim - 1] : 0), SH(w, 1));
        if (!is_float(x->dtype) || w->dtype != x->dtype) return FAIL("linear: input and weight must share one floating dtype");
        if (n_in == 3 && !vec_of(g, nm, in[2], w->shape.dim[0], "bias", x)) return -1;
        out[0].dim[out[0].ndim - 1] = w->shape.dim[0];
        return 1;
    }
    case CV_OP_BATCH_NORM: case CV_OP_LAYER_NORM: case CV_OP_GROUP_NORM:
        return infer_norm(g, op, in, n_in, params, out, dt);
    case CV_OP_UNARY: {
        if (!want_inputs(g, nm, n_in, 1, 1)) return -1;
        const cv_unary_params *p = params;
        if (p->fn < CV_RELU || p->fn > CV_IDENTITY) return FAIL("unary: unknown fn %d", p->fn);
        if (!is_float(in[0]->dtype)) return FAIL("unary: input must be floating, got %s", cv_dtype_name(in[0]->dtype));
        return 1;
    }
    case CV_OP_BINARY: {
        if (!want_inputs(g, nm, n_in, 2, 2)) return -1;
        const cv_binary_params *p = params;
        if (p->fn < CV_ADD || p->fn > CV_MIN) return FAIL("binary: unknown fn %d", p->fn);
        if (in[0]->dtype != in[1]->dtype)
            return FAIL("binary: dtypes differ: %s %s vs %s %s", SH(in[0], 0), cv_dtype_name(in[0]->dtype), SH(in[1], 1),
                        cv_dtype_name(in[1]->dtype));
        if (cv_broadcast_shape(&in[0]->shape, &in[1]->shape, out) != CV_OK)
            return FAIL("binary: shapes %s and %s do not broadcast", SH(in[0], 0), SH(in[1], 1));
        return 1;
    }
    case CV_OP_SCALAR: {
        if (!want_inputs(g, nm, n_in, 1, 1)) return -1;
        const cv_scalar_params *p = params;
        if (p->fn < CV_S_ADD || p->fn > CV_S_CLAMP_MAX) return FAIL("scalar: unknown fn %d", p->fn);
        if (!is_float(in[0]->dtype)) return FAIL("scalar: input must be floating, got %s", cv_dtype_name(in[0]->dtype));
        return 1;
    }
    case CV_OP_REDUCE: {
        if (!want_inputs(g, nm, n_in, 1, 1)) return -1;
        const cv_reduce_params *p = params;
        cv_tensor *x = in[0];
        if (p->fn != CV_R_SUM && p->fn != CV_R_MEAN) return FAIL("reduce: unknown fn %d", p->fn);
        if (!p->axes || (p->axes >> x->shape.ndim))
            return FAIL("reduce: axes mask 0x%x invalid for input %s", p->axes, SH(x, 0));
        if (!is_float(x->dtype)) return FAIL("reduce: input must be floating");
        cv_shape o = { 0, 0, { 0 } };
        for (int i = 0; i < x->shape.ndim; i++) {
            if (p->axes & (1u << i)) {
                if (p->keepdim) o.dim[o.ndim++] = 1;
            } else o.dim[o.ndim++] = x->shape.dim[i];
        }
        out[0] = o;
        return 1;
    }
    case CV_OP_POOL2D:
        if (!want_inputs(g, nm, n_in, 1, 1)) return -1;
        return infer_pool(g, in[0], params, out);
    case CV_OP_ADAPTIVE_AVG_POOL2D: case CV_OP_RESIZE: {
        if (!want_inputs(g, nm, n_in, 1, 1)) return -1;
        const cv_resize_params *p = params;
        if (in[0]->shape.ndim != 4) return FAIL("%s: input must be [N,C,H,W], got %s", nm, SH(in[0], 0));
        if (p->out_h < 1 || p->out_w < 1) return FAIL("%s: output size %dx%d must be >= 1", nm, p->out_h, p->out_w);
        if (op == CV_OP_RESIZE && p->mode != CV_RESIZE_BILINEAR && p->mode != CV_RESIZE_NEAREST)
            return FAIL("resize: unknown mode %d", p->mode);
        if (!is_float(in[0]->dtype)) return FAIL("%s: input must be floating", nm);
        out[0].dim[2] = p->out_h;
        out[0].dim[3] = p->out_w;
        return 1;
    }
    case CV_OP_CONCAT: {
        if (n_in < 1) return FAIL("concat: needs at least one input");
        int nd = in[0]->shape.ndim, ax = norm_axis(((const cv_axis_params *)params)->axis, nd);
        if (ax < 0 || ax >= nd) return FAIL("concat: axis %d out of range for %s", ((const cv_axis_params *)params)->axis, SH(in[0], 0));
        int64_t total = 0;
        for (int i = 0; i < n_in; i++) {
            cv_tensor *t = in[i];
            int ok = t->shape.ndim == nd && t->dtype == in[0]->dtype;
            for (int d = 0; ok && d < nd; d++)
                if (d != ax && t->shape.dim[d] != in[0]->shape.dim[d]) ok = 0;
            if (!ok) return FAIL("concat: input %d %s does not match input 0 %s outside axis %d", i, SH(t, 1), SH(in[0], 0), ax);
            total += t->shape.dim[ax];
        }
        out[0].dim[ax] = total;
        return 1;
    }
    case CV_OP_SLICE: {
        if (!want_inputs(g, nm, n_in, 1, 1)) return -1;
        const cv_slice_params *p = params;
        int ax = norm_axis(p->axis, in[0]->shape.ndim);
        if (ax < 0 || ax >= in[0]->shape.ndim || p->start < 0 || p->length < 1 ||
            p->start > in[0]->shape.dim[ax] - p->length)
            return FAIL("slice: start %lld, length %lld along axis %d is outside %s", (long long)p->start,
                        (long long)p->length, p->axis, SH(in[0], 0));
        out[0].dim[ax] = p->length;
        return 1;
    }
    case CV_OP_PAD: {
        if (!want_inputs(g, nm, n_in, 1, 1)) return -1;
        const cv_pad_params *p = params;
        for (int d = 0; d < in[0]->shape.ndim; d++) {
            int64_t o, dim = in[0]->shape.dim[d];
            int bad = __builtin_add_overflow(dim, p->before[d], &o) || __builtin_add_overflow(o, p->after[d], &o);
            /* a crop must leave something on each side: -before < dim and -after < dim */
            if (bad || o < 1 || p->before[d] <= -dim || p->after[d] <= -dim)
                return FAIL("pad: pads (%lld, %lld) on dim %d crop all of %s", (long long)p->before[d],
                            (long long)p->after[d], d, SH(in[0], 0));
            out[0].dim[d] = o;
        }
        return 1;
    }
    case CV_OP_RESHAPE: {
        if (!want_inputs(g, nm, n_in, 1, 1)) return -1;
        cv_shape s = ((const cv_reshape_params *)params)->shape;
        if (s.ndim < 0 || s.ndim > CV_MAX_DIMS) return FAIL("reshape: ndim %d outside 0..%d", s.ndim, CV_MAX_DIMS);
        int infer = -1;
        int64_t known = 1, n = cv_shape_numel(&in[0]->shape);
        for (int i = 0; i < s.ndim; i++) {
            if (s.dim[i] == -1 && infer < 0) infer = i;
            else if (s.dim[i] < 1) return FAIL("reshape: bad target %s for %s", cv_shape_str(&s, sb[1], sizeof sb[1]), SH(in[0], 0));
            else if (__builtin_mul_overflow(known, s.dim[i], &known)) return FAIL("reshape: target size overflows");
        }
        if (infer >= 0) {
            if (n % known) return FAIL("reshape: cannot infer -1 for %s from %s", cv_shape_str(&s, sb[1], sizeof sb[1]), SH(in[0], 0));
            s.dim[infer] = n / known;
            known = n;
        }
        if (known != n)
            return FAIL("reshape: %s has %lld elements, target %s has %lld", SH(in[0], 0), (long long)n,
                        cv_shape_str(&s, sb[1], sizeof sb[1]), (long long)known);
        out[0] = s;
        return 1;
    }
    case CV_OP_PERMUTE: {
        if (!want_inputs(g, nm, n_in, 1, 1)) return -1;
        const cv_permute_params *p = params;
        unsigned seen = 0;
        for (int i = 0; i < in[0]->shape.ndim; i++) {
            int a = p->perm[i];
            if (a < 0 || a >= in[0]->shape.ndim || (seen & (1u << a)))
                return FAIL("permute: perm is not a permutation of the %d dims of %s", in[0]->shape.ndim, SH(in[0], 0));
            seen |= 1u << a;
            out[0].dim[i] = in[0]->shape.dim[a];
        }
        return 1;
    }
    case CV_OP_SOFTMAX: {
        if (!want_inputs(g, nm, n_in, 1, 1)) return -1;
        int ax = norm_axis(((const cv_softmax_params *)params)->axis, in[0]->shape.ndim);
        if (ax < 0 || ax >= in[0]->shape.ndim) return FAIL("softmax: axis out of range for %s", SH(in[0], 0));
        if (!is_float(in[0]->dtype)) return FAIL("softmax: input must be floating");
        return 1;
    }
    case CV_OP_DROPOUT: case CV_OP_DROP_PATH: {
        if (!want_inputs(g, nm, n_in, 1, 1)) return -1;
        float p = ((const cv_dropout_params *)params)->p;
        if (!(p >= 0 && p < 1)) return FAIL("%s: p=%g must be in [0,1)", nm, (double)p);
        if (in[0]->shape.ndim < 1) return FAIL("%s: input must have a batch dim", nm);
        if (!is_float(in[0]->dtype)) return FAIL("%s: input must be floating", nm);
        out[1] = in[0]->shape;
        dt[1] = CV_F32;
        if (op == CV_OP_DROP_PATH)
            for (int i = 1; i < out[1].ndim; i++) out[1].dim[i] = 1;
        return 2;
    }
    case CV_OP_CROSS_ENTROPY:
        if (!want_inputs(g, nm, n_in, 2, 3)) return -1;
        return infer_loss(g, op, in, n_in, params, out);
    case CV_OP_BCE_LOGITS: case CV_OP_SMOOTH_L1:
        if (!want_inputs(g, nm, n_in, 2, 2)) return -1;
        return infer_loss(g, op, in, n_in, params, out);
    case CV_OP_CAST: {
        if (!want_inputs(g, nm, n_in, 1, 1)) return -1;
        int d = ((const cv_cast_params *)params)->dtype;
        if (cv_dtype_size(d) == 0) return FAIL("cast: unknown dtype %d", d);
        dt[0] = d;
        return 1;
    }
    case CV_OP_EMBEDDING: {
        if (!want_inputs(g, nm, n_in, 2, 2)) return -1;
        cv_tensor *w = in[0], *idx = in[1];
        if (w->shape.ndim != 2 || w->dtype != CV_F32) return FAIL("embedding: weight must be f32 [V,D], got %s", SH(w, 0));
        if (idx->dtype != CV_I32 || idx->shape.ndim >= CV_MAX_DIMS)
            return FAIL("embedding: indices must be i32 with < %d dims, got %s %s", CV_MAX_DIMS, SH(idx, 1),
                        cv_dtype_name(idx->dtype));
        out[0] = idx->shape;
        out[0].dim[out[0].ndim++] = w->shape.dim[1];
        dt[0] = CV_F32;
        return 1;
    }
    case CV_OP_BROADCAST_TO: case CV_OP_SUM_TO: {
        if (!want_inputs(g, nm, n_in, 1, 1)) return -1;
        cv_shape s = ((const cv_reshape_params *)params)->shape, b;
        if (cv_shape_valid(&s, in[0]->dtype, NULL) != CV_OK) return FAIL("%s: bad target shape", nm);
        const cv_shape *small = op == CV_OP_BROADCAST_TO ? &in[0]->shape : &s;
        const cv_shape *big = op == CV_OP_BROADCAST_TO ? &s : &in[0]->shape;
        if (cv_broadcast_shape(small, big, &b) != CV_OK || !cv_shape_equal(&b, big))
            return FAIL("%s: %s cannot be broadcast to %s", nm, cv_shape_str(small, sb[0], sizeof sb[0]),
                        cv_shape_str(big, sb[1], sizeof sb[1]));
        out[0] = s;
        return 1;
    }
    case CV_OP_ALLREDUCE:
        if (!want_inputs(g, nm, n_in, 1, 1)) return -1;
        if (in[0]->dtype != CV_F32) return FAIL("allreduce_sum: input must be f32, got %s", cv_dtype_name(in[0]->dtype));
        return 1;
    default:
        return FAIL("op %d (%s) cannot be recorded in a graph", op, nm);
    }
}

int64_t cv_op_macs(int op, cv_tensor *const *in, int n_in, const cv_shape *out0, const void *params) {
    (void)n_in;
    switch (op) {
    case CV_OP_CONV2D: case CV_OP_CONV3D: {
        const cv_conv_params *p = params;
        int64_t k = 1;
        for (int i = 1; i < in[1]->shape.ndim; i++) k *= in[1]->shape.dim[i]; /* Cin/g * kh * kw */
        (void)p;
        return cv_shape_numel(out0) * k;
    }
    case CV_OP_LINEAR: {
        int64_t K = in[1]->shape.dim[1];
        return cv_shape_numel(out0) * K;
    }
    case CV_OP_MATMUL: {
        const cv_matmul_params *p = params;
        const cv_shape *a = &in[0]->shape;
        int64_t K = p->trans_a ? a->dim[a->ndim - 2] : a->dim[a->ndim - 1];
        return cv_shape_numel(out0) * K;
    }
    default: return 0;
    }
}
