import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { COLUMNS } from '../../src/apps/columns.js';
import { AppInputError } from '../../src/apps/manage.js';
import { MIGRATIONS, type Migration, SCHEMA_VERSION } from '../../src/apps/migrations.js';
import { MysqlAppStore } from '../../src/apps/mysql-store.js';
import { PostgresAppStore } from '../../src/apps/postgres-store.js';
import { appSchema } from '../../src/config/schema.js';
import {
  type App,
  type AppCatalog,
  AppConflict,
  AppStoreReadOnly,
  AppStoreUnavailable,
} from '../../src/core/apps/app.js';
import { StaticAppStore } from '../../src/core/apps/static-store.js';
import {
  type DatabaseDriver,
  databaseSkip,
  databaseUrl,
  dropAppTable,
  sql,
  uniqueTable,
} from '../helpers/databases.js';

/**
 * The `AppCatalog` contract, run against the config store and the PostgreSQL and MySQL tables: the
 * lookups answer alike everywhere (exact keys, ids in order, every field as given); the tables take
 * writes (a conflict names its field, an update changes only what it is given) where the config file
 * refuses them; and a table says it needs migrating until it is, migrations repeat harmlessly,
 * upgrade an older version and take turns when run at once.
 */

const app = (id: string, key = `key-${id}`, fields: Partial<App> = {}): App =>
  appSchema.parse({ id, key, secret: `secret-${id}`, ...fields });

/** An app whose every field differs from its default, so that every column is written and read back. */
const FULL = appSchema.parse({
  id: 'app-full',
  key: 'key-full',
  secret: 'secret "full" \\ \'quoted\'',
  previousSecret: 'old-secret',
  previousSecretExpiresAt: '2030-01-02T03:04:05.678Z',
  enabled: false,
  allowedOrigins: ['https://example.com:8443', '*.example.org', 'example.net'],
  requireOrigin: true,
  clientEvents: true,
  subscriptionCount: true,
  watchlistEvents: true,
  cacheTtlSeconds: 60,
  userAuthentication: true,
  userAuthenticationTimeoutMs: 5_000,
  maxConnections: 2 ** 40, // past 32 bits
  maxSubscriptionsPerConnection: null,
  maxPresenceMembers: 7,
  maxPresenceUserInfoBytes: 2048,
  maxPresenceUserIdLength: 64,
  maxClientEventsPerSecond: 3,
  maxEventPayloadBytes: 65_536,
  maxEventNameLength: 100,
  maxChannelNameLength: 80,
  maxChannelsPerTrigger: 5,
  maxBatchSize: 4,
  maxWatchlistSize: 9,
  maxHttpRequestsPerSecond: 50,
  webhooks: [
    {
      url: 'https://hooks.example.com/herald?x=1',
      events: ['member_added', 'client_event'],
      headers: { 'X-Token': 'tøken "with" \\ quotes', 'X-Empty': '' },
      filter: { channelPrefix: 'private-' },
    },
    { url: 'http://127.0.0.1:9/plain' },
  ],
  batchWebhooks: true,
  history: {
    streams: [{ channels: ['orders-*', 'private-chat-*'], maxEvents: 10, ttlSeconds: 60 }],
    resumeTtlSeconds: 30,
  },
});

interface Subject {
  name: string;
  skip: string | false;
  /** A store holding exactly `apps`. */
  holding(apps: App[]): Promise<AppCatalog>;
  /** The tables' own. */
  database?: {
    driver: DatabaseDriver;
    /** A table of its own, not migrated yet. */
    table(): string;
    /** A store of `table` with `migrations` (all by default), closed after the suite. */
    open(table: string, migrations?: readonly Migration[]): AppCatalog;
  };
}

function configSubject(): Subject {
  return { name: 'config file', skip: false, holding: async (apps) => new StaticAppStore(apps) };
}

