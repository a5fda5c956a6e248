import type { Logger } from 'pino';
import type { z } from 'zod';
import type { wampRealmSchema } from '../../config/schema.js';
import type { DebugFeed } from '../../core/debug-feed.js';
import { MemoryHistoryStore } from '../../core/history/memory.js';
import type { HistoryStore } from '../../core/history/store.js';
import type { LimitName } from '../../core/limit-refusals.js';
import type { OriginPolicy } from '../../core/origin.js';
import { Authorizer } from './authorizer.js';
import { type Broker, type BrokerStats, MemoryBroker } from './broker.js';
import { ClusterDealer, type RealmRpc } from './cluster-dealer.js';
import { type Dealer, MemoryDealer } from './dealer.js';
import type { RpcMessage } from './dealer-messages.js';
import { ProtocolViolation, WampError, WampUri } from './errors.js';
import { EventHistory } from './history.js';
import { type ClientMessage, out, MessageType as T, TOO_DEEP_MESSAGE } from './messages.js';
import { MetaApi } from './meta.js';
import type { MetaCluster } from './meta-types.js';
import { Payload } from './payload.js';
import type { Peer } from './peer.js';
import { joinWithoutPeerAddress, SESSION_JOIN_TOPIC } from './privileged.js';
import type { UriCheck } from './uri.js';

export type RealmConfig = z.infer<typeof wampRealmSchema>;

export interface RealmStats extends BrokerStats {
  realm: string;
  sessions: number;
  calls: number;
  registrations: number;
}

export interface RealmOptions {
  readonly killTimeoutMs: number;
  /** Where the realm reports what it cannot answer to a client (failures of the cluster, bugs). */
  readonly logger: Logger;
  /** In a cluster: the realm's publications go through it to every node. */
  readonly bus?: RealmBus;
  /** In a cluster: the meta API answers for every node. */
  readonly metaCluster?: MetaCluster;
  /** In a cluster: calls reach callees on every node. */
  readonly rpc?: RealmRpc;
  /** Told of each request refused by one of the realm's limits, for the metrics. */
  readonly refused?: (limit: LimitName) => void;
  /** Where joins, leaves, publications and calls are reported for the debug console (`wamp:<realm>`). */
  readonly debugFeed?: DebugFeed;
  /** Where the event history is kept: the cluster's store, shared by every node. @default in this process */
  readonly history?: HistoryStore;
}

export interface RealmBus {
  /** To every node of the cluster, this one included (at once). */
  publish(text: string): void;
}

/** Messages of an established session the realm answers, with the request they may fail. */
type RealmMessage = Exclude<ClientMessage, { type: 1 | 3 | 5 | 6 }>;

/**
 * A routing namespace (what an app is to Pusher): its sessions, broker, dealer, authorization and
 * meta API. Sessions hand it every message of their established phase.
 */
export class Realm {
  readonly name: string;
  readonly uriCheck: UriCheck;
  /** Which pages may join, checked at HELLO. */
  readonly origins: OriginPolicy;
  readonly authorizer: Authorizer;
  readonly broker: Broker;
  readonly dealer: Dealer;
  readonly meta: MetaApi;
  readonly history: EventHistory;
  readonly sessions = new Map<number, Peer>();
  readonly cluster?: MetaCluster;
  readonly logger: Logger;
  readonly #clusterDealer: ClusterDealer | undefined;
  readonly #feed: DebugFeed | undefined;
  /** The realm's namespace in the debug feed. */
  readonly #ns: string;

