// The page's calls into the wasm module off its first frame, run one per task in the order asked (docs/web.md,
// "Off the main thread"). Between two calls the thread reads its messages or input events, so a newer request
// is seen while older work waits: a job of a newer generation drops the queued jobs of older ones in its lane
// ('deferred': the solves and catalog of a result drawn; 'input': the placement an input waits for; 'tree').
// Jobs without a generation are never dropped; jobs of a lane other than 'deferred' go first. Used in the Web
// Worker (worker.js) and, where no worker can start, on the page's own thread (solver.js).

export class JobQueue {
  #run;
  #jobs = [];
  #latest = new Map(); // lane -> newest generation
  #scheduled = false;
  #wake;

  /** @param {(job: object) => object} run computes a job's answer (an exception becomes an {error} answer). */
  constructor(run) {
    this.#run = run;
    // A message to itself is a task of its own with no timer clamping (nested setTimeout(0) waits 4 ms).
    const channel = new MessageChannel();
    channel.port1.onmessage = () => this.#step();
    this.#wake = () => channel.port2.postMessage(null);
  }

  /** Queues `job` ({lane?, gen?, ...}); `done(answer)` gets {result} or {dropped: true}. */
  push(job, done) {
    const lane = job.lane ?? 'deferred';
    if (job.gen !== undefined && job.gen !== null) {
      const latest = this.#latest.get(lane) ?? 0;
      if (job.gen < latest) {
        done({ dropped: true });
        return;
      }
      if (job.gen > latest) {
        this.#latest.set(lane, job.gen);
        const kept = [];
        for (const queued of this.#jobs) {
          const older = (queued.job.lane ?? 'deferred') === lane && queued.job.gen !== undefined && queued.job.gen !== null &&
            queued.job.gen < job.gen;
          if (older) queued.done({ dropped: true });
          else kept.push(queued);
        }
        this.#jobs = kept;
      }
    }
    if (lane === 'deferred') this.#jobs.push({ job, done });
    else {
      // Ahead of the deferred jobs, behind the other lanes' (in the order asked).
      const first = this.#jobs.findIndex((queued) => (queued.job.lane ?? 'deferred') === 'deferred');
      this.#jobs.splice(first < 0 ? this.#jobs.length : first, 0, { job, done });
    }
    this.#schedule();
  }

  #schedule() {
    if (this.#scheduled || !this.#jobs.length) return;
    this.#scheduled = true;
    this.#wake();
  }

  #step() {
    this.#scheduled = false;
    const next = this.#jobs.shift();
    if (next) {
      let result;
      try {
        result = this.#run(next.job);
      } catch (e) {
        result = { error: { code: 'internal', message: String(e?.message ?? e), path: '' } };
      }
      next.done({ result });
    }
    this.#schedule();
  }
}
