import assert from 'node:assert/strict';
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { signRequest } from '../../src/protocol/pusher/auth.js';
import { APP, connected, nextEvent, startHerald, type TestHerald } from '../helpers/herald.js';
import { type PusherFrame, RawClient, within } from '../helpers/raw-client.js';

interface Credentials {
  id: string;
  key: string;
  secret: string;
}

/** A disabled app: its HTTP requests get 403. */
const OFF: Credentials = { id: 'off-id', key: 'off-key', secret: 'off-secret' };
/** An app only the channel-listing tests use, so other tests' channels never show up in its lists. */
const LIST: Credentials = { id: 'list-id', key: 'list-key', secret: 'list-secret' };
/** An app whose channels are named like Object.prototype's members. */
const PROTO: Credentials = { id: 'proto-id', key: 'proto-key', secret: 'proto-secret' };
/** The hosted documentation's app (spec §3.6, §6.2). */
const DOCS: Credentials = { id: '3', key: '278d425bdf160c739803', secret: '7ad3773142a6692b25b8' };
const DOCS_TIME = 1353088179;
const GUARD_MS = 5000;

let server: TestHerald;
/** A server whose clock reads 1353088179 s, for the §6.2 vectors. */
let docs: TestHerald;
const raws: RawClient[] = [];

before(async () => {
  server = await startHerald({
    apps: [{ ...APP, clientEvents: true }, { ...OFF, enabled: false }, LIST, PROTO],
  });
  docs = await startHerald({ apps: [DOCS] }, { now: () => DOCS_TIME * 1000 });
});

after(async () => {
  for (const c of raws) c.close();
  await Promise.all(raws.map((c) => c.closed));
  await server?.stop();
  await docs?.stop();
});

// ---------------------------------------------------------------------------------------------------
// Helpers

interface ApiOptions {
  /** A string is sent as-is; anything else is JSON-encoded. */
  body?: unknown;
  params?: Record<string, string>;
  credentials?: Credentials;
  timestamp?: number;
  /** Base URL; the main server by default. */
  base?: string;
}

function bodyText(body: unknown): string {
  if (body === undefined) return '';
  return typeof body === 'string' ? body : JSON.stringify(body);
}

/** The URL of a request signed as the SDKs sign it; `path` is below `/apps/{id}`. */
/** A response's whole body, as text. */
async function textOf(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

function signedUrl(method: string, path: string, options: ApiOptions = {}): string {
  const credentials = options.credentials ?? APP;
  const fullPath = `/apps/${credentials.id}${path}`;
  const query = signRequest(
    method,
    fullPath,
    credentials,
    bodyText(options.body),
    options.params,
    options.timestamp,
  );
  return `${options.base ?? server.httpUrl}${fullPath}?${new URLSearchParams(query)}`;
}

/** A signed request with `fetch`, for what the `pusher` SDK refuses to send. */
function api(method: 'GET' | 'POST', path: string, options: ApiOptions = {}): Promise<Response> {
  const text = bodyText(options.body);
  return fetch(signedUrl(method, path, options), {
    method,
    ...(text ? { body: text, headers: { 'content-type': 'application/json' } } : {}),
  });
}

async function okJson(response: Response): Promise<unknown> {
  const text = await response.text();
  assert.equal(response.status, 200, text);
  assert.equal(response.headers.get('content-type'), 'application/json');
  return JSON.parse(text);
}

/** Asserts an error answer: `status`, and a JSON body that is exactly `{"error": <message>}`. */
async function assertError(response: Response, status: number, message: RegExp): Promise<string> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  assert.equal(response.headers.get('content-type'), 'application/json');
  const body = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['error'], text);
  assert.equal(typeof body.error, 'string');
  assert.match(body.error as string, message);
  return body.error as string;
}

/** The status and `error` of a request the `pusher` SDK made and that failed. */
async function sdkFailure(request: Promise<unknown>): Promise<{ status: number; error: string }> {
  try {
    await request;
  } catch (err) {
    const { status, body } = err as { status?: number; body?: string };
    assert.ok(status !== undefined && body !== undefined, `not an HTTP failure: ${String(err)}`);
    const parsed = JSON.parse(body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['error'], body);
    return { status, error: parsed.error as string };
  }
  return assert.fail('the request should have failed');
}

/**
 * A raw client subscribed to `channels`; private and presence channels are authorized with the SDK,
 * presence ones as `userId` (the socket id by default).
 */