  constructor(config: RealmConfig, options: RealmOptions) {
    this.name = config.name;
    this.#feed = options.debugFeed;
    this.#ns = `wamp:${config.name}`;
    this.logger = options.logger.child({ realm: config.name });
    this.uriCheck = config.uriCheck;
    this.origins = { allowedOrigins: config.allowedOrigins, requireOrigin: config.requireOrigin };
    this.authorizer = new Authorizer(config.roles);
    const refused = options.refused ? { refused: options.refused } : {};
    this.history = new EventHistory(config.eventHistory, {
      store: options.history ?? new MemoryHistoryStore(),
      namespace: this.#ns,
      maxEventBytes: config.maxHistoryEventBytes,
      logger: this.logger,
      ...refused,
    });
    // The meta API reads this realm (sessions, broker, dealer) and is their event sink.
    const events = {
      subscribed: (...a: Parameters<MetaApi['subscribed']>) => this.meta.subscribed(...a),
      unsubscribed: (...a: Parameters<MetaApi['unsubscribed']>) => this.meta.unsubscribed(...a),
      registered: (...a: Parameters<MetaApi['registered']>) => this.meta.registered(...a),
      unregistered: (...a: Parameters<MetaApi['unregistered']>) => this.meta.unregistered(...a),
    };
    this.broker = new MemoryBroker({
      authorizer: this.authorizer,
      uriCheck: this.uriCheck,
      events,
      maxRetainedTopics: config.maxRetainedTopics,
      maxRetainedBytes: config.maxRetainedBytes,
      maxRetainedEventBytes: config.maxRetainedEventBytes,
      maxSubscriptionsPerSession: config.maxSubscriptionsPerSession,
      ...refused,
      logger: this.logger,
      restricted: new Map([[SESSION_JOIN_TOPIC, joinWithoutPeerAddress]]),
      ...(this.history.enabled ? { history: this.history } : {}),
      ...(options.bus ? { bus: (text: string) => options.bus!.publish(text) } : {}),
    });
    const dealerContext = {
      authorizer: this.authorizer,
      uriCheck: this.uriCheck,
      events,
      procedure: (uri: string) => this.meta.procedure(uri),
      killTimeoutMs: options.killTimeoutMs,
      maxRegistrationsPerSession: config.maxRegistrationsPerSession,
      ...refused,
      logger: this.logger,
    };
    const local = new MemoryDealer(dealerContext);
    if (options.rpc)
      this.#clusterDealer = new ClusterDealer(local, dealerContext, options.rpc, this.sessions);
    this.dealer = this.#clusterDealer ?? local;
    if (options.metaCluster) this.cluster = options.metaCluster;
    this.meta = new MetaApi(this, {
      count: config.maxTestamentsPerSession,
      bytes: config.maxTestamentBytes,
      ...refused,
    });
  }

  /** A message from this realm's dealer on another node of the cluster. */
  fromNode(node: string, message: RpcMessage): void {
    this.#clusterDealer?.receive(node, message);
  }

  /** Another node of the cluster is gone: calls between it and this node end. */
  nodeDown(node: string): void {
    this.#clusterDealer?.nodeDown(node);
  }

  /** What the realm's metrics show. */
  stats(): RealmStats {
    return { realm: this.name, sessions: this.sessions.size, ...this.broker.stats(), ...this.dealer.stats() };
  }

