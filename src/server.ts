import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, pino } from 'pino';
import type { Adapter } from './adapters/adapter.js';
import { MemoryAdapter } from './adapters/memory.js';
import type { Config } from './config/schema.js';
import type { AppStore } from './core/apps/app.js';
import { StaticAppStore } from './core/apps/static-store.js';
import { MemoryLastEventStore } from './core/cache/memory.js';
import type { LastEventStore } from './core/cache/store.js';
import { MemoryPresenceStore } from './core/presence/memory.js';
import type { PresenceStore } from './core/presence/store.js';
import { addHealthRoutes } from './http/health.js';
import { Router } from './http/router.js';
import { addPusherHttpApi } from './protocol/pusher/http-api/routes.js';
import { PusherServer } from './protocol/pusher/server.js';
import { WebSocketTransport } from './transport/ws.js';

/** Parts a caller may supply instead of the defaults the config implies. */
export interface HeraldDeps {
  logger?: Logger;
  apps?: AppStore;
  adapter?: Adapter;
  presence?: PresenceStore;
  cache?: LastEventStore;
  /** Milliseconds since the epoch; tests pin it to check signed-request vectors. */
  now?: () => number;
  /** Socket id generator; tests pin it to check subscription signature vectors. */
  socketIds?: () => string;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The composition root: config → stores and adapter → protocols → transport. `start()` and `stop()`
 * are awaitable and idempotent.
 */
export class Herald {
  readonly logger: Logger;
  readonly pusher: PusherServer;
  readonly #adapter: Adapter;
  readonly #cache: LastEventStore;
  readonly #http: Server;
  readonly #transport: WebSocketTransport;
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  #started: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;

  constructor(
    readonly config: Readonly<Config>,
    deps: HeraldDeps = {},
  ) {
    this.logger = deps.logger ?? pino({ level: config.logLevel });
    const now = deps.now ?? Date.now;
    const apps = deps.apps ?? new StaticAppStore(config.apps);
    this.#adapter = deps.adapter ?? new MemoryAdapter();
    this.#cache = deps.cache ?? new MemoryLastEventStore(now);

    this.pusher = new PusherServer({
      apps,
      adapter: this.#adapter,
      presence: deps.presence ?? new MemoryPresenceStore(),
      cache: this.#cache,
      logger: this.logger.child({ protocol: 'pusher' }),
      activityTimeoutSeconds: config.activityTimeoutSeconds,
      pongTimeoutSeconds: config.pongTimeoutSeconds,
      maxMessageBytes: config.maxMessageBytes,
      now,
      ...(deps.socketIds ? { socketIds: deps.socketIds } : {}),
    });

    const router = new Router(this.logger, config.maxRequestBodyBytes);
    addHealthRoutes(router, () => this.#state === 'running');
    addPusherHttpApi(router, {
      apps,
      pusher: this.pusher,
      maxTimestampSkewSeconds: config.maxTimestampSkewSeconds,
      now,
    });

    this.#transport = new WebSocketTransport({
      logger: this.logger,
      // Messages past maxMessageBytes get a protocol error; far larger ones are cut off unread.
      maxPayloadBytes: Math.max(1024 * 1024, 4 * config.maxMessageBytes),
      maxBufferedBytes: config.maxBufferedBytes,
    });
    const pusher = this.pusher;
    this.#transport.route({
      pattern: new RegExp(`^${escapeRegExp(config.pathPrefix)}/app/([^/]+)$`),
      open: (connection, request) => pusher.open(connection, request),
    });

    this.#http = createServer({ keepAliveTimeout: 65_000 }, router.listener);
    this.#transport.attach(this.#http);
  }

  /** The bound port (useful with `port: 0`). */
  get port(): number {
    return (this.#http.address() as AddressInfo | null)?.port ?? this.config.port;
  }

  get host(): string {
    return this.config.host;
  }

  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    this.#state = 'starting';
    await this.#adapter.start();
    this.pusher.start();
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(this.config.port, this.config.host, () => {
        this.#http.off('error', reject);
        resolve();
      });
    });
    this.#state = 'running';
  }

  /**
   * Graceful stop: `/ready` turns 503, new WebSockets are refused, every client gets 4200 (reconnect
   * now) and has `shutdownTimeoutMs` to go, then the adapter and the HTTP server close.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    await this.#started?.catch(() => {});
    this.#state = 'stopping';
    this.#transport.refuseNew();
    this.pusher.stop();
    await this.#transport.drain(this.config.shutdownTimeoutMs);
    await this.#adapter.close();
    await this.#cache.close();
    await new Promise<void>((resolve) => {
      this.#http.close(() => resolve());
      this.#http.closeAllConnections();
    });
    this.#state = 'stopped';
  }
}