async function subscriber(
  channels: string[],
  options: { target?: TestHerald; credentials?: Credentials; userId?: string } = {},
): Promise<{ client: RawClient; socketId: string }> {
  const target = options.target ?? server;
  const credentials = options.credentials ?? APP;
  const { client, socketId } = await within(
    RawClient.connect(target.wsUrl(credentials.key)),
    GUARD_MS,
    'connection',
  );
  raws.push(client);
  const sdk = target.sdk(credentials);
  for (const channel of channels) {
    const extra = channel.startsWith('presence-')
      ? sdk.authorizeChannel(socketId, channel, { user_id: options.userId ?? socketId })
      : channel.startsWith('private-')
        ? sdk.authorizeChannel(socketId, channel)
        : {};
    const reply = await within(
      client.subscribe(channel, { ...extra }),
      GUARD_MS,
      `subscription to ${channel}`,
    );
    assert.equal(reply.event, 'pusher_internal:subscription_succeeded', JSON.stringify(reply));
  }
  return { client, socketId };
}

/** The next published (non-protocol) event the client receives on `channel`. */
function published(client: RawClient, channel: string): Promise<PusherFrame> {
  return within(
    client.next((f) => f.channel === channel && !f.event.startsWith('pusher')),
    GUARD_MS,
    `an event on ${channel}`,
  );
}

/**
 * Unsubscribes, then re-subscribes to a channel the client already has: the server handles a
 * connection's subscription requests in order, so the (idempotent) success means the unsubscribe is done.
 */
async function unsubscribe(client: RawClient, channel: string, stillSubscribed: string): Promise<void> {
  client.send({ event: 'pusher:unsubscribe', data: { channel } });
  const reply = await within(client.subscribe(stillSubscribed), GUARD_MS, 'resubscription');
  assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
}

// ---------------------------------------------------------------------------------------------------

describe('the pusher SDK against the HTTP API', () => {
  test('trigger on one channel reaches pusher-js and answers 200 {}', async () => {
    const client = server.client();
    await within(connected(client), GUARD_MS, 'pusher-js connection');
    const channel = client.subscribe('sdk-one');
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');
    const received = nextEvent<unknown>(channel, 'greeting');
    const response = await server.sdk().trigger('sdk-one', 'greeting', { n: 42, s: 'é' });
    assert.deepEqual(await okJson(response as unknown as Response), {});
    assert.deepEqual(await within(received, GUARD_MS, 'greeting'), { n: 42, s: 'é' });
  });

  test('trigger on several channels reaches each channel once; info gives counts per channel', async () => {
    const a = await subscriber(['multi-a']);
    const b = await subscriber(['multi-b']);
    const p = await subscriber(['presence-multi'], { userId: 'u1' });
    const response = await server
      .sdk()
      .trigger(['multi-a', 'multi-b', 'presence-multi', 'multi-a'], 'multi', 'payload', {
        info: 'subscription_count,user_count',
      });
    assert.deepEqual(await okJson(response as unknown as Response), {
      channels: {
        'multi-a': { subscription_count: 1 },
        'multi-b': { subscription_count: 1 },
        'presence-multi': { user_count: 1, subscription_count: 1 },
      },
    });
    for (const [{ client }, channel] of [
      [a, 'multi-a'],
      [b, 'multi-b'],
      [p, 'presence-multi'],
    ] as const) {
      assert.deepEqual(await published(client, channel), { event: 'multi', channel, data: 'payload' });
    }
    // A channel named twice still gets the event once: the next one is the next trigger.
    await server.sdk().trigger('multi-a', 'next', 'n');
    assert.equal((await published(a.client, 'multi-a')).event, 'next');
  });

  test('triggerBatch delivers every event, in order', async () => {
    const { client } = await subscriber(['sdk-batch']);
    const response = await server.sdk().triggerBatch([
      { channel: 'sdk-batch', name: 'b1', data: { i: 1 } },
      { channel: 'sdk-batch', name: 'b2', data: 'two' },
      { channel: 'sdk-batch', name: 'b3', data: '' },
    ]);
    assert.deepEqual(await okJson(response as unknown as Response), {});
    assert.deepEqual(await published(client, 'sdk-batch'), {
      event: 'b1',
      channel: 'sdk-batch',
      data: '{"i":1}',
    });
    assert.deepEqual(await published(client, 'sdk-batch'), {
      event: 'b2',
      channel: 'sdk-batch',
      data: 'two',
    });
    assert.deepEqual(await published(client, 'sdk-batch'), { event: 'b3', channel: 'sdk-batch', data: '' });
  });
});

