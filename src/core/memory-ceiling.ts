export interface MemoryCeilingOptions {
  /** Resident memory above which the server refuses new work; null for no ceiling. */
  maxBytes: number | null;
  /** Below this share of `maxBytes` the server accepts again (hysteresis). @default 0.9 */
  resumeRatio?: number;
  /** A sample older than this is taken again when asked. @default 250 */
  sampleEveryMs?: number;
  /** @default process.memoryUsage.rss */
  rss?: () => number;
  /** Milliseconds. @default performance.now */
  now?: () => number;
  /** Told when the server crosses the ceiling (`true`) and when it is back below (`false`). */
  onChange?: (over: boolean, rssBytes: number) => void;
}

/**
 * A memory ceiling with hysteresis: once resident memory passes `maxBytes` the server is over it
 * until memory falls below `resumeRatio × maxBytes`, so it does not flap at the line. Memory is
 * sampled when asked, at most every `sampleEveryMs`, so asking on every new connection is cheap.
 */
export class MemoryCeiling {
  readonly #max: number | null;
  readonly #resumeBelow: number;
  readonly #every: number;
  readonly #rss: () => number;
  readonly #now: () => number;
  readonly #onChange: ((over: boolean, rssBytes: number) => void) | undefined;
  #sampledAt = Number.NEGATIVE_INFINITY;
  #over = false;

  constructor(options: MemoryCeilingOptions) {
    this.#max = options.maxBytes;
    this.#resumeBelow = (options.maxBytes ?? 0) * (options.resumeRatio ?? 0.9);
    this.#every = options.sampleEveryMs ?? 250;
    this.#rss = options.rss ?? (() => process.memoryUsage.rss());
    this.#now = options.now ?? (() => performance.now());
    this.#onChange = options.onChange;
  }

  /** Whether new connections and subscriptions should be refused now. */
  get over(): boolean {
    if (this.#max === null) return false;
    const now = this.#now();
    if (now - this.#sampledAt < this.#every) return this.#over;
    this.#sampledAt = now;
    const rss = this.#rss();
    const over = this.#over ? rss >= this.#resumeBelow : rss > this.#max;
    if (over !== this.#over) {
      this.#over = over;
      this.#onChange?.(over, rss);
    }
    return over;
  }
}
