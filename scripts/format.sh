#!/usr/bin/env bash
# Formats the C++ tree with the committed .clang-format (Debian's clang-format 14, installed by scripts/deps.sh).
# Usage: scripts/format.sh          rewrite every tracked .cpp/.h in place
#        scripts/format.sh --check  list the files that differ and exit 1 if any does (scripts/test.sh runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
fmt=$(command -v clang-format-14 || command -v clang-format || true)
[ -n "$fmt" ] || { echo "modelplan: clang-format not found (scripts/deps.sh installs it)" >&2; exit 2; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' | grep -v '^tests/data/')
if [ "${1:-}" = "--check" ]; then
  drift=()
  for f in "${files[@]}"; do "$fmt" --style=file "$f" | cmp -s - "$f" || drift+=("$f"); done
  if [ ${#drift[@]} -gt 0 ]; then
    echo "modelplan: ${#drift[@]} file(s) differ from .clang-format (run scripts/format.sh):" >&2
    printf '  %s\n' "${drift[@]}" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files follow .clang-format"
else
  "$fmt" --style=file -i "${files[@]}"
fi
