#!/bin/bash
# test/gpu/emulate.sh — run the CUDA tests (test_cuda, _bf16, _graph, _nhwc, _memory, _plugin) and a
# short `cvnets train` against a HOST EMULATION of the CUDA backend, on a machine without a GPU.
# The backend's .cu sources are rewritten by emu/transform.py (kernel launches become loops over
# blocks and threads on the CPU, 8 threads per block, real threads and a barrier where a kernel
# synchronises) and compiled with g++ against the stand-in headers in emu/include (host memory as
# device memory; cuBLAS / cuBLASLt GEMMs, cuDNN convolutions, batch norm and pooling by direct
# loops as documented, on f32 / f16 / bf16 buffers, NCHW or NHWC).  What this checks: the
# dispatcher, gathers / scatters, every own kernel's indexing and reductions, the library
# argument mapping and call wiring, graphs, layouts and workspaces, against the reference
# backend.  What it cannot check: real GPU execution (races at 256 threads, memory model, the
# libraries themselves, launch limits) — that is test/gpu/run.sh on a GPU.
#   test/gpu/emulate.sh          plain build
#   test/gpu/emulate.sh --asan   ASan + UBSan (uses build/asan's test binary)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
san="" b=build
if [ "${1:-}" = "--asan" ]; then san="-fsanitize=address,undefined -fno-omit-frame-pointer"; b=build/asan; fi
make ${san:+SAN=1} all "$b/test/test_cuda" "$b/test/test_cuda_plugin" "$b/test/test_cuda_bf16" "$b/test/test_cuda_graph" "$b/test/test_cuda_nhwc" "$b/test/test_cuda_memory" "$b/lib/cvnets/plugins/cvnets-backend-ref.so" "$b/lib/libcvnets-sdk.a" >/dev/null
emu="$root/build/emu${san:+-asan}"
rm -rf "$emu" && mkdir -p "$emu/src" "$emu/lib/cvnets/plugins"
python3 test/gpu/emu/transform.py plugins/backends/cuda "$emu/src"
for f in "$emu"/src/*.cpp; do
    g++ -std=c++20 -pthread -O1 -g $san -fPIC -fvisibility=hidden -w -Itest/gpu/emu/include -Isdk/include -I"$emu/src" \
        -c "$f" -o "${f%.cpp}.o"
done
gcc -std=c11 -O1 -g $san -fPIC -fvisibility=hidden -Itest/gpu/emu/include -Isdk/include -c "$emu/src/plugin.c" -o "$emu/src/plugin.o"
g++ -shared -pthread $san -o "$emu/lib/cvnets/plugins/cvnets-backend-cuda.so" "$emu"/src/*.o "$b/lib/libcvnets-sdk.a"
# the reference backend, and the model plugins test_cuda_nhwc runs the zoo with
cp "$b/lib/cvnets/plugins/cvnets-backend-ref.so" "$b"/lib/cvnets/plugins/cvnets-model-*.so "$emu/lib/cvnets/plugins/"
rc=0
# use_tls=0: the emulated plugin's thread_local kernel indices live in dynamic TLS, which LSan's
# tracer can misread and crash on (as with oneDNN in test_layout.c); nothing of ours is held there
for t in test_cuda test_cuda_bf16 test_cuda_graph test_cuda_nhwc test_cuda_memory test_cuda_plugin; do
    CVNETS_BUILD="$emu" CVNETS_SRC="$root" ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions="$root/test/lsan.supp":use_tls=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$b/test/$t" --jobs 1 || rc=1
done

# End to end: `cvnets train` (recipe, trainer, checkpoints and evaluation through device
# buffers) of a CIFAR ResNet-20 at 16x16 for 2 steps and an evaluation on the emulated backend
# against device = ref, and the emulated backend with layout = nchw against its NHWC default
# (bit-identical here: the emulated convolution sums in the same order in both layouts).
plug="$emu/all-plugins"
mkdir -p "$plug"
cp "$b"/lib/cvnets/plugins/*.so "$plug"/
cp "$emu/lib/cvnets/plugins/cvnets-backend-cuda.so" "$plug"/
bash test/gpu/train_check.sh "$b/bin/cvnets" "$plug" "$emu" emu || rc=1
exit $rc
