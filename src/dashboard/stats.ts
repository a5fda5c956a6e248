import type { Adapter } from '../adapters/adapter.js';
import { busFields } from '../adapters/bus-payload.js';
import type { AppTraffic, Traffic } from '../core/traffic.js';
import type { RequestCounts } from '../http/request-counts.js';
import type { AppWebhookStats } from '../webhooks/dispatcher.js';

/** How far back an app's history goes, in one-second samples: 15 minutes. */
export const HISTORY_SECONDS = 900;
/** One sample a second. */
export const SAMPLE_INTERVAL_MS = 1000;

/** What each sample holds besides its time: a gauge, then rates per second. */
export const SAMPLE_FIELDS = [
  'connections',
  'messagesIn',
  'messagesOut',
  'apiRequests',
  'webhookFailures',
] as const;
export type SampleField = (typeof SAMPLE_FIELDS)[number];

/** One second of an app: `t` is the start of the second (milliseconds since the epoch). */
export type Sample = { t: number } & Record<SampleField, number>;

/** A sample as it crosses the cluster bus: `[t, connections, messagesIn, …]`, in `SAMPLE_FIELDS` order. */
export type WireSample = number[];

const WIDTH = SAMPLE_FIELDS.length;

/**
 * The last `HISTORY_SECONDS` one-second samples of one app, in fixed arrays: the sample of second `s`
 * lives in slot `s mod HISTORY_SECONDS`, so a new second overwrites the one 15 minutes older and nothing
 * is allocated once the ring exists.
 */
export class SampleRing {
  /** Each slot's second start; 0 for a slot never written. */
  readonly #t = new Float64Array(HISTORY_SECONDS);
  readonly #values = new Float64Array(HISTORY_SECONDS * WIDTH);
  /** The last second with any activity (connections open or anything counted). */
  lastActive = 0;

  /**
   * Records the second starting at `t` (a multiple of `SAMPLE_INTERVAL_MS`). A second recorded twice (a
   * timer that fired twice in it) keeps the later gauge and adds up the rates.
   */
  add(t: number, values: readonly number[]): void {
    const slot = Math.floor(t / SAMPLE_INTERVAL_MS) % HISTORY_SECONDS;
    const base = slot * WIDTH;
    const same = this.#t[slot] === t;
    this.#t[slot] = t;
    this.#values[base] = values[0] ?? 0;
    for (let i = 1; i < WIDTH; i++)
      this.#values[base + i] = (same ? this.#values[base + i]! : 0) + (values[i] ?? 0);
    if (values.some((v) => v > 0)) this.lastActive = Math.max(this.lastActive, t);
  }

