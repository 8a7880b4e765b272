#!/usr/bin/env bash
# Installs what a build needs and this machine lacks, from Debian's packages. Idempotent: installs nothing when
# everything is present. Usage: scripts/deps.sh [native|wasm|all|web|torch]...
#   native  compiler, CMake, Ninja, GoogleTest, Google Benchmark, RapidJSON, CLI11, libcurl (every mode includes it)
#   wasm    + Node.js, Emscripten and GoogleTest's sources (the wasm build and its tests)
#   all     + wasm, clang with libFuzzer (the fuzz targets) and clang-format: what scripts/test.sh needs before the page
#   web     + wasm, Debian's Chromium and npm (the page's Playwright tests)
#   torch   + LibTorch (libtorch-dev, CPU-only 1.13), unless Torch_DIR names another one
set -euo pipefail
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(all)

missing=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_file() { [ -e "$1" ]; }
want() { for m in "${modes[@]}"; do for w in "$@"; do [ "$m" = "$w" ] && return 0; done; done; return 1; }

have_cmd cmake || missing+=(cmake)
have_cmd ninja || missing+=(ninja-build)
have_cmd g++ || missing+=(g++)
have_file /usr/include/gtest/gtest.h || missing+=(libgtest-dev)
have_file /usr/include/benchmark/benchmark.h || missing+=(libbenchmark-dev)
have_file /usr/include/rapidjson/document.h || missing+=(rapidjson-dev)
have_file /usr/include/CLI/CLI.hpp || missing+=(libcli11-dev) # the CLI's argument parser (native/cli/main.cpp)
# libcurl for Hub ids read online (native/io/http.cpp, docs/hub.md)
compgen -G "/usr/include/*/curl/curl.h" >/dev/null || have_file /usr/include/curl/curl.h || missing+=(libcurl4-openssl-dev)
if want wasm all web; then
  have_cmd node || missing+=(nodejs)
  have_cmd em++ || missing+=(emscripten)
  have_file /usr/src/googletest/CMakeLists.txt || missing+=(googletest)
fi
if want all; then
  # Fuzz targets (fuzz/build.sh): clang and its libFuzzer/sanitizer runtimes.
  have_cmd clang++ || missing+=(clang)
  compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null || missing+=(libclang-rt-14-dev)
  # The format check (scripts/format.sh --check).
  have_cmd clang-format || have_cmd clang-format-14 || missing+=(clang-format)
fi
if want web; then
  have_file /usr/bin/chromium || missing+=(chromium)
  have_cmd npm || missing+=(npm)
fi
if want torch && [ -z "${Torch_DIR:-}" ]; then
  have_file /usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake || missing+=(libtorch-dev)
fi
if want torch; then
  have_cmd python3 || missing+=(python3) # test-torch.sh writes the example's small checkpoint with it
  have_file /usr/include/gloo/config.h || [ -n "${Torch_DIR:-}" ] || missing+=(libgloo-dev) # c10d's Gloo
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "modelplan: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
