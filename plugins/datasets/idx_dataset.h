/* plugins/datasets/idx_dataset.h — MNIST-style datasets stored as IDX files
 * (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-* for the
 * validation split).  fashion_mnist.c and mnist.c define IDX_DS_NAME,
 * IDX_DS_ROOT, IDX_DS_HOWTO and IDX_DS_CLASSES, then include this file.  The
 * whole split is decoded at create (47 MB for 60 000 28x28 images), so get() is
 * a copy and is safe from any number of threads. */
#ifndef CV_IDX_DATASET_H
#define CV_IDX_DATASET_H

#include "ds_common.h"
#include "idx.h"

#define IDX_MAX_FILE ((size_t)1 << 31) /* 2 GiB compressed or decompressed */

typedef struct idx_ds {
    const cv_host *host;
    int64_t n;
    int h, w;
    uint8_t *images; /* n*h*w */
    uint8_t *labels; /* n */
    char *images_path;
} idx_ds;

static void idx_ds_destroy(void *self) {
    idx_ds *d = self;
    if (!d) return;
    d->host->free(d->images);
    d->host->free(d->labels);
    d->host->free(d->images_path);
    d->host->free(d);
}

/* Reads root/<stem>[.gz] (the .gz first), gunzips, checks the IDX header. */
static int idx_ds_load(const cv_host *h, const char *root, const char *stem, int want_dims, char **path_out,
                       uint8_t **data, idx_header *hd, cv_error *err) {
    char gzname[128];
    snprintf(gzname, sizeof gzname, "%s.gz", stem);
    char *path = ds_join(h, root, gzname);
    if (path && !ds_is_file(path)) {
        h->free(path);
        path = ds_join(h, root, stem);
    }
    if (!path) return h->set_error(err, CV_ERR_NOMEM, IDX_DS_NAME ": out of memory");
    if (!ds_is_file(path)) {
        int st = h->set_error(err, CV_ERR_IO, IDX_DS_NAME ": %s/%s.gz not found (nor %s without .gz); " IDX_DS_HOWTO,
                              root, stem, stem);
        h->free(path);
        return st;
    }
    uint8_t *raw;
    size_t rawn;
    int st = ds_read_file(h, IDX_DS_NAME, path, IDX_MAX_FILE, &raw, &rawn, err);
    if (st) {
        h->free(path);
        return st;
    }
    char why[256];
    uint8_t *buf = raw;
    size_t n = rawn;
    if (rawn >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        if (ds_gunzip(raw, rawn, IDX_MAX_FILE, h->alloc, h->free, &buf, &n, why, sizeof why)) {
            h->free(raw);
            st = h->set_error(err, CV_ERR_IO, IDX_DS_NAME ": %s: %s", path, why);
            h->free(path);
            return st;
        }
        h->free(raw);
    }
    if (idx_parse(buf, n, want_dims, hd, why, sizeof why)) {
        h->free(buf);
        st = h->set_error(err, CV_ERR_IO, IDX_DS_NAME ": %s: %s", path, why);
        h->free(path);
        return st;
    }
    *data = buf;
    *path_out = path;
    return CV_OK;
}

