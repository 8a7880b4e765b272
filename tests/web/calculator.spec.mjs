// The calculator page in Chromium. Every expected number comes from the native program (`modelplan ... --json`,
// run here), from a file this test writes itself, or from what another page shows — never pasted.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, expect, cli, cliArgs, cliError, choosePreset, setWorkload, settled, digits, root, artifacts, llamaShapes } from './helpers.mjs';

const itemTestId = (name) => `mem-${name === 'kv_cache' ? 'kv' : name.replace(/_/g, '-')}`;

// Presets and workloads: dense, MoE, MLA + GGUF quantization, encoder-decoder without a GPU, training with LoRA,
// training with ZeRO-3 over several GPUs on a multimodal model.
const cases = [
  { model: 'llama-3.1-8b', workload: { gpu: 'rtx-4090' } },
  { model: 'mixtral-8x7b-v0.1', workload: { batch: 4, seq: 8192, kv_dtype: 'fp8', gpu: 'h100-80gb' } },
  { model: 'deepseek-v3', workload: { quant: 'q4_k_m', seq: 16384, gpu: 'h200-141gb' } },
  { model: 't5-small', workload: { dtype: 'fp32', gpu: '' } },
  { model: 'qwen3-8b', workload: { mode: 'training', method: 'lora', optimizer: 'adamw-8bit', batch: 2, seq: 2048, gpu: 'a100-80gb' } },
  { model: 'gemma-3-4b', workload: { mode: 'training', recompute: 'full', zero: '3', gpus: 4, gpu: 'l40s' } },
];

for (const { model, workload } of cases) {
  test(`${model} ${JSON.stringify(workload)}: the page shows the native program's numbers`, async ({ page, app }) => {
    await app.open();
    await choosePreset(page, model);
    await setWorkload(page, workload);
    await settled(page);
    await expect(page.getByTestId('error')).toBeHidden();

    const { gpu, ...rest } = workload;
    const params = cli('params', model, ...(rest.dtype ? ['--dtype', rest.dtype] : []));
    const gpuArgs = gpu ? ['--gpu', gpu] : [];
    const plan = cli('plan', model, ...cliArgs(rest), ...gpuArgs).plan;

    await expect(page.getByTestId('model-title')).toHaveText(model);
    expect(digits(await page.getByTestId('total-params').locator('.exact').textContent())).toBe(params.params.total);
    expect(digits(await page.getByTestId('active-params').locator('.exact').textContent())).toBe(params.params.active);
    expect(digits(await page.getByTestId('mem-total').locator('.exact').textContent())).toBe(plan.total_bytes);
    await expect(page.getByTestId('mem-total').locator('.human')).toHaveText(`${(plan.total_bytes / 2 ** 30).toFixed(2)} GiB`);
    const shownItems = await page.locator('#items tbody th').allTextContents();
    expect(shownItems).toEqual(plan.items.map((it) => it.name));
    for (const item of plan.items)
      expect(digits(await page.getByTestId(itemTestId(item.name)).textContent()), item.name).toBe(item.bytes);
    if (plan.mode === 'inference') {
      expect(digits(await page.getByTestId('mem-weights').textContent())).toBe(plan.items.find((i) => i.name === 'weights').bytes);
      expect(digits(await page.getByTestId('mem-kv').textContent())).toBe(plan.items.find((i) => i.name === 'kv_cache').bytes);
    }
    await expect(page.getByTestId('warnings').locator('li')).toHaveText(plan.warnings);

    const verdict = page.getByTestId('fits-verdict');
    if (!gpu) {
      await expect(verdict).toHaveText('choose a GPU for a verdict');
      expect(plan.devices).toEqual([]);
      return;
    }
    const device = plan.devices[0];
    await expect(verdict).toHaveAttribute('data-fits', String(device.fits));
    await expect(verdict.locator('strong')).toHaveText(device.fits ? 'fits' : 'does not fit');
    expect(digits(await page.getByTestId('headroom').locator('.exact').textContent())).toBe(device.headroom_bytes);
    expect(Number(await page.getByTestId('decode-tps').getAttribute('data-value')))
      .toBe(device.roofline.decode_tokens_per_s_upper_bound);
    expect(Number(await page.getByTestId('prefill-s').getAttribute('data-value')))
      .toBe(device.roofline.prefill_seconds_lower_bound);
    await expect(page.getByTestId('device-errors').locator('li')).toHaveText([...device.errors, ...device.warnings]);

    const fit = cli('fit', model, ...cliArgs(rest), ...gpuArgs);
    // 0 is said in words on the page (issue 17); the value is in data-value.
    expect(Number(await page.getByTestId('max-seq').getAttribute('data-value'))).toBe(fit.max_seq);
    expect(Number(await page.getByTestId('max-batch').getAttribute('data-value'))).toBe(fit.max_batch);
    expect(digits(await page.getByTestId('gpus-needed').textContent())).toBe(fit.gpus_needed);
    // The text says it in words (issue 17: "none needed", "nothing fits"); the value is the core's.
    await expect(page.getByTestId('smallest-quant')).toHaveAttribute('data-value', fit.smallest_quant ?? '');

    // Which catalog GPUs fit: three of them against the native verdicts.
    for (const other of ['rtx-4090', 'v100-16gb', 'b200-180gb']) {
      const d = cli('plan', model, ...cliArgs(rest), '--gpu', other).plan.devices[0];
      await expect(page.locator(`#catalog li[data-gpu="${other}"]`), other).toHaveAttribute('data-fits', String(d.fits));
    }
  });
}

