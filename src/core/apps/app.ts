import type { AppConfig } from '../../config/schema.js';

export type AppId = string;

/** One tenant: credentials, switches and limits. The canonical shape is the config schema's. */
export type App = AppConfig;

/**
 * Where apps come from. Static config by default; a database-backed store can implement the same
 * contract later. Lookups may be asynchronous; callers must not cache results across requests.
 */
export interface AppStore {
  findByKey(key: string): Promise<App | undefined>;
  findById(id: AppId): Promise<App | undefined>;
  all(): Promise<readonly App[]>;
}
