#!/bin/bash
# test/gpu/run.sh — the prepared GPU check of the CUDA backend, for a session that
# has a CUDA machine (see doc/backend-cuda.md, "GPU check").  Two halves:
#
#   test/gpu/run.sh --prepare      HERE (no GPU needed): make CUDA=1, the test binary,
#                                  and gpu-carry/ (ignored by .gitignore): the build
#                                  tree the device needs plus the Debian shared
#                                  libraries it lacks (inih, stb, criterion and deps)
#   test/gpu/run.sh OUTDIR         ON THE GPU MACHINE, e.g. through the device tool:
#                                  run(command="bash test/gpu/run.sh $OUT", carry=["gpu-carry"],
#                                      timeout_s=540)
#
# On the GPU machine it (1) runs build/test/test_cuda (+ test_cuda_bf16, test_cuda_graph, test_cuda_nhwc, test_cuda_memory, test_cuda_plugin): every op
# kind, forward and backward, against the reference backend on fresh random inputs, and the
# bf16 / fp16 convolutions and matmuls, CUDA graphs against kernel by kernel, NHWC networks against the
# reference and against NCHW (test_cuda_nhwc), and a short cvnets train against device = ref
# (train_check.sh); (2) runs 50 training steps of ResNet-50 and MobileNetV2
# at 224x224 through `cvnets bench` on the bench recipes with device = cuda (synthetic data),
# in fp32 and in bf16 (--set run.precision=bf16), plus MobileNetV2 without graphs and ResNet-50 bf16 with
# layout = nchw and with its NHWC activations kept f32 (CVNETS_LAYOUT=f32); (3) times the same torchvision models in
# PyTorch in the same run (eager fp32, eager bf16 autocast, torch.compile fp32; channels-last);
# prints a short table last and writes everything to OUTDIR (8 files at most, the device
# tool's limit).  Each part has its own time limit, and the cvnets runs share a deadline, so
# the whole run ends within 8 minutes.  cuDNN, cuBLAS and NCCL come from the PyTorch environment's
# nvidia-* packages there (LD_LIBRARY_PATH of our binaries only); nothing is fetched.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
BATCH=${BATCH:-64}
SIZE=${SIZE:-224}
STEPS=${STEPS:-50}

