// Issue 17, item 9: heavy models must not freeze the page. The results of each input, the deferred solves (fit or
// placed solve, the single-GPU placement, the catalog over every GPU) and the skeleton tree's data are computed in
// Web Workers; the main thread only draws. Long tasks are measured three ways: the browser's PerformanceObserver
// ('longtask': every task over 50 ms, wall clock), a heartbeat (the longest gap between timer ticks), and a
// Chromium trace, whose tasks carry the main thread's own CPU time. The assertion is on the trace's CPU time: on
// the shared 2-core machine these tests run on (load often 5-10) a task of 4 ms of work can take 60 ms of wall
// clock while the thread waits for a core, so the wall-clock figures are printed, not asserted (docs/web.md).
// Every expected number comes from the native program (`modelplan ... --json`).
import { test, expect, cli, bin, settled, choosePreset, setWorkload, digits } from './helpers.mjs';
import { spawnSync } from 'node:child_process';

test.beforeEach(async ({ page }) => {
  await page.addInitScript(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
    // The heartbeat: a tick every 4 ms; a gap between ticks is a task (or a frame) that held the main thread.
    window.__gaps = [];
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      window.__gaps.push({ start: last, duration: now - last });
      last = now;
    }, 4);
    // The progress states the page went through ("solving…", the tree loading), however briefly shown.
    window.__seen = new Set();
    new MutationObserver(() => {
      const status = document.getElementById('fit-status')?.textContent;
      if (status) window.__seen.add(`fit-status ${status}`);
      if (document.getElementById('tree')?.dataset.loading === 'true') window.__seen.add('tree loading');
    }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  });
});

// The longest task and the longest heartbeat gap since the first step; each task over 50 ms with the step
// (a user's action, named by the test) it fell in.
async function mainThreadFigures(page, steps) {
  return page.evaluate((steps) => {
    const t0 = steps[0][1];
    const longest = (list) => list.filter((e) => e.start >= t0).reduce((m, e) => Math.max(m, e.duration), 0);
    const stepOf = (t) => steps.filter(([, s]) => s <= t).at(-1)[0];
    return { longTasks: window.__longTasks.filter((e) => e.start >= t0).map((e) => `${stepOf(e.start)}: ${e.duration.toFixed(0)} ms`),
      longestTask: longest(window.__longTasks), longestGap: longest(window.__gaps) };
  }, steps);
}

// Exit status of `modelplan place ...`: 0 it fits, 3 it does not.
const placeStatus = (...args) => spawnSync(bin, ['place', ...args, '--json'], { encoding: 'utf8' }).status;

// The renderer's main-thread tasks in a Chromium trace: [{wall, cpu}] in ms, longest CPU first.
function mainThreadTasks(trace) {
  const events = JSON.parse(trace.toString()).traceEvents;
  const threads = new Map(events.filter((e) => e.name === 'thread_name').map((e) => [`${e.pid}:${e.tid}`, e.args.name]));
  const main = events.filter((e) => e.ph === 'X' && threads.get(`${e.pid}:${e.tid}`) === 'CrRendererMain');
  // What a task did: its events of 3 ms or more (Layout, Paint, EventDispatch[input], FunctionCall, ...).
  const parts = (t) => main.filter((e) => e !== t && e.ts >= t.ts && e.ts < t.ts + t.dur && e.dur >= 3000)
    .map((e) => `${e.name}${e.args?.data?.type ? `[${e.args.data.type}]` : ''} ${(e.dur / 1000).toFixed(0)}`).join(', ');
  return main.filter((e) => e.name === 'RunTask')
    .map((e) => ({ wall: e.dur / 1000, cpu: (e.tdur ?? e.dur) / 1000, parts: () => parts(e) || 'no timeline events' })).sort((a, b) => b.cpu - a.cpu);
}

