import type { CachedEvent, LastEventStore } from '../../core/cache/store.js';
import type { RedisClient } from './clients.js';

/**
 * Last events in Redis, shared by every node; Redis expires them by itself. Runs on the set's
 * `commands` connection, which it does not close.
 */
export class RedisLastEventStore implements LastEventStore {
  readonly #redis: RedisClient;

  constructor(
    redis: RedisClient,
    readonly prefix: string,
  ) {
    this.#redis = redis;
  }

  async set(namespace: string, channel: string, event: CachedEvent, ttlMs: number): Promise<void> {
    const value = JSON.stringify({ event: event.event, data: event.data });
    await this.#redis.set(this.#key(namespace, channel), value, 'PX', ttlMs);
  }

  async get(namespace: string, channel: string): Promise<{ event: CachedEvent; ttlMs: number } | undefined> {
    const key = this.#key(namespace, channel);
    const [[, value], [, ttl]] = (await this.#redis.multi().get(key).pttl(key).exec()) as [
      [unknown, string | null],
      [unknown, number],
    ];
    if (value === null || ttl <= 0) return undefined;
    return { event: JSON.parse(value) as CachedEvent, ttlMs: ttl };
  }

  /** Nothing to stop: no timer, no connection of its own. */
  async close(): Promise<void> {}

  #key(namespace: string, channel: string): string {
    return `${this.prefix}:cache:{${namespace}:${channel}}`;
  }
}
