import type { Logger } from 'pino';
import type { LimitName } from '../../core/limit-refusals.js';
import type { Authorizer } from './authorizer.js';
import { parseWirePublication, type WirePublication } from './bus-messages.js';
import { WampError, WampUri } from './errors.js';
import type { EventHistory } from './history.js';
import { randomId, uriId } from './ids.js';
import { getOrCreate } from './maps.js';
import { type Dict, out } from './messages.js';
import { optBool, optMatch } from './options.js';
import { Payload } from './payload.js';
import type { Peer } from './peer.js';
import { isPassthru, type PptDetails, pptOptions, takesPassthru } from './ppt.js';
import { eligible, type PublishOptions, publishOptions } from './publish-options.js';
import { jsonSerializer } from './serializers/json.js';
import {
  isReserved,
  isValidUri,
  type MatchPolicy,
  matchesWildcard,
  parseWildcard,
  type UriCheck,
} from './uri.js';
import { UriMap } from './uri-map.js';

/**
 * One (topic, match) subscription, shared by every session subscribed to it (WAMP spec, Basic Profile,
 * Subscribing and Unsubscribing).
 */
export interface Subscription {
  readonly id: number;
  readonly uri: string;
  readonly match: MatchPolicy;
  /** ISO 8601, for the subscription meta API. */
  readonly created: string;
  /** In subscription order. */
  readonly subscribers: Set<Peer>;
}

/** Who a publication comes from, for exclusion and disclosure; absent for the router's meta events. */
export interface Origin {
  readonly id: number;
  readonly authid: string;
  readonly authrole: string;
}

export interface BrokerEvents {
  /** `peer` joined `subscription`; `created` when it is the subscription's first subscriber. */
  subscribed(peer: Peer, subscription: Subscription, created: boolean): void;
  /** `peer` left `subscription`; `deleted` when it was the last subscriber. */
  unsubscribed(peer: Peer, subscription: Subscription, deleted: boolean): void;
}

/**
 * Publish and subscribe in one realm. Sessions and the meta API use only this interface, so that a
 * cluster broker can later forward publications to other nodes; `MemoryBroker` serves one node.
 */
export interface Broker {
  /** SUBSCRIBE → SUBSCRIBED (then retained events), or throws `WampError`. */
  subscribe(peer: Peer, request: number, options: Dict, topic: string): void;
  /** UNSUBSCRIBE → UNSUBSCRIBED, or throws `WampError` (`no_such_subscription`). */
  unsubscribe(peer: Peer, request: number, subscription: number): void;
  /** PUBLISH → EVENTs, and PUBLISHED when acknowledged; throws `WampError` when refused. */
  publish(peer: Peer, request: number, options: Dict, topic: string, payload: Payload | undefined): void;
  /** Delivers a publication already checked (meta events, testaments); returns its ID. */
  dispatch(origin: Origin | undefined, options: PublishOptions, topic: string, payload?: Payload): number;
  /**
   * Drops every subscription of a leaving session; the caller reports them, in the order of `Realm.leave`
   * (WAMP spec, Basic Profile, Session Closing).
   */
  removeSession(peer: Peer): { subscription: Subscription; deleted: boolean }[];
  byId(id: number): Subscription | undefined;
  lookup(uri: string, match: MatchPolicy): Subscription | undefined;
  matching(uri: string): Subscription[];
  list(match: MatchPolicy): Subscription[];
  /** A publication from the cluster's bus (see `BrokerContext.bus`). */
  receive(text: string): void;
  /** Counts since start, and the sizes now. */
  stats(): BrokerStats;
}

export interface BrokerStats {
  /** Publications routed (PUBLISH, meta events, testaments). */
  published: number;
  /** EVENTs sent to subscribers. */
  delivered: number;
  subscriptions: number;
  retainedTopics: number;
  /** What the retained events weigh, as `maxRetainedBytes` counts it. */
  retainedBytes: number;
}

