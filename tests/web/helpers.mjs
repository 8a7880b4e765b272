// Shared by the page tests: the static server, the native program (the outside reference for every number),
// and driving the page's controls the way a user does.
import { test as base, expect } from '@playwright/test';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../../scripts/serve-web.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const webDir = path.resolve(root, process.env.MODELPLAN_WEB ?? 'build-wasm/web');
export const bin = path.resolve(root, process.env.MODELPLAN_BIN ?? 'build/native/modelplan');
export const artifacts = path.join(root, 'test-results/web');
mkdirSync(artifacts, { recursive: true });

/** `modelplan ARGS... --json`, parsed. */
export function cli(...args) {
  return JSON.parse(execFileSync(bin, [...args, '--json'], { encoding: 'utf8', maxBuffer: 512 << 20 }));
}
/** The message the native program prints for bad input (stderr "modelplan: error: MESSAGE", status 2). */
export function cliError(...args) {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 2) throw new Error(`expected exit status 2 from modelplan ${args.join(' ')}, got ${r.status}`);
  return r.stderr.replace(/^modelplan: error: /, '').trim();
}

// Page state key -> CLI option (the same workload, said on the command line).
const cliOptions = { mode: '--mode', dtype: '--dtype', quant: '--quant', batch: '--batch', seq: '--seq',
  kv_dtype: '--kv-dtype', method: '--method', optimizer: '--optimizer', recompute: '--recompute', zero: '--zero',
  gpus: '--gpus' };
export function cliArgs(workload) {
  const args = [];
  for (const [key, value] of Object.entries(workload)) if (key !== 'gpu' && value !== '') args.push(cliOptions[key], String(value));
  return args;
}

export const test = base.extend({
  server: [async ({}, use) => {
    const s = await serve(webDir, 0);
    await use(s);
    await s.close();
  }, { scope: 'worker' }],
  app: async ({ page, server }, use) => {
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
    const open = async (suffix = '', target = page) => {
      await target.goto(new URL(suffix, server.url).href);
      await expect(target.locator('body[data-ready="true"]')).toBeAttached();
      await settled(target);
    };
    await use({ url: server.url, errors, open });
    expect(errors, 'no page errors or console errors').toEqual([]);
  },
});
export { expect };

/** Waits until the last recompute and its deferred work (fit, catalog) are done. */
export async function settled(page) {
  await expect(page.locator('body')).toHaveAttribute('data-pending', 'false');
  await expect(page.getByTestId('catalog-status')).toHaveAttribute('data-done', 'true');
}

export async function choosePreset(page, name) {
  await page.getByRole('tab', { name: 'Preset' }).click();
  await page.getByTestId('preset-search').fill(name);
  await page.locator(`#preset-list li[data-name="${name}"]`).click();
}

const selects = new Set(['mode', 'dtype', 'kv_dtype', 'method', 'optimizer', 'recompute', 'zero', 'gpu', 'strategy']);
/** Sets the workload controls as a user would (the mode first: training controls appear with it). */
export async function setWorkload(page, workload) {
  const entries = Object.entries(workload).sort(([a], [b]) => (a === 'mode' ? -1 : b === 'mode' ? 1 : 0));
  for (const [key, value] of entries) {
    const control = page.locator(`#${key}`);
    if (selects.has(key)) await control.selectOption(String(value));
    else await control.fill(String(value));
  }
}

/** Digits of a shown count or byte figure ("8,030,261,248" -> 8030261248). */
export const digits = (text) => Number(text.replace(/[^0-9-]/g, ''));

/** The tensors of a Llama-shaped config as transformers' LlamaForCausalLM names them: [name, shape] pairs. */
export function llamaShapes(c) {
  const kvDim = (c.hidden_size / c.num_attention_heads) * c.num_key_value_heads;
  const shapes = [['model.embed_tokens.weight', [c.vocab_size, c.hidden_size]]];
  for (let l = 0; l < c.num_hidden_layers; ++l) {
    const p = `model.layers.${l}.`;
    shapes.push([`${p}self_attn.q_proj.weight`, [c.hidden_size, c.hidden_size]],
      [`${p}self_attn.k_proj.weight`, [kvDim, c.hidden_size]], [`${p}self_attn.v_proj.weight`, [kvDim, c.hidden_size]],
      [`${p}self_attn.o_proj.weight`, [c.hidden_size, c.hidden_size]],
      [`${p}mlp.gate_proj.weight`, [c.intermediate_size, c.hidden_size]],
      [`${p}mlp.up_proj.weight`, [c.intermediate_size, c.hidden_size]],
      [`${p}mlp.down_proj.weight`, [c.hidden_size, c.intermediate_size]],
      [`${p}input_layernorm.weight`, [c.hidden_size]], [`${p}post_attention_layernorm.weight`, [c.hidden_size]]);
  }
  shapes.push(['model.norm.weight', [c.hidden_size]], ['lm_head.weight', [c.vocab_size, c.hidden_size]]);
  return shapes;
}
