#!/usr/bin/env bash
# Regenerates docs/accuracy.md from tests/data/reference/serve-logs.tsv, tests/data/reference/memory-figures.tsv and
# the core's predictions: runs the test that checks them (tests/core/accuracy.cpp) with MODELPLAN_WRITE_ACCURACY=1.
# Usage: scripts/accuracy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target core_tests >/dev/null
MODELPLAN_WRITE_ACCURACY=1 build/tests/core_tests --gtest_filter='Accuracy.*' --gtest_brief=1
echo "wrote docs/accuracy.md"