if [ "${1:-}" = "--prepare" ]; then
    set -e
    make -j2 CUDA=1 all build/test/test_cuda build/test/test_cuda_bf16 build/test/test_cuda_graph build/test/test_cuda_nhwc build/test/test_cuda_memory build/test/test_cuda_plugin
    rm -rf gpu-carry
    mkdir -p gpu-carry/build/bin gpu-carry/build/lib/cvnets/plugins gpu-carry/build/test gpu-carry/lib
    cp build/bin/cvnets gpu-carry/build/bin/
    cp build/test/test_cuda build/test/test_cuda_bf16 build/test/test_cuda_graph build/test/test_cuda_nhwc build/test/test_cuda_memory build/test/test_cuda_plugin gpu-carry/build/test/
    # every plugin but the two that need oneDNN / OpenMPI (not on the GPU machine, too big to carry)
    for so in build/lib/cvnets/plugins/*.so; do
        case "$so" in *backend-cpu.so|*comm-mpi.so) continue ;; esac
        cp "$so" gpu-carry/build/lib/cvnets/plugins/
    done
    strip --strip-debug gpu-carry/build/bin/cvnets gpu-carry/build/test/test_cuda* gpu-carry/build/lib/cvnets/plugins/*.so
    # Debian libraries they link, except glibc's and CUDA's (present there)
    for f in gpu-carry/build/bin/cvnets gpu-carry/build/test/test_cuda* gpu-carry/build/lib/cvnets/plugins/*.so; do
        ldd "$f" | awk '$3 ~ /^\// {print $3}'
    done | sort -u | while read -r lib; do
        case "$(basename "$lib")" in
            libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libresolv.so*|libgcc_s.so*|libstdc++.so*) ;;
            libcud*|libcublas*|libnccl*|ld-linux*) ;;
            *) cp -L "$lib" gpu-carry/lib/ ;;
        esac
    done
    du -sh gpu-carry
    echo "prepared: now run  bash test/gpu/run.sh \$OUT  on the GPU machine with carry [\"gpu-carry\"]"
    exit 0
fi

out=${1:?usage: test/gpu/run.sh OUTDIR   (or --prepare, here)}
mkdir -p "$out"
t_start=$(date +%s)
log() { echo "[$(( $(date +%s) - t_start ))s] $*"; }

# ---- libraries: carried Debian ones, then CUDA's from the PyTorch environment -------------
nv=$(python3 -c 'import os, nvidia; d = list(nvidia.__path__)[0]; print(":".join(sorted(os.path.join(d, p, "lib") for p in os.listdir(d) if os.path.isdir(os.path.join(d, p, "lib")))))' 2>/dev/null)
# carried Debian libraries only where the machine lacks that soname (its own are newer), and
# only for our binaries: Python keeps the machine's libraries
cvlibs=$(mktemp -d)
have=$(ldconfig -p 2>/dev/null | awk 'NR > 1 {print $1}')
for f in "$here"/gpu-carry/lib/*; do
    grep -qx "$(basename "$f")" <<<"$have" || ln -s "$f" "$cvlibs/"
done
export CV_LD="$cvlibs:${nv}:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
cv() { LD_LIBRARY_PATH="$CV_LD" "$@"; }
export CVNETS_BUILD="$here/gpu-carry/build" CVNETS_SRC="$here"
[ -x "$CVNETS_BUILD/bin/cvnets" ] || { echo "no gpu-carry/build: run test/gpu/run.sh --prepare first (here) and carry gpu-carry"; exit 2; }
{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    python3 -c 'import torch; print("torch", torch.__version__, "cudnn", torch.backends.cudnn.version())'
    echo "our LD_LIBRARY_PATH=$CV_LD"; echo "carried libraries used: $(ls "$cvlibs" | tr '\n' ' ')"
    cv ldd "$CVNETS_BUILD/lib/cvnets/plugins/cvnets-backend-cuda.so" "$CVNETS_BUILD/test/test_cuda" | grep -E "cud|cublas|criterion|not found"
} > "$out/env.txt" 2>&1
cat "$out/env.txt"

# ---- 1. every op kind against the reference ------------------------------------------------
log "test_cuda (every op vs the CPU reference)"
cv timeout 90 "$CVNETS_BUILD/test/test_cuda" --verbose --jobs 1 > "$out/test_cuda.txt" 2>&1
test_rc=$?
cv timeout 30 "$CVNETS_BUILD/test/test_cuda_bf16" --verbose --jobs 1 >> "$out/test_cuda.txt" 2>&1 || test_rc=$((test_rc + 1000))
cv timeout 30 "$CVNETS_BUILD/test/test_cuda_graph" --verbose --jobs 1 >> "$out/test_cuda.txt" 2>&1 || test_rc=$((test_rc + 10000))
cv timeout 120 "$CVNETS_BUILD/test/test_cuda_nhwc" --verbose --jobs 1 >> "$out/test_cuda.txt" 2>&1 || test_rc=$((test_rc + 100000))
cv timeout 30 "$CVNETS_BUILD/test/test_cuda_memory" --verbose --jobs 1 >> "$out/test_cuda.txt" 2>&1 || test_rc=$((test_rc + 1000000))
cv timeout 30 "$CVNETS_BUILD/test/test_cuda_plugin" --verbose --jobs 1 >> "$out/test_cuda.txt" 2>&1 || test_rc=$((test_rc + 100))
grep -E "^\[FAIL|Synthesis" "$out/test_cuda.txt" | tail -40
echo "$(grep -c '^\[SKIP' "$out/test_cuda.txt") tests skipped"
test_summary=$(grep -E "Synthesis" "$out/test_cuda.txt" | sed 's/.*Synthesis: //' | paste -sd ';' -)

# ---- 1b. cvnets train end to end on the GPU against device = ref (two steps and an evaluation) -------
log "cvnets train: cuda (nhwc, nchw) against ref"
trains=$(mktemp -d)
cv timeout 90 bash "$here/test/gpu/train_check.sh" "$CVNETS_BUILD/bin/cvnets" "$CVNETS_BUILD/lib/cvnets/plugins" "$trains" gpu \
    > "$trains/check.txt" 2>&1
echo "rc=$?" >> "$trains/check.txt"
cat "$trains/check.txt"
train_check=$(grep -E "^\[(PASS|FAIL)\]" "$trains/check.txt" | tail -1)
{ echo "== train_check"; cat "$trains/check.txt" "$trains"/train-*.log; } >> "$out/test_cuda.txt" 2>/dev/null
rm -rf "$trains"

# ---- 2. cvnets bench on the GPU, fp32 and bf16 --------------------------------------------------
# each run is capped, and all of them end by t = 340 s so the PyTorch peer keeps >= 120 s
runs=$(mktemp -d)
bench() { # name recipe cap_seconds precision [more --set arguments]
    local left=$(( 340 - ($(date +%s) - t_start) )) cap=$3
    [ "$left" -lt "$cap" ] && cap=$left
    [ "$cap" -lt 20 ] && cap=20
    log "cvnets bench $1 $4 (${SIZE}x${SIZE}, batch $BATCH, $STEPS steps, device cuda, ${cap}s)"
    CVNETS_LOG=debug cv timeout "$cap" "$CVNETS_BUILD/bin/cvnets" bench "$2" --steps "$STEPS" --json --plugin-path "$CVNETS_BUILD/lib/cvnets/plugins" \
        --set run.device=cuda --set run.precision="$4" --set sampler.base_size="$SIZE" --set sampler.batch_size="$BATCH" \
        --set dataset.height="$SIZE" --set dataset.width="$SIZE" --set run.eval_size="$SIZE" "${@:5}" \
        > "$runs/$1_$4.json" 2> "$runs/$1_$4.log"
    echo "rc=$?" >> "$runs/$1_$4.log"
    grep -v "^\[host\] loaded" "$runs/$1_$4.log" | tail -3
    { echo "== $1 $4"; cat "$runs/$1_$4.log"; } >> "$out/cvnets.log"
}
# the first steps include cuDNN's algorithm search for every convolution shape (and data type)
bench resnet50 recipes/bench/resnet50_128.ini 110 fp32
bench resnet50 recipes/bench/resnet50_128.ini 110 bf16
bench mobilenetv2 recipes/bench/mobilenetv2_128.ini 80 fp32
bench mobilenetv2 recipes/bench/mobilenetv2_128.ini 80 bf16
# the same without CUDA graphs (kernel by kernel): what replaying the recorded step saves
bench mobilenetv2-nographs recipes/bench/mobilenetv2_128.ini 50 fp32 --set backend.graphs=false
# ResNet-50 bf16 with NCHW activations throughout: what channels-last (the default) saves
bench resnet50-nchw recipes/bench/resnet50_128.ini 50 bf16 --set backend.layout=nchw
# ResNet-50 bf16, NHWC activations kept in f32 between kernels: what the 16-bit storage (ABI 1.4) saves
CVNETS_LAYOUT=f32 bench resnet50-f32store recipes/bench/resnet50_128.ini 50 bf16
# one line per run: {"model", "precision", "result": cvnets bench's JSON or null, "device_peak_mib": the
# backend allocator's peak (its debug line at exit, CVNETS_LOG=debug) or null}
python3 - "$runs" > "$out/cvnets.jsonl" <<'PY'
import glob, json, os, re, sys
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    model, prec = os.path.basename(f)[:-5].rsplit("_", 1)
    try:
        res = json.load(open(f))
    except ValueError:
        res = None
    peaks = re.findall(r"allocator peak ([0-9.]+) MiB", open(f[:-5] + ".log", errors="replace").read())
    print(json.dumps({"model": model, "precision": prec, "result": res,
                      "device_peak_mib": float(peaks[-1]) if peaks else None}))
PY
rm -rf "$runs"

# ---- 3. PyTorch peer in the same run -----------------------------------------------------------
left=$(( 460 - ($(date +%s) - t_start) ))
[ "$left" -lt 30 ] && left=30
log "PyTorch peer (eager fp32, eager bf16, torch.compile fp32), ${left}s left"
timeout "$left" python3 "$here/test/gpu/torch_peer.py" --models resnet50,mobilenet_v2 --size "$SIZE" --batch "$BATCH" \
    --steps "$STEPS" --deadline $(( left - 70 > 10 ? left - 70 : 10 )) > "$out/torch.jsonl" 2> "$out/torch.log"
echo "rc=$?" >> "$out/torch.log"

# ---- the table (last) ----------------------------------------------------------------------------
python3 - "$out" "$test_summary" "$test_rc" "${train_check:-[FAIL] cvnets train: no result}" > "$out/summary.txt" <<'PY'
import json, os, sys
out, summary, rc = sys.argv[1], sys.argv[2], sys.argv[3]
rows = []
labels = {"resnet50": "resnet50", "mobilenetv2": "mobilenet_v2", "mobilenetv2-nographs": "mobilenet_v2",
          "resnet50-nchw": "resnet50", "resnet50-f32store": "resnet50"}
suffix = {"-nographs": " no graph", "-nchw": " nchw", "-f32store": " f32 store"}
done = {}
try:
    for line in open(os.path.join(out, "cvnets.jsonl")):
        r = json.loads(line)
        done[(r["model"], r["precision"])] = r
except (OSError, ValueError):
    pass
for name, prec in (("resnet50", "fp32"), ("resnet50", "bf16"), ("mobilenetv2", "fp32"), ("mobilenetv2", "bf16"),
                   ("mobilenetv2-nographs", "fp32"), ("resnet50-nchw", "bf16"), ("resnet50-f32store", "bf16")):
    mode = f"cuda {prec}" + next((v for k, v in suffix.items() if name.endswith(k)), "")
    try:
        run = done[(name, prec)]
        s = run["result"]["shapes"][0]
        peak = (f'{run["device_peak_mib"]:.0f}' if run.get("device_peak_mib") is not None
                else f'{s["peak_bytes"] / 2**20:.0f} (plan)')
        rows.append(("cvnets", labels[name], mode, f'{s["img_per_s"]:.1f}', peak))
    except Exception:
        rows.append(("cvnets", labels[name], mode, "failed", "see cvnets.log"))
n_torch = 0
try:
    for line in open(os.path.join(out, "torch.jsonl")):
        n_torch += 1
        r = json.loads(line)
        if "img_per_s" in r:
            rows.append(("torch", r["model"], r["mode"], f'{r["img_per_s"]:.1f}', f'{r["peak_mib"]:.0f}'))
        else:
            rows.append(("torch", r["model"], r["mode"], r.get("skipped") or "failed", (r.get("error") or "")[:40]))
except (OSError, ValueError):
    pass
if not n_torch:
    rows.append(("torch", "-", "-", "failed", "see torch.log"))
print(f"test_cuda: {summary or 'no summary'} (exit {rc})")
print(sys.argv[4])
print(f'{"framework":10} {"model":13} {"mode":18} {"img/s":>10} {"peak MiB":>14}')
for r in rows:
    print(f"{r[0]:10} {r[1]:13} {r[2]:18} {r[3]:>10} {r[4]:>14}")
PY
log "done; full results in $out"
cat "$out/summary.txt"
