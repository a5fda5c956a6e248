import { type ConnectionOptions, connect, DebugEvents, Events, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { atMost } from '../../core/deadline.js';

/** How long one attempt to reach a server may take. */
const CONNECT_TIMEOUT_MS = 5000;
/** How long `close` waits for buffered messages (the goodbye) to reach the server, or for an open under way. */
const CLOSE_WAIT_MS = 1000;

/**
 * A node's one NATS connection, shared by every NATS part of its set: the transport's subjects and
 * every JetStream key-value bucket (presence, occupancy, cache, outbox). `url` may list several
 * servers separated by commas.
 *
 * Created with the set, opened by the first `start` (the preflight's or the adapter's; a bucket's
 * first use waits for it the same way), closed once by `close` when the set closes. After the first
 * connect it reconnects on its own without limit and the client subscribes again to every subject;
 * what was published while cut off beyond the client's reconnect buffer is lost and logged by the
 * adapter. A failed first connect rejects `start`; the next `start` tries again.
 */
export class NatsClient {
  readonly #servers: string[];
  readonly #logger: Logger;
  readonly #options: Partial<ConnectionOptions>;
  #connected: Promise<NatsConnection> | undefined;
  #closed = false;

  constructor(url: string, logger: Logger, options: Partial<ConnectionOptions> = {}) {
    this.#servers = url.split(',').map((s) => s.trim());
    this.#logger = logger;
    this.#options = options;
  }

  /** The open connection; opens it on the first call. Rejects once the set is closed. */
  start(): Promise<NatsConnection> {
    if (this.#closed) return Promise.reject(new Error('the nats connection is closed'));
    this.#connected ??= this.#connect().catch((err: unknown) => {
      this.#connected = undefined; // the next start tries again
      throw err;
    });
    return this.#connected;
  }

  /**
   * Idempotent: sends what is buffered (waiting at most a second when cut off), then disconnects. An
   * open still under way is not waited for beyond a second; its connection is closed whenever it ends.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const connected = this.#connected;
    if (!connected) return;
    const nc = await atMost(
      connected.catch(() => undefined),
      CLOSE_WAIT_MS,
    );
    if (!nc) {
      connected.then(
        (late) => late.close(),
        (err: Error) => this.#logger.debug({ err: err.message }, 'nats connection never opened'),
      );
      return;
    }
    if (nc.isClosed()) return;
    await atMost(
      nc
        .flush()
        .catch((err: Error) => this.#logger.debug({ err: err.message }, 'nats flush on close failed')),
      CLOSE_WAIT_MS,
    );
    await nc.close();
  }

  async #connect(): Promise<NatsConnection> {
    const nc = await connect({
      servers: this.#servers,
      name: 'herald',
      timeout: CONNECT_TIMEOUT_MS,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      reconnectJitter: 250,
      ...this.#options,
    });
    this.#watch(nc).catch((err) => this.#logger.warn({ err }, 'nats status watch ended'));
    this.#logger.info({ server: nc.getServer() }, 'nats connected');
    return nc;
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
