import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import PusherServer from 'pusher';
import { APP, connected, nextEvent, startHerald, type TestHerald } from '../helpers/herald.js';
import type { Pusher } from '../helpers/pusher-js.js';
import { type PusherFrame, RawClient, within } from '../helpers/raw-client.js';

/**
 * End-to-end encrypted channels (Pusher docs, Encrypted channels): the server checks the private
 * signature and relays the SDK's ciphertext untouched; only clients holding the shared secret can read it.
 */

const GUARD_MS = 5_000;

// The credentials and socket id of the Pusher docs' worked examples (Authentication and authorization
// signatures), and an encrypted-channel vector computed with them.
const VECTOR_APP = { id: '3', key: '278d425bdf160c739803', secret: '7ad3773142a6692b25b8' } as const;
const VECTOR_SOCKET = '1234.1234';
const VECTOR_CHANNEL = 'private-encrypted-foobar';
const VECTOR_AUTH = `${VECTOR_APP.key}:e6a18892d037c5d5e76a2265df4f086ffc38631605530dfd214aa5bff495f533`;
const VECTOR_MASTER_KEY = 'YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU=';
const VECTOR_SHARED_SECRET = 'c2G7lNZEj5cOEFL4N/dWYD5uzMjAvZicXVXJl73uE2Y=';
const VECTOR_WIRE_DATA =
  '{"nonce":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX","ciphertext":"97zSDhrj+8LJ7N8CQUXAnGYcdHb/dF4ktKHpc0VlS1BoKNG3Lbwowt4="}';

/** The `pusher` SDK for `server`, able to encrypt (`encryptionMasterKeyBase64`). */
function encryptingSdk(
  server: TestHerald,
  app: { id: string; key: string; secret: string },
  masterKey: string,
): PusherServer {
  return new PusherServer({
    appId: app.id,
    key: app.key,
    secret: app.secret,
    host: '127.0.0.1',
    port: String(server.port),
    useTLS: false,
    encryptionMasterKeyBase64: masterKey,
  });
}

/** pusher-js authorizing channels through the SDK, which adds `shared_secret` for encrypted ones. */
function encryptedClient(server: TestHerald, sdk: PusherServer, key: string = APP.key): Pusher {
  return server.client(
    {
      channelAuthorization: {
        endpoint: '/unused',
        transport: 'ajax',
        customHandler: ({ socketId, channelName }, callback) =>
          callback(null, sdk.authorizeChannel(socketId, channelName)),
      },
    },
    key,
  );
}

/**
 * `POST /events` with `data` exactly as given: the SDK's generic `post`, which signs but does not
 * encrypt (it JSON-encodes the body object it is given, although typed as a string).
 */
function postRaw(sdk: PusherServer, channel: string, name: string, data: string) {
  return sdk.post({ path: '/events', body: { name, channels: [channel], data } as unknown as string });
}

function subscriptionError(frame: PusherFrame): { type: string; error: string; status: number } {
  assert.equal(frame.event, 'pusher:subscription_error');
  return frame.data as { type: string; error: string; status: number };
}

describe('the encrypted-channel vector (socket id pinned to 1234.1234)', () => {
  let server: TestHerald;
  let sdk: PusherServer;
  const raws: RawClient[] = [];

  before(async () => {
    // Every connection gets the vector's socket id, so one connection per server at a time.
    server = await startHerald({ apps: [VECTOR_APP] }, { socketIds: () => VECTOR_SOCKET });
    sdk = encryptingSdk(server, VECTOR_APP, VECTOR_MASTER_KEY);
  });
  after(async () => {
    for (const raw of raws) raw.close();
    await server.stop();
  });

  test('the SDK’s authorization equals the vector; the server accepts it and refuses near misses', async () => {
    assert.deepEqual(sdk.authorizeChannel(VECTOR_SOCKET, VECTOR_CHANNEL), {
      auth: VECTOR_AUTH,
      shared_secret: VECTOR_SHARED_SECRET,
    });
    const { client, socketId } = await RawClient.connect(server.wsUrl(VECTOR_APP.key));
    raws.push(client);
    assert.equal(socketId, VECTOR_SOCKET);

    const last = VECTOR_AUTH.at(-1) === '3' ? '4' : '3';
    const nearMisses = [
      `${VECTOR_AUTH.slice(0, -1)}${last}`,
      // The private-foobar signature: valid, but for another channel name.
      `${VECTOR_APP.key}:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4`,
    ];
    for (const auth of nearMisses) {
      const refused = subscriptionError(
        await within(client.subscribe(VECTOR_CHANNEL, { auth }), GUARD_MS, 'refusal'),
      );
      assert.equal(refused.status, 401);
      assert.match(refused.error, /Invalid signature/);
      assert.equal(
        (await within(client.next('pusher:error'), GUARD_MS, 'pusher:error')).event,
        'pusher:error',
      );
    }

    // pusher-js would also send shared_secret if the app returned it; the server ignores it.
    const ok = await within(
      client.subscribe(VECTOR_CHANNEL, { auth: VECTOR_AUTH, shared_secret: VECTOR_SHARED_SECRET }),
      GUARD_MS,
      'subscription',
    );
    assert.deepEqual(ok, {
      event: 'pusher_internal:subscription_succeeded',
      channel: VECTOR_CHANNEL,
      data: '{}',
    });

    const response = await postRaw(sdk, VECTOR_CHANNEL, 'secret', VECTOR_WIRE_DATA);
    assert.equal(response.status, 200);
    assert.deepEqual(await within(client.next(), GUARD_MS, 'encrypted event'), {
      event: 'secret',
      channel: VECTOR_CHANNEL,
      data: VECTOR_WIRE_DATA,
    });
  });
});

