import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import { APP, connected, nextEvent, sdkAuthorizer, startHerald, type TestHerald } from '../helpers/herald.js';
import { type PusherFrame, RawClient, within } from '../helpers/raw-client.js';

/**
 * Subscribing and unsubscribing (Pusher docs, Channels protocol) and channel authorization (Pusher docs,
 * Authorizing users), including signature vectors on the credentials of the Pusher docs' worked examples
 * (Authentication and authorization signatures).
 */

let server: TestHerald;
const opened: RawClient[] = [];

before(async () => {
  server = await startHerald();
});
afterEach(() => {
  for (const client of opened.splice(0)) client.close();
});
after(() => server.stop());

async function connect(url = server.wsUrl()): Promise<{ client: RawClient; socketId: string }> {
  const connection = await within(RawClient.connect(url), 5000, 'handshake');
  opened.push(connection.client);
  return connection;
}

function sign(secret: string, signed: string): string {
  return createHmac('sha256', secret).update(signed).digest('hex');
}

/** What the app's auth endpoint would return as `auth` for a private channel. */
function privateAuth(socketId: string, channel: string): string {
  return `${APP.key}:${sign(APP.secret, `${socketId}:${channel}`)}`;
}

function subscribe(client: RawClient, channel: string, extra: Record<string, unknown> = {}) {
  return within(client.subscribe(channel, extra), 5000, `subscription reply for ${channel}`);
}

function assertSucceeded(frame: PusherFrame, channel: string): void {
  assert.deepEqual(frame, { event: 'pusher_internal:subscription_succeeded', channel, data: '{}' });
}

/** A channel-scoped `pusher:subscription_error` (Pusher docs, Channels protocol): its `error` text. */
function assertRefused(frame: PusherFrame, channel: string, type: string, status: number): string {
  assert.equal(frame.event, 'pusher:subscription_error', `${channel} must be refused`);
  assert.equal(frame.channel, channel);
  const data = frame.data as { type: unknown; error: unknown; status: unknown };
  assert.equal(data.type, type);
  assert.equal(data.status, status);
  assert.equal(typeof data.error, 'string');
  return data.error as string;
}

/**
 * The next frame other than `pusher:error`: a refused subscription MAY also get a hosted-style
 * `pusher:error` with code null, which these checks leave aside.
 */
function nextFrame(client: RawClient, what: string): Promise<PusherFrame> {
  return within(
    client.next((f) => f.event !== 'pusher:error'),
    5000,
    what,
  );
}

/** Proves the socket is still open and served. */
async function stillOpen(client: RawClient): Promise<void> {
  client.send({ event: 'pusher:ping', data: {} });
  await within(client.next('pusher:pong'), 5000, 'pong');
  assert.equal(client.ws.readyState, client.ws.OPEN);
}

/**
 * Publishes to `silent` and then to `loud` and checks that the next frame `client` gets is the one
 * on `loud`: the publish to `silent` reached it no earlier, so not at all (frames on one socket keep
 * their order).
 */
async function assertNothingFrom(client: RawClient, silent: string, loud: string): Promise<void> {
  const sdk = server.sdk();
  assert.equal((await sdk.trigger(silent, 'must-not-arrive', 'x')).status, 200);
  assert.equal((await sdk.trigger(loud, 'marker', 'y')).status, 200);
  const next = await nextFrame(client, `marker on ${loud}`);
  assert.deepEqual(next, { event: 'marker', channel: loud, data: 'y' });
}

describe('subscribe', () => {
  test('public subscribe → subscription_succeeded with the channel and data "{}"', async () => {
    const { client } = await connect();
    assertSucceeded(await subscribe(client, 'public-news'), 'public-news');
    // `auth` is ignored on public channels, whatever it holds.
    assertSucceeded(await subscribe(client, 'public-other', { auth: 'junk:123' }), 'public-other');
    // Re-subscribing is idempotent: another success, and events are not doubled.
    assertSucceeded(await subscribe(client, 'public-news'), 'public-news');
    await server.sdk().trigger('public-news', 'once', 'payload');
    assert.deepEqual(await within(client.next(), 5000, 'event'), {
      event: 'once',
      channel: 'public-news',
      data: 'payload',
    });
    await assertNothingFrom(client, 'nobody-listens', 'public-other');
  });

  test('subscribe data may be an object or a JSON string', async () => {
    const { client, socketId } = await connect();
    client.send({ event: 'pusher:subscribe', data: { channel: 'as-object' } });
    assertSucceeded(await within(client.next(), 5000, 'reply'), 'as-object');
    client.send({ event: 'pusher:subscribe', data: JSON.stringify({ channel: 'as-string', auth: '' }) });
    assertSucceeded(await within(client.next(), 5000, 'reply'), 'as-string');
    const auth = privateAuth(socketId, 'private-as-string');
    client.send({ event: 'pusher:subscribe', data: JSON.stringify({ channel: 'private-as-string', auth }) });
    assertSucceeded(await within(client.next(), 5000, 'reply'), 'private-as-string');
    await server.sdk().trigger('as-string', 'hello', 'there');
    assert.deepEqual(await within(client.next(), 5000, 'event'), {
      event: 'hello',
      channel: 'as-string',
      data: 'there',
    });
  });
});

