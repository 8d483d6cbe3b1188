/* plugins/datasets/synthetic.c — deterministic random images and labels for
 * tests and benchmarks.  Sample i is a pure function of (seed, i): its label is
 * drawn uniformly, and its pixels are a per-class colour plus uniform noise, so a
 * network can learn the task and a benchmark measures real work. */
#include "ds_common.h"

#define SY_NAME "synthetic"
#define SY_MAX_BYTES ((int64_t)1 << 30)

typedef struct synthetic {
    const cv_host *host;
    int64_t length;
    int num_classes, channels, height, width;
    uint64_t seed;
    char **names;
} synthetic;

static void sy_destroy(void *self) {
    synthetic *d = self;
    if (!d) return;
    for (int i = 0; d->names && i < d->num_classes; i++) d->host->free(d->names[i]);
    d->host->free(d->names);
    d->host->free(d);
}

static int sy_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    synthetic *d = h->alloc_array(1, sizeof *d);
    if (!d) return h->set_error(err, CV_ERR_NOMEM, SY_NAME ": out of memory");
    d->host = h;
    d->length = ds_int(a, "length", 1000);
    d->num_classes = (int)ds_int(a, "num_classes", 10);
    d->channels = (int)ds_int(a, "channels", 3);
    d->height = (int)ds_int(a, "height", 32);
    d->width = (int)ds_int(a, "width", 32);
    /* the validation split is a different draw of the same distribution */
    d->seed = (uint64_t)ds_int(a, "seed", 0) * 2 + (a->split == CV_SPLIT_VAL);
    if ((int64_t)d->height * d->width * d->channels > SY_MAX_BYTES) {
        int st = h->set_error(err, CV_ERR_INVALID, SY_NAME ": one image of %dx%dx%d is above 1 GiB", d->height,
                              d->width, d->channels);
        sy_destroy(d);
        return st;
    }
    d->names = h->alloc_array((size_t)d->num_classes, sizeof *d->names);
    for (int i = 0; d->names && i < d->num_classes; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "class_%d", i);
        if (!(d->names[i] = h->strdup(buf))) break;
    }
    if (!d->names || !d->names[d->num_classes - 1]) {
        sy_destroy(d);
        return h->set_error(err, CV_ERR_NOMEM, SY_NAME ": out of memory");
    }
    *self = d;
    return CV_OK;
}

static int64_t sy_length(void *self) { return ((synthetic *)self)->length; }
static int32_t sy_num_classes(void *self) { return ((synthetic *)self)->num_classes; }
static int32_t sy_channels(void *self) { return ((synthetic *)self)->channels; }
static const char *sy_class_name(void *self, int32_t label) {
    synthetic *d = self;
    return label >= 0 && label < d->num_classes ? d->names[label] : NULL;
}

static int sy_get(void *self, int64_t index, cv_sample *out, cv_error *err) {
    synthetic *d = self;
    const cv_host *h = d->host;
    if (index < 0 || index >= d->length)
        return h->set_error(err, CV_ERR_INVALID, SY_NAME ": index %lld outside [0, %lld)", (long long)index,
                            (long long)d->length);
    cv_rng rng, crng;
    uint64_t coords[2] = { (uint64_t)index, 1 };
    h->rng_init(&rng, d->seed, coords, 2);
    int label = (int)(h->rng_u64(&rng) % (uint64_t)d->num_classes);
    uint64_t ccoords[2] = { (uint64_t)label, 2 };
    h->rng_init(&crng, d->seed, ccoords, 2);
    int base[4096];
    int nc = d->channels < 4096 ? d->channels : 4096;
    for (int c = 0; c < nc; c++) base[c] = 32 + (int)(h->rng_u64(&crng) % 192);
    size_t n = (size_t)d->height * d->width * d->channels;
    uint8_t *img = h->alloc(n);
    if (!img) return h->set_error(err, CV_ERR_NOMEM, SY_NAME ": out of memory");
    /* the noise comes from a local xorshift seeded by the sample's stream: one
     * host call per image instead of one per byte (benchmarks feed on this) */
    uint64_t x = h->rng_u64(&rng) | 1, r = 0;
    int left = 0;
    for (size_t p = 0; p < n; p += (size_t)d->channels)
        for (int c = 0; c < d->channels; c++) {
            if (left == 0) {
                x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
                r = x * 0x2545F4914F6CDD1Dull;
                left = 8;
            }
            int v = base[c < 4096 ? c : 4095] + (int)(r & 63) - 32;
            r >>= 8, left--;
            img[p + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    out->label = label;
    out->image = (cv_image){ d->height, d->width, d->channels, CV_U8, img };
    out->path = NULL;
    return CV_OK;
}

static const cv_dataset_vtable sy_vtable = {
    .struct_size = sizeof(cv_dataset_vtable),
    .length = sy_length,
    .num_classes = sy_num_classes,
    .channels = sy_channels,
    .class_name = sy_class_name,
    .get = sy_get,
};

static const cv_option_desc sy_options[] = {
    CV_OPT_INT_RANGE("length", "1000", 1, 1e12, "number of samples"),
    CV_OPT_INT_RANGE("num_classes", "10", 1, 1000000, "number of classes"),
    CV_OPT_INT_RANGE("channels", "3", 1, 4096, "image channels"),
    CV_OPT_INT_RANGE("height", "32", 1, 65536, "image height"),
    CV_OPT_INT_RANGE("width", "32", 1, 65536, "image width"),
    CV_OPT_INT_RANGE("seed", "0", 0, 1e15, "data seed (independent of [run] seed)"),
    CV_OPT_INT_RANGE("workers", "2", 0, 256, "loader worker threads"),
    CV_OPT_END,
};

static const cv_component_desc sy_desc = {
    .struct_size = sizeof(cv_component_desc),
    .abi_major = CV_ABI_MAJOR,
    .abi_minor = CV_ABI_MINOR,
    .kind = CV_KIND_DATASET,
    .name = SY_NAME,
    .task = "classification",
    .summary = "deterministic random images and labels (benchmarks, tests)",
    .options = sy_options,
    .create = sy_create,
    .destroy = sy_destroy,
    .vtable = &sy_vtable,
};

CV_PLUGIN_ENTRY { return host->register_component(host->host_ctx, &sy_desc, err); }