const tinyConfig = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 256, intermediate_size: 688,
  num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 4096,
  max_position_embeddings: 2048, rms_norm_eps: 1e-5, tie_word_embeddings: false, torch_dtype: 'bfloat16',
};

test('pasted config: recomputed as typed; an invalid one shows the error next to it and keeps the last result', async ({ page, app }) => {
  await app.open();
  await page.getByRole('tab', { name: 'Paste config.json' }).click();
  const input = page.getByTestId('config-input');
  // A real config: Qwen2.5-7B's, as bundled (models/qwen2.5-7b/config.json), read by the CLI from the same file.
  const file = path.join(root, 'models/qwen2.5-7b/config.json');
  await input.fill(readFileSync(file, 'utf8'));
  await settled(page);
  const expected = cli('params', file).params.total;
  expect(digits(await page.getByTestId('total-params').locator('.exact').textContent())).toBe(expected);
  const memBefore = await page.getByTestId('mem-total').textContent();
  await expect(page.getByTestId('error')).toBeHidden();

  // Half-typed JSON: a syntax error, shown beside the text area; the numbers stay.
  await input.fill('{"model_type": "llama", "hidden_size": 40');
  await expect(page.getByTestId('error')).toBeVisible();
  await expect(page.getByTestId('error')).toHaveAttribute('data-code', 'json_syntax');
  expect(await page.locator('#config-input + #error').count(), 'the error sits right after the text area').toBe(1);
  expect(digits(await page.getByTestId('total-params').locator('.exact').textContent())).toBe(expected);
  await expect(page.getByTestId('mem-total')).toHaveText(memBefore);

  // Heads that do not divide: the native program's own message for the same config.
  const bad = { ...tinyConfig, num_key_value_heads: 3 };
  await input.fill(JSON.stringify(bad));
  await expect(page.getByTestId('error')).toHaveAttribute('data-code', 'not_divisible');
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const dir = mkdtempSync(path.join(tmpdir(), 'modelplan-bad-'));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(bad));
  // The native program names the file it read ("PATH: message"); the page's config has no path.
  const badFile = path.join(dir, 'config.json');
  await expect(page.getByTestId('error')).toContainText(cliError('params', badFile).replace(`${badFile}: `, ''));
  expect(digits(await page.getByTestId('total-params').locator('.exact').textContent())).toBe(expected);

  // Fixed: the error goes, the new model's numbers come.
  await input.fill(JSON.stringify(tinyConfig));
  await settled(page);
  await expect(page.getByTestId('error')).toBeHidden();
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(tinyConfig));
  expect(digits(await page.getByTestId('total-params').locator('.exact').textContent())).toBe(cli('params', path.join(dir, 'config.json')).params.total);

  // A bad workload value: the error goes next to that control.
  await page.getByTestId('batch').fill('0');
  await expect(page.getByTestId('error')).toBeVisible();
  expect(await page.locator('label:has(#batch) + #error').count()).toBe(1);
  await page.getByTestId('batch').fill('2');
  await expect(page.getByTestId('error')).toBeHidden();
});

