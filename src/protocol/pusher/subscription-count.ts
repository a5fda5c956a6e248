/**
 * Coalesces `pusher_internal:subscription_count` notifications (docs/pusher.md, "Subscription
 * counts"): all changes to a channel within one event-loop turn produce one message, and channels with
 * more than 100 subscribers are told at most once every 5 seconds while the count keeps changing.
 */
export class SubscriptionCountNotifier {
  static readonly BUSY_CHANNEL = 100;
  static readonly BUSY_INTERVAL_MS = 5_000;

  readonly #pending = new Map<string, { namespace: string; channel: string }>();
  readonly #lastSent = new Map<string, number>();
  #immediate: NodeJS.Immediate | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    /** The channel's subscribers on this node (decides the busy-channel pacing). */
    readonly count: (namespace: string, channel: string) => number,
    /** Tells every subscriber of the channel, on every node, its cluster-wide count. */
    readonly send: (namespace: string, channel: string, count: number) => void,
    readonly now: () => number,
  ) {}

  /** The channel's count changed. */
  changed(namespace: string, channel: string): void {
    this.#pending.set(`${namespace}\0${channel}`, { namespace, channel });
    this.#immediate ??= setImmediate(() => this.#flush());
  }

  close(): void {
    if (this.#immediate) clearImmediate(this.#immediate);
    clearTimeout(this.#timer);
    this.#immediate = undefined;
    this.#timer = undefined;
    this.#pending.clear();
  }

  #flush(): void {
    this.#immediate = undefined;
    const now = this.now();
    let nextDue = Number.POSITIVE_INFINITY;
    for (const [key, { namespace, channel }] of this.#pending) {
      const count = this.count(namespace, channel);
      if (count === 0) {
        // Nobody here is left to tell, but subscribers on other nodes learn the new total.
        this.#pending.delete(key);
        this.#lastSent.delete(key);
        this.send(namespace, channel, count);
        continue;
      }
      const last = this.#lastSent.get(key);
      const due =
        count > SubscriptionCountNotifier.BUSY_CHANNEL && last !== undefined
          ? last + SubscriptionCountNotifier.BUSY_INTERVAL_MS
          : now;
      if (due > now) {
        nextDue = Math.min(nextDue, due);
        continue;
      }
      this.#pending.delete(key);
      this.#lastSent.set(key, now);
      this.send(namespace, channel, count);
    }
    if (nextDue !== Number.POSITIVE_INFINITY && this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#flush();
      }, nextDue - now);
    }
  }
}
