#!/usr/bin/env bash
# Every test: installs what is missing, builds the native, sanitizer and wasm targets, runs the GoogleTest
# suites through CTest (natively, under ASan/UBSan, and compiled to wasm under node) and the node tests that
# compare the wasm module's JSON with the native program's; checks the tree against .clang-format first. The native
# CTest run includes tests/hostile (hostile inputs, each under a time and memory bound).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh all

echo "== format (.clang-format)"
scripts/format.sh --check

echo "== native build and tests"
scripts/build.sh native
ctest --test-dir build --output-on-failure

echo "== sanitizers (ASan + UBSan)"
scripts/build.sh asan
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-asan --output-on-failure

echo "== wasm build, core tests under node"
scripts/build.sh wasm
ctest --test-dir build-wasm --output-on-failure

echo "== wasm module vs native program (node --test)"
MODELPLAN_BIN=build/native/modelplan MODELPLAN_WASM=build-wasm/wasm/modelplan.js \
  node --no-experimental-fetch --test tests/wasm/

echo "== fuzz targets (clang, ASan + UBSan): replay the seed corpus"
fuzz/build.sh --replay

echo "== the calculator page in Chromium (Playwright, tests/web/; screenshots in test-results/web/)"
scripts/test-web.sh

echo "== the LibTorch adapter: meta instantiation, the loader, the installed package and the example"
scripts/test-torch.sh
