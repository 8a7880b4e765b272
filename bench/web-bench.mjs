// Recompute time of the calculator page in Chromium, for every preset, and the size of page + wasm.
//   node bench/web-bench.mjs [CHANGES_PER_PRESET]      (scripts/test-web.sh builds what it needs; run that once)
// For each preset: switch to it (the model changes: params + plan), then change the batch, the context and
// the KV dtype CHANGES_PER_PRESET times in all; each change is timed from the input event to the results in
// the DOM with layout done (the synchronous recompute; the target is one frame, 16 ms), and separately until
// the deferred work (fit solve, catalog of GPUs) has finished. Figures only: nothing here passes or fails.
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../scripts/serve-web.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const webDir = path.resolve(root, process.env.MODELPLAN_WEB ?? 'build-wasm/web');
const require = createRequire(path.join(root, 'tests/web/package.json'));
const { chromium } = require('playwright-core');
const changes = Number(process.argv[2] ?? 12);

// ---- size of what a browser downloads (the page, the modules, the wasm) ----
const pageFiles = readdirSync(webDir).filter((f) => /\.(html|css|js|mjs|wasm)$/.test(f));
let raw = 0;
let gz = 0;
const sizes = [];
for (const f of pageFiles) {
  const bytes = readFileSync(path.join(webDir, f));
  const g = gzipSync(bytes, { level: 9 }).length;
  raw += bytes.length;
  gz += g;
  sizes.push([f, bytes.length, g]);
}
console.log('page + wasm (build-wasm/web, what the browser loads):');
for (const [f, r, g] of sizes.sort((a, b) => b[1] - a[1])) console.log(`  ${f.padEnd(20)} ${String(r).padStart(9)} B raw ${String(g).padStart(8)} B gzip`);
console.log(`  ${'total'.padEnd(20)} ${String(raw).padStart(9)} B raw ${String(gz).padStart(8)} B gzip  (${(raw / 1024).toFixed(0)} KiB / ${(gz / 1024).toFixed(0)} KiB)`);

const server = await serve(webDir, 0);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
await page.goto(server.url);
await page.waitForSelector('body[data-ready="true"]');

// In the page: apply one change, time it to layout, then wait for the deferred work and time that too.
await page.evaluate(() => {
  const done = () => document.body.dataset.pending === 'false' &&
    document.getElementById('catalog-status').dataset.done === 'true';
  const idle = () => new Promise((resolve) => {
    const poll = () => (done() ? resolve() : setTimeout(poll, 1));
    poll();
  });
  window.__bench = async (apply) => {
    await idle();
    const t0 = performance.now();
    apply();
    void document.body.offsetHeight; // style and layout of the new results
    const sync = performance.now() - t0;
    await idle();
    return { sync, complete: performance.now() - t0 };
  };
  window.__change = (id, value) => {
    const input = document.getElementById(id);
    input.value = value;
    input.dispatchEvent(new Event('input', { bubbles: true }));
  };
  window.__preset = (name) => document.querySelector(`#preset-list li[data-name="${name}"]`).click();
});

const presets = await page.evaluate(() => window.__modelplan.mp.presets().presets.map((p) => p.name));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const rows = [];
const plan = [];
for (let i = 0; i < changes; ++i) {
  plan.push(i % 3 === 0 ? ['batch', String(1 + (i % 7))] : i % 3 === 1 ? ['seq', String(1024 * (1 + (i % 8)))]
    : ['kv_dtype', ['', 'fp8', 'q8_0', 'bf16'][i % 4]]);
}
for (const name of presets) {
  await page.evaluate(() => { window.__change('batch', ''); window.__change('seq', ''); window.__change('kv_dtype', ''); });
  const model = await page.evaluate((n) => window.__bench(() => window.__preset(n)), name);
  const times = [];
  for (const [id, value] of plan) times.push(await page.evaluate(([i, v]) => window.__bench(() => window.__change(i, v)), [id, value]));
  const sync = times.map((t) => t.sync);
  rows.push({ name, model, median: median(sync), max: Math.max(...sync), complete: median(times.map((t) => t.complete)) });
}
// The skeleton tree of the largest preset: opening it (skeleton call, JSON parse, name index, top level) and
// expanding model.layers (61 children).
await page.evaluate(() => window.__preset('deepseek-v3'));
const tree = await page.evaluate(async () => {
  const card = document.getElementById('tree-card');
  card.open = false;
  await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  card.open = true;
  while (!document.getElementById('tree').dataset.tensors) await new Promise((r) => setTimeout(r, 0));
  void document.body.offsetHeight;
  const open = performance.now() - t0;
  const expand = async (pathName) => {
    const d = document.querySelector(`#tree details[data-path="${pathName}"]`);
    const t = performance.now();
    d.open = true;
    while (d.childElementCount < 2) await new Promise((r) => setTimeout(r, 0));
    void document.body.offsetHeight;
    return performance.now() - t;
  };
  const model = await expand('model');
  const layers = await expand('model.layers');
  return { open, model, layers, tensors: Number(document.getElementById('tree').dataset.tensors), nodes: document.querySelectorAll('#tree li').length };
});
await browser.close();
await server.close();

console.log(`\nrecompute per input change in Chromium ${changes} changes per preset (batch, context, KV dtype); GPU rtx-4090; ms`);
console.log(`  ${'preset'.padEnd(22)} ${'median'.padStart(7)} ${'max'.padStart(7)}   ${'model switch'.padStart(12)}   deferred done (median; fit + 29-GPU catalog)`);
for (const r of rows)
  console.log(`  ${r.name.padEnd(22)} ${r.median.toFixed(2).padStart(7)} ${r.max.toFixed(2).padStart(7)}   ${r.model.sync.toFixed(2).padStart(12)}   ${r.complete.toFixed(1).padStart(8)}`);
const all = rows.map((r) => r.median);
const over = rows.filter((r) => r.max > 16).map((r) => r.name);
console.log(`\nall presets: median of medians ${median(all).toFixed(2)} ms, largest median ${Math.max(...all).toFixed(2)} ms, largest max ${Math.max(...rows.map((r) => r.max)).toFixed(2)} ms`);
console.log(`presets whose max exceeds 16 ms: ${over.length ? over.join(', ') : 'none'}`);
console.log(`\nskeleton tree, deepseek-v3 (${tree.tensors} tensors): open ${tree.open.toFixed(1)} ms, expand model ${tree.model.toFixed(1)} ms, expand model.layers ${tree.layers.toFixed(1)} ms; ${tree.nodes} list items in the DOM after that`);
