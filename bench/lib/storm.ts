/**
 * The reconnect storm: every subscriber dropped at once, then measured until every one is subscribed
 * again and receiving, while a publisher keeps publishing sequenced events. The clients come back as
 * pusher-js 8 does (redial.ts): no jitter, a retry 1 s after an abnormal close, at once after 4200,
 * and a wait of the strategy's timeout (15 s, then 30 s, then 60 s) after an attempt the server
 * refused. Three drops: a network cut (every client's TCP connection reset, the server stays up), a
 * server restart (SIGTERM, and a new process on the same port at once), and the same restart with the
 * listening socket held by the bench across it, as systemd's socket activation holds it (Herald only:
 * the new process accepts what waited in its queue meanwhile).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { connectOrThrow, cpu, sleep, waitUntil, window } from './measure.js';
import { publishLoop } from './publisher.js';
import type { RedialRecord } from './redial.js';
import type { ScenarioContext, ScenarioResult } from './scenarios.js';
import type { ProcStats, ServerProcess } from './servers.js';
import { nowUs, quantile, round } from './stats.js';

/** Channels the clients are spread over: as many as one `POST /events` may name (Pusher's limit). */
const CHANNELS = 100;

/** A server's CPU time (µs, from `baseline`) and largest RSS, sampled every 50 ms until it exits or `stop`. */
class Sampler {
  last: ProcStats | undefined;
  rssMax = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly server: ServerProcess,
    readonly baseline: number,
  ) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), 50);
  }

  #sample(): void {
    if (this.server.exitInfo) return clearInterval(this.#timer);
    try {
      this.last = this.server.stats();
      this.rssMax = Math.max(this.rssMax, this.last.rssBytes);
    } catch {
      // Gone between the check and the read: the last sample stands for its end.
    }
  }

  stop(): void {
    this.#sample();
    clearInterval(this.#timer);
  }

  get cpuUs(): number {
    return (this.last?.cpuUs ?? this.baseline) - this.baseline;
  }
}

/**
 * Connections the kernel dropped because a listen queue was full (`TcpExt: ListenOverflows` in
 * /proc/net/netstat, machine-wide): a client whose SYN is dropped sends it again 1 s later, then 2 s
 * after that, and so on.
 */
function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  const names = lines.find((l) => l.startsWith('TcpExt:'))?.split(/\s+/) ?? [];
  const values = lines.filter((l) => l.startsWith('TcpExt:'))[1]?.split(/\s+/) ?? [];
  return Number(values[names.indexOf('ListenOverflows')] ?? 0);
}

/** An event the server accepted (200): its sequence numbers and when it was issued (µs). */
interface Acked {
  from: number;
  to: number;
  issuedAt: number;
}

/** `o.stormClients` subscribers over `CHANNELS` channels, dropped once per variant (`o.stormVariants`). */
export async function storm(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { o } = ctx;
  if (o.stormClients > ctx.maxConnections) {
    throw new Error(
      `${o.stormClients} clients need as many descriptors in the server: the open-file limit is ${ctx.fdHardLimit}`,
    );
  }
  const spread = Math.min(CHANNELS, o.stormClients);
  const channels = Array.from({ length: spread }, (_, i) => `storm-${i}`);
  await connectOrThrow(ctx, o.stormClients, { channel: 'storm', channelSpread: spread });
  await sleep(300);
  const results: ScenarioResult[] = [];
  let server = ctx.server;
  for (const variant of o.stormVariants) {
    if (variant !== 'cut' && variant !== 'restart' && variant !== 'restart-activated') {
      throw new Error(`--storm-variants: unknown "${variant}"`);
    }
    // Soketi cannot listen on a socket it is given.
    if (variant === 'restart-activated' && server.name !== 'herald') continue;
    // Onto a socket the bench holds first: a restart not measured, every client back before the drop.
    const moved = variant === 'restart-activated' && !server.socket;
    if (moved) server = (await ctx.restart(server, 'hold')).next;
    const run = await stormVariant({ ...ctx, server }, variant, channels, moved ? o.stormMaxMs : 0);
    results.push(run.result);
    server = run.server;
  }
  return results;
}

