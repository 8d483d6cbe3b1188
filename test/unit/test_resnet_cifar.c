/* test/unit/test_resnet_cifar.c — the CIFAR-style ResNet-(6n+2) model plugin
 * traced through the shape-only op table: logits shapes at several input sizes,
 * parameter and multiply-add counts equal to the PyTorch peer's CifarResNet
 * (bench/torch_train_step.py, counted with torch 1.13: ResNet-20 on 1 channel
 * and 10 classes has 272,186 parameters and 31,021,952 multiply-adds at 28x28),
 * its state-dict names, tags, and the depth check. */
#include <criterion/criterion.h>
#include <string.h>

#include "support/count_ops.h"
#include "support/model_host.h"

typedef struct run {
    mh_host *h;
    mh_model m;
    cv_graph *g;
    cv_tensor *y;
} run;

static void run_open(run *r, const char *depth, int classes, cv_shape in, int training) {
    cv_error err = { sizeof err, 0, "" };
    const char *kv[] = { depth, NULL };
    memset(r, 0, sizeof *r);
    r->h = mh_load("resnet_cifar", &err);
    cr_assert_not_null(r->h, "%s", err.message);
    cr_assert_eq(mh_create(r->h, kv, classes, (int)in.dim[1], &r->m, &err), CV_OK, "%s", err.message);
    r->g = cnt_graph_new(in, training);
    r->y = mh_vtable(&r->m)->forward(r->m.self, cnt_ops(), r->g, cnt_ops()->input(r->g, 0));
    cr_assert_not_null(r->y, "forward failed: %s", cnt_error(r->g));
    cr_assert_str_empty(cnt_error(r->g));
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

/* numbers from torch: sum(p.numel() for p in CifarResNet(n, 1, 10).parameters())
 * and the peer's conv/linear MAC hooks at 28x28 */
Test(resnet_cifar, params_and_macs_match_the_torch_peer) {
    static const struct {
        const char *depth;
        int64_t params, macs;
    } want[] = {
        { "depth=20", 272186, 31021312 + 640 },
        { "depth=32", 466618, 52697344 + 640 },
        { "depth=110", 1730426, 193591552 + 640 },
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        run r;
        run_open(&r, want[i].depth, 10, CV_SHAPE(1, 1, 28, 28), 0);
        cr_expect_eq(cnt_trainable(r.g), want[i].params, "%s: %lld parameters, torch %lld", want[i].depth,
                     (long long)cnt_trainable(r.g), (long long)want[i].params);
        cr_expect_eq(cnt_macs(r.g), want[i].macs, "%s: %lld MACs, torch %lld", want[i].depth,
                     (long long)cnt_macs(r.g), (long long)want[i].macs);
        run_close(&r);
    }
}

Test(resnet_cifar, logits_shape_at_several_sizes_and_modes) {
    static const int sizes[] = { 28, 32, 33, 64, 96 };
    run r;
    run_open(&r, "depth=20", 10, CV_SHAPE(2, 1, 28, 28), 1);
    int nparams = cnt_param_count(r.g);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (int training = 0; training < 2; training++) {
            cnt_graph_retrace(r.g, CV_SHAPE(3, 1, sizes[i], sizes[i]), training);
            cv_tensor *y = mh_vtable(&r.m)->forward(r.m.self, cnt_ops(), r.g, cnt_ops()->input(r.g, 0));
            cr_assert_not_null(y, "at %d: %s", sizes[i], cnt_error(r.g));
            cv_shape s = shape_of(y);
            cr_expect_eq(s.ndim, 2);
            cr_expect_eq(s.dim[0], 3);
            cr_expect_eq(s.dim[1], 10);
            cr_expect_eq(cnt_param_count(r.g), nparams, "the parameter set must not change with the input size");
        }
    run_close(&r);
}

Test(resnet_cifar, three_channels_and_100_classes) {
    run r;
    run_open(&r, "depth=56", 100, CV_SHAPE(4, 3, 32, 32), 1);
    cv_shape s = shape_of(r.y);
    cr_expect_eq(s.dim[0], 4);
    cr_expect_eq(s.dim[1], 100);
    cv_shape w = cnt_param_shape(r.g, cnt_param_find(r.g, "conv.weight"));
    cr_expect_eq(w.dim[0], 16);
    cr_expect_eq(w.dim[1], 3);
    cr_expect_eq(cnt_param_find(r.g, "layers.26.conv2.weight") >= 0, 1, "n = 9 blocks per stage -> layers.0..26");
    cr_expect_eq(cnt_param_find(r.g, "layers.27.conv1.weight"), -1);
    run_close(&r);
}

/* the peer's state-dict names (without num_batches_tracked) and shapes */
Test(resnet_cifar, torch_names_and_shapes) {
    static const struct {
        const char *name;
        int ndim;
        int64_t d[4];
    } keys[] = {
        { "conv.weight", 4, { 16, 1, 3, 3 } },
        { "bn.weight", 1, { 16 } },
        { "bn.running_var", 1, { 16 } },
        { "layers.0.conv1.weight", 4, { 16, 16, 3, 3 } },
        { "layers.0.bn2.bias", 1, { 16 } },
        { "layers.3.conv1.weight", 4, { 32, 16, 3, 3 } },
        { "layers.3.short.0.weight", 4, { 32, 16, 1, 1 } },
        { "layers.3.short.1.running_mean", 1, { 32 } },
        { "layers.6.short.0.weight", 4, { 64, 32, 1, 1 } },
        { "layers.8.conv2.weight", 4, { 64, 64, 3, 3 } },
        { "fc.weight", 2, { 10, 64 } },
        { "fc.bias", 1, { 10 } },
    };
    run r;
    run_open(&r, "depth=20", 10, CV_SHAPE(2, 1, 28, 28), 1);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        int j = cnt_param_find(r.g, keys[i].name);
        cr_assert_geq(j, 0, "missing %s", keys[i].name);
        cv_shape s = cnt_param_shape(r.g, j);
        cr_expect_eq(s.ndim, keys[i].ndim, "%s", keys[i].name);
        for (int k = 0; k < keys[i].ndim; k++) cr_expect_eq(s.dim[k], keys[i].d[k], "%s dim %d", keys[i].name, k);
    }
    /* only the stage transitions have shortcuts */
    cr_expect_eq(cnt_param_find(r.g, "layers.0.short.0.weight"), -1);
    cr_expect_eq(cnt_param_find(r.g, "layers.4.short.0.weight"), -1);
    /* torch has 128 keys: 21 convs (19 + 2 shortcuts), 21 BNs x 5 (with
     * num_batches_tracked, which cvnets does not keep), fc weight and bias */
    cr_expect_eq(cnt_param_count(r.g), 21 + 21 * 4 + 2);
    run_close(&r);
}

