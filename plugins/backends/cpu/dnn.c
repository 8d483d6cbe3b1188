/* plugins/backends/cpu/dnn.c — oneDNN plumbing: the per-node state prepare()
 * builds (primitive, memory objects, reorders between the caller's plain strided
 * tensors and the layout the primitive chose), its workspace layout, and run().
 * The per-op descriptors are set up in dnn_ops.c. */
#include "dnn.h"

#include <stdlib.h>
#include <string.h>

int dnn_fail(dnn_build *bd, dnnl_status_t s, const char *what) {
    char a[64], b[64];
    const cv_kernel *k = bd->k;
    return CPU_FAIL(bd->b, bd->err, s == dnnl_out_of_memory ? CV_ERR_NOMEM : CV_ERR_UNSUPPORTED,
                    "backend cpu: %s: oneDNN failed (%s, status %d) for input %s and output %s", op_name(k->op), what,
                    (int)s, k->n_in ? kt_shape_str(&k->in[0], a, sizeof a) : "[]",
                    k->n_out ? kt_shape_str(&k->out[0], b, sizeof b) : "[]");
}

static size_t ws_reserve(dnn_node *n, size_t bytes) {
    size_t at = (n->ws_total + 63) & ~(size_t)63;
    n->ws_total = at + bytes;
    return at;
}

/* oneDNN cannot describe zero or negative strides: such operands are packed */
static int describable(const cv_ktensor *t) {
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] > 1 && t->stride[d] <= 0) return 0;
    return 1;
}

/* the oneDNN data type of a tensor: f32, or bf16 where the engine stores an activation so */
static dnnl_data_type_t dnn_dt(const cv_ktensor *t) { return t->dtype == CV_BF16 ? dnnl_bf16 : dnnl_f32; }

void dnn_md_of(dnnl_memory_desc_t *md, const cv_ktensor *t) {
    dnnl_dims_t dims, strides;
    int nd = t->ndim ? t->ndim : 1;
    for (int d = 0; d < nd; d++) {
        dims[d] = t->ndim ? t->shape[d] : 1;
        strides[d] = t->ndim ? t->stride[d] : 1;
    }
    dnnl_memory_desc_init_by_strides(md, nd, dims, dnn_dt(t), strides);
}

/* a 4-D tensor in the blocked layout CV_LAYOUT_C16: oneDNN's nChw16c */
void dnn_md_c16(dnnl_memory_desc_t *md, const cv_ktensor *t) {
    dnnl_dims_t dims = { t->shape[0], t->shape[1], t->shape[2], t->shape[3] };
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnn_dt(t), dnnl_nChw16c);
}

/* Register a primitive argument bound to tensor `index` of the kernel's inputs
 * (is_out 0) or outputs (is_out 1), or to a workspace buffer (index < 0).
 * user_md describes the tensor (NULL: derive from the ktensor and its layout; a
 * reshaped view such as grouped weights passes its own).  When the primitive wants another
 * layout a reorder is added, with the primitive's copy in the workspace. */
