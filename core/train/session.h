/* core/train/session.h — everything a validated recipe describes, created and
 * wired together: backend, datasets, sampler, transforms, model, loss, optimizer,
 * scheduler, metrics, engine and net.  Shared by train, eval, predict, summary,
 * plan and bench, each asking only for the parts it needs. */
#ifndef CV_TRAIN_SESSION_H
#define CV_TRAIN_SESSION_H

#include "engine.h"
#include "recipe.h"

enum {
    CV_NEED_TRAIN_DATA = 1 << 0, /* training dataset, sampler and transforms */
    CV_NEED_VAL_DATA = 1 << 1,   /* validation dataset and transforms */
    CV_NEED_OPTIM = 1 << 2,      /* optimizer (+ state), scheduler */
    CV_NEED_LOSS = 1 << 3,
};

typedef struct cv_component_list {
    cv_component_ref *items;
    int n;
} cv_component_list;

typedef struct cv_session {
    cv_ctx *ctx;
    cv_recipe *recipe;
    int needs;
    uint64_t seed;
    int threads;
    int num_classes, in_channels;
    int base_h, base_w, base_batch;   /* the sampler's base size (eval size, summary) */
    int eval_h, eval_w;
    cv_component_ref backend, dataset_train, dataset_val, sampler, model, loss, optimizer, scheduler;
    cv_component_list tf_train, tf_val, metrics_train, metrics_val;
    cv_component_ref teacher;        /* distillation teacher model, when the loss needs one */
    cv_recipe *teacher_recipe;
    cv_engine *engine;
    cv_net *net;
    char out_dir[1024];
} cv_session;

/* Loads the recipe (with --set overrides), creates what `needs` asks for and the
 * net, and materialises the parameters by planning one eval step at the base
 * size.  out_dir: NULL keeps the recipe's. */
int cv_session_open(cv_ctx *ctx, const char *recipe_path, const char *const *sets, int nsets, const char *out_dir,
                    int needs, cv_session *s, cv_error *err);
void cv_session_close(cv_session *s);

/* Create one component from a recipe section with extra create args. */
int cv_session_create_component(cv_session *s, const char *section, const cv_create_args *extra,
                                cv_component_ref *out, cv_error *err);
void cv_component_ref_destroy(cv_component_ref *ref);

/* The sampler's (h, w, batch) at its base size: the first scale reported for
 * epoch 0 that equals base_size, else the first one. */
int cv_session_base_scale(cv_session *s, cv_error *err);

#endif
