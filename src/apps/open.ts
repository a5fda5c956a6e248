import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { AppCatalog } from '../core/apps/app.js';
import { StaticAppStore } from '../core/apps/static-store.js';
import { MysqlAppStore } from './mysql-store.js';
import { PostgresAppStore } from './postgres-store.js';

/**
 * The store `config.appStore` names, not yet connected to anything: lookups connect on first use, and
 * `check()` says at start whether it can serve. The drivers parse the URLs; `mysql://` serves MySQL
 * and MariaDB alike.
 */
export function openAppCatalog(config: Readonly<Config>, logger: Logger): AppCatalog {
  const store = config.appStore;
  switch (store.driver) {
    case 'config':
      return new StaticAppStore(config.apps);
    case 'postgres':
    case 'mysql': {
      const options = { url: store.url, table: store.table, poolSize: store.poolSize, logger };
      return store.driver === 'postgres' ? new PostgresAppStore(options) : new MysqlAppStore(options);
    }
  }
}