describe('signature vectors, server clock at 1353088179 (§9 items 38–40)', () => {
  const EVENTS_BODY = '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}';
  const EVENTS_MD5 = 'ec365a775a4cd0599faeb73354201b6f';
  const EVENTS_SIGNATURE = 'da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c';
  const eventsUrl = (md5: string | undefined, signature: string, timestamp = DOCS_TIME) =>
    `${docs.httpUrl}/apps/3/events?auth_key=${DOCS.key}&auth_timestamp=${timestamp}&auth_version=1.0` +
    `${md5 === undefined ? '' : `&body_md5=${md5}`}&auth_signature=${signature}`;
  const post = (url: string, body = EVENTS_BODY) =>
    fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });

  test('item 38: vector 1 is accepted, answers exactly {} and is delivered', async () => {
    const { client } = await subscriber(['project-3'], { target: docs, credentials: DOCS });
    const response = await post(eventsUrl(EVENTS_MD5, EVENTS_SIGNATURE));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.equal(await response.text(), '{}');
    assert.deepEqual(await published(client, 'project-3'), {
      event: 'foo',
      channel: 'project-3',
      data: '{"some":"data"}',
    });
  });

  test('item 39: a wrong signature → 401 naming the string to sign', async () => {
    const wrong = `${EVENTS_SIGNATURE.slice(0, -1)}d`;
    const error = await assertError(await post(eventsUrl(EVENTS_MD5, wrong)), 401, /^Invalid signature/);
    assert.ok(error.includes(wrong), error);
    assert.ok(
      error.includes(
        JSON.stringify(
          `POST\n/apps/3/events\nauth_key=${DOCS.key}&auth_timestamp=${DOCS_TIME}&auth_version=1.0&body_md5=${EVENTS_MD5}`,
        ),
      ),
      error,
    );
  });

  test('item 39: the right signature over another body → 401 (body_md5 mismatch)', async () => {
    const changed = EVENTS_BODY.replace('foo', 'bar');
    await assertError(
      await post(eventsUrl(EVENTS_MD5, EVENTS_SIGNATURE), changed),
      401,
      /body_md5 does not match the body/,
    );
  });

  test('item 39: a correctly signed but wrong body_md5 → 401', async () => {
    // With an empty body signRequest keeps the given body_md5 and signs it.
    const query = signRequest('POST', '/apps/3/events', DOCS, '', { body_md5: '0'.repeat(32) }, DOCS_TIME);
    const url = `${docs.httpUrl}/apps/3/events?${new URLSearchParams(query)}`;
    await assertError(await post(url), 401, /body_md5 does not match the body/);
  });

  test('item 39: a correctly signed request without body_md5 → 401', async () => {
    const query = signRequest('POST', '/apps/3/events', DOCS, '', {}, DOCS_TIME);
    assert.equal(query.body_md5, undefined);
    const url = `${docs.httpUrl}/apps/3/events?${new URLSearchParams(query)}`;
    await assertError(await post(url), 401, /body_md5 is required/);
  });

  test('item 39: a timestamp 601 s old → 401; 600 s old is accepted', async () => {
    const old = signedUrl('POST', '/events', {
      base: docs.httpUrl,
      credentials: DOCS,
      body: EVENTS_BODY,
      timestamp: DOCS_TIME - 601,
    });
    await assertError(
      await post(old),
      401,
      /^Timestamp expired: Given timestamp \(2012-11-16T17:39:38\.000Z\) not within 600s of server time \(2012-11-16T17:49:39\.000Z\)$/,
    );
    const limit = signedUrl('POST', '/events', {
      base: docs.httpUrl,
      credentials: DOCS,
      body: EVENTS_BODY,
      timestamp: DOCS_TIME - 600,
    });
    assert.deepEqual(await okJson(await post(limit)), {});
    // The SDK signs with the real clock, far from this server's.
    const failure = await sdkFailure(docs.sdk(DOCS).trigger('project-3', 'x', 'y'));
    assert.equal(failure.status, 401);
    assert.match(failure.error, /^Timestamp expired/);
  });

  test('item 39: a key of no app → 401', async () => {
    const url = signedUrl('POST', '/events', {
      base: docs.httpUrl,
      credentials: { ...DOCS, key: 'not-the-key' },
      body: EVENTS_BODY,
      timestamp: DOCS_TIME,
    });
    await assertError(await post(url), 401, /auth_key "not-the-key"/);
  });

  test('item 40: vectors 2 and 3 are accepted with "," percent-encoded or not', async () => {
    const { socketId } = await subscriber(['presence-foobar'], {
      target: docs,
      credentials: DOCS,
      userId: '10',
    });
    assert.match(socketId, /^\d+\.\d+$/);
    const auth = `auth_key=${DOCS.key}&auth_timestamp=${DOCS_TIME}&auth_version=1.0`;
    const vector3 = 'auth_signature=377ee9260ea002a70c0d40cd887d55cb36db9f7f821297f5efacbcce66be356d';
    for (const info of ['user_count%2Csubscription_count', 'user_count,subscription_count']) {
      const url = `${docs.httpUrl}/apps/3/channels/presence-foobar?${auth}&info=${info}&${vector3}`;
      assert.deepEqual(await okJson(await fetch(url)), {
        occupied: true,
        user_count: 1,
        subscription_count: 1,
      });
    }
    const vector2 = 'auth_signature=16819168891cb5dfd72b5c7a5d3d602605b26c6ba1930033b5e2eeeb65010291';
    const url = `${docs.httpUrl}/apps/3/channels?filter_by_prefix=presence-&info=user_count&${auth}&${vector2}`;
    assert.deepEqual(await okJson(await fetch(url)), { channels: { 'presence-foobar': { user_count: 1 } } });
  });
});

