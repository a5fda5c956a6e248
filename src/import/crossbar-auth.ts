import type { z } from 'zod';
import type { wampAuthSchema } from '../config/schema.js';
import { isObject, type Json, type Notes, own, safeKey, text } from './notes.js';

/**
 * Crossbar's `auth` of each transport (docs: Anonymous-, Ticket-, Challenge-Response- and
 * Cryptosign-Authentication) merged into Herald's one `wamp.auth`. What Herald's configuration cannot
 * say is warned about and left out: dynamic authenticators, cookie, TLS and SCRAM authentication,
 * salted WAMP-CRA users (Crossbar stores the derived key, Herald the password it derives the key
 * from), a principal's `realm`, and secrets taken from the environment (`${NAME}`).
 */

type AuthInput = z.input<typeof wampAuthSchema>;
type Principal = { role: string; entry: Json; at: string };

export class CrossbarAuth {
  readonly #notes: Notes;
  #anonymous: { role: string; at: string } | undefined;
  readonly #ticket = new Map<string, Principal>();
  readonly #wampcra = new Map<string, Principal>();
  readonly #cryptosign = new Map<string, Principal>();
  /** Each transport added, and whether it had an `auth` of its own. */
  readonly #transports: { at: string; auth: boolean }[] = [];

  constructor(notes: Notes) {
    this.#notes = notes;
  }

  /** A transport's `auth` at `at`; a transport without one lets anonymous clients in as `anonymous`. */
  add(auth: unknown, at: string): void {
    this.#transports.push({ at, auth: auth !== undefined });
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
        this.#notes.warn(
          here,
          `a dynamic authenticator (${text(own(settings, 'authenticator')) ?? 'no URI'}): Herald's principals ` +
            'come from its configuration; add them to wamp.auth',
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
          this.#notes.warn(
            here,
            `Herald authenticates with anonymous, ticket, wampcra and cryptosign only; ${method} left out`,
          );
      }
    }
  }

  /** Herald's `wamp.auth`, with only the principals whose role some realm has. */
  build(roles: ReadonlySet<string>): AuthInput {
    const auth: AuthInput = {};
    if (this.#transports.some((t) => t.auth)) {
      for (const t of this.#transports.filter((t) => !t.auth)) {
        this.#notes.warn(
          t.at,
          'no auth: Crossbar let anonymous clients in here only; Herald has one set of methods for every ' +
            'connection, so anonymous is on for all of them',
        );
      }
    }
    const known = (p: { role: string; at: string }) => {
      if (roles.has(p.role)) return true;
      this.#notes.warn(p.at, `role "${p.role}" is in no realm: no session could join with it; left out`);
      return false;
    };
    if (this.#anonymous && known(this.#anonymous)) auth.anonymous = { role: this.#anonymous.role };
    const ticket = this.#carry(this.#ticket, known, (p) => ticketOf(p, this.#notes));
    if (ticket) auth.ticket = { principals: ticket };
    const users = this.#carry(this.#wampcra, known, (p) => wampcraOf(p, this.#notes));
    if (users) auth.wampcra = { users };
    const keys = this.#carry(this.#cryptosign, known, (p) => cryptosignOf(p, this.#notes));
    if (keys) auth.cryptosign = { principals: keys };
    return auth;
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
      this.#notes.warn(
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
        this.#notes.warn(here, 'an authid Herald cannot key a principal by; left out');
        continue;
      }
      const role = text(own(entry, 'role'));
      if (!isObject(entry) || !role) {
        this.#notes.warn(here, 'a principal without a role: Herald gives every principal one; left out');
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

/** Crossbar reads `${NAME}` secrets from its environment at start; the importer cannot. */
function fromEnvironment(value: string, at: string, notes: Notes): boolean {
  const m = /^\$\{([^}]+)\}$/.exec(value);
  if (m)
    notes.warn(
      at,
      `read from the environment variable ${m[1]} at Crossbar's start: write the secret in; left out`,
    );
  return m !== null;
}

function ticketOf({ entry, role, at }: Principal, notes: Notes) {
  const ticket = text(own(entry, 'ticket'));
  if (!ticket) return void notes.invalid(`${at}.ticket`, own(entry, 'ticket'), 'a ticket');
  if (fromEnvironment(ticket, `${at}.ticket`, notes)) return undefined;
  extraKeys(entry, ['ticket', 'role'], at, notes);
  return { ticket, role };
}

function wampcraOf({ entry, role, at }: Principal, notes: Notes) {
  const secret = text(own(entry, 'secret'));
  if (!secret) return void notes.invalid(`${at}.secret`, own(entry, 'secret'), 'a secret');
  if (fromEnvironment(secret, `${at}.secret`, notes)) return undefined;
  if (own(entry, 'salt') !== undefined) {
    notes.warn(
      at,
      "salted: Crossbar's secret is the key derived from the password, Herald's is the password itself " +
        '(it derives the key); write the password with salt, iterations and keylen in wamp.auth.wampcra; left out',
    );
    return undefined;
  }
  extraKeys(entry, ['secret', 'role', 'iterations', 'keylen'], at, notes);
  return { secret, role };
}

function cryptosignOf({ entry, role, at }: Principal, notes: Notes) {
  const list = own(entry, 'authorized_keys');
  const keys = (Array.isArray(list) ? list : []).filter((k): k is string => {
    const ok = typeof k === 'string' && /^[0-9a-fA-F]{64}$/.test(k);
    if (!ok) notes.invalid(`${at}.authorized_keys`, k, 'an Ed25519 public key in hex (64 digits)');
    return ok;
  });
  if (keys.length === 0) return void notes.warn(at, 'no usable authorized key; left out');
  if (own(entry, 'realm') !== undefined) {
    notes.warn(
      `${at}.realm`,
      'Herald does not bind a principal to a realm: it may join every realm that has its role',
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
