/* core/engine/net.c — engine and net life cycle, the plan cache keyed by (input
 * shape, mode, soft targets), building a plan (trace the model and loss, append
 * the backward pass, prepare kernels, plan memory, compile), running a step, and
 * the per-layer summary (MACs and parameters per scope). */
#include "internal.h"

#include <string.h>

cv_engine *cv_engine_create(const cv_host *host, cv_backend_ref backend, uint64_t seed, cv_error *err) {
    if (!backend.vt || !backend.vt->alloc || !backend.vt->free || !backend.vt->upload || !backend.vt->download ||
        !backend.vt->run) {
        cv_set_error(err, CV_ERR_INVALID, "engine: the backend lacks alloc/free/upload/download/run");
        return NULL;
    }
    cv_engine *e = cv_alloc_array(1, sizeof *e);
    if (!e) {
        cv_set_error(err, CV_ERR_NOMEM, "engine: out of memory");
        return NULL;
    }
    e->host = host;
    e->be = backend;
    e->seed = seed;
    return e;
}

void cv_engine_destroy(cv_engine *e) { cv_free(e); }

cv_net *cv_net_create(cv_engine *e, cv_component_ref model, cv_component_ref loss, int num_classes, cv_error *err) {
    if (!e || !model.desc || !model.desc->vtable || model.desc->kind != CV_KIND_MODEL) {
        cv_set_error(err, CV_ERR_INVALID, "engine: cv_net_create needs a model component");
        return NULL;
    }
    if (loss.desc && (!loss.desc->vtable || loss.desc->kind != CV_KIND_LOSS)) {
        cv_set_error(err, CV_ERR_INVALID, "engine: component '%s' is not a loss", loss.desc->name ? loss.desc->name : "?");
        return NULL;
    }
    if (num_classes < 1) {
        cv_set_error(err, CV_ERR_INVALID, "engine: num_classes %d must be >= 1", num_classes);
        return NULL;
    }
    cv_net *n = cv_alloc_array(1, sizeof *n);
    if (!n) {
        cv_set_error(err, CV_ERR_NOMEM, "engine: out of memory");
        return NULL;
    }
    n->e = e;
    n->model = model;
    n->loss = loss;
    n->num_classes = num_classes;
    n->generation = 1;
    n->loss_scale = 1.0f;
    n->scratch = e->be.vt->alloc(e->be.self, 64);
    if (!n->scratch) {
        cv_free(n);
        cv_set_error(err, CV_ERR_NOMEM, "engine: backend allocation failed");
        return NULL;
    }
    return n;
}

static void plan_free(cv_plan *p) {
    if (!p) return;
    plan_free(p->accum);
    cv_grad_ready_free(p);
    cv_plan_release(p);
    cv_graph_free(p->g, &p->net->e->be);
    cv_free(p);
}

void cv_net_destroy(cv_net *n) {
    if (!n) return;
    for (int i = 0; i < n->n_plans; i++) plan_free(n->plans[i]);
    cv_free(n->plans);
    const cv_backend_vtable *vt = n->e->be.vt;
    if (n->arena) vt->free(n->e->be.self, n->arena);
    if (n->scratch) vt->free(n->e->be.self, n->scratch);
    cv_net_params_free(n);
    cv_free(n);
}

static int fail_from_graph(cv_graph *g, cv_error *err, const char *what) {
    if (g->err.status) return cv_set_error(err, g->err.status, "%s: %s", what, g->err.message);
    return cv_set_error(err, CV_ERR_INTERNAL, "%s failed", what);
}

static void pin(cv_graph *g, cv_tensor *t) {
    t->is_output = 1;
    g->storages[t->storage].pinned = 1;
}

