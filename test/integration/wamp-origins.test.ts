import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { within } from '../helpers/raw-client.js';
import { RawWampClient } from '../helpers/wamp-client.js';
import { wampServer } from '../helpers/wamp-server.js';

/**
 * Per-realm allowed origins (docs/wamp.md, "Realms"): checked at HELLO, when the realm is known; a page the
 * realm does not admit gets ABORT `wamp.error.not_authorized` and its connection is closed.
 */

const GUARD_MS = 5000;
const NOT_AUTHORIZED = 'wamp.error.not_authorized';

describe('allowed origins on WAMP realms', () => {
  const server = wampServer({
    wamp: {
      realms: [
        { name: 'realm1', allowedOrigins: ['https://app.example.com', '*.example.org'] },
        { name: 'com.strict', allowedOrigins: ['https://app.example.com'], requireOrigin: true },
        { name: 'com.open' },
      ],
    },
  });

  async function open(origin: string | undefined): Promise<RawWampClient> {
    const options = origin === undefined ? {} : { headers: { Origin: origin } };
    const client = await within(
      RawWampClient.open(server.url, 'json', 'wamp.2.json', options),
      GUARD_MS,
      'upgrade',
    );
    return server.track(client);
  }

  async function welcomed(realm: string, origin: string | undefined): Promise<void> {
    const client = await open(origin);
    const reply = await within(client.hello(realm), GUARD_MS, `WELCOME to ${realm}`);
    assert.equal(reply[0], 2, `${realm} from ${origin}: ${JSON.stringify(reply)}`);
    assert.equal((reply[2] as { realm?: unknown }).realm, realm);
  }

  /** ABORT not_authorized with a message, then the transport closes; returns the message. */
  async function aborted(realm: string, origin: string | undefined): Promise<string> {
    const client = await open(origin);
    const what = `${realm} from ${String(origin).slice(0, 40)}`;
    const reply = await within(client.hello(realm), GUARD_MS, `ABORT (${what})`);
    assert.deepEqual([reply[0], reply[2]], [3, NOT_AUTHORIZED], `${what}: ${JSON.stringify(reply)}`);
    const message = (reply[1] as { message?: unknown }).message;
    assert.equal(typeof message, 'string');
    const close = await within(client.closed, GUARD_MS, `close after ABORT (${what})`);
    assert.equal(close.code, 1000);
    assert.deepEqual(client.messages, [], `${what}: nothing after ABORT`);
    return message as string;
  }

  test('HELLO from an admitted origin is welcomed', async () => {
    for (const origin of [
      'https://app.example.com',
      'https://APP.example.com:443',
      'http://a.b.example.org:8080',
    ]) {
      await welcomed('realm1', origin);
    }
  });

  test('HELLO from another origin gets ABORT wamp.error.not_authorized and the session ends', async () => {
    for (const origin of [
      'https://evil.test',
      'http://app.example.com',
      'https://app.example.com:8443',
      'https://example.org',
    ]) {
      assert.match(await aborted('realm1', origin), /realm "realm1" does not admit this origin/);
    }
  });

  test('malformed Origin headers (null, garbage, huge) are refused at HELLO, never a crash', async () => {
    for (const origin of [
      'null',
      '',
      'garbage',
      'https://app.example.com/',
      `https://${'a'.repeat(8000)}.example.org`,
    ]) {
      await aborted('realm1', origin);
    }
    await welcomed('realm1', 'https://app.example.com');
  });

  test('no Origin header joins unless the realm sets requireOrigin', async () => {
    await welcomed('realm1', undefined);
    assert.match(await aborted('com.strict', undefined), /without an Origin header/);
    await welcomed('com.strict', 'https://app.example.com');
    await aborted('com.strict', 'https://evil.test');
  });

  test('a realm without allowedOrigins admits every origin; the check is per realm', async () => {
    for (const origin of ['https://evil.test', 'null', undefined]) await welcomed('com.open', origin);
  });

  test('an unknown realm is still no_such_realm, whatever the origin', async () => {
    const client = await open('https://evil.test');
    const reply = await within(client.hello('com.nowhere'), GUARD_MS, 'ABORT');
    assert.deepEqual([reply[0], reply[2]], [3, 'wamp.error.no_such_realm']);
  });
});
