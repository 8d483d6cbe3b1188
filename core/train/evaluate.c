/* core/train/evaluate.c — eval-mode passes (see evaluate.h). */
#include "train/evaluate.h"
#include "options.h"
#include "train/runlog.h"
#include "train/seq_sampler.h"

#include <math.h>
#include <string.h>

int cv_topk_hit(const float *logits, int classes, int label, int k) {
    if (label < 0 || label >= classes) return 0;
    int better = 0;
    for (int c = 0; c < classes; c++)
        if (logits[c] > logits[label] || (logits[c] == logits[label] && c < label)) better++;
    return better < k;
}

static int dataset_workers(cv_session *s) {
    const cv_value *v = cv_options_get(cv_recipe_options(s->recipe, "dataset"), "workers");
    return v && v->is_set ? (int)v->i : 2;
}

int cv_eval_loader_open(cv_session *s, cv_component_ref dataset, cv_component_ref *seq_sampler, cv_loader **out,
                        cv_error *err) {
    const cv_dataset_vtable *dvt = dataset.desc->vtable;
    if (cv_seq_sampler_create(dvt->length(dataset.self), s->eval_h, s->eval_w, s->base_batch, seq_sampler, err))
        return err->status;
    cv_loader_config cfg = {
        .host = &s->ctx->host, .dataset = dataset, .sampler = *seq_sampler, .transforms = s->tf_val.items,
        .n_transforms = s->tf_val.n, .workers = dataset_workers(s), .seed = s->seed, .training = 0,
        .num_classes = s->num_classes,
    };
    return cv_loader_create(&cfg, out, err);
}

int cv_evaluate(cv_session *s, cv_loader *loader, cv_component_list *metrics, cv_set *set, cv_eval_result *out,
                cv_error *err) {
    memset(out, 0, sizeof *out);
    double t0 = cv_now();
    int64_t nb = 0;
    if (cv_loader_begin_epoch(loader, 0, NULL, &nb, err)) return err->status;
    for (int i = 0; metrics && i < metrics->n; i++) {
        const cv_metric_vtable *mv = metrics->items[i].desc->vtable;
        mv->reset(metrics->items[i].self);
    }
    const int C = s->num_classes;
    float *logits = cv_alloc_array((size_t)s->base_batch * (size_t)C, sizeof(float));
    if (!logits) return cv_set_error(err, CV_ERR_NOMEM, "evaluate: out of memory");
    int64_t hit1 = 0, hit5 = 0, n = 0;
    double loss_sum = 0;
    int rc = CV_OK;
    for (int64_t step = 0; step < nb && !rc; step++) {
        cv_loaded_batch lb;
        if ((rc = cv_loader_next(loader, &lb, err))) break;
        const cv_batch *b = &lb.batch;
        cv_shape in = CV_SHAPE(b->n, b->c, b->h, b->w);
        cv_plan *p = cv_net_plan_get(s->net, &in, CV_MODE_EVAL, 0, err);
        if (!p) { rc = err->status; break; }
        cv_step_io io = { .images = b->images, .targets = b->labels, .logits_out = logits };
        if ((rc = cv_net_run(p, &io, err))) break;
        for (int i = 0; i < b->n; i++) {
            const float *row = logits + (size_t)i * C;
            hit1 += cv_topk_hit(row, C, b->labels[i], 1);
            hit5 += cv_topk_hit(row, C, b->labels[i], C < 5 ? C : 5);
            if (set) {
                /* confidence of the predicted class (softmax max) */
                float mx = row[0];
                int arg = 0;
                for (int c = 1; c < C; c++)
                    if (row[c] > mx) { mx = row[c]; arg = c; }
                double z = 0;
                for (int c = 0; c < C; c++) z += exp((double)row[c] - mx);
                rc = cv_set_record(set, lb.indices[i], arg == b->labels[i], 1.0 / z, err);
                if (rc) break;
            }
        }
        double batch_loss = s->net && isfinite(io.loss) ? io.loss : 0;
        loss_sum += batch_loss * b->n;
        n += b->n;
        for (int i = 0; metrics && i < metrics->n && !rc; i++) {
            const cv_metric_vtable *mv = metrics->items[i].desc->vtable;
            cv_metric_batch mb = { sizeof mb, b->n, C, logits, b->labels, batch_loss, 0 };
            cv_error local;
            cv_error_init(&local);
            if (mv->update(metrics->items[i].self, &mb, &local))
                rc = cv_set_error(err, local.status, "metric %s: %s", metrics->items[i].desc->name, local.message);
        }
    }
    cv_free(logits);
    if (rc) return rc;
    out->samples = n;
    out->top1 = n ? 100.0 * (double)hit1 / (double)n : 0;
    out->top5 = n ? 100.0 * (double)hit5 / (double)n : 0;
    out->loss = n ? loss_sum / (double)n : 0;
    for (int i = 0; metrics && i < metrics->n && i < CV_EVAL_MAX_METRICS; i++) {
        const cv_metric_vtable *mv = metrics->items[i].desc->vtable;
        out->metric_names[i] = metrics->items[i].desc->name;
        out->metric_values[i] = mv->value(metrics->items[i].self, &out->metric_json[i]);
        out->n_metrics++;
    }
    out->seconds = cv_now() - t0;
    return CV_OK;
}
