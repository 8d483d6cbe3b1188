#!/usr/bin/env bash
# test/fuzz/build.sh — builds the libFuzzer drivers with clang into build/fuzz/.
#   test/fuzz/build.sh && build/fuzz/fuzz_idx -max_total_time=60 build/fuzz/corpus_idx
# Seeds: the corpus folders get a few valid files (a gzip'd Fashion-MNIST label
# file when Debian's dataset-fashion-mnist is installed) so mutations start from
# real structure.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/fuzz
mkdir -p "$out/corpus_idx" "$out/corpus_image"
flags="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isdk/include"
clang $flags -o "$out/fuzz_idx" test/fuzz/fuzz_idx.c -lz
clang $flags -o "$out/fuzz_image" test/fuzz/fuzz_image.c -lm
if [ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]; then
  head -c 4096 /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz > "$out/corpus_idx/labels.gz"
fi
printf '\0\0\x08\x01\0\0\0\x03\x01\x02\x03' > "$out/corpus_idx/tiny.idx"
find /usr/share/doc -name '*.png' -size -8k 2>/dev/null | head -5 | while read -r f; do cp "$f" "$out/corpus_image/"; done
find /usr/share/doc -name '*.jpg' -size -16k 2>/dev/null | head -3 | while read -r f; do cp "$f" "$out/corpus_image/"; done
echo "built $out/fuzz_idx and $out/fuzz_image"
