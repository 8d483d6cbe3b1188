/* plugins/datasets/image_decode.h — JPEG/PNG bytes to a u8 HWC image with
 * stb_image, bounded before anything is allocated: the header is read with
 * stbi_info_from_memory and w*h*c is checked against a pixel budget, so a
 * hostile header cannot make us allocate gigabytes.  16-bit PNGs are reduced
 * to 8 bits, palettes expanded, grey/RGBA converted to the wanted channels. */
#ifndef CV_DS_IMAGE_DECODE_H
#define CV_DS_IMAGE_DECODE_H

#include <stb/stb_image.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define IMG_MAX_SIDE 32768

/* Decodes bytes[0..n) to want_c channels (1 or 3 or 4).  max_pixels bounds
 * w*h.  On success *pixels comes from alloc_fn.  0 on success, -1 with why. */
static inline int img_decode(const uint8_t *bytes, size_t n, int want_c, int64_t max_pixels,
                             void *(*alloc_fn)(size_t), uint8_t **pixels, int *w, int *h, char *why, size_t whyn) {
    *pixels = NULL;
    *w = *h = 0;
    if (n == 0 || n > 0x7fffffff) {
        snprintf(why, whyn, "%s", n == 0 ? "empty file" : "file larger than 2 GiB");
        return -1;
    }
    int iw = 0, ih = 0, ic = 0;
    if (!stbi_info_from_memory(bytes, (int)n, &iw, &ih, &ic)) {
        const char *r = stbi_failure_reason();
        snprintf(why, whyn, "not a readable JPEG/PNG image (%s)", r ? r : "unknown format");
        return -1;
    }
    if (iw <= 0 || ih <= 0) {
        snprintf(why, whyn, "image has zero size (%dx%d)", iw, ih);
        return -1;
    }
    if (iw > IMG_MAX_SIDE || ih > IMG_MAX_SIDE || (int64_t)iw * ih > max_pixels) {
        snprintf(why, whyn, "image of %dx%d is above the limit of %lld pixels (side at most %d)", iw, ih,
                 (long long)max_pixels, IMG_MAX_SIDE);
        return -1;
    }
    int dw = 0, dh = 0, dc = 0;
    unsigned char *p = stbi_load_from_memory(bytes, (int)n, &dw, &dh, &dc, want_c);
    if (!p) {
        const char *r = stbi_failure_reason();
        snprintf(why, whyn, "corrupt image data (%s)", r ? r : "decoder failed");
        return -1;
    }
    if (dw != iw || dh != ih) { /* the header lied to stbi_info: trust neither */
        stbi_image_free(p);
        snprintf(why, whyn, "inconsistent image header (%dx%d vs %dx%d)", iw, ih, dw, dh);
        return -1;
    }
    size_t bytes_out = (size_t)dw * dh * want_c;
    uint8_t *out = alloc_fn(bytes_out);
    if (!out) {
        stbi_image_free(p);
        snprintf(why, whyn, "out of memory for %dx%dx%d", dw, dh, want_c);
        return -1;
    }
    memcpy(out, p, bytes_out);
    stbi_image_free(p);
    *pixels = out;
    *w = dw;
    *h = dh;
    return 0;
}

#endif
