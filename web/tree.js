// The skeleton as a collapsible module tree. The core's skeleton JSON lists every tensor (DeepSeek-V3: tens of
// thousands); the tree of dotted names is indexed once, and a module's children are only turned into DOM
// nodes when it is expanded, so opening the tree costs the top level alone. Each module shows its parameter tensors
// and buffers apart, and the sum of its parameters' elements and bytes (each tensor's from the core's skeleton).

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

function index(skeleton) {
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
  return root;
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

function leafItem({ leaf, kind, t }, aliases) {
  const li = document.createElement('li');
  li.className = `leaf ${kind}`;
  li.dataset.name = t.name;
  const name = document.createElement('span');
  name.className = 'tname';
  name.textContent = leaf;
  const shape = document.createElement('span');
  shape.className = 'shape';
  shape.textContent = `[${t.shape.join(', ')}]`;
  const dtype = document.createElement('span');
  dtype.className = 'dtype';
  dtype.textContent = t.dtype;
  const role = document.createElement('span');
  role.className = 'role';
  role.textContent = kind === 'buffer' ? `${t.role} (buffer, not counted)` : t.role;
  li.append(name, ' ', shape, ' ', dtype, ' ', role);
  const tied = aliases.get(t.name);
  if (tied) {
    const a = document.createElement('span');
    a.className = 'alias';
    a.textContent = ` also stored as ${tied.join(', ')}`;
    li.append(a);
  }
  return li;
}

function moduleItem(node, path, aliases) {
  const li = document.createElement('li');
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  const name = document.createElement('span');
  name.className = 'mname';
  name.textContent = node.name;
  const count = document.createElement('small');
  count.className = 'mcounts';
  count.textContent = ` ${counts(node)}`;
  summary.append(name, count);
  details.append(summary);
  details.dataset.path = path;
  details.dataset.tensors = String(node.tensors);
  details.dataset.buffers = String(node.buffers);
  details.dataset.params = String(node.params);
  details.dataset.bytes = String(node.bytes);
  details.addEventListener('toggle', () => {
    if (!details.open || details.childElementCount > 1) return;
    const ul = document.createElement('ul');
    ul.append(...children(node, path, aliases));
    details.append(ul);
  });
  li.append(details);
  return li;
}

function children(node, path, aliases) {
  const out = [];
  for (const leaf of node.leaves) out.push(leafItem(leaf, aliases));
  for (const child of node.modules.values())
    out.push(moduleItem(child, path ? `${path}.${child.name}` : child.name, aliases));
  return out;
}

/** Renders `skeleton` (the core's skeleton JSON) into the list `ul`: top level only, the rest on expand. */
export function renderTree(ul, skeleton) {
  const root = index(skeleton);
  const aliases = new Map();
  for (const [alias, target] of Object.entries(skeleton.aliases)) {
    if (!aliases.has(target)) aliases.set(target, []);
    aliases.get(target).push(alias);
  }
  const whole = document.createElement('li');
  whole.className = 'tree-root';
  whole.setAttribute('data-testid', 'tree-root');
  whole.dataset.params = String(root.params);
  whole.dataset.bytes = String(root.bytes);
  whole.textContent = `the whole model: ${counts(root)}${root.buffers ? ' (buffers are not parameters and not counted)' : ''}`;
  ul.replaceChildren(whole, ...children(root, '', aliases));
  ul.dataset.tensors = String(skeleton.tensors.length);
  ul.dataset.buffers = String(skeleton.buffers.length);
}
