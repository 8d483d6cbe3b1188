/* test/fuzz/fuzz_image.c — libFuzzer driver for the image decoder of the
 * image_folder plugin (stb_image behind the stbi_info bound): any bytes must
 * give either an image within the pixel budget or an error, never a crash or
 * an allocation beyond the budget.
 * Build and run: test/fuzz/build.sh && build/fuzz/fuzz_image -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>

/* stb_image compiled in (not -lstb) so libFuzzer sees the decoder's coverage */
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#undef STB_IMAGE_IMPLEMENTATION
#include "../../plugins/datasets/image_decode.h"

static void *fz_alloc(size_t n) { return malloc(n ? n : 1); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char why[256];
    uint8_t *px;
    int w, h;
    for (int c = 1; c <= 3; c += 2)
        if (img_decode(data, size, c, 1 << 22, fz_alloc, &px, &w, &h, why, sizeof why) == 0) {
            if (w <= 0 || h <= 0 || (int64_t)w * h > (1 << 22)) abort();
            free(px);
        }
    return 0;
}
