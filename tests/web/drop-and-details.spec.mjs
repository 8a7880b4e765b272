// Issue 17, items 7 ("Paste and drop") and 10 ("Smaller"): a pasted config named by itself, a dropped checkpoint's
// weights in the plan, the differing tensors by name, a failed drop that leaves no old card, the tree's counts
// said in words with parameters and bytes per module, the catalog by fit then memory with the reason for a ✗, and
// no decode speed for an encoder-only model. Expected values come from the native program (`cli(...)`), from the
// files and configs written here, or from published figures.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { artifacts, choosePreset, cli, digits, expect, llamaShapes, setWorkload, settled, test } from './helpers.mjs';

const GiB = 2 ** 30;
const gib = (bytes) => `${(bytes / GiB).toFixed(2)} GiB`;

// A tiny Llama (transformers' LlamaForCausalLM names), with a name of its own as transformers writes it.
const tinyConfig = {
  _name_or_path: 'acme/tiny-llama', architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 256,
  intermediate_size: 688, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 4096,
  max_position_embeddings: 2048, rms_norm_eps: 1e-5, tie_word_embeddings: false, torch_dtype: 'bfloat16',
};

// Its checkpoint: every tensor in BF16 (2 bytes) except the norms, stored in F32 (4 bytes) as some converters keep
// them. `edit(name, shape)` may drop a tensor (null) or change its shape.
function tinySafetensors(config = tinyConfig, edit = (name, shape) => shape) {
  const shapes = llamaShapes(config);
  const header = {};
  let offset = 0;
  let elements = 0;
  for (const [name, original] of shapes) {
    const shape = edit(name, original);
    if (!shape) continue;
    const n = shape.reduce((a, b) => a * b, 1);
    const width = name.endsWith('norm.weight') ? 4 : 2;
    header[name] = { dtype: width === 4 ? 'F32' : 'BF16', shape, data_offsets: [offset, offset + width * n] };
    offset += width * n;
    elements += n;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return { head: Buffer.concat([length, json]), dataBytes: offset, elements, names: shapes.map(([n]) => n) };
}

async function drop(page, files) {
  const dataTransfer = await page.evaluateHandle((files) => {
    const dt = new DataTransfer();
    for (const { name, head, dataBytes } of files) dt.items.add(new File([new Uint8Array(head), new Uint8Array(dataBytes)], name));
    return dt;
  }, files.map(({ name, head, dataBytes }) => ({ name, head: [...head], dataBytes })));
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer });
}

async function pasteConfig(page, config) {
  await page.getByRole('tab', { name: 'Paste config.json' }).click();
  await page.getByTestId('config-input').fill(JSON.stringify(config));
  await settled(page);
}

const shotOf = (name) => ({ path: path.join(artifacts, `drop-and-details-${name}.png`), fullPage: true });

test('a pasted config is named by its _name_or_path, else its architecture, in the title and the note', async ({ app, page }) => {
  await app.open('#model=llama-3.1-8b');
  await expect(page.getByTestId('model-note')).toHaveText('Model: preset llama-3.1-8b');
  await pasteConfig(page, tinyConfig);
  await expect(page.getByTestId('model-title')).toHaveText('acme/tiny-llama');
  await expect(page.getByTestId('model-note')).toContainText('acme/tiny-llama');
  await expect(page.getByTestId('model-note')).not.toContainText('preset');
  const { _name_or_path, ...unnamed } = tinyConfig;
  await page.getByTestId('config-input').fill(JSON.stringify(unnamed));
  await settled(page);
  await expect(page.getByTestId('model-title')).toHaveText('LlamaForCausalLM');
  await expect(page.getByTestId('model-note')).toContainText('LlamaForCausalLM (the pasted config.json)');
  const { architectures, ...bare } = unnamed;
  await page.getByTestId('config-input').fill(JSON.stringify(bare));
  await settled(page);
  await expect(page.getByTestId('model-title')).toHaveText('llama');
  await page.screenshot(shotOf('pasted-name'));
});

