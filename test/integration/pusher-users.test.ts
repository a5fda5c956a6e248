import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import type PusherServer from 'pusher';
import { WebSocket } from 'ws';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import type { Pusher } from '../helpers/pusher-js.js';
import { type PusherFrame, RawClient, within } from '../helpers/raw-client.js';

/**
 * User authentication (Pusher docs, User authentication): `pusher:signin`, server-to-user channels,
 * `terminate_connections`, watchlist events and the sign-in deadline, with pusher-js
 * (`user.signin()`, `user.bind`, `user.watchlist`), the `pusher` SDK and raw sockets.
 */

const GUARD_MS = 5_000;
type Credentials = { id: string; key: string; secret: string };
type User = { id: string; [key: string]: unknown };

// The user authentication worked example of the Pusher docs (Authentication and authorization signatures),
// and the same credentials signing a user with user_info and a watchlist.
const VECTOR_APP = { id: '3', key: '278d425bdf160c739803', secret: '7ad3773142a6692b25b8' } as const;
const VECTOR_SOCKET = '1234.1234';
const DOCS_USER = '{"id":"12345"}';
const DOCS_AUTH = `${VECTOR_APP.key}:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba`;
const EXTRAS_USER = '{"id":"12345","user_info":{"name":"Mr. Channels"},"watchlist":["1","2"]}';
const EXTRAS_AUTH = `${VECTOR_APP.key}:da7ec609913f96ba9fafa57cb02d14e71b68105e35b889fc50529bb912a468fd`;

const WATCH = { id: 'watch-id', key: 'watch-key', secret: 'watch-secret' } as const;
const GATED = { id: 'gated-id', key: 'gated-key', secret: 'gated-secret' } as const;
const SIGNIN_DEADLINE_MS = 400;

function errorOf(frame: PusherFrame): { code: number | null; message: string } {
  assert.equal(frame.event, 'pusher:error', JSON.stringify(frame));
  return frame.data as { code: number | null; message: string };
}

/** `auth` over `<socket_id>::user::<user_data>` for any string, as an app's endpoint would sign it. */
function userAuth(app: Credentials, socketId: string, userData: string): string {
  return `${app.key}:${createHmac('sha256', app.secret).update(`${socketId}::user::${userData}`).digest('hex')}`;
}

/** The next frame is the pong to this ping: nothing else was pending for the client. */
async function answersPingNext(client: RawClient): Promise<void> {
  assert.equal(client.ws.readyState, WebSocket.OPEN);
  client.send({ event: 'pusher:ping', data: {} });
  const frame = await within(client.next(), GUARD_MS, 'pong');
  assert.equal(frame.event, 'pusher:pong', `expected pong, got ${JSON.stringify(frame)}`);
}

/** The WebSocket object (faye-websocket) under a connected pusher-js client. */
function websocketOf(client: Pusher): { _closeTimer?: NodeJS.Timeout } {
  const manager = client.connection as unknown as { connection: { transport: { socket: object } } };
  return manager.connection.transport.socket;
}