export interface BrokerContext {
  readonly authorizer: Authorizer;
  /** Where a publication that cannot reach the cluster is reported. */
  readonly logger: Logger;
  readonly uriCheck: UriCheck;
  readonly events: BrokerEvents;
  /** Topics whose last event is kept; the one retained longest ago goes first. @default 10000 */
  readonly maxRetainedTopics?: number;
  /** Bytes of retained events (payloads and topics); the topics retained longest ago go first. @default 67108864 */
  readonly maxRetainedBytes?: number;
  /** A larger event is delivered but not retained. @default 65536 */
  readonly maxRetainedEventBytes?: number;
  /** Subscriptions per session; null or absent is unlimited. */
  readonly maxSubscriptionsPerSession?: number | null;
  /** Told of each refusal by a limit, for the metrics. */
  readonly refused?: (limit: LimitName) => void;
  /**
   * In a cluster: carries each publication to every node, this one included (synchronously: the
   * broker recognizes its own and has delivered it here already).
   */
  readonly bus?: (text: string) => void;
  /**
   * Topics whose payload holds what only some subscribers may see, with the payload for the others:
   * a subscriber sees the whole payload only when the rule that lets its role subscribe to the topic
   * names `wamp.` itself (`privileged.ts`).
   */
  readonly restricted?: ReadonlyMap<string, (payload: Payload | undefined) => Payload | undefined>;
  /** Keeps what this node publishes in the realm's event history (`history.ts`). */
  readonly history?: Pick<EventHistory, 'record'>;
}

interface Retained {
  /** Payload and topic, as `maxRetainedBytes` counts them. */
  readonly bytes: number;
  readonly publication: number;
  readonly details: Dict;
  readonly options: PublishOptions;
  readonly payload: Payload | undefined;
}

export class MemoryBroker implements Broker {
  readonly #ctx: BrokerContext;
  readonly #subscriptions = new UriMap<Subscription>();
  readonly #byId = new Map<number, Subscription>();
  readonly #bySession = new Map<Peer, Set<Subscription>>();
  /**
   * The last retained event of each topic, kept with no subscriber around (WAMP spec, Advanced Profile, Event
   * Retention).
   */
  readonly #retained = new Map<string, Retained>();
  #retainedBytes = 0;
  #published = 0;
  #delivered = 0;
  /** The publication this node is handing to the bus right now; it comes straight back, delivered here. */
  #sending: string | undefined;

  constructor(ctx: BrokerContext) {
    this.#ctx = ctx;
  }

