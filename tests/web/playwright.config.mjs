// Playwright against Debian's Chromium (TOOLCHAIN.md, "Browser tests"); run by scripts/test-web.sh.
// The page under test is build-wasm/web/ (scripts/build.sh wasm), served by scripts/serve-web.mjs.
import { defineConfig } from '@playwright/test';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export default defineConfig({
  testDir: '.',
  testMatch: /.*\.spec\.mjs$/,
  outputDir: path.join(root, 'test-results/web/output'),
  workers: 1, // the machines this runs on are small; the tests are fast one at a time
  timeout: 120_000,
  expect: { timeout: 20_000 },
  reporter: [['list']],
  use: {
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--no-first-run'],
    },
    viewport: { width: 1280, height: 900 },
    trace: 'off',
  },
});
