// The calculator page. It renders what the core returns and computes nothing itself: every count, byte and
// verdict comes from a call into the wasm module through modelplan-api.js (docs/web.md).
import { loadModelplan, isError } from './modelplan-api.js';
import { renderTree } from './tree.js';
import { HubReader, parseHubId } from './hub.js';
import { Solver } from './solver.js';
import { ServeView } from './serve.js';

const $ = (id) => document.getElementById(id);

// ---- state: every input, mirrored in the URL's fragment -------------------------------------------------

const workloadKeys = ['mode', 'dtype', 'quant', 'batch', 'seq', 'images', 'image_size', 'kv_dtype', 'method',
  'optimizer', 'recompute', 'zero', 'gpu', 'gpus', 'cpu', 'strategy'];
// The GPU count is the data-parallel size of a training plan ("gpus") and the number of GPUs an inference
// workload is placed on ("gpu_count" of place()); CPU offload and the strategy are placement keys.
const trainingKeys = new Set(['method', 'optimizer', 'recompute', 'zero', 'gpus']);
const placeKeys = new Set(['cpu', 'strategy']);
// Image inputs are a vision-language model's only (the core refuses them for others): shown and sent only then.
const imageKeys = new Set(['images', 'image_size']);
const defaults = { source: 'preset', model: '', config: '', mode: 'inference', dtype: '', quant: '', batch: '',
  seq: '', images: '', image_size: '', kv_dtype: '', method: '', optimizer: '', recompute: '', zero: '', gpu: 'rtx-4090', gpus: '', cpu: '',
  strategy: '', hub: '', hub_endpoint: '' };
const state = { ...defaults };

let lastWrittenHash = null;
// The Serve view's inputs in the link: "serve.engine", "serve.open" and "serve.<knob>" keys (serve.js).
let serveUrlEntries = [];
function readUrl() {
  const q = new URLSearchParams(location.hash.slice(1));
  Object.assign(state, defaults);
  for (const key of Object.keys(defaults)) if (q.has(key)) state[key] = q.get(key);
  if (!['preset', 'config', 'hub'].includes(state.source)) state.source = 'preset';
  serveUrlEntries = [...q.entries()].filter(([key]) => key.startsWith('serve.'));
  serveView?.restore(serveUrlEntries);
}

function writeUrl() {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    if (key === 'config' && state.source !== 'config') continue;
    if (key === 'model' && state.source !== 'preset') continue;
    if ((key === 'hub' || key === 'hub_endpoint') && state.source !== 'hub') continue;
    if (value !== defaults[key]) q.set(key, value);
  }
  for (const [key, value] of serveView?.urlEntries() ?? serveUrlEntries) q.set(key, value);
  const hash = q.toString();
  lastWrittenHash = hash;
  history.replaceState(null, '', hash ? `#${hash}` : location.pathname + location.search);
}

// The checkpoint whose headers the wasm module holds (the path of the last inspection), or null. A config whose
// model_type has no family table is read from them (docs/checkpoints.md, "Models without a family"); the page
// cannot keep files across a reload, so it is not part of the URL.
let heldCheckpoint = null;

// Whether the plan's weights are the held checkpoint's stored bytes ("checkpoint_weights" of a request, the
// "use this checkpoint's weights" box): only for the model the checkpoint was verified against.
let checkpointWeights = false;

// The name a pasted config.json goes by: the _name_or_path transformers writes, else its architecture or
// model_type; "config.json" when it names none (or does not parse yet).
function configName(text) {
  try {
    const c = JSON.parse(text);
    for (const v of [c?._name_or_path, c?.architectures?.[0], c?.model_type])
      if (typeof v === 'string' && v.trim()) return v.trim();
  } catch { /* the core reports what is wrong with it */ }
  return 'config.json';
}

// Whether the model shown has a vision tower ("vision-language" among its kinds), as its params answer says.
let takesImages = false;

// The model part of a request: a preset, or the pasted / dropped config.json (with the dropped checkpoint).
function modelRequest() {
  if (state.source === 'hub' && hubModel) return hubRequest();
  const r = state.source === 'config' ? { config: state.config, name: configName(state.config) } : { model: state.model };
  if (heldCheckpoint && (state.source === 'config' || checkpointWeights)) r.checkpoint = heldCheckpoint;
  if (heldCheckpoint && checkpointWeights) r.checkpoint_weights = true;
  if (state.dtype) r.dtype = state.dtype;
  return r;
}

// The workload keys the user set (empty inputs mean the core's defaults), as text: the core validates them.
function planRequest(gpu = state.gpu) {
  const r = modelRequest();
  for (const key of workloadKeys) {
    if (key === 'dtype' || key === 'gpu' || placeKeys.has(key)) continue;
    if (trainingKeys.has(key) && state.mode !== 'training') continue;
    if (imageKeys.has(key) && !takesImages) continue;
    if (key === 'mode' && state.mode === 'inference') continue;
    const value = state[key].trim();
    if (value !== '') r[key] = value;
  }
  if (gpu) r.gpu = gpu;
  return r;
}

// Placement of an inference workload on the chosen GPU(s), with CPU offload when asked.
function placeRequest() {
  const r = planRequest();
  const count = state.gpus.trim();
  if (count !== '') r.gpu_count = /^[0-9]+$/.test(count) ? Number(count) : count;
  if (state.cpu.trim() !== '') r.cpu = state.cpu.trim();
  if (state.strategy) r.strategy = state.strategy;
  return r;
}

// ---- formatting (presentation only: grouping digits, binary units) ------------------------------------------

const grouped = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : String(n));
const sig = (x) => x.toLocaleString('en-US', { maximumSignificantDigits: 4 });
const gib = (bytes) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
// "NVIDIA GeForce RTX 4090" (24,564 MiB) -> "RTX 4090 · 24 GiB": vendor words and asides dropped, memory to 3 digits.
const gpuModelName = (g) => g.name.replace(/\s*\(.*\)\s*/g, ' ').replace(/\b(NVIDIA|GeForce|Tesla|AMD|Instinct)\s+/g, '').trim();
const shortGpuName = (g) => `${gpuModelName(g)} · ${
  (g.memory_bytes / 2 ** 30).toLocaleString('en-US', { maximumSignificantDigits: 3 })} GiB`;
function shortCount(n) {
  for (const [unit, scale] of [['T', 1e12], ['B', 1e9], ['M', 1e6], ['K', 1e3]])
    if (n >= scale) return `${(n / scale).toFixed(2)}${unit}`;
  return String(n);
}
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data') || k === 'title' || k === 'role' || k.startsWith('aria')) e.setAttribute(k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}
function setCount(node, n) {
  node.replaceChildren(el('span', { class: 'exact', text: grouped(n) }), ' ', el('small', { text: shortCount(n) }));
  node.dataset.value = String(n);
}
function setBytes(node, bytes) {
  node.replaceChildren(el('span', { class: 'human', text: gib(bytes) }), ' ',
    el('small', { class: 'exact', text: `${grouped(bytes)} bytes` }));
  node.dataset.bytes = String(bytes);
}
const itemTestId = (name) => `mem-${name === 'kv_cache' ? 'kv' : name.replace(/_/g, '-')}`;
const palette = ['weights', 'kv_cache', 'activations', 'overhead', 'gradients', 'optimizer_states', 'master_weights',
  'lora_adapters', 'recurrent_state', 'vision_activations'];
const itemClass = (name) => `item-${palette.includes(name) ? name : `other${name.length % 3}`}`;

// ---- errors: one message, shown next to the input that caused it; the last good result stays --------------

const errorAnchors = { batch: 'batch', seq: 'seq', kv_dtype: 'kv_dtype', quant: 'quant', gpu: 'gpu', gpus: 'gpus',
  mode: 'mode', method: 'method', optimizer: 'optimizer', recompute: 'recompute', zero: 'zero', dtype: 'dtype',
  gpu_count: 'gpus', cpu: 'cpu', strategy: 'strategy', images: 'images', image_size: 'image_size', hub: 'hub-id' };

function showError(err, context) {
  const box = $('error');
  const results = document.querySelector('.results');
  if (!err) {
    box.hidden = true;
    box.textContent = '';
    document.querySelectorAll('.invalid').forEach((n) => n.classList.remove('invalid'));
    results.classList.remove('stale');
    results.dataset.stale = 'false';
    return;
  }
  // The result still shown belongs to the last good input: dimmed until the input is fixed.
  results.classList.add('stale');
  results.dataset.stale = 'true';
  const customGpu = err.path === 'gpu' && state.gpu.startsWith('custom:');
  const anchorId = customGpu ? 'custom-mem' : errorAnchors[err.path] ??
    (context === 'file' ? 'file-status' : state.source === 'config' ? 'config-input' : 'preset-search');
  const anchor = $(anchorId);
  const label = anchor.closest('label') ?? anchor;
  label.after(box);
  document.querySelectorAll('.invalid').forEach((n) => n.classList.remove('invalid'));
  anchor.classList.add('invalid');
  box.replaceChildren(el('strong', { text: `${err.code}: ` }), err.message,
    err.path ? el('span', { class: 'path', text: ` (at ${err.path})` }) : '',
    el('span', { class: 'kept', text: ' — showing the last good result.' }));
  box.dataset.code = err.code;
  box.hidden = false;
}

