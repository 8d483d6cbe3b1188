/* sdk/lib/image_ops.c — cv_image basics for the image primitives: validation,
 * allocation, names of the interpolation and padding modes.  The operations live
 * in image_ops_resample.c, image_ops_affine.c, image_ops_color.c and
 * image_ops_augment.c. */
#include <cvnets/image_ops.h>

#include <string.h>

const char *const cv_interp_names[] = { "nearest", "bilinear", "bicubic", NULL };
const char *const cv_pad_mode_names[] = { "constant", "edge", "reflect", "symmetric", NULL };

static int index_of(const char *const *names, const char *name) {
    for (int i = 0; name && names[i]; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}
int cv_interp_from_name(const char *name) { return index_of(cv_interp_names, name); }
int cv_pad_mode_from_name(const char *name) { return index_of(cv_pad_mode_names, name); }

size_t cv_image_elems(const cv_image *im) {
    if (im->h <= 0 || im->w <= 0 || im->c <= 0) return 0;
    return (size_t)im->h * (size_t)im->w * (size_t)im->c;
}

size_t cv_image_bytes(const cv_image *im) {
    return cv_image_elems(im) * (im->dtype == CV_F32 ? sizeof(float) : 1);
}

double cv_image_bound(const cv_image *im) { return im->dtype == CV_F32 ? 1.0 : 255.0; }

static int check_dims(const cv_host *host, int h, int w, int c, int dtype, const char *who, cv_error *err) {
    if (h <= 0 || w <= 0 || h > CV_IMAGE_MAX_SIDE || w > CV_IMAGE_MAX_SIDE)
        return host->set_error(err, CV_ERR_INVALID, "%s: image size %dx%d is outside 1..%d", who, h, w,
                               CV_IMAGE_MAX_SIDE);
    if (c < 1 || c > CV_IMAGE_MAX_CHANNELS)
        return host->set_error(err, CV_ERR_INVALID, "%s: image has %d channels (expected 1..%d)", who, c,
                               CV_IMAGE_MAX_CHANNELS);
    if (dtype != CV_U8 && dtype != CV_F32)
        return host->set_error(err, CV_ERR_INVALID, "%s: image dtype %d is neither u8 nor f32", who, dtype);
    return CV_OK;
}

int cv_image_check(const cv_host *host, const cv_image *im, const char *who, cv_error *err) {
    if (!im) return host->set_error(err, CV_ERR_INVALID, "%s: no image", who);
    int rc = check_dims(host, im->h, im->w, im->c, im->dtype, who, err);
    if (rc != CV_OK) return rc;
    if (!im->data) return host->set_error(err, CV_ERR_INVALID, "%s: image %dx%dx%d has no pixel data", who, im->h, im->w, im->c);
    return CV_OK;
}

int cv_image_new(const cv_host *host, int h, int w, int c, int dtype, cv_image *out, const char *who, cv_error *err) {
    int rc = check_dims(host, h, w, c, dtype, who, err);
    if (rc != CV_OK) return rc;
    cv_image im = { h, w, c, dtype, NULL };
    im.data = host->alloc(cv_image_bytes(&im));
    if (!im.data)
        return host->set_error(err, CV_ERR_NOMEM, "%s: out of memory for a %dx%dx%d image", who, h, w, c);
    *out = im;
    return CV_OK;
}

void cv_image_free(const cv_host *host, cv_image *im) {
    if (!im) return;
    if (im->data) host->free(im->data);
    im->data = NULL;
}

void cv_image_replace(const cv_host *host, cv_image *dst, cv_image *src) {
    if (dst->data && dst->data != src->data) host->free(dst->data);
    *dst = *src;
    src->data = NULL;
}