static cv_plan *build_plan(cv_net *n, const cv_shape *in_shape, cv_mode mode, int soft, int accumulate, cv_error *err) {
    cv_plan *p = cv_alloc_array(1, sizeof *p);
    cv_graph *g = p ? cv_graph_new(n, in_shape, mode == CV_MODE_TRAIN, soft) : NULL;
    if (!g) {
        cv_free(p);
        cv_set_error(err, CV_ERR_NOMEM, "engine: out of memory");
        return NULL;
    }
    p->net = n;
    p->g = g;
    cv_error_init(&p->kerr);
    p->in_shape = *in_shape;
    p->mode = mode;
    p->soft_targets = soft;
    p->accumulate = accumulate;
    const cv_ops_v1 *ops = cv_engine_ops();
    const cv_model_vtable *mv = n->model.desc->vtable;
    const char *mname = n->model.desc->name ? n->model.desc->name : "model";
    cv_tensor *x = ops->input(g, 0);
    cv_tensor *logits = x && mv->forward ? mv->forward(n->model.self, ops, g, x) : NULL;
    int st = CV_OK;
    char what[160];
    if (!logits) {
        snprintf(what, sizeof what, "model %s", mname);
        if (!g->err.status) cv_graph_failv(g, CV_ERR_INVALID, "forward returned no tensor");
        st = fail_from_graph(g, err, what);
    }
    if (st == CV_OK && logits->g != g) st = cv_set_error(err, CV_ERR_INVALID, "model %s: forward returned a tensor of another graph", mname);
    if (st == CV_OK) {
        g->logits = logits;
        g->n_model = g->n_nodes;
        pin(g, logits);
        cv_tensor *teacher_logits = NULL;
        if (n->loss.desc && n->teacher.desc) {
            /* the teacher runs in eval mode with frozen params, after the model so that
             * prediction (model nodes only) skips it */
            const cv_model_vtable *tv = n->teacher.desc->vtable;
            int32_t saved = g->training;
            g->training = 0;
            g->frozen = 1;
            ops->scope_push(g, "teacher");
            teacher_logits = tv->forward ? tv->forward(n->teacher.self, ops, g, x) : NULL;
            ops->scope_pop(g);
            g->training = saved;
            g->frozen = 0;
            if (!teacher_logits) {
                if (!g->err.status) cv_graph_failv(g, CV_ERR_INVALID, "forward returned no tensor");
                st = fail_from_graph(g, err, "teacher");
            }
        }
        if (st == CV_OK && n->loss.desc) {
            const cv_loss_vtable *lv = n->loss.desc->vtable;
            cv_loss_inputs li = { sizeof li, logits, ops->input(g, 1), teacher_logits };
            cv_tensor *l = lv->forward ? lv->forward(n->loss.self, ops, g, &li) : NULL;
            if (!l || g->err.status) {
                snprintf(what, sizeof what, "loss %s", n->loss.desc->name ? n->loss.desc->name : "");
                if (!g->err.status) cv_graph_failv(g, CV_ERR_INVALID, "forward returned no tensor");
                st = fail_from_graph(g, err, what);
            } else {
                g->loss = l;
                pin(g, l);
            }
        } else if (mode == CV_MODE_TRAIN) {
            st = cv_set_error(err, CV_ERR_INVALID, "engine: training needs a loss component");
        }
    }
    if (st == CV_OK && g->err.status) st = fail_from_graph(g, err, mname);
    if (st == CV_OK && mode == CV_MODE_TRAIN && cv_autograd(g, accumulate) != CV_OK)
        st = fail_from_graph(g, err, "autograd");
    if (st == CV_OK) st = cv_net_sync_buffers(n, err);
    if (st == CV_OK) st = cv_plan_layouts(p, err);
    if (st == CV_OK) st = cv_plan_prepare(p, err);
    size_t peak = 0, naive = 0;
    if (st == CV_OK) st = cv_plan_memory(g, &peak, &naive, err);
    if (st == CV_OK && peak > n->arena_bytes) {
        const cv_backend_vtable *vt = n->e->be.vt;
        if (n->arena) vt->free(n->e->be.self, n->arena);
        n->arena = vt->alloc(n->e->be.self, peak);
        n->arena_bytes = n->arena ? peak : 0;
        n->generation++;
        if (!n->arena) st = cv_set_error(err, CV_ERR_NOMEM, "engine: cannot allocate %zu bytes of activations", peak);
    }
    if (st == CV_OK) st = cv_plan_compile(p, err);
    if (st != CV_OK) {
        plan_free(p);
        return NULL;
    }
    p->arena_bytes = peak;
    p->n_params_built = n->n_params;
    p->info.peak_bytes = peak;
    p->info.naive_bytes = naive;
    p->info.param_bytes = (size_t)(n->n_train * (2 + n->state_slots) + n->n_buf) * 4;
    p->info.n_nodes = p->n_exec;
    for (int32_t i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].backward && !g->nodes[i].teacher) p->info.macs += g->nodes[i].macs;
    return p;
}

cv_plan *cv_net_plan_get(cv_net *n, const cv_shape *in_shape, cv_mode mode, int soft_targets, cv_error *err) {
    char sb[96];
    if (!n || !in_shape) {
        cv_set_error(err, CV_ERR_INVALID, "engine: plan_get needs a net and a shape");
        return NULL;
    }
    if (in_shape->ndim != 4 || cv_shape_valid(in_shape, CV_F32, NULL) != CV_OK) {
        cv_set_error(err, CV_ERR_INVALID, "engine: input shape %s must be [N,C,H,W] with sizes >= 1 (and a byte size that fits)",
                     cv_shape_str(in_shape, sb, sizeof sb));
        return NULL;
    }
    if (mode != CV_MODE_TRAIN && mode != CV_MODE_EVAL) {
        cv_set_error(err, CV_ERR_INVALID, "engine: unknown mode %d", (int)mode);
        return NULL;
    }
    soft_targets = soft_targets != 0;
    for (int i = 0; i < n->n_plans; i++) {
        cv_plan *p = n->plans[i];
        if (p->mode == (int)mode && p->soft_targets == soft_targets && cv_shape_equal(&p->in_shape, in_shape)) {
            p->info.param_bytes = (size_t)(n->n_train * (2 + n->state_slots) + n->n_buf) * 4;
            return p;
        }
    }
    cv_plan **pl = cv_grow(n->plans, &n->cap_plans, n->n_plans + 1, sizeof *pl);
    if (!pl) {
        cv_set_error(err, CV_ERR_NOMEM, "engine: out of memory");
        return NULL;
    }
    n->plans = pl;
    cv_plan *p = build_plan(n, in_shape, mode, soft_targets, 0, err);
    if (!p) return NULL;
    n->plans[n->n_plans++] = p;
    return p;
}

