import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { Socket } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import Echo from 'laravel-echo';
import type PusherServer from 'pusher';
import { WebSocket } from 'ws';
import { APP, connected, nextEvent, sdkAuthorizer, startHerald, type TestHerald } from '../helpers/herald.js';
import { Pusher } from '../helpers/pusher-js.js';
import { type PusherFrame, RawClient, within } from '../helpers/raw-client.js';

/**
 * Client events (Pusher docs, Events) with pusher-js, Laravel Echo and raw sockets, and the
 * per-app HTTP request limit. The server's clock is pinned: it moves only when a test advances it,
 * so every connection's one-second client-event window is deterministic.
 */

const GUARD_MS = 5_000;
const QUIET = { id: 'quiet-id', key: 'quiet-key', secret: 'quiet-secret' } as const;
const LIMITED = { id: 'limited-id', key: 'limited-key', secret: 'limited-secret' } as const;

const clock = { now: Date.now() };
let server: TestHerald;
let sdk: PusherServer;
let raws: RawClient[] = [];
let echos: Echo<'pusher'>[] = [];

before(async () => {
  server = await startHerald(
    {
      apps: [
        { ...APP, clientEvents: true },
        { ...QUIET, clientEvents: false },
        { ...LIMITED, maxHttpRequestsPerSecond: 2 },
      ],
    },
    { now: () => clock.now },
  );
  sdk = server.sdk();
});
afterEach(() => {
  for (const raw of raws) raw.close();
  raws = [];
  for (const echo of echos) echo.disconnect();
  echos = [];
});
after(() => server.stop());

function errorOf(frame: PusherFrame): { code: number | null; message: string } {
  assert.equal(frame.event, 'pusher:error');
  return frame.data as { code: number | null; message: string };
}

/**
 * `auth` for a private channel, as the app's authorization endpoint computes it (Pusher docs,
 * Authentication and authorization signatures).
 */
function privateAuth(app: { key: string; secret: string }, socketId: string, channel: string): string {
  return `${app.key}:${createHmac('sha256', app.secret).update(`${socketId}:${channel}`).digest('hex')}`;
}

/** A raw connection subscribed to `channels`, signed by the app (the `pusher` SDK for presence). */
async function raw(
  channels: string[],
  options: { app?: typeof APP | typeof QUIET; user?: { user_id: string | number; user_info?: object } } = {},
): Promise<{ client: RawClient; socketId: string }> {
  const app = options.app ?? APP;
  const { client, socketId } = await RawClient.connect(server.wsUrl(app.key));
  raws.push(client);
  for (const channel of channels) {
    let extra: Record<string, unknown> = {};
    if (channel.startsWith('presence-')) {
      assert.ok(options.user, 'a presence channel needs a user');
      const signer = app === APP ? sdk : server.sdk(app);
      extra = { ...signer.authorizeChannel(socketId, channel, options.user as { user_id: string }) };
    } else if (channel.startsWith('private-')) {
      extra = { auth: privateAuth(app, socketId, channel) };
    }
    const reply = await within(client.subscribe(channel, extra), GUARD_MS, `subscription to ${channel}`);
    assert.equal(reply.event, 'pusher_internal:subscription_succeeded', channel);
  }
  return { client, socketId };
}

/** The connection answers a ping with the very next frame, so nothing else was waiting for it. */
async function answersPingNext(client: RawClient): Promise<void> {
  assert.equal(client.ws.readyState, WebSocket.OPEN);
  client.send({ event: 'pusher:ping', data: {} });
  const frame = await within(client.next(), GUARD_MS, 'pong');
  assert.equal(frame.event, 'pusher:pong', `expected pong, got ${JSON.stringify(frame)}`);
}

/**
 * Publishes a marker over HTTP; the next frame of every receiver must be it, so nothing else (an
 * echo, an error, a refused event) was written to them before.
 */
async function nextIsMarker(channel: string, ...receivers: RawClient[]): Promise<void> {
  const response = await sdk.trigger(channel, 'marker', { marker: true });
  assert.equal(response.status, 200);
  for (const receiver of receivers) {
    const frame = await within(receiver.next(), GUARD_MS, `marker on ${channel}`);
    assert.deepEqual(frame, { event: 'marker', channel, data: '{"marker":true}' });
  }
}

