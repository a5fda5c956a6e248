import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { Socket } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import type PusherServer from 'pusher';
import { APP, connected, nextEvent, startHerald, type TestHerald } from '../helpers/herald.js';
import { type PusherFrame, RawClient, within } from '../helpers/raw-client.js';

/**
 * Cache channels (Pusher docs, Cache channels) and subscription counts (docs/pusher.md, "Subscription
 * counts"), seen by raw sockets (exact frames and their order), pusher-js and the `pusher` SDK. The
 * server's clock is pinned so that cache entries expire when a test says so.
 */

const GUARD_MS = 5_000;
const TTL_APP = { id: 'ttl-id', key: 'ttl-key', secret: 'ttl-secret' } as const;
const COUNTED = { id: 'counted-id', key: 'counted-key', secret: 'counted-secret' } as const;
type Credentials = { id: string; key: string; secret: string };

const clock = { now: Date.now() };
let server: TestHerald;
let raws: RawClient[] = [];

before(async () => {
  server = await startHerald(
    {
      apps: [
        { ...APP, clientEvents: true },
        { ...TTL_APP, cacheTtlSeconds: 10 },
        { ...COUNTED, subscriptionCount: true, clientEvents: true },
      ],
    },
    { now: () => clock.now },
  );
});
afterEach(() => {
  for (const raw of raws) raw.close();
  raws = [];
});
after(() => server.stop());

const sdkFor = (app: Credentials = APP): PusherServer => server.sdk(app);

/** Publishes `data` exactly as given (the SDK's signed `post`, which neither encodes nor encrypts it). */
async function publish(channel: string, name: string, data: string, app: Credentials = APP): Promise<void> {
  const body = { name, channels: [channel], data } as unknown as string;
  assert.equal((await sdkFor(app).post({ path: '/events', body })).status, 200);
}

async function connect(app: Credentials = APP): Promise<{ client: RawClient; socketId: string }> {
  const connection = await RawClient.connect(server.wsUrl(app.key));
  raws.push(connection.client);
  return connection;
}

/**
 * Subscribes and resolves with the subscription_succeeded frame, signing as the app would
 * for private, encrypted and presence channels.
 */
async function subscribe(
  connection: { client: RawClient; socketId: string },
  channel: string,
  app: Credentials = APP,
  userId = 'user-1',
): Promise<PusherFrame> {
  const { client, socketId } = connection;
  let extra: Record<string, unknown> = {};
  if (channel.startsWith('presence-')) {
    extra = { ...sdkFor(app).authorizeChannel(socketId, channel, { user_id: userId }) };
  } else if (channel.startsWith('private-')) {
    const hex = createHmac('sha256', app.secret).update(`${socketId}:${channel}`).digest('hex');
    extra = { auth: `${app.key}:${hex}` };
  }
  const reply = await within(client.subscribe(channel, extra), GUARD_MS, `subscription to ${channel}`);
  assert.equal(reply.event, 'pusher_internal:subscription_succeeded', JSON.stringify(reply));
  return reply;
}

/** Publishes a marker; each client's next frame must be it, so nothing unexpected came before. */
async function nextIsMarker(channel: string, clients: RawClient[], app: Credentials = APP): Promise<void> {
  await publish(channel, 'marker', 'm', app);
  for (const client of clients) {
    assert.deepEqual(await within(client.next(), GUARD_MS, `marker on ${channel}`), {
      event: 'marker',
      channel,
      data: 'm',
    });
  }
}

const CACHE_PREFIXES = ['cache-', 'private-cache-', 'private-encrypted-cache-', 'presence-cache-'] as const;