describe('private channel authorization', () => {
  test('a bad signature yields subscription_error, the socket stays open, nothing is delivered', async () => {
    const { client, socketId } = await connect();
    const channel = 'private-orders';
    const good = privateAuth(socketId, channel);
    const hex = good.slice(APP.key.length + 1);
    const refusals: [string, unknown][] = [
      ['signed for another socket', privateAuth('1.2', channel)],
      ['signed for another channel', privateAuth(socketId, 'private-other')],
      ['signed with another secret', `${APP.key}:${sign('other-secret', `${socketId}:${channel}`)}`],
      ['right signature, another key', `other-key:${hex}`],
      ['right signature, no key', hex],
      ['uppercase key', `${APP.key.toUpperCase()}:${hex}`],
      ['empty auth', ''],
      ['auth not a string', 42],
    ];
    for (const [what, auth] of refusals) {
      const reply = await subscribe(client, channel, { auth });
      const error = assertRefused(reply, channel, 'AuthError', 401);
      assert.ok(error.length > 0, what);
    }
    const keyError = assertRefused(
      await subscribe(client, channel, { auth: `other-key:${hex}` }),
      channel,
      'AuthError',
      401,
    );
    assert.match(keyError, /Invalid key in subscription auth data: 'other-key'/);
    await stillOpen(client);
    assertSucceeded(await subscribe(client, 'public-marker'), 'public-marker');
    await assertNothingFrom(client, channel, 'public-marker');

    assertSucceeded(await subscribe(client, channel, { auth: good }), channel);
    await server.sdk().trigger(channel, 'paid', '{"id":1}');
    assert.deepEqual(await nextFrame(client, 'event'), {
      event: 'paid',
      channel,
      data: '{"id":1}',
    });
  });

  test('pusher-js: SDK-signed private subscription works; a wrong secret gives pusher:subscription_error', async () => {
    const good = server.client(sdkAuthorizer(server.sdk()));
    const channel = good.subscribe('private-pjs');
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), 5000, 'private subscription');
    const received = nextEvent(channel, 'update');
    await server.sdk().trigger('private-pjs', 'update', { v: 1 });
    assert.deepEqual(await within(received, 5000, 'event'), { v: 1 });

    const bad = server.client(sdkAuthorizer(server.sdk({ ...APP, secret: 'not-the-secret' })));
    await within(connected(bad), 5000, 'pusher-js connected');
    const refused = bad.subscribe('private-pjs');
    const error = await within(
      nextEvent<{ type: string; status: number; error: string }>(refused, 'pusher:subscription_error'),
      5000,
      'subscription error',
    );
    assert.equal(error.type, 'AuthError');
    assert.equal(error.status, 401);
    assert.equal(refused.subscribed, false);
    assert.equal(bad.connection.state, 'connected');
    const publicChannel = bad.subscribe('public-after-error');
    await within(nextEvent(publicChannel, 'pusher:subscription_succeeded'), 5000, 'public subscription');
    good.disconnect();
    bad.disconnect();
  });
});

