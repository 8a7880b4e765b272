#!/usr/bin/env bash
# The main job: installs what is missing, builds the native program, then
#   with no arguments: prints the default preset's skeleton summary and parameter counts;
#   with arguments:    runs `modelplan ARGS...` (e.g. scripts/run.sh params qwen3-8b --json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh native
scripts/build.sh native >/dev/null
if [ $# -eq 0 ]; then
  build/native/modelplan skeleton --summary
  echo
  build/native/modelplan params
else
  exec build/native/modelplan "$@"
fi
