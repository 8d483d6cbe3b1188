#!/bin/bash
# bench/vs_torch.sh — cvnets vs PyTorch (Debian's python3-torch) on this machine, in one
# run: full training steps (forward + cross-entropy + backward + SGD momentum) and
# inference forwards of ResNet-18 and ResNet-50 (128x128, batch 32), MobileNetV2-1.0
# (128x128, batch 32) and the CIFAR ResNet-20 (28x28x1, batch 128), float32, the same
# thread count, random data.  Each repeat runs every (workload, mode) for cvnets and
# then for the peer, alternately, one process each (so each peak RSS belongs to one
# configuration); every process times single steps and reports its median; the table
# gives the median over repeats.  Also measures the machine's fp32 FMA peak (bench/
# peak.c) once per repeat and reports achieved GFLOP/s as a fraction of it.
# Timings are measurements, never pass/fail criteria.
#
#   bench/vs_torch.sh                       # 3 repeats, 5 timed steps after 2 warm-up
#   REPEATS=5 STEPS=7 WORKLOADS="resnet18 cifar_resnet20" MODES=train bench/vs_torch.sh
#
# Needs `make` (build/bin/cvnets, the plugins, build/lib/libcvnets-core.a) and
# `make bench-deps` (python3-torch, python3-torchvision).  Results: $OUT (default
# bench/results/vs_torch-<time>/): raw.jsonl (one line per process) and table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REPEATS=${REPEATS:-3}
STEPS=${STEPS:-5}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
WORKLOADS=${WORKLOADS:-"resnet18 resnet50 mobilenet_v2 cifar_resnet20"}
MODES=${MODES:-"train infer"}
OUT=${OUT:-bench/results/vs_torch-$(date -u +%Y%m%dT%H%M%SZ)}
PY=/usr/bin/python3
mkdir -p "$OUT/bin"

for f in build/bin/cvnets build/lib/libcvnets-core.a build/lib/cvnets/plugins/cvnets-backend-cpu.so \
         build/lib/cvnets/plugins/cvnets-model-resnet_cifar.so; do
    [ -e "$f" ] || { echo "vs_torch.sh: $f is missing; run make first" >&2; exit 1; }
done
$PY -c 'import torch, torchvision' 2>/dev/null ||
    { echo "vs_torch.sh: $PY cannot import torch/torchvision; run make bench-deps" >&2; exit 1; }

gcc -O2 -mavx512f -mavx512bf16 -fopenmp -o "$OUT/bin/peak" bench/peak.c
gcc -std=c11 -D_GNU_SOURCE -O2 -Isdk/include -Icore -pthread -rdynamic -o "$OUT/bin/step_timer" \
    bench/step_timer.c build/lib/libcvnets-core.a -linih -lstb -lz -ldl -lm -pthread
export CVNETS_PLUGIN_PATH=$ROOT/build/lib/cvnets/plugins

# workload -> recipe, peer model name, size, batch
recipe_of() { case $1 in
    resnet18) echo recipes/bench/resnet18_128.ini ;;
    resnet50) echo recipes/bench/resnet50_128.ini ;;
    mobilenet_v2) echo recipes/bench/mobilenetv2_128.ini ;;
    cifar_resnet20) echo recipes/bench/resnet20_cifar_28.ini ;;
    *) echo "vs_torch.sh: unknown workload $1" >&2; exit 2 ;;
esac; }
size_of() { [ "$1" = cifar_resnet20 ] && echo 28 || echo 128; }
batch_of() { [ "$1" = cifar_resnet20 ] && echo 128 || echo 32; }

RAW=$OUT/raw.jsonl
: > "$RAW"
# tag LINE with side/workload/mode/repeat and the load average, append to raw.jsonl
record() { jq -c --arg side "$1" --arg wl "$2" --arg mode "$3" --argjson rep "$4" \
    --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    '. + {side: $side, workload: $wl, mode: $mode, repeat: $rep, loadavg: $load}' >> "$RAW"; }

for wl in $WORKLOADS; do
    r=$(recipe_of "$wl")
    build/bin/cvnets summary "$r" --json | jq -c --arg wl "$wl" '{side: "summary", workload: $wl, macs, params}' >> "$RAW"
done

echo "vs_torch.sh: $REPEATS repeats x {$WORKLOADS} x {$MODES}, $WARMUP+$STEPS steps, $THREADS threads -> $OUT" >&2
for rep in $(seq 1 "$REPEATS"); do
    "$OUT/bin/peak" "$THREADS" | jq -c --argjson rep "$rep" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
        '. + {side: "peak", repeat: $rep, loadavg: $load}' >> "$RAW"
    for wl in $WORKLOADS; do
        for mode in $MODES; do
            "$OUT/bin/step_timer" "$(recipe_of "$wl")" --mode "$mode" --steps "$STEPS" --warmup "$WARMUP" \
                --set run.threads="$THREADS" | record cvnets "$wl" "$mode" "$rep"
            OPENBLAS_CORETYPE=SkylakeX $PY bench/torch_train_step.py --model "$wl" --size "$(size_of "$wl")" \
                --batch "$(batch_of "$wl")" --mode "$mode" --steps "$STEPS" --warmup "$WARMUP" \
                --threads "$THREADS" | record torch "$wl" "$mode" "$rep"
            echo "  repeat $rep $wl $mode done ($(cut -d' ' -f1 /proc/loadavg) load)" >&2
        done
    done
done

$PY bench/vs_torch_table.py "$RAW" | tee "$OUT/table.md"
