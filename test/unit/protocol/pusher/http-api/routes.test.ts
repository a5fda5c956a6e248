import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import PusherSdk from 'pusher';
import type { AppConfig } from '../../../../../src/config/schema.js';
import type { App } from '../../../../../src/core/apps/app.js';
import { StaticAppStore } from '../../../../../src/core/apps/static-store.js';
import type { CachedEvent } from '../../../../../src/core/cache/store.js';
import type { HistoryPage } from '../../../../../src/core/channel-history/store.js';
import type { PresenceMember } from '../../../../../src/core/presence/store.js';
import { Router } from '../../../../../src/http/router.js';
import { addPusherHttpApi } from '../../../../../src/protocol/pusher/http-api/routes.js';
import type { PusherQueries } from '../../../../../src/protocol/pusher/queries.js';
import { silent, testApp } from '../harness.js';

/**
 * The HTTP API routes on a fake `PusherQueries`, called through the router without a socket; every
 * request signed by the `pusher` SDK.
 */

/** Answers from tables the test fills, and a record of every call. */
class FakeQueries implements PusherQueries {
  readonly calls: unknown[][] = [];
  /** Channel → subscribed connections on the cluster. */
  readonly counts = new Map<string, number>();
  /** Presence channel → its user ids. */
  readonly members = new Map<string, string[]>();
  readonly cache = new Map<string, { event: CachedEvent; ttlMs: number }>();

  async publish(_app: App, channel: string, event: string, data: string, except?: string) {
    this.calls.push(['publish', channel, event, data, except]);
  }
  async subscriptions(_app: App, channel: string) {
    this.calls.push(['subscriptions', channel]);
    return this.counts.get(channel) ?? 0;
  }
  async channelCounts(_app: App, prefix: string) {
    this.calls.push(['channelCounts', prefix]);
    return new Map([...this.counts].filter(([channel]) => channel.startsWith(prefix)));
  }
  async connections() {
    return 0;
  }
  async presenceMembers(_app: App, channel: string): Promise<PresenceMember[]> {
    return (this.members.get(channel) ?? []).map((userId) => ({ userId, info: null }));
  }
  async presenceCount(_app: App, channel: string) {
    this.calls.push(['presenceCount', channel]);
    return this.members.get(channel)?.length ?? 0;
  }
  async cached(_app: App, channel: string) {
    return this.cache.get(channel);
  }
  async terminateUser(_app: App, userId: string) {
    this.calls.push(['terminateUser', userId]);
  }
  /** The page each stream read answers; undefined: the server keeps no streams. */
  page: HistoryPage | undefined = { position: undefined, events: [], complete: true };
  async streamEvents(_app: App, channel: string, after: { epoch?: string; offset: number }, limit: number) {
    this.calls.push(['streamEvents', channel, after, limit]);
    return this.page;
  }
}

/** Streams of the channels `orders-*`. */
const ORDERS_HISTORY = {
  streams: [{ channels: ['orders-*'], maxEvents: 100, ttlSeconds: 300 }],
  resumeTtlSeconds: 120,
};

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

