import type { TimedEvent } from '../webhooks/payload.js';
import type { WebhookDelivery } from '../webhooks/queue.js';

/*
 * The webhook outbox contract lives in core/ so that both sides import it from here: webhooks/ (which
 * writes and adopts the entries) and adapters/ (whose Redis and NATS stores keep them). The broker
 * homes under adapters/ never import webhooks/; the two type imports above are erased at build time.
 */

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
