/* sdk/lib/image_ops_resample.c — resize, resized crop, crop, pad and flips.
 *
 * Resampling reproduces Pillow's Image.resize (what torchvision's Resize and
 * RandomResizedCrop call on PIL images) so that u8 results match to the bit:
 * separable filters whose support widens by the scale factor when shrinking
 * (antialiasing), output pixel x centred at in0 + (x + 0.5) * scale, weights
 * normalised per pixel; for u8 the weights are 22-bit fixed point and the
 * horizontal pass is rounded to u8 before the vertical pass.  Nearest follows
 * Pillow's scaling transform: source = floor(in0 + (x + 0.5) * scale), with the
 * coordinate accumulated step by step as Pillow does. */
#include <cvnets/image_ops.h>

#include <math.h>
#include <string.h>

#define PRECISION_BITS (32 - 8 - 2)

static double filter_bilinear(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double filter_bicubic(double x) {
    const double a = -0.5; /* Pillow's choice (torch's bicubic uses -0.75 without antialias) */
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

typedef struct axis_coeffs {
    int ksize;
    int *bounds;   /* [out][2]: first source index, count */
    double *k;     /* [out][ksize] */
    int32_t *ki;   /* [out][ksize] fixed point, for u8 */
} axis_coeffs;

static void axis_free(const cv_host *host, axis_coeffs *a) {
    host->free(a->bounds);
    host->free(a->k);
    host->free(a->ki);
}

static int axis_precompute(const cv_host *host, int in_size, double in0, double in1, int out_size, int interp,
                           axis_coeffs *a, const char *who, cv_error *err) {
    double (*filter)(double) = interp == CV_INTERP_BICUBIC ? filter_bicubic : filter_bilinear;
    double fsupport = interp == CV_INTERP_BICUBIC ? 2.0 : 1.0;
    double scale = (in1 - in0) / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = fsupport * filterscale;
    memset(a, 0, sizeof *a);
    a->ksize = (int)ceil(support) * 2 + 1;
    a->bounds = host->alloc_array((size_t)out_size * 2, sizeof(int));
    a->k = host->alloc_array((size_t)out_size * (size_t)a->ksize, sizeof(double));
    a->ki = host->alloc_array((size_t)out_size * (size_t)a->ksize, sizeof(int32_t));
    if (!a->bounds || !a->k || !a->ki) {
        axis_free(host, a);
        return host->set_error(err, CV_ERR_NOMEM, "%s: out of memory for resampling weights", who);
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = a->k + (size_t)xx * a->ksize;
        for (int x = 0; x < xmax; x++) {
            double w = filter((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (int x = 0; x < xmax; x++) {
            if (ww != 0.0) k[x] /= ww;
            double v = k[x] * (1 << PRECISION_BITS);
            a->ki[(size_t)xx * a->ksize + x] = (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
        }
        a->bounds[xx * 2] = xmin;
        a->bounds[xx * 2 + 1] = xmax;
    }
    return CV_OK;
}

static uint8_t clip8(int32_t v) {
    if (v >= (1 << PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

/* rows [y0, y0 + rows) of src, resampled along x into dst (rows x out_w x c).
 * u8 accumulates in int32 like Pillow (the weights sum to 2^22, so no overflow). */
static void pass_horizontal(const cv_image *src, int y0, int rows, const axis_coeffs *a, cv_image *dst) {
    int c = src->c, ow = dst->w;
    for (int y = 0; y < rows; y++)
        for (int xx = 0; xx < ow; xx++) {
            int xmin = a->bounds[xx * 2], n = a->bounds[xx * 2 + 1];
            size_t so = ((size_t)(y + y0) * src->w + xmin) * c, dof = ((size_t)y * ow + xx) * c;
            if (src->dtype == CV_U8) {
                const uint8_t *in = (const uint8_t *)src->data + so;
                const int32_t *k = a->ki + (size_t)xx * a->ksize;
                int32_t ss[CV_IMAGE_MAX_CHANNELS];
                for (int ch = 0; ch < c; ch++) ss[ch] = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < n; x++)
                    for (int ch = 0; ch < c; ch++) ss[ch] += in[(size_t)x * c + ch] * k[x];
                for (int ch = 0; ch < c; ch++) ((uint8_t *)dst->data)[dof + ch] = clip8(ss[ch]);
            } else {
                const float *in = (const float *)src->data + so;
                const double *k = a->k + (size_t)xx * a->ksize;
                double ss[CV_IMAGE_MAX_CHANNELS] = { 0 };
                for (int x = 0; x < n; x++)
                    for (int ch = 0; ch < c; ch++) ss[ch] += in[(size_t)x * c + ch] * k[x];
                for (int ch = 0; ch < c; ch++) ((float *)dst->data)[dof + ch] = (float)ss[ch];
            }
        }
}

/* src rows shifted by y_shift (bounds are in src-row units minus y_shift); acc is
 * scratch for one output row (w * c accumulators) so the taps run along rows */
static void pass_vertical(const cv_image *src, int y_shift, const axis_coeffs *a, cv_image *dst, void *acc) {
    size_t row = (size_t)dst->w * src->c;
    for (int yy = 0; yy < dst->h; yy++) {
        int ymin = a->bounds[yy * 2] - y_shift, n = a->bounds[yy * 2 + 1];
        if (src->dtype == CV_U8) {
            int32_t *ss = acc;
            const int32_t *k = a->ki + (size_t)yy * a->ksize;
            for (size_t i = 0; i < row; i++) ss[i] = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < n; y++) {
                const uint8_t *in = (const uint8_t *)src->data + (size_t)(ymin + y) * row;
                int32_t w = k[y];
                for (size_t i = 0; i < row; i++) ss[i] += in[i] * w;
            }
            uint8_t *out = (uint8_t *)dst->data + (size_t)yy * row;
            for (size_t i = 0; i < row; i++) out[i] = clip8(ss[i]);
        } else {
            double *ss = acc;
            const double *k = a->k + (size_t)yy * a->ksize;
            for (size_t i = 0; i < row; i++) ss[i] = 0.0;
            for (int y = 0; y < n; y++) {
                const float *in = (const float *)src->data + (size_t)(ymin + y) * row;
                double w = k[y];
                for (size_t i = 0; i < row; i++) ss[i] += in[i] * w;
            }
            float *out = (float *)dst->data + (size_t)yy * row;
            for (size_t i = 0; i < row; i++) out[i] = (float)ss[i];
        }
    }
}

/* Pillow's ImagingScaleAffine for the box (nearest). */
static int resample_nearest(const cv_host *host, const cv_image *src, int top, int left, int h, int w, cv_image *out,
                            const char *who, cv_error *err) {
    int *xin = host->alloc_array((size_t)out->w, sizeof(int));
    if (!xin) return host->set_error(err, CV_ERR_NOMEM, "%s: out of memory", who);
    double ax = (double)w / out->w, ay = (double)h / out->h;
    double xo = left + ax * 0.5, yo = top + ay * 0.5;
    for (int x = 0; x < out->w; x++, xo += ax) {
        int v = xo < 0.0 ? 0 : (int)xo;
        xin[x] = v >= src->w ? src->w - 1 : v;
    }
    size_t es = src->dtype == CV_F32 ? sizeof(float) : 1, px = es * (size_t)src->c;
    for (int y = 0; y < out->h; y++, yo += ay) {
        int yi = yo < 0.0 ? 0 : (int)yo;
        if (yi >= src->h) yi = src->h - 1;
        const uint8_t *row = (const uint8_t *)src->data + (size_t)yi * src->w * px;
        uint8_t *orow = (uint8_t *)out->data + (size_t)y * out->w * px;
        for (int x = 0; x < out->w; x++) memcpy(orow + (size_t)x * px, row + (size_t)xin[x] * px, px);
    }
    host->free(xin);
    return CV_OK;
}

int cv_image_resized_crop(const cv_host *host, const cv_image *src, int top, int left, int h, int w, int out_h,
                          int out_w, int interp, cv_image *out, const char *who, cv_error *err) {
    int rc = cv_image_check(host, src, who, err);
    if (rc != CV_OK) return rc;
    if (h <= 0 || w <= 0 || top < 0 || left < 0 || top + h > src->h || left + w > src->w)
        return host->set_error(err, CV_ERR_INVALID, "%s: crop box (top %d, left %d, %dx%d) is not inside the %dx%d image",
                               who, top, left, h, w, src->h, src->w);
    if (interp < CV_INTERP_NEAREST || interp > CV_INTERP_BICUBIC)
        return host->set_error(err, CV_ERR_INVALID, "%s: unknown interpolation %d", who, interp);
    cv_image dst;
    rc = cv_image_new(host, out_h, out_w, src->c, src->dtype, &dst, who, err);
    if (rc != CV_OK) return rc;
    if (interp == CV_INTERP_NEAREST) {
        rc = resample_nearest(host, src, top, left, h, w, &dst, who, err);
        if (rc != CV_OK) cv_image_free(host, &dst);
        else *out = dst;
        return rc;
    }
    int need_h = out_w != src->w || left != 0 || w != src->w;
    int need_v = out_h != src->h || top != 0 || h != src->h;
    if (!need_h && !need_v) {
        memcpy(dst.data, src->data, cv_image_bytes(src));
        *out = dst;
        return CV_OK;
    }
    axis_coeffs ax, ay;
    rc = axis_precompute(host, src->w, left, left + w, out_w, interp, &ax, who, err);
    if (rc != CV_OK) { cv_image_free(host, &dst); return rc; }
    rc = axis_precompute(host, src->h, top, top + h, out_h, interp, &ay, who, err);
    if (rc != CV_OK) { axis_free(host, &ax); cv_image_free(host, &dst); return rc; }
    void *acc = need_v ? host->alloc_array((size_t)out_w * src->c, sizeof(double)) : NULL;
    if (need_v && !acc) rc = host->set_error(err, CV_ERR_NOMEM, "%s: out of memory for resampling", who);
    if (rc == CV_OK && need_h && need_v) {
        /* only the source rows the vertical pass reads */
        int first = ay.bounds[0], last = ay.bounds[out_h * 2 - 2] + ay.bounds[out_h * 2 - 1];
        cv_image tmp;
        rc = cv_image_new(host, last - first, out_w, src->c, src->dtype, &tmp, who, err);
        if (rc == CV_OK) {
            pass_horizontal(src, first, last - first, &ax, &tmp);
            pass_vertical(&tmp, first, &ay, &dst, acc);
            cv_image_free(host, &tmp);
        }
    } else if (rc == CV_OK && need_h) {
        pass_horizontal(src, 0, src->h, &ax, &dst);
    } else if (rc == CV_OK) {
        pass_vertical(src, 0, &ay, &dst, acc);
    }
    if (acc) host->free(acc);
    axis_free(host, &ax);
    axis_free(host, &ay);
    if (rc != CV_OK) { cv_image_free(host, &dst); return rc; }
    *out = dst;
    return CV_OK;
}

int cv_image_resize(const cv_host *host, const cv_image *src, int out_h, int out_w, int interp, cv_image *out,
                    const char *who, cv_error *err) {
    int rc = cv_image_check(host, src, who, err);
    if (rc != CV_OK) return rc;
    return cv_image_resized_crop(host, src, 0, 0, src->h, src->w, out_h, out_w, interp, out, who, err);
}

static void put_fill(cv_image *im, size_t pixel, const double *fill) {
    for (int ch = 0; ch < im->c; ch++) {
        double v = fill ? fill[ch] : 0.0;
        if (im->dtype == CV_U8)
            ((uint8_t *)im->data)[pixel * im->c + ch] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : v);
        else
            ((float *)im->data)[pixel * im->c + ch] = (float)v;
    }
}

int cv_image_crop(const cv_host *host, const cv_image *src, int top, int left, int h, int w, const double *fill,
                  cv_image *out, const char *who, cv_error *err) {
    int rc = cv_image_check(host, src, who, err);
    if (rc != CV_OK) return rc;
    cv_image dst;
    rc = cv_image_new(host, h, w, src->c, src->dtype, &dst, who, err);
    if (rc != CV_OK) return rc;
    size_t px = (src->dtype == CV_F32 ? sizeof(float) : 1) * (size_t)src->c;
    for (int y = 0; y < h; y++) {
        int sy = top + y;
        for (int x = 0; x < w; x++) {
            int sx = left + x;
            size_t o = (size_t)y * w + x;
            if (sy < 0 || sy >= src->h || sx < 0 || sx >= src->w) put_fill(&dst, o, fill);
            else memcpy((uint8_t *)dst.data + o * px, (const uint8_t *)src->data + ((size_t)sy * src->w + sx) * px, px);
        }
    }
    *out = dst;
    return CV_OK;
}

/* source index for a padded coordinate i in [-pad, n + pad) */
static int pad_index(int i, int n, int mode) {
    if (i >= 0 && i < n) return i;
    if (mode == CV_PAD_EDGE) return i < 0 ? 0 : n - 1;
    if (mode == CV_PAD_REFLECT) {
        if (n == 1) return 0;
        int period = 2 * (n - 1);
        int m = i % period;
        if (m < 0) m += period;
        return m < n ? m : period - m;
    }
    /* symmetric: the edge pixel repeats */
    int period = 2 * n;
    int m = i % period;
    if (m < 0) m += period;
    return m < n ? m : period - 1 - m;
}

int cv_image_pad(const cv_host *host, const cv_image *src, int top, int bottom, int left, int right, int mode,
                 const double *fill, cv_image *out, const char *who, cv_error *err) {
    int rc = cv_image_check(host, src, who, err);
    if (rc != CV_OK) return rc;
    if (top < 0 || bottom < 0 || left < 0 || right < 0 || top > CV_IMAGE_MAX_SIDE || bottom > CV_IMAGE_MAX_SIDE ||
        left > CV_IMAGE_MAX_SIDE || right > CV_IMAGE_MAX_SIDE)
        return host->set_error(err, CV_ERR_INVALID, "%s: padding (%d, %d, %d, %d) must be 0..%d", who, top, bottom,
                               left, right, CV_IMAGE_MAX_SIDE);
    if (mode < CV_PAD_CONSTANT || mode > CV_PAD_SYMMETRIC)
        return host->set_error(err, CV_ERR_INVALID, "%s: unknown pad mode %d", who, mode);
    if (mode == CV_PAD_CONSTANT)
        return cv_image_crop(host, src, -top, -left, src->h + top + bottom, src->w + left + right, fill, out, who, err);
    cv_image dst;
    rc = cv_image_new(host, src->h + top + bottom, src->w + left + right, src->c, src->dtype, &dst, who, err);
    if (rc != CV_OK) return rc;
    size_t px = (src->dtype == CV_F32 ? sizeof(float) : 1) * (size_t)src->c;
    for (int y = 0; y < dst.h; y++) {
        int sy = pad_index(y - top, src->h, mode);
        for (int x = 0; x < dst.w; x++) {
            int sx = pad_index(x - left, src->w, mode);
            memcpy((uint8_t *)dst.data + ((size_t)y * dst.w + x) * px,
                   (const uint8_t *)src->data + ((size_t)sy * src->w + sx) * px, px);
        }
    }
    *out = dst;
    return CV_OK;
}

static void swap_bytes(uint8_t *a, uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

void cv_image_hflip(cv_image *im) {
    if (!im || !im->data) return;
    size_t px = (im->dtype == CV_F32 ? sizeof(float) : 1) * (size_t)im->c;
    for (int y = 0; y < im->h; y++) {
        uint8_t *row = (uint8_t *)im->data + (size_t)y * im->w * px;
        for (int x = 0; x < im->w / 2; x++) swap_bytes(row + (size_t)x * px, row + (size_t)(im->w - 1 - x) * px, px);
    }
}

void cv_image_vflip(cv_image *im) {
    if (!im || !im->data) return;
    size_t row = (im->dtype == CV_F32 ? sizeof(float) : 1) * (size_t)im->c * im->w;
    for (int y = 0; y < im->h / 2; y++)
        swap_bytes((uint8_t *)im->data + (size_t)y * row, (uint8_t *)im->data + (size_t)(im->h - 1 - y) * row, row);
}
