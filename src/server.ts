import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { Logger } from 'pino';
import type { Adapter } from './adapters/adapter.js';
import { createMemoryParts } from './adapters/memory.js';
import { createNatsParts } from './adapters/nats/parts.js';
import type { ClusterParts } from './adapters/parts.js';
import { createRedisParts } from './adapters/redis/parts.js';
import { addAppAdminApi } from './apps/admin-api.js';
import { LiveApps } from './apps/live.js';
import { AppManager } from './apps/manage.js';
import { openAppCatalog } from './apps/open.js';
import type { Config } from './config/schema.js';
import type { AppCatalog, AppStore } from './core/apps/app.js';
import { CachedAppStore } from './core/apps/cached-store.js';
import { atMost } from './core/deadline.js';
import { DebugFeed } from './core/debug-feed.js';
import { LimitRefusals } from './core/limit-refusals.js';
import { MemoryCeiling } from './core/memory-ceiling.js';
import { AppTraffic } from './core/traffic.js';
import type { WebhookOutbox } from './core/webhook-outbox.js';
import { ClusterDebugFeed } from './dashboard/cluster-feed.js';
import { addConsoleRoutes } from './dashboard/console-routes.js';
import { addDashboard, type DashboardAccess } from './dashboard/routes.js';
import type { StatsSampler } from './dashboard/stats.js';
import { addViewRoutes } from './dashboard/views.js';
import { addHealthRoutes } from './http/health.js';
import { addMetricsRoute, createMetrics } from './http/metrics.js';
import { Router } from './http/router.js';
import { type FrameReader, logFrames } from './log/frame-log.js';
import { createLogger } from './log/logger.js';
import { pusherFrameReader } from './protocol/pusher/frame-log.js';
import { addPusherHttpApi } from './protocol/pusher/http-api/routes.js';
import { PusherServer } from './protocol/pusher/server.js';
import { wampFrameReader } from './protocol/wamp/frame-log.js';
import { WampRouter } from './protocol/wamp/router.js';
import type { InheritedSockets } from './transport/activation.js';
import { ConnectionLimits } from './transport/connection-limits.js';
import { closeListener, createListener, listen, listenInherited } from './transport/listener.js';
import { RawSocketTransport } from './transport/rawsocket.js';
import { SharedPort } from './transport/shared-port.js';
import { readTls, type TlsMaterial } from './transport/tls.js';
import { type WebSocketRoute, WebSocketTransport } from './transport/ws.js';
import { clusterWebhooks } from './webhooks/cluster.js';
import type { Webhooks } from './webhooks/webhooks.js';

