import type { Logger } from 'pino';
import { type OutboxEntry, parseOutboxEntry, type WebhookOutbox } from '../../core/webhook-outbox.js';
import type { NatsClient } from './connection.js';
import { bucketName, KvBucket, keyToken } from './kv.js';

/**
 * The outbox in a JetStream key-value bucket `<prefix>-outbox`: one key per entry,
 * `n.<node token>.<entry id token>`. Taking over deletes each key on the condition that it is
 * unchanged, so of two survivors only one gets each entry.
 */
export class NatsWebhookOutbox implements WebhookOutbox {
  readonly #bucket: KvBucket;
  readonly #logger: Logger;

  constructor(
    client: NatsClient,
    readonly nodeId: string,
    readonly prefix: string,
    logger: Logger,
  ) {
    this.#bucket = new KvBucket(client, bucketName(prefix, 'outbox'));
    this.#logger = logger;
  }

  put(id: string, entry: OutboxEntry): Promise<void> {
    return this.#bucket.put(this.#key(this.nodeId, id), JSON.stringify(entry));
  }

  remove(id: string): Promise<void> {
    return this.#bucket.delete(this.#key(this.nodeId, id));
  }

  async clear(): Promise<void> {
    for (const key of await this.#bucket.keys(`n.${keyToken(this.nodeId)}.>`)) await this.#bucket.delete(key);
  }

  async takeOver(nodeId: string): Promise<OutboxEntry[]> {
    const entries: OutboxEntry[] = [];
    for (const key of await this.#bucket.keys(`n.${keyToken(nodeId)}.>`)) {
      const text = await this.#bucket.change<string | null>(key, (value) => ({
        result: value,
        value: value === null ? undefined : null,
      }));
      if (text === null) continue; // another survivor took it
      const entry = parseOutboxEntry(text);
      if (entry) entries.push(entry);
      else this.#logger.warn({ nodeId, key }, 'outbox entry is not one: dropped');
    }
    return entries;
  }

  close(): Promise<void> {
    return this.#bucket.close();
  }

  #key(nodeId: string, id: string): string {
    return `n.${keyToken(nodeId)}.${keyToken(id)}`;
  }
}
