/* graph.cu — recorded kernel sequences (ABI 1.2 graph_*) as CUDA graphs.
 *
 * While a recording is open, every run() is stream-captured on its own into a
 * small graph, which becomes one child-graph node of the recording, chained
 * after the previous one.  graph_update captures the index-th kernel again with
 * its new params (a dropout seed, the loss scale) and swaps it into the
 * instantiated graph with cudaGraphExecChildGraphNodeSetParams; CUDA refuses when
 * the new capture's topology differs, and the engine then records again.
 *
 * Memory: scratch buffers of recorded kernels are baked into the graph, so they
 * belong to the recording (a private pool, reused from call to call within it,
 * returned to the allocator when the recording is released) and are never
 * handed to anyone else.  A recording made before the allocator released its
 * cached blocks to the driver (out of memory) is stale.
 *
 * Index checks (cross entropy targets, embedding indices) cannot read back
 * mid-capture: recorded, they write the first bad position to a slot the
 * recording owns, and sync() after a launch reads the slots and reports the
 * same error the eager path gives. */
#include <map>
#include <new>
#include <vector>
#include <stdio.h>
#include "cuint.h"

struct cu_check {
    int64_t *slot;              /* first bad position, written by the check kernel */
    const int32_t *idx;
    int64_t n, hi;
    int use_ignore;
    int32_t ignore;
    const char *what, *op_name; /* string literals */
};

struct cu_graph {
    cudaGraph_t main = NULL;
    cudaGraphExec_t exec = NULL;
    std::vector<cudaGraphNode_t> nodes;  /* one child-graph node per recorded kernel */
    std::multimap<size_t, void *> pool;  /* scratch the graph owns, free between calls */
    std::map<void *, size_t> owned;      /* every block taken from the allocator, by its size */
    std::vector<cu_check> checks;
    uint64_t epoch = 0;                  /* the allocator's release count when recorded */
    int updating = 0;                    /* graph_update is capturing one kernel again */
};

static void graph_free(cu_backend *b, cu_graph *g) {
    if (!g) return;
    if (b->last_launch == g) b->last_launch = NULL;
    if (g->exec) cudaGraphExecDestroy(g->exec);
    if (g->main) cudaGraphDestroy(g->main);
    for (auto &kv : g->owned) cu_cache_put(b, kv.first);
    delete g;
}

static int graph_error(cu_backend *b, cv_error *err, int status, const char *what, cudaError_t e) {
    cudaGetLastError();
    return b->host->set_error(err, status, "backend cuda: CUDA graph: %s failed: %s", what, cudaGetErrorString(e));
}

/* ---- scratch and index checks while recording ------------------------------------------------ */
void *cu_graph_scratch_get(cu_backend *b, size_t bytes) {
    cu_graph *g = b->recording;
    auto it = g->pool.lower_bound(bytes);
    if (it != g->pool.end() && it->first <= 2 * bytes) {
        void *p = it->second;
        g->pool.erase(it);
        return p;
    }
    void *p = cu_cache_get(b, bytes);
    if (!p) return NULL;
    try {
        g->owned[p] = bytes;
    } catch (...) {
        cu_cache_put(b, p);
        return NULL;
    }
    return p;
}

void cu_graph_scratch_put(cu_backend *b, void *p) {
    cu_graph *g = b->recording;
    auto it = g->owned.find(p);
    if (it == g->owned.end()) return;
    try {
        g->pool.emplace(it->second, p);
    } catch (...) {
        /* stays owned (freed with the graph), just not reused */
    }
}

int64_t *cu_graph_check_slot(cu_call *r, const int32_t *idx, int64_t n, int64_t hi, int use_ignore, int32_t ignore,
                             const char *what) {
    cu_backend *b = r->b;
    cu_graph *g = b->recording;
    if (g->updating) { /* a check is never among the kernels the engine patches; record again */
        b->host->set_error(r->err, CV_ERR_UNSUPPORTED, "backend cuda: %s: an index check cannot be re-recorded",
                           r->op_name);
        return NULL;
    }
    int64_t *slot = (int64_t *)cu_cache_get(b, sizeof(int64_t));
    if (!slot) {
        cu_fail(r, CV_ERR_NOMEM, "out of device memory for an index check slot");
        return NULL;
    }
    try {
        g->owned[slot] = sizeof(int64_t);
        g->checks.push_back(cu_check{ slot, idx, n, hi, use_ignore, ignore, what, r->op_name });
    } catch (...) {
        g->owned.erase(slot);
        cu_cache_put(b, slot);
        cu_fail(r, CV_ERR_NOMEM, "out of host memory for an index check");
        return NULL;
    }
    return slot;
}

