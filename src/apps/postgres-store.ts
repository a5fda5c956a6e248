import pg from 'pg';
import {
  type App,
  type AppCatalog,
  type AppChanges,
  AppConflict,
  type AppId,
  AppStoreUnavailable,
} from '../core/apps/app.js';
import { type Column, columnValues, InvalidAppRow, rowToApp, unstorableText } from './columns.js';
import { boundedLookup, type Phrases, serverName, unavailable } from './database-errors.js';
import { type DatabaseAppStoreOptions, type ResolvedOptions, resolveOptions } from './database-options.js';
import { AppInputError } from './manage.js';
import { notMigrated, schemaProblem } from './migrations.js';
import { PostgresChangeFeed } from './postgres-feed.js';
import { channelOf, migratePostgres, primaryKeyName, quote, readVersion } from './postgres-schema.js';

/**
 * Apps in a PostgreSQL table: a `pg` pool for lookups and writes (each write one statement), and a
 * change feed through the table's trigger (`watch`). Every failure of the database comes out as
 * `AppStoreUnavailable` within the timeout, and the pool replaces lost connections by itself, so
 * lookups succeed again as soon as the database is back.
 */
export class PostgresAppStore implements AppCatalog {
  readonly description: string;
  readonly #options: ResolvedOptions;
  readonly #server: string;
  readonly #client: pg.ClientConfig;
  readonly #pool: pg.Pool;
  readonly #table: string;
  readonly #select: string;
  readonly #phrases: Phrases;
  #feed: PostgresChangeFeed | undefined;
  #closed: Promise<void> | undefined;