describe('the docs’ user vector (socket id pinned to 1234.1234)', () => {
  let server: TestHerald;
  let client: RawClient;

  before(async () => {
    server = await startHerald(
      { apps: [{ ...VECTOR_APP, watchlistEvents: true }] },
      { socketIds: () => VECTOR_SOCKET },
    );
    const connection = await RawClient.connect(server.wsUrl(VECTOR_APP.key));
    assert.equal(connection.socketId, VECTOR_SOCKET);
    client = connection.client;
  });
  after(async () => {
    client.close();
    await server.stop();
  });

  test('the SDK’s authenticateUser produces the vector', () => {
    assert.deepEqual(server.sdk(VECTOR_APP).authenticateUser(VECTOR_SOCKET, { id: '12345' }), {
      auth: DOCS_AUTH,
      user_data: DOCS_USER,
    });
  });

  test('bad signature, user_data not JSON, no id: pusher:error, no signin_success, socket open', async () => {
    const last = DOCS_AUTH.at(-1) === 'a' ? 'b' : 'a';
    const bad: [unknown, RegExp][] = [
      [{ auth: `${DOCS_AUTH.slice(0, -1)}${last}`, user_data: DOCS_USER }, /Invalid signature/],
      [{ auth: DOCS_AUTH, user_data: '{"id":"12346"}' }, /Invalid signature/],
      [{ auth: userAuth(VECTOR_APP, VECTOR_SOCKET, 'not json'), user_data: 'not json' }, /user_data must be/],
      [
        { auth: userAuth(VECTOR_APP, VECTOR_SOCKET, '{"name":"x"}'), user_data: '{"name":"x"}' },
        /non-empty string id/,
      ],
      [
        { auth: userAuth(VECTOR_APP, VECTOR_SOCKET, '{"id":12345}'), user_data: '{"id":12345}' },
        /non-empty string id/,
      ],
      [{ auth: DOCS_AUTH }, /user_data string/],
    ];
    for (const [data, reason] of bad) {
      client.send({ event: 'pusher:signin', data });
      const error = errorOf(await within(client.next(), GUARD_MS, `error for ${JSON.stringify(data)}`));
      assert.equal(error.code, 4009);
      assert.match(error.message, reason);
    }
    await answersPingNext(client);
    const refused = await within(client.subscribe('#server-to-user-12345'), GUARD_MS, 'user channel refusal');
    assert.equal(refused.event, 'pusher:subscription_error', 'not signed in: the user channel is refused');
    errorOf(await client.next());
  });

  test('the docs vector signs in: pusher:signin_success echoes user_data exactly', async () => {
    client.send({ event: 'pusher:signin', data: { auth: DOCS_AUTH, user_data: DOCS_USER } });
    assert.deepEqual(await within(client.next(), GUARD_MS, 'signin_success'), {
      event: 'pusher:signin_success',
      data: { user_data: DOCS_USER },
    });
    const own = await within(
      client.subscribe('#server-to-user-12345', { auth: '' }),
      GUARD_MS,
      'own user channel',
    );
    assert.deepEqual(own, {
      event: 'pusher_internal:subscription_succeeded',
      channel: '#server-to-user-12345',
      data: '{}',
    });
  });

  test('the vector with user_info and watchlist (same id again is accepted): echo, then the watched users’ state', async () => {
    client.send({
      event: 'pusher:signin',
      data: JSON.stringify({ auth: EXTRAS_AUTH, user_data: EXTRAS_USER }),
    });
    assert.deepEqual(await within(client.next(), GUARD_MS, 'signin_success'), {
      event: 'pusher:signin_success',
      data: { user_data: EXTRAS_USER },
    });
    assert.deepEqual(await within(client.next(), GUARD_MS, 'watchlist snapshot'), {
      event: 'pusher_internal:watchlist_events',
      data: { events: [{ name: 'offline', user_ids: ['1', '2'] }] },
    });
    await answersPingNext(client);
  });
});

