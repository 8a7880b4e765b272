#!/usr/bin/env bash
# GPU load throughput (docs/loading.md, "CUDA path"), for a machine with an NVIDIA GPU and PyTorch installed
# (not run by the tests: Debian's LibTorch has no CUDA). In one run:
#   1. builds modelplan against that machine's PyTorch libtorch (torch.utils.cmake_prefix_path, its C++ ABI),
#      with the tests when GoogleTest is found (then runs the adapter's tests, the CUDA round trips included);
#   2. writes a synthetic Llama-shaped sharded BF16 checkpoint (default 40 layers: 2.6B parameters, ~4.9 GiB);
#   3. measures: a pinned host-to-device copy (the physical limit), modelplan's CUDA load (pinned staging ring,
#      async copies), bit-exactness against the CPU load and BF16->F32 conversion on the device, then
#      safetensors.torch.load_file(..., device="cuda:0") and transformers' from_pretrained(device_map="cuda:0")
#      on the same files when those packages are installed;
#   4. prints the ratios.
# Usage: bench/gpu-load.sh [--layers N] [--device cuda:0] [--keep]
#        bench/gpu-load.sh --stage   (here, on a machine with rapidjson-dev and googletest: see below)
# Needs: cmake (ninja when present), a C++17 compiler (C++20 for PyTorch 2.12+), python3 with torch (CUDA), and
# RapidJSON's and CLI11's headers and GoogleTest's sources. A GPU machine without a package registry has neither: run
# `bench/gpu-load.sh --stage` first on a machine that has them (Debian: rapidjson-dev, googletest); it copies
# /usr/include/rapidjson and /usr/src/googletest into build-gpu-deps/ (ignored by git, 4.5 MiB), which must then
# travel with the tree (the device tool: carry ["build-gpu-deps"]). Staged sources are preferred to installed
# ones; MODELPLAN_RAPIDJSON_INCLUDE=DIR (DIR/rapidjson/document.h) overrides RapidJSON. GoogleTest is built from
# the staged sources with libtorch's C++ ABI (torch._C._GLIBCXX_USE_CXX11_ABI), as the whole build is; without
# staged sources an installed GoogleTest is used only when present, else the tests are skipped (and said so).
# Disk: one checkpoint (deleted at the end unless --keep). PyTorch's TorchConfig.cmake of a CUDA build looks for
# the CUDA toolkit (nvcc, cuda_runtime_api.h); where only the pip wheels are installed, configuring fails and the
# script prints why.
set -euo pipefail
cd "$(dirname "$0")/.."
layers=40
device=cuda:0
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --layers) layers=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --stage)
      [ -f /usr/include/rapidjson/document.h ] || { echo "no /usr/include/rapidjson (apt-get install rapidjson-dev)" >&2; exit 1; }
      [ -f /usr/src/googletest/CMakeLists.txt ] || { echo "no /usr/src/googletest (apt-get install googletest)" >&2; exit 1; }
      rm -rf build-gpu-deps && mkdir -p build-gpu-deps
      cp -r /usr/include/rapidjson build-gpu-deps/
      cp -r /usr/src/googletest build-gpu-deps/googletest
      [ -f /usr/include/CLI/CLI.hpp ] || { echo "no /usr/include/CLI (apt-get install libcli11-dev)" >&2; exit 1; }
      mkdir -p build-gpu-deps/cli11 && cp -r /usr/include/CLI build-gpu-deps/cli11/
      echo "staged build-gpu-deps/ ($(du -sh build-gpu-deps | cut -f1)): carry it to the GPU machine"
      exit 0 ;;
    *) echo "usage: bench/gpu-load.sh [--layers N] [--device cuda:N] [--keep] | --stage" >&2; exit 2 ;;
  esac
done
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
py=${PYTHON:-python3}
jobs=$(nproc 2>/dev/null || echo 4)

echo "== machine"
nvidia-smi --query-gpu=name,memory.total,pcie.link.gen.current,pcie.link.width.current --format=csv,noheader || true
$py - <<'PY'
import torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, available: {torch.cuda.is_available()}, "
      f"devices: {torch.cuda.device_count()}, C++11 ABI: {torch._C._GLIBCXX_USE_CXX11_ABI}")
