import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import Echo from 'laravel-echo';
import type PusherServer from 'pusher';
import { APP, connected, startHerald, type TestHerald } from '../helpers/herald.js';
import { Pusher } from '../helpers/pusher-js.js';
import { within } from '../helpers/raw-client.js';

/**
 * Laravel Echo 2.5 on pusher-js (docs/pusher.md, "Laravel Echo"), with both connectors that speak the
 * Pusher protocol. Echo builds the pusher-js client itself from the `Pusher` option, passing every Echo
 * option through, as in a Laravel app's `bootstrap/echo.js`.
 */

type Broadcaster = 'pusher' | 'reverb';
type UserInfo = { name: string };
type SubscriptionError = { type: string; error: string; status: number };

const GUARD_MS = 5_000;

/** Channel names Echo subscribes with a signature the app would never produce. */
const FORGED = 'forged';

/**
 * An app's channel authorization, done in-process with the `pusher` SDK: presence users are looked
 * up by socket id; channels named `private-forged*` get a signature made with the wrong secret.
 */
function authorize(
  sdk: PusherServer,
  forger: PusherServer,
  users: Map<string, { user_id: string; user_info: UserInfo }>,
  socketId: string,
  channelName: string,
): { auth: string; channel_data?: string } {
  if (channelName.startsWith(`private-${FORGED}`)) return forger.authorizeChannel(socketId, channelName);
  if (channelName.startsWith('presence-')) {
    const user = users.get(socketId);
    if (!user) throw new Error(`no user for socket ${socketId}`);
    return sdk.authorizeChannel(socketId, channelName, user);
  }
  return sdk.authorizeChannel(socketId, channelName);
}

function waitFor<T>(register: (cb: (value: T) => void) => void): Promise<T> {
  return new Promise((resolve) => register(resolve));
}

