// Which files form a checkpoint is one rule in the core (checkpoint.h): the page sorts dropped files with the
// module's classify_file, and inspect_files assembles them as the native program assembles a folder. Sources:
// transformers names an index model.safetensors.index.json; llama.cpp's gguf-split names parts
// "%s-%05d-of-%05d.gguf" (split.no + 1) and writes split.no (uint16), split.count (uint16) and split.tensors.count
// (int32) into every part (tools/gguf-split/gguf-split.cpp).
//   MODELPLAN_BIN=build/native/modelplan MODELPLAN_WASM=build-wasm/wasm/modelplan.js \
//     node --no-experimental-fetch --test tests/wasm/
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const bin = path.resolve(root, process.env.MODELPLAN_BIN ?? 'build/native/modelplan');
const wasmJs = path.resolve(root, process.env.MODELPLAN_WASM ?? 'build-wasm/wasm/modelplan.js');

let mp;
before(async () => {
  const require = createRequire(import.meta.url);
  mp = await require(wasmJs)();
});

test('classify_file: one kind per name', () => {
  const cases = {
    'model.safetensors': 'safetensors',
    'model-00001-of-00004.safetensors': 'safetensors',
    'model.safetensors.index.json': 'safetensors_index',
    'MODEL.SAFETENSORS.INDEX.JSON': 'safetensors_index',
    'config.json': 'json',
    'pytorch_model.bin.index.json': 'json',
    'tiny.gguf': 'gguf',
    'tiny-00002-of-00003.gguf': 'gguf_split',
    'tiny-00000-of-00003.gguf': 'gguf',
    'pytorch_model.bin': 'other',
  };
  for (const [name, kind] of Object.entries(cases)) assert.equal(JSON.parse(mp.classify_file(name)).kind, kind, name);
  assert.deepEqual(JSON.parse(mp.classify_file('tiny-00002-of-00003.gguf')),
    { kind: 'gguf_split', format: 'gguf', split_no: 2, split_count: 3 });
  assert.deepEqual(JSON.parse(mp.classify_file('model.safetensors.index.json')),
    { kind: 'safetensors_index', format: 'safetensors' });
  assert.deepEqual(JSON.parse(mp.classify_file('config.json')), { kind: 'json' });
});

// A GGUF version 3 file (ggml docs/gguf.md): header, metadata, tensor infos padded to 32 bytes, then F32 data.
function gguf(kvs, tensors) {
  const parts = [];
  const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
  const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b); };
  const str = (s) => { u64(Buffer.byteLength(s)); parts.push(Buffer.from(s)); };
  parts.push(Buffer.from('GGUF')); u32(3); u64(tensors.length); u64(kvs.length);
  for (const [key, type, value] of kvs) {
    str(key); u32(type);
    if (type === 2) { const b = Buffer.alloc(2); b.writeUInt16LE(value); parts.push(b); } // uint16
    else if (type === 5) { const b = Buffer.alloc(4); b.writeInt32LE(value); parts.push(b); } // int32
    else str(value); // string
  }
  tensors.forEach((name, i) => { str(name); u32(1); u64(4); u32(0); u64(32 * i); }); // F32 [4], 32-byte aligned
  const head = Buffer.concat(parts);
  const padded = Buffer.concat([head, Buffer.alloc((32 - (head.length % 32)) % 32)]);
  return Buffer.concat([padded, Buffer.alloc(32 * tensors.length)]);
}
const part = (no, count, total, tensors) =>
  gguf([['split.no', 2, no], ['split.count', 2, count], ['split.tensors.count', 5, total]], tensors);

function inspectBoth(files) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelplan-split-'));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(dir, name), bytes);
  const native = spawnSync(bin, ['inspect', dir, '--json'], { encoding: 'utf8' });
  const wasm = JSON.parse(mp.inspect_files(Object.entries(files).map(([name, bytes]) =>
    ({ name, size: bytes.length, bytes: new Uint8Array(bytes) })), '{}'));
  return { native, wasm };
}

test('inspect_files: GGUF splits assembled as the native program assembles a folder', () => {
  const { native, wasm } = inspectBoth({
    'm-00002-of-00002.gguf': part(1, 2, 3, ['blk.0.attn_q.weight']),
    'm-00001-of-00002.gguf': part(0, 2, 3, ['token_embd.weight', 'output_norm.weight']),
  });
  assert.equal(native.status, 0, native.stderr);
  const expected = JSON.parse(native.stdout);
  assert.deepEqual(wasm.tensors.map((t) => t.name), ['token_embd.weight', 'output_norm.weight', 'blk.0.attn_q.weight']);
  delete expected.path;
  delete wasm.path;
  assert.deepEqual(wasm, expected);
});

test('inspect_files: a broken split set is the same error as natively', () => {
  for (const files of [
    { 'q4-00001-of-00002.gguf': part(0, 2, 2, ['a']), 'q8-00001-of-00002.gguf': part(0, 2, 2, ['b']) },
    { 'm-00001-of-65535.gguf': part(0, 65535, 2, ['a']), 'm-00002-of-65535.gguf': part(1, 65535, 2, ['b']) },
  ]) {
    const { native, wasm } = inspectBoth(files);
    assert.equal(native.status, 2);
    assert.equal(wasm.error.code, 'bad_checkpoint');
    assert.equal(native.stderr.trim(), `modelplan: error: ${wasm.error.message}`);
  }
  const dup = inspectBoth({ 'q4-00001-of-00002.gguf': part(0, 2, 2, ['a']), 'q8-00001-of-00002.gguf': part(0, 2, 2, ['b']) });
  assert.match(dup.wasm.error.message, /q4-00001-of-00002\.gguf and q8-00001-of-00002\.gguf both claim split\.no 0/);
});