PY
torch_prefix=$($py -c 'import torch; print(torch.utils.cmake_prefix_path)')
abi=$($py -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')

rapidjson=${MODELPLAN_RAPIDJSON_INCLUDE:-}
if [ -z "$rapidjson" ]; then
  if [ -f build-gpu-deps/rapidjson/document.h ]; then rapidjson=$PWD/build-gpu-deps
  elif [ -f /usr/include/rapidjson/document.h ]; then rapidjson=/usr/include
  else echo "RapidJSON headers not found: run bench/gpu-load.sh --stage where they are and carry build-gpu-deps/, or set MODELPLAN_RAPIDJSON_INCLUDE" >&2; exit 2
  fi
fi
prefix_path="$torch_prefix"
tests=OFF
# CLI11 (the CLI's option parser, header-only): staged, else the machine's own.
cli11=""
[ -f build-gpu-deps/cli11/CLI/CLI.hpp ] && cli11=$PWD/build-gpu-deps/cli11
if [ -f build-gpu-deps/googletest/CMakeLists.txt ]; then
  # GoogleTest from the staged sources, with libtorch's ABI (an installed one may have the other ABI).
  echo "== GoogleTest from build-gpu-deps/googletest"
  cmake -S build-gpu-deps/googletest -B build-gpu/googletest "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_GMOCK=OFF -DINSTALL_GTEST=ON -DCMAKE_INSTALL_PREFIX="$PWD/build-gpu/googletest-install" \
    -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$abi" >build-gpu.googletest.log 2>&1 \
    && cmake --build build-gpu/googletest -j "$jobs" >>build-gpu.googletest.log 2>&1 \
    && cmake --install build-gpu/googletest >>build-gpu.googletest.log 2>&1 \
    || { tail -30 build-gpu.googletest.log; exit 1; }
  prefix_path="$prefix_path;$PWD/build-gpu/googletest-install"
  tests=ON
elif [ -f /usr/lib/x86_64-linux-gnu/cmake/GTest/GTestConfig.cmake ] || [ -f /usr/lib/cmake/GTest/GTestConfig.cmake ]; then
  tests=ON
else
  echo "GoogleTest not found (not staged in build-gpu-deps/, not installed): the adapter's tests are NOT RUN" >&2
fi

echo "== build against PyTorch's libtorch ($torch_prefix; tests: $tests)"
# The whole build uses libtorch's C++ ABI: the core's std::string APIs cross into the adapter.
cmake -S . -B build-gpu "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DMODELPLAN_WITH_TORCH=ON \
  -DMODELPLAN_BUILD_BENCH=OFF -DMODELPLAN_BUILD_TESTS=$tests -DCMAKE_PREFIX_PATH="$prefix_path" \
  -DMODELPLAN_RAPIDJSON_INCLUDE="$rapidjson" -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$abi" \
  ${cli11:+-DMODELPLAN_CLI11_INCLUDE="$cli11"} >build-gpu.configure.log 2>&1 || { tail -30 build-gpu.configure.log; exit 1; }
grep "modelplan:" build-gpu.configure.log || true
grep -q "the CUDA load path is built" build-gpu.configure.log || { echo "this libtorch has no CUDA (c10_cuda not found)" >&2; exit 1; }
targets="modelplan"
[ "$tests" = ON ] && targets="$targets torch_tests"
cmake --build build-gpu -j "$jobs" --target $targets
if [ "$tests" = ON ]; then
  echo "== adapter tests (CUDA round trips included)"
  build-gpu/tests/torch/torch_tests --gtest_brief=1
fi
rm -rf build-gpu/install build-gpu/bench
cmake --install build-gpu --prefix "$PWD/build-gpu/install" >/dev/null
cmake -S bench/gpu-load -B build-gpu/bench "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$PWD/build-gpu/install;$torch_prefix" -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$abi" \
  -DMODELPLAN_RAPIDJSON_INCLUDE_DIR="$rapidjson" >/dev/null
cmake --build build-gpu/bench -j "$jobs" >/dev/null

dir=$(mktemp -d "$PWD/build-gpu/ck.XXXXXX")
cleanup() { [ "$keep" = 1 ] && echo "kept $dir" || rm -rf "$dir"; }
trap cleanup EXIT
echo "== checkpoint ($layers layers)"
$py bench/load-make-checkpoint.py "$dir" --layers "$layers"
for i in 1 2; do cat "$dir"/*.safetensors >/dev/null; done # page cache

echo "== modelplan: pinned H2D copy, CUDA load, correctness"
ours=$(build-gpu/bench/gpu-load-bench "$dir" --device "$device" --reps 3)
echo "$ours"
build-gpu/native/modelplan load "$dir" --device "$device"

echo "== distributed loading: two ranks on $device against two CPU ranks (CRC-32 of every rank's tensors)"
# Both ranks on one GPU (--device cuda:N: no collective between them), so one GPU is enough for the sliced CUDA
# path; with two GPUs or more, also one rank per GPU with --read-once (NCCL broadcasts).
build-gpu/native/modelplan load "$dir" --nproc 2 --device "$device" --checksums --json >"$dir/dist-gpu.json"
build-gpu/native/modelplan load "$dir" --nproc 2 --device cpu --checksums --json >"$dir/dist-cpu.json"
ngpu=$($py -c 'import torch; print(torch.cuda.device_count())')
if [ "$ngpu" -ge 2 ]; then
  build-gpu/native/modelplan load "$dir" --nproc 2 --device cuda --read-once --checksums --json >"$dir/dist-nccl.json"
fi
$py - "$dir" <<'PY'
import json, os, sys
d = sys.argv[1]
def crcs(name):
    j = json.load(open(os.path.join(d, name)))
    return [[(t["name"], t["shape"], t["crc32"]) for t in r["tensors"]] for r in j["ranks"]], j
gpu, gj = crcs("dist-gpu.json"); cpu, cj = crcs("dist-cpu.json")
print(f"two ranks on the GPU: {'equal' if gpu == cpu else 'DIFFERENT'} CRC-32s to the CPU ranks' "
      f"({sum(len(r) for r in gpu)} tensors); seconds {gj['seconds']:.3f} (CPU {cj['seconds']:.3f}); "
      f"per rank load s: {[r['load_seconds'] for r in gj['ranks']]}")
if os.path.exists(os.path.join(d, "dist-nccl.json")):
    nccl, nj = crcs("dist-nccl.json")
    print(f"one rank per GPU, --read-once over {nj['ranks'][0]['backend']}: {'equal' if nccl == cpu else 'DIFFERENT'} "
          f"CRC-32s; seconds {nj['seconds']:.3f}")
else:
    print("one GPU: NCCL (one rank per GPU, --read-once) not checked")
PY

echo "== safetensors and transformers on the same files"
others=$($py - "$dir" "$device" <<'PY'
import glob, json, sys, time
import torch
d, dev = sys.argv[1], sys.argv[2]
out = {}
try:
    from safetensors.torch import load_file
    best = 1e9
    for _ in range(3):
        torch.cuda.synchronize(); t = time.perf_counter()
        sd = {}
        for f in sorted(glob.glob(d + "/*.safetensors")):
            sd.update(load_file(f, device=dev))
        torch.cuda.synchronize(); best = min(best, time.perf_counter() - t)
        del sd; torch.cuda.empty_cache()
    out["safetensors_s"] = best
except ImportError as e:
    out["safetensors_s"] = None; out["safetensors_missing"] = str(e)
try:
    import transformers
    from transformers import AutoModelForCausalLM
    best = 1e9
    for _ in range(2):
        torch.cuda.synchronize(); t = time.perf_counter()
        # transformers 5 renamed torch_dtype to dtype
        kw = {"dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype": torch.bfloat16}
        m = AutoModelForCausalLM.from_pretrained(d, device_map=dev, **kw)
        torch.cuda.synchronize(); best = min(best, time.perf_counter() - t)
        del m; torch.cuda.empty_cache()
    out["transformers_s"] = best; out["transformers_version"] = transformers.__version__
except ImportError as e:
    out["transformers_s"] = None; out["transformers_missing"] = str(e)
print(json.dumps(out))
PY
)
echo "$others"

$py - "$ours" "$others" <<'PY'
import json, sys
o, x = json.loads(sys.argv[1]), json.loads(sys.argv[2])
load = o["load"]; nbytes = load["bytes"]; gbps = load["gb_per_s"]
print()
print(f"checkpoint {nbytes / 2**30:.2f} GiB; pinned H2D copy {o['pinned_h2d_gb_per_s']:.2f} GB/s")
print(f"  modelplan load -> GPU       {load['seconds']:.3f} s  {gbps:.2f} GB/s  (passes: {o['load_seconds']})")
print(f"  bit-exact vs the CPU load: {o['bit_exact']}; BF16->F32 on the device equals the CPU's: {o['converted_exact']}")
print(f"ratio load / pinned H2D:      {gbps / o['pinned_h2d_gb_per_s']:.2f}")
for key, label in (("safetensors_s", "safetensors.load_file"), ("transformers_s", "transformers from_pretrained")):
    if x.get(key):
        print(f"ratio load / {label}: {gbps / (nbytes / 1e9 / x[key]):.2f}  ({label}: {x[key]:.3f} s)")
    else:
        print(f"{label}: not installed here, not measured")
PY
