#!/usr/bin/env bash
# Builds the libFuzzer targets with clang under AddressSanitizer and UndefinedBehaviorSanitizer, in build-fuzz/
# (or $MODELPLAN_FUZZ_BUILD). Usage:
#   fuzz/build.sh            build build-fuzz/fuzz-{config,safetensors,gguf,place,options,device-map}
#   fuzz/build.sh --replay   build, then run each target once over its seed corpus fuzz/corpus/<target>/ (CI)
# Fuzzing for a while: bench/fuzz.sh SECONDS; with resource limits: bench/fuzz.sh --resource SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MODELPLAN_FUZZ_BUILD:-build-fuzz}
jobs=$(nproc 2>/dev/null || echo 2)
targets=(config safetensors gguf place options device-map)

# pointer-overflow stays recoverable so that fuzz/ubsan.supp can silence RapidJSON 1.1.0's one report on every
# parse; with UBSAN_OPTIONS=halt_on_error=1 (below, and in bench/fuzz.sh) every other report still stops a run.
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize-recover=pointer-overflow"
sanitize="$sanitize -fno-omit-frame-pointer"
# The core library is instrumented for coverage (fuzzer-no-link); the targets link libFuzzer's main.
# Configured every time (cheap when nothing changed), so a build folder made with older flags is updated.
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DMODELPLAN_BUILD_TESTS=OFF -DMODELPLAN_BUILD_BENCH=OFF \
  "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link $sanitize" >/dev/null
# modelplan_cli (and modelplan_io) for fuzz-options, which includes native/cli/main.cpp for its option table.
cmake --build "$build" -j "$jobs" --target modelplan_core modelplan_cli

for t in "${targets[@]}"; do
  src="fuzz/fuzz-$t.cpp"
  out="$build/fuzz-$t"
  extra=()
  deps=("$src" "$build/core/libmodelplan_core.a")
  if [ "$t" = options ]; then
    extra=(-Inative/cli -Inative -I"$build/core/include" "$build/native/libmodelplan_cli.a" "$build/native/libmodelplan_io.a")
    # libmodelplan_io's Hub client (native/io/http.cpp) uses libcurl when CMake found it (native/CMakeLists.txt).
    grep -q '^CURL_LIBRARY_RELEASE:FILEPATH=/' "$build/CMakeCache.txt" 2>/dev/null ||
      grep -q '^CURL_LIBRARY:FILEPATH=/' "$build/CMakeCache.txt" 2>/dev/null && extra+=(-lcurl)
    deps+=(native/cli/main.cpp native/cli/command-line.h "$build/native/libmodelplan_cli.a")
  fi
  stale=0
  [ -x "$out" ] || stale=1
  for d in "${deps[@]}"; do [ "$d" -nt "$out" ] && stale=1; done
  if [ "$stale" = 1 ]; then
    clang++ -std=c++17 -O1 -g -fsanitize=fuzzer $sanitize -DRAPIDJSON_HAS_STDSTRING=1 \
      -Icore/include -isystem "$build/rapidjson-include" "$src" "${extra[@]}" "$build/core/libmodelplan_core.a" \
      -o "$out"
  fi
done

if [ "${1:-}" = "--replay" ]; then
  export UBSAN_OPTIONS="suppressions=fuzz/ubsan.supp:halt_on_error=1:print_stacktrace=1"
  for t in "${targets[@]}"; do
    echo "== fuzz-$t: replaying fuzz/corpus/$t ($(ls "fuzz/corpus/$t" | wc -l) inputs)"
    # -runs=0 with a corpus folder runs every input once and exits non-zero on any finding.
    "$build/fuzz-$t" -runs=0 "fuzz/corpus/$t"
  done
fi
