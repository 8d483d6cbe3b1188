/* test/fuzz/fuzz_idx.c — libFuzzer driver for the IDX reader: the input is
 * tried as a gzip stream (then parsed) and as a raw IDX buffer with 1 and 3
 * dimensions, exactly as the mnist / fashion_mnist plugins read their files.
 * Build and run: test/fuzz/build.sh && build/fuzz/fuzz_idx -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>

#include "../../plugins/datasets/idx.h"

static void *fz_alloc(size_t n) { return malloc(n ? n : 1); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char why[256];
    idx_header hd;
    for (int dims = 1; dims <= 3; dims += 2)
        if (idx_parse(data, size, dims, &hd, why, sizeof why) == 0) {
            volatile uint8_t last = data[hd.offset + hd.count - 1]; /* the promised bytes are there */
            (void)last;
        }
    uint8_t *out;
    size_t n;
    if (ds_gunzip(data, size, 1 << 24, fz_alloc, free, &out, &n, why, sizeof why) == 0) {
        idx_parse(out, n, 3, &hd, why, sizeof why);
        free(out);
    }
    return 0;
}
