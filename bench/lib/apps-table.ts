/**
 * The PostgreSQL side of the apps-postgres scenario: a table of apps unique to the run, created by the
 * store's own migration and filled in one statement; the scans the table saw, which count the lookups
 * Herald sent it; and the table dropped at the end with whatever the migration made beside it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { openAppCatalog } from '../../src/apps/open.js';
import { parseConfig } from '../../src/config/load.js';
import { sleep } from './measure.js';
import type { App } from './publisher.js';

/** `name` as a PostgreSQL identifier. */
const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Scans of the table since the server started (`pg_stat_user_tables`): a lookup by key or id is one index scan. */
export interface Scans {
  seq: number;
  idx: number;
}

export class AppsTable {
  /** The name Herald's connections give themselves (`application_name`), to tell when they are gone. */
  readonly applicationName: string;

  private constructor(
    readonly client: pg.Client,
    readonly url: string,
    readonly table: string,
  ) {
    this.applicationName = table;
  }

  /**
   * A table of a name unique to this run, migrated by Herald's PostgreSQL store, holding `apps`: one
   * multi-row INSERT (each app's other columns NULL, which the store reads as the defaults, as the
   * config file's apps get them), then ANALYZE, so that lookups use the indexes from the first.
   */
  static async create(url: string, apps: readonly App[]): Promise<AppsTable> {
    const table = `herald_apps_bench_${randomBytes(4).toString('hex')}`;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const t = new AppsTable(client, url, table);
    try {
      const config = parseConfig({ appStore: { driver: 'postgres', url, table } });
      const catalog = openAppCatalog(config, pino({ level: 'silent' }));
      try {
        await catalog.migrate();
      } finally {
        await catalog.close();
      }
      const values: string[] = [];
      const rows = apps.map((app, i) => {
        values.push(app.id, app.key, app.secret);
        return `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})`;
      });
      await client.query(
        `INSERT INTO ${quote(table)} ("id", "key", "secret") VALUES ${rows.join(', ')}`,
        values,
      );
      await client.query(`ANALYZE ${quote(table)}`);
      return t;
    } catch (err) {
      await t.drop();
      throw err;
    }
  }

  /** The URL Herald is given: this database, its connections named after the table. */
  get heraldUrl(): string {
    const u = new URL(this.url);
    u.searchParams.set('application_name', this.applicationName);
    return u.toString();
  }

  async scans(): Promise<Scans> {
    const { rows } = await this.client.query<{ seq: string; idx: string }>(
      'SELECT seq_scan AS seq, coalesce(idx_scan, 0) AS idx FROM pg_stat_user_tables WHERE relid = $1::regclass',
      [quote(this.table)],
    );
    return { seq: Number(rows[0]?.seq ?? 0), idx: Number(rows[0]?.idx ?? 0) };
  }

  /** Herald's connections to the database now. */
  async heraldConnections(): Promise<number> {
    const { rows } = await this.client.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1',
      [this.applicationName],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Waits until none of Herald's connections is left (at most `timeoutMs`); whether none is. A backend
   * reports its counts before it leaves `pg_stat_activity`, so once Herald's are gone the scans say
   * everything it did (while it runs, a busy backend reports at most once a second).
   */
  async heraldGone(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while ((await this.heraldConnections()) > 0) {
      if (performance.now() >= deadline) return false;
      await sleep(100);
    }
    return true;
  }

  /** Drops the table and what its migration made beside it (tables and functions named `<table>_…`), then disconnects. */
  async drop(): Promise<void> {
    try {
      const tables = await this.client.query<{ name: string }>(
        `SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()
           AND (tablename = $1 OR starts_with(tablename, $1 || '_'))`,
        [this.table],
      );
      for (const { name } of tables.rows)
        await this.client.query(`DROP TABLE IF EXISTS ${quote(name)} CASCADE`);
      const functions = await this.client.query<{ signature: string }>(
        `SELECT p.oid::regprocedure::text AS signature FROM pg_proc p
           WHERE p.pronamespace = current_schema()::regnamespace AND starts_with(p.proname, $1 || '_')`,
        [this.table],
      );
      for (const { signature } of functions.rows)
        await this.client.query(`DROP FUNCTION IF EXISTS ${signature}`);
    } finally {
      await this.client.end();
    }
  }
}
