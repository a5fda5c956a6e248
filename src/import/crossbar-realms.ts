import type { z } from 'zod';
import {
  MAX_HISTORY_EVENTS_PER_REALM,
  type wampHistoryRuleSchema,
  type wampPermissionSchema,
  type wampRealmSchema,
  type wampRoleSchema,
} from '../config/schema.js';
import { MAX_HISTORY_LIMIT } from '../core/history/store.js';
import { ruleUri } from '../protocol/wamp/authorizer.js';
import { isReserved, isValidUri } from '../protocol/wamp/uri.js';
import { integer, isObject, type Json, type Notes, own, preview, text } from './notes.js';

/**
 * A Crossbar realm (docs: Router-Realms, Authorization) as a Herald realm. Static permissions carry
 * over field by field, Crossbar's starred URIs included; `cache` only speeds up dynamic authorizers
 * and means nothing for static rules, so it is dropped silently. Crossbar checks URIs strictly unless
 * `options.uri_check` is `loose`, so each realm gets `uriCheck: "strict"` unless it said so. A
 * realm whose meta API is off gets rules that deny its roles every `wamp.` URI, the nearest Herald
 * comes to it.
 */

type RealmInput = z.input<typeof wampRealmSchema>;
type RoleInput = z.input<typeof wampRoleSchema>;
type PermissionInput = z.input<typeof wampPermissionSchema>;
type HistoryRuleInput = z.input<typeof wampHistoryRuleSchema>;

/** Crossbar's realm-name rule, which Herald's schema checks too. */
const REALM_NAME = /^[A-Za-z][A-Za-z\d_\-@.]{2,254}$/;
const ACTIONS = ['call', 'register', 'publish', 'subscribe'] as const;
const MATCHES = ['exact', 'prefix', 'wildcard'] as const;

export function crossbarRealm(entry: unknown, at: string, notes: Notes): RealmInput | undefined {
  if (!isObject(entry)) return void notes.invalid(at, entry, 'a realm');
  const name = text(own(entry, 'name'));
  if (!name || !REALM_NAME.test(name))
    return void notes.invalid(`${at}.name`, own(entry, 'name'), 'a realm name; realm left out');
  const realm: RealmInput = { name, uriCheck: 'strict', roles: [] };
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'roles') realm.roles = roles(value, `${at}.roles`, notes);
    else if (key === 'options') options(value, `${at}.options`, realm, notes);
    else if (key === 'store') store(value, `${at}.store`, realm, notes);
    else if (key === 'rlinks') {
      notes.refuse(
        `${at}.rlinks`,
        "router-to-router links: Herald's nodes share realms through Redis or NATS instead " +
          '(docs/clustering.md); run the linked routers as one Herald cluster, then remove them here',
      );
    } else if (key !== 'name') notes.warn(`${at}.${key}`, 'not a realm setting Herald has; left out');
  }
  if (realm.eventHistory) realm.eventHistory = historyRules(realm, `${at}.store.event-history`, notes);
  if (own(own(entry, 'options'), 'enable_meta_api') === false) denyMeta(realm);
  if (own(entry, 'roles') === undefined) {
    notes.warn(`${at}.roles`, 'none: no client could join this realm in Crossbar, and none can in Herald');
  }
  return realm;
}

function options(value: unknown, at: string, realm: RealmInput, notes: Notes): void {
  if (!isObject(value)) return notes.invalid(at, value, 'realm options');
  for (const [key, option] of Object.entries(value)) {
    if (key === 'uri_check' && (option === 'strict' || option === 'loose')) realm.uriCheck = option;
    else if (key === 'uri_check') notes.invalid(`${at}.${key}`, option, 'strict or loose');
    else if (key === 'enable_meta_api' && option === false) {
      notes.warn(
        `${at}.${key}`,
        "false: Herald's meta API cannot be turned off, so every role of the realm is denied every wamp. URI " +
          '(calls get wamp.error.not_authorized rather than no_such_procedure)',
      );
    } else if (key === 'enable_meta_api' && option !== true) {
      notes.invalid(`${at}.${key}`, option, 'true or false');
    } else if (key !== 'enable_meta_api') {
      notes.warn(`${at}.${key}`, 'not a realm option Herald has; left out');
    }
  }
}