  /** The samples of the seconds after `since` (exclusive), oldest first, in the bus's form. */
  samples(since: number): WireSample[] {
    const slots: number[] = [];
    for (let slot = 0; slot < HISTORY_SECONDS; slot++) if (this.#t[slot]! > since) slots.push(slot);
    slots.sort((a, b) => this.#t[a]! - this.#t[b]!);
    return slots.map((slot) => [this.#t[slot]!, ...this.#values.subarray(slot * WIDTH, (slot + 1) * WIDTH)]);
  }
}

/** Where the sampler reads the counters that are kept anyway (for `/metrics`); it adds no counting. */
export interface StatsSources {
  /** Each app's connections and WebSocket messages; only its `pusher` apps are sampled. */
  readonly traffic: AppTraffic;
  /** HTTP requests answered, by the app a handler found them to be for. */
  readonly httpRequests: RequestCounts;
  /** Each app's webhook requests. */
  appWebhooks(): ReadonlyMap<string, Readonly<AppWebhookStats>>;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
}

/**
 * This node's history of each Pusher app: once a second, the app's connections and how much its
 * counters grew since the last tick. Only apps the counters know are sampled (a connection, an HTTP
 * API request or a webhook here since start), and an app gets a ring on its first second with
 * activity and loses it after `HISTORY_SECONDS` without any.
 */
export class StatsSampler {
  readonly #sources: StatsSources;
  readonly #now: () => number;
  readonly #rings = new Map<string, SampleRing>();
  /** Each app's running totals at the last tick (messages in, out, API requests, webhook failures). */
  readonly #totals = new Map<string, number[]>();
  #timer: NodeJS.Timeout | undefined;

  constructor(sources: StatsSources) {
    this.#sources = sources;
    this.#now = sources.now ?? Date.now;
  }

  /** Samples once a second until `stop`; the timer does not keep the process alive. Idempotent. */
  start(): void {
    if (this.#timer) return;
    // The counters start with the server: from zero, the first tick's growth is the first second's.
    this.#timer = setInterval(() => this.tick(), SAMPLE_INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Takes one sample of every app the counters know (what the timer calls). */
  tick(): void {
    const t = Math.floor(this.#now() / SAMPLE_INTERVAL_MS) * SAMPLE_INTERVAL_MS;
    const api = new Map<string, number>();
    for (const { app, count } of this.#sources.httpRequests.entries()) {
      if (app !== '') api.set(app, (api.get(app) ?? 0) + count);
    }
    const webhooks = this.#sources.appWebhooks();
    const sockets = new Map<string, Traffic>();
    for (const { protocol, app, traffic } of this.#sources.traffic.entries()) {
      if (protocol === 'pusher') sockets.set(app, traffic);
    }
    // An app whose clients are all on other nodes is still met here by its HTTP API or its webhooks.
    for (const app of new Set([...sockets.keys(), ...api.keys(), ...webhooks.keys()])) {
      const traffic = sockets.get(app);
      const hooks = webhooks.get(app);
      // Every failed attempt counts, whether it was retried or given up on.
      const failures = hooks ? hooks.retries + hooks.failures : 0;
      const totals = [traffic?.messagesIn ?? 0, traffic?.messagesOut ?? 0, api.get(app) ?? 0, failures];
      const before = this.#totals.get(app) ?? [0, 0, 0, 0];
      this.#totals.set(app, totals);
      const values = [
        traffic?.connections ?? 0,
        ...totals.map((total, i) => Math.max(0, total - before[i]!)),
      ];
      let ring = this.#rings.get(app);
      if (!ring) {
        if (!values.some((v) => v > 0)) continue;
        ring = new SampleRing();
        this.#rings.set(app, ring);
      }
      ring.add(t, values);
      if (t - ring.lastActive >= HISTORY_SECONDS * SAMPLE_INTERVAL_MS) this.#rings.delete(app);
    }
  }

  /** This node's samples of `appId` in the last `HISTORY_SECONDS`, oldest first (none for an idle app). */
  history(appId: string): WireSample[] {
    const since = this.#now() - HISTORY_SECONDS * SAMPLE_INTERVAL_MS;
    return this.#rings.get(appId)?.samples(since) ?? [];
  }

  /** Apps with a ring, for tests and the memory this takes. */
  get apps(): number {
    return this.#rings.size;
  }
}

/** The cluster request for one app's history on each node. */
export const STATS_OP = 'dashboard.stats';

/** Registers this node's answer to `STATS_OP`: its own samples of the app asked about. */
export function answerStats(adapter: Pick<Adapter, 'handle'>, sampler: StatsSampler): void {
  adapter.handle(STATS_OP, (p) => sampler.history(busFields(STATS_OP, p, { appId: 'string' }).appId));
}

/** `appId`'s samples on every node that answered in time, summed by second. */
export async function clusterStats(adapter: Pick<Adapter, 'request'>, appId: string): Promise<Sample[]> {
  const { answers } = await adapter.request<unknown>(STATS_OP, { appId });
  return sumSamples(answers);
}

/**
 * The nodes' samples added up second by second, oldest first. Answers from other nodes came over the
 * bus and are untrusted: one that is not a list of at most `HISTORY_SECONDS` samples of finite,
 * non-negative numbers is left out whole.
 */
export function sumSamples(answers: readonly unknown[]): Sample[] {
  const bySecond = new Map<number, number[]>();
  for (const answer of answers) {
    if (!wellFormed(answer)) continue;
    for (const [t, ...values] of answer) {
      const sum = bySecond.get(t!);
      if (sum) for (let i = 0; i < WIDTH; i++) sum[i]! += values[i]!;
      else bySecond.set(t!, [...values]);
    }
  }
  return [...bySecond.entries()]
    .sort(([a], [b]) => a - b)
    .map(([t, values]) => {
      const sample = { t } as Sample;
      SAMPLE_FIELDS.forEach((field, i) => {
        sample[field] = values[i]!;
      });
      return sample;
    });
}

function wellFormed(answer: unknown): answer is WireSample[] {
  if (!Array.isArray(answer) || answer.length > HISTORY_SECONDS) return false;
  const seconds = new Set<number>();
  for (const sample of answer) {
    if (!Array.isArray(sample) || sample.length !== WIDTH + 1) return false;
    if (!sample.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)) return false;
    // One sample per second per node: a repeated second would count the node twice.
    if (seconds.has(sample[0])) return false;
    seconds.add(sample[0]);
  }
  return true;
}
