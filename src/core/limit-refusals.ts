/**
 * The limits whose refusals are counted; each is the `limit` label of
 * `herald_limit_refusals_total` on `/metrics` and is documented in docs/security.md.
 */
export type LimitName =
  | 'max_connections'
  | 'connections_per_address'
  | 'connection_rate_per_address'
  | 'memory'
  | 'subscriptions_per_connection'
  | 'wamp_subscriptions_per_session'
  | 'wamp_registrations_per_session'
  | 'wamp_retained_bytes'
  | 'wamp_history_bytes'
  | 'wamp_testaments'
  | 'wamp_hello_timeout';

/** Counts refusals by limit, for the metrics: one shared instance per server, bumped where each limit is enforced. */
export class LimitRefusals {
  readonly #counts = new Map<LimitName, number>();

  count(limit: LimitName): void {
    this.#counts.set(limit, (this.#counts.get(limit) ?? 0) + 1);
  }

  get(limit: LimitName): number {
    return this.#counts.get(limit) ?? 0;
  }

  entries(): IterableIterator<[LimitName, number]> {
    return this.#counts.entries();
  }
}
