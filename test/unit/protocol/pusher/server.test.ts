import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { harness } from './harness.js';

/** The Pusher server over fake connections: what a client sees, frame by frame. */

describe('handshake', () => {
  test('connection_established carries a socket id and the activity timeout', async () => {
    const { connect } = harness();
    const { connection, socketId } = await connect();
    assert.match(socketId, /^\d+\.\d+$/);
    assert.deepEqual(connection.sent, [
      { event: 'pusher:connection_established', data: { socket_id: socketId, activity_timeout: 120 } },
    ]);
  });

  test('socket ids come from the generator given, skipping one already in use', async () => {
    const ids = ['1.1', '1.1', '2.2'];
    const { connect } = harness({}, { socketIds: () => ids.shift()! });
    assert.equal((await connect()).socketId, '1.1');
    assert.equal((await connect()).socketId, '2.2');
  });

  test('an unknown key gets pusher:error 4001, then the close with the same code', async () => {
    const { open } = harness();
    const { connection, first } = await open('protocol=7', 'no-such-key');
    const message = 'App key no-such-key not in this cluster. Did you forget to specify the cluster?';
    assert.deepEqual(first, { event: 'pusher:error', data: { code: 4001, message } });
    assert.deepEqual(connection.closed, { code: 4001, reason: message });
  });

  test('protocol 3 is refused with 4007, a malformed version with 4006; none counts as 7', async () => {
    const { open } = harness();
    assert.equal((await open('protocol=3')).connection.closed?.code, 4007);
    assert.equal((await open('protocol=8')).connection.closed?.code, 4007);
    assert.equal((await open('protocol=7a')).connection.closed?.code, 4006);
    assert.equal((await open('')).first.event, 'pusher:connection_established');
  });
});

describe('liveness', () => {
  test('pusher:ping is answered with pusher:pong', async () => {
    const { connect } = harness();
    const client = await connect();
    client.send('pusher:ping', {});
    assert.deepEqual(await client.connection.next('pusher:pong'), { event: 'pusher:pong', data: {} });
  });

  test('a silent client is pinged after the activity timeout, and closed with 4201 without an answer', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    let clock = 1_000_000;
    const { server, connect } = harness({}, { now: () => clock });
    const quiet = await connect();
    const lively = await connect();
    server.start();
    clock += 120_000;
    t.mock.timers.tick(5000);
    assert.deepEqual(await quiet.connection.next('pusher:ping'), { event: 'pusher:ping', data: {} });
    await lively.connection.next('pusher:ping');
    lively.send('pusher:pong', {});
    clock += 30_000;
    t.mock.timers.tick(5000);
    assert.deepEqual(quiet.connection.closed, { code: 4201, reason: 'Pong reply not received' });
    assert.equal(lively.connection.closed, undefined, 'any message answers the ping');
    server.stop();
  });
});

