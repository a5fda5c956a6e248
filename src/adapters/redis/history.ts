import type { HistoryStore } from '../../core/history/store.js';
import type { RedisClient } from './clients.js';

/**
 * History logs in Redis lists, shared by every node: the newest entry at the head, the list cut to its
 * limit in the same transaction as the push. Runs on the set's `commands` connection, which it does not
 * close.
 */
export class RedisHistoryStore implements HistoryStore {
  readonly #redis: RedisClient;

  constructor(
    redis: RedisClient,
    readonly prefix: string,
  ) {
    this.#redis = redis;
  }

  async append(namespace: string, log: string, entry: string, limit: number): Promise<void> {
    const key = this.#key(namespace, log);
    const results = await this.#redis
      .multi()
      .lpush(key, entry)
      .ltrim(key, 0, limit - 1)
      .exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
  }

  async latest(namespace: string, log: string, count: number): Promise<string[]> {
    if (count <= 0) return [];
    return this.#redis.lrange(this.#key(namespace, log), 0, count - 1);
  }

  /** Nothing to stop: no timer, no connection of its own. */
  async close(): Promise<void> {}

  #key(namespace: string, log: string): string {
    return `${this.prefix}:history:{${namespace}:${log}}`;
  }
}