function setUp(config: Partial<AppConfig> = {}, nodes = 1, pathPrefix = '') {
  const app = testApp(config);
  const disabled = testApp({ id: 'off', key: 'off-key', secret: 'off-secret', enabled: false });
  const queries = new FakeQueries();
  const router = new Router(silent, 1024 * 1024);
  addPusherHttpApi(router, {
    apps: new StaticAppStore([app, disabled]),
    queries,
    maxTimestampSkewSeconds: 600,
    now: Date.now,
    nodes: () => nodes,
    pathPrefix,
  });
  const sdk = new PusherSdk({ appId: app.id, key: app.key, secret: app.secret, cluster: 'mt1' });

  /** Sends `method path?query` with `body` to the router as Node's HTTP server would. */
  const raw = (method: string, target: string, body = ''): Promise<Answer> => {
    const req = Object.assign(Readable.from(body ? [Buffer.from(body)] : []), {
      method,
      url: target,
      httpVersion: '1.1',
      headers: { host: 'localhost', 'content-length': String(Buffer.byteLength(body)) },
    }) as unknown as IncomingMessage;
    return new Promise((resolve) => {
      const res = {
        status: 0,
        headersSent: false,
        setHeader() {},
        writeHead(code: number) {
          res.status = code;
          res.headersSent = true;
        },
        end(text: string) {
          resolve({ status: res.status, body: JSON.parse(text) as Record<string, unknown> });
        },
      };
      router.listener(req, res as unknown as ServerResponse);
    });
  };

  /**
   * A request to `prefix` + `/apps/{id}` + `path`, signed by the SDK over `signedPrefix` + the same
   * (the prefix by default, as a client that puts a path before `/apps` signs it); `params` go in the
   * query, `body` (JSON) is the body.
   */
  const sent = (
    at: { prefix: string; signedPrefix?: string },
    method: 'GET' | 'POST',
    path: string,
    params: Record<string, string> = {},
    body?: unknown,
  ) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    const full = `/apps/${app.id}${path}`;
    const query = sdk.createSignedQueryString({
      method,
      path: (at.signedPrefix ?? at.prefix) + full,
      params,
      ...(text ? { body: text } : {}),
    });
    return raw(method, `${at.prefix}${full}?${query}`, text);
  };
  /** A request signed by the SDK; `params` go in the query, `body` (JSON) is the body. */
  const signed = (
    method: 'GET' | 'POST',
    path: string,
    params: Record<string, string> = {},
    body?: unknown,
  ) => sent({ prefix: '' }, method, path, params, body);
  /** A signed POST with `body` as JSON. */
  const post = (path: string, body: unknown) => signed('POST', path, {}, body);
  return { app, queries, router, raw, sent, signed, post };
}

describe('publishing', () => {
  test('POST /events: 200 {}, one publish per channel with the socket_id to leave out', async () => {
    const { queries, post } = setUp();
    const answer = await post('/events', {
      name: 'greet',
      channels: ['a', 'b'],
      data: '{"hi":1}',
      socket_id: '1.2',
    });
    assert.deepEqual(answer, { status: 200, body: {} });
    assert.deepEqual(queries.calls, [
      ['publish', 'a', 'greet', '{"hi":1}', '1.2'],
      ['publish', 'b', 'greet', '{"hi":1}', '1.2'],
    ]);
  });

  test('POST /events with info: the counts per channel, user_count for presence channels only', async () => {
    const { queries, post } = setUp();
    queries.counts.set('presence-room', 3).set('news', 5);
    queries.members.set('presence-room', ['u1', 'u2']);
    const info = 'user_count,subscription_count';
    const answer = await post('/events', {
      name: 'e',
      channels: ['presence-room', 'news'],
      data: 'd',
      info,
    });
    assert.deepEqual(answer, {
      status: 200,
      body: {
        channels: {
          'presence-room': { user_count: 2, subscription_count: 3 },
          news: { subscription_count: 5 },
        },
      },
    });
  });

  test('POST /batch_events: each event published; info answered in request order', async () => {
    const { queries, post } = setUp();
    queries.counts.set('x', 1);
    const batch = [
      { name: 'one', channel: 'x', data: '1', info: 'subscription_count' },
      { name: 'two', channel: 'y', data: '2' },
    ];
    const answer = await post('/batch_events', { batch });
    assert.deepEqual(answer, { status: 200, body: { batch: [{ subscription_count: 1 }, {}] } });
    assert.deepEqual(
      queries.calls.filter((c) => c[0] === 'publish').map((c) => c[2]),
      ['one', 'two'],
    );
  });

  test('invalid events: 400 naming the problem, nothing published; data over the limit: 413', async () => {
    const { queries, post } = setUp({ maxEventPayloadBytes: 10 });
    const noName = await post('/events', { channels: ['a'], data: 'd' });
    assert.equal(noName.status, 400);
    assert.match(String(noName.body.error), /name/);
    const reserved = await post('/events', { name: 'pusher:x', channel: 'a', data: 'd' });
    assert.equal(reserved.status, 400);
    const recovery = await post('/events', { name: 'herald:resumed', channel: 'a', data: 'd' });
    assert.equal(recovery.status, 400);
    assert.match(String(recovery.body.error), /"herald:", reserved/);
    const large = await post('/events', { name: 'e', channel: 'a', data: 'x'.repeat(11) });
    assert.equal(large.status, 413);
    assert.deepEqual(queries.calls, []);
  });
});