test('DeepSeek-V3 on 2 x H200 with 512 GiB CPU offload: no long task while its solves run', async ({ app, page, browser }) => {
  await app.open('#model=llama-3.1-8b');
  await expect(page.locator('body')).toHaveAttribute('data-solver', 'workers');
  await browser.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'] });
  const steps = [];
  const step = async (name) => steps.push([name, await page.evaluate(() => performance.now())]);
  await step('choose deepseek-v3');
  await choosePreset(page, 'deepseek-v3');
  for (const [key, value] of [['gpu', 'h200-141gb'], ['gpus', 2], ['cpu', '512']]) {
    await step(`${key} ${value}`);
    await setWorkload(page, { [key]: value });
  }
  // Typing context values key by key while the solves of the previous keys run.
  for (const seq of ['8192', '32768', '131072']) {
    await step(`type context ${seq}`);
    await page.locator('#seq').fill('');
    await page.locator('#seq').pressSequentially(seq, { delay: 30 });
  }
  // The tree opens while the last solves are still running: a loading state first, then its top level.
  await step('open the tree');
  await page.locator('#tree-card > summary').click();
  const skeleton = cli('skeleton', 'deepseek-v3');
  await expect(page.getByTestId('tree')).toHaveAttribute('data-tensors', String(skeleton.tensors.length));
  await settled(page);
  const tasks = mainThreadTasks(await browser.stopTracing());
  const figures = await mainThreadFigures(page, steps);
  console.log(`main thread while DeepSeek-V3's solves ran: longest long task ${figures.longestTask.toFixed(0)} ms ` +
    `(${figures.longTasks.length} tasks over 50 ms${figures.longTasks.length ? `: ${figures.longTasks.join(', ')}` : ''}), ` +
    `longest heartbeat gap ${figures.longestGap.toFixed(0)} ms`);
  const longestWall = tasks.reduce((m, t) => Math.max(m, t.wall), 0);
  console.log(`  trace: ${tasks.length} main-thread tasks; most CPU ${tasks[0].cpu.toFixed(1)} ms ` +
    `(${tasks[0].wall.toFixed(0)} ms wall clock: ${tasks[0].parts()}); longest wall clock ${longestWall.toFixed(0)} ms`);
  expect(tasks.length).toBeGreaterThan(100); // the trace saw the page's work
  expect(await page.evaluate(() => [...window.__seen])).toEqual(expect.arrayContaining(['fit-status solving…', 'tree loading']));
  expect(tasks[0].cpu, 'no main-thread task of 50 ms of CPU time or more').toBeLessThan(50);

  // The numbers shown are the native program's placement of the same workload.
  const args = ['deepseek-v3', '--gpu', 'h200-141gb', '--gpus', '2', '--cpu', '512', '--seq', '131072'];
  const placed = cli('place', ...args);
  await expect(page.getByTestId('fits-verdict')).toHaveAttribute('data-fits', String(placed.fits));
  const placedBytes = placed.devices.reduce((sum, d) => sum + d.total_bytes, 0) + placed.unplaced_bytes;
  await expect(page.getByTestId('mem-total')).toHaveAttribute('data-bytes', String(placedBytes));
  for (const d of placed.devices)
    await expect(page.locator(`#bars [data-device="${d.name}"]`)).toHaveAttribute('data-bytes', String(d.total_bytes));
  // The placed solves, checked at their boundaries with the native placement: the largest batch fits and one
  // more does not; the GPUs needed fit and one fewer does not; the longest context fits and is the model's
  // own limit (max_position_embeddings 163840 in deepseek-ai/DeepSeek-V3's config.json).
  const maxBatch = Number(await page.getByTestId('max-batch').getAttribute('data-value'));
  expect(maxBatch).toBeGreaterThan(0);
  expect(placeStatus(...args, '--batch', String(maxBatch))).toBe(0);
  expect(placeStatus(...args, '--batch', String(maxBatch + 1))).toBe(3);
  const needed = digits((await page.getByTestId('gpus-needed').textContent()).split(' ')[0]);
  expect(placeStatus(...args.map((a) => (a === '2' ? String(needed) : a)))).toBe(0);
  if (needed > 1) expect(placeStatus(...args.map((a) => (a === '2' ? String(needed - 1) : a)))).toBe(3);
  const maxSeq = Number(await page.getByTestId('max-seq').getAttribute('data-value'));
  expect(maxSeq).toBe(163840);
  expect(placeStatus(...args.slice(0, -1), String(maxSeq))).toBe(0);
  // The catalog places each GPU the same way.
  for (const gpu of ['h200-141gb', 'rtx-4090']) {
    const fits = placeStatus('deepseek-v3', '--gpu', gpu, '--gpus', '2', '--cpu', '512', '--seq', '131072') === 0;
    await expect(page.locator(`#catalog li[data-gpu="${gpu}"]`)).toHaveAttribute('data-fits', String(fits));
  }
});

test('a newer input wins: the numbers and solves left on the page are the newest input\'s', async ({ app, page }) => {
  await app.open('#model=deepseek-v3&gpu=h200-141gb&gpus=2&cpu=512');
  await page.locator('#seq').fill('131072');
  await page.locator('#seq').fill('8192'); // at once, while 131072's solve runs
  await settled(page);
  const args = ['deepseek-v3', '--gpu', 'h200-141gb', '--gpus', '2', '--cpu', '512', '--seq', '8192'];
  const maxBatch = Number(await page.getByTestId('max-batch').getAttribute('data-value'));
  expect(placeStatus(...args, '--batch', String(maxBatch))).toBe(0);
  expect(placeStatus(...args, '--batch', String(maxBatch + 1))).toBe(3);
  const placed = cli('place', ...args);
  await expect(page.getByTestId('mem-total')).toHaveAttribute('data-bytes',
    String(placed.devices.reduce((sum, d) => sum + d.total_bytes, 0) + placed.unplaced_bytes));
  await expect(page.getByTestId('fit-status')).toHaveText('');
});

test('without a Web Worker (file://, no module workers) the same work runs on the page\'s thread', async ({ app, page }) => {
  await page.addInitScript(() => {
    window.Worker = class { constructor() { throw new DOMException('no workers here', 'SecurityError'); } };
  });
  await app.open('#model=llama-3.1-8b&gpu=rtx-4090&seq=32768');
  await expect(page.locator('body')).toHaveAttribute('data-solver', 'main');
  const fit = cli('fit', 'llama-3.1-8b', '--gpu', 'rtx-4090', '--seq', '32768');
  await expect(page.getByTestId('max-seq')).toHaveAttribute('data-value', String(fit.max_seq));
  await expect(page.getByTestId('max-batch')).toHaveAttribute('data-value', String(fit.max_batch));
  await expect(page.locator('#catalog li')).toHaveCount(cli('gpus').gpus.length);
  await setWorkload(page, { gpus: 2 });
  await settled(page);
  const placed = cli('place', 'llama-3.1-8b', '--gpu', 'rtx-4090', '--gpus', '2', '--seq', '32768');
  await expect(page.getByTestId('mem-total')).toHaveAttribute('data-bytes',
    String(placed.devices.reduce((sum, d) => sum + d.total_bytes, 0) + placed.unplaced_bytes));
  await page.locator('#tree-card > summary').click();
  await expect(page.getByTestId('tree')).toHaveAttribute('data-tensors', String(cli('skeleton', 'llama-3.1-8b').tensors.length));
});
