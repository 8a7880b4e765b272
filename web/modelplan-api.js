// modelplan's JavaScript API: the C++ core compiled to WebAssembly, JSON in, JSON out (docs/web.md).
// Every call into the wasm module goes through this file; the page (app.js) and other projects import it:
//
//   import { loadModelplan } from './modelplan-api.js';
//   const mp = await loadModelplan();
//   mp.plan({ model: 'llama-3.1-8b', batch: 4, seq: 8192, gpu: 'rtx-4090' });   // an object, see docs/json.md
//   await mp.inspectFile(file, { model: 'llama-3.2-1b' });                      // reads header bytes only
//
// Results are the objects the native program prints with --json (docs/json.md). Errors are returned, never
// thrown: {error: {code, message, path}}; isError() tells them apart.
import createModelplan from './modelplan.mjs';

const inNode = typeof window === 'undefined' && typeof process !== 'undefined' && !!process.versions?.node;

/** True when `result` is an {error: {code, message, path}} object. */
export function isError(result) {
  return result !== null && typeof result === 'object' && 'error' in result;
}

function requestText(request) {
  return typeof request === 'string' ? request : JSON.stringify(request ?? {});
}

export class Modelplan {
  /** @param {object} module the instantiated Emscripten module (createModelplan's result) */
  constructor(module) {
    this.module = module;
  }

  /** The JSON text of one call, exactly as the core wrote it (what `modelplan COMMAND --json` prints). */
  raw(command, request) {
    const m = this.module;
    switch (command) {
      case 'presets':
      case 'gpus':
        return m[command]();
      case 'params':
      case 'skeleton':
      case 'plan':
      case 'fit':
        return m[command](requestText(request));
      case 'place':
      case 'serve':
        if (typeof m[command] !== 'function') return unsupported(command);
        return m[command](requestText(request));
      default:
        return unsupported(command);
    }
  }

  call(command, request) {
    return JSON.parse(this.raw(command, request));
  }

  params(request) { return this.call('params', request); }
  skeleton(request) { return this.call('skeleton', request); }
  plan(request) { return this.call('plan', request); }
  fit(request) { return this.call('fit', request); }
  place(request) { return this.call('place', request); }
  /** What an inference engine will do on these GPUs, figure by figure as it logs them (docs/serving.md). */
  serve(request) { return this.call('serve', request); }
  presets() { return this.call('presets'); }
  gpus() { return this.call('gpus'); }
  version() { return this.module.version(); }
  /**
   * The kind of a file by its name, with the core's rule (the one the native program applies to a folder):
   * {kind: 'safetensors' | 'safetensors_index' | 'gguf' | 'gguf_split' | 'json' | 'other'}, for checkpoint
   * files the format ('safetensors' or 'gguf'), and for a GGUF split part its split_no (1-based, from the name)
   * and split_count.
   */
  classifyFile(name) { return JSON.parse(this.module.classify_file(String(name))); }

  // GGUF asks for "at least N more bytes" item by item: read ahead geometrically.
  #readsAhead(name) { return this.classifyFile(name).format === 'gguf'; }

  /** Whether this build of the module has device placement (place()). */
  get hasPlace() { return typeof this.module.place === 'function'; }

  /**
   * Inspects checkpoint header bytes: {need_bytes: N} until `bytes` (the file's first bytes) hold the
   * whole header, then the inspection (docs/json.md, "inspect").
   */
  inspectBytes(bytes, fileSize, fileName, request) {
    return JSON.parse(this.module.inspect(bytes, fileSize, fileName, requestText(request)));
  }

