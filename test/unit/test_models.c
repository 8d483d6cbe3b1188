/* test/unit/test_models.c — the classification model zoo traced through the
 * shape-only op table (support/count_ops.h) and loaded with the minimal host
 * (support/model_host.h): parameter and multiply-add counts against the CVNets
 * paper's Table 1, torchvision state-dict key lists (committed fixtures),
 * logits shapes of every variant at the multi-scale sampler's sizes, backbone
 * feature strides (with output stride 8/16), tags and initialisers, options. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/count_ops.h"
#include "support/model_host.h"

typedef struct run {
    mh_host *h;
    mh_model m;
    cv_graph *g;
    cv_tensor *y;
} run;

static void run_open(run *r, const char *name, const char *const *kv, int classes, cv_shape in, int training) {
    cv_error err = { sizeof err, 0, "" };
    memset(r, 0, sizeof *r);
    r->h = mh_load(name, &err);
    cr_assert_not_null(r->h, "%s", err.message);
    cr_assert_eq(mh_create(r->h, kv, classes, (int)in.dim[1], &r->m, &err), CV_OK, "%s: %s", name, err.message);
    r->g = cnt_graph_new(in, training);
    r->y = mh_vtable(&r->m)->forward(r->m.self, cnt_ops(), r->g, cnt_ops()->input(r->g, 0));
    cr_assert_not_null(r->y, "%s forward failed: %s", name, cnt_error(r->g));
    cr_assert_str_empty(cnt_error(r->g), "%s: %s", name, cnt_error(r->g));
}

static void run_close(run *r) {
    cnt_graph_free(r->g);
    mh_model_free(&r->m);
    mh_free(r->h);
}

static cv_shape shape_of(cv_tensor *t) {
    cv_shape s = { 0, 0, { 0 } };
    cr_assert_eq(cnt_ops()->shape(t, &s), CV_OK);
    return s;
}

/* ---- Table 1 ------------------------------------------------------------------- */
/* The paper prints params in M with one decimal and MACs with one decimal in M or
 * G: a value matches when it is within 2 % or within half of the last printed
 * digit (0.05 M / 0.05 G), whichever is wider. */
static void expect_close(const char *what, double got, double paper, double half_digit, double rel) {
    double tol = fmax(rel * paper, half_digit);
    cr_expect(fabs(got - paper) <= tol, "%s: %.4g, paper %.4g (tolerance %.3g)", what, got, paper, tol);
}

typedef struct row {
    const char *label, *model;
    const char *kv[4];
    double params_m, macs, macs_half_digit, macs_rel;
} row;

static const row table1[] = {
    { "MobileNetV1-0.25", "mobilenetv1", { "width_multiplier=0.25" }, 0.5, 46.3e6, 0.05e6, 0.02 },
    { "MobileNetV1-1.0", "mobilenetv1", { "width_multiplier=1.0" }, 4.2, 568.7e6, 0.05e6, 0.02 },
    { "MobileNetV2-0.25", "mobilenetv2", { "width_multiplier=0.25" }, 1.5, 50.5e6, 0.05e6, 0.02 },
    { "MobileNetV2-1.0", "mobilenetv2", { "width_multiplier=1.0" }, 3.5, 300.7e6, 0.05e6, 0.02 },
    /* CVNets' model: its release built every depthwise conv 3x3 (the default,
     * torchvision's architecture, has 5.48 M / 216.6 M) */
    { "MobileNetV3-Large", "mobilenetv3", { "variant=large", "style=cvnets" }, 5.4, 210.7e6, 0.05e6, 0.02 },
    { "ResNet-101", "resnet", { "depth=101" }, 44.5, 7.7e9, 0.05e9, 0.02 },
    { "ViT-Tiny", "vit", { "variant=tiny" }, 5.7, 1.3e9, 0.05e9, 0.02 },
    { "ResNet-50", "resnet", { "depth=50" }, 25.6, 4.1e9, 0.05e9, 0.02 },
};

