import { Cluster, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { createRedis, type RedisClient } from '../core/redis-client.js';
import type { BrokerTransport } from './cluster.js';

/**
 * Redis pub/sub as a cluster transport: one connection publishes, one subscribes. ioredis reconnects on
 * its own and re-subscribes every topic after a reconnect; what was published meanwhile is lost and
 * logged by the caller.
 */
export class RedisTransport implements BrokerTransport {
  readonly #pub: RedisClient;
  readonly #sub: RedisClient;
  readonly #logger: Logger;
  #handler: (topic: string, payload: string) => void = () => {};

  constructor(url: string, logger: Logger, options: RedisOptions = {}) {
    const common: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: null, ...options };
    this.#pub = createRedis(url, { ...common, connectionName: 'herald-pub' });
    this.#sub = createRedis(url, { ...common, connectionName: 'herald-sub' });
    this.#logger = logger;
    for (const [name, client] of [
      ['pub', this.#pub],
      ['sub', this.#sub],
    ] as const) {
      client.on('error', (err) => this.#logger.warn({ err: err.message, client: name }, 'redis error'));
      client.on('reconnecting', () => this.#logger.warn({ client: name }, 'redis reconnecting'));
      client.on('ready', () => this.#logger.info({ client: name }, 'redis ready'));
    }
    this.#sub.on('message', (topic: string, payload: string) => this.#handler(topic, payload));
  }

  onMessage(handler: (topic: string, payload: string) => void): void {
    this.#handler = handler;
  }

  async connect(): Promise<void> {
    await Promise.all([this.#pub.connect(), this.#sub.connect()]);
  }

  async publish(topic: string, payload: string): Promise<void> {
    await this.#pub.publish(topic, payload);
  }

  async subscribe(topic: string): Promise<void> {
    await this.#sub.subscribe(topic);
  }

  async unsubscribe(topic: string): Promise<void> {
    await this.#sub.unsubscribe(topic);
  }

  /**
   * PUBSUB NUMSUB counts the subscribers of a topic on the server. A Redis Cluster counts only those of
   * the node asked, so there the answer is unknown.
   */
  async unsubscribed(topic: string): Promise<boolean | undefined> {
    if (this.#pub instanceof Cluster) return undefined;
    const [, count] = (await this.#pub.pubsub('NUMSUB', topic)) as [string, number];
    return Number(count) === 0;
  }

  async close(): Promise<void> {
    this.#pub.disconnect();
    this.#sub.disconnect();
  }
}
