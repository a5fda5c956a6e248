import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { derivedName, versionTable } from '../../src/apps/migrations.js';
import { finished } from './cli.js';

/** The shared databases tests use; override with HERALD_TEST_POSTGRES_URL / HERALD_TEST_MYSQL_URL. */
export const POSTGRES_URL = process.env.HERALD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_URL = process.env.HERALD_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

export type DatabaseDriver = 'postgres' | 'mysql';

/** The URL of the shared database of `driver`. */
export const databaseUrl = (driver: DatabaseDriver) => (driver === 'postgres' ? POSTGRES_URL : MYSQL_URL);

/** The environment that points `herald` at an apps table. */
export const storeEnv = (driver: DatabaseDriver, table: string, url = databaseUrl(driver)) => ({
  HERALD_APP_STORE_DRIVER: driver,
  HERALD_APP_STORE_URL: url,
  HERALD_APP_STORE_TABLE: table,
});

/** Creates the table with `herald apps migrate`, as an operator does before the first start. */
export async function migrate(env: Record<string, string>): Promise<void> {
  const run = await finished(['apps', 'migrate'], env);
  assert.equal(run.code, 0, run.stderr);
}

/**
 * A table name no other test file shares (`herald_apps_t_<random>`), since test files run in
 * parallel against the same database; the test drops it at the end.
 */
export const uniqueTable = () => `herald_apps_t_${randomBytes(5).toString('hex')}`;

async function postgresProblem(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => {}); // the rejected connect or query below carries the reason
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

async function mysqlProblem(url: string): Promise<string | null> {
  try {
    const connection = await mysql.createConnection({ uri: url, connectTimeout: 1000 });
    try {
      await connection.query('SELECT 1');
      return null;
    } finally {
      await connection.end();
    }
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * `false` when the database answers; otherwise the reason to skip the tests that need it. Under
 * `CI=true` an unreachable database is a failure, not a skip.
 */
export async function databaseSkip(driver: DatabaseDriver): Promise<string | false> {
  const url = databaseUrl(driver);
  const problem = driver === 'postgres' ? await postgresProblem(url) : await mysqlProblem(url);
  if (problem === null) return false;
  const reason = `${driver} not reachable at ${url} (${problem})`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI=true requires it`);
  return reason;
}

/** Runs one statement on a connection of its own (a client apart from any store); the rows it returned. */
export async function sql(driver: DatabaseDriver, text: string, values: unknown[] = []): Promise<unknown[]> {
  if (driver === 'postgres') {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      return (await client.query(text, values)).rows;
    } finally {
      await client.end();
    }
  }
  const connection = await mysql.createConnection({ uri: MYSQL_URL });
  try {
    const [rows] = await connection.query(text, values);
    return Array.isArray(rows) ? rows : [];
  } finally {
    await connection.end();
  }
}

/** Drops an apps table and what `migrate` made with it (its version table; on PostgreSQL its notify function). */
export async function dropAppTable(driver: DatabaseDriver, table: string): Promise<void> {
  if (driver === 'postgres') {
    const q = (name: string) => `"${name}"`;
    await sql(driver, `DROP TABLE IF EXISTS ${q(table)}, ${q(versionTable(table))}`);
    await sql(driver, `DROP FUNCTION IF EXISTS ${q(derivedName(table, 'notify'))}()`);
  } else {
    await sql(driver, `DROP TABLE IF EXISTS \`${table}\`, \`${versionTable(table)}\``);
  }
}
