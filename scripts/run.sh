#!/usr/bin/env bash
# The main job. Installs what is missing (Debian 12), builds, then
#   with no arguments: builds the native program, the wasm module and the calculator page, prints the default
#                      preset's plan, and serves the page on http://127.0.0.1:8000 (PORT overrides) until
#                      interrupted;
#   with arguments:    runs `modelplan ARGS...` (e.g. scripts/run.sh plan qwen3-8b --gpu rtx-4090 --json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh native

# Runs a build quietly; on failure shows its output.
quietly() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "modelplan: '$*' failed" >&2
    exit 1
  fi
  rm -f "$log"
}

# The first build takes minutes; say so (later builds are incremental and quiet).
[ -x build/native/modelplan ] || echo "modelplan: building the native program (build/native/)..." >&2
quietly scripts/build.sh native
if [ $# -gt 0 ]; then
  exec build/native/modelplan "$@"
fi

# The page needs Emscripten (and the Node.js it runs on) to build, and Node.js to serve it.
scripts/deps.sh wasm
echo "modelplan: building the wasm module and the page (build-wasm/web/)..." >&2
quietly scripts/build.sh wasm

build/native/modelplan params
echo
build/native/modelplan plan --gpu rtx-4090
echo
exec node scripts/serve-web.mjs build-wasm/web "${PORT:-8000}"
