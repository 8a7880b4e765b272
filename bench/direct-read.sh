#!/usr/bin/env bash
# Cold reads past the page cache (docs/loading.md, "--direct"): a synthetic Llama-shaped checkpoint
# (bench/load-make-checkpoint.py, default 8 layers: about 1 GiB BF16), its pages dropped before every run
# (posix_fadvise DONTNEED: no root needed), then best of 3 runs of:
#   cat of the shards; buffered pread by 1/2/4 threads (through the page cache, cold); O_DIRECT pread by a pool of
#   1/2/4 threads; O_DIRECT through one io_uring with 2/4/8 reads in flight (bench/direct-read.cpp, liburing);
#   modelplan load cold without and with --direct, and warm (pages cached) without --direct.
# Usage: bench/direct-read.sh [--layers N] [--keep]   (needs build-torch/ and liburing-dev)
set -euo pipefail
cd "$(dirname "$0")/.."
layers=8
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --layers) layers=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: bench/direct-read.sh [--layers N] [--keep]" >&2; exit 2 ;;
  esac
done
bin=build-torch/native/modelplan
[ -x "$bin" ] || { echo "build first: scripts/test-torch.sh (or cmake --build build-torch)" >&2; exit 2; }
[ -f /usr/include/liburing.h ] || { echo "needs liburing-dev (apt-get install liburing-dev)" >&2; exit 2; }
dir=$(mktemp -d "${BENCH_DIR:-$PWD/build-torch}/direct-bench.XXXXXX")
cleanup() { [ "$keep" = 1 ] && echo "kept $dir" || rm -rf "$dir"; }
trap cleanup EXIT
tool=build-torch/direct-read
g++ -O2 -std=c++17 -o "$tool" bench/direct-read.cpp -luring -lpthread
echo "== $(df -T "$dir" | tail -1 | awk '{print $2 " on " $1}'); load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
/usr/bin/python3 bench/load-make-checkpoint.py "$dir" --layers "$layers" >/dev/null
shards=("$dir"/model-*.safetensors)
bytes=$(cat "${shards[@]}" | wc -c)
echo "== checkpoint: $bytes bytes in ${#shards[@]} shards"
now() { date +%s.%N; }
evict() { "$tool" evict 1 "${shards[@]}"; }
best() { sort -g | head -1; }
row() { printf '%-44s %8.3f s %7.2f GB/s\n' "$1" "$2" "$(echo "$bytes / 1000000000 / $2" | bc -l)"; }

row "cat (cold)" "$(for i in 1 2 3; do evict; t0=$(now); cat "${shards[@]}" >/dev/null; t1=$(now); echo "$t1 - $t0" | bc -l; done | best)"
for mode in buffered pread; do
  for n in 1 2 4; do
    s=$(for i in 1 2 3; do evict; "$tool" "$mode" "$n" "${shards[@]}" | awk '{print $4}'; done | best)
    row "$mode, $n thread(s)$([ $mode = pread ] && echo ', O_DIRECT')" "$s"
  done
done
for d in 2 4 8; do
  s=$(for i in 1 2 3; do evict; "$tool" uring "$d" "${shards[@]}" | awk '{print $4}'; done | best)
  row "io_uring, $d in flight, O_DIRECT" "$s"
done
load_s() { "$bin" load "$dir" --json "$@" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])'; }
row "modelplan load (cold, page cache)" "$(for i in 1 2 3; do evict; load_s; done | best)"
row "modelplan load --direct (cold)" "$(for i in 1 2 3; do evict; load_s --direct; done | best)"
cat "${shards[@]}" >/dev/null
row "modelplan load (warm)" "$(for i in 1 2 3; do load_s; done | best)"
row "modelplan load --direct (pages cached: ignored)" "$(for i in 1 2 3; do load_s --direct; done | best)"
echo "(the loader's seconds: allocation and fill, verification and start-up excluded; best of 3)"