describe('channels', () => {
  test('GET /channels asks the cluster once for all the channels and their counts; user channels are left out', async () => {
    const { queries, signed } = setUp();
    queries.counts.set('news', 2).set('presence-room', 3).set('#server-to-user-u1', 1);
    const answer = await signed('GET', '/channels', { info: 'subscription_count' });
    assert.deepEqual(answer, {
      status: 200,
      body: { channels: { news: { subscription_count: 2 }, 'presence-room': { subscription_count: 3 } } },
    });
    assert.deepEqual(queries.calls, [['channelCounts', '']]);
  });

  test('GET /channels with a presence- prefix and user_count; without the prefix: 400', async () => {
    const { queries, signed } = setUp();
    queries.counts.set('news', 2).set('presence-room', 3);
    queries.members.set('presence-room', ['u1']);
    const presence = await signed('GET', '/channels', { filter_by_prefix: 'presence-', info: 'user_count' });
    assert.deepEqual(presence, { status: 200, body: { channels: { 'presence-room': { user_count: 1 } } } });
    const plain = await signed('GET', '/channels', { filter_by_prefix: 'news' });
    assert.deepEqual(plain, { status: 200, body: { channels: { news: {} } } });
    const refused = await signed('GET', '/channels', { info: 'user_count' });
    assert.equal(refused.status, 400);
    assert.match(String(refused.body.error), /requires filter_by_prefix/);
  });

  test('GET /channels/{name}: occupied, the counts and the cached event; an empty channel is not occupied', async () => {
    const { queries, signed } = setUp();
    queries.counts.set('cache-prices', 2);
    queries.cache.set('cache-prices', { event: { event: 'price', data: '{"eur":1}' }, ttlMs: 59_001 });
    const info = { info: 'subscription_count,cache' };
    assert.deepEqual(await signed('GET', '/channels/cache-prices', info), {
      status: 200,
      body: { occupied: true, subscription_count: 2, cache: { data: '{"eur":1}', ttl: 60 } },
    });
    assert.deepEqual(await signed('GET', '/channels/cache-empty', info), {
      status: 200,
      body: { occupied: false, subscription_count: 0, cache: null },
    });
    const notCache = await signed('GET', '/channels/news', { info: 'cache' });
    assert.equal(notCache.status, 400);
  });

  test('GET /channels/{name}/users: the presence members; other channels 400', async () => {
    const { queries, signed } = setUp();
    queries.members.set('presence-room', ['u1', 'u2']);
    assert.deepEqual(await signed('GET', '/channels/presence-room/users'), {
      status: 200,
      body: { users: [{ id: 'u1' }, { id: 'u2' }] },
    });
    assert.equal((await signed('GET', '/channels/news/users')).status, 400);
  });

  test('GET /channels/{name}/events: the page of the stream after since_offset, data as published', async () => {
    const { queries, signed } = setUp({ history: ORDERS_HISTORY });
    queries.page = {
      position: { epoch: 'E1', offset: 9 },
      complete: true,
      events: [
        { offset: 8, text: '{"event":"order","channel":"orders-1","data":"{\\"n\\":8}"}' },
        {
          offset: 9,
          text: '{"event":"client-said","channel":"orders-1","data":{"n":9},"user_id":"u1"}',
          except: '1.1',
        },
      ],
    };
    const answer = await signed('GET', '/channels/orders-1/events', {
      since_offset: '7',
      epoch: 'E1',
      limit: '2',
    });
    assert.deepEqual(answer, {
      status: 200,
      body: {
        epoch: 'E1',
        newest_offset: 9,
        complete: true,
        events: [
          { offset: 8, event: 'order', data: '{"n":8}' },
          { offset: 9, event: 'client-said', data: '{"n":9}', user_id: 'u1' },
        ],
      },
    });
    assert.deepEqual(queries.calls.at(-1), ['streamEvents', 'orders-1', { epoch: 'E1', offset: 7 }, 2]);
    queries.page = { position: undefined, events: [], complete: true };
    const none = await signed('GET', '/channels/orders-2/events');
    assert.deepEqual(none.body, { epoch: null, newest_offset: 0, complete: true, events: [] });
    assert.deepEqual(queries.calls.at(-1), [
      'streamEvents',
      'orders-2',
      { epoch: undefined, offset: 0 },
      100,
    ]);
  });

  test('GET /channels/{name}/events: bad parameters 400, a channel without a stream 404, no store 501', async () => {
    const { queries, signed } = setUp({ history: ORDERS_HISTORY });
    const bad: [Record<string, string>, RegExp][] = [
      [{ since_offset: '-1' }, /since_offset/],
      [{ since_offset: '1.5' }, /since_offset/],
      [{ since_offset: '9007199254740992' }, /since_offset/],
      [{ since_offset: '' }, /since_offset/],
      [{ epoch: 'a b' }, /epoch/],
      [{ epoch: '' }, /epoch/],
      [{ limit: '0' }, /limit/],
      [{ limit: '1001' }, /limit/],
      [{ limit: 'ten' }, /limit/],
    ];
    for (const [params, error] of bad) {
      const answer = await signed('GET', '/channels/orders-1/events', params);
      assert.equal(answer.status, 400, JSON.stringify(params));
      assert.match(String(answer.body.error), error);
    }
    const unkept = await signed('GET', '/channels/news/events');
    assert.equal(unkept.status, 404);
    assert.match(String(unkept.body.error), /news keeps no history/);
    const badName = await signed('GET', '/channels/a%20b/events');
    assert.equal(badName.status, 400);
    assert.deepEqual(queries.calls, [], 'no stream was read');
    queries.page = undefined;
    assert.equal((await signed('GET', '/channels/orders-1/events')).status, 501);
    const without = setUp();
    assert.equal((await without.signed('GET', '/channels/orders-1/events')).status, 404);
  });

  test('POST /users/{id}/terminate_connections: 200 {}, the user terminated on the cluster', async () => {
    const { queries, post } = setUp();
    assert.deepEqual(await post('/users/u%201/terminate_connections', {}), {
      status: 200,
      body: {},
    });
    assert.deepEqual(queries.calls, [['terminateUser', 'u 1']]);
  });
});

