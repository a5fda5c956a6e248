/*
 * The webhook outbox contract, and the events and requests its entries hold, live in core/ so that
 * both sides import them from here: webhooks/ (which makes, writes and adopts the entries) and
 * adapters/ (whose Redis and NATS stores keep them). Neither side imports the other.
 */

/**
 * What a webhook request carries (Pusher docs, Webhooks, "Events"; docs/webhooks.md, "Events"). Field
 * names are the wire's: receivers and the `pusher` SDKs read them as they are.
 */
export type WebhookEvent =
  | { name: 'channel_occupied' | 'channel_vacated' | 'cache_miss'; channel: string }
  | { name: 'member_added' | 'member_removed'; channel: string; user_id: string }
  | {
      name: 'client_event';
      channel: string;
      event: string;
      data: string;
      socket_id: string;
      /** Only on presence channels. */
      user_id?: string;
    }
  | { name: 'subscription_count'; channel: string; subscription_count: number };

/** An event and when it happened (ms since the epoch). */
export interface TimedEvent {
  event: WebhookEvent;
  timeMs: number;
}

/**
 * One webhook request waiting to be delivered. Plain JSON, so that a queue shared by a cluster can
 * store it as it is.
 */
export interface WebhookDelivery {
  /** Unique per delivery; names it in logs and acknowledgements. */
  id: string;
  /** One app's webhook URL: deliveries of a lane start in the order they were pushed. */
  lane: string;
  appId: string;
  url: string;
  /** Complete request headers, signature included. */
  headers: Record<string, string>;
  /** The exact signed body. */
  body: string;
  /** Channels the body names; deliveries of a lane that share one are never in flight together. */
  channels: string[];
  /** How many events the body holds. */
  events: number;
  /** When it was queued (ms since the epoch); retries end `retryForMs` after it. */
  queuedAt: number;
}

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
