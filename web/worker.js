// The page's Web Worker (an ES module worker, started by solver.js): the same wasm module as the page, loaded
// again here, answers the page's deferred calls off the main thread (docs/web.md, "Off the main thread").
// Messages in: {id, command, request, gen?, lane?, path?}; out: {ready} once, then {id, result} or
// {id, dropped: true} for each message. `command` is a Modelplan call ('plan', 'fit', 'place', ...) with its
// request object, or 'tree': one module's listing of the skeleton tree (tree.js), the index kept for the model.
import { loadModelplan, isError } from './modelplan-api.js';
import { JobQueue } from './job-queue.js';
import { indexSkeleton, listChildren } from './tree.js';

let mp = null;
let tree = null; // {key, index} of the last model whose tree was asked for

function treeListing(request, path) {
  const key = JSON.stringify(request);
  if (tree?.key !== key) {
    const skeleton = mp.skeleton(request);
    if (isError(skeleton)) return skeleton;
    tree = { key, index: indexSkeleton(skeleton) };
  }
  return listChildren(tree.index, path);
}

const queue = new JobQueue((job) => (job.command === 'tree' ? treeListing(job.request, job.path)
  : mp.call(job.command, job.request)));

const ready = loadModelplan().then((m) => {
  mp = m;
  postMessage({ ready: true });
}, (e) => postMessage({ failed: String(e?.message ?? e) }));

self.onmessage = async ({ data }) => {
  await ready;
  if (!mp) {
    postMessage({ id: data.id, dropped: true });
    return;
  }
  queue.push(data, (answer) => postMessage({ id: data.id, ...answer }));
};
