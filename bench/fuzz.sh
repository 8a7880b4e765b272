#!/usr/bin/env bash
# Fuzzes each target for a set time and prints executions and findings. Usage:
#   bench/fuzz.sh [SECONDS] [TARGET...]              default 60 seconds each, every target
#   bench/fuzz.sh --resource [SECONDS] [TARGET...]   the same under resource limits: an input that makes a run use
#                                                    more than 512 MB (-rss_limit_mb=512, -malloc_limit_mb=512) or
#                                                    take more than 2 s (-timeout=2) is a finding (oom-*, timeout-*)
# Targets: config, safetensors, gguf, place, options, device-map (docs/reliability.md, "Fuzzing"). One target runs
# at a time, with one worker (-fork=1). The committed seed corpus is copied, never changed: new inputs go to
# build-fuzz/work/<target>/, findings (crash-*, leak-*, timeout-*, oom-*) to build-fuzz/findings/<target>/. A
# finding does not stop the run (each is written and counted); the table counts each kind. MAX_LEN=N sets
# libFuzzer's -max_len (default: its own, 4096 or the largest seed). RUNS=N stops each target after about N
# executions (-runs=N; in fork mode libFuzzer stops at the end of the job that passes N) or at SECONDS, whichever
# comes first: RUNS=10000000 bench/fuzz.sh --resource 36000 runs each target for 10 million executions.
set -euo pipefail
cd "$(dirname "$0")/.."
resource=0
if [ "${1:-}" = "--resource" ]; then
  resource=1
  shift
fi
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config safetensors gguf place options device-map)
build=${MODELPLAN_FUZZ_BUILD:-build-fuzz}

fuzz/build.sh >/dev/null
export UBSAN_OPTIONS="suppressions=$PWD/fuzz/ubsan.supp:halt_on_error=1:print_stacktrace=1"

if [ "$resource" = 1 ]; then
  # Slow and large runs are written as timeout-*/oom-* and counted; the run goes on to find more.
  limits=(-rss_limit_mb=512 -malloc_limit_mb=512 -timeout=2)
else
  limits=(-rss_limit_mb=2048 -timeout=10)
fi
max_len=()
[ -n "${MAX_LEN:-}" ] && max_len=("-max_len=$MAX_LEN")
[ -n "${RUNS:-}" ] && max_len+=("-runs=$RUNS")

printf '%-12s %8s %14s %8s %7s %7s %6s %6s %6s\n' target seconds executions exec/s corpus crashes ooms slow leaks
for t in "${targets[@]}"; do
  work="$build/work/$t"
  findings="$build/findings/$t"
  mkdir -p "$work" "$findings"
  log="$build/fuzz-$t.log"
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=("-dict=fuzz/$t.dict")
  before=$(find "$findings" -type f | wc -l)
  start=$(date +%s)
  set +e
  "$build/fuzz-$t" "$work" "fuzz/corpus/$t" "${dict[@]}" "${max_len[@]}" -max_total_time="$seconds" \
    -print_final_stats=1 -artifact_prefix="$findings/" -fork=1 -ignore_crashes=1 -ignore_ooms=1 \
    -ignore_timeouts=1 "${limits[@]}" >"$log" 2>&1
  set -e
  elapsed=$(($(date +%s) - start))
  execs=$({ grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" || true; } | awk '{s += $2} END {print s + 0}')
  if [ "$execs" -eq 0 ]; then
    # -fork mode reports cumulative progress lines ("#31815: cov: ...") instead of final stats.
    execs=$({ grep -o '^#[0-9]*' "$log" || true; } | tail -1 | tr -d '#')
    execs=${execs:-0}
  fi
  printf '%-12s %8s %14s %8s %7s %7s %6s %6s %6s\n' "$t" "$elapsed" "$execs" \
    "$((execs / (elapsed > 0 ? elapsed : 1)))" "$(ls "$work" | wc -l)" \
    "$(find "$findings" -type f -name 'crash-*' | wc -l)" "$(find "$findings" -type f -name 'oom-*' | wc -l)" \
    "$(find "$findings" -type f \( -name 'timeout-*' -o -name 'slow-unit-*' \) | wc -l)" \
    "$(find "$findings" -type f -name 'leak-*' | wc -l)"
  after=$(find "$findings" -type f | wc -l)
  [ "$after" -eq "$before" ] || echo "  $((after - before)) new finding(s) in $findings/ (see $log)"
done
echo "logs: $build/fuzz-<target>.log; findings (all runs so far): $build/findings/<target>/"
