#!/usr/bin/env bash
# Load throughput on this machine's CPU (docs/loading.md, "Figures"). Writes a synthetic Llama-shaped sharded
# safetensors checkpoint (default 20 layers, hidden 2048: 1.35B parameters, 2.5 GiB BF16 in 1 GiB shards) and the
# same weights as a PyTorch .bin, then in one run measures, with the files in the page cache:
#   cat of the shards to /dev/null (the page cache's read speed), modelplan load (threads, then --mmap),
#   torch.load of the .bin with Debian's python3-torch,
# and prints throughputs, the ratios, and peak resident memory minus the destination tensors' bytes.
# In-process and wall-clock (the command, LibTorch's start-up included) figures: best, median and worst of --runs
# processes (default 10), for each way of getting the fresh memory (--cpu-alloc huge|plain|arena, each with and
# without --prefault), the runs interleaved. Usage: bench/load-bench.sh [--layers N] [--runs N] [--keep]   (--layers 8: about 1 GiB;
# needs build-torch/: scripts/test-torch.sh builds it)
# Disk: about twice the checkpoint (2 x 2.5 GiB by default), deleted at the end unless --keep.
set -euo pipefail
cd "$(dirname "$0")/.."
layers=20
keep=0
nruns=10
while [ $# -gt 0 ]; do
  case "$1" in
    --layers) layers=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --runs) nruns=$2; shift 2 ;;
    *) echo "usage: bench/load-bench.sh [--layers N] [--runs N] [--keep]" >&2; exit 2 ;;
  esac
done
bin=build-torch/native/modelplan
[ -x "$bin" ] || { echo "build first: scripts/test-torch.sh (or cmake --build build-torch)" >&2; exit 2; }
py=/usr/bin/python3 # Debian's python3-torch
dir=$(mktemp -d "${BENCH_DIR:-$PWD/build-torch}/load-bench.XXXXXX")
cleanup() { [ "$keep" = 1 ] && echo "kept $dir" || rm -rf "$dir"; }
trap cleanup EXIT
echo "== disk before: $(df -h --output=avail "$dir" | tail -1 | tr -d ' ') free; load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

echo "== writing the checkpoint ($layers layers) and its .bin"
$py bench/load-make-checkpoint.py "$dir" --layers "$layers" --bin
shards=("$dir"/model-*.safetensors)
bytes=$(cat "${shards[@]}" | wc -c)
echo "   $(ls "$dir" | wc -l) files, shards: $bytes bytes; .bin: $(stat -c %s "$dir/pytorch_model.bin") bytes"

# Warm the page cache with everything the runs read.
for i in 1 2; do cat "${shards[@]}" "$dir/pytorch_model.bin" >/dev/null; done

now() { date +%s.%N; }
best() { sort -g | head -1; }

echo "== cat of the shards to /dev/null (best of 5)"
cat_s=$(for i in 1 2 3 4 5; do t0=$(now); cat "${shards[@]}" >/dev/null; t1=$(now); echo "$t1 - $t0" | bc -l; done | best)

echo "== modelplan load ($nruns processes each; seconds as the loader reports them: allocation + fill; wall: the command)"
# Each process loads twice into the same tensors (--repeat 2): pass 1 into fresh memory, pass 2 in place.
one_load() { # one process: its first pass's JSON with "pass2" and "process_wall_s"
  local t0 t1 out
  t0=$(now)
  out=$("$bin" load "$dir" --json --repeat 2 "$@" 2>/dev/null)
  t1=$(now)
  echo "$out" | $py -c 'import json,sys; l=[json.loads(x) for x in sys.stdin if x.strip()]; l[0]["pass2"]=l[1]; l[0]["process_wall_s"]=float(sys.argv[1]); print(json.dumps(l[0]))' "$(echo "$t1 - $t0" | bc -l)"
}
summarize() { # the best run, with every run's seconds and wall
  $py -c 'import json,sys; l=[json.loads(x) for x in sys.stdin]; b=min(l,key=lambda d:d["seconds"]); b["pass2"]=min((d["pass2"] for d in l),key=lambda d:d["seconds"]); b["all_seconds"]=[d["seconds"] for d in l]; b["all_wall"]=[d["process_wall_s"] for d in l]; print(json.dumps(b))'
}
run_load() {
  for i in $(seq "$nruns"); do one_load "$@"; done | summarize
}
# The fresh memory's variants (docs/loading.md, "Fresh memory"), interleaved run by run so that the machine's
# other work weighs on each alike: huge (the default), plain, arena, each with and without --prefault.
variants=("--cpu-alloc huge" "--cpu-alloc plain" "--cpu-alloc arena" "--cpu-alloc huge --prefault"
          "--cpu-alloc plain --prefault" "--cpu-alloc arena --prefault")
vdir="$dir/variants"
mkdir -p "$vdir"
for i in $(seq "$nruns"); do
  for k in "${!variants[@]}"; do
    # shellcheck disable=SC2086 # the variant's flags are separate words
    one_load ${variants[$k]} >>"$vdir/$k"
  done
