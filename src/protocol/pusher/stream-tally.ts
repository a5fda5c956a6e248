import type { StreamPosition } from '../../core/channel-history/store.js';
import type { Frame } from '../../core/frame.js';

/**
 * What one connection was sent on one channel that keeps a stream (docs/recovery.md): the offsets of
 * the channel events it was sent since its subscription succeeded, in the order sent, so that the
 * number of them a client says it received maps to the offset it got to. Pure: no I/O.
 *
 * The offsets are kept as runs of consecutive offsets (a connection is usually sent every event of
 * the channel, so one run holds them all), and only the newest `window` of them: a client that missed
 * more than that many of the events it was sent missed more than the stream keeps anyway.
 */
export class StreamTally {
  /** The epoch the offsets belong to; null while the channel had no stream. */
  epoch: string | null = null;
  /** The offset before the first event counted under `epoch`. */
  base = 0;
  /** Events counted since the subscription succeeded (what the client counts too). */
  count = 0;
  /** Live events waiting while the subscription is being answered; undefined once live. */
  held: HeldEvent[] | undefined = [];
  /** Past `maxHeld`: the answer is no longer a recovery. */
  overflowed = false;
  /** Set when an event was sent without an offset (the store failed): no count maps to an offset. */
  lost = false;
  /** Counting began: the client was sent `subscription_succeeded`, and counts from it. */
  begun = false;
  /** `count` when counting began under `epoch` (0, or when a live event came with a new epoch). */
  #start = 0;
  /**
   * [first offset, length] pairs of the older runs of the offsets kept, oldest first, from `#head`;
   * the newest run is `#first`/`#length`, so that counting the next offset touches this object only.
   */
  #runs: number[] = [];
  #head = 0;
  #first = 0;
  /** 0 when no offset is kept. */
  #length = 0;
  /** Offsets kept, in `#runs` and the newest run. */
  #kept = 0;
  /** Counted under `epoch`, and no longer kept. */
  #dropped = 0;
  /** The newest offset no longer kept. */
  #lastDropped = 0;
  /** The offset of the newest event counted (`base` when none). */
  #last = 0;

  constructor(
    /** The most offsets kept. */
    readonly window: number,
  ) {}

  /** Begins counting at `position` (undefined: no stream yet), after the subscription's answer. */
  begin(position: StreamPosition | undefined): void {
    this.begun = true;
    this.epoch = position?.epoch ?? null;
    this.base = position?.offset ?? 0;
    this.#clear(this.count);
  }

  /** The offset of the newest event counted (`base` when none). */
  get last(): number {
    return this.#last;
  }

  /** Whether an event at `position` was counted already, or comes before the subscription. */
  covers(position: StreamPosition): boolean {
    return position.epoch === this.epoch && position.offset <= this.#last;
  }