Test(models, table1_params_and_macs_at_224) {
    for (size_t i = 0; i < sizeof table1 / sizeof *table1; i++) {
        const row *t = &table1[i];
        run r;
        run_open(&r, t->model, t->kv, 1000, CV_SHAPE(1, 3, 224, 224), 0);
        char what[96];
        snprintf(what, sizeof what, "%s params (M)", t->label);
        expect_close(what, (double)cnt_trainable(r.g) / 1e6, t->params_m, 0.05, 0.02);
        snprintf(what, sizeof what, "%s multiply-adds", t->label);
        expect_close(what, (double)cnt_macs(r.g), t->macs, t->macs_half_digit, t->macs_rel);
        cv_shape s = shape_of(r.y);
        cr_expect(s.ndim == 2 && s.dim[0] == 1 && s.dim[1] == 1000, "%s logits shape", t->label);
        run_close(&r);
    }
}

/* the MobileViT papers' parameter counts (one decimal, in M) and MACs at 256 px */
Test(models, mobilevit_families_match_their_papers) {
    static const struct { const char *model, *kv; double params_m, gmacs; } rows[] = {
        { "mobilevit", "variant=xx_small", 1.3, 0.4 }, { "mobilevit", "variant=x_small", 2.3, 1.0 },
        { "mobilevit", "variant=small", 5.6, 2.0 },    { "mobilevit_v2", "width_multiplier=0.5", 1.4, 0.5 },
        { "mobilevit_v2", "width_multiplier=1.0", 4.9, 1.8 },
    };
    for (int i = 0; i < 5; i++) {
        run r;
        run_open(&r, rows[i].model, (const char *const[]){ rows[i].kv, NULL }, 1000, CV_SHAPE(1, 3, 256, 256), 0);
        char what[96];
        snprintf(what, sizeof what, "%s %s params (M)", rows[i].model, rows[i].kv);
        expect_close(what, (double)cnt_trainable(r.g) / 1e6, rows[i].params_m, 0.05, 0.02);
        snprintf(what, sizeof what, "%s %s GMACs", rows[i].model, rows[i].kv);
        expect_close(what, (double)cnt_macs(r.g) / 1e9, rows[i].gmacs, 0.05, 0.02);
        run_close(&r);
    }
}

Test(models, mobilenetv3_styles) {
    run tv, cv;
    run_open(&tv, "mobilenetv3", NULL, 1000, CV_SHAPE(1, 3, 224, 224), 0);
    run_open(&cv, "mobilenetv3", (const char *const[]){ "style=cvnets", NULL }, 1000, CV_SHAPE(1, 3, 224, 224), 0);
    /* features.4 is the first 5x5 block: its depthwise conv is 3x3 in CVNets' model */
    cr_expect_eq(cnt_param_shape(tv.g, cnt_param_find(tv.g, "features.4.block.1.0.weight")).dim[3], 5);
    cr_expect_eq(cnt_param_shape(cv.g, cnt_param_find(cv.g, "features.4.block.1.0.weight")).dim[3], 3);
    /* torchvision squeezes 72 channels to 24, CVNets to at least 32 */
    cr_expect_eq(cnt_param_shape(tv.g, cnt_param_find(tv.g, "features.4.block.2.fc1.weight")).dim[0], 24);
    cr_expect_eq(cnt_param_shape(cv.g, cnt_param_find(cv.g, "features.4.block.2.fc1.weight")).dim[0], 32);
    expect_close("torchvision MobileNetV3-Large params (M)", (double)cnt_trainable(tv.g) / 1e6, 5.483, 0.001, 0);
    expect_close("torchvision MobileNetV3-Large multiply-adds", (double)cnt_macs(tv.g), 216.6e6, 0.1e6, 0);
    run_close(&tv);
    run_close(&cv);
}

Test(models, macs_scale_with_batch_and_resolution) {
    run a, b;
    run_open(&a, "resnet", (const char *const[]){ "depth=18", NULL }, 10, CV_SHAPE(1, 3, 224, 224), 0);
    run_open(&b, "resnet", (const char *const[]){ "depth=18", NULL }, 10, CV_SHAPE(4, 3, 224, 224), 0);
    cr_expect_eq(cnt_macs(b.g), 4 * cnt_macs(a.g), "multiply-adds are for the whole batch");
    cr_expect_eq(cnt_trainable(b.g), cnt_trainable(a.g));
    run_close(&a);
    run_close(&b);
}

