#!/usr/bin/env bash
# Incremental builds. Usage: scripts/build.sh native|wasm|asan   (folders: build/, build-wasm/, build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

case "${1:-native}" in
  native)
    [ -f build/CMakeCache.txt ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build -j "$jobs"
    ;;
  asan)
    [ -f build-asan/CMakeCache.txt ] || cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
      -DMODELPLAN_SANITIZE=ON -DMODELPLAN_BUILD_BENCH=OFF >/dev/null
    cmake --build build-asan -j "$jobs"
    ;;
  wasm)
    # Debian's emcc needs acorn from /usr/share/nodejs; CTest must run wasm tests with a node it accepts.
    export NODE_PATH=/usr/share/nodejs
    [ -f build-wasm/CMakeCache.txt ] || emcmake cmake -S . -B build-wasm -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DMODELPLAN_BUILD_BENCH=OFF "-DCMAKE_CROSSCOMPILING_EMULATOR=$(command -v node);--no-experimental-fetch" >/dev/null
    cmake --build build-wasm -j "$jobs"
    ;;
  *)
    echo "usage: scripts/build.sh native|wasm|asan" >&2
    exit 2
    ;;
esac