  /**
   * Counts an event sent at `position` unless `covers` it: true when it was counted (and is to be
   * sent). The fan-out's step for each subscriber, so the common case (the next offset of the same
   * epoch) is a few comparisons.
   */
  take(position: StreamPosition): boolean {
    if (position.epoch === this.epoch) {
      if (position.offset <= this.#last) return false;
      this.#push(position.offset);
      return true;
    }
    this.record(position);
    return true;
  }

  /**
   * Counts an event sent at `position`. The channel's first stream continues the count begun without
   * one (its offsets come after 0); an event of another epoch begins counting anew under it, since
   * the counts before can no longer be mapped to its offsets.
   */
  record(position: StreamPosition): void {
    if (this.epoch === null) {
      this.epoch = position.epoch;
    } else if (position.epoch !== this.epoch) {
      this.epoch = position.epoch;
      this.base = 0;
      this.#clear(this.count);
    }
    this.#push(position.offset);
  }

  /** Counts an event that stands at `base` (the cache channel's last event, sent after subscribing). */
  recordAtBase(): void {
    this.#push(this.base);
  }

  /**
   * The offset of the `n`th event counted (n = 0: `base`), the position a client that received `n`
   * events got to; undefined when it cannot be told (more than were counted, before a new epoch,
   * older than the window, or events were sent without an offset).
   */
  offsetAt(n: number): number | undefined {
    if (this.lost || !Number.isSafeInteger(n) || n < this.#start || n > this.count) return undefined;
    let i = n - this.#start;
    if (i === 0) return this.base;
    if (i < this.#dropped) return undefined;
    if (i === this.#dropped) return this.#lastDropped;
    i -= this.#dropped;
    for (let r = this.#head; r < this.#runs.length; r += 2) {
      const length = this.#runs[r + 1]!;
      if (i <= length) return this.#runs[r]! + i - 1;
      i -= length;
    }
    return i <= this.#length ? this.#first + i - 1 : undefined;
  }

  /** Plain JSON, for a closed connection's resume state. */
  toJSON(): TallyState {
    return {
      epoch: this.epoch,
      base: this.base,
      start: this.#start,
      count: this.count,
      dropped: this.#dropped,
      lastDropped: this.#lastDropped,
      runs: this.#length > 0 ? [...this.#runs.slice(this.#head), this.#first, this.#length] : [],
      lost: this.lost,
    };
  }

  /** A tally from its `toJSON`, which came from a store: undefined when it is not one. */
  static fromJSON(value: unknown, window: number): StreamTally | undefined {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const v = value as Record<string, unknown>;
    const { epoch, base, start, count, dropped, lastDropped, runs, lost } = v;
    const whole = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
    if (!(epoch === null || (typeof epoch === 'string' && epoch.length <= 64))) return undefined;
    if (!whole(base) || !whole(start) || !whole(count) || !whole(dropped) || !whole(lastDropped))
      return undefined;
    if (typeof lost !== 'boolean' || !Array.isArray(runs) || runs.length % 2 !== 0) return undefined;
    if (runs.length > 2 * Math.max(window, 1) || !runs.every(whole)) return undefined;
    let kept = 0;
    for (let r = 0; r < runs.length; r += 2) kept += runs[r + 1] as number;
    if (start > count || dropped + kept !== count - start) return undefined;
    const tally = new StreamTally(window);
    tally.held = undefined;
    tally.begun = true;
    tally.epoch = epoch;
    tally.base = base;
    tally.count = count;
    tally.lost = lost;
    tally.#start = start;
    tally.#runs = runs as number[];
    tally.#kept = kept;
    tally.#dropped = dropped;
    tally.#lastDropped = lastDropped;
    if (runs.length > 0) {
      tally.#length = tally.#runs.pop()!;
      tally.#first = tally.#runs.pop()!;
    }
    tally.#last = kept > 0 ? tally.#first + tally.#length - 1 : dropped > 0 ? lastDropped : base;
    return tally;
  }

  #clear(start: number): void {
    this.#start = start;
    this.#runs = [];
    this.#head = 0;
    this.#first = 0;
    this.#length = 0;
    this.#kept = 0;
    this.#dropped = 0;
    this.#lastDropped = 0;
    this.#last = this.base;
  }

  #push(offset: number): void {
    this.count++;
    this.#last = offset;
    if (this.#length > 0 && this.#first + this.#length === offset) {
      this.#length++;
    } else {
      if (this.#length > 0) this.#runs.push(this.#first, this.#length);
      this.#first = offset;
      this.#length = 1;
    }
    if (++this.#kept > this.window) this.#dropOldest();
  }

  /** Drops the oldest offset kept; the runs array is compacted once half of it is dropped runs. */
  #dropOldest(): void {
    this.#dropped++;
    if (this.#kept-- === this.#length) {
      // The newest run is the only one.
      this.#lastDropped = this.#first++;
      this.#length--;
      return;
    }
    const runs = this.#runs;
    const h = this.#head;
    this.#lastDropped = runs[h]!;
    if (runs[h + 1]! > 1) {
      runs[h]!++;
      runs[h + 1]!--;
      return;
    }
    this.#head += 2;
    if (this.#head * 2 >= runs.length) {
      this.#runs = runs.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** A live event held back while a subscription is being answered. */
export interface HeldEvent {
  readonly position: StreamPosition;
  readonly frame: Frame;
}

/** A tally as a resume state keeps it (`StreamTally.toJSON`). */
export interface TallyState {
  epoch: string | null;
  base: number;
  start: number;
  count: number;
  dropped: number;
  lastDropped: number;
  runs: number[];
  lost: boolean;
}
