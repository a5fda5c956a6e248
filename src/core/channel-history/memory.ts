import { randomBytes } from 'node:crypto';
import type {
  ChannelHistory,
  HistoryEvent,
  HistoryPage,
  NewEvent,
  ReadAfter,
  StreamLimits,
  StreamPosition,
} from './store.js';

/** A new epoch: 12 characters of base64url from a CSPRNG, unique for every stream ever begun. */
export function newEpoch(): string {
  return randomBytes(9).toString('base64url');
}

/** One channel's stream: its events oldest first from `head`, with when each was appended. */
interface Stream {
  readonly epoch: string;
  /** The newest offset. */
  top: number;
  /** Kept events are `events[head…]`; the dropped ones before `head` are cleared in batches. */
  events: HistoryEvent[];
  appendedAt: number[];
  head: number;
  limits: StreamLimits;
  lastAppend: number;
}

interface KeptState {
  readonly state: unknown;
  readonly expiresAt: number;
}

/**
 * Streams and resume states in this process, for a single node. Expired events and streams are
 * dropped when a stream is touched and by a sweep once a minute, so that a channel nobody publishes to
 * any more gives its memory back.
 */
export class MemoryChannelHistory implements ChannelHistory {
  readonly #streams = new Map<string, Stream>();
  readonly #states = new Map<string, KeptState>();
  readonly #now: () => number;
  readonly #sweep: NodeJS.Timeout;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#sweep = setInterval(() => this.#dropExpired(), 60_000);
    this.#sweep.unref();
  }

  async append(
    namespace: string,
    channel: string,
    event: NewEvent,
    limits: StreamLimits,
  ): Promise<StreamPosition> {
    const key = `${namespace}\0${channel}`;
    const now = this.#now();
    let stream = this.#live(key, now);
    if (!stream) {
      stream = { epoch: newEpoch(), top: 0, events: [], appendedAt: [], head: 0, limits, lastAppend: now };
      this.#streams.set(key, stream);
    }
    const offset = ++stream.top;
    stream.events.push(event.except === undefined ? { offset, text: event.text } : { offset, ...event });
    stream.appendedAt.push(now);
    stream.limits = limits;
    stream.lastAppend = now;
    const over = stream.events.length - stream.head - limits.maxEvents;
    if (over > 0) drop(stream, over);
    return { epoch: stream.epoch, offset };
  }

  async read(namespace: string, channel: string, after: ReadAfter, limit: number): Promise<HistoryPage> {
    const stream = this.#live(`${namespace}\0${channel}`, this.#now());
    if (!stream) {
      // No stream: only a read from the very beginning knows that nothing was lost.
      return { position: undefined, events: [], complete: after.epoch === undefined && after.offset === 0 };
    }
    const position = { epoch: stream.epoch, offset: stream.top };
    const oldest = stream.head < stream.events.length ? stream.events[stream.head]!.offset : stream.top + 1;
    const known = (after.epoch === undefined || after.epoch === stream.epoch) && after.offset <= stream.top;
    // Everything after `after` is kept when the oldest kept event comes right after it, or earlier.
    const complete = known && after.offset >= oldest - 1;
    const from = complete ? after.offset + 1 : oldest;
    const start = stream.head + (from - oldest);
    const events = stream.events.slice(start, start + Math.max(1, limit));
    return { position, events, complete };
  }

  async position(namespace: string, channel: string): Promise<StreamPosition | undefined> {
    const stream = this.#live(`${namespace}\0${channel}`, this.#now());
    return stream && { epoch: stream.epoch, offset: stream.top };
  }

  async saveResumeState(namespace: string, token: string, state: unknown, ttlMs: number): Promise<void> {
    this.#states.set(`${namespace}\0${token}`, { state, expiresAt: this.#now() + ttlMs });
  }

  async takeResumeState(namespace: string, token: string): Promise<unknown> {
    const key = `${namespace}\0${token}`;
    const kept = this.#states.get(key);
    if (!kept) return undefined;
    this.#states.delete(key);
    return kept.expiresAt > this.#now() ? kept.state : undefined;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
  }

  /** The stream under `key` with its expired events dropped; undefined (and forgotten) once it expired. */
  #live(key: string, now: number): Stream | undefined {
    const stream = this.#streams.get(key);
    if (!stream) return undefined;
    const { ttlMs, streamTtlMs } = stream.limits;
    if (now - stream.lastAppend >= Math.max(ttlMs, streamTtlMs)) {
      this.#streams.delete(key);
      return undefined;
    }
    let expired = 0;
    const kept = stream.events.length - stream.head;
    while (expired < kept && now - stream.appendedAt[stream.head + expired]! >= ttlMs) expired++;
    if (expired > 0) drop(stream, expired);
    return stream;
  }

  #dropExpired(): void {
    const now = this.#now();
    for (const key of this.#streams.keys()) this.#live(key, now);
    for (const [key, kept] of this.#states) if (kept.expiresAt <= now) this.#states.delete(key);
  }
}

/** Drops the `count` oldest kept events; the arrays are compacted once half of them is dropped ones. */
function drop(stream: Stream, count: number): void {
  stream.head += count;
  if (stream.head * 2 >= stream.events.length) {
    stream.events = stream.events.slice(stream.head);
    stream.appendedAt = stream.appendedAt.slice(stream.head);
    stream.head = 0;
  }
}
