// Issue 17: your own GPU, units and aliases, the values in use, "does not fit" in words, and a device map that
// cannot load. Every expected number comes from the native program (`modelplan ... --json`), the outside
// reference the page must agree with.
import { test, expect, cli, bin, settled, choosePreset, setWorkload, digits, artifacts } from './helpers.mjs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const GiB = 2 ** 30;

test('a GPU of your own: memory, bandwidth and TFLOPS, in the link too', async ({ app, page }) => {
  await app.open('#model=llama-3.1-8b');
  await page.locator('#gpu').selectOption('custom');
  await expect(page.getByTestId('custom-gpu')).toBeVisible();
  await page.getByTestId('custom-mem').fill('24');
  await page.getByTestId('custom-bw').fill('1008');
  await page.getByTestId('custom-tflops').fill('165');
  await settled(page);
  const plan = cli('plan', 'llama-3.1-8b', '--gpu', 'custom:24,bw=1008,tflops=165').plan;
  const d = plan.devices[0];
  expect(d.memory_bytes).toBe(24 * GiB); // "24" without a unit is 24 GiB
  await expect(page.getByTestId('fits-verdict')).toHaveAttribute('data-fits', String(d.fits));
  expect(digits(await page.getByTestId('headroom').locator('.exact').textContent())).toBe(d.headroom_bytes);
  expect(Number(await page.getByTestId('decode-tps').getAttribute('data-value')))
    .toBeCloseTo(d.roofline.decode_tokens_per_s_upper_bound, 6);
  await expect(page.locator('#fit-gpu-name')).toContainText('your GPU (24,bw=1008,tflops=165)');
  // The link keeps it; opening it restores the entry.
  await page.waitForFunction(() => location.hash.includes('gpu=custom'));
  const link = new URL(page.url()).hash;
  expect(decodeURIComponent(link)).toContain('gpu=custom:24,bw=1008,tflops=165');
  await app.open(`/${link}`);
  await expect(page.locator('#gpu')).toHaveValue('custom');
  await expect(page.getByTestId('custom-mem')).toHaveValue('24');
  await expect(page.getByTestId('custom-bw')).toHaveValue('1008');
  // A memory that is not a size is the core's message beside the entry; the last result stays, dimmed.
  await page.getByTestId('custom-mem').fill('lots');
  await expect(page.getByTestId('error')).toContainText('custom:MEMORY');
  await expect(page.locator('.results')).toHaveAttribute('data-stale', 'true');
  await page.screenshot({ path: path.join(artifacts, 'issue17-custom-gpu.png'), fullPage: true });
});

test('the GPU menu: short names with their memory, sorted by memory', async ({ app, page }) => {
  await app.open();
  const options = await page.locator('#gpu option').evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent })));
  const catalog = cli('gpus').gpus;
  const memory = new Map(catalog.map((g) => [g.key, g.memory_bytes]));
  const listed = options.filter((o) => memory.has(o.value));
  expect(listed.length).toBe(catalog.length);
  for (let i = 1; i < listed.length; ++i) expect(memory.get(listed[i].value)).toBeGreaterThanOrEqual(memory.get(listed[i - 1].value));
  // nvidia-smi's 24,564 MiB for an RTX 4090 is 23.99 GiB: "RTX 4090 · 24 GiB", no vendor words.
  expect(listed.find((o) => o.value === 'rtx-4090').text).toBe('RTX 4090 · 24 GiB');
  for (const key of ['rtx-3060-12gb', 'rtx-4060-ti-16gb', 'rtx-4070-super', 'rtx-4080-super', 'rtx-5080', 'apple-m1-pro-16gb'])
    expect(memory.has(key), key).toBe(true);
  expect(options.at(-1)).toEqual({ value: 'custom', text: 'Your own GPU…' });
});

test('a bare number in CPU offload is GiB, and a fit that needs the offload says so in amber', async ({ app, page }) => {
  await app.open('#model=llama-3.1-70b&quant=q4_k_m&gpu=rtx-4090');
  await page.locator('#cpu').fill('64');
  await settled(page);
  const placed = cli('place', 'llama-3.1-70b', '--quant', 'q4_k_m', '--gpu', 'rtx-4090', '--cpu', '64');
  const cpu = placed.devices.find((d) => d.kind === 'cpu');
  expect(cpu.budget_bytes).toBe(64 * GiB);
  expect(placed.fits).toBe(true);
  expect(cpu.total_bytes).toBeGreaterThan(0);
  const verdict = page.getByTestId('fits-verdict');
  await expect(verdict).toHaveAttribute('data-offload', 'true');
  await expect(verdict).toHaveClass(/offload/);
  await expect(verdict).toContainText('fits only with CPU offload');
  const colour = await verdict.evaluate((n) => getComputedStyle(n).color);
  const warn = await page.evaluate(() => {
    const probe = document.createElement('span');
    probe.style.color = 'var(--warn)';
    document.body.append(probe);
    const c = getComputedStyle(probe).color;
    probe.remove();
    return c;
  });
  expect(colour).toBe(warn);
  await expect(page.getByTestId('place-verdict')).toHaveAttribute('data-offload', 'true');
  // The catalog places every GPU the same way: the RTX 4090's line is amber with the offload too.
  await expect(page.locator('#catalog li[data-gpu="rtx-4090"]')).toHaveAttribute('data-offload', 'true');
  await page.screenshot({ path: path.join(artifacts, 'issue17-offload-amber.png'), fullPage: true });
});

