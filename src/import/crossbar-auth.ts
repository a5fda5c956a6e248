import type { z } from 'zod';
import type { wampAuthSchema, wampRealmSchema } from '../config/schema.js';
import { integer, isObject, type Json, type Notes, own, safeKey, text } from './notes.js';

/**
 * Crossbar's `auth` of each transport (docs: Anonymous-, Ticket-, Challenge-Response- and
 * Cryptosign-Authentication) merged into Herald's one `wamp.auth`, in Crossbar's own spelling
 * (`type: "static"`, salted WAMP-CRA secrets being the derived key). What Herald's configuration
 * cannot say is noted and left out: dynamic authenticators, cookie, TLS and SCRAM authentication,
 * transports that authenticate differently (merged, each one's principals would sign in through the
 * other), a principal's `realm` where more than that realm has its role, and secrets taken from the
 * environment (`${NAME}`) when no environment is given.
 */

type AuthInput = z.input<typeof wampAuthSchema>;
type RealmInput = z.input<typeof wampRealmSchema>;
type Principal = { role: string; entry: Json; at: string };
type Environment = Readonly<Record<string, string | undefined>>;

export class CrossbarAuth {
  readonly #notes: Notes;
  readonly #env: Environment | undefined;
  #anonymous: { role: string; at: string } | undefined;
  readonly #ticket = new Map<string, Principal>();
  readonly #wampcra = new Map<string, Principal>();
  readonly #cryptosign = new Map<string, Principal>();
  /** The first transport added, and its `auth` as JSON. */
  #first: { at: string; auth: string } | undefined;

  /** With `env`, `${NAME}` secrets are read from it, as Crossbar does at its start. */
  constructor(notes: Notes, env?: Environment) {
    this.#notes = notes;
    this.#env = env;
  }