// ---- rendering ------------------------------------------------------------------------------------------------

let mp;
let serveView = null; // serve.js, once the solver runs
let solver; // the calls behind the results: in Web Workers, or on this thread where none starts (solver.js)
let gpuCatalog = [];
let lastModelKey = null;
let lastParams = null;
let generation = 0; // bumps on every recompute (the URL is written once per burst)
let drawnInput = 0; // the input generation whose result is drawn
let answeredInput = 0; // the newest input generation whose result was drawn or whose error was shown
let drawGeneration = 0; // bumps on every result drawn; deferred work (fit, placement, catalog) of an older one stops
let deferredPending = false; // the deferred work of the result shown is not done yet
const timings = [];

function gpuName(key) {
  if (key?.startsWith('custom:')) return `your GPU (${key.slice(7)})`;
  return gpuCatalog.find((g) => g.key === key)?.name ?? key;
}

// The custom GPU entry: "custom:MEMORY[,bw=GB/s][,tflops=T]" (docs/devices.md); the core reads and checks it.
function customGpuText() {
  const mem = $('custom-mem').value.trim();
  const bw = $('custom-bw').value.trim();
  const tflops = $('custom-tflops').value.trim();
  return `custom:${mem}${bw ? `,bw=${bw}` : ''}${tflops ? `,tflops=${tflops}` : ''}`;
}
function showCustomGpu(text) {
  const custom = text.startsWith('custom:');
  $('custom-gpu').hidden = !custom;
  if (!custom) return;
  const [mem, ...parts] = text.slice(7).split(',');
  const part = (key) => parts.find((p) => p.trim().toLowerCase().startsWith(`${key}=`))?.split('=')[1] ?? '';
  $('custom-mem').value = mem;
  $('custom-bw').value = part('bw');
  $('custom-tflops').value = part('tflops');
}

function renderParams(p) {
  $('model-title').textContent = p.model;
  const from = p.source === 'checkpoint headers' ? `read from the checkpoint headers of ${p.checkpoint}` : `head ${p.head}`;
  $('model-sub').textContent = `${p.architecture} (${p.model_type || 'no model_type'}) · ${p.dtype} · ${grouped(p.tensors)} parameter tensors · ${from}`;
  // What is generic in a model read from checkpoint headers: the core's notes, one per part.
  const notes = $('generic-notes');
  notes.hidden = !p.generic;
  notes.replaceChildren(...(p.generic ?? []).map((n) => el('li', { dataItem: n.item },
    el('strong', { text: `${n.item}: ` }), n.note)));
  setCount($('total-params'), p.params.total);
  setCount($('active-params'), p.params.active);
  $('not-modelled').hidden = !p.not_modelled;
  $('not-modelled').textContent = p.not_modelled ? `Not modelled: ${p.not_modelled}` : '';
}

function bar(label, testid) {
  const row = el('div', { class: 'bar-row', dataTestid: testid });
  row.append(el('div', { class: 'bar-label', text: label }));
  const track = el('div', { class: 'bar-track', role: 'img', ariaLabel: `${label} memory by item` });
  row.append(track);
  return { row, track };
}

function renderBar(container, label, items, totalBytes, capacityBytes) {
  // Widths are a drawing of the core's bytes: each item's share of the larger of total and capacity.
  const scale = Math.max(totalBytes, capacityBytes || 0) || 1;
  const { row, track } = bar(label, 'memory-bar');
  for (const it of items) {
    if (!it.bytes) continue;
    track.append(el('span', { class: `seg ${itemClass(it.name)}`, title: `${it.name}: ${gib(it.bytes)}`,
      style: `width:${(it.bytes / scale) * 100}%` }));
  }
  if (capacityBytes) {
    track.append(el('span', { class: 'capacity', title: `capacity ${gib(capacityBytes)}`,
      style: `left:calc(${(capacityBytes / scale) * 100}% - 1px)` }));
    row.append(el('div', { class: 'bar-value', text: `${gib(totalBytes)} of ${gib(capacityBytes)}` }));
  } else {
    row.append(el('div', { class: 'bar-value', text: gib(totalBytes) }));
  }
  container.append(row);
}

// The values the core used, shown where the user left a field empty ("4096 (default)", "fp8-block128 (from config)").
function renderValuesInUse(v, images) {
  if (!v) return;
  $('batch').placeholder = `${v.batch} (default)`;
  $('seq').placeholder = `${grouped(v.seq)} (default)`;
  $('quant').placeholder = v.quant ? `${v.quant} (from config)` : `none (${v.dtype})`;
  if (v.kv_dtype_default) $('kv_dtype').options[0].textContent = `compute dtype (${v.kv_dtype})`;
  $('dtype').options[0].textContent = `config's (${v.dtype})`;
  const weights = v.quant ? `${v.quant}${v.quant_source === 'config' ? ' (from config)' : ''}` : v.dtype;
  const inUse = $('values-in-use');
  inUse.textContent = `batch ${v.batch} · context ${grouped(v.seq)}${v.seq_default ? ' (default)' : ''} · weights ${weights} · KV cache ${v.kv_dtype}${v.kv_dtype_default ? ' (compute dtype)' : ''}`;
  if (images) {
    const n = images.image_tokens / images.tokens_per_image;
    inUse.textContent += ` · ${grouped(n)} image${n === 1 ? '' : 's'} of ${images.image_size}${state.image_size.trim() ? '' : ' (default)'} = ${grouped(images.tokens_per_image)} tokens each, ${grouped(images.image_tokens)} image + ${grouped(images.text_seq)} text tokens per sequence`;
  }
  inUse.dataset.quant = v.quant;
  inUse.dataset.seq = String(v.seq);
}

function renderPlan(r) {
  const plan = r.plan;
  renderValuesInUse(plan.in_use, plan.images);
  setBytes($('mem-total'), plan.total_bytes);
  const tbody = $('items').tBodies[0];
  tbody.replaceChildren(...plan.items.map((it) => el('tr', {},
    el('th', {}, el('span', { class: `swatch ${itemClass(it.name)}` }), it.name),
    el('td', { class: 'num', dataTestid: itemTestId(it.name), dataBytes: String(it.bytes), text: grouped(it.bytes) }),
    el('td', { class: 'num', text: gib(it.bytes) }),
    el('td', { class: 'formula', title: Object.entries(it.inputs).map(([k, v]) => `${k} = ${v}`).join('\n') }, it.formula,
      ...(it.note ? [el('small', { class: 'item-note', dataTestid: `note-${itemTestId(it.name).slice(4)}`, text: it.note })] : [])))));
  const device = plan.devices[0];
  const bars = $('bars');
  bars.replaceChildren();
  renderBar(bars, device ? gpuName(device.gpu) : 'total', plan.items, plan.total_bytes, device?.memory_bytes);
  $('warnings').replaceChildren(...plan.warnings.map((w) => el('li', { text: w })));

  const verdict = $('fits-verdict');
  if (!device) {
    verdict.textContent = 'choose a GPU for a verdict';
    verdict.dataset.fits = '';
    verdict.className = '';
  } else {
    verdict.className = device.fits ? 'fits' : 'no-fit';
    verdict.dataset.fits = String(device.fits);
    verdict.replaceChildren(el('strong', { text: device.fits ? 'fits' : 'does not fit' }),
      el('small', { text: `on ${gpuName(device.gpu)}` }));
    const head = $('headroom');
    head.replaceChildren(el('span', { class: 'human', text: gib(device.headroom_bytes) }), ' ',
      el('small', { class: 'exact', text: `${grouped(device.headroom_bytes)} bytes` }));
    head.dataset.bytes = String(device.headroom_bytes);
    const roof = device.roofline;
    // No speed for a workload that does not fit: it would not run.
    for (const [id, value, text] of [
      ['decode-tps', roof.decode_tokens_per_s_upper_bound, (x) => `${sig(x)} tokens/s`],
      ['prefill-s', roof.prefill_seconds_lower_bound, (x) => `${sig(x)} s`]]) {
      const node = $(id);
      node.textContent = !device.fits ? 'does not run: it does not fit' : value > 0 ? text(value) : 'no sourced figure';
      node.className = device.fits ? '' : 'greyed';
      node.dataset.value = String(value); // the core's bound; the text says it would not run
    }
    noDecodeForEncoders();
    $('device-errors').replaceChildren(...device.errors.map((w) => el('li', { text: w })),
      ...device.warnings.map((w) => el('li', { class: 'warn', text: w })));
  }
  $('fit-card').hidden = !device;
  $('fit-gpu-name').textContent = device ? gpuName(device.gpu) : '';
}