describe('POST /events limits and validation (§9 item 41)', () => {
  test('101 channels → 400; 100 channels → 200', async () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `many-${i}`);
    await assertError(
      await api('POST', '/events', { body: { name: 'e', channels: names(101), data: 'x' } }),
      400,
      /101 channels is over the limit of 100/,
    );
    assert.deepEqual(
      await okJson(await api('POST', '/events', { body: { name: 'e', channels: names(100), data: 'x' } })),
      {},
    );
  });

  test('data of exactly 10240 bytes is delivered; one byte more → 413', async () => {
    const { client } = await subscriber(['big']);
    const exact = 'x'.repeat(10_240);
    assert.deepEqual(
      await okJson(await api('POST', '/events', { body: { name: 'big', channel: 'big', data: exact } })),
      {},
    );
    assert.equal((await published(client, 'big')).data, exact);

    await assertError(
      await api('POST', '/events', { body: { name: 'big', channel: 'big', data: `${exact}x` } }),
      413,
      /data is 10241 bytes, over the limit of 10240/,
    );
    // The limit counts UTF-8 bytes, not characters: 5121 × "é" is 10242 bytes.
    await assertError(
      await api('POST', '/events', { body: { name: 'big', channel: 'big', data: 'é'.repeat(5121) } }),
      413,
      /data is 10242 bytes/,
    );
    // Nothing refused was delivered: the next event is the next accepted one.
    await api('POST', '/events', { body: { name: 'after', channel: 'big', data: 'a' } });
    assert.equal((await published(client, 'big')).event, 'after');
  });

  test('missing or malformed fields → 400 naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ channels: ['v'], data: 'x' }, /^name must be a non-empty string$/],
      [{ name: '', channels: ['v'], data: 'x' }, /^name must be a non-empty string$/],
      [{ name: 'e'.repeat(201), channels: ['v'], data: 'x' }, /^name is longer than 200 characters$/],
      [{ name: 'e', channels: ['v'] }, /^data must be a string$/],
      [{ name: 'e', channels: ['v'], data: { a: 1 } }, /^data must be a string$/],
      [{ name: 'e', data: 'x' }, /^channels or channel is required$/],
      [{ name: 'e', channels: [], data: 'x' }, /^channels must not be empty$/],
      [{ name: 'e', channels: 'v', data: 'x' }, /^channels must be an array/],
      [{ name: 'e', channels: ['bad name!'], data: 'x' }, /^channels\[0\] "bad name!"/],
      [{ name: 'e', channels: ['v'], data: 'x', socket_id: 'abc' }, /^socket_id must look like/],
    ];
    for (const [body, message] of cases) {
      await assertError(await api('POST', '/events', { body }), 400, message);
    }
  });

  test('the single `channel` field works like a one-element `channels`', async () => {
    const { client } = await subscriber(['single']);
    assert.deepEqual(
      await okJson(await api('POST', '/events', { body: { name: 'one', channel: 'single', data: 'd' } })),
      {},
    );
    assert.deepEqual(await published(client, 'single'), { event: 'one', channel: 'single', data: 'd' });
  });
});