/* ---- torchvision names ---------------------------------------------------------- */
typedef struct keyent { char name[160]; cv_shape shape; int seen; } keyent;

static int read_keys(const char *file, keyent **out) {
    char path[1024];
    const char *src = getenv("CVNETS_SRC");
    snprintf(path, sizeof path, "%s/test/fixtures/models/%s", src && *src ? src : ".", file);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open fixture %s", path);
    int n = 0, cap = 64;
    keyent *k = calloc((size_t)cap, sizeof *k);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        if (n == cap) {
            cap *= 2;
            k = realloc(k, (size_t)cap * sizeof *k);
            cr_assert_not_null(k);
        }
        memset(&k[n], 0, sizeof k[n]);
        char dims[256];
        cr_assert_eq(sscanf(line, "%159s %255s", k[n].name, dims), 2, "bad fixture line: %s", line);
        for (char *p = dims; *p && k[n].shape.ndim < CV_MAX_DIMS;) {
            k[n].shape.dim[k[n].shape.ndim++] = strtoll(p, &p, 10);
            if (*p == ',') p++;
        }
        n++;
    }
    fclose(f);
    *out = k;
    return n;
}

/* every fixture key exists with its shape, and the model has no other key */
static void compare_keys(const char *fixture, const char *model, const char *const *kv, int classes) {
    keyent *k;
    int n = read_keys(fixture, &k);
    cr_assert_gt(n, 10, "fixture %s is empty", fixture);
    run r;
    run_open(&r, model, kv, classes, CV_SHAPE(1, 3, 224, 224), 1);
    int missing = 0, unexpected = 0, wrong = 0;
    for (int i = 0; i < n; i++) {
        int j = cnt_param_find(r.g, k[i].name);
        if (j < 0) {
            cr_log_error("%s: missing key %s", model, k[i].name);
            missing++;
            continue;
        }
        cv_shape s = cnt_param_shape(r.g, j);
        char a[96], b[96];
        if (s.ndim != k[i].shape.ndim || memcmp(s.dim, k[i].shape.dim, sizeof(int64_t) * (size_t)s.ndim)) {
            cr_log_error("%s: %s has shape %s, torchvision %s", model, k[i].name, cnt_shape_str(&s, a, sizeof a),
                         cnt_shape_str(&k[i].shape, b, sizeof b));
            wrong++;
        }
    }
    for (int j = 0; j < cnt_param_count(r.g); j++) {
        int found = 0;
        for (int i = 0; i < n && !found; i++) found = strcmp(k[i].name, cnt_param_name(r.g, j)) == 0;
        if (!found) {
            cr_log_error("%s: unexpected key %s", model, cnt_param_name(r.g, j));
            unexpected++;
        }
    }
    cr_expect_eq(missing + unexpected + wrong, 0, "%s vs %s: %d missing, %d unexpected, %d with other shapes", model,
                 fixture, missing, unexpected, wrong);
    cr_expect_eq(cnt_param_count(r.g), n);
    run_close(&r);
    free(k);
}

Test(models, resnet18_matches_torchvision_keys) {
    compare_keys("resnet18.keys", "resnet", (const char *const[]){ "depth=18", NULL }, 1000);
}
Test(models, mobilenetv2_matches_torchvision_keys) {
    compare_keys("mobilenetv2.keys", "mobilenetv2", NULL, 1000);
}
Test(models, mobilenetv3_large_matches_torchvision_keys) {
    compare_keys("mobilenetv3_large.keys", "mobilenetv3", (const char *const[]){ "variant=large", NULL }, 1000);
}
Test(models, vit_b_16_matches_torchvision_keys) {
    compare_keys("vit_b_16.keys", "vit", (const char *const[]){ "variant=base", NULL }, 1000);
}