test("use this checkpoint's weights: the plan's weights are the bytes its headers give", async ({ app, page }) => {
  await app.open();
  await pasteConfig(page, tinyConfig);
  const st = tinySafetensors();
  // The config alone: every parameter in bfloat16, 2 bytes each (the count is the elements written here).
  const weights = page.getByTestId('mem-weights');
  await expect(weights).toHaveAttribute('data-bytes', String(st.elements * 2));
  await page.getByRole('tab', { name: 'File' }).click();
  await drop(page, [{ name: 'model.safetensors', ...st }]);
  await expect(page.getByTestId('inspect-verify')).toHaveAttribute('data-ok', 'true');
  await settled(page);
  const box = page.getByTestId('checkpoint-weights');
  await expect(box).toBeEnabled();
  await expect(box).not.toBeChecked();
  await expect(weights).toHaveAttribute('data-bytes', String(st.elements * 2));
  const totalBefore = Number(await page.getByTestId('mem-total').getAttribute('data-bytes'));

  await box.check();
  await settled(page);
  // The F32 norms count 4 bytes each now: exactly the data bytes written into the file, as the native program
  // plans the same folder with --checkpoint-weights.
  await expect(weights).toHaveAttribute('data-bytes', String(st.dataBytes));
  expect(st.dataBytes).toBeGreaterThan(st.elements * 2);
  const dir = mkdtempSync(path.join(tmpdir(), 'modelplan-weights-'));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(tinyConfig));
  writeFileSync(path.join(dir, 'model.safetensors'), Buffer.concat([st.head, Buffer.alloc(st.dataBytes)]));
  const native = cli('plan', dir, '--checkpoint-weights', '--gpu', 'rtx-4090').plan;
  expect(native.items.find((i) => i.name === 'weights').bytes).toBe(st.dataBytes);
  await expect(page.getByTestId('mem-total')).toHaveAttribute('data-bytes', String(native.total_bytes));
  expect(Number(await page.getByTestId('mem-total').getAttribute('data-bytes'))).toBe(totalBefore + st.dataBytes - st.elements * 2);
  await expect(page.getByTestId('model-note')).toContainText('weights as stored in model.safetensors');
  // The tree's bytes are the stored ones too.
  await page.locator('#tree-card > summary').click();
  await expect(page.getByTestId('tree-root')).toHaveAttribute('data-bytes', String(st.dataBytes));
  await page.screenshot(shotOf('checkpoint-weights'));

  await box.uncheck();
  await settled(page);
  await expect(weights).toHaveAttribute('data-bytes', String(st.elements * 2));
  // Another model: the checkpoint was verified against the one before, so the box is off and disabled.
  await box.check();
  await settled(page);
  await choosePreset(page, 'qwen2.5-7b');
  await settled(page);
  await expect(page.getByTestId('model-note')).toHaveText('Model: preset qwen2.5-7b');
  await page.getByRole('tab', { name: 'File' }).click();
  await expect(box).not.toBeChecked();
  await expect(box).toBeDisabled();
  expect(Number(await weights.getAttribute('data-bytes'))).toBe(cli('plan', 'qwen2.5-7b').plan.items.find((i) => i.name === 'weights').bytes);
});

