import type { Logger } from 'pino';
import { atMost } from '../../core/deadline.js';
import type { HistoryStore } from '../../core/history/store.js';
import type { LimitName } from '../../core/limit-refusals.js';
import { uriId } from './ids.js';
import type { Dict } from './messages.js';
import type { Payload } from './payload.js';
import type { Peer } from './peer.js';
import { eligible, type PublishOptions } from './publish-options.js';
import { jsonSerializer } from './serializers/json.js';
import { isReserved, type MatchPolicy } from './uri.js';
import { UriMap } from './uri-map.js';

/** One `eventHistory` rule of a realm (docs/wamp.md, "Event history"). */
export interface HistoryRule {
  readonly uri: string;
  readonly match: MatchPolicy;
  readonly limit: number;
}

/** A rule with the subscription ID it answers to and the name of its log in the store. */
export interface KeptRule extends HistoryRule {
  /** The ID a subscription to (uri, match) gets (`uriId`), the same on every node. */
  readonly id: number;
  readonly log: string;
}

/** One event as the store keeps it: JSON whose payload parts are JSON texts, decoded only when read. */
interface StoredEvent {
  /** Publication ID, topic, and when it was published (ISO 8601). */
  p: number;
  t: string;
  ts: string;
  /** EVENT.Details as subscribers got them (publisher disclosure, `ppt_*`), without `topic`. */
  d: Dict;
  /** The authid and authrole lists of subscriber black- and whitelisting, applied again on read. */
  o?: Pick<PublishOptions, 'eligibleAuthid' | 'eligibleAuthrole' | 'excludeAuthid' | 'excludeAuthrole'>;
  a?: string;
  k?: string;
}

/** An event `wamp.subscription.get_events` returns (WAMP spec, Advanced Profile, Event History). */
export interface HistoryEvent {
  timestamp: string;
  subscription: number;
  publication: number;
  topic: string;
  details: Dict;
  args?: unknown[];
  kwargs?: Dict;
}

export interface EventHistoryOptions {
  readonly store: HistoryStore;
  /** The realm's namespace in the store. */
  readonly namespace: string;
  /** A larger stored event is not kept. */
  readonly maxEventBytes: number;
  readonly logger: Logger;
  readonly refused?: (limit: LimitName) => void;
  /**
   * How long `record` waits for the store: a broker that does not answer holds acknowledgements back
   * no longer than this. @default 2000
   */
  readonly appendWaitMs?: number;
}

/** `EventHistoryOptions.appendWaitMs` by default. */
const APPEND_WAIT_MS = 2000;

const LIST_OPTIONS = ['eligibleAuthid', 'eligibleAuthrole', 'excludeAuthid', 'excludeAuthrole'] as const;

/**
 * The event history of one realm (WAMP spec, Advanced Profile, Event History): as Crossbar keeps it,
 * one log per rule holding the newest `limit` events of every topic the rule matches, whether or not
 * anyone subscribes. The node an event is published on appends it, once per matching rule, to the
 * store, which in a cluster is the broker's: every node reads the same history.
 */
export class EventHistory {
  readonly #options: EventHistoryOptions;
  readonly #rules = new UriMap<KeptRule>();
  readonly #byId = new Map<number, KeptRule>();

  constructor(rules: readonly HistoryRule[], options: EventHistoryOptions) {
    this.#options = options;
    for (const { uri, match, limit } of rules) {
      const id = uriId('subscription', uri, match, { has: () => false });
      const rule = { uri, match, limit, id, log: `${match}\0${uri}` };
      this.#rules.set(uri, match, rule);
      this.#byId.set(id, rule);
    }
  }

  /** Whether any rule is configured. */
  get enabled(): boolean {
    return this.#byId.size > 0;
  }

  /** The rule of (uri, match), if one is configured. */
  rule(uri: string, match: MatchPolicy): KeptRule | undefined {
    return this.#rules.get(uri, match);
  }

  /** The rule whose subscription ID is `id`, if one is. */
  ruleById(id: number): KeptRule | undefined {
    return this.#byId.get(id);
  }

  /**
   * Keeps a publication in the log of every rule its topic matches. Not kept: `wamp.*` topics, and
   * publications with `exclude` or `eligible` session lists, since session IDs mean nothing to a later
   * reader (WAMP spec, Event History, Security Aspects); nor an event over `maxEventBytes`. Resolves
   * once appended, or after `appendWaitMs` (never rejects: a failure is logged); undefined when
   * nothing is kept.
   */
  record(
    topic: string,
    publication: number,
    details: Dict,
    o: PublishOptions,
    payload?: Payload,
  ): Promise<void> | undefined {
    if (isReserved(topic) || o.exclude !== undefined || o.eligible !== undefined) return undefined;
    const rules = this.#rules.matchAll(topic);
    if (rules.length === 0) return undefined;
    const lists = LIST_OPTIONS.filter((k) => o[k] !== undefined);
    const event: StoredEvent = { p: publication, t: topic, ts: new Date().toISOString(), d: details };
    if (lists.length > 0) event.o = Object.fromEntries(lists.map((k) => [k, o[k]]));
    if (payload) {
      const { args, kwargs } = payload.parts(jsonSerializer);
      event.a = args as string;
      if (kwargs !== undefined) event.k = kwargs as string;
    }
    const entry = JSON.stringify(event);
    const { store, namespace, maxEventBytes, logger, refused } = this.#options;
    if (Buffer.byteLength(entry) > maxEventBytes) {
      refused?.('wamp_history_bytes');
      return undefined;
    }
    const appended = rules.map((rule) =>
      store.append(namespace, rule.log, entry, rule.limit).catch((err: unknown) => {
        logger.error({ err, topic, publication, rule: rule.uri }, 'WAMP event not kept in the event history');
      }),
    );
    return atMost(Promise.all(appended), this.#options.appendWaitMs ?? APPEND_WAIT_MS).then(() => undefined);
  }

  /**
   * The rule's newest `count` events that `reader` would have been eligible for, newest first, each
   * with the details the subscription's EVENT carried (`topic` for a pattern rule).
   */
  async events(rule: KeptRule, count: number, reader: Peer): Promise<HistoryEvent[]> {
    const { store, namespace } = this.#options;
    const out: HistoryEvent[] = [];
    for (const entry of await store.latest(namespace, rule.log, rule.limit)) {
      const e = JSON.parse(entry) as StoredEvent;
      // By authid and authrole, as at delivery; session lists were never kept.
      if (!eligible(reader, e.o ?? {})) continue;
      const event: HistoryEvent = {
        timestamp: e.ts,
        subscription: rule.id,
        publication: e.p,
        topic: e.t,
        details: rule.match === 'exact' ? e.d : { ...e.d, topic: e.t },
      };
      if (e.a !== undefined) event.args = jsonSerializer.decodeValue(e.a) as unknown[];
      if (e.k !== undefined) event.kwargs = jsonSerializer.decodeValue(e.k) as Dict;
      out.push(event);
      if (out.length >= count) break;
    }
    return out;
  }
}
