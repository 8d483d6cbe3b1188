/* test/support/zoo_run.c — the zoo's families on any backend (zoo_run.h). */
#include "zoo_run.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ce_loss.h"
#include "engine/internal.h" /* cv_dtype_name */
#include "kernel_util.h"
#include "layout_net.h"
#include "testhost.h"

const zoo_tiny zoo_tiny_models[] = {
    { "resnet", { "depth=18", "width_multiplier=0.25", "squeeze_excitation=true", "stochastic_depth=0.1" }, 32, 3 },
    { "resnet", { "depth=50", "width_multiplier=0.25", "output_stride=16" }, 32, 3 },
    { "resnet", { "depth=18", "stem=cifar", "width_multiplier=0.25" }, 28, 1 },
    { "mobilenetv1", { "width_multiplier=0.25" }, 32, 3 },
    { "mobilenetv2", { "width_multiplier=0.25" }, 32, 3 },
    { "mobilenetv3", { "variant=small", "width_multiplier=0.5" }, 32, 3 },
    { "vit", { "variant=tiny", "depth=2", "image_size=32" }, 48, 3 }, /* 2x2 table resized to 3x3 */
    { "vit", { "variant=tiny", "depth=2", "positions=sinusoidal" }, 32, 3 },
    { "mobilevit", { "variant=xx_small" }, 64, 3 },
    { "mobilevit_v2", { "width_multiplier=0.5" }, 32, 3 },
};
const int zoo_n_tiny = (int)(sizeof zoo_tiny_models / sizeof *zoo_tiny_models);

void zoo_rig(net_rig *r, cv_ctx *ctx, ku_backend be, const char *name, const char *const *kv, int classes, int channels) {
    const cv_component_desc *md = th_load(ctx, "model", name);
    cv_create_args extra;
    memset(&extra, 0, sizeof extra);
    extra.num_classes = classes;
    extra.in_channels = channels;
    net_rig_open(r, ctx, be, 42, (cv_component_ref){ md, th_create(ctx, md, kv, &extra) }, ce_loss(), classes);
    r->owns_model = 1;
}

zoo_batch zoo_batch_make(cv_shape in, int classes, uint64_t seed) {
    zoo_batch b = { in, malloc(sizeof(float) * (size_t)cv_shape_numel(&in)), malloc(sizeof(int32_t) * (size_t)in.dim[0]) };
    ku_rng g = ku_rng_make(seed);
    for (int64_t i = 0; i < cv_shape_numel(&in); i++) b.img[i] = (float)(2.0 * ku_uniform(&g) - 1.0);
    for (int64_t i = 0; i < in.dim[0]; i++) b.lab[i] = (int32_t)(i % classes);
    return b;
}

void zoo_batch_free(zoo_batch *b) {
    free(b->img);
    free(b->lab);
}

double zoo_train_loss(net_rig *r, const zoo_batch *b) {
    cv_plan *p = net_rig_plan(r, b->in, CV_MODE_TRAIN);
    cv_step_io io = { b->img, b->lab, NULL, 0, 0 };
    cr_assert_eq(cv_net_run(p, &io, &r->err), CV_OK, "run: %s", r->err.message);
    cr_assert(isfinite(io.loss), "loss %g", io.loss);
    return io.loss;
}

float *zoo_expect_gradient_flow(net_rig *r, const char *what) {
    int64_t ne;
    float *gr = net_rig_read(r, 1, &ne);
    for (int i = 0; i < cv_net_param_count(r->n); i++) {
        const cv_param_info *pi = cv_net_param(r->n, i);
        /* A norm's bias can have an exactly zero gradient for a good reason: in
         * MobileNetV2/V3 the project BN's shift passes linearly (residual, 1x1
         * conv) into the next BN, whose batch mean removes it. */
        if (pi->tags & CV_TAG_BUFFER || (pi->tags & CV_TAG_NORM && strstr(pi->name, "bias"))) continue;
        double ss = 0;
        for (int64_t k = 0; k < cv_shape_numel(&pi->shape); k++) ss += (double)gr[pi->offset + k] * gr[pi->offset + k];
        cr_expect(ss > 0 && isfinite(ss), "%s: no gradient reaches %s (sum of squares %g)", what, pi->name, ss);
    }
    return gr;
}

int zoo_random_running_stats(net_rig *r, uint64_t seed) {
    ku_rng g = ku_rng_make(seed);
    int nstats = 0;
    for (int i = 0; i < cv_net_param_count(r->n); i++) {
        const cv_param_info *pi = cv_net_param(r->n, i);
        const int mean = strstr(pi->name, "running_mean") != NULL, var = strstr(pi->name, "running_var") != NULL;
        if (!(pi->tags & CV_TAG_BUFFER) || !(mean || var)) continue;
        float *v = ku_random(&g, cv_shape_numel(&pi->shape), mean ? -0.5f : 0.5f, mean ? 0.5f : 2.0f);
        cr_assert_eq(cv_net_param_write(r->n, i, v, &r->err), CV_OK, "%s", r->err.message);
        free(v);
        nstats++;
    }
    return nstats;
}

void zoo_expect_16bit_close(net_rig *h, net_rig *f, const zoo_tiny *t, int dt, uint64_t seed) {
    char what[96];
    snprintf(what, sizeof what, "%s %s (%s)", t->model, t->kv[0], cv_dtype_name(dt));
    net_rig *r[2] = { h, f };
    zoo_batch b = zoo_batch_make(CV_SHAPE(8, t->channels, t->size, t->size), 5, seed);
    double loss[2];
    for (int k = 0; k < 2; k++) loss[k] = zoo_train_loss(r[k], &b);
    const int half = ln_count_dtype(net_rig_plan(h, b.in, CV_MODE_TRAIN), dt);
    const double dl = fabs(loss[0] - loss[1]) / (1 + fabs(loss[1]));
    free(zoo_expect_gradient_flow(h, what));
    zoo_batch e = zoo_batch_make(CV_SHAPE(2, t->channels, t->size, t->size), 5, seed + 6);
    float logits[2][2 * 5], scale = 0, worst = 0;
    for (int k = 0; k < 2; k++) {
        zoo_random_running_stats(r[k], seed + 23);
        cv_plan *pe = net_rig_plan(r[k], e.in, CV_MODE_EVAL);
        cv_step_io io = { e.img, e.lab, logits[k], 0, 0 };
        cr_assert_eq(cv_net_run(pe, &io, &r[k]->err), CV_OK, "%s: %s", what, r[k]->err.message);
    }
    for (int i = 0; i < 10; i++) scale = fmaxf(scale, fabsf(logits[1][i]));
    for (int i = 0; i < 10; i++) worst = fmaxf(worst, fabsf(logits[0][i] - logits[1][i]) / scale);
    cr_log_info("%s: %d values stored in 16 bits; loss %.4f (f32 %.4f, %.2g); eval logits %.2g of the largest", what,
                half, loss[0], loss[1], dl, worst);
    if (strcmp(t->model, "vit")) cr_expect_gt(half, 0, "%s: no activation stored in 16 bits", what);
    cr_expect(dl <= 5e-2, "%s: loss %g, f32 %g", what, loss[0], loss[1]);
    cr_expect(scale > 1e-3f && worst <= 3e-2f, "%s: eval logits differ from f32 by %g of the largest (%g)", what, worst,
              scale);
    zoo_batch_free(&b);
    zoo_batch_free(&e);
}
