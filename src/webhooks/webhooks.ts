import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { WebhooksConfig } from '../config/schema.js';
import type { App } from '../core/apps/app.js';
import type { DebugFeed } from '../core/debug-feed.js';
import { KeyedChain } from '../core/keyed-chain.js';
import type { OutboxEntry, TimedEvent, WebhookEvent, WebhookOutbox } from '../core/webhook-outbox.js';
import type { ChannelEvents, ClientEventRecord } from '../protocol/pusher/events.js';
import { Batcher } from './batcher.js';
import { RemovalDelay } from './delay.js';
import { type AppWebhookStats, WebhookDispatcher, type WebhookStats } from './dispatcher.js';
import { JournaledQueue } from './outbox.js';
import { encodeWebhookBody } from './payload.js';
import { MemoryWebhookQueue, type WebhookQueue } from './queue.js';
import { httpPoster, type PostWebhook } from './sender.js';
import { webhookHeaders } from './signer.js';

export interface WebhooksOptions {
  config: WebhooksConfig;
  logger: Logger;
  /** Stamps `time_ms` (ms since the epoch). @default Date.now */
  now?: () => number;
  /** @default a MemoryWebhookQueue bounded by `config.maxQueued` */
  queue?: WebhookQueue;
  /** Makes one HTTP attempt. @default fetch with `config.timeoutMs` */
  post?: PostWebhook;
  /** Jitter source for retry delays. @default Math.random */
  random?: () => number;
  /** Where each delivery attempt is reported for the debug console. */
  debugFeed?: DebugFeed;
  /**
   * In a cluster: asks the other nodes to drop a removal they hold for the channel (or, with a user
   * id, for that member) and resolves true when one did. Then the re-add is not reported either: a
   * client that left one node and came back on another within the delay is invisible to the receiver.
   */
  cancelElsewhere?: (appId: string, channel: string, userId: string | undefined) => Promise<boolean>;
  /**
   * In a cluster: where this node records the removals it holds and the requests it has not delivered
   * yet, for a survivor to take over (`adopt`) if this node dies.
   */
  outbox?: WebhookOutbox;
}

type AppWebhook = App['webhooks'][number];

interface Pending {
  app: App;
  hook: AppWebhook;
  event: TimedEvent;
}

/**
 * Webhooks as Pusher sends them (Pusher docs, Webhooks; docs/webhooks.md). The protocol reports what
 * happens on channels; this holds back removals for `vacateDelayMs` (dropping them with the matching
 * re-add when the channel or member comes back), de-duplicates `cache_miss`, routes each event to the
 * app's webhooks whose `events` and `filter` want it, batches for apps with `batchWebhooks`, signs,
 * and hands the requests to the dispatcher, which delivers and retries them without holding up
 * anything else.
 *
 * Reports never throw and never wait. `flush()` at shutdown sends what is pending within a bound.
 */
export class Webhooks implements ChannelEvents {
  readonly #config: WebhooksConfig;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #delay: RemovalDelay;
  readonly #batcher: Batcher<Pending>;
  readonly #dispatcher: WebhookDispatcher;
  /** `<appId>\n<channel>` → monotonic time of its last `cache_miss`, oldest first. */
  readonly #cacheMisses = new Map<string, number>();
  readonly #cancelElsewhere: WebhooksOptions['cancelElsewhere'];
  /** `<appId>\n<channel>` → its occupancy and membership reports, handled one after another. */
  readonly #channelOrder = new KeyedChain();
  #flushing = false;
  #closed = false;
  #flushed: Promise<void> | undefined;

