/** The load-client processes (lib/worker.js) and request/response calls to them over IPC. */
import { fileURLToPath } from 'node:url';
import { spawnNode } from './servers.js';
import { histogramCount, mergeHistogram, newHistogram } from './stats.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

export class WorkerPool {
  constructor(children) {
    this.children = children;
    this.nextId = 1;
    /** @type {Map<number, { resolve: Function, reject: Function }>} */
    this.pending = new Map();
    this.progress = children.map(() => 0);
    children.forEach((child, i) => {
      child.on('message', (m) => {
        if (m.type === 'progress') {
          this.progress[i] = m.received;
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(`worker ${i}: ${m.error}`));
      });
      child.on('exit', (code, signal) => {
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          p.reject(new Error(`worker ${i} exited (${code ?? signal})`));
        }
      });
    });
  }

  static start(n) {
    const children = Array.from({ length: n }, () =>
      spawnNode([WORKER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
    return new WorkerPool(children);
  }

  get size() {
    return this.children.length;
  }

  get pids() {
    return this.children.map((c) => c.pid);
  }

  call(i, cmd, args = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.children[i].send({ ...args, id, cmd });
    });
  }

  /** Calls every worker; `args` may be a function of the worker's index. */
  async all(cmd, args = {}) {
    const replies = await Promise.all(
      this.children.map((_, i) => this.call(i, cmd, typeof args === 'function' ? args(i) : args)),
    );
    // Progress reports sent before the reset arrive before its reply (IPC keeps order).
    if (cmd === 'resetCounts') this.progress = this.children.map(() => 0);
    return replies;
  }

  /** Opens `total` connections spread evenly, numbered from `firstIndex`; sums the answers. */
  async connect(total, options, firstIndex = 0) {
    const n = this.size;
    const replies = await this.all('connect', (i) => {
      const count = Math.floor(total / n) + (i < total % n ? 1 : 0);
      const before = Math.floor(total / n) * i + Math.min(i, total % n);
      return { ...options, count, firstIndex: firstIndex + before };
    });
    const failures = {};
    for (const r of replies) {
      for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
    }
    return {
      ok: replies.reduce((s, r) => s + r.ok, 0),
      failed: replies.reduce((s, r) => s + r.failed, 0),
      failures,
      ms: Math.max(...replies.map((r) => r.ms)),
    };
  }

  /** Subscriber counts and latency histograms of every worker, merged. */
  async stats() {
    const replies = await this.all('stats');
    const hist = newHistogram();
    const merged = { received: 0, conns: 0, open: 0, slowClosed: 0, slowOpen: 0, fastClosed: 0 };
    const closeCodes = {};
    const errors = {};
    for (const r of replies) {
      mergeHistogram(hist, r.hist);
      for (const k of Object.keys(merged)) merged[k] += r[k];
      for (const [k, v] of Object.entries(r.closeCodes)) closeCodes[k] = (closeCodes[k] ?? 0) + v;
      for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    }
    return { ...merged, hist, samples: histogramCount(hist), closeCodes, errors };
  }

  /** Bench messages received by reading subscribers since the last `resetCounts` (from progress reports). */
  delivered() {
    return this.progress.reduce((a, b) => a + b, 0);
  }

  async check(expected) {
    const replies = await this.all('check', { expected });
    return {
      conns: replies.reduce((s, r) => s + r.conns, 0),
      incomplete: replies.reduce((s, r) => s + r.incomplete, 0),
      extra: replies.reduce((s, r) => s + r.extra, 0),
      min: Math.min(...replies.map((r) => (r.conns ? r.min : Number.POSITIVE_INFINITY))),
      max: Math.max(...replies.map((r) => r.max)),
      gaps: replies.reduce((s, r) => s + r.gaps, 0),
      reorders: replies.reduce((s, r) => s + r.reorders, 0),
    };
  }

  async stop() {
    await Promise.race([this.all('closeAll').catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', resolve);
            child.disconnect?.();
            setTimeout(() => child.kill('SIGKILL'), 3000).unref();
          }),
      ),
    );
  }
}
