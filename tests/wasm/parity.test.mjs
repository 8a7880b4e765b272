// The wasm module under node: for every preset it must return exactly the JSON the native program prints, and
// errors must come back as structured objects. Run by scripts/test.sh:
//   MODELPLAN_BIN=build/native/modelplan MODELPLAN_WASM=build-wasm/wasm/modelplan.js \
//     node --no-experimental-fetch --test tests/wasm/
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const bin = path.resolve(root, process.env.MODELPLAN_BIN ?? 'build/native/modelplan');
const wasmJs = path.resolve(root, process.env.MODELPLAN_WASM ?? 'build-wasm/wasm/modelplan.js');

let mp;
before(async () => {
  const require = createRequire(import.meta.url);
  const createModelplan = require(wasmJs);
  mp = await createModelplan();
});

const native = (...args) => execFileSync(bin, args, { encoding: 'utf8', maxBuffer: 256 << 20 });
const presetNames = () => JSON.parse(native('presets', '--json')).presets.map((p) => p.name);

test('presets: identical JSON', () => {
  assert.equal(mp.presets(), native('presets', '--json'));
});

test('params: identical JSON for every preset', () => {
  const names = presetNames();
  assert.ok(names.length >= 7, `expected at least 7 presets, got ${names.length}`);
  for (const name of names) {
    assert.equal(mp.params(JSON.stringify({ model: name })), native('params', name, '--json'), name);
  }
});

test('skeleton: identical JSON for every preset', () => {
  for (const name of presetNames()) {
    assert.equal(mp.skeleton(JSON.stringify({ model: name })), native('skeleton', name, '--json'), name);
  }
});

test('plan: identical JSON for every preset and a workload', () => {
  for (const name of presetNames()) {
    assert.equal(mp.plan(JSON.stringify({ model: name })), native('plan', name, '--json'), name);
  }
  assert.equal(mp.plan(JSON.stringify({ model: 'qwen3-8b', batch: 8, seq: 32768, kv_dtype: 'fp8', attention: 'eager' })),
               native('plan', 'qwen3-8b', '--batch', '8', '--seq', '32768', '--kv-dtype', 'fp8', '--attn', 'eager', '--json'));
});

test('fit and gpus: identical JSON', () => {
  assert.equal(mp.gpus(), native('gpus', '--json'));
  for (const name of ['llama-3.1-8b', 'mixtral-8x7b-v0.1', 'gemma-3-4b', 't5-small']) {
    assert.equal(mp.fit(JSON.stringify({ model: name, gpu: 'RTX 4090' })), native('fit', name, '--gpu', 'RTX 4090', '--json'), name);
    assert.equal(mp.plan(JSON.stringify({ model: name, gpu: 'h100-80gb', batch: 4 })),
                 native('plan', name, '--gpu', 'h100-80gb', '--batch', '4', '--json'), name);
  }
});

// A safetensors header built here from Llama-3.2-1B's skeleton (published total 1,235,814,400 parameters):
// the module asks for the 8-byte length, then for the header, then inspects it from those bytes alone.
test('inspect: checkpoint headers from their first bytes', () => {
  const tensors = JSON.parse(mp.skeleton(JSON.stringify({ model: 'llama-3.2-1b' }))).tensors;
  const header = {};
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 2; // BF16
    header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const file = new Uint8Array(Buffer.concat([length, json]));
  const size = file.length + offset;
  assert.deepEqual(JSON.parse(mp.inspect(file.slice(0, 4), size, 'model.safetensors', '{}')), { need_bytes: 8 });
  assert.deepEqual(JSON.parse(mp.inspect(file.slice(0, 8), size, 'model.safetensors', '{}')), { need_bytes: file.length });
  const r = JSON.parse(mp.inspect(file, size, 'model.safetensors', JSON.stringify({ model: 'llama-3.2-1b' })));
  assert.equal(r.params.total, 1235814400);
  assert.equal(r.verify.ok, true);
  const bad = JSON.parse(mp.inspect(new Uint8Array(16).fill(255), 16, 'x.safetensors', '{}'));
  assert.ok(bad.error?.code, 'a broken header is an error object');
});

