import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { AppInputError } from '../../src/apps/manage.js';
import { MysqlAppStore } from '../../src/apps/mysql-store.js';
import { PostgresAppStore } from '../../src/apps/postgres-store.js';
import { appSchema } from '../../src/config/schema.js';
import type { App, AppCatalog } from '../../src/core/apps/app.js';
import { originEntryProblem } from '../../src/core/origin.js';
import {
  type DatabaseDriver,
  databaseSkip,
  databaseUrl,
  dropAppTable,
  uniqueTable,
} from '../helpers/databases.js';
import { fuzz } from './harness.js';

/**
 * Apps with arbitrary text (any Unicode, quotes, backslashes, SQL and LIKE metacharacters, U+0000) in
 * the id, key, secrets, allowed origins and webhook headers and filters come back from each database
 * exactly as they went in, found by their id and by their key.
 *
 * What a database cannot keep is refused, never stored changed: U+0000 on PostgreSQL, whose text and
 * jsonb cannot hold it (MySQL and MariaDB keep it); a lone UTF-16 surrogate everywhere, since UTF-8
 * cannot encode it (a string of JavaScript may hold one; these generators, like any text read from
 * UTF-8, never make one: the contract suite covers the refusal).
 */

/** Characters that break naive quoting or matching, mixed into arbitrary Unicode. */
const tricky = fc.constantFrom(
  "'",
  '"',
  '\\',
  '`',
  '%',
  '_',
  '$1',
  '?',
  ';--',
  '\n',
  '\r',
  '\t',
  ' ',
  '\u0000',
  'é',
  'ß',
  'İ',
  '😀',
  '\u202e',
  '\uFEFF',
  '\uFFFF',
);
/** Text of `minLength` to `maxLength` UTF-16 code units, as the schema counts them. */
const text = (maxLength: number, minLength = 1) =>
  fc
    .oneof(
      fc.string({ unit: 'binary', minLength, maxLength }),
      fc.string({
        unit: fc.oneof(tricky, fc.string({ unit: 'binary', maxLength: 2 })),
        minLength,
        maxLength,
      }),
    )
    .filter((s) => s.length >= minLength && s.length <= maxLength);

/** Entries of `allowedOrigins` the schema takes: hosts, wildcard hosts, origins. */
const origin = fc
  .oneof(
    fc.domain(),
    fc.domain().map((d) => `*.${d}`),
    fc.webUrl({ validSchemes: ['http', 'https'] }).map((u) => new URL(u).origin),
  )
  .filter((entry) => originEntryProblem(entry) === undefined);

const instant = fc
  .date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

const anyApp: fc.Arbitrary<App> = fc
  .record({
    id: text(100),
    key: text(100),
    secret: text(100),
    previousSecret: fc.option(text(100), { nil: null }),
    previousSecretExpiresAt: fc.option(instant, { nil: null }),
    allowedOrigins: fc.array(origin, { maxLength: 4 }),
    maxConnections: fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { nil: null }),
    webhooks: fc.array(
      fc.record(
        {
          url: fc.webUrl({ validSchemes: ['http', 'https'] }),
          headers: fc.dictionary(text(30), text(100, 0), { maxKeys: 4 }),
          filter: fc.record({ channelPrefix: text(50, 0) }),
        },
        { requiredKeys: ['url', 'headers'] },
      ),
      { maxLength: 3 },
    ),
  })
  .map((fields) => appSchema.parse(fields));

/** Whether `app` holds U+0000 in any of its text, names of headers included. */
const holdsNul = (app: App) => JSON.stringify(app).includes('\\u0000');

for (const driver of ['postgres', 'mysql'] as DatabaseDriver[]) {
  describe(`${driver} store: arbitrary text round trip`, { skip: await databaseSkip(driver) }, () => {
    const table = uniqueTable();
    let store: AppCatalog | undefined;

    after(async () => {
      await store?.close();
      await dropAppTable(driver, table);
    });

    test('every app comes back exactly, by id and by key; what cannot be kept is refused', async () => {
      const options = { url: databaseUrl(driver), table };
      store = driver === 'postgres' ? new PostgresAppStore(options) : new MysqlAppStore(options);
      await store.migrate();
      const s = store;
      let kept = 0;
      await fuzz(`app store round trip (${driver})`, 150, [anyApp], async (app) => {
        if (driver === 'postgres' && holdsNul(app)) {
          await assert.rejects(s.create(app), AppInputError);
          assert.deepEqual(await s.all(), [], 'a refused app is not stored');
          return;
        }
        try {
          assert.deepEqual(await s.create(app), app);
          assert.deepEqual(await s.findById(app.id), app);
          assert.deepEqual(await s.findByKey(app.key), app);
          kept++;
        } finally {
          await s.delete(app.id);
        }
      });
      assert.ok(kept > 0, 'some apps were stored');
    });
  });
}
