/* sdk/lib/kernel_layout.c — what a backend with a blocked layout (ABI 1.1 / 1.3,
 * cvnets/backend.h) needs whatever that layout is: the layout of a kernel's
 * operand, the shape patterns its layout_class() recognises (same-shape
 * element-wise kernels, a global pool by REDUCE over H and W, and its gradient's
 * BROADCAST_TO back from [N,C,1,1]; the [N,C] side of the last two is the same
 * bytes in every layout), the layout class those patterns give, and the check
 * that a kernel's operands were given layouts its class allows. */
#include <cvnets/backend.h>
#include <string.h>

static int same_shape(const cv_ktensor *a, const cv_ktensor *b) {
    return a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim);
}

int cv_kernel_layout(const cv_kernel *k, int is_out, int i) {
    if (!CV_HAS_MEMBER(k, cv_kernel, out_layout)) return CV_LAYOUT_PLAIN;
    const uint8_t *l = is_out ? k->out_layout : k->in_layout;
    return l ? l[i] : CV_LAYOUT_PLAIN;
}

static int dense(const cv_ktensor *t) {
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != expect) return 0;
        expect *= t->shape[d];
    }
    return 1;
}

int cv_kernel_foreign_layout(const cv_kernel *k, int layout, int *is_out, int *index) {
    for (int io = 0; io < 2; io++)
        for (int i = 0; i < (io ? k->n_out : k->n_in); i++) {
            const int l = cv_kernel_layout(k, io, i);
            if (l != CV_LAYOUT_PLAIN && l != layout) {
                *is_out = io;
                *index = i;
                return l;
            }
        }
    return CV_LAYOUT_PLAIN;
}

/* the ABI 1.4 flag that lets an operand of dtype dt be stored blocked (0: f32 needs none) */
static int half_flag(int dt) { return dt == CV_BF16 ? CV_LAYOUT_CLASS_BF16 : dt == CV_F16 ? CV_LAYOUT_CLASS_F16 : 0; }

const char *cv_kernel_layout_fault(const cv_kernel *k, int cls, int layout, int *is_out, int *index) {
    const int flags = cls & ~CV_LAYOUT_CLASS_MASK;
    cls &= CV_LAYOUT_CLASS_MASK;
    int first = -1, first_dt = -1, mixed = 0;
    for (int io = 0; io < 2; io++)
        for (int i = 0; i < (io ? k->n_out : k->n_in); i++) {
            const cv_ktensor *t = io ? &k->out[i] : &k->in[i];
            if (t->ndim != 4 || cls != CV_LAYOUT_CLASS_UNIFORM) continue;
            const int l = cv_kernel_layout(k, io, i);
            if (first < 0) {
                first = l;
                first_dt = t->dtype;
            } else mixed |= l != first || (l != CV_LAYOUT_PLAIN && t->dtype != first_dt);
        }
    for (int io = 0; io < 2; io++)
        for (int i = 0; i < (io ? k->n_out : k->n_in); i++) {
            const cv_ktensor *t = io ? &k->out[i] : &k->in[i];
            if (cv_kernel_layout(k, io, i) != layout) continue;
            const int half = half_flag(t->dtype);
            const char *why = cls == CV_LAYOUT_CLASS_PLAIN ? "does not take with these operands"
                              : mixed ? "takes only when all its 4-D operands share it (and one dtype)"
                              : layout == CV_LAYOUT_C16 && (t->ndim != 4 || t->shape[1] % 16 || !dense(t))
                                  ? "takes only on dense 4-D, C % 16 == 0"
                              : t->ndim != 4 || !dense(t) ? "takes only on dense 4-D"
                              : half && !(flags & half) ? "does not take stored in 16 bits"
                                                        : NULL;
            if (why) {
                *is_out = io;
                *index = i;
                return why;
            }
        }
    return NULL;
}

int cv_kernel_same_shapes(const cv_kernel *k) {
    if (k->n_out != 1) return 0;
    for (int i = 0; i < k->n_in; i++)
        if (!same_shape(&k->in[i], &k->out[0])) return 0;
    return 1;
}

int cv_kernel_reduce_hw(const cv_kernel *k) {
    const cv_reduce_params *p = k->params;
    if (k->op != CV_OP_REDUCE || !p || k->params_size < sizeof *p || k->n_in != 1 || k->n_out != 1 || k->in[0].ndim != 4)
        return 0;
    int64_t n = 1;
    for (int d = 0; d < k->out[0].ndim; d++) n *= k->out[0].shape[d];
    const int64_t N = k->in[0].shape[0], C = k->in[0].shape[1];
    return (p->axes == 0xCu && n == N * C) || (p->axes == 0xDu && n == C);
}

int cv_kernel_broadcast_hw(const cv_kernel *k) {
    if (k->op != CV_OP_BROADCAST_TO || k->n_in != 1 || k->n_out != 1) return 0;
    const cv_ktensor *x = &k->in[0], *y = &k->out[0];
    return x->ndim == 4 && y->ndim == 4 && x->shape[0] == y->shape[0] && x->shape[1] == y->shape[1] &&
           x->shape[2] == 1 && x->shape[3] == 1;
}

int cv_kernel_shape_layout_class(const cv_kernel *k) {
    switch (k->op) {
    case CV_OP_ADAPTIVE_AVG_POOL2D: case CV_OP_ADAPTIVE_AVG_POOL2D_BWD: {
        /* a 1x1 side is the same bytes in every layout: the sides are independent */
        if (k->n_in != 1 || k->n_out != 1) return CV_LAYOUT_CLASS_PLAIN;
        const cv_ktensor *s = k->op == CV_OP_ADAPTIVE_AVG_POOL2D ? &k->out[0] : &k->in[0];
        if (s->ndim != 4) return CV_LAYOUT_CLASS_PLAIN;
        return s->shape[2] == 1 && s->shape[3] == 1 ? CV_LAYOUT_CLASS_FREE : CV_LAYOUT_CLASS_UNIFORM;
    }
    case CV_OP_REDUCE: return cv_kernel_reduce_hw(k) ? CV_LAYOUT_CLASS_FREE : CV_LAYOUT_CLASS_PLAIN;
    case CV_OP_BROADCAST_TO: return cv_kernel_broadcast_hw(k) ? CV_LAYOUT_CLASS_FREE : CV_LAYOUT_CLASS_PLAIN;
    case CV_OP_UNARY: case CV_OP_UNARY_BWD: case CV_OP_BINARY: case CV_OP_SCALAR: case CV_OP_COPY:
        return cv_kernel_same_shapes(k) ? CV_LAYOUT_CLASS_UNIFORM : CV_LAYOUT_CLASS_PLAIN;
    case CV_OP_FILL: return CV_LAYOUT_CLASS_UNIFORM;
    default: return -1;
    }
}