// A safetensors file written here: the tiny Llama above, BF16, with its tensors in the published Llama naming
// (transformers' LlamaForCausalLM state_dict). Several MB of data after a header of a few KB.
function tinySafetensors(pick = () => true) {
  const shapes = llamaShapes(tinyConfig);
  const header = {};
  let offset = 0;
  let elements = 0;
  for (const [name, shape] of shapes.filter(([name], i) => pick(name, i))) {
    const n = shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: 'BF16', shape, data_offsets: [offset, offset + 2 * n] };
    offset += 2 * n;
    elements += n;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return { head: Buffer.concat([length, json]), dataBytes: offset, elements, names: Object.keys(header) };
}

test('dropped safetensors: exact count from the header, and only the header bytes were read', async ({ page, app }) => {
  // Count every byte any Blob hands out, and every range sliced, before the page's scripts run.
  await page.addInitScript(() => {
    const log = (window.__reads = { slices: [], read: [] });
    const slice = Blob.prototype.slice;
    Blob.prototype.slice = function (start, end, type) {
      const part = slice.call(this, start, end, type);
      log.slices.push([start ?? 0, end ?? this.size, this.size]);
      return part;
    };
    for (const method of ['arrayBuffer', 'text', 'stream', 'bytes']) {
      const original = Blob.prototype[method];
      if (!original) continue;
      Blob.prototype[method] = function (...args) {
        log.read.push([method, this.size]);
        return original.apply(this, args);
      };
    }
  });
  await app.open();
  await page.getByRole('tab', { name: 'Paste config.json' }).click();
  await page.getByTestId('config-input').fill(JSON.stringify(tinyConfig));
  await settled(page);
  await page.getByRole('tab', { name: 'File' }).click();

  const { head, dataBytes, elements } = tinySafetensors();
  expect(dataBytes).toBeGreaterThan(4 << 20);
  const fileSize = head.length + dataBytes;
  // The same file on disk for the native program.
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const dir = mkdtempSync(path.join(tmpdir(), 'modelplan-st-'));
  const onDisk = path.join(dir, 'model.safetensors');
  writeFileSync(onDisk, Buffer.concat([head, Buffer.alloc(dataBytes)]));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(tinyConfig));
  const native = cli('inspect', onDisk, '--config', path.join(dir, 'config.json'));
  expect(native.params.total).toBe(elements);

  // Drop it: header bytes from here, the data section zeros, built into a File in the page.
  const dataTransfer = await page.evaluateHandle(({ head, dataBytes }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(head), new Uint8Array(dataBytes)], 'model.safetensors'));
    return dt;
  }, { head: [...head], dataBytes });
  await page.evaluate(() => { window.__reads.slices.length = 0; window.__reads.read.length = 0; });
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer });
  await expect(page.getByTestId('inspect-card')).toBeVisible();

  expect(digits(await page.getByTestId('inspect-total').locator('.exact').textContent())).toBe(elements);
  await expect(page.getByTestId('inspect-tensors')).toHaveText(String(native.tensors.length));
  expect(digits(await page.getByTestId('inspect-bytes').locator('.exact').textContent())).toBe(native.bytes);
  await expect(page.getByTestId('inspect-format')).toHaveText('safetensors');
  await expect(page.getByTestId('inspect-verify')).toHaveAttribute('data-ok', 'true');
  await expect(page.getByTestId('inspect-dtypes').locator('tbody th')).toHaveText(Object.keys(native.params.by_dtype));

  const reads = await page.evaluate(() => window.__reads);
  const ofFile = reads.slices.filter(([, , size]) => size === fileSize);
  expect(ofFile.length).toBeGreaterThan(0);
  for (const [start, end] of ofFile) {
    expect(start).toBeGreaterThanOrEqual(0);
    expect(end, 'no slice reaches past the header').toBeLessThanOrEqual(head.length);
  }
  expect(reads.read.filter(([, size]) => size === fileSize), 'the whole file was never read').toEqual([]);
  const bytesRead = reads.read.reduce((a, [, size]) => a + size, 0);
  expect(bytesRead, 'bytes read: the 8-byte length and the header, nothing else').toBe(head.length);
  expect(Number(await page.getByTestId('inspect-read').getAttribute('data-value'))).toBe(head.length);
  await page.screenshot({ path: path.join(artifacts, 'checkpoint-safetensors.png'), fullPage: true });
});

test('config.json from the file picker', async ({ page, app }) => {
  await app.open();
  await page.getByRole('tab', { name: 'File' }).click();
  const file = path.join(root, 'models/mistral-7b-v0.1/config.json');
  await page.getByTestId('file-input').setInputFiles(file);
  await expect(page.getByTestId('config-input')).toHaveValue(readFileSync(file, 'utf8'));
  await settled(page);
  expect(digits(await page.getByTestId('total-params').locator('.exact').textContent())).toBe(cli('params', file).params.total);
});

