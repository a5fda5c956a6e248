import type { LimitName } from '../../core/limit-refusals.js';
import type { BrokerEvents, Subscription } from './broker.js';
import type { DealerEvents, Procedure, Registration } from './dealer.js';
import { WampError, WampUri } from './errors.js';
import { getOrCreate } from './maps.js';
import type { Dict } from './messages.js';
import { metaProcedures, registrationDetails, subscriptionDetails } from './meta-procedures.js';
import type { RealmView, Testament, TestamentKeeper, TestamentScope } from './meta-types.js';
import { Payload } from './payload.js';
import type { Peer } from './peer.js';
import type { PublishOptions } from './publish-options.js';
import { jsonSerializer } from './serializers/json.js';
import { isReserved } from './uri.js';

/** Meta events go to every subscriber: nobody published them, so nobody is excluded or disclosed. */
const META_OPTIONS: PublishOptions = { excludeMe: false, disclose: false, retain: false };

/** What one session's testaments may hold (docs/wamp.md, "Settings"). */
export interface TestamentLimits {
  /** Testaments of both scopes. */
  readonly count: number;
  /** Their payloads (as JSON) and topics. */
  readonly bytes: number;
  /** Told of each refusal, for the metrics. */
  readonly refused?: (limit: LimitName) => void;
}

/** A testament's weight as `TestamentLimits.bytes` counts it. */
const testamentBytes = (t: Testament) => Buffer.byteLength(t.topic) + t.payload.byteLength(jsonSerializer);

/**
 * The session, subscription and registration meta APIs and testaments of one realm (WAMP spec,
 * Advanced Profile, Session Meta API; Subscription Meta API; Registration Meta API; Testament): meta
 * events are published in the realm of the session that caused them, never about `wamp.*`
 * subscriptions or registrations themselves.
 */
export class MetaApi implements BrokerEvents, DealerEvents, TestamentKeeper {
  readonly #realm: RealmView;
  readonly #procedures: ReadonlyMap<string, Procedure>;
  readonly #spanning: ReturnType<typeof metaProcedures>['spanning'];
  readonly #testaments = new Map<Peer, Record<TestamentScope, Testament[]>>();

  readonly #testamentLimits: TestamentLimits;

  constructor(realm: RealmView, testamentLimits: TestamentLimits) {
    this.#realm = realm;
    this.#testamentLimits = testamentLimits;
    ({ procedures: this.#procedures, spanning: this.#spanning } = metaProcedures(realm, this));
  }

  procedure(uri: string): Procedure | undefined {
    return this.#procedures.get(uri);
  }

  /**
   * This node's part of a meta procedure another node's session called (subscriptions, registrations,
   * kills): plain JSON, null when this node has nothing to add. The caller's node checked the arguments.
   */
  answer(procedure: string, args: unknown[], kwargs: Dict): unknown {
    try {
      return this.#spanning.get(procedure)?.local(undefined, args, kwargs) ?? null;
    } catch (err) {
      // A refusal here (an argument the caller's node let through) means nothing to add; anything
      // else is a bug, which the adapter logs with the request it failed.
      if (err instanceof WampError) return null;
      throw err;
    }
  }

  /** In a cluster every node hears every meta event: subscribers on other nodes are not known here. */
  #publish(topic: string, args: unknown[]): void {
    if (!this.#realm.cluster && this.#realm.broker.matching(topic).length === 0) return;
    this.#realm.broker.dispatch(undefined, META_OPTIONS, topic, Payload.of(args));
  }

  joined(peer: Peer): void {
    this.#publish('wamp.session.on_join', [peer.details()]);
  }

  /** Spec form `[session, authid, authrole]`; Crossbar sends `[session]` only, so `args[0]` suits both. */
  left(peer: Peer): void {
    this.#publish('wamp.session.on_leave', [peer.id, peer.authid, peer.authrole]);
  }

  subscribed(peer: Peer, s: Subscription, created: boolean): void {
    if (isReserved(s.uri)) return;
    if (created) this.#publish('wamp.subscription.on_create', [peer.id, subscriptionDetails(s)]);
    this.#publish('wamp.subscription.on_subscribe', [peer.id, s.id]);
  }

  unsubscribed(peer: Peer, s: Subscription, deleted: boolean): void {
    if (isReserved(s.uri)) return;
    this.#publish('wamp.subscription.on_unsubscribe', [peer.id, s.id]);
    if (deleted) this.#publish('wamp.subscription.on_delete', [peer.id, s.id]);
  }

  registered(peer: Peer, r: Registration, created: boolean): void {
    if (created) this.#publish('wamp.registration.on_create', [peer.id, registrationDetails(r)]);
    this.#publish('wamp.registration.on_register', [peer.id, r.id]);
  }

  unregistered(peer: Peer, r: Registration, deleted: boolean): void {
    this.#publish('wamp.registration.on_unregister', [peer.id, r.id]);
    if (deleted) this.#publish('wamp.registration.on_delete', [peer.id, r.id]);
  }

  /** Keeps a testament, or throws `herald.error.limit_exceeded` past the session's testament limits. */
  addTestament(peer: Peer, scope: TestamentScope, testament: Testament): void {
    const mine = getOrCreate(this.#testaments, peer, () => ({ detached: [], destroyed: [] }));
    const held = [...mine.detached, ...mine.destroyed];
    const { count, bytes, refused } = this.#testamentLimits;
    const over =
      held.length >= count
        ? `a session may hold at most ${count} testaments`
        : held.reduce((sum, t) => sum + testamentBytes(t), testamentBytes(testament)) > bytes
          ? `a session's testaments may hold at most ${bytes} bytes`
          : undefined;
    if (over !== undefined) {
      refused?.('wamp_testaments');
      throw new WampError(WampUri.LIMIT_EXCEEDED, over);
    }
    mine[scope].push(testament);
  }

  flushTestaments(peer: Peer, scope: TestamentScope): void {
    const mine = this.#testaments.get(peer);
    if (mine) mine[scope] = [];
  }

  /** Publishes the session's `detached`, then `destroyed` testaments, in the order they were added. */
  publishTestaments(peer: Peer, publish: boolean): void {
    const mine = this.#testaments.get(peer);
    this.#testaments.delete(peer);
    if (!mine || !publish) return;
    for (const t of [...mine.detached, ...mine.destroyed]) {
      this.#realm.broker.dispatch(peer, t.options, t.topic, t.payload);
    }
  }
}
