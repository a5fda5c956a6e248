import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import Echo from 'laravel-echo';
import type PusherServer from 'pusher';
import { APP, pusherClient, sdkAuthorizer, startHerald, type TestHerald } from '../helpers/herald.js';
import { type PresenceChannel, Pusher } from '../helpers/pusher-js.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { publishOrders, RecoveringClient, range } from '../helpers/recovery.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/wait.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * Message recovery across reconnects (docs/recovery.md) with unmodified pusher-js in Node and Laravel
 * Echo, each with the recovery helper (packages/herald-recovery), connected through a TCP proxy that
 * cuts the connection mid-stream and holds the reconnection while the test publishes: what was
 * published meanwhile arrives after the reconnection exactly once and in order, and every way
 * recovery is impossible ends in `recovered: false`.
 */

const GUARD_MS = 20_000;
const RESUME_TTL_SECONDS = 60;

const HISTORY = {
  streams: [
    { channels: ['small-*'], maxEvents: 3, ttlSeconds: 300 },
    { channels: ['burst-*'], maxEvents: 20_000, ttlSeconds: 300 },
    { channels: ['orders-*', 'private-*', 'presence-*', 'cache-*'], maxEvents: 1000, ttlSeconds: 300 },
  ],
  resumeTtlSeconds: RESUME_TTL_SECONDS,
};

let server: TestHerald;
let sdk: PusherServer;
let proxy: TcpProxy;
let receiver: WebhookReceiver;
/** The server's clock runs this far ahead of the real one (the expired-token case moves it). */
let ahead = 0;
const clients: RecoveringClient[] = [];

before(async () => {
  receiver = await WebhookReceiver.start();
  server = await startHerald(
    {
      apps: [
        {
          ...APP,
          clientEvents: true,
          maxBatchSize: 100,
          history: HISTORY,
          webhooks: [{ url: receiver.url, events: ['client_event'] }],
        },
      ],
    },
    { now: () => Date.now() + ahead },
  );
  sdk = server.sdk();
  proxy = await TcpProxy.start(server.httpUrl, 0);
});

afterEach(() => {
  proxy.release();
  for (const client of clients.splice(0)) client.disconnect();
});

after(async () => {
  await proxy?.close();
  await server?.stop();
  await receiver?.close();
});

/** A recovering pusher-js client through the proxy. */
async function client(options = {}): Promise<RecoveringClient> {
  const recording = await RecoveringClient.connect(proxy.port, options);
  clients.push(recording);
  return recording;
}

/** Waits until `recording` got `count` events on `channel`. */
const received = (recording: RecoveringClient, channel: string, count: number) =>
  until(() => recording.got(channel).length >= count, `${count} events on ${channel}`, GUARD_MS);

/**
 * A recovering client subscribed to `channel` gets events 1…`seen`; then its connection is cut and
 * events `seen + 1`…`last` are published; `meanwhile` runs before the reconnection is let through.
 * Resolves with the client and how the channel came back.
 */
async function acrossCut(channel: string, seen: number, last: number, meanwhile = async () => {}) {
  const a = await client();
  await a.subscribe(channel);
  return { a, resumed: await gap(a, channel, seen, last, meanwhile) };
}

/** As `acrossCut`, for a client subscribed already: how the channel came back. */
async function gap(
  a: RecoveringClient,
  channel: string,
  seen: number,
  last: number,
  meanwhile = async () => {},
) {
  await publishOrders(sdk, channel, 1, seen);
  await received(a, channel, seen);
  proxy.cut();
  await publishOrders(sdk, channel, seen + 1, last);
  await meanwhile();
  proxy.release();
  return a.nextResumed(channel);
}

