import { createHash } from 'node:crypto';
import { AppStoreUnavailable } from '../core/apps/app.js';
import { type AppField, columnOf } from './columns.js';

/**
 * The versions of an apps table, oldest first: version N is `MIGRATIONS[N - 1]`. A version is data,
 * not SQL: each store turns it into its own statements (`postgres-schema.ts`, `mysql-schema.ts`), with
 * the column types `columns.ts` derives from the app schema.
 *
 * A new app setting is a new version at the end of the list, `{ addColumns: ['theField'] }`; the
 * versions above it never change, since tables out there were made by them. Versions only add, so
 * that nodes still running the build before keep working against a table migrated past them during
 * a rolling upgrade (a setting they do not know is a column they do not read).
 */
export type Migration =
  /** The table of apps with these fields' columns: key unique, timestamps, and a change feed where the database has one. */
  | { readonly createTable: readonly AppField[] }
  /** Columns for fields added to the schema; existing rows get the field's default. */
  | { readonly addColumns: readonly AppField[] };

export const MIGRATIONS: readonly Migration[] = [
  {
    createTable: [
      'id',
      'key',
      'secret',
      'previousSecret',
      'previousSecretExpiresAt',
      'enabled',
      'allowedOrigins',
      'requireOrigin',
      'clientEvents',
      'subscriptionCount',
      'watchlistEvents',
      'cacheTtlSeconds',
      'userAuthentication',
      'userAuthenticationTimeoutMs',
      'maxConnections',
      'maxSubscriptionsPerConnection',
      'maxPresenceMembers',
      'maxPresenceUserInfoBytes',
      'maxPresenceUserIdLength',
      'maxClientEventsPerSecond',
      'maxEventPayloadBytes',
      'maxEventNameLength',
      'maxChannelNameLength',
      'maxChannelsPerTrigger',
      'maxBatchSize',
      'maxWatchlistSize',
      'maxHttpRequestsPerSecond',
      'webhooks',
      'batchWebhooks',
    ],
  },
  { addColumns: ['history'] },
];

/** The version of the apps table this build reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The fields a table made by `migrations` has columns for, in the order they were added. */
export function migratedFields(migrations: readonly Migration[]): AppField[] {
  return migrations.flatMap((m) => ('createTable' in m ? m.createTable : m.addColumns));
}

/** The columns version `version` adds (every column of the table, for the first). */
export function columnsOf(migration: Migration) {
  return ('createTable' in migration ? migration.createTable : migration.addColumns).map(columnOf);
}

/** The longest identifier both databases take whole (PostgreSQL cuts names at 63 bytes). */
const MAX_IDENTIFIER = 63;

/**
 * The name of something that belongs to `table` (its version table, trigger, constraints): `table`
 * and `suffix`, shortened with a hash of `table` when that would be longer than an identifier may be,
 * so that two long table names never share their parts.
 */
export function derivedName(table: string, suffix: string): string {
  const name = `${table}_${suffix}`;
  if (name.length <= MAX_IDENTIFIER) return name;
  const hash = createHash('sha256').update(table).digest('hex').slice(0, 8);
  return `${table.slice(0, MAX_IDENTIFIER - suffix.length - hash.length - 2)}_${hash}_${suffix}`;
}

/** The table holding the version of `table`'s schema, in one row. */
export const versionTable = (table: string) => derivedName(table, 'schema');

/**
 * What a migration run does against one database, inside whatever lock and transaction the database
 * offers.
 */
export interface SchemaSession {
  /** The version recorded; 0 for a table never migrated. */
  version(): Promise<number>;
  /** Applies `migration`, which makes version `version`, and records that version. */
  apply(version: number, migration: Migration): Promise<void>;
}

/** Applies the versions after the recorded one, in order; a table at or past the last is left alone. */
export async function runMigrations(
  session: SchemaSession,
  migrations: readonly Migration[],
): Promise<{ from: number; to: number }> {
  const from = await session.version();
  for (let version = from + 1; version <= migrations.length; version++) {
    await session.apply(version, migrations[version - 1]!);
  }
  return { from, to: Math.max(from, migrations.length) };
}

/** The refusal of a table whose schema is older than this build's. */
export function notMigrated(table: string, version: number, expected: number): AppStoreUnavailable {
  return new AppStoreUnavailable(
    `table ${table} is not migrated (version ${version} of ${expected}): run \`herald apps migrate\``,
  );
}

/**
 * Why a statement found the table without a table or column it needs (`version` as read, 0 when it
 * could not be): not migrated to `expected`, or changed by hand.
 */
export function schemaProblem(
  table: string,
  version: number,
  expected: number,
  err: unknown,
): AppStoreUnavailable {
  if (version < expected) return notMigrated(table, version, expected);
  return new AppStoreUnavailable(
    `table ${table} is at version ${version} but does not have its columns (${(err as Error).message}): was it changed by hand?`,
    { cause: err },
  );
}