/* ---- shapes of every variant at the multi-scale sizes ------------------------------ */
typedef struct variant { const char *model, *kv[3]; } variant;
static const variant variants[] = {
    { "mobilenetv1", { "width_multiplier=0.25" } }, { "mobilenetv1", { "width_multiplier=1.0" } },
    { "mobilenetv2", { "width_multiplier=0.5" } },  { "mobilenetv2", { "width_multiplier=1.0" } },
    { "mobilenetv3", { "variant=small" } },         { "mobilenetv3", { "variant=large", "width_multiplier=0.75" } },
    { "mobilenetv3", { "variant=large", "style=cvnets" } },
    { "resnet", { "depth=18" } },                   { "resnet", { "depth=34" } },
    { "resnet", { "depth=50", "squeeze_excitation=true" } },
    { "resnet", { "depth=101" } },
    { "vit", { "variant=tiny" } },                  { "vit", { "variant=small", "positions=sinusoidal" } },
    { "vit", { "variant=base" } },
    { "mobilevit", { "variant=xx_small" } },        { "mobilevit", { "variant=x_small" } },
    { "mobilevit", { "variant=small" } },
    { "mobilevit_v2", { "width_multiplier=0.5" } }, { "mobilevit_v2", { "width_multiplier=1.0" } },
};

Test(models, every_variant_at_multi_scale_sizes) {
    static const int sizes[] = { 160, 192, 224, 256 };
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        run r;
        run_open(&r, variants[v].model, variants[v].kv, 10, CV_SHAPE(2, 3, sizes[0], sizes[0]), 1);
        int nparams = cnt_param_count(r.g);
        int64_t trainable = cnt_trainable(r.g);
        for (int si = 0; si < 4; si++)
            for (int training = 0; training < 2; training++) {
                int sz = sizes[si];
                cnt_graph_retrace(r.g, CV_SHAPE(2, 3, sz, sz), training);
                cv_tensor *y = mh_vtable(&r.m)->forward(r.m.self, cnt_ops(), r.g, cnt_ops()->input(r.g, 0));
                cr_assert_not_null(y, "%s %s at %d: %s", variants[v].model, variants[v].kv[0], sz, cnt_error(r.g));
                cv_shape s = shape_of(y);
                cr_expect(s.ndim == 2 && s.dim[0] == 2 && s.dim[1] == 10, "%s %s at %d: logits [%lld, %lld]",
                          variants[v].model, variants[v].kv[0], sz, (long long)s.dim[0], (long long)s.dim[1]);
                /* the same parameters serve every resolution and mode */
                cr_expect_eq(cnt_param_count(r.g), nparams, "%s at %d: parameter set changed", variants[v].model, sz);
                cr_expect_eq(cnt_trainable(r.g), trainable);
            }
        run_close(&r);
    }
}

Test(models, resnet_cifar_stem_on_fashion_mnist_sized_input) {
    run r;
    run_open(&r, "resnet", (const char *const[]){ "depth=18", "stem=cifar", NULL }, 10, CV_SHAPE(8, 1, 28, 28), 1);
    cv_shape s = shape_of(r.y);
    cr_expect(s.dim[0] == 8 && s.dim[1] == 10);
    cv_shape w = cnt_param_shape(r.g, cnt_param_find(r.g, "conv1.weight"));
    cr_expect(w.dim[0] == 64 && w.dim[1] == 1 && w.dim[2] == 3 && w.dim[3] == 3, "3x3 stem over 1 channel");
    cr_expect_eq(cnt_op_count(r.g, CV_OP_POOL2D), 0, "no max-pool in the CIFAR stem");
    cv_tensor *f[4];
    cnt_graph_retrace(r.g, CV_SHAPE(2, 1, 32, 32), 0);
    cr_assert_eq(mh_vtable(&r.m)->features(r.m.self, cnt_ops(), r.g, cnt_ops()->input(r.g, 0), f), CV_OK);
    /* stage strides 1, 2, 4, 8: the 4 and 8 slots hold stages 3 and 4 */
    cr_expect_eq(shape_of(f[0]).dim[2], 8);
    cr_expect_eq(shape_of(f[1]).dim[2], 4);
    cr_expect_null(f[2]);
    cr_expect_null(f[3]);
    run_close(&r);
}

