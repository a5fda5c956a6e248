import { Cluster } from 'ioredis';
import type { BrokerTransport } from '../cluster.js';
import type { RedisClients } from './clients.js';

/**
 * Redis pub/sub as a cluster transport, over the set's connections: publishes go out on `commands`,
 * subscriptions live on `subscriber`. ioredis reconnects on its own and re-subscribes every topic after
 * a reconnect; what was published meanwhile is lost and logged by the caller.
 */
export class RedisTransport implements BrokerTransport {
  readonly #clients: RedisClients;
  #handler: (topic: string, payload: string) => void = () => {};

  constructor(clients: RedisClients) {
    this.#clients = clients;
    clients.subscriber.on('message', (topic: string, payload: string) => this.#handler(topic, payload));
  }

  onMessage(handler: (topic: string, payload: string) => void): void {
    this.#handler = handler;
  }

  connect(): Promise<void> {
    return this.#clients.start();
  }

  async publish(topic: string, payload: string): Promise<void> {
    await this.#clients.commands.publish(topic, payload);
  }

  async subscribe(topic: string): Promise<void> {
    await this.#clients.subscriber.subscribe(topic);
  }

  async unsubscribe(topic: string): Promise<void> {
    await this.#clients.subscriber.unsubscribe(topic);
  }

  /**
   * PUBSUB NUMSUB counts the subscribers of a topic on the server. A Redis Cluster counts only those of
   * the node asked, so there the answer is unknown.
   */
  async unsubscribed(topic: string): Promise<boolean | undefined> {
    const redis = this.#clients.commands;
    if (redis instanceof Cluster) return undefined;
    const [, count] = (await redis.pubsub('NUMSUB', topic)) as [string, number];
    return Number(count) === 0;
  }

  /** Stops handing on messages; the connections close with the set (`RedisClients.close`). */
  async close(): Promise<void> {
    this.#handler = () => {};
  }
}
