#!/bin/bash
# bench/samplers.sh — the paper's Table 5 pattern on this CPU: the same small
# network (recipes/bench/samplers_fmnist64.ini: CIFAR ResNet-8, width 8) trained for
# the same epochs on the same Fashion-MNIST subset, upscaled by the resize
# transform to the sampler's size, with ssc_fbs, msc_fbs and msc_vbs, and msc_vbs
# with SET on.  Reports planned peak memory (`cvnets plan --json`: the largest
# step's activations + workspace, and params/grads/state; also with
# backend.conv_algorithm = direct, as Winograd's workspace does not scale with the
# image), the largest peak_bytes
# the trainer logged (metrics.jsonl), wall time, optimizer updates, samples SET
# left out and test accuracy.  Measurements, never pass/fail criteria.
#
# Defaults are sized to run in minutes on 2 loaded cores: 2000 training / 500
# test images, 4 epochs, base 32 px with scales 16-48.  The issue's setting:
#   BASE=64 MIN=32 MAX=96 CHECK=16 N_TRAIN=60000 N_TEST=10000 EPOCHS=10 bench/samplers.sh
# Results: $OUT (default bench/results/samplers-<time>/): one run folder per
# configuration and table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
N_TRAIN=${N_TRAIN:-2000}
N_TEST=${N_TEST:-500}
EPOCHS=${EPOCHS:-4}
BASE=${BASE:-32}
MIN=${MIN:-16}
MAX=${MAX:-48}
CHECK=${CHECK:-8}
BATCH=${BATCH:-64}
CONFIGS=${CONFIGS:-"ssc_fbs msc_fbs msc_vbs msc_vbs+set"}
OUT=${OUT:-bench/results/samplers-$(date -u +%Y%m%dT%H%M%SZ)}
SRC=${FMNIST:-/usr/share/datasets/fashion-mnist}
B=build/bin/cvnets
RECIPE=recipes/bench/samplers_fmnist64.ini
[ -x $B ] || { echo "samplers.sh: $B is missing; run make first" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd) # recipes resolve relative paths against their own folder
DATA=$OUT/fashion-mnist-$N_TRAIN-$N_TEST
/usr/bin/python3 bench/fmnist_subset.py "$SRC" "$DATA" "$N_TRAIN" "$N_TEST"
# ssc_fbs takes none of the multi-scale keys: a copy of the recipe without them
SSC_RECIPE=$OUT/samplers_ssc.ini
grep -Ev '^(min_size|max_size|scales|check_scale) *=' $RECIPE > "$SSC_RECIPE"

COMMON=(--set dataset.root="$DATA" --set run.epochs="$EPOCHS" --set sampler.base_size="$BASE"
        --set sampler.batch_size="$BATCH" --set run.eval_size="$BASE" --set run.log_every=1)
MSC=(--set sampler.min_size="$MIN" --set sampler.max_size="$MAX" --set sampler.check_scale="$CHECK")
SUMMARY=$OUT/summary.jsonl
: > "$SUMMARY"
echo "samplers.sh: $N_TRAIN train / $N_TEST test images, $EPOCHS epochs, base $BASE ($MIN-$MAX), batch $BATCH -> $OUT" >&2
for cfg in $CONFIGS; do
    sampler=${cfg%+set}
    set_on=false; [ "$cfg" != "$sampler" ] && set_on=true
    args=("${COMMON[@]}" --set sampler.name="$sampler" --set set.enable="$set_on")
    recipe=$RECIPE
    if [ "$sampler" = ssc_fbs ]; then recipe=$SSC_RECIPE; else args+=("${MSC[@]}"); fi
    load0=$(cut -d' ' -f1 /proc/loadavg)
    $B plan "$recipe" "${args[@]}" --json > "$OUT/$cfg.plan.json"
    # the same plan with direct convolutions only: the CPU backend's default may
    # pick Winograd, whose workspace does not scale with the image size
    $B plan "$recipe" "${args[@]}" --set backend.conv_algorithm=direct --json > "$OUT/$cfg.plan-direct.json"
    /usr/bin/time -v $B train "$recipe" "${args[@]}" --out "$OUT/$cfg" > "$OUT/$cfg.log" 2> "$OUT/$cfg.time" ||
        { echo "samplers.sh: $cfg failed; see $OUT/$cfg.log and $OUT/$cfg.time" >&2; exit 1; }
    rss_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$OUT/$cfg.time")
    m=$OUT/$cfg/metrics.jsonl
    jq -c -n --arg cfg "$cfg" --arg load "$load0 .. $(cut -d' ' -f1 /proc/loadavg)" --argjson rss "$rss_kib" \
        --slurpfile plan "$OUT/$cfg.plan.json" --slurpfile direct "$OUT/$cfg.plan-direct.json" --slurpfile m "$m" '
        ($m | map(select(.type == "summary")) | .[0]) as $s |
        { config: $cfg, loadavg: $load,
          plan_peak_bytes: $plan[0].peak_bytes, plan_param_bytes: $plan[0].param_bytes,
          plan_direct_peak_bytes: $direct[0].peak_bytes,
          plan_steps_per_epoch: $plan[0].steps_per_epoch, shapes: [$plan[0].shapes[] | "\(.h)x\(.w)/\(.batch)"],
          logged_peak_bytes: ([$m[] | select(.type == "step") | .peak_bytes // 0] | max),
          rss_kib: $rss, wall_s: $s.wall_s, updates: $s.iterations, test_top1: $s.test_top1,
          best_top1: $s.best_top1,
          left_out: ([$m[] | select(.type == "epoch") | .set_left_out // 0] | add) }' >> "$SUMMARY"
    echo "  $cfg: $(tail -1 "$SUMMARY")" >&2
done

jq -r -s '
  (map(select(.config == "ssc_fbs")) | .[0]) as $ref |
  def rel(x; y): if y and y > 0 then " (\((x / y * 100 | round) / 100)x)" else "" end;
  "| sampler | SET | shapes (h x w / batch) | planned peak MiB (activations + workspace) | same, direct convolutions | logged peak MiB | params+grads+state MiB | peak RSS MiB | optimizer updates | sample-epochs left out | wall s | test top-1 % |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|",
  (.[] | "| \(.config | sub("\\+set"; "")) | \(if (.config | test("\\+set")) then "on" else "off" end) | \(.shapes | join(" ")) | \((.plan_peak_bytes / 1048576 * 10 | round) / 10)\(rel(.plan_peak_bytes; $ref.plan_peak_bytes)) | \((.plan_direct_peak_bytes / 1048576 * 10 | round) / 10)\(rel(.plan_direct_peak_bytes; $ref.plan_direct_peak_bytes)) | \((.logged_peak_bytes / 1048576 * 10 | round) / 10) | \((.plan_param_bytes / 1048576 * 100 | round) / 100) | \((.rss_kib / 1024) | round) | \(.updates)\(rel(.updates; $ref.updates)) | \(.left_out) | \(.wall_s | round)\(rel(.wall_s; $ref.wall_s)) | \(.test_top1) |")
' "$SUMMARY" | tee "$OUT/table.md"
echo "load average during the runs: $(jq -r -s 'map(.loadavg) | join(", ")' "$SUMMARY")" | tee -a "$OUT/table.md"
