import type { CachedEvent, LastEventStore } from '../../core/cache/store.js';
import type { NatsClient } from './connection.js';
import { bucketName, KvBucket, keyToken } from './kv.js';

interface Stored extends CachedEvent {
  expiresAt: number;
}

/**
 * Last events in a JetStream key-value bucket, shared by every node. Each value carries its expiry
 * (the bucket has no per-key TTL on the servers we support); expired values read as absent.
 */
export class NatsLastEventStore implements LastEventStore {
  readonly #bucket: KvBucket;

  constructor(
    client: NatsClient,
    prefix: string,
    readonly now: () => number = Date.now,
  ) {
    this.#bucket = new KvBucket(client, bucketName(prefix, 'cache'));
  }

  async set(namespace: string, channel: string, event: CachedEvent, ttlMs: number): Promise<void> {
    const stored: Stored = { event: event.event, data: event.data, expiresAt: this.now() + ttlMs };
    await this.#bucket.put(this.#key(namespace, channel), JSON.stringify(stored));
  }

  async get(namespace: string, channel: string): Promise<{ event: CachedEvent; ttlMs: number } | undefined> {
    const value = await this.#bucket.get(this.#key(namespace, channel));
    if (value === null) return undefined;
    const stored = JSON.parse(value) as Stored;
    const ttlMs = stored.expiresAt - this.now();
    return ttlMs > 0 ? { event: { event: stored.event, data: stored.data }, ttlMs } : undefined;
  }

  close(): Promise<void> {
    return this.#bucket.close();
  }

  #key(namespace: string, channel: string): string {
    return `last.${keyToken(`${namespace}\0${channel}`)}`;
  }
}
