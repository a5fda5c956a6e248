import { publishOptions, type Subscription } from './broker.js';
import type { Procedure, Registration } from './dealer.js';
import { WampError, WampUri } from './errors.js';
import { isId } from './ids.js';
import type { Dict } from './messages.js';
import type { MetaApi, RealmView, SessionInfo, TestamentScope } from './meta.js';
import { optMatch } from './options.js';
import { isDict, Payload } from './payload.js';
import type { Peer } from './peer.js';
import { isReserved, isValidUri, MATCH_POLICIES } from './uri.js';

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

function kill(targets: Peer[], caller: Peer, kwargs: Dict, quiet = false): number[] {
  const [reason, message] = killArgs(kwargs);
  const ids: number[] = [];
  for (const peer of targets) {
    if (peer === caller) continue;
    ids.push(peer.id);
    peer.kill(reason, message, quiet);
  }
  return ids;
}

function byId<T>(lookup: (id: number) => T | undefined, args: unknown[], uri: string, what: string): T {
  const id = argument(args, 0, isId, `a ${what} ID`);
  const found = lookup(id);
  if (found === undefined) throw new WampError(uri, `no ${what} ${id}`);
  return found;
}

/** The router's `wamp.*` procedures of one realm (spec §4.4). */
export function metaProcedures(realm: RealmView, meta: MetaApi): ReadonlyMap<string, Procedure> {
  const session = (args: unknown[], caller?: Peer) => {
    const target = byId((id) => realm.sessions.get(id), args, WampUri.NO_SUCH_SESSION, 'session');
    if (target === caller) throw new WampError(WampUri.NO_SUCH_SESSION, 'a session cannot kill itself');
    return target;
  };
  const subscription = (args: unknown[]) =>
    byId((id) => realm.broker.byId(id), args, WampUri.NO_SUCH_SUBSCRIPTION, 'subscription');
  const registration = (args: unknown[]) =>
    byId((id) => realm.dealer.byId(id), args, WampUri.NO_SUCH_REGISTRATION, 'registration');
  const lookupOptions = (args: unknown[]) => optMatch(isDict(args[1]) ? args[1] : {});
  const listAll = <T extends { id: number }>(list: (m: 'exact' | 'prefix' | 'wildcard') => T[]) =>
    result(Object.fromEntries(MATCH_POLICIES.map((m) => [m, list(m).map((x) => x.id)])));

  /** Every session of the realm, on every node in a cluster, with `filter_authroles` applied. */
  const everySession = async (args: unknown[]): Promise<SessionInfo[]> => {
    const roles =
      args[0] === undefined || args[0] === null
        ? undefined
        : argument(args, 0, isStringList, 'a list of authroles');
    const all = realm.clusterSessions ? await realm.clusterSessions() : localSessions(realm.sessions);
    return roles ? all.filter((s) => roles.includes(s.authrole)) : all;
  };

  const procedures: Record<string, Procedure> = {
    'wamp.session.count': async (_c, args) => result((await everySession(args)).length),
    'wamp.session.list': async (_c, args) => result((await everySession(args)).map((s) => s.id)),
    'wamp.session.get': async (_c, args) => {
      const id = argument(args, 0, isId, 'a session ID');
      const local = realm.sessions.get(id);
      if (local) return result(local.details());
      const found = (await everySession([])).find((s) => s.id === id);
      if (!found) throw new WampError(WampUri.NO_SUCH_SESSION, `no session ${id}`);
      return result(found.details);
    },
    'wamp.session.kill': (caller, args, kwargs) => {
      kill([session(args, caller)], caller, kwargs);
      return undefined;
    },
    'wamp.session.kill_by_authid': (caller, args, kwargs) => {
      const authid = argument(args, 0, isString, 'an authid');
      return result(
        kill(
          [...realm.sessions.values()].filter((p) => p.authid === authid),
          caller,
          kwargs,
        ),
      );
    },
    'wamp.session.kill_by_authrole': (caller, args, kwargs) => {
      const role = argument(args, 0, isString, 'an authrole');
      return result(
        kill(
          [...realm.sessions.values()].filter((p) => p.authrole === role),
          caller,
          kwargs,
        ).length,
      );
    },
    'wamp.session.kill_all': (caller, _args, kwargs) =>
      result(kill([...realm.sessions.values()], caller, kwargs, true).length),
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

    'wamp.subscription.list': () => listAll((m) => realm.broker.list(m)),
    'wamp.subscription.lookup': (_c, args) =>
      result(realm.broker.lookup(argument(args, 0, isString, 'a topic'), lookupOptions(args))?.id ?? null),
    'wamp.subscription.match': (_c, args) => {
      const ids = realm.broker.matching(argument(args, 0, isString, 'a topic')).map((s) => s.id);
      return result(ids.length > 0 ? ids : null);
    },
    'wamp.subscription.get': (_c, args) => result(subscriptionDetails(subscription(args))),
    'wamp.subscription.list_subscribers': (_c, args) =>
      result([...subscription(args).subscribers].map((p) => p.id)),
    'wamp.subscription.count_subscribers': (_c, args) => result(subscription(args).subscribers.size),

    'wamp.registration.list': () => listAll((m) => realm.dealer.list(m)),
    'wamp.registration.lookup': (_c, args) =>
      result(
        realm.dealer.lookup(argument(args, 0, isString, 'a procedure'), lookupOptions(args))?.id ?? null,
      ),
    'wamp.registration.match': (_c, args) =>
      result(realm.dealer.best(argument(args, 0, isString, 'a procedure'))?.id ?? null),
    'wamp.registration.get': (_c, args) => result(registrationDetails(registration(args))),
    'wamp.registration.list_callees': (_c, args) => result(registration(args).callees.map((c) => c.peer.id)),
    'wamp.registration.count_callees': (_c, args) => result(registration(args).callees.length),
  };
  return new Map(Object.entries(procedures));
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
