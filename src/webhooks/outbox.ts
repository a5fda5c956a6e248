import type { Logger } from 'pino';
import type { TimedEvent } from './payload.js';
import type { WebhookDelivery, WebhookQueue } from './queue.js';

/** What a node still owes the receivers: a removal it holds back, or a request not yet delivered. */
export type OutboxEntry =
  | {
      kind: 'held';
      /** The removal's key in the vacate delay (`<appId>\n<channel>[\n<userId>]`). */
      key: string;
      appId: string;
      event: TimedEvent;
      /** When it is due (ms since the epoch). */
      dueAt: number;
    }
  | { kind: 'delivery'; delivery: WebhookDelivery };

/**
 * Each node's webhook debts, kept in the cluster's broker so that they outlive the node: when a node
 * dies, one survivor takes over what it left, sends the removals when they are due and delivers the
 * requests (so a request may reach its receiver twice, never not at all).
 */
export interface WebhookOutbox {
  /** Records an entry of this node under `id` (a removal's key, a delivery's id). */
  put(id: string, entry: OutboxEntry): Promise<void>;
  /** Forgets one of this node's entries. */
  remove(id: string): Promise<void>;
  /** Forgets every entry of this node (it stops with nothing left to hand over). */
  clear(): Promise<void>;
  /** Takes every entry `nodeId` left; across concurrent callers, each entry goes to one of them. */
  takeOver(nodeId: string): Promise<OutboxEntry[]>;
  close(): Promise<void>;
}

/** An outbox entry read back from the broker; undefined when it is not one. */
export function parseOutboxEntry(text: string): OutboxEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const entry = value as Record<string, unknown>;
  if (entry.kind === 'held') {
    const event = entry.event as Record<string, unknown> | null;
    const ok =
      typeof entry.key === 'string' &&
      typeof entry.appId === 'string' &&
      typeof entry.dueAt === 'number' &&
      event !== null &&
      typeof event === 'object' &&
      typeof event.timeMs === 'number' &&
      typeof (event.event as { name?: unknown } | null)?.name === 'string';
    return ok ? (entry as OutboxEntry) : undefined;
  }
  if (entry.kind === 'delivery') {
    const d = entry.delivery as Record<string, unknown> | null;
    const ok =
      d !== null &&
      typeof d === 'object' &&
      typeof d.id === 'string' &&
      typeof d.lane === 'string' &&
      typeof d.url === 'string' &&
      typeof d.body === 'string' &&
      Array.isArray(d.channels);
    return ok ? (entry as OutboxEntry) : undefined;
  }
  return undefined;
}

/** A queue that also records each delivery in the outbox until it is done with. */
export class JournaledQueue implements WebhookQueue {
  readonly #inner: WebhookQueue;
  readonly #outbox: WebhookOutbox;
  readonly #logger: Logger;

  constructor(inner: WebhookQueue, outbox: WebhookOutbox, logger: Logger) {
    this.#inner = inner;
    this.#outbox = outbox;
    this.#logger = logger;
  }

  async push(delivery: WebhookDelivery): Promise<boolean> {
    if (!(await this.#inner.push(delivery))) return false;
    // Not awaited: the broker keeps one connection's writes in order, so the removal never passes it.
    this.#outbox.put(delivery.id, { kind: 'delivery', delivery }).catch((err) => {
      this.#logger.warn({ err, id: delivery.id }, 'webhook not recorded in the outbox');
    });
    return true;
  }

  take(lane: string, accept?: (delivery: WebhookDelivery) => boolean): Promise<WebhookDelivery | undefined> {
    return this.#inner.take(lane, accept);
  }

  async done(delivery: WebhookDelivery): Promise<void> {
    await this.#inner.done(delivery);
    this.#outbox.remove(delivery.id).catch((err) => {
      this.#logger.warn({ err, id: delivery.id }, 'webhook not removed from the outbox');
    });
  }

  size(lane?: string): Promise<number> {
    return this.#inner.size(lane);
  }
}
