/* plugins/datasets/image_folder.c — ImageNet-style folders: root/train/<class>/
 * *.jpg|*.jpeg|*.png and root/val/<class>/...  Classes are the sub-folders of the
 * training folder, sorted by name (so train and val agree on label numbers);
 * files are sorted within a class.  Images decode on get() with stb_image,
 * bounded before allocation (image_decode.h).  At create the class index is
 * written to <out_dir>/classes.txt ("label<TAB>name" per line) when the run
 * has an output folder. */
#include "ds_common.h"
#include "image_decode.h"

#include <dirent.h>
#include <strings.h>

#define IF_NAME "image_folder"
#define IF_MAX_FILE ((size_t)256 << 20)

typedef struct image_folder {
    const cv_host *host;
    int channels;
    int64_t max_pixels;
    ds_strings classes; /* names */
    ds_strings files;   /* full paths */
    int32_t *labels;    /* per file */
} image_folder;

static void if_destroy(void *self) {
    image_folder *d = self;
    if (!d) return;
    ds_strings_free(d->host, &d->classes);
    ds_strings_free(d->host, &d->files);
    d->host->free(d->labels);
    d->host->free(d);
}

static int if_is_image(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

/* Sorted names of the entries of dir that are folders (want_dirs) or image
 * files; hidden entries are skipped. */
static int if_list(const cv_host *h, const char *dir, int want_dirs, ds_strings *out, cv_error *err) {
    DIR *dp = opendir(dir);
    if (!dp) return h->set_error(err, CV_ERR_IO, IF_NAME ": cannot open folder %s: %s", dir, strerror(errno));
    struct dirent *e;
    int st = CV_OK;
    while (!st && (e = readdir(dp))) {
        if (e->d_name[0] == '.') continue;
        char *full = ds_join(h, dir, e->d_name);
        if (!full) {
            st = h->set_error(err, CV_ERR_NOMEM, IF_NAME ": out of memory listing %s", dir);
            break;
        }
        int keep = want_dirs ? ds_is_dir(full) : (if_is_image(e->d_name) && ds_is_file(full));
        h->free(full);
        if (keep && ds_strings_push(h, out, h->strdup(e->d_name)))
            st = h->set_error(err, CV_ERR_NOMEM, IF_NAME ": out of memory listing %s", dir);
    }
    closedir(dp);
    if (!st && out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, ds_cmp_str);
    return st;
}

static int if_write_index(const image_folder *d, const char *out_dir, cv_error *err) {
    const cv_host *h = d->host;
    char *path = ds_join(h, out_dir, "classes.txt");
    if (!path) return h->set_error(err, CV_ERR_NOMEM, IF_NAME ": out of memory");
    FILE *f = fopen(path, "w");
    int st = CV_OK;
    if (!f) {
        st = h->set_error(err, CV_ERR_IO, IF_NAME ": cannot write the class index %s: %s", path, strerror(errno));
    } else {
        for (int64_t i = 0; i < d->classes.n; i++) fprintf(f, "%lld\t%s\n", (long long)i, d->classes.v[i]);
        if (fclose(f) != 0)
            st = h->set_error(err, CV_ERR_IO, IF_NAME ": cannot write the class index %s", path);
    }
    h->free(path);
    return st;
}

static int if_create(const cv_create_args *a, void **self, cv_error *err) {
    const cv_host *h = a->host;
    const char *root_opt = ds_str(a, "root", NULL);
    if (!root_opt || !root_opt[0])
        return h->set_error(err, CV_ERR_INVALID,
                            IF_NAME ": [dataset] root is not set; point it at a folder with train/<class>/*.jpg "
                                    "and val/<class>/*.jpg");
    image_folder *d = h->alloc_array(1, sizeof *d);
    if (!d) return h->set_error(err, CV_ERR_NOMEM, IF_NAME ": out of memory");
    d->host = h;
    d->channels = (int)ds_int(a, "channels", 3);
    d->max_pixels = ds_int(a, "max_pixels", (int64_t)1 << 26);
    const char *train_sub = ds_str(a, "train_dir", "train"), *val_sub = ds_str(a, "val_dir", "val");
    char *root = ds_root(a, root_opt);
    char *train = root ? ds_join(h, root, train_sub) : NULL;
    char *split = root ? ds_join(h, root, a->split == CV_SPLIT_VAL ? val_sub : train_sub) : NULL;
    int st = CV_OK;
    if (!root || !train || !split)
        st = h->set_error(err, CV_ERR_NOMEM, IF_NAME ": out of memory");
    else if (!ds_is_dir(root))
        st = h->set_error(err, CV_ERR_IO,
                          IF_NAME ": dataset folder %s does not exist; it must hold %s/<class>/*.jpg|png and "
                                  "%s/<class>/... (ImageNet layout)", root, train_sub, val_sub);
    else if (!ds_is_dir(split))
        st = h->set_error(err, CV_ERR_IO, IF_NAME ": %s does not exist: %s needs one folder per class in it",
                          split, root);
    /* labels come from the training folder so both splits number classes alike */
    if (!st) st = if_list(h, ds_is_dir(train) ? train : split, 1, &d->classes, err);
    if (!st && d->classes.n == 0)
        st = h->set_error(err, CV_ERR_IO, IF_NAME ": %s has no class folders", ds_is_dir(train) ? train : split);
    for (int64_t c = 0; !st && c < d->classes.n; c++) {
        char *cdir = ds_join(h, split, d->classes.v[c]);
        ds_strings names = { 0 };
        if (!cdir) st = h->set_error(err, CV_ERR_NOMEM, IF_NAME ": out of memory");
        else if (!ds_is_dir(cdir))
            st = h->set_error(err, CV_ERR_IO, IF_NAME ": class folder %s is missing (class %s is in %s)", cdir,
                              d->classes.v[c], train);
        if (!st) st = if_list(h, cdir, 0, &names, err);
        if (!st && names.n == 0)
            st = h->set_error(err, CV_ERR_IO, IF_NAME ": class folder %s is empty (no .jpg, .jpeg or .png files)",
                              cdir);
        int64_t first = d->files.n;
        for (int64_t i = 0; !st && i < names.n; i++)
            if (ds_strings_push(h, &d->files, ds_join(h, cdir, names.v[i])))
                st = h->set_error(err, CV_ERR_NOMEM, IF_NAME ": out of memory");
        if (!st && c < INT32_MAX) {
            int32_t *lab = h->alloc_array((size_t)d->files.cap, sizeof *lab);
            if (!lab) st = h->set_error(err, CV_ERR_NOMEM, IF_NAME ": out of memory");
            else {
                if (first) memcpy(lab, d->labels, (size_t)first * sizeof *lab);
                for (int64_t i = first; i < d->files.n; i++) lab[i] = (int32_t)c;
                h->free(d->labels);
                d->labels = lab;
            }
        }
        ds_strings_free(h, &names);
        h->free(cdir);
    }
    if (!st && a->out_dir && a->out_dir[0] && a->split == CV_SPLIT_TRAIN) st = if_write_index(d, a->out_dir, err);
    h->free(root);
    h->free(train);
    h->free(split);
    if (st) {
        if_destroy(d);
        return st;
    }
    *self = d;
    return CV_OK;
}

static int64_t if_length(void *self) { return ((image_folder *)self)->files.n; }
static int32_t if_num_classes(void *self) { return (int32_t)((image_folder *)self)->classes.n; }
static int32_t if_channels(void *self) { return ((image_folder *)self)->channels; }
static const char *if_class_name(void *self, int32_t label) {
    image_folder *d = self;
    return label >= 0 && label < d->classes.n ? d->classes.v[label] : NULL;
}

static int if_get(void *self, int64_t index, cv_sample *out, cv_error *err) {
    image_folder *d = self;
    const cv_host *h = d->host;
    if (index < 0 || index >= d->files.n)
        return h->set_error(err, CV_ERR_INVALID, IF_NAME ": index %lld outside [0, %lld)", (long long)index,
                            (long long)d->files.n);
    const char *path = d->files.v[index];
    out->path = path;
    uint8_t *bytes;
    size_t n;
    int st = ds_read_file(h, IF_NAME, path, IF_MAX_FILE, &bytes, &n, err);
    if (st) return st;
    uint8_t *px;
    int w, hh;
    char why[256];
    int bad = img_decode(bytes, n, d->channels, d->max_pixels, h->alloc, &px, &w, &hh, why, sizeof why);
    h->free(bytes);
    if (bad) return h->set_error(err, CV_ERR_IO, IF_NAME ": %s: %s", path, why);
    out->label = d->labels[index];
    out->image = (cv_image){ hh, w, d->channels, CV_U8, px };
    return CV_OK;
}

static const cv_dataset_vtable if_vtable = {
    .struct_size = sizeof(cv_dataset_vtable),
    .length = if_length,
    .num_classes = if_num_classes,
    .channels = if_channels,
    .class_name = if_class_name,
    .get = if_get,
};

static const cv_option_desc if_options[] = {
    CV_OPT_PATH_("root", NULL, "folder holding train/<class>/*.jpg|png and val/<class>/..."),
    CV_OPT_INT_RANGE("channels", "3", 1, 3, "1 = grey, 3 = RGB (images are converted)"),
    CV_OPT_STRING_("train_dir", "train", "training sub-folder of root"),
    CV_OPT_STRING_("val_dir", "val", "validation sub-folder of root"),
    CV_OPT_INT_RANGE("max_pixels", "67108864", 1, 1073741824, "images with more pixels are rejected as bad"),
    CV_OPT_INT_RANGE("workers", "2", 0, 256, "loader worker threads"),
    CV_OPT_END,
};

static const cv_component_desc if_desc = {
    .struct_size = sizeof(cv_component_desc),
    .abi_major = CV_ABI_MAJOR,
    .abi_minor = CV_ABI_MINOR,
    .kind = CV_KIND_DATASET,
    .name = IF_NAME,
    .task = "classification",
    .summary = "ImageNet-layout folders of JPEG/PNG images, one folder per class",
    .options = if_options,
    .create = if_create,
    .destroy = if_destroy,
    .vtable = &if_vtable,
};

CV_PLUGIN_ENTRY {
    return host->register_component(host->host_ctx, &if_desc, err);
}
