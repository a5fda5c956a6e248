import type { Logger } from 'pino';
import type { Adapter } from '../../adapters/adapter.js';
import { busFields, MalformedBusMessage } from '../../adapters/bus-payload.js';
import type { Config } from '../../config/schema.js';
import type { Connection, Session, UpgradeRequest } from '../../core/connection.js';
import type { DebugFeed } from '../../core/debug-feed.js';
import type { HistoryStore } from '../../core/history/store.js';
import type { LimitName, LimitRefusals } from '../../core/limit-refusals.js';
import { checkOrigin } from '../../core/origin.js';
import { AppTraffic } from '../../core/traffic.js';
import { Authenticator, type Principal } from './auth.js';
import { type NodeMessage, parseLookupAnswer, parseNodeMessage } from './bus-messages.js';
import type { RealmRpc } from './cluster-dealer.js';
import { SERIALIZERS, WAMP_PROTOCOLS } from './codec.js';
import { type NodeRegistration, nodeRegistration } from './dealer-messages.js';
import { ProtocolViolation, WampError, WampUri } from './errors.js';
import { freshId } from './ids.js';
import type { ClientMessage, Dict } from './messages.js';
import { localSessions } from './meta-procedures.js';
import type { MetaCluster, SessionInfo } from './meta-types.js';
import { isDict } from './payload.js';
import { Realm, type RealmBus, type RealmOptions, type RealmStats } from './realm.js';
import { type SessionHost, WampSession } from './session.js';
import { isMatchPolicy, isValidUri } from './uri.js';

export type WampConfig = Config['wamp'];

export interface WampRouterOptions {
  readonly config: WampConfig;
  readonly logger: Logger;
  /** Milliseconds since the epoch (WAMP-CRA challenge timestamps). */
  readonly now?: () => number;
  /**
   * In a cluster: publications reach the realm's sessions on every node. Every node receives every
   * publication of every realm: pattern subscriptions make routing by topic impractical, and each node
   * keeps the retained events for subscribers yet to come. Calls reach callees on every node: each
   * node has its own namespace for the calls to its callees and the answers to its callers.
   */
  readonly adapter?: Adapter;
  /** Where refusals by the WAMP limits are counted, for the metrics. */
  readonly limitRefusals?: LimitRefusals;
  /**
   * Where each realm's connections and traffic are counted, for the metrics (protocol `wamp`, the realm
   * name as the app). @default counted, not shown
   */
  readonly traffic?: AppTraffic;
  /** Where each realm reports joins, leaves, publications and calls for the debug console. */
  readonly debugFeed?: DebugFeed;
  /** Where the realms keep their event history: the cluster's store. @default in this process */
  readonly history?: HistoryStore;
}

/** The adapter namespace of a realm's publications. */
const REALM_NAMESPACE = 'wamp:';
/** The adapter namespace of the calls (and their answers) for one node: `wamp-node:<nodeId>`. */
const NODE_NAMESPACE = 'wamp-node:';
/** The cluster request for a node's sessions of a realm. */
const SESSIONS_OP = 'wamp.sessions';
/** The cluster request for a node's part of a meta procedure (`MetaApi.answer`). */
const META_OP = 'wamp.meta';
/** The cluster request for a node's best registration for a procedure of a realm. */
const LOOKUP_OP = 'wamp.lookup';

/**
 * What WELCOME announces: exactly the features implemented (WAMP spec, Advanced Profile, Feature
 * Announcement); values are booleans.
 */
export const ROUTER_ROLES = {
  broker: {
    features: {
      publisher_identification: true,
      publisher_exclusion: true,
      subscriber_blackwhite_listing: true,
      pattern_based_subscription: true,
      event_retention: true,
      event_history: true,
      payload_passthru_mode: true,
      session_meta_api: true,
      subscription_meta_api: true,
    },
  },
  dealer: {
    features: {
      caller_identification: true,
      pattern_based_registration: true,
      shared_registration: true,
      call_canceling: true,
      call_timeout: true,
      progressive_call_results: true,
      progressive_call_invocations: true,
      session_meta_api: true,
      registration_meta_api: true,
      testament_meta_api: true,
      payload_passthru_mode: true,
    },
  },
} as const;