describe('cache channels', () => {
  for (const prefix of CACHE_PREFIXES) {
    test(`${prefix}: a new subscriber gets the last published event right after subscription_succeeded`, async () => {
      const channel = `${prefix}last`;
      await publish(channel, 'first', '{"n":1}');
      await publish(channel, 'second', 'not json, kept as is');
      const connection = await connect();
      const succeeded = await subscribe(connection, channel);
      assert.equal(succeeded.channel, channel);
      assert.deepEqual(await within(connection.client.next(), GUARD_MS, 'replayed event'), {
        event: 'second',
        channel,
        data: 'not json, kept as is',
      });
      await nextIsMarker(channel, [connection.client]);
    });

    test(`${prefix}: nothing cached → pusher:cache_miss right after subscription_succeeded`, async () => {
      const channel = `${prefix}empty`;
      const connection = await connect();
      await subscribe(connection, channel);
      assert.deepEqual(await within(connection.client.next(), GUARD_MS, 'cache miss'), {
        event: 'pusher:cache_miss',
        channel,
      });
      // The next subscriber misses too, and the miss itself is not cached.
      const second = await connect();
      await subscribe(second, channel, APP, 'user-2');
      assert.deepEqual(await within(second.client.next(), GUARD_MS, 'second cache miss'), {
        event: 'pusher:cache_miss',
        channel,
      });
    });
  }

  test('a public channel without the cache- prefix replays nothing and sends no cache_miss', async () => {
    await publish('plain', 'e', 'x');
    const connection = await connect();
    await subscribe(connection, 'plain');
    await nextIsMarker('plain', [connection.client]);
  });

  test('pusher-js: the replay follows pusher:subscription_succeeded; an empty channel fires pusher:cache_miss', async () => {
    const sdk = sdkFor();
    assert.equal((await sdk.trigger('cache-js', 'update', { v: 1 })).status, 200);
    const client = server.client();
    await within(connected(client), GUARD_MS, 'pusher-js to connect');

    const channel = client.subscribe('cache-js');
    const order: [string, unknown][] = [];
    const update = nextEvent(channel, 'update');
    channel.bind_global((event: string, data: unknown) => order.push([event, data]));
    assert.deepEqual(await within(update, GUARD_MS, 'replayed update'), { v: 1 });
    assert.deepEqual(
      order.map(([event]) => event),
      ['pusher:subscription_succeeded', 'update'],
    );

    const empty = client.subscribe('cache-js-empty');
    const miss = nextEvent(empty, 'pusher:cache_miss');
    await within(miss, GUARD_MS, 'pusher:cache_miss at pusher-js');
    assert.equal(empty.subscribed, true);
  });

  test('client events are forwarded but not cached', async () => {
    const channel = 'private-cache-chat';
    const a = await connect();
    const b = await connect();
    await subscribe(a, channel);
    assert.equal((await a.client.next()).event, 'pusher:cache_miss');
    await subscribe(b, channel);
    assert.equal((await b.client.next()).event, 'pusher:cache_miss');

    a.client.send({ event: 'client-typing', channel, data: { a: 1 } });
    assert.deepEqual(await within(b.client.next(), GUARD_MS, 'client event'), {
      event: 'client-typing',
      channel,
      data: { a: 1 },
    });
    const c = await connect();
    await subscribe(c, channel);
    assert.deepEqual(await within(c.client.next(), GUARD_MS, 'still a miss'), {
      event: 'pusher:cache_miss',
      channel,
    });

    await publish(channel, 'server-event', 'from the server');
    for (const client of [a.client, b.client, c.client]) {
      assert.equal((await within(client.next(), GUARD_MS, 'server event')).event, 'server-event');
    }
    a.client.send({ event: 'client-typing', channel, data: { a: 2 } });
    assert.equal((await within(b.client.next(), GUARD_MS, 'second client event')).event, 'client-typing');
    const d = await connect();
    await subscribe(d, channel);
    assert.deepEqual(await within(d.client.next(), GUARD_MS, 'replay'), {
      event: 'server-event',
      channel,
      data: 'from the server',
    });
  });

  test('cacheTtlSeconds: GET …?info=cache gives {data, ttl} counting down, then null; expired means cache_miss', async () => {
    const sdk = sdkFor(TTL_APP);
    const channel = 'cache-ttl';
    const info = async (name = channel) => {
      const response = await sdk.get({ path: `/channels/${name}`, params: { info: 'cache' } });
      assert.equal(response.status, 200);
      return response.json();
    };
    assert.deepEqual(await info(), { occupied: false, cache: null });

    await publish(channel, 'price', '{"eur":42}', TTL_APP);
    assert.deepEqual(await info(), { occupied: false, cache: { data: '{"eur":42}', ttl: 10 } });
    clock.now += 4_000;
    assert.deepEqual(await info(), { occupied: false, cache: { data: '{"eur":42}', ttl: 6 } });

    const subscriber = await connect(TTL_APP);
    await subscribe(subscriber, channel, TTL_APP);
    assert.equal((await within(subscriber.client.next(), GUARD_MS, 'replay')).event, 'price');
    const both = await sdk.get({
      path: `/channels/${channel}`,
      params: { info: 'cache,subscription_count' },
    });
    assert.deepEqual(await both.json(), {
      occupied: true,
      subscription_count: 1,
      cache: { data: '{"eur":42}', ttl: 6 },
    });

    clock.now += 5_999;
    assert.deepEqual(await info(), { occupied: true, cache: { data: '{"eur":42}', ttl: 1 } });
    clock.now += 1;
    assert.deepEqual(await info(), { occupied: true, cache: null });
    const late = await connect(TTL_APP);
    await subscribe(late, channel, TTL_APP);
    assert.deepEqual(await within(late.client.next(), GUARD_MS, 'miss after expiry'), {
      event: 'pusher:cache_miss',
      channel,
    });

    // A new publish starts a new time to live.
    await publish(channel, 'price', '{"eur":43}', TTL_APP);
    assert.deepEqual(await info(), { occupied: true, cache: { data: '{"eur":43}', ttl: 10 } });
  });
});

