// The Serve view: what an inference engine (vLLM, SGLang, llama.cpp, transformers) will do with the model on the GPUs chosen
// above, as `modelplan serve` answers it (docs/serving.md): per GPU the engine's own start-up figures as a bar,
// the KV tokens and concurrency, the lines the engine will log, the command to paste, and two plots of one GPU's
// memory against the context length and against the number of requests, with the memory the engine may use as
// a line. The figures are the core's; the plots draw the core's per-token KV bytes as straight lines (exact for
// full attention; a sliding-window layer stops growing at its window, so there they overstate).

const engines = {
  vllm: {
    name: 'vLLM 0.19',
    knobs: [
      ['tensor_parallel_size', 'Tensor parallel size', '1'],
      ['gpu_memory_utilization', 'GPU memory utilization', '0.9'],
      ['max_model_len', 'Max model length', 'the config\'s'],
      ['kv_cache_dtype', 'KV cache dtype', 'auto'],
    ],
  },
  sglang: {
    name: 'SGLang',
    knobs: [
      ['tp_size', 'TP size', '1'],
      ['mem_fraction_static', 'Mem fraction static', 'SGLang\'s rule'],
      ['context_length', 'Context length', 'the config\'s'],
      ['kv_cache_dtype', 'KV cache dtype', 'auto'],
    ],
  },
  'llama.cpp': {
    name: 'llama.cpp (llama-server)',
    knobs: [
      ['n_gpu_layers', 'GPU layers (-ngl)', 'all'],
      ['ctx_size', 'Context (-c)', 'the model\'s'],
      ['parallel', 'Slots (-np)', 'auto: 4 shared'],
      ['cache_type_k', 'K cache type (-ctk)', 'f16'],
      ['cache_type_v', 'V cache type (-ctv)', 'f16'],
      ['quant', 'GGUF type (--quant)', 'the model\'s'],
      ['override_tensor', 'Tensor overrides (-ot)', 'e.g. exps=CPU'],
    ],
  },
  transformers: {
    name: 'transformers (from_pretrained)',
    knobs: [
      ['device_map', 'device_map', 'auto'],
      ['batch_size', 'Batch size', '1'],
      ['max_length', 'Max length', 'the model\'s default'],
      ['max_memory', 'max_memory per GPU', 'the placement\'s'],
      ['cpu_memory', 'CPU memory', 'none'],
    ],
  },
};

// The bar's items per engine: [JSON field of a rank, label, colour class].
const items = {
  vllm: [['weights_bytes', 'weights', 'weights'], ['non_torch_bytes', 'non-torch', 'overhead'],
    ['activation_peak_bytes', 'activation peak', 'activations'], ['kv_cache_bytes', 'KV cache', 'kv_cache']],
  sglang: [['non_torch_bytes', 'CUDA context', 'overhead'], ['weights_bytes', 'weights', 'weights'],
    ['kv_cache_bytes', 'KV pool', 'kv_cache']],
  'llama.cpp': [['non_torch_bytes', 'CUDA context', 'overhead'], ['weights_bytes', 'model buffer', 'weights'],
    ['activation_peak_bytes', 'compute buffer', 'activations'], ['kv_cache_bytes', 'KV buffer', 'kv_cache']],
  transformers: [['non_torch_bytes', 'overhead', 'overhead'], ['weights_bytes', 'weights', 'weights'],
    ['activation_peak_bytes', 'activations and logits', 'activations'], ['kv_cache_bytes', 'KV cache', 'kv_cache']],
};

const svgNs = 'http://www.w3.org/2000/svg';
const gibText = (b) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const grouped = (n) => Math.round(n).toLocaleString('en-US');

function svg(tag, attrs = {}, text = '') {
  const n = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text) n.textContent = text;
  return n;
}

