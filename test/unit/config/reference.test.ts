import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { configurationReference, settingDocs } from '../../../src/config/reference.js';

const committed = readFileSync(new URL('../../../../docs/configuration.md', import.meta.url), 'utf8');

describe('docs/configuration.md', () => {
  test('is what the schema generates', () => {
    assert.ok(
      committed === configurationReference(),
      'docs/configuration.md differs from what src/config/schema.ts generates: run `npm run docs`',
    );
  });
});

describe('settingDocs of the configuration schema', () => {
  const docs = new Map(settingDocs().map((doc) => [doc.path, doc]));

  test('a top-level setting: type, default and variable from the schema and envEntries', () => {
    assert.deepEqual(docs.get('port'), {
      path: 'port',
      type: 'integer from 0 to 65535',
      default: '`6001`',
      environment: '`HERALD_PORT`',
      description: 'Listen port; `0` picks a free one.',
    });
    assert.equal(docs.get('pidFile')?.default, 'none');
    assert.equal(docs.get('maxConnections')?.type, 'integer, at least 1 or `null`');
    assert.equal(docs.get('adapter.url')?.environment, '`HERALD_ADAPTER_URL`');
  });

  test('a list takes JSON; its items are documented as part of it', () => {
    assert.equal(docs.get('apps')?.environment, '`HERALD_APPS` (JSON)');
    assert.equal(docs.get('apps')?.default, '`[{"id":"app-id","key":"app-key","secret":"app-secret"}]`');
    assert.equal(docs.get('apps[].id')?.default, 'required');
    assert.equal(
      docs.get('apps[].id')?.environment,
      "part of `HERALD_APPS` (JSON); the first app's also `HERALD_APP_ID`",
    );
    assert.equal(
      docs.get('apps[].webhooks[].filter.channelPrefix')?.environment,
      'part of `HERALD_APPS` (JSON)',
    );
    assert.equal(docs.get('wamp.realms')?.default, '`[{"name":"realm1"}]`');
  });

  test('an object is a setting only when it is more than its fields', () => {
    assert.equal(docs.get('connectionRatePerAddress')?.default, '`{"perSecond":100,"burst":500}`');
    assert.equal(docs.get('connectionRatePerAddress')?.environment, undefined);
    assert.equal(docs.get('wamp.auth')?.default, '`{"anonymous":{"role":"anonymous"}}`');
    for (const path of ['adapter', 'webhooks', 'wamp', 'wamp.realms[].roles[].permissions[].allow']) {
      assert.equal(docs.has(path), false, path);
    }
    assert.equal(docs.get('wamp.realms[].roles[].permissions[].allow.call')?.default, '`false`');
  });

  test("a map's values are named by the record's keyName", () => {
    assert.equal(docs.get('wamp.auth.wampcra.users.<authid>.salt')?.default, 'none');
    assert.equal(
      docs.get('wamp.auth.ticket.principals')?.environment,
      '`HERALD_WAMP_AUTH_TICKET_PRINCIPALS` (JSON)',
    );
    assert.equal(docs.get('wamp.auth.ticket.principals')?.type, 'map of authid to object');
  });
});

describe('configurationReference of a small schema', () => {
  const schema = z.strictObject({
    size: z.number().int().positive().max(10).default(3).describe('How many.'),
    tags: z
      .array(z.enum(['a', 'b']))
      .default(['a'])
      .describe('Which tags.'),
    broker: z
      .discriminatedUnion('kind', [
        z.strictObject({ kind: z.literal('none').describe('Which broker.') }),
        z.strictObject({ kind: z.literal('redis'), url: z.url().describe('Where it is.') }),
      ])
      .prefault({ kind: 'none' })
      .describe('The broker.'),
  });

  test('renders every setting under its section, with union fields merged', () => {
    const text = configurationReference(schema);
    assert.match(text, /^# Configuration\n/);
    assert.ok(text.endsWith('\n') && !text.endsWith('\n\n'));
    assert.ok(
      text.includes(
        '### `size`\n\nHow many.\n\n- Type: integer from 1 to 10\n- Default: `3`\n- Environment: `HERALD_SIZE`\n',
      ),
      text,
    );
    assert.ok(
      text.includes('### `tags`\n\nWhich tags.\n\n- Type: list of `"a"`, `"b"`\n- Default: `["a"]`\n'),
      text,
    );
    assert.ok(
      text.includes('### `broker.kind`\n\nWhich broker.\n\n- Type: one of `"none"`, `"redis"`\n'),
      text,
    );
    assert.ok(text.includes('### `broker.url`\n\nWhere it is.\n\n- Type: URL\n- Default: required\n'), text);
  });

  test('a setting without a description is refused', () => {
    assert.throws(
      () => configurationReference(z.strictObject({ quiet: z.boolean().default(false) })),
      /the setting quiet has no description/,
    );
  });
});