void cv_plan_info_get(const cv_plan *p, cv_plan_info *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!p) return;
    *out = p->info;
    out->param_bytes = (size_t)(p->net->n_train * (2 + p->net->state_slots) + p->net->n_buf) * 4;
}

int cv_net_run(cv_plan *p, cv_step_io *io, cv_error *err) {
    if (!p || !io) return cv_set_error(err, CV_ERR_INVALID, "engine: cv_net_run needs a plan and io");
    cv_net *n = p->net;
    cv_plan *run = p;
    int st;
    if (io->accumulate && p->mode == CV_MODE_TRAIN) {
        if (!p->accum) {
            p->accum = build_plan(n, &p->in_shape, CV_MODE_TRAIN, p->soft_targets, 1, err);
            if (!p->accum) return err && err->status ? err->status : CV_ERR_INTERNAL;
        }
        run = p->accum;
    }
    if ((st = cv_net_sync_buffers(n, err)) != CV_OK) return st;
    st = cv_plan_execute(run, io, err);
    if (run->mode == CV_MODE_TRAIN) n->step++; /* training steps only: eval runs do not shift dropout */
    return st;
}

void cv_net_set_step(cv_net *n, int64_t step) {
    if (n) n->step = step;
}

void cv_net_set_loss_scale(cv_net *n, float scale) {
    if (n) n->loss_scale = scale;
}

size_t cv_net_arena_bytes(const cv_net *n) { return n ? n->arena_bytes : 0; }

/* ---- per-layer summary ----------------------------------------------------------------- */
static int scope_prefix_len(const char *s, int depth) {
    if (depth <= 0) return (int)strlen(s);
    int len = 0, d = 0;
    for (; s[len]; len++)
        if (s[len] == '.' && ++d == depth) break;
    return len;
}

static int find_or_add(cv_layer_info *out, int *count, int max, const char *s, int len) {
    for (int i = 0; i < *count && i < max; i++)
        if ((int)strlen(out[i].scope) == len && strncmp(out[i].scope, s, (size_t)len) == 0) return i;
    int i = (*count)++;
    if (i < max) {
        memset(&out[i], 0, sizeof out[i]);
        int l = len < (int)sizeof out[i].scope - 1 ? len : (int)sizeof out[i].scope - 1;
        memcpy(out[i].scope, s, (size_t)l);
    }
    return i;
}

static int layers_into(const cv_plan *p, int max_depth, cv_layer_info *out, int max) {
    const cv_graph *g = p->g;
    int count = 0;
    for (int32_t i = 0; i < g->n_nodes; i++) {
        const cv_node *n = &g->nodes[i];
        if (n->backward || n->teacher || !n->macs) continue;
        const char *s = n->scope >= 0 ? g->scopes[n->scope] : "";
        int k = find_or_add(out, &count, max, s, scope_prefix_len(s, max_depth));
        if (k < max) out[k].macs += n->macs;
    }
    for (int i = 0; i < p->net->n_params; i++) {
        const cv_param_entry *e = &p->net->params[i];
        if (i >= g->n_param_tensor || g->param_tensor[i] < 0) continue;
        if (e->info.tags & CV_TAG_BUFFER) continue;
        const char *s = e->info.name;
        int len = scope_prefix_len(s, max_depth);
        if (len > e->scope_len) len = e->scope_len;
        int k = find_or_add(out, &count, max, s, len);
        if (k < max) out[k].params += cv_shape_numel(&e->info.shape);
    }
    return count;
}

int cv_plan_layers(const cv_plan *p, int max_depth, cv_layer_info *out, int max) {
    if (!p) return 0;
    /* rows are deduplicated by name, so count them in a scratch table big enough
     * for every node and parameter, then copy what the caller has room for */
    int cap = p->g->n_nodes + p->net->n_params + 1;
    cv_layer_info *all = cv_alloc_array((size_t)cap, sizeof *all);
    if (!all) return 0;
    int count = layers_into(p, max_depth, all, cap);
    if (out && max > 0) memcpy(out, all, (size_t)(count < max ? count : max) * sizeof *all);
    cv_free(all);
    return count;
}

int64_t cv_net_get_step(const cv_net *n) { return n ? n->step : 0; }

int cv_net_set_teacher(cv_net *n, cv_component_ref teacher, cv_error *err) {
    if (!n) return cv_set_error(err, CV_ERR_INVALID, "engine: set_teacher needs a net");
    if (n->n_plans) return cv_set_error(err, CV_ERR_INVALID, "engine: set the teacher before the first plan");
    if (teacher.desc && (teacher.desc->kind != CV_KIND_MODEL || !teacher.desc->vtable))
        return cv_set_error(err, CV_ERR_INVALID, "engine: the teacher '%s' is not a model",
                            teacher.desc->name ? teacher.desc->name : "?");
    n->teacher = teacher;
    return CV_OK;
}
