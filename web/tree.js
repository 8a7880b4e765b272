// The skeleton as a collapsible module tree. The core's skeleton JSON lists every tensor (DeepSeek-V3: tens of
// thousands); the tree of dotted names is indexed once, and a module's children are only turned into DOM
// nodes when it is expanded, so opening the tree costs the top level alone. Each module shows its parameter tensors
// and buffers apart, and the sum of its parameters' elements and bytes (each tensor's from the core's skeleton).
//
// Indexing and listing are plain data (no DOM), so they run in the page's Web Worker too (worker.js): the worker
// keeps the index and answers one module's listing at a time; renderTree() draws listings, wherever they come from.

function module(name) {
  return { name, modules: new Map(), leaves: [], tensors: 0, buffers: 0, params: 0, bytes: 0 };
}
const tally = (node, t, kind) => {
  if (kind === 'buffer') {
    node.buffers++;
    return;
  }
  node.tensors++;
  node.params += t.elements;
  node.bytes += t.bytes;
};

/** Indexes `skeleton` (the core's skeleton JSON) by its dotted names: {root, aliases, tensors}. */
export function indexSkeleton(skeleton) {
  const root = module('');
  const add = (t, kind) => {
    const parts = t.name.split('.');
    let node = root;
    tally(node, t, kind);
    for (let i = 0; i < parts.length - 1; ++i) {
      let next = node.modules.get(parts[i]);
      if (!next) {
        next = module(parts[i]);
        node.modules.set(parts[i], next);
      }
      tally(next, t, kind);
      node = next;
    }
    node.leaves.push({ leaf: parts[parts.length - 1], kind, t });
  };
  for (const t of skeleton.tensors) add(t, 'parameter');
  for (const b of skeleton.buffers) add(b, 'buffer');
  const aliases = new Map();
  for (const [alias, target] of Object.entries(skeleton.aliases)) {
    if (!aliases.has(target)) aliases.set(target, []);
    aliases.get(target).push(alias);
  }
  return { root, aliases, tensors: skeleton.tensors.length };
}

/**
 * One module's children as plain data: {tensors (of the whole skeleton), leaves: [{leaf, kind, name, shape, dtype,
 * role, aliases}], modules: [{name, path, tensors}]}; `path` is the module's dotted name ('' for the top level).
 */
export function listChildren(index, path) {
  let node = index.root;
  for (const part of path ? path.split('.') : []) {
    node = node.modules.get(part);
    if (!node) return { error: { code: 'bad_request', message: `no module ${path} in the skeleton`, path: '' } };
  }
  return {
    tensors: index.tensors,
    leaves: node.leaves.map(({ leaf, kind, t }) => ({ leaf, kind, name: t.name, shape: t.shape, dtype: t.dtype,
      role: t.role, aliases: index.aliases.get(t.name) ?? [] })),
    modules: [...node.modules.values()].map((m) => ({ name: m.name, path: path ? `${path}.${m.name}` : m.name,
      tensors: m.tensors, buffers: m.buffers, params: m.params, bytes: m.bytes })),
    counts: { tensors: node.tensors, buffers: node.buffers, params: node.params, bytes: node.bytes },
  };
}

const plural = (n, word) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
// Binary units for a module's bytes, from bytes to GiB.
function size(bytes) {
  const units = [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]];
  for (const [unit, scale] of units) if (bytes >= scale) return `${(bytes / scale).toFixed(2)} ${unit}`;
  return `${bytes} bytes`;
}
// "9 parameter tensors + 1 buffer · 60,821,504 parameters · 116.01 MiB" (a layer of Llama 3.2 1B)
function counts(node) {
  const what = [node.tensors ? plural(node.tensors, 'parameter tensor') : '', node.buffers ? plural(node.buffers, 'buffer') : '']
    .filter(Boolean).join(' + ');
  return node.tensors ? `${what} · ${plural(node.params, 'parameter')} · ${size(node.bytes)}` : what;
}

function leafItem(l) {
  const li = document.createElement('li');
  li.className = `leaf ${l.kind}`;
  li.dataset.name = l.name;
  const name = document.createElement('span');
  name.className = 'tname';
  name.textContent = l.leaf;
  const shape = document.createElement('span');
  shape.className = 'shape';
  shape.textContent = `[${l.shape.join(', ')}]`;
  const dtype = document.createElement('span');
  dtype.className = 'dtype';
  dtype.textContent = l.dtype;
  const role = document.createElement('span');
  role.className = 'role';
  role.textContent = l.kind === 'buffer' ? `${l.role} (buffer, not counted)` : l.role;
  li.append(name, ' ', shape, ' ', dtype, ' ', role);
  if (l.aliases.length) {
    const a = document.createElement('span');
    a.className = 'alias';
    a.textContent = ` also stored as ${l.aliases.join(', ')}`;
    li.append(a);
  }
  return li;
}

function moduleItem(m, children) {
  const li = document.createElement('li');
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  const name = document.createElement('span');
  name.className = 'mname';
  name.textContent = m.name;
  const count = document.createElement('small');
  count.className = 'mcounts';
  count.textContent = ` ${counts(m)}`;
  summary.append(name, count);
  details.append(summary);
  details.dataset.path = m.path;
  details.dataset.tensors = String(m.tensors);
  details.dataset.buffers = String(m.buffers);
  details.dataset.params = String(m.params);
  details.dataset.bytes = String(m.bytes);
  let asked = false;
  details.addEventListener('toggle', async () => {
    if (!details.open || asked) return;
    asked = true;
    const ul = document.createElement('ul');
    details.append(ul);
    ul.setAttribute('aria-busy', 'true');
    const listing = await children(m.path);
    ul.removeAttribute('aria-busy');
    if (listing && !listing.error) ul.append(...items(listing, children));
  });
  li.append(details);
  return li;
}

function items(listing, children) {
  return [...listing.leaves.map(leafItem), ...listing.modules.map((m) => moduleItem(m, children))];
}

/**
 * Draws the top level `listing` (listChildren's answer for '') into the list `ul`; `children(path)` answers a
 * module's listing (or a promise of it) when the module is expanded.
 */
export function renderTree(ul, listing, children) {
  const root = listing.counts;
  const whole = document.createElement('li');
  whole.className = 'tree-root';
  whole.setAttribute('data-testid', 'tree-root');
  whole.dataset.params = String(root.params);
  whole.dataset.bytes = String(root.bytes);
  whole.textContent = `the whole model: ${counts(root)}${root.buffers ? ' (buffers are not parameters and not counted)' : ''}`;
  ul.replaceChildren(whole, ...items(listing, children));
  ul.dataset.tensors = String(listing.tensors);
  ul.dataset.buffers = String(root.buffers);
}