  join(peer: Peer): void {
    this.sessions.set(peer.id, peer);
    this.meta.joined(peer);
    const feed = this.#feed;
    if (feed?.watched(this.#ns))
      feed.report(this.#ns, { type: 'session_joined', session: peer.id, userId: peer.authid });
  }

  /**
   * Session end (WAMP spec, Basic Profile, Session Closing; Advanced Profile, Testament): its calls end and
   * its subscriptions and registrations go, then its testaments are published, then the meta events. `quiet`
   * skips testaments and `on_leave`.
   */
  leave(peer: Peer, quiet = false): void {
    if (this.sessions.get(peer.id) !== peer) return;
    this.sessions.delete(peer.id);
    const feed = this.#feed;
    if (feed?.watched(this.#ns))
      feed.report(this.#ns, { type: 'session_left', session: peer.id, userId: peer.authid });
    const registrations = this.dealer.removeSession(peer);
    const subscriptions = this.broker.removeSession(peer);
    this.meta.publishTestaments(peer, !quiet);
    for (const { subscription, deleted } of subscriptions)
      this.meta.unsubscribed(peer, subscription, deleted);
    for (const { registration, deleted } of registrations)
      this.meta.unregistered(peer, registration, deleted);
    if (!quiet) this.meta.left(peer);
  }

  /**
   * Runs one request. A refused request is answered with ERROR (WAMP spec, Basic Profile, Publish and
   * Subscribe; Remote Procedure Calls); a `ProtocolViolation` propagates so that the session is aborted.
   */
  handle(peer: Peer, m: RealmMessage): void {
    try {
      this.#dispatch(peer, m);
    } catch (err) {
      if (!(err instanceof WampError) || err instanceof ProtocolViolation) throw err;
      // Nothing answers an unacknowledged PUBLISH, a CANCEL, a YIELD or a callee's ERROR.
      if (m.type === T.PUBLISH && m.options.acknowledge !== true) return;
      if (m.type === T.CANCEL || m.type === T.YIELD || m.type === T.ERROR) return;
      peer.send(out.refusal(m.type, m.request, err.uri, err.message));
    }
  }

  /**
   * A payload too deep for some serializer goes nowhere. A request is refused with
   * `wamp.error.invalid_argument` (the WAMP spec's URI for a payload that fails validation); a callee's
   * YIELD or ERROR ends its call instead, the caller getting that error in place of the answer.
   */
  #refuseTooDeep(peer: Peer, m: Extract<RealmMessage, { tooDeep?: true }>): void {
    if (m.type === T.YIELD || m.type === T.ERROR) {
      const requestType = m.type === T.ERROR ? m.requestType : T.INVOCATION;
      const reason = Payload.of([`the callee's answer: ${TOO_DEEP_MESSAGE}`]);
      const error = WampUri.INVALID_ARGUMENT;
      return this.dealer.error(peer, {
        requestType,
        request: m.request,
        details: {},
        error,
        payload: reason,
      });
    }
    throw new WampError(WampUri.INVALID_ARGUMENT, TOO_DEEP_MESSAGE);
  }

  /** A publication or call as the debug console shows it: its session, URI and arguments as JSON. */
  #report(type: 'publication' | 'call', peer: Peer, uri: string, payload: Payload | undefined): void {
    let data: unknown;
    try {
      data = payload?.values();
    } catch (err) {
      // The console shows the request without its arguments; routing it is the broker's or dealer's job.
      this.logger.debug({ err, uri }, 'debug feed: arguments not decoded');
    }
    const target = type === 'publication' ? { topic: uri } : { procedure: uri };
    const who = { session: peer.id, userId: peer.authid };
    this.#feed?.report(this.#ns, { type, ...who, ...target, ...(data ? { data } : {}) });
  }

  #dispatch(peer: Peer, m: RealmMessage): void {
    if ('tooDeep' in m && m.tooDeep) return this.#refuseTooDeep(peer, m);
    switch (m.type) {
      case T.PUBLISH:
        if (this.#feed?.watched(this.#ns)) this.#report('publication', peer, m.topic, m.payload);
        return this.broker.publish(peer, m.request, m.options, m.topic, m.payload);
      case T.SUBSCRIBE:
        return this.broker.subscribe(peer, m.request, m.options, m.topic);
      case T.UNSUBSCRIBE:
        return this.broker.unsubscribe(peer, m.request, m.subscription);
      case T.CALL:
        if (this.#feed?.watched(this.#ns)) this.#report('call', peer, m.procedure, m.payload);
        return this.dealer.call(peer, m.request, m.options, m.procedure, m.payload);
      case T.CANCEL:
        return this.dealer.cancel(peer, m.request, m.options);
      case T.REGISTER:
        return this.dealer.register(peer, m.request, m.options, m.procedure);
      case T.UNREGISTER:
        return this.dealer.unregister(peer, m.request, m.registration);
      case T.YIELD:
        return this.dealer.yield(peer, m.request, m.options, m.payload);
      case T.ERROR:
        return this.dealer.error(peer, m);
    }
  }
}
