/* core/train/session.c — builds the components of a recipe (see session.h). */
#include "train/session.h"
#include "options.h"
#include "train/checkpoint.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void cv_component_ref_destroy(cv_component_ref *ref) {
    if (ref && ref->desc && ref->self && ref->desc->destroy) ref->desc->destroy(ref->self);
    if (ref) {
        ref->self = NULL;
        ref->desc = NULL;
    }
}

static void base_args(cv_session *s, cv_create_args *a, const char *section) {
    memset(a, 0, sizeof *a);
    a->struct_size = sizeof *a;
    a->host = &s->ctx->host;
    a->opts = cv_recipe_options(s->recipe, section);
    a->seed = s->seed;
    a->world_size = 1;
    a->threads = s->threads;
    a->num_classes = s->num_classes;
    a->in_channels = s->in_channels;
    a->out_dir = s->out_dir[0] ? s->out_dir : NULL;
    a->recipe_dir = cv_recipe_dir(s->recipe);
}

int cv_session_create_component(cv_session *s, const char *section, const cv_create_args *extra,
                                cv_component_ref *out, cv_error *err) {
    const cv_plugin *p = cv_recipe_plugin(s->recipe, section);
    if (!p)
        return cv_set_error(err, CV_ERR_INVALID, "%s: the recipe has no [%s] section naming a plugin",
                            cv_recipe_path(s->recipe), section);
    cv_create_args a;
    base_args(s, &a, section);
    if (extra) {
        a.split = extra->split;
        a.dataset_length = extra->dataset_length;
        if (extra->num_classes) a.num_classes = extra->num_classes;
        if (extra->rank || extra->world_size > 1) {
            a.rank = extra->rank;
            a.world_size = extra->world_size;
        }
    }
    if (!p->desc.create)
        return cv_set_error(err, CV_ERR_ABI, "plugin %s (%s) has no create function", p->desc.name, p->file);
    void *self = NULL;
    cv_error local;
    cv_error_init(&local);
    int rc = p->desc.create(&a, &self, &local);
    if (rc != CV_OK)
        return cv_set_error(err, rc ? rc : CV_ERR_INTERNAL, "[%s] %s: %s", section, p->desc.name,
                            local.message[0] ? local.message : cv_status_name(rc));
    out->desc = &p->desc;
    out->self = self;
    return CV_OK;
}

static int create_list(cv_session *s, const char *section, const char *key, int split, cv_component_list *list,
                       cv_error *err) {
    const char *const *names = NULL;
    int n = cv_recipe_list(s->recipe, section, key, &names);
    list->items = cv_alloc_array((size_t)(n ? n : 1), sizeof(cv_component_ref));
    if (!list->items) return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        char sec[300];
        cv_create_args extra;
        memset(&extra, 0, sizeof extra);
        extra.split = split;
        /* [transform.<name>] / [metric.<name>]: the recipe fills defaults for listed plugins */
        snprintf(sec, sizeof sec, "%s.%s", strcmp(section, "transforms") == 0 ? "transform" : "metric", names[i]);
        if (cv_session_create_component(s, sec, &extra, &list->items[list->n], err)) return err->status;
        list->n++;
    }
    return CV_OK;
}

static void destroy_list(cv_component_list *l) {
    for (int i = 0; i < l->n; i++) cv_component_ref_destroy(&l->items[i]);
    cv_free(l->items);
    memset(l, 0, sizeof *l);
}

static int opt_int(const cv_options *o, const char *key, int fallback) {
    const cv_value *v = cv_options_get(o, key);
    return v && v->is_set && (v->type == CV_OPT_INT || v->type == CV_OPT_BOOL) ? (int)v->i : fallback;
}

int cv_session_base_scale(cv_session *s, cv_error *err) {
    const cv_options *so = cv_recipe_options(s->recipe, "sampler");
    int base = opt_int(so, "base_size", 0);
    s->base_h = opt_int(so, "base_height", 0);
    s->base_w = opt_int(so, "base_width", 0);
    if (s->base_h <= 0) s->base_h = base; /* 0 = base_size, as the samplers define it */
    if (s->base_w <= 0) s->base_w = base;
    s->base_batch = opt_int(so, "batch_size", 0);
    if (s->base_h <= 0 || s->base_w <= 0 || s->base_batch <= 0)
        return cv_set_error(err, CV_ERR_INVALID, "%s: [sampler] must give base_size and batch_size",
                            cv_recipe_path(s->recipe));
    int eval = (int)cv_recipe_int(s->recipe, "run", "eval_size");
    s->eval_h = eval > 0 ? eval : s->base_h;
    s->eval_w = eval > 0 ? eval : s->base_w;
    return CV_OK;
}

