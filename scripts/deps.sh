#!/usr/bin/env bash
# Installs what the build needs and this machine lacks, from Debian's packages. Idempotent: installs nothing when
# everything is present. Usage: scripts/deps.sh [native|all]  (all adds Emscripten and Node.js for the wasm build)
set -euo pipefail
what=${1:-all}

missing=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_file() { [ -e "$1" ]; }

have_cmd cmake || missing+=(cmake)
have_cmd ninja || missing+=(ninja-build)
have_cmd g++ || missing+=(g++)
have_file /usr/include/gtest/gtest.h || missing+=(libgtest-dev)
have_file /usr/include/benchmark/benchmark.h || missing+=(libbenchmark-dev)
have_file /usr/include/rapidjson/document.h || missing+=(rapidjson-dev)
if [ "$what" = all ]; then
  have_cmd node || missing+=(nodejs)
  have_cmd em++ || missing+=(emscripten)
  have_file /usr/src/googletest/CMakeLists.txt || missing+=(googletest)
  # Fuzz targets (fuzz/build.sh): clang and its libFuzzer/sanitizer runtimes.
  have_cmd clang++ || missing+=(clang)
  compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null || missing+=(libclang-rt-14-dev)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "modelplan: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
