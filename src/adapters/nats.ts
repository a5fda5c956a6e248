import {
  type ConnectionOptions,
  connect,
  DebugEvents,
  ErrorCode,
  Events,
  type NatsConnection,
  StringCodec,
  type Subscription,
} from 'nats';
import type { Logger } from 'pino';
import type { BrokerTransport } from './cluster.js';

const codec = StringCodec();
const EMPTY = new Uint8Array(0);
/** A subscriber that does not answer a probe within this is paused or busy, not gone. */
const PROBE_TIMEOUT_MS = 500;

/** How long `close` waits for buffered messages (the goodbye) to reach the server. */
const CLOSE_FLUSH_MS = 1000;

/**
 * Core NATS subjects as a cluster transport, on one connection. The client reconnects on its own
 * without limit and re-subscribes every subject after a reconnect; what was published while it was
 * cut off beyond its reconnect buffer is lost and logged by the caller. `url` may list several
 * servers separated by commas.
 */
export class NatsTransport implements BrokerTransport {
  readonly #servers: string[];
  readonly #logger: Logger;
  readonly #options: Partial<ConnectionOptions>;
  readonly #subscriptions = new Map<string, Subscription>();
  #nc: NatsConnection | undefined;
  #handler: (topic: string, payload: string) => void = () => {};
  #closed = false;

  constructor(url: string, logger: Logger, options: Partial<ConnectionOptions> = {}) {
    this.#servers = url.split(',').map((s) => s.trim());
    this.#logger = logger;
    this.#options = options;
  }

  onMessage(handler: (topic: string, payload: string) => void): void {
    this.#handler = handler;
  }

  async connect(): Promise<void> {
    if (this.#nc) return;
    const nc = await connect({
      servers: this.#servers,
      name: 'herald',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      reconnectJitter: 250,
      ...this.#options,
    });
    this.#nc = nc;
    this.#watch(nc).catch((err) => this.#logger.warn({ err }, 'nats status watch ended'));
    this.#logger.info({ server: nc.getServer() }, 'nats connected');
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

  /** Idempotent: sends what is buffered (waiting at most a second when cut off), then disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const nc = this.#nc;
    if (!nc || nc.isClosed()) return;
    this.#subscriptions.clear();
    let timer: NodeJS.Timeout | undefined;
    const flushed = nc
      .flush()
      .catch((err) => this.#logger.debug({ err: err.message }, 'nats flush on close failed'));
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_FLUSH_MS);
    });
    await Promise.race([flushed, timeout]);
    clearTimeout(timer);
    await nc.close();
  }

  #connection(): NatsConnection {
    if (!this.#nc || this.#closed) throw new Error('nats transport is not connected');
    return this.#nc;
  }

  async #watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      switch (status.type) {
        case Events.Disconnect:
          this.#logger.warn({ server: status.data }, 'nats disconnected');
          break;
        case Events.Reconnect:
          this.#logger.info({ server: status.data }, 'nats reconnected');
          break;
        case Events.Error:
          this.#logger.warn({ err: String(status.data) }, 'nats error');
          break;
        case DebugEvents.Reconnecting:
          this.#logger.debug('nats reconnecting');
          break;
        default:
          break;
      }
    }
  }
}