  subscribe(peer: Peer, request: number, options: Dict, topic: string): void {
    const match = optMatch(options);
    if (!isValidUri(topic, match, this.#ctx.uriCheck)) {
      throw new WampError(WampUri.INVALID_URI, `invalid topic URI "${topic}" for match "${match}"`);
    }
    if (!this.#ctx.authorizer.authorize(peer.authrole, topic, 'subscribe').allow) {
      throw new WampError(WampUri.NOT_AUTHORIZED, `not authorized to subscribe to "${topic}"`);
    }
    const getRetained = optBool(options, 'get_retained') ?? false;
    let subscription = this.#subscriptions.get(topic, match);
    // A SUBSCRIBE the session already holds takes no new slot: it gets the same ID (WAMP spec, Basic
    // Profile, Subscribing and Unsubscribing).
    if (!subscription?.subscribers.has(peer)) this.#checkRoom(peer);
    const created = subscription === undefined;
    if (subscription === undefined) {
      const id = uriId('subscription', topic, match, this.#byId);
      subscription = { id, uri: topic, match, created: new Date().toISOString(), subscribers: new Set() };
      this.#subscriptions.set(topic, match, subscription);
      this.#byId.set(id, subscription);
    }
    const joined = !subscription.subscribers.has(peer);
    subscription.subscribers.add(peer);
    getOrCreate(this.#bySession, peer, () => new Set()).add(subscription);
    peer.send(out.subscribed(request, subscription.id));
    if (joined) this.#ctx.events.subscribed(peer, subscription, created);
    if (getRetained) this.#sendRetained(peer, subscription);
  }

  /** Refuses a new subscription past `maxSubscriptionsPerSession`. */
  #checkRoom(peer: Peer): void {
    const max = this.#ctx.maxSubscriptionsPerSession;
    if (max == null || (this.#bySession.get(peer)?.size ?? 0) < max) return;
    this.#ctx.refused?.('wamp_subscriptions_per_session');
    throw new WampError(WampUri.LIMIT_EXCEEDED, `a session may hold at most ${max} subscriptions`);
  }

  #sendRetained(peer: Peer, subscription: Subscription): void {
    const { uri, match } = subscription;
    const pattern = match === 'wildcard' ? parseWildcard(uri) : undefined;
    const topics =
      match === 'exact'
        ? [uri]
        : [...this.#retained.keys()].filter((t) =>
            pattern ? matchesWildcard(pattern, t.split('.')) : t.startsWith(uri),
          );
    for (const topic of topics) {
      const r = this.#retained.get(topic);
      if (r === undefined || !eligible(peer, r.options)) continue;
      if (isPassthru(r.details) && !takesPassthru(peer, 'subscriber')) continue;
      const details = { ...r.details, ...(subscription.match === 'exact' ? {} : { topic }), retained: true };
      peer.send(out.event(subscription.id, r.publication, details, r.payload));
    }
  }

  unsubscribe(peer: Peer, request: number, id: number): void {
    const subscription = this.#byId.get(id);
    if (subscription === undefined || !subscription.subscribers.has(peer)) {
      throw new WampError(WampUri.NO_SUCH_SUBSCRIPTION, `no subscription ${id} for this session`);
    }
    const deleted = this.#leave(peer, subscription);
    this.#bySession.get(peer)?.delete(subscription);
    peer.send(out.unsubscribed(request));
    this.#ctx.events.unsubscribed(peer, subscription, deleted);
  }

  #leave(peer: Peer, subscription: Subscription): boolean {
    subscription.subscribers.delete(peer);
    if (subscription.subscribers.size > 0) return false;
    this.#subscriptions.delete(subscription.uri, subscription.match);
    this.#byId.delete(subscription.id);
    return true;
  }

  publish(peer: Peer, request: number, options: Dict, topic: string, payload: Payload | undefined): void {
    if (!isValidUri(topic, 'exact', this.#ctx.uriCheck)) {
      throw new WampError(WampUri.INVALID_URI, `invalid topic URI "${topic}"`);
    }
    if (isReserved(topic)) {
      throw new WampError(WampUri.INVALID_URI, `topic "${topic}" is reserved for the router`);
    }
    const decision = this.#ctx.authorizer.authorize(peer.authrole, topic, 'publish');
    if (!decision.allow)
      throw new WampError(WampUri.NOT_AUTHORIZED, `not authorized to publish to "${topic}"`);
    const o = publishOptions(options);
    const ppt = pptOptions(peer, 'publisher', options);
    const disclosed = decision.disclose ? { ...o, disclose: true } : o;
    const { publication, kept } = this.#dispatch(peer, disclosed, topic, payload, ppt);
    if (options.acknowledge !== true) return;
    // Acknowledged once kept in the event history too: the acknowledgements' order is the history's,
    // and what was acknowledged is read on every node.
    if (kept === undefined) peer.send(out.published(request, publication));
    else void kept.then(() => peer.send(out.published(request, publication)));
  }

  dispatch(origin: Origin | undefined, o: PublishOptions, topic: string, payload?: Payload): number {
    return this.#dispatch(origin, o, topic, payload).publication;
  }

  /** Delivers here, keeps in the event history, hands to the bus; `kept` while the history appends. */
  #dispatch(
    origin: Origin | undefined,
    o: PublishOptions,
    topic: string,
    payload: Payload | undefined,
    ppt?: PptDetails,
  ): { publication: number; kept: Promise<void> | undefined } {
    const publication = randomId();
    const details: Dict =
      o.disclose && origin
        ? { publisher: origin.id, publisher_authid: origin.authid, publisher_authrole: origin.authrole }
        : {};
    if (ppt) Object.assign(details, ppt);
    const skip = o.excludeMe ? origin?.id : undefined;
    this.#published++;
    this.#deliver(topic, publication, details, o, skip, payload);
    const kept = this.#ctx.history?.record(topic, publication, details, o, payload);
    const wire: WirePublication = { t: topic, p: publication, d: details, o };
    if (skip !== undefined) wire.s = skip;
    this.#toBus(wire, payload);
    return { publication, kept };
  }

  /** To the other nodes of the cluster, if any. */
  #toBus(wire: WirePublication, payload: Payload | undefined): void {
    const { bus } = this.#ctx;
    if (!bus) return;
    try {
      if (payload) {
        const { args, kwargs } = payload.parts(jsonSerializer);
        wire.a = args as string;
        if (kwargs !== undefined) wire.k = kwargs as string;
      }
      this.#sending = JSON.stringify(wire);
    } catch (err) {
      // Delivered here already; the payload checks at ingress should make this unreachable.
      const { t: topic, p: publication } = wire;
      this.#ctx.logger.error({ err, topic, publication }, 'WAMP publication not encodable for the cluster');
      return;
    }
    try {
      bus(this.#sending);
    } finally {
      this.#sending = undefined;
    }
  }

  /** A publication from the cluster's bus (this node's own included): to the subscribers here. */
  receive(text: string): void {
    if (text === this.#sending) return;
    const w = parseWirePublication(text);
    const payload = w.a === undefined ? undefined : Payload.raw(jsonSerializer, w.a, w.k);
    this.#deliver(w.t, w.p, w.d, w.o, w.s, payload);
  }

  #deliver(
    topic: string,
    publication: number,
    details: Dict,
    o: PublishOptions,
    skip: number | undefined,
    payload: Payload | undefined,
  ): void {
    const restrict = this.#ctx.restricted?.get(topic);
    // Passthru payloads go only to subscribers that announced the mode (docs/wamp.md, "Payload passthru mode").
    const passthru = isPassthru(details);
    let restricted: { payload: Payload | undefined } | null | undefined;
    for (const subscription of this.#subscriptions.matchAll(topic)) {
      const eventDetails = () => (subscription.match === 'exact' ? details : { ...details, topic });
      let event: ReturnType<typeof out.event> | undefined;
      let partial: ReturnType<typeof out.event> | undefined;
      for (const peer of subscription.subscribers) {
        if (peer.id === skip || !eligible(peer, o)) continue;
        if (passthru && !takesPassthru(peer, 'subscriber')) continue;
        if (restrict && !this.#ctx.authorizer.authorize(peer.authrole, topic, 'subscribe').namesMeta) {
          if (restricted === undefined) restricted = this.#restrict(restrict, topic, payload);
          if (restricted === null) continue;
          partial ??= out.event(subscription.id, publication, eventDetails(), restricted.payload);
          peer.send(partial);
        } else {
          event ??= out.event(subscription.id, publication, eventDetails(), payload);
          peer.send(event);
        }
        this.#delivered++;
      }
    }
    if (o.retain) this.#retain(topic, publication, details, o, payload);
  }

  /** The payload for subscribers that may not see all of it; null (and logged) when it cannot be read. */
  #restrict(
    restrict: (payload: Payload | undefined) => Payload | undefined,
    topic: string,
    payload: Payload | undefined,
  ): { payload: Payload | undefined } | null {
    try {
      return { payload: restrict(payload) };
    } catch (err) {
      this.#ctx.logger.error(
        { err, topic },
        'WAMP meta event not readable: withheld from restricted subscribers',
      );
      return null;
    }
  }