test('share link: a second page opened from the URL shows the same inputs and numbers', async ({ page, app, browser }) => {
  await app.open();
  await choosePreset(page, 'qwen2.5-7b');
  await setWorkload(page, { mode: 'training', method: 'qlora', batch: 2, seq: 2048, gpu: 'a100-40gb' });
  await settled(page);
  const url = page.url();
  expect(url).toContain('#');
  const shown = async (p) => Object.fromEntries(await Promise.all(
    ['total-params', 'mem-total', 'fits-verdict', 'max-seq', 'headroom'].map(async (id) => [id, await p.getByTestId(id).textContent()])));
  const controls = async (p) => Object.fromEntries(await Promise.all(
    ['mode', 'method', 'batch', 'seq', 'gpu', 'quant'].map(async (id) => [id, await p.locator(`#${id}`).inputValue()])));
  const first = { shown: await shown(page), controls: await controls(page) };

  const other = await (await browser.newContext()).newPage();
  await app.open(url, other);
  expect({ shown: await shown(other), controls: await controls(other) }).toEqual(first);
  await expect(other.locator('#preset-list li.selected')).toHaveAttribute('data-name', 'qwen2.5-7b');
  const plan = cli('plan', 'qwen2.5-7b', '--mode', 'training', '--method', 'qlora', '--batch', '2', '--seq', '2048').plan;
  expect(digits(await other.getByTestId('mem-total').locator('.exact').textContent())).toBe(plan.total_bytes);

  // A pasted config travels in the link too.
  await page.getByRole('tab', { name: 'Paste config.json' }).click();
  await page.getByTestId('config-input').fill(JSON.stringify(tinyConfig));
  await settled(page);
  await app.open(page.url(), other);
  await expect(other.getByTestId('config-input')).toHaveValue(JSON.stringify(tinyConfig));
  expect(await other.getByTestId('total-params').textContent()).toBe(await page.getByTestId('total-params').textContent());
  await other.context().close();
});

test('skeleton tree: DeepSeek-V3 opens at the top level and expands on demand', async ({ page, app }) => {
  await app.open();
  await choosePreset(page, 'deepseek-v3');
  await settled(page);
  const skeleton = cli('skeleton', 'deepseek-v3');
  await page.locator('#tree-card > summary').click();
  await expect(page.getByTestId('tree')).toHaveAttribute('data-tensors', String(skeleton.tensors.length));
  expect(await page.locator('#tree li').count(), 'only the top level is in the DOM').toBeLessThan(10);
  const name = 'model.layers.5.mlp.experts.17.down_proj.weight';
  const expectedTensor = skeleton.tensors.find((t) => t.name === name);
  for (const p of ['model', 'model.layers', 'model.layers.5', 'model.layers.5.mlp', 'model.layers.5.mlp.experts', 'model.layers.5.mlp.experts.17',
    'model.layers.5.mlp.experts.17.down_proj'])
    await page.locator(`#tree details[data-path="${p}"] > summary`).click();
  const leaf = page.locator(`#tree li[data-name="${name}"]`);
  await expect(leaf.locator('.shape')).toHaveText(`[${expectedTensor.shape.join(', ')}]`);
  await expect(leaf.locator('.dtype')).toHaveText(expectedTensor.dtype);
  expect(await page.locator('#tree li').count(), 'expanding six levels adds hundreds of nodes, not tens of thousands').toBeLessThan(2000);
  await page.screenshot({ path: path.join(artifacts, 'tree-deepseek-v3.png'), fullPage: true });
});

test('screenshots of the main views: laptop light and dark, phone', async ({ page, app, browser }) => {
  await app.open();
  await choosePreset(page, 'mixtral-8x7b-v0.1');
  await setWorkload(page, { batch: 4, seq: 16384, gpu: 'h100-80gb' });
  await settled(page);
  await page.emulateMedia({ colorScheme: 'light' });
  await page.screenshot({ path: path.join(artifacts, 'laptop-light.png'), fullPage: true });
  await page.getByTestId('theme').click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await page.screenshot({ path: path.join(artifacts, 'laptop-dark.png'), fullPage: true });

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const p = await phone.newPage();
  await app.open(page.url(), p);
  // Readable on a phone: nothing wider than the screen.
  expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await p.screenshot({ path: path.join(artifacts, 'phone.png'), fullPage: true });
  await phone.close();
});

