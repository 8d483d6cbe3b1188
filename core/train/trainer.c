/* core/train/trainer.c — the training loop (see trainer.h). */
#include "train/trainer.h"
#include "data/loader.h"
#include "data/set.h"
#include "options.h"
#include "state.h"
#include "train/checkpoint.h"
#include "train/dist.h"
#include "train/ema.h"
#include "train/reserve.h"
#include "train/evaluate.h"
#include "train/runlog.h"
#include "train/seq_sampler.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The one piece of process state: a signal handler can only talk through a
 * global, and it only ever sets this flag. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

void cv_train_install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- output folder ------------------------------------------------------------------- */
static int mkdir_p(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

/* Fails before any training when the folder cannot be created or written (a
 * read-only or full disk is found here, not at the first checkpoint). */
static int prepare_out_dir(const char *dir, cv_error *err) {
    if (mkdir_p(dir))
        return cv_set_error(err, CV_ERR_IO, "cannot create the output folder %s: %s", dir, strerror(errno));
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/.cvnets-write-test", dir);
    FILE *f = fopen(probe, "wb");
    int ok = f != NULL;
    if (f) {
        char block[65536] = { 0 };
        ok = fwrite(block, 1, sizeof block, f) == sizeof block;
        ok = (fflush(f) == 0) && ok;
        ok = (fsync(fileno(f)) == 0) && ok;
        ok = (fclose(f) == 0) && ok;
    }
    int saved = errno;
    unlink(probe);
    if (!ok)
        return cv_set_error(err, CV_ERR_IO, "the output folder %s is not writable (%s): fix it or choose another "
                            "with --out", dir, strerror(saved));
    return CV_OK;
}

static void out_path(char *buf, size_t n, const cv_session *s, const char *name) {
    snprintf(buf, n, "%s/%s", s->out_dir, name);
}

/* ---- component state -------------------------------------------------------------------- */
typedef struct trainer {
    cv_session *s;
    const cv_train_options *o;
    cv_loader *train_loader, *val_loader, *score_loader;
    cv_component_ref val_sampler, score_sampler;
    cv_ema ema;
    int ema_on;
    cv_set *set;
    int set_k;
    cv_train_state ts;
    cv_dist dist;        /* data-parallel peers; rank 0 of 1 without [run] comm */
    int quiet;           /* no progress lines: asked for, or not the root rank */
    FILE *devnull;       /* where non-root ranks' log lines go */
    cv_runlog log;
    cv_optim_step ostep;
    int accum, nan_skip;
    float *kept_buffers; /* nan_skip: the buffers (batch-norm statistics) before the step */
    int64_t kept_cap;
    int dyn_scale;       /* dynamic loss scaling on */
    int64_t scale_window;
    double clip;
    int64_t epochs, log_every, val_every;
    float *logits;       /* [batch][classes] of the current step, grown on demand */
    size_t logits_cap;
    cv_train_summary sum;
} trainer;

static int save_component_states(trainer *t, cv_state_writer *w, cv_error *err) {
    struct { const char *prefix; cv_component_ref *c; } comps[] = {
        { "sampler.", &t->s->sampler }, { "scheduler.", &t->s->scheduler }, { "optimizer.", &t->s->optimizer },
    };
    for (size_t i = 0; i < sizeof comps / sizeof comps[0]; i++) {
        const cv_component_desc *d = comps[i].c->desc;
        if (!d || !d->save_state) continue;
        cv_state_writer_set_prefix(w, comps[i].prefix);
        if (d->save_state(comps[i].c->self, w, err)) return err->status;
    }
    cv_state_writer_set_prefix(w, NULL);
    if (t->set) {
        size_t bytes = cv_set_state_bytes(t->set);
        void *buf = cv_alloc(bytes);
        if (!buf) return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
        cv_set_save(t->set, buf);
        int rc = cv_state_write(w, "set.counters", buf, bytes, err);
        cv_free(buf);
        if (rc) return rc;
    }
    return CV_OK;
}

static int load_component_states(trainer *t, cv_state_reader *r, cv_error *err) {
    struct { const char *prefix; cv_component_ref *c; } comps[] = {
        { "sampler.", &t->s->sampler }, { "scheduler.", &t->s->scheduler }, { "optimizer.", &t->s->optimizer },
    };
    for (size_t i = 0; i < sizeof comps / sizeof comps[0]; i++) {
        const cv_component_desc *d = comps[i].c->desc;
        if (!d || !d->load_state) continue;
        cv_state_reader_set_prefix(r, comps[i].prefix);
        if (d->load_state(comps[i].c->self, r, err)) return err->status;
    }
    cv_state_reader_set_prefix(r, NULL);
    if (t->set) {
        if (!cv_state_reader_has(r, "set.counters"))
            return cv_set_error(err, CV_ERR_INVALID, "the checkpoint has no SET counters but [set] enable = true");
        size_t bytes = cv_set_state_bytes(t->set);
        void *buf = cv_alloc(bytes);
        if (!buf) return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
        int rc = cv_state_read(r, "set.counters", buf, bytes, err);
        if (!rc) rc = cv_set_load(t->set, buf, bytes, err);
        cv_free(buf);
        if (rc) return rc;
    }
    return CV_OK;
}

/* last.* always; best.* / best_ema.* when improved */
static int save_checkpoint(trainer *t, const char *name, int with_state, const cv_ema *ema_weights, cv_error *err) {
    if (!cv_dist_is_root(&t->dist)) return CV_OK;
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.safetensors", t->s->out_dir, name);
    if (cv_ckpt_write_weights(t->s->net, ema_weights, t->s->model.desc->name, path, err)) return err->status;
    if (!with_state) return CV_OK;
    cv_state_writer *w = cv_state_writer_new();
    if (!w) return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    int rc = save_component_states(t, w, err);
    snprintf(path, sizeof path, "%s/%s.state.safetensors", t->s->out_dir, name);
    if (!rc) rc = cv_ckpt_write_state(t->s->net, t->ema_on ? &t->ema : NULL, &t->ts, w, path, err);
    cv_state_writer_free(w);
    return rc;
}

static int resume(trainer *t, cv_error *err) {
    char path[1200];
    out_path(path, sizeof path, t->s, "last.safetensors");
    if (cv_ckpt_load_weights(t->s->net, path, 1, NULL, err)) return err->status;
    cv_state_reader *r = cv_state_reader_new();
    if (!r) return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    out_path(path, sizeof path, t->s, "last.state.safetensors");
    int rc = cv_ckpt_load_state(t->s->net, t->ema_on ? &t->ema : NULL, &t->ts, r, path, err);
    if (!rc) rc = load_component_states(t, r, err);
    cv_state_reader_free(r);
    if (!rc)
        cv_runlog_line(&t->log, "resuming %s at epoch %lld step %lld (iteration %lld)", t->s->out_dir,
                       (long long)t->ts.epoch + 1, (long long)t->ts.step_in_epoch, (long long)t->ts.iteration);
    return rc;
}

/* A non-finite loss, gradient or weight: the run stops (or skips the step) and
 * last.safetensors keeps the weights of the last good epoch. */
static int nan_stop(trainer *t, int64_t epoch, int64_t step, const char *what, cv_error *err) {
    cv_error_init(err);
    return cv_set_error(err, CV_ERR_NUMERIC,
                        "%s is not finite at epoch %lld step %lld (iteration %lld); the last finite loss was %.6g; the "
                        "last good checkpoint %s/last.safetensors is kept%s",
                        what, (long long)epoch + 1, (long long)step, (long long)t->ts.iteration, t->ts.last_loss,
                        t->s->out_dir, t->nan_skip ? "" : " ([run] nan_policy = skip skips such steps instead)");
}

/* nan_policy = skip: a step's forward updates the batch-norm running statistics
 * in place, so they are kept before it and put back when its loss is not finite */
static int keep_buffers(trainer *t, int restore, cv_error *err) {
    const int64_t n = cv_net_buffer_elems(t->s->net, 3);
    if (n == 0) return CV_OK;
    if (restore) return cv_net_buffer_write(t->s->net, 3, t->kept_buffers, n, err);
    if (n > t->kept_cap) {
        cv_free(t->kept_buffers);
        t->kept_buffers = cv_alloc_array((size_t)n, sizeof(float));
        t->kept_cap = t->kept_buffers ? n : 0;
        if (!t->kept_buffers) return cv_set_error(err, CV_ERR_NOMEM, "out of memory for %lld buffer values", (long long)n);
    }
    return cv_net_buffer_read(t->s->net, 3, t->kept_buffers, n, err);
}

/* Checked before last.safetensors is replaced, so a diverged run never
 * overwrites the last good weights. */
static int weights_finite(cv_net *net, int *finite, cv_error *err) {
    int64_t n = cv_net_buffer_elems(net, 0);
    float *w = cv_alloc_array((size_t)(n ? n : 1), sizeof(float));
    if (!w) return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    int rc = cv_net_buffer_read(net, 0, w, n, err);
    *finite = 1;
    for (int64_t i = 0; !rc && i < n; i++)
        if (!isfinite(w[i])) {
            *finite = 0;
            break;
        }
    cv_free(w);
    return rc;
}

/* ---- one optimizer step ------------------------------------------------------------------ */
static double scheduled_lr(trainer *t, int64_t epoch, int64_t steps_per_epoch) {
    const cv_scheduler_vtable *sv = t->s->scheduler.desc->vtable;
    cv_sched_point pt = { sizeof pt, 0, epoch, t->epochs, t->ts.iteration, t->epochs * steps_per_epoch };
    return sv->lr(t->s->scheduler.self, &pt);
}

static int optimizer_step(trainer *t, double lr, double *grad_norm, cv_error *err) {
    /* gradients hold the sum over accum micro-batches, times the loss scale */
    const float unscale = (float)(1.0 / ((double)t->accum * (t->dyn_scale ? t->ts.loss_scale : 1.0)));
    if (unscale != 1.0f && cv_net_grad_scale(t->s->net, unscale, err)) return err->status;
    double sq = 0;
    if (cv_net_grad_sumsq(t->s->net, &sq, err)) return err->status;
    *grad_norm = sqrt(sq);
    if (!isfinite(*grad_norm)) return CV_ERR_NUMERIC; /* the caller words it (nan_stop) */
    if (t->clip > 0 && *grad_norm > t->clip && cv_net_grad_scale(t->s->net, (float)(t->clip / *grad_norm), err))
        return err->status;
    t->ostep.lr = lr;
    t->ostep.step = t->ts.iteration + 1;
    const cv_optimizer_vtable *ov = t->s->optimizer.desc->vtable;
    cv_error local;
    cv_error_init(&local);
    if (ov->step(t->s->optimizer.self, &t->ostep, &local))
        return cv_set_error(err, local.status, "optimizer %s: %s", t->s->optimizer.desc->name, local.message);
    t->ts.iteration++;
    if (t->dyn_scale && ++t->ts.scale_good_steps >= t->scale_window && t->ts.loss_scale * 2 < 3.4e38) {
        t->ts.loss_scale *= 2;
        t->ts.scale_good_steps = 0;
    }
    if (t->ema_on && cv_ema_update(&t->ema, t->s->net, err)) return err->status;
    return CV_OK;
}

/* Dynamic loss scaling met gradients that overflowed: skip the step and halve
 * the scale.  1 when handled; 0 when the scale is already at 1 (a real NaN/Inf:
 * the caller's nan policy decides). */
static int loss_scale_backoff(trainer *t) {
    if (!t->dyn_scale || t->ts.loss_scale <= 1) return 0;
    t->ts.loss_scale = t->ts.loss_scale / 2 < 1 ? 1 : t->ts.loss_scale / 2;
    t->ts.scale_good_steps = 0;
    t->sum.overflow_steps++;
    return 1;
}

static void update_metrics(cv_component_list *m, const cv_batch *b, int C, const float *logits, double loss,
                           double gnorm) {
    for (int i = 0; i < m->n; i++) {
        const cv_metric_vtable *mv = m->items[i].desc->vtable;
        cv_metric_batch mb = { sizeof mb, b->n, C, logits, b->labels, loss, gnorm };
        cv_error local;
        cv_error_init(&local);
        mv->update(m->items[i].self, &mb, &local);
    }
}

static void reset_metrics(cv_component_list *m) {
    for (int i = 0; i < m->n; i++) ((const cv_metric_vtable *)m->items[i].desc->vtable)->reset(m->items[i].self);
}

/* ---- SET scoring --------------------------------------------------------------------------- */
static int set_score(trainer *t, int64_t epoch, cv_error *err) {
    if (!t->set || epoch == 0 || epoch % t->set_k != 0 || t->ts.step_in_epoch != 0) return CV_OK;
    if (t->ema_on && cv_ema_swap(&t->ema, t->s->net, err)) return err->status;
    cv_set_begin_pass(t->set);
    cv_eval_result r;
    int rc = cv_evaluate(t->s, t->score_loader, NULL, t->set, &r, err);
    if (t->ema_on && cv_ema_swap(&t->ema, t->s->net, rc ? NULL : err) && !rc) rc = err->status;
    if (!rc) rc = cv_dist_allreduce_set(&t->dist, t->set, err);
    if (rc) return rc;
    int64_t out = cv_set_end_pass(t->set);
    cv_runlog_line(&t->log, "SET: scored %lld training samples in %.1f s; %lld left out of epoch %lld",
                   (long long)r.samples, r.seconds, (long long)out, (long long)epoch + 1);
    return CV_OK;
}

/* ---- validation --------------------------------------------------------------------------- */
static int validate(trainer *t, int64_t epoch, cv_json *rec, cv_error *err) {
    cv_eval_result r;
    if (cv_evaluate(t->s, t->val_loader, &t->s->metrics_val, NULL, &r, err)) return err->status;
    t->sum.last_top1 = r.top1;
    t->sum.last_top5 = r.top5;
    cv_json_num(rec, "val_top1", r.top1);
    cv_json_num(rec, "val_top5", r.top5);
    cv_json_num(rec, "val_loss", r.loss);
    for (int i = 0; i < r.n_metrics; i++) {
        char key[96];
        /* top1, top5 and loss are written above already (one key, one value) */
        if (!strcmp(r.metric_names[i], "top1") || !strcmp(r.metric_names[i], "top5") || !strcmp(r.metric_names[i], "loss"))
            continue;
        snprintf(key, sizeof key, "val_%s", r.metric_names[i]);
        if (r.metric_json[i]) cv_json_raw(rec, key, r.metric_json[i]);
        else cv_json_num(rec, key, r.metric_values[i]);
    }
    int improved = r.top1 > t->ts.best_top1;
    if (improved) t->ts.best_top1 = r.top1;
    char line[256];
    int k = snprintf(line, sizeof line, "epoch %lld/%lld: val top1 %.2f%% top5 %.2f%% loss %.4f", (long long)epoch + 1,
                     (long long)t->epochs, r.top1, r.top5, r.loss);
    if (improved && save_checkpoint(t, "best", 0, NULL, err)) return err->status;
    if (t->ema_on) {
        cv_eval_result re;
        if (cv_ema_swap(&t->ema, t->s->net, err)) return err->status;
        int rc = cv_evaluate(t->s, t->val_loader, NULL, NULL, &re, err);
        cv_error dummy;
        cv_error_init(&dummy);
        if (cv_ema_swap(&t->ema, t->s->net, rc ? &dummy : err) && !rc) return err->status;
        if (rc) return rc;
        cv_json_num(rec, "ema_top1", re.top1);
        cv_json_num(rec, "ema_top5", re.top5);
        cv_json_num(rec, "ema_loss", re.loss);
        snprintf(line + k, sizeof line - (size_t)k, " | EMA top1 %.2f%% top5 %.2f%%", re.top1, re.top5);
        if (re.top1 > t->ts.best_top1_ema) {
            t->ts.best_top1_ema = re.top1;
            if (save_checkpoint(t, "best_ema", 0, &t->ema, err)) return err->status;
        }
    }
    cv_runlog_line(&t->log, "%s", line);
    return CV_OK;
}

/* ---- one epoch ---------------------------------------------------------------------------- */
static int run_epoch(trainer *t, int64_t epoch, cv_error *err) {
    cv_session *s = t->s;
    if (set_score(t, epoch, err)) return err->status;
    int64_t nb = 0;
    const uint8_t *active = t->set ? cv_set_active(t->set) : NULL;
    if (cv_loader_begin_epoch(t->train_loader, epoch, active, &nb, err)) return err->status;
    reset_metrics(&s->metrics_train);
    double t_epoch = cv_now(), t_log = t_epoch, loss_acc = 0;
    int64_t imgs_log = 0, steps_log = 0, imgs_epoch = 0;
    const int C = s->num_classes;
    int micro = 0, bad_group = 0; /* bad_group: a non-finite loss in this accumulation group (data-parallel) */
    for (int64_t step = 0; step < nb; step++) {
        cv_loaded_batch lb;
        if (cv_loader_next(t->train_loader, &lb, err)) return err->status;
        if (step < t->ts.step_in_epoch) continue; /* resuming inside an epoch: same batches, already trained */
        const cv_batch *b = &lb.batch;
        if ((size_t)b->n * (size_t)C > t->logits_cap) {
            cv_free(t->logits);
            t->logits_cap = (size_t)b->n * (size_t)C;
            t->logits = cv_alloc_array(t->logits_cap, sizeof(float));
            if (!t->logits) return cv_set_error(err, CV_ERR_NOMEM, "out of memory for logits");
        }
        cv_shape in = CV_SHAPE(b->n, b->c, b->h, b->w);
        cv_plan *p = cv_net_plan_get(s->net, &in, CV_MODE_TRAIN, b->soft, err);
        if (!p) return err->status;
        cv_net_set_step(s->net, t->ts.iteration * t->accum + micro);
        cv_net_set_loss_scale(s->net, t->dyn_scale ? (float)t->ts.loss_scale : 1.0f);
        if (cv_dist_grads_begin(&t->dist, s->net, micro + 1 == t->accum, err)) return err->status;
        cv_step_io io = { .images = b->images, .targets = b->soft ? (const void *)b->soft_labels : (const void *)b->labels,
                          .logits_out = t->logits, .accumulate = micro > 0 };
        if (t->nan_skip && keep_buffers(t, 0, err)) return err->status;
        int rc = cv_net_run(p, &io, err);
        int nonfinite = rc == CV_ERR_NUMERIC || (rc == CV_OK && !isfinite(io.loss));
        if (nonfinite && t->nan_skip && keep_buffers(t, 1, err)) return err->status;
        if (nonfinite && cv_dist_world(&t->dist) > 1) {
            /* every rank must join the all-reduce, which then makes every rank's
             * gradient NaN, and the grad-norm check below acts alike on all ranks */
            cv_error_init(err);
            bad_group = 1;
            rc = CV_OK;
        } else if (nonfinite) {
            if (!t->nan_skip) return nan_stop(t, epoch, step, "the loss", err);
            cv_error_init(err);
            t->sum.skipped_steps++;
            micro = 0;
            continue;
        }
        if (rc) return rc;
        if (!nonfinite) t->ts.last_loss = io.loss;
        loss_acc += io.loss;
        steps_log++;
        imgs_log += b->n;
        imgs_epoch += b->n;
        t->sum.samples_seen += b->n;
        double gnorm = 0;
        if (++micro == t->accum) {
            micro = 0;
            double lr = scheduled_lr(t, epoch, nb);
            if (cv_dist_allreduce_grads(&t->dist, s->net, bad_group, err)) return err->status;
            bad_group = 0;
            rc = optimizer_step(t, lr, &gnorm, err);
            if (rc == CV_ERR_NUMERIC && !err->status && loss_scale_backoff(t)) continue;
            if (rc == CV_ERR_NUMERIC && !err->status) {
                if (!t->nan_skip) return nan_stop(t, epoch, step, "the gradient", err);
                t->sum.skipped_steps++;
                continue;
            }
            if (rc) return rc;
            t->ts.step_in_epoch = step + 1;
            if (t->ts.iteration % t->log_every == 0) {
                double now = cv_now();
                cv_plan_info info;
                cv_plan_info_get(p, &info);
                cv_json rec;
                cv_json_begin(&rec);
                cv_json_str(&rec, "type", "step");
                cv_json_int(&rec, "epoch", epoch + 1);
                cv_json_int(&rec, "step", step + 1);
                cv_json_int(&rec, "iteration", t->ts.iteration);
                cv_json_num(&rec, "loss", loss_acc / (double)steps_log);
                cv_json_num(&rec, "lr", lr);
                cv_json_num(&rec, "grad_norm", gnorm);
                if (t->dyn_scale) cv_json_num(&rec, "loss_scale", t->ts.loss_scale);
                cv_json_num(&rec, "img_per_s", (double)imgs_log / (now - t_log));
                cv_json_int(&rec, "h", b->h);
                cv_json_int(&rec, "w", b->w);
                cv_json_int(&rec, "batch", b->n);
                cv_json_int(&rec, "peak_bytes", (int64_t)info.peak_bytes);
                cv_json_num(&rec, "time_s", now - t->log.t_start);
                cv_runlog_record(&t->log, cv_json_end(&rec));
                if (!t->quiet) {
                    double ips = (double)imgs_log / (now - t_log);
                    double eta = (double)(nb - step - 1) * (now - t_epoch) / (double)(step + 1);
                    cv_runlog_progress(&t->log, epoch, t->epochs, step + 1, nb, ips, loss_acc / (double)steps_log, lr, eta);
                }
                t_log = now;
                loss_acc = 0;
                imgs_log = steps_log = 0;
            }
        }
        update_metrics(&s->metrics_train, b, C, t->logits, io.loss, gnorm);
        int stop = stop_requested;
        if (cv_dist_world(&t->dist) > 1 && cv_dist_any(&t->dist, stop, &stop, err)) return err->status;
        if (stop) { /* every rank stops at the same step */
            if (micro) { /* finish the accumulation group's step before stopping */
                micro = 0;
                if (cv_dist_allreduce_grads(&t->dist, s->net, bad_group, err)) return err->status;
                if (optimizer_step(t, scheduled_lr(t, epoch, nb), &gnorm, err)) return err->status;
                t->ts.step_in_epoch = step + 1;
            }
            t->ts.epoch = epoch;
            if (save_checkpoint(t, "last", 1, NULL, err)) return err->status;
            cv_runlog_line(&t->log, "interrupted at epoch %lld step %lld: saved %s/last.safetensors; continue with "
                           "--resume", (long long)epoch + 1, (long long)step + 1, s->out_dir);
            t->sum.interrupted = 1;
            return cv_set_error(err, CV_ERR_INTERRUPTED, "interrupted by a signal; resumable checkpoint saved in %s",
                                s->out_dir);
        }
    }
    double secs = cv_now() - t_epoch;
    cv_json rec;
    cv_json_begin(&rec);
    cv_json_str(&rec, "type", "epoch");
    cv_json_int(&rec, "epoch", epoch + 1);
    cv_json_int(&rec, "iteration", t->ts.iteration);
    cv_json_int(&rec, "steps", nb);
    cv_json_num(&rec, "last_step_loss", t->ts.last_loss);
    cv_json_num(&rec, "img_per_s", secs > 0 ? (double)imgs_epoch / secs : 0);
    cv_json_num(&rec, "epoch_s", secs);
    if (t->set) cv_json_int(&rec, "set_left_out", cv_set_left_out(t->set));
    for (int i = 0; i < s->metrics_train.n; i++) {
        const cv_metric_vtable *mv = s->metrics_train.items[i].desc->vtable;
        char key[96];
        const char *json = NULL;
        snprintf(key, sizeof key, "train_%s", s->metrics_train.items[i].desc->name);
        double v = mv->value(s->metrics_train.items[i].self, &json);
        if (json) cv_json_raw(&rec, key, json);
        else cv_json_num(&rec, key, v);
    }
    t->ts.epoch = epoch + 1;
    t->ts.step_in_epoch = 0;
    if ((epoch + 1) % t->val_every == 0 || epoch + 1 == t->epochs) {
        int rc = validate(t, epoch, &rec, err);
        if (rc == CV_ERR_NUMERIC) return nan_stop(t, epoch, nb, "the validation loss (the weights diverged)", err);
        if (rc) return rc;
    }
    {
        int finite = 0;
        if (weights_finite(s->net, &finite, err)) return err->status;
        if (!finite) return nan_stop(t, epoch, nb, "a weight", err);
    }
    cv_json_num(&rec, "time_s", cv_now() - t->log.t_start);
    cv_runlog_record(&t->log, cv_json_end(&rec));
    if (save_checkpoint(t, "last", 1, NULL, err)) return err->status;
    t->sum.epochs_done++;
    return CV_OK;
}

/* ---- set-up and the loop ---------------------------------------------------------------------- */
static int trainer_open(trainer *t, cv_session *s, const cv_train_options *o, cv_error *err) {
    memset(t, 0, sizeof *t);
    t->s = s;
    t->o = o;
    const cv_recipe *r = s->recipe;
    t->epochs = cv_recipe_int(r, "run", "epochs");
    t->log_every = cv_recipe_int(r, "run", "log_every");
    t->val_every = cv_recipe_int(r, "run", "val_every");
    t->accum = (int)cv_recipe_int(r, "run", "accum_freq");
    t->clip = cv_recipe_float(r, "run", "clip_grad_norm");
    t->nan_skip = strcmp(cv_recipe_str(r, "run", "nan_policy"), "skip") == 0;
    if (t->accum < 1) t->accum = 1;
    if (t->log_every < 1) t->log_every = 1;
    if (t->val_every < 1) t->val_every = 1;
    const char *scaling = cv_recipe_str(r, "run", "loss_scaling");
    t->dyn_scale = strcmp(scaling, "dynamic") == 0 ||
                   (strcmp(scaling, "auto") == 0 && strcmp(cv_recipe_str(r, "run", "precision"), "fp16") == 0);
    t->scale_window = cv_recipe_int(r, "run", "loss_scale_window");
    t->ts.loss_scale = t->dyn_scale ? cv_recipe_float(r, "run", "loss_scale_init") : 1.0;
    if (cv_dist_open(s, &t->dist, err)) return err->status;
    if (cv_dist_reshard_sampler(&t->dist, s, err)) return err->status;
    cv_dist_sync_bn(&t->dist, s->net, (int)cv_recipe_int(r, "run", "sync_bn"));
    int root = cv_dist_is_root(&t->dist);
    t->quiet = o->quiet || !root;
    char path[1200];
    if (root) {
        if (prepare_out_dir(s->out_dir, err)) return err->status;
        out_path(path, sizeof path, s, "recipe.ini");
        if (cv_recipe_write_resolved(r, path, err)) return err->status;
        out_path(path, sizeof path, s, "metrics.jsonl");
        if (!o->resume) unlink(path);
        if (cv_runlog_open(&t->log, path, stderr))
            return cv_set_error(err, CV_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    } else {
        t->devnull = fopen("/dev/null", "w");
        cv_runlog_open(&t->log, NULL, t->devnull ? t->devnull : stderr);
    }
    cv_net_optim_step_init(s->net, &t->ostep);
    if (cv_train_reserve(s, NULL, err)) return err->status; /* the worst-case arena, before the loader starts */
    const cv_value *w = cv_options_get(cv_recipe_options(r, "dataset"), "workers");
    cv_loader_config cfg = {
        .host = &s->ctx->host, .dataset = s->dataset_train, .sampler = s->sampler, .transforms = s->tf_train.items,
        .n_transforms = s->tf_train.n, .workers = w && w->is_set ? (int)w->i : 2, .seed = s->seed, .training = 1,
        .num_classes = s->num_classes,
    };
    if (cv_loader_create(&cfg, &t->train_loader, err)) return err->status;
    if (cv_eval_loader_open(s, s->dataset_val, &t->val_sampler, &t->val_loader, err)) return err->status;
    if (cv_recipe_int(r, "ema", "enable")) {
        t->ema_on = 1;
        if (cv_ema_init(&t->ema, s->net, cv_recipe_float(r, "ema", "momentum"), err)) return err->status;
    }
    if (cv_recipe_int(r, "set", "enable")) {
        const cv_dataset_vtable *dv = s->dataset_train.desc->vtable;
        t->set_k = (int)cv_recipe_int(r, "set", "every_k_epochs");
        if (cv_set_create(dv->length(s->dataset_train.self), (int)cv_recipe_int(r, "set", "window"),
                          cv_recipe_float(r, "set", "confidence"), &t->set, err))
            return err->status;
        if (cv_eval_loader_open(s, s->dataset_train, &t->score_sampler, &t->score_loader, err)) return err->status;
    }
    t->ts.best_top1 = t->ts.best_top1_ema = -1;
    if (o->resume && resume(t, err)) return err->status;
    /* every rank starts from rank 0's weights; a fresh EMA starts from them too
     * (a resumed one was restored from the checkpoint) */
    if (cv_dist_sync_params(&t->dist, s->net, err)) return err->status;
    if (t->ema_on && !o->resume && cv_dist_world(&t->dist) > 1) {
        cv_ema_free(&t->ema);
        t->ema_on = 1;
        if (cv_ema_init(&t->ema, s->net, cv_recipe_float(r, "ema", "momentum"), err)) return err->status;
    }
    return CV_OK;
}

static void trainer_close(trainer *t) {
    cv_loader_destroy(t->train_loader);
    cv_loader_destroy(t->val_loader);
    cv_loader_destroy(t->score_loader);
    cv_seq_sampler_destroy(&t->val_sampler);
    cv_seq_sampler_destroy(&t->score_sampler);
    cv_ema_free(&t->ema);
    cv_set_destroy(t->set);
    cv_free(t->logits);
    cv_free(t->kept_buffers);
    cv_runlog_close(&t->log);
    if (t->devnull) fclose(t->devnull);
    cv_dist_close(&t->dist);
}

int cv_train_run(cv_session *s, const cv_train_options *o, cv_train_summary *out, cv_error *err) {
    trainer t;
    double t0 = cv_now();
    int rc = trainer_open(&t, s, o, err);
    int64_t first = t.ts.epoch, done_here = 0;
    for (int64_t e = first; !rc && e < t.epochs; e++) {
        rc = run_epoch(&t, e, err);
        if (!rc && o->stop_after_epochs > 0 && ++done_here >= o->stop_after_epochs && e + 1 < t.epochs) {
            t.sum.interrupted = 1;
            break;
        }
    }
    t.sum.iterations = t.ts.iteration;
    t.sum.best_top1 = t.ts.best_top1;
    t.sum.best_top1_ema = t.ts.best_top1_ema;
    t.sum.last_loss = t.ts.last_loss;
    t.sum.loss_scale = t.ts.loss_scale;
    t.sum.seconds = cv_now() - t0;
    if (!rc && !t.sum.interrupted) {
        cv_runlog_line(&t.log, "done: %lld epochs, %lld optimizer steps, %.1f s; test top1 %.2f%% (best %.2f%%)%s",
                       (long long)t.epochs, (long long)t.ts.iteration, t.sum.seconds, t.sum.last_top1, t.ts.best_top1,
                       t.ema_on ? "" : "");
        if (t.ema_on) cv_runlog_line(&t.log, "best EMA top1 %.2f%%", t.ts.best_top1_ema);
        cv_json rec;
        cv_json_begin(&rec);
        cv_json_str(&rec, "type", "summary");
        cv_json_int(&rec, "epochs", t.epochs);
        cv_json_int(&rec, "iterations", t.ts.iteration);
        cv_json_num(&rec, "test_top1", t.sum.last_top1);
        cv_json_num(&rec, "best_top1", t.ts.best_top1);
        if (t.ema_on) cv_json_num(&rec, "best_ema_top1", t.ts.best_top1_ema);
        cv_json_int(&rec, "skipped_steps", t.sum.skipped_steps);
        if (t.dyn_scale) {
            cv_json_int(&rec, "overflow_steps", t.sum.overflow_steps);
            cv_json_num(&rec, "loss_scale", t.ts.loss_scale);
        }
        cv_json_int(&rec, "bad_samples", cv_loader_bad_samples(t.train_loader));
        cv_json_num(&rec, "wall_s", t.sum.seconds);
        cv_runlog_record(&t.log, cv_json_end(&rec));
    }
    if (out) *out = t.sum;
    trainer_close(&t);
    return rc;
}
