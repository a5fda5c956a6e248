/**
 * The scenarios. Each runs against one started server with a fresh pair of load-client processes and
 * returns one result per variant: `{ variant, metrics, checks, notes }`. Metrics are what the report
 * compares (see METRICS); checks are what must hold for the numbers to mean anything.
 */
import type { HeldSocket } from '../../test/helpers/held-socket.js';
import { appsPostgres } from './apps-store.js';
import { fanoutConsole } from './fanout-console.js';
import { fanoutHistory } from './fanout-history.js';
import {
  connectOrThrow,
  cpu,
  fanoutLag,
  fanoutMetrics,
  measuredHttpLoad,
  measuredPhase,
  ms,
  sleep,
  waitUntil,
  window,
} from './measure.js';
import type { Options } from './options.js';
import type { WorkerPool } from './pool.js';
import { type Publisher, publishLoop } from './publisher.js';
import { type AdapterConfig, APP, type ExitInfo, type ServerProcess } from './servers.js';
import { histogramQuantile, round } from './stats.js';
import { storm } from './storm.js';
import { wampFanout } from './wamp-fanout.js';
import { wampPatterns } from './wamp-patterns.js';
import { wampRpc } from './wamp-rpc.js';

/** What a scenario measures: a server's address and its CPU time (one process, or a cluster's nodes). */
export interface Target {
  host: string;
  port: number;
  stats(): { cpuUs: number };
}

/** What a scenario runs with: the options, the server under test, the load clients and the publisher. */
export interface ScenarioContext<S extends Target = ServerProcess> {
  o: Options;
  /** The round, from 1: a scenario that compares variants of its own alternates their order by it. */
  round: number;
  server: S;
  pool: WorkerPool;
  publisher: Publisher;
  log: (msg: string) => void;
  fdHardLimit: number;
  maxConnections: number;
  /**
   * Starts another Herald node: one of a cluster (`adapter`), or one with settings of its own over the
   * bench's (`settings`: its apps, say). Stopped after the scenario if it is not before.
   */
  startHerald: (options: {
    adapter?: AdapterConfig;
    settings?: Record<string, unknown>;
    label: string;
  }) => Promise<ServerProcess>;
  /** A publisher to another node. */
  publisherFor: (target: Target) => Publisher;
  /** Starts the bare `node:http` server of `floor-server.ts`; stopped after the scenario if it is not before. */
  startFloor: () => Promise<ServerProcess>;
  /**
   * Restarts `server` on its port (`ServerProcess.restart`, `socket` as there): SIGTERM, and a new
   * process at once. The new one is stopped after the scenario.
   */
  restart: (
    server: ServerProcess,
    socket?: HeldSocket | null | 'hold',
  ) => Promise<{ next: ServerProcess; launches: number; exited: Promise<ExitInfo> }>;
}

/** One variant's numbers (`metrics`, see METRICS), what must hold for them to mean anything, and notes. */
export interface ScenarioResult {
  variant: string;
  metrics: Record<string, number>;
  checks?: Record<string, unknown>;
  notes?: string[];
}

export type Scenario = (ctx: ScenarioContext) => Promise<ScenarioResult[]>;

/** How the report shows a metric, and which way is better. */
export interface Metric {
  label: string;
  better: 'higher' | 'lower' | 'info';
}