  stats(): BrokerStats {
    return {
      published: this.#published,
      delivered: this.#delivered,
      subscriptions: this.#byId.size,
      retainedTopics: this.#retained.size,
      retainedBytes: this.#retainedBytes,
    };
  }

  /**
   * Keeps the topic's last event, the topic now the newest. An event over `maxRetainedEventBytes` is
   * not kept, and its topic keeps no older one either (that would no longer be its last event). Past
   * `maxRetainedTopics` or `maxRetainedBytes`, the topics retained longest ago are forgotten.
   */
  #retain(
    topic: string,
    publication: number,
    details: Dict,
    options: PublishOptions,
    payload?: Payload,
  ): void {
    this.#forget(topic);
    const bytes = Buffer.byteLength(topic) + (payload?.byteLength(jsonSerializer) ?? 0);
    if (bytes > (this.#ctx.maxRetainedEventBytes ?? 64 * 1024)) {
      this.#ctx.refused?.('wamp_retained_bytes');
      return;
    }
    this.#retained.set(topic, { bytes, publication, details, options, payload });
    this.#retainedBytes += bytes;
    const maxTopics = this.#ctx.maxRetainedTopics ?? 10_000;
    const maxBytes = this.#ctx.maxRetainedBytes ?? 64 * 1024 * 1024;
    for (const oldest of this.#retained.keys()) {
      const overBytes = this.#retainedBytes > maxBytes;
      if (this.#retained.size <= maxTopics && !overBytes) break;
      this.#forget(oldest);
      if (overBytes) this.#ctx.refused?.('wamp_retained_bytes');
    }
  }

  #forget(topic: string): void {
    const old = this.#retained.get(topic);
    if (old === undefined) return;
    this.#retained.delete(topic);
    this.#retainedBytes -= old.bytes;
  }

  removeSession(peer: Peer): { subscription: Subscription; deleted: boolean }[] {
    const mine = this.#bySession.get(peer);
    this.#bySession.delete(peer);
    return [...(mine ?? [])].map((subscription) => ({
      subscription,
      deleted: this.#leave(peer, subscription),
    }));
  }

  byId(id: number): Subscription | undefined {
    return this.#byId.get(id);
  }

  lookup(uri: string, match: MatchPolicy): Subscription | undefined {
    return this.#subscriptions.get(uri, match);
  }

  matching(uri: string): Subscription[] {
    return this.#subscriptions.matchAll(uri);
  }

  list(match: MatchPolicy): Subscription[] {
    return [...this.#subscriptions.values(match)];
  }
}
