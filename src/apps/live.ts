import type { Logger } from 'pino';
import type { Adapter } from '../adapters/adapter.js';
import { busFields } from '../adapters/bus-payload.js';
import type { AppCatalog, AppId } from '../core/apps/app.js';
import type { CachedAppStore } from '../core/apps/cached-store.js';

/** The broadcast that tells every node an app changed in the store (`{id}`; without one, any app). */
export const APPS_CHANGED = 'apps.changed';

export interface LiveAppsOptions {
  catalog: Pick<AppCatalog, 'watch'>;
  cache: Pick<CachedAppStore, 'invalidate' | 'findById'>;
  adapter: Pick<Adapter, 'handle' | 'broadcast'>;
  logger: Logger;
  /** `appStore.cacheTtlMs`: the apps in use are looked at again within it (every second, at most every TTL). */
  ttlMs: number;
  /** The apps with connections on this node. */
  inUse: () => Iterable<AppId>;
}

/**
 * Keeps a node's apps current without a restart. A change made through Herald (`herald apps
 * --api-url`, the app management API) is broadcast to every node; a PostgreSQL store's trigger
 * notifies every node of any change, whoever made it; and the apps in use are looked at again every
 * TTL, which catches the rest (a MySQL table edited by hand). Each way ends in the cache, whose
 * `onChange` applies the app as it is now to its connections.
 */
export class LiveApps {
  readonly #o: LiveAppsOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: LiveAppsOptions) {
    this.#o = options;
    // Registered before the adapter starts, as every handler is.
    options.adapter.handle(APPS_CHANGED, (payload) => {
      this.#invalidate(busFields(APPS_CHANGED, payload, { id: 'string?' }).id ?? null);
    });
  }

  /** Starts listening to the store's change feed (when it has one) and the look every TTL. */
  async start(): Promise<void> {
    await this.#o.catalog.watch?.((id) => this.#invalidate(id));
    // Each look costs the store nothing until an app's TTL has passed: then one refresh for that app.
    this.#timer = setInterval(() => this.#lookAgain(this.#o.inUse()), Math.min(this.#o.ttlMs, 1000));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Tells every node, this one included, that the app changed in the store. */
  changed(id: AppId): Promise<void> {
    return this.#o.adapter.broadcast(APPS_CHANGED, { id });
  }

  #invalidate(id: AppId | null): void {
    this.#o.logger.debug({ appId: id ?? '*' }, 'app changed in the store');
    this.#o.cache.invalidate(id);
    // Only an app with connections here has anything to apply now; the others wait for a lookup.
    const inUse = [...this.#o.inUse()];
    this.#lookAgain(id === null ? inUse : inUse.filter((used) => used === id));
  }

  /** Looks the apps up (the expired ones in the store): a change found reaches the cache's `onChange`. */
  #lookAgain(ids: Iterable<AppId>): void {
    for (const id of ids) {
      // A store that does not answer keeps the apps as they were; the cache says so once.
      this.#o.cache.findById(id).catch(() => {});
    }
  }
}