// The one-line summary: the page's only live region for results (a screen reader hears this line, once per
// change, not the whole results section) and the sticky verdict at the top of a phone's screen.
function renderSummary(r, pr) {
  const device = r.plan.devices[0];
  const shortName = (key) => {
    const g = gpuCatalog.find((x) => x.key === key);
    return g ? gpuModelName(g) : gpuName(key);
  };
  const inGib = (bytes) => (bytes / 2 ** 30).toFixed(2); // "17.16 of 23.99 GiB": short enough for a phone's line
  let word = '';
  let rest;
  if (pr) {
    const gpus = pr.devices.filter((d) => d.kind === 'gpu');
    const offloaded = offloadedBytes(pr);
    word = !pr.fits ? 'does not fit' : offloaded ? 'fits only with CPU offload' : 'fits';
    rest = ` on ${gpus.length} x ${shortName(gpus[0]?.gpu)}: ${inGib(gpus.reduce((sum, d) => sum + d.total_bytes, 0))} of ${
      gib(gpus.reduce((sum, d) => sum + (d.budget_bytes ?? 0), 0))}${offloaded ? `, ${gib(offloaded)} off the GPUs` : ''}${
      pr.unplaced_bytes ? `, ${gib(pr.unplaced_bytes)} without a place` : ''}`;
  } else if (device) {
    // A training plan on several GPUs is one GPU's share (data parallel): "each of".
    const count = state.mode === 'training' && Number(state.gpus.trim() || '1') > 1 ? `each of ${state.gpus.trim()}` : '1';
    word = device.fits ? 'fits' : 'does not fit';
    rest = ` on ${count} x ${shortName(device.gpu)}: ${inGib(r.plan.total_bytes)} of ${gib(device.memory_bytes)}`;
  } else {
    rest = `${gib(r.plan.total_bytes)} in total; choose a GPU for a verdict`;
  }
  $('verdict-model').textContent = lastParams?.model ?? '';
  const line = $('verdict-line');
  line.className = !word ? '' : word === 'fits' ? 'fits' : word === 'does not fit' ? 'no-fit' : 'offload';
  line.dataset.fits = word ? String(word !== 'does not fit') : '';
  // Rewritten only when it changes, so that a keystroke that changes nothing announces nothing.
  if (line.textContent === word + rest) return;
  line.replaceChildren(...(word ? [el('strong', { text: word })] : []), rest);
}

function renderPlacedVerdict(r) {
  // Several devices: every answer comes from the placement (issue 17): the bars per device here, the solves
  // (renderPlacedFit) and the catalog (placed on the same count of each GPU).
  $('fit-gpu-name').textContent = `${r.devices.map((d) => (d.kind === 'gpu' ? gpuName(d.gpu) : d.name)).join(' + ')} (the placement)`;
  const bars = $('bars');
  bars.replaceChildren();
  for (const d of r.devices) {
    renderBar(bars, d.kind === 'gpu' ? `${d.name} (${gpuName(d.gpu)})` : d.name, d.items, d.total_bytes, d.budget_bytes);
    bars.lastChild.dataset.device = d.name;
    bars.lastChild.dataset.bytes = String(d.total_bytes);
  }
  // The headline memory is the placement's: what the devices hold plus what found no room on them.
  const placedBytes = r.devices.reduce((sum, d) => sum + d.total_bytes, 0) + r.unplaced_bytes;
  const total = $('mem-total');
  total.replaceChildren(el('span', { class: 'human', text: gib(placedBytes) }), ' ',
    el('small', { class: 'exact', text: `${grouped(placedBytes)} bytes placed on ${r.devices.length} devices${r.unplaced_bytes
      ? `, ${gib(r.unplaced_bytes)} of it without a place` : ''} (one device's plan: ${gib(r.plan.total_bytes)})` }));
  total.dataset.bytes = String(placedBytes);
  const head = $('headroom');
  const room = r.devices.filter((d) => d.budget_bytes !== null).map((d) => `${d.name} ${gib(d.headroom_bytes)}`);
  head.replaceChildren(el('span', { class: 'human', text: room.join(' · ') }));
  head.dataset.bytes = '';
  // Speeds follow the placement's verdict. A sequential device map runs the layers in turn, so one GPU's
  // roofline bound stands; layers on the CPU make it slower still.
  const onCpu = offloadedBytes(r) > 0;
  for (const [id, format] of [['decode-tps', (x) => `${sig(x)} tokens/s`], ['prefill-s', (x) => `${sig(x)} s`]]) {
    const node = $(id);
    const value = Number(node.dataset.value);
    node.textContent = !r.fits ? 'does not run: it does not fit'
      : `${value > 0 ? format(value) : 'no sourced figure'}${onCpu ? ' (far less: layers run from CPU memory)' : ''}`;
    node.className = r.fits ? '' : 'greyed';
  }
  noDecodeForEncoders();
  const verdict = $('fits-verdict');
  const offloaded = offloadedBytes(r);
  verdict.className = !r.fits ? 'no-fit' : offloaded ? 'offload' : 'fits';
  verdict.dataset.fits = String(r.fits);
  verdict.dataset.offload = String(r.fits && offloaded > 0);
  verdict.replaceChildren(el('strong', { text: !r.fits ? 'does not fit' : offloaded ? 'fits only with CPU offload' : 'fits' }),
    el('small', { text: `placed on ${r.devices.map((d) => d.name).join(', ')}${offloaded ? ` · ${gib(offloaded)} off the GPUs (slower)` : ''}` }));
}

// An encoder-only model (BERT, RoBERTa) reads its input in one pass and generates nothing: no decode speed.
function noDecodeForEncoders() {
  const kinds = lastParams?.kinds ?? [];
  const node = $('decode-tps');
  node.dataset.encoderOnly = String(kinds.includes('encoder') && !kinds.includes('encoder-decoder'));
  if (node.dataset.encoderOnly !== 'true') return;
  node.textContent = 'none: an encoder-only model generates no tokens';
  node.className = 'greyed';
}

// Bytes the placement keeps off the GPUs (CPU, disk).
const offloadedBytes = (r) => r.devices.filter((d) => d.kind !== 'gpu').reduce((sum, d) => sum + d.total_bytes, 0);

// The solves on the placement's devices (place with "solve": true): the same fields as fit's.
function renderPlacedFit(r) {
  if (isError(r) || !r.fit) return renderFit(isError(r) ? r : { error: { message: 'no solves' } });
  const capacity = r.devices.reduce((sum, d) => sum + (d.budget_bytes ?? 0), 0);
  renderFit({ ...r.fit, batch: Number(state.batch || 1), memory_bytes: capacity, placed: true });
  $('gpus-needed').textContent = r.fit.gpus_needed ? `${grouped(r.fit.gpus_needed)} (placed, not an even split)` : 'more than 64';
}

function renderFit(f) {
  if (isError(f)) {
    for (const id of ['max-seq', 'max-batch', 'smallest-quant', 'gpus-needed']) $(id).textContent = '—';
    $('max-seq').title = f.error.message;
    return;
  }
  // Zero is said in words: no context or batch fits (the weights and overhead alone exceed the memory).
  const none = f.placed ? `none: even 1 token at batch ${grouped(f.batch)} has no place on these devices`
    : `none: even 1 token at batch ${grouped(f.batch)} needs more than ${gib(f.memory_bytes)}`;
  $('max-seq').textContent = f.max_seq ? `${grouped(f.max_seq)} tokens` : none;
  $('max-seq').className = f.max_seq ? '' : 'not-fit';
  $('max-seq').dataset.value = String(f.max_seq);
  $('max-batch').textContent = f.max_batch ? grouped(f.max_batch) : f.placed ? 'none: not even batch 1'
    : `none: not even batch 1 at ${grouped(f.seq)} tokens`;
  $('max-batch').className = f.max_batch ? '' : 'not-fit';
  $('max-batch').dataset.value = String(f.max_batch);
  // "none" from the core means the ladder's first rung (no quantization) already fits; null: no rung fits.
  $('smallest-quant').textContent = f.smallest_quant === 'none' ? 'none needed: fits unquantized'
    : f.smallest_quant ?? 'nothing fits: not even the smallest rung (q2_k)';
  $('smallest-quant').className = f.smallest_quant ? '' : 'not-fit';
  $('smallest-quant').dataset.value = f.smallest_quant ?? '';
  $('gpus-needed').textContent = `${grouped(f.gpus_needed)} (even split)`;
  $('gpus-needed').dataset.value = String(f.gpus_needed);
}

