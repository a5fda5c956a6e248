import type { Adapter } from '../adapters/adapter.js';
import { busFields } from '../adapters/bus-payload.js';
import { httpErrorEntry as entry, httpErrors } from '../http/errors.js';
import type { Realm } from '../protocol/wamp/realm.js';
import type { WampRouter } from '../protocol/wamp/router.js';
import { MATCH_POLICIES } from '../protocol/wamp/uri.js';
import type { DashboardAccess } from './routes.js';

export const RealmViewErrors = {
  REALM_NOT_FOUND: entry(404, (realm: string) => `No realm "${realm}" on this router`),
} as const;

const realmViewError = httpErrors('ERR_DASHBOARD_', RealmViewErrors);

/** The cluster request for each node's session count per realm. */
export const REALMS_OP = 'dashboard.realms';
/** The cluster request for each node's sessions, subscriptions and registrations of one realm. */
export const REALM_OP = 'dashboard.realm';
/** The most sessions, subscriptions and registrations each node tells of one realm. */
export const MAX_REALM_ENTRIES = 1000;
/** The longest URI, authid or authrole taken from another node's answer. */
const MAX_TEXT = 1024;

/** One node's part of a realm's view, as it crosses the bus: tuples, to keep it small. */
export interface RealmPart {
  /** `[id, authid, authrole]` */
  s: [number, string, string][];
  /** `[topic, match, subscribers]` */
  sub: [string, string, number][];
  /** `[procedure, match, callees]` */
  reg: [string, string, number][];
}

export interface RealmView {
  name: string;
  sessions: { id: number; authid: string; authrole: string }[];
  subscriptions: { topic: string; match: string; subscribers: number }[];
  registrations: { procedure: string; match: string; callees: number }[];
}

/**
 * The dashboard's views of the WAMP realms (docs/dashboard.md, "Views' HTTP API"): every node is asked
 * for its sessions and for its subscriptions and registrations with their subscribers and callees, as
 * the session, subscription and registration meta procedures span the cluster.
 */
export function addWampRoutes(
  dashboard: DashboardAccess,
  wamp: Pick<WampRouter, 'realm' | 'realmStats'>,
  adapter: Pick<Adapter, 'request'>,
): void {
  dashboard.route('GET', '/realms', async () => {
    const { answers } = await adapter.request<unknown>(REALMS_OP, {});
    const sessions = sumSessions(answers);
    const realms = wamp
      .realmStats()
      .map(({ realm }) => ({ name: realm, sessions: sessions.get(realm) ?? 0 }));
    return { status: 200, body: { realms } };
  });

  dashboard.route('GET', '/realms/:name', async (request) => {
    const name = request.params[0]!;
    if (!wamp.realm(name)) throw realmViewError('REALM_NOT_FOUND', name);
    const { answers } = await adapter.request<unknown>(REALM_OP, { realm: name });
    return { status: 200, body: mergeRealmParts(name, answers) };
  });
}

/** Registers this node's answers to `REALMS_OP` and `REALM_OP`. */
export function answerRealms(
  adapter: Pick<Adapter, 'handle'>,
  wamp: Pick<WampRouter, 'realm' | 'realmStats'>,
): void {
  adapter.handle(REALMS_OP, () => wamp.realmStats().map(({ realm, sessions }) => [realm, sessions]));
  adapter.handle(REALM_OP, (p) => {
    const realm = wamp.realm(busFields(REALM_OP, p, { realm: 'string' }).realm);
    return realm ? realmPart(realm) : null;
  });
}

/** What this node knows of `realm`, at most `MAX_REALM_ENTRIES` of each. */
export function realmPart(realm: Realm): RealmPart {
  const s: RealmPart['s'] = [];
  for (const peer of realm.sessions.values()) {
    if (s.length === MAX_REALM_ENTRIES) break;
    s.push([peer.id, peer.authid, peer.authrole]);
  }
  const sub: RealmPart['sub'] = [];
  const reg: RealmPart['reg'] = [];
  for (const match of MATCH_POLICIES) {
    for (const x of realm.broker.list(match)) sub.push([x.uri, x.match, x.subscribers.size]);
    for (const x of realm.dealer.registrations.list(match)) reg.push([x.uri, x.match, x.callees.length]);
  }
  return { s, sub: sub.slice(0, MAX_REALM_ENTRIES), reg: reg.slice(0, MAX_REALM_ENTRIES) };
}

/** Each realm's sessions summed over the nodes; a malformed answer (from another node) is left out. */
export function sumSessions(answers: readonly unknown[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const answer of answers) {
    if (!Array.isArray(answer) || answer.length > MAX_REALM_ENTRIES) continue;
    const ok = answer.every((x) => Array.isArray(x) && x.length === 2 && isText(x[0]) && isCount(x[1]));
    if (!ok) continue;
    for (const [realm, n] of answer as [string, number][]) sums.set(realm, (sums.get(realm) ?? 0) + n);
  }
  return sums;
}

/**
 * The realm's view from every node's part: sessions listed, subscriptions and registrations of the same
 * URI and match policy merged with their subscribers and callees added up. A part that is not well formed
 * (from another node over the bus) is left out whole.
 */
export function mergeRealmParts(name: string, answers: readonly unknown[]): RealmView {
  const view: RealmView = { name, sessions: [], subscriptions: [], registrations: [] };
  const subscriptions = new Map<string, RealmView['subscriptions'][number]>();
  const registrations = new Map<string, RealmView['registrations'][number]>();
  for (const answer of answers) {
    if (!wellFormed(answer)) continue;
    for (const [id, authid, authrole] of answer.s) view.sessions.push({ id, authid, authrole });
    for (const [topic, match, n] of answer.sub) {
      const key = `${match} ${topic}`;
      const entry = subscriptions.get(key);
      if (entry) entry.subscribers += n;
      else subscriptions.set(key, { topic, match, subscribers: n });
    }
    for (const [procedure, match, n] of answer.reg) {
      const key = `${match} ${procedure}`;
      const entry = registrations.get(key);
      if (entry) entry.callees += n;
      else registrations.set(key, { procedure, match, callees: n });
    }
  }
  view.subscriptions = [...subscriptions.values()];
  view.registrations = [...registrations.values()];
  return view;
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_TEXT;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isMatch = (v: unknown) => (MATCH_POLICIES as readonly unknown[]).includes(v);

function wellFormed(answer: unknown): answer is RealmPart {
  if (typeof answer !== 'object' || answer === null) return false;
  const { s, sub, reg } = answer as Record<string, unknown>;
  const list = (v: unknown, item: (x: unknown[]) => boolean) =>
    Array.isArray(v) &&
    v.length <= MAX_REALM_ENTRIES &&
    v.every((x) => Array.isArray(x) && x.length === 3 && item(x));
  return (
    list(s, ([id, authid, authrole]) => isCount(id) && isText(authid) && isText(authrole)) &&
    list(sub, ([uri, match, n]) => isText(uri) && isMatch(match) && isCount(n)) &&
    list(reg, ([uri, match, n]) => isText(uri) && isMatch(match) && isCount(n))
  );
}
