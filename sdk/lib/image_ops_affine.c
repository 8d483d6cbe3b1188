/* sdk/lib/image_ops_affine.c — affine warps (torchvision F.affine / F.rotate on PIL
 * images, i.e. Pillow's Image.transform(AFFINE)).
 *
 * The inverse matrix maps the centre of output pixel (x, y), the point
 * (x + 0.5, y + 0.5), to an input point.  Nearest takes floor() of it, using
 * Pillow's 16.16 fixed-point stepping when every coordinate fits (so results match
 * Pillow bit for bit); bilinear and bicubic reproduce Pillow's transform filters
 * (edge rows and columns repeat, u8 results truncated). */
#include <cvnets/image_ops.h>

#include <math.h>
#include <string.h>

void cv_affine_inverse_matrix(double cx, double cy, double angle, double tx, double ty, double scale,
                              double shear_x, double shear_y, double m[6]) {
    const double deg = 3.14159265358979323846 / 180.0;
    double rot = angle * deg, sx = shear_x * deg, sy = shear_y * deg;
    /* rotation-scale-shear without scaling, as torchvision composes it */
    double a = cos(rot - sy) / cos(sy);
    double b = -cos(rot - sy) * tan(sx) / cos(sy) - sin(rot);
    double c = sin(rot - sy) / cos(sy);
    double d = -sin(rot - sy) * tan(sx) / cos(sy) + cos(rot);
    m[0] = d / scale;
    m[1] = -b / scale;
    m[2] = 0.0;
    m[3] = -c / scale;
    m[4] = a / scale;
    m[5] = 0.0;
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
    m[2] += cx;
    m[5] += cy;
}

static void fill_pixel(cv_image *out, size_t o, const double *fill) {
    for (int ch = 0; ch < out->c; ch++) {
        double v = fill ? fill[ch] : 0.0;
        if (out->dtype == CV_U8) ((uint8_t *)out->data)[o * out->c + ch] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : v);
        else ((float *)out->data)[o * out->c + ch] = (float)v;
    }
}

static double px_get(const cv_image *im, int y, int x, int ch) {
    size_t i = ((size_t)y * im->w + x) * im->c + ch;
    return im->dtype == CV_U8 ? (double)((const uint8_t *)im->data)[i] : (double)((const float *)im->data)[i];
}

static void px_put(cv_image *im, size_t o, int ch, double v, int clamp) {
    if (im->dtype == CV_U8) {
        if (clamp) v = v <= 0.0 ? 0.0 : v >= 255.0 ? 255.0 : v;
        ((uint8_t *)im->data)[o * im->c + ch] = (uint8_t)v;
    } else {
        ((float *)im->data)[o * im->c + ch] = (float)v;
    }
}

static int clip_i(int v, int n) { return v < 0 ? 0 : v < n ? v : n - 1; }

static int fits_fixed(const double *a, double x, double y) {
    return fabs(a[0] * x + a[1] * y + a[2]) < 32768.0 && fabs(a[3] * x + a[4] * y + a[5]) < 32768.0;
}

static void warp_nearest(const cv_image *src, const double *a, const double *fill, cv_image *out) {
    size_t px = (src->dtype == CV_F32 ? sizeof(float) : 1) * (size_t)src->c;
    int W = out->w, H = out->h;
    if (fits_fixed(a, 0, 0) && fits_fixed(a, W, H) && fits_fixed(a, 0, H) && fits_fixed(a, W, 0)) {
#define FIX(v) ((int32_t)floor((v) * 65536.0 + 0.5))
        int32_t a0 = FIX(a[0]), a1 = FIX(a[1]), a3 = FIX(a[3]), a4 = FIX(a[4]);
        int32_t a2 = FIX(a[2] + a[0] * 0.5 + a[1] * 0.5), a5 = FIX(a[5] + a[3] * 0.5 + a[4] * 0.5);
#undef FIX
        for (int y = 0; y < H; y++) {
            int32_t xx = a2, yy = a5;
            for (int x = 0; x < W; x++) {
                int32_t xin = xx >> 16, yin = yy >> 16; /* arithmetic shift = floor */
                size_t o = (size_t)y * W + x;
                if (xin >= 0 && xin < src->w && yin >= 0 && yin < src->h)
                    memcpy((uint8_t *)out->data + o * px, (const uint8_t *)src->data + ((size_t)yin * src->w + xin) * px, px);
                else
                    fill_pixel(out, o, fill);
                xx += a0;
                yy += a3;
            }
            a2 += a1;
            a5 += a4;
        }
        return;
    }
    double xo = a[2] + a[1] * 0.5 + a[0] * 0.5, yo = a[5] + a[4] * 0.5 + a[3] * 0.5;
    for (int y = 0; y < H; y++) {
        double xx = xo, yy = yo;
        for (int x = 0; x < W; x++) {
            int xin = xx < 0.0 ? -1 : (int)xx, yin = yy < 0.0 ? -1 : (int)yy;
            size_t o = (size_t)y * W + x;
            if (xin >= 0 && xin < src->w && yin >= 0 && yin < src->h)
                memcpy((uint8_t *)out->data + o * px, (const uint8_t *)src->data + ((size_t)yin * src->w + xin) * px, px);
            else
                fill_pixel(out, o, fill);
            xx += a[0];
            yy += a[3];
        }
        xo += a[1];
        yo += a[4];
    }
}

static double lerp(double a, double b, double d) { return a + (b - a) * d; }

static double cubic(double v1, double v2, double v3, double v4, double d) {
    double p1 = v2, p2 = -v1 + v3, p3 = 2 * (v1 - v2) + v3 - v4, p4 = -v1 + v2 - v3 + v4;
    return p1 + d * (p2 + d * (p3 + d * p4));
}

