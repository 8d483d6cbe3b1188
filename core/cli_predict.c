/* core/cli_predict.c — `cvnets predict RECIPE --checkpoint FILE IMAGE…`: the top-5
 * classes with probabilities for each image, after the recipe's val transforms. */
#include "cli.h"
#include "data/collate.h"
#include "train/checkpoint.h"
#include "train/session.h"

#include <math.h>
#include <stb/stb_image.h>
#include <string.h>

/* decode, run the val transforms, collate into dst [C][H][W] */
static int load_image(cv_session *s, const char *path, float *dst, cv_error *err) {
    int w = 0, h = 0, c = 0;
    if (!stbi_info(path, &w, &h, &c))
        return cv_set_error(err, CV_ERR_IO, "cannot read image %s: %s", path, stbi_failure_reason());
    if ((int64_t)w * h > (int64_t)1 << 28)
        return cv_set_error(err, CV_ERR_INVALID, "image %s is %dx%d: too large", path, w, h);
    int want = s->in_channels == 1 ? 1 : 3;
    unsigned char *px = stbi_load(path, &w, &h, &c, want);
    if (!px) return cv_set_error(err, CV_ERR_IO, "cannot decode image %s: %s", path, stbi_failure_reason());
    cv_sample smp;
    memset(&smp, 0, sizeof smp);
    smp.struct_size = sizeof smp;
    smp.path = path;
    smp.image.h = h;
    smp.image.w = w;
    smp.image.c = want;
    smp.image.dtype = CV_U8;
    smp.image.data = cv_alloc((size_t)w * h * want);
    int rc = smp.image.data ? CV_OK : cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    if (!rc) memcpy(smp.image.data, px, (size_t)w * h * want);
    stbi_image_free(px);
    for (int t = 0; !rc && t < s->tf_val.n; t++) {
        const cv_transform_vtable *tv = s->tf_val.items[t].desc->vtable;
        if (tv->batch_level) continue;
        cv_transform_ctx tc = { .struct_size = sizeof tc, .target_h = s->eval_h, .target_w = s->eval_w,
                                .training = 0, .num_classes = s->num_classes };
        uint64_t coord = (uint64_t)t;
        s->ctx->host.rng_init(&tc.rng, s->seed, &coord, 1);
        cv_error local;
        cv_error_init(&local);
        if (tv->apply(s->tf_val.items[t].self, &smp, &tc, &local))
            rc = cv_set_error(err, local.status, "%s: transform %s: %s", path, s->tf_val.items[t].desc->name,
                              local.message);
    }
    char why[256] = "";
    if (!rc && cv_collate_image(&smp.image, dst, s->in_channels, s->eval_h, s->eval_w, why, sizeof why))
        rc = cv_set_error(err, CV_ERR_INVALID, "%s: %s", path, why);
    cv_free(smp.image.data);
    return rc;
}

int cv_cmd_predict(cv_ctx *ctx, int argc, char **argv) {
    cv_cli_args a;
    int rc = cv_cli_parse(ctx, argc, argv, "--set --checkpoint --json", 2, -1, &a);
    if (rc) return rc < 0 ? CV_EXIT_OK : rc;
    if (!a.checkpoint) {
        fprintf(stderr, "cvnets predict: --checkpoint FILE is required\n");
        cv_cli_print_usage(stderr, "predict");
        cv_cli_args_free(&a);
        return CV_EXIT_USAGE;
    }
    cv_error err;
    cv_error_init(&err);
    cv_session s;
    int failed = cv_session_open(ctx, a.pos[0], a.sets, a.nsets, NULL, CV_NEED_VAL_DATA, &s, &err);
    if (!failed) failed = cv_ckpt_load_weights(s.net, a.checkpoint, 1, NULL, &err);
    if (failed) {
        fprintf(stderr, "cvnets predict: error: %s\n", err.message);
        cv_cli_args_free(&a);
        return CV_EXIT_FAIL;
    }
    const int C = s.num_classes;
    size_t plane = (size_t)s.in_channels * s.eval_h * s.eval_w;
    float *img = cv_alloc_array(plane, sizeof(float)), *logits = cv_alloc_array((size_t)C, sizeof(float));
    cv_shape in = CV_SHAPE(1, s.in_channels, s.eval_h, s.eval_w);
    cv_plan *p = img && logits ? cv_net_plan_get(s.net, &in, CV_MODE_EVAL, 0, &err) : NULL;
    const cv_dataset_vtable *dv = s.dataset_val.desc->vtable;
    int bad = !p;
    if (a.json) printf("[");
    for (int i = 1; p && i < a.npos; i++) {
        cv_error e;
        cv_error_init(&e);
        cv_step_io io = { .images = img, .logits_out = logits };
        if (load_image(&s, a.pos[i], img, &e) || cv_net_run(p, &io, &e)) {
            fprintf(stderr, "cvnets predict: error: %s\n", e.message);
            bad = 1;
            continue;
        }
        float mx = logits[0];
        for (int c = 1; c < C; c++) mx = logits[c] > mx ? logits[c] : mx;
        double z = 0;
        for (int c = 0; c < C; c++) z += exp((double)logits[c] - mx);
        int used[5] = { -1, -1, -1, -1, -1 }, k = C < 5 ? C : 5;
        if (a.json) printf("%s{\"image\": ", i > 1 ? ", " : ""), cv_json_string(stdout, a.pos[i]), printf(", \"top5\": [");
        else printf("%s\n", a.pos[i]);
        for (int r = 0; r < k; r++) {
            int best = -1;
            for (int c = 0; c < C; c++) {
                int taken = 0;
                for (int q = 0; q < r; q++) taken |= used[q] == c;
                if (!taken && (best < 0 || logits[c] > logits[best])) best = c;
            }
            used[r] = best;
            double prob = exp((double)logits[best] - mx) / z;
            const char *name = dv->class_name ? dv->class_name(s.dataset_val.self, best) : NULL;
            if (a.json) {
                printf("%s{\"class\": %d, \"name\": ", r ? ", " : "", best);
                cv_json_string(stdout, name ? name : "");
                printf(", \"prob\": %.6f}", prob);
            } else {
                printf("  %d. %-24s %6.2f%%\n", r + 1, name ? name : "?", 100.0 * prob);
            }
        }
        if (a.json) printf("]}");
    }
    if (a.json) printf("]\n");
    if (!p) fprintf(stderr, "cvnets predict: error: %s\n", err.message);
    cv_free(img);
    cv_free(logits);
    cv_session_close(&s);
    cv_cli_args_free(&a);
    return bad ? CV_EXIT_FAIL : CV_EXIT_OK;
}