test('placement: device map and per-device memory as the native program places them, and the download', async ({ page, app }) => {
  await app.open();
  await choosePreset(page, 'llama-3.1-70b');
  // 128 GiB of host memory: the placement fits, so its map is whole and offered for download (issue 17: a map
  // that cannot load is not offered; issue17.spec.mjs checks that side).
  await setWorkload(page, { gpu: 'rtx-4090', gpus: 2, cpu: '128GiB', seq: 8192 });
  await settled(page);
  await expect(page.getByTestId('error')).toBeHidden();
  // `place` exits 3 when the model does not fit; its JSON is printed all the same.
  const { spawnSync } = await import('node:child_process');
  const { bin } = await import('./helpers.mjs');
  const run = spawnSync(bin, ['place', 'llama-3.1-70b', '--gpu', 'rtx-4090', '--gpus', '2', '--cpu', '128GiB', '--seq', '8192', '--json'],
    { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect([0, 3]).toContain(run.status);
  const native = JSON.parse(run.stdout);

  await expect(page.getByTestId('place-card')).toBeVisible();
  await expect(page.getByTestId('place-verdict')).toHaveAttribute('data-fits', String(native.fits));
  await expect(page.getByTestId('fits-verdict')).toHaveAttribute('data-fits', String(native.fits));
  expect(JSON.parse(await page.getByTestId('device-map').textContent())).toEqual(native.device_map);
  const bars = page.locator('#place-bars [data-device]');
  await expect(bars).toHaveCount(native.devices.length);
  for (const d of native.devices)
    await expect(page.locator(`#place-bars [data-device="${d.name}"]`)).toHaveAttribute('data-bytes', String(d.total_bytes));
  await expect(page.getByTestId('place-notes').locator('li')).toHaveText([...native.suggestions, ...native.warnings]);

  const download = page.waitForEvent('download');
  await page.getByTestId('place-download').click();
  const file = await (await download).path();
  expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(native.device_map);
  await page.screenshot({ path: path.join(artifacts, 'placement.png'), fullPage: true });

  // A CPU size that is not one: the core's message next to that input, the placement shown stays.
  const mapBefore = await page.getByTestId('device-map').textContent();
  await page.locator('#cpu').fill('lots');
  await expect(page.getByTestId('error')).toHaveAttribute('data-code', 'bad_request');
  expect(await page.locator('label:has(#cpu) + #error').count()).toBe(1);
  await expect(page.getByTestId('error')).toContainText(cliError('place', 'llama-3.1-70b', '--gpu', 'rtx-4090', '--cpu', 'lots').replace(/^--/, ''));
  await expect(page.getByTestId('device-map')).toHaveText(mapBefore);
  await page.locator('#cpu').fill('64GiB');
  await expect(page.getByTestId('error')).toBeHidden();
});

test('dropped index with its two shards: one checkpoint, verified, headers only', async ({ page, app }) => {
  await page.addInitScript(() => {
    const log = (window.__reads = []);
    const original = Blob.prototype.arrayBuffer;
    Blob.prototype.arrayBuffer = function () {
      log.push(this.size);
      return original.call(this);
    };
  });
  await app.open();
  await page.getByRole('tab', { name: 'Paste config.json' }).click();
  await page.getByTestId('config-input').fill(JSON.stringify(tinyConfig));
  await settled(page);
  await page.getByRole('tab', { name: 'File' }).click();

  // Two shards as transformers' save_pretrained names them, split after layer 0, and their index.
  const first = tinySafetensors((name) => name.startsWith('model.embed_tokens') || name.startsWith('model.layers.0.'));
  const second = tinySafetensors((name) => !(name.startsWith('model.embed_tokens') || name.startsWith('model.layers.0.')));
  const shards = [['model-00001-of-00002.safetensors', first], ['model-00002-of-00002.safetensors', second]];
  const weightMap = {};
  for (const [file, shard] of shards) for (const name of shard.names) weightMap[name] = file;
  const index = JSON.stringify({ metadata: { total_size: first.dataBytes + second.dataBytes }, weight_map: weightMap });
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const os = await import('node:os');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelplan-index-'));
  for (const [file, shard] of shards) writeFileSync(path.join(dir, file), Buffer.concat([shard.head, Buffer.alloc(shard.dataBytes)]));
  writeFileSync(path.join(dir, 'model.safetensors.index.json'), index);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(tinyConfig));
  const native = cli('inspect', path.join(dir, 'model.safetensors.index.json'), '--config', path.join(dir, 'config.json'));
  expect(native.params.total).toBe(first.elements + second.elements);
  expect(native.verify.ok).toBe(true);

  const dataTransfer = await page.evaluateHandle(({ index, shards }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([index], 'model.safetensors.index.json'));
    for (const [name, head, dataBytes] of shards) dt.items.add(new File([new Uint8Array(head), new Uint8Array(dataBytes)], name));
    return dt;
  }, { index, shards: shards.map(([name, s]) => [name, [...s.head], s.dataBytes]) });
  await page.evaluate(() => { window.__reads.length = 0; });
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer });
  await expect(page.getByTestId('inspect-card')).toBeVisible();
  expect(digits(await page.getByTestId('inspect-total').locator('.exact').textContent())).toBe(native.params.total);
  await expect(page.getByTestId('inspect-tensors')).toHaveText(String(native.tensors.length));
  await expect(page.getByTestId('inspect-verify')).toHaveAttribute('data-ok', 'true');
  const read = await page.evaluate(() => window.__reads.reduce((a, b) => a + b, 0));
  expect(read, 'the index and the two headers, nothing of the data').toBe(Buffer.byteLength(index) + first.head.length + second.head.length);
});