/** Units and direction of every metric the report shows. */
export const METRICS: Record<string, Metric> = {
  delivered_per_s: { label: 'delivered msg/s', better: 'higher' },
  published_per_s: { label: 'published events/s', better: 'higher' },
  cpu_us_per_msg: { label: 'server CPU µs/msg', better: 'lower' },
  p50_ms: { label: 'latency p50 ms', better: 'lower' },
  p99_ms: { label: 'latency p99 ms', better: 'lower' },
  undelivered: { label: 'messages not delivered', better: 'lower' },
  conn_per_s: { label: 'connections/s (setup)', better: 'higher' },
  rss_per_conn_kb: { label: 'server RSS KiB/conn, settled', better: 'lower' },
  rss_mb: { label: 'server RSS MiB, settled', better: 'lower' },
  rss_setup_mb: { label: 'server RSS MiB, just after setup', better: 'lower' },
  cpu_us_per_conn: { label: 'server CPU µs/conn setup', better: 'lower' },
  req_per_s: { label: 'requests/s', better: 'higher' },
  cpu_us_per_req: { label: 'server CPU µs/request', better: 'lower' },
  failed_requests: { label: 'non-200 responses', better: 'lower' },
  joins_per_s: { label: 'joins+leaves/s (pairs)', better: 'higher' },
  cpu_us_per_join: { label: 'server CPU µs/join+leave', better: 'lower' },
  member_event_errors: { label: 'observers with wrong member events', better: 'lower' },
  p99_before_ms: { label: 'readers p99 ms, before', better: 'lower' },
  p99_during_ms: { label: 'readers p99 ms, slow ones stalled', better: 'lower' },
  slow_disconnected: { label: 'slow subscribers disconnected', better: 'info' },
  fast_disconnected: { label: 'reading subscribers disconnected', better: 'lower' },
  rss_peak_mb: { label: 'server RSS peak over baseline MiB', better: 'lower' },
  rss_growth_mb: { label: 'server RSS growth MiB', better: 'lower' },
  rss_max_mb: { label: 'server RSS max MiB', better: 'lower' },
  incomplete: { label: 'subscribers missing messages', better: 'lower' },
  bus_p50_ms: { label: 'latency added by the bus p50 ms', better: 'lower' },
  bus_p99_ms: { label: 'latency added by the bus p99 ms', better: 'lower' },
  clients_cpu_pct: { label: 'load clients CPU % (of one core)', better: 'info' },
  subs_per_s: { label: 'subscriptions/s (setup)', better: 'higher' },
  cpu_us_per_sub: { label: 'server CPU µs/subscription', better: 'lower' },
  conn_per_s_vs_config: { label: 'connections/s, PostgreSQL ÷ config file', better: 'higher' },
  req_per_s_vs_config: { label: 'requests/s, PostgreSQL ÷ config file', better: 'higher' },
  p99_vs_config: { label: 'latency p99, PostgreSQL ÷ config file', better: 'lower' },
  app_queries: { label: 'queries on the apps table (index + sequential scans)', better: 'lower' },
  app_queries_bound: { label: 'at most: apps in use × cache TTLs begun', better: 'info' },
  floor_ratio: { label: 'requests/s, Herald ÷ bare node:http (floor)', better: 'higher' },
  history_ratio: { label: 'delivered msg/s, history on ÷ off', better: 'higher' },
  history_cpu_ratio: { label: 'server CPU µs/msg, history on ÷ off', better: 'lower' },
  console_ratio: { label: 'delivered msg/s, console open ÷ closed', better: 'higher' },
  console_events: { label: 'console events received', better: 'info' },
  console_dropped: { label: 'console events dropped (markers)', better: 'info' },
  recover_subscribed_s: { label: 'time until every client is subscribed again, s', better: 'lower' },
  recover_receiving_s: {
    label: 'time until every client got an event published after it resubscribed, s',
    better: 'lower',
  },
  recover_p50_ms: { label: 'per-client time to subscribed again p50 ms', better: 'lower' },
  recover_p99_ms: { label: 'per-client time to subscribed again p99 ms', better: 'lower' },
  reconnect_attempts: { label: 'connection attempts', better: 'info' },
  failed_attempts: { label: 'failed connection attempts', better: 'lower' },
  recovery_cpu_ms: { label: 'server CPU ms during recovery', better: 'lower' },
  gap_events: { label: 'events published before every client was back', better: 'info' },
  missed_p50: { label: 'events a client missed, p50 (no history)', better: 'info' },
  missed_max: { label: 'events a client missed, max (no history)', better: 'info' },
  listen_overflows: { label: 'connections dropped by a full listen queue (kernel)', better: 'info' },
  calls_per_s: { label: 'calls/s (round trips)', better: 'higher' },
  cpu_us_per_call: { label: 'server CPU µs/call', better: 'lower' },
  callee_spread: { label: 'invocations, busiest callee − idlest', better: 'lower' },
  failed_calls: { label: 'calls answered with ERROR or not at all', better: 'lower' },
};