done
ours=$(summarize <"$vdir/0")
variant_json=$(for k in "${!variants[@]}"; do summarize <"$vdir/$k"; done | $py -c 'import json,sys; print(json.dumps([json.loads(x) for x in sys.stdin]))')
ours_mmap=$(run_load --mmap)
ours_f32=$(run_load --dtype fp32)

echo "== torch.load of the .bin (python3-torch $($py -c 'import torch; print(torch.__version__)'), best of 3)"
torch_s=$(for i in 1 2 3; do $py - "$dir/pytorch_model.bin" <<'PY'
import sys, time, torch
t = time.perf_counter()
sd = torch.load(sys.argv[1])
print(time.perf_counter() - t)
PY
done | best)

echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg) (the figures are only as good as the machine is idle)"
$py - "$bytes" "$cat_s" "$torch_s" "$ours" "$ours_mmap" "$(nproc)" "$ours_f32" "$variant_json" "${variants[@]}" <<'PY'
import json, sys
nbytes, cat_s, torch_s = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
ours, mm, cores, f32 = json.loads(sys.argv[4]), json.loads(sys.argv[5]), sys.argv[6], json.loads(sys.argv[7])
variants, variant_names = json.loads(sys.argv[8]), sys.argv[9:]
gb = lambda s: nbytes / 1e9 / s
MiB = 1 << 20
print()
print(f"checkpoint: {nbytes / (1 << 30):.2f} GiB in safetensors shards; {cores} cores; files in the page cache")
print(f"  cat > /dev/null            {cat_s:7.3f} s  {gb(cat_s):6.2f} GB/s")
p2 = ours["pass2"]
print(f"  modelplan load ({ours['threads']} threads)   {ours['seconds']:7.3f} s  {ours['gb_per_s']:6.2f} GB/s"
      f"   into fresh memory ({len(ours['all_seconds'])} processes: {', '.join(f'{x:.3f}' for x in ours['all_seconds'])} s)")
print(f"    same, second pass        {p2['seconds']:7.3f} s  {p2['gb_per_s']:6.2f} GB/s   in place (--repeat 2): the copy alone")
print(f"  load --dtype fp32          {f32['seconds']:7.3f} s  {f32['gb_per_s']:6.2f} GB/s   BF16 -> F32 on the CPU (checkpoint bytes/s; twice as many written)")
print(f"  modelplan load --mmap      {mm['seconds']:7.3f} s  {mm['gb_per_s']:6.2f} GB/s   (aliases the page cache: no copy)")
print(f"  torch.load(.bin)           {torch_s:7.3f} s  {gb(torch_s):6.2f} GB/s")
print(f"ratio load / cat:            {ours['gb_per_s'] / gb(cat_s):.2f} into fresh memory, {p2['gb_per_s'] / gb(cat_s):.2f} in place (target >= 0.8)")
print(f"ratio load / torch.load:     {ours['gb_per_s'] / gb(torch_s):.2f}")
def spread(xs):
    xs = sorted(xs); return xs[0], xs[len(xs) // 2], xs[-1]
b, m, w = spread(ours["all_seconds"])
print(f"in-process, {len(ours['all_seconds'])} processes: best {b:.3f} s ({nbytes / 1e9 / b:.2f} GB/s, {cat_s / b:.2f} x cat), "
      f"median {m:.3f} s ({m / b:.2f} x best), worst {w:.3f} s  (targets: 0.9 x cat at the best, median within 1.5 x best)")
b, m, w = spread(ours["all_wall"])
print(f"wall (the command, LibTorch's start-up and verification included): best {b:.3f} s, median {m:.3f} s, worst {w:.3f} s;"
      f" best / cat = {b / cat_s:.2f} (target within 1.5 x cat at 1 GiB)")
print(f"fresh memory, {len(ours['all_seconds'])} processes each, interleaved (in-process seconds; x cat = cat's time / ours):")
for name, v in zip(variant_names, variants):
    b, m, w = spread(v["all_seconds"])
    wb, wm, _ = spread(v["all_wall"])
    pf = f", prefault {v['prefault_seconds']:.3f} s of the best" if "prefault" in name else ""
    print(f"  {name:30s} best {b:.3f} s ({cat_s / b:.2f} x cat)  median {m:.3f} s ({m / b:.2f} x best)  worst {w:.3f} s"
          f"  wall best {wb:.3f} s ({wb / cat_s:.2f} x cat's time), median {wm:.3f} s{pf}")
over = ours['peak_rss_bytes'] - ours['dest_bytes']
print(f"peak RSS {ours['peak_rss_bytes'] / MiB:.0f} MiB - destination {ours['dest_bytes'] / MiB:.0f} MiB = {over / MiB:.0f} MiB"
      f"  (of which {ours['rss_before_bytes'] / MiB:.0f} MiB was resident before the load: LibTorch, the skeleton;"
      f" the loader's own: {(over - ours['rss_before_bytes']) / MiB:.0f} MiB; target < 256 MiB)")
print("json:", json.dumps({"bytes": nbytes, "cat_s": cat_s, "torch_load_s": torch_s, "load": ours, "load_mmap": mm, "load_f32": f32,
                           "variants": dict(zip(variant_names, variants))}))
PY
