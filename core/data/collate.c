/* core/data/collate.c — sample image to a planar f32 slot of a batch (collate.h). */
#include "data/collate.h"

#include <stdio.h>

static float px(const cv_image *img, int y, int x, int ch) {
    size_t o = ((size_t)y * img->w + x) * img->c + ch;
    return img->dtype == CV_U8 ? ((const uint8_t *)img->data)[o] * (1.0f / 255.0f) : ((const float *)img->data)[o];
}

int cv_collate_image(const cv_image *img, float *dst, int c, int h, int w, char *why, size_t whyn) {
    if (!img->data || img->h <= 0 || img->w <= 0 || img->c <= 0) {
        snprintf(why, whyn, "empty image (%dx%dx%d)", img->h, img->w, img->c);
        return CV_ERR_INVALID;
    }
    if (img->dtype != CV_U8 && img->dtype != CV_F32) {
        snprintf(why, whyn, "image dtype %d is neither u8 nor f32", img->dtype);
        return CV_ERR_INVALID;
    }
    if (img->c != c && img->c != 1) {
        snprintf(why, whyn, "image has %d channels, the batch %d", img->c, c);
        return CV_ERR_INVALID;
    }
    size_t plane = (size_t)h * w;
    if (img->h == h && img->w == w && img->dtype == CV_U8) { /* the common case, kept tight */
        const uint8_t *src = img->data;
        for (int ch = 0; ch < c; ch++) {
            int sc = img->c == 1 ? 0 : ch, stride = img->c;
            float *d = dst + ch * plane;
            for (size_t i = 0; i < plane; i++) d[i] = src[i * stride + sc] * (1.0f / 255.0f);
        }
        return CV_OK;
    }
    if (img->h == h && img->w == w) {
        for (int ch = 0; ch < c; ch++) {
            int sc = img->c == 1 ? 0 : ch;
            float *d = dst + ch * plane;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) d[(size_t)y * w + x] = px(img, y, x, sc);
        }
        return CV_OK;
    }
    /* bilinear, pixel centres aligned (half-pixel offsets), edges clamped */
    float sy = (float)img->h / h, sx = (float)img->w / w;
    for (int y = 0; y < h; y++) {
        float fy = (y + 0.5f) * sy - 0.5f;
        if (fy < 0) fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < img->h ? y0 + 1 : y0;
        float wy = fy - y0;
        for (int x = 0; x < w; x++) {
            float fx = (x + 0.5f) * sx - 0.5f;
            if (fx < 0) fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < img->w ? x0 + 1 : x0;
            float wx = fx - x0;
            for (int ch = 0; ch < c; ch++) {
                int sc = img->c == 1 ? 0 : ch;
                float top = px(img, y0, x0, sc) * (1 - wx) + px(img, y0, x1, sc) * wx;
                float bot = px(img, y1, x0, sc) * (1 - wx) + px(img, y1, x1, sc) * wx;
                dst[ch * plane + (size_t)y * w + x] = top * (1 - wy) + bot * wy;
            }
        }
    }
    return CV_OK;
}
