#!/bin/bash
# bench/fashion_mnist_vs_torch.sh — the default recipe (recipes/fashion_mnist.ini) in
# cvnets and the same network, augmentation, optimizer, schedule, batch and epochs
# in PyTorch (bench/fashion_mnist_torch.py), one after the other on this machine:
# test accuracy, wall time, training img/s and peak RSS side by side.
# Measurements, never pass/fail criteria.
#
#   bench/fashion_mnist_vs_torch.sh                 # the recipe as it is (4 epochs, 60 000 images)
#   EPOCHS=1 N_TRAIN=6000 N_TEST=2000 WARMUP=20 bench/fashion_mnist_vs_torch.sh   # a quick look
# N_TRAIN / N_TEST take the first images of each split (bench/fmnist_subset.py);
# WARMUP overrides the recipe's 200 warmup iterations (needed when a short run has
# fewer steps than that).  Results: $OUT (default bench/results/fmnist-<time>/).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
SRC=${FMNIST:-/usr/share/datasets/fashion-mnist}
OUT=${OUT:-bench/results/fmnist-$(date -u +%Y%m%dT%H%M%SZ)}
RECIPE=recipes/fashion_mnist.ini
B=build/bin/cvnets
[ -x $B ] || { echo "fashion_mnist_vs_torch.sh: $B is missing; run make first" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd) # recipes resolve relative paths against their own folder
EPOCHS=${EPOCHS:-$(awk -F' *= *' '/^epochs/ {print $2; exit}' $RECIPE)}
WARMUP=${WARMUP:-$(awk -F' *= *' '/^warmup_iterations/ {print $2; exit}' $RECIPE)}
ROOT=$SRC
if [ -n "${N_TRAIN:-}" ] || [ -n "${N_TEST:-}" ]; then
    ROOT=$OUT/fashion-mnist-subset
    /usr/bin/python3 bench/fmnist_subset.py "$SRC" "$ROOT" "${N_TRAIN:-60000}" "${N_TEST:-10000}"
fi
echo "fashion_mnist_vs_torch.sh: $EPOCHS epochs, warmup $WARMUP, data $ROOT, $THREADS threads -> $OUT" >&2

load0=$(cut -d' ' -f1 /proc/loadavg)
/usr/bin/time -v $B train $RECIPE --set run.epochs="$EPOCHS" --set run.threads="$THREADS" \
    --set dataset.root="$ROOT" --set scheduler.warmup_iterations="$WARMUP" --out "$OUT/cvnets" \
    > "$OUT/cvnets.log" 2> "$OUT/cvnets.time"
load1=$(cut -d' ' -f1 /proc/loadavg)
jq -c --arg load "$load0 .. $load1" \
    --argjson rss "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$OUT/cvnets.time")" \
    'select(.type == "summary") + {side: "cvnets", loadavg: $load, peak_rss_mib: ($rss / 1024)}' \
    "$OUT/cvnets/metrics.jsonl" > "$OUT/summary.jsonl"
# training img/s of cvnets: images of all steps over the summed epoch times
jq -s '[.[] | select(.type == "epoch")] | {train_s: (map(.epoch_s) | add)}' "$OUT/cvnets/metrics.jsonl" > "$OUT/cvnets.train_s.json"

/usr/bin/python3 bench/fashion_mnist_torch.py --epochs "$EPOCHS" --threads "$THREADS" --root "$ROOT" \
    --warmup "$WARMUP" > "$OUT/torch.jsonl"
load2=$(cut -d' ' -f1 /proc/loadavg)
jq -c --arg load "$load1 .. $load2" 'select(.type == "summary") + {side: "torch", loadavg: $load}' \
    "$OUT/torch.jsonl" >> "$OUT/summary.jsonl"

train_s=$(jq .train_s "$OUT/cvnets.train_s.json")
jq -r -s --argjson cvtrain "$train_s" '
  "| | test top-1 % | best top-1 % | optimizer steps | wall s | training s | training img/s | peak RSS MiB | load avg |",
  "|---|---|---|---|---|---|---|---|---|",
  (.[] | "| \(.side) | \(.test_top1) | \(.best_top1) | \(.iterations) | \(.wall_s | round) | \((if .side == "cvnets" then $cvtrain else .train_s end) | round) | \(if .side == "cvnets" then ((.iterations * 128 / $cvtrain) * 10 | round) / 10 else .train_img_per_s end) | \(.peak_rss_mib | round) | \(.loadavg) |")
' "$OUT/summary.jsonl" | tee "$OUT/table.md"
