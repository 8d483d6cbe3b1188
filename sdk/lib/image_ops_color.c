/* sdk/lib/image_ops_color.c — colour operations with the semantics of torchvision's
 * tensor functions (functional_tensor.py): arithmetic in float32 as torch does
 * for a uint8 image, clamping to [0, bound] and truncation back to u8.  Float
 * images are taken to be in [0, 1].  The colour operations accept 1 or 3
 * channels (a 1-channel image is left unchanged by saturation and hue, as in
 * torchvision). */
#include <cvnets/image_ops.h>

#include <math.h>
#include <string.h>

static int check_colour(const cv_host *host, const cv_image *im, const char *op, const char *who, cv_error *err) {
    int rc = cv_image_check(host, im, who, err);
    if (rc != CV_OK) return rc;
    if (im->c != 1 && im->c != 3)
        return host->set_error(err, CV_ERR_INVALID, "%s: %s needs a 1- or 3-channel image, got %d channels", who, op,
                               im->c);
    return CV_OK;
}

static int check_u8(const cv_host *host, const cv_image *im, const char *op, const char *who, cv_error *err) {
    int rc = check_colour(host, im, op, who, err);
    if (rc == CV_OK && im->dtype != CV_U8)
        rc = host->set_error(err, CV_ERR_INVALID, "%s: %s needs a u8 image (apply it before normalize)", who, op);
    return rc;
}

static float get(const cv_image *im, size_t i) {
    return im->dtype == CV_U8 ? (float)((const uint8_t *)im->data)[i] : ((const float *)im->data)[i];
}

/* clamp to [0, bound] and store; u8 truncates as torch's .to(uint8) */
static void put(cv_image *im, size_t i, float v) {
    float bound = im->dtype == CV_U8 ? 255.0f : 1.0f;
    if (!(v >= 0.0f)) v = 0.0f; /* also maps NaN to 0 */
    if (v > bound) v = bound;
    if (im->dtype == CV_U8) ((uint8_t *)im->data)[i] = (uint8_t)v;
    else ((float *)im->data)[i] = v;
}

/* torchvision's rgb_to_grayscale for pixel p (c == 3), in the image's dtype */
static float gray_of(const cv_image *im, size_t p) {
    float g = 0.2989f * get(im, p * 3) + 0.587f * get(im, p * 3 + 1) + 0.114f * get(im, p * 3 + 2);
    return im->dtype == CV_U8 ? (float)(uint8_t)g : g;
}

/* _blend(img, other, ratio): ratio * img + (1 - ratio) * other, in float32 */
static float blend(float a, float b, double ratio) { return (float)ratio * a + (float)(1.0 - ratio) * b; }

int cv_image_adjust_brightness(const cv_host *host, cv_image *im, double factor, const char *who, cv_error *err) {
    int rc = check_colour(host, im, "brightness", who, err);
    if (rc != CV_OK) return rc;
    if (!(factor >= 0)) return host->set_error(err, CV_ERR_INVALID, "%s: brightness factor %g is negative", who, factor);
    size_t n = cv_image_elems(im);
    for (size_t i = 0; i < n; i++) put(im, i, blend(get(im, i), 0.0f, factor));
    return CV_OK;
}

int cv_image_adjust_contrast(const cv_host *host, cv_image *im, double factor, const char *who, cv_error *err) {
    int rc = check_colour(host, im, "contrast", who, err);
    if (rc != CV_OK) return rc;
    if (!(factor >= 0)) return host->set_error(err, CV_ERR_INVALID, "%s: contrast factor %g is negative", who, factor);
    size_t npx = (size_t)im->h * im->w, n = cv_image_elems(im);
    double sum = 0.0;
    if (im->c == 3)
        for (size_t p = 0; p < npx; p++) sum += gray_of(im, p);
    else
        for (size_t p = 0; p < npx; p++) sum += get(im, p);
    float mean = (float)((float)sum / (float)npx);
    for (size_t i = 0; i < n; i++) put(im, i, blend(get(im, i), mean, factor));
    return CV_OK;
}

int cv_image_adjust_saturation(const cv_host *host, cv_image *im, double factor, const char *who, cv_error *err) {
    int rc = check_colour(host, im, "saturation", who, err);
    if (rc != CV_OK) return rc;
    if (!(factor >= 0)) return host->set_error(err, CV_ERR_INVALID, "%s: saturation factor %g is negative", who, factor);
    if (im->c == 1) return CV_OK;
    size_t npx = (size_t)im->h * im->w;
    for (size_t p = 0; p < npx; p++) {
        float g = gray_of(im, p);
        for (int ch = 0; ch < 3; ch++) put(im, p * 3 + ch, blend(get(im, p * 3 + ch), g, factor));
    }
    return CV_OK;
}

