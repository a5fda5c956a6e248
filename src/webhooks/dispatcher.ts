import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { atMost } from '../core/deadline.js';
import type { DebugFeed } from '../core/debug-feed.js';
import type { WebhookDelivery } from '../core/webhook-outbox.js';
import { namespaceOf } from '../protocol/pusher/app-states.js';
import type { WebhookQueue } from './queue.js';
import { type PostOutcome, type PostWebhook, retryDelayMs } from './sender.js';

export interface DispatcherOptions {
  queue: WebhookQueue;
  post: PostWebhook;
  logger: Logger;
  timeoutMs: number;
  retryForMs: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** Deliveries in flight (or waiting to retry) at once per lane. */
  concurrency: number;
  /** Jitter source. @default Math.random */
  random?: () => number;
  /** Where each attempt is reported for the debug console, under its app. */
  debugFeed?: DebugFeed;
}

/** Counters since start; every delivery queued ends up delivered or dropped. */
export interface WebhookStats {
  /** Requests accepted by the queue. */
  queued: number;
  /** Requests a receiver answered with 2xx. */
  delivered: number;
  /** Attempts that failed (non-2xx, timeout, connection error); each is retried or ends in a drop. */
  failedAttempts: number;
  /** Requests given up on: retries exhausted, or still queued at shutdown. */
  dropped: number;
  /** Requests refused because their lane was full. */
  shed: number;
}

/** One app's requests since start, for the metrics. */
export interface AppWebhookStats {
  /** Requests a receiver answered with 2xx. */
  delivered: number;
  /** Failed attempts followed by another attempt. */
  retries: number;
  /**
   * Requests given up on while being delivered: retries exhausted, or in flight at shutdown (those
   * still queued at shutdown count only in `WebhookStats.dropped`).
   */
  failures: number;
}

interface LaneState {
  readonly active: Map<string, WebhookDelivery>;
  pumping: boolean;
  again: boolean;
}

/** Logs losses at most once per second, with how many there were. */
const LOSS_LOG_INTERVAL_MS = 1000;

/**
 * Moves deliveries from the queue to receivers. Each lane (one app's URL) has up to `concurrency`
 * deliveries at a time, each retried in place with exponential backoff until it succeeds or
 * `retryForMs` after it was queued; a slow or dead receiver therefore holds only its own lane. A
 * delivery that shares a channel with one in flight waits for it, so that retries cannot reorder a
 * channel's events.
 */
export class WebhookDispatcher {
  readonly stats: WebhookStats = { queued: 0, delivered: 0, failedAttempts: 0, dropped: 0, shed: 0 };
  /** By app id; only apps whose requests were delivered or tried appear. */
  readonly appStats = new Map<string, AppWebhookStats>();
  readonly #options: DispatcherOptions;
  readonly #lanes = new Map<string, LaneState>();
  readonly #abort = new AbortController();
  readonly #sleeps = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  #progress: (() => void)[] = [];
  #pushing = 0;
  #closed = false;
  #shedLoggedAt = Number.NEGATIVE_INFINITY;
  #shedUnlogged = 0;

  constructor(options: DispatcherOptions) {
    this.#options = options;
  }

  /** Queues a delivery and starts it when its lane allows; never rejects. */
  async enqueue(delivery: WebhookDelivery): Promise<void> {
    const { queue, logger } = this.#options;
    if (this.#closed) return this.#shed(delivery, 'shutting down');
    this.#pushing++;
    try {
      if (!(await queue.push(delivery))) return this.#shed(delivery, 'queue full');
      this.stats.queued++;
      this.#pump(delivery.lane);
    } catch (err) {
      logger.error({ err, url: delivery.url }, 'webhook could not be queued');
      this.#shed(delivery, 'queue failed');
    } finally {
      this.#pushing--;
      this.#changed();
    }
  }

  /**
   * Resolves true once nothing is queued or in flight, or false when `timeoutMs` passed first.
   * Deliveries waiting to retry keep their schedule.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const progress = new Promise<void>((resolve) => this.#progress.push(resolve));
      if (await this.#idle()) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await atMost(progress, left);
    }
  }

  /**
   * Gives up on everything: aborts requests in flight, cancels retries, and counts and logs as dropped
   * whatever was not delivered.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    for (const sleep of this.#sleeps) {
      clearTimeout(sleep.timer);
      sleep.wake();
    }
    this.#sleeps.clear();
    let inFlight = 0;
    for (const lane of this.#lanes.values()) inFlight += lane.active.size;
    let queued = 0;
    try {
      queued = (await this.#options.queue.size()) - inFlight;
    } catch (err) {
      this.#options.logger.error({ err }, 'webhook queue size unknown at shutdown');
    }
    // Deliveries in flight count themselves as they stop.
    if (queued > 0) this.stats.dropped += queued;
    if (queued > 0 || inFlight > 0) {
      this.#options.logger.error({ queued, inFlight }, 'webhooks dropped at shutdown: not delivered in time');
    }
  }

  #pump(name: string): void {
    let lane = this.#lanes.get(name);
    if (!lane) {
      lane = { active: new Map(), pumping: false, again: false };
      this.#lanes.set(name, lane);
    }
    if (lane.pumping) {
      lane.again = true;
      return;
    }
    lane.pumping = true;
    void this.#fill(name, lane);
  }

  async #fill(name: string, lane: LaneState): Promise<void> {
    const { queue, concurrency, logger } = this.#options;
    try {
      do {
        lane.again = false;
        while (!this.#closed && lane.active.size < concurrency) {
          const delivery = await queue.take(name, (d) => !sharesChannel(d, lane.active));
          if (!delivery) break;
          lane.active.set(delivery.id, delivery);
          void this.#deliver(name, lane, delivery);
        }
      } while (lane.again && !this.#closed);
    } catch (err) {
      // The lane is picked up again at its next push or completion.
      logger.error({ err, lane: name }, 'webhook queue failed');
    } finally {
      lane.pumping = false;
      if (lane.active.size === 0) this.#lanes.delete(name);
      this.#changed();
    }
  }

  /** Tells the debug console of the app how an attempt went, while someone watches it. */
  #report(delivery: WebhookDelivery, outcome: PostOutcome): void {
    const feed = this.#options.debugFeed;
    const ns = feed && namespaceOf(delivery.appId);
    if (!ns || !feed.watched(ns)) return;
    const { url, body } = delivery;
    const base = { url, data: body, ...(outcome.status !== undefined ? { status: outcome.status } : {}) };
    if (outcome.ok) feed.report(ns, { type: 'webhook_sent', ...base });
    else feed.report(ns, { type: 'webhook_failed', ...base, error: outcome.error });
  }