test('verification names the tensors that differ, collapsed and capped', async ({ app, page }) => {
  await app.open();
  // Four layers in the config, a checkpoint holding the embedding (one column too many) and the final norm.
  const config = { ...tinyConfig, num_hidden_layers: 4 };
  await pasteConfig(page, config);
  const st = tinySafetensors(config, (name, shape) => (name === 'model.embed_tokens.weight' ? [shape[0], shape[1] + 1]
    : name === 'model.norm.weight' ? shape : null));
  const missing = st.names.filter((n) => n !== 'model.embed_tokens.weight' && n !== 'model.norm.weight');
  expect(missing.length).toBe(4 * 9 + 1);
  await page.getByRole('tab', { name: 'File' }).click();
  await drop(page, [{ name: 'model.safetensors', ...st }]);
  await expect(page.getByTestId('inspect-verify')).toHaveAttribute('data-ok', 'false');
  await expect(page.getByTestId('inspect-verify')).toContainText(`${missing.length} missing`);
  const details = page.getByTestId('inspect-diff');
  await expect(details).toBeVisible();
  expect(await details.evaluate((d) => d.open)).toBe(false);
  await details.locator('summary').click();
  const missingList = details.locator('li[data-kind="missing"]');
  await expect(missingList).toHaveAttribute('data-count', String(missing.length));
  const shownNames = await missingList.locator('li[data-name]').evaluateAll((lis) => lis.map((li) => li.dataset.name));
  expect(shownNames.length).toBe(20);
  for (const name of shownNames) expect(missing).toContain(name);
  await expect(missingList.locator('li.more')).toHaveText(`and ${missing.length - 20} more`);
  // The mismatch: expected and found shapes.
  const mismatch = details.locator('li[data-kind="mismatched"] li[data-name="model.embed_tokens.weight"]');
  await expect(mismatch).toContainText(`expected [${config.vocab_size}, ${config.hidden_size}], found [${config.vocab_size}, ${config.hidden_size + 1}]`);
  // The norm is stored in F32 while the config says bfloat16: a dtype difference, named.
  await expect(details.locator('li[data-kind="dtype"] li[data-name="model.norm.weight"]')).toContainText('expected BF16, found F32');
  // Not this model's weights: the box is disabled.
  await expect(page.getByTestId('checkpoint-weights')).toBeDisabled();
  await page.screenshot(shotOf('verify-details'));
});

test('a failed drop clears the previous file\'s card and shows the error only', async ({ app, page }) => {
  await app.open();
  await pasteConfig(page, tinyConfig);
  const st = tinySafetensors();
  await page.getByRole('tab', { name: 'File' }).click();
  await drop(page, [{ name: 'model.safetensors', ...st }]);
  await expect(page.getByTestId('inspect-card')).toBeVisible();
  await page.getByTestId('checkpoint-weights').check();
  await settled(page);
  await expect(page.getByTestId('mem-weights')).toHaveAttribute('data-bytes', String(st.dataBytes));
  // A header length that runs past the end of the file.
  const broken = Buffer.alloc(16);
  broken.writeBigUInt64LE(1000n);
  await drop(page, [{ name: 'broken.safetensors', head: broken, dataBytes: 0 }]);
  await expect(page.getByTestId('error')).toBeVisible();
  await expect(page.getByTestId('error')).toContainText('broken.safetensors');
  await expect(page.getByTestId('inspect-card')).toBeHidden();
  // Nothing of the old file is used: the weights are the config's again.
  await expect(page.getByTestId('mem-weights')).toHaveAttribute('data-bytes', String(st.elements * 2));
  await expect(page.getByTestId('model-note')).not.toContainText('model.safetensors');
  await page.screenshot(shotOf('failed-drop'));
});

test('the tree says parameter tensors and buffers apart, with parameters and bytes per module', async ({ app, page }) => {
  await app.open('#model=llama-3.2-1b');
  const sk = cli('skeleton', 'llama-3.2-1b');
  await expect(page.getByTestId('tree-count')).toHaveText(`(${sk.tensors.length.toLocaleString('en-US')} parameter tensors; buffers listed apart)`);
  await page.locator('#tree-card > summary').click();
  const root = page.getByTestId('tree-root');
  await expect(root).toContainText(`${sk.tensors.length} parameter tensors + ${sk.buffers.length} buffers`);
  // Llama 3.2 1B: 1,235,814,400 parameters (its model card), all BF16: 2 bytes each.
  await expect(root).toHaveAttribute('data-params', '1235814400');
  await expect(root).toHaveAttribute('data-bytes', String(1235814400 * 2));
  await expect(root).toContainText('1,235,814,400 parameters · 2.30 GiB');
  await page.locator('#tree details[data-path="model"] > summary').click();
  const layer = page.locator('#tree details[data-path="model.layers"]');
  await layer.locator('> summary').click();
  // One layer: the sum of its shapes in the native program's skeleton; its rotary buffer listed apart.
  const layer0 = page.locator('#tree details[data-path="model.layers.0"]');
  const ofLayer = sk.tensors.filter((t) => t.name.startsWith('model.layers.0.'));
  const elements = ofLayer.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
  await expect(layer0).toHaveAttribute('data-tensors', String(ofLayer.length));
  await expect(layer0).toHaveAttribute('data-buffers', String(sk.buffers.filter((b) => b.name.startsWith('model.layers.0.')).length));
  await expect(layer0).toHaveAttribute('data-params', String(elements));
  await expect(layer0).toHaveAttribute('data-bytes', String(elements * 2));
  await expect(layer0.locator('> summary')).toContainText(`${elements.toLocaleString('en-US')} parameters`);
  await page.screenshot(shotOf('tree-counts'));
});

