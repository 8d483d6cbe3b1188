/* plugins/datasets/idx.h — the IDX format (MNIST, Fashion-MNIST) and in-memory
 * gunzip.  Pure functions over byte buffers, so the fuzz driver and the tests
 * call exactly the code the plugins run. */
#ifndef CV_DS_IDX_H
#define CV_DS_IDX_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define IDX_MAX_DIMS 4
#define IDX_MAX_ELEMS ((uint64_t)1 << 34) /* 16 Gi elements: far above any real file */

typedef struct idx_header {
    int ndims;
    uint32_t dims[IDX_MAX_DIMS];
    size_t offset;  /* first data byte */
    uint64_t count; /* data bytes (= elements, type u8) */
} idx_header;

static inline uint32_t idx_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks an IDX buffer of unsigned bytes with want_dims dimensions.  0 on
 * success; -1 with a reason in why otherwise. */
static inline int idx_parse(const uint8_t *b, size_t n, int want_dims, idx_header *hd, char *why, size_t whyn) {
    memset(hd, 0, sizeof *hd);
    if (n < 4) {
        snprintf(why, whyn, "only %zu bytes, an IDX header needs at least 4", n);
        return -1;
    }
    if (b[0] != 0 || b[1] != 0) {
        snprintf(why, whyn, "not an IDX file (magic %02x %02x %02x %02x)", b[0], b[1], b[2], b[3]);
        return -1;
    }
    if (b[2] != 0x08) {
        snprintf(why, whyn, "IDX element type 0x%02x is not supported (only 0x08, unsigned byte)", b[2]);
        return -1;
    }
    if (b[3] != want_dims) {
        snprintf(why, whyn, "IDX file has %d dimensions, expected %d", b[3], want_dims);
        return -1;
    }
    hd->ndims = want_dims;
    hd->offset = 4 + 4 * (size_t)want_dims;
    if (n < hd->offset) {
        snprintf(why, whyn, "truncated IDX header: %zu bytes, need %zu", n, hd->offset);
        return -1;
    }
    uint64_t count = 1;
    for (int i = 0; i < want_dims; i++) {
        hd->dims[i] = idx_be32(b + 4 + 4 * i);
        if (hd->dims[i] == 0) {
            snprintf(why, whyn, "IDX dimension %d is 0", i);
            return -1;
        }
        count *= hd->dims[i];
        if (count > IDX_MAX_ELEMS) {
            snprintf(why, whyn, "IDX dimensions promise more than %llu elements", (unsigned long long)IDX_MAX_ELEMS);
            return -1;
        }
    }
    hd->count = count;
    if ((uint64_t)(n - hd->offset) < count) {
        snprintf(why, whyn, "truncated: %zu data bytes, the header promises %llu", n - hd->offset,
                 (unsigned long long)count);
        return -1;
    }
    return 0;
}

/* gunzip src into a buffer from alloc_fn (freed with free_fn on failure), at
 * most max_out bytes.  0 on success, -1 with why. */
static inline int ds_gunzip(const uint8_t *src, size_t n, size_t max_out, void *(*alloc_fn)(size_t),
                            void (*free_fn)(void *), uint8_t **out, size_t *out_n, char *why, size_t whyn) {
    *out = NULL;
    *out_n = 0;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        snprintf(why, whyn, "zlib init failed");
        return -1;
    }
    size_t cap = n * 4 + 1024, len = 0;
    if (cap > max_out) cap = max_out ? max_out : 1;
    uint8_t *buf = alloc_fn(cap);
    int rc = Z_OK;
    zs.next_in = (Bytef *)src;
    while (buf) {
        if (len == cap) {
            if (cap >= max_out) {
                snprintf(why, whyn, "decompresses to more than %zu bytes", max_out);
                break;
            }
            size_t ncap = cap * 2 > max_out ? max_out : cap * 2;
            uint8_t *nb = alloc_fn(ncap);
            if (!nb) break;
            memcpy(nb, buf, len);
            free_fn(buf);
            buf = nb;
            cap = ncap;
        }
        size_t in_left = n - (size_t)((const uint8_t *)zs.next_in - src);
        zs.avail_in = in_left > 0x40000000u ? 0x40000000u : (uInt)in_left;
        size_t out_left = cap - len;
        zs.next_out = buf + len;
        zs.avail_out = out_left > 0x40000000u ? 0x40000000u : (uInt)out_left;
        uInt before = zs.avail_out;
        rc = inflate(&zs, Z_NO_FLUSH);
        len += before - zs.avail_out;
        if (rc == Z_STREAM_END) {
            inflateEnd(&zs);
            *out = buf;
            *out_n = len;
            return 0;
        }
        if (rc != Z_OK && !(rc == Z_BUF_ERROR && zs.avail_out == 0)) {
            if (rc == Z_BUF_ERROR)
                snprintf(why, whyn, "truncated gzip stream (ends after %zu decompressed bytes)", len);
            else
                snprintf(why, whyn, "corrupt gzip data (%s)", zs.msg ? zs.msg : "inflate failed");
            break;
        }
    }
    if (!buf) snprintf(why, whyn, "out of memory while decompressing");
    inflateEnd(&zs);
    if (buf) free_fn(buf);
    return -1;
}

#endif