/* after a synchronised launch: the first failed index check of the last launched recording */
int cu_graph_checks(cu_backend *b, cv_error *err) {
    cu_graph *g = b->last_launch;
    b->last_launch = NULL;
    if (!g) return CV_OK;
    for (const cu_check &c : g->checks) {
        int64_t pos = c.n;
        int32_t v = 0;
        cudaError_t e = cudaMemcpy(&pos, c.slot, sizeof pos, cudaMemcpyDeviceToHost);
        if (e == cudaSuccess && pos < c.n) e = cudaMemcpy(&v, c.idx + pos, sizeof v, cudaMemcpyDeviceToHost);
        if (e != cudaSuccess) return graph_error(b, err, CV_ERR_INTERNAL, "reading back an index check", e);
        if (pos >= c.n) continue;
        if (c.use_ignore)
            return b->host->set_error(err, CV_ERR_INVALID,
                                      "backend cuda: %s: %s %d at position %lld is outside [0, %lld) and is not "
                                      "ignore_index %d",
                                      c.op_name, c.what, v, (long long)pos, (long long)c.hi, c.ignore);
        return b->host->set_error(err, CV_ERR_INVALID, "backend cuda: %s: %s %d at position %lld is outside [0, %lld)",
                                  c.op_name, c.what, v, (long long)pos, (long long)c.hi);
    }
    return CV_OK;
}

/* ---- capture of one kernel ------------------------------------------------------------------ */
/* run k through the dispatcher with the stream captured; *out: its graph */
static int capture_one(cu_backend *b, const cv_kernel *k, cudaGraph_t *out, cv_error *err) {
    *out = NULL;
    cudaError_t e = cudaStreamBeginCapture(b->stream, cudaStreamCaptureModeRelaxed);
    if (e != cudaSuccess) return graph_error(b, err, CV_ERR_INTERNAL, "cudaStreamBeginCapture", e);
    int st = cu_dispatch(b, k, err);
    cudaGraph_t g = NULL;
    e = cudaStreamEndCapture(b->stream, &g);
    if (st != CV_OK) {
        cudaGetLastError();
        if (g) cudaGraphDestroy(g);
        return st;
    }
    if (e != cudaSuccess) /* something in the kernel cannot be captured (a sync, a host read) */
        return graph_error(b, err, CV_ERR_UNSUPPORTED, "capturing a kernel", e);
    *out = g;
    return CV_OK;
}

/* run() while recording: the kernel becomes the next child node */
int cu_graph_record(cu_backend *b, const cv_kernel *k, cv_error *err) {
    cu_graph *g = b->recording;
    cudaGraph_t one;
    int st = capture_one(b, k, &one, err);
    if (st != CV_OK) return st;
    cudaGraphNode_t node = NULL, prev = g->nodes.empty() ? NULL : g->nodes.back();
    cudaError_t e = cudaGraphAddChildGraphNode(&node, g->main, prev ? &prev : NULL, prev ? 1 : 0, one);
    cudaGraphDestroy(one); /* the node holds its own copy */
    if (e != cudaSuccess) return graph_error(b, err, CV_ERR_INTERNAL, "cudaGraphAddChildGraphNode", e);
    try {
        g->nodes.push_back(node);
    } catch (...) {
        return b->host->set_error(err, CV_ERR_NOMEM, "backend cuda: out of host memory recording a CUDA graph");
    }
    return CV_OK;
}

