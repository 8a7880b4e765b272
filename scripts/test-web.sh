#!/usr/bin/env bash
# The calculator page in a real browser: installs what is missing (Debian's chromium, npm, the test project's
# packages from tests/web/package-lock.json), builds the native program (the reference the tests compare
# with) and the wasm module + page (build-wasm/web/), then runs the Playwright tests (tests/web/).
# Screenshots and failure details go to test-results/web/. Arguments are passed to `playwright test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh web
# The locked test packages (Playwright; it downloads no browser here: Debian's chromium is used).
if [ ! -d tests/web/node_modules/@playwright/test ] || [ tests/web/package-lock.json -nt tests/web/node_modules/.package-lock.json ]; then
  (cd tests/web && npm ci --no-audit --no-fund --loglevel=error)
fi

scripts/build.sh native
scripts/build.sh wasm
cd tests/web
exec npx --no-install playwright test "$@"
