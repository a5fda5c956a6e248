import mysql, { type Pool, type PoolConnection } from 'mysql2/promise';
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
import { migrateMysql, quote, readVersion } from './mysql-schema.js';

type Row = Record<string, unknown>;

/**
 * Apps in a MySQL or MariaDB table, through a `mysql2` pool. Statements are prepared (`execute`), so
 * values never pass through string escaping, whatever the server's SQL mode. Every failure of the
 * database comes out as `AppStoreUnavailable` within the timeout; a connection that failed or timed
 * out is dropped, never handed to the next lookup, so the pool serves again as soon as the database
 * is back. MySQL has no change feed: changes reach other nodes through the cache's TTL.
 */
export class MysqlAppStore implements AppCatalog {
  readonly description: string;
  readonly #options: ResolvedOptions;
  readonly #server: string;
  readonly #pool: Pool;
  readonly #table: string;
  readonly #select: string;
  readonly #phrases: Phrases;
  #closed: Promise<void> | undefined;

  constructor(options: DatabaseAppStoreOptions) {
    const resolved = resolveOptions(options);
    this.#options = resolved;
    this.description = `mysql table ${resolved.table}`;
    this.#server = serverName('MySQL', resolved.url, 3306);
    this.#table = quote(resolved.table);
    this.#select = resolved.columns.map((c) => quote(c.name)).join(', ');
    this.#phrases = mysqlPhrases(resolved.timeoutMs);
    this.#pool = mysql.createPool({
      uri: resolved.url,
      connectionLimit: resolved.poolSize,
      maxIdle: resolved.poolSize,
      idleTimeout: 30_000,
      connectTimeout: resolved.timeoutMs,
      enableKeepAlive: true,
      charset: 'utf8mb4',
      // DATETIME columns hold UTC: dates are written and read as such.
      timezone: 'Z',
    });
  }

  async findByKey(key: string): Promise<App | undefined> {
    const rows = await this.#rows(`SELECT ${this.#select} FROM ${this.#table} WHERE \`key\` = ?`, [key]);
    return this.#app(rows[0]);
  }

  async findById(id: AppId): Promise<App | undefined> {
    const rows = await this.#rows(`SELECT ${this.#select} FROM ${this.#table} WHERE \`id\` = ?`, [id]);
    return this.#app(rows[0]);
  }

  async findMany(field: 'key' | 'id', values: readonly string[]): Promise<readonly App[]> {
    if (values.length === 0) return [];
    const placeholders = values.map(() => '?').join(', ');
    const rows = await this.#rows(
      `SELECT ${this.#select} FROM ${this.#table} WHERE ${quote(field)} IN (${placeholders})`,
      [...values],
    );
    return rows.map((row) => this.#app(row)!);
  }

  async all(limit?: number): Promise<readonly App[]> {
    // The id's collation is binary: byte order, as the config store sorts. A prepared statement's
    // LIMIT takes no placeholder on every server: the number, checked, is written in.
    const bound = limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(limit))}`;
    const rows = await this.#rows(`SELECT ${this.#select} FROM ${this.#table} ORDER BY \`id\`${bound}`);
    return rows.map((row) => this.#app(row)!);
  }

  async create(app: App): Promise<App> {
    const set = this.#writable(app);
    const names = set.map(({ column }) => quote(column.name));
    await this.#run(
      `INSERT INTO ${this.#table} (${names.join(', ')}, \`created_at\`, \`updated_at\`)
       VALUES (${set.map(() => '?').join(', ')}, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
      set.map(({ value }) => value),
      app,
    );
    return (await this.findById(app.id))!;
  }

  async update(id: AppId, changes: AppChanges): Promise<App | undefined> {
    const set = this.#writable(changes).filter(({ column }) => column.field !== 'id');
    const assignments = set.map(({ column }) => `${quote(column.name)} = ?`);
    assignments.push('`updated_at` = UTC_TIMESTAMP(3)');
    // Rows matched, not only rows changed: the driver connects with FOUND_ROWS.
    const { affectedRows } = (await this.#run(
      `UPDATE ${this.#table} SET ${assignments.join(', ')} WHERE \`id\` = ?`,
      [...set.map(({ value }) => value), id],
      { id, ...changes },
    )) as { affectedRows: number };
    return affectedRows === 0 ? undefined : this.findById(id);
  }

  async delete(id: AppId): Promise<boolean> {
    const result = (await this.#run(`DELETE FROM ${this.#table} WHERE \`id\` = ?`, [id])) as {
      affectedRows: number;
    };
    return result.affectedRows > 0;
  }

  async migrate(): Promise<{ from: number; to: number }> {
    const { table, migrations, migrateTimeoutMs } = this.#options;
    let connection: PoolConnection | undefined;
    try {
      connection = await this.#bounded(this.#pool.getConnection());
      const result = await migrateMysql(connection, table, migrations, migrateTimeoutMs);
      connection.release();
      return result;
    } catch (err) {
      connection?.destroy();
      throw unavailable(this.#server, err, this.#phrases);
    }
  }

  async check(): Promise<void> {
    const expected = this.#options.migrations.length;
    let version: number;
    try {
      version = await readVersion((sql) => this.#execute(sql, []), this.#options.table);
    } catch (err) {
      throw unavailable(this.#server, err, this.#phrases);
    }
    if (version < expected) throw notMigrated(this.#options.table, version, expected);
    // The columns this build reads are there (a table changed by hand may lack some).
    await this.#rows(`SELECT ${this.#select} FROM ${this.#table} WHERE FALSE`);
  }

  close(): Promise<void> {
    this.#closed ??= this.#pool.end();
    return this.#closed;
  }

  /** The columns of this table that `fields` sets; throws `AppInputError` for text the database would not keep as given. */
  #writable(fields: AppChanges | App): { column: Column; value: unknown }[] {
    const problems = unstorableText(fields, { nul: true });
    if (problems.length > 0) throw new AppInputError(problems);
    return columnValues(fields).filter(({ column }) => this.#options.columns.includes(column));
  }

  #app(row: Row | undefined): App | undefined {
    if (!row) return undefined;
    try {
      return rowToApp(row);
    } catch (err) {
      if (err instanceof InvalidAppRow) throw new AppStoreUnavailable(`${this.description}: ${err.message}`);
      throw err;
    }
  }

  async #rows(sql: string, values: unknown[] = []): Promise<Row[]> {
    return (await this.#run(sql, values)) as Row[];
  }

  /** Runs one statement; any failure comes out as `AppStoreUnavailable`, or `AppConflict` for `writing`'s id or key. */
  async #run(sql: string, values: unknown[], writing?: Partial<App>): Promise<unknown> {
    try {
      return await this.#execute(sql, values);
    } catch (err) {
      const { code, message } = err as { code?: string; message: string };
      if (code === 'ER_DUP_ENTRY' && writing) {
        // "Duplicate entry '…' for key 'PRIMARY'" (MySQL 8: 'table.PRIMARY'); the key's name comes last.
        const field = /PRIMARY'$/.test(message) ? 'id' : 'key';
        throw new AppConflict(field, String(writing[field]));
      }
      if (code === 'ER_NO_SUCH_TABLE' || code === 'ER_BAD_FIELD_ERROR') throw await this.#schemaProblem(err);
      throw unavailable(this.#server, err, this.#phrases);
    }
  }

  /**
   * Runs one prepared statement on a connection of the pool, within the deadline; the driver's
   * failures come out as they are.
   */
  async #execute(sql: string, values: unknown[]): Promise<unknown> {
    let abandoned = false;
    const work = async () => {
      const connection = await this.#pool.getConnection();
      if (abandoned) {
        // The caller was told it failed: a write must not happen behind its back now.
        connection.release();
        throw new AppStoreUnavailable('abandoned');
      }
      try {
        const [result] = await connection.execute({ sql, values, timeout: this.#options.timeoutMs });
        connection.release();
        return result;
      } catch (err) {
        // The server refused the statement: the connection is fine. Anything else (a timeout, a lost
        // connection) leaves it in an unknown state, and it is dropped.
        const { sqlState, fatal } = err as { sqlState?: string; fatal?: boolean };
        if (sqlState && !fatal) connection.release();
        else connection.destroy();
        throw err;
      }
    };
    return this.#bounded(work(), () => {
      abandoned = true;
    });
  }

  /**
   * Waiting for a connection has no deadline in mysql2, and a lookup may queue behind others that
   * wait for a silent server: this bounds the whole lookup.
   */
  #bounded<T>(work: Promise<T>, onTimeout?: () => void): Promise<T> {
    return boundedLookup(work, this.#server, this.#options.timeoutMs, onTimeout);
  }

  async #schemaProblem(err: unknown): Promise<AppStoreUnavailable> {
    const { table, migrations } = this.#options;
    const version = await readVersion((sql) => this.#execute(sql, []), table).catch(() => 0);
    return schemaProblem(table, version, migrations.length, err);
  }
}

/** What MySQL's and mysql2's error codes mean to an operator. */
function mysqlPhrases(timeoutMs: number): Phrases {
  return ({ code }) => {
    switch (code) {
      case 'ER_ACCESS_DENIED_ERROR':
      case 'ER_DBACCESS_DENIED_ERROR':
        return 'refused the login';
      case 'ER_BAD_DB_ERROR':
        return 'has no such database';
      case 'ETIMEDOUT':
        return `did not accept a connection within ${timeoutMs} ms`;
      case 'PROTOCOL_SEQUENCE_TIMEOUT':
        return `did not answer within ${timeoutMs} ms`;
      case 'PROTOCOL_CONNECTION_LOST':
        return 'closed the connection';
      case 'ER_CON_COUNT_ERROR':
        return 'has no connection to spare';
      case 'ER_SERVER_SHUTDOWN':
        return 'is shutting down';
      default:
        return undefined;
    }
  };
}