/* ---- the vtable entries ------------------------------------------------------------------- */
extern "C" int cu_graph_begin(void *self, cv_error *err) {
    cu_backend *b = (cu_backend *)self;
    if (!b->cfg.graphs) return b->host->set_error(err, CV_ERR_UNSUPPORTED, "backend cuda: graphs = false");
    if (b->recording) return b->host->set_error(err, CV_ERR_INVALID, "backend cuda: graph_begin while recording");
    cu_graph *g = new (std::nothrow) cu_graph();
    if (!g) return b->host->set_error(err, CV_ERR_NOMEM, "backend cuda: out of host memory for a CUDA graph");
    cudaError_t e = cudaGraphCreate(&g->main, 0);
    if (e != cudaSuccess) {
        delete g;
        return graph_error(b, err, CV_ERR_INTERNAL, "cudaGraphCreate", e);
    }
    g->epoch = cu_cache_epoch(b);
    b->recording = g;
    cu_wcache_stale(b); /* the recording converts the weights it reads itself */
    return CV_OK;
}

extern "C" int cu_graph_end(void *self, void **graph, cv_error *err) {
    cu_backend *b = (cu_backend *)self;
    cu_graph *g = b->recording;
    b->recording = NULL;
    *graph = NULL;
    if (!g) return b->host->set_error(err, CV_ERR_INVALID, "backend cuda: graph_end without graph_begin");
    if (err->status != CV_OK) { /* a kernel failed while recording: discard */
        graph_free(b, g);
        return err->status;
    }
    if (g->epoch != cu_cache_epoch(b)) {
        graph_free(b, g);
        return b->host->set_error(err, CV_ERR_UNSUPPORTED,
                                  "backend cuda: device memory ran short while recording a CUDA graph");
    }
    cudaError_t e = cudaGraphInstantiate(&g->exec, g->main, 0);
    if (e != cudaSuccess) {
        graph_free(b, g);
        return graph_error(b, err, CV_ERR_UNSUPPORTED, "cudaGraphInstantiate", e);
    }
    b->host->log(b->host->host_ctx, CV_LOG_DEBUG, "backend cuda", "recorded a CUDA graph of %zu kernels",
                 g->nodes.size());
    *graph = g;
    return CV_OK;
}

extern "C" int cu_graph_update(void *self, void *graph, int32_t index, const cv_kernel *k, cv_error *err) {
    cu_backend *b = (cu_backend *)self;
    cu_graph *g = (cu_graph *)graph;
    if (!g || !k || index < 0 || (size_t)index >= g->nodes.size())
        return b->host->set_error(err, CV_ERR_INVALID, "backend cuda: graph_update of kernel %d of %zu", (int)index,
                                  g ? g->nodes.size() : (size_t)0);
    b->recording = g;
    g->updating = 1;
    cu_wcache_stale(b); /* the kernel may have been the one converting a weight */
    cudaGraph_t one;
    int st = capture_one(b, k, &one, err);
    g->updating = 0;
    b->recording = NULL;
    if (st != CV_OK) return st;
    cudaError_t e = cudaGraphExecChildGraphNodeSetParams(g->exec, g->nodes[(size_t)index], one);
    cudaGraphDestroy(one);
    if (e != cudaSuccess) { /* a different topology: the engine records again */
        cudaGetLastError();
        return b->host->set_error(err, CV_ERR_UNSUPPORTED, "backend cuda: kernel %d changed shape in the graph",
                                  (int)index);
    }
    return CV_OK;
}

extern "C" int cu_graph_launch(void *self, void *graph, cv_error *err) {
    cu_backend *b = (cu_backend *)self;
    cu_graph *g = (cu_graph *)graph;
    if (!g) return b->host->set_error(err, CV_ERR_INVALID, "backend cuda: graph_launch without a graph");
    if (g->epoch != cu_cache_epoch(b))
        return b->host->set_error(err, CV_ERR_UNSUPPORTED, "backend cuda: the CUDA graph is stale");
    cudaError_t e = cudaGraphLaunch(g->exec, b->stream);
    if (e != cudaSuccess) return graph_error(b, err, CV_ERR_INTERNAL, "cudaGraphLaunch", e);
    b->last_launch = g;
    return CV_OK;
}

extern "C" void cu_graph_release(void *self, void *graph) { graph_free((cu_backend *)self, (cu_graph *)graph); }
