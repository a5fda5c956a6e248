import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import PusherServer from 'pusher';
import { APP, pusherClient, startHerald, type TestHerald } from '../helpers/herald.js';
import { publishOrders, RecoveringClient, range } from '../helpers/recovery.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/wait.js';

/**
 * A channel's stream through the HTTP API (`GET /apps/{id}/channels/{name}/events`, docs/recovery.md)
 * asked by the `pusher` SDK, and encrypted channels, whose stream holds the ciphertext: the HTTP API
 * hands it out as published, and a pusher-js client that recovers decrypts the replay.
 */

const GUARD_MS = 20_000;

interface EventsAnswer {
  epoch: string | null;
  newest_offset: number;
  complete: boolean;
  events: { offset: number; event: string; data: string }[];
}

let server: TestHerald;
let sdk: PusherServer;

before(async () => {
  server = await startHerald({
    apps: [
      {
        ...APP,
        maxBatchSize: 100,
        history: {
          streams: [
            { channels: ['small-*'], maxEvents: 3 },
            { channels: ['orders-*', 'private-encrypted-*'], maxEvents: 500 },
          ],
        },
      },
    ],
  });
  sdk = server.sdk();
});

after(async () => {
  await server?.stop();
});

/** `GET …/channels/{channel}/events` with `params`, signed by the SDK: the status and the JSON body. */
async function events(channel: string, params: Record<string, string | number> = {}) {
  const response = await sdk.get({ path: `/channels/${channel}/events`, params }).catch((err: unknown) => {
    const { status, body } = err as { status: number; body: string };
    return { status, text: async () => body };
  });
  return {
    status: response.status,
    body: JSON.parse(await response.text()) as EventsAnswer & { error?: string },
  };
}

describe('GET /apps/{id}/channels/{name}/events', () => {
  test('the events after since_offset, page by page, with the epoch and the newest offset', async () => {
    await publishOrders(sdk, 'orders-1', 1, 250);
    const first = await events('orders-1', { limit: 100 });
    assert.equal(first.status, 200);
    assert.equal(first.body.complete, true);
    assert.equal(first.body.newest_offset, 250);
    assert.match(first.body.epoch ?? '', /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(first.body.events.slice(0, 2), [
      { offset: 1, event: 'order', data: '{"n":1}' },
      { offset: 2, event: 'order', data: '{"n":2}' },
    ]);
    const seen: number[] = [];
    let since = 0;
    for (;;) {
      const page = await events('orders-1', { since_offset: since, epoch: first.body.epoch!, limit: 100 });
      assert.equal(page.body.complete, true);
      if (page.body.events.length === 0) break;
      for (const e of page.body.events) seen.push((JSON.parse(e.data) as { n: number }).n);
      since = page.body.events.at(-1)!.offset;
    }
    assert.deepEqual(seen, range(1, 250));
  });

  test('complete is false past what the channel keeps, and for another epoch', async () => {
    await publishOrders(sdk, 'small-1', 1, 10);
    const kept = await events('small-1', { since_offset: 2 });
    assert.equal(kept.body.complete, false);
    assert.deepEqual(
      kept.body.events.map((e) => e.offset),
      [8, 9, 10],
      'what is kept, from the oldest',
    );
    assert.equal((await events('small-1', { since_offset: 7 })).body.complete, true);
    const other = await events('small-1', { since_offset: 9, epoch: 'another-epoch' });
    assert.equal(other.body.complete, false);
    const none = await events('orders-nothing-yet');
    assert.deepEqual(none.body, { epoch: null, newest_offset: 0, complete: true, events: [] });
  });

  test('a channel that keeps no stream: 404; bad parameters: 400 with the reason', async () => {
    const unkept = await events('news');
    assert.equal(unkept.status, 404);
    assert.match(unkept.body.error!, /keeps no history/);
    const bad = await events('orders-1', { since_offset: -1 });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error!, /since_offset/);
  });
});

describe('encrypted channels', () => {
  const masterKey = randomBytes(32).toString('base64');
  let proxy: TcpProxy;
  let encrypting: PusherServer;

  before(async () => {
    proxy = await TcpProxy.start(server.httpUrl, 0);
    encrypting = new PusherServer({
      appId: APP.id,
      key: APP.key,
      secret: APP.secret,
      host: '127.0.0.1',
      port: String(server.port),
      useTLS: false,
      encryptionMasterKeyBase64: masterKey,
    });
  });

  after(async () => {
    await proxy?.close();
  });

  test('the stream holds the ciphertext; a recovering pusher-js client decrypts the replay', async () => {
    const channel = 'private-encrypted-orders';
    const a = new RecoveringClient(
      pusherClient(proxy.port, APP.key, {
        channelAuthorization: {
          endpoint: '/unused',
          transport: 'ajax',
          customHandler: ({ socketId, channelName }, callback) =>
            callback(null, encrypting.authorizeChannel(socketId, channelName)),
        },
      }),
    );
    try {
      await a.subscribe(channel);
      await encrypting.trigger(channel, 'order', { n: 1 });
      await until(() => a.got(channel).length === 1, 'event 1', GUARD_MS);
      proxy.cut();
      for (const n of [2, 3]) await encrypting.trigger(channel, 'order', { n });
      proxy.release();
      assert.equal((await a.nextResumed(channel)).recovered, true);
      assert.deepEqual(a.got(channel), [1, 2, 3]);

      const stored = await events(channel);
      assert.equal(stored.body.events.length, 3);
      for (const e of stored.body.events) {
        const wire = JSON.parse(e.data) as Record<string, unknown>;
        assert.deepEqual(Object.keys(wire).sort(), ['ciphertext', 'nonce'], 'only the ciphertext is kept');
      }
    } finally {
      a.disconnect();
    }
  });
});
