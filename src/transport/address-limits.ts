export interface AddressLimitsOptions {
  /** Open connections one address may hold; null for no limit. */
  maxConnectionsPerAddress: number | null;
  /** New connections per second one address may open, on average; null for no limit. */
  ratePerSecond: number | null;
  /** New connections one address may open at once before the rate applies. */
  burst: number;
  /** Milliseconds, monotonic enough for rates. @default performance.now */
  now?: () => number;
}

/** Why an address may not open another connection now. */
export type AddressRefusal = 'rate' | 'connections';

interface Bucket {
  tokens: number;
  at: number;
}

/** How often buckets that have refilled completely are forgotten, so idle addresses cost nothing. */
const SWEEP_EVERY_MS = 10_000;

/**
 * Connection limits per client address: a token bucket for the rate of new connections (`burst`
 * tokens, refilled at `ratePerSecond`) and a count of open ones. Memory is bounded by the addresses
 * active in the last few seconds plus those holding connections.
 */
export class AddressLimits {
  readonly #o: AddressLimitsOptions;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #open = new Map<string, number>();
  #sweptAt: number;

  constructor(options: AddressLimitsOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#sweptAt = this.#now();
  }

  /**
   * Whether `address` may open one more connection now; when it may, the attempt is counted against
   * its rate (a refused attempt is not). Call `opened` once the connection is established.
   */
  admit(address: string): AddressRefusal | undefined {
    const max = this.#o.maxConnectionsPerAddress;
    if (max !== null && (this.#open.get(address) ?? 0) >= max) return 'connections';
    const rate = this.#o.ratePerSecond;
    if (rate === null) return undefined;
    const now = this.#now();
    if (now - this.#sweptAt >= SWEEP_EVERY_MS) this.#sweep(now, rate);
    const bucket = this.#buckets.get(address);
    if (!bucket) {
      this.#buckets.set(address, { tokens: this.#o.burst - 1, at: now });
      return undefined;
    }
    bucket.tokens = Math.min(this.#o.burst, bucket.tokens + ((now - bucket.at) * rate) / 1000);
    bucket.at = now;
    if (bucket.tokens < 1) return 'rate';
    bucket.tokens -= 1;
    return undefined;
  }

  opened(address: string): void {
    if (this.#o.maxConnectionsPerAddress === null) return;
    this.#open.set(address, (this.#open.get(address) ?? 0) + 1);
  }

  closed(address: string): void {
    if (this.#o.maxConnectionsPerAddress === null) return;
    const n = (this.#open.get(address) ?? 0) - 1;
    if (n > 0) this.#open.set(address, n);
    else this.#open.delete(address);
  }

  /** Open connections counted for `address`. */
  openCount(address: string): number {
    return this.#open.get(address) ?? 0;
  }

  #sweep(now: number, rate: number): void {
    this.#sweptAt = now;
    for (const [address, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) * rate) / 1000 >= this.#o.burst) this.#buckets.delete(address);
    }
  }
}
