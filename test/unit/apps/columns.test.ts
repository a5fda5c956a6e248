import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  COLUMNS,
  columnOf,
  columnValues,
  encode,
  InvalidAppRow,
  rowToApp,
  unstorableText,
} from '../../../src/apps/columns.js';
import { derivedName, MIGRATIONS, migratedFields, SCHEMA_VERSION } from '../../../src/apps/migrations.js';
import { appSchema } from '../../../src/config/schema.js';

/**
 * The columns of an apps table follow the app schema: a field added to the schema is a column, and a
 * migration must add it, or this fails.
 */

const FIELDS = Object.keys(appSchema.shape);

test('every field of the app schema has a column, named in snake_case', () => {
  assert.deepEqual(
    COLUMNS.map((c) => c.field),
    FIELDS,
  );
  for (const c of COLUMNS) {
    assert.match(c.name, /^[a-z][a-z0-9_]*$/, c.field);
    assert.equal(
      c.name.replaceAll(/_([a-z])/g, (_, ch: string) => ch.toUpperCase()),
      c.field,
    );
  }
  assert.equal(columnOf('maxConnections').name, 'max_connections');
  assert.equal(columnOf('allowedOrigins').name, 'allowed_origins');
  assert.equal(columnOf('previousSecretExpiresAt').name, 'previous_secret_expires_at');
});

test('every field is added by exactly one migration, and only a field with a default is added later', () => {
  const added = migratedFields(MIGRATIONS);
  assert.deepEqual(
    [...added].sort(),
    [...FIELDS].sort(),
    'a new app field needs { addColumns: [field] } in MIGRATIONS',
  );
  assert.equal(new Set(added).size, added.length, 'no field is added twice');
  assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
  for (const migration of MIGRATIONS.slice(1)) {
    for (const field of 'addColumns' in migration ? migration.addColumns : []) {
      assert.equal(columnOf(field).required, false, `${field}: rows before it need a default`);
    }
  }
});

test('kinds: text, booleans, integers, JSON for arrays and objects, a timestamp for the ISO instant', () => {
  const kinds = Object.fromEntries(COLUMNS.map((c) => [c.field, c.kind]));
  assert.equal(kinds.key, 'text');
  assert.equal(kinds.enabled, 'boolean');
  assert.equal(kinds.maxConnections, 'integer');
  assert.equal(kinds.allowedOrigins, 'json');
  assert.equal(kinds.webhooks, 'json');
  assert.equal(kinds.previousSecretExpiresAt, 'timestamp');
  assert.equal(columnOf('key').maxLength, 255);
});

test('NOT NULL only for id, key and secret; nullable marks the fields where null is a value', () => {
  assert.deepEqual(
    COLUMNS.filter((c) => c.required).map((c) => c.field),
    ['id', 'key', 'secret'],
  );
  assert.deepEqual(
    COLUMNS.filter((c) => c.nullable).map((c) => c.field),
    [
      'previousSecret',
      'previousSecretExpiresAt',
      'maxConnections',
      'maxSubscriptionsPerConnection',
      'maxHttpRequestsPerSecond',
      'history',
    ],
  );
  assert.equal(columnOf('maxSubscriptionsPerConnection').default, 1000);
  assert.deepEqual(columnOf('allowedOrigins').default, ['*']);
});

test('a row: NULL is null where the schema allows it, the default elsewhere; an absent column is the default', () => {
  const row = {
    id: 'a',
    key: 'k',
    secret: 's',
    enabled: null,
    max_connections: null,
    max_subscriptions_per_connection: null,
    allowed_origins: null,
    previous_secret_expires_at: null,
  };
  const app = rowToApp(row);
  assert.equal(app.enabled, true);
  assert.equal(app.maxConnections, null);
  assert.equal(app.maxSubscriptionsPerConnection, null, 'null is "no limit" here, not the default');
  assert.deepEqual(app.allowedOrigins, ['*']);
  assert.equal(app.previousSecretExpiresAt, null);
  assert.equal(app.maxPresenceMembers, 100, 'a column the row lacks');
  assert.equal(rowToApp({ id: 'a', key: 'k', secret: 's' }).maxSubscriptionsPerConnection, 1000);
});