int dnn_arg_add(dnn_build *bd, int arg, int is_out, int index, const dnnl_memory_desc_t *user_md) {
    dnn_node *n = bd->node;
    if (n->nargs >= DNN_MAX_ARGS) return dnn_fail(bd, dnnl_runtime_error, "too many arguments");
    dnn_arg *a = &n->args[n->nargs++];
    memset(a, 0, sizeof *a);
    a->arg = arg;
    a->is_out = is_out;
    a->index = index;
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(bd->pd, dnnl_query_exec_arg_md, arg);
    dnnl_memory_desc_t umd;
    if (index >= 0) {
        const cv_ktensor *t = is_out ? &bd->k->out[index] : &bd->k->in[index];
        cv_ktensor dense = kt_dense(t, NULL);
        /* a caller-supplied md describes the dense layout of the tensor */
        if (!describable(t) || (user_md && !kt_contiguous(t))) {
            a->pack = 1;
            a->pack_off = ws_reserve(n, (size_t)kt_numel(t) * dtype_size(t->dtype));
            t = &dense;
        }
        if (user_md) umd = *user_md;
        else if (cv_kernel_layout(bd->k, is_out, index) == CV_LAYOUT_C16) dnn_md_c16(&umd, t);
        else dnn_md_of(&umd, t);
    } else {
        umd = *want;
        a->ws_off = ws_reserve(n, dnnl_memory_desc_get_size(want));
    }
    dnnl_status_t s = dnnl_memory_create(&a->user, &umd, bd->b->engine, DNNL_MEMORY_NONE);
    if (s != dnnl_success) return dnn_fail(bd, s, "memory");
    if (index < 0 || dnnl_memory_desc_equal(&umd, want)) return CV_OK;
    /* the primitive computes in its own layout: reorder at the edges */
    a->inner_off = ws_reserve(n, dnnl_memory_desc_get_size(want));
    if ((s = dnnl_memory_create(&a->inner, want, bd->b->engine, DNNL_MEMORY_NONE)) != dnnl_success)
        return dnn_fail(bd, s, "memory");
    dnnl_memory_desc_t as_bf16 = umd;
    as_bf16.data_type = dnnl_bf16;
    if (!is_out && umd.data_type == dnnl_f32 && want->data_type == dnnl_bf16 && dnnl_memory_desc_equal(&as_bf16, want)) {
        a->to_bf16 = (int64_t)(dnnl_memory_desc_get_size(want) / 2); /* only the type changes: our own loop */
        return CV_OK;
    }
    dnnl_primitive_desc_t rpd = NULL;
    s = is_out ? dnnl_reorder_primitive_desc_create(&rpd, want, bd->b->engine, &umd, bd->b->engine, NULL)
               : dnnl_reorder_primitive_desc_create(&rpd, &umd, bd->b->engine, want, bd->b->engine, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(&a->reorder, rpd);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (s != dnnl_success) return dnn_fail(bd, s, "reorder");
    return CV_OK;
}

/* Create the primitive from bd->pd and reserve its scratchpad. */
int dnn_finish(dnn_build *bd) {
    dnn_node *n = bd->node;
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(bd->pd, dnnl_query_scratchpad_md, 0);
    size_t sp_bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
    dnnl_status_t s;
    if (sp_bytes) {
        n->scratch_off = ws_reserve(n, sp_bytes);
        if ((s = dnnl_memory_create(&n->scratch, sp, bd->b->engine, DNNL_MEMORY_NONE)) != dnnl_success)
            return dnn_fail(bd, s, "scratchpad");
    }
    if ((s = dnnl_primitive_create(&n->prim, bd->pd)) != dnnl_success) return dnn_fail(bd, s, "primitive");
    const char *impl = NULL;
    dnnl_primitive_desc_query(bd->pd, dnnl_query_impl_info_str, 0, &impl);
    if (impl) {
        strncpy(n->impl, impl, sizeof n->impl - 1);
        n->impl[sizeof n->impl - 1] = 0;
    }
    return CV_OK;
}

/* attributes every primitive gets: the scratchpad comes from our workspace */
dnnl_primitive_attr_t dnn_attr(void) {
    dnnl_primitive_attr_t attr = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    return attr;
}

void dnn_release(void *prepared) {
    dnn_node *n = prepared;
    if (!n) return;
    for (int i = 0; i < n->nargs; i++) {
        if (n->args[i].reorder) dnnl_primitive_destroy(n->args[i].reorder);
        if (n->args[i].inner) dnnl_memory_destroy(n->args[i].inner);
        if (n->args[i].user) dnnl_memory_destroy(n->args[i].user);
    }
    if (n->scratch) dnnl_memory_destroy(n->scratch);
    if (n->prim) dnnl_primitive_destroy(n->prim);
    free(n);
}

int dnn_prepare(cpu_backend *b, const cv_kernel *k, void **prepared, size_t *ws, cv_error *err) {
    dnn_node *n = calloc(1, sizeof *n);
    if (!n) return CPU_FAIL(b, err, CV_ERR_NOMEM, "backend cpu: %s: out of memory", op_name(k->op));
    n->op = k->op;
    dnn_build bd = { .b = b, .k = k, .err = err, .node = n };
    int st = dnn_build_op(&bd);
    if (bd.pd) dnnl_primitive_desc_destroy(bd.pd);
    if (bd.hint) dnnl_primitive_desc_destroy(bd.hint);
    if (st != CV_OK) {
        dnn_release(n);
        return st;
    }
    *prepared = n;
    *ws = n->ws_total;
    return CV_OK;
}

static dnnl_status_t exec_reorder(cpu_backend *b, dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t args[2] = { { DNNL_ARG_FROM, from }, { DNNL_ARG_TO, to } };
    return dnnl_primitive_execute(r, b->stream, 2, args);
}

int dnn_run(cpu_backend *b, const cv_kernel *k, cv_error *err) {
    dnn_node *n = k->prepared;
    char *ws = k->workspace;
    if (n->ws_total > 0 && (!ws || k->workspace_bytes < n->ws_total))
        return CPU_FAIL(b, err, CV_ERR_INTERNAL, "backend cpu: %s: workspace of %zu bytes, prepare asked for %zu",
                        op_name(k->op), k->workspace_bytes, n->ws_total);
    for (int i = 0; i < k->n_out; i++)
        if (kt_numel(&k->out[i]) == 0) return CV_OK;
    for (int i = 0; i < k->n_in; i++)
        if (kt_numel(&k->in[i]) == 0) return dnn_empty_input(b, k, err);
    dnn_build bd = { .b = b, .k = k, .err = err, .node = n };
    int st = dnn_before(&bd, ws);
    if (st != CV_OK) return st;
    dnnl_exec_arg_t args[DNN_MAX_ARGS + 1];
    int na = 0;
    dnnl_status_t s = dnnl_success;
    for (int i = 0; i < n->nargs && s == dnnl_success; i++) {
        dnn_arg *a = &n->args[i];
        void *data;
        if (a->index < 0) data = ws + a->ws_off;
        else {
            const cv_ktensor *t = a->is_out ? &k->out[a->index] : &k->in[a->index];
            data = t->data;
            if (a->pack) {
                cv_ktensor d = kt_dense(t, ws + a->pack_off);
                if (!a->is_out) strided_copy(&d, t, b->threads);
                data = d.data;
            }
        }
        dnnl_memory_set_data_handle(a->user, data);
        if (a->inner) {
            dnnl_memory_set_data_handle(a->inner, ws + a->inner_off);
            if (a->to_bf16) f32_to_bf16_n(ws + a->inner_off, data, a->to_bf16, b->threads);
            else if (!a->is_out) s = exec_reorder(b, a->reorder, a->user, a->inner);
        }
        args[na++] = (dnnl_exec_arg_t){ a->arg, a->inner ? a->inner : a->user };
    }
    if (s == dnnl_success && n->scratch) {
        dnnl_memory_set_data_handle(n->scratch, ws + n->scratch_off);
        args[na++] = (dnnl_exec_arg_t){ DNNL_ARG_SCRATCHPAD, n->scratch };
    }
    if (s == dnnl_success) s = dnnl_primitive_execute(n->prim, b->stream, na, args);
    for (int i = 0; i < n->nargs && s == dnnl_success; i++) {
        dnn_arg *a = &n->args[i];
        if (a->is_out && a->inner) s = exec_reorder(b, a->reorder, a->inner, a->user);
        if (s == dnnl_success && a->is_out && a->pack && a->index >= 0) {
            const cv_ktensor *t = &k->out[a->index];
            cv_ktensor d = kt_dense(t, ws + a->pack_off);
            strided_copy(t, &d, b->threads);
        }
    }
    if (s == dnnl_success) s = dnnl_stream_wait(b->stream);
    if (s != dnnl_success) return dnn_fail(&bd, s, "execute");
    return dnn_after(&bd, ws);
}