/* ---- backbone features ------------------------------------------------------------- */
static void check_features(const char *model, const char *const *kv, int os) {
    run r;
    run_open(&r, model, kv, 10, CV_SHAPE(1, 3, 224, 224), 0);
    cv_tensor *f[4] = { NULL, NULL, NULL, NULL };
    cnt_graph_retrace(r.g, CV_SHAPE(1, 3, 224, 224), 0);
    cr_assert_eq(mh_vtable(&r.m)->features(r.m.self, cnt_ops(), r.g, cnt_ops()->input(r.g, 0), f), CV_OK, "%s: %s",
                 model, cnt_error(r.g));
    for (int i = 0; i < 4; i++) {
        int stride = 4 << i;
        if (stride > os) {
            cr_expect_null(f[i], "%s os %d: level %d should be NULL", model, os, stride);
            continue;
        }
        cr_assert_not_null(f[i], "%s os %d: no feature at stride %d", model, os, stride);
        cv_shape s = shape_of(f[i]);
        cr_expect(s.ndim == 4 && s.dim[2] == 224 / stride && s.dim[3] == 224 / stride && s.dim[1] > 0,
                  "%s os %d: stride-%d map is %lldx%lld", model, os, stride, (long long)s.dim[2], (long long)s.dim[3]);
    }
    run_close(&r);
}

Test(models, features_at_strides_4_8_16_32) {
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) check_features(variants[v].model, variants[v].kv, 32);
}

Test(models, output_stride_16_and_8_by_dilation) {
    static const char *const models[] = { "resnet", "mobilenetv1", "mobilenetv2", "mobilenetv3", "mobilevit",
                                          "mobilevit_v2" };
    for (int m = 0; m < 6; m++)
        for (int os = 8; os <= 16; os *= 2) {
            char opt[32];
            snprintf(opt, sizeof opt, "output_stride=%d", os);
            check_features(models[m], (const char *const[]){ opt, NULL }, os);
        }
    /* dilation keeps the parameters: same count as output stride 32 */
    run a, b;
    run_open(&a, "resnet", (const char *const[]){ "depth=50", NULL }, 10, CV_SHAPE(1, 3, 64, 64), 0);
    run_open(&b, "resnet", (const char *const[]){ "depth=50", "output_stride=8", NULL }, 10, CV_SHAPE(1, 3, 64, 64), 0);
    cr_expect_eq(cnt_trainable(a.g), cnt_trainable(b.g));
    cr_expect_gt(cnt_macs(b.g), 2 * cnt_macs(a.g), "dilated stages run at a higher resolution");
    run_close(&a);
    run_close(&b);
}

Test(models, vit_features_are_a_pyramid_around_the_patch_grid) {
    run r;
    run_open(&r, "vit", (const char *const[]){ "variant=tiny", NULL }, 10, CV_SHAPE(2, 3, 192, 192), 0);
    int nparams = cnt_param_count(r.g);
    cv_tensor *f[4];
    cnt_graph_retrace(r.g, CV_SHAPE(2, 3, 192, 192), 0);
    cr_assert_eq(mh_vtable(&r.m)->features(r.m.self, cnt_ops(), r.g, cnt_ops()->input(r.g, 0), f), CV_OK);
    for (int i = 0; i < 4; i++) {
        cr_assert_not_null(f[i]);
        cv_shape s = shape_of(f[i]);
        cr_expect(s.dim[0] == 2 && s.dim[1] == 192 && s.dim[2] == 192 / (4 << i) && s.dim[3] == 192 / (4 << i),
                  "level %d: [%lld, %lld, %lld, %lld]", i, (long long)s.dim[0], (long long)s.dim[1],
                  (long long)s.dim[2], (long long)s.dim[3]);
    }
    cr_expect_eq(cnt_param_count(r.g), nparams, "the pyramid adds no parameters");
    run_close(&r);
}

/* ---- tags, initialisers, options ---------------------------------------------------- */
static uint32_t tags_of(run *r, const char *name) {
    int i = cnt_param_find(r->g, name);
    cr_assert_geq(i, 0, "no parameter %s", name);
    return cnt_param_tags(r->g, i);
}
static int init_of(run *r, const char *name) { return cnt_param_init(r->g, cnt_param_find(r->g, name)).kind; }