  constructor(options: WebhooksOptions) {
    const { config, logger } = options;
    this.#config = config;
    this.#logger = logger;
    this.#now = options.now ?? Date.now;
    this.#cancelElsewhere = config.vacateDelayMs > 0 ? options.cancelElsewhere : undefined;
    const { outbox } = options;
    const journal = outbox && {
      held: (key: string, app: App, event: TimedEvent, dueAt: number) => {
        outbox.put(key, { kind: 'held', key, appId: app.id, event, dueAt }).catch((err) => {
          logger.warn({ err, key }, 'held removal not recorded in the outbox');
        });
      },
      gone: (key: string) => {
        outbox.remove(key).catch((err) => logger.warn({ err, key }, 'removal not cleared from the outbox'));
      },
    };
    this.#delay = new RemovalDelay(config.vacateDelayMs, (app, event) => this.#route(app, event), journal);
    const memoryQueue = new MemoryWebhookQueue({ maxQueued: config.maxQueued });
    this.#batcher = new Batcher({
      windowMs: config.batchWindowMs,
      maxItems: config.maxBatchEvents,
      emit: (lane, items) => this.#send(lane, items),
    });
    this.#dispatcher = new WebhookDispatcher({
      queue: options.queue ?? (outbox ? new JournaledQueue(memoryQueue, outbox, logger) : memoryQueue),
      post: options.post ?? httpPoster(logger),
      logger,
      timeoutMs: config.timeoutMs,
      retryForMs: config.retryForMs,
      retryBaseDelayMs: config.retryBaseDelayMs,
      retryMaxDelayMs: config.retryMaxDelayMs,
      concurrency: config.concurrency,
      ...(options.random ? { random: options.random } : {}),
      ...(options.debugFeed ? { debugFeed: options.debugFeed } : {}),
    });
  }

  /** Delivery counters since start. */
  get stats(): Readonly<WebhookStats> {
    return { ...this.#dispatcher.stats };
  }

  /** Delivery counters since start by app id, read at each scrape of the metrics. */
  get appStats(): ReadonlyMap<string, Readonly<AppWebhookStats>> {
    return this.#dispatcher.appStats;
  }

  channelOccupied(app: App, channel: string): void {
    if (!this.#wanted(app)) return;
    this.#inOrder(app, channel, async () => {
      if (this.#delay.channelOccupied(app.id, channel)) return;
      if (this.#cancelElsewhere && (await this.#cancelElsewhere(app.id, channel, undefined))) return;
      this.#emit(app, { name: 'channel_occupied', channel });
    });
  }

  channelVacated(app: App, channel: string): void {
    if (!this.#wanted(app)) return;
    this.#inOrder(app, channel, () => {
      if (this.#flushing || this.#config.vacateDelayMs === 0) {
        return this.#emit(app, { name: 'channel_vacated', channel });
      }
      this.#delay.channelVacated(app, channel, this.#now());
    });
  }

  memberAdded(app: App, channel: string, userId: string): void {
    if (!this.#wanted(app)) return;
    this.#inOrder(app, channel, async () => {
      if (this.#delay.memberAdded(app.id, channel, userId)) return;
      if (this.#cancelElsewhere && (await this.#cancelElsewhere(app.id, channel, userId))) return;
      this.#emit(app, { name: 'member_added', channel, user_id: userId });
    });
  }

  memberRemoved(app: App, channel: string, userId: string): void {
    if (!this.#wanted(app)) return;
    this.#inOrder(app, channel, () => {
      if (this.#flushing || this.#config.vacateDelayMs === 0) {
        return this.#emit(app, { name: 'member_removed', channel, user_id: userId });
      }
      this.#delay.memberRemoved(app, channel, userId, this.#now());
    });
  }

  /**
   * Another node's `cancelElsewhere`: drops the removal held here for the channel (or the member), if
   * any; true when one was dropped.
   */
  cancelHeld(appId: string, channel: string, userId: string | undefined): boolean {
    return userId === undefined
      ? this.#delay.channelOccupied(appId, channel)
      : this.#delay.memberAdded(appId, channel, userId);
  }

  /**
   * Takes on what a dead node left in its outbox: its held removals, due when they were due there
   * (sent at once when that is past), and its undelivered requests, queued here as they were.
   */
  async adopt(
    entries: readonly OutboxEntry[],
    findApp: (id: string) => Promise<App | undefined>,
  ): Promise<void> {
    // In the order the dead node made them: its requests as it queued them, its removals as they fall due.
    const order = (e: OutboxEntry) => (e.kind === 'delivery' ? e.delivery.queuedAt : e.dueAt);
    for (const entry of [...entries].sort((a, b) => order(a) - order(b))) {
      if (this.#closed) return;
      if (entry.kind === 'delivery') {
        await this.#dispatcher.enqueue(entry.delivery);
        continue;
      }
      const app = await findApp(entry.appId);
      if (!app) continue; // the app is gone: nobody to report to
      this.#delay.adopt(entry.key, app, entry.event, entry.dueAt - Date.now());
    }
  }

  clientEvent(app: App, record: ClientEventRecord): void {
    if (!this.#wanted(app)) return;
    this.#emit(app, {
      name: 'client_event',
      channel: record.channel,
      event: record.event,
      data: record.data,
      socket_id: record.socketId,
      ...(record.userId !== undefined ? { user_id: record.userId } : {}),
    });
  }

  /**
   * Many subscribers finding the same channel empty make one `cache_miss` per `cacheMissIntervalMs`:
   * the app needs to fill the cache once, not once per subscriber (Pusher docs, Cache channels,
   * "cache_miss webhook event"; docs/webhooks.md, "Events").
   */
  cacheMiss(app: App, channel: string): void {
    if (!this.#wanted(app)) return;
    const interval = this.#config.cacheMissIntervalMs;
    if (interval > 0) {
      const now = performance.now();
      for (const [key, at] of this.#cacheMisses) {
        if (now - at < interval) break;
        this.#cacheMisses.delete(key);
      }
      const key = `${app.id}\n${channel}`;
      if (this.#cacheMisses.has(key)) return;
      this.#cacheMisses.set(key, now);
    }
    this.#emit(app, { name: 'cache_miss', channel });
  }

  subscriptionCount(app: App, channel: string, count: number): void {
    if (!this.#wanted(app)) return;
    this.#emit(app, { name: 'subscription_count', channel, subscription_count: count });
  }

  /**
   * At shutdown: releases held removals and open batches at once, waits up to `timeoutMs` for every
   * request to be delivered, then stops; what is still undelivered is counted and logged as dropped.
   * Idempotent.
   */
  flush(timeoutMs: number = this.#config.flushTimeoutMs): Promise<void> {
    this.#flushed ??= this.#flush(timeoutMs);
    return this.#flushed;
  }

  async #flush(timeoutMs: number): Promise<void> {
    this.#flushing = true;
    const deadline = performance.now() + timeoutMs;
    // Connections closed just before may still be reporting their last unsubscriptions.
    await nextTurn();
    await this.#channelOrder.allSettled();
    do {
      this.#delay.releaseAll();
      this.#batcher.flush();
      if (!(await this.#dispatcher.drain(deadline - performance.now()))) break;
    } while (this.#delay.size > 0 || this.#batcher.size > 0);
    await this.close();
  }

  /** Stops at once: held and batched events are forgotten, delivery is abandoned (and counted). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#delay.close();
    this.#batcher.close();
    this.#cacheMisses.clear();
    await this.#dispatcher.close();
  }

  /**
   * Runs a channel's reports in the order they came. Without a cluster to ask, each runs at once;
   * with one, a report waits for the question before it, so `channel_occupied` precedes the
   * channel's first `member_added` and `member_removed` precedes `channel_vacated`.
   */
  #inOrder(app: App, channel: string, step: () => void | Promise<void>): void {
    const key = `${app.id}\n${channel}`;
    if (!this.#cancelElsewhere && !this.#channelOrder.has(key)) {
      void step();
      return;
    }
    this.#channelOrder.run(key, step).catch((err: unknown) => {
      this.#logger.error({ err, appId: app.id, channel }, 'webhook report failed');
    });
  }

  #wanted(app: App): boolean {
    return !this.#closed && app.webhooks.length > 0;
  }

  #emit(app: App, event: WebhookEvent): void {
    this.#route(app, { event, timeMs: this.#now() });
  }

  /** To every webhook of the app that wants the event, batched per app and webhook. */
  #route(app: App, event: TimedEvent): void {
    const { name, channel } = event.event;
    app.webhooks.forEach((hook, i) => {
      if (!hook.events.includes(name)) return;
      if (hook.filter && !channel.startsWith(hook.filter.channelPrefix)) return;
      this.#batcher.add(`${app.id}\n${i}\n${hook.url}`, { app, hook, event }, app.batchWebhooks);
    });
  }

  #send(lane: string, items: Pending[]): void {
    // The latest report carries the app's current secret and the webhook's current headers.
    const { app, hook } = items[items.length - 1]!;
    const body = encodeWebhookBody(items.map((p) => p.event));
    void this.#dispatcher.enqueue({
      id: randomUUID(),
      lane,
      appId: app.id,
      url: hook.url,
      headers: webhookHeaders(app, body, hook.headers),
      body,
      channels: [...new Set(items.map((p) => p.event.event.channel))],
      events: items.length,
      queuedAt: Date.now(),
    });
    this.#logger.trace({ url: hook.url, appId: app.id, events: items.length }, 'webhook queued');
  }
}
