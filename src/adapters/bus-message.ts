import type { Logger } from 'pino';
import type { Namespace, NodeId } from './adapter.js';
import { MalformedBusMessage } from './bus-payload.js';

/** Messages on the bus; short keys because channel messages cross it once per publish. */
export type BusMessage =
  | { t: 'msg'; n: NodeId; ns: string; ch: string; d: string; x?: string; s?: BusStream | null }
  | { t: 'hb'; n: NodeId }
  | { t: 'bye'; n: NodeId; h?: number }
  | { t: 'req'; n: NodeId; id: string; op: string; p: unknown }
  | { t: 'cast'; n: NodeId; op: string; p: unknown }
  | { t: 'res'; n: NodeId; id: string; r: unknown };

/**
 * A channel event's position in its stream (docs/recovery.md): epoch and offset, or null on a `msg`
 * whose stream could not record it.
 */
export interface BusStream {
  e: string;
  o: number;
}

/** Epochs are short ids; anything much longer is not one of ours. */
const MAX_EPOCH_LENGTH = 64;

/** A stream position as nodes send it: null, or an epoch and an offset from 1. */
function isBusStream(value: unknown): value is BusStream | null {
  if (value === null) return true;
  if (typeof value !== 'object' || Array.isArray(value)) return false;
  const { e, o } = value as Record<string, unknown>;
  return (
    typeof e === 'string' &&
    e !== '' &&
    e.length <= MAX_EPOCH_LENGTH &&
    Number.isSafeInteger(o) &&
    (o as number) >= 1
  );
}

/** Sends one message to one topic (the adapter serialises it and hands it to the broker). */
export type SendBusMessage = (topic: string, message: BusMessage) => Promise<void>;

/** The topics of one cluster: every node of it shares `prefix`. */
export class BusTopics {
  /** Every node listens here: heartbeats, goodbyes, requests and broadcasts. */
  readonly all: string;

  constructor(readonly prefix: string) {
    this.all = `${prefix}.all`;
  }

  /** One node listens here: answers to its requests, greetings. */
  node(node: NodeId): string {
    return `${this.prefix}.node.${node}`;
  }

  /** Channel names may hold characters brokers treat specially ('.', '*'); base64url keeps topics plain. */
  channel(namespace: Namespace, channel: string): string {
    return `${this.prefix}.ch.${Buffer.from(`${namespace}\0${channel}`).toString('base64url')}`;
  }
}

const TYPES = new Set(['msg', 'hb', 'bye', 'req', 'cast', 'res']);
/** Node and request ids are UUIDs; anything much longer is not one of ours. */
const MAX_ID_LENGTH = 128;

/** What a node id may be made of (see `parseBusMessage`). */
const NODE_ID = /^[A-Za-z0-9_-]+$/;

/**
 * A node id as nodes make them: a node id becomes part of broker subjects and keys, so only the
 * characters of a UUID and not much longer.
 */
export function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_ID_LENGTH && NODE_ID.test(value);
}

/** Only plain JSON of the expected shape crosses the bus; anything else is refused. */
export function parseBusMessage(payload: string): BusMessage {
  const m = JSON.parse(payload) as unknown;
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new Error('not a cluster message');
  const f = m as Record<string, unknown>;
  const id = (k: string) => typeof f[k] === 'string' && f[k] !== '' && f[k].length <= MAX_ID_LENGTH;
  if (!TYPES.has(f.t as string) || !id('n')) throw new Error('not a cluster message');
  // A node id becomes part of broker subjects and keys (its own topic, its presence and outbox entries):
  // only the characters a node's own id (a UUID) is made of, so that a forged one cannot name others.
  if (!isNodeId(f.n)) throw new Error('malformed node id');
  const str = (k: string) => typeof f[k] === 'string';
  const ok =
    f.t === 'msg'
      ? str('ns') &&
        str('ch') &&
        str('d') &&
        (f.x === undefined || str('x')) &&
        (f.s === undefined || isBusStream(f.s))
      : f.t === 'req'
        ? id('id') && str('op')
        : f.t === 'cast'
          ? str('op')
          : f.t === 'res'
            ? id('id')
            : f.t === 'bye'
              ? f.h === undefined || typeof f.h === 'number'
              : true;
  if (!ok) throw new Error(`malformed ${String(f.t)} message`);
  return f as unknown as BusMessage;
}

/** Logs a message from the bus that could not be used: at warn when malformed, else as a failure. */
export function logDropped(
  logger: Logger,
  err: unknown,
  topic: string,
  context: Record<string, unknown>,
): void {
  if (err instanceof MalformedBusMessage) {
    logger.warn({ topic, ...context, reason: err.message }, 'malformed cluster message dropped');
  } else {
    logger.error({ err, topic, ...context }, 'cluster message failed');
  }
}
