// The page's deferred calls (the solves, the single-GPU placement, the catalog, the skeleton tree's listings):
// sent to a Web Worker (worker.js) that loads its own copy of the wasm module, so the main thread only draws.
// Where no worker starts (a page opened from file://, a browser without module workers) or it fails later, the
// same calls run on the page's thread, one per task (job-queue.js). docs/web.md, "Off the main thread".
import { JobQueue } from './job-queue.js';
import { indexSkeleton, listChildren } from './tree.js';

const workerStartMs = 20000;

export class Solver {
  #mp;
  #local;
  #worker = null;
  #pending = new Map(); // id -> {job, resolve}
  #nextId = 1;
  #tree = null; // the main thread's tree index {key, index}, without a worker

  /** @param {import('./modelplan-api.js').Modelplan} mp the page's module (for the fallback) */
  constructor(mp) {
    this.#mp = mp;
    this.#local = new JobQueue((job) => this.#runLocal(job));
  }

  /** 'worker' or 'main': where the deferred calls run. */
  get where() { return this.#worker ? 'worker' : 'main'; }

  /** Starts the worker; resolves when its module is loaded, or (having fallen back to the main thread) when it fails. */
  static async start(mpPromise, workerUrl) {
    const started = Solver.#startWorker(workerUrl);
    const solver = new Solver(await mpPromise);
    const worker = await started;
    if (worker) solver.#adopt(worker);
    return solver;
  }

  static async #startWorker(url) {
    let worker;
    try {
      worker = new Worker(url, { type: 'module' });
    } catch {
      return null; // file://, or no module workers
    }
    let timer;
    const ok = await new Promise((resolve) => {
      worker.onmessage = ({ data }) => resolve(!!data?.ready);
      worker.onerror = (e) => {
        e.preventDefault();
        resolve(false);
      };
      timer = setTimeout(() => resolve(false), workerStartMs);
    });
    clearTimeout(timer);
    if (ok) return worker;
    worker.terminate();
    return null;
  }

  #adopt(worker) {
    this.#worker = worker;
    worker.onmessage = ({ data }) => {
      const p = this.#pending.get(data.id);
      if (!p) return;
      this.#pending.delete(data.id);
      p.resolve(data.dropped ? null : data.result);
    };
    // A worker that fails later (out of memory, a crash): what it still owed runs here instead.
    worker.onerror = (e) => {
      e.preventDefault();
      this.#fallBack();
    };
  }

  #fallBack() {
    this.#worker?.terminate();
    this.#worker = null;
    const owed = [...this.#pending.values()];
    this.#pending.clear();
    for (const { job, resolve } of owed) this.#local.push(job, (a) => resolve(a.dropped ? null : a.result));
  }

  #runLocal(job) {
    if (job.command !== 'tree') return this.#mp.call(job.command, job.request);
    const key = JSON.stringify(job.request);
    if (this.#tree?.key !== key) {
      const skeleton = this.#mp.skeleton(job.request);
      if (skeleton?.error) return skeleton;
      this.#tree = { key, index: indexSkeleton(skeleton) };
    }
    return listChildren(this.#tree.index, job.path);
  }

  #send(job) {
    // A request naming a checkpoint uses the headers the page's module holds (inspect): only it can answer.
    const local = !this.#worker || job.request?.checkpoint !== undefined;
    return new Promise((resolve) => {
      if (local) {
        this.#local.push(job, (a) => resolve(a.dropped ? null : a.result));
        return;
      }
      const id = this.#nextId++;
      this.#pending.set(id, { job, resolve });
      this.#worker.postMessage({ id, ...job });
    });
  }

  /**
   * The answer of `command` (a Modelplan call) for `request`, asked for generation `gen` (null: never dropped)
   * of `lane` (job-queue.js): null when a newer generation of the lane was asked before it ran (its answer would
   * not be drawn anyway).
   */
  call(command, request, gen = null, lane = 'deferred') {
    return this.#send({ command, request, gen, lane });
  }

  /** The skeleton tree's listing of the module `path` ('' for the top level) of the model of `request`. */
  tree(request, path = '') {
    return this.#send({ command: 'tree', request, path, lane: 'tree' });
  }
}
