import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseSets } from '../../../src/cli/apps-args.js';
import { appDetails, appTable } from '../../../src/cli/apps-output.js';
import { appSchema } from '../../../src/config/schema.js';

const app = (fields: Record<string, unknown>) => appSchema.parse({ secret: 's', ...fields });

describe('appTable', () => {
  test('id, key, enabled, maxConnections and the count of webhooks, in aligned columns', () => {
    const table = appTable([
      app({
        id: '1',
        key: 'first-key',
        maxConnections: 500,
        webhooks: [{ url: 'https://a' }, { url: 'https://b' }],
      }),
      app({ id: '1234567', key: 'k', enabled: false }),
    ]);
    assert.equal(
      table,
      [
        'id       key        enabled  maxConnections  webhooks',
        '1        first-key  yes      500             2',
        '1234567  k          no       unlimited       0',
        '',
      ].join('\n'),
    );
  });

  test("a value cannot move the terminal's cursor or break the row", () => {
    const table = appTable([app({ id: 'a\nb', key: 'k\u001b[2J' })]);
    assert.equal(table.split('\n').length, 3);
    assert.match(table, /a\\u000ab {2}k\\u001b\[2J/);
  });
});

describe('appDetails', () => {
  test("every field in the schema's order, strings as they are and the rest as JSON", () => {
    const shown = appDetails(
      app({
        id: '42',
        key: 'k',
        maxConnections: 100,
        webhooks: [{ url: 'https://x', events: ['member_added'] }],
      }),
    );
    const lines = shown.trimEnd().split('\n');
    assert.deepEqual(
      lines.map((line) => line.split(/ +/)[0]),
      Object.keys(appSchema.shape),
    );
    assert.match(shown, /^id {2,}42$/m);
    assert.match(shown, /^secret {2,}s$/m);
    assert.match(shown, /^previousSecret {2,}null$/m);
    assert.match(shown, /^maxConnections {2,}100$/m);
    assert.match(shown, /^allowedOrigins {2,}\["\*"\]$/m);
    assert.match(
      shown,
      /^webhooks {2,}\[\{"url":"https:\/\/x","events":\["member_added"\],"headers":\{\}\}\]$/m,
    );
  });

  test('each value shown is what --set takes back for that field (strings that do not read as JSON)', () => {
    const original = app({
      id: 'app-42',
      key: 'key-1',
      maxConnections: 100,
      clientEvents: true,
      allowedOrigins: ['https://example.com'],
      webhooks: [{ url: 'https://x', filter: { channelPrefix: 'private-' } }],
    });
    const sets = appDetails(original)
      .trimEnd()
      .split('\n')
      .map((line) => line.replace(/^(\S+) +/, '$1='));
    assert.deepEqual(appSchema.parse(parseSets(sets)), original);
  });

  test('fields the schema does not know (a newer server) come last', () => {
    const shown = appDetails({ ...app({ id: '1', key: 'k' }), future: { a: 1 } } as never);
    assert.match(shown.trimEnd().split('\n').at(-1)!, /^future {2,}\{"a":1\}$/);
  });
});