describe('pusher-js in Node', () => {
  test('events published while the connection is cut arrive after the reconnection, once each and in order', async () => {
    const a = await client(sdkAuthorizer(sdk));
    await a.subscribe('orders-1');
    await a.subscribe('private-orders-1');
    await publishOrders(sdk, 'orders-1', 1, 3);
    await publishOrders(sdk, 'private-orders-1', 1, 3);
    await received(a, 'orders-1', 3);
    await received(a, 'private-orders-1', 3);
    proxy.cut();
    await publishOrders(sdk, 'orders-1', 4, 8);
    await publishOrders(sdk, 'private-orders-1', 4, 8);
    proxy.release();
    for (const channel of ['orders-1', 'private-orders-1']) {
      const resumed = await a.nextResumed(channel);
      assert.equal(resumed.recovered, true, channel);
      assert.match(resumed.epoch ?? '', /^[A-Za-z0-9_-]+$/);
      assert.deepEqual(a.got(channel), range(1, 8), `${channel} after the replay`);
    }
    await publishOrders(sdk, 'orders-1', 9, 9);
    await received(a, 'orders-1', 9);
    assert.deepEqual(a.got('orders-1'), range(1, 9), 'live again');
  });

  test('cut mid-stream: what was on its way when the connection broke is replayed too', async () => {
    const a = await client();
    const channel = await a.subscribe('burst-2');
    // Cut as the 200th event is handled: those behind it are in the sockets' buffers, or being sent.
    channel.bind('order', (data: { n: number }) => {
      if (data.n === 200) proxy.cut();
    });
    await publishOrders(sdk, 'burst-2', 1, 2000);
    await publishOrders(sdk, 'burst-2', 2001, 2100);
    const before = a.got('burst-2').length;
    assert.ok(before < 2000, `the cut came mid-stream (${before} of 2000 received)`);
    proxy.release();
    assert.equal((await a.nextResumed('burst-2')).recovered, true);
    assert.deepEqual(a.got('burst-2'), range(1, 2100));
  });

  test('a burst of 10,000 events during the gap is replayed whole, in order', async () => {
    const { a, resumed } = await acrossCut('burst-1', 10, 10_010);
    assert.equal(resumed.recovered, true);
    const got = a.got('burst-1');
    assert.equal(got.length, 10_010);
    assert.deepEqual(got, range(1, 10_010));
  });

  test('a gap beyond what the channel keeps: recovered false, then live', async () => {
    const { a, resumed } = await acrossCut('small-1', 2, 12);
    assert.equal(resumed.recovered, false);
    assert.deepEqual(a.got('small-1'), [1, 2], 'nothing replayed');
    await publishOrders(sdk, 'small-1', 13, 13);
    await received(a, 'small-1', 3);
    assert.deepEqual(a.got('small-1'), [1, 2, 13]);
  });

  test('a resume token past its time: recovered false', async () => {
    const { a, resumed } = await acrossCut('orders-3', 1, 2, async () => {
      await until(
        () => server.herald.pusher.connectionCount(server.herald.config.apps[0]!) === 0,
        'the close',
      );
      ahead += RESUME_TTL_SECONDS * 1000;
    });
    assert.equal(resumed.recovered, false);
    assert.deepEqual(a.got('orders-3'), [1]);
  });

  test('presence: the member list is current at the resubscription, member events are not replayed', async () => {
    const user = (id: string) => () => ({ user_id: id, user_info: { name: id } });
    const a = await client(sdkAuthorizer(sdk, user('alice')));
    const lobby = (await a.subscribe('presence-lobby')) as PresenceChannel;
    const added: string[] = [];
    lobby.bind('pusher:member_added', (m: { id: string }) => added.push(m.id));
    const bob = server.client(sdkAuthorizer(sdk, user('bob')));
    const bobs = bob.subscribe('presence-lobby');
    await until(() => added.includes('bob'), 'bob joined');
    proxy.cut();
    bob.unsubscribe('presence-lobby');
    bobs.unbind();
    const carol = server.client(sdkAuthorizer(sdk, user('carol')));
    const carols = carol.subscribe('presence-lobby') as PresenceChannel;
    await within(
      new Promise((resolve) => carols.bind('pusher:subscription_succeeded', resolve)),
      GUARD_MS,
      'carol',
    );
    await publishOrders(sdk, 'presence-lobby', 1, 2);
    proxy.release();
    assert.equal((await a.nextResumed('presence-lobby')).recovered, true);
    assert.deepEqual(a.got('presence-lobby'), [1, 2]);
    const ids: string[] = [];
    lobby.members.each((m: { id: string }) => ids.push(m.id));
    assert.deepEqual(ids.sort(), ['alice', 'carol']);
    assert.deepEqual(added, ['bob'], 'carol came in the member list, not as a replayed member_added');
    carol.disconnect();
    bob.disconnect();
  });

  test('a cache channel: the replay, without the last event again', async () => {
    const a = await client();
    const cache = a.client.subscribe('cache-orders');
    const misses: unknown[] = [];
    cache.bind('pusher:cache_miss', () => misses.push(true));
    a.record('cache-orders', (cb) => cache.bind('order', cb));
    await until(() => misses.length === 1, 'cache_miss');
    assert.equal((await gap(a, 'cache-orders', 1, 3)).recovered, true);
    assert.deepEqual(a.got('cache-orders'), [1, 2, 3]);
    assert.equal(misses.length, 1);
  });

  test('client events are replayed, not to their sender, and reported to webhooks once', async () => {
    const peerProxy = await TcpProxy.start(server.httpUrl, 0);
    try {
      const a = await client(sdkAuthorizer(sdk));
      const room = a.client.subscribe('private-room');
      a.record('private-room', (cb) => room.bind('client-said', cb));
      const peer = new RecoveringClient(pusherClient(peerProxy.port, APP.key, sdkAuthorizer(sdk)));
      clients.push(peer);
      const peerRoom = peer.client.subscribe('private-room');
      peer.record('private-room', (cb) => peerRoom.bind('client-said', cb));
      await until(() => room.subscribed && peerRoom.subscribed, 'both subscribed');
      proxy.cut();
      peerRoom.trigger('client-said', { n: 1 });
      peerRoom.trigger('client-said', { n: 2 });
      const clientEvents = () =>
        receiver.requests.flatMap((r) => r.body.events).filter((e) => e.name === 'client_event');
      await until(() => clientEvents().length === 2, 'client_event webhooks');
      peerProxy.cut();
      proxy.release();
      peerProxy.release();
      assert.equal((await a.nextResumed('private-room')).recovered, true);
      assert.deepEqual(a.got('private-room'), [1, 2]);
      assert.equal((await peer.nextResumed('private-room')).recovered, true);
      assert.deepEqual(peer.got('private-room'), [], 'its own events are not replayed to the sender');
      assert.equal(clientEvents().length, 2, 'the replay is no new client event');
    } finally {
      await peerProxy.close();
    }
  });
});

