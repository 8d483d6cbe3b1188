/* layout.cu — channels-last (NHWC) between kernels (ABI 1.1 layouts, 1.3 NHWC):
 * layout_class(), which tells the engine which ops take NHWC operands (FREE: each
 * 4-D operand on its own; UNIFORM: all 4-D operands in one layout), and the check
 * that a kernel was given only layouts its class allows, naming the op and the
 * operand otherwise.  How each op honours NHWC is in its own file. */
#include <string.h>
#include "cuint.h"

static int layout_class_f32(const cv_kernel *k);

/* The class of k; with precision = bf16 / fp16 it carries CV_LAYOUT_CLASS_BF16 / _F16
 * (ABI 1.4): every kernel of this backend takes NHWC activations stored in the
 * precision's 16-bit dtype — convolutions, batch norm and the element-wise ops in
 * place (cu_entry.native16), the others widened into their workspace by the
 * dispatcher.  A node given such 16-bit 4-D operands is classed as its f32 version. */
extern "C" int cu_layout_class(void *self, const cv_kernel *k) {
    const cu_backend *b = (const cu_backend *)self;
    if (!b->cfg.nhwc) return CV_LAYOUT_CLASS_PLAIN;
    const int half = b->cfg.precision;
    for (int io = 0; io < 2; io++)
        for (int i = 0; i < (io ? k->n_out : k->n_in); i++) {
            const cv_ktensor *t = &(io ? k->out : k->in)[i];
            if (t->dtype != CV_F32 && !(t->dtype == half && t->ndim == 4)) return CV_LAYOUT_CLASS_PLAIN;
        }
    const int c = layout_class_f32(k);
    if (c == CV_LAYOUT_CLASS_PLAIN || half == CV_F32) return c;
    return c | (half == CV_BF16 ? CV_LAYOUT_CLASS_BF16 : CV_LAYOUT_CLASS_F16);
}

static int layout_class_f32(const cv_kernel *k) {
    const cv_ktensor *x = k->n_in ? &k->in[0] : NULL;
    switch (k->op) {
    case CV_OP_CONV2D: case CV_OP_CONV2D_BWD_DATA: case CV_OP_CONV2D_BWD_WEIGHT:
        return k->n_in >= 2 && k->n_out == 1 && x->ndim == 4 && k->in[1].ndim == 4 && k->out[0].ndim == 4
                   ? CV_LAYOUT_CLASS_FREE : CV_LAYOUT_CLASS_PLAIN;
    case CV_OP_BATCH_NORM: case CV_OP_BATCH_NORM_BWD:
        return k->n_in == 5 && x->ndim == 4 ? CV_LAYOUT_CLASS_UNIFORM : CV_LAYOUT_CLASS_PLAIN;
    case CV_OP_POOL2D: case CV_OP_POOL2D_BWD:
        return x && x->ndim == 4 ? CV_LAYOUT_CLASS_UNIFORM : CV_LAYOUT_CLASS_PLAIN;
    default: {
        const int c = cv_kernel_shape_layout_class(k);
        return c >= 0 ? c : CV_LAYOUT_CLASS_PLAIN;
    }
    }
}

/* every operand's layout is PLAIN or NHWC, and every NHWC one is one this op takes (its class,
 * shared by a UNIFORM op's 4-D operands, on dense 4-D tensors) */
int cu_layout_check(cu_backend *b, const cv_kernel *k, const char *op, cv_error *err) {
    if (!CV_HAS_MEMBER(k, cv_kernel, out_layout) || (!k->in_layout && !k->out_layout)) return CV_OK;
    int io, i;
    const int l = cv_kernel_foreign_layout(k, CV_LAYOUT_NHWC, &io, &i);
    if (l != CV_LAYOUT_PLAIN)
        return b->host->set_error(err, CV_ERR_INVALID,
                                  "backend cuda: %s: %s %d is given layout %s, which this backend does not use "
                                  "(it offers NHWC)", op, io ? "output" : "input", i, l == CV_LAYOUT_C16 ? "C16" : "unknown");
    const char *why = cv_kernel_layout_fault(k, cu_layout_class(b, k), CV_LAYOUT_NHWC, &io, &i);
    if (!why) return CV_OK;
    const cv_ktensor *t = io ? &k->out[i] : &k->in[i];
    cu_t shape;
    char s[96];
    shape.ndim = t->ndim;
    memcpy(shape.shape, t->shape, sizeof shape.shape);
    return b->host->set_error(err, CV_ERR_INVALID, "backend cuda: %s: %s %d %s is given layout NHWC, which this op %s", op,
                              io ? "output" : "input", i, cu_shape_str(&shape, s, sizeof s), why);
}