  async #deliver(name: string, lane: LaneState, delivery: WebhookDelivery): Promise<void> {
    const { post, logger, timeoutMs, retryForMs, retryBaseDelayMs, retryMaxDelayMs, queue } = this.#options;
    const log = { url: delivery.url, appId: delivery.appId, events: delivery.events, id: delivery.id };
    const app = this.#app(delivery.appId);
    try {
      for (let attempt = 1; ; attempt++) {
        const outcome = await post(delivery, timeoutMs, this.#abort.signal);
        this.#report(delivery, outcome);
        if (outcome.ok) {
          this.stats.delivered++;
          app.delivered++;
          return;
        }
        this.stats.failedAttempts++;
        if (this.#closed) {
          this.stats.dropped++;
          app.failures++;
          return;
        }
        const wait = retryDelayMs(attempt, retryBaseDelayMs, retryMaxDelayMs, this.#options.random);
        if (Date.now() + wait - delivery.queuedAt > retryForMs) {
          this.stats.dropped++;
          app.failures++;
          logger.error(
            { ...log, attempts: attempt, error: outcome.error },
            'webhook dropped: retries exhausted',
          );
          return;
        }
        logger.warn({ ...log, attempt, error: outcome.error, retryInMs: wait }, 'webhook attempt failed');
        await this.#sleep(wait);
        if (this.#closed) {
          this.stats.dropped++;
          app.failures++;
          return;
        }
        app.retries++;
      }
    } catch (err) {
      this.stats.dropped++;
      app.failures++;
      logger.error({ ...log, err }, 'webhook dropped: delivery failed');
    } finally {
      lane.active.delete(delivery.id);
      await queue.done(delivery).catch((err: unknown) => {
        logger.error({ err, ...log }, 'webhook could not be removed from the queue');
      });
      if (!this.#closed) this.#pump(name);
      this.#changed();
    }
  }

  #app(appId: string): AppWebhookStats {
    let stats = this.appStats.get(appId);
    if (!stats) {
      stats = { delivered: 0, retries: 0, failures: 0 };
      this.appStats.set(appId, stats);
    }
    return stats;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleep = {
        timer: setTimeout(() => {
          this.#sleeps.delete(sleep);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.#sleeps.add(sleep);
    });
  }

  #shed(delivery: WebhookDelivery, reason: string): void {
    this.stats.shed++;
    this.#shedUnlogged++;
    const now = performance.now();
    if (now - this.#shedLoggedAt < LOSS_LOG_INTERVAL_MS) return;
    this.#shedLoggedAt = now;
    this.#options.logger.error(
      { url: delivery.url, appId: delivery.appId, shed: this.#shedUnlogged, reason },
      'webhooks shed',
    );
    this.#shedUnlogged = 0;
  }

  async #idle(): Promise<boolean> {
    if (this.#pushing > 0) return false;
    for (const lane of this.#lanes.values()) if (lane.pumping || lane.active.size > 0) return false;
    // Once closed, what is still queued is abandoned (and was counted by close()).
    return this.#closed || (await this.#options.queue.size()) === 0;
  }

  #changed(): void {
    const waiters = this.#progress;
    this.#progress = [];
    for (const wake of waiters) wake();
  }
}

function sharesChannel(delivery: WebhookDelivery, active: ReadonlyMap<string, WebhookDelivery>): boolean {
  for (const other of active.values()) {
    for (const channel of delivery.channels) if (other.channels.includes(channel)) return true;
  }
  return false;
}