  /**
   * Inspects a .safetensors or .gguf File/Blob from its header alone: reads the leading bytes with
   * Blob.slice, only as many as the core asks for (safetensors: exactly the 8-byte length and the header;
   * GGUF: read ahead geometrically, since the core asks item by item). `options.onRead(begin, end)` is
   * called for each range read. Resolves to the inspection, or an {error} object.
   */
  async inspectFile(file, request, options = {}) {
    return readErrors(file?.name ?? options.name, () => this.#inspectFile(file, request, options));
  }

  async #inspectFile(file, request, options) {
    const name = options.name ?? file.name ?? 'model.safetensors';
    const size = file.size;
    const readAhead = this.#readsAhead(name);
    let have = new Uint8Array(0);
    let want = Math.min(size, readAhead ? 1 << 18 : 8);
    for (let round = 0; round < 64; ++round) {
      if (want > have.length) {
        const begin = have.length;
        const chunk = new Uint8Array(await file.slice(begin, want).arrayBuffer());
        options.onRead?.(begin, want);
        const next = new Uint8Array(begin + chunk.length);
        next.set(have, 0);
        next.set(chunk, begin);
        have = next;
      }
      const r = this.inspectBytes(have, size, name, request);
      if (!r || typeof r.need_bytes !== 'number') return r;
      if (r.need_bytes <= have.length || r.need_bytes > size)
        return { error: { code: 'internal', message: `inspect asked for ${r.need_bytes} bytes of ${size}`, path: '' } };
      want = readAhead ? Math.min(size, Math.max(r.need_bytes, have.length * 2)) : r.need_bytes;
    }
    return { error: { code: 'bad_checkpoint', message: `${name}: header still incomplete after 64 reads`, path: '' } };
  }

  /**
   * Inspects one checkpoint made of several files from their headers: a model.safetensors.index.json with
   * its shards, several .safetensors files, or the splits of a GGUF model. The index is read whole (it is
   * the header); of every other file only the leading bytes the core asks for. Resolves to the inspection
   * of the merged checkpoint, or an {error} object.
   */
  async inspectFiles(files, request, options = {}) {
    return readErrors([...files].map((f) => f.name).join(', '), () => this.#inspectFiles(files, request, options));
  }

  async #inspectFiles(files, request, options) {
    const state = [...files].map((file) => ({ file, name: file.name, size: file.size, bytes: new Uint8Array(0),
      ahead: this.#readsAhead(file.name), whole: this.classifyFile(file.name).kind === 'safetensors_index' }));
    const read = async (s, want) => {
      const begin = s.bytes.length;
      const chunk = new Uint8Array(await s.file.slice(begin, want).arrayBuffer());
      options.onRead?.(begin, want, s.name);
      const next = new Uint8Array(begin + chunk.length);
      next.set(s.bytes, 0);
      next.set(chunk, begin);
      s.bytes = next;
    };
    for (const s of state) await read(s, Math.min(s.size, s.whole ? s.size : s.ahead ? 1 << 18 : 8));
    for (let round = 0; round < 64 * state.length + 64; ++round) {
      const r = JSON.parse(this.module.inspect_files(state.map(({ name, size, bytes }) => ({ name, size, bytes })),
        requestText(request)));
      if (!r || typeof r.need_bytes !== 'number') return r;
      const s = state.find((x) => x.name === r.file);
      if (!s || r.need_bytes <= s.bytes.length || r.need_bytes > s.size)
        return { error: { code: 'internal', message: `inspect asked for ${r.need_bytes} bytes of ${r.file}`, path: '' } };
      await read(s, s.ahead ? Math.min(s.size, Math.max(r.need_bytes, s.bytes.length * 2)) : r.need_bytes);
    }
    return { error: { code: 'bad_checkpoint', message: 'headers still incomplete after many reads', path: '' } };
  }
}

// A file that cannot be read (removed or changed since it was picked, no permission) is an {error} too.
async function readErrors(name, read) {
  try {
    return await read();
  } catch (e) {
    return { error: { code: 'io', message: `could not read ${name ?? 'the file'}: ${e?.message ?? e}`, path: '' } };
  }
}

function unsupported(command) {
  return JSON.stringify({ error: { code: 'bad_request', message: `unknown command "${command}"`, path: '' } });
}

/**
 * Loads the wasm module. In a browser modelplan.wasm is fetched from next to this file (or from
 * options.wasmUrl); under node it is read from disk (or taken from options.wasmBinary).
 * @returns {Promise<Modelplan>}
 */
export async function loadModelplan(options = {}) {
  const moduleOptions = {};
  if (options.wasmBinary) {
    moduleOptions.wasmBinary = options.wasmBinary;
  } else if (options.wasmUrl) {
    moduleOptions.locateFile = () => String(options.wasmUrl);
  } else if (inNode) {
    const { readFile } = await import('node:fs/promises');
    moduleOptions.wasmBinary = await readFile(new URL('./modelplan.wasm', import.meta.url));
  }
  return new Modelplan(await createModelplan(moduleOptions));
}