describe('subscriptions', () => {
  test('a public channel: subscription_succeeded with no data, the channel reported occupied', async () => {
    const { server, app, events, subscriber } = harness();
    const client = await subscriber('news');
    assert.deepEqual(client.connection.sent.at(-1), {
      event: 'pusher_internal:subscription_succeeded',
      channel: 'news',
      data: {},
    });
    assert.equal(server.subscriptionCount(app, 'news'), 1);
    assert.deepEqual(events.calls, [['occupied', 'news']]);
  });

  test('a private channel with a bad signature: subscription_error 401 and pusher:error null, the socket stays open', async () => {
    const { server, app, sdk, connect } = harness();
    const client = await connect();
    const refused = await client.subscribe('private-a', { auth: `${app.key}:${'0'.repeat(64)}` });
    assert.equal(refused.event, 'pusher:subscription_error');
    const { type, status } = refused.data as { type: string; status: number };
    assert.deepEqual({ type, status }, { type: 'AuthError', status: 401 });
    const error = await client.connection.next('pusher:error');
    assert.equal((error.data as { code: unknown }).code, null);
    assert.match((error.data as { message: string }).message, /^Invalid signature/);
    const wrongKey = await client.subscribe('private-a', { auth: `other-key:${'0'.repeat(64)}` });
    assert.equal((wrongKey.data as { status: number }).status, 401);
    assert.equal(server.subscriptionCount(app, 'private-a'), 0);

    const accepted = await client.subscribe('private-a', sdk.authorizeChannel(client.socketId, 'private-a'));
    assert.equal(accepted.event, 'pusher_internal:subscription_succeeded');
    assert.equal(client.connection.closed, undefined);
  });

  test('presence: the members to the newcomer, member_added and member_removed to the others only', async () => {
    const { server, events, subscriber } = harness();
    const first = await subscriber('presence-room', 'u1');
    const second = await subscriber('presence-room', 'u2');
    const joined = second.connection.sent.at(-1)!;
    const presence = (joined.data as { presence: { ids: string[]; hash: object; count: number } }).presence;
    assert.deepEqual(presence.ids.sort(), ['u1', 'u2']);
    assert.deepEqual(presence.hash, { u1: { name: 'u1' }, u2: { name: 'u2' } });
    assert.equal(presence.count, 2);
    assert.deepEqual(await first.connection.next('pusher_internal:member_added'), {
      event: 'pusher_internal:member_added',
      channel: 'presence-room',
      data: { user_id: 'u2', user_info: { name: 'u2' } },
    });

    second.send('pusher:unsubscribe', { channel: 'presence-room' });
    assert.deepEqual(await first.connection.next('pusher_internal:member_removed'), {
      event: 'pusher_internal:member_removed',
      channel: 'presence-room',
      data: { user_id: 'u2' },
    });
    await server.settled();
    assert.deepEqual(second.connection.pending(), [], 'no member event to the member itself, no reply');
    assert.deepEqual(events.calls, [
      ['occupied', 'presence-room'],
      ['member_added', 'presence-room', 'u1'],
      ['member_added', 'presence-room', 'u2'],
      ['member_removed', 'presence-room', 'u2'],
    ]);
  });

  test('a second connection of a present user is not announced, and its leaving neither', async () => {
    const { server, subscriber } = harness();
    const watcher = await subscriber('presence-room', 'u1');
    const again = await subscriber('presence-room', 'u2');
    await watcher.connection.next('pusher_internal:member_added');
    const twice = await subscriber('presence-room', 'u2');
    twice.send('pusher:unsubscribe', { channel: 'presence-room' });
    await server.settled();
    assert.deepEqual(watcher.connection.pending(), []);
    again.send('pusher:unsubscribe', { channel: 'presence-room' });
    assert.equal((await watcher.connection.next('pusher_internal:member_removed')).channel, 'presence-room');
  });

  test('unsubscribe: no reply, no more events from the channel, the channel vacated', async () => {
    const { server, app, events, subscriber } = harness();
    const client = await subscriber('news');
    client.send('pusher:unsubscribe', { channel: 'news' });
    client.send('pusher:unsubscribe', { channel: 'never-subscribed' });
    await server.settled();
    await server.queries.publish(app, 'news', 'headline', '"d"');
    assert.deepEqual(client.connection.pending(), []);
    assert.equal(server.subscriptionCount(app, 'news'), 0);
    assert.deepEqual(events.calls, [
      ['occupied', 'news'],
      ['vacated', 'news'],
    ]);
  });
});

describe('client events', () => {
  test('relayed to the other subscribers of a private channel as sent, never to the sender', async () => {
    const { events, subscriber } = harness({ clientEvents: true });
    const sender = await subscriber('private-chat');
    const other = await subscriber('private-chat');
    sender.send('client-typing', { typing: true }, 'private-chat');
    assert.deepEqual(await other.connection.next('client-typing'), {
      event: 'client-typing',
      channel: 'private-chat',
      data: { typing: true },
    });
    assert.deepEqual(sender.connection.pending(), []);
    assert.deepEqual(events.calls.at(-1), [
      'client_event',
      'private-chat',
      { channel: 'private-chat', event: 'client-typing', data: '{"typing":true}', socketId: sender.socketId },
    ]);
  });

  test("on presence channels the sender's user_id is added", async () => {
    const { subscriber } = harness({ clientEvents: true });
    const sender = await subscriber('presence-room', 'u1');
    const other = await subscriber('presence-room', 'u2');
    sender.send('client-wave', 'hi', 'presence-room');
    const relayed = await other.connection.next('client-wave');
    assert.deepEqual(relayed, { event: 'client-wave', channel: 'presence-room', data: 'hi', user_id: 'u1' });
  });

  test('refused with pusher:error null: app without client events, public channels, channels not subscribed', async () => {
    const message = async (h: ReturnType<typeof harness>, channel: string, subscribeTo = channel) => {
      const client = await h.subscriber(subscribeTo);
      client.send('client-x', {}, channel);
      const error = (await client.connection.next('pusher:error')).data as { code: unknown; message: string };
      assert.equal(error.code, null);
      assert.equal(client.connection.closed, undefined);
      return error.message;
    };
    assert.match(await message(harness(), 'private-a'), /not enabled/);
    const on = harness({ clientEvents: true });
    assert.match(await message(on, 'news'), /only allowed on private and presence channels/);
    assert.match(await message(on, 'private-b', 'private-a'), /has not subscribed/);
  });

  test('more than maxClientEventsPerSecond in one second: pusher:error 4301 for each one over', async () => {
    const clock = 5_000_000;
    const { subscriber } = harness({ clientEvents: true, maxClientEventsPerSecond: 2 }, { now: () => clock });
    const sender = await subscriber('private-chat');
    const other = await subscriber('private-chat');
    for (let i = 0; i < 3; i++) sender.send('client-n', i, 'private-chat');
    assert.equal((await other.connection.next('client-n')).data, 0);
    assert.equal((await other.connection.next('client-n')).data, 1);
    const error = await sender.connection.next('pusher:error');
    assert.equal((error.data as { code: number }).code, 4301);
    assert.deepEqual(other.connection.pending(), []);
  });
});