// One GPU's memory against x: y = fixed + slope x, with the capacity as a horizontal line; the crossing marked.
// Returns the crossing (the largest x that fits), or null when the line never reaches the capacity.
function plot(box, { fixed, slope, capacity, xMax, xLabel, what }) {
  box.replaceChildren();
  const w = 360, h = 180, left = 48, bottom = 28, top = 10, right = 10;
  const crossing = slope > 0 ? Math.floor((capacity - fixed) / slope) : null;
  const xEnd = Math.max(1, xMax);
  const yMax = Math.max(capacity, fixed + slope * xEnd) * 1.1 || 1;
  const X = (x) => left + (x / xEnd) * (w - left - right);
  const Y = (y) => h - bottom - (y / yMax) * (h - bottom - top);
  const s = svg('svg', { viewBox: `0 0 ${w} ${h}`, role: 'img', class: 'serve-plot' });
  const fits = crossing === null || crossing >= xEnd ? `fits up to ${grouped(xEnd)} ${xLabel}`
    : crossing < 0 ? `does not fit at all` : `fits up to ${grouped(crossing)} ${xLabel}`;
  s.setAttribute('aria-label', `${what}: one GPU's memory against ${xLabel}; the usable memory is ${gibText(capacity)}; ${fits}`);
  s.append(svg('line', { x1: left, y1: h - bottom, x2: w - right, y2: h - bottom, class: 'axis' }));
  s.append(svg('line', { x1: left, y1: top, x2: left, y2: h - bottom, class: 'axis' }));
  s.append(svg('line', { x1: left, y1: Y(capacity), x2: w - right, y2: Y(capacity), class: 'serve-capacity',
    'data-testid': 'serve-capacity' }));
  s.append(svg('text', { x: w - right, y: Y(capacity) - 4, 'text-anchor': 'end', class: 'label' }, `usable ${gibText(capacity)}`));
  s.append(svg('line', { x1: X(0), y1: Y(fixed), x2: X(xEnd), y2: Y(fixed + slope * xEnd), class: 'need',
    'data-testid': 'serve-need' }));
  if (crossing !== null && crossing >= 0 && crossing < xEnd) {
    s.append(svg('line', { x1: X(crossing), y1: top, x2: X(crossing), y2: h - bottom, class: 'crossing' }));
    s.append(svg('text', { x: X(crossing) + 3, y: top + 10, class: 'label' }, grouped(crossing)));
  }
  s.append(svg('text', { x: left, y: h - 8, class: 'label' }, '0'));
  s.append(svg('text', { x: w - right, y: h - 8, 'text-anchor': 'end', class: 'label' }, `${grouped(xEnd)} ${xLabel}`));
  s.append(svg('text', { x: 2, y: top + 8, class: 'label' }, gibText(yMax)));
  box.append(s);
  box.dataset.crossing = crossing === null ? '' : String(crossing);
  return crossing;
}

export class ServeView {
  #call;
  #request;
  #card;
  #gen = 0;
  #engine = 'vllm';
  #values = {};
  #target = ''; // requests at once to plan for: the inverse questions (search)

  /**
   * @param {HTMLElement} card the <details> element of the view (index.html's #serve-card)
   * @param {(request: object) => Promise<object>} call runs a serve() request (the page's solver)
   * @param {() => object|null} request the model and GPU keys of the request for the inputs shown
   */
  #changed;

  constructor(card, call, request, changed = () => {}) {
    this.#card = card;
    this.#call = call;
    this.#request = request;
    this.#changed = changed;
    const engine = card.querySelector('#serve-engine');
    engine.addEventListener('change', () => {
      this.#engine = engine.value;
      this.#values = {};
      this.#renderKnobs();
      this.#changed();
      this.refresh();
    });
    card.addEventListener('toggle', () => {
      this.#changed();
      this.refresh();
    });
    card.querySelector('#serve-target').addEventListener('input', () => {
      this.#target = card.querySelector('#serve-target').value.trim();
      this.#changed();
      this.refresh();
    });
    card.querySelector('#serve-copy').addEventListener('click', async () => {
      const text = card.querySelector('#serve-command').textContent;
      const note = card.querySelector('#serve-copied');
      try {
        await navigator.clipboard.writeText(text);
        note.textContent = 'copied';
      } catch {
        // No clipboard access (an insecure origin, a denied permission): select the text for a manual copy.
        const range = document.createRange();
        range.selectNodeContents(card.querySelector('#serve-command'));
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        note.textContent = 'selected: press Ctrl+C';
      }
    });
    this.#renderKnobs();
  }

  #renderKnobs() {
    const box = this.#card.querySelector('#serve-knobs');
    box.replaceChildren();
    for (const [field, label, placeholder] of engines[this.#engine].knobs) {
      const l = document.createElement('label');
      const input = document.createElement('input');
      input.id = `serve-${field}`;
      input.dataset.testid = `serve-${field}`;
      input.placeholder = placeholder;
      input.value = this.#values[field] ?? '';
      input.addEventListener('input', () => {
        this.#values[field] = input.value.trim();
        this.#changed();
        this.refresh();
      });
      l.append(`${label} `, input);
      box.append(l);
    }
  }