test('a row as the drivers give it: numbers as strings, booleans as 0/1, JSON as text, dates', () => {
  const app = rowToApp({
    id: 'a',
    key: 'k',
    secret: 's',
    enabled: 0,
    require_origin: 1,
    max_connections: '1099511627776',
    webhooks: '[{"url":"https://h.example/x","headers":{"A":"b"}}]',
    allowed_origins: ['example.com'],
    previous_secret: 'p',
    previous_secret_expires_at: new Date('2030-01-02T03:04:05.678Z'),
  });
  assert.equal(app.enabled, false);
  assert.equal(app.requireOrigin, true);
  assert.equal(app.maxConnections, 2 ** 40);
  assert.deepEqual(app.webhooks[0]?.headers, { A: 'b' });
  assert.deepEqual(app.allowedOrigins, ['example.com']);
  assert.equal(app.previousSecretExpiresAt, '2030-01-02T03:04:05.678Z');
});

test('a row the schema refuses is an InvalidAppRow naming the app and the field', () => {
  assert.throws(
    () => rowToApp({ id: 'bad', key: 'k', secret: 's', max_batch_size: -1 }),
    (err: Error) =>
      err instanceof InvalidAppRow && /"bad"/.test(err.message) && /maxBatchSize/.test(err.message),
  );
});

test('values written: only the fields given, JSON as text, the instant as a Date', () => {
  const values = columnValues({
    enabled: false,
    webhooks: [],
    previousSecretExpiresAt: '2030-01-01T02:00:00+02:00',
  });
  assert.deepEqual(
    values.map(({ column, value }) => [column.name, value]),
    [
      ['previous_secret_expires_at', new Date('2030-01-01T00:00:00Z')],
      ['enabled', false],
      ['webhooks', '[]'],
    ],
  );
  assert.equal(encode(columnOf('previousSecret'), null), null);
  assert.equal(columnValues(appSchema.parse({ id: 'a', key: 'k', secret: 's' })).length, COLUMNS.length);
});

test('names derived from a table fit an identifier, and long tables never share them', () => {
  assert.equal(derivedName('herald_apps', 'schema'), 'herald_apps_schema');
  const long = 'a'.repeat(63);
  const other = `${'a'.repeat(62)}b`;
  for (const suffix of ['schema', 'notify', 'key_key']) {
    assert.ok(derivedName(long, suffix).length <= 63);
    assert.ok(derivedName(long, suffix).endsWith(`_${suffix}`));
    assert.notEqual(derivedName(long, suffix), derivedName(other, suffix));
    assert.notEqual(derivedName(long, suffix), long);
  }
});

test('unstorable text: lone surrogates anywhere, U+0000 where the database cannot hold it', () => {
  const fields = {
    key: 'a\uD800b',
    secret: 'pair \uD83D\uDE00 is fine',
    previousSecret: 'n\u0000l',
    webhooks: [{ url: 'https://h.example/', events: [], headers: { '\uDC00': 'v', ok: 'x\u0000' } }],
  };
  assert.deepEqual(unstorableText(fields, { nul: true }), [
    'key: holds a lone UTF-16 surrogate, which is not text',
    'webhooks.0.headers (a name): holds a lone UTF-16 surrogate, which is not text',
  ]);
  assert.deepEqual(unstorableText(fields, { nul: false }), [
    'key: holds a lone UTF-16 surrogate, which is not text',
    'previousSecret: holds U+0000, which the database cannot store',
    'webhooks.0.headers (a name): holds a lone UTF-16 surrogate, which is not text',
    'webhooks.0.headers.ok: holds U+0000, which the database cannot store',
  ]);
  assert.deepEqual(unstorableText(appSchema.parse({ id: 'é😀', key: 'k', secret: 's' }), { nul: false }), []);
});
