import type { AppConfig } from '../../config/schema.js';
import { HeraldError } from '../errors.js';

export type AppId = string;

/** One tenant: credentials, switches and limits. The canonical shape is the config schema's. */
export type App = AppConfig;

/** An app's fields a change may set: everything but its id. */
export type AppChanges = Partial<Omit<App, 'id'>>;

/**
 * Where apps come from: the config file by default, PostgreSQL or MySQL when configured. Lookups may
 * be asynchronous; callers must not cache results across requests (a cache is a store of its own,
 * see `CachedAppStore`).
 */
export interface AppStore {
  findByKey(key: string): Promise<App | undefined>;
  findById(id: AppId): Promise<App | undefined>;
  /** Every app, ordered by id; the first `limit` of them when given. */
  all(limit?: number): Promise<readonly App[]>;
  /**
   * The apps whose key (or id) is one of `values`, in any order, in one query: what a store that
   * answers over the network offers so that lookups arriving together cost one round trip.
   */
  findMany?(field: 'key' | 'id', values: readonly string[]): Promise<readonly App[]>;
}

/**
 * A store `herald apps` manages: the lookups, and the writes where the store takes them (a config file
 * is read-only: its writes throw `AppStoreReadOnly`). Each write is one statement, so two nodes writing
 * at once never leave an app half changed.
 */
export interface AppCatalog extends AppStore {
  /** What `herald apps` names the store by in its messages: `config file`, `postgres table herald_apps`. */
  readonly description: string;
  /** Adds `app`; throws `AppConflict` when its id or key is taken. */
  create(app: App): Promise<App>;
  /** Changes the app's fields given; the app as it is now, or undefined when there is none with `id`. Throws `AppConflict` when the new key is taken. */
  update(id: AppId, changes: AppChanges): Promise<App | undefined>;
  /** Removes the app; whether there was one. */
  delete(id: AppId): Promise<boolean>;
  /**
   * Brings the store's schema to the version this build expects (idempotent); what it did. A store
   * whose schema is older than that refuses lookups with `AppStoreUnavailable` until migrated.
   */
  migrate(): Promise<{ from: number; to: number }>;
  /**
   * Calls `onChange` with the id of each app changed in the store by anyone (PostgreSQL's
   * LISTEN/NOTIFY), and with null when any app may have changed unseen (the feed was lost and is back);
   * resolves once listening, and keeps listening across database outages until `close`. Stores without
   * such a feed leave changes to the cache's TTL and to the node that made them; their `watch` is absent.
   */
  watch?(onChange: (id: AppId | null) => void): Promise<void>;
  /** Checks the store can serve lookups (reachable, schema current); throws `AppStoreUnavailable` saying what to do. */
  check(): Promise<void>;
  close(): Promise<void>;
}

export const ERR_APP_STORE_UNAVAILABLE = 'ERR_APP_STORE_UNAVAILABLE';
export const ERR_APP_STORE_READ_ONLY = 'ERR_APP_STORE_READ_ONLY';
export const ERR_APP_CONFLICT = 'ERR_APP_CONFLICT';

/** The store could not answer (database unreachable, schema not migrated, too many lookups at once); the caller may try again later. */
export class AppStoreUnavailable extends HeraldError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERR_APP_STORE_UNAVAILABLE, message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** A write to a store that takes none (the config file). */
export class AppStoreReadOnly extends HeraldError {
  constructor(description: string) {
    super(
      ERR_APP_STORE_READ_ONLY,
      `apps come from the ${description}, which is read-only: edit it and restart, or keep apps in PostgreSQL or MySQL (appStore.driver)`,
    );
  }
}

/** An id or key another app has. */
export class AppConflict extends HeraldError {
  constructor(
    readonly field: 'id' | 'key',
    value: string,
  ) {
    super(ERR_APP_CONFLICT, `an app with ${field} "${value}" exists already`);
  }
}

/**
 * The secrets a request or a signature of `app` may be signed with at `now` (milliseconds since the
 * epoch): its secret, and after a rotation the one before until its grace period ends.
 */
export function secretsOf(app: App, now: number): readonly string[] {
  const { previousSecret, previousSecretExpiresAt } = app;
  if (previousSecret === null || previousSecretExpiresAt === null) return [app.secret];
  return Date.parse(previousSecretExpiresAt) > now ? [app.secret, previousSecret] : [app.secret];
}
