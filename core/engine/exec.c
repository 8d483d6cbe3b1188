/* core/engine/exec.c — turns a planned graph into a flat array of backend kernels
 * (built once per plan: shapes, strides, params, operand layouts chosen by
 * layout.c, prepared state, workspace and data pointers) and runs one step over
 * it.  A step does no allocation: it uploads the batch, sets the dropout seeds,
 * calls backend->run per node and downloads the loss and logits.  Optionally it
 * times every kernel (the per-op profile). */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cv_fill_ktensor(cv_ktensor *k, const cv_tensor *t) {
    memset(k, 0, sizeof *k);
    k->dtype = t->dtype;
    k->ndim = t->shape.ndim;
    int64_t st = 1;
    for (int i = t->shape.ndim - 1; i >= 0; i--) {
        k->shape[i] = t->shape.dim[i];
        k->stride[i] = st;
        st *= t->shape.dim[i];
    }
}

static int kernel_node(const cv_node *n) { return !n->is_view; }

/* the node's operand layouts chosen by layout.c (NULL: all plain) */
#define LAYOUT_IN(p, n) ((p)->layout ? (p)->layout + (n)->io : NULL)
#define LAYOUT_OUT(p, n) ((p)->layout ? (p)->layout + (n)->io + (n)->n_in : NULL)

/* backend->supports and backend->prepare for every kernel node, with NULL data */
int cv_plan_prepare(cv_plan *p, cv_error *err) {
    cv_graph *g = p->g;
    const cv_backend_vtable *vt = p->net->e->be.vt;
    void *self = p->net->e->be.self;
    cv_ktensor kt[72];
    for (int32_t i = 0; i < g->n_nodes; i++) {
        cv_node *n = &g->nodes[i];
        if (!kernel_node(n) || n->op == CV_OP_ALLREDUCE) continue; /* run by the engine (syncbn.c) */
        if (n->n_in + n->n_out > 72) return cv_set_error(err, CV_ERR_UNSUPPORTED, "%s: too many inputs", cv_op_name(n->op));
        int32_t *io = g->ids + n->io;
        for (int k = 0; k < n->n_in + n->n_out; k++) cv_fill_ktensor(&kt[k], cv_graph_tensor(g, io[k]));
        /* the data dtype: outputs, except a cast (named by its source) */
        int dt = n->op == CV_OP_CAST || !n->n_out ? kt[0].dtype : kt[n->n_in].dtype;
        if (vt->supports && !vt->supports(self, n->op, dt))
            return cv_set_error(err, CV_ERR_UNSUPPORTED, "backend does not implement %s for %s%s%s", cv_op_name(n->op),
                                cv_dtype_name(dt), n->scope >= 0 ? " (in " : "", n->scope >= 0 ? g->scopes[n->scope] : "");
        if (!vt->prepare) continue;
        cv_kernel k = { sizeof(cv_kernel), n->op, cv_node_params(g, n), n->params_size, n->n_in, n->n_out,
                        kt, kt + n->n_in, NULL, 0, 0, NULL, LAYOUT_IN(p, n), LAYOUT_OUT(p, n) };
        size_t ws = 0;
        void *prep = NULL;
        int st = vt->prepare(self, &k, &prep, &ws, err);
        if (st != CV_OK) return st;
        n->prepared = prep;
        n->workspace_bytes = ws;
    }
    return CV_OK;
}

void cv_plan_release(cv_plan *p) {
    cv_graph *g = p->g;
    cv_replay_free(p);
    const cv_backend_vtable *vt = p->net->e->be.vt;
    for (int32_t i = 0; g && i < g->n_nodes; i++)
        if (g->nodes[i].prepared && vt->release) {
            vt->release(p->net->e->be.self, g->nodes[i].prepared);
            g->nodes[i].prepared = NULL;
        }
    cv_free(p->exec);
    cv_free(p->kt);
    cv_free(p->layout);
    cv_free(p->coll_host);
    p->coll_host = NULL;
    p->exec = NULL;
    p->kt = NULL;
    p->layout = NULL;
}

