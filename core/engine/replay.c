/* core/engine/replay.c — a step's kernels as one recording the backend replays
 * (ABI 1.2 graph_*; the CUDA backend records CUDA graphs).
 *
 * The first step of a plan records its kernel sequence (run() records instead of
 * executing between graph_begin and graph_end) and launches it; later steps only
 * launch.  What changes between steps without changing the sequence is patched
 * in with graph_update before the launch: the seeds of dropout / drop-path
 * kernels (new every step) and the value of autograd's dL/dL fill (the loss
 * scale, when dynamic loss scaling moves it).  A new binding of the data
 * pointers (the arena grew), a different kernel count (prediction runs the model
 * alone) or a backend that calls its recording stale records again.  Steps with
 * work between kernels — profiling, the data-parallel gradient-ready hook,
 * SyncBN's host all-reduce — run kernel by kernel, as does every step of a plan
 * the backend declined to record (graph_begin or a kernel answered
 * CV_ERR_UNSUPPORTED). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct cv_replay {
    void *graph;          /* the backend's recording */
    int32_t n_exec;       /* kernels it holds */
    uint64_t generation;  /* the data binding it was recorded with */
    float scale;          /* the dL/dL fill's value in it */
    uint64_t *seeds;      /* [n_exec] the seed of each kernel in it */
};

static const cv_backend_vtable *vt_of(const cv_plan *p) { return p->net->e->be.vt; }

int cv_replay_wanted(const cv_plan *p, int hook) {
    return vt_of(p)->graph_begin && !p->replay_off && !p->net->profiling && !hook && !p->coll_host;
}

void cv_replay_free(cv_plan *p) {
    struct cv_replay *r = p->replay;
    if (!r) return;
    if (r->graph && vt_of(p)->graph_release) vt_of(p)->graph_release(p->net->e->be.self, r->graph);
    cv_free(r->seeds);
    cv_free(r);
    p->replay = NULL;
}

/* the value the dL/dL fill has now (1 when the plan has none) */
static float seed_fill_value(const cv_plan *p) {
    const cv_graph *g = p->g;
    if (g->seed_node < 0) return 1.0f;
    return ((const cv_scalar_params *)cv_node_params(g, &g->nodes[g->seed_node]))->value;
}

/* the backend declined: this plan runs kernel by kernel from now on */
static int decline(cv_plan *p, int32_t n_exec, cv_error *err) {
    cv_replay_free(p);
    p->replay_off = 1;
    cv_error_init(err);
    return cv_exec_kernels(p, n_exec, 0, err);
}

static int record(cv_plan *p, int32_t n_exec, cv_error *err) {
    const cv_backend_vtable *vt = vt_of(p);
    void *self = p->net->e->be.self;
    cv_replay_free(p);
    struct cv_replay *r = cv_alloc_array(1, sizeof *r);
    uint64_t *seeds = cv_alloc_array((size_t)n_exec + 1, sizeof *seeds);
    if (!r || !seeds) {
        cv_free(r);
        cv_free(seeds);
        return cv_set_error(err, CV_ERR_NOMEM, "engine: out of memory recording the plan");
    }
    r->seeds = seeds;
    p->replay = r;
    int st = vt->graph_begin(self, err);
    if (st == CV_ERR_UNSUPPORTED) return decline(p, n_exec, err);
    if (st != CV_OK) return st;
    for (int32_t e = 0; e < n_exec; e++) {
        cv_exec_node *x = &p->exec[e];
        if ((st = cv_exec_one(p, x)) != CV_OK) {
            void *none = NULL;
            vt->graph_end(self, &none, &p->kerr); /* kerr is set: the recording is discarded */
            if (st == CV_ERR_UNSUPPORTED) return decline(p, n_exec, err);
            return cv_exec_fail(p, x, st, err);
        }
        seeds[e] = x->k.seed;
    }
    st = vt->graph_end(self, &r->graph, err);
    if (st == CV_ERR_UNSUPPORTED || (st == CV_OK && !r->graph)) return decline(p, n_exec, err);
    if (st != CV_OK) return st;
    r->n_exec = n_exec;
    r->generation = p->net->generation;
    r->scale = seed_fill_value(p);
    p->replay_records++;
    return CV_OK;
}

/* patch what changed since the recording; CV_ERR_UNSUPPORTED: record again */
static int update(cv_plan *p, cv_error *err) {
    struct cv_replay *r = p->replay;
    const cv_backend_vtable *vt = vt_of(p);
    const float scale = seed_fill_value(p);
    for (int32_t e = 0; e < r->n_exec; e++) {
        cv_exec_node *x = &p->exec[e];
        int changed = x->needs_seed ? x->k.seed != r->seeds[e] : x->node == p->g->seed_node && scale != r->scale;
        if (!changed) continue;
        p->kerr.status = CV_OK;
        p->kerr.message[0] = 0;
        int st = vt->graph_update(p->net->e->be.self, r->graph, e, &x->k, &p->kerr);
        if (st == CV_ERR_UNSUPPORTED) return st;
        if (st != CV_OK) return cv_exec_fail(p, x, st, err);
        r->seeds[e] = x->k.seed;
        p->replay_updates++;
    }
    r->scale = scale;
    return CV_OK;
}

int cv_replay_run(cv_plan *p, int32_t n_exec, cv_error *err) {
    const cv_backend_vtable *vt = vt_of(p);
    void *self = p->net->e->be.self;
    struct cv_replay *r = p->replay;
    int st = CV_ERR_UNSUPPORTED;
    if (r && r->graph && r->n_exec == n_exec && r->generation == p->net->generation) {
        st = update(p, err);
        if (st == CV_OK) st = vt->graph_launch(self, r->graph, err);
        if (st != CV_ERR_UNSUPPORTED) {
            if (st == CV_OK) p->replay_launches++;
            return st;
        }
        cv_error_init(err); /* stale: record again */
    }
    if ((st = record(p, n_exec, err)) != CV_OK || p->replay_off) return st;
    st = vt->graph_launch(self, p->replay->graph, err);
    if (st == CV_ERR_UNSUPPORTED) return decline(p, n_exec, err);
    if (st == CV_OK) p->replay_launches++;
    return st;
}