test('letters in a number field get a message, and the stale result is dimmed', async ({ app, page }) => {
  await app.open('#model=llama-3.1-8b');
  await page.locator('#batch').fill('abc');
  await expect(page.getByTestId('error')).toBeVisible();
  await expect(page.getByTestId('error')).toContainText('abc');
  await expect(page.locator('label:has(#batch) + #error')).toHaveCount(1);
  await expect(page.locator('.results')).toHaveAttribute('data-stale', 'true');
  const opacity = await page.locator('.results .summary').evaluate((n) => Number(getComputedStyle(n).opacity));
  expect(opacity).toBeLessThan(1);
  await page.locator('#batch').fill('2');
  await expect(page.getByTestId('error')).toBeHidden();
  await expect(page.locator('.results')).toHaveAttribute('data-stale', 'false');
});

test('quantization names people type: aliases, and the closest names for an unknown one', async ({ app, page }) => {
  await app.open('#model=llama-3.1-8b');
  await page.locator('#quant').fill('gptq');
  await settled(page);
  const gptq = cli('plan', 'llama-3.1-8b', '--quant', 'gptq-4bit-128g').plan;
  expect(Number(await page.getByTestId('mem-weights').getAttribute('data-bytes'))).toBe(gptq.items[0].bytes);
  await page.locator('#quant').fill('awq-8bit');
  const error = page.getByTestId('error');
  await expect(error).toContainText('closest: ');
  const text = await error.textContent();
  expect(text.length).toBeLessThan(300); // a few names, not a wall of thirty
});

test('the values in use are shown, DeepSeek-V3 quantized from its config', async ({ app, page }) => {
  await app.open('#model=deepseek-v3');
  const v = cli('plan', 'deepseek-v3').plan.in_use;
  expect(v.quant).toBe('fp8-block128'); // config.json quantization_config: fp8, weight_block_size [128, 128]
  await expect(page.locator('#quant')).toHaveAttribute('placeholder', 'fp8-block128 (from config)');
  await expect(page.locator('#seq')).toHaveAttribute('placeholder', `${v.seq.toLocaleString('en-US')} (default)`);
  await expect(page.locator('#batch')).toHaveAttribute('placeholder', '1 (default)');
  await expect(page.locator('#kv_dtype option').first()).toHaveText(`compute dtype (${v.kv_dtype})`);
  await expect(page.getByTestId('values-in-use')).toContainText('weights fp8-block128 (from config)');
  await expect(page.getByTestId('values-in-use')).toContainText('context 4,096 (default)');
  await page.screenshot({ path: path.join(artifacts, 'issue17-defaults-shown.png'), fullPage: true });
});

test('"does not fit" in words: no 0 tokens, no speeds; none needed vs nothing fits', async ({ app, page }) => {
  await app.open('#model=llama-3.1-70b&gpu=rtx-4090');
  const fit = cli('fit', 'llama-3.1-70b', '--gpu', 'rtx-4090');
  expect(fit.max_seq).toBe(0);
  await expect(page.getByTestId('max-seq')).toContainText('none');
  await expect(page.getByTestId('max-seq')).not.toContainText('0 tokens');
  await expect(page.getByTestId('max-batch')).toContainText('none');
  await expect(page.getByTestId('decode-tps')).toHaveText('does not run: it does not fit');
  await expect(page.getByTestId('prefill-s')).toHaveText('does not run: it does not fit');
  // Llama-3.1-405B: no rung of the ladder fits one RTX 4090.
  await choosePreset(page, 'llama-3.1-405b');
  await settled(page);
  expect(cli('fit', 'llama-3.1-405b', '--gpu', 'rtx-4090').smallest_quant).toBe(null);
  await expect(page.getByTestId('smallest-quant')).toContainText('nothing fits');
  // Llama-3.1-8B on an H100 fits unquantized: none needed.
  await setWorkload(page, { gpu: 'h100-80gb' });
  await choosePreset(page, 'llama-3.1-8b');
  await settled(page);
  expect(cli('fit', 'llama-3.1-8b', '--gpu', 'h100-80gb').smallest_quant).toBe('none');
  await expect(page.getByTestId('smallest-quant')).toHaveText('none needed: fits unquantized');
});