describe('without the helper', () => {
  test('pusher-js reconnects as before: nothing replayed, only herald:session seen', async () => {
    const plain = new Pusher(APP.key, {
      wsHost: '127.0.0.1',
      wsPort: proxy.port,
      forceTLS: false,
      enabledTransports: ['ws'],
      cluster: '',
    });
    const globals: string[] = [];
    plain.bind_global((event: string) => globals.push(event));
    const got: number[] = [];
    const channel = plain.subscribe('orders-4');
    channel.bind('order', (d: { n: number }) => got.push(d.n));
    await within(
      new Promise((resolve) => channel.bind('pusher:subscription_succeeded', resolve)),
      GUARD_MS,
      'subscription',
    );
    const states: string[] = [];
    plain.connection.bind('state_change', ({ current }: { current: string }) => states.push(current));
    await publishOrders(sdk, 'orders-4', 1, 1);
    await until(() => got.length === 1, 'event 1');
    proxy.cut();
    await until(() => states.includes('connecting'), 'the client to see the cut');
    await publishOrders(sdk, 'orders-4', 2, 2);
    proxy.release();
    await until(() => states.at(-1) === 'connected' && channel.subscribed, 'resubscribed');
    await publishOrders(sdk, 'orders-4', 3, 3);
    await until(() => got.length === 2, 'event 3');
    assert.deepEqual(got, [1, 3], 'event 2 is lost, as always without the helper');
    assert.equal(globals.filter((e) => e === 'herald:session').length, 2, 'one per connection');
    assert.ok(!globals.includes('herald:resumed'));
    plain.disconnect();
  });
});

describe('the server alone', () => {
  test('an unknown token, and a channel the old connection did not count: recovered false', async () => {
    const { client: raw } = await RawClient.connect(server.wsUrl());
    raw.send({ event: 'herald:resume', data: { token: 'no-such-token', received: { 'orders-5': 3 } } });
    await raw.subscribe('orders-5');
    const resumed = await within(raw.next('herald:resumed'), GUARD_MS, 'herald:resumed');
    assert.deepEqual(JSON.parse(resumed.data as string), { recovered: false, epoch: null });
    raw.close();

    const { client: old } = await RawClient.connect(server.wsUrl());
    const session = await within(old.next('herald:session'), GUARD_MS, 'herald:session');
    const { resume_token: token } = JSON.parse(session.data as string) as { resume_token: string };
    await old.subscribe('orders-6');
    old.close();
    await old.closed;
    const { client: other } = await RawClient.connect(server.wsUrl());
    other.send({ event: 'herald:resume', data: { token, received: { 'orders-6': 0, 'orders-7': 0 } } });
    await other.subscribe('orders-7');
    await other.subscribe('orders-6');
    const answers = [
      await within(other.next('herald:resumed'), GUARD_MS, 'herald:resumed'),
      await within(other.next('herald:resumed'), GUARD_MS, 'herald:resumed'),
    ].map((f) => [f.channel, (JSON.parse(f.data as string) as { recovered: boolean }).recovered]);
    assert.deepEqual(answers, [
      ['orders-7', false],
      ['orders-6', true],
    ]);
    other.close();
  });
});

describe('Laravel Echo', () => {
  test('echo.channel(…).listen: the events of the gap after the reconnection, and .herald:resumed', async () => {
    const echo = new Echo({
      broadcaster: 'pusher',
      // Echo's typings name pusher-js's ES default export, which NodeNext types as the module object.
      Pusher: Pusher as never,
      key: APP.key,
      wsHost: '127.0.0.1',
      wsPort: proxy.port,
      forceTLS: false,
      enabledTransports: ['ws' as const],
      cluster: '',
    });
    const recording = new RecoveringClient(echo.connector.pusher as Pusher, echo as never);
    clients.push(recording);
    const channel = echo.channel('orders-echo');
    recording.record('orders-echo', (cb) => channel.listen('.order', cb));
    const resumedEvents: unknown[] = [];
    channel.listen('.herald:resumed', (e: unknown) => resumedEvents.push(e));
    await within(
      new Promise((resolve) => channel.subscribed(() => resolve(undefined))),
      GUARD_MS,
      'echo subscription',
    );
    assert.equal((await gap(recording, 'orders-echo', 2, 5)).recovered, true);
    assert.deepEqual(recording.got('orders-echo'), range(1, 5));
    assert.deepEqual(
      resumedEvents.map((e) => (e as { recovered: boolean }).recovered),
      [true],
    );
    echo.disconnect();
  });
});