  /** A transport's `auth` at `at`; a transport without one lets anonymous clients in as `anonymous`. */
  add(auth: unknown, at: string): void {
    const json = JSON.stringify(auth ?? null);
    this.#first ??= { at, auth: json };
    if (json !== this.#first.auth) {
      this.#notes.refuse(
        at,
        `authenticates otherwise than ${this.#first.at}: Herald has one set of methods and principals for ` +
          "every connection, so they are merged, and each transport's principals may sign in where the " +
          "other's could; give both the same auth, or remove one",
      );
    }
    if (auth === undefined) return this.#addAnonymous('anonymous', at);
    if (!isObject(auth)) return this.#notes.invalid(`${at}.auth`, auth, 'a map of authentication methods');
    for (const [method, settings] of Object.entries(auth)) {
      const here = `${at}.auth.${method}`;
      if (!isObject(settings)) {
        this.#notes.invalid(here, settings, 'the settings of an authentication method');
        continue;
      }
      const type = own(settings, 'type') ?? (method === 'anonymous' ? 'static' : undefined);
      if (type === 'dynamic') {
        this.#notes.refuse(
          here,
          `a dynamic authenticator (${text(own(settings, 'authenticator')) ?? 'no URI'}): Herald's principals ` +
            'come from its configuration; list them here (type static), then remove the authenticator',
        );
        continue;
      }
      switch (method) {
        case 'anonymous':
          this.#addAnonymous(text(own(settings, 'role')) ?? 'anonymous', here);
          break;
        case 'ticket':
          this.#addPrincipals(settings, 'principals', here, this.#ticket);
          break;
        case 'wampcra':
          this.#addPrincipals(settings, 'users', here, this.#wampcra);
          break;
        case 'cryptosign':
          this.#addPrincipals(settings, 'principals', here, this.#cryptosign);
          break;
        default:
          this.#notes.refuse(
            here,
            `Herald authenticates with anonymous, ticket, wampcra and cryptosign only, so clients that use ` +
              `${method} could not sign in; move them to one of those, then remove it here`,
          );
      }
    }
  }

  /** Herald's `wamp.auth`, with only the principals whose role some realm has. */
  build(realms: readonly RealmInput[]): AuthInput {
    const roles = new Set(realms.flatMap((r) => (r.roles ?? []).map((role) => role.name)));
    const auth: AuthInput = {};
    const known = (p: { role: string; at: string }) => {
      if (roles.has(p.role)) return true;
      this.#notes.warn(p.at, `role "${p.role}" is in no realm: no session could join with it; left out`);
      return false;
    };
    if (this.#anonymous && known(this.#anonymous)) auth.anonymous = { role: this.#anonymous.role };
    const ticket = this.#carry(this.#ticket, known, (p) => this.#ticketOf(p));
    if (ticket) auth.ticket = { principals: ticket };
    const users = this.#carry(this.#wampcra, known, (p) => this.#wampcraOf(p));
    // Salted secrets are derived keys in Crossbar's spelling, which `type` says.
    if (users && Object.values(users).some((u) => u.salt !== undefined))
      auth.wampcra = { type: 'static', users };
    else if (users) auth.wampcra = { users };
    const keys = this.#carry(this.#cryptosign, known, (p) => cryptosignOf(p, realms, this.#notes));
    if (keys) auth.cryptosign = { principals: keys };
    return auth;
  }

  #ticketOf({ entry, role, at }: Principal) {
    const ticket = this.#secret(entry, 'ticket', at);
    if (ticket === undefined) return undefined;
    extraKeys(entry, ['ticket', 'role'], at, this.#notes);
    return { ticket, role };
  }

  /** Crossbar's user as it is: with `salt`, `secret` is the key derived from the password. */
  #wampcraOf({ entry, role, at }: Principal) {
    const secret = this.#secret(entry, 'secret', at);
    if (secret === undefined) return undefined;
    const user: { secret: string; role: string; salt?: string; iterations?: number; keylen?: number } = {
      secret,
      role,
    };
    const salt = own(entry, 'salt');
    if (salt !== undefined) {
      if (typeof salt !== 'string' || salt === '')
        return void this.#notes.invalid(`${at}.salt`, salt, 'a salt');
      user.salt = salt;
      for (const field of ['iterations', 'keylen'] as const) {
        const value = own(entry, field);
        if (value === undefined) continue;
        const n = integer(value);
        if (n === undefined || n < 1)
          return void this.#notes.invalid(`${at}.${field}`, value, 'a whole number');
        user[field] = n;
      }
    }
    extraKeys(entry, ['secret', 'role', 'salt', 'iterations', 'keylen'], at, this.#notes);
    return user;
  }

  /**
   * The principal's `field`, read from the environment when it is `${NAME}` (Crossbar's form), when
   * there is one; undefined, and noted, when it cannot be had.
   */
  #secret(entry: Json, field: string, at: string): string | undefined {
    const here = `${at}.${field}`;
    const value = text(own(entry, field));
    if (!value) return void this.#notes.invalid(here, own(entry, field), `a ${field}`);
    const m = /^\$\{([^}]+)\}$/.exec(value);
    if (!m) return value;
    const name = m[1]!;
    if (!this.#env) {
      return void this.#notes.warn(
        here,
        `read from the environment variable ${name} at Crossbar's start: write the secret in; left out`,
      );
    }
    const found = Object.hasOwn(this.#env, name) ? this.#env[name] : undefined;
    if (found) return found;
    return void this.#notes.refuse(here, `the environment variable ${name} is not set: set it`);
  }

  #carry<T>(
    from: Map<string, Principal>,
    known: (p: Principal) => boolean,
    convert: (p: Principal) => T | undefined,
  ): Record<string, T> | undefined {
    const out: [string, T][] = [];
    for (const [authid, principal] of from) {
      const value = known(principal) ? convert(principal) : undefined;
      if (value !== undefined) out.push([authid, value]);
    }
    return out.length > 0 ? (Object.fromEntries(out) as Record<string, T>) : undefined;
  }

  #addAnonymous(role: string, at: string): void {
    if (this.#anonymous && this.#anonymous.role !== role) {
      this.#notes.refuse(
        at,
        `anonymous sessions get one role in Herald: "${this.#anonymous.role}" (${this.#anonymous.at}), not "${role}"`,
      );
      return;
    }
    this.#anonymous ??= { role, at };
  }

  #addPrincipals(settings: Json, field: string, at: string, into: Map<string, Principal>): void {
    const principals = own(settings, field);
    if (!isObject(principals))
      return this.#notes.invalid(`${at}.${field}`, principals, 'a map of principals by authid');
    for (const [authid, entry] of Object.entries(principals)) {
      const here = `${at}.${field}.${authid}`;
      if (!safeKey(authid) || authid === '') {
        this.#notes.refuse(here, 'an authid Herald cannot key a principal by: rename it');
        continue;
      }
      const role = text(own(entry, 'role'));
      if (!isObject(entry) || !role) {
        this.#notes.invalid(here, entry, 'a principal with a role');
        continue;
      }
      const earlier = into.get(authid);
      if (earlier && JSON.stringify(earlier.entry) !== JSON.stringify(entry)) {
        this.#notes.warn(
          here,
          `another principal "${authid}" (${earlier.at}) is kept: Herald has one per authid`,
        );
        continue;
      }
      into.set(authid, { role, entry, at: here });
    }
  }
}

function cryptosignOf({ entry, role, at }: Principal, realms: readonly RealmInput[], notes: Notes) {
  const list = own(entry, 'authorized_keys');
  const keys = (Array.isArray(list) ? list : []).filter((k): k is string => {
    const ok = typeof k === 'string' && /^[0-9a-fA-F]{64}$/.test(k);
    if (!ok) notes.invalid(`${at}.authorized_keys`, k, 'an Ed25519 public key in hex (64 digits)');
    return ok;
  });
  if (keys.length === 0) return void notes.invalid(`${at}.authorized_keys`, list, 'a list of keys');
  const realm = own(entry, 'realm');
  const joinable = realms.filter((r) => (r.roles ?? []).some((x) => x.name === role)).map((r) => r.name);
  if (realm !== undefined && !(joinable.length === 1 && joinable[0] === realm)) {
    // Harmless only where the principal's role is in that realm alone.
    notes.refuse(
      `${at}.realm`,
      `Herald does not bind a principal to a realm, and role "${role}" is in ${joinable.length === 0 ? 'no realm' : joinable.map((n) => `"${n}"`).join(', ')}: ` +
        'give the principal a role that only its realm has, then remove realm here',
    );
  }
  extraKeys(entry, ['authorized_keys', 'role', 'realm'], at, notes);
  return { authorized_keys: keys, role };
}

function extraKeys(entry: Json, known: string[], at: string, notes: Notes): void {
  for (const key of Object.keys(entry)) {
    if (!known.includes(key)) notes.warn(`${at}.${key}`, 'not a principal setting Herald has; left out');
  }
}
