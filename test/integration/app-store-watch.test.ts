import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { PostgresChangeFeed } from '../../src/apps/postgres-feed.js';
import { PostgresAppStore } from '../../src/apps/postgres-store.js';
import { appSchema } from '../../src/config/schema.js';
import { AppStoreUnavailable } from '../../src/core/apps/app.js';
import { databaseSkip, dropAppTable, POSTGRES_URL, sql, uniqueTable } from '../helpers/databases.js';
import { within } from '../helpers/raw-client.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * The change feed of the PostgreSQL store (`watch`): every change to the table, by Herald or by hand,
 * names the app; a lost listening connection comes back by itself and then says that anything may
 * have changed (null), after which changes are heard again.
 */

const app = (id: string) => appSchema.parse({ id, key: `key-${id}`, secret: `secret-${id}` });

/** The ids `watch` reported, in order, and a wait for the next. */
class Changes {
  readonly #seen: (string | null)[] = [];
  #waiter: (() => void) | undefined;

  readonly push = (id: string | null) => {
    this.#seen.push(id);
    this.#waiter?.();
  };

  /** The next id reported (or null), within 10 s. */
  async next(what: string): Promise<string | null> {
    const wait = async () => {
      while (this.#seen.length === 0) await new Promise<void>((resolve) => (this.#waiter = resolve));
      return this.#seen.shift()!;
    };
    return within(wait(), 10_000, what);
  }

  get pending(): readonly (string | null)[] {
    return this.#seen;
  }
}

/** The backend pids listening on `table`'s channel: the feed's connection runs its LISTEN, and nothing else. */
async function listeners(table: string): Promise<number[]> {
  const rows = (await sql('postgres', 'SELECT pid FROM pg_stat_activity WHERE query = $1', [
    `LISTEN "${table}"`,
  ])) as { pid: number }[];
  return rows.map((r) => r.pid);
}

/** Resolves once `count` backends listen on `table`'s channel (a backend leaves the list soon after its client). */
async function untilListeners(table: string, count: number): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pids = await listeners(table);
    if (pids.length === count) return pids;
    if (Date.now() > deadline) throw new Error(`${pids.length} listeners on ${table}, not ${count}`);
  }
}

describe('postgres store: watch', { skip: await databaseSkip('postgres') }, () => {
  const table = uniqueTable();
  const stores: PostgresAppStore[] = [];
  const open = (url = POSTGRES_URL) => {
    const store = new PostgresAppStore({ url, table, timeoutMs: 1000 });
    stores.push(store);
    return store;
  };

  before(async () => {
    await open().migrate();
  });

  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await dropAppTable('postgres', table);
  });

  test("changes by the store and by hand name the app; a killed listener comes back and says 'anything'", async () => {
    const store = open();
    const changes = new Changes();
    await store.watch(changes.push);

    await store.create(app('a'));
    assert.equal(await changes.next('the insert'), 'a');
    await sql('postgres', `UPDATE "${table}" SET enabled = false WHERE id = $1`, ['a']);
    assert.equal(await changes.next('the update by hand'), 'a');
    await sql('postgres', `UPDATE "${table}" SET id = 'a2' WHERE id = 'a'`);
    assert.deepEqual([await changes.next('the old id'), await changes.next('the new id')], ['a', 'a2']);
    await store.delete('a2');
    assert.equal(await changes.next('the delete'), 'a2');

    const [pid] = await untilListeners(table, 1);
    assert.ok(pid, 'the feed listens on a connection of its own');
    const [{ terminated }] = (await sql('postgres', 'SELECT pg_terminate_backend($1) AS terminated', [
      pid,
    ])) as [{ terminated: boolean }];
    assert.equal(terminated, true);
    assert.equal(await changes.next('the word after reconnecting'), null);
    const [again] = await untilListeners(table, 1);
    assert.ok(again !== undefined && again !== pid, 'a new connection listens');

    await sql('postgres', `INSERT INTO "${table}" (id, key, secret) VALUES ('b', 'key-b', 's')`);
    assert.equal(await changes.next('an insert by hand after reconnecting'), 'b');
    assert.deepEqual(changes.pending, [], 'nothing else was reported');
    await store.close();
  });

  test('through a database outage: back, it says anything may have changed, and hears changes again', async () => {
    const proxy = await TcpProxy.start(POSTGRES_URL, 5432);
    try {
      const store = open(proxy.url(POSTGRES_URL));
      const changes = new Changes();
      await store.watch(changes.push);
      await proxy.down();
      // Meanwhile a change nobody hears.
      await sql('postgres', `INSERT INTO "${table}" (id, key, secret) VALUES ('during', 'key-during', 's')`);
      await proxy.up();
      assert.equal(await changes.next('the word after the outage'), null);
      await sql('postgres', `UPDATE "${table}" SET enabled = false WHERE id = 'during'`);
      assert.equal(await changes.next('a change after the outage'), 'during');
      await store.close();
    } finally {
      await proxy.close();
    }
  });

  test('watch fails at once when the database is unreachable; close stops the feed', async () => {
    const proxy = await TcpProxy.start(POSTGRES_URL, 5432);
    await proxy.close();
    const unreachable = open(proxy.url(POSTGRES_URL));
    await assert.rejects(
      unreachable.watch(() => {}),
      (err: Error) => {
        assert.ok(err instanceof AppStoreUnavailable);
        assert.match(err.message, /^PostgreSQL at 127\.0\.0\.1:\d+ refused the connection \(ECONNREFUSED\)/);
        return true;
      },
    );

    await untilListeners(table, 0);
    const store = open();
    const changes = new Changes();
    await store.watch(changes.push);
    await untilListeners(table, 1);
    await store.close();
    await untilListeners(table, 0);

    // A change the closed store would hear, if at all, no later than a store still watching.
    const witness = open();
    const heard = new Changes();
    await witness.watch(heard.push);
    await sql('postgres', `INSERT INTO "${table}" (id, key, secret) VALUES ('late', 'key-late', 's')`);
    assert.equal(await heard.next('the witness to hear the insert'), 'late');
    assert.deepEqual(changes.pending, [], 'the closed store heard nothing');
    await witness.close();
  });

  test('a listening connection gone silent is found out by its heartbeat and replaced', async () => {
    const proxy = await TcpProxy.start(POSTGRES_URL, 5432);
    const changes = new Changes();
    const logs = new PassThrough();
    const feed = new PostgresChangeFeed(
      {
        client: {
          connectionString: proxy.url(POSTGRES_URL),
          connectionTimeoutMillis: 500,
          query_timeout: 500,
        },
        channel: table,
        server: 'PostgreSQL',
        phrases: () => undefined,
        logger: pino({ level: 'warn' }, logs),
        heartbeatMs: 100,
      },
      changes.push,
    );
    try {
      await feed.start();
      const lost = within(once(logs, 'data'), 10_000, 'the feed to give up the silent connection');
      proxy.silence();
      // The heartbeat's LISTEN gets no answer: the connection is given up, while the proxy still holds it.
      assert.match(String((await lost)[0]), /app change feed lost/);
      proxy.speak();
      assert.equal(await changes.next('the word after the silence'), null);
      await sql('postgres', `INSERT INTO "${table}" (id, key, secret) VALUES ('quiet', 'key-quiet', 's')`);
      assert.equal(await changes.next('a change after the silence'), 'quiet');
    } finally {
      await feed.close();
      await proxy.close();
    }
  });
});