static int idx_ds_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    char *root = ds_root(a, ds_str(a, "root", IDX_DS_ROOT));
    if (!root) return h->set_error(err, CV_ERR_NOMEM, IDX_DS_NAME ": out of memory");
    if (!ds_is_dir(root)) {
        int st = h->set_error(err, CV_ERR_IO, IDX_DS_NAME ": dataset folder %s does not exist; " IDX_DS_HOWTO, root);
        h->free(root);
        return st;
    }
    const char *prefix = a->split == CV_SPLIT_VAL ? "t10k" : "train";
    char stem_i[64], stem_l[64];
    snprintf(stem_i, sizeof stem_i, "%s-images-idx3-ubyte", prefix);
    snprintf(stem_l, sizeof stem_l, "%s-labels-idx1-ubyte", prefix);
    idx_ds *d = h->alloc_array(1, sizeof *d);
    if (!d) {
        h->free(root);
        return h->set_error(err, CV_ERR_NOMEM, IDX_DS_NAME ": out of memory");
    }
    d->host = h;
    idx_header hi, hl;
    uint8_t *ibuf = NULL, *lbuf = NULL;
    char *lpath = NULL;
    int st = idx_ds_load(h, root, stem_i, 3, &d->images_path, &ibuf, &hi, err);
    if (!st) st = idx_ds_load(h, root, stem_l, 1, &lpath, &lbuf, &hl, err);
    if (!st && hi.dims[0] != hl.dims[0])
        st = h->set_error(err, CV_ERR_IO, IDX_DS_NAME ": %s has %u images but %s has %u labels", d->images_path,
                          hi.dims[0], lpath, hl.dims[0]);
    if (!st && (hi.dims[1] > 65536 || hi.dims[2] > 65536))
        st = h->set_error(err, CV_ERR_IO, IDX_DS_NAME ": %s: images of %ux%u are larger than 65536x65536",
                          d->images_path, hi.dims[1], hi.dims[2]);
    for (uint32_t i = 0; !st && i < hl.dims[0]; i++)
        if (lbuf[hl.offset + i] >= 10)
            st = h->set_error(err, CV_ERR_IO, IDX_DS_NAME ": %s: label %u of sample %u is outside [0, 10)", lpath,
                              lbuf[hl.offset + i], i);
    if (!st) {
        d->n = hi.dims[0];
        d->h = (int)hi.dims[1];
        d->w = (int)hi.dims[2];
        d->images = h->alloc(hi.count);
        d->labels = h->alloc(hl.count);
        if (!d->images || !d->labels) st = h->set_error(err, CV_ERR_NOMEM, IDX_DS_NAME ": out of memory");
    }
    if (!st) {
        memcpy(d->images, ibuf + hi.offset, hi.count);
        memcpy(d->labels, lbuf + hl.offset, hl.count);
    }
    h->free(ibuf);
    h->free(lbuf);
    h->free(lpath);
    h->free(root);
    if (st) {
        idx_ds_destroy(d);
        return st;
    }
    *self = d;
    return CV_OK;
}

static const char *const idx_ds_classes[10] = IDX_DS_CLASSES;

static int64_t idx_ds_length(void *self) { return ((idx_ds *)self)->n; }
static int32_t idx_ds_num_classes(void *self) { (void)self; return 10; }
static int32_t idx_ds_channels(void *self) { (void)self; return 1; }
static const char *idx_ds_class_name(void *self, int32_t label) {
    (void)self;
    return label >= 0 && label < 10 ? idx_ds_classes[label] : NULL;
}

static int idx_ds_get(void *self, int64_t index, cv_sample *out, cv_error *err) {
    idx_ds *d = self;
    const cv_host *h = d->host;
    if (index < 0 || index >= d->n)
        return h->set_error(err, CV_ERR_INVALID, IDX_DS_NAME ": index %lld outside [0, %lld)", (long long)index,
                            (long long)d->n);
    size_t px = (size_t)d->h * d->w;
    uint8_t *img = h->alloc(px);
    if (!img) return h->set_error(err, CV_ERR_NOMEM, IDX_DS_NAME ": out of memory");
    memcpy(img, d->images + (size_t)index * px, px);
    out->label = d->labels[index];
    out->image = (cv_image){ d->h, d->w, 1, CV_U8, img };
    out->path = d->images_path;
    return CV_OK;
}

static const cv_dataset_vtable idx_ds_vtable = {
    .struct_size = sizeof(cv_dataset_vtable),
    .length = idx_ds_length,
    .num_classes = idx_ds_num_classes,
    .channels = idx_ds_channels,
    .class_name = idx_ds_class_name,
    .get = idx_ds_get,
};

static const cv_option_desc idx_ds_options[] = {
    CV_OPT_PATH_("root", IDX_DS_ROOT, "folder with the four IDX files (.gz or plain)"),
    CV_OPT_INT_RANGE("workers", "2", 0, 256, "loader worker threads"),
    CV_OPT_END,
};

static const cv_component_desc idx_ds_desc = {
    .struct_size = sizeof(cv_component_desc),
    .abi_major = CV_ABI_MAJOR,
    .abi_minor = CV_ABI_MINOR,
    .kind = CV_KIND_DATASET,
    .name = IDX_DS_NAME,
    .task = "classification",
    .summary = IDX_DS_SUMMARY,
    .options = idx_ds_options,
    .create = idx_ds_create,
    .destroy = idx_ds_destroy,
    .vtable = &idx_ds_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &idx_ds_desc, err); }

#endif