/** 1. One channel, N subscribers, events published over the HTTP API. */
export async function fanout(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o, pool } = ctx;
  const results: ScenarioResult[] = [];
  let connected = 0;
  for (const subs of o.fanoutSubs) {
    await connectOrThrow(ctx, subs - connected, { channel: 'fanout' }, connected);
    connected = subs;
    await sleep(300);
    for (const api of o.fanoutApis) {
      for (const mode of ['max', 'fixed'] as const) results.push(await fanoutVariant(ctx, subs, api, mode));
    }
  }
  await pool.all('progress', { everyMs: 0 });
  return results;
}

/** One max- or fixed-rate fan-out run on subscribers already connected to `channel` `fanout`. */
export async function fanoutVariant(
  ctx: ScenarioContext<Target>,
  subs: number,
  api: string,
  mode: 'max' | 'fixed',
): Promise<ScenarioResult> {
  const { o, pool, publisher } = ctx;
  await pool.all('resetCounts', { seqCheck: true });
  await pool.all('progress', { everyMs: 20 });
  const lag = fanoutLag(o, subs);
  const rate = mode === 'max' ? Number.POSITIVE_INFINITY : o.fanoutFixedDeliveries / subs;
  const loop = publishLoop(publisher, {
    api,
    rate,
    channel: 'fanout',
    durationMs: o.warmupMs + o.measureMs,
    concurrency: mode === 'max' ? 8 : 32,
    flow: (issued) => issued - pool.delivered() / subs < lag,
  });
  const { s, w, counted } = await measuredPhase(ctx, () => loop.state.issued);
  const final = await loop.finished;
  await waitUntil(() => pool.delivered() >= final.issued * subs, o.drainMs);
  const check = await pool.check(final.issued);
  return {
    variant: `${subs} subs, ${api === 'batch' ? 'batch_events ×10' : 'events'}, ${mode === 'max' ? 'max rate' : `${round(rate, 3)} ev/s`}`,
    metrics: fanoutMetrics(s, w, counted, check.incomplete),
    checks: {
      issued: final.issued,
      failedRequests: final.failed,
      statuses: final.statuses,
      perSubscriber: { min: check.min, max: check.max, extra: check.extra },
      reorders: check.reorders,
      open: s.open,
      errors: s.errors,
    },
  };
}

/**
 * 2. Client events on a private channel: a few members send, everyone else receives. Fixed rate: each
 * sender sends `ceRate` per second. Max rate: as fast as the receivers keep up (senders pause while
 * the receivers lag by more than about `fanoutWindowFrames` deliveries).
 */
export async function clientEvents(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o, pool } = ctx;
  const channel = 'private-client-events';
  await connectOrThrow(ctx, o.ceSubs, { channel });
  await sleep(300);
  const results: ScenarioResult[] = [];
  for (const mode of o.ceModes) results.push(await clientEventsVariant(ctx, channel, mode));
  await pool.all('progress', { everyMs: 0 });
  return results;
}

