import type { Logger } from 'pino';
import { type OutboxEntry, parseOutboxEntry, type WebhookOutbox } from '../../core/webhook-outbox.js';
import type { RedisClient } from './clients.js';

/**
 * The outbox in Redis: one hash per node, `<prefix>:outbox:<node id>`, entry id → entry JSON. Runs on
 * the set's `commands` connection, which it does not close.
 */
export class RedisWebhookOutbox implements WebhookOutbox {
  readonly #redis: RedisClient;
  readonly #logger: Logger;

  constructor(
    redis: RedisClient,
    readonly nodeId: string,
    readonly prefix: string,
    logger: Logger,
  ) {
    this.#redis = redis;
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
      else this.#logger.warn({ nodeId, id }, 'outbox entry is not one: dropped');
    }
    return entries;
  }

  /** Nothing to stop: every change is one awaited command. */
  async close(): Promise<void> {}

  #key(nodeId: string): string {
    return `${this.prefix}:outbox:${nodeId}`;
  }
}
