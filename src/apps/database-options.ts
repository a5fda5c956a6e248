import { type Logger, pino } from 'pino';
import { type AppField, type Column, columnOf } from './columns.js';
import { MIGRATIONS, type Migration, migratedFields } from './migrations.js';

/** What the PostgreSQL and MySQL stores are built from. */
export interface DatabaseAppStoreOptions {
  /** `postgres://user:password@host:5432/db` or `mysql://user:password@host:3306/db`, parsed by the driver. */
  url: string;
  /** The table of apps, a plain SQL name (the config schema checks it). @default 'herald_apps' */
  table?: string;
  /** Connections the store keeps open at most. @default 4 */
  poolSize?: number;
  /**
   * How long a lookup may wait for a connection, and how long one statement may run, before it fails
   * with `AppStoreUnavailable`; a lookup fails within about twice this, however the database is gone.
   * @default 5000
   */
  timeoutMs?: number;
  /** How long `migrate` may take, waiting for another process's migration included. @default 60000 */
  migrateTimeoutMs?: number;
  /** Told of lost and restored connections. @default silent */
  logger?: Logger;
  /**
   * The versions of the table this store migrates to and expects: its columns are those the versions
   * add. Only tests of upgrades change it. @default MIGRATIONS
   */
  migrations?: readonly Migration[];
}

export interface ResolvedOptions {
  readonly url: string;
  readonly table: string;
  readonly poolSize: number;
  readonly timeoutMs: number;
  readonly migrateTimeoutMs: number;
  readonly logger: Logger;
  readonly migrations: readonly Migration[];
  /** The columns the store reads and writes: the versions' fields. */
  readonly columns: readonly Column[];
}

export function resolveOptions(options: DatabaseAppStoreOptions): ResolvedOptions {
  const migrations = options.migrations ?? MIGRATIONS;
  return {
    url: options.url,
    table: options.table ?? 'herald_apps',
    poolSize: options.poolSize ?? 4,
    timeoutMs: options.timeoutMs ?? 5000,
    migrateTimeoutMs: options.migrateTimeoutMs ?? 60_000,
    logger: options.logger ?? pino({ level: 'silent' }),
    migrations,
    columns: migratedFields(migrations).map((field: AppField) => columnOf(field)),
  };
}
