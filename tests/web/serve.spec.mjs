// The Serve view: each engine's figures as `modelplan serve ... --json` gives them (the native program is the
// reference), the bars, the command and its copy button, the plots' capacity line and crossing, bad knobs.
import { spawnSync } from 'node:child_process';
import { test, expect, cli, bin, choosePreset, setWorkload, settled } from './helpers.mjs';

// `modelplan serve ... --json` of a plan that does not start (exit status 3, the answer printed).
function notStarting(...args) {
  const r = spawnSync(bin, ['serve', ...args, '--json'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(3);
  return JSON.parse(r.stdout);
}

async function openServe(page) {
  await page.getByTestId('serve-card').locator('summary').click();
  await expect(page.getByTestId('serve-verdict')).not.toBeEmpty();
  await expect(page.getByTestId('serve-card')).not.toHaveAttribute('aria-busy', 'true');
}

async function setKnob(page, field, value) {
  await page.getByTestId(`serve-${field}`).fill(value);
  await expect(page.getByTestId('serve-card')).not.toHaveAttribute('aria-busy', 'true');
}

test('vLLM: the figures, the bars, the command and the plots are the core\'s', async ({ page, app, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await app.open();
  await choosePreset(page, 'llama-3.1-8b');
  await setWorkload(page, { gpu: 'h100-80gb', gpus: 2 });
  await settled(page);
  await openServe(page);
  await setKnob(page, 'tensor_parallel_size', '2');
  await setKnob(page, 'gpu_memory_utilization', '0.95');
  await setKnob(page, 'max_model_len', '8192');
  const want = cli('serve', 'llama-3.1-8b', '--gpu', 'h100-80gb', '--gpus', '2', '--tensor-parallel-size', '2',
    '--gpu-memory-utilization', '0.95', '--max-model-len', '8192');
  await expect(page.getByTestId('serve-verdict')).toHaveText('vLLM 0.19 starts');
  await expect(page.getByTestId('serve-kv-tokens')).toHaveText(String(want.kv_tokens));
  await expect(page.getByTestId('serve-command')).toHaveText(want.command);
  await expect(page.getByTestId('serve-log')).toHaveText(want.log_lines.join('\n'));
  // One bar per GPU; the KV segment holds the rank's "Available KV cache memory".
  const rows = page.getByTestId('serve-bars').locator('.bar-row');
  await expect(rows).toHaveCount(2);
  await expect(rows.first().locator('[data-item="kv_cache_bytes"]')).toHaveAttribute('data-bytes', String(want.ranks[0].kv_cache_bytes));
  // The context plot: one GPU's fixed memory plus the context's KV, against what vLLM may use; it crosses
  // where one request's KV takes all of it: (requested - weights - non-torch - activation) / KV per token.
  const r0 = want.ranks[0];
  const crossing = Math.floor((r0.requested_bytes - r0.weights_bytes - r0.non_torch_bytes - r0.activation_peak_bytes)
    / want.kv_bytes_per_token);
  const requests = page.getByTestId('serve-plot-requests');
  await expect(requests).toHaveAttribute('data-crossing',
    String(Math.floor((r0.requested_bytes - r0.weights_bytes - r0.non_torch_bytes - r0.activation_peak_bytes)
      / (want.kv_bytes_per_token * 8192))));
  await expect(page.getByTestId('serve-plot-context')).toHaveAttribute('data-crossing', String(crossing));
  await expect(page.getByTestId('serve-plot-context').locator('[data-testid="serve-capacity"]')).toHaveCount(1);
  // Copy: the clipboard holds the command.
  await page.getByTestId('serve-copy').click();
  await expect(page.getByTestId('serve-copied')).toHaveText('copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(want.command);
});

test('SGLang and llama.cpp: their knobs, their figures; a plan that does not start says why and what fixes it', async ({ page, app }) => {
  await app.open();
  await choosePreset(page, 'qwen2.5-7b');
  await setWorkload(page, { gpu: 'l40s' });
  await settled(page);
  await openServe(page);
  await page.getByTestId('serve-engine').selectOption('sglang');
  await setKnob(page, 'context_length', '32768');
  const sg = cli('serve', 'qwen2.5-7b', '--engine', 'sglang', '--gpu', 'l40s', '--context-length', '32768');
  await expect(page.getByTestId('serve-kv-tokens')).toHaveText(String(sg.kv_tokens));
  await expect(page.getByTestId('serve-command')).toHaveText(sg.command);
  await expect(page.getByTestId('serve-verdict')).toHaveText('SGLang starts');

  await page.getByTestId('serve-engine').selectOption('llama.cpp');
  await setKnob(page, 'quant', 'q4_k_m');
  await setKnob(page, 'ctx_size', '8192');
  const ll = cli('serve', 'qwen2.5-7b', '--engine', 'llama.cpp', '--gpu', 'l40s', '--quant', 'q4_k_m', '-c', '8192');
  await expect(page.getByTestId('serve-log')).toHaveText(ll.log_lines.join('\n'));
  await expect(page.getByTestId('serve-bars').locator('[data-item="weights_bytes"]'))
    .toHaveAttribute('data-bytes', String(ll.ranks[0].weights_bytes));
  // llama.cpp's -ot: the embedding (in host memory by default) to the GPU, as the CLI plans it.
  await setKnob(page, 'override_tensor', '^token_embd=CUDA0');
  const ot = cli('serve', 'qwen2.5-7b', '--engine', 'llama.cpp', '--gpu', 'l40s', '--quant', 'q4_k_m', '-c', '8192',
    '-ot', '^token_embd=CUDA0');
  expect(ot.ranks[0].weights_bytes).toBeGreaterThan(ll.ranks[0].weights_bytes);
  await expect(page.getByTestId('serve-command')).toHaveText(ot.command);
  await expect(page.getByTestId('serve-bars').locator('[data-item="weights_bytes"]'))
    .toHaveAttribute('data-bytes', String(ot.ranks[0].weights_bytes));
  await setKnob(page, 'override_tensor', '');

  // Llama-3.1-70B in bf16 on one L40S: vLLM does not start; the fixes are the core's.
  await choosePreset(page, 'llama-3.1-70b');
  await settled(page);
  await page.getByTestId('serve-engine').selectOption('vllm');
  await expect(page.getByTestId('serve-card')).not.toHaveAttribute('aria-busy', 'true');
  const no = notStarting('llama-3.1-70b', '--gpu', 'l40s');
  expect(no.starts).toBe(false);
  await expect(page.getByTestId('serve-verdict')).toHaveAttribute('data-starts', 'false');
  await expect(page.getByTestId('serve-verdict')).toContainText(no.error.slice(0, 40));
  await expect(page.getByTestId('serve-fixes').locator('li')).toHaveText(no.fixes);

  // A bad knob: the core's message, naming it; the last result dimmed.
  await setKnob(page, 'gpu_memory_utilization', '1.5');
  await expect(page.getByTestId('serve-error')).toBeVisible();
  await expect(page.getByTestId('serve-error')).toContainText('gpu_memory_utilization');
  await expect(page.getByTestId('serve-result')).toHaveAttribute('data-stale', 'true');
});

test('the Serve view\'s engine and knobs travel in the link', async ({ page, app }) => {
  await app.open();
  await choosePreset(page, 'qwen2.5-7b');
  await setWorkload(page, { gpu: 'l40s' });
  await settled(page);
  await openServe(page);
  await page.getByTestId('serve-engine').selectOption('sglang');
  await setKnob(page, 'context_length', '16384');
  await expect.poll(() => page.evaluate(() => location.hash)).toContain('serve.engine=sglang');
  const link = await page.evaluate(() => location.href);
  expect(link).toContain('serve.context_length=16384');
  expect(link).toContain('serve.open=1');
  // A fresh page from the link: the view open, the engine and the knob restored, the core's answer shown.
  const fresh = await page.context().newPage();
  await fresh.goto(link);
  await expect(fresh.locator('body[data-ready="true"]')).toBeAttached();
  await expect(fresh.getByTestId('serve-engine')).toHaveValue('sglang');
  await expect(fresh.getByTestId('serve-context_length')).toHaveValue('16384');
  const want = cli('serve', 'qwen2.5-7b', '--engine', 'sglang', '--gpu', 'l40s', '--context-length', '16384');
  await expect(fresh.getByTestId('serve-kv-tokens')).toHaveText(String(want.kv_tokens));
  await fresh.close();
});

test('a target number of requests: the smallest layout and the longest context, as the core answers them', async ({ page, app }) => {
  await app.open();
  await choosePreset(page, 'llama-3.1-70b');
  await setWorkload(page, { gpu: 'h100-80gb' });
  await settled(page);
  await openServe(page);
  await setKnob(page, 'max_model_len', '32768');
  await page.getByTestId('serve-target').fill('16');
  await expect(page.getByTestId('serve-card')).not.toHaveAttribute('aria-busy', 'true');
  const want = spawnSync(bin, ['serve', 'llama-3.1-70b', '--gpu', 'h100-80gb', '--max-model-len', '32768',
    '--target-concurrency', '16', '--json'], { encoding: 'utf8' });
  const search = JSON.parse(want.stdout).search;
  const shown = page.getByTestId('serve-search');
  await expect(shown).toBeVisible();
  await expect(shown).toHaveAttribute('data-gpus', String(search.smallest_layout.gpus));
  await expect(shown).toHaveAttribute('data-context', String(search.longest_context.context));
  await expect(shown).toContainText(search.smallest_layout.flags);
});
