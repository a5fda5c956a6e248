import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { checkOrigin } from '../../src/core/origin.js';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { RawWampClient } from '../helpers/wamp-client.js';
import { fuzz, Observer } from './harness.js';

/**
 * The `Origin` header of WebSocket upgrades: generated origins, near-origins and garbage against an
 * app and a realm with allowed origins. Each is admitted exactly when the matcher says so (the
 * matcher's own rules are unit-tested in test/unit/core/origin.test.ts), refused with 4009 / ABORT
 * otherwise, and the server keeps serving everyone else.
 */

const GUARD_MS = 5000;
const POLICY = {
  allowedOrigins: ['https://app.example.com', 'http://localhost:3000', '*.example.org', 'example.net'],
  requireOrigin: false,
};
const LISTED = { id: 'listed-id', key: 'listed-key', secret: 'listed-secret', ...POLICY };

const label = fc.stringMatching(/^[a-zA-Z0-9_-]{1,12}$/);
/** Origins and near-origins: the shapes a matcher could get wrong. */
const originLike = fc
  .record({
    scheme: fc.constantFrom('http', 'https', 'HTTPS', 'ws', 'wss', 'chrome-extension', 'file', ''),
    labels: fc.array(label, { minLength: 0, maxLength: 4 }),
    suffix: fc.constantFrom(
      '',
      'example.com',
      'app.example.com',
      'example.org',
      'EXAMPLE.ORG',
      'example.net',
      'localhost',
    ),
    port: fc.option(
      fc.oneof(fc.constantFrom('80', '443', '3000', '', '99999', '0'), fc.nat(70_000).map(String)),
      { freq: 2 },
    ),
    tail: fc.oneof(
      { weight: 4, arbitrary: fc.constant('') },
      {
        weight: 1,
        arbitrary: fc.constantFrom('/', '/path', '.', ', https://app.example.com', '@x', '#', '?'),
      },
    ),
  })
  .map(({ scheme, labels, suffix, port, tail }) => {
    const host = [...labels, ...(suffix ? [suffix] : [])].join('.');
    return `${scheme ? `${scheme}://` : ''}${host}${port === null ? '' : `:${port}`}${tail}`;
  });
/** What an HTTP client can put in a header value: visible Latin-1, no leading or trailing blank. */
const headerText = fc
  .string({
    unit: fc
      .integer({ min: 0x20, max: 0xff })
      .filter((c) => c !== 0x7f)
      .map((c) => String.fromCharCode(c)),
    maxLength: 6000,
  })
  .map((s) => s.trim());
const originHeader = fc.oneof(
  { weight: 6, arbitrary: originLike },
  { weight: 2, arbitrary: headerText },
  {
    weight: 1,
    arbitrary: fc.constantFrom('null', '', 'https://app.example.com', 'http://a.b.example.org:1'),
  },
);

describe('fuzz: Origin headers of Pusher and WAMP upgrades', () => {
  let server: TestHerald;
  let observer: Observer;

  before(async () => {
    server = await startHerald({
      apps: [{ ...APP }, LISTED],
      wamp: { realms: [{ name: 'realm1', ...POLICY }] },
    });
    observer = await Observer.connect(server);
  });
  after(async () => {
    observer?.close();
    await server?.stop();
  });

  test('each origin is admitted exactly when it matches; others get 4009 or ABORT', async () => {
    const seen = { admitted: 0, refused: 0 };
    await fuzz('origin headers', 120, [originHeader], async (origin) => {
      const admitted = checkOrigin(POLICY, origin) === 'allowed';
      seen[admitted ? 'admitted' : 'refused']++;
      const headers = { headers: { Origin: origin } };

      const pusher = await within(RawClient.open(server.wsUrl(LISTED.key), headers), GUARD_MS, 'upgrade');
      const first = await within(pusher.next(), GUARD_MS, 'first frame');
      if (admitted) {
        assert.equal(first.event, 'pusher:connection_established');
        pusher.close();
      } else {
        assert.deepEqual([first.event, (first.data as { code?: unknown }).code], ['pusher:error', 4009]);
        assert.equal((await within(pusher.closed, GUARD_MS, 'close')).code, 4009);
      }

      const wamp = await within(
        RawWampClient.open(`ws://127.0.0.1:${server.port}/ws`, 'json', 'wamp.2.json', headers),
        GUARD_MS,
        'WAMP upgrade',
      );
      const reply = await within(wamp.hello('realm1'), GUARD_MS, 'HELLO reply');
      if (admitted) assert.equal(reply[0], 2);
      else assert.deepEqual([reply[0], reply[2]], [3, 'wamp.error.not_authorized']);
      wamp.close();

      await observer.check();
    });
    // Both outcomes were exercised (the generators lean towards near-origins that are refused).
    assert.ok(seen.admitted > 0 && seen.refused > 0, JSON.stringify(seen));
    console.log(`# origins admitted ${seen.admitted}, refused ${seen.refused}`);
  });
});