function renderPlacement(r) {
  const card = $('place-card');
  card.hidden = !r;
  if (!r) return;
  const verdict = $('place-verdict');
  if (isError(r)) {
    verdict.className = 'no-fit';
    verdict.textContent = r.error.message;
    $('place-bars').replaceChildren();
    $('place-notes').replaceChildren();
    $('place-map').textContent = '';
    card.dataset.map = '';
    return;
  }
  $('place-devices').textContent = r.devices.map((d) => d.name).join(', ');
  const offloaded = offloadedBytes(r);
  verdict.className = !r.fits ? 'no-fit' : offloaded ? 'offload' : 'fits';
  verdict.dataset.fits = String(r.fits);
  verdict.dataset.offload = String(r.fits && offloaded > 0);
  verdict.textContent = !r.fits ? 'does not fit' : offloaded ? `fits only with ${gib(offloaded)} offloaded (slower)` : 'fits';
  const bars = $('place-bars');
  bars.replaceChildren();
  for (const d of r.devices) {
    renderBar(bars, d.gpu ? `${d.name} (${gpuName(d.gpu)})` : d.name, d.items, d.total_bytes, d.budget_bytes);
    bars.lastChild.dataset.device = d.name;
    bars.lastChild.dataset.bytes = String(d.total_bytes);
  }
  // What found no place is drawn as its own bar, so the overflow is never hidden behind full GPUs.
  if (r.unplaced_bytes > 0) {
    const { row, track } = bar('not placed', 'unplaced-bar');
    const scale = Math.max(r.unplaced_bytes, ...r.devices.map((d) => d.budget_bytes ?? 0));
    track.append(el('span', { class: 'seg unplaced', title: `no device has room for ${gib(r.unplaced_bytes)}`,
      style: `width:${(r.unplaced_bytes / scale) * 100}%` }));
    row.append(el('div', { class: 'bar-value', text: `${gib(r.unplaced_bytes)} has no place on these devices` }));
    row.dataset.bytes = String(r.unplaced_bytes);
    bars.append(row);
  }
  $('place-notes').replaceChildren(...[...(r.suggestions ?? []), ...(r.warnings ?? [])].map((w) => el('li', { text: w })));
  const text = JSON.stringify(r.device_map, null, 2);
  // A map of a placement that does not fit lacks modules: from_pretrained would fail on it (docs/json.md).
  const complete = r.fits;
  $('place-map').textContent = text;
  $('place-map').classList.toggle('incomplete', !complete);
  $('place-map').dataset.complete = String(complete);
  $('place-download').disabled = !complete;
  $('place-map-note').textContent = complete ? "for transformers' from_pretrained(device_map=...)"
    : `INCOMPLETE: ${Object.keys(r.device_map).length} modules placed, the rest has no device, so this map cannot load (not offered for download)`;
  card.dataset.map = complete ? text : '';
}

// One line of the catalog: GPU `g`'s plan, or its placement when `placeRequest` places on several devices.
function catalogRow(g, r, placeRequest) {
  // Placed: the headroom of the fullest GPU when it fits, else minus what found no room.
  const d = isError(r) ? false : placeRequest ? { fits: r.fits, errors: [], headroom_bytes: r.fits
    ? r.devices.filter((x) => x.kind === 'gpu').reduce((m, x) => Math.min(m, x.headroom_bytes), Infinity)
    : -(r.unplaced_bytes + r.over_budget_bytes) } : r.plan.devices[0];
  // A fit that needs the CPU offload is amber here too.
  const offload = d?.fits && placeRequest ? offloadedBytes(r) : 0;
  const row = el('li', { class: d ? (d.fits ? (offload ? 'fits offload' : 'fits') : 'no-fit') : 'no-fit', dataGpu: g.key,
    dataFits: String(!!d?.fits), dataOffload: String(offload > 0), dataMemory: String(g.memory_bytes) },
  el('span', { class: 'mark', text: d?.fits ? '✓' : '✗' }), ` ${g.name} `,
  el('small', { text: !d ? r.error.message
    : `${gib(g.memory_bytes)}${placeRequest ? ` x ${placeRequest.gpu_count ?? 1}` : ''} · ${d.headroom_bytes < 0 && placeRequest
      ? `short by ${gib(-d.headroom_bytes)}` : `headroom ${gib(d.headroom_bytes)}`}${offload ? ` · ${gib(offload)} on the CPU` : ''}` }));
  // A ✗ in words: the core's errors for this GPU (a dtype it lacks), and the memory when that is short.
  const why = !d || d.fits ? [] : [...d.errors, ...(d.headroom_bytes < 0 ? [placeRequest
    ? `${gib(-d.headroom_bytes)} has no place on ${placeRequest.gpu_count ?? 1} x ${gib(g.memory_bytes)}`
    : `needs ${gib(r.plan.total_bytes)}, has ${gib(g.memory_bytes)}`] : [])];
  if (why.length) row.append(el('span', { class: 'why', dataTestid: 'catalog-why', text: why.join('; ') }));
  return row;
}

// The solves' figures are being computed: "solving…" beside the GPU card's title, the old figures dimmed.
function setSolving(on) {
  $('fit-status').textContent = on ? 'solving…' : '';
  $('fit-card').classList.toggle('solving', on);
  $('fit-card').setAttribute('aria-busy', String(on));
}

// The deferred work of the result drawn as generation `drawn`: the solves, the single-GPU placement and the
// catalog (one plan or placement per GPU), asked of the solver at once and drawn as their answers come; the
// catalog's list is replaced when its last line is in. A newer result stops it (its answers are not drawn).
async function runDeferred(drawn, { gpu, placed, request, single, catalogRequest, placedRequest }) {
  const current = () => drawn === drawGeneration;
  const solve = !gpu ? null : placed ? solver.call('place', { ...placedRequest, solve: true }, drawn)
    : solver.call('fit', request, drawn);
  const placement = !placed && single ? solver.call('place', single, drawn) : null;
  const answers = gpuCatalog.map((g) => (placedRequest ? solver.call('place', { ...placedRequest, gpu: g.key }, drawn)
    : solver.call('plan', { ...catalogRequest, gpu: g.key }, drawn)));
  const status = $('catalog-status');
  status.textContent = '(computing…)';
  status.dataset.done = 'false';
  setSolving(!!solve);
  if (solve) {
    const f = await solve;
    if (!current()) return;
    if (placed) renderPlacedFit(f);
    else renderFit(f);
    setSolving(false);
  }
  if (!placed) {
    const r = placement ? await placement : null;
    if (!current()) return;
    renderPlacement(r);
  }
  const rows = [];
  for (const [i, answer] of answers.entries()) {
    const r = await answer;
    if (!current()) return;
    rows.push(catalogRow(gpuCatalog[i], r, placedRequest));
    status.textContent = `(computing… ${i + 1} of ${gpuCatalog.length})`;
  }
  // What fits first (without offload, then with it), then by memory as the GPU menu lists them.
  const rank = (row) => (row.dataset.fits !== 'true' ? 2 : row.dataset.offload === 'true' ? 1 : 0);
  $('catalog').replaceChildren(...rows.map((row, order) => ({ row, order }))
    .sort((a, b) => rank(a.row) - rank(b.row) || a.order - b.order).map(({ row }) => row));
  const fitting = rows.filter((r) => r.dataset.fits === 'true').length;
  status.textContent = `(${fitting} of ${gpuCatalog.length})`;
  status.dataset.done = 'true';
  deferredPending = false;
  // Settled only when the newest input is answered too (an older input's result may be drawn before it).
  if (answeredInput === generation) document.body.dataset.pending = 'false';
}

// ---- the one recompute: every input change calls this --------------------------------------------------------

// Everything one input needs, from the solver (worker.js) before anything is drawn: {p, r, pr, placed, request}
// or {error}; null when a newer input (generation) made it moot. `params` only when the model changed; on several
// devices (GPUs, or a GPU with CPU offload) the placement too, whose verdict is the page's (DeepSeek-V3 that does
// not fit two GPUs takes a second to place, with the core's suggestions).
async function compute(gen) {
  const modelKey = JSON.stringify(modelRequest());
  let p = null;
  if (modelKey !== lastModelKey) {
    p = await solver.call('params', modelRequest(), null, 'input');
    if (!p) return null;
    if (isError(p)) return { error: p.error };
    if (gen !== null && gen !== generation) return null;
  }
  takesImages = ((p ?? lastParams)?.kinds ?? []).includes('vision-language');
  const request = planRequest();
  const placed = mp.hasPlace && state.gpu && state.mode !== 'training' &&
    (Number(state.gpus.trim() || '1') !== 1 || state.cpu.trim() !== '');
  // Every input's plan is computed (milliseconds) and drawn unless a newer one was drawn first; a placement (up to
  // a second) is dropped when a newer input's comes before it ran.
  const [r, pr] = await Promise.all([solver.call('plan', request, null, 'input'),
    placed ? solver.call('place', placeRequest(), gen, 'input') : null]);
  if (!r || (placed && !pr)) return null;
  if (isError(r)) return { error: r.error };
  if (pr && isError(pr)) return { error: pr.error };
  return { modelKey, p, r, pr, placed, request };
}