async function databaseSubject(driver: DatabaseDriver): Promise<Subject> {
  const skip = await databaseSkip(driver);
  const url = databaseUrl(driver);
  const tables: string[] = [];
  const stores: AppCatalog[] = [];
  const open = (table: string, migrations?: readonly Migration[]) => {
    const options = { url, table, timeoutMs: 3000, ...(migrations ? { migrations } : {}) };
    const store = driver === 'postgres' ? new PostgresAppStore(options) : new MysqlAppStore(options);
    stores.push(store);
    return store;
  };
  let shared: AppCatalog | undefined;
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    for (const table of tables) await dropAppTable(driver, table);
  });
  const table = () => {
    const name = uniqueTable();
    tables.push(name);
    return name;
  };
  return {
    name: `${driver} table`,
    skip,
    database: { driver, table, open },
    holding: async (apps) => {
      if (!shared) {
        shared = open(table());
        await shared.migrate();
      }
      for (const { id } of await shared.all()) await shared.delete(id);
      for (const a of apps) await shared.create(a);
      return shared;
    },
  };
}

for (const subject of [configSubject(), await databaseSubject('postgres'), await databaseSubject('mysql')]) {
  describe(`AppCatalog contract: ${subject.name}`, { skip: subject.skip }, () => {
    test('finds apps by exact key and by id; unknown ones are undefined', async () => {
      const store = await subject.holding([app('a'), app('b', 'Key-B')]);
      assert.equal((await store.findByKey('key-a'))?.id, 'a');
      assert.equal((await store.findById('b'))?.key, 'Key-B');
      assert.equal((await store.findByKey('Key-B'))?.id, 'b');
      for (const near of ['key-b', 'KEY-B', 'Key-B ', ' Key-B', 'Key-', 'Key-B\n']) {
        assert.equal(await store.findByKey(near), undefined, `key ${JSON.stringify(near)}`);
      }
      assert.equal(await store.findById('c'), undefined);
      assert.equal(await store.findById('A'), undefined);
      assert.equal(await store.findByKey(''), undefined);
    });

    test('findMany, where a store has it, finds the apps of exact keys or ids in one query', async () => {
      const store = await subject.holding([app('a'), app('b', 'Key-B'), app('c')]);
      if (!store.findMany) {
        // The config file is in memory: one lookup costs no round trip to save, and it has none.
        assert.equal(subject.name, 'config file');
        return;
      }
      const ids = (apps: readonly { id: string }[]) => apps.map((a) => a.id).sort();
      assert.deepEqual(ids(await store.findMany('key', ['key-a', 'Key-B', 'key-b', 'KEY-B', 'nope'])), [
        'a',
        'b',
      ]);
      assert.deepEqual(ids(await store.findMany('id', ['c', 'a', 'A', 'zz', 'c'])), ['a', 'c']);
      assert.deepEqual(await store.findMany('key', []), []);
      const many = Array.from({ length: 100 }, (_, i) => `missing-${i}`);
      assert.deepEqual(ids(await store.findMany('id', [...many, 'b'])), ['b']);
    });

    test('all() lists every app ordered by id (code units, not a locale)', async () => {
      const ids = ['b', 'a', 'C', 'a-2', '10', '9', 'é', 'Z'];
      const store = await subject.holding(ids.map((id) => app(id)));
      const sorted = [...ids].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      assert.deepEqual(
        (await store.all()).map((a) => a.id),
        sorted,
      );
      assert.deepEqual(
        (await store.all(3)).map((a) => a.id),
        sorted.slice(0, 3),
      );
      assert.deepEqual(await store.all(0), []);
      assert.deepEqual(await subject.holding([]).then((s) => s.all()), []);
    });

    test('every field comes back as given; absent ones as the defaults', async () => {
      for (const column of COLUMNS) {
        if (!column.required)
          assert.notDeepEqual(FULL[column.field], column.default, `${column.field} is set`);
      }
      const minimal = app('app-min');
      const store = await subject.holding([FULL, minimal]);
      assert.deepEqual(await store.findById('app-full'), FULL);
      assert.deepEqual(await store.findByKey('key-full'), FULL);
      assert.deepEqual(await store.findById('app-min'), minimal);
      assert.equal(minimal.maxSubscriptionsPerConnection, 1000);
      assert.equal(minimal.previousSecretExpiresAt, null);
    });

    test('a grace period ending at an offset comes back as the same instant', async () => {
      const given = app('offset', 'offset', {
        previousSecret: 'old',
        previousSecretExpiresAt: '2031-06-01T12:30:00+02:00',
      });
      const store = await subject.holding([given]);
      const found = await store.findById('offset');
      assert.equal(Date.parse(found!.previousSecretExpiresAt!), Date.parse('2031-06-01T10:30:00Z'));
    });

    if (!subject.database) {
      test('writes are refused: the config file is read-only', async () => {
        const store = await subject.holding([app('a')]);
        await assert.rejects(store.create(app('b')), AppStoreReadOnly);
        await assert.rejects(store.update('a', { enabled: false }), AppStoreReadOnly);
        await assert.rejects(store.delete('a'), AppStoreReadOnly);
        await assert.rejects(store.migrate(), AppStoreReadOnly);
        await store.check();
        assert.deepEqual(await store.findById('a'), app('a'));
      });
      return;
    }
    const { driver, table, open } = subject.database;

    test('create returns the app; a taken id or key is a conflict naming it, and nothing changes', async () => {
      const store = await subject.holding([]);
      assert.deepEqual(await store.create(app('a')), app('a'));
      const onId = await store.create(app('a', 'other-key')).catch((err) => err);
      assert.ok(onId instanceof AppConflict, String(onId));
      assert.equal(onId.field, 'id');
      const onKey = await store.create(app('b', 'key-a')).catch((err) => err);
      assert.ok(onKey instanceof AppConflict, String(onKey));
      assert.equal(onKey.field, 'key');
      assert.match(onKey.message, /key "key-a"/);
      assert.deepEqual(await store.all(), [app('a')]);
    });

    test('text a table would not keep as given is refused, never stored changed', async () => {
      const store = await subject.holding([app('a')]);
      // A lone surrogate cannot be UTF-8: the drivers would write U+FFFD, another key.
      await assert.rejects(store.create(app('b', 'key-\uD800')), (err: Error) => {
        assert.ok(err instanceof AppInputError, String(err));
        assert.match(err.message, /key: holds a lone UTF-16 surrogate/);
        return true;
      });
      const header = { webhooks: [{ url: 'https://h.example/', events: [], headers: { 'X-\uDFFF': 'v' } }] };
      await assert.rejects(store.update('a', header), /webhooks\.0\.headers \(a name\): holds a lone/);
      // U+0000: PostgreSQL's text and jsonb cannot hold it, MySQL's can.
      const nul = app('nul', 'key-\u0000', { secret: 'se\u0000cret' });
      if (driver === 'postgres') {
        await assert.rejects(store.create(nul), /key: holds U\+0000.*; secret: holds U\+0000/);
      } else {
        assert.deepEqual(await store.create(nul), nul);
        assert.deepEqual(await store.findByKey('key-\u0000'), nul);
        assert.equal(await store.findByKey('key-'), undefined);
        await store.delete('nul');
      }
      assert.deepEqual(await store.all(), [app('a')], 'nothing refused was stored');
    });

    test('update changes only the fields given and returns the app after', async () => {
      const store = await subject.holding([FULL, app('other')]);
      const updated = await store.update('app-full', {
        enabled: true,
        maxConnections: null,
        webhooks: [],
        previousSecretExpiresAt: null,
      });
      const expected = {
        ...FULL,
        enabled: true,
        maxConnections: null,
        webhooks: [],
        previousSecretExpiresAt: null,
      };
      assert.deepEqual(updated, expected);
      assert.deepEqual(await store.findById('app-full'), expected);
      assert.deepEqual(await store.findById('other'), app('other'), 'other apps are untouched');
      assert.deepEqual(await store.update('app-full', {}), expected, 'no fields: no change');
    });

    test('update of the key: found by the new key only; a taken key is a conflict', async () => {
      const store = await subject.holding([app('a'), app('b')]);
      const updated = await store.update('a', { key: 'key-new', secret: 'secret-new' });
      assert.deepEqual(updated, app('a', 'key-new', { secret: 'secret-new' }));
      assert.equal(await store.findByKey('key-a'), undefined);
      assert.equal((await store.findByKey('key-new'))?.id, 'a');
      const clash = await store.update('a', { key: 'key-b' }).catch((err) => err);
      assert.ok(clash instanceof AppConflict, String(clash));
      assert.equal(clash.field, 'key');
      assert.equal((await store.findByKey('key-new'))?.id, 'a', 'a refused update changed nothing');
      assert.equal((await store.findByKey('key-b'))?.id, 'b');
    });

    test('update and delete of an unknown app say there is none', async () => {
      const store = await subject.holding([app('a')]);
      assert.equal(await store.update('nope', { enabled: false }), undefined);
      assert.equal(await store.delete('nope'), false);
      assert.deepEqual(await store.all(), [app('a')]);
    });

    test('delete removes the app from every lookup, once', async () => {
      const store = await subject.holding([app('a'), app('b')]);
      assert.equal(await store.delete('a'), true);
      assert.equal(await store.delete('a'), false);
      assert.equal(await store.findById('a'), undefined);
      assert.equal(await store.findByKey('key-a'), undefined);
      assert.deepEqual(await store.all(), [app('b')]);
      // Its id and key are free again.
      assert.deepEqual(await store.create(app('a')), app('a'));
    });

    test('check() and lookups before migrate say to migrate; migrate makes the table, once', async () => {
      const store = open(table());
      const notMigrated = new RegExp(
        `is not migrated \\(version 0 of ${SCHEMA_VERSION}\\): run \`herald apps migrate\``,
      );
      await assert.rejects(
        store.check(),
        (err: Error) => err instanceof AppStoreUnavailable && notMigrated.test(err.message),
      );
      await assert.rejects(
        store.findByKey('x'),
        (err: Error) => err instanceof AppStoreUnavailable && notMigrated.test(err.message),
      );
      const current = { from: SCHEMA_VERSION, to: SCHEMA_VERSION };
      assert.deepEqual(await store.migrate(), { from: 0, to: SCHEMA_VERSION });
      await store.check();
      assert.deepEqual(await store.migrate(), current);
      assert.deepEqual(await store.create(app('a')), app('a'));
      assert.deepEqual(await store.migrate(), current);
      assert.deepEqual(await store.all(), [app('a')], 'migrating again kept the apps');
    });

    test('a table whose version was set back is migrated again without harm', async () => {
      const name = table();
      const store = open(name);
      await store.migrate();
      await store.create(FULL);
      await sql(driver, `UPDATE ${name}_schema SET version = 0`);
      await assert.rejects(store.check(), new RegExp(`version 0 of ${SCHEMA_VERSION}`));
      assert.deepEqual(await store.migrate(), { from: 0, to: SCHEMA_VERSION });
      assert.deepEqual(await store.findById('app-full'), FULL);
    });

    test('an older version is upgraded: its rows get the new columns, nullable ones their default', async () => {
      // A history in which the last two settings came later, with a nullable one (whose default must
      // be written into the old rows) and a plain one (whose NULL reads as the default).
      const [first] = MIGRATIONS as [{ createTable: readonly (keyof App)[] }];
      const later = ['maxSubscriptionsPerConnection', 'batchWebhooks'] as const;
      const v1: Migration = { createTable: first.createTable.filter((f) => !later.includes(f as never)) };
      const v2: Migration = { addColumns: later };
      const name = table();
      const old = open(name, [v1]);
      assert.deepEqual(await old.migrate(), { from: 0, to: 1 });
      await old.create(app('old', 'key-old', { maxSubscriptionsPerConnection: 5, batchWebhooks: true }));

      const store = open(name, [v1, v2]);
      await assert.rejects(store.check(), /is not migrated \(version 1 of 2\)/);
      await assert.rejects(store.findById('old'), /is not migrated \(version 1 of 2\)/);
      assert.deepEqual(await store.migrate(), { from: 1, to: 2 });
      await store.check();
      // The old build wrote neither setting: the row has the defaults.
      assert.deepEqual(await store.findById('old'), app('old', 'key-old'));
      assert.deepEqual(await store.migrate(), { from: 2, to: 2 });
      // The old build goes on reading a table past its version (a rolling upgrade).
      await old.check();
      assert.deepEqual(await old.findByKey('key-old'), app('old', 'key-old'));
      await store.update('old', { batchWebhooks: true });
      assert.equal((await store.findById('old'))?.batchWebhooks, true);
    });

    test('processes migrating at once take turns: one makes the table, the other finds it made', async () => {
      const name = table();
      const stores = [open(name), open(name), open(name)];
      const results = await Promise.all(stores.map((s) => s.migrate()));
      assert.deepEqual(results.map((r) => r.from).sort(), [0, SCHEMA_VERSION, SCHEMA_VERSION]);
      assert.ok(results.every((r) => r.to === SCHEMA_VERSION));
      await stores[0]!.check();
    });
  });
}
