import { createHash } from 'node:crypto';
import type { PoolConnection } from 'mysql2/promise';
import { AppStoreUnavailable } from '../core/apps/app.js';
import { type Column, encode } from './columns.js';
import {
  columnsOf,
  derivedName,
  type Migration,
  runMigrations,
  type SchemaSession,
  versionTable,
} from './migrations.js';

/**
 * The SQL of an apps table on MySQL and MariaDB, and its migrations under a named lock (`GET_LOCK`).
 * DDL commits by itself there, so each version is recorded as soon as it is applied, and each is
 * written so that running it again after a crash halfway does no harm.
 */

/** `name` as a MySQL identifier. */
export const quote = (name: string) => `\`${name.replaceAll('`', '``')}\``;

/**
 * Binary collations that compare every character, trailing spaces too (NO PAD): an app key is
 * matched exactly, as on PostgreSQL, never `ABC` for `abc` nor `abc ` for `abc`. The first the
 * server has is used: MySQL 8's, then MariaDB's; older servers only have the PAD SPACE `utf8mb4_bin`.
 */
const EXACT_COLLATIONS = ['utf8mb4_0900_bin', 'utf8mb4_nopad_bin', 'utf8mb4_bin'];

async function exactCollation(connection: PoolConnection): Promise<string> {
  const [rows] = await connection.query(
    'SELECT COLLATION_NAME AS name FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN (?)',
    [EXACT_COLLATIONS],
  );
  const have = new Set((rows as { name: string }[]).map((r) => r.name));
  return EXACT_COLLATIONS.find((c) => have.has(c)) ?? 'utf8mb4_bin';
}

/** The column's MySQL and MariaDB type. */
export function mysqlType(c: Column): string {
  switch (c.kind) {
    case 'text':
      // Bounded text is VARCHAR, which a key can index; the bound is in characters.
      return c.maxLength !== undefined ? `VARCHAR(${c.maxLength})` : 'TEXT';
    case 'boolean':
      return 'BOOLEAN';
    case 'integer':
      return 'BIGINT';
    case 'json':
      return 'JSON';
    case 'timestamp':
      // UTC, to the millisecond, as the driver is told (`timezone: 'Z'`).
      return 'DATETIME(3)';
  }
}

const definition = (c: Column) => `${quote(c.name)} ${mysqlType(c)}${c.required ? ' NOT NULL' : ''}`;

/** The unique key on the app key, whose name tells a conflict on it from one on the id (`PRIMARY`). */
export const uniqueKeyName = (table: string) => derivedName(table, 'key');

function createTable(table: string, columns: readonly Column[], collation: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quote(table)} (
    ${columns.map(definition).join(',\n    ')},
    \`created_at\` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    \`updated_at\` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (\`id\`),
    UNIQUE KEY ${quote(uniqueKeyName(table))} (\`key\`)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${collation}`;
}

async function addColumns(connection: PoolConnection, table: string, columns: readonly Column[]) {
  // MySQL has no ADD COLUMN IF NOT EXISTS: the columns a crashed run added already are skipped.
  const [rows] = await connection.query(
    'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
    [table],
  );
  const have = new Set((rows as { name: string }[]).map((r) => r.name));
  for (const c of columns) {
    if (!have.has(c.name)) await connection.query(`ALTER TABLE ${quote(table)} ADD COLUMN ${definition(c)}`);
    // A NULL stands for the default except where null is a value of its own: there the rows that
    // predate the column get the default written out.
    if (c.nullable && c.default !== null) {
      const sql = `UPDATE ${quote(table)} SET ${quote(c.name)} = ? WHERE ${quote(c.name)} IS NULL`;
      await connection.execute({ sql, values: [encode(c, c.default)] });
    }
  }
}

/** The version recorded for `table`, read through `rowsOf`: 0 when it has no version table yet. */
export async function readVersion(rowsOf: (sql: string) => Promise<unknown>, table: string): Promise<number> {
  try {
    const [row] = (await rowsOf(`SELECT \`version\` FROM ${quote(versionTable(table))}`)) as {
      version: number;
    }[];
    return row ? Number(row.version) : 0;
  } catch (err) {
    if ((err as { code?: string }).code === 'ER_NO_SUCH_TABLE') return 0;
    throw err;
  }
}

/** A lock name of at most 64 characters (MySQL's limit) for migrations of `table`. */
const lockName = (table: string) =>
  `herald-migrate-${createHash('sha256').update(`${table}`).digest('hex').slice(0, 32)}`;

/**
 * Migrates `table` on `connection` while holding a lock named after it, so that processes migrating
 * at once take turns and the second finds the work done. The lock goes with the connection if the
 * process dies.
 */
export async function migrateMysql(
  connection: PoolConnection,
  table: string,
  migrations: readonly Migration[],
  timeoutMs: number,
): Promise<{ from: number; to: number }> {
  const lock = lockName(table);
  const [locked] = await connection.query('SELECT GET_LOCK(?, ?) AS got', [
    lock,
    Math.ceil(timeoutMs / 1000),
  ]);
  if ((locked as { got: number | null }[])[0]?.got !== 1) {
    throw new AppStoreUnavailable(
      `another process has been migrating table ${table} for ${timeoutMs} ms; try again once it is done`,
    );
  }
  try {
    const versions = quote(versionTable(table));
    await connection.query(`CREATE TABLE IF NOT EXISTS ${versions} (
      \`single\` TINYINT NOT NULL PRIMARY KEY CHECK (\`single\` = 1),
      \`version\` INT NOT NULL
    ) ENGINE=InnoDB`);
    await connection.query(`INSERT IGNORE INTO ${versions} (\`single\`, \`version\`) VALUES (1, 0)`);
    const session: SchemaSession = {
      version: () => readVersion(async (sql) => (await connection.query(sql))[0], table),
      apply: async (version, migration) => {
        const columns = columnsOf(migration);
        if ('createTable' in migration) {
          await connection.query(createTable(table, columns, await exactCollation(connection)));
        } else {
          await addColumns(connection, table, columns);
        }
        await connection.query(`UPDATE ${versions} SET \`version\` = ?`, [version]);
      },
    };
    return await runMigrations(session, migrations);
  } finally {
    await connection.query('DO RELEASE_LOCK(?)', [lock]);
  }
}