// While an input's results are computed: "working…" beside the GPU card's title (only if it takes a while).
let workingTimer = 0;
function setWorking(on) {
  clearTimeout(workingTimer);
  if (on) {
    workingTimer = setTimeout(() => {
      $('fit-status').textContent = 'working…';
      document.querySelector('.results').setAttribute('aria-busy', 'true');
    }, 100);
    return;
  }
  if ($('fit-status').textContent === 'working…') $('fit-status').textContent = '';
  document.querySelector('.results').removeAttribute('aria-busy');
}

// `computed`: compute()'s answer for the inputs now, when the caller has it (loadFromUrl).
async function recompute({ fromUser = true, computed = null } = {}) {
  const t0 = performance.now();
  const gen = ++generation;
  if (fromUser) showUrlNotes([]);
  // The URL follows the inputs, once per burst of changes (browsers throttle history updates).
  setTimeout(() => { if (gen === generation) writeUrl(); }, 0);
  document.body.dataset.pending = 'true';
  setWorking(true);
  const c = computed ?? await compute(gen);
  if (gen === generation) setWorking(false);
  // Results are drawn in the order of the inputs: an older input's result still is, unless a newer one was drawn
  // (the last good result then stays when the newest input fails). An older input's error is not shown.
  if (!c || (c.error ? gen !== generation : gen < drawnInput)) return;
  if (gen === generation) answeredInput = gen;
  // On an error the page keeps showing the last good result, whole.
  if (c.error) failed(c.error);
  else {
    drawnInput = gen;
    draw(c, t0);
    // A file error shown after this input was given (a bad file dropped while its result was on the way) is
    // newer than the result: it stays until the next input.
    if (lastFileError && gen <= lastFileError.after) showError(lastFileError.err, 'file');
  }
}

function failed(error) {
  showError(error);
  // The deferred work of the result still shown carries on (it belongs to it), so the page stays whole.
  if (!deferredPending) document.body.dataset.pending = 'false';
}

function draw({ modelKey, p, r, pr, placed, request }, t0) {
  const drawn = ++drawGeneration;
  showError(null);
  if (p) {
    lastParams = p;
    lastModelKey = modelKey;
    document.body.dataset.vision = String(takesImages);
    renderParams(p);
    showModelNote();
    invalidateTree();
  }
  renderPlan(r);
  if (pr) {
    renderPlacement(pr);
    renderPlacedVerdict(pr);
  }
  renderSummary(r, pr);
  serveView?.refresh();
  timings.push(performance.now() - t0);
  // Second priority, after this frame: the solves, the placement and the catalog (off the main thread).
  // A newer result cancels it; a newer input that fails does not (the result shown stays whole).
  deferredPending = true;
  runDeferred(drawn, { gpu: state.gpu, placed, request,
    single: mp.hasPlace && state.gpu && state.mode !== 'training' && !placed ? placeRequest() : null,
    catalogRequest: planRequest(''), placedRequest: placed ? placeRequest() : null });
}

// ---- a link's inputs: what the core rejects falls back to the default, with a message ---------------------------

// The state key behind an error's path (the request's key, or the model itself).
const stateKeyOfPath = { gpu_count: 'gpus', kv_dtype: 'kv_dtype' };
function stateKeyOf(err) {
  const key = stateKeyOfPath[err.path] ?? err.path;
  if (key && key in defaults && key !== 'model' && key !== 'config' && key !== 'source') return key;
  return state.source === 'config' ? 'source' : 'model';
}

// Called when the inputs come from the URL (page load, a pasted link): each value the core rejects is reset to
// its default, one at a time, until the whole request computes; a pasted config that does not parse stays in its
// text area (with the message beside it) while the preset is shown. Resolves to the notes for showUrlNotes() and
// compute()'s answer for the inputs kept.
async function recoverUrlState() {
  const notes = [];
  let c;
  for (let tries = 0; tries < Object.keys(defaults).length; ++tries) {
    c = await compute(null);
    // A placement option is only used on several devices; check it here too, so that a bad one is caught now.
    if (!c.error && !c.placed && mp.hasPlace && state.gpu && state.mode !== 'training' && (state.strategy || state.gpus)) {
      const pr = await solver.call('place', placeRequest(), null, 'input');
      if (isError(pr)) c = { error: pr.error };
    }
    if (!c.error) break;
    const key = stateKeyOf(c.error);
    if (state[key] === defaults[key]) break; // nothing left to fall back to: the error shows as usual
    const shown = key === 'source' ? 'config' : key;
    notes.push({ key: shown, value: key === 'source' ? '(the pasted config.json)' : state[key], error: c.error });
    state[key] = defaults[key];
  }
  return { notes, computed: c };
}

function showUrlNotes(notes) {
  const box = $('url-error');
  box.hidden = notes.length === 0;
  box.replaceChildren(...(notes.length ? [el('strong', { text: 'Some of the link\'s inputs were not used: ' })] : []),
    ...notes.map((n) => el('span', { class: 'url-note', dataKey: n.key },
      el('code', { text: `${n.key}=${n.value}` }), ` (${n.error.message}); `)),
    ...(notes.length ? [el('span', { class: 'kept', text: 'their defaults are shown instead.' })] : []));
  box.dataset.keys = notes.map((n) => n.key).join(' ');
}

// The inputs from the URL, checked, shown and computed.
let urlGeneration = 0; // a newer link (hashchange) while an older one is checked wins
async function loadFromUrl() {
  const gen = ++urlGeneration;
  document.body.dataset.pending = 'true';
  checkpointModelChanged();
  readUrl();
  lastModelKey = null;
  // A Hub id is fetched again (the page keeps no files): the preset shows until it has come.
  const hubId = state.source === 'hub' ? state.hub : null;
  if (hubId) state.source = 'preset';
  $('hub-id').value = hubId ?? '';
  $('hub-endpoint').value = state.hub_endpoint;
  const { notes, computed } = await recoverUrlState();
  if (gen !== urlGeneration) return;
  applyStateToControls();
  renderPresetList();
  recompute({ fromUser: false, computed });
  showUrlNotes(notes);
  // A pasted config that does not parse: kept in its box (the user may want to fix it), the message beside it.
  const config = notes.find((n) => n.key === 'config');
  if (config) {
    selectSource('config');
    showError(config.error); // beside the config box
    state.source = 'preset'; // the results are the preset's until the config is fixed (typing adopts it)
    $('model-note').textContent = `Model: preset ${state.model} (the pasted config.json does not parse)`;
  }
  if (hubId) loadFromHub(hubId);
}

// ---- the skeleton tree: fetched when opened, children rendered on expand ---------------------------------------

let treeKey = null;
let treeGeneration = 0; // bumps whenever the tree shown changes model; an older listing is not drawn
function invalidateTree() {
  treeKey = null;
  ++treeGeneration;
  $('tree-count').textContent = lastParams ? `(${grouped(lastParams.tensors)} parameter tensors; buffers listed apart)` : '';
  if ($('tree-card').open) loadTree();
  else $('tree').replaceChildren();
}
// The skeleton comes from the solver (a heavy model's is megabytes of JSON): a loading line until it is in.
async function loadTree() {
  if (treeKey === lastModelKey) return;
  treeKey = lastModelKey;
  const gen = ++treeGeneration;
  const request = modelRequest();
  const tree = $('tree');
  tree.setAttribute('aria-busy', 'true');
  tree.dataset.loading = 'true';
  delete tree.dataset.tensors;
  tree.replaceChildren(el('li', { class: 'loading', text: 'loading the skeleton…' }));
  const top = await solver.tree(request, '');
  if (gen !== treeGeneration) return;
  tree.removeAttribute('aria-busy');
  delete tree.dataset.loading;
  if (!top || isError(top)) {
    treeKey = null;
    tree.replaceChildren();
    return;
  }
  renderTree(tree, top, (path) => solver.tree(request, path));
}

// ---- files: config.json as text, checkpoints from their header bytes ------------------------------------------

const maxConfigBytes = 16 << 20;
let fileGeneration = 0; // bumps on every drop / pick; an older, slower read is dropped when it ends

