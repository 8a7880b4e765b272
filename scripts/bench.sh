#!/usr/bin/env bash
# Benchmarks (not part of the tests): builds natively and prints the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh native
scripts/build.sh native >/dev/null
build/bench/pipeline_bench "$@"
