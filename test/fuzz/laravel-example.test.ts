import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { phpSkip, type RunningExample, startPhpExample } from '../helpers/examples.js';
import { APP } from '../helpers/herald.js';
import { fuzz } from './harness.js';

/**
 * The Laravel example's /broadcasting/auth (examples/laravel/public/index.php), which any page can
 * post to: generated socket ids, channel names, CSRF tokens and raw bodies. It signs exactly the
 * subscriptions the signed-in user may make (private-orders.1, with a valid socket id and the session's
 * token), with pusher-http-php's signature, and answers anything else with 400, 403 or 419 and
 * `{"error": ...}`.
 */

/** Whose orders are whose, as in examples/laravel/bootstrap.php. */
const OWNERS = new Map([
  [1, 1],
  [2, 2],
]);
/** The user the order page signs in. */
const USER = 1;

const socketIds = fc.oneof(
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `${a}.${b}`),
  fc.constantFrom('1.1\n', '.1', '1.', '1..1', '١.١', '-1.1', ' 1.1', ''),
  fc.string(),
);
const channels = fc.oneof(
  fc.constantFrom(
    'private-orders.1',
    'private-orders.2',
    'private-orders.01',
    'orders.1',
    'presence-orders.1',
  ),
  fc.nat({ max: 1e12 }).map((n) => `private-orders.${n}`),
  fc.tuple(fc.constantFrom('private-orders.1', 'private-orders.'), fc.string()).map(([a, b]) => a + b),
  fc.string(),
);
/** The session's token, another one, or none. */
const tokens = fc.oneof(
  fc.constant('session'),
  fc.constant(undefined),
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 40 }),
);

describe('examples/laravel: /broadcasting/auth with generated input', { skip: phpSkip }, () => {
  let php: RunningExample;
  let cookie: string;
  let sessionToken: string;

  /** POSTs `body` to /broadcasting/auth in the page's session; the status and the JSON answer. */
  const auth = async (body: string, token: string | undefined) => {
    const headers: Record<string, string> = { cookie, 'content-type': 'application/x-www-form-urlencoded' };
    if (token !== undefined) headers['x-csrf-token'] = token === 'session' ? sessionToken : token;
    const response = await fetch(new URL('broadcasting/auth', php.url), { method: 'POST', headers, body });
    const text = await response.text();
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/, text);
    return { status: response.status, json: JSON.parse(text) as Record<string, unknown> };
  };

  before(async () => {
    php = await startPhpExample('laravel', {
      BROADCAST_CONNECTION: 'pusher',
      PUSHER_APP_KEY: APP.key,
      PUSHER_APP_SECRET: APP.secret,
    });
    const page = await fetch(php.url);
    cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    sessionToken = /<meta name="csrf-token" content="([0-9a-f]+)">/.exec(await page.text())![1]!;
  });

  after(() => php?.stop());

  test('signs exactly what user 1 may subscribe to; 419, 403 or 400 with an error otherwise', async () => {
    await fuzz(
      'laravel /broadcasting/auth fields',
      150,
      [socketIds, channels, tokens],
      async (socketId, channel, token) => {
        const { status, json } = await auth(
          new URLSearchParams({ socket_id: socketId, channel_name: channel }).toString(),
          token,
        );
        const order = /^private-orders\.(\d{1,9})$/.exec(channel);
        const expected =
          token !== 'session'
            ? 419
            : !order || OWNERS.get(Number(order[1])) !== USER
              ? 403
              : !/^\d+\.\d+$/.test(socketId)
                ? 400
                : 200;
        assert.equal(status, expected, JSON.stringify(json));
        if (status === 200) {
          const signature = createHmac('sha256', APP.secret).update(`${socketId}:${channel}`).digest('hex');
          assert.deepEqual(json, { auth: `${APP.key}:${signature}` });
        } else {
          assert.equal(typeof json.error, 'string');
        }
      },
    );
  });

  test('any body: a signature only for a valid request, otherwise 400 or 403 with an error', async () => {
    const bodies = fc.oneof(
      fc.string(),
      fc.constantFrom(
        'socket_id[]=1.1&channel_name=private-orders.1',
        'socket_id=1.1',
        '%',
        '&&==',
        'a=b&a[x]=c',
      ),
      fc.string().map((tail) => `socket_id=1.1&channel_name=private-orders.1${tail}`),
    );
    await fuzz('laravel /broadcasting/auth bodies', 100, [bodies], async (body) => {
      const { status, json } = await auth(body, 'session');
      if (status === 200) {
        assert.match(body, /channel_name=private-orders\.0*1\b/);
        assert.match(String(json.auth), new RegExp(`^${APP.key}:[0-9a-f]{64}$`));
      } else {
        assert.ok([400, 403].includes(status), `${status} ${JSON.stringify(json)}`);
        assert.equal(typeof json.error, 'string');
      }
    });
  });
});