const CLIENT_ROLES = ['publisher', 'subscriber', 'caller', 'callee'];
const AGENT = 'Herald';

/**
 * The WAMP v2 router (what Crossbar.io is): realms from config, the opening handshake with
 * authentication, and the sessions of every WebSocket on the WAMP path. Never sees a socket.
 */
export class WampRouter implements SessionHost {
  readonly logger: Logger;
  readonly maxMessageBytes: number;
  readonly helloTimeoutMs: number;
  readonly protocols = WAMP_PROTOCOLS;
  readonly #realms = new Map<string, Realm>();
  readonly #authenticator: Authenticator;
  readonly #sessions = new Set<WampSession>();
  /** Session IDs in use, from HELLO (WAMP-CRA signs the ID before WELCOME) to the session's end. */
  readonly #ids = new Set<number>();
  readonly #now: () => number;
  /** The realm each session in CHALLENGE asked to join. */
  readonly #challenged = new WeakMap<WampSession, Realm>();
  readonly #options: WampRouterOptions;
  readonly #traffic: AppTraffic;
  /** The adapter namespaces of the realms' publications and of this node's calls, subscribed to at `start`. */
  readonly #busNamespaces: string[] = [];

  constructor(options: WampRouterOptions) {
    this.logger = options.logger;
    this.#options = options;
    this.#traffic = options.traffic ?? new AppTraffic();
    this.maxMessageBytes = options.config.maxMessageBytes;
    this.helloTimeoutMs = options.config.helloTimeoutMs;
    this.#now = options.now ?? Date.now;
    this.#authenticator = new Authenticator(options.config.auth);
    const { adapter } = options;
    for (const config of options.config.realms) {
      const realmOptions = {
        killTimeoutMs: options.config.killTimeoutMs,
        logger: options.logger,
        refused: (limit: LimitName) => this.refused(limit),
        ...(options.debugFeed ? { debugFeed: options.debugFeed } : {}),
        ...(options.history ? { history: options.history } : {}),
        ...(adapter ? this.#clustered(adapter, config.name) : {}),
      };
      this.#realms.set(config.name, new Realm(config, realmOptions));
    }
    // What the other nodes ask: this node's sessions of a realm, its part of a meta procedure.
    adapter?.handle(SESSIONS_OP, (p): SessionInfo[] => {
      const realm = this.#realms.get(busFields(SESSIONS_OP, p, { realm: 'string' }).realm);
      return realm ? localSessions(realm.sessions) : [];
    });
    adapter?.handle(META_OP, (p): unknown => {
      const shape = {
        realm: 'string',
        node: 'string',
        procedure: 'string',
        args: 'array',
        kwargs: 'dict',
      } as const;
      const { realm, node, procedure, args, kwargs } = busFields(META_OP, p, shape);
      const meta = this.#realms.get(realm)?.meta;
      if (!meta || node === adapter.nodeId) return null;
      return meta.answer(procedure, args, kwargs);
    });
    adapter?.handle(LOOKUP_OP, (p): NodeRegistration | null => {
      const { realm, procedure, match } = busFields(LOOKUP_OP, p, {
        realm: 'string',
        procedure: 'string',
        match: 'unknown',
      });
      if (match !== undefined && !isMatchPolicy(match))
        throw new MalformedBusMessage(`${LOOKUP_OP}: no match policy "${String(match)}"`);
      const registrations = this.#realms.get(realm)?.dealer.registrations;
      if (!registrations) return null;
      const found = isMatchPolicy(match)
        ? registrations.lookup(procedure, match)
        : registrations.best(procedure);
      return found ? nodeRegistration(adapter.nodeId, found) : null;
    });
    const calls = `${NODE_NAMESPACE}${adapter?.nodeId}`;
    if (adapter) this.#busNamespaces.push(calls);
    adapter?.onMessage((message) => {
      if (message.namespace === calls) return this.#fromNode(message.text, adapter.nodeId);
      if (!message.namespace.startsWith(REALM_NAMESPACE)) return;
      this.#realms.get(message.namespace.slice(REALM_NAMESPACE.length))?.broker.receive(message.text);
    });
    adapter?.onNodeDown((node) => {
      for (const realm of this.#realms.values()) realm.nodeDown(node);
    });
  }

  /** What a realm needs in a cluster: its publications' bus, the meta API's and the dealer's cluster. */
  #clustered(adapter: Adapter, realm: string): Pick<RealmOptions, 'bus' | 'metaCluster' | 'rpc'> {
    // A meta procedure that not every node answered would give a partial answer as if it were whole.
    const whole = <T>({ answers, complete }: { answers: T[]; complete: boolean }, procedure: string): T[] => {
      if (complete) return answers;
      this.logger.warn({ realm, procedure }, 'WAMP meta procedure refused: not every node answered');
      throw new WampError(WampUri.UNAVAILABLE, 'not every node of the cluster answered');
    };
    const metaCluster: MetaCluster = {
      sessions: async () =>
        whole(await adapter.request<SessionInfo[]>(SESSIONS_OP, { realm }), 'wamp.session.*').flat(),
      ask: async (procedure, args, kwargs) => {
        const question = { realm, node: adapter.nodeId, procedure, args, kwargs };
        return whole(await adapter.request<unknown>(META_OP, question), procedure);
      },
    };
    return {
      bus: this.#bus(adapter, `${REALM_NAMESPACE}${realm}`),
      metaCluster,
      rpc: this.#rpc(adapter, realm),
    };
  }

  #rpc(adapter: Adapter, realm: string): RealmRpc {
    return {
      nodeId: adapter.nodeId,
      alone: () => adapter.peers.length === 0,
      lookup: async (procedure, match) => {
        const question = { realm, procedure, ...(match ? { match } : {}) };
        const { answers, complete } = await adapter.request<unknown>(LOOKUP_OP, question);
        // The other nodes' answers came over the bus: one that cannot be used is as if not given.
        const found: NodeRegistration[] = [];
        let whole = complete;
        for (const answer of answers) {
          try {
            const registration = parseLookupAnswer(answer);
            if (registration) found.push(registration);
          } catch (err) {
            if (!(err instanceof MalformedBusMessage)) throw err;
            whole = false;
            this.logger.warn({ realm, procedure, reason: err.message }, 'malformed cluster message dropped');
          }
        }
        return { found, complete: whole };
      },
      send: (node, message) => {
        const text = JSON.stringify({ n: adapter.nodeId, r: realm, m: message } satisfies NodeMessage);
        adapter
          .publish({ namespace: `${NODE_NAMESPACE}${node}`, channel: '', text })
          .catch((err: unknown) => {
            this.logger.error({ err, node, realm }, 'WAMP call not sent to its node');
          });
      },
    };
  }

