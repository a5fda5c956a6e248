import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { AppCatalog } from '../core/apps/app.js';
import { StaticAppStore } from '../core/apps/static-store.js';

/**
 * The store `config.appStore` names, not yet connected to anything: lookups connect on first use, and
 * `check()` says at start whether it can serve.
 */
export function openAppCatalog(config: Readonly<Config>, _logger: Logger): AppCatalog {
  const store = config.appStore;
  switch (store.driver) {
    case 'config':
      return new StaticAppStore(config.apps);
    default:
      throw new Error(`appStore.driver "${store.driver}" is not built yet`);
  }
}