describe('POST /batch_events (§9 item 42)', () => {
  const event = (i: number) => ({ channel: 'batch-size', name: `e${i}`, data: String(i) });

  test('11 events → 400; 10 events → 200', async () => {
    const failure = await sdkFailure(
      server.sdk().triggerBatch(Array.from({ length: 11 }, (_, i) => event(i))),
    );
    assert.equal(failure.status, 400);
    assert.match(failure.error, /Batch of 11 events is over the limit of 10/);
    const response = await server.sdk().triggerBatch(Array.from({ length: 10 }, (_, i) => event(i)));
    assert.deepEqual(await okJson(response as unknown as Response), {});
  });

  test('with info, the batch array follows request order', async () => {
    await subscriber(['presence-batch'], { userId: 'u1' });
    await subscriber(['presence-batch', 'batch-pub'], { userId: 'u1' });
    const response = await server.sdk().triggerBatch([
      { channel: 'presence-batch', name: 'e', data: '1', info: 'user_count,subscription_count' },
      { channel: 'batch-pub', name: 'e', data: '2', info: 'subscription_count' },
      { channel: 'batch-pub', name: 'e', data: '3' },
      { channel: 'batch-empty', name: 'e', data: '4', info: 'subscription_count' },
      { channel: 'presence-batch', name: 'e', data: '5', info: 'user_count' },
    ]);
    assert.deepEqual(await okJson(response as unknown as Response), {
      batch: [
        { user_count: 1, subscription_count: 2 },
        { subscription_count: 1 },
        {},
        { subscription_count: 0 },
        { user_count: 1 },
      ],
    });
  });

  test('one invalid event refuses the whole batch and nothing is delivered', async () => {
    const { client } = await subscriber(['batch-atomic']);
    const tooBig = 'x'.repeat(10_241);
    await assertError(
      await api('POST', '/batch_events', {
        body: {
          batch: [
            { channel: 'batch-atomic', name: 'never', data: 'n' },
            { channel: 'batch-atomic', name: 'never', data: tooBig },
          ],
        },
      }),
      413,
      /^batch\[1\]\.data is 10241 bytes/,
    );
    await assertError(
      await api('POST', '/batch_events', {
        body: {
          batch: [
            { channel: 'batch-atomic', name: 'never', data: 'n' },
            { name: 'x', data: 'y' },
          ],
        },
      }),
      400,
      /^batch\[1\]\.channel is required$/,
    );
    await assertError(
      await api('POST', '/batch_events', { body: { batch: 'nope' } }),
      400,
      /"batch" must be an array/,
    );
    await api('POST', '/batch_events', {
      body: { batch: [{ channel: 'batch-atomic', name: 'after', data: 'a' }] },
    });
    assert.equal((await published(client, 'batch-atomic')).event, 'after');
  });
});

describe('GET /channels (§9 item 43)', () => {
  test('lists only occupied channels, filters by prefix, and refuses user_count without a presence filter', async () => {
    const get = (params: Record<string, string> = {}) =>
      api('GET', '/channels', { credentials: LIST, params });
    assert.deepEqual(await okJson(await get()), { channels: {} });

    const one = await subscriber(['list-a', 'list-b'], { credentials: LIST });
    await subscriber(['presence-list', 'private-list'], { credentials: LIST, userId: 'u1' });
    await subscriber(['presence-list'], { credentials: LIST, userId: 'u2' });
    await unsubscribe(one.client, 'list-b', 'list-a');

    assert.deepEqual(await okJson(await get()), {
      channels: { 'list-a': {}, 'presence-list': {}, 'private-list': {} },
    });
    assert.deepEqual(await okJson(await get({ filter_by_prefix: 'list-' })), { channels: { 'list-a': {} } });
    assert.deepEqual(await okJson(await get({ filter_by_prefix: 'presence-', info: 'user_count' })), {
      channels: { 'presence-list': { user_count: 2 } },
    });
    assert.deepEqual(await okJson(await get({ filter_by_prefix: 'nothing-' })), { channels: {} });
    assert.deepEqual(await okJson(await get({ filter_by_prefix: 'list-', info: 'subscription_count' })), {
      channels: { 'list-a': { subscription_count: 1 } },
    });

    await assertError(await get({ info: 'user_count' }), 400, /requires filter_by_prefix/);
    await assertError(await get({ filter_by_prefix: 'list-', info: 'user_count' }), 400, /presence-/);
  });

  test('the same through the pusher SDK', async () => {
    const sdk = server.sdk(LIST);
    const response = await sdk.get({
      path: '/channels',
      params: { filter_by_prefix: 'presence-', info: 'user_count' },
    });
    assert.deepEqual(await okJson(response as unknown as Response), {
      channels: { 'presence-list': { user_count: 2 } },
    });
    const failure = await sdkFailure(sdk.get({ path: '/channels', params: { info: 'user_count' } }));
    assert.equal(failure.status, 400);
  });
});