describe('signature vectors on the Pusher docs’ credentials', () => {
  const DOCS_APP = { id: '3', key: '278d425bdf160c739803', secret: '7ad3773142a6692b25b8' };
  const auth = (hex: string) => `${DOCS_APP.key}:${hex}`;
  const PRIVATE = '58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4';
  const MR_CHANNELS = '{"user_id":10,"user_info":{"name":"Mr. Channels"}}';
  const MR_PUSHER = '{"user_id":10,"user_info":{"name":"Mr. Pusher"}}';
  const STRING_ID = '{"user_id":"10","user_info":{"name":"Mr. Channels"}}';
  let docs: TestHerald;

  // The socket id generator is pinned, so this server must only ever hold one connection at a time.
  before(async () => {
    docs = await startHerald({ apps: [DOCS_APP] }, { socketIds: () => '1234.1234' });
  });
  after(() => docs.stop());

  test('the private, presence, private-cache and encrypted vectors subscribe; altered ones fail', async () => {
    const { client, socketId } = await connect(docs.wsUrl(DOCS_APP.key));
    assert.equal(socketId, '1234.1234');

    const altered = `${PRIVATE.slice(0, -1)}${PRIVATE.endsWith('4') ? '5' : '4'}`;
    const error = assertRefused(
      await subscribe(client, 'private-foobar', { auth: auth(altered) }),
      'private-foobar',
      'AuthError',
      401,
    );
    assert.match(error, /1234\.1234:private-foobar/);
    await stillOpen(client);
    assertSucceeded(await subscribe(client, 'private-foobar', { auth: auth(PRIVATE) }), 'private-foobar');

    // The hosted docs print afaed369… next to the "Mr. Channels" input, but it signs "Mr. Pusher":
    // that mismatched pair must fail, and each consistent pair must pass.
    const mismatched = await subscribe(client, 'presence-foobar', {
      auth: auth('afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c'),
      channel_data: MR_CHANNELS,
    });
    assertRefused(mismatched, 'presence-foobar', 'AuthError', 401);
    const presenceVectors: [string, string, string][] = [
      [MR_CHANNELS, '31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80', 'Mr. Channels'],
      [MR_PUSHER, 'afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c', 'Mr. Pusher'],
      [STRING_ID, '4c6d8fc42a207ba96a0779844171b0bb819d96ffceef9609f5cce596ab17a800', 'Mr. Channels'],
    ];
    for (const [channelData, hex, name] of presenceVectors) {
      const reply = await subscribe(client, 'presence-foobar', {
        auth: auth(hex),
        channel_data: channelData,
      });
      assert.equal(reply.event, 'pusher_internal:subscription_succeeded', channelData);
      assert.deepEqual(JSON.parse(reply.data as string), {
        presence: { ids: ['10'], hash: { '10': { name } }, count: 1 },
      });
      client.send({ event: 'pusher:unsubscribe', data: { channel: 'presence-foobar' } });
    }

    const others: [string, string][] = [
      ['private-cache-foobar', '395f4a03f06e17b74af8d9c58386cf386e70176f58452420f042b6e1bddefa43'],
      ['private-encrypted-foobar', 'e6a18892d037c5d5e76a2265df4f086ffc38631605530dfd214aa5bff495f533'],
    ];
    for (const [channel, hex] of others) {
      assertSucceeded(await subscribe(client, channel, { auth: auth(hex) }), channel);
    }

    const sdk = docs.sdk(DOCS_APP);
    assert.equal((await sdk.trigger('private-foobar', 'vector-ok', 'yes')).status, 200);
    assert.deepEqual(await within(client.next('vector-ok'), 5000, 'event'), {
      event: 'vector-ok',
      channel: 'private-foobar',
      data: 'yes',
    });
  });
});

describe('channel names', () => {
  test('bad characters, over 164 characters and "#" names are refused; the socket stays open', async () => {
    const { client } = await connect();
    const bad = [
      'has space',
      'slash/name',
      'colon:name',
      'star*',
      'ümlaut',
      'quote"',
      'mid#hash',
      'a'.repeat(165),
      `private-${'a'.repeat(157)}`,
      '#reserved',
      '#server-to-user-42',
      '',
    ];
    for (const name of bad) {
      client.send({ event: 'pusher:subscribe', data: { channel: name, auth: '' } });
      const reply = await nextFrame(client, `reply for ${JSON.stringify(name)}`);
      assert.equal(reply.event, 'pusher:subscription_error', `${JSON.stringify(name)} must be refused`);
      assert.equal(reply.channel, name);
      assert.equal(typeof (reply.data as { type: unknown }).type, 'string');
    }
    // Any pusher:error sent alongside is informational (code null), never a close.
    for (const frame of client.frames) {
      assert.deepEqual([frame.event, (frame.data as { code: unknown }).code], ['pusher:error', null]);
    }
    const allowed = ['A-Za-z0-9_-=@,.;', 'a'.repeat(164), 'Case', 'case'];
    for (const name of allowed) assertSucceeded(await subscribe(client, name), name);
    await stillOpen(client);
  });
});

describe('unsubscribe', () => {
  test('pusher:unsubscribe is silent and stops delivery; unknown channels are ignored', async () => {
    const { client, socketId } = await connect();
    const privateChannel = 'private-drop';
    assertSucceeded(await subscribe(client, 'keep'), 'keep');
    assertSucceeded(await subscribe(client, 'drop'), 'drop');
    assertSucceeded(
      await subscribe(client, privateChannel, { auth: privateAuth(socketId, privateChannel) }),
      privateChannel,
    );
    await server.sdk().trigger('drop', 'before', 'b');
    assert.deepEqual(await within(client.next(), 5000, 'event before unsubscribing'), {
      event: 'before',
      channel: 'drop',
      data: 'b',
    });

    client.send({ event: 'pusher:unsubscribe', data: { channel: 'drop' } });
    client.send({ event: 'pusher:unsubscribe', data: JSON.stringify({ channel: privateChannel }) });
    client.send({ event: 'pusher:unsubscribe', data: { channel: 'never-subscribed' } });
    // Subscribe replies keep request order, so by this reply the unsubscribes were handled, silently.
    assertSucceeded(await subscribe(client, 'sync'), 'sync');
    assert.deepEqual(client.frames, []);
    await assertNothingFrom(client, 'drop', 'keep');
    await assertNothingFrom(client, privateChannel, 'keep');
    await stillOpen(client);
  });
});