/* torch.remainder(a, 1.0) for a in [-1, 2): fmod then the divisor's sign; both
 * steps are exact here (Sterbenz), so plain comparisons replace fmodf */
static float pymod1(float a) {
    if (a >= 1.0f) return a - 1.0f;
    if (a < 0.0f) return a + 1.0f;
    return a;
}

int cv_image_adjust_hue(const cv_host *host, cv_image *im, double hue_factor, const char *who, cv_error *err) {
    int rc = check_colour(host, im, "hue", who, err);
    if (rc != CV_OK) return rc;
    if (!(hue_factor >= -0.5 && hue_factor <= 0.5))
        return host->set_error(err, CV_ERR_INVALID, "%s: hue factor %g is outside [-0.5, 0.5]", who, hue_factor);
    if (im->c == 1) return CV_OK;
    size_t npx = (size_t)im->h * im->w;
    for (size_t p = 0; p < npx; p++) {
        float r = get(im, p * 3), g = get(im, p * 3 + 1), b = get(im, p * 3 + 2);
        if (im->dtype == CV_U8) {
            r /= 255.0f;
            g /= 255.0f;
            b /= 255.0f;
        }
        /* _rgb2hsv */
        float maxc = fmaxf(r, fmaxf(g, b)), minc = fminf(r, fminf(g, b));
        int eqc = maxc == minc;
        float cr = maxc - minc;
        float s = cr / (eqc ? 1.0f : maxc);
        float div = eqc ? 1.0f : cr;
        float rc_ = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div;
        float hr = (maxc == r) ? (bc - gc) : 0.0f;
        float hg = (maxc == g && maxc != r) ? (2.0f + rc_ - bc) : 0.0f;
        float hb = (maxc != g && maxc != r) ? (4.0f + gc - rc_) : 0.0f;
        float h = pymod1((hr + hg + hb) / 6.0f + 1.0f); /* torch.fmod(h / 6 + 1, 1), argument in (0, 2) */
        h = pymod1(h + (float)hue_factor);
        /* _hsv2rgb */
        float v = maxc;
        float fi = floorf(h * 6.0f), f = h * 6.0f - fi;
        int i = ((int)fi) % 6;
        if (i < 0) i += 6;
        float pp = fminf(fmaxf(v * (1.0f - s), 0.0f), 1.0f);
        float q = fminf(fmaxf(v * (1.0f - s * f), 0.0f), 1.0f);
        float t = fminf(fmaxf(v * (1.0f - s * (1.0f - f)), 0.0f), 1.0f);
        float out[3];
        switch (i) {
        case 0: out[0] = v; out[1] = t; out[2] = pp; break;
        case 1: out[0] = q; out[1] = v; out[2] = pp; break;
        case 2: out[0] = pp; out[1] = v; out[2] = t; break;
        case 3: out[0] = pp; out[1] = q; out[2] = v; break;
        case 4: out[0] = t; out[1] = pp; out[2] = v; break;
        default: out[0] = v; out[1] = pp; out[2] = q; break;
        }
        for (int ch = 0; ch < 3; ch++) {
            if (im->dtype == CV_U8) ((uint8_t *)im->data)[p * 3 + ch] = (uint8_t)(out[ch] * 255.0f);
            else ((float *)im->data)[p * 3 + ch] = out[ch];
        }
    }
    return CV_OK;
}

int cv_image_adjust_sharpness(const cv_host *host, cv_image *im, double factor, const char *who, cv_error *err) {
    int rc = check_colour(host, im, "sharpness", who, err);
    if (rc != CV_OK) return rc;
    if (!(factor >= 0)) return host->set_error(err, CV_ERR_INVALID, "%s: sharpness factor %g is negative", who, factor);
    if (im->w <= 2 || im->h <= 2) return CV_OK;
    /* the blurred "degenerate" image: 3x3 kernel 1 1 1 / 1 5 1 / 1 1 1, over 13;
     * border pixels stay as they are */
    size_t n = cv_image_elems(im);
    float *src = host->alloc(2 * n * sizeof(float));
    if (!src) return host->set_error(err, CV_ERR_NOMEM, "%s: out of memory for sharpness", who);
    float *deg = src + n;
    const float k1 = 1.0f / 13.0f, k5 = 5.0f / 13.0f;
    int c = im->c, W = im->w, u8 = im->dtype == CV_U8;
    size_t row = (size_t)W * c;
    for (size_t i = 0; i < n; i++) src[i] = get(im, i);
    memcpy(deg, src, n * sizeof(float));
    for (int y = 1; y < im->h - 1; y++) {
        const float *up = src + (size_t)(y - 1) * row, *mid = up + row, *dn = mid + row;
        float *o = deg + (size_t)y * row;
        for (size_t i = (size_t)c; i < row - (size_t)c; i++) {
            float sum = up[i - c] * k1 + up[i] * k1 + up[i + c] * k1 + mid[i - c] * k1 + mid[i] * k5 + mid[i + c] * k1 +
                        dn[i - c] * k1 + dn[i] * k1 + dn[i + c] * k1;
            o[i] = u8 ? nearbyintf(sum) : sum;
        }
    }
    for (size_t i = 0; i < n; i++) put(im, i, blend(src[i], deg[i], factor));
    host->free(src);
    return CV_OK;
}

