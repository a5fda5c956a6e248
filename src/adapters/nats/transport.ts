import { ErrorCode, type NatsConnection, StringCodec, type Subscription } from 'nats';
import type { Logger } from 'pino';
import type { BrokerTransport } from '../cluster.js';
import type { NatsClient } from './connection.js';

const codec = StringCodec();
const EMPTY = new Uint8Array(0);
/** A subscriber that does not answer a probe within this is paused or busy, not gone. */
const PROBE_TIMEOUT_MS = 500;

/**
 * Core NATS subjects as a cluster transport, over the set's one connection (`NatsClient`), which
 * reconnects and re-subscribes on its own; what was published while it was cut off beyond its
 * reconnect buffer is lost and logged by the caller.
 */
export class NatsTransport implements BrokerTransport {
  readonly #client: NatsClient;
  readonly #logger: Logger;
  readonly #subscriptions = new Map<string, Subscription>();
  #nc: NatsConnection | undefined;
  #handler: (topic: string, payload: string) => void = () => {};
  #closed = false;

  constructor(client: NatsClient, logger: Logger) {
    this.#client = client;
    this.#logger = logger;
  }

  onMessage(handler: (topic: string, payload: string) => void): void {
    this.#handler = handler;
  }

  async connect(): Promise<void> {
    this.#nc ??= await this.#client.start();
  }

  async publish(topic: string, payload: string): Promise<void> {
    this.#connection().publish(topic, codec.encode(payload));
  }

  async subscribe(topic: string): Promise<void> {
    const nc = this.#connection();
    if (!this.#subscriptions.has(topic)) {
      const subscription = nc.subscribe(topic, {
        callback: (err, msg) => {
          if (err) {
            this.#logger.warn({ err: err.message, topic }, 'nats subscription error');
            return;
          }
          // A probe (see `unsubscribed`): answered, never a bus message.
          if (msg.reply && msg.data.length === 0) {
            msg.respond();
            return;
          }
          this.#handler(msg.subject, codec.decode(msg.data));
        },
      });
      this.#subscriptions.set(topic, subscription);
    }
    // The server has the subscription once it answered a ping sent after it.
    await nc.flush();
  }

  async unsubscribe(topic: string): Promise<void> {
    const subscription = this.#subscriptions.get(topic);
    if (!subscription) return;
    this.#subscriptions.delete(topic);
    subscription.unsubscribe();
  }

  /**
   * A request to the topic with no payload: the server answers "no responders" at once when nobody
   * subscribes to it; a subscriber answers (or, paused, lets it time out: still subscribed).
   */
  async unsubscribed(topic: string): Promise<boolean | undefined> {
    try {
      await this.#connection().request(topic, EMPTY, { timeout: PROBE_TIMEOUT_MS });
      return false;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === ErrorCode.NoResponders) return true;
      if (code === ErrorCode.Timeout) return false;
      throw err;
    }
  }

  /**
   * Idempotent: stops handing on messages and publishing. The subscriptions go with the connection,
   * which the set closes (`NatsClient.close`, which first sends what is buffered, the goodbye included).
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#handler = () => {};
    this.#subscriptions.clear();
  }

  #connection(): NatsConnection {
    if (!this.#nc || this.#closed) throw new Error('nats transport is not connected');
    return this.#nc;
  }
}