/** Crossbar's history limit of a rule that names none and a store that names none. */
const CROSSBAR_HISTORY_LIMIT = 100;

/**
 * A realm's `store` (Crossbar: Router-Realms, Event History): its `event-history` rules become
 * `eventHistory`, a rule without `limit` taking the store's. Herald keeps the history in memory, or
 * in the broker in a cluster, whatever the store's `type`; call queues it does not have.
 */
function store(value: unknown, at: string, realm: RealmInput, notes: Notes): void {
  if (!isObject(value)) return notes.invalid(at, value, 'a realm store');
  const limit = own(value, 'limit') === undefined ? CROSSBAR_HISTORY_LIMIT : integer(own(value, 'limit'));
  if (limit === undefined || limit < 1)
    return notes.invalid(`${at}.limit`, own(value, 'limit'), 'a positive integer');
  for (const [key, field] of Object.entries(value)) {
    if (key === 'event-history') realm.eventHistory = historyEntries(field, `${at}.${key}`, limit, notes);
    else if (key === 'type' && field !== 'memory') {
      notes.warn(
        `${at}.type`,
        `${preview(field)}: Herald keeps the history in memory, or in Redis or NATS in a cluster`,
      );
    } else if (key !== 'type' && key !== 'limit') {
      notes.warn(`${at}.${key}`, 'not a store setting Herald has (no call queues); left out');
    }
  }
}

function historyEntries(value: unknown, at: string, fallback: number, notes: Notes): HistoryRuleInput[] {
  if (!Array.isArray(value)) {
    notes.invalid(at, value, 'a list of event history rules');
    return [];
  }
  const out: HistoryRuleInput[] = [];
  for (const [i, entry] of value.entries()) {
    const here = `${at}.${i}`;
    const uri = text(own(entry, 'uri'));
    const match = own(entry, 'match') ?? 'exact';
    const limit = own(entry, 'limit') === undefined ? fallback : integer(own(entry, 'limit'));
    if (uri === undefined) notes.invalid(`${here}.uri`, own(entry, 'uri'), 'a topic URI; rule left out');
    else if (!MATCHES.includes(match as (typeof MATCHES)[number]))
      notes.invalid(`${here}.match`, match, 'exact, prefix or wildcard; rule left out');
    else if (limit === undefined || limit < 1)
      notes.invalid(`${here}.limit`, own(entry, 'limit'), 'a positive integer; rule left out');
    else {
      if (limit > MAX_HISTORY_LIMIT) {
        notes.warn(`${here}.limit`, `${limit}: Herald keeps at most ${MAX_HISTORY_LIMIT} events per rule`);
      }
      out.push({ uri, match: match as (typeof MATCHES)[number], limit: Math.min(limit, MAX_HISTORY_LIMIT) });
    }
  }
  return out;
}

/**
 * The rules Herald can keep, once the realm's URI check is known: a URI valid for its match, no
 * `wamp.` topic, one rule per (uri, match), and no more events in all than a realm may keep.
 */
function historyRules(realm: RealmInput, at: string, notes: Notes): HistoryRuleInput[] {
  const seen = new Set<string>();
  const kept = (realm.eventHistory ?? []).filter((rule) => {
    const key = `${rule.match}\0${rule.uri}`;
    const ok = isValidUri(rule.uri, rule.match, realm.uriCheck) && !isReserved(rule.uri) && !seen.has(key);
    seen.add(key);
    if (!ok) {
      const why = 'no topic a client may subscribe to, or a second rule for it';
      notes.warn(`${at}[uri=${rule.uri}, match=${rule.match}]`, `${why}; left out`);
    }
    return ok;
  });
  const events = kept.reduce((sum, rule) => sum + (rule.limit ?? CROSSBAR_HISTORY_LIMIT), 0);
  if (events > MAX_HISTORY_EVENTS_PER_REALM) {
    notes.refuse(
      at,
      `the rules keep ${events} events in all, and a Herald realm at most ${MAX_HISTORY_EVENTS_PER_REALM}: lower their limits`,
    );
  }
  return kept;
}

