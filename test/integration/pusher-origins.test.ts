import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { APP, connected, startHerald, type TestHerald } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';

/**
 * Per-app allowed origins (README "App settings"): the `Origin` header of the upgrade is checked once
 * the app is known and before `pusher:connection_established`; a refused page gets `pusher:error`
 * 4009 and close 4009, and nothing else.
 */

const GUARD_MS = 5000;
const LISTED = { ...APP, allowedOrigins: ['http://allowed.test', 'https://*.example.com'] };
const REQUIRED = {
  id: 'required-id',
  key: 'required-key',
  secret: 'required-secret',
  allowedOrigins: ['*'],
  requireOrigin: true,
};
const OPEN = { id: 'open-id', key: 'open-key', secret: 'open-secret' };
const FULL = {
  id: 'full-id',
  key: 'full-key',
  secret: 'full-secret',
  allowedOrigins: ['http://allowed.test'],
  maxConnections: 1,
};

describe('allowed origins on Pusher connections', () => {
  let server: TestHerald;
  const opened: RawClient[] = [];

  before(async () => {
    server = await startHerald({ apps: [LISTED, REQUIRED, OPEN, FULL] });
  });
  afterEach(() => {
    for (const client of opened.splice(0)) client.close();
  });
  after(() => server.stop());

  const headersOf = (origin: string | undefined) =>
    origin === undefined ? {} : { headers: { Origin: origin } };

  async function established(key: string, origin: string | undefined): Promise<string> {
    const { client, socketId } = await within(
      RawClient.connect(server.wsUrl(key), headersOf(origin)),
      GUARD_MS,
      `handshake from ${origin}`,
    );
    opened.push(client);
    return socketId;
  }

  /** The connection gets exactly one frame, `pusher:error` 4009, then close 4009; returns the message. */
  async function refused(key: string, origin: string | undefined): Promise<string> {
    const client = await within(RawClient.open(server.wsUrl(key), headersOf(origin)), GUARD_MS, 'upgrade');
    opened.push(client);
    const what = `origin ${String(origin).slice(0, 40)}`;
    const close = await within(client.closed, GUARD_MS, `close (${what})`);
    assert.equal(close.code, 4009, `${what}: close code`);
    assert.equal(
      client.frames.length,
      1,
      `${what}: only the error frame, got ${JSON.stringify(client.frames)}`,
    );
    const [frame] = client.frames;
    assert.equal(frame!.event, 'pusher:error');
    const data = frame!.data as { code: unknown; message: unknown };
    assert.equal(data.code, 4009, `${what}: pusher:error code`);
    assert.equal(typeof data.message, 'string');
    return data.message as string;
  }

  test('listed origins connect: exact, default port written, subdomains at any depth, any case', async () => {
    for (const origin of [
      'http://allowed.test',
      'http://allowed.test:80',
      'HTTP://Allowed.TEST',
      'https://a.example.com',
      'https://a.b.c.example.com',
    ]) {
      assert.match(await established(LISTED.key, origin), /^\d+\.\d+$/, origin);
    }
  });

  test('an origin matching no entry gets pusher:error 4009 and close 4009, no handshake', async () => {
    for (const origin of [
      'http://evil.test',
      'https://allowed.test',
      'http://allowed.test:8080',
      'https://example.com',
      'http://a.example.com',
      'https://a.example.com:8443',
      'https://badexample.com',
    ]) {
      assert.equal(await refused(LISTED.key, origin), 'Origin not allowed', origin);
    }
  });

  test('malformed Origin headers (null, garbage, huge, repeated) are refused, never a crash', async () => {
    for (const origin of [
      'null',
      '',
      'garbage',
      'http://allowed.test/',
      'http://allowed.test, http://allowed.test',
      `http://${'a'.repeat(8000)}.allowed.test`,
      'http://allowed.test\u00ff',
    ]) {
      assert.equal(await refused(LISTED.key, origin), 'Origin not allowed', origin.slice(0, 40));
    }
    // and the server goes on serving the listed origin
    await established(LISTED.key, 'http://allowed.test');
  });

  test('no Origin header (a server-side client) connects unless requireOrigin', async () => {
    await established(LISTED.key, undefined);
    assert.equal(await refused(REQUIRED.key, undefined), 'Origin header required');
    // with requireOrigin and "*", any page is admitted, even an opaque one
    await established(REQUIRED.key, 'https://anything.test');
    await established(REQUIRED.key, 'null');
  });

  test('pusher-js in Node sends no Origin and connects to an app with a list', async () => {
    const client = server.client({}, LISTED.key);
    assert.match(await within(connected(client), GUARD_MS, 'pusher-js to connect'), /^\d+\.\d+$/);
  });

  test('an app without allowedOrigins admits every origin', async () => {
    for (const origin of ['https://anywhere.test', 'null', 'garbage', undefined]) {
      await established(OPEN.key, origin);
    }
  });

  test('the origin is checked before the connection quota: a refused page is not counted', async () => {
    await established(FULL.key, 'http://allowed.test');
    // Over quota, a refused origin still hears about its origin, not about the quota…
    assert.equal(await refused(FULL.key, 'http://evil.test'), 'Origin not allowed');
    // …while an allowed one is over quota (4004): the quota counted only the first connection.
    const client = await within(
      RawClient.open(server.wsUrl(FULL.key), headersOf('http://allowed.test')),
      GUARD_MS,
      'upgrade',
    );
    opened.push(client);
    assert.equal((await within(client.closed, GUARD_MS, 'close 4004')).code, 4004);
  });
});