int cv_plan_compile(cv_plan *p, cv_error *err) {
    cv_graph *g = p->g;
    int32_t ne = 0, nk = 0;
    for (int32_t i = 0; i < g->n_nodes; i++)
        if (kernel_node(&g->nodes[i])) {
            ne++;
            nk += g->nodes[i].n_in + g->nodes[i].n_out;
        }
    p->exec = cv_alloc_array((size_t)ne + 1, sizeof *p->exec);
    p->kt = cv_alloc_array((size_t)nk + 1, sizeof *p->kt);
    if (!p->exec || !p->kt) return cv_set_error(err, CV_ERR_NOMEM, "engine: out of memory compiling the plan");
    p->n_exec = ne;
    p->n_kt = nk;
    int32_t e = 0, k = 0;
    for (int32_t i = 0; i < g->n_nodes; i++) {
        cv_node *n = &g->nodes[i];
        if (!kernel_node(n)) continue;
        cv_exec_node *x = &p->exec[e++];
        int32_t *io = g->ids + n->io;
        for (int j = 0; j < n->n_in + n->n_out; j++) cv_fill_ktensor(&p->kt[k + j], cv_graph_tensor(g, io[j]));
        x->node = i;
        if (i < g->n_model) p->n_exec_model = e;
        x->needs_seed = n->op == CV_OP_DROPOUT || n->op == CV_OP_DROP_PATH;
        x->k = (cv_kernel){ sizeof(cv_kernel), n->op, cv_node_params(g, n), n->params_size, n->n_in, n->n_out,
                            p->kt + k, p->kt + k + n->n_in, NULL, n->workspace_bytes, 0, n->prepared,
                            LAYOUT_IN(p, n), LAYOUT_OUT(p, n) };
        k += n->n_in + n->n_out;
    }
    p->bound_generation = 0;
    int st = cv_collective_prepare(p, err);
    return st != CV_OK ? st : cv_plan_bind(p, err);
}

static void *tensor_ptr(const cv_plan *p, const cv_tensor *t) {
    const cv_graph *g = p->g;
    const cv_net *n = p->net;
    const cv_storage *s = &g->storages[cv_storage_rep(g, t->storage)];
    char *base;
    switch (s->where) {
    case CV_STORE_ARENA: base = n->arena; break;
    case CV_STORE_PARAM: base = n->dev[0]; break;
    case CV_STORE_GRAD: base = n->dev[1]; break;
    default: base = n->dev[3]; break;
    }
    return base ? base + s->offset + t->offset : NULL;
}

int cv_plan_bind(cv_plan *p, cv_error *err) {
    cv_graph *g = p->g;
    (void)err;
    for (int32_t e = 0; e < p->n_exec; e++) {
        cv_exec_node *x = &p->exec[e];
        cv_node *n = &g->nodes[x->node];
        int32_t *io = g->ids + n->io;
        cv_ktensor *kt = (cv_ktensor *)x->k.in;
        for (int j = 0; j < n->n_in + n->n_out; j++) kt[j].data = tensor_ptr(p, cv_graph_tensor(g, io[j]));
        x->k.workspace = n->workspace >= 0 ? (char *)p->net->arena + g->storages[n->workspace].offset : NULL;
    }
    p->bound_generation = p->net->generation;
    return CV_OK;
}

static size_t tensor_bytes(const cv_tensor *t) { return (size_t)cv_shape_numel(&t->shape) * cv_dtype_size(t->dtype); }

/* the error of exec node x's kernel: its layer, op and shapes, then the backend's own words (p->kerr) */
int cv_exec_fail(cv_plan *p, const cv_exec_node *x, int st, cv_error *err) {
    const cv_graph *g = p->g;
    const cv_node *nd = &g->nodes[x->node];
    char sb[96];
    const cv_ktensor *k0 = x->k.n_in ? &x->k.in[0] : &x->k.out[0];
    cv_shape s0 = { k0->ndim, 0, { 0 } };
    for (int d = 0; d < k0->ndim; d++) s0.dim[d] = k0->shape[d];
    return cv_set_error(err, st, "%s%s%s%s on %s: %s", nd->scope >= 0 ? g->scopes[nd->scope] : "",
                        nd->scope >= 0 ? ": " : "", cv_op_name(nd->op), nd->backward ? " (backward)" : "",
                        cv_shape_str(&s0, sb, sizeof sb), p->kerr.message[0] ? p->kerr.message : "backend failed");
}