function clientFrame(event: string, channel: string, data: unknown, userId?: string): PusherFrame {
  return userId === undefined ? { event, channel, data } : { event, channel, data, user_id: userId };
}

describe('delivery', () => {
  test('private channel: a pusher-js client event reaches the others with its object data, not the sender', async () => {
    const a = server.client(sdkAuthorizer(sdk));
    const b = server.client(sdkAuthorizer(sdk));
    await within(Promise.all([connected(a), connected(b)]), GUARD_MS, 'pusher-js to connect');
    const chA = a.subscribe('private-chat');
    const chB = b.subscribe('private-chat');
    await within(
      Promise.all([
        nextEvent(chA, 'pusher:subscription_succeeded'),
        nextEvent(chB, 'pusher:subscription_succeeded'),
      ]),
      GUARD_MS,
      'pusher-js subscriptions',
    );
    const { client: watcher } = await raw(['private-chat']);
    const echoed: unknown[] = [];
    chA.bind('client-typing', (data: unknown) => echoed.push(data));

    const data = { text: 'hé', n: 1.5, list: [1, 'two', null, { deep: true }], empty: {} };
    const received = nextEvent(chB, 'client-typing');
    assert.equal(chA.trigger('client-typing', data), true);
    assert.deepEqual(await within(received, GUARD_MS, 'client event at b'), data);
    const frame = await within(watcher.next(), GUARD_MS, 'client event at the raw watcher');
    assert.deepEqual(
      frame,
      clientFrame('client-typing', 'private-chat', data),
      'no user_id on private channels',
    );

    // Anything echoed to the sender would have been written to it before this later HTTP event.
    const marker = nextEvent(chA, 'marker');
    await sdk.trigger('private-chat', 'marker', {});
    await within(marker, GUARD_MS, 'marker at the sender');
    assert.deepEqual(echoed, []);
  });

  test('presence channel: the frame carries the sender’s user_id at top level, whatever the sender claimed', async () => {
    const { client: sender } = await raw(['presence-room'], {
      user: { user_id: 'u-9', user_info: { name: 'Nine' } },
    });
    const b = server.client(sdkAuthorizer(sdk, () => ({ user_id: 'u-2' })));
    await within(connected(b), GUARD_MS, 'pusher-js to connect');
    const chB = b.subscribe('presence-room');
    await within(nextEvent(chB, 'pusher:subscription_succeeded'), GUARD_MS, 'presence subscription');
    const { client: watcher } = await raw(['presence-room'], { user: { user_id: 10 } });

    const got = new Promise<{ data: unknown; meta: unknown }>((resolve) =>
      chB.bind('client-wave', (data: unknown, meta: unknown) => resolve({ data, meta })),
    );
    sender.send({
      event: 'client-wave',
      channel: 'presence-room',
      data: { hi: 1 },
      user_id: 'forged',
      extra: 'dropped',
    });
    const frame = await within(watcher.next(), GUARD_MS, 'client event at the raw watcher');
    assert.deepEqual(frame, clientFrame('client-wave', 'presence-room', { hi: 1 }, 'u-9'));
    const { data, meta } = await within(got, GUARD_MS, 'client event at pusher-js');
    assert.deepEqual(data, { hi: 1 });
    assert.equal((meta as { user_id?: string }).user_id, 'u-9');

    // The numeric presence id 10 is sent as the string "10"; an echo of the sender's own event
    // (user_id "u-9") would come first and fail this.
    watcher.send({ event: 'client-wave', channel: 'presence-room', data: 'from ten' });
    assert.deepEqual(
      await within(sender.next('client-wave'), GUARD_MS, 'client event from the numeric id'),
      clientFrame('client-wave', 'presence-room', 'from ten', '10'),
    );
  });

  test('Laravel Echo: private(...).whisper reaches listenForWhisper on another client, not the sender', async () => {
    const e1 = await echo();
    const e2 = await echo();
    const ch1 = e1.private('orders.1');
    const ch2 = e2.private('orders.1');
    await Promise.all([subscribed(ch1, 'e1 subscription'), subscribed(ch2, 'e2 subscription')]);
    const own: unknown[] = [];
    ch1.listenForWhisper('typing', (d: unknown) => own.push(d));
    const whisper = new Promise<unknown>((resolve) => ch2.listenForWhisper('typing', resolve));

    ch1.whisper('typing', { name: 'Taylor', typing: true });
    assert.deepEqual(await within(whisper, GUARD_MS, 'whisper'), { name: 'Taylor', typing: true });

    const marker = new Promise<unknown>((resolve) => ch1.listen('.marker', resolve));
    await sdk.trigger('private-orders.1', 'marker', { done: 1 });
    assert.deepEqual(await within(marker, GUARD_MS, 'marker at the whisperer'), { done: 1 });
    assert.deepEqual(own, [], 'a whisper is not echoed to its sender');
  });

  test('Laravel Echo: join(...).whisper on a presence channel carries the sender’s user id', async () => {
    const e1 = await echo({ user_id: '1', user_info: { name: 'Ann' } });
    const e2 = await echo({ user_id: '2', user_info: { name: 'Bob' } });
    const room1 = e1.join('room.7');
    const room2 = e2.join('room.7');
    await Promise.all([subscribed(room1, 'e1 join'), subscribed(room2, 'e2 join')]);
    const pusher2 = pusherOf(e2);
    const meta = new Promise<unknown>((resolve) =>
      pusher2.channel('presence-room.7').bind('client-typing', (_: unknown, m: unknown) => resolve(m)),
    );
    const whisper = new Promise<unknown>((resolve) => room2.listenForWhisper('typing', resolve));

    room1.whisper('typing', { who: 'Ann' });
    assert.deepEqual(await within(whisper, GUARD_MS, 'presence whisper'), { who: 'Ann' });
    assert.equal(((await meta) as { user_id?: string }).user_id, '1');
  });
});

