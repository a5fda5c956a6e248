import type { Logger } from 'pino';
import { createRedis, type RedisClient } from '../core/redis-client.js';
import { type OutboxEntry, parseOutboxEntry, type WebhookOutbox } from './outbox.js';

/** The outbox in Redis: one hash per node, `<prefix>:outbox:<node id>`, entry id → entry JSON. */
export class RedisWebhookOutbox implements WebhookOutbox {
  readonly #redis: RedisClient;
  readonly #logger: Logger | undefined;

  constructor(
    url: string,
    readonly nodeId: string,
    readonly prefix = 'herald',
    logger?: Logger,
  ) {
    this.#redis = createRedis(url, { maxRetriesPerRequest: null, connectionName: 'herald-outbox' });
    this.#redis.on('error', () => {}); // commands reject on their own; the adapter logs connection trouble
    this.#logger = logger;
  }

  async put(id: string, entry: OutboxEntry): Promise<void> {
    await this.#redis.hset(this.#key(this.nodeId), id, JSON.stringify(entry));
  }

  async remove(id: string): Promise<void> {
    await this.#redis.hdel(this.#key(this.nodeId), id);
  }

  async clear(): Promise<void> {
    await this.#redis.del(this.#key(this.nodeId));
  }

  async takeOver(nodeId: string): Promise<OutboxEntry[]> {
    const key = this.#key(nodeId);
    // Read and delete in one transaction: a second caller finds the hash gone.
    const results = await this.#redis.multi().hgetall(key).del(key).exec();
    const [err, all] = results?.[0] ?? [new Error('transaction discarded'), null];
    if (err) throw err;
    const entries: OutboxEntry[] = [];
    for (const [id, text] of Object.entries((all ?? {}) as Record<string, string>)) {
      const entry = parseOutboxEntry(text);
      if (entry) entries.push(entry);
      else this.#logger?.warn({ nodeId, id }, 'outbox entry is not one: dropped');
    }
    return entries;
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }

  #key(nodeId: string): string {
    return `${this.prefix}:outbox:${nodeId}`;
  }
}