/* one exec node's kernel (or the engine's all-reduce), with a fresh p->kerr */
int cv_exec_one(cv_plan *p, cv_exec_node *x) {
    cv_net *n = p->net;
    p->kerr.status = CV_OK; /* a fresh error per kernel, without a 1 KiB memset */
    p->kerr.message[0] = 0;
    return x->k.op == CV_OP_ALLREDUCE ? cv_collective_run(p, &x->k, &p->kerr) : n->e->be.vt->run(n->e->be.self, &x->k, &p->kerr);
}

/* the first n_exec kernels one by one: timed when profiling, the gradient-ready hook after each */
int cv_exec_kernels(cv_plan *p, int32_t n_exec, int hook, cv_error *err) {
    cv_net *n = p->net;
    const cv_backend_vtable *vt = n->e->be.vt;
    int st;
    for (int32_t e = 0; e < n_exec; e++) {
        cv_exec_node *x = &p->exec[e];
        struct timespec t0, t1;
        if (n->profiling) clock_gettime(CLOCK_MONOTONIC, &t0);
        st = cv_exec_one(p, x);
        if (n->profiling && st == CV_OK) {
            if (vt->sync) st = vt->sync(n->e->be.self, &p->kerr);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            x->calls++;
            x->seconds += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        }
        if (st != CV_OK) return cv_exec_fail(p, x, st, err);
        if (hook && (st = cv_grad_ready_after(p, e, err)) != CV_OK) return st;
    }
    return CV_OK;
}

int cv_plan_execute(cv_plan *p, cv_step_io *io, cv_error *err) {
    cv_net *n = p->net;
    cv_graph *g = p->g;
    const cv_backend_vtable *vt = n->e->be.vt;
    void *self = n->e->be.self;
    int st;
    if (p->bound_generation != n->generation && (st = cv_plan_bind(p, err)) != CV_OK) return st;
    if (g->inputs[0]) {
        if (!io->images) return cv_set_error(err, CV_ERR_INVALID, "engine: no images given for the step");
        st = vt->upload(self, tensor_ptr(p, g->inputs[0]), io->images, tensor_bytes(g->inputs[0]), err);
        if (st != CV_OK) return st;
    }
    /* eval without targets (prediction): run the model's nodes only, no loss */
    int32_t n_exec = p->n_exec;
    int with_loss = g->loss != NULL;
    if (p->mode == CV_MODE_EVAL && !io->targets) {
        n_exec = p->n_exec_model;
        with_loss = 0;
    }
    if (g->inputs[1] && with_loss) {
        if (!io->targets) return cv_set_error(err, CV_ERR_INVALID, "engine: the loss needs targets but none were given");
        st = vt->upload(self, tensor_ptr(p, g->inputs[1]), io->targets, tensor_bytes(g->inputs[1]), err);
        if (st != CV_OK) return st;
    }
    /* data-parallel overlap: report gradient slices as they become final (gradready.c) */
    int hook = p->mode == CV_MODE_TRAIN && n->grad_ready;
    if (hook && (st = cv_grad_ready_begin(p, err)) != CV_OK) return st;
    if (g->seed_node >= 0) /* the loss scale: the seed FILL reads its value at run time */
        ((cv_scalar_params *)(g->pbytes + g->nodes[g->seed_node].params_off))->value = n->loss_scale;
    uint64_t coords[2] = { (uint64_t)n->step, 0 };
    for (int32_t e = 0; e < n_exec; e++) {
        cv_exec_node *x = &p->exec[e];
        if (!x->needs_seed) continue;
        cv_rng r;
        coords[1] = (uint64_t)x->node;
        cv_rng_init(&r, n->e->seed, coords, 2);
        x->k.seed = cv_rng_u64(&r);
    }
    st = cv_replay_wanted(p, hook) ? cv_replay_run(p, n_exec, err) : cv_exec_kernels(p, n_exec, hook, err);
    if (st != CV_OK) return st;
    /* params created by a later trace are not in this graph: zero their gradients */
    if (p->mode == CV_MODE_TRAIN && !p->accumulate)
        for (int32_t i = p->n_params_built; i < n->n_params; i++) {
            const cv_param_info *pi = &n->params[i].info;
            if (pi->tags & CV_TAG_BUFFER) continue;
            cv_ktensor z;
            memset(&z, 0, sizeof z);
            z.dtype = CV_F32;
            z.ndim = 1;
            z.shape[0] = cv_shape_numel(&pi->shape);
            z.stride[0] = 1;
            z.data = (char *)n->dev[1] + pi->offset * 4;
            cv_scalar_params fp = { CV_S_ADD, 0.0f };
            cv_kernel k = { sizeof(cv_kernel), CV_OP_FILL, &fp, sizeof fp, 0, 1, NULL, &z, NULL, 0, 0, NULL, NULL, NULL };
            if ((st = vt->run(self, &k, err)) != CV_OK) return st;
        }
    if (hook && (st = cv_grad_ready_after(p, p->n_exec, err)) != CV_OK) return st;
    if (vt->sync && (st = vt->sync(self, err)) != CV_OK) return st;
    io->loss = 0;
    if (with_loss) {
        float l = 0;
        st = vt->download(self, &l, tensor_ptr(p, g->loss), sizeof l, err);
        if (st != CV_OK) return st;
        io->loss = l;
    }
    if (io->logits_out && g->logits) {
        if (g->logits->dtype != CV_F32) return cv_set_error(err, CV_ERR_UNSUPPORTED, "engine: logits are not f32");
        st = vt->download(self, io->logits_out, tensor_ptr(p, g->logits), tensor_bytes(g->logits), err);
        if (st != CV_OK) return st;
    }
    if (with_loss && !isfinite(io->loss))
        return cv_set_error(err, CV_ERR_NUMERIC,
                            "loss is %g at step %lld (input %lldx%lldx%lldx%lld): training diverged or the data holds "
                            "NaN/Inf; lower the learning rate or check the inputs",
                            io->loss, (long long)n->step, (long long)p->in_shape.dim[0], (long long)p->in_shape.dim[1],
                            (long long)p->in_shape.dim[2], (long long)p->in_shape.dim[3]);
    return CV_OK;
}

