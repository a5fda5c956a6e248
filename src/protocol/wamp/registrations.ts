import { WampError, WampUri } from './errors.js';
import { uriId } from './ids.js';
import { getOrCreate } from './maps.js';
import type { Peer } from './peer.js';
import type { MatchPolicy } from './uri.js';
import { UriMap } from './uri-map.js';

export type InvokePolicy = 'single' | 'roundrobin' | 'random' | 'first' | 'last';
export const INVOKE_POLICIES: readonly string[] = ['single', 'roundrobin', 'random', 'first', 'last'];

export interface Callee {
  readonly peer: Peer;
  /** REGISTER.Options.disclose_caller. */
  readonly discloseCaller: boolean;
  /** REGISTER.Options.forward_timeout: the callee gets `timeout` and times out itself. */
  readonly forwardTimeout: boolean;
  /** When it registered, in milliseconds since the epoch (sub-millisecond): `first` and `last` across nodes. */
  readonly since: number;
}

/** One (procedure, match) registration; several callees share it unless `invoke` is `single`. */
export interface Registration {
  readonly id: number;
  readonly uri: string;
  readonly match: MatchPolicy;
  readonly invoke: InvokePolicy;
  /** ISO 8601, for the registration meta API. */
  readonly created: string;
  /**
   * In registration order: `first` is the oldest, `last` the newest (WAMP spec, Advanced Profile, Shared
   * Registration).
   */
  readonly callees: Callee[];
  /** Round-robin cursor. */
  next: number;
}

/**
 * The registrations of one realm as the meta API, the cluster's lookups and the cluster dealer read
 * them: only the dealer changes them, through REGISTER, UNREGISTER and departing sessions.
 */
export interface RegistrationView {
  /** How many registrations there are (each may have several callees). */
  readonly size: number;
  byId(id: number): Registration | undefined;
  lookup(uri: string, match: MatchPolicy): Registration | undefined;
  /** The registration a CALL to `uri` reaches: exact, longest prefix, most specific wildcard. */
  best(uri: string): Registration | undefined;
  /** The registrations of one match policy, in registration order. */
  list(match: MatchPolicy): Registration[];
}

/**
 * The registrations of one realm: (procedure, match) → callees, with the shared-registration rules
 * (WAMP spec, Advanced Profile, Shared Registration) and the pick of a callee for each call.
 */
export class RegistrationTable implements RegistrationView {
  readonly #byUri = new UriMap<Registration>();
  readonly #byId = new Map<number, Registration>();
  readonly #bySession = new Map<Peer, Set<Registration>>();

  /**
   * Adds `callee` to the registration of (uri, match), creating it if needed. Throws
   * `procedure_already_exists` when either side is `single` or the session is already a callee, and
   * Crossbar's `procedure_exists_with_different_invocation_policy` when the policies differ.
   */
  add(
    uri: string,
    match: MatchPolicy,
    invoke: InvokePolicy,
    callee: Callee,
  ): { registration: Registration; created: boolean } {
    let registration = this.#byUri.get(uri, match);
    const created = registration === undefined;
    if (registration === undefined) {
      const id = uriId('registration', uri, match, this.#byId);
      registration = { id, uri, match, invoke, created: new Date().toISOString(), callees: [], next: 0 };
      this.#byUri.set(uri, match, registration);
      this.#byId.set(id, registration);
    } else if (
      registration.invoke === 'single' ||
      invoke === 'single' ||
      registration.callees.some((c) => c.peer === callee.peer)
    ) {
      throw new WampError(WampUri.PROCEDURE_ALREADY_EXISTS, `procedure "${uri}" is already registered`);
    } else if (registration.invoke !== invoke) {
      throw new WampError(
        WampUri.PROCEDURE_EXISTS_INVOKE,
        `procedure "${uri}" is registered with invoke "${registration.invoke}"`,
      );
    }
    registration.callees.push(callee);
    getOrCreate(this.#bySession, callee.peer, () => new Set()).add(registration);
    return { registration, created };
  }

  /** How many registrations `peer` is a callee of. */
  heldBy(peer: Peer): number {
    return this.#bySession.get(peer)?.size ?? 0;
  }

  /** Removes `peer` from registration `id`; true when the registration is gone. Throws `no_such_registration`. */
  remove(peer: Peer, id: number): { registration: Registration; deleted: boolean } {
    const registration = this.#byId.get(id);
    if (registration === undefined || !registration.callees.some((c) => c.peer === peer)) {
      throw new WampError(WampUri.NO_SUCH_REGISTRATION, `no registration ${id} for this session`);
    }
    this.#bySession.get(peer)?.delete(registration);
    return { registration, deleted: this.#leave(peer, registration) };
  }

  /** Every registration of a leaving session. */
  removeSession(peer: Peer): { registration: Registration; deleted: boolean }[] {
    const mine = this.#bySession.get(peer);
    this.#bySession.delete(peer);
    return [...(mine ?? [])].map((registration) => ({
      registration,
      deleted: this.#leave(peer, registration),
    }));
  }

  #leave(peer: Peer, registration: Registration): boolean {
    const i = registration.callees.findIndex((c) => c.peer === peer);
    if (i >= 0) registration.callees.splice(i, 1);
    if (i >= 0 && i < registration.next) registration.next--;
    if (registration.callees.length > 0) return false;
    this.#byUri.delete(registration.uri, registration.match);
    this.#byId.delete(registration.id);
    return true;
  }

  get size(): number {
    return this.#byId.size;
  }

  byId(id: number): Registration | undefined {
    return this.#byId.get(id);
  }

  lookup(uri: string, match: MatchPolicy): Registration | undefined {
    return this.#byUri.get(uri, match);
  }

  best(uri: string): Registration | undefined {
    return this.#byUri.best(uri);
  }

  list(match: MatchPolicy): Registration[] {
    return [...this.#byUri.values(match)];
  }
}

/**
 * The callee a CALL goes to under the registration's `invoke` policy (WAMP spec, Advanced Profile, Shared
 * Registration).
 */
export function pickCallee(registration: Registration): Callee {
  const callees = registration.callees;
  switch (registration.invoke) {
    case 'roundrobin': {
      const i = registration.next % callees.length;
      registration.next = i + 1;
      return callees[i]!;
    }
    case 'random':
      return callees[Math.floor(Math.random() * callees.length)]!;
    case 'last':
      return callees[callees.length - 1]!;
    default:
      return callees[0]!;
  }
}