test('the unplaced part is its own bar; a map that cannot load is marked and not offered', async ({ app, page }) => {
  await app.open('#model=llama-3.1-70b&gpu=rtx-4090&gpus=2');
  // Exit status 3: does not fit (the JSON is printed all the same).
  const run = spawnSync(bin, ['place', 'llama-3.1-70b', '--gpu', 'rtx-4090', '--gpus', '2', '--json'], { encoding: 'utf8' });
  expect(run.status).toBe(3);
  const placed = JSON.parse(run.stdout);
  expect(placed.fits).toBe(false);
  expect(placed.unplaced_bytes).toBeGreaterThan(0);
  const unplaced = page.getByTestId('unplaced-bar');
  await expect(unplaced).toHaveAttribute('data-bytes', String(placed.unplaced_bytes));
  await expect(page.getByTestId('place-download')).toBeDisabled();
  await expect(page.getByTestId('device-map')).toHaveAttribute('data-complete', 'false');
  await expect(page.getByTestId('place-map-note')).toContainText('INCOMPLETE');
  await expect(page.getByTestId('place-map-note')).toContainText('cannot load');
  await page.screenshot({ path: path.join(artifacts, 'issue17-unplaced.png'), fullPage: true });
  // With room for it, the map is whole and downloadable again.
  await page.locator('#cpu').fill('128');
  await settled(page);
  await expect(page.getByTestId('place-download')).toBeEnabled();
  await expect(page.getByTestId('device-map')).toHaveAttribute('data-complete', 'true');
  await expect(page.getByTestId('unplaced-bar')).toHaveCount(0);
});

test('2 x RTX 4090, Llama-3.1-70B q4_k_m, context 32768: every answer from the placement', async ({ app, page }) => {
  await app.open('#model=llama-3.1-70b&quant=q4_k_m&seq=32768&gpu=rtx-4090&gpus=2');
  const run = spawnSync(bin, ['place', 'llama-3.1-70b', '--quant', 'q4_k_m', '--seq', '32768', '--gpu', 'rtx-4090',
    '--gpus', '2', '--json'], { encoding: 'utf8' });
  expect([0, 3]).toContain(run.status);
  const placed = JSON.parse(run.stdout);
  // Headline verdict and the bars of "Memory by item": one per device, the placement's bytes.
  await expect(page.getByTestId('fits-verdict')).toHaveAttribute('data-fits', String(placed.fits));
  // The headline memory: what the devices hold plus what found no place (not one device's plan against one card).
  const placedBytes = placed.devices.reduce((sum, d) => sum + d.total_bytes, 0) + placed.unplaced_bytes;
  await expect(page.getByTestId('mem-total')).toHaveAttribute('data-bytes', String(placedBytes));
  await expect(page.getByTestId('custom-gpu')).toBeHidden();
  const bars = page.locator('#bars [data-device]');
  await expect(bars).toHaveCount(placed.devices.length);
  for (const d of placed.devices)
    await expect(page.locator(`#bars [data-device="${d.name}"]`)).toHaveAttribute('data-bytes', String(d.total_bytes));
  // Longest context: the placement's, as the native program words it ("seq N (the longest context that fits").
  const seqHint = placed.suggestions.map((s) => /^seq (\d+) \(the longest context/.exec(s)).find(Boolean);
  const maxSeq = Number(await page.getByTestId('max-seq').getAttribute('data-value'));
  if (seqHint) expect(maxSeq).toBe(Number(seqHint[1]));
  expect(maxSeq).toBeGreaterThan(0); // two cards hold some context: never "0 tokens" from one card's plan
  // One "GPUs needed", the same as "N x rtx-4090 would fit".
  const gpusHint = placed.suggestions.map((s) => /^(\d+) x rtx-4090 would fit/.exec(s)).find(Boolean);
  if (gpusHint) expect(digits((await page.getByTestId('gpus-needed').textContent()).split(' ')[0])).toBe(Number(gpusHint[1]));
  await expect(page.getByTestId('gpus-needed')).toContainText('placed');
  // The catalog places each GPU the same way (two of them).
  await expect(page.locator('#catalog li[data-gpu="rtx-4090"]')).toHaveAttribute('data-fits', String(placed.fits));
  const h100 = spawnSync(bin, ['place', 'llama-3.1-70b', '--quant', 'q4_k_m', '--seq', '32768', '--gpu', 'h100-80gb',
    '--gpus', '2', '--json'], { encoding: 'utf8' });
  await expect(page.locator('#catalog li[data-gpu="h100-80gb"]')).toHaveAttribute('data-fits', String(JSON.parse(h100.stdout).fits));
  await page.screenshot({ path: path.join(artifacts, 'issue17-two-gpus.png'), fullPage: true });
});