// A file problem: the message beside the file input (the File tab is brought forward to show it), and nothing
// left of an earlier file: its card, its headers and the weights taken from them.
function fileError(message, code = 'bad_request') {
  showFileError({ code, message, path: '' });
}
// The last file error and the newest input generation it is newer than (results of those inputs keep it shown).
let lastFileError = null;
function showFileError(err) {
  // The results without the old file's headers are recomputed (an input generation the error is newer than).
  forgetCheckpoint();
  lastFileError = { err, after: generation };
  selectSource('file');
  showError(err, 'file');
}
// Stops using the held checkpoint; the recompute's promise when the results used it, else null.
function forgetCheckpoint() {
  const used = heldCheckpoint && (state.source === 'config' || checkpointWeights);
  heldCheckpoint = null;
  checkpointWeights = false;
  $('checkpoint-weights').checked = false;
  $('inspect-card').hidden = true;
  return used ? recompute() : null;
}

// The model changed (another preset, an edited config): the checkpoint was verified against the one before, so
// its weights no longer stand for the model's until it is dropped again.
function checkpointModelChanged() {
  const box = $('checkpoint-weights');
  if (box.disabled && !checkpointWeights) return;
  checkpointWeights = false;
  box.checked = false;
  box.disabled = true;
  $('checkpoint-weights-note').textContent = 'verified against another model: drop the checkpoint again to use it';
}

async function handleFiles(fileList) {
  const files = [...(fileList ?? [])];
  if (!files.length) return;
  const gen = ++fileGeneration;
  const status = $('file-status');
  status.textContent = '';
  // Sorted by the core's rule for file names (the one the native program applies to a folder).
  const kinds = new Map(files.map((f) => [f, mp.classifyFile(f.name).kind]));
  const ofKind = (...wanted) => files.filter((f) => wanted.includes(kinds.get(f)));
  const checkpoints = ofKind('safetensors', 'gguf', 'gguf_split');
  const indexes = ofKind('safetensors_index');
  const configs = ofKind('json');
  const others = ofKind('other');
  if (!checkpoints.length && !indexes.length && !configs.length) {
    fileError(`${others.map((f) => f.name).join(', ')}: not a config.json, .safetensors, .safetensors.index.json or .gguf file`, 'unsupported');
    return;
  }
  const zone = $('drop-zone');
  zone.setAttribute('aria-busy', 'true');
  try {
    if (configs.length) {
      const f = configs[0];
      if (f.size > maxConfigBytes) {
        fileError(`${f.name} is ${grouped(f.size)} bytes; a config.json is a few KiB (at most ${grouped(maxConfigBytes)} bytes here)`);
        return;
      }
      const text = await f.text();
      if (gen !== fileGeneration) return;
      checkpointModelChanged();
      $('config-input').value = text;
      state.config = text;
      state.source = 'config';
      selectSource('config');
      recompute();
      status.textContent = `${f.name}: ${grouped(f.size)} bytes read as config.json`;
    }
    if (indexes.length && !checkpoints.length) {
      fileError(`${indexes[0].name}: drop the index together with its .safetensors shards`, 'unsupported');
      return;
    }
    if (checkpoints.length) await inspectCheckpoints(checkpoints, indexes[0], gen);
  } catch (e) {
    // A file that cannot be read (removed or changed on disk since it was picked, a permission error).
    if (gen === fileGeneration) {
      status.textContent = '';
      fileError(`could not read ${files.map((f) => f.name).join(', ')}: ${e?.message ?? e}`, 'io');
    }
  } finally {
    if (gen === fileGeneration) zone.removeAttribute('aria-busy');
  }
}

// The model a dropped checkpoint is verified against: the model last shown (a config being typed that does not
// parse yet is not used); nothing for a GGUF file (its own metadata), and nothing for a config whose model_type
// has no family table (the checkpoint is then what the model is read from).
function verifyRequest(first) {
  if (mp.classifyFile(first.name).format === 'gguf' || !lastModelKey) return {};
  if (state.source === 'config') {
    const config = modelRequest();
    delete config.checkpoint;
    delete config.checkpoint_weights;
    const p = mp.params(config);
    if (isError(p) && p.error.path === 'model_type') return {};
  }
  const request = JSON.parse(lastModelKey);
  delete request.checkpoint; // verified against the model itself, not the headers it may hold
  delete request.checkpoint_weights;
  return request;
}

async function inspectCheckpoints(files, index, gen) {
  const status = $('file-status');
  let read = 0;
  const ranges = [];
  const onRead = (begin, end) => { read += end - begin; ranges.push([begin, end]); };
  const request = verifyRequest(files[0]);
  let r;
  if (files.length === 1 && !index) {
    status.textContent = `reading the header of ${files[0].name}…`;
    r = await mp.inspectFile(files[0], request, { onRead });
  } else {
    status.textContent = `reading the headers of ${files.length + (index ? 1 : 0)} files…`;
    r = await mp.inspectFiles(index ? [index, ...files] : files, request, { onRead });
  }
  if (gen !== fileGeneration) return;
  if (isError(r)) {
    status.textContent = '';
    showFileError(r.error);
    return;
  }
  // The module now holds these headers: a config without a family table is read from them. A new checkpoint
  // starts with the model's own weights.
  if (checkpointWeights) lastModelKey = null;
  checkpointWeights = false;
  heldCheckpoint = r.path;
  selectSource('file');
  showError(null);
  if (state.source === 'config' || lastModelKey === null) {
    lastModelKey = null;
    recompute();
  }
  const all = index ? [index, ...files] : files;
  status.textContent = `${all.map((f) => f.name).join(', ')}: read ${grouped(read)} header bytes of ${all.length === 1
    ? grouped(files[0].size) : `${all.length} files`}`;
  $('inspect-card').hidden = false;
  $('inspect-card').dataset.ranges = JSON.stringify(ranges);
  $('inspect-format').textContent = r.format;
  $('inspect-tensors').textContent = grouped(r.tensors.length);
  setCount($('inspect-total'), r.params.total);
  setBytes($('inspect-bytes'), r.bytes);
  $('inspect-read').textContent = `${grouped(read)} bytes`;
  $('inspect-read').dataset.value = String(read);
  const v = r.verify;
  $('inspect-verify').textContent = !v ? 'no model to verify against'
    : v.ok ? `matches ${r.model?.name ?? 'the model'}: ${grouped(v.matched)} tensors`
      : `differs from ${r.model?.name ?? 'the model'}: ${v.missing.length} missing, ${v.unexpected.length} unexpected, ${v.mismatched.length} mismatched`;
  $('inspect-verify').dataset.ok = v ? String(v.ok) : '';
  renderVerifyDetails(v);
  // Its weights can stand for the model's when the model was verified against it and none of the model's
  // tensors is missing or in another shape; a model read from the headers has them already.
  const fromHeaders = !v && state.source === 'config' && lastParams?.source === 'checkpoint headers';
  const box = $('checkpoint-weights');
  box.checked = false;
  box.disabled = !v || !Object.keys(request).length || v.missing.length > 0 || v.mismatched.length > 0;
  $('checkpoint-weights-row').hidden = fromHeaders;
  $('checkpoint-weights-note').textContent = !v || !Object.keys(request).length ? 'not verified against the model shown'
    : box.disabled ? `not ${r.model?.name ?? 'the model'}'s weights: tensors missing or in another shape`
      : `the plan's weights item becomes the ${gib(r.bytes)} these headers give the tensors, instead of the config's dtype`;
  showModelNote();
  $('inspect-dtypes').tBodies[0].replaceChildren(...Object.entries(r.params.by_dtype).map(([dt, n]) =>
    el('tr', {}, el('th', { text: dt }), el('td', { class: 'num', text: grouped(n) }))));
  $('inspect-warnings').replaceChildren(...r.warnings.map((w) => el('li', { text: w })));
}

