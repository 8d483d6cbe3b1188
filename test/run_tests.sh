#!/usr/bin/env bash
# test/run_tests.sh BUILD "ENV…" TEST… — runs each Criterion test binary and prints one
# summary line in Criterion's format for all of them (the per-binary lines stay above).
set -u
build=$1; envs=$2; shift 2
passed=0; failed=0; crashed=0; total=0; bad=()
for t in "$@"; do
  out=$(env $envs "$t" --jobs 1 2>&1); rc=$?
  printf '%s\n' "$out" | grep -E '^\[(====|FAIL|----)\]|^\[====\] Synthesis' | grep -v '^\[----\] *$' >&2 || true
  line=$(printf '%s\n' "$out" | grep -E 'Synthesis: Tested: [0-9]+' | tail -1)
  if [ -z "$line" ]; then printf '%s\n' "$out" | tail -30 >&2; failed=$((failed+1)); bad+=("$t (no summary)"); continue; fi
  n=$(sed -E 's/.*Tested: ([0-9]+).*/\1/' <<<"$line"); p=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$line")
  f=$(sed -E 's/.*Failing: ([0-9]+).*/\1/' <<<"$line"); c=$(sed -E 's/.*Crashing: ([0-9]+).*/\1/' <<<"$line")
  total=$((total+n)); passed=$((passed+p)); failed=$((failed+f)); crashed=$((crashed+c))
  if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then bad+=("$t"); printf '%s\n' "$out" | grep -E 'FAIL|Assertion|error' | head -40 >&2; fi
done
echo "[====] Synthesis ($build): Tested: $total | Passing: $passed | Failing: $failed | Crashing: $crashed"
if [ ${#bad[@]} -ne 0 ]; then echo "failed: ${bad[*]}"; exit 1; fi
exit 0