describe('request checks', () => {
  test('unsigned or badly signed: 401; unknown app: 404; disabled app: 403', async () => {
    const { app, raw, signed } = setUp();
    const unsigned = await raw('GET', `/apps/${app.id}/channels`);
    assert.equal(unsigned.status, 401);
    const forged = await raw(
      'GET',
      `/apps/${app.id}/channels?auth_key=${app.key}&auth_timestamp=${Math.floor(Date.now() / 1000)}&auth_version=1.0&auth_signature=${'0'.repeat(64)}`,
    );
    assert.equal(forged.status, 401);
    assert.match(String(forged.body.error), /^Invalid signature/);
    assert.equal((await raw('GET', '/apps/nope/channels')).status, 404);

    const off = new PusherSdk({ appId: 'off', key: 'off-key', secret: 'off-secret', cluster: 'mt1' });
    const query = off.createSignedQueryString({ method: 'GET', path: '/apps/off/channels' });
    assert.equal((await raw('GET', `/apps/off/channels?${query}`)).status, 403);
    assert.equal((await signed('GET', '/channels')).status, 200);
  });

  test("over the app's maxHttpRequestsPerSecond, shared by the nodes: 429", async () => {
    const { signed } = setUp({ maxHttpRequestsPerSecond: 4 }, 2);
    assert.equal((await signed('GET', '/channels')).status, 200);
    assert.equal((await signed('GET', '/channels')).status, 200);
    const limited = await signed('GET', '/channels');
    assert.equal(limited.status, 429);
    assert.match(String(limited.body.error), /across 2 nodes/);
  });
});

