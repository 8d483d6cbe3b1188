#!/bin/bash
# test/gpu/train_check.sh — `cvnets train` end to end on the CUDA backend against device = ref: the
# recipe, trainer, checkpoints and evaluation through device buffers, on a CIFAR ResNet-20 at 16x16
# for two steps and an evaluation (recipes/bench/resnet20_cifar_28.ini, 32 synthetic samples), with
# NHWC activations (the default), with backend.layout = nchw, and in bf16 (NHWC activations stored
# in bf16 between kernels, ABI 1.4).  Prints one [PASS] / [FAIL] line.
#   test/gpu/train_check.sh CVNETS PLUGIN_DIR OUT_DIR MODE
# MODE emu (test/gpu/emulate.sh): the CUDA validation loss within 1e-3 of the reference's, and NHWC
# and NCHW identical (the emulated convolution sums in one order in both layouts); MODE gpu
# (test/gpu/run.sh): both within 1e-3 of the reference's (cuDNN picks its algorithms per layout).
# Either mode: bf16 within 1e-2 of the reference's.
set -u
cvnets=$1 plug=$2 out=$3 mode=$4
cd "$(dirname "$0")/../.."
root=$PWD
rc=0
train() { # name, then --set arguments
    local name=$1
    shift
    ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions="$root/test/lsan.supp":use_tls=0 \
        "$cvnets" train recipes/bench/resnet20_cifar_28.ini --plugin-path "$plug" --out "$out/train-$name" \
        --set dataset.length=32 --set sampler.batch_size=16 --set sampler.base_size=16 --set dataset.height=16 \
        --set dataset.width=16 --set run.eval_size=16 --set run.threads=1 "$@" > "$out/train-$name.log" 2>&1 ||
        { echo "train_check.sh: cvnets train ($name) failed:"; tail -5 "$out/train-$name.log"; rc=1; }
}
mkdir -p "$out"
train ref --set run.device=ref
train nhwc --set run.device=cuda
train nchw --set run.device=cuda --set backend.layout=nchw
train bf16 --set run.device=cuda --set run.precision=bf16
# python with the machine's own libraries, not those carried for our binaries
env -u LD_LIBRARY_PATH python3 - "$out" "$mode" <<'PY' || rc=1
import json, sys
def val_loss(name):
    try:
        for line in open(f"{sys.argv[1]}/train-{name}/metrics.jsonl"):
            r = json.loads(line)
            if r.get("type") == "epoch":
                return r["val_loss"]
    except (OSError, ValueError):
        pass
    return None
ref, nhwc, nchw, bf16 = (val_loss(n) for n in ("ref", "nhwc", "nchw", "bf16"))
close = lambda v, tol=1e-3: v is not None and ref is not None and abs(v - ref) <= tol * abs(ref)
ok = close(nhwc) and (nchw == nhwc if sys.argv[2] == "emu" else close(nchw)) and close(bf16, 1e-2)
print(f"[{'PASS' if ok else 'FAIL'}] cvnets train: validation loss {nhwc} (cuda, nhwc), {nchw} (cuda, nchw), "
      f"{bf16} (cuda, bf16), {ref} (ref)")
sys.exit(0 if ok else 1)
PY
exit $rc
