import { type App, type AppCatalog, type AppId, AppStoreReadOnly } from './app.js';

/** Apps from the validated config, indexed once; read-only. */
export class StaticAppStore implements AppCatalog {
  readonly description = 'config file';
  readonly #byKey = new Map<string, App>();
  readonly #byId = new Map<AppId, App>();
  readonly #all: readonly App[];

  constructor(apps: readonly App[]) {
    for (const app of apps) {
      this.#byKey.set(app.key, app);
      this.#byId.set(app.id, app);
    }
    this.#all = [...apps].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async findByKey(key: string): Promise<App | undefined> {
    return this.#byKey.get(key);
  }

  async findById(id: AppId): Promise<App | undefined> {
    return this.#byId.get(id);
  }

  async all(limit?: number): Promise<readonly App[]> {
    return limit === undefined ? this.#all : this.#all.slice(0, limit);
  }

  async create(): Promise<App> {
    throw new AppStoreReadOnly(this.description);
  }

  async update(): Promise<App | undefined> {
    throw new AppStoreReadOnly(this.description);
  }

  async delete(): Promise<boolean> {
    throw new AppStoreReadOnly(this.description);
  }

  async migrate(): Promise<{ from: number; to: number }> {
    throw new AppStoreReadOnly(this.description);
  }

  async check(): Promise<void> {}

  async close(): Promise<void> {}
}
