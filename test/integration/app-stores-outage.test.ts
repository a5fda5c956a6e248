import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MysqlAppStore } from '../../src/apps/mysql-store.js';
import { PostgresAppStore } from '../../src/apps/postgres-store.js';
import { appSchema } from '../../src/config/schema.js';
import { type AppCatalog, AppStoreUnavailable } from '../../src/core/apps/app.js';
import {
  type DatabaseDriver,
  databaseSkip,
  databaseUrl,
  dropAppTable,
  uniqueTable,
} from '../helpers/databases.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * The database going away under a store, through a proxy in front of the shared server: cut off
 * (connections reset, new ones refused) or gone silent (nothing answers). Lookups fail with
 * `AppStoreUnavailable` within a bound, never hang; once the database is back the same store serves
 * again by itself.
 */

const TIMEOUT_MS = 1000;
/** What the stores promise: about twice the timeout, whatever the database does; and some slack. */
const BOUND_MS = 2 * TIMEOUT_MS + 1000 + 1500;
const APP = appSchema.parse({ id: 'outage', key: 'outage-key', secret: 'outage-secret' });
const DEFAULT_PORTS = { postgres: 5432, mysql: 3306 };

/** Lookups at once, more than the pool holds, as a busy node sends them. */
const LOOKUPS = 6;

async function failsInTime(store: AppCatalog, what: string): Promise<void> {
  const started = Date.now();
  const outcomes = await Promise.allSettled(
    Array.from({ length: LOOKUPS }, (_, i) => (i % 2 ? store.findByKey(APP.key) : store.findById(APP.id))),
  );
  const took = Date.now() - started;
  for (const outcome of outcomes) {
    assert.equal(outcome.status, 'rejected', `${what}: a lookup succeeded`);
    const { reason } = outcome as PromiseRejectedResult;
    assert.ok(reason instanceof AppStoreUnavailable, `${what}: ${reason}`);
  }
  assert.ok(took < BOUND_MS, `${what}: lookups failed after ${took} ms`);
}

/** Resolves once lookups succeed again, without the store being touched otherwise; how many failed first. */
async function servesAgain(store: AppCatalog, what: string): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (let failures = 0; ; failures++) {
    try {
      assert.deepEqual(await store.findByKey(APP.key), APP);
      const all = await Promise.all(Array.from({ length: LOOKUPS }, () => store.findById(APP.id)));
      assert.ok(all.every((a) => a?.key === APP.key));
      return failures;
    } catch (err) {
      if (!(err instanceof AppStoreUnavailable) || Date.now() > deadline) throw err;
      // A connection the pool has not yet found dead fails once, and is replaced.
      if (failures > 3) throw new Error(`${what}: still failing: ${err.message}`);
    }
  }
}

for (const driver of ['postgres', 'mysql'] as DatabaseDriver[]) {
  describe(`${driver} store: the database going away`, { skip: await databaseSkip(driver) }, () => {
    const table = uniqueTable();
    let proxy: TcpProxy;
    let store: AppCatalog;

    before(async () => {
      proxy = await TcpProxy.start(databaseUrl(driver), DEFAULT_PORTS[driver]);
      const options = { url: proxy.url(databaseUrl(driver)), table, poolSize: 2, timeoutMs: TIMEOUT_MS };
      store = driver === 'postgres' ? new PostgresAppStore(options) : new MysqlAppStore(options);
      await store.migrate();
      await store.create(APP);
    });

    after(async () => {
      await proxy?.up();
      await store?.close();
      await proxy?.close();
      await dropAppTable(driver, table);
    });

    test('cut off: lookups fail in time, check() says the server refuses; back: served again', async () => {
      assert.deepEqual(await store.findByKey(APP.key), APP);
      await proxy.down();
      await failsInTime(store, 'cut off');
      await assert.rejects(store.check(), (err: Error) => {
        assert.ok(err instanceof AppStoreUnavailable);
        const server = driver === 'postgres' ? 'PostgreSQL' : 'MySQL';
        assert.match(
          err.message,
          new RegExp(
            `^${server} at 127\\.0\\.0\\.1:${proxy.port} refused the connection \\(ECONNREFUSED\\): `,
          ),
        );
        assert.ok(err.cause instanceof Error, 'the driver error is kept');
        return true;
      });
      await proxy.up();
      assert.equal(await servesAgain(store, 'after the cut'), 0, 'the first lookup after the cut succeeds');
    });

    test('silent: lookups fail in time; answering again: served again', async () => {
      assert.deepEqual(await store.findByKey(APP.key), APP);
      proxy.silence();
      await failsInTime(store, 'silent');
      await assert.rejects(store.check(), AppStoreUnavailable);
      proxy.speak();
      await servesAgain(store, 'after the silence');
    });

    test('a write while cut off fails and is not made later behind the caller’s back', async () => {
      await proxy.down();
      await assert.rejects(store.update(APP.id, { enabled: false }), AppStoreUnavailable);
      await proxy.up();
      await servesAgain(store, 'after the failed write');
      assert.equal((await store.findById(APP.id))?.enabled, true);
    });
  });
}