static int dataset_info(cv_session *s, cv_component_ref ds) {
    const cv_dataset_vtable *vt = ds.desc->vtable;
    s->num_classes = vt->num_classes(ds.self);
    s->in_channels = vt->channels(ds.self);
    return CV_OK;
}

/* Training and evaluation compare logits with the dataset's labels: the model's
 * classifier must be as wide as the dataset has classes. */
static int check_classes(cv_session *s, cv_error *err) {
    const cv_value *nc = cv_options_get(cv_recipe_options(s->recipe, "model"), "num_classes");
    if (nc && nc->is_set && nc->i > 0 && nc->i != s->num_classes)
        return cv_set_error(err, CV_ERR_INVALID, "%s: [model] num_classes = %lld but dataset %s has %d classes (set them "
                            "equal, or num_classes = 0 to take the dataset's)", cv_recipe_path(s->recipe),
                            (long long)nc->i, cv_recipe_component(s->recipe, "dataset"), s->num_classes);
    return CV_OK;
}

/* [model] pretrained = FILE: weights by name, e.g. torchvision's converted to
 * safetensors; tensors the model lacks (num_batches_tracked) or has in another shape
 * (a classifier for other classes) are reported and skipped. */
static int load_pretrained(cv_session *s, cv_error *err) {
    const cv_value *pv = cv_options_get(cv_recipe_options(s->recipe, "model"), "pretrained");
    if (!pv || !pv->is_set || !pv->s || !*pv->s) return CV_OK;
    char path[2048];
    if (pv->s[0] == '/') snprintf(path, sizeof path, "%s", pv->s);
    else snprintf(path, sizeof path, "%s/%s", cv_recipe_dir(s->recipe), pv->s);
    int loaded = 0;
    if (cv_ckpt_load_weights(s->net, path, 0, &loaded, err)) return err->status;
    if (loaded == 0)
        return cv_set_error(err, CV_ERR_INVALID, "[model] pretrained = %s: no tensor of it matches this model's "
                            "parameter names and shapes", path);
    return CV_OK;
}

/* The distillation teacher: the [model] of the loss's teacher_recipe, with the
 * weights of teacher_checkpoint, traced into every loss plan in eval mode. */
static int open_teacher(cv_session *s, cv_error *err) {
    const cv_loss_vtable *lv = s->loss.desc->vtable;
    if (!lv->needs_teacher) return CV_OK;
    const cv_options *lo = cv_recipe_options(s->recipe, "loss");
    const cv_value *tr = cv_options_get(lo, "teacher_recipe"), *tc = cv_options_get(lo, "teacher_checkpoint");
    if (!tr || !tr->is_set || !tc || !tc->is_set)
        return cv_set_error(err, CV_ERR_INVALID, "%s: [loss] %s needs teacher_recipe and teacher_checkpoint",
                            cv_recipe_path(s->recipe), s->loss.desc->name);
    char path[2048];
    if (tr->s[0] == '/') snprintf(path, sizeof path, "%s", tr->s);
    else snprintf(path, sizeof path, "%s/%s", cv_recipe_dir(s->recipe), tr->s);
    if (cv_recipe_load(s->ctx, path, NULL, 0, &s->teacher_recipe, err)) return err->status;
    const cv_plugin *p = cv_recipe_plugin(s->teacher_recipe, "model");
    cv_create_args a;
    base_args(s, &a, "model");
    a.opts = cv_recipe_options(s->teacher_recipe, "model");
    cv_error local;
    cv_error_init(&local);
    if (!p || p->desc.create(&a, &s->teacher.self, &local))
        return cv_set_error(err, CV_ERR_INVALID, "teacher model of %s: %s", path, p ? local.message : "no [model]");
    s->teacher.desc = &p->desc;
    return cv_net_set_teacher(s->net, s->teacher, err);
}

static int load_teacher_weights(cv_session *s, cv_error *err) {
    if (!s->teacher.desc) return CV_OK;
    const cv_value *tc = cv_options_get(cv_recipe_options(s->recipe, "loss"), "teacher_checkpoint");
    char path[2048];
    if (tc->s[0] == '/') snprintf(path, sizeof path, "%s", tc->s);
    else snprintf(path, sizeof path, "%s/%s", cv_recipe_dir(s->recipe), tc->s);
    return cv_ckpt_load_weights_prefixed(s->net, path, "teacher.", 1, NULL, err);
}

