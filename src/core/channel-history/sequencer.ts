import type { HistoryEvent, HistoryPage, StreamPosition } from './store.js';

/**
 * Puts the events of channel streams back in offset order on one node (docs/recovery.md, "Clusters"):
 * events published through different nodes reach a node in any order, and one the broker lost never
 * does. Pure: no timers, no I/O. The caller offers each event as it arrives and delivers what comes
 * back; when a channel waits for missing offsets it is told so, waits a little (`'wait'`) or not at all
 * (`'read'`), then reads them from the store after `gap` and hands the page to `filled`.
 *
 * Memory is bounded: at most `maxHeld` events held per channel and `maxChannels` channels holding
 * any. An event past either is not held but read from the store with the missing ones.
 */
export class StreamSequencer<E> {
  readonly #limits: SequencerLimits;
  readonly #channels = new Map<string, ChannelOrder<E>>();
  /** Channels holding at least one event. */
  #holding = 0;

  constructor(limits: SequencerLimits) {
    this.#limits = limits;
  }

  /** Whether the channel's order has a beginning (`begin`, or its stream's first event). */
  begun(key: string): boolean {
    return this.#channels.get(key)?.next !== undefined;
  }

  /** Channels ordered now (each forgotten when its node no longer delivers it). */
  get size(): number {
    return this.#channels.size;
  }

  /**
   * Where the channel's order begins when it has none yet: events at or before `position` are past
   * (undefined: the channel had no stream, its first event is offset 1 of any epoch). A channel that
   * has its order keeps it.
   */
  begin(key: string, position: StreamPosition | undefined): Release<E> {
    const order = this.#order(key);
    if (order.next !== undefined) return NOTHING;
    order.epoch = position?.epoch;
    order.next = (position?.offset ?? 0) + 1;
    return this.#release(order);
  }

  /** An event as it arrived: what may be delivered now, in offset order. */
  offer(key: string, position: StreamPosition, event: E): Release<E> {
    const order = this.#order(key);
    if (order.epoch === undefined) order.epoch = position.epoch;
    if (position.epoch !== order.epoch) {
      if (position.epoch === order.past) return NOTHING; // late, of a stream begun anew since
      // The stream began anew: its offsets count from 1 again, and what was held of the old one is gone.
      this.#renew(order, position.epoch);
    }
    if (order.next !== undefined && position.offset < order.next) return NOTHING; // delivered already
    order.newest = Math.max(order.newest, position.offset);
    if (order.next === undefined && position.offset === 1) order.next = 1; // the stream's first event
    if (order.next === position.offset) {
      const deliver = [event];
      order.next++;
      this.#unhold(order, position.offset);
      return this.#release(order, deliver);
    }
    // Early, or the order has no beginning yet: held until those before it come (or `begin`), or the
    // wait ends and the store fills the gap.
    this.#hold(order, position.offset, event);
    return { deliver: [], missing: order.held.has(position.offset) ? 'wait' : 'read' };
  }

  /**
   * The missing events to read from the store: after `after` of `epoch`, at most `limit`; undefined
   * when the channel misses nothing (or has no beginning yet: `settle` it).
   */
  gap(key: string): { epoch: string | undefined; after: number; limit: number } | undefined {
    const order = this.#channels.get(key);
    if (order?.next === undefined || order.newest < order.next) return undefined;
    return { epoch: order.epoch, after: order.next - 1, limit: order.newest - order.next + 1 };
  }

  /**
   * A page read from the store after `gap(key)`: its events fill the gap. When events were lost
   * (not `complete`), or the store had none of those missing, the channel goes on from what it has.
   */
  filled(key: string, page: HistoryPage, toEvent: (event: HistoryEvent, epoch: string) => E): Release<E> {
    const order = this.#channels.get(key);
    if (order?.next === undefined || page.position === undefined) return this.#skip(order);
    const epoch = page.position.epoch;
    if (order.epoch !== epoch) {
      if (epoch === order.past) return this.#skip(order);
      this.#renew(order, epoch);
    }
    const deliver: E[] = [];
    const first = page.events[0]?.offset;
    if (!page.complete && first !== undefined && first > order.next) this.#skipTo(order, first);
    for (const event of page.events) {
      if (event.offset !== order.next) continue;
      deliver.push(toEvent(event, epoch));
      this.#unhold(order, event.offset);
      order.next++;
    }
    const release = this.#release(order, deliver);
    if (release.missing === undefined || page.events.length > 0) return release;
    // The store has none of the missing events (expired, or never recorded): go on from what is held.
    return this.#mergeSkip(order, release.deliver);
  }