Test(models, tags_and_initialisers) {
    run r;
    run_open(&r, "resnet", (const char *const[]){ "depth=18", NULL }, 10, CV_SHAPE(1, 3, 64, 64), 1);
    cr_expect_eq(tags_of(&r, "bn1.weight"), CV_TAG_NORM);
    cr_expect_eq(tags_of(&r, "bn1.bias"), CV_TAG_NORM);
    cr_expect_eq(tags_of(&r, "bn1.running_mean"), CV_TAG_BUFFER);
    cr_expect_eq(tags_of(&r, "bn1.running_var"), CV_TAG_BUFFER);
    cr_expect_eq(tags_of(&r, "fc.bias"), CV_TAG_BIAS);
    cr_expect_eq(tags_of(&r, "conv1.weight"), 0);
    cr_expect_eq(init_of(&r, "conv1.weight"), CV_INIT_KAIMING_NORMAL_FAN_OUT);
    cr_expect_eq(init_of(&r, "fc.weight"), CV_INIT_NORMAL);
    cr_expect_eq(init_of(&r, "layer1.0.bn2.weight"), CV_INIT_ONES);
    cr_expect_eq(init_of(&r, "bn1.running_var"), CV_INIT_ONES);
    run_close(&r);

    run_open(&r, "resnet", (const char *const[]){ "depth=50", "zero_init_last_bn=true", NULL }, 10,
             CV_SHAPE(1, 3, 64, 64), 1);
    cr_expect_eq(init_of(&r, "layer1.0.bn3.weight"), CV_INIT_ZEROS, "zero-init of the last BN of each block");
    cr_expect_eq(init_of(&r, "layer1.0.bn2.weight"), CV_INIT_ONES);
    run_close(&r);

    run_open(&r, "vit", (const char *const[]){ "variant=tiny", NULL }, 10, CV_SHAPE(1, 3, 224, 224), 1);
    cr_expect_eq(tags_of(&r, "class_token"), CV_TAG_NO_DECAY);
    cr_expect_eq(tags_of(&r, "encoder.pos_embedding"), CV_TAG_NO_DECAY);
    cr_expect_eq(tags_of(&r, "encoder.layers.encoder_layer_0.ln_1.weight"), CV_TAG_NORM);
    cr_expect_eq(init_of(&r, "heads.head.weight"), CV_INIT_TRUNC_NORMAL);
    run_close(&r);
}

Test(models, width_multiplier_uses_cvnets_rounding) {
    run r;
    run_open(&r, "mobilenetv1", (const char *const[]){ "width_multiplier=0.25", NULL }, 10, CV_SHAPE(1, 3, 64, 64), 0);
    /* make_divisible(int(32 * 0.25), 16) = 16, not the textbook 8 */
    cr_expect_eq(cnt_param_shape(r.g, cnt_param_find(r.g, "conv_1.0.weight")).dim[0], 16);
    run_close(&r);
    run_open(&r, "mobilenetv2", (const char *const[]){ "width_multiplier=0.25", NULL }, 10, CV_SHAPE(1, 3, 64, 64), 0);
    cr_expect_eq(cnt_param_shape(r.g, cnt_param_find(r.g, "features.0.0.weight")).dim[0], 32, "CVNets' 32-ch stem");
    cr_expect_eq(cnt_param_shape(r.g, cnt_param_find(r.g, "features.18.0.weight")).dim[0], 1280);
    cr_expect_eq(cnt_param_shape(r.g, cnt_param_find(r.g, "features.2.conv.2.weight")).dim[0], 8, "24 * 0.25 -> 8");
    run_close(&r);
}