  constructor(options: DatabaseAppStoreOptions) {
    const resolved = resolveOptions(options);
    this.#options = resolved;
    this.description = `postgres table ${resolved.table}`;
    this.#server = serverName('PostgreSQL', resolved.url, 5432);
    this.#table = quote(resolved.table);
    this.#select = resolved.columns.map((c) => quote(c.name)).join(', ');
    this.#phrases = postgresPhrases(resolved.timeoutMs);
    this.#client = {
      connectionString: resolved.url,
      application_name: 'herald',
      connectionTimeoutMillis: resolved.timeoutMs,
      // The server cancels a statement past the timeout; the client stops waiting for an answer
      // then too, which is what bounds a statement sent to a server that went silent.
      statement_timeout: resolved.timeoutMs,
      query_timeout: resolved.timeoutMs,
      keepAlive: true,
    };
    this.#pool = new pg.Pool({ ...this.#client, max: resolved.poolSize, idleTimeoutMillis: 30_000 });
    // An idle connection that fails is dropped by the pool; the next lookup opens a new one.
    this.#pool.on('error', (err) =>
      resolved.logger.debug({ err: err.message }, `idle connection to ${this.#server} lost`),
    );
  }

  async findByKey(key: string): Promise<App | undefined> {
    const rows = await this.#query(`SELECT ${this.#select} FROM ${this.#table} WHERE "key" = $1`, [key]);
    return this.#app(rows[0]);
  }

  async findById(id: AppId): Promise<App | undefined> {
    const rows = await this.#query(`SELECT ${this.#select} FROM ${this.#table} WHERE "id" = $1`, [id]);
    return this.#app(rows[0]);
  }

  async findMany(field: 'key' | 'id', values: readonly string[]): Promise<readonly App[]> {
    if (values.length === 0) return [];
    const rows = await this.#query(
      `SELECT ${this.#select} FROM ${this.#table} WHERE ${quote(field)} = ANY($1)`,
      [values],
    );
    return rows.map((row) => this.#app(row)!);
  }

  async all(limit?: number): Promise<readonly App[]> {
    // Byte order, as the config store sorts: not the database's locale.
    const order = `SELECT ${this.#select} FROM ${this.#table} ORDER BY "id" COLLATE "C"`;
    const rows = await (limit === undefined ? this.#query(order) : this.#query(`${order} LIMIT $1`, [limit]));
    return rows.map((row) => this.#app(row)!);
  }

  async create(app: App): Promise<App> {
    const set = this.#writable(app);
    const placeholders = set.map((_, i) => `$${i + 1}`).join(', ');
    const names = set.map(({ column }) => quote(column.name)).join(', ');
    const rows = await this.#query(
      `INSERT INTO ${this.#table} (${names}) VALUES (${placeholders}) RETURNING ${this.#select}`,
      set.map(({ value }) => value),
      app,
    );
    return this.#app(rows[0])!;
  }

  async update(id: AppId, changes: AppChanges): Promise<App | undefined> {
    const set = this.#writable(changes).filter(({ column }) => column.field !== 'id');
    const assignments = set.map(({ column }, i) => `${quote(column.name)} = $${i + 2}`);
    assignments.push('"updated_at" = now()');
    const rows = await this.#query(
      `UPDATE ${this.#table} SET ${assignments.join(', ')} WHERE "id" = $1 RETURNING ${this.#select}`,
      [id, ...set.map(({ value }) => value)],
      { id, ...changes },
    );
    return this.#app(rows[0]);
  }

  async delete(id: AppId): Promise<boolean> {
    const result = await this.#result(`DELETE FROM ${this.#table} WHERE "id" = $1`, [id]);
    return (result.rowCount ?? 0) > 0;
  }

  async migrate(): Promise<{ from: number; to: number }> {
    const timeout = this.#options.migrateTimeoutMs;
    const client = new pg.Client({ ...this.#client, statement_timeout: timeout, query_timeout: timeout });
    client.on('error', (err) =>
      this.#options.logger.debug({ err: err.message }, 'migration connection lost'),
    );
    try {
      await client.connect();
      return await migratePostgres(client, this.#options.table, this.#options.migrations);
    } catch (err) {
      throw unavailable(this.#server, err, this.#phrases);
    } finally {
      await client.end().catch((err: Error) => {
        this.#options.logger.debug({ err: err.message }, 'closing the migration connection failed');
      });
    }
  }

  async watch(onChange: (id: AppId | null) => void): Promise<void> {
    if (this.#feed) throw new Error(`${this.description} is watched already`);
    this.#feed = new PostgresChangeFeed(
      {
        client: this.#client,
        channel: channelOf(this.#options.table),
        server: this.#server,
        phrases: this.#phrases,
        logger: this.#options.logger,
      },
      onChange,
    );
    await this.#feed.start();
  }

  async check(): Promise<void> {
    const expected = this.#options.migrations.length;
    let version: number;
    try {
      version = await this.#bounded(readVersion(this.#pool, this.#options.table));
    } catch (err) {
      throw unavailable(this.#server, err, this.#phrases);
    }
    if (version < expected) throw notMigrated(this.#options.table, version, expected);
    // The columns this build reads are there (a table changed by hand may lack some).
    await this.#query(`SELECT ${this.#select} FROM ${this.#table} WHERE false`);
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#feed?.close();
      await this.#pool.end();
    })();
    return this.#closed;
  }

  /** The columns of this table that `fields` sets; throws `AppInputError` for text the database would not keep as given. */
  #writable(fields: AppChanges | App): { column: Column; value: unknown }[] {
    const problems = unstorableText(fields, { nul: false });
    if (problems.length > 0) throw new AppInputError(problems);
    return columnValues(fields).filter(({ column }) => this.#options.columns.includes(column));
  }

  #app(row: Record<string, unknown> | undefined): App | undefined {
    if (!row) return undefined;
    try {
      return rowToApp(row);
    } catch (err) {
      if (err instanceof InvalidAppRow) throw new AppStoreUnavailable(`${this.description}: ${err.message}`);
      throw err;
    }
  }

  async #query(text: string, values?: unknown[], writing?: Partial<App>): Promise<Record<string, unknown>[]> {
    return (await this.#result(text, values, writing)).rows;
  }

  /** Runs one statement from the pool; any failure comes out as `AppStoreUnavailable`, or `AppConflict` for `writing`'s id or key. */
  async #result(text: string, values?: unknown[], writing?: Partial<App>): Promise<pg.QueryResult> {
    try {
      return await this.#bounded(this.#pool.query(text, values));
    } catch (err) {
      const { code, constraint } = err as { code?: string; constraint?: string };
      if (code === '23505' && writing) {
        const field = constraint === primaryKeyName(this.#options.table) ? 'id' : 'key';
        throw new AppConflict(field, String(writing[field]));
      }
      // undefined_table, undefined_column: a table missing or older than this build.
      if (code === '42P01' || code === '42703') throw await this.#schemaProblem(err);
      throw unavailable(this.#server, err, this.#phrases);
    }
  }

  /** Connecting and one statement each have the timeout; this bounds the two, and whatever else may hang. */
  #bounded<T>(work: Promise<T>): Promise<T> {
    return boundedLookup(work, this.#server, this.#options.timeoutMs);
  }

  async #schemaProblem(err: unknown): Promise<AppStoreUnavailable> {
    const { table, migrations } = this.#options;
    const version = await this.#bounded(readVersion(this.#pool, table)).catch(() => 0);
    return schemaProblem(table, version, migrations.length, err);
  }
}

/** What PostgreSQL's error codes (SQLSTATE) and pg's own failures mean to an operator. */
function postgresPhrases(timeoutMs: number): Phrases {
  return ({ code, message }) => {
    switch (code) {
      case '28P01':
      case '28000':
        return 'refused the login';
      case '3D000':
        return 'has no such database';
      case '57014':
        return `did not answer within ${timeoutMs} ms`;
      case '57P01':
      case '57P02':
      case '57P03':
        return 'is shutting down or starting up';
      case '53300':
        return 'has no connection to spare';
    }
    if (/timeout exceeded when trying to connect|connection timeout/i.test(message)) {
      return `did not accept a connection within ${timeoutMs} ms`;
    }
    if (/Query read timeout/.test(message)) return `did not answer within ${timeoutMs} ms`;
    if (/Connection terminated/.test(message)) return 'closed the connection';
    return undefined;
  };
}