describe('signed-in users', () => {
  let server: TestHerald;
  let raws: RawClient[] = [];

  before(async () => {
    server = await startHerald({
      apps: [
        { ...APP, clientEvents: true },
        { ...WATCH, watchlistEvents: true },
        { ...GATED, userAuthentication: true, userAuthenticationTimeoutMs: SIGNIN_DEADLINE_MS },
      ],
    });
  });
  afterEach(() => {
    for (const raw of raws) raw.close();
    raws = [];
  });
  after(() => server.stop());

  const sdkFor = (app: Credentials = APP): PusherServer => server.sdk(app);

  async function connect(app: Credentials = APP): Promise<{ client: RawClient; socketId: string }> {
    const connection = await RawClient.connect(server.wsUrl(app.key));
    raws.push(connection.client);
    return connection;
  }

  /** Signs a raw connection in through the SDK's authenticateUser; checks the echo. */
  async function signIn(
    connection: { client: RawClient; socketId: string },
    user: User,
    app: Credentials = APP,
  ): Promise<void> {
    const signed = sdkFor(app).authenticateUser(connection.socketId, user);
    connection.client.send({ event: 'pusher:signin', data: signed });
    const success = await within(
      connection.client.next('pusher:signin_success'),
      GUARD_MS,
      `signin as ${user.id}`,
    );
    assert.deepEqual(success.data, { user_data: signed.user_data });
  }

  /** A raw connection signed in as `id` and subscribed to its server-to-user channel, as pusher-js does. */
  async function rawUser(id: string, app: Credentials = APP, extra: Partial<User> = {}): Promise<RawClient> {
    const connection = await connect(app);
    await signIn(connection, { ...extra, id }, app);
    const reply = await within(
      connection.client.subscribe(`#server-to-user-${id}`),
      GUARD_MS,
      'user channel',
    );
    assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
    return connection.client;
  }

  /**
   * pusher-js signing in through `userAuthentication.customHandler` with the SDK; `ready` resolves
   * once its `#server-to-user-<id>` subscription succeeded.
   */
  function pusherUser(
    id: string,
    app: Credentials = APP,
    extra: Partial<User> = {},
  ): { client: Pusher; ready: Promise<void> } {
    const sdk = sdkFor(app);
    const client = server.client(
      {
        userAuthentication: {
          endpoint: '/unused',
          transport: 'ajax',
          customHandler: ({ socketId }, callback) =>
            callback(null, sdk.authenticateUser(socketId, { ...extra, id })),
        },
      },
      app.key,
    );
    const ready = new Promise<void>((resolve) => {
      client.connection.bind('message', (message: PusherFrame) => {
        if (
          message.event === 'pusher_internal:subscription_succeeded' &&
          message.channel === `#server-to-user-${id}`
        )
          resolve();
      });
    });
    client.user.signin();
    return { client, ready: within(ready, GUARD_MS, `pusher-js signed in as ${id}`) };
  }

  test('own #server-to-user-<id> is allowed, another id’s and an unsigned connection’s are refused', async () => {
    const connection = await connect();
    await signIn(connection, { id: '42' });
    const { client } = connection;
    const own = await within(client.subscribe('#server-to-user-42'), GUARD_MS, 'own channel');
    assert.equal(own.event, 'pusher_internal:subscription_succeeded');

    const other = await within(client.subscribe('#server-to-user-43'), GUARD_MS, 'other channel');
    assert.equal(other.event, 'pusher:subscription_error');
    assert.equal((other.data as { status: number }).status, 403);
    errorOf(await client.next());
    const prefix = await within(client.subscribe('#server-to-user-4'), GUARD_MS, 'prefix of own id');
    assert.equal(prefix.event, 'pusher:subscription_error');
    errorOf(await client.next());

    const { client: anonymous } = await connect();
    const refused = await within(anonymous.subscribe('#server-to-user-42'), GUARD_MS, 'unsigned');
    assert.equal(refused.event, 'pusher:subscription_error');
    errorOf(await anonymous.next());

    await sdkFor().sendToUser('43', 'for-43', { x: 1 });
    await sdkFor().sendToUser('42', 'for-42', { x: 2 });
    assert.deepEqual(await within(client.next(), GUARD_MS, 'own event'), {
      event: 'for-42',
      channel: '#server-to-user-42',
      data: '{"x":2}',
    });
    await answersPingNext(anonymous);
  });

  test('sendToUser reaches every connection of that user (pusher-js user.bind) and nobody else', async () => {
    const first = pusherUser('42');
    const second = pusherUser('42', APP, { user_info: { device: 'phone' } });
    const bystander = pusherUser('43');
    await Promise.all([first.ready, second.ready, bystander.ready]);
    const raw = await rawUser('42');
    const { client: anonymous } = await connect();

    const heard: [string, unknown][] = [];
    bystander.client.user.bind_global((event: string, data: unknown) => heard.push([event, data]));
    const got = [first, second].map(
      ({ client }) => new Promise<unknown>((resolve) => client.user.bind('note', resolve)),
    );

    const response = await sdkFor().sendToUser('42', 'note', { text: 'hi', n: 1 });
    assert.equal(response.status, 200);
    for (const data of await within(Promise.all(got), GUARD_MS, 'note at both pusher-js connections')) {
      assert.deepEqual(data, { text: 'hi', n: 1 });
    }
    assert.deepEqual(await within(raw.next(), GUARD_MS, 'note at the raw connection'), {
      event: 'note',
      channel: '#server-to-user-42',
      data: '{"text":"hi","n":1}',
    });

    const marker = new Promise<unknown>((resolve) => bystander.client.user.bind('marker', resolve));
    await sdkFor().sendToUser('43', 'marker', 'm');
    await within(marker, GUARD_MS, 'marker at 43');
    assert.deepEqual(heard, [['marker', 'm']], 'user 43 got only its own event');
    await answersPingNext(anonymous);
  });

  test('terminate_connections closes every signed-in connection of the user (4009) and returns 200 {}', async () => {
    const signedA = await connect();
    await signIn(signedA, { id: 'term' });
    const signedB = await connect();
    await signIn(signedB, { id: 'term' });
    const viaPusherJs = pusherUser('term');
    await viaPusherJs.ready;
    const fayeSocket = websocketOf(viaPusherJs.client);
    const disconnected = new Promise<void>((resolve) =>
      viaPusherJs.client.connection.bind('state_change', ({ current }: { current: string }) => {
        if (current === 'disconnected') resolve();
      }),
    );
    // Only a presence user id "term", never signed in: not affected (Pusher docs, Terminating user
    // connections).
    const presenceOnly = await connect();
    const channel = 'presence-term';
    const { auth, channel_data } = sdkFor().authorizeChannel(presenceOnly.socketId, channel, {
      user_id: 'term',
    });
    await within(presenceOnly.client.subscribe(channel, { auth, channel_data }), GUARD_MS, 'presence');
    const other = await connect();
    await signIn(other, { id: 'other' });

    const response = await sdkFor().terminateUserConnections('term');
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {});

    for (const { client } of [signedA, signedB]) {
      const error = errorOf(await within(client.next(), GUARD_MS, 'pusher:error before the close'));
      assert.equal(error.code, 4009);
      const closed = await within(client.closed, GUARD_MS, 'close');
      assert.equal(closed.code, 4009);
    }
    await within(disconnected, GUARD_MS, 'pusher-js to stop (4009: no reconnect)');
    assert.equal(viaPusherJs.client.connection.state, 'disconnected');
    // On a 4009 close pusher-js closes its already closed socket again; the bundled faye-websocket
    // then arms a 30 s close timer that nothing clears, which would keep the test process alive.
    clearTimeout(fayeSocket._closeTimer);

    await answersPingNext(presenceOnly.client);
    await answersPingNext(other.client);
    const users = await sdkFor().get({ path: `/channels/${channel}/users` });
    assert.deepEqual(await users.json(), { users: [{ id: 'term' }] });

    const nobody = await sdkFor().terminateUserConnections('nobody-here');
    assert.equal(nobody.status, 200);
    assert.deepEqual(await nobody.json(), {});
  });

  test('a connection signed in as one user cannot sign in as another', async () => {
    const connection = await connect();
    await signIn(connection, { id: 'x' });
    const { client } = connection;
    client.send({
      event: 'pusher:signin',
      data: sdkFor().authenticateUser(connection.socketId, { id: 'y' }),
    });
    const error = errorOf(await within(client.next(), GUARD_MS, 'refusal'));
    assert.equal(error.code, 4009);
    assert.match(error.message, /already signed in as user x/);
    await answersPingNext(client);

    const theirs = await within(client.subscribe('#server-to-user-y'), GUARD_MS, 'y channel');
    assert.equal(theirs.event, 'pusher:subscription_error');
    errorOf(await client.next());
    const own = await within(client.subscribe('#server-to-user-x'), GUARD_MS, 'x channel');
    assert.equal(own.event, 'pusher_internal:subscription_succeeded');

    await sdkFor().sendToUser('y', 'for-y', 1);
    await sdkFor().sendToUser('x', 'for-x', 2);
    assert.deepEqual(await within(client.next(), GUARD_MS, 'x event'), {
      event: 'for-x',
      channel: '#server-to-user-x',
      data: '2',
    });
    await signIn(connection, { id: 'x', user_info: { again: true } });
  });

  describe('watchlist events', () => {
    const ONLINE = 'pusher_internal:watchlist_events';
    const watchFrame = (name: 'online' | 'offline', ids: string[]): PusherFrame => ({
      event: ONLINE,
      data: { events: [{ name, user_ids: ids }] },
    });

    test('101 ids: signin_success, pusher:error 4302, the first 100 watched; changes reach the watcher once per user', async () => {
      const ids = Array.from({ length: 101 }, (_, i) => `w${i}`);
      const watcher = await connect(WATCH);
      const signed = sdkFor(WATCH).authenticateUser(watcher.socketId, { id: 'watcher', watchlist: ids });
      watcher.client.send({ event: 'pusher:signin', data: signed });
      const { client } = watcher;
      assert.deepEqual(await within(client.next('pusher:signin_success'), GUARD_MS, 'signin'), {
        event: 'pusher:signin_success',
        data: { user_data: signed.user_data },
      });
      assert.deepEqual(errorOf(await within(client.next('pusher:error'), GUARD_MS, 'limit error')), {
        code: 4302,
        message: 'Watchlist limit exceeded. Only the first 100 user IDs are accepted.',
      });
      assert.deepEqual(
        await within(client.next(ONLINE), GUARD_MS, 'snapshot'),
        watchFrame('offline', ids.slice(0, 100)),
      );
      assert.equal(client.ws.readyState, WebSocket.OPEN);

      // w100 was over the limit: its sign-in is not reported; w0's is, once for two connections.
      const dropped = await rawUser('w100', WATCH);
      const w0a = await rawUser('w0', WATCH);
      assert.deepEqual(await within(client.next(), GUARD_MS, 'w0 online'), watchFrame('online', ['w0']));
      const w0b = await rawUser('w0', WATCH);
      w0a.close();
      await within(w0a.closed, GUARD_MS, 'first w0 connection to close');
      dropped.close();
      w0b.close();
      assert.deepEqual(await within(client.next(), GUARD_MS, 'w0 offline'), watchFrame('offline', ['w0']));
      await answersPingNext(client);
    });

    test('pusher-js user.watchlist: the snapshot splits online and offline, then each change', async () => {
      const online = await rawUser('on-1', WATCH);
      const watcher = pusherUser('pj-watcher', WATCH, { watchlist: ['on-1', 'off-1'] });
      const events: { name: string; user_ids: string[] }[] = [];
      const record = (event: { name: string; user_ids: string[] }) => events.push(event);
      watcher.client.user.watchlist.bind('online', record);
      watcher.client.user.watchlist.bind('offline', record);
      await watcher.ready;
      assert.deepEqual(events, [
        { name: 'online', user_ids: ['on-1'] },
        { name: 'offline', user_ids: ['off-1'] },
      ]);

      const cameOnline = new Promise((resolve) => watcher.client.user.watchlist.bind('online', resolve));
      const later = pusherUser('off-1', WATCH);
      assert.deepEqual(await within(cameOnline, GUARD_MS, 'off-1 online'), {
        name: 'online',
        user_ids: ['off-1'],
      });
      await later.ready;
      const wentOffline = new Promise((resolve) => watcher.client.user.watchlist.bind('offline', resolve));
      online.close();
      assert.deepEqual(await within(wentOffline, GUARD_MS, 'on-1 offline'), {
        name: 'offline',
        user_ids: ['on-1'],
      });
      later.client.disconnect();
    });

    test('an app without watchlistEvents: 101 ids sign in with no 4302 and no watchlist frames', async () => {
      const ids = Array.from({ length: 101 }, (_, i) => `n${i}`);
      const connection = await connect();
      await signIn(connection, { id: 'unwatched', watchlist: ids });
      await rawUser('n0');
      await answersPingNext(connection.client);
    });
  });

  describe('sign-in deadline (userAuthentication)', () => {
    test('an unsigned connection gets pusher:error 4009, then close 4009; a signed-in one stays open', async () => {
      const signed = await connect(GATED);
      await signIn(signed, { id: 'in-time' }, GATED);
      const viaPusherJs = pusherUser('in-time-js', GATED);
      await viaPusherJs.ready;
      const failedSignin = await connect(GATED);
      failedSignin.client.send({
        event: 'pusher:signin',
        data: { auth: userAuth(GATED, '1.1', '{"id":"late"}'), user_data: '{"id":"late"}' },
      });
      const unsigned = await connect(GATED);

      for (const { client } of [failedSignin, unsigned]) {
        if (client === failedSignin.client) assert.equal(errorOf(await client.next()).code, 4009);
        const error = errorOf(await within(client.next(), SIGNIN_DEADLINE_MS + GUARD_MS, 'deadline error'));
        assert.equal(error.code, 4009);
        assert.match(error.message, /unauthorized/i);
        assert.equal((await within(client.closed, GUARD_MS, 'close')).code, 4009);
      }
      // Both signed-in connections were opened before the unsigned one, so their deadlines have passed.
      await answersPingNext(signed.client);
      assert.equal(viaPusherJs.client.connection.state, 'connected');
    });

    test('a connection subscribed to a private channel in time is authorized too', async () => {
      const { client, socketId } = await connect(GATED);
      const channel = 'private-gated';
      const hex = createHmac('sha256', GATED.secret).update(`${socketId}:${channel}`).digest('hex');
      const reply = await client.subscribe(channel, { auth: `${GATED.key}:${hex}` });
      assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
      const unsigned = await connect(GATED);
      await within(unsigned.client.closed, SIGNIN_DEADLINE_MS + GUARD_MS, 'unsigned connection to close');
      await answersPingNext(client);
    });

    test('an app without userAuthentication never closes unsigned connections', async () => {
      const idle = await connect();
      const gated = await connect(GATED);
      await within(gated.client.closed, SIGNIN_DEADLINE_MS + GUARD_MS, 'gated connection to close');
      await answersPingNext(idle.client);
    });
  });
});
