#!/usr/bin/env bash
# The calculator page in a real browser: installs what is missing (Debian's chromium, npm, the test project's
# packages from tests/web/package-lock.json), builds the native program (the reference the tests compare
# with) and the wasm module + page (build-wasm/web/), then runs the Playwright tests (tests/web/).
# Screenshots and failure details go to test-results/web/. Arguments are passed to `playwright test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh all

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "modelplan: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The locked test packages (Playwright; it downloads no browser here: Debian's chromium is used).
if [ ! -d tests/web/node_modules/@playwright/test ] || [ tests/web/package-lock.json -nt tests/web/node_modules/.package-lock.json ]; then
  (cd tests/web && npm ci --no-audit --no-fund --loglevel=error)
fi

scripts/build.sh native
scripts/build.sh wasm
cd tests/web
exec npx --no-install playwright test "$@"