Test(resnet_cifar, tags) {
    run r;
    run_open(&r, "depth=20", 10, CV_SHAPE(2, 1, 28, 28), 1);
    cr_expect_eq(cnt_param_tags(r.g, cnt_param_find(r.g, "layers.3.short.1.weight")), CV_TAG_NORM);
    cr_expect_eq(cnt_param_tags(r.g, cnt_param_find(r.g, "bn.running_mean")), CV_TAG_BUFFER);
    cr_expect_eq(cnt_param_tags(r.g, cnt_param_find(r.g, "fc.bias")), CV_TAG_BIAS);
    cr_expect_eq(cnt_param_tags(r.g, cnt_param_find(r.g, "layers.0.conv1.weight")), 0);
    run_close(&r);
}

Test(resnet_cifar, depth_not_6n_plus_2_is_refused_with_a_message) {
    cv_error err = { sizeof err, 0, "" };
    const char *kv[] = { "depth=21", NULL };
    mh_host *h = mh_load("resnet_cifar", &err);
    cr_assert_not_null(h, "%s", err.message);
    mh_model m;
    memset(&m, 0, sizeof m);
    cr_expect_neq(mh_create(h, kv, 10, 1, &m, &err), CV_OK);
    cr_expect_not_null(strstr(err.message, "6n+2"), "message: %s", err.message);
    cr_expect_not_null(strstr(err.message, "21"), "message: %s", err.message);
    mh_model_free(&m);
    mh_free(h);
}