/** Parts a caller may supply instead of the defaults the config implies. */
export interface HeraldDeps {
  logger?: Logger;
  /** Where apps come from. @default the store `config.appStore` names */
  apps?: AppCatalog;
  /**
   * The whole set of cluster parts (adapter, stores, outbox, preflight), as `createMemoryParts`,
   * `createRedisParts` or `createNatsParts` build it: never parts of different sets. Herald owns it
   * from then on (see `ClusterParts` for who opens and closes what). @default the set `config.adapter` names
   */
  cluster?: ClusterParts;
  /**
   * Milliseconds since the epoch, the one clock of every part (the cluster adapter's heartbeats
   * included); tests pin it to check signed-request vectors. @default Date.now
   */
  now?: () => number;
  /** Socket id generator; tests pin it to check subscription signature vectors. */
  socketIds?: () => string;
  /** Receives channel events and delivers the apps' webhooks. @default one built from `config.webhooks` */
  webhooks?: Webhooks;
  /** Resident memory in bytes, as `maxMemoryMB` reads it; tests drive the ceiling with it. @default process.memoryUsage.rss */
  rss?: () => number;
  /**
   * Listening sockets systemd passed (`inheritedSockets`): each listener it names is served on its
   * socket instead of binding its address. @default none
   */
  sockets?: InheritedSockets;
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
  readonly wamp: WampRouter;
  readonly webhooks: Webhooks;
  /** Refusals by limit, counted where each limit is enforced and shown on `/metrics`. */
  readonly limitRefusals = new LimitRefusals();
  /** Each app's (and WAMP realm's) connections and traffic, counted by the transport and shown on `/metrics`. */
  readonly traffic = new AppTraffic();
  /** Over `maxMemoryMB`: new connections and subscriptions are refused and `/ready` answers 503. */
  readonly memory: MemoryCeiling;
  /**
   * The dashboard's sign-in and sessions, for the routes of its views; undefined when it is off.
   * Served on the admin listener when there is one, else on the public port.
   */
  readonly dashboard: DashboardAccess | undefined;
  /**
   * What happens in each app (`pusher:<appId>`) and WAMP realm (`wamp:<realm>`), for the dashboard's
   * debug console: `watch` a namespace to receive its events from every node of the cluster.
   */
  readonly debugFeed: DebugFeed;
  /** The apps' last 15 minutes, for the dashboard; none when it is off. */
  readonly #stats: StatsSampler | undefined;
  /** Forwards the debug feed between nodes; none without a broker. */
  readonly #clusterFeed: ClusterDebugFeed | undefined;
  readonly #cluster: ClusterParts;
  readonly #adapter: Adapter;
  /** The public listener: WebSockets, and the HTTP API unless `api.public` is false; TLS with `tls`. */
  readonly #http: Server;
  /** The admin listener (`api.port`): the HTTP API and `/metrics`, plain HTTP. */
  readonly #admin: Server | undefined;
  readonly #now: () => number;
  /** The certificate reloads, one after another. */
  #reloads: Promise<unknown> = Promise.resolve();
  readonly #transport: WebSocketTransport;
  /** WAMP over RawSocket: on the public port (`#sharedPort`) and on `wamp.rawsocket` when set. */
  readonly #rawSocket: RawSocketTransport;
  readonly #sharedPort: SharedPort;
  /** The RawSocket listener (`wamp.rawsocket`); none without it. */
  readonly #rawListener: NetServer | undefined;
  readonly #outbox: WebhookOutbox | undefined;
  readonly #catalog: AppCatalog;
  /** Keeps the apps of a database store current on this node; none for the config file's. */
  readonly #liveApps: LiveApps | undefined;
  /** The cache of a database store's apps; none for the config file's. */
  readonly #appCache: CachedAppStore | undefined;
  /** Whether the app store failed its last lookup (said once per outage). */
  #storeDown = false;
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  #started: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;
  readonly #sockets: InheritedSockets | undefined;

