/**
 * What the scenarios measure with: waits, the load clients' connections to the server under test, and
 * CPU time read over a window.
 */

import type { Options } from './options.js';
import type { ScenarioContext, Target } from './scenarios.js';
import { APP, procStats } from './servers.js';
import { type Histogram, histogramQuantile, mergeHistogram, newHistogram } from './stats.js';
import type { ConnectOptions } from './worker.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `predicate` every `stepMs` until it holds or `timeoutMs` has passed; whether it held. */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  stepMs = 20,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await predicate()) return true;
    await sleep(stepMs);
  }
  return predicate();
}

/**
 * How many events a max-rate fan-out publisher may be ahead of its `subs` subscribers (on average)
 * before it pauses: enough to keep them busy, few enough that the rate is sustained delivery rather
 * than the server's buffers filling (about `fanoutWindowFrames` deliveries in flight).
 */
export function fanoutLag(o: Options, subs: number): number {
  return Math.max(8, Math.min(200, Math.ceil(o.fanoutWindowFrames / subs)));
}

/** Source addresses for the load clients: many loopback addresses, many more ephemeral ports. */
const LOCAL_ADDRESSES = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 2}`);

/** What a connection to the server under test needs to know. */
type ConnectionOptions = Omit<ConnectOptions, 'count' | 'firstIndex'>;

function clientOptions(ctx: ScenarioContext<Target>, extra: Partial<ConnectionOptions>): ConnectionOptions {
  return {
    host: ctx.server.host,
    port: ctx.server.port,
    path: `/app/${APP.key}?protocol=7&client=js&version=8.4.0&flash=false`,
    key: APP.key,
    secret: APP.secret,
    concurrency: 200,
    localAddresses: LOCAL_ADDRESSES,
    ...extra,
  };
}

/** CPU read at one moment (µs), and when (ms). */
export interface CpuSample {
  at: number;
  server: number;
  clients: number;
}

/** CPU (µs) of the server, the load clients and this process, read together. */
export function cpu(ctx: ScenarioContext<Target>): CpuSample {
  let clients = 0;
  for (const pid of ctx.pool.pids) {
    try {
      clients += procStats(pid).cpuUs;
    } catch {
      // A load client that has just exited: it adds nothing more.
    }
  }
  const self = process.cpuUsage();
  return {
    at: performance.now(),
    server: ctx.server.stats().cpuUs,
    clients: clients + self.user + self.system,
  };
}

/** What happened between two CPU samples: seconds, server CPU (µs), and the load clients' CPU as % of one core. */
export function window(before: CpuSample, after: CpuSample) {
  const secs = (after.at - before.at) / 1000;
  return {
    secs,
    serverUs: after.server - before.server,
    clientsPct: ((after.clients - before.clients) / (secs * 1e6)) * 100,
  };
}

/** Microseconds as milliseconds. */
export const ms = (us: number) => us / 1000;

/** What the load clients say of a measured window (`WorkerPool.stats`), as far as the scenarios read it. */
type ClientStats = Awaited<ReturnType<ScenarioContext['pool']['stats']>>;

/**
 * Waits out the warm-up of a load the caller has started, clears the load clients' counts and
 * latencies, and measures one window: their stats, the CPU of the server and of the clients, and how
 * far `count` (events published so far, say) went meanwhile.
 */
export async function measuredPhase(ctx: ScenarioContext<Target>, count: () => number = () => 0) {
  const { o, pool } = ctx;
  await sleep(o.warmupMs);
  await pool.all('reset');
  const n0 = count();
  const c0 = cpu(ctx);
  await sleep(o.measureMs);
  const s = await pool.stats();
  const c1 = cpu(ctx);
  return { s, w: window(c0, c1), counted: count() - n0 };
}

/** A max- or fixed-rate fan-out's numbers: `published` events in the window `w`, `incomplete` subscribers. */
export function fanoutMetrics(
  s: ClientStats,
  w: ReturnType<typeof window>,
  published: number,
  incomplete: number,
): Record<string, number> {
  return {
    delivered_per_s: s.received / w.secs,
    published_per_s: published / w.secs,
    cpu_us_per_msg: w.serverUs / s.received,
    p50_ms: ms(histogramQuantile(s.hist, 0.5)),
    p99_ms: ms(histogramQuantile(s.hist, 0.99)),
    incomplete,
    clients_cpu_pct: w.clientsPct,
  };
}

/** Opens `total` connections numbered from `firstIndex` (see `WorkerPool.connect`); throws when any failed. */
export async function connectOrThrow(
  ctx: ScenarioContext<Target>,
  total: number,
  options: Partial<ConnectionOptions>,
  firstIndex = 0,
) {
  const c = await ctx.pool.connect(total, clientOptions(ctx, options), firstIndex);
  if (c.failed > 0) {
    throw new Error(`${c.failed} of ${total} connections failed: ${JSON.stringify(c.failures)}`);
  }
  return c;
}

/** What one load client's `httpLoad` answers, as far as a scenario reads it. */
interface HttpLoadReply {
  requests: number;
  published: number;
  statuses: Record<string, number>;
  hist: Histogram;
}

/**
 * Waits out the warm-up, then measures the server's CPU over the measured phase of the load clients'
 * `httpLoad`s (`loads`, started by the caller), and sums their replies.
 */
export async function measuredHttpLoad(ctx: ScenarioContext<Target>, loads: Promise<HttpLoadReply[]>) {
  await sleep(ctx.o.warmupMs);
  const c0 = cpu(ctx);
  await sleep(ctx.o.measureMs);
  const c1 = cpu(ctx);
  const hist = newHistogram();
  const statuses: Record<string, number> = {};
  let requests = 0;
  let published = 0;
  for (const r of await loads) {
    mergeHistogram(hist, r.hist);
    requests += r.requests;
    published += r.published;
    for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  }
  const w = window(c0, c1);
  return { hist, statuses, requests, published, serverUs: w.serverUs, clientsPct: w.clientsPct };
}