describe('under pathPrefix', () => {
  /** Each route with a request it answers 200. */
  const requests: [method: 'GET' | 'POST', path: string, params: Record<string, string>, body?: unknown][] = [
    ['POST', '/events', {}, { name: 'e', channel: 'news', data: 'd' }],
    ['POST', '/batch_events', {}, { batch: [{ name: 'e', channel: 'news', data: 'd' }] }],
    ['GET', '/channels', { info: 'subscription_count' }],
    ['GET', '/channels/news', {}],
    ['GET', '/channels/presence-room/users', {}],
    ['POST', '/users/u1/terminate_connections', {}, {}],
  ];

  test('every route answers under the prefix, signed over the path with it, and at /apps/… as before', async () => {
    const { queries, sent } = setUp({}, 1, '/realtime');
    for (const prefix of ['/realtime', '']) {
      for (const [method, path, params, body] of requests) {
        const answer = await sent({ prefix }, method, path, params, body);
        assert.equal(answer.status, 200, `${method} ${prefix}/apps/…${path}: ${JSON.stringify(answer.body)}`);
      }
    }
    const published = queries.calls.filter((c) => c[0] === 'publish');
    assert.deepEqual(published, Array(4).fill(['publish', 'news', 'e', 'd', undefined]));
    assert.deepEqual(
      queries.calls.filter((c) => c[0] === 'terminateUser'),
      [
        ['terminateUser', 'u1'],
        ['terminateUser', 'u1'],
      ],
    );
  });

  test('sent under the prefix and signed without it (as pusher-http-php signs): accepted', async () => {
    const { queries, sent } = setUp({}, 1, '/realtime');
    const event = { name: 'e', channel: 'news', data: 'd' };
    const withoutPrefix = await sent({ prefix: '/realtime', signedPrefix: '' }, 'POST', '/events', {}, event);
    assert.equal(withoutPrefix.status, 200, JSON.stringify(withoutPrefix.body));
    assert.deepEqual(queries.calls, [['publish', 'news', 'e', 'd', undefined]]);
  });

  test('signed over another path, or under the prefix but sent without it: 401 with the string to sign, nothing published', async () => {
    const { app, queries, sent } = setUp({}, 1, '/realtime');
    const event = { name: 'e', channel: 'news', data: 'd' };
    const elsewhere = await sent(
      { prefix: '/realtime', signedPrefix: '/other' },
      'POST',
      '/events',
      {},
      event,
    );
    assert.equal(elsewhere.status, 401);
    assert.match(String(elsewhere.body.error), /^Invalid signature/);
    assert.ok(String(elsewhere.body.error).includes(`POST\\n/realtime/apps/${app.id}/events\\n`));
    const prefixOnlySigned = await sent(
      { prefix: '', signedPrefix: '/realtime' },
      'POST',
      '/events',
      {},
      event,
    );
    assert.equal(prefixOnlySigned.status, 401);
    assert.match(String(prefixOnlySigned.body.error), /^Invalid signature/);
    assert.deepEqual(queries.calls, []);
  });

  test('the prefix is matched as it is written; without pathPrefix a prefixed path is unknown', async () => {
    const dotted = setUp({}, 1, '/rt.v1');
    assert.equal((await dotted.sent({ prefix: '/rt.v1' }, 'GET', '/channels')).status, 200);
    assert.equal((await dotted.sent({ prefix: '/rtXv1' }, 'GET', '/channels')).status, 404);
    const plain = setUp();
    assert.equal((await plain.sent({ prefix: '/realtime' }, 'GET', '/channels')).status, 404);
    assert.equal((await plain.signed('GET', '/channels')).status, 200);
  });

  test('the requests are counted by the prefixed template, apart from those without the prefix', async () => {
    const { app, router, sent } = setUp({}, 1, '/realtime');
    await sent({ prefix: '/realtime' }, 'GET', '/channels');
    await sent({ prefix: '' }, 'GET', '/channels');
    const counted = [...router.counts.entries()].map((c) => `${c.route} ${c.app} ${c.status} ${c.count}`);
    assert.deepEqual(counted.sort(), [
      `GET /apps/:id/channels ${app.id} 200 1`,
      `GET /realtime/apps/:id/channels ${app.id} 200 1`,
    ]);
  });
});