async function clientEventsVariant(
  ctx: ScenarioContext,
  channel: string,
  mode: string,
): Promise<ScenarioResult> {
  const { o, pool } = ctx;
  await pool.all('resetCounts', { seqCheck: false });
  await pool.all('progress', { everyMs: mode === 'max' ? 10 : 50 });
  const n = pool.size;
  const receivers = o.ceSubs - 1;
  const lag = Math.max(2, Math.ceil(o.fanoutWindowFrames / receivers / o.ceSenders));
  let sendingDone = false;
  // Max rate: every few milliseconds, tell the senders how far they may go (events per sender).
  const credit = async () => {
    while (!sendingDone) {
      const upTo = Math.floor(pool.delivered() / receivers / o.ceSenders) + lag;
      await pool.all('ceAllow', { upTo });
      await sleep(5);
    }
  };
  const crediting = mode === 'max' ? credit() : Promise.resolve();
  const sending = pool.all('clientEvents', (i) => ({
    senders: Math.floor(o.ceSenders / n) + (i < o.ceSenders % n ? 1 : 0),
    rate: mode === 'max' ? 0 : o.ceRate,
    upTo: mode === 'max' ? lag : 0,
    durationMs: o.warmupMs + o.measureMs,
    channel,
    event: 'client-b',
    bytes: 0,
  }));
  const { s, w } = await measuredPhase(ctx);
  const sent = (await sending).reduce((sum, r) => sum + r.sent, 0);
  sendingDone = true;
  await crediting;
  const expected = sent * receivers;
  await waitUntil(() => pool.delivered() >= expected, o.drainMs);
  const delivered = pool.delivered();
  return {
    variant: `${o.ceSubs} subs, ${o.ceSenders} senders, ${mode === 'max' ? 'max rate' : `${o.ceRate}/s each`}`,
    metrics: {
      delivered_per_s: s.received / w.secs,
      cpu_us_per_msg: w.serverUs / s.received,
      p50_ms: ms(histogramQuantile(s.hist, 0.5)),
      p99_ms: ms(histogramQuantile(s.hist, 0.99)),
      undelivered: Math.max(0, expected - delivered),
      clients_cpu_pct: w.clientsPct,
    },
    checks: { sent, expected, delivered, open: s.open, errors: s.errors },
  };
}

/**
 * Server RSS once the server has given back what a burst of work took: V8 (in both servers) keeps the
 * young generation it grew during the burst until its memory reducer runs, tens of seconds into
 * idleness. Samples every second until RSS has fallen at least 5% below the highest sample and then
 * holds within 0.5% for one sample, or until `maxMs` has passed (`settled: false`).
 */
async function settledRss(
  server: ServerProcess,
  maxMs: number,
): Promise<{ rss: number; ms: number; settled: boolean }> {
  const start = performance.now();
  let peak = 0;
  let previous = 0;
  let fell = false;
  for (;;) {
    const rss = server.stats().rssBytes;
    peak = Math.max(peak, rss);
    if (rss < peak * 0.95) fell = true;
    const ms = performance.now() - start;
    if ((fell && Math.abs(rss - previous) <= rss * 0.005) || ms >= maxMs) return { rss, ms, settled: fell };
    previous = rss;
    await sleep(1000);
  }
}

/**
 * 3. Idle subscribed connections: setup rate and server memory per connection. Memory per connection
 * compares the idle server before and after the connections, each once its RSS has settled; RSS just
 * after the setup burst is reported as well.
 */
export async function connections(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o, server } = ctx;
  const base = await settledRss(server, o.connIdleMaxMs);
  const results: ScenarioResult[] = [];
  let connected = 0;
  for (const requested of o.connTargets) {
    const target = Math.min(requested, ctx.maxConnections);
    const c0 = cpu(ctx);
    const c = await connectOrThrow(
      ctx,
      target - connected,
      { channel: 'idle', channelSpread: 100 },
      connected,
    );
    const c1 = cpu(ctx);
    const added = target - connected;
    connected = target;
    await sleep(o.connSettleMs);
    const afterSetup = server.stats().rssBytes;
    const idle = await settledRss(server, o.connIdleMaxMs);
    const notes: string[] = [];
    if (target < requested) {
      notes.push(`ran ${target}: the open-file limit (${ctx.fdHardLimit}) leaves no room for ${requested}`);
    }
    if (!base.settled) notes.push(`baseline RSS did not settle within ${o.connIdleMaxMs} ms`);
    if (!idle.settled) {
      notes.push(`RSS with ${target} connections did not settle within ${o.connIdleMaxMs} ms`);
    }
    results.push({
      variant: `${requested} idle conns`,
      metrics: {
        conn_per_s: added / (c.ms / 1000),
        cpu_us_per_conn: window(c0, c1).serverUs / added,
        rss_per_conn_kb: (idle.rss - base.rss) / connected / 1024,
        rss_mb: idle.rss / 2 ** 20,
        rss_setup_mb: afterSetup / 2 ** 20,
      },
      checks: {
        connected,
        baselineMb: base.rss / 2 ** 20,
        baselineSettleMs: Math.round(base.ms),
        settleMs: Math.round(idle.ms),
      },
      notes,
    });
  }
  return results;
}

