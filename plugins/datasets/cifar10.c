/* plugins/datasets/cifar10.c — CIFAR-10 in its binary version: data_batch_1..5.bin
 * (train) or test_batch.bin (val), records of 1 label byte + 3072 bytes of
 * 32x32 RGB in planar (CHW) order; class names from batches.meta.txt.  root may
 * be the folder of the .bin files or its parent holding cifar-10-batches-bin/.
 * Everything is read and checked at create; get() converts one record to HWC. */
#include "ds_common.h"

#define CF_NAME "cifar10"
#define CF_REC 3073
#define CF_HOWTO "download cifar-10-binary.tar.gz from the CIFAR-10 page, unpack it and set [dataset] root to the " \
                 "cifar-10-batches-bin folder"

typedef struct cifar10 {
    const cv_host *host;
    int64_t n;
    uint8_t *records; /* n * CF_REC */
    char *paths[5];
    int npaths;
    int64_t first[6]; /* first record of each file, for error messages */
    char *names[10];
} cifar10;

static const char *const cf_default_names[10] = { "airplane", "automobile", "bird", "cat", "deer",
                                                  "dog", "frog", "horse", "ship", "truck" };

static void cf_destroy(void *self) {
    cifar10 *d = self;
    if (!d) return;
    for (int i = 0; i < 5; i++) d->host->free(d->paths[i]);
    for (int i = 0; i < 10; i++) d->host->free(d->names[i]);
    d->host->free(d->records);
    d->host->free(d);
}

/* batches.meta.txt: one class name per line (blank lines ignored). */
static int cf_read_names(cifar10 *d, const char *dir, cv_error *err) {
    const cv_host *h = d->host;
    char *path = ds_join(h, dir, "batches.meta.txt");
    if (!path) return h->set_error(err, CV_ERR_NOMEM, CF_NAME ": out of memory");
    uint8_t *buf = NULL;
    size_t n = 0;
    int st = CV_OK, k = 0;
    if (ds_is_file(path)) {
        cv_error e2 = { sizeof e2, 0, { 0 } };
        if (ds_read_file(h, CF_NAME, path, 1 << 20, &buf, &n, &e2) == CV_OK) {
            size_t i = 0;
            while (i < n && k < 10) {
                size_t j = i;
                while (j < n && buf[j] != '\n') j++;
                size_t e = j;
                while (e > i && (buf[e - 1] == '\r' || buf[e - 1] == ' ' || buf[e - 1] == '\t')) e--;
                if (e > i) {
                    char *s = h->alloc(e - i + 1);
                    if (!s) { st = h->set_error(err, CV_ERR_NOMEM, CF_NAME ": out of memory"); break; }
                    memcpy(s, buf + i, e - i);
                    s[e - i] = 0;
                    d->names[k++] = s;
                }
                i = j + 1;
            }
        }
        h->free(buf);
    }
    for (; !st && k < 10; k++) /* missing or short meta file: the standard names */
        if (!(d->names[k] = h->strdup(cf_default_names[k]))) st = h->set_error(err, CV_ERR_NOMEM, CF_NAME ": out of memory");
    h->free(path);
    return st;
}

