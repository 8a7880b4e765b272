// The page's calls into the wasm module for its results (params, plan and placement of each input; the solves,
// the single-GPU placement, the catalog, the skeleton tree's listings): sent to Web Workers (worker.js) that load
// their own copies of the wasm module, so the main thread only draws.
// Where no worker starts (a page opened from file://, a browser without module workers) or it fails later, the
// same calls run on the page's thread, one per task (job-queue.js). docs/web.md, "Off the main thread".
import { JobQueue } from './job-queue.js';
import { indexSkeleton, listChildren } from './tree.js';

const workerStartMs = 20000;

export class Solver {
  #mp;
  #local;
  #workers = { input: null, deferred: null }; // the first frame's calls; the solves, catalog and tree
  #pending = new Map(); // id -> {job, resolve, worker}
  #nextId = 1;
  #tree = null; // the main thread's tree index {key, index}, without a worker

  /** @param {import('./modelplan-api.js').Modelplan} mp the page's module (for the fallback) */
  constructor(mp) {
    this.#mp = mp;
    this.#local = new JobQueue((job) => this.#runLocal(job));
  }

  /** 'workers' (two), 'worker' (one started) or 'main': where the calls run. */
  get where() {
    const n = Object.values(this.#workers).filter(Boolean).length;
    return n === 2 ? 'workers' : n === 1 ? 'worker' : 'main';
  }

  /**
   * Starts two workers (one answers the inputs' first frame, the other the solves, the catalog and the tree, so an
   * input never waits behind a solve); resolves when their modules are loaded. What does not start falls back.
   */
  static async start(mpPromise, workerUrl) {
    const started = [Solver.#startWorker(workerUrl), Solver.#startWorker(workerUrl)];
    const solver = new Solver(await mpPromise);
    const [input, deferred] = await Promise.all(started);
    solver.#workers = { input, deferred };
    for (const w of [input, deferred]) if (w) solver.#adopt(w);
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
    worker.onmessage = ({ data }) => {
      const p = this.#pending.get(data.id);
      if (!p) return;
      this.#pending.delete(data.id);
      p.resolve(data.dropped ? null : data.result);
    };
    // A worker that fails later (out of memory, a crash): what it still owed goes to the other one, or runs here.
    worker.onerror = (e) => {
      e.preventDefault();
      this.#drop(worker);
    };
  }

  #drop(worker) {
    worker.terminate();
    for (const lane of Object.keys(this.#workers)) if (this.#workers[lane] === worker) this.#workers[lane] = null;
    const owed = [...this.#pending].filter(([, p]) => p.worker === worker);
    for (const [id, { job, resolve }] of owed) {
      this.#pending.delete(id);
      this.#send(job).then(resolve);
    }
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
    const [first, second] = job.lane === 'input' ? ['input', 'deferred'] : ['deferred', 'input'];
    // A request naming a checkpoint uses the headers the page's module holds (inspect): only it can answer.
    const worker = job.request?.checkpoint !== undefined ? null : this.#workers[first] ?? this.#workers[second];
    return new Promise((resolve) => {
      if (!worker) {
        this.#local.push(job, (a) => resolve(a.dropped ? null : a.result));
        return;
      }
      const id = this.#nextId++;
      this.#pending.set(id, { job, resolve, worker });
      worker.postMessage({ id, ...job });
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