/**
 * 4. HTTP API: triggers to a channel nobody is subscribed to, from concurrent keep-alive clients: once
 * as the `pusher` SDK sends them (`http.request`, each request signed), once as pre-signed bytes on raw
 * sockets (the server's own capacity). With Herald, the pre-signed load also goes to a bare `node:http`
 * server that only reads the body and answers `{}` (the floor), before Herald in even rounds and after
 * it in odd ones, and Herald's rate over the floor's of the same round is reported.
 */
export async function httpApi(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  const herald = ctx.server.name === 'herald';
  const floorFirst = herald && ctx.round % 2 === 0;
  const floor = async () => {
    const server = await ctx.startFloor();
    try {
      const r = await httpLoadVariant({ ...ctx, server }, 'raw');
      return { ...r, variant: `${r.variant}, bare node:http (floor)` };
    } finally {
      await server.stop();
    }
  };
  const floorResult = floorFirst ? await floor() : undefined;
  for (const publisher of ['sdk', 'raw'] as const) results.push(await httpLoadVariant(ctx, publisher));
  if (herald) {
    const f = floorResult ?? (await floor());
    const raw = results[1]!;
    raw.metrics.floor_ratio = raw.metrics.req_per_s! / f.metrics.req_per_s!;
    results.push(f);
  }
  return results;
}

/** One load of `o.httpClients` keep-alive clients on `ctx.server`, as the SDK sends or pre-signed. */
async function httpLoadVariant(ctx: ScenarioContext, publisher: 'sdk' | 'raw'): Promise<ScenarioResult> {
  const { o, pool, server } = ctx;
  const n = pool.size;
  const loads = pool.all('httpLoad', (i) => ({
    host: server.host,
    port: server.port,
    app: APP,
    publisher,
    clients: Math.floor(o.httpClients / n) + (i < o.httpClients % n ? 1 : 0),
    channel: 'nobody-listens',
    warmupMs: o.warmupMs,
    durationMs: o.measureMs,
    bytes: 100,
  }));
  const { hist, statuses, requests, ...w } = await measuredHttpLoad(ctx, loads);
  return {
    variant: `${o.httpClients} clients, POST /events, ${publisher === 'sdk' ? 'SDK-like publisher' : 'pre-signed raw requests'}`,
    metrics: {
      req_per_s: requests / (o.measureMs / 1000),
      p50_ms: ms(histogramQuantile(hist, 0.5)),
      p99_ms: ms(histogramQuantile(hist, 0.99)),
      cpu_us_per_req: w.serverUs / requests,
      failed_requests: requests - (statuses[200] ?? 0),
      clients_cpu_pct: w.clientsPct,
    },
    checks: { statuses },
  };
}

