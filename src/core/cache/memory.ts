import type { CachedEvent, LastEventStore } from './store.js';

interface Entry {
  event: CachedEvent;
  expiresAt: number;
}

/** Last events in this process. Expired entries are dropped on read and by a sweep once a minute. */
export class MemoryLastEventStore implements LastEventStore {
  readonly #entries = new Map<string, Entry>();
  readonly #sweep: NodeJS.Timeout;

  constructor(readonly now: () => number = Date.now) {
    this.#sweep = setInterval(() => this.#dropExpired(), 60_000);
    this.#sweep.unref();
  }

  async set(namespace: string, channel: string, event: CachedEvent, ttlMs: number): Promise<void> {
    this.#entries.set(`${namespace}\0${channel}`, { event, expiresAt: this.now() + ttlMs });
  }

  async get(namespace: string, channel: string): Promise<{ event: CachedEvent; ttlMs: number } | undefined> {
    const key = `${namespace}\0${channel}`;
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    const ttlMs = entry.expiresAt - this.now();
    if (ttlMs <= 0) {
      this.#entries.delete(key);
      return undefined;
    }
    return { event: entry.event, ttlMs };
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
  }

  #dropExpired(): void {
    const now = this.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
  }
}
