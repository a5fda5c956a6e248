import { isDeepStrictEqual } from 'node:util';
import { type App, type AppId, type AppStore, AppStoreUnavailable } from './app.js';

export interface CachedAppStoreOptions {
  /** How long an app found stays fresh; after it, the next lookup answers with it and refreshes it. */
  ttlMs: number;
  /** How long a key or id that named no app is answered as unknown without asking the store. */
  missTtlMs: number;
  /** Lookups the store gets per second at most (a burst of twice this at once); more wait for no one: see `find`. */
  lookupsPerSecond: number;
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number;
  /**
   * Told when a lookup found a cached app changed, or gone (by id; a key that names no app any more
   * may have been given to another app, which is no word about the app that had it).
   */
  onChange?: (id: AppId, app: App | undefined) => void;
  /** Told of each answer of the store: whether it answered, and why not. */
  onStoreAnswer?: (ok: boolean, err?: unknown) => void;
}

interface Entry {
  app: App;
  /** Until when it is fresh. */
  expires: number;
  /** Changed in the store: the next lookup waits for the store instead of answering with it. */
  invalid: boolean;
}

type Kind = 'key' | 'id';

/** How long a refresh that failed leaves the app as it was before trying again. */
const RETRY_MS = 5_000;

/** The most keys or ids one query of a store's `findMany` asks for. */
const BATCH_SIZE = 100;

interface Waiting {
  resolve(app: App | undefined): void;
  reject(err: unknown): void;
}

/**
 * Apps of a slower store (a database), cached by key and by id in one entry per app, so that a
 * connection (by key) and an HTTP request (by id) of one app cost the store one lookup a TTL between
 * them. Unknown keys and ids are remembered for `missTtlMs`, concurrent lookups of one key share one
 * query, and lookups past `lookupsPerSecond` are not sent: a flood of random keys costs the store a
 * bounded rate. An expired app is answered at once and refreshed behind the answer; when the store
 * does not answer, the app as last seen keeps serving.
 */
export class CachedAppStore implements AppStore {
  readonly #store: AppStore;
  readonly #o: Required<Omit<CachedAppStoreOptions, 'onChange' | 'onStoreAnswer'>>;
  readonly #onChange: NonNullable<CachedAppStoreOptions['onChange']>;
  readonly #onStoreAnswer: NonNullable<CachedAppStoreOptions['onStoreAnswer']>;
  readonly #apps = new Map<AppId, Entry>();
  readonly #keys = new Map<string, AppId>();
  /** `key\0…` and `id\0…` → until when it is known to name no app; in expiry order (one TTL for all). */
  readonly #misses = new Map<string, number>();
  readonly #loads = new Map<string, Promise<App | undefined>>();
  /** Lookups to send together with `findMany` at the end of this turn of the event loop, by kind. */
  #batches: Record<Kind, Map<string, Waiting>> = { key: new Map(), id: new Map() };
  /** Bumped by each invalidation: lookups sent before it do not fill the cache. */
  #generation = 0;
  #tokens: number;
  #refilled: number;

  constructor(store: AppStore, options: CachedAppStoreOptions) {
    this.#store = store;
    this.#o = { now: Date.now, ...options };
    this.#onChange = options.onChange ?? (() => {});
    this.#onStoreAnswer = options.onStoreAnswer ?? (() => {});
    this.#tokens = 2 * options.lookupsPerSecond;
    this.#refilled = this.#o.now();
  }

  findByKey(key: string): Promise<App | undefined> {
    return this.#find('key', key);
  }

  findById(id: AppId): Promise<App | undefined> {
    return this.#find('id', id);
  }

  /** Every app, from the store itself (the cache holds the apps in use, not all of them). */
  all(limit?: number): Promise<readonly App[]> {
    return this.#store.all(limit);
  }

  /** Fills the cache with `apps` as the store has them now (a node warming up before it serves). */
  prime(apps: readonly App[]): void {
    const expires = this.#o.now() + this.#o.ttlMs;
    for (const app of apps) {
      this.#apps.set(app.id, { app, expires, invalid: false });
      this.#keys.set(app.key, app.id);
    }
  }

  /** The apps cached now, by id: the ones this node has looked up and not seen go. */
  cachedIds(): AppId[] {
    return [...this.#apps.keys()];
  }

  /**
   * The app changed in the store (null: any app may have): its next lookup waits for the store, and
   * keys and ids remembered as unknown are asked again (a new app may have one of them now).
   */
  invalidate(id: AppId | null): void {
    this.#generation++;
    this.#loads.clear();
    this.#misses.clear();
    if (id === null) {
      for (const entry of this.#apps.values()) entry.invalid = true;
    } else {
      const entry = this.#apps.get(id);
      if (entry) entry.invalid = true;
    }
  }

  /**
   * The app with `key` or `id`: from the cache when fresh; when expired, the cached one at once while it
   * is refreshed; otherwise from the store. Rejects with `AppStoreUnavailable` when the store cannot
   * answer and nothing is cached, and when the lookup would go past `lookupsPerSecond`.
   */
  async #find(kind: Kind, value: string): Promise<App | undefined> {
    const now = this.#o.now();
    const entry = this.#cached(kind, value);
    if (entry && !entry.invalid) {
      if (entry.expires <= now) this.#refresh(entry, now);
      return entry.app;
    }
    const missed = this.#misses.get(`${kind}\0${value}`);
    if (!entry && missed !== undefined && missed > now) return undefined;
    try {
      return await this.#load(kind, value);
    } catch (err) {
      // Changed in a store that does not answer now: the app as last seen, until it does.
      if (entry && err instanceof AppStoreUnavailable) return entry.app;
      throw err;
    }
  }

  #cached(kind: Kind, value: string): Entry | undefined {
    if (kind === 'id') return this.#apps.get(value);
    const id = this.#keys.get(value);
    const entry = id === undefined ? undefined : this.#apps.get(id);
    return entry?.app.key === value ? entry : undefined;
  }