Test(models, dropout_and_stochastic_depth_only_while_training) {
    run r;
    run_open(&r, "resnet", (const char *const[]){ "depth=18", "stochastic_depth=0.2", "dropout=0.3", NULL }, 10,
             CV_SHAPE(2, 3, 64, 64), 1);
    cr_expect_eq(cnt_op_count(r.g, CV_OP_DROP_PATH), 7, "every block but the first (rate 0)");
    cr_expect_eq(cnt_op_count(r.g, CV_OP_DROPOUT), 1);
    cnt_graph_retrace(r.g, CV_SHAPE(2, 3, 64, 64), 0);
    cr_assert_not_null(mh_vtable(&r.m)->forward(r.m.self, cnt_ops(), r.g, cnt_ops()->input(r.g, 0)));
    cr_expect_eq(cnt_op_count(r.g, CV_OP_DROP_PATH), 0);
    cr_expect_eq(cnt_op_count(r.g, CV_OP_DROPOUT), 0);
    run_close(&r);

    run_open(&r, "vit", (const char *const[]){ "variant=tiny", "stochastic_depth=0.1", NULL }, 10,
             CV_SHAPE(2, 3, 64, 64), 1);
    cr_expect_eq(cnt_op_count(r.g, CV_OP_DROP_PATH), 2 * 11, "two residuals in 11 of 12 blocks");
    run_close(&r);
}

Test(models, squeeze_excitation_adds_parameters) {
    run a, b;
    run_open(&a, "resnet", (const char *const[]){ "depth=18", NULL }, 10, CV_SHAPE(1, 3, 64, 64), 0);
    run_open(&b, "resnet", (const char *const[]){ "depth=18", "squeeze_excitation=true", NULL }, 10,
             CV_SHAPE(1, 3, 64, 64), 0);
    cr_expect_gt(cnt_trainable(b.g), cnt_trainable(a.g));
    cr_expect_geq(cnt_param_find(b.g, "layer1.0.se.fc1.weight"), 0);
    run_close(&a);
    run_close(&b);
}

Test(models, num_classes_defaults_to_the_dataset) {
    run r;
    run_open(&r, "mobilenetv2", NULL, 37, CV_SHAPE(1, 3, 96, 96), 0);
    cr_expect_eq(shape_of(r.y).dim[1], 37);
    run_close(&r);
    run_open(&r, "mobilenetv2", (const char *const[]){ "num_classes=5", NULL }, 37, CV_SHAPE(1, 3, 96, 96), 0);
    cr_expect_eq(shape_of(r.y).dim[1], 5, "the option wins over the dataset");
    run_close(&r);
}

static void expect_create_error(const char *model, const char *const *kv, const char *needle) {
    cv_error err = { sizeof err, 0, "" };
    mh_host *h = mh_load(model, &err);
    cr_assert_not_null(h, "%s", err.message);
    mh_model m;
    cr_expect_neq(mh_create(h, kv, 10, 3, &m, &err), CV_OK, "%s %s should fail", model, kv[0]);
    cr_expect(strstr(err.message, needle) != NULL, "message '%s' should name '%s'", err.message, needle);
    mh_free(h);
}

Test(models, bad_options_are_errors_with_a_message) {
    expect_create_error("resnet", (const char *const[]){ "depth=20", NULL }, "depth");
    expect_create_error("resnet", (const char *const[]){ "output_stride=12", NULL }, "output_stride");
    expect_create_error("mobilenetv2", (const char *const[]){ "output_stride=24", NULL }, "output_stride");
    expect_create_error("vit", (const char *const[]){ "patch_size=15", "image_size=224", NULL }, "patch_size");
    expect_create_error("mobilevit", (const char *const[]){ "heads=5", NULL }, "heads");
    expect_create_error("mobilenetv3", (const char *const[]){ "variant=medium", NULL }, "variant");
}

Test(models, bad_input_is_a_graph_error_not_a_crash) {
    cv_error err = { sizeof err, 0, "" };
    mh_host *h = mh_load("vit", &err);
    cr_assert_not_null(h, "%s", err.message);
    mh_model m;
    cr_assert_eq(mh_create(h, NULL, 10, 3, &m, &err), CV_OK, "%s", err.message);
    cv_graph *g = cnt_graph_new(CV_SHAPE(1, 3, 8, 8), 0); /* smaller than one 16-px patch */
    cr_expect_null(mh_vtable(&m)->forward(m.self, cnt_ops(), g, cnt_ops()->input(g, 0)));
    cr_expect(strstr(cnt_error(g), "conv2d") != NULL, "error names the op: %s", cnt_error(g));
    cnt_graph_free(g);
    mh_model_free(&m);
    mh_free(h);
}
