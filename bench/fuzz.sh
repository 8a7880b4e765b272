#!/usr/bin/env bash
# Fuzzes each target for a set time and prints executions and findings. Usage: bench/fuzz.sh [SECONDS] [TARGET...]
# (default 60 seconds each; targets config, safetensors, gguf, place). The committed seed corpus is copied, never
# changed: new inputs go to build-fuzz/work/<target>/, findings (crash-*, leak-*, timeout-*, oom-*) to
# build-fuzz/findings/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config safetensors gguf place)
build=${MODELPLAN_FUZZ_BUILD:-build-fuzz}

fuzz/build.sh >/dev/null
export UBSAN_OPTIONS="suppressions=$PWD/fuzz/ubsan.supp:halt_on_error=1:print_stacktrace=1"

printf '%-12s %8s %14s %10s %8s %9s\n' target seconds executions exec/s corpus findings
for t in "${targets[@]}"; do
  work="$build/work/$t"
  findings="$build/findings/$t"
  mkdir -p "$work" "$findings"
  log="$build/fuzz-$t.log"
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=("-dict=fuzz/$t.dict")
  # Keep going after a finding so the time is used; each finding is written to $findings.
  set +e
  "$build/fuzz-$t" "$work" "fuzz/corpus/$t" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$findings/" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -rss_limit_mb=2048 \
    -timeout=10 >"$log" 2>&1
  set -e
  execs=$({ grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" || true; } | awk '{s += $2} END {print s + 0}')
  if [ "$execs" -eq 0 ]; then
    # -fork mode reports cumulative progress lines ("#31815: cov: ...") instead of final stats.
    execs=$({ grep -o '^#[0-9]*' "$log" || true; } | tail -1 | tr -d '#')
    execs=${execs:-0}
  fi
  count=$(find "$findings" -type f | wc -l)
  printf '%-12s %8s %14s %10s %8s %9s\n' "$t" "$seconds" "$execs" "$((execs / (seconds > 0 ? seconds : 1)))" \
    "$(ls "$work" | wc -l)" "$count"
done
echo "logs: $build/fuzz-<target>.log; findings: $build/findings/<target>/"
