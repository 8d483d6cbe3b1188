/* embedding.c — EMBEDDING (row lookup, y[.., D] = weight[idx[..]]) and its
 * gradient (scatter-add of dy rows into dweight).  An index outside [0, V) is an
 * error naming the index and its position, never a wild read. */
#include "ref.h"

static int embedding_check(ref_run *r, const ref_t *weight, const ref_t *idx, const ref_t *y) {
    char sw[96], si[96], sy[96];
    if (!idx->i) return ref_fail(r, CV_ERR_INVALID, "idx must be i32 (got dtype %d)", idx->dtype);
    int ok = weight->ndim == 2 && y->ndim == idx->ndim + 1 && y->shape[y->ndim - 1] == weight->shape[1];
    for (int d = 0; ok && d < idx->ndim; d++) ok = y->shape[d] == idx->shape[d];
    if (!ok)
        return ref_fail(r, CV_ERR_INVALID, "weight %s, idx %s and y %s do not fit y[..,D] = weight[V,D][idx[..]]",
                        ref_shape_str(weight, sw, sizeof sw), ref_shape_str(idx, si, sizeof si), ref_shape_str(y, sy, sizeof sy));
    for (int64_t i = 0; i < idx->numel; i++)
        if (idx->i[i] < 0 || idx->i[i] >= weight->shape[0])
            return ref_fail(r, CV_ERR_INVALID, "index %d at position %lld is outside [0, %lld)", idx->i[i], (long long)i,
                            (long long)weight->shape[0]);
    return CV_OK;
}

int ref_embedding(ref_run *r) {
    int st = ref_arity(r, 2, 2, 1, 1);
    if (st || (st = embedding_check(r, &r->in[0], &r->in[1], &r->out[0]))) return st;
    int64_t d = r->in[0].shape[1];
    for (int64_t i = 0; i < r->in[1].numel; i++)
        memcpy(r->out[0].f + i * d, r->in[0].f + (int64_t)r->in[1].i[i] * d, (size_t)d * sizeof(float));
    return CV_OK;
}

/* idx, dy -> dweight [V, D] */
int ref_embedding_bwd(ref_run *r) {
    int st = ref_arity(r, 2, 2, 1, 1);
    if (st || (st = embedding_check(r, &r->out[0], &r->in[0], &r->in[1]))) return st;
    int64_t d = r->out[0].shape[1];
    memset(r->out[0].f, 0, (size_t)r->out[0].numel * sizeof(float));
    for (int64_t i = 0; i < r->in[0].numel; i++)
        for (int64_t j = 0; j < d; j++) r->out[0].f[(int64_t)r->in[0].i[i] * d + j] += r->in[1].f[i * d + j];
    return CV_OK;
}