/** One drop and the recovery from it; resolves with the result and the server now running. */
async function stormVariant(
  ctx: ScenarioContext,
  variant: 'cut' | 'restart' | 'restart-activated',
  channels: string[],
  settleMs: number,
): Promise<{ result: ScenarioResult; server: ServerProcess }> {
  const { o, pool } = ctx;
  const clients = o.stormClients;
  const acked: Acked[] = [];
  const loop = publishLoop(ctx.publisher, {
    api: 'events',
    rate: o.stormRate,
    channel: channels[0]!,
    channels,
    durationMs: Number.POSITIVE_INFINITY,
    // One request at a time keeps the sequence in order.
    concurrency: 1,
    onAnswer: (a) => {
      if (a.status === 200) acked.push(a);
    },
  });
  const samplers: Sampler[] = [];
  try {
    // Before the drop every client must be receiving.
    await pool.all('resetCounts', { seqCheck: false });
    await pool.all('reset');
    const receiving = await waitUntil(
      async () => (await pool.check(1)).incomplete === 0,
      o.warmupMs + 5000 + settleMs,
      100,
    );
    if (!receiving)
      throw new Error(`before the drop, ${(await pool.check(1)).incomplete} clients got no event`);
    const loadBefore = os.loadavg();
    // CPU of the load clients only: the server's is sampled on its own, across a restart.
    const clientsOnly = { ...ctx, server: { ...ctx.server, stats: () => ({ cpuUs: 0 }) } };
    samplers.push(new Sampler(ctx.server, ctx.server.stats().cpuUs));
    const c0 = cpu(clientsOnly);
    const overflows0 = listenOverflows();
    let t0: number;
    let restarting: ReturnType<ScenarioContext['restart']> | undefined;
    if (variant === 'cut') {
      t0 = nowUs();
      await pool.all('storm', { cut: true });
    } else {
      await pool.all('storm', { cut: false });
      t0 = nowUs();
      // A plain restart binds the port anew; an activated one keeps the held socket.
      restarting = ctx.restart(ctx.server, variant === 'restart' ? null : undefined);
    }
    let next: ServerProcess | undefined;
    let readyAfterMs: number | undefined;
    const restarted = restarting?.then((r) => {
      next = r.next;
      readyAfterMs = (nowUs() - t0) / 1000;
      // The new process's CPU counts from its start.
      samplers.push(new Sampler(r.next, 0));
      return r;
    });
    restarted?.catch(() => {});
    const deadline = performance.now() + o.stormMaxMs;
    let progress = { dropped: 0, subscribed: 0, receiving: 0, gaveUp: 0 };
    while (performance.now() < deadline) {
      const replies = await pool.all('stormProgress');
      progress = {
        dropped: replies.reduce((s, r) => s + r.dropped, 0),
        subscribed: replies.reduce((s, r) => s + r.subscribed, 0),
        receiving: replies.reduce((s, r) => s + r.receiving, 0),
        gaveUp: replies.reduce((s, r) => s + r.gaveUp, 0),
      };
      if (progress.receiving + progress.gaveUp >= clients) break;
      await sleep(100);
    }
    const c1 = cpu(clientsOnly);
    const overflows = listenOverflows() - overflows0;
    const loadAfter = os.loadavg();
    loop.stop();
    const published = await loop.finished;
    for (const s of samplers) s.stop();
    const restart = await restarted;
    const reports = await pool.all('stormReport');
    const records = reports.flatMap((r) => r.records);
    const outcomes: Record<string, number> = {};
    for (const r of reports) {
      for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
    }
    const recovered = records.filter((r) => r.drops > 0 && r.subscribedAt > 0 && r.receivingAt > 0);
    if (records.length !== clients || recovered.length !== clients) {
      const gaveUp = records.filter((r) => r.gaveUp).map((r) => r.gaveUp);
      throw new Error(
        `${clients - recovered.length} of ${clients} clients did not recover within ${o.stormMaxMs} ms ` +
          `(${JSON.stringify(progress)}; gave up: ${JSON.stringify(tally(gaveUp))}; ${JSON.stringify(outcomes)})`,
      );
    }
    const subscribedMs = records.map((r) => (r.subscribedAt - t0) / 1000);
    const receivingMs = records.map((r) => (r.receivingAt - t0) / 1000);
    const allSubscribedAt = Math.max(...records.map((r) => r.subscribedAt));
    const missed = missedEvents(records, acked);
    const gapEvents = acked
      .filter((a) => a.issuedAt >= t0 && a.issuedAt <= allSubscribedAt)
      .reduce((sum, a) => sum + a.to - a.from + 1, 0);
    const w = window(c0, c1);
    return {
      server: next ?? ctx.server,
      result: {
        variant: `${clients} clients, ${VARIANTS[variant]}`,
        metrics: {
          recover_subscribed_s: Math.max(...subscribedMs) / 1000,
          recover_receiving_s: Math.max(...receivingMs) / 1000,
          recover_p50_ms: quantile(subscribedMs, 0.5),
          recover_p99_ms: quantile(subscribedMs, 0.99),
          reconnect_attempts: sum(records.map((r) => r.attempts)),
          failed_attempts: sum(records.map((r) => r.failed)),
          recovery_cpu_ms: sum(samplers.map((s) => s.cpuUs)) / 1000,
          rss_max_mb: Math.max(...samplers.map((s) => s.rssMax)) / 2 ** 20,
          gap_events: gapEvents,
          missed_p50: quantile(missed, 0.5),
          missed_max: Math.max(...missed),
          listen_overflows: overflows,
          clients_cpu_pct: w.clientsPct,
        },
        checks: {
          recovered: recovered.length,
          receivingP50Ms: quantile(receivingMs, 0.5),
          receivingP99Ms: quantile(receivingMs, 0.99),
          firstSubscribedMs: Math.min(...subscribedMs),
          dropsPerClient: { max: Math.max(...records.map((r) => r.drops)) },
          attemptsPerClient: { max: Math.max(...records.map((r) => r.attempts)) },
          outcomes,
          missedTotal: sum(missed),
          published: { acked: sum(acked.map((a) => a.to - a.from + 1)), statuses: published.statuses },
          rssMaxMbByProcess: samplers.map((s) => round(s.rssMax / 2 ** 20, 3)),
          cpuMsByProcess: samplers.map((s) => round(s.cpuUs / 1000, 3)),
          ...(restart
            ? { restart: { launches: restart.launches, readyAfterMs, oldExit: await restart.exited } }
            : {}),
          loadavg: { before: loadBefore.map((x) => round(x, 2)), after: loadAfter.map((x) => round(x, 2)) },
        },
      },
    };
  } finally {
    loop.stop();
    for (const s of samplers) s.stop();
  }
}

const VARIANTS = {
  cut: 'network cut (TCP reset)',
  restart: 'server restart (SIGTERM)',
  'restart-activated': 'server restart (SIGTERM), socket held as systemd does',
};

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

function tally(values: (string | undefined)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[String(v)] = (counts[String(v)] ?? 0) + 1;
  return counts;
}

/**
 * Per client, the events the server accepted between the last one the client got before it dropped
 * and the first it got after: what it missed while away (the bench's servers keep no history).
 */
function missedEvents(records: RedialRecord[], acked: Acked[]): number[] {
  const seqs = acked.flatMap((a) => Array.from({ length: a.to - a.from + 1 }, (_, i) => a.from + i));
  seqs.sort((a, b) => a - b);
  /** How many accepted sequence numbers are below `seq`. */
  const below = (seq: number) => {
    let lo = 0;
    let hi = seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqs[mid]! < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return records.map((r) => below(r.firstAfter) - below(r.lastBefore + 1));
}
