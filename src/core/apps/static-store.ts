import type { App, AppId, AppStore } from './app.js';

/** Apps from the validated config, indexed once. */
export class StaticAppStore implements AppStore {
  readonly #byKey = new Map<string, App>();
  readonly #byId = new Map<AppId, App>();

  constructor(readonly apps: readonly App[]) {
    for (const app of apps) {
      this.#byKey.set(app.key, app);
      this.#byId.set(app.id, app);
    }
  }

  async findByKey(key: string): Promise<App | undefined> {
    return this.#byKey.get(key);
  }

  async findById(id: AppId): Promise<App | undefined> {
    return this.#byId.get(id);
  }

  async all(): Promise<readonly App[]> {
    return this.apps;
  }
}
