// The JavaScript API as another project uses it: the npm package's contents, the API under node giving the
// native program's exact JSON text, and the TypeScript declarations compiling against a typical use.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test, expect } from '@playwright/test';
import { root, webDir, bin } from './helpers.mjs';

const here = path.join(root, 'tests/web');

test('npm package: pack lists the API, its types, the module and the wasm', () => {
  const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', webDir], { encoding: 'utf8', cwd: here }));
  expect(pack.name).toBe('modelplan');
  expect(pack.files.map((f) => f.path).sort()).toEqual(
    ['README.md', 'modelplan-api.d.ts', 'modelplan-api.js', 'modelplan.mjs', 'modelplan.wasm', 'package.json']);
});

test('the API under node: raw() is byte for byte what `modelplan ... --json` prints; errors are objects', async () => {
  const { loadModelplan, isError } = await import(pathToFileURL(path.join(webDir, 'modelplan-api.js')).href);
  const mp = await loadModelplan();
  const native = (...args) => execFileSync(bin, [...args, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(mp.raw('plan', { model: 'qwen3-8b', batch: 8, seq: 32768, kv_dtype: 'fp8', gpu: 'rtx-4090' }))
    .toBe(native('plan', 'qwen3-8b', '--batch', '8', '--seq', '32768', '--kv-dtype', 'fp8', '--gpu', 'rtx-4090'));
  expect(mp.raw('fit', { model: 'mixtral-8x7b-v0.1', gpu: 'h100-80gb' })).toBe(native('fit', 'mixtral-8x7b-v0.1', '--gpu', 'h100-80gb'));
  expect(mp.raw('presets')).toBe(native('presets'));
  // serve: the engine's knobs under "knobs", the CLI's flags of the same names.
  expect(mp.raw('serve', { model: 'llama-3.1-8b', gpu: 'h100-80gb', knobs: { tensor_parallel_size: 2, gpu_memory_utilization: 0.95,
    max_model_len: 8192, kv_cache_dtype: 'fp8', enforce_eager: true } }))
    .toBe(native('serve', 'llama-3.1-8b', '--gpu', 'h100-80gb', '--tensor-parallel-size', '2', '--gpu-memory-utilization', '0.95',
      '--max-model-len', '8192', '--kv-cache-dtype', 'fp8', '--enforce-eager'));
  expect(mp.raw('serve', { model: 'qwen2.5-7b', engine: 'sglang', gpu: 'l40s', knobs: { tp_size: 2, context_length: 32768,
    free_memory: '40GiB' } }))
    .toBe(native('serve', 'qwen2.5-7b', '--engine', 'sglang', '--gpu', 'l40s', '--tp-size', '2', '--context-length', '32768',
      '--free-memory', '40GiB'));
  expect(mp.raw('serve', { model: 'qwen2.5-7b', gpu: 'l40s', knobs: { max_model_len: 8192 },
    search: { target_concurrency: 40, sweep: true } }))
    .toBe(native('serve', 'qwen2.5-7b', '--gpu', 'l40s', '--max-model-len', '8192', '--target-concurrency', '40', '--sweep'));
  // A drafter named by a preset in --speculative-config: the same plan, draft weights and layers included.
  const spec = '{"model": "llama-3.2-1b", "num_speculative_tokens": 4}';
  expect(mp.raw('serve', { model: 'llama-3.1-8b', gpu: 'h100-80gb', knobs: { max_model_len: 32768, speculative_config: spec } }))
    .toBe(native('serve', 'llama-3.1-8b', '--gpu', 'h100-80gb', '--max-model-len', '32768', '--speculative-config', spec));
  const unknownDraft = mp.serve({ model: 'llama-3.1-8b', gpu: 'h100-80gb',
    knobs: { speculative_config: '{"model": "no-such-draft", "num_speculative_tokens": 2}' } });
  expect(unknownDraft.error.path).toBe('speculative_config');
  const notStarting = mp.serve({ model: 'llama-3.1-70b', gpu: 'rtx-4090' });
  expect(notStarting.starts).toBe(false);
  expect(notStarting.fixes.length).toBeGreaterThan(0);
  const badKnob = mp.serve({ model: 'qwen3-8b', gpu: 'h100-80gb', knobs: { gpu_memory_utilisation: 0.9 } });
  expect(badKnob.error.path).toBe('gpu_memory_utilisation');
  expect(mp.serve({ model: 'qwen3-8b', gpu: 'h100-80gb', knobs: { tensor_parallel_size: [2] } }).error.code).toBe('wrong_type');
  expect(mp.params({ model: 'mixtral-8x7b-v0.1' }).params.total).toBe(JSON.parse(native('params', 'mixtral-8x7b-v0.1')).params.total);
  const bad = mp.plan({ model: 'qwen3-8b', batch: 0 });
  expect(isError(bad)).toBe(true);
  expect(bad.error.path).toBe('batch');
  expect(isError(mp.plan('{'))).toBe(true);
  // A file that fails to read (here a Blob whose bytes cannot be had) is an {error} object too, not a rejection.
  const unreadable = { name: 'gone.safetensors', size: 1000, slice: () => ({ arrayBuffer: () => Promise.reject(new Error('NotReadableError')) }) };
  const gone = await mp.inspectFile(unreadable, {});
  expect(gone.error.code).toBe('io');
  expect(gone.error.message).toContain('gone.safetensors');
  expect((await mp.inspectFiles([unreadable], {})).error.code).toBe('io');
});

test('TypeScript: the declarations compile against a typical use (tsc --strict)', () => {
  const tsc = path.join(here, 'node_modules/typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--target', 'es2022', '--lib', 'es2022,dom', path.join(here, 'api-usage.ts')], { encoding: 'utf8', cwd: here });
});