describe('GET /channels/{name} and /users (§9 items 44, 45)', () => {
  before(async () => {
    // User u1 on two connections, u2 on one; a public and a private channel with one subscriber.
    await subscriber(['presence-room', 'public-room', 'private-room'], { userId: 'u1' });
    await subscriber(['presence-room'], { userId: 'u1' });
    await subscriber(['presence-room'], { userId: 'u2' });
  });

  test('presence user_count counts distinct users, subscription_count connections', async () => {
    const response = await server.sdk().get({
      path: '/channels/presence-room',
      params: { info: 'user_count,subscription_count' },
    });
    assert.deepEqual(await okJson(response as unknown as Response), {
      occupied: true,
      user_count: 2,
      subscription_count: 3,
    });
    const plain = await server.sdk().get({ path: '/channels/presence-room' });
    assert.deepEqual(await okJson(plain as unknown as Response), { occupied: true });
  });

  test('public channels: subscription_count, occupied, and 400 for user_count', async () => {
    const response = await server.sdk().get({
      path: '/channels/public-room',
      params: { info: 'subscription_count' },
    });
    assert.deepEqual(await okJson(response as unknown as Response), {
      occupied: true,
      subscription_count: 1,
    });
    const empty = await server.sdk().get({ path: '/channels/nobody-here' });
    assert.deepEqual(await okJson(empty as unknown as Response), { occupied: false });
    const emptyCounts = await server.sdk().get({
      path: '/channels/nobody-here',
      params: { info: 'subscription_count' },
    });
    assert.deepEqual(await okJson(emptyCounts as unknown as Response), {
      occupied: false,
      subscription_count: 0,
    });
    const emptyPresence = await server.sdk().get({
      path: '/channels/presence-nobody',
      params: { info: 'user_count,subscription_count' },
    });
    assert.deepEqual(await okJson(emptyPresence as unknown as Response), {
      occupied: false,
      user_count: 0,
      subscription_count: 0,
    });

    const failure = await sdkFailure(
      server.sdk().get({ path: '/channels/public-room', params: { info: 'user_count' } }),
    );
    assert.equal(failure.status, 400);
    assert.match(failure.error, /user_count is only available for presence channels/);
  });

  test('/users lists each presence user once; other channel types → 400', async () => {
    const response = await server.sdk().get({ path: '/channels/presence-room/users' });
    const body = (await okJson(response as unknown as Response)) as { users: { id: string }[] };
    assert.deepEqual(Object.keys(body), ['users']);
    assert.deepEqual(
      [...body.users].sort((x, y) => x.id.localeCompare(y.id)),
      [{ id: 'u1' }, { id: 'u2' }],
    );
    const nobody = await server.sdk().get({ path: '/channels/presence-nobody/users' });
    assert.deepEqual(await okJson(nobody as unknown as Response), { users: [] });
    for (const channel of ['public-room', 'private-room']) {
      const failure = await sdkFailure(server.sdk().get({ path: `/channels/${channel}/users` }));
      assert.equal(failure.status, 400);
      assert.equal(failure.error, `${channel} is not a presence channel`);
    }
  });

  test('an invalid channel name → 400', async () => {
    await assertError(await api('GET', `/channels/${'x'.repeat(165)}`), 400, /^channel "x+"/);
  });
});

describe('unknown app id (§9 item 46)', () => {
  const NOPE = { ...APP, id: 'no-such-app' };

  test('every endpoint answers 404', async () => {
    const requests: [string, 'GET' | 'POST', unknown][] = [
      ['/events', 'POST', { name: 'e', channel: 'c', data: 'd' }],
      ['/batch_events', 'POST', { batch: [{ name: 'e', channel: 'c', data: 'd' }] }],
      ['/channels', 'GET', undefined],
      ['/channels/some-channel', 'GET', undefined],
      ['/channels/presence-some/users', 'GET', undefined],
    ];
    for (const [path, method, body] of requests) {
      await assertError(
        await api(method, path, { credentials: NOPE, body }),
        404,
        /^Unknown app id "no-such-app"$/,
      );
    }
    const failure = await sdkFailure(server.sdk(NOPE).trigger('c', 'e', 'd'));
    assert.equal(failure.status, 404);
  });

  test('the app is looked up before the signature is checked', async () => {
    await assertError(await fetch(`${server.httpUrl}/apps/no-such-app/channels`), 404, /Unknown app id/);
    await assertError(await fetch(`${server.httpUrl}/apps/${APP.id}/channels`), 401, /^Missing auth_key/);
  });
});

describe('event data and socket_id exclusion', () => {
  test('item 22: data strings reach pusher-js and raw clients byte-identical', async () => {
    const pjs = server.client();
    await within(connected(pjs), GUARD_MS, 'pusher-js connection');
    const channel = pjs.subscribe('bytes');
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');
    const { client } = await subscriber(['bytes']);

    const samples = [
      'hello',
      '',
      '{"msg":"héllo \\"wörld\\" 🎉","n":1}',
      '{ "spaced" :  [1, 2.50] }',
      'not "json" \\ at all\n\u2028',
      '"a JSON string"',
    ];
    for (const data of samples) {
      const viaPusherJs = nextEvent<unknown>(channel, 'sample');
      const response = await server.sdk().trigger('bytes', 'sample', data);
      assert.deepEqual(await okJson(response as unknown as Response), {});
      assert.deepEqual(await published(client, 'bytes'), { event: 'sample', channel: 'bytes', data });
      // pusher-js parses data that is JSON and hands anything else over as the string it got.
      const expected = parsedOrSame(data);
      assert.deepEqual(await within(viaPusherJs, GUARD_MS, 'pusher-js event'), expected);
    }
  });

  test('item 23: socket_id excludes exactly that connection', async () => {
    const a = await subscriber(['excl']);
    const b = await subscriber(['excl']);
    const sdk = server.sdk();

    await sdk.trigger('excl', 'first', '1', { socket_id: a.socketId });
    assert.equal((await published(b.client, 'excl')).event, 'first');
    await sdk.trigger('excl', 'second', '2');
    assert.equal((await published(a.client, 'excl')).event, 'second');
    assert.equal((await published(b.client, 'excl')).event, 'second');

    // The same in a batch, excluding the other connection.
    await sdk.triggerBatch([{ channel: 'excl', name: 'third', data: '3', socket_id: b.socketId }]);
    assert.equal((await published(a.client, 'excl')).event, 'third');
    await sdk.trigger('excl', 'fourth', '4');
    assert.equal((await published(b.client, 'excl')).event, 'fourth');
    assert.equal((await published(a.client, 'excl')).event, 'fourth');
  });
});