  /** Refreshes an expired app behind the answer, by id, at most once at a time. */
  #refresh(entry: Entry, now: number): void {
    // Whatever happens, the next lookups answer with it until this one has settled or RETRY_MS passed.
    entry.expires = now + Math.min(this.#o.ttlMs, RETRY_MS);
    this.#load('id', entry.app.id).catch(() => {});
  }

  #load(kind: Kind, value: string): Promise<App | undefined> {
    const name = `${kind}\0${value}`;
    const running = this.#loads.get(name);
    if (running) return running;
    if (!this.#take()) {
      return Promise.reject(
        new AppStoreUnavailable(
          'too many lookups of apps not in the cache at once (appStore.lookupsPerSecond): try again',
        ),
      );
    }
    const generation = this.#generation;
    const load = this.#ask(kind, value)
      .then(
        (app) => {
          this.#onStoreAnswer(true);
          if (generation === this.#generation) this.#remember(kind, value, app);
          return app;
        },
        (err: unknown) => {
          this.#onStoreAnswer(false, err);
          throw err instanceof AppStoreUnavailable
            ? err
            : new AppStoreUnavailable(`the app store failed: ${(err as Error)?.message ?? err}`, {
                cause: err,
              });
        },
      )
      .finally(() => {
        if (this.#loads.get(name) === load) this.#loads.delete(name);
      });
    this.#loads.set(name, load);
    return load;
  }

  /**
   * The store's answer for one key or id. With `findMany`, the lookups of one turn of the event loop
   * (the connections a burst brings in) go together, up to BATCH_SIZE a query: one round trip, and
   * one system call each way, for all of them.
   */
  #ask(kind: Kind, value: string): Promise<App | undefined> {
    if (!this.#store.findMany) {
      return kind === 'key' ? this.#store.findByKey(value) : this.#store.findById(value);
    }
    const batch = this.#batches[kind];
    if (batch.size === 0) setImmediate(() => this.#send(kind));
    return new Promise((resolve, reject) => batch.set(value, { resolve, reject }));
  }

  #send(kind: Kind): void {
    const batch = this.#batches[kind];
    this.#batches[kind] = new Map();
    const values = [...batch.keys()];
    for (let i = 0; i < values.length; i += BATCH_SIZE) {
      const chunk = values.slice(i, i + BATCH_SIZE);
      this.#store.findMany!(kind, chunk).then(
        (apps) => {
          const found = new Map(apps.map((app) => [kind === 'key' ? app.key : app.id, app]));
          for (const value of chunk) batch.get(value)!.resolve(found.get(value));
        },
        (err: unknown) => {
          for (const value of chunk) batch.get(value)!.reject(err);
        },
      );
    }
  }

  #remember(kind: Kind, value: string, app: App | undefined): void {
    const now = this.#o.now();
    if (!app) {
      this.#miss(`${kind}\0${value}`, now);
      const gone = this.#cached(kind, value);
      if (!gone) return;
      if (kind === 'id') {
        this.#forget(gone.app);
        this.#onChange(gone.app.id, undefined);
      } else {
        // The key is no longer this app's: its entry is asked for again by id.
        this.#keys.delete(value);
        gone.invalid = true;
      }
      return;
    }
    const before = this.#apps.get(app.id);
    if (before && before.app.key !== app.key && this.#keys.get(before.app.key) === app.id) {
      this.#keys.delete(before.app.key);
    }
    this.#apps.set(app.id, { app, expires: now + this.#o.ttlMs, invalid: false });
    this.#keys.set(app.key, app.id);
    this.#misses.delete(`key\0${app.key}`);
    this.#misses.delete(`id\0${app.id}`);
    if (before && !isDeepStrictEqual(before.app, app)) this.#onChange(app.id, app);
  }

  #forget(app: App): void {
    this.#apps.delete(app.id);
    if (this.#keys.get(app.key) === app.id) this.#keys.delete(app.key);
  }

  #miss(name: string, now: number): void {
    this.#misses.delete(name);
    this.#misses.set(name, now + this.#o.missTtlMs);
    // One TTL for all: the oldest are first, and the map holds no more than a TTL's worth of lookups.
    for (const [oldest, until] of this.#misses) {
      if (until > now) break;
      this.#misses.delete(oldest);
    }
  }

  /** One lookup's worth of the rate, if there is one left. */
  #take(): boolean {
    const now = this.#o.now();
    const rate = this.#o.lookupsPerSecond;
    this.#tokens = Math.min(2 * rate, this.#tokens + ((now - this.#refilled) * rate) / 1000);
    this.#refilled = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