for (const broadcaster of ['pusher', 'reverb'] as const satisfies readonly Broadcaster[]) {
  describe(`laravel-echo with broadcaster "${broadcaster}"`, () => {
    let server: TestHerald;
    let sdk: PusherServer;
    let forger: PusherServer;
    const users = new Map<string, { user_id: string; user_info: UserInfo }>();
    let echos: Echo<Broadcaster>[] = [];

    before(async () => {
      server = await startHerald();
      sdk = server.sdk();
      forger = server.sdk({ ...APP, secret: 'not-the-app-secret' });
    });
    afterEach(() => {
      for (const echo of echos) echo.disconnect();
      echos = [];
    });
    after(() => server.stop());

    /**
     * A connected Echo. The "pusher" broadcaster uses the deprecated `authorizer` option (as
     * Laravel's docs show), "reverb" uses pusher-js's `channelAuthorization.customHandler`.
     */
    async function echo(user?: { user_id: string; user_info: UserInfo }): Promise<Echo<Broadcaster>> {
      const handler = (
        socketId: string,
        channelName: string,
        callback: (error: Error | null, data: { auth: string; channel_data?: string } | null) => void,
      ) => {
        try {
          callback(null, authorize(sdk, forger, users, socketId, channelName));
        } catch (err) {
          callback(err as Error, null);
        }
      };
      const common = {
        key: APP.key,
        wsHost: '127.0.0.1',
        wsPort: server.port,
        forceTLS: false,
        enabledTransports: ['ws' as const],
        // Echo's typings name pusher-js's ES default export, which NodeNext types as the module object.
        Pusher: Pusher as never,
      };
      const instance: Echo<Broadcaster> =
        broadcaster === 'pusher'
          ? new Echo({
              ...common,
              broadcaster: 'pusher',
              // Ignored for the socket URL because wsHost is set, as in a Laravel app on a Pusher-compatible server.
              cluster: 'mt1',
              authorizer: (channel: { name: string }) => ({
                authorize: (socketId: string, callback: Parameters<typeof handler>[2]) =>
                  handler(socketId, channel.name, callback),
              }),
            })
          : new Echo({
              ...common,
              broadcaster: 'reverb',
              channelAuthorization: {
                customHandler: (
                  params: { socketId: string; channelName: string },
                  callback: Parameters<typeof handler>[2],
                ) => handler(params.socketId, params.channelName, callback),
              },
            });
      echos.push(instance);
      const socketId = await within(connected(pusherOf(instance)), GUARD_MS, 'Echo to connect');
      assert.equal(instance.socketId(), socketId);
      assert.match(socketId, /^\d+\.\d+$/);
      if (user) users.set(socketId, user);
      return instance;
    }

    function pusherOf(instance: Echo<Broadcaster>): Pusher {
      return (instance.connector as { pusher: unknown }).pusher as Pusher;
    }

    function subscribed(channel: { subscribed(cb: () => void): unknown }, what: string): Promise<void> {
      return within(
        waitFor<void>((cb) => channel.subscribed(() => cb())),
        GUARD_MS,
        what,
      );
    }

    test('.listen(".raw-name") and .listen("OrderShipped") on a public channel', async () => {
      const e = await echo();
      const channel = e.channel('orders');
      const ready = subscribed(channel, 'public subscription');
      const raw = waitFor<unknown>((cb) => channel.listen('.raw-name', cb));
      const shipped = waitFor<unknown>((cb) => channel.listen('OrderShipped', cb));
      await ready;

      await sdk.trigger('orders', 'raw-name', { id: 1, note: 'as is' });
      // What Laravel's PusherBroadcaster sends for `App\Events\OrderShipped` (namespace App.Events).
      await sdk.trigger('orders', 'App\\Events\\OrderShipped', { order: { id: 7 }, tracking: 'ÅX-1' });

      assert.deepEqual(await within(raw, GUARD_MS, 'raw-name'), { id: 1, note: 'as is' });
      assert.deepEqual(await within(shipped, GUARD_MS, 'OrderShipped'), {
        order: { id: 7 },
        tracking: 'ÅX-1',
      });
    });

    test('Echo.private() authorizes through the app and receives events', async () => {
      const e = await echo();
      const channel = e.private('invoices.5');
      const errors: unknown[] = [];
      channel.error((err: unknown) => errors.push(err));
      const paid = waitFor<unknown>((cb) => channel.listen('InvoicePaid', cb));
      await subscribed(channel, 'private subscription');
      assert.ok(pusherOf(e).channel('private-invoices.5')?.subscribed);

      const response = await sdk.trigger('private-invoices.5', 'App\\Events\\InvoicePaid', { amount: 1250 });
      assert.equal(response.status, 200);
      assert.deepEqual(await within(paid, GUARD_MS, 'InvoicePaid'), { amount: 1250 });
      assert.deepEqual(errors, []);
    });

    test('.error() fires when the server refuses a wrongly signed subscription; the socket stays', async () => {
      const e = await echo();
      const forged = e.private(`${FORGED}.1`);
      const subscribedToForged: unknown[] = [];
      forged.subscribed(() => subscribedToForged.push(true));
      const error = await within(
        waitFor<SubscriptionError>((cb) => forged.error(cb)),
        GUARD_MS,
        'subscription error',
      );
      assert.equal(error.type, 'AuthError');
      assert.equal(error.status, 401);
      assert.equal(typeof error.error, 'string');
      assert.ok(error.error.length > 0);

      // Same connection, still usable: a correctly signed channel subscribes.
      assert.equal(pusherOf(e).connection.state, 'connected');
      const fine = e.private('invoices.6');
      await subscribed(fine, 'private subscription after a refused one');
      assert.deepEqual(subscribedToForged, []);
      assert.equal(pusherOf(e).channel(`private-${FORGED}.1`)?.subscribed, false);
    });

    test('Echo.join(): .here, .joining and .leaving see user_info', async () => {
      const ada = { user_id: '1', user_info: { name: 'Ada' } };
      const bob = { user_id: '2', user_info: { name: 'Bob' } };
      const first = await echo(ada);
      const second = await echo(bob);

      const roomA = first.join('room.1');
      const hereA = within(
        waitFor<UserInfo[]>((cb) => roomA.here(cb)),
        GUARD_MS,
        'here (first)',
      );
      const joining = waitFor<UserInfo>((cb) => roomA.joining(cb));
      const leaving = waitFor<UserInfo>((cb) => roomA.leaving(cb));
      assert.deepEqual(await hereA, [{ name: 'Ada' }]);

      const roomB = second.join('room.1');
      const ownJoin: UserInfo[] = [];
      roomB.joining((u: UserInfo) => ownJoin.push(u));
      const hereB = await within(
        waitFor<UserInfo[]>((cb) => roomB.here(cb)),
        GUARD_MS,
        'here (second)',
      );
      assert.deepEqual(
        [...hereB].sort((a, b) => a.name.localeCompare(b.name)),
        [{ name: 'Ada' }, { name: 'Bob' }],
      );
      assert.deepEqual(await within(joining, GUARD_MS, 'joining'), { name: 'Bob' });

      const users = (await sdk.get({ path: '/channels/presence-room.1/users' }).then((r) => r.json())) as {
        users: { id: string }[];
      };
      assert.deepEqual(users.users.map((u) => u.id).sort(), ['1', '2']);

      second.leave('room.1');
      assert.deepEqual(await within(leaving, GUARD_MS, 'leaving'), { name: 'Bob' });
      // The joiner is never told about itself.
      assert.deepEqual(ownJoin, []);
    });

    test('Echo.leave() unsubscribes: no more events, the channel is vacated', async () => {
      const e = await echo();
      const left = e.channel('news');
      const kept = e.channel('weather');
      const onLeft: unknown[] = [];
      left.listen('.story', (d: unknown) => onLeft.push(d));
      await Promise.all([subscribed(left, 'news'), subscribed(kept, 'weather')]);
      await sdk.trigger('news', 'story', { n: 1 });
      const firstForecast = waitFor<unknown>((cb) => kept.listen('.forecast', cb));
      await sdk.trigger('weather', 'forecast', { n: 1 });
      await within(firstForecast, GUARD_MS, 'first forecast');
      assert.deepEqual(onLeft, [{ n: 1 }]);

      e.leave('news');
      assert.equal(pusherOf(e).channel('news'), undefined);
      // A subscription sent after the unsubscribe is answered after it was handled.
      await subscribed(e.channel('sport'), 'sport');
      const occupied = (await sdk.get({ path: '/channels/news' }).then((r) => r.json())) as {
        occupied: boolean;
      };
      assert.equal(occupied.occupied, false);

      await sdk.trigger('news', 'story', { n: 2 });
      const secondForecast = waitFor<unknown>((cb) => kept.listen('.forecast', cb));
      await sdk.trigger('weather', 'forecast', { n: 2 });
      assert.deepEqual(await within(secondForecast, GUARD_MS, 'second forecast'), { n: 2 });
      assert.deepEqual(onLeft, [{ n: 1 }]);
    });

    test('Echo.socketId() as socket_id excludes that client, as toOthers() does', async () => {
      const sender = await echo();
      const other = await echo();
      const senderChannel = sender.channel('chat');
      const otherChannel = other.channel('chat');
      const senderGot: unknown[] = [];
      senderChannel.listen('MessagePosted', (d: unknown) => senderGot.push(d));
      const otherGot: unknown[] = [];
      const otherBoth = new Promise<void>((resolve) =>
        otherChannel.listen('MessagePosted', (d: unknown) => {
          otherGot.push(d);
          if (otherGot.length === 2) resolve();
        }),
      );
      const senderEveryone = waitFor<unknown>((cb) => senderChannel.listen('.everyone', cb));
      await Promise.all([subscribed(senderChannel, 'sender'), subscribed(otherChannel, 'other')]);

      const socketId = sender.socketId();
      assert.ok(socketId);
      await sdk.trigger('chat', 'App\\Events\\MessagePosted', { text: 'one' }, { socket_id: socketId });
      await sdk.trigger('chat', 'App\\Events\\MessagePosted', { text: 'two' }, { socket_id: socketId });
      await sdk.trigger('chat', 'everyone', { text: 'all' });

      await within(otherBoth, GUARD_MS, 'both messages at the other client');
      assert.deepEqual(otherGot, [{ text: 'one' }, { text: 'two' }]);
      // The sender got the later, unfiltered event, so the filtered ones would have arrived before it.
      assert.deepEqual(await within(senderEveryone, GUARD_MS, 'unfiltered event at the sender'), {
        text: 'all',
      });
      assert.deepEqual(senderGot, []);
    });
  });
}