describe('HTTP behaviour', () => {
  test('keep-alive: several requests over one socket', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (method: 'GET' | 'POST', path: string, body?: unknown) =>
      new Promise<{ status: number; body: string; reused: boolean; port: number }>((resolve, reject) => {
        const text = bodyText(body);
        const req = httpRequest(
          signedUrl(method, path, { body }),
          { method, agent, headers: text ? { 'content-type': 'application/json' } : {} },
          (res) => {
            textOf(res).then(
              (body) =>
                resolve({
                  status: res.statusCode ?? 0,
                  body,
                  reused: req.reusedSocket,
                  port: req.socket?.localPort ?? -1,
                }),
              reject,
            );
          },
        );
        req.on('error', reject);
        req.end(text);
      });
    try {
      const results = [
        await send('GET', '/channels'),
        await send('POST', '/events', { name: 'k', channel: 'keep', data: 'd' }),
        await send('GET', '/channels/keep'),
        await send('POST', '/batch_events', { batch: [{ name: 'k', channel: 'keep', data: 'd' }] }),
      ];
      assert.deepEqual(
        results.map((r) => r.status),
        [200, 200, 200, 200],
        JSON.stringify(results),
      );
      assert.deepEqual(
        results.map((r) => r.reused),
        [false, true, true, true],
      );
      assert.equal(new Set(results.map((r) => r.port)).size, 1);
    } finally {
      agent.destroy();
    }
  });

  test('a body that is not a JSON object → 400', async () => {
    await assertError(await api('POST', '/events', { body: '{"name":' }), 400, /^Request body must be JSON$/);
    await assertError(
      await api('POST', '/events', { body: '[1]' }),
      400,
      /^Request body must be a JSON object$/,
    );
    await assertError(await api('POST', '/batch_events', { body: 'null' }), 400, /JSON object/);
  });

  test('a body streamed past the limit without Content-Length → 413 JSON, and the server serves on', async () => {
    const answer = await new Promise<{ status: number; body: string; connection: string | undefined }>(
      (resolve, reject) => {
        const req = httpRequest(signedUrl('POST', '/events'), { method: 'POST' }, (res) => {
          textOf(res).then(
            (body) => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }),
            reject,
          );
        });
        req.on('error', reject);
        // Chunked: 1 MiB and one byte more, in 64 KiB pieces.
        const piece = Buffer.alloc(64 * 1024, 'x');
        for (let i = 0; i < 16; i++) req.write(piece);
        req.end('x');
      },
    );
    assert.deepEqual(
      [answer.status, JSON.parse(answer.body), answer.connection],
      [413, { error: 'Request body larger than 1048576 bytes' }, 'close'],
    );
    assert.deepEqual(
      await okJson(await api('POST', '/events', { body: { name: 'n', channel: 'c', data: 'd' } })),
      {},
    );
  });

  test('unknown paths → 404 JSON', async () => {
    await assertError(await fetch(`${server.httpUrl}/nope`), 404, /^Not found: \/nope$/);
    await assertError(
      await api('GET', '/not-an-endpoint'),
      404,
      /^Not found: \/apps\/app-id\/not-an-endpoint$/,
    );
  });

  test('a wrong method → 405 JSON with Allow', async () => {
    const response = await api('GET', '/events');
    assert.equal(response.headers.get('allow'), 'POST');
    await assertError(response, 405, /^Method GET not allowed on \/apps\/app-id\/events$/);
    const channels = await fetch(signedUrl('DELETE', '/channels'), { method: 'DELETE' });
    assert.equal(channels.headers.get('allow'), 'GET');
    await assertError(channels, 405, /^Method DELETE not allowed/);
    await assertError(await fetch(`${server.httpUrl}/health`, { method: 'POST' }), 405, /POST not allowed/);
  });

  test('GET /health and GET /ready answer 200 while running', async () => {
    assert.deepEqual(await okJson(await fetch(`${server.httpUrl}/health`)), { status: 'ok' });
    assert.deepEqual(await okJson(await fetch(`${server.httpUrl}/ready`)), { status: 'ready' });
  });

  test('a disabled app → 403', async () => {
    await assertError(
      await api('POST', '/events', { credentials: OFF, body: { name: 'e', channel: 'c', data: 'd' } }),
      403,
      /^App off-id is disabled$/,
    );
    await assertError(await api('GET', '/channels', { credentials: OFF }), 403, /disabled/);
    const failure = await sdkFailure(server.sdk(OFF).trigger('c', 'e', 'd'));
    assert.equal(failure.status, 403);
  });
});