test('dtype override: identical JSON', () => {
  assert.equal(mp.params(JSON.stringify({ model: 'qwen3-8b', dtype: 'fp32' })),
               native('params', 'qwen3-8b', '--dtype', 'fp32', '--json'));
});

test('counts survive the JS boundary exactly', () => {
  // Published total of Mixtral-8x7B (foundation issue; keras-hub mixtral_8_7b_en), above 2^32.
  const r = JSON.parse(mp.params(JSON.stringify({ model: 'mixtral-8x7b-v0.1' })));
  assert.equal(r.params.total, 46702792704);
});

test('errors are structured objects, never bare exception numbers', () => {
  const cases = [
    ['{', 'json_syntax'],
    [JSON.stringify({ model: 'lama-3.1-8b' }), 'unknown_model'],
    [JSON.stringify({ config: { model_type: 'llama', hidden_size: 'big' } }), 'wrong_type'],
    [JSON.stringify({ config: '{"model_type": "gpt9"}' }), 'unknown_model_type'],
    [JSON.stringify({ config: { model_type: 'llama', hidden_size: 4096, num_hidden_layers: 2,
      num_attention_heads: 32, num_key_value_heads: 5, intermediate_size: 11008, vocab_size: 32000 } }),
      'not_divisible'],
  ];
  for (const [request, code] of cases) {
    const r = JSON.parse(mp.params(request));
    assert.equal(r.error?.code, code, request);
    assert.ok(r.error.message.length > 10, request);
  }
  // Nested a million levels deep: rejected by type, without exhausting the wasm stack.
  const deep = '{"config": {"model_type": ' + '['.repeat(1000000) + ']'.repeat(1000000) + '}}';
  assert.equal(JSON.parse(mp.params(deep)).error?.code, 'wrong_type');
  const e = JSON.parse(mp.params(JSON.stringify({ config: { model_type: 'llama', hidden_size: 'big' } })));
  assert.equal(e.error.path, 'hidden_size');
  assert.match(e.error.message, /hidden_size: expected a positive integer, got the string "big"/);
});

test('an unknown or ambiguous GPU is unknown_gpu (docs/errors.md), in plan, fit and place', () => {
  for (const gpu of ['h1000', 'rtx']) {
    for (const call of [mp.plan, mp.fit, mp.place]) {
      const r = JSON.parse(call(JSON.stringify({ model: 'llama-3.1-8b', gpu })));
      assert.equal(r.error?.code, 'unknown_gpu', gpu);
      assert.equal(r.error.path, 'gpu', gpu);
    }
  }
});

test('one version: the wasm module, the CLI and web/package.json say the same', () => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'web/package.json'), 'utf8'));
  assert.equal(mp.version(), pkg.version);
  assert.equal(native('--version'), `modelplan ${pkg.version}\n`);
});

// Every preset through the inverse solves and placement too (the planners read the typed plan: a label that
// drifted between targets, or a typed figure read differently, shows here).
test('fit and place: identical JSON for every preset', () => {
  const nativeOrStdout = (...args) => {
    try {
      return native(...args);
    } catch (e) {
      return e.stdout; // place: exit status 3 when it does not fit, JSON still printed
    }
  };
  for (const name of presetNames()) {
    assert.equal(mp.fit(JSON.stringify({ model: name, gpu: 'a100-80gb' })),
                 native('fit', name, '--gpu', 'a100-80gb', '--json'), name);
    assert.equal(mp.place(JSON.stringify({ model: name, gpu: 'rtx-4090', gpu_count: 2, cpu: '64GiB' })),
                 nativeOrStdout('place', name, '--gpu', 'rtx-4090', '--gpus', '2', '--cpu', '64GiB', '--json'), name);
  }
});

