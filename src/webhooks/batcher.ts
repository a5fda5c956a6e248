/**
 * Groups items per key into batches: a batch opens with its first item and closes `windowMs` later or
 * when it holds `maxItems`, whichever comes first (Pusher docs, Webhooks, "Webhook format": batch
 * webhooks). Items that must not be batched pass straight through as batches of one. Batches of one
 * key leave in the order their items came.
 */
export class Batcher<T> {
  readonly #open = new Map<string, { items: T[]; timer: NodeJS.Timeout }>();
  readonly #windowMs: number;
  readonly #maxItems: number;
  readonly #emit: (key: string, items: T[]) => void;

  constructor(options: { windowMs: number; maxItems: number; emit: (key: string, items: T[]) => void }) {
    this.#windowMs = options.windowMs;
    this.#maxItems = options.maxItems;
    this.#emit = options.emit;
  }

  /** Open batches. */
  get size(): number {
    return this.#open.size;
  }

  add(key: string, item: T, batch: boolean): void {
    const open = this.#open.get(key);
    if (!batch) {
      // The key stopped batching (its app was reconfigured): what it collected goes first.
      if (open) this.#close(key);
      return this.#emit(key, [item]);
    }
    if (open) {
      open.items.push(item);
      if (open.items.length >= this.#maxItems) this.#close(key);
      return;
    }
    if (this.#maxItems <= 1) return this.#emit(key, [item]);
    const timer = setTimeout(() => this.#close(key), this.#windowMs);
    this.#open.set(key, { items: [item], timer });
  }

  /** Sends every open batch now. */
  flush(): void {
    for (const key of [...this.#open.keys()]) this.#close(key);
  }

  /** Drops every open batch. */
  close(): void {
    for (const { timer } of this.#open.values()) clearTimeout(timer);
    this.#open.clear();
  }

  #close(key: string): void {
    const open = this.#open.get(key);
    if (!open) return;
    clearTimeout(open.timer);
    this.#open.delete(key);
    this.#emit(key, open.items);
  }
}