/* Pillow's bilinear / bicubic transform filters at input point (xin, yin) */
static void sample_filtered(const cv_image *im, double xin, double yin, int bicubic, cv_image *out, size_t o) {
    xin -= 0.5;
    yin -= 0.5;
    int x = (int)floor(xin), y = (int)floor(yin);
    double dx = xin - x, dy = yin - y;
    for (int ch = 0; ch < im->c; ch++) {
        double v1;
        if (!bicubic) {
            int x0 = clip_i(x, im->w), x1 = clip_i(x + 1, im->w), yc = clip_i(y, im->h);
            v1 = lerp(px_get(im, yc, x0, ch), px_get(im, yc, x1, ch), dx);
            double v2 = v1;
            if (y + 1 >= 0 && y + 1 < im->h) v2 = lerp(px_get(im, y + 1, x0, ch), px_get(im, y + 1, x1, ch), dx);
            v1 = lerp(v1, v2, dy);
            px_put(out, o, ch, v1, 0);
        } else {
            int xs[4];
            for (int i = 0; i < 4; i++) xs[i] = clip_i(x - 1 + i, im->w);
            double v[4];
            int yc = clip_i(y - 1, im->h);
            v[0] = cubic(px_get(im, yc, xs[0], ch), px_get(im, yc, xs[1], ch), px_get(im, yc, xs[2], ch),
                         px_get(im, yc, xs[3], ch), dx);
            for (int r = 1; r < 4; r++) {
                int yr = y - 1 + r;
                v[r] = v[r - 1];
                if (yr >= 0 && yr < im->h)
                    v[r] = cubic(px_get(im, yr, xs[0], ch), px_get(im, yr, xs[1], ch), px_get(im, yr, xs[2], ch),
                                 px_get(im, yr, xs[3], ch), dx);
            }
            v1 = cubic(v[0], v[1], v[2], v[3], dy);
            px_put(out, o, ch, v1, 1);
        }
    }
}

int cv_image_affine(const cv_host *host, const cv_image *src, const double m[6], int interp, const double *fill,
                    cv_image *out, const char *who, cv_error *err) {
    int rc = cv_image_check(host, src, who, err);
    if (rc != CV_OK) return rc;
    if (interp < CV_INTERP_NEAREST || interp > CV_INTERP_BICUBIC)
        return host->set_error(err, CV_ERR_INVALID, "%s: unknown interpolation %d", who, interp);
    for (int i = 0; i < 6; i++)
        if (!isfinite(m[i])) return host->set_error(err, CV_ERR_NUMERIC, "%s: affine matrix has a non-finite entry", who);
    cv_image dst;
    rc = cv_image_new(host, src->h, src->w, src->c, src->dtype, &dst, who, err);
    if (rc != CV_OK) return rc;
    if (interp == CV_INTERP_NEAREST) {
        warp_nearest(src, m, fill, &dst);
    } else {
        for (int y = 0; y < dst.h; y++)
            for (int x = 0; x < dst.w; x++) {
                double xin = m[0] * (x + 0.5) + m[1] * (y + 0.5) + m[2];
                double yin = m[3] * (x + 0.5) + m[4] * (y + 0.5) + m[5];
                size_t o = (size_t)y * dst.w + x;
                if (xin < 0.0 || xin >= src->w || yin < 0.0 || yin >= src->h) fill_pixel(&dst, o, fill);
                else sample_filtered(src, xin, yin, interp == CV_INTERP_BICUBIC, &dst, o);
            }
    }
    *out = dst;
    return CV_OK;
}

static double round15(double v) { return nearbyint(v * 1e15) / 1e15; }

int cv_image_rotate(const cv_host *host, const cv_image *src, double angle, int interp, const double *fill,
                    cv_image *out, const char *who, cv_error *err) {
    int rc = cv_image_check(host, src, who, err);
    if (rc != CV_OK) return rc;
    if (!isfinite(angle)) return host->set_error(err, CV_ERR_NUMERIC, "%s: rotation angle is not finite", who);
    /* Pillow's Image.rotate: exact transposes for multiples of 90 degrees, else an
     * affine transform with cos/sin rounded to 15 decimals about (w/2, h/2) */
    double a = fmod(angle, 360.0);
    if (a < 0) a += 360.0;
    if (a == 0.0 || a == 180.0 || ((a == 90.0 || a == 270.0) && src->w == src->h)) {
        cv_image dst;
        rc = cv_image_new(host, src->h, src->w, src->c, src->dtype, &dst, who, err);
        if (rc != CV_OK) return rc;
        size_t px = (src->dtype == CV_F32 ? sizeof(float) : 1) * (size_t)src->c;
        int n = src->w;
        for (int y = 0; y < src->h; y++)
            for (int x = 0; x < src->w; x++) {
                int sy = y, sx = x;
                if (a == 180.0) { sy = src->h - 1 - y; sx = src->w - 1 - x; }
                else if (a == 90.0) { sy = x; sx = n - 1 - y; }    /* counter-clockwise */
                else if (a == 270.0) { sy = n - 1 - x; sx = y; }
                memcpy((uint8_t *)dst.data + ((size_t)y * dst.w + x) * px,
                       (const uint8_t *)src->data + ((size_t)sy * src->w + sx) * px, px);
            }
        *out = dst;
        return CV_OK;
    }
    double r = -a * 3.14159265358979323846 / 180.0;
    double m[6] = { round15(cos(r)), round15(sin(r)), 0.0, round15(-sin(r)), round15(cos(r)), 0.0 };
    double cx = src->w / 2.0, cy = src->h / 2.0;
    m[2] = m[0] * -cx + m[1] * -cy + cx;
    m[5] = m[3] * -cx + m[4] * -cy + cy;
    return cv_image_affine(host, src, m, interp, fill, out, who, err);
}
