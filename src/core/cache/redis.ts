import { createRedis, type RedisClient } from '../redis-client.js';
import type { CachedEvent, LastEventStore } from './store.js';

/** Last events in Redis, shared by every node; Redis expires them by itself. */
export class RedisLastEventStore implements LastEventStore {
  readonly #redis: RedisClient;

  constructor(
    url: string,
    readonly prefix = 'herald',
  ) {
    this.#redis = createRedis(url, { maxRetriesPerRequest: null, connectionName: 'herald-cache' });
    this.#redis.on('error', () => {}); // commands reject on their own; the adapter logs connection trouble
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

  async close(): Promise<void> {
    this.#redis.disconnect();
  }

  #key(namespace: string, channel: string): string {
    return `${this.prefix}:cache:{${namespace}:${channel}}`;
  }
}
