/** The load-client processes (lib/worker.ts) and request/response calls to them over IPC. */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnNode } from './servers.js';
import { histogramCount, mergeHistogram, newHistogram } from './stats.js';
import type { ConnectOptions, Handlers, WorkerMessage } from './worker.js';

/** The worker next to this file: the compiled lib/worker.js, beside the compiled pool.js. */
const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

type Command = keyof Handlers;
/** What a worker's handler takes, without the `id` and `cmd` the pool adds. */
type Args<C extends Command> =
  Parameters<Handlers[C]> extends [infer A, ...unknown[]] ? A : Record<string, never>;
/** What a worker's handler answers. */
type Result<C extends Command> = Awaited<ReturnType<Handlers[C]>>;

export class WorkerPool {
  nextId = 1;
  readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (err: Error) => void }>();
  progress: number[];

  constructor(readonly children: ChildProcess[]) {
    this.progress = children.map(() => 0);
    children.forEach((child, i) => {
      child.on('message', (m: WorkerMessage) => {
        if ('type' in m) {
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

  static start(n: number): WorkerPool {
    const children = Array.from({ length: n }, () =>
      spawnNode([WORKER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
    return new WorkerPool(children);
  }

  get size(): number {
    return this.children.length;
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid!);
  }

  call<C extends Command>(i: number, cmd: C, args: Args<C> = {} as Args<C>): Promise<Result<C>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      this.children[i]!.send({ ...(args as object), id, cmd });
    });
  }

  /** Calls every worker; `args` may be a function of the worker's index. */
  async all<C extends Command>(
    cmd: C,
    args: Args<C> | ((i: number) => Args<C>) = {} as Args<C>,
  ): Promise<Result<C>[]> {
    const replies = await Promise.all(
      this.children.map((_, i) =>
        this.call(i, cmd, typeof args === 'function' ? (args as (i: number) => Args<C>)(i) : args),
      ),
    );
    // Progress reports sent before the reset arrive before its reply (IPC keeps order).
    if (cmd === 'resetCounts') this.progress = this.children.map(() => 0);
    return replies;
  }

  /** Opens `total` connections spread evenly, numbered from `firstIndex`; sums the answers. */
  async connect(
    total: number,
    options: Omit<ConnectOptions, 'count' | 'firstIndex'>,
    firstIndex = 0,
  ): Promise<{ ok: number; failed: number; failures: Record<string, number>; ms: number }> {
    const n = this.size;
    const replies = await this.all('connect', (i) => {
      const count = Math.floor(total / n) + (i < total % n ? 1 : 0);
      const before = Math.floor(total / n) * i + Math.min(i, total % n);
      return { ...options, count, firstIndex: firstIndex + before };
    });
    const failures: Record<string, number> = {};
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
    const closeCodes: Record<string, number> = {};
    const errors: Record<string, number> = {};
    for (const r of replies) {
      mergeHistogram(hist, r.hist);
      for (const k of Object.keys(merged) as (keyof typeof merged)[]) merged[k] += r[k];
      for (const [k, v] of Object.entries(r.closeCodes)) closeCodes[k] = (closeCodes[k] ?? 0) + v;
      for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    }
    return { ...merged, hist, samples: histogramCount(hist), closeCodes, errors };
  }

  /** Bench messages received by reading subscribers since the last `resetCounts` (from progress reports). */
  delivered(): number {
    return this.progress.reduce((a, b) => a + b, 0);
  }

  async check(expected: number) {
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

  async stop(): Promise<void> {
    await Promise.race([
      this.all('closeAll').catch(() => {
        // A worker already gone: it is killed below either way.
      }),
      new Promise((r) => setTimeout(r, 5000)),
    ]);
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.disconnect?.();
            setTimeout(() => child.kill('SIGKILL'), 3000).unref();
          }),
      ),
    );
  }
}