/** 5. Presence churn: members join and leave in a loop; observers check every member event. */
export async function presence(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o, pool } = ctx;
  const channel = 'presence-churn';
  await connectOrThrow(ctx, o.presenceObservers, { channel, role: 'observer', userPrefix: 'obs' });
  await connectOrThrow(ctx, o.presenceChurners, { role: 'churner', userPrefix: 'churn' }, 100_000);
  await sleep(300);
  await pool.all('resetPresence');
  const c0 = cpu(ctx);
  const replies = await pool.all('churn', { durationMs: o.measureMs, channel });
  const c1 = cpu(ctx);
  const joins: Record<string, number> = {};
  const failures: Record<string, number> = {};
  for (const r of replies) {
    Object.assign(joins, r.joins);
    for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
  }
  const total = Object.values(joins).reduce((a, b) => a + b, 0);
  let verdict = { observers: 0, wrong: 0, violations: 0, added: 0, removed: 0, examples: [] as unknown[] };
  await waitUntil(
    async () => {
      const checks = await pool.all('presenceCheck', { joins });
      verdict = {
        observers: checks.reduce((s, r) => s + r.observers, 0),
        wrong: checks.reduce((s, r) => s + r.wrong, 0),
        violations: checks.reduce((s, r) => s + r.violations, 0),
        added: checks.reduce((s, r) => s + r.added, 0),
        removed: checks.reduce((s, r) => s + r.removed, 0),
        examples: checks.flatMap((r) => r.examples).slice(0, 3),
      };
      return verdict.wrong === 0;
    },
    o.drainMs,
    100,
  );
  const w = window(c0, c1);
  return [
    {
      variant: `${o.presenceChurners} churning, ${o.presenceObservers} observing`,
      metrics: {
        joins_per_s: total / w.secs,
        cpu_us_per_join: w.serverUs / total,
        member_event_errors: verdict.wrong,
        clients_cpu_pct: w.clientsPct,
      },
      checks: { joins: total, expectedEachKind: total * verdict.observers, ...verdict, failures },
    },
  ];
}

/**
 * 6. Slow consumers: a tenth of the subscribers stop reading. The readers should keep their latency,
 * the server its memory, and the stalled ones should be cut off. The readers' latency is measured
 * first without the stalled ones, then with them; the stalled ones never read, so that their kernel
 * buffers stay small and the server has to decide what to do with what it cannot send.
 */
export async function slowConsumer(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o, pool, publisher, server } = ctx;
  const channel = 'slow';
  const slowCount = Math.floor(o.slowSubs / o.slowEvery);
  const readers = o.slowSubs - slowCount;
  await connectOrThrow(ctx, readers, { channel });
  await sleep(300);
  await pool.all('progress', { everyMs: 50 });
  const phase = async (durationMs: number) => {
    await pool.all('resetCounts', { seqCheck: false });
    await pool.all('reset');
    const c0 = cpu(ctx);
    const loop = publishLoop(publisher, {
      api: 'events',
      rate: o.slowRate,
      channel,
      bytes: o.slowBytes,
      durationMs,
      concurrency: 16,
    });
    const final = await loop.finished;
    const s = await pool.stats();
    const w = window(c0, cpu(ctx));
    // Readers catch up before anything is counted again.
    await waitUntil(() => pool.delivered() >= final.issued * readers, o.drainMs);
    return { final, s, w, check: await pool.check(final.issued) };
  };
  const before = await phase(o.slowBaselineMs);
  await connectOrThrow(ctx, slowCount, { channel, slow: true }, readers);
  await sleep(300);
  const baseline = server.stats().rssBytes;
  let peak = baseline;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, server.stats().rssBytes);
    } catch {
      // The server has exited: the scenario reports that.
    }
  }, 200);
  const during = await phase(o.slowMs);
  clearInterval(sampler);
  // Stalled subscribers read again: those the server cut off now see their connection end.
  await pool.all('resumeSlow');
  await waitUntil(async () => (await pool.stats()).slowOpen === 0, 3000, 100);
  const after = await pool.stats();
  await pool.all('progress', { everyMs: 0 });
  return [
    {
      variant: `${o.slowSubs} subs, 1 in ${o.slowEvery} stalls, ${o.slowRate} ev/s × ${o.slowBytes} B`,
      metrics: {
        p99_before_ms: ms(histogramQuantile(before.s.hist, 0.99)),
        p99_during_ms: ms(histogramQuantile(during.s.hist, 0.99)),
        p50_ms: ms(histogramQuantile(during.s.hist, 0.5)),
        delivered_per_s: during.s.received / during.w.secs,
        slow_disconnected: after.slowClosed,
        fast_disconnected: after.fastClosed,
        rss_peak_mb: (peak - baseline) / 2 ** 20,
        incomplete: during.check.incomplete,
      },
      checks: {
        slow: slowCount,
        closeCodes: after.closeCodes,
        issued: during.final.issued,
        publishedPerS: during.final.issued / (o.slowMs / 1000),
        failedRequests: during.final.failed,
        perReader: { min: during.check.min, max: during.check.max, extra: during.check.extra },
        errors: after.errors,
      },
    },
  ];
}