  /** A message of a realm's dealer on another node for the dealer here; checked (it may be forged). */
  #fromNode(text: string, nodeId: string): void {
    const message = parseNodeMessage(text);
    // A node hands a call to another node, never to itself.
    if (message.n === nodeId) throw new MalformedBusMessage('call message: from this node itself');
    this.#realms.get(message.r)?.fromNode(message.n, message.m);
  }

  #bus(adapter: Adapter, namespace: string): RealmBus {
    const failed = (what: string) => (err: unknown) => this.logger.error({ err, namespace }, what);
    this.#busNamespaces.push(namespace);
    return {
      publish: (text) => {
        adapter
          .publish({ namespace, channel: '', text })
          .catch(failed('WAMP publication not sent to the cluster'));
      },
    };
  }

  /**
   * Once the adapter has started: this node receives every realm's publications from the others, and
   * the calls for its callees.
   */
  start(): void {
    const { adapter } = this.#options;
    for (const namespace of this.#busNamespaces) {
      adapter?.addInterest(namespace, '').catch((err: unknown) => {
        this.logger.error({ err, namespace }, 'WAMP realm not joined on the bus');
      });
    }
  }

  /** Open WAMP connections (joined to a realm or still in the handshake). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Each realm's numbers, for the metrics. */
  realmStats(): RealmStats[] {
    return [...this.#realms.values()].map((realm) => realm.stats());
  }

  realm(name: string): Realm | undefined {
    return this.#realms.get(name);
  }

  /** Accepts a WebSocket whose subprotocol the transport agreed on (one of `protocols`). */
  open(connection: Connection, request: UpgradeRequest): Session {
    const serializer = SERIALIZERS.get(request.protocol) ?? SERIALIZERS.get('wamp.2.json')!;
    const session = new WampSession(this, connection, serializer, request);
    this.#sessions.add(session);
    return session;
  }

  hello(session: WampSession, m: Extract<ClientMessage, { type: 1 }>): void {
    const roles = m.details.roles;
    if (!isDict(roles) || !CLIENT_ROLES.some((r) => isDict(roles[r]))) {
      throw new ProtocolViolation('HELLO.Details.roles must announce at least one client role');
    }
    if (!isValidUri(m.realm)) return session.abort(WampUri.INVALID_URI, `invalid realm URI "${m.realm}"`);
    const realm = this.#realms.get(m.realm);
    if (!realm) return session.abort(WampUri.NO_SUCH_REALM, `no realm "${m.realm}" exists on this router`);
    // The transport counts for the first realm it asks for, joined or refused.
    session.connection.countIn?.(this.#traffic.of('wamp', realm.name));
    // The realm's allowed origins (docs/wamp.md, "Realms"). The WAMP spec's "Predefined URIs" give
    // `wamp.error.not_authorized` for a join the peer is not authorized to make. (Crossbar checks
    // origins per transport instead, refusing the upgrade before any realm is known.)
    const verdict = checkOrigin(realm.origins, session.request.headers.origin);
    if (verdict !== 'allowed') {
      const why = verdict === 'missing' ? 'a connection without an Origin header' : 'this origin';
      return session.abort(WampUri.NOT_AUTHORIZED, `realm "${realm.name}" does not admit ${why}`);
    }
    session.id = freshId(this.#ids);
    this.#ids.add(session.id);
    const outcome = this.#authenticator.hello(m.details, session.id, new Date(this.#now()));
    switch (outcome.kind) {
      case 'abort':
        return session.abort(outcome.reason, outcome.message);
      case 'challenge':
        this.#challenged.set(session, realm);
        return session.challenge(outcome.method, outcome.extra, outcome.pending);
      default:
        return this.#welcome(session, realm, outcome.principal);
    }
  }

  authenticate(session: WampSession, signature: string): void {
    const realm = this.#challenged.get(session);
    const principal = session.pending?.verify(signature);
    this.#challenged.delete(session);
    if (!realm || !principal) return session.abort(WampUri.AUTHENTICATION_FAILED, 'authentication failed');
    this.#welcome(session, realm, principal);
  }

  #welcome(session: WampSession, realm: Realm, principal: Principal): void {
    if (!realm.authorizer.hasRole(principal.authrole)) {
      return session.abort(WampUri.NO_SUCH_ROLE, `no role "${principal.authrole}" on realm "${realm.name}"`);
    }
    const details: Dict = {
      realm: realm.name,
      authid: principal.authid,
      authrole: principal.authrole,
      authmethod: principal.authmethod,
      authprovider: principal.authprovider,
      ...(principal.authextra ? { authextra: principal.authextra } : {}),
      agent: AGENT,
      roles: ROUTER_ROLES,
    };
    session.welcome(realm, principal, details);
  }

  refused(limit: LimitName): void {
    this.#options.limitRefusals?.count(limit);
  }

  release(id: number): void {
    this.#ids.delete(id);
  }

  closed(session: WampSession): void {
    this.#sessions.delete(session);
  }

  /** Closes every WAMP transport with 1001 (no GOODBYE) so that clients reconnect to another node. */
  stop(): void {
    for (const session of [...this.#sessions]) session.shutdown();
  }
}