  /** The view's inputs as link entries: serve.open, serve.engine (when not vLLM), serve.<knob>. */
  urlEntries() {
    const out = [];
    if (this.#card.open) out.push(['serve.open', '1']);
    if (this.#engine !== 'vllm') out.push(['serve.engine', this.#engine]);
    if (this.#target !== '') out.push(['serve.target', this.#target]);
    for (const [k, v] of Object.entries(this.#values)) if (v !== '') out.push([`serve.${k}`, v]);
    return out;
  }

  /** Restores the inputs from link entries (unknown knobs and engines are left to the core to judge). */
  restore(entries) {
    const map = new Map(entries);
    const engine = map.get('serve.engine') ?? 'vllm';
    this.#engine = engines[engine] ? engine : 'vllm';
    this.#card.querySelector('#serve-engine').value = this.#engine;
    this.#values = {};
    this.#target = map.get('serve.target') ?? '';
    this.#card.querySelector('#serve-target').value = this.#target;
    for (const [field] of engines[this.#engine].knobs)
      if (map.has(`serve.${field}`)) this.#values[field] = map.get(`serve.${field}`);
    this.#renderKnobs();
    const open = map.get('serve.open') === '1';
    if (this.#card.open !== open) this.#card.open = open; // the toggle event recomputes
    else this.refresh();
  }

  /** Recomputes when the view is open (the model, the GPU or a knob changed). */
  async refresh() {
    if (!this.#card.open) return;
    const base = this.#request();
    if (!base) return;
    const knobs = {};
    for (const [k, v] of Object.entries(this.#values)) if (v !== '') knobs[k] = v;
    const request = { ...base, engine: this.#engine, knobs };
    if (this.#target !== '') request.search = { target_concurrency: Number(this.#target) };
    const gen = ++this.#gen;
    this.#card.setAttribute('aria-busy', 'true');
    const r = await this.#call(request);
    if (gen !== this.#gen) return;
    this.#card.removeAttribute('aria-busy');
    this.#render(r);
  }

  #render(r) {
    const c = this.#card;
    const error = c.querySelector('#serve-error');
    const out = c.querySelector('#serve-result');
    if (!r || r.error && typeof r.error === 'object') {
      error.hidden = false;
      error.textContent = r ? `${r.error.code}: ${r.error.message}${r.error.path ? ` (at ${r.error.path})` : ''}` : 'no answer';
      out.dataset.stale = 'true';
      return;
    }
    error.hidden = true;
    out.dataset.stale = 'false';
    const engine = engines[r.engine]?.name ?? r.engine;
    const verdict = c.querySelector('#serve-verdict');
    verdict.textContent = r.starts ? `${engine} starts` : `${engine} does not start: ${r.error}`;
    verdict.dataset.starts = String(r.starts);
    c.querySelector('#serve-fixes').replaceChildren(...r.fixes.map((f) => {
      const li = document.createElement('li');
      li.textContent = f;
      return li;
    }));
    const unit = r.engine === 'llama.cpp' ? 'cells' : 'tokens';
    const figures = [
      ['KV cache', `${grouped(r.kv_tokens)} ${unit}`],
      ['Requests at full length at once', r.max_concurrency.toFixed(2)],
      ['KV per token, one GPU', `${grouped(r.kv_bytes_per_token)} bytes`],
    ];
    c.querySelector('#serve-figures').replaceChildren(...figures.map(([dt, dd]) => {
      const div = document.createElement('div');
      const t = document.createElement('dt');
      t.textContent = dt;
      const d = document.createElement('dd');
      d.textContent = dd;
      div.append(t, d);
      return div;
    }));
    c.querySelector('#serve-kv-tokens').textContent = String(r.kv_tokens);
    // The inverse questions, when a target was given: each answer is a plan the core made with it.
    const search = c.querySelector('#serve-search');
    search.hidden = !r.search;
    if (r.search) {
      const n = r.search.target_concurrency;
      const layout = r.search.smallest_layout;
      const longest = r.search.longest_context;
      search.textContent = [
        layout?.found ? `${n} requests fit with ${layout.flags} (${layout.gpus} GPU${layout.gpus > 1 ? 's' : ''}): ${layout.concurrency.toFixed(2)}x`
          : `${n} requests fit on no layout up to 64 GPUs`,
        longest?.context ? `on these GPUs, ${n} requests fit up to ${longest.flag} ${grouped(longest.context)}`
          : `on these GPUs, ${n} requests do not fit at any length`,
      ].join('; ');
      search.dataset.gpus = String(layout?.found ? layout.gpus : 0);
      search.dataset.context = String(longest?.context ?? 0);
    }
    // The per-GPU bars: the engine's items, against the GPU's total.
    const bars = c.querySelector('#serve-bars');
    bars.replaceChildren(...r.ranks.map((rank) => {
      const row = document.createElement('div');
      row.className = 'bar-row';
      row.dataset.rank = rank.name;
      const label = document.createElement('span');
      label.className = 'bar-label';
      label.textContent = `${rank.name} · ${gibText(rank.total_bytes)}`;
      const bar = document.createElement('div');
      bar.className = 'bar-track';
      for (const [field, name, colour] of items[r.engine] ?? items.vllm) {
        const bytes = Math.max(0, rank[field]);
        if (!bytes) continue;
        const seg = document.createElement('span');
        seg.className = `seg item-${colour}`;
        seg.style.width = `${Math.min(100, (100 * bytes) / rank.total_bytes)}%`;
        seg.title = `${name}: ${gibText(bytes)}`;
        seg.dataset.item = field;
        seg.dataset.bytes = String(bytes);
        bar.append(seg);
      }
      const legend = document.createElement('span');
      legend.className = 'bar-value';
      legend.textContent = (items[r.engine] ?? items.vllm).map(([f, name]) => `${name} ${gibText(Math.max(0, rank[f]))}`).join(' · ');
      row.append(label, bar, legend);
      return row;
    }));
    c.querySelector('#serve-log').textContent = r.log_lines.join('\n');
    c.querySelector('#serve-command').textContent = r.command;
    c.querySelector('#serve-copied').textContent = '';
    c.querySelector('#serve-notes').replaceChildren(...r.notes.map((n) => {
      const li = document.createElement('li');
      li.textContent = n;
      return li;
    }));
    this.#plots(r);
  }

  // One GPU (the first rank): what stays, what grows per token, and what the engine may use.
  #plots(r) {
    const rank = r.ranks[0];
    const c = this.#card;
    if (!rank) return;
    let fixed, capacity, perToken;
    if (r.engine === 'vllm') {
      fixed = rank.weights_bytes + rank.non_torch_bytes + rank.activation_peak_bytes;
      capacity = rank.requested_bytes;
      perToken = r.kv_bytes_per_token;
    } else if (r.engine === 'sglang') {
      fixed = rank.weights_bytes;
      capacity = rank.requested_bytes;
      perToken = r.kv_bytes_per_token;
    } else if (r.engine === 'transformers') {
      fixed = rank.weights_bytes + rank.activation_peak_bytes + rank.non_torch_bytes;
      capacity = rank.total_bytes;
      perToken = r.kv_tokens ? Math.max(0, rank.kv_cache_bytes) / r.kv_tokens : r.kv_bytes_per_token;
    } else {
      fixed = rank.weights_bytes + rank.activation_peak_bytes + rank.non_torch_bytes;
      capacity = rank.total_bytes;
      perToken = r.knobs.ctx_size ? Math.max(0, rank.kv_cache_bytes) / r.knobs.ctx_size : r.kv_bytes_per_token;
    }
    const len = r.knobs.max_model_len ?? r.knobs.context_length ?? r.knobs.n_ctx_seq ?? r.knobs.max_length ?? 0;
    plot(c.querySelector('#serve-plot-context'), { fixed, slope: perToken, capacity,
      xMax: Math.max(len, 1024), xLabel: 'tokens of context', what: 'One request' });
    const conc = Math.max(2, Math.ceil(Math.max(1, r.max_concurrency) * 1.5));
    plot(c.querySelector('#serve-plot-requests'), { fixed, slope: perToken * Math.max(1, len), capacity,
      xMax: conc, xLabel: `requests of ${grouped(len)} tokens`, what: 'Requests at full length' });
  }
}