/**
 * Soak: a moderate, steady rate for a long time. RSS is sampled; every subscriber must get every
 * sequence number, in order (one request in flight at a time keeps the publish order strict).
 */
export async function soak(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o, pool, publisher, server, log } = ctx;
  const channel = 'soak';
  await connectOrThrow(ctx, o.soakSubs, { channel });
  await pool.all('keepalive', { everyMs: 30_000 });
  await pool.all('resetCounts', { seqCheck: true });
  await pool.all('reset');
  await pool.all('progress', { everyMs: 200 });
  const c0 = cpu(ctx);
  const samples: { s: number; rssMb: number; delivered: number }[] = [];
  const sample = () => {
    const st = server.stats();
    samples.push({
      s: Math.round((performance.now() - c0.at) / 1000),
      rssMb: Math.round((st.rssBytes / 2 ** 20) * 10) / 10,
      delivered: pool.delivered(),
    });
  };
  sample();
  const sampler = setInterval(() => {
    sample();
    const last = samples.at(-1)!;
    log(`  soak ${server.name}: ${last.s}s rss ${last.rssMb} MiB, delivered ${last.delivered}`);
  }, o.soakSampleMs);
  const loop = publishLoop(publisher, {
    api: 'events',
    rate: o.soakRate,
    channel,
    durationMs: o.soakMs,
    concurrency: 1,
  });
  const final = await loop.finished;
  const c1 = cpu(ctx);
  await waitUntil(() => pool.delivered() >= final.issued * o.soakSubs, o.drainMs);
  clearInterval(sampler);
  sample();
  const check = await pool.check(final.issued);
  const s = await pool.stats();
  await pool.all('progress', { everyMs: 0 });
  await pool.all('keepalive', { everyMs: 0 });
  const w = window(c0, c1);
  const settled = samples.find((x) => x.s >= Math.min(60, o.soakMs / 4000)) ?? samples[0];
  return [
    {
      variant: `${o.soakSubs} subs, ${o.soakRate} ev/s, ${Math.round(o.soakMs / 60_000)} min`,
      metrics: {
        delivered_per_s: s.received / w.secs,
        p50_ms: ms(histogramQuantile(s.hist, 0.5)),
        p99_ms: ms(histogramQuantile(s.hist, 0.99)),
        cpu_us_per_msg: w.serverUs / s.received,
        rss_max_mb: Math.max(...samples.map((x) => x.rssMb)),
        rss_growth_mb: samples.at(-1)!.rssMb - settled!.rssMb,
        incomplete: check.incomplete,
        fast_disconnected: s.conns - s.open,
      },
      checks: {
        issued: final.issued,
        failedRequests: final.failed,
        gaps: check.gaps,
        reorders: check.reorders,
        perSubscriber: { min: check.min, max: check.max, extra: check.extra },
        errors: s.errors,
        samples,
      },
    },
  ];
}

/**
 * 8. Fan-out through a cluster (Herald only): the same subscribers on one node, then spread evenly over
 * three nodes sharing a broker (Redis, NATS), with the publisher on the first node. The latency the bus
 * adds is the three-node latency minus the one-node latency at the same fixed rate.
 */