describe('refusals', () => {
  test('public, encrypted, unsubscribed and non-client- events are not delivered; each gets pusher:error, the socket stays open', async () => {
    const channels = ['public-room', 'private-encrypted-room', 'private-ok'];
    const { client: receiver } = await raw([...channels, 'private-other']);
    const { client: sender } = await raw(channels);
    const refused: [PusherFrame, RegExp][] = [
      [
        { event: 'client-a', channel: 'public-room', data: {} },
        /only allowed on private and presence channels/,
      ],
      [
        { event: 'client-a', channel: 'private-encrypted-room', data: {} },
        /only allowed on private and presence/,
      ],
      [{ event: 'client-a', channel: 'private-other', data: {} }, /has not subscribed to/],
      [{ event: 'client-a', channel: 'never-heard-of', data: {} }, /only allowed on private and presence/],
      [{ event: 'notclient-a', channel: 'private-ok', data: {} }, /Unsupported event: notclient-a/],
      [{ event: 'Client-a', channel: 'private-ok', data: {} }, /Unsupported event: Client-a/],
      [{ event: 'client-a', data: {} }, /needs a channel/],
    ];
    for (const [frame, reason] of refused) {
      sender.send(frame);
      const error = errorOf(await within(sender.next(), GUARD_MS, `error for ${JSON.stringify(frame)}`));
      assert.equal(error.code, null);
      assert.match(error.message, reason);
    }
    sender.send({ event: 'client-ok', channel: 'private-ok', data: { valid: true } });
    const next = await within(receiver.next(), GUARD_MS, 'the valid client event');
    assert.deepEqual(
      next,
      clientFrame('client-ok', 'private-ok', { valid: true }),
      'nothing refused arrived first',
    );
    await answersPingNext(sender);
  });

  test('a pusher-js sender that just unsubscribed is refused: pusher:error as a connection error, nothing delivered', async () => {
    const a = server.client(sdkAuthorizer(sdk));
    await within(connected(a), GUARD_MS, 'pusher-js to connect');
    const ch = a.subscribe('private-left');
    await within(nextEvent(ch, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');
    const { client: receiver } = await raw(['private-left']);
    a.unsubscribe('private-left');
    const error = new Promise<{ type: string; data: { code: number | null; message: string } }>((resolve) =>
      a.connection.bind('error', resolve),
    );
    ch.trigger('client-late', { x: 1 });
    const { type, data } = await within(error, GUARD_MS, 'pusher:error at pusher-js');
    assert.equal(type, 'PusherError');
    assert.equal(data.code, null);
    assert.match(data.message, /not subscribed/);
    assert.equal(a.connection.state, 'connected');
    await nextIsMarker('private-left', receiver);
  });

  test('a client event is judged by the subscriptions sent before it, even within one TCP write', async () => {
    const channel = 'private-ordered';
    const { client: receiver } = await raw([channel]);
    const { client: sender, socketId } = await raw([channel]);
    const socket = (sender.ws as unknown as { _socket: Socket })._socket;
    const inOneWrite = (...frames: unknown[]) => {
      socket.cork();
      for (const frame of frames) sender.send(frame);
      socket.uncork();
    };

    inOneWrite(
      { event: 'pusher:unsubscribe', data: { channel } },
      { event: 'client-after-unsubscribe', channel, data: 1 },
    );
    assert.match(errorOf(await within(sender.next(), GUARD_MS, 'refusal')).message, /not subscribed/);
    inOneWrite(
      { event: 'pusher:subscribe', data: { channel, auth: privateAuth(APP, socketId, channel) } },
      { event: 'client-after-subscribe', channel, data: 2 },
    );
    assert.equal(
      (await within(sender.next(), GUARD_MS, 'resubscribed')).event,
      'pusher_internal:subscription_succeeded',
    );
    assert.deepEqual(
      await within(receiver.next(), GUARD_MS, 'the event sent after subscribing'),
      clientFrame('client-after-subscribe', channel, 2),
    );
    await nextIsMarker(channel, receiver, sender);
  });

  test('an app with client events off: pusher:error, nothing delivered, the socket stays open', async () => {
    const { client: receiver } = await raw(['private-quiet'], { app: QUIET });
    const { client: sender } = await raw(['private-quiet'], { app: QUIET });
    sender.send({ event: 'client-a', channel: 'private-quiet', data: { a: 1 } });
    const error = errorOf(await within(sender.next(), GUARD_MS, 'error'));
    assert.equal(error.code, null);
    assert.match(error.message, /Client events are not enabled/);
    await answersPingNext(sender);
    const quietSdk = server.sdk(QUIET);
    await quietSdk.trigger('private-quiet', 'marker', { marker: true });
    assert.deepEqual(await within(receiver.next(), GUARD_MS, 'marker'), {
      event: 'marker',
      channel: 'private-quiet',
      data: '{"marker":true}',
    });

    // pusher-js sees the refusal as a connection error and stays connected.
    const p = server.client(sdkAuthorizer(quietSdk), QUIET.key);
    await within(connected(p), GUARD_MS, 'pusher-js to connect');
    const ch = p.subscribe('private-quiet');
    await within(nextEvent(ch, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');
    const seen = new Promise<{ data: { message: string } }>((resolve) => p.connection.bind('error', resolve));
    ch.trigger('client-b', {});
    assert.match((await within(seen, GUARD_MS, 'error at pusher-js')).data.message, /not enabled/);
    assert.equal(p.connection.state, 'connected');
  });

  test('data over maxEventPayloadBytes (default 10 240 bytes of JSON) is refused; at the limit it is delivered', async () => {
    const { client: receiver } = await raw(['private-big']);
    const { client: sender } = await raw(['private-big']);
    const atLimit = 'x'.repeat(10_240 - 2); // a JSON string adds two quotes
    sender.send({ event: 'client-big', channel: 'private-big', data: `${atLimit}y` });
    const error = errorOf(await within(sender.next(), GUARD_MS, 'error for oversize data'));
    assert.equal(error.code, null);
    assert.match(error.message, /10241 bytes, over the limit of 10240/);
    sender.send({ event: 'client-big', channel: 'private-big', data: atLimit });
    assert.deepEqual(
      await within(receiver.next(), GUARD_MS, 'event at the limit'),
      clientFrame('client-big', 'private-big', atLimit),
    );
    await answersPingNext(sender);
  });
});

describe('rate limit', () => {
  test('the 11th client event within one second gets pusher:error 4301, the socket stays open; the next second is allowed again', async () => {
    const { client: receiver } = await raw(['private-rate']);
    const { client: sender } = await raw(['private-rate']);
    for (let i = 1; i <= 11; i++) sender.send({ event: 'client-n', channel: 'private-rate', data: { i } });
    const error = errorOf(await within(sender.next(), GUARD_MS, 'rate-limit error'));
    assert.deepEqual(error, { code: 4301, message: 'Client event rejected due to rate limit' });
    for (let i = 1; i <= 10; i++) {
      assert.deepEqual(
        await within(receiver.next(), GUARD_MS, `event ${i}`),
        clientFrame('client-n', 'private-rate', { i }),
      );
    }
    await nextIsMarker('private-rate', receiver, sender);
    await answersPingNext(sender);

    clock.now += 1_000;
    sender.send({ event: 'client-n', channel: 'private-rate', data: { i: 12 } });
    assert.deepEqual(
      await within(receiver.next(), GUARD_MS, 'event in the next window'),
      clientFrame('client-n', 'private-rate', { i: 12 }),
    );
    await nextIsMarker('private-rate', receiver, sender);
  });

  test('10,000 client events in a burst: at most 10 delivered, the rest 4301, bystanders unaffected, the sender stays', async () => {
    const { client: receiver } = await raw(['private-burst']);
    const { client: bystander } = await raw(['bystander']);
    const { client: sender } = await raw(['private-burst']);
    const BURST = 10_000;
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < BURST; i++)
      sender.send({ event: 'client-burst', channel: 'private-burst', data: { i } });

    const published = sdk.trigger('bystander', 'news', 'still served');
    assert.deepEqual(await within(bystander.next(), GUARD_MS, 'the bystander’s event during the burst'), {
      event: 'news',
      channel: 'bystander',
      data: 'still served',
    });
    assert.equal((await published).status, 200);

    for (let i = 0; i < BURST - 10; i++) {
      const error = errorOf(await within(sender.next(), GUARD_MS, `rate-limit error ${i}`));
      assert.equal(error.code, 4301);
    }
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(
        await within(receiver.next(), GUARD_MS, `delivered event ${i}`),
        clientFrame('client-burst', 'private-burst', { i }),
      );
    }
    await nextIsMarker('private-burst', receiver, sender);
    await answersPingNext(sender);
    // The refused events leave nothing behind: memory stays within a bound far below what keeping
    // them (or a timer or closure per event) would cost, in this process that holds both ends.
    const growth = process.memoryUsage().rss - rssBefore;
    assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${growth} bytes`);
  });
});

describe('HTTP request limit', () => {
  test('maxHttpRequestsPerSecond: 2 → the third signed request in the window is 429 with a JSON error; other apps and the next window are fine', async () => {
    const path = `/apps/${LIMITED.id}/channels`;
    const limitedSdk = server.sdk(LIMITED);
    const get = () =>
      fetch(`${server.httpUrl}${path}?${limitedSdk.createSignedQueryString({ method: 'GET', path })}`);
    clock.now += 1_000; // a fresh window

    for (let i = 1; i <= 2; i++) {
      const ok = await get();
      assert.equal(ok.status, 200, `request ${i}`);
      assert.deepEqual(await ok.json(), { channels: {} });
    }
    const refused = await get();
    assert.equal(refused.status, 429);
    assert.match(refused.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await refused.json()) as { error?: unknown };
    assert.equal(typeof body.error, 'string');
    assert.match(body.error as string, /Too many requests/);

    await assert.rejects(limitedSdk.trigger('x', 'y', {}), (err: { status?: number }) => err.status === 429);
    const other = await sdk.get({ path: '/channels' });
    assert.equal(other.status, 200, 'the limit is per app');

    clock.now += 1_000;
    assert.equal((await get()).status, 200, 'a new second, a new allowance');
  });
});

// Laravel Echo helpers.

async function echo(user?: { user_id: string; user_info: { name: string } }): Promise<Echo<'pusher'>> {
  const instance = new Echo({
    broadcaster: 'pusher',
    key: APP.key,
    wsHost: '127.0.0.1',
    wsPort: server.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    cluster: '',
    Pusher: Pusher as never,
    ...sdkAuthorizer(sdk, user ? () => user : undefined),
  });
  echos.push(instance);
  await within(connected(pusherOf(instance)), GUARD_MS, 'Echo to connect');
  return instance;
}

function pusherOf(instance: Echo<'pusher'>): Pusher {
  return (instance.connector as { pusher: unknown }).pusher as Pusher;
}

function subscribed(channel: { subscribed(cb: () => void): unknown }, what: string): Promise<void> {
  return within(new Promise<void>((resolve) => channel.subscribed(() => resolve())), GUARD_MS, what);
}