describe('the encrypted-channel vector decrypted by pusher-js', () => {
  let server: TestHerald;

  before(async () => {
    server = await startHerald({ apps: [VECTOR_APP] }, { socketIds: () => VECTOR_SOCKET });
  });
  after(() => server.stop());

  test('pusher-js subscribed as 1234.1234 decrypts the vector’s wire data to {"message":"hello world"}', async () => {
    const sdk = encryptingSdk(server, VECTOR_APP, VECTOR_MASTER_KEY);
    const client = encryptedClient(server, sdk, VECTOR_APP.key);
    assert.equal(await within(connected(client), GUARD_MS, 'pusher-js to connect'), VECTOR_SOCKET);
    const channel = client.subscribe(VECTOR_CHANNEL);
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');
    const received = nextEvent(channel, 'secret');
    assert.equal((await postRaw(sdk, VECTOR_CHANNEL, 'secret', VECTOR_WIRE_DATA)).status, 200);
    assert.deepEqual(await within(received, GUARD_MS, 'decrypted event'), { message: 'hello world' });
  });
});

describe('SDK encryption end to end', () => {
  const masterKey = randomBytes(32).toString('base64');
  let server: TestHerald;
  let sdk: PusherServer;
  /** `data` of every event the SDK posted, as it left the SDK. */
  const posted: string[] = [];
  let raws: RawClient[] = [];

  before(async () => {
    server = await startHerald();
    sdk = encryptingSdk(server, APP, masterKey);
    const post = sdk.post.bind(sdk);
    sdk.post = (options) => {
      const body = options.body as unknown as { data?: string };
      if (typeof body.data === 'string') posted.push(body.data);
      return post(options);
    };
  });
  afterEach(() => {
    for (const raw of raws) raw.close();
    raws = [];
  });
  after(() => server.stop());

  async function rawSubscriber(channel: string): Promise<RawClient> {
    const { client, socketId } = await RawClient.connect(server.wsUrl());
    raws.push(client);
    const { auth } = sdk.authorizeChannel(socketId, channel);
    const reply = await within(client.subscribe(channel, { auth }), GUARD_MS, 'raw subscription');
    assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
    return client;
  }

  test('SDK trigger: byte-identical ciphertext at a raw socket, the original data at pusher-js', async () => {
    const channel = 'private-encrypted-orders.5';
    const client = encryptedClient(server, sdk);
    await within(connected(client), GUARD_MS, 'pusher-js to connect');
    const subscribed = client.subscribe(channel);
    await within(nextEvent(subscribed, 'pusher:subscription_succeeded'), GUARD_MS, 'pusher-js subscription');
    const raw = await rawSubscriber(channel);

    const original = { order: 5, status: 'shipped', note: 'ünïcödé ✓', items: [1, 2, 3] };
    const decrypted = nextEvent(subscribed, 'shipped');
    posted.length = 0;
    const response = await sdk.trigger(channel, 'shipped', original);
    assert.equal(response.status, 200);
    assert.equal(posted.length, 1);
    const sent = posted[0]!;
    const envelope = JSON.parse(sent) as { nonce: string; ciphertext: string };
    assert.deepEqual(Object.keys(envelope).sort(), ['ciphertext', 'nonce']);
    assert.ok(!sent.includes('shipped'), 'the SDK sent ciphertext, not the plaintext');

    assert.deepEqual(await within(raw.next(), GUARD_MS, 'event at the raw socket'), {
      event: 'shipped',
      channel,
      data: sent,
    });
    assert.deepEqual(await within(decrypted, GUARD_MS, 'event at pusher-js'), original);
  });

  test('a signature over another socket id is refused: the server checks socket_id:channel', async () => {
    const channel = 'private-encrypted-orders.6';
    const { client, socketId } = await RawClient.connect(server.wsUrl());
    raws.push(client);
    const other = socketId === '1.1' ? '2.2' : '1.1';
    const refused = subscriptionError(
      await within(
        client.subscribe(channel, { auth: sdk.authorizeChannel(other, channel).auth }),
        GUARD_MS,
        'refusal',
      ),
    );
    assert.equal(refused.status, 401);
    assert.ok(refused.error.includes(`${socketId}:${channel}`), 'names the string it expected signed');
    const ok = await client.subscribe(channel, { auth: sdk.authorizeChannel(socketId, channel).auth });
    assert.equal(ok.event, 'pusher_internal:subscription_succeeded');
  });

  test('private-encrypted-cache-: the cached ciphertext is replayed to a new pusher-js subscriber, who decrypts it', async () => {
    const channel = 'private-encrypted-cache-prices';
    const original = { price: 42, currency: 'EUR' };
    posted.length = 0;
    assert.equal((await sdk.trigger(channel, 'price', original)).status, 200);

    const raw = await rawSubscriber(channel);
    assert.deepEqual(await within(raw.next(), GUARD_MS, 'replay at the raw socket'), {
      event: 'price',
      channel,
      data: posted[0],
    });

    const client = encryptedClient(server, sdk);
    await within(connected(client), GUARD_MS, 'pusher-js to connect');
    const subscribed = client.subscribe(channel);
    const replayed = nextEvent(subscribed, 'price');
    assert.deepEqual(await within(replayed, GUARD_MS, 'replayed event at pusher-js'), original);
  });
});