test('the catalog: what fits first, then by memory; a ✗ says why in words', async ({ app, page }) => {
  await app.open('#model=llama-3.1-8b');
  await setWorkload(page, { kv_dtype: 'fp8', seq: 32768 });
  await settled(page);
  const memory = new Map(cli('gpus').gpus.map((g) => [g.key, g.memory_bytes]));
  const rows = await page.locator('#catalog li').evaluateAll((lis) => lis.map((li) => ({ gpu: li.dataset.gpu, fits: li.dataset.fits === 'true' })));
  const firstNoFit = rows.findIndex((r) => !r.fits);
  expect(firstNoFit).toBeGreaterThan(0);
  expect(rows.slice(firstNoFit).every((r) => !r.fits), 'no ✓ after the first ✗').toBe(true);
  for (const part of [rows.slice(0, firstNoFit), rows.slice(firstNoFit)])
    for (let i = 1; i < part.length; ++i) expect(memory.get(part[i].gpu)).toBeGreaterThanOrEqual(memory.get(part[i - 1].gpu));
  // An A100 has no fp8: the core's own words on its line.
  const a100 = cli('plan', 'llama-3.1-8b', '--kv-dtype', 'fp8', '--seq', '32768', '--gpu', 'a100-80gb').plan.devices[0];
  expect(a100.fits).toBe(false);
  await expect(page.locator('#catalog li[data-gpu="a100-80gb"]')).toHaveAttribute('data-fits', 'false');
  await expect(page.locator('#catalog li[data-gpu="a100-80gb"] [data-testid="catalog-why"]')).toContainText(a100.errors[0]);

  // Too big for the memory: what it needs and what the GPU has.
  await choosePreset(page, 'llama-3.1-70b');
  await setWorkload(page, { kv_dtype: '', seq: '' });
  await settled(page);
  const plan = cli('plan', 'llama-3.1-70b', '--gpu', 'rtx-4090').plan;
  expect(plan.devices[0].fits).toBe(false);
  await expect(page.locator('#catalog li[data-gpu="rtx-4090"] [data-testid="catalog-why"]'))
    .toHaveText(`needs ${gib(plan.total_bytes)}, has ${gib(plan.devices[0].memory_bytes)}`);
  await page.screenshot(shotOf('catalog'));
});

test('an encoder-only model has no decode speed; an encoder-decoder keeps it', async ({ app, page }) => {
  await app.open('#model=bert-base-uncased&gpu=rtx-4090');
  expect(cli('params', 'bert-base-uncased').kinds).toEqual(['encoder']);
  const decode = page.getByTestId('decode-tps');
  await expect(decode).toHaveText('none: an encoder-only model generates no tokens');
  await expect(decode).toHaveAttribute('data-encoder-only', 'true');
  await expect(page.getByTestId('prefill-s')).toContainText(' s');
  await page.screenshot(shotOf('encoder-only'));
  await choosePreset(page, 't5-small');
  await settled(page);
  expect(cli('params', 't5-small').kinds).toContain('encoder-decoder');
  await expect(decode).toContainText('tokens/s');
  await expect(decode).toHaveAttribute('data-encoder-only', 'false');
});
