import { createHash } from 'node:crypto';
import type pg from 'pg';
import { type Column, type ColumnKind, encode } from './columns.js';
import {
  columnsOf,
  derivedName,
  type Migration,
  runMigrations,
  type SchemaSession,
  versionTable,
} from './migrations.js';

/** The SQL of an apps table on PostgreSQL, and its migrations under an advisory lock, in one transaction. */

/** `name` as a PostgreSQL identifier. */
export const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** `text` as a PostgreSQL string literal (standard_conforming_strings, on since 9.1). */
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

const TYPES: Record<ColumnKind, string> = {
  text: 'TEXT',
  boolean: 'BOOLEAN',
  integer: 'BIGINT',
  json: 'JSONB',
  timestamp: 'TIMESTAMPTZ',
};

/** The column's PostgreSQL type. */
export const postgresType = (c: Column) => TYPES[c.kind];

const definition = (c: Column) => `${quote(c.name)} ${postgresType(c)}${c.required ? ' NOT NULL' : ''}`;

/** The unique constraints of the table, whose names tell a conflict on the id from one on the key. */
export const primaryKeyName = (table: string) => derivedName(table, 'pkey');
export const uniqueKeyName = (table: string) => derivedName(table, 'key_key');

/** The channel `LISTEN` hears changes of `table` on: the table's name. */
export const channelOf = (table: string) => table;

function createTable(table: string, columns: readonly Column[]): string[] {
  const t = quote(table);
  const notify = quote(derivedName(table, 'notify'));
  const channel = literal(channelOf(table));
  return [
    `CREATE TABLE IF NOT EXISTS ${t} (
      ${columns.map(definition).join(',\n      ')},
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "updated_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      CONSTRAINT ${quote(primaryKeyName(table))} PRIMARY KEY ("id"),
      CONSTRAINT ${quote(uniqueKeyName(table))} UNIQUE ("key")
    )`,
    // Every change, by Herald or by hand, tells the nodes listening which app to look up again: the
    // id before and after (an UPDATE may change it, by hand).
    `CREATE OR REPLACE FUNCTION ${notify}() RETURNS trigger LANGUAGE plpgsql AS $herald$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify(${channel}, OLD."id");
      END IF;
      IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW."id" IS DISTINCT FROM OLD."id") THEN
        PERFORM pg_notify(${channel}, NEW."id");
      END IF;
      RETURN NULL;
    END
    $herald$`,
    `DROP TRIGGER IF EXISTS ${notify} ON ${t}`,
    `CREATE TRIGGER ${notify} AFTER INSERT OR UPDATE OR DELETE ON ${t}
      FOR EACH ROW EXECUTE FUNCTION ${notify}()`,
  ];
}

/** Statements with their parameters. */
type Statement = { text: string; values?: unknown[] };

function addColumns(table: string, columns: readonly Column[]): Statement[] {
  return columns.flatMap((c): Statement[] => {
    const add = { text: `ALTER TABLE ${quote(table)} ADD COLUMN IF NOT EXISTS ${definition(c)}` };
    // A NULL stands for the default except where null is a value of its own: there the rows that
    // predate the column get the default written out.
    if (!c.nullable || c.default === null) return [add];
    const fill = `UPDATE ${quote(table)} SET ${quote(c.name)} = $1 WHERE ${quote(c.name)} IS NULL`;
    return [add, { text: fill, values: [encode(c, c.default)] }];
  });
}

function statements(table: string, migration: Migration): Statement[] {
  const columns = columnsOf(migration);
  return 'createTable' in migration
    ? createTable(table, columns).map((text) => ({ text }))
    : addColumns(table, columns);
}

/** A 64-bit advisory lock key of its own for migrations of `table`. */
const lockKey = (table: string) =>
  BigInt.asIntN(
    64,
    BigInt(`0x${createHash('sha256').update(`herald migrate ${table}`).digest('hex').slice(0, 16)}`),
  );

/** The version recorded for `table`: 0 when it has no version table yet. */
export async function readVersion(client: Pick<pg.ClientBase, 'query'>, table: string): Promise<number> {
  try {
    const { rows } = await client.query(`SELECT "version" FROM ${quote(versionTable(table))}`);
    return rows.length === 0 ? 0 : Number(rows[0].version);
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return 0; // undefined_table
    throw err;
  }
}

/**
 * Migrates `table` on `client`, in one transaction that holds an advisory lock for the table, so that
 * processes migrating at once take turns, and the second finds the work done. DDL is transactional
 * on PostgreSQL: a failed version leaves nothing behind.
 */
export async function migratePostgres(
  client: pg.ClientBase,
  table: string,
  migrations: readonly Migration[],
): Promise<{ from: number; to: number }> {
  const versions = quote(versionTable(table));
  const run = (text: string, values?: unknown[]) => client.query(text, values);
  await run('BEGIN');
  try {
    await run('SELECT pg_advisory_xact_lock($1)', [lockKey(table).toString()]);
    await run(`CREATE TABLE IF NOT EXISTS ${versions} (
      "single" BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK ("single"),
      "version" INTEGER NOT NULL
    )`);
    await run(`INSERT INTO ${versions} ("version") VALUES (0) ON CONFLICT DO NOTHING`);
    const session: SchemaSession = {
      version: () => readVersion(client, table),
      apply: async (version, migration) => {
        for (const s of statements(table, migration)) await run(s.text, s.values);
        await run(`UPDATE ${versions} SET "version" = $1`, [version]);
      },
    };
    const result = await runMigrations(session, migrations);
    await run('COMMIT');
    return result;
  } catch (err) {
    await run('ROLLBACK').catch(() => {
      // The connection is likely gone; the caller discards it, and the transaction with it.
    });
    throw err;
  }
}