// What differs between the checkpoint and the model, by name: collapsed, at most `shown` lines per kind.
function renderVerifyDetails(v) {
  const details = $('inspect-diff');
  const problems = v ? v.missing.length + v.mismatched.length + v.unexpected.length + v.dtype_differences.length : 0;
  details.hidden = problems === 0;
  details.open = false;
  if (!problems) return $('inspect-diff-list').replaceChildren();
  const shown = 20;
  const dims = (shape) => (shape ? `[${shape.join(', ')}]` : '(element count only)');
  const kinds = [
    ['missing', 'missing from the checkpoint', v.missing, (t) => `${dims(t.shape)} ${t.dtype}`],
    ['mismatched', 'in another shape', v.mismatched, (t) => `expected ${dims(t.expected)}, found ${dims(t.actual)}`],
    ['unexpected', 'not in the model', v.unexpected, (t) => `${dims(t.shape)} ${t.dtype}${t.file ? ` in ${t.file}` : ''}`],
    ['dtype', 'in another dtype (cast on load)', v.dtype_differences, (t) => `expected ${t.expected}, found ${t.actual}`],
  ];
  $('inspect-diff-summary').textContent = `Which tensors differ (${grouped(problems)})`;
  $('inspect-diff-list').replaceChildren(...kinds.filter(([, , list]) => list.length).map(([kind, title, list, text]) =>
    el('li', { dataKind: kind, dataCount: String(list.length) }, el('strong', { text: `${grouped(list.length)} ${title}` }),
      el('ul', {}, ...list.slice(0, shown).map((t) => el('li', { dataName: t.name },
        el('code', { text: t.name }), ` ${text(t)}${t.stored && t.stored !== t.name ? ` (stored as ${t.stored})` : ''}`)),
      ...(list.length > shown ? [el('li', { class: 'more', text: `and ${grouped(list.length - shown)} more` })] : [])))));
}

// ---- controls ---------------------------------------------------------------------------------------------------