static int cf_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    char *root = ds_root(a, ds_str(a, "root", "/usr/share/datasets/cifar10"));
    if (!root) return h->set_error(err, CV_ERR_NOMEM, CF_NAME ": out of memory");
    char *sub = ds_join(h, root, "cifar-10-batches-bin");
    if (sub && ds_is_dir(sub)) {
        h->free(root);
        root = sub;
    } else {
        h->free(sub);
    }
    if (!ds_is_dir(root)) {
        int st = h->set_error(err, CV_ERR_IO, CF_NAME ": dataset folder %s does not exist; " CF_HOWTO, root);
        h->free(root);
        return st;
    }
    cifar10 *d = h->alloc_array(1, sizeof *d);
    if (!d) {
        h->free(root);
        return h->set_error(err, CV_ERR_NOMEM, CF_NAME ": out of memory");
    }
    d->host = h;
    static const char *const train_files[] = { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                               "data_batch_4.bin", "data_batch_5.bin" };
    static const char *const val_files[] = { "test_batch.bin" };
    const char *const *files = a->split == CV_SPLIT_VAL ? val_files : train_files;
    d->npaths = a->split == CV_SPLIT_VAL ? 1 : 5;
    uint8_t *bufs[5] = { 0 };
    size_t sizes[5] = { 0 };
    int st = CV_OK;
    for (int i = 0; !st && i < d->npaths; i++) {
        d->paths[i] = ds_join(h, root, files[i]);
        if (!d->paths[i]) st = h->set_error(err, CV_ERR_NOMEM, CF_NAME ": out of memory");
        else if (!ds_is_file(d->paths[i]))
            st = h->set_error(err, CV_ERR_IO, CF_NAME ": %s not found; " CF_HOWTO, d->paths[i]);
        else st = ds_read_file(h, CF_NAME, d->paths[i], (size_t)1 << 30, &bufs[i], &sizes[i], err);
        if (!st && (sizes[i] == 0 || sizes[i] % CF_REC))
            st = h->set_error(err, CV_ERR_IO,
                              CF_NAME ": %s is truncated or not a CIFAR-10 binary batch: %zu bytes is not a "
                                      "positive multiple of the %d-byte record", d->paths[i], sizes[i], CF_REC);
        if (!st) {
            d->first[i] = d->n;
            d->n += (int64_t)(sizes[i] / CF_REC);
        }
    }
    d->first[d->npaths] = d->n;
    if (!st && !(d->records = h->alloc((size_t)d->n * CF_REC)))
        st = h->set_error(err, CV_ERR_NOMEM, CF_NAME ": out of memory for %lld records", (long long)d->n);
    for (int i = 0, off = 0; !st && i < d->npaths; i++) {
        memcpy(d->records + (size_t)off * CF_REC, bufs[i], sizes[i]);
        for (size_t r = 0; !st && r < sizes[i] / CF_REC; r++)
            if (bufs[i][r * CF_REC] >= 10)
                st = h->set_error(err, CV_ERR_IO, CF_NAME ": %s: record %zu has label %u, outside [0, 10)",
                                  d->paths[i], r, bufs[i][r * CF_REC]);
        off += (int)(sizes[i] / CF_REC);
    }
    for (int i = 0; i < 5; i++) h->free(bufs[i]);
    if (!st) st = cf_read_names(d, root, err);
    h->free(root);
    if (st) {
        cf_destroy(d);
        return st;
    }
    *self = d;
    return CV_OK;
}

static int64_t cf_length(void *self) { return ((cifar10 *)self)->n; }
static int32_t cf_num_classes(void *self) { (void)self; return 10; }
static int32_t cf_channels(void *self) { (void)self; return 3; }
static const char *cf_class_name(void *self, int32_t label) {
    return label >= 0 && label < 10 ? ((cifar10 *)self)->names[label] : NULL;
}

static int cf_get(void *self, int64_t index, cv_sample *out, cv_error *err) {
    cifar10 *d = self;
    const cv_host *h = d->host;
    if (index < 0 || index >= d->n)
        return h->set_error(err, CV_ERR_INVALID, CF_NAME ": index %lld outside [0, %lld)", (long long)index,
                            (long long)d->n);
    const uint8_t *rec = d->records + (size_t)index * CF_REC;
    uint8_t *img = h->alloc(3072);
    if (!img) return h->set_error(err, CV_ERR_NOMEM, CF_NAME ": out of memory");
    for (int p = 0; p < 1024; p++) /* planar RRR..GGG..BBB to interleaved RGB */
        for (int c = 0; c < 3; c++) img[p * 3 + c] = rec[1 + c * 1024 + p];
    int f = 0;
    while (f + 1 < d->npaths && index >= d->first[f + 1]) f++;
    out->label = rec[0];
    out->image = (cv_image){ 32, 32, 3, CV_U8, img };
    out->path = d->paths[f];
    return CV_OK;
}

static const cv_dataset_vtable cf_vtable = {
    .struct_size = sizeof(cv_dataset_vtable),
    .length = cf_length,
    .num_classes = cf_num_classes,
    .channels = cf_channels,
    .class_name = cf_class_name,
    .get = cf_get,
};

static const cv_option_desc cf_options[] = {
    CV_OPT_PATH_("root", "/usr/share/datasets/cifar10", "folder of data_batch_*.bin / test_batch.bin (or its parent)"),
    CV_OPT_INT_RANGE("workers", "2", 0, 256, "loader worker threads"),
    CV_OPT_END,
};

static const cv_component_desc cf_desc = {
    .struct_size = sizeof(cv_component_desc),
    .abi_major = CV_ABI_MAJOR,
    .abi_minor = CV_ABI_MINOR,
    .kind = CV_KIND_DATASET,
    .name = CF_NAME,
    .task = "classification",
    .summary = "CIFAR-10 binary batches (50000 train / 10000 test, 32x32x3, 10 classes)",
    .options = cf_options,
    .create = cf_create,
    .destroy = cf_destroy,
    .vtable = &cf_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &cf_desc, err); }
