import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AppConfig } from '../../../../src/config/schema.js';
import { MemoryPresenceStore } from '../../../../src/core/presence/memory.js';
import { AppStates } from '../../../../src/protocol/pusher/app-states.js';
import type { UsersContext } from '../../../../src/protocol/pusher/context.js';
import { answer } from '../../../../src/protocol/pusher/refusal.js';
import type { PusherSocket } from '../../../../src/protocol/pusher/socket.js';
import { SIGNED_IN, Users, WATCHLIST_OP } from '../../../../src/protocol/pusher/users.js';
import { bareSocket, connectionOf, sdkFor, silent, testApp } from './harness.js';

/** `Users` alone, on a context of fakes: sign-in, its deadline, watchlists, termination. */

function setUp(config: Partial<AppConfig> = {}) {
  const app = testApp(config);
  const broadcasts: unknown[][] = [];
  const presence = new MemoryPresenceStore();
  const states = new AppStates();
  const ctx: UsersContext = {
    options: {
      adapter: { broadcast: async (op, payload) => void broadcasts.push([op, payload]) },
      presence,
      logger: silent,
      now: Date.now,
    },
    state: (a) => states.of(a),
    answer: (socket, err) => answer(socket, err),
  };
  const users = new Users(ctx);
  const sdk = sdkFor(app);
  let ids = 0;
  const socket = () => {
    const s = bareSocket(app, `${++ids}.7`);
    users.opened(s, app);
    return s;
  };
  const signin = (s: PusherSocket, userData: { id: string; [key: string]: unknown }) =>
    users.signin(s, sdk.authenticateUser(s.id, userData));
  return { app, users, presence, states, broadcasts, socket, signin };
}

const sent = (socket: PusherSocket) => connectionOf(socket).sent;

describe('sign-in', () => {
  test("the SDK's signature: pusher:signin_success with the user_data, and the user known on this node", async () => {
    const { app, users, states, socket } = setUp();
    const s = socket();
    const signed = sdkFor(app).authenticateUser(s.id, { id: 'u1', user_info: { name: 'One' } });
    await users.signin(s, signed);
    assert.deepEqual(sent(s), [{ event: 'pusher:signin_success', data: { user_data: signed.user_data } }]);
    assert.deepEqual(states.of(app).users.connections('u1'), [s]);
  });

  test('a bad signature, or another user on a signed-in connection: pusher:error 4009, the socket stays open', async () => {
    const { app, users, socket, signin } = setUp();
    const s = socket();
    await users.signin(s, { auth: `${app.key}:${'0'.repeat(64)}`, user_data: '{"id":"u1"}' });
    await signin(s, { id: 'u1' });
    await signin(s, { id: 'u2' });
    assert.deepEqual(
      sent(s).map((f) => [f.event, (f.data as { code?: number }).code]),
      [
        ['pusher:error', 4009],
        ['pusher:signin_success', undefined],
        ['pusher:error', 4009],
      ],
    );
    assert.match((sent(s)[2]!.data as { message: string }).message, /already signed in as user u1/);
    assert.equal(connectionOf(s).closed, undefined);
  });

  test('apps that require it: connections neither signed in nor on a private channel in time are closed (4009)', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { socket } = setUp({ userAuthentication: true, userAuthenticationTimeoutMs: 1000 });
    const [idle, onPrivate] = [socket(), socket()];
    onPrivate.channels.set('private-a', null);
    t.mock.timers.tick(999);
    assert.equal(connectionOf(idle).closed, undefined);
    t.mock.timers.tick(1);
    assert.equal(connectionOf(idle).closed?.code, 4009);
    assert.equal(connectionOf(onPrivate).closed, undefined);
  });
});

describe('termination', () => {
  test('closes every connection signed in as the user (4009), on this node, and says how many; others stay', async () => {
    const { app, users, socket, signin } = setUp();
    const [a, b, other] = [socket(), socket(), socket()];
    await signin(a, { id: 'u1' });
    await signin(b, { id: 'u1' });
    await signin(other, { id: 'u2' });
    assert.equal(users.terminate(app, 'u1'), 2);
    for (const s of [a, b]) {
      assert.deepEqual(connectionOf(s).closed, { code: 4009, reason: 'You got disconnected by the app.' });
    }
    assert.equal(connectionOf(other).closed, undefined);
    assert.equal(users.terminate(app, 'nobody'), 0);
  });
});

describe('watchlists', () => {
  test('the status of the watched users after sign-in, then one event per change', async () => {
    const { app, users, presence, broadcasts, socket, signin } = setUp({ watchlistEvents: true });
    const [watched, watcher] = [socket(), socket()];
    await signin(watched, { id: 'u2' });
    await signin(watcher, { id: 'u1', watchlist: ['u2', 'u3'] });
    assert.deepEqual(sent(watcher).at(-1), {
      event: 'pusher_internal:watchlist_events',
      data: {
        events: [
          { name: 'online', user_ids: ['u2'] },
          { name: 'offline', user_ids: ['u3'] },
        ],
      },
    });
    assert.deepEqual(broadcasts, [
      [WATCHLIST_OP, { appId: app.id, userId: 'u2', name: 'online' }],
      [WATCHLIST_OP, { appId: app.id, userId: 'u1', name: 'online' }],
    ]);
    assert.equal(await presence.count(`pusher:${app.id}`, SIGNED_IN), 2);

    users.tellWatchers(app, 'u3', 'online');
    users.tellWatchers(app, 'u9', 'online');
    assert.deepEqual(sent(watcher).at(-1), {
      event: 'pusher_internal:watchlist_events',
      data: { events: [{ name: 'online', user_ids: ['u3'] }] },
    });
    assert.equal(sent(watcher).length, 3, 'nothing about a user not watched');

    await users.closed(watched, app, false);
    assert.deepEqual(broadcasts.at(-1), [WATCHLIST_OP, { appId: app.id, userId: 'u2', name: 'offline' }]);
  });

  test('more ids than maxWatchlistSize: the first are kept, and pusher:error 4302 after signin_success', async () => {
    const { socket, signin } = setUp({ watchlistEvents: true, maxWatchlistSize: 2 });
    const s = socket();
    await signin(s, { id: 'u1', watchlist: ['a', 'b', 'c'] });
    assert.deepEqual(s.watchlist, ['a', 'b']);
    assert.deepEqual(
      sent(s).map((f) => [f.event, (f.data as { code?: number }).code]),
      [
        ['pusher:signin_success', undefined],
        ['pusher:error', 4302],
        ['pusher_internal:watchlist_events', undefined],
      ],
    );
  });
});
