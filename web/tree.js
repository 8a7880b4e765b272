// The skeleton as a collapsible module tree. The core's skeleton JSON lists every tensor (DeepSeek-V3: tens of
// thousands); the tree of dotted names is indexed once, and a module's children are only turned into DOM
// nodes when it is expanded, so opening the tree costs the top level alone.

function module(name) {
  return { name, modules: new Map(), leaves: [], tensors: 0 };
}

function index(skeleton) {
  const root = module('');
  const add = (t, kind) => {
    const parts = t.name.split('.');
    let node = root;
    node.tensors++;
    for (let i = 0; i < parts.length - 1; ++i) {
      let next = node.modules.get(parts[i]);
      if (!next) {
        next = module(parts[i]);
        node.modules.set(parts[i], next);
      }
      next.tensors++;
      node = next;
    }
    node.leaves.push({ leaf: parts[parts.length - 1], kind, t });
  };
  for (const t of skeleton.tensors) add(t, 'parameter');
  for (const b of skeleton.buffers) add(b, 'buffer');
  return root;
}

const plural = (n, word) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

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
  count.textContent = ` ${plural(node.tensors, 'tensor')}`;
  summary.append(name, count);
  details.append(summary);
  details.dataset.path = path;
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
  ul.replaceChildren(...children(root, '', aliases));
  ul.dataset.tensors = String(skeleton.tensors.length);
}
