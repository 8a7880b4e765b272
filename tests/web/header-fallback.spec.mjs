// A config.json whose model_type has no family table, answered on the page from the dropped checkpoint's
// headers (docs/checkpoints.md, "Models without a family"; docs/web.md). The model is invented ("zorblax"):
// the expected count is the sum of the shapes written here, the KV cache the generic formula worked out by hand,
// and every figure also the native program's for the same files on disk.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { artifacts, cli, digits, expect, setWorkload, settled, test } from './helpers.mjs';

const config = {
  model_type: 'zorblax', architectures: ['ZorblaxForCausalLM'], torch_dtype: 'bfloat16', num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, hidden_size: 64, intermediate_size: 96, vocab_size: 128,
  max_position_embeddings: 4096,
};

// Llama-like names, BF16 (2 bytes) and F32 (4 bytes), plus a parameter no family has.
function zorblaxSafetensors() {
  const shapes = [['model.embed_tokens.weight', [128, 64], 'BF16']];
  for (let l = 0; l < 2; ++l) {
    const p = `model.layers.${l}.`;
    shapes.push([`${p}input_layernorm.weight`, [64], 'F32'], [`${p}self_attn.q_proj.weight`, [64, 64], 'BF16'],
      [`${p}self_attn.k_proj.weight`, [32, 64], 'BF16'], [`${p}self_attn.v_proj.weight`, [32, 64], 'BF16'],
      [`${p}self_attn.o_proj.weight`, [64, 64], 'BF16'], [`${p}zorb_mixer.lambda_q`, [4], 'F32'],
      [`${p}post_attention_layernorm.weight`, [64], 'F32'], [`${p}mlp.gate_proj.weight`, [96, 64], 'BF16'],
      [`${p}mlp.up_proj.weight`, [96, 64], 'BF16'], [`${p}mlp.down_proj.weight`, [64, 96], 'BF16']);
  }
  shapes.push(['model.norm.weight', [64], 'F32'], ['lm_head.weight', [128, 64], 'BF16']);
  const header = {};
  let offset = 0;
  let elements = 0;
  for (const [name, shape, dtype] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const bytes = n * (dtype === 'F32' ? 4 : 2);
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
    elements += n;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return { head: Buffer.concat([length, json]), dataBytes: offset, elements };
}

test('a config without a family table and its dropped checkpoint: the model from the headers, notes shown', async ({ page, app }) => {
  await app.open();
  // The config alone: the error says what to add.
  await page.getByRole('tab', { name: 'Paste config.json' }).click();
  await page.getByTestId('config-input').fill(JSON.stringify(config));
  await expect(page.getByTestId('error')).toHaveAttribute('data-code', 'unknown_model_type');
  await expect(page.getByTestId('error')).toContainText("add its checkpoint's headers");
  await settled(page);

  // The same files on disk for the native program.
  const st = zorblaxSafetensors();
  const dir = mkdtempSync(path.join(tmpdir(), 'modelplan-zorblax-'));
  writeFileSync(path.join(dir, 'model.safetensors'), Buffer.concat([st.head, Buffer.alloc(st.dataBytes)]));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const native = cli('plan', dir, '--seq', '1000', '--batch', '2');
  const nativeParams = cli('params', dir);
  expect(nativeParams.params.total).toBe(st.elements);

  await page.getByRole('tab', { name: 'File' }).click();
  const dataTransfer = await page.evaluateHandle(({ head, dataBytes }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(head), new Uint8Array(dataBytes)], 'model.safetensors'));
    return dt;
  }, { head: [...st.head], dataBytes: st.dataBytes });
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer });
  await expect(page.getByTestId('inspect-card')).toBeVisible();
  await settled(page);
  await setWorkload(page, { seq: 1000, batch: 2 });
  await settled(page);

  await expect(page.getByTestId('error')).toBeHidden();
  // Nothing to verify the checkpoint against: it is what the model is read from.
  await expect(page.getByTestId('inspect-verify')).toHaveText('no model to verify against');
  await expect(page.getByTestId('model-sub')).toContainText('read from the checkpoint headers of model.safetensors');
  await expect(page.getByTestId('model-note')).toContainText('with the headers of model.safetensors');
  expect(Number(await page.getByTestId('total-params').getAttribute('data-value'))).toBe(st.elements);
  const notes = page.getByTestId('generic-notes');
  await expect(notes).toBeVisible();
  for (const item of ['skeleton', 'roles', 'layers', 'kv_cache', 'activations', 'weights'])
    await expect(notes.locator(`li[data-item="${item}"]`).first()).toBeVisible();
  await expect(notes.locator('li[data-item="roles"]')).toContainText('2 unclassified');

  // Weights: every byte written; KV: 2 x 2 KV heads x 16 x 2 bytes (bf16) x 2 layers x 1000 tokens x 2 sequences.
  const bytesOf = async (id) => Number(await page.getByTestId(id).getAttribute('data-bytes'));
  expect(await bytesOf('mem-weights')).toBe(st.dataBytes);
  expect(await bytesOf('mem-kv')).toBe(2 * 2 * 16 * 2 * 2 * 1000 * 2);
  const nativeItems = Object.fromEntries(native.plan.items.map((i) => [i.name, i]));
  expect(await bytesOf('mem-kv')).toBe(nativeItems.kv_cache.bytes);
  expect(await bytesOf('mem-activations')).toBe(nativeItems.activations.bytes);
  expect(Number(await page.getByTestId('mem-total').getAttribute('data-bytes'))).toBe(native.plan.total_bytes);
  await expect(page.getByTestId('note-kv')).toHaveText(nativeItems.kv_cache.note);
  await expect(page.getByTestId('note-activations')).toBeVisible();
  await page.screenshot({ path: path.join(artifacts, 'header-fallback.png'), fullPage: true });
});

test('config.json and its checkpoint dropped together: read from the headers at once', async ({ page, app }) => {
  await app.open();
  await page.getByRole('tab', { name: 'File' }).click();
  const st = zorblaxSafetensors();
  const dataTransfer = await page.evaluateHandle(({ head, dataBytes, config }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([config], 'config.json'));
    dt.items.add(new File([new Uint8Array(head), new Uint8Array(dataBytes)], 'model.safetensors'));
    return dt;
  }, { head: [...st.head], dataBytes: st.dataBytes, config: JSON.stringify(config) });
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer });
  await expect(page.getByTestId('inspect-card')).toBeVisible();
  await settled(page);
  await expect(page.getByTestId('error')).toBeHidden();
  expect(Number(await page.getByTestId('total-params').getAttribute('data-value'))).toBe(st.elements);
  expect(Number(await page.getByTestId('mem-weights').getAttribute('data-bytes'))).toBe(st.dataBytes);
  await expect(page.getByTestId('generic-notes')).toBeVisible();
});