describe('subscription counts', () => {
  const COUNT = 'pusher_internal:subscription_count';
  const countFrame = (channel: string, n: number): PusherFrame => ({
    event: COUNT,
    channel,
    data: JSON.stringify({ subscription_count: n }),
  });

  test('subscribe and unsubscribe send the new count to every subscriber; pusher-js keeps channel.subscriptionCount', async () => {
    const channel = 'counted';
    const a = await connect(COUNTED);
    await subscribe(a, channel, COUNTED);
    assert.deepEqual(await within(a.client.next(), GUARD_MS, 'count 1'), countFrame(channel, 1));

    const b = await connect(COUNTED);
    await subscribe(b, channel, COUNTED);
    for (const client of [a.client, b.client]) {
      assert.deepEqual(await within(client.next(), GUARD_MS, 'count 2'), countFrame(channel, 2));
    }

    const c = server.client({}, COUNTED.key);
    await within(connected(c), GUARD_MS, 'pusher-js to connect');
    const ch = c.subscribe(channel);
    const three = nextEvent<{ subscription_count: number }>(ch, 'pusher:subscription_count');
    assert.deepEqual(await within(three, GUARD_MS, 'count 3 at pusher-js'), { subscription_count: 3 });
    assert.equal(ch.subscriptionCount, 3);
    for (const client of [a.client, b.client]) {
      assert.deepEqual(await within(client.next(), GUARD_MS, 'count 3'), countFrame(channel, 3));
    }

    const two = nextEvent<{ subscription_count: number }>(ch, 'pusher:subscription_count');
    b.client.send({ event: 'pusher:unsubscribe', data: { channel } });
    assert.deepEqual(
      await within(a.client.next(), GUARD_MS, 'count 2 after unsubscribe'),
      countFrame(channel, 2),
    );
    assert.deepEqual(await within(two, GUARD_MS, 'count 2 at pusher-js'), { subscription_count: 2 });
    assert.equal(ch.subscriptionCount, 2);

    c.disconnect();
    assert.deepEqual(
      await within(a.client.next(), GUARD_MS, 'count 1 after disconnect'),
      countFrame(channel, 1),
    );
    const response = await sdkFor(COUNTED).get({
      path: `/channels/${channel}`,
      params: { info: 'subscription_count' },
    });
    assert.deepEqual(await response.json(), { occupied: true, subscription_count: 1 });

    // The one that unsubscribed hears nothing more of the channel.
    b.client.send({ event: 'pusher:ping', data: {} });
    assert.equal((await within(b.client.next(), GUARD_MS, 'pong')).event, 'pusher:pong');
  });

  test('private channels are counted too', async () => {
    const channel = 'private-counted';
    const a = await connect(COUNTED);
    await subscribe(a, channel, COUNTED);
    assert.deepEqual(await within(a.client.next(), GUARD_MS, 'count 1'), countFrame(channel, 1));
    const b = await connect(COUNTED);
    await subscribe(b, channel, COUNTED);
    assert.deepEqual(await within(a.client.next(), GUARD_MS, 'count 2'), countFrame(channel, 2));
  });

  test('never on presence channels', async () => {
    const channel = 'presence-counted';
    const a = await connect(COUNTED);
    await subscribe(a, channel, COUNTED, 'u1');
    const b = await connect(COUNTED);
    await subscribe(b, channel, COUNTED, 'u2');
    assert.equal(
      (await within(a.client.next(), GUARD_MS, 'member_added')).event,
      'pusher_internal:member_added',
    );
    b.client.send({ event: 'pusher:unsubscribe', data: { channel } });
    assert.equal(
      (await within(a.client.next(), GUARD_MS, 'member_removed')).event,
      'pusher_internal:member_removed',
    );
    await nextIsMarker(channel, [a.client], COUNTED);
  });

  test('changes within one turn (one TCP write of subscribe/unsubscribe/…/subscribe) are sent as one message', async () => {
    const channel = 'counted-flurry';
    const observer = await connect(COUNTED);
    await subscribe(observer, channel, COUNTED);
    assert.deepEqual(await observer.client.next(), countFrame(channel, 1));

    const flurry = await connect(COUNTED);
    const socket = (flurry.client.ws as unknown as { _socket: Socket })._socket;
    const sub = { event: 'pusher:subscribe', data: { channel, auth: '' } };
    const unsub = { event: 'pusher:unsubscribe', data: { channel } };
    socket.cork();
    for (const frame of [sub, unsub, sub, unsub, sub]) flurry.client.send(frame);
    socket.uncork();

    for (let i = 0; i < 3; i++) {
      const frame = await within(flurry.client.next(), GUARD_MS, `subscription_succeeded ${i}`);
      assert.equal(frame.event, 'pusher_internal:subscription_succeeded');
    }
    assert.deepEqual(await within(flurry.client.next(), GUARD_MS, 'one count'), countFrame(channel, 2));
    assert.deepEqual(await within(observer.client.next(), GUARD_MS, 'one count'), countFrame(channel, 2));
    await nextIsMarker(channel, [observer.client, flurry.client], COUNTED);
  });

  test('off by default: no subscription_count frames, pusher-js subscriptionCount stays unset', async () => {
    const channel = 'uncounted';
    const a = await connect();
    await subscribe(a, channel);
    const b = await connect();
    await subscribe(b, channel);
    const client = server.client();
    await within(connected(client), GUARD_MS, 'pusher-js to connect');
    const ch = client.subscribe(channel);
    const counts: unknown[] = [];
    ch.bind('pusher:subscription_count', (data: unknown) => counts.push(data));
    await within(nextEvent(ch, 'pusher:subscription_succeeded'), GUARD_MS, 'pusher-js subscription');
    b.client.send({ event: 'pusher:unsubscribe', data: { channel } });
    const marker = nextEvent(ch, 'marker');
    await nextIsMarker(channel, [a.client]);
    await within(marker, GUARD_MS, 'marker at pusher-js');
    assert.deepEqual(counts, []);
    assert.equal(ch.subscriptionCount ?? null, null);
  });
});