  /**
   * A channel that waited without a beginning, or whose missing events could not be read: goes on
   * from the oldest event it holds.
   */
  settle(key: string): Release<E> {
    return this.#skip(this.#channels.get(key));
  }

  /** The node no longer delivers the channel (no subscriber left): its order and held events go. */
  forget(key: string): void {
    const order = this.#channels.get(key);
    if (!order) return;
    if (order.held.size > 0) this.#holding--;
    this.#channels.delete(key);
  }

  #order(key: string): ChannelOrder<E> {
    let order = this.#channels.get(key);
    if (!order) {
      order = { epoch: undefined, past: undefined, next: undefined, newest: 0, held: new Map() };
      this.#channels.set(key, order);
    }
    return order;
  }

  #renew(order: ChannelOrder<E>, epoch: string): void {
    order.past = order.epoch;
    order.epoch = epoch;
    order.next = 1;
    order.newest = 0;
    if (order.held.size > 0) this.#holding--;
    order.held.clear();
  }

  #hold(order: ChannelOrder<E>, offset: number, event: E): void {
    if (order.held.has(offset)) return;
    if (order.held.size >= this.#limits.maxHeld) return;
    if (order.held.size === 0) {
      if (this.#holding >= this.#limits.maxChannels) return;
      this.#holding++;
    }
    order.held.set(offset, event);
  }

  #unhold(order: ChannelOrder<E>, offset: number): void {
    if (order.held.delete(offset) && order.held.size === 0) this.#holding--;
  }

  /** Delivers the held events that follow on; says whether some are still missing. */
  #release(order: ChannelOrder<E>, deliver: E[] = []): Release<E> {
    if (order.next === undefined) return { deliver, missing: order.newest > 0 ? 'wait' : undefined };
    // Held events the beginning covers are past.
    if (order.held.size > 0) {
      for (const offset of order.held.keys()) if (offset < order.next) this.#unhold(order, offset);
    }
    for (let event = order.held.get(order.next); event !== undefined; event = order.held.get(order.next)) {
      deliver.push(event);
      this.#unhold(order, order.next);
      order.next++;
    }
    if (order.newest < order.next) return { deliver };
    return { deliver, missing: order.held.size > 0 ? 'wait' : 'read' };
  }

  /** Goes on from the oldest event held (or past everything seen when none is). */
  #skip(order: ChannelOrder<E> | undefined): Release<E> {
    if (!order) return NOTHING;
    return this.#mergeSkip(order, []);
  }

  #mergeSkip(order: ChannelOrder<E>, deliver: E[]): Release<E> {
    const oldest = order.held.size > 0 ? Math.min(...order.held.keys()) : order.newest + 1;
    this.#skipTo(order, oldest);
    return this.#release(order, deliver);
  }

  #skipTo(order: ChannelOrder<E>, offset: number): void {
    if (order.next === undefined || offset > order.next) order.next = offset;
  }
}

export interface SequencerLimits {
  /** Events held per channel while the ones before them are missing. */
  readonly maxHeld: number;
  /** Channels holding events at once. */
  readonly maxChannels: number;
}

/** What an offer gives back. */
export interface Release<E> {
  /** Events to deliver now, in offset order. */
  readonly deliver: E[];
  /**
   * Set when the channel misses events before some it has seen: `'wait'` a little for them to arrive
   * (then `gap` and the store, or `settle` without a beginning), `'read'` them from the store at once
   * (events were not held: past the limits).
   */
  readonly missing?: 'wait' | 'read';
}

const NOTHING: Release<never> = { deliver: [] };

interface ChannelOrder<E> {
  /** The stream's epoch; undefined until known. */
  epoch: string | undefined;
  /** The epoch before the stream began anew: its late events are dropped. */
  past: string | undefined;
  /** The offset to deliver next; undefined until the order has a beginning. */
  next: number | undefined;
  /** The newest offset seen. */
  newest: number;
  held: Map<number, E>;
}