  constructor(
    readonly config: Readonly<Config>,
    deps: HeraldDeps = {},
  ) {
    this.logger = deps.logger ?? createLogger(config);
    this.#sockets = deps.sockets;
    this.memory = new MemoryCeiling({
      maxBytes: config.maxMemoryMB === null ? null : config.maxMemoryMB * 1024 * 1024,
      ...(deps.rss ? { rss: deps.rss } : {}),
      onChange: (over, rssBytes) => {
        const rssMB = Math.round(rssBytes / 1024 / 1024);
        if (over) this.logger.warn({ rssMB }, 'over maxMemoryMB: refusing new connections and subscriptions');
        else this.logger.info({ rssMB }, 'back under maxMemoryMB: accepting again');
      },
    });
    const now = deps.now ?? Date.now;
    this.#now = now;
    this.#catalog = deps.apps ?? openAppCatalog(config, this.logger.child({ component: 'apps' }));
    const cluster = deps.cluster ?? clusterParts(config.adapter, this.logger, now);
    this.#cluster = cluster;
    this.#adapter = cluster.adapter;
    this.debugFeed = new DebugFeed({ node: cluster.adapter.nodeId, now });
    if (cluster.driver !== 'memory') {
      const logger = this.logger.child({ component: 'debug-feed' });
      this.#clusterFeed = new ClusterDebugFeed({
        feed: this.debugFeed,
        adapter: cluster.adapter,
        logger,
        now,
      });
    }
    let apps: AppStore = this.#catalog;
    if (config.appStore.driver !== 'config') {
      const { cacheTtlMs, missTtlMs, lookupsPerSecond } = config.appStore;
      const cache = new CachedAppStore(this.#catalog, {
        ttlMs: cacheTtlMs,
        missTtlMs,
        lookupsPerSecond,
        now,
        onChange: (id, app) => this.pusher.appChanged(id, app),
        onStoreAnswer: (ok, err) => this.#storeAnswered(ok, err),
      });
      this.#liveApps = new LiveApps({
        catalog: this.#catalog,
        cache,
        adapter: cluster.adapter,
        logger: this.logger.child({ component: 'apps' }),
        ttlMs: cacheTtlMs,
        inUse: () => this.pusher.appsInUse(),
      });
      this.#appCache = cache;
      apps = cache;
    }
    // The outbox journals our own webhooks; webhooks supplied from outside keep their own state.
    this.#outbox = deps.webhooks ? undefined : cluster.outbox;
    this.webhooks =
      deps.webhooks ??
      clusterWebhooks({
        config: config.webhooks,
        logger: this.logger.child({ component: 'webhooks' }),
        now,
        apps,
        adapter: cluster.adapter,
        outbox: this.#outbox,
        debugFeed: this.debugFeed,
      });

    this.pusher = new PusherServer({
      apps,
      adapter: cluster.adapter,
      presence: cluster.presence,
      occupancy: cluster.occupancy,
      cache: cluster.cache,
      channelHistory: cluster.channelHistory,
      events: this.webhooks,
      logger: this.logger.child({ protocol: 'pusher' }),
      activityTimeoutSeconds: config.activityTimeoutSeconds,
      pongTimeoutSeconds: config.pongTimeoutSeconds,
      maxMessageBytes: config.maxMessageBytes,
      now,
      limitRefusals: this.limitRefusals,
      memory: this.memory,
      traffic: this.traffic,
      debugFeed: this.debugFeed,
      ...(deps.socketIds ? { socketIds: deps.socketIds } : {}),
    });

    this.wamp = new WampRouter({
      config: config.wamp,
      logger: this.logger.child({ protocol: 'wamp' }),
      now,
      limitRefusals: this.limitRefusals,
      traffic: this.traffic,
      debugFeed: this.debugFeed,
      history: cluster.history,
      // One process needs no bus: its publications stay in the broker.
      ...(cluster.driver !== 'memory' ? { adapter: cluster.adapter } : {}),
    });

    // The HTTP API and /metrics, registered once: on the admin listener, and on the public port unless
    // `api.public` is false (404 there then, like any unknown path). /health and /ready are on both.
    const router = new Router(this.logger, config.maxRequestBodyBytes);
    addMetricsRoute(
      router,
      createMetrics({
        websocketConnections: () => this.#transport.connectionCount,
        wampSessions: () => this.wamp.sessionCount,
        wampRealms: () => this.wamp.realmStats(),
        webhooks: () => this.webhooks.stats,
        appWebhooks: () => this.webhooks.appStats,
        limitRefusals: this.limitRefusals,
        traffic: this.traffic,
        httpRequests: router.counts,
      }),
    );
    addPusherHttpApi(router, {
      apps,
      queries: this.pusher.queries,
      maxTimestampSkewSeconds: config.maxTimestampSkewSeconds,
      now,
      nodes: () => this.#adapter.peers.length + 1,
      pathPrefix: config.pathPrefix,
    });

    // One set of limits for every connection, WebSocket or RawSocket: `maxConnections` counts them all.
    const limits = new ConnectionLimits({
      maxConnections: config.maxConnections,
      maxConnectionsPerAddress: config.maxConnectionsPerAddress,
      connectionRatePerAddress: config.connectionRatePerAddress,
      trustedProxies: config.trustedProxies,
      memory: this.memory,
      refusals: this.limitRefusals,
    });
    this.#transport = new WebSocketTransport({
      logger: this.logger,
      // Messages past maxMessageBytes get a protocol error; far larger ones are cut off unread.
      maxPayloadBytes: Math.max(1024 * 1024, 4 * config.maxMessageBytes, 2 * config.wamp.maxMessageBytes),
      maxBufferedBytes: config.maxBufferedBytes,
      limits,
    });
    // With `logFrames` the sessions are wrapped to log their frames; without, they do no work for it.
    const logged = (open: WebSocketRoute['open'], reader: FrameReader) =>
      config.logFrames ? logFrames(open, reader, this.logger) : open;
    const pusher = this.pusher;
    this.#transport.route({
      pattern: new RegExp(`^${escapeRegExp(config.pathPrefix)}/app/([^/]+)$`),
      open: logged((connection, request) => pusher.open(connection, request), pusherFrameReader),
    });
    const wamp = this.wamp;
    const openWamp = logged((connection, request) => wamp.open(connection, request), wampFrameReader);
    this.#transport.route({
      pattern: new RegExp(`^${escapeRegExp(config.wamp.path)}$`),
      protocols: wamp.protocols,
      open: openWamp,
    });
    this.#rawSocket = new RawSocketTransport({
      logger: this.logger,
      route: { protocols: wamp.protocols, open: openWamp },
      maxMessageBytes: config.wamp.rawsocketMaxMessageBytes,
      maxBufferedBytes: config.maxBufferedBytes,
      handshakeTimeoutMs: config.wamp.helloTimeoutMs,
      limits,
    });
    const rawSocket = this.#rawSocket;
    this.#rawListener =
      config.wamp.rawsocket &&
      createNetServer({ noDelay: true }, (socket) => rawSocket.accept(socket)).on('error', (err) =>
        this.logger.error({ err }, 'RawSocket listener error'),
      );

    const routes = (withApi: boolean) => {
      // Both listeners count their requests into one set of numbers, the one /metrics reads.
      const listenerRoutes = new Router(this.logger, config.maxRequestBodyBytes, router.counts);
      addHealthRoutes(listenerRoutes, () => this.#readiness());
      if (withApi) listenerRoutes.include(router);
      return listenerRoutes;
    };
    const publicRoutes = routes(config.api.public);
    const dashboard = config.dashboard?.enabled ? config.dashboard : undefined;
    const dashboardOn = (router: Router, secure: boolean) =>
      dashboard &&
      addDashboard(router, { config: dashboard, secure, trustedProxies: config.trustedProxies, now });
    // The dashboard is for operators: on the private admin listener when there is one.
    this.dashboard =
      config.api.port === null ? dashboardOn(publicRoutes, config.tls !== undefined) : undefined;
    this.#http = createListener(publicRoutes, this.logger, config.tls !== undefined);
    this.#transport.attach(this.#http);
    this.#sharedPort = new SharedPort(this.#http, config.tls !== undefined, this.#rawSocket, this.logger);
    if (config.api.port !== null) {
      const adminRoutes = routes(true);
      this.dashboard = dashboardOn(adminRoutes, false);
      if (config.api.token !== undefined) {
        // Every node, this one included, looks a changed app up again; a change the bus could not
        // carry is seen by the others within the cache's TTL, and the change itself stands.
        const changed = async (id: string) =>
          this.#liveApps
            ?.changed(id)
            .catch((err) => this.logger.warn({ err, app: id }, 'app change not broadcast to the cluster'));
        const manager = new AppManager(this.#catalog, { now, changed });
        addAppAdminApi(adminRoutes, { manager, token: config.api.token });
      }
      this.#admin = createListener(adminRoutes, this.logger, false);
    }
    if (this.dashboard) addConsoleRoutes(this.dashboard, this.debugFeed, now);
    this.#stats =
      this.dashboard &&
      addViewRoutes(this.dashboard, {
        apps,
        queries: this.pusher.queries,
        wamp: this.wamp,
        adapter: cluster.adapter,
        traffic: this.traffic,
        httpRequests: router.counts,
        appWebhooks: () => this.webhooks.appStats,
        now,
      });
  }

  /** Loads every app of a database store into the cache when there are at most `appStore.preload`. */
  async #preloadApps(): Promise<void> {
    const store = this.config.appStore;
    if (!this.#appCache || store.driver === 'config' || store.preload === 0) return;
    const apps = await this.#catalog.all(store.preload + 1);
    if (apps.length > store.preload) {
      this.logger.info(
        { preload: store.preload },
        'more apps than appStore.preload: each is looked up on its first use',
      );
      return;
    }
    this.#appCache.prime(apps);
    this.logger.info({ apps: apps.length }, 'apps loaded into the cache');
  }

  #storeAnswered(ok: boolean, err: unknown): void {
    if (ok === !this.#storeDown) return;
    this.#storeDown = !ok;
    if (ok) this.logger.info('app store answering again');
    else
      this.logger.error(
        { err },
        'app store unavailable: cached apps keep serving; others are refused (4100, HTTP 503) until it answers',
      );
  }

  /** What `/ready` says: serving, or why not. */
  #readiness(): 'ready' | 'stopping' | 'over-memory' {
    if (this.#state !== 'running') return 'stopping';
    return this.memory.over ? 'over-memory' : 'ready';
  }

  /** Open WebSocket (both protocols) and RawSocket connections on this node: what `maxConnections` counts. */
  get connectionCount(): number {
    return this.#transport.connectionCount + this.#rawSocket.connectionCount;
  }

  /** The bound port (useful with `port: 0`). */
  get port(): number {
    return (this.#http.address() as AddressInfo | null)?.port ?? this.config.port;
  }

  /** The bound port of the RawSocket listener (useful with `wamp.rawsocket.port: 0`); undefined without one. */
  get rawSocketPort(): number | undefined {
    if (!this.#rawListener) return undefined;
    return (this.#rawListener.address() as AddressInfo | null)?.port ?? this.config.wamp.rawsocket?.port;
  }

  /** The bound port of the admin listener (useful with `api.port: 0`); undefined without one. */
  get apiPort(): number | undefined {
    if (!this.#admin) return undefined;
    return (this.#admin.address() as AddressInfo | null)?.port ?? this.config.api.port ?? undefined;
  }

  get host(): string {
    return this.config.host;
  }

  /** The address of the public listener's inherited socket; undefined when it bound its own. */
  get inheritedAddress(): AddressInfo | undefined {
    if (!this.#sockets) return undefined;
    return (this.#http.address() as AddressInfo | null) ?? undefined;
  }

  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    this.#state = 'starting';
    // A certificate Herald cannot use stops the start before anything is opened.
    if (this.config.tls) this.#useCertificate(await readTls(this.config.tls, this.#now()), false);
    let adapterStarted = false;
    try {
      // An app store that cannot serve (unreachable, not migrated) stops the start, saying what to do.
      await this.#catalog.check();
      await this.#preloadApps();
      await this.#cluster.preflight();
      await this.#adapter.start();
      adapterStarted = true;
      await this.#liveApps?.start();
    } catch (err) {
      // Nothing else was opened yet: the store's, the adapter's and the set's connections are all
      // there is to close.
      this.#liveApps?.stop();
      if (adapterStarted) {
        await this.#adapter
          .close({ handoverMs: 0 })
          .catch((e) => this.logger.warn({ err: e }, 'adapter not closed'));
      }
      await this.#catalog.close().catch((e) => this.logger.warn({ err: e }, 'app store not closed'));
      await this.#cluster.close().catch((e) => this.logger.warn({ err: e }, 'cluster parts not closed'));
      throw err;
    }
    this.pusher.start();
    this.wamp.start();
    this.#clusterFeed?.start();
    this.#stats?.start();
    try {
      // The public port first: `--workers` takes the first address a worker listens on for it.
      const sockets = this.#sockets;
      if (sockets) await listenInherited(this.#http, sockets.public, 'public');
      else await listen(this.#http, this.config.port, this.config.host, 'host, port; --host, --port');
      const { host, port } = this.config.api;
      if (this.#admin && sockets?.admin !== undefined)
        await listenInherited(this.#admin, sockets.admin, 'admin');
      else if (this.#admin && port !== null) {
        await listen(this.#admin, port, host, 'api.host, api.port; --api-host, --api-port');
      }
      const raw = this.config.wamp.rawsocket;
      if (this.#rawListener && sockets?.rawsocket !== undefined) {
        await listenInherited(this.#rawListener, sockets.rawsocket, 'rawsocket');
      } else if (this.#rawListener && raw) {
        await listen(this.#rawListener, raw.port, raw.host, 'wamp.rawsocket.host, wamp.rawsocket.port');
      }
    } catch (err) {
      // An address it cannot listen on: what the start opened is closed again before the error goes up.
      this.pusher.stop({ handover: false });
      this.wamp.stop();
      this.#stats?.stop();
      await this.#clusterFeed?.stop();
      await this.#adapter
        .close({ handoverMs: 0 })
        .catch((e) => this.logger.warn({ err: e }, 'adapter not closed'));
      this.#liveApps?.stop();
      await this.#catalog.close().catch((e) => this.logger.warn({ err: e }, 'app store not closed'));
      await this.#cluster.close().catch((e) => this.logger.warn({ err: e }, 'cluster parts not closed'));
      await this.#closeListeners();
      throw err;
    }
    this.#state = 'running';
  }

  /**
   * Re-reads the `tls` files (what SIGHUP does): handshakes from now on use the new certificate, and
   * open connections keep theirs. Files Herald cannot use leave the certificate in service as it is,
   * logged at error; this never rejects. Resolves with whether the new certificate is in service.
   * Reloads run one after another, so the last one asked for wins.
   */
  reloadTls(): Promise<boolean> {
    const reload = this.#reloads.then(() => this.#reloadTls());
    this.#reloads = reload;
    return reload;
  }

  async #reloadTls(): Promise<boolean> {
    if (!this.config.tls) return false;
    try {
      const material = await readTls(this.config.tls, this.#now());
      this.#useCertificate(material, true);
      this.logger.info({ certificate: material.certificate }, 'TLS certificate reloaded');
      return true;
    } catch (err) {
      this.logger.error({ err }, 'TLS certificate not reloaded: the one in service stays');
      return false;
    }
  }

  #useCertificate(material: TlsMaterial, reload: boolean): void {
    // New session ticket keys on a reload: a client resuming a session from before it would otherwise
    // skip the handshake, and so the new certificate.
    const options = reload ? { ...material.options, ticketKeys: randomBytes(48) } : material.options;
    (this.#http as HttpsServer).setSecureContext(options);
    if (!reload) this.logger.info({ certificate: material.certificate }, 'TLS certificate');
  }

  /**
   * Graceful stop: `/ready` turns 503, new WebSockets are refused, every client gets 4200 (reconnect
   * now) and has `shutdownTimeoutMs` to go, pending webhooks get `webhooks.flushTimeoutMs` to be
   * delivered, then the adapter and the HTTP server close.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    await this.#started?.catch(() => {});
    this.#state = 'stopping';
    this.#transport.refuseNew();
    this.#rawSocket.refuseNew();
    // Sockets systemd holds stop being accepted from at once: new connections wait in their queue for
    // the next process instead of being refused by this one.
    if (this.#sockets) {
      for (const server of [this.#http, this.#admin, this.#rawListener]) server?.close();
    }
    // With other nodes to reconnect to, this node's presence and occupancy are left to them for the
    // vacate delay: its clients come back there without a member_removed/member_added flap.
    const handoverMs = this.#adapter.peers.length > 0 ? this.config.webhooks.vacateDelayMs : 0;
    this.pusher.stop({ handover: handoverMs > 0 });
    this.wamp.stop();
    await Promise.all([
      this.#transport.drain(this.config.shutdownTimeoutMs),
      this.#rawSocket.drain(this.config.shutdownTimeoutMs),
    ]);
    // Presence and occupancy clean-up reaches the shared store; with the broker down it cannot, and
    // shutdown must still finish (the survivors clean up after this node once it is gone).
    await atMost(this.pusher.settled(), this.config.shutdownTimeoutMs);
    // The clients' last channel events are in: send the webhooks they made before going away.
    await this.webhooks.flush(this.config.webhooks.flushTimeoutMs);
    // What could not be delivered in time is left for the survivors after a handover, else given up.
    if (this.#outbox && handoverMs === 0) {
      const cleared = this.#outbox
        .clear()
        .catch((err) => this.logger.warn({ err }, 'webhook outbox not cleared'));
      await atMost(cleared, this.config.adapter.requestTimeoutMs);
    }
    await this.#clusterFeed?.stop();
    this.#stats?.stop();
    await this.#adapter.close({ handoverMs });
    this.#liveApps?.stop();
    await this.#catalog.close().catch((err) => this.logger.warn({ err }, 'app store not closed'));
    // The stores, then the connections they and the adapter shared.
    await this.#cluster.close();
    await this.#closeListeners();
    this.#state = 'stopped';
  }

  async #closeListeners(): Promise<void> {
    this.#sharedPort.close();
    await Promise.all([
      closeListener(this.#http),
      this.#admin && closeListener(this.#admin),
      this.#rawListener && closeListener(this.#rawListener),
    ]);
  }
}

/**
 * The set of cluster parts `config` names, each part built with this node's id, the prefix and the
 * timings from the config (their defaults live in the schema only).
 */
function clusterParts(config: Config['adapter'], logger: Logger, now: () => number): ClusterParts {
  const nodeId = randomUUID();
  if (config.driver === 'memory') return createMemoryParts(nodeId, now);
  const { driver, url, prefix, heartbeatMs, nodeTimeoutMs, requestTimeoutMs } = config;
  const log = logger.child({ component: 'cluster', driver });
  const options = { nodeId, prefix, logger: log, heartbeatMs, nodeTimeoutMs, requestTimeoutMs, now };
  return driver === 'redis' ? createRedisParts(url, options) : createNatsParts(url, options);
}