describe('user authentication', () => {
  test("pusher:signin with the SDK's signature: pusher:signin_success with the user_data", async () => {
    const { sdk, connect } = harness();
    const client = await connect();
    const signed = sdk.authenticateUser(client.socketId, { id: 'u1', user_info: { name: 'One' } });
    client.send('pusher:signin', signed);
    assert.deepEqual(await client.connection.next('pusher:signin_success'), {
      event: 'pusher:signin_success',
      data: { user_data: signed.user_data },
    });
  });

  test('a bad signature: pusher:error 4009, and the socket stays open', async () => {
    const { app, connect } = harness();
    const client = await connect();
    client.send('pusher:signin', { auth: `${app.key}:${'f'.repeat(64)}`, user_data: '{"id":"u1"}' });
    const error = await client.connection.next('pusher:error');
    assert.equal((error.data as { code: number }).code, 4009);
    assert.equal(client.connection.closed, undefined);
  });

  test("a user channel is the signed-in user's only", async () => {
    const { sdk, connect } = harness();
    const client = await connect();
    const refused = await client.subscribe('#server-to-user-u1');
    assert.equal(refused.event, 'pusher:subscription_error');
    client.send('pusher:signin', sdk.authenticateUser(client.socketId, { id: 'u1' }));
    await client.connection.next('pusher:signin_success');
    const accepted = await client.subscribe('#server-to-user-u1');
    assert.equal(accepted.event, 'pusher_internal:subscription_succeeded');
  });
});

describe('bad input', () => {
  test('invalid JSON, unknown events and binary frames get pusher:error null; the socket stays open', async () => {
    const { connect } = harness();
    const client = await connect();
    client.socket.onMessage('{nope', 5);
    client.send('pusher:unknown', {});
    client.socket.onBinary(Buffer.from([1, 2, 3]));
    const messages = [];
    for (let i = 0; i < 3; i++) {
      const { data } = await client.connection.next('pusher:error');
      assert.equal((data as { code: unknown }).code, null);
      messages.push((data as { message: string }).message);
    }
    assert.deepEqual(messages, [
      'Invalid JSON',
      'Unsupported event: pusher:unknown',
      'Binary messages are not supported (3 bytes)',
    ]);
    assert.equal(client.connection.closed, undefined);
  });
});

describe('close', () => {
  test("a presence member's close: member_removed to the others, counts and occupancy follow", async () => {
    const { server, app, events, subscriber } = harness();
    const stays = await subscriber('presence-room', 'u1');
    const leaves = await subscriber('presence-room', 'u2');
    await stays.connection.next('pusher_internal:member_added');
    leaves.connection.close(1000, 'bye');
    assert.deepEqual((await stays.connection.next('pusher_internal:member_removed')).data, { user_id: 'u2' });
    await server.settled();
    assert.equal(server.subscriptionCount(app, 'presence-room'), 1);
    assert.equal(server.connectionCount(app), 1);

    stays.connection.close(1000, 'bye');
    await new Promise((resolve) => setImmediate(resolve));
    await server.settled();
    assert.equal(server.connectionCount(app), 0);
    assert.deepEqual(events.calls.slice(-2), [
      ['member_removed', 'presence-room', 'u1'],
      ['vacated', 'presence-room'],
    ]);
  });

  test('stop: every client is told to reconnect now (4200)', async () => {
    const { server, connect } = harness();
    const clients = [await connect(), await connect()];
    server.stop();
    for (const { connection } of clients) assert.equal(connection.closed?.code, 4200);
  });
});