int cv_session_open(cv_ctx *ctx, const char *recipe_path, const char *const *sets, int nsets, const char *out_dir,
                    int needs, cv_session *s, cv_error *err) {
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->needs = needs;
    if (cv_recipe_load(ctx, recipe_path, sets, nsets, &s->recipe, err)) return err->status;
    s->seed = (uint64_t)cv_recipe_int(s->recipe, "run", "seed");
    s->threads = (int)cv_recipe_int(s->recipe, "run", "threads");
    if (s->threads <= 0) s->threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(s->out_dir, sizeof s->out_dir, "%s", out_dir ? out_dir : cv_recipe_out_dir(s->recipe));
    if (cv_session_base_scale(s, err)) goto fail;

    cv_create_args extra;
    memset(&extra, 0, sizeof extra);
    extra.split = CV_SPLIT_VAL;
    /* the validation dataset also tells the class count for eval-only work */
    if (cv_session_create_component(s, "dataset", &extra, &s->dataset_val, err)) goto fail;
    dataset_info(s, s->dataset_val);
    if (needs & CV_NEED_TRAIN_DATA) {
        extra.split = CV_SPLIT_TRAIN;
        if (cv_session_create_component(s, "dataset", &extra, &s->dataset_train, err)) goto fail;
        dataset_info(s, s->dataset_train);
        const cv_dataset_vtable *dvt = s->dataset_train.desc->vtable;
        extra.dataset_length = dvt->length(s->dataset_train.self);
        if (cv_session_create_component(s, "sampler", &extra, &s->sampler, err)) goto fail;
        if (create_list(s, "transforms", "train", CV_SPLIT_TRAIN, &s->tf_train, err)) goto fail;
        if (create_list(s, "metrics", "train", CV_SPLIT_TRAIN, &s->metrics_train, err)) goto fail;
    }
    if (needs & CV_NEED_VAL_DATA) {
        if (create_list(s, "transforms", "val", CV_SPLIT_VAL, &s->tf_val, err)) goto fail;
        if (create_list(s, "metrics", "val", CV_SPLIT_VAL, &s->metrics_val, err)) goto fail;
    }
    if (cv_session_create_component(s, "backend", NULL, &s->backend, err)) goto fail;
    if (cv_session_create_component(s, "model", NULL, &s->model, err)) goto fail;
    if ((needs & CV_NEED_LOSS) && cv_session_create_component(s, "loss", NULL, &s->loss, err)) goto fail;
    if (needs & CV_NEED_OPTIM) {
        if (cv_session_create_component(s, "optimizer", NULL, &s->optimizer, err)) goto fail;
        if (cv_session_create_component(s, "scheduler", NULL, &s->scheduler, err)) goto fail;
    }
    cv_backend_ref be = { s->backend.desc->vtable, s->backend.self };
    s->engine = cv_engine_create(&ctx->host, be, s->seed, err);
    if (!s->engine) goto fail;
    cv_ctx_add_interface(ctx, CV_OPS_INTERFACE, cv_engine_ops());
    s->net = cv_net_create(s->engine, s->model, s->loss, s->num_classes, err);
    if (!s->net) goto fail;
    if ((needs & CV_NEED_VAL_DATA) && check_classes(s, err)) goto fail;
    if (s->loss.desc && open_teacher(s, err)) goto fail;
    /* materialise the parameters: one eval plan at the evaluation size */
    cv_shape in = CV_SHAPE(1, s->in_channels, s->eval_h, s->eval_w);
    if (!cv_net_plan_get(s->net, &in, CV_MODE_EVAL, 0, err)) goto fail;
    if (load_teacher_weights(s, err)) goto fail;
    if (load_pretrained(s, err)) goto fail;
    if (needs & CV_NEED_OPTIM) {
        const cv_optimizer_vtable *ovt = s->optimizer.desc->vtable;
        if (cv_net_alloc_state(s->net, ovt->state_slots, err)) goto fail;
    }
    return CV_OK;
fail:
    cv_session_close(s);
    return err->status ? err->status : CV_ERR_INTERNAL;
}

void cv_session_close(cv_session *s) {
    if (s->net) cv_net_destroy(s->net);
    if (s->engine) cv_engine_destroy(s->engine);
    s->net = NULL;
    s->engine = NULL;
    cv_component_ref_destroy(&s->teacher);
    if (s->teacher_recipe) cv_recipe_free(s->teacher_recipe);
    s->teacher_recipe = NULL;
    destroy_list(&s->tf_train);
    destroy_list(&s->tf_val);
    destroy_list(&s->metrics_train);
    destroy_list(&s->metrics_val);
    cv_component_ref *refs[] = { &s->scheduler, &s->optimizer, &s->loss, &s->model, &s->sampler,
                                 &s->dataset_train, &s->dataset_val, &s->backend };
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) cv_component_ref_destroy(refs[i]);
    if (s->recipe) cv_recipe_free(s->recipe);
    s->recipe = NULL;
}