/**
 * The meta API of a realm turned off: a rule for the prefix `wamp.` that allows nothing, which
 * outranks every rule of a shorter prefix and every wildcard, in place of the role's own `wamp.` rules.
 */
function denyMeta(realm: RealmInput): void {
  realm.roles = (realm.roles ?? []).map((role) => ({
    ...role,
    permissions: [
      ...(role.permissions ?? []).filter((p) => !ruleUri(p.uri, p.match).uri.startsWith('wamp.')),
      { uri: 'wamp.', match: 'prefix' },
    ],
  }));
}

function roles(value: unknown, at: string, notes: Notes): RoleInput[] {
  if (!Array.isArray(value)) {
    notes.invalid(at, value, 'a list of roles');
    return [];
  }
  const out: RoleInput[] = [];
  for (const [i, entry] of value.entries()) {
    const here = `${at}.${i}`;
    const name = text(own(entry, 'name'));
    if (!isObject(entry) || !name) {
      notes.invalid(`${here}.name`, own(entry, 'name'), 'a role name; role left out');
      continue;
    }
    if (out.some((r) => r.name === name)) {
      notes.refuse(here, `a second role "${name}": give each role one entry`);
      continue;
    }
    const role: RoleInput = { name, permissions: [] };
    for (const [key, field] of Object.entries(entry)) {
      if (key === 'permissions') role.permissions = permissions(field, `${here}.permissions`, notes);
      else if (key === 'authorizer') {
        notes.refuse(
          `${here}.authorizer`,
          `a dynamic authorizer (${text(field) ?? 'no URI'}): Herald authorizes by the role's permissions only; ` +
            'write what it allows as permissions, then remove it here',
        );
      } else if (key !== 'name') notes.warn(`${here}.${key}`, 'not a role setting Herald has; left out');
    }
    out.push(role);
  }
  return out;
}

function permissions(value: unknown, at: string, notes: Notes): PermissionInput[] {
  if (!Array.isArray(value)) {
    notes.invalid(at, value, 'a list of permissions');
    return [];
  }
  const out: PermissionInput[] = [];
  for (const [i, entry] of value.entries()) {
    const here = `${at}.${i}`;
    if (!isObject(entry)) {
      notes.invalid(here, entry, 'a permission');
      continue;
    }
    const uri = own(entry, 'uri');
    if (typeof uri !== 'string') {
      notes.invalid(`${here}.uri`, uri, 'a URI; permission left out');
      continue;
    }
    const permission: PermissionInput = { uri };
    const match = own(entry, 'match');
    if (match !== undefined) {
      if (!(MATCHES as readonly unknown[]).includes(match)) {
        notes.invalid(`${here}.match`, match, 'exact, prefix or wildcard; permission left out');
        continue;
      }
      permission.match = match as (typeof MATCHES)[number];
    }
    const allow = flags(own(entry, 'allow'), ACTIONS, `${here}.allow`, notes);
    if (Object.keys(allow).length > 0) permission.allow = allow;
    const disclose = flags(
      own(entry, 'disclose'),
      ['caller', 'publisher'] as const,
      `${here}.disclose`,
      notes,
    );
    if (Object.values(disclose).some(Boolean)) permission.disclose = disclose;
    for (const key of Object.keys(entry)) {
      if (!['uri', 'match', 'allow', 'disclose', 'cache'].includes(key)) {
        notes.warn(`${here}.${key}`, 'not a permission setting Herald has; left out');
      }
    }
    out.push(permission);
  }
  return out;
}

/** `{call: true, …}` with only the known keys, each a boolean; a missing one is false in both. */
function flags<K extends string>(
  value: unknown,
  keys: readonly K[],
  at: string,
  notes: Notes,
): Partial<Record<K, boolean>> {
  const out: Partial<Record<K, boolean>> = {};
  if (value === undefined) return out;
  if (!isObject(value)) {
    notes.invalid(at, value, 'a map of true and false');
    return out;
  }
  for (const [key, flag] of Object.entries(value as Json)) {
    if (!(keys as readonly string[]).includes(key))
      notes.warn(`${at}.${key}`, 'not an action Herald has; left out');
    else if (typeof flag !== 'boolean') notes.invalid(`${at}.${key}`, flag, 'true or false');
    else out[key as K] = flag;
  }
  return out;
}