test('place: identical JSON for device maps and parallel plans', () => {
  const cases = [
    [{ model: 'llama-3.1-70b', gpu: 'rtx-4090', gpu_count: 2, cpu: '128GiB', disk: true },
     ['llama-3.1-70b', '--gpu', 'rtx-4090', '--gpus', '2', '--cpu', '128GiB', '--disk']],
    [{ model: 'mixtral-8x7b-v0.1', devices: 'cuda:0=24GiB,cpu=128GiB', experts_on_cpu: true, batch: 4 },
     ['mixtral-8x7b-v0.1', '--devices', 'cuda:0=24GiB,cpu=128GiB', '--experts-on-cpu', '--batch', '4']],
    [{ model: 'qwen3-8b', devices: 'cuda:0=12GiB,cuda:1=12GiB', strategy: 'balanced', pins: ['lm_head.*=cuda:0'] },
     ['qwen3-8b', '--devices', 'cuda:0=12GiB,cuda:1=12GiB', '--strategy', 'balanced', '--pin', 'lm_head.*=cuda:0']],
    [{ model: 'llama-3.1-8b', tp: 2, pp: 2, gpu: 'l40s' }, ['llama-3.1-8b', '--tp', '2', '--pp', '2', '--gpu', 'l40s']],
  ];
  for (const [request, args] of cases) {
    let expected;
    try {
      expected = native('place', ...args, '--json');
    } catch (e) {
      expected = e.stdout; // exit status 3: does not fit, JSON still printed
    }
    assert.equal(mp.place(JSON.stringify(request)), expected, args.join(' '));
  }
  const bad = JSON.parse(mp.place(JSON.stringify({ model: 'llama-3.1-8b', tp: 3 })));
  assert.equal(bad.error.code, 'not_divisible');
  const none = JSON.parse(mp.place(JSON.stringify({ model: 'llama-3.1-8b' })));
  assert.match(none.error.message, /place needs devices/);
});

test('serve llama.cpp with -ot: identical JSON; a bad pattern is a structured error naming override_tensor', () => {
  const request = { model: 'qwen3-30b-a3b', engine: 'llama.cpp', gpu: 'rtx-4090',
    knobs: { quant: 'q4_k_m', ctx_size: 4096, override_tensor: 'ffn_up_exps=CUDA0,exps=CPU' } };
  assert.equal(mp.serve(JSON.stringify(request)),
               native('serve', 'qwen3-30b-a3b', '--engine', 'llama.cpp', '--gpu', 'rtx-4090', '--quant', 'q4_k_m',
                      '-c', '4096', '-ot', 'ffn_up_exps=CUDA0', '-ot', 'exps=CPU', '--json'));
  const bad = JSON.parse(mp.serve(JSON.stringify({ ...request, knobs: { override_tensor: 'blk\\.(=CPU' } })));
  assert.equal(bad.error?.path, 'override_tensor');
  assert.match(bad.error.message, /bad pattern "blk\\\\\.\("/);
});

// A drafter in --speculative-config: a preset by name, and an EAGLE-3 head whose config the native program reads
// from a folder and the wasm call takes as "draft_config": identical JSON.
test('serve: a drafter by preset and by config, identical JSON', () => {
  const spec = '{"model": "llama-3.2-1b", "num_speculative_tokens": 4}';
  assert.equal(mp.serve(JSON.stringify({ model: 'llama-3.1-8b', gpu: 'h100-80gb',
                                         knobs: { max_model_len: 32768, speculative_config: spec } })),
               native('serve', 'llama-3.1-8b', '--gpu', 'h100-80gb', '--max-model-len', '32768',
                      '--speculative-config', spec, '--json'));
  const head = { architectures: ['LlamaForCausalLMEagle3'], hidden_size: 4096, intermediate_size: 14336,
                 max_position_embeddings: 131072, model_type: 'llama', num_attention_heads: 32, num_hidden_layers: 1,
                 num_key_value_heads: 8, rms_norm_eps: 1e-5, rope_theta: 500000.0, torch_dtype: 'bfloat16',
                 draft_vocab_size: 32000, vocab_size: 128256 };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelplan-head-'));
  try {
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(head));
    const spec3 = JSON.stringify({ model: dir, num_speculative_tokens: 3 });
    assert.equal(mp.serve(JSON.stringify({ model: 'llama-3.1-8b', gpu: 'h100-80gb',
                                           knobs: { max_model_len: 32768, speculative_config: spec3 },
                                           draft_config: head })),
                 native('serve', 'llama-3.1-8b', '--gpu', 'h100-80gb', '--max-model-len', '32768',
                        '--speculative-config', spec3, '--json'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