describe('hostile values in signed requests', () => {
  test('a channel that is not a string → 400 naming the field, in channels, channel and batch items', async () => {
    const notString = { toString: 1 };
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['/events', { name: 'e', channels: [notString], data: 'x' }, /^channels\[0\] must be a string$/],
      ['/events', { name: 'e', channels: ['ok', 5], data: 'x' }, /^channels\[1\] must be a string$/],
      ['/events', { name: 'e', channel: notString, data: 'x' }, /^channel must be a string$/],
      ['/events', { name: 'e', channel: null, data: 'x' }, /^channel must be a string$/],
      [
        '/batch_events',
        {
          batch: [
            { name: 'e', channel: 'ok', data: 'x' },
            { name: 'e', channel: notString, data: 'x' },
          ],
        },
        /^batch\[1\]\.channel must be a string$/,
      ],
    ];
    for (const [path, body, message] of cases) {
      await assertError(await api('POST', path, { body }), 400, message);
    }
  });

  test('a timestamp past the range of a Date → 401 quoting it', async () => {
    for (const timestamp of [99_999_999_999_999, 8_640_000_000_001]) {
      await assertError(
        await api('POST', '/events', { body: { name: 'e', channel: 'c', data: 'd' }, timestamp }),
        401,
        new RegExp(
          `^Timestamp expired: Given timestamp \\("${timestamp}"\\) not within 600s of server time \\(\\d{4}-`,
        ),
      );
    }
    // Digits past a double's range: Number() gives Infinity.
    const url = new URL(signedUrl('GET', '/channels'));
    url.searchParams.set('auth_timestamp', '9'.repeat(400));
    await assertError(await fetch(url), 401, /^Timestamp expired: Given timestamp \("9{100}"\)/);
  });

  test('events named pusher:… or pusher_internal:… → 400, and nothing reaches subscribers', async () => {
    const { client } = await subscriber(['presence-reserved'], { userId: 'u1' });
    const refusals: [string, Record<string, unknown>, RegExp][] = [
      [
        '/events',
        { name: 'pusher_internal:member_added', channel: 'presence-reserved', data: '{"user_id":"evil"}' },
        /^name may not start with "pusher_internal:", reserved by the protocol$/,
      ],
      [
        '/events',
        { name: 'pusher:subscription_succeeded', channels: ['presence-reserved'], data: '{}' },
        /^name may not start with "pusher:", reserved by the protocol$/,
      ],
      [
        '/batch_events',
        { batch: [{ name: 'pusher_internal:member_removed', channel: 'presence-reserved', data: '{}' }] },
        /^batch\[0\]\.name may not start with "pusher_internal:"/,
      ],
    ];
    for (const [path, body, message] of refusals) {
      await assertError(await api('POST', path, { body }), 400, message);
    }
    // Names that only look alike are ordinary events.
    await okJson(
      await api('POST', '/events', { body: { name: 'pusher-ish', channel: 'presence-reserved', data: 'd' } }),
    );
    const next = await within(
      client.next(
        (f) => f.channel === 'presence-reserved' && f.event !== 'pusher_internal:subscription_succeeded',
      ),
      GUARD_MS,
      'the next event on presence-reserved',
    );
    assert.equal(next.event, 'pusher-ish');
  });

  test('a channel named __proto__ is listed and counted like any other', async () => {
    await subscriber(['__proto__', 'constructor'], { credentials: PROTO });
    const listed = (await okJson(await api('GET', '/channels', { credentials: PROTO }))) as {
      channels: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(listed.channels).sort(), ['__proto__', 'constructor']);
    assert.deepEqual(Object.getOwnPropertyDescriptor(listed.channels, '__proto__')?.value, {});

    const published = (await okJson(
      await api('POST', '/events', {
        credentials: PROTO,
        body: { name: 'e', channels: ['__proto__', 'toString'], data: 'd', info: 'subscription_count' },
      }),
    )) as { channels: Record<string, unknown> };
    assert.deepEqual(Object.keys(published.channels).sort(), ['__proto__', 'toString']);
    assert.deepEqual(Object.getOwnPropertyDescriptor(published.channels, '__proto__')?.value, {
      subscription_count: 1,
    });
    assert.deepEqual(Object.getOwnPropertyDescriptor(published.channels, 'toString')?.value, {
      subscription_count: 0,
    });
  });
});

/** What pusher-js hands the app: the parsed value when `data` is JSON, else the string itself. */
function parsedOrSame(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}
