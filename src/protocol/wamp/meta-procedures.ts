import type { Subscription } from './broker.js';
import type { Procedure, Registration } from './dealer.js';
import { WampError, WampUri } from './errors.js';
import { isId } from './ids.js';
import type { Dict } from './messages.js';
import type { RealmView, SessionInfo, TestamentKeeper, TestamentScope } from './meta-types.js';
import { optMatch } from './options.js';
import { isDict, Payload } from './payload.js';
import type { Peer } from './peer.js';
import { withoutPeerAddress } from './privileged.js';
import { publishOptions } from './publish-options.js';
import { isReserved, isValidUri, MATCH_POLICIES, type MatchPolicy } from './uri.js';
import { UriMap } from './uri-map.js';

const result = (value: unknown) => Payload.of([value]);

function argument<T>(args: unknown[], i: number, check: (v: unknown) => v is T, what: string): T {
  const value = args[i];
  if (check(value)) return value;
  throw new WampError(WampUri.INVALID_ARGUMENT, `argument ${i + 1} must be ${what}`);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isList = (v: unknown): v is unknown[] => Array.isArray(v);

/** The realm's sessions on this node, as `SessionInfo`. */
export function localSessions(sessions: ReadonlyMap<number, Peer>): SessionInfo[] {
  return [...sessions.values()].map((p) => ({ id: p.id, authrole: p.authrole, details: p.details() }));
}

/** `reason` (a URI, default `wamp.close.killed`) and `message` of the kill procedures, from kwargs. */
function killArgs(kwargs: Dict): [string, string | undefined] {
  const reason = kwargs.reason ?? WampUri.CLOSE_KILLED;
  if (typeof reason !== 'string' || !isValidUri(reason)) {
    throw new WampError(WampUri.INVALID_URI, 'reason must be a valid URI');
  }
  const message = kwargs.message;
  if (message !== undefined && message !== null && typeof message !== 'string') {
    throw new WampError(WampUri.INVALID_ARGUMENT, 'message must be a string');
  }
  return [reason, message ?? undefined];
}

/** Ends each target but the caller; their IDs. */
function kill(targets: Peer[], caller: Peer | undefined, kwargs: Dict, quiet = false): number[] {
  const [reason, message] = killArgs(kwargs);
  const ids: number[] = [];
  for (const peer of targets) {
    if (peer === caller) continue;
    ids.push(peer.id);
    peer.kill(reason, message, quiet);
  }
  return ids;
}

/**
 * A meta procedure whose answer spans the cluster: each node answers for itself with plain JSON (null:
 * nothing here), and the caller's node combines the answers, its own first. `local` checks the
 * arguments, so that bad ones are refused before any other node is asked.
 */
interface Spanning {
  local(caller: Peer | undefined, args: unknown[], kwargs: Dict): unknown;
  merge(answers: unknown[], args: unknown[]): Payload | undefined;
}

const present = <T>(answers: unknown[]) => answers.filter((a) => a !== null && a !== undefined) as T[];
const unique = (ids: number[]) => [...new Set(ids)];

/** The list of each match policy's IDs, as `wamp.subscription.list` and `wamp.registration.list` answer. */
function listing(list: (m: MatchPolicy) => { id: number }[]): Record<MatchPolicy, number[]> {
  return Object.fromEntries(MATCH_POLICIES.map((m) => [m, list(m).map((x) => x.id)])) as Record<
    MatchPolicy,
    number[]
  >;
}

/**
 * The subscription or registration meta procedures: the same ID stands for the same (URI, match) on
 * every node, so a subscription's subscribers (a registration's callees) are those of every node.
 */
function entryProcedures<E extends { id: number; created: string }>(
  kind: 'subscription' | 'registration',
  table: {
    byId(id: number): E | undefined;
    lookup(uri: string, match: MatchPolicy): E | undefined;
    matching(uri: string): E[];
    list(match: MatchPolicy): E[];
    members(entry: E): number[];
    details(entry: E): Dict;
  },
  noSuch: string,
): Record<string, Spanning> {
  const what = kind === 'subscription' ? 'a topic' : 'a procedure';
  const members = kind === 'subscription' ? 'subscribers' : 'callees';
  const entry = (args: unknown[]) => table.byId(argument(args, 0, isId, `a ${kind} ID`));
  const found = <T>(answers: unknown[], args: unknown[]): T[] => {
    const parts = present<T>(answers);
    if (parts.length === 0) throw new WampError(noSuch, `no ${kind} ${String(args[0])}`);
    return parts;
  };
  return {
    list: {
      local: () => listing((m) => table.list(m)),
      merge: (answers) => {
        const parts = present<Record<MatchPolicy, number[]>>(answers);
        return result(Object.fromEntries(MATCH_POLICIES.map((m) => [m, unique(parts.flatMap((p) => p[m]))])));
      },
    },
    lookup: {
      local: (_c, args) => {
        const match = optMatch(isDict(args[1]) ? args[1] : {});
        return table.lookup(argument(args, 0, isString, what), match)?.id ?? null;
      },
      merge: (answers) => result(present<number>(answers)[0] ?? null),
    },
    match: {
      local: (_c, args) => table.matching(argument(args, 0, isString, what)).map((e) => e.id),
      merge: (answers) => {
        const ids = unique(present<number[]>(answers).flat());
        return result(ids.length > 0 ? ids : null);
      },
    },
    get: {
      local: (_c, args) => {
        const e = entry(args);
        return e ? table.details(e) : null;
      },
      // The earliest creation on any node.
      merge: (answers, args) =>
        result(found<Dict>(answers, args).reduce((a, b) => (String(b.created) < String(a.created) ? b : a))),
    },
    [`list_${members}`]: {
      local: (_c, args) => {
        const e = entry(args);
        return e ? table.members(e) : null;
      },
      merge: (answers, args) => result(found<number[]>(answers, args).flat()),
    },
    [`count_${members}`]: {
      local: (_c, args) => {
        const e = entry(args);
        return e ? table.members(e).length : null;
      },
      merge: (answers, args) => result(found<number>(answers, args).reduce((a, b) => a + b, 0)),
    },
  };
}

/**
 * The router's `wamp.*` procedures of one realm (WAMP spec, Advanced Profile, Session Meta API;
 * Subscription Meta API; Registration Meta API; Testament), and each node's part of those that span the
 * cluster.
 */
export function metaProcedures(
  realm: RealmView,
  meta: TestamentKeeper,
): { procedures: ReadonlyMap<string, Procedure>; spanning: ReadonlyMap<string, Spanning> } {
  /** Every session of the realm, on every node in a cluster, with `filter_authroles` applied. */
  const everySession = async (args: unknown[]): Promise<SessionInfo[]> => {
    const roles =
      args[0] === undefined || args[0] === null
        ? undefined
        : argument(args, 0, isStringList, 'a list of authroles');
    const all = realm.cluster ? await realm.cluster.sessions() : localSessions(realm.sessions);
    return roles ? all.filter((s) => roles.includes(s.authrole)) : all;
  };
  const sessionsWhere = (test: (p: Peer) => boolean) => [...realm.sessions.values()].filter(test);
  const killed = (answers: unknown[]) => present<number[]>(answers).flat();

  const spanning: Record<string, Spanning> = {
    'wamp.session.kill': {
      local: (caller, args, kwargs) => {
        const id = argument(args, 0, isId, 'a session ID');
        if (caller?.id === id) throw new WampError(WampUri.NO_SUCH_SESSION, 'a session cannot kill itself');
        const target = realm.sessions.get(id);
        const ids = kill(target ? [target] : [], caller, kwargs);
        return ids.length > 0 ? true : null;
      },
      merge: (answers, args) => {
        if (present(answers).length === 0)
          throw new WampError(WampUri.NO_SUCH_SESSION, `no session ${String(args[0])}`);
        return undefined;
      },
    },
    'wamp.session.kill_by_authid': {
      local: (caller, args, kwargs) => {
        const authid = argument(args, 0, isString, 'an authid');
        return kill(
          sessionsWhere((p) => p.authid === authid),
          caller,
          kwargs,
        );
      },
      merge: (answers) => result(killed(answers)),
    },
    'wamp.session.kill_by_authrole': {
      local: (caller, args, kwargs) => {
        const role = argument(args, 0, isString, 'an authrole');
        return kill(
          sessionsWhere((p) => p.authrole === role),
          caller,
          kwargs,
        );
      },
      merge: (answers) => result(killed(answers).length),
    },
    'wamp.session.kill_all': {
      local: (caller, _args, kwargs) =>
        kill(
          sessionsWhere(() => true),
          caller,
          kwargs,
          true,
        ),
      merge: (answers) => result(killed(answers).length),
    },
  };
  const tables = {
    subscription: entryProcedures(
      'subscription',
      {
        byId: (id) => realm.broker.byId(id),
        lookup: (uri, match) => realm.broker.lookup(uri, match),
        matching: (uri) => realm.broker.matching(uri),
        list: (match) => realm.broker.list(match),
        members: (s) => [...s.subscribers].map((p) => p.id),
        details: subscriptionDetails,
      },
      WampUri.NO_SUCH_SUBSCRIPTION,
    ),
    registration: entryProcedures(
      'registration',
      {
        byId: (id) => realm.dealer.registrations.byId(id),
        lookup: (uri, match) => realm.dealer.registrations.lookup(uri, match),
        // A CALL reaches one registration: the best match.
        matching: (uri) => {
          const best = realm.dealer.registrations.best(uri);
          return best ? [best] : [];
        },
        list: (match) => realm.dealer.registrations.list(match),
        members: (r) => r.callees.map((c) => c.peer.id),
        details: registrationDetails,
      },
      WampUri.NO_SUCH_REGISTRATION,
    ),
  };
  for (const [kind, entries] of Object.entries(tables)) {
    for (const [name, s] of Object.entries(entries)) spanning[`wamp.${kind}.${name}`] = s;
  }
  // The one registration a CALL would reach: the best of every node's best.
  spanning['wamp.registration.match'] = {
    local: (_c, args) => {
      const best = realm.dealer.registrations.best(argument(args, 0, isString, 'a procedure'));
      return best ? { id: best.id, uri: best.uri, match: best.match } : null;
    },
    merge: (answers, args) => {
      const bests = new UriMap<number>();
      for (const b of present<{ id: number; uri: string; match: MatchPolicy }>(answers)) {
        bests.set(b.uri, b.match, b.id);
      }
      return result(bests.best(args[0] as string) ?? null);
    },
  };

  const procedures: Record<string, Procedure> = {
    'wamp.session.count': async (_c, args) => result((await everySession(args)).length),
    'wamp.session.list': async (_c, args) => result((await everySession(args)).map((s) => s.id)),
    'wamp.session.get': async (caller, args) => {
      const id = argument(args, 0, isId, 'a session ID');
      const shown = (details: Dict) =>
        realm.authorizer.authorize(caller.authrole, 'wamp.session.get', 'call').namesMeta
          ? details
          : withoutPeerAddress(details);
      const local = realm.sessions.get(id);
      if (local) return result(shown(local.details()));
      const found = (await everySession([])).find((s) => s.id === id);
      if (!found) throw new WampError(WampUri.NO_SUCH_SESSION, `no session ${id}`);
      return result(shown(found.details));
    },
    'wamp.session.add_testament': (caller, args, kwargs) => {
      const topic = argument(args, 0, isString, 'a topic URI');
      if (!isValidUri(topic, 'exact', realm.uriCheck) || isReserved(topic)) {
        throw new WampError(WampUri.INVALID_URI, `invalid testament topic "${topic}"`);
      }
      const decision = realm.authorizer.authorize(caller.authrole, topic, 'publish');
      if (!decision.allow)
        throw new WampError(WampUri.NOT_AUTHORIZED, `not authorized to publish to "${topic}"`);
      const payload = Payload.of(
        argument(args, 1, isList, 'a list'),
        argument(args, 2, (v): v is Dict => v === undefined || isDict(v), 'a dict'),
      );
      const options = publishOptions(isDict(kwargs.publish_options) ? kwargs.publish_options : {});
      const scope = testamentScope(kwargs.scope);
      meta.addTestament(caller, scope, {
        topic,
        payload,
        options: decision.disclose ? { ...options, disclose: true } : options,
      });
      return undefined;
    },
    'wamp.session.flush_testaments': (caller, _args, kwargs) => {
      meta.flushTestaments(caller, testamentScope(kwargs.scope));
      return undefined;
    },
    'wamp.subscription.get_events': async (caller, args, kwargs) => {
      const [id, limit] = getEventsArgs(args, kwargs);
      const live = realm.broker.byId(id);
      const rule = live ? realm.history.rule(live.uri, live.match) : realm.history.ruleById(id);
      if (rule === undefined) {
        const known =
          live !== undefined ||
          (realm.cluster !== undefined &&
            (await realm.cluster.ask('wamp.subscription.get', [id], {})).some((a) => a !== null));
        if (!known) throw new WampError(WampUri.NO_SUCH_SUBSCRIPTION, `no subscription ${id}`);
        throw new WampError(
          WampUri.HISTORY_UNAVAILABLE,
          `no event history is kept for subscription ${id} (the realm's eventHistory has no rule for its topic and match)`,
        );
      }
      if (!realm.authorizer.authorize(caller.authrole, rule.uri, 'subscribe').allow) {
        throw new WampError(WampUri.NOT_AUTHORIZED, `not authorized to subscribe to "${rule.uri}"`);
      }
      return result(await realm.history.events(rule, limit, caller));
    },
  };
  for (const [uri, s] of Object.entries(spanning)) {
    procedures[uri] = (caller, args, kwargs) => {
      const mine = s.local(caller, args, kwargs);
      if (!realm.cluster) return s.merge([mine], args);
      return realm.cluster.ask(uri, args, kwargs).then((others) => s.merge([mine, ...others], args));
    };
  }
  return { procedures: new Map(Object.entries(procedures)), spanning: new Map(Object.entries(spanning)) };
}

/** Crossbar's default count of `wamp.subscription.get_events`. */
const DEFAULT_EVENTS = 10;

/**
 * `(subscription, limit?)` of `wamp.subscription.get_events`, `limit` positional as Crossbar takes it
 * or as the WAMP spec's keyword; anything else is refused.
 */
function getEventsArgs(args: unknown[], kwargs: Dict): [number, number] {
  const id = argument(args, 0, isId, 'a subscription ID');
  if (args.length > 2)
    throw new WampError(WampUri.INVALID_ARGUMENT, 'at most 2 arguments: subscription, limit');
  const unknown = Object.keys(kwargs).filter((k) => k !== 'limit');
  if (unknown.length > 0) {
    throw new WampError(WampUri.INVALID_ARGUMENT, `unsupported keyword argument "${unknown[0]}"`);
  }
  if (args[1] !== undefined && args[1] !== null && kwargs.limit !== undefined && kwargs.limit !== null) {
    throw new WampError(WampUri.INVALID_ARGUMENT, 'limit given both as argument 2 and as keyword');
  }
  const limit = args[1] ?? kwargs.limit ?? DEFAULT_EVENTS;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw new WampError(WampUri.INVALID_ARGUMENT, 'limit must be a positive integer');
  }
  return [id, limit];
}

function testamentScope(value: unknown): TestamentScope {
  if (value === undefined || value === null) return 'destroyed';
  if (value === 'destroyed' || value === 'detached') return value;
  throw new WampError(WampUri.TESTAMENT_ERROR, 'scope must be "destroyed" or "detached"');
}

export function subscriptionDetails(s: Subscription) {
  return { id: s.id, created: s.created, uri: s.uri, match: s.match };
}

export function registrationDetails(r: Registration) {
  return { id: r.id, created: r.created, uri: r.uri, match: r.match, invoke: r.invoke };
}