export async function cluster(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o, pool } = ctx;
  const results: ClusterResult[] = [];
  const single = await clusterFanout(ctx, [ctx.server], ctx.publisher, '1 node');
  results.push(...single);
  await pool.all('closeAll');
  const baseline = single.find((r) => r.mode === 'fixed')?.metrics;
  for (const driver of o.clusterBrokers) {
    const adapter: AdapterConfig = {
      driver,
      url: driver === 'redis' ? o.redisUrl : o.natsUrl,
      prefix: 'herald-bench',
    };
    const nodes: ServerProcess[] = [];
    let publisher: Publisher | undefined;
    try {
      for (let i = 1; i <= 3; i++)
        nodes.push(await ctx.startHerald({ adapter, label: `${driver} node ${i}` }));
      publisher = ctx.publisherFor(nodes[0]!);
      const spread = await clusterFanout(ctx, nodes, publisher, `3 nodes, ${driver}`);
      for (const r of spread) {
        if (r.mode === 'fixed' && baseline) {
          r.metrics.bus_p50_ms = r.metrics.p50_ms! - baseline.p50_ms!;
          r.metrics.bus_p99_ms = r.metrics.p99_ms! - baseline.p99_ms!;
        }
      }
      results.push(...spread);
    } finally {
      publisher?.close();
      await pool.all('closeAll');
      await Promise.all(nodes.map((n) => n.stop()));
    }
  }
  return results.map(({ mode, ...r }) => r);
}

/** A cluster scenario's result, with the rate it ran at. */
type ClusterResult = ScenarioResult & { mode: 'max' | 'fixed' };

/** `o.clusterSubs` subscribers spread over `nodes`, events at max and at a fixed rate through `publisher`. */
async function clusterFanout(
  ctx: ScenarioContext,
  nodes: ServerProcess[],
  publisher: Publisher,
  label: string,
): Promise<ClusterResult[]> {
  const { o, pool } = ctx;
  const group: Target = {
    host: nodes[0]!.host,
    port: nodes[0]!.port,
    stats: () => ({ cpuUs: nodes.reduce((sum, n) => sum + n.stats().cpuUs, 0) }),
  };
  const sub: ScenarioContext<Target> = { ...ctx, server: group, publisher };
  let connected = 0;
  for (const [i, node] of nodes.entries()) {
    const count = Math.floor(o.clusterSubs / nodes.length) + (i < o.clusterSubs % nodes.length ? 1 : 0);
    await connectOrThrow(sub, count, { channel: 'fanout', port: node.port }, connected);
    connected += count;
  }
  await sleep(500);
  const results: ClusterResult[] = [];
  for (const mode of ['max', 'fixed'] as const) {
    const r = await fanoutVariant(sub, o.clusterSubs, 'events', mode);
    results.push({ ...r, mode, variant: `${label}, ${r.variant}` });
  }
  await pool.all('progress', { everyMs: 0 });
  return results;
}

export const SCENARIOS: Record<string, Scenario> = {
  fanout,
  'client-events': clientEvents,
  connections,
  'http-api': httpApi,
  presence,
  'slow-consumer': slowConsumer,
  soak,
  cluster,
  'wamp-patterns': wampPatterns,
  'wamp-fanout': wampFanout,
  'wamp-rpc': wampRpc,
  'apps-postgres': appsPostgres,
  'fanout-console': fanoutConsole,
  'fanout-history': fanoutHistory,
  storm,
};

/** Scenarios that compare Herald with itself (other topologies), not with Soketi. */
export const HERALD_ONLY = new Set([
  'cluster',
  'wamp-patterns',
  'wamp-fanout',
  'wamp-rpc',
  'apps-postgres',
  'fanout-console',
  'fanout-history',
]);

/** What `npm run bench` runs without a scenario name: every one but the soak, which is long and runs only when named. */
export const DEFAULT_SCENARIOS = Object.keys(SCENARIOS).filter((name) => name !== 'soak');
