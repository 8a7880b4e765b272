#!/usr/bin/env bash
# Distributed loading on this machine (docs/loading.md, "Distributed loading"): a synthetic Llama-shaped sharded
# checkpoint (bench/load-make-checkpoint.py; default 20 layers, hidden 2048: 2.5 GiB BF16), loaded by T = 1, 2, 4
# ranks over 127.0.0.1 (modelplan load --nproc T, Gloo), with the files in the page cache. For each T, best of
# RUNS (default 3) launches of:
#   sliced          each rank reads its slices, one read per run (the default)
#   sliced+min-run  runs shorter than 1 MiB read with their neighbours (--min-run 1MiB)
#   read-once       whole tensors read by one rank each, broadcast over Gloo (--read-once)
#   whole x T       the baseline: T processes at once, each loading the whole checkpoint (plain modelplan load)
# and, once, cat of the shards to /dev/null. Prints per-rank bytes read (loader counters and /proc/self/io),
# per-rank and total throughput, wall time, peak RSS per rank, and the ratios.
# Usage: bench/dist-load-bench.sh [--layers N] [--runs N] [--keep]   (needs build-torch/: scripts/test-torch.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
layers=20
runs=3
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --layers) layers=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: bench/dist-load-bench.sh [--layers N] [--runs N] [--keep]" >&2; exit 2 ;;
  esac
done
bin=build-torch/native/modelplan
[ -x "$bin" ] || { echo "build first: scripts/test-torch.sh (or cmake --build build-torch)" >&2; exit 2; }
py=/usr/bin/python3 # Debian's python3-torch writes the checkpoint
dir=$(mktemp -d "${BENCH_DIR:-$PWD/build-torch}/dist-bench.XXXXXX")
out=$(mktemp)
cleanup() { rm -f "$out"; [ "$keep" = 1 ] && echo "kept $dir" || rm -rf "$dir"; }
trap cleanup EXIT
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "== writing the checkpoint ($layers layers)"
$py bench/load-make-checkpoint.py "$dir" --layers "$layers"
shards=("$dir"/model-*.safetensors)
bytes=$(cat "${shards[@]}" | wc -c)
for i in 1 2; do cat "${shards[@]}" >/dev/null; done
now() { date +%s.%N; }
elapsed() { printf '%.6f' "$(echo "$2 - $1" | bc -l)"; } # JSON needs the leading zero

cat_s=$(for i in $(seq "$runs"); do t0=$(now); cat "${shards[@]}" >/dev/null; t1=$(now); elapsed "$t0" "$t1"; echo; done | sort -g | head -1)
echo "{\"kind\": \"cat\", \"seconds\": $cat_s}" >>"$out"

for t in 1 2 4; do
  for variant in sliced min-run read-once whole; do
    for i in $(seq "$runs"); do
      t0=$(now)
      case $variant in
        sliced) json=$("$bin" load "$dir" --nproc "$t" --device cpu --json) ;;
        min-run) json=$("$bin" load "$dir" --nproc "$t" --device cpu --min-run 1MiB --json) ;;
        read-once) json=$("$bin" load "$dir" --nproc "$t" --device cpu --read-once --json) ;;
        whole)
          json=$(for r in $(seq "$t"); do "$bin" load "$dir" --json & done; wait)
          json="{\"whole\": [$(echo "$json" | paste -sd, -)]}" ;;
      esac
      t1=$(now)
      echo "{\"kind\": \"$variant\", \"t\": $t, \"wall\": $(elapsed "$t0" "$t1"), \"out\": $json}" >>"$out"
    done
    echo "   T = $t, $variant: done"
  done
done

$py - "$bytes" "$out" <<'PY'
import json, sys
nbytes = int(sys.argv[1])
rows = [json.loads(l) for l in open(sys.argv[2])]
cat_s = next(r["seconds"] for r in rows if r["kind"] == "cat")
GB, MiB = 1e9, 1 << 20
print(f"\ncheckpoint {nbytes / (1 << 30):.2f} GiB; cat of the shards {cat_s:.3f} s ({nbytes / GB / cat_s:.2f} GB/s)")
print(f"{'T':>2} {'variant':<10} {'wall s':>7} {'GB/s':>6} {'x cat':>6}  {'read/rank MiB (loader | rchar)':<34} {'reads/rank':>10} {'load s/rank':>12} {'peak RSS/rank MiB':>18}")
best = {}
for t in (1, 2, 4):
    for kind in ("sliced", "min-run", "read-once", "whole"):
        rs = [r for r in rows if r["kind"] == kind and r["t"] == t]
        if not rs: continue
        b = min(rs, key=lambda r: r["wall"])
        best[(t, kind)] = b
        if kind == "whole":
            ranks = b["out"]["whole"]
            read = [r["bytes"] for r in ranks]; rchar = read; reads = [0 for r in ranks]
            secs = [r["seconds"] for r in ranks]; rss = [r["peak_rss_bytes"] for r in ranks]
        else:
            ranks = b["out"]["ranks"]
            read = [r["bytes_read"] for r in ranks]; rchar = [r["proc_rchar_bytes"] for r in ranks]
            reads = [r["reads"] for r in ranks]; secs = [r["load_seconds"] for r in ranks]
            rss = [r["peak_rss_bytes"] for r in ranks]
        f = lambda xs, d=MiB: "/".join(f"{x / d:.0f}" for x in xs)
        print(f"{t:>2} {kind:<10} {b['wall']:7.2f} {nbytes / GB / b['wall']:6.2f} {nbytes / GB / b['wall'] / (nbytes / GB / cat_s):6.2f}  "
              f"{f(read) + ' | ' + f(rchar):<34} {'/'.join(str(x) for x in reads):>10} {'/'.join(f'{x:.2f}' for x in secs):>12} {f(rss):>18}")
print("wall: from the launch to the last rank's exit (LibTorch's start-up, about 0.8 s per process, included);")
print("GB/s: the whole checkpoint's bytes over the wall time (every rank together holds it once, or T times for 'whole')")
for t in (2, 4):
    if (t, "sliced") in best and (t, "whole") in best:
        s, w = best[(t, "sliced")], best[(t, "whole")]
        rs = sum(r["bytes_read"] for r in s["out"]["ranks"])
        print(f"T = {t}: sliced reads {rs / nbytes:.2f} x the checkpoint in all (whole x T: {t}.00); wall sliced / whole x T = {s['wall'] / w['wall']:.2f}")
    if (t, "read-once") in best and (t, "sliced") in best:
        o, s = best[(t, "read-once")], best[(t, "sliced")]
        print(f"T = {t}: read-once wall / sliced wall = {o['wall'] / s['wall']:.2f}; min-run wall / sliced wall = {best[(t, 'min-run')]['wall'] / s['wall']:.2f}")
PY
