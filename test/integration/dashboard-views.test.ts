import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as pause } from 'node:timers/promises';
import { hashPassword } from '../../src/dashboard/auth.js';
import { closeAutobahn, openAutobahn } from '../helpers/autobahn.js';
import { dashboardSession } from '../helpers/dashboard.js';
import { APP, connected, nextEvent, sdkAuthorizer, startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';

/** The dashboard's views over HTTP, against a real server with pusher-js, the Pusher SDK and autobahn. */

const PASSWORD = 'views test password';
const TICKET = 'joe-ticket-9f2a';
const GUARD_MS = 5000;

interface Sample {
  t: number;
  connections: number;
  messagesIn: number;
  messagesOut: number;
  apiRequests: number;
  webhookFailures: number;
}

/** Asks `read` again (every 50 ms, a poll interval, not a wait for time) until it gives a value. */
async function eventually<T>(read: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await pause(50);
  }
}

describe("the dashboard's views", () => {
  let server: TestHerald;
  let cookie: string;

  const get = async (path: string, withCookie = true) =>
    fetch(`${server.httpUrl}/dashboard/api${path}`, { headers: withCookie ? { cookie } : {} });
  const json = async <T>(path: string): Promise<T> => {
    const response = await get(path);
    assert.equal(response.status, 200, `${path}: ${response.status}`);
    return (await response.json()) as T;
  };
  const post = (path: string, body: unknown, withCookie = true) =>
    fetch(`${server.httpUrl}/dashboard/api${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(withCookie ? { cookie } : {}) },
      body: JSON.stringify(body),
    });

  before(async () => {
    server = await startHerald({
      dashboard: { enabled: true, users: [{ name: 'ada', passwordHash: await hashPassword(PASSWORD) }] },
      wamp: {
        realms: [
          {
            name: 'realm1',
            roles: [
              {
                name: 'user',
                permissions: [
                  {
                    uri: 'com.',
                    match: 'prefix',
                    allow: { call: true, register: true, publish: true, subscribe: true },
                  },
                ],
              },
            ],
          },
        ],
        auth: { ticket: { principals: { joe: { ticket: TICKET, role: 'user' } } } },
      },
    });
    cookie = await dashboardSession(server.httpUrl, 'ada', PASSWORD);
  });
  after(() => server.stop());

  test('without a session every view answers 401', async () => {
    const paths = [
      '/apps',
      `/apps/${APP.id}/stats`,
      `/apps/${APP.id}/channels`,
      `/apps/${APP.id}/channels/room`,
      '/realms',
      '/realms/realm1',
    ];
    for (const path of paths) {
      const response = await get(path, false);
      assert.equal(response.status, 401, path);
      assert.deepEqual(await response.json(), { error: 'Sign in to the dashboard first' });
    }
    const refused = await post(`/apps/${APP.id}/events`, { channel: 'room', event: 'e', data: '1' }, false);
    assert.equal(refused.status, 401);
  });

  test('the apps list has the configured app; an unknown app is 404', async () => {
    assert.deepEqual(await json('/apps'), { apps: [{ id: APP.id, key: APP.key, enabled: true }] });
    const unknown = await get('/apps/nope/channels');
    assert.equal(unknown.status, 404);
    assert.deepEqual(await unknown.json(), { error: 'Unknown app id "nope"' });
  });

  test('the stats show a pusher-js connection and an SDK trigger within seconds', async () => {
    const client = server.client();
    await within(connected(client), GUARD_MS, 'pusher-js to connect');
    const channel = client.subscribe('stats-room');
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');
    await server.sdk().trigger('stats-room', 'tick', { n: 1 });
    const seen = { connection: false, api: false, out: false, in: false };
    const body = await eventually(async () => {
      const stats = await json<{ intervalMs: number; samples: Sample[] }>(`/apps/${APP.id}/stats`);
      for (const s of stats.samples) {
        seen.connection ||= s.connections >= 1;
        seen.api ||= s.apiRequests >= 1;
        seen.out ||= s.messagesOut >= 1;
        seen.in ||= s.messagesIn >= 1;
      }
      return Object.values(seen).every(Boolean) ? stats : undefined;
    }, 'the connection and the trigger in the samples');
    assert.equal(body.intervalMs, 1000);
    const times = body.samples.map((s) => s.t);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'oldest first',
    );
    assert.ok(times.every((t) => t % 1000 === 0 && t > Date.now() - 15 * 60_000 - 1000));
    client.disconnect();
  });

  test('the channels list shows occupied channels with their counts, filtered by a substring', async () => {
    const client = server.client();
    await within(connected(client), GUARD_MS, 'pusher-js to connect');
    for (const name of ['list-alpha', 'list-beta', 'elsewhere']) {
      await within(nextEvent(client.subscribe(name), 'pusher:subscription_succeeded'), GUARD_MS, name);
    }
    const { channels } = await json<{
      channels: { name: string; subscriptionCount: number; kind: string }[];
    }>(`/apps/${APP.id}/channels?filter=list-`);
    assert.deepEqual(channels, [
      { name: 'list-alpha', subscriptionCount: 1, kind: 'public' },
      { name: 'list-beta', subscriptionCount: 1, kind: 'public' },
    ]);
    const all = await json<{ channels: { name: string }[] }>(`/apps/${APP.id}/channels`);
    assert.ok(all.channels.some((c) => c.name === 'elsewhere'));
    client.disconnect();
  });

  test("a presence channel's detail lists its member with the user_info", async () => {
    const authorizer = sdkAuthorizer(server.sdk(), () => ({ user_id: 'u-17', user_info: { name: 'Grace' } }));
    const client = server.client(authorizer);
    await within(connected(client), GUARD_MS, 'pusher-js to connect');
    const channel = client.subscribe('presence-lobby');
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'presence subscription');
    const detail = await json<Record<string, unknown>>(`/apps/${APP.id}/channels/presence-lobby`);
    assert.deepEqual(detail, {
      name: 'presence-lobby',
      subscriptionCount: 1,
      kind: 'presence',
      members: [{ id: 'u-17', info: { name: 'Grace' } }],
    });
    client.disconnect();
  });

  test("a cache channel's detail shows its last event; an invalid name is 400", async () => {
    await server.sdk().trigger('cache-news', 'headline', { title: 'hello' });
    const detail = await json<Record<string, unknown>>(`/apps/${APP.id}/channels/cache-news`);
    assert.deepEqual(detail, {
      name: 'cache-news',
      subscriptionCount: 0,
      kind: 'cache',
      cached: { event: 'headline', data: JSON.stringify({ title: 'hello' }) },
    });
    const empty = await json<Record<string, unknown>>(`/apps/${APP.id}/channels/cache-empty`);
    assert.equal(empty.cached, null);
    const bad = await get(`/apps/${APP.id}/channels/${encodeURIComponent('bad name!')}`);
    assert.equal(bad.status, 400);
  });

  test("the event creator's event reaches a subscriber; invalid input gets the HTTP API's refusals", async () => {
    const client = server.client();
    await within(connected(client), GUARD_MS, 'pusher-js to connect');
    const channel = client.subscribe('created');
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');
    const received = nextEvent(channel, 'made-here');
    const response = await post(`/apps/${APP.id}/events`, {
      channel: 'created',
      event: 'made-here',
      data: '{"a":1}',
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { ok: true });
    assert.deepEqual(await within(received, GUARD_MS, 'the created event'), { a: 1 });

    const refusals: [unknown, number, string][] = [
      [{ channel: 'created', data: 'x' }, 400, 'name must be a non-empty string'],
      [{ channel: 'created', event: 'e', data: { not: 'a string' } }, 400, 'data must be a string'],
      [{ event: 'e', data: 'x' }, 400, 'channel is required'],
      [{ channel: 'created', event: 'pusher:fake', data: 'x' }, 400, ''],
      [
        { channel: 'created', event: 'e', data: 'x'.repeat(20_000) },
        413,
        'data is 20000 bytes, over the limit of 10240',
      ],
    ];
    for (const [body, status, message] of refusals) {
      const refused = await post(`/apps/${APP.id}/events`, body);
      assert.equal(refused.status, status, JSON.stringify(body).slice(0, 80));
      const { error } = (await refused.json()) as { error: string };
      if (message) assert.equal(error, message);
      else assert.ok(error.length > 0);
    }
    const badChannel = await post(`/apps/${APP.id}/events`, { channel: 'bad name', event: 'e', data: 'x' });
    assert.equal(badChannel.status, 400);
    assert.deepEqual(await badChannel.json(), {
      error: 'channel "bad name": channel name may only contain A-Z, a-z, 0-9, _, -, =, @, ",", . and ;',
    });
    const notJson = await fetch(`${server.httpUrl}/dashboard/api/apps/${APP.id}/events`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', cookie },
      body: '{oops',
    });
    assert.equal(notJson.status, 400);
    assert.deepEqual(await notJson.json(), { error: 'Request body must be JSON' });
    client.disconnect();
  });

  test('a WAMP session shows in its realm with its authid, authrole, subscription and registration', async () => {
    const { connection, session } = await openAutobahn({
      url: `ws://127.0.0.1:${server.port}/ws`,
      realm: 'realm1',
      authmethods: ['ticket'],
      authid: 'joe',
      onchallenge: () => TICKET,
    });
    try {
      await session.subscribe('com.example.news', () => {});
      await session.register('com.example.add', (args: unknown[]) => (args as number[])[0]! + 1);
      const { realms } = await json<{ realms: { name: string; sessions: number }[] }>('/realms');
      assert.deepEqual(realms, [{ name: 'realm1', sessions: 1 }]);
      const realm = await json<{
        name: string;
        sessions: { id: number; authid: string; authrole: string }[];
        subscriptions: unknown[];
        registrations: unknown[];
      }>('/realms/realm1');
      assert.equal(realm.name, 'realm1');
      assert.deepEqual(realm.sessions, [{ id: session.id, authid: 'joe', authrole: 'user' }]);
      assert.deepEqual(realm.subscriptions, [{ topic: 'com.example.news', match: 'exact', subscribers: 1 }]);
      assert.deepEqual(realm.registrations, [{ procedure: 'com.example.add', match: 'exact', callees: 1 }]);
      const unknown = await get('/realms/nowhere');
      assert.equal(unknown.status, 404);
    } finally {
      await closeAutobahn(connection);
    }
  });
});