let presets = [];
// The preset list is one listbox, one Tab stop: the arrow keys move the active option (aria-activedescendant),
// Enter or Space chooses it (docs/web.md, "Keyboard, screen reader, phone").
let activePreset = null;
function renderPresetList() {
  const words = $('preset-search').value.toLowerCase().split(/\s+/).filter(Boolean);
  const list = $('preset-list');
  const shown = presets.filter((p) => {
    const hay = `${p.name} ${p.repo} ${p.model_type ?? ''} ${p.architecture ?? ''} ${(p.kinds ?? []).join(' ')}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
  list.replaceChildren(...shown.map((p) => el('li', {
    role: 'option', id: `preset-option-${p.name}`, dataName: p.name, dataTestid: 'preset-option',
    ariaSelected: String(state.source === 'preset' && p.name === state.model),
    class: state.source === 'preset' && p.name === state.model ? 'selected' : '',
  }, el('span', { class: 'name', text: p.name }), ' ',
  el('small', { text: [p.repo, p.params ? shortCount(p.params) : p.error, ...(p.kinds ?? [])].join(' · ') }))));
  // The active option stays if it is still shown, else the chosen preset, else the first match.
  const names = shown.map((p) => p.name);
  setActivePreset(names.includes(activePreset) ? activePreset
    : state.source === 'preset' && names.includes(state.model) ? state.model : names[0] ?? null, false);
}

function setActivePreset(name, scroll = true) {
  const list = $('preset-list');
  activePreset = name;
  list.querySelector('li.active')?.classList.remove('active');
  const li = name === null ? null : list.querySelector(`li[data-name="${CSS.escape(name)}"]`);
  if (!li) {
    list.removeAttribute('aria-activedescendant');
    return;
  }
  li.classList.add('active');
  list.setAttribute('aria-activedescendant', li.id);
  if (scroll) li.scrollIntoView({ block: 'nearest' });
}

// Up / Down, Home / End, Page Up / Page Down move the active option; Up from the first goes back to the search.
function presetListKey(e) {
  const options = [...$('preset-list').querySelectorAll('li[data-name]')];
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    if (activePreset !== null) selectPreset(activePreset);
    return;
  }
  const at = options.findIndex((li) => li.dataset.name === activePreset);
  const last = options.length - 1;
  const to = { ArrowDown: Math.min(at + 1, last), ArrowUp: at - 1, Home: 0, End: last,
    PageDown: Math.min(at + 10, last), PageUp: Math.max(at - 10, 0) }[e.key];
  if (to === undefined || !options.length) return;
  e.preventDefault();
  if (to < 0) $('preset-search').focus();
  else setActivePreset(options[to].dataset.name);
}

function selectPreset(name) {
  if (name !== state.model || state.source !== 'preset') checkpointModelChanged();
  state.model = name;
  selectSource('preset');
  renderPresetList();
  recompute();
}

function selectSource(source) {
  // The model follows the tab, except to an empty config box (the preset stays until something is typed).
  if (source === 'preset' || (source === 'config' && state.config.trim() !== '') || (source === 'hub' && hubModel))
    state.source = source;
  const tabSource = source === 'hub' ? 'preset' : source; // a Hub id is entered under the Preset tab
  for (const tab of document.querySelectorAll('.source-tabs [role=tab]')) {
    tab.setAttribute('aria-selected', String(tab.dataset.source === tabSource));
    tab.tabIndex = tab.dataset.source === tabSource ? 0 : -1; // one Tab stop; the arrow keys move between tabs
  }
  for (const panel of document.querySelectorAll('.source')) panel.hidden = panel.dataset.source !== tabSource;
  showModelNote();
}

// Which model the results are about: the preset, the pasted config.json by the name it gives itself, or a Hub id.
function showModelNote() {
  if (state.source === 'hub') {
    $('model-note').textContent = `Model: ${state.hub} from the Hub (${hubModel?.reader.endpoint})`;
    return;
  }
  const weights = heldCheckpoint && checkpointWeights ? `, weights as stored in ${heldCheckpoint}` : '';
  $('model-note').textContent = state.source !== 'config' ? `Model: preset ${state.model}${weights}`
    : `Model: ${configName(state.config)} (the pasted config.json${heldCheckpoint && lastParams?.source === 'checkpoint headers'
      ? `, with the headers of ${heldCheckpoint}` : ''})${weights}`;
}

// ---- a Hugging Face id, read from the Hub by the browser (docs/hub.md, "On the page") ---------------------------

// The model read from the Hub: {id, config (text or null), checkpoint (the label of its headers, which the module
// holds) or null, reader (what was fetched)}. Not in the URL: the link carries the id and the endpoint only.
let hubModel = null;
let hubGeneration = 0;

function hubRequest() {
  const r = hubModel.config !== null ? { config: hubModel.config, name: state.hub } : {};
  if (hubModel.checkpoint) r.checkpoint = hubModel.checkpoint;
  if (state.dtype) r.dtype = state.dtype;
  return r;
}

// The checkpoint among a repository's top-level files: an index with its shards, the safetensors files, or its
// one GGUF file.
function hubCheckpointFiles(names) {
  const kinds = names.map((n) => [n, mp.classifyFile(n)]);
  const index = kinds.find(([, k]) => k.kind === 'safetensors_index')?.[0];
  const safetensors = kinds.filter(([, k]) => k.kind === 'safetensors').map(([n]) => n);
  if (safetensors.length) return { index, files: safetensors };
  const gguf = kinds.filter(([, k]) => k.format === 'gguf').map(([n]) => n);
  if (gguf.length === 1) return { index: undefined, files: gguf };
  if (gguf.length > 1)
    throw new Error(`the repository holds ${gguf.length} GGUF files (${gguf.slice(0, 4).join(', ')}${gguf.length > 4 ? ', …' : ''}): download the one you want and drop it on the File tab`);
  return null;
}

async function loadFromHub(text) {
  const status = $('hub-status');
  const id = parseHubId(text);
  if (!id) {
    showError({ code: 'bad_request', message: `${JSON.stringify(String(text).slice(0, 100))} is not a Hugging Face id: expected org/name or org/name@revision`, path: 'hub' });
    return;
  }
  // A bundled preset's repository (the same repository at main): answered offline, as the native program does.
  const preset = id.revision === 'main' && presets.find((p) => p.repo && p.repo.toLowerCase() === id.repo.toLowerCase());
  if (preset) {
    status.textContent = `${id.repo} is the bundled preset ${preset.name}: nothing fetched`;
    selectPreset(preset.name);
    return;
  }
  const gen = ++hubGeneration;
  const reader = new HubReader(state.hub_endpoint, $('hub-token').value);
  status.textContent = `fetching the file list of ${id.repo} from ${reader.endpoint}…`;
  try {
    const names = (await reader.listing(id)).filter((n) => !n.includes('/'));
    const config = names.includes('config.json') ? await reader.text(id, 'config.json', maxConfigBytes) : null;
    // The checkpoint's headers only when the config names no family modelplan models (or there is none).
    let checkpoint = null;
    const p = config !== null ? mp.params({ config, name: text }) : null;
    if (config === null || (isError(p) && p.error.path === 'model_type')) {
      const chosen = hubCheckpointFiles(names);
      if (!chosen) throw new Error(`${id.repo}: the repository holds no config.json with a known model_type and no checkpoint (.safetensors or .gguf files)`);
      status.textContent = `reading the headers of ${chosen.files.length + (chosen.index ? 1 : 0)} files from ${reader.endpoint}…`;
      const all = chosen.index ? [chosen.index, ...chosen.files] : chosen.files;
      const remote = [];
      for (const n of all) remote.push(await reader.remoteFile(id, n));
      const r = remote.length === 1 ? await mp.inspectFile(remote[0], {}) : await mp.inspectFiles(remote, {});
      if (isError(r)) throw Object.assign(new Error(r.error.message), { code: r.error.code });
      checkpoint = r.path;
      heldCheckpoint = null; // the module now holds the Hub's headers, not a dropped file's
    } else if (isError(p)) {
      throw Object.assign(new Error(`${id.repo} config.json: ${p.error.message}`), { code: p.error.code });
    }
    if (gen !== hubGeneration) return;
    hubModel = { id, config, checkpoint, reader };
    state.hub = `${id.repo}${id.revisionGiven ? `@${id.revision}` : ''}`;
    selectSource('hub');
    lastModelKey = null;
    renderPresetList();
    recompute();
    const what = reader.requests.map((q) => q.url.slice(reader.endpoint.length) + (q.range ? ` [${q.range[0]}-${q.range[1]}]` : ''));
    status.textContent = `fetched ${grouped(reader.fetched)} bytes from ${reader.endpoint} in ${reader.requests.length} requests (the file list, config.json and checkpoint headers only)`;
    status.title = what.join('\n');
    status.dataset.fetched = String(reader.fetched);
  } catch (e) {
    if (gen !== hubGeneration) return;
    status.textContent = '';
    showError({ code: e.code ?? 'io', message: e.message, path: 'hub' });
  }
}

function applyStateToControls() {
  for (const key of workloadKeys) {
    const input = $(key);
    // A select keeps a value from a link that is not among its choices (the core judges it; recoverUrlState).
    if (key === 'gpu' && state.gpu.startsWith('custom:')) {
      input.value = 'custom';
      continue;
    }
    if (input.tagName === 'SELECT' && state[key] && ![...input.options].some((o) => o.value === state[key]))
      input.append(el('option', { value: state[key], text: state[key] }));
    input.value = state[key];
  }
  showCustomGpu(state.gpu);
  $('config-input').value = state.config;
  document.body.dataset.mode = state.mode;
  selectSource(state.source);
}

// The theme button's choice, remembered where storage is allowed (a locked-down browser throws on access).
function storedTheme(next) {
  try {
    if (next) localStorage.setItem('modelplan-theme', next);
    return localStorage.getItem('modelplan-theme');
  } catch {
    return next ?? null;
  }
}

function applyTheme(theme) {
  if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

async function main() {
  applyTheme(storedTheme());
  // The worker loads its own module while this one loads.
  const modelplan = loadModelplan();
  solver = await Solver.start(modelplan, new URL('./worker.js', import.meta.url));
  mp = await modelplan;
  document.body.dataset.solver = solver.where;
  // The Serve view: the model and GPUs shown, with the engine's knobs (computed while the view is open).
  serveView = new ServeView($('serve-card'), (request) => solver.call('serve', request, null, 'serve'), () => {
    if (!lastModelKey) return null;
    const r = modelRequest();
    r.gpu = state.gpu;
    const count = state.gpus.trim();
    if (/^[0-9]+$/.test(count)) r.gpus = Number(count);
    return r;
  }, () => writeUrl());
  serveView.restore(serveUrlEntries);
  window.__modelplan = { mp, solver, state, timings, recompute }; // test and benchmark hook
  const ps = mp.presets();
  presets = ps.presets;
  defaults.model = ps.default;
  // By memory, smallest first: the GPU menu and the catalog list read in the same order.
  gpuCatalog = mp.gpus().gpus.sort((a, b) => a.memory_bytes - b.memory_bytes || a.key.localeCompare(b.key));
  $('gpu').append(...gpuCatalog.map((g) => el('option', { value: g.key, text: shortGpuName(g), title: g.name })),
    el('option', { value: 'custom', text: 'Your own GPU…' }));
  $('version').textContent = `modelplan ${mp.version()}`;
  // The inputs (from the URL, checked by loadFromUrl) are put into the controls at the end of main().

  $('preset-search').addEventListener('input', renderPresetList);
  $('preset-list').addEventListener('click', (e) => {
    const li = e.target.closest('li[data-name]');
    if (!li) return;
    setActivePreset(li.dataset.name, false);
    selectPreset(li.dataset.name);
  });
  $('preset-list').addEventListener('keydown', presetListKey);
  $('preset-list').addEventListener('focus', () => { if (activePreset !== null) setActivePreset(activePreset); });
  $('preset-search').addEventListener('keydown', (e) => {
    const first = $('preset-list').querySelector('li[data-name]');
    if (!first) return;
    if (e.key === 'Enter') selectPreset(first.dataset.name);
    if (e.key === 'ArrowDown') { // into the list, on the first match
      e.preventDefault();
      setActivePreset(first.dataset.name);
      $('preset-list').focus();
    }
  });
  // The source tabs: Left / Right (Home / End) move to a tab and open it (the ARIA tabs pattern).
  document.querySelector('.source-tabs').addEventListener('keydown', (e) => {
    const tabs = [...document.querySelectorAll('.source-tabs [role=tab]')];
    const at = tabs.indexOf(document.activeElement);
    const to = { ArrowRight: (at + 1) % tabs.length, ArrowLeft: (at + tabs.length - 1) % tabs.length, Home: 0,
      End: tabs.length - 1 }[e.key];
    if (at < 0 || to === undefined) return;
    e.preventDefault();
    tabs[to].focus();
    tabs[to].click();
  });
  for (const tab of document.querySelectorAll('.source-tabs [role=tab]')) {
    tab.addEventListener('click', () => {
      selectSource(tab.dataset.source);
      if (tab.dataset.source !== 'file') recompute();
    });
  }
  $('hub-fetch').addEventListener('click', () => loadFromHub($('hub-id').value));
  $('hub-id').addEventListener('keydown', (e) => { if (e.key === 'Enter') loadFromHub($('hub-id').value); });
  $('hub-endpoint').addEventListener('input', () => { state.hub_endpoint = $('hub-endpoint').value.trim(); });
  $('config-input').addEventListener('input', () => {
    checkpointModelChanged();
    state.config = $('config-input').value;
    state.source = 'config';
    recompute();
  });
  for (const key of workloadKeys) {
    $(key).addEventListener('input', () => {
      state[key] = key === 'gpu' && $(key).value === 'custom' ? customGpuText() : $(key).value;
      if (key === 'gpu') $('custom-gpu').hidden = $(key).value !== 'custom';
      document.body.dataset.mode = state.mode;
      recompute();
    });
  }
  for (const id of ['custom-mem', 'custom-bw', 'custom-tflops']) {
    $(id).addEventListener('input', () => {
      state.gpu = customGpuText();
      recompute();
    });
  }
  $('file-input').addEventListener('change', (e) => handleFiles(e.target.files));
  $('checkpoint-weights').addEventListener('change', () => {
    checkpointWeights = $('checkpoint-weights').checked;
    showModelNote();
    recompute();
  });
  const zone = $('drop-zone');
  for (const type of ['dragenter', 'dragover']) zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    handleFiles(e.dataTransfer.files);
  });
  // Dropping anywhere on the page works too, and never navigates away.
  // Only files: dragging text (e.g. into the config box) keeps the browser's own behaviour.
  const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');
  document.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
  document.addEventListener('drop', (e) => {
    if (e.defaultPrevented || !hasFiles(e)) return;
    e.preventDefault();
    handleFiles(e.dataTransfer.files);
  });
  $('tree-card').addEventListener('toggle', () => { if ($('tree-card').open) loadTree(); });
  $('share').addEventListener('click', async () => {
    writeUrl();
    try {
      await navigator.clipboard.writeText(location.href);
      $('share').textContent = 'Link copied';
    } catch {
      $('share').textContent = 'Copy the address bar';
    }
    setTimeout(() => { $('share').textContent = 'Copy share link'; }, 2000);
  });
  $('theme').addEventListener('click', () => {
    const dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === 'dark'
      : matchMedia('(prefers-color-scheme: dark)').matches;
    const next = dark ? 'light' : 'dark';
    storedTheme(next);
    applyTheme(next);
  });
  $('place-download').addEventListener('click', () => {
    const text = $('place-card').dataset.map;
    if (!text) return;
    const a = el('a', { href: URL.createObjectURL(new Blob([text], { type: 'application/json' })), download: 'device_map.json' });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  });
  window.addEventListener('hashchange', () => {
    if (location.hash.slice(1) === lastWrittenHash) return; // our own writeUrl()
    loadFromUrl();
  });

  $('loading').hidden = true;
  $('app').hidden = false;
  await loadFromUrl();
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  $('loading').textContent = `Could not start: ${e?.message ?? e}`;
  $('loading').classList.add('error');
});