// A GGUF file written here by the format's layout (ggml docs/gguf.md, version 3): header, two metadata keys, two
// F32 tensor infos (dimensions innermost first), data aligned to 32 bytes. Its architecture metadata is
// incomplete on purpose, so the file is inventoried but not verified.
function tinyGguf() {
  const parts = [];
  const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
  const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b); };
  const str = (s) => { u64(Buffer.byteLength(s)); parts.push(Buffer.from(s)); };
  const tensors = [['token_embd.weight', [64, 1000]], ['blk.0.ffn_up.weight', [1024, 1024]]];
  parts.push(Buffer.from('GGUF'));
  u32(3);
  u64(tensors.length);
  u64(2);
  str('general.architecture'); u32(8); str('tinytest');
  str('general.name'); u32(8); str('tiny gguf');
  let offset = 0;
  let elements = 0;
  for (const [name, ne] of tensors) {
    str(name); u32(ne.length); for (const d of ne) u64(d); u32(0 /* GGML_TYPE_F32 */); u64(offset);
    const n = ne.reduce((a, b) => a * b, 1);
    elements += n;
    offset += Math.ceil((4 * n) / 32) * 32;
  }
  let head = Buffer.concat(parts);
  head = Buffer.concat([head, Buffer.alloc((32 - (head.length % 32)) % 32)]);
  return { head, dataBytes: offset, elements };
}

test('dropped GGUF file: the inventory from its header, read ahead but never the data', async ({ page, app }) => {
  await page.addInitScript(() => {
    const log = (window.__reads = []);
    const original = Blob.prototype.arrayBuffer;
    Blob.prototype.arrayBuffer = function () {
      log.push(this.size);
      return original.call(this);
    };
  });
  await app.open();
  await page.getByRole('tab', { name: 'File' }).click();
  const { head, dataBytes, elements } = tinyGguf();
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'modelplan-gguf-')), 'tiny.gguf');
  writeFileSync(file, Buffer.concat([head, Buffer.alloc(dataBytes)]));
  const native = cli('inspect', file);
  expect(native.params.total).toBe(elements);

  const dataTransfer = await page.evaluateHandle(({ head, dataBytes }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(head), new Uint8Array(dataBytes)], 'tiny.gguf'));
    return dt;
  }, { head: [...head], dataBytes });
  await page.evaluate(() => { window.__reads.length = 0; });
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer });
  await expect(page.getByTestId('inspect-card')).toBeVisible();
  await expect(page.getByTestId('inspect-format')).toHaveText('gguf');
  expect(digits(await page.getByTestId('inspect-total').locator('.exact').textContent())).toBe(native.params.total);
  await expect(page.getByTestId('inspect-tensors')).toHaveText(String(native.tensors.length));
  await expect(page.getByTestId('inspect-warnings').locator('li')).toHaveText(native.warnings);
  const read = await page.evaluate(() => window.__reads.reduce((a, b) => a + b, 0));
  expect(read).toBeGreaterThanOrEqual(head.length);
  expect(read, 'one 256 KiB read-ahead, not the 4 MB of data').toBeLessThanOrEqual(1 << 18);
  await page.screenshot({ path: path.join(artifacts, 'checkpoint-gguf.png'), fullPage: true });
});
