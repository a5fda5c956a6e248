import pg from 'pg';
import type { Logger } from 'pino';
import type { AppId } from '../core/apps/app.js';
import { type Phrases, unavailable } from './database-errors.js';
import { quote } from './postgres-schema.js';

export interface ChangeFeedOptions {
  /** The connection settings of the listening client (the store's, timeouts included). */
  client: pg.ClientConfig;
  /** The channel the table's trigger notifies. */
  channel: string;
  /** The server, as messages name it. */
  server: string;
  phrases: Phrases;
  logger: Logger;
  /** How often the listening connection, idle otherwise, proves it is still there. @default 10000 */
  heartbeatMs?: number;
}

/** Waits before reconnecting: doubling from the first to the last, each with jitter so nodes do not stampede. */
const FIRST_RETRY_MS = 100;
const LAST_RETRY_MS = 5000;

/**
 * The changes of a PostgreSQL apps table as they happen: a client of its own that `LISTEN`s on the
 * channel the table's trigger notifies, and that comes back by itself when it is lost (database
 * restart, network cut, `pg_terminate_backend`), retrying with backoff until `close`. Notifications
 * sent while it was away are lost, so each return says that anything may have changed.
 */
export class PostgresChangeFeed {
  readonly #options: ChangeFeedOptions;
  readonly #onChange: (id: AppId | null) => void;
  readonly #heartbeatMs: number;
  #client: pg.Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;

  constructor(options: ChangeFeedOptions, onChange: (id: AppId | null) => void) {
    this.#options = options;
    this.#onChange = onChange;
    this.#heartbeatMs = options.heartbeatMs ?? 10_000;
  }

  /** Resolves once listening; throws `AppStoreUnavailable` when the first attempt fails (nothing is retried then). */
  async start(): Promise<void> {
    try {
      await this.#listen();
    } catch (err) {
      throw unavailable(this.#options.server, err, this.#options.phrases);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    if (client) await endClient(client, this.#options.logger);
  }

  async #listen(): Promise<void> {
    const client = new pg.Client(this.#options.client);
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client));
    client.on('notification', (message) => {
      if (client === this.#client && message.channel === this.#options.channel) {
        this.#emit(message.payload ?? null);
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quote(this.#options.channel)}`);
    } catch (err) {
      destroy(client);
      throw err;
    }
    if (this.#closed) {
      await endClient(client, this.#options.logger);
      return;
    }
    this.#client = client;
    this.#scheduleHeartbeat(client);
  }

  /**
   * An idle connection whose peer vanished without a word (a network cut) looks healthy until it
   * sends something: so it sends its LISTEN again (a no-op for PostgreSQL, and what monitoring sees
   * this connection doing) and, when that gets no answer in time, it is given up and replaced.
   */
  #scheduleHeartbeat(client: pg.Client): void {
    this.#timer = setTimeout(async () => {
      try {
        await client.query(`LISTEN ${quote(this.#options.channel)}`);
        if (client === this.#client) this.#scheduleHeartbeat(client);
      } catch (err) {
        this.#lost(client, err);
      }
    }, this.#heartbeatMs);
  }

  #lost(client: pg.Client, err?: unknown): void {
    if (client !== this.#client) return; // a client given up already, or one still connecting
    this.#client = undefined;
    clearTimeout(this.#timer);
    destroy(client);
    if (this.#closed) return;
    const reason = err instanceof Error ? err.message : 'connection ended';
    this.#options.logger.warn({ reason }, `app change feed lost (${this.#options.server}); reconnecting`);
    this.#retry();
  }

  #retry(): void {
    const ceiling = Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * 2 ** this.#failures);
    this.#timer = setTimeout(
      async () => {
        try {
          await this.#listen();
        } catch (err) {
          this.#failures++;
          const reason = unavailable(this.#options.server, err, this.#options.phrases).message;
          this.#options.logger.debug({ reason }, 'app change feed: reconnect failed; retrying');
          if (!this.#closed) this.#retry();
          return;
        }
        if (this.#closed) return;
        this.#failures = 0;
        this.#options.logger.info(`app change feed back (${this.#options.server})`);
        this.#emit(null);
      },
      ceiling / 2 + Math.random() * (ceiling / 2),
    );
  }

  #emit(id: AppId | null): void {
    try {
      this.#onChange(id);
    } catch (err) {
      this.#options.logger.error({ err, id }, 'app change handler failed');
    }
  }
}

/**
 * Drops `client`'s connection at once. `end()` says goodbye and waits for the server's, which never
 * comes from a server that is gone; pg has no public way to just close, so this reaches its socket.
 */
function destroy(client: pg.Client): void {
  const internal = client as unknown as { connection?: { stream?: { destroy(): void } } };
  internal.connection?.stream?.destroy();
}

/** Says goodbye to the server, or drops the connection when no goodbye comes back in time. */
async function endClient(client: pg.Client, logger: Logger): Promise<void> {
  const timer = setTimeout(() => destroy(client), 1000);
  try {
    await client.end();
  } catch (err) {
    logger.debug({ err }, 'app change feed: closing its connection failed; dropped instead');
  } finally {
    clearTimeout(timer);
  }
}
