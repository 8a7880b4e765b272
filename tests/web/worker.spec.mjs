// Issue 17, item 9: heavy models must not freeze the page. The deferred solves (fit or placed solve, the
// single-GPU placement, the catalog over every GPU) and the skeleton tree's data run in a Web Worker; the main
// thread only draws. Long tasks are measured with the browser's own PerformanceObserver ('longtask': every task
// over 50 ms) and a heartbeat (the longest gap between timer ticks, which also sees tasks under 50 ms).
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

// The longest task and the longest heartbeat gap since `since` (performance.now() of the page).
async function mainThreadFigures(page, since) {
  return page.evaluate((t0) => {
    const longest = (list) => list.filter((e) => e.start >= t0).reduce((m, e) => Math.max(m, e.duration), 0);
    return { longTasks: window.__longTasks.filter((e) => e.start >= t0).length, longestTask: longest(window.__longTasks),
      longestGap: longest(window.__gaps), worker: document.body.dataset.solver };
  }, since);
}

// Exit status of `modelplan place ...`: 0 it fits, 3 it does not.
const placeStatus = (...args) => spawnSync(bin, ['place', ...args, '--json'], { encoding: 'utf8' }).status;

test('DeepSeek-V3 on 2 x H200 with 512 GiB CPU offload: no long task while its solves run', async ({ app, page }) => {
  await app.open('#model=llama-3.1-8b');
  await expect(page.locator('body')).toHaveAttribute('data-solver', 'worker');
  const t0 = await page.evaluate(() => performance.now());
  await choosePreset(page, 'deepseek-v3');
  await setWorkload(page, { gpu: 'h200-141gb', gpus: 2, cpu: '512' });
  // Typing context values key by key while the solves of the previous keys run.
  for (const seq of ['8192', '32768', '131072']) {
    await page.locator('#seq').fill('');
    await page.locator('#seq').pressSequentially(seq, { delay: 30 });
  }
  // The tree opens while the last solves are still running: a loading state first, then its top level.
  await page.locator('#tree-card > summary').click();
  const skeleton = cli('skeleton', 'deepseek-v3');
  await expect(page.getByTestId('tree')).toHaveAttribute('data-tensors', String(skeleton.tensors.length));
  await settled(page);
  const figures = await mainThreadFigures(page, t0);
  expect(await page.evaluate(() => [...window.__seen].sort())).toEqual(
    ['fit-status placing…', 'fit-status solving…', 'tree loading']);
  console.log(`main thread while DeepSeek-V3's solves ran: longest task ${figures.longestTask.toFixed(0)} ms ` +
    `(${figures.longTasks} tasks over 50 ms), longest heartbeat gap ${figures.longestGap.toFixed(0)} ms`);
  expect(figures.longestTask, 'no main-thread task of 50 ms or more').toBeLessThan(50);

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

test('a newer input wins: answers for older inputs are never drawn', async ({ app, page }) => {
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