/* ---- profile ------------------------------------------------------------------------------ */
void cv_net_set_profiling(cv_net *n, int on) {
    if (n) n->profiling = on != 0;
}

void cv_plan_profile_reset(cv_plan *p) {
    for (cv_plan *q = p; q; q = q->accum) /* and the accumulate variant */
        for (int32_t e = 0; e < q->n_exec; e++) {
            q->exec[e].calls = 0;
            q->exec[e].seconds = 0;
        }
}

static int by_seconds(const void *a, const void *b) {
    double x = ((const cv_op_profile *)a)->seconds, y = ((const cv_op_profile *)b)->seconds;
    return x < y ? 1 : x > y ? -1 : 0;
}

int cv_plan_profile(const cv_plan *p, cv_op_profile *out, int max) {
    if (!p) return 0;
    cv_op_profile rows[2 * 128];
    int n = 0;
    const cv_plan *parts[2] = { p, p->accum };
    for (int v = 0; v < 2; v++) {
        const cv_plan *q = parts[v];
        for (int32_t e = 0; q && e < q->n_exec; e++) {
            const cv_exec_node *x = &q->exec[e];
            if (!x->calls) continue;
            const cv_node *nd = &q->g->nodes[x->node];
            int bw = nd->backward != 0, k = 0;
            while (k < n && !(rows[k].op == nd->op && rows[k].backward == bw)) k++;
            if (k == n) {
                if (n == (int)(sizeof rows / sizeof rows[0])) continue;
                rows[n++] = (cv_op_profile){ nd->op, bw, 0, 0, 0 };
            }
            rows[k].calls += x->calls;
            rows[k].seconds += x->seconds;
            rows[k].macs += nd->macs * x->calls;
        }
    }
    qsort(rows, (size_t)n, sizeof rows[0], by_seconds);
    if (out && max > 0) memcpy(out, rows, (size_t)(n < max ? n : max) * sizeof rows[0]);
    return n;
}