int cv_image_posterize(const cv_host *host, cv_image *im, int bits, const char *who, cv_error *err) {
    int rc = check_u8(host, im, "posterize", who, err);
    if (rc != CV_OK) return rc;
    if (bits < 0 || bits > 8) return host->set_error(err, CV_ERR_INVALID, "%s: posterize bits %d is outside 0..8", who, bits);
    uint8_t mask = (uint8_t)(0xFF00u >> bits);
    uint8_t *d = im->data;
    size_t n = cv_image_elems(im);
    for (size_t i = 0; i < n; i++) d[i] &= mask;
    return CV_OK;
}

int cv_image_solarize(const cv_host *host, cv_image *im, double threshold, const char *who, cv_error *err) {
    int rc = check_colour(host, im, "solarize", who, err);
    if (rc != CV_OK) return rc;
    size_t n = cv_image_elems(im);
    if (im->dtype == CV_U8) {
        uint8_t *d = im->data;
        for (size_t i = 0; i < n; i++)
            if (d[i] >= threshold) d[i] = (uint8_t)(255 - d[i]);
    } else {
        float *d = im->data;
        for (size_t i = 0; i < n; i++)
            if (d[i] >= threshold) d[i] = 1.0f - d[i];
    }
    return CV_OK;
}

int cv_image_invert(const cv_host *host, cv_image *im, const char *who, cv_error *err) {
    return cv_image_solarize(host, im, -INFINITY, who, err);
}

int cv_image_equalize(const cv_host *host, cv_image *im, const char *who, cv_error *err) {
    int rc = check_u8(host, im, "equalize", who, err);
    if (rc != CV_OK) return rc;
    size_t npx = (size_t)im->h * im->w;
    uint8_t *d = im->data;
    for (int ch = 0; ch < im->c; ch++) {
        int64_t hist[256] = { 0 };
        for (size_t p = 0; p < npx; p++) hist[d[p * im->c + ch]]++;
        /* step = (sum of the non-zero bins but the last one) // 255 */
        int last = 255;
        while (last > 0 && hist[last] == 0) last--;
        int64_t total = 0;
        for (int i = 0; i < last; i++) total += hist[i];
        int64_t step = total / 255;
        if (step == 0) continue;
        uint8_t lut[256];
        int64_t cum = 0;
        lut[0] = 0;
        for (int i = 1; i < 256; i++) {
            cum += hist[i - 1];
            int64_t v = (cum + step / 2) / step;
            lut[i] = (uint8_t)(v > 255 ? 255 : v);
        }
        for (size_t p = 0; p < npx; p++) d[p * im->c + ch] = lut[d[p * im->c + ch]];
    }
    return CV_OK;
}

int cv_image_autocontrast(const cv_host *host, cv_image *im, const char *who, cv_error *err) {
    int rc = check_colour(host, im, "autocontrast", who, err);
    if (rc != CV_OK) return rc;
    size_t npx = (size_t)im->h * im->w;
    float bound = im->dtype == CV_U8 ? 255.0f : 1.0f;
    for (int ch = 0; ch < im->c; ch++) {
        float lo = INFINITY, hi = -INFINITY;
        for (size_t p = 0; p < npx; p++) {
            float v = get(im, p * im->c + ch);
            lo = fminf(lo, v);
            hi = fmaxf(hi, v);
        }
        float scale = bound / (hi - lo);
        if (!isfinite(scale)) {
            lo = 0.0f;
            scale = 1.0f;
        }
        for (size_t p = 0; p < npx; p++) {
            size_t i = p * im->c + ch;
            put(im, i, (get(im, i) - lo) * scale);
        }
    }
    return CV_OK;
}
