import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type PusherSdk from 'pusher';
import { MAX_JSON_DEPTH } from '../../src/protocol/pusher/codec.js';
import { nestedJsonText } from '../fuzz/harness.js';
import { APP, connected, nextEvent, sdkAuthorizer, startHerald, type TestHerald } from '../helpers/herald.js';
import type { PresenceChannel } from '../helpers/pusher-js.js';
import { type PusherFrame, RawClient, within } from '../helpers/raw-client.js';

/**
 * What a client can put in its frames that reaches server-side maps and encoders: user ids that are
 * names of `Object.prototype` members, and JSON nested far deeper than anyone means to (docs/pusher.md,
 * "WebSocket protocol").
 */

let server: TestHerald;
let sdk: PusherSdk;
const opened: RawClient[] = [];
const DEEP = 20_000;
const PROTO_NAMES = ['__proto__', 'constructor', 'toString'] as const;

before(async () => {
  // Large enough for every deep frame here to reach the parser (the default, 64 KiB, fits deep arrays).
  server = await startHerald({
    maxMessageBytes: 1024 * 1024,
    apps: [{ ...APP, clientEvents: true, watchlistEvents: true }],
  });
  sdk = server.sdk();
});
afterEach(() => {
  for (const client of opened.splice(0)) client.close();
});
after(() => server.stop());

/** The `pusher` SDK's own HMAC, for payloads its `authorize*` helpers cannot serialise (too deep). */
function sdkSign(text: string): string {
  const { token } = (sdk as unknown as { config: { token: { key: string; sign(s: string): string } } })
    .config;
  return `${token.key}:${token.sign(text)}`;
}

async function connect(): Promise<{ client: RawClient; socketId: string }> {
  const connection = await within(RawClient.connect(server.wsUrl()), 5000, 'handshake');
  opened.push(connection.client);
  return connection;
}

/** Subscribes with `channel_data` exactly as given, signed as the app's auth endpoint would. */
function subscribeWith(client: RawClient, socketId: string, channel: string, channelData: string) {
  const auth = sdkSign(`${socketId}:${channel}:${channelData}`);
  return within(client.subscribe(channel, { auth, channel_data: channelData }), 5000, `subscribe ${channel}`);
}

function presenceOf(reply: PusherFrame): { ids: string[]; hash: Record<string, unknown>; count: number } {
  assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
  return JSON.parse(reply.data as string).presence;
}

function errorOf(frame: PusherFrame): { code: number | null; message: string } {
  assert.equal(frame.event, 'pusher:error');
  return frame.data as { code: number | null; message: string };
}

async function stillServes(client: RawClient): Promise<void> {
  client.send({ event: 'pusher:ping', data: {} });
  assert.equal((await within(client.next('pusher:pong'), 5000, 'pong')).event, 'pusher:pong');
}

describe('user ids named like Object.prototype members', () => {
  test('__proto__, constructor and toString are in ids and, as own keys, in hash', async () => {
    const channel = 'presence-proto-raw';
    let last: PusherFrame | undefined;
    for (const id of PROTO_NAMES) {
      const { client, socketId } = await connect();
      last = await subscribeWith(
        client,
        socketId,
        channel,
        JSON.stringify({ user_id: id, user_info: { n: id } }),
      );
    }
    const presence = presenceOf(last!);
    assert.deepEqual([...presence.ids].sort(), [...PROTO_NAMES].sort());
    assert.equal(presence.count, 3);
    assert.deepEqual(Object.keys(presence.hash).sort(), [...PROTO_NAMES].sort());
    for (const id of PROTO_NAMES) {
      assert.deepEqual(Object.getOwnPropertyDescriptor(presence.hash, id)?.value, { n: id }, id);
    }
  });

  test('pusher-js members lists a __proto__ member, to itself and to others', async () => {
    const channel = 'presence-proto-js';
    const proto = server.client(sdkAuthorizer(sdk, () => ({ user_id: '__proto__', user_info: { n: 'p' } })));
    const other = server.client(sdkAuthorizer(sdk, () => ({ user_id: 'constructor' })));
    try {
      const protoChannel = proto.subscribe(channel) as PresenceChannel;
      await within(nextEvent(protoChannel, 'pusher:subscription_succeeded'), 5000, '__proto__ subscribed');
      assert.deepEqual(protoChannel.members.me, { id: '__proto__', info: { n: 'p' } });
      assert.equal(protoChannel.members.count, 1);

      const otherChannel = other.subscribe(channel) as PresenceChannel;
      await within(nextEvent(otherChannel, 'pusher:subscription_succeeded'), 5000, 'constructor subscribed');
      assert.equal(otherChannel.members.count, 2);
      assert.deepEqual(otherChannel.members.get('__proto__'), { id: '__proto__', info: { n: 'p' } });
      const listed: string[] = [];
      otherChannel.members.each((m: { id: string }) => listed.push(m.id));
      assert.deepEqual(listed.sort(), ['__proto__', 'constructor']);
    } finally {
      proto.disconnect();
      other.disconnect();
    }
  });

  test('member_added, member_removed and client events carry a __proto__ user id', async () => {
    const channel = 'presence-proto-events';
    const watcher = await connect();
    await subscribeWith(watcher.client, watcher.socketId, channel, JSON.stringify({ user_id: 'w' }));
    const proto = await connect();
    await subscribeWith(proto.client, proto.socketId, channel, JSON.stringify({ user_id: '__proto__' }));
    const added = await within(watcher.client.next('pusher_internal:member_added'), 5000, 'member_added');
    assert.equal(JSON.parse(added.data as string).user_id, '__proto__');

    proto.client.send({ event: 'client-hi', channel, data: { __proto__: 1 } });
    const relayed = await within(watcher.client.next('client-hi'), 5000, 'client event');
    assert.equal(relayed.user_id, '__proto__');

    proto.client.send({ event: 'pusher:unsubscribe', data: { channel } });
    const removed = await within(watcher.client.next('pusher_internal:member_removed'), 5000, 'removed');
    assert.equal(JSON.parse(removed.data as string).user_id, '__proto__');
  });
});

describe('presence members of signed-in connections', () => {
  test('without channel_data, the signed-in user joins within the same user_info and user_id limits', async () => {
    const channel = 'presence-signed-in';
    const cases = [
      {
        user: { id: 'big-info', user_info: { n: 'x'.repeat(2000) } },
        refused: /user_info is larger than 1024/,
      },
      { user: { id: 'u'.repeat(129) }, refused: /user_id is longer than 128/ },
      { user: { id: '__proto__', user_info: { n: 'p' } } },
    ];
    for (const { user, refused } of cases) {
      const { client, socketId } = await connect();
      client.send({ event: 'pusher:signin', data: sdk.authenticateUser(socketId, user) });
      await within(client.next('pusher:signin_success'), 5000, `signin of ${user.id.slice(0, 20)}`);
      const auth = sdk.authorizeChannel(socketId, channel).auth;
      const reply = await within(client.subscribe(channel, { auth }), 5000, 'presence subscription');
      if (refused) {
        assert.equal(reply.event, 'pusher:subscription_error');
        assert.match((reply.data as { error: string }).error, refused);
        assert.equal((reply.data as { type: string }).type, 'LimitReached');
      } else {
        const presence = presenceOf(reply);
        assert.deepEqual(presence.ids, ['__proto__']);
        assert.deepEqual(Object.getOwnPropertyDescriptor(presence.hash, '__proto__')?.value, { n: 'p' });
      }
    }
  });
});

describe(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`, () => {
  test(`pusher-js: presence user_info ${DEEP} levels deep gets pusher:subscription_error, the client goes on`, async () => {
    const channel = 'presence-deep-js';
    const channelData = `{"user_id":"deep","user_info":${nestedJsonText(DEEP, 'object')}}`;
    const client = server.client({
      channelAuthorization: {
        endpoint: '/unused',
        transport: 'ajax',
        customHandler: ({ socketId, channelName }, callback) =>
          callback(null, {
            auth: sdkSign(`${socketId}:${channelName}:${channelData}`),
            channel_data: channelData,
          }),
      },
    });
    const bystander = await connect();
    await within(bystander.client.subscribe(channel.replace('presence-', '')), 5000, 'bystander');
    try {
      await within(connected(client), 5000, 'pusher-js connected');
      const deep = client.subscribe(channel);
      const error = await within(
        nextEvent<{ type: string; error: string; status: number }>(deep, 'pusher:subscription_error'),
        5000,
        'subscription_error',
      );
      assert.equal(error.type, 'InvalidRequest');
      assert.equal(error.status, 400);
      assert.match(error.error, new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`));

      const next = client.subscribe('after-deep');
      await within(nextEvent(next, 'pusher:subscription_succeeded'), 5000, 'next subscription');
      assert.equal(client.connection.state, 'connected');
      const delivered = within(bystander.client.next('still-here'), 5000, 'bystander event');
      await sdk.trigger('deep-js', 'still-here', {});
      assert.equal((await delivered).channel, 'deep-js');
    } finally {
      client.disconnect();
    }
  });

  test(`pusher-js: sign-in user_data ${DEEP} levels deep gets pusher:error 4009, the client goes on`, async () => {
    const userData = `{"id":"deep","user_info":${nestedJsonText(DEEP, 'array')}}`;
    const client = server.client({
      userAuthentication: {
        endpoint: '/unused',
        transport: 'ajax',
        customHandler: ({ socketId }, callback) =>
          callback(null, { auth: sdkSign(`${socketId}::user::${userData}`), user_data: userData }),
      },
    });
    try {
      await within(connected(client), 5000, 'pusher-js connected');
      const error = nextEvent<{ type: string; data: { code: number; message: string } }>(
        client.connection,
        'error',
      );
      client.signin();
      const { data } = await within(error, 5000, 'sign-in error');
      assert.equal(data.code, 4009);
      assert.match(data.message, /user_data is nested deeper than 64 levels/);
      const next = client.subscribe('after-deep-signin');
      await within(nextEvent(next, 'pusher:subscription_succeeded'), 5000, 'subscription after the sign-in');
      assert.equal(client.connection.state, 'connected');
    } finally {
      client.disconnect();
    }
  });

  test(`raw: channel_data ${DEEP} levels deep gets subscription_error and pusher:error`, async () => {
    const channel = 'presence-deep-raw';
    const { client, socketId } = await connect();
    for (const channelData of [
      `{"user_id":"deep","user_info":${nestedJsonText(DEEP, 'array')}}`,
      `{"user_id":"at-limit","user_info":${nestedJsonText(MAX_JSON_DEPTH, 'object')}}`,
    ]) {
      const reply = await subscribeWith(client, socketId, channel, channelData);
      assert.equal(reply.event, 'pusher:subscription_error');
      assert.equal(reply.channel, channel);
      assert.match(errorOf(await client.next('pusher:error')).message, /nested deeper than/);
    }
    // The member object itself is the first level: 63 more fit.
    const fits = `{"user_id":"fits","user_info":${nestedJsonText(MAX_JSON_DEPTH - 1, 'object')}}`;
    const ok = await subscribeWith(client, socketId, channel, fits);
    assert.deepEqual(presenceOf(ok).ids, ['fits']);
    await stillServes(client);
  });

  test(`raw: client event data ${DEEP} levels deep gets pusher:error; later events still relay`, async () => {
    const channel = 'private-deep-events';
    const sender = await connect();
    const receiver = await connect();
    for (const { client, socketId } of [sender, receiver]) {
      const reply = await within(
        client.subscribe(channel, { auth: sdk.authorizeChannel(socketId, channel).auth }),
        5000,
        'private subscription',
      );
      assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
    }
    for (const kind of ['array', 'object'] as const) {
      sender.client.send(
        `{"event":"client-deep","channel":"${channel}","data":${nestedJsonText(DEEP, kind)}}`,
      );
      const error = errorOf(await within(sender.client.next('pusher:error'), 5000, `error (${kind})`));
      assert.equal(error.code, null);
      assert.match(error.message, new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`));
    }
    sender.client.send({ event: 'client-fine', channel, data: { ok: true } });
    const relayed = await within(receiver.client.next('client-fine'), 5000, 'relayed event');
    assert.deepEqual(relayed.data, { ok: true });
    assert.equal(
      receiver.client.frames.find((f) => f.event === 'client-deep'),
      undefined,
      'the deep event was not relayed',
    );
    await stillServes(sender.client);
  });

  test(`raw: a subscribe frame and sign-in user_data ${DEEP} levels deep get pusher:error`, async () => {
    const { client, socketId } = await connect();
    client.send(
      `{"event":"pusher:subscribe","data":{"channel":"x","extra":${nestedJsonText(DEEP, 'object')}}}`,
    );
    assert.match(errorOf(await within(client.next('pusher:error'), 5000, 'subscribe')).message, /nested/);
    // Older clients send data as a JSON string: the same limit holds inside it.
    const deepString = `{"channel":"x","extra":${nestedJsonText(DEEP, 'array')}}`;
    client.send({ event: 'pusher:subscribe', data: deepString });
    const stringError = errorOf(
      await within(client.next('pusher:error'), 5000, 'subscribe with string data'),
    );
    assert.match(stringError.message, /pusher:subscribe data is nested deeper than 64 levels/);
    client.send({ event: 'pusher:signin', data: deepString });
    const signinError = errorOf(await within(client.next('pusher:error'), 5000, 'signin with string data'));
    assert.match(signinError.message, /pusher:signin data is nested deeper than 64 levels/);

    const userData = `{"id":"deep","user_info":${nestedJsonText(DEEP, 'array')}}`;
    client.send({
      event: 'pusher:signin',
      data: { user_data: userData, auth: sdkSign(`${socketId}::user::${userData}`) },
    });
    const error = errorOf(await within(client.next('pusher:error'), 5000, 'signin'));
    assert.equal(error.code, 4009, 'a failed sign-in is answered as the others are');
    assert.match(error.message, /user_data is nested deeper than/);

    const good = JSON.stringify({ id: 'shallow' });
    client.send({ event: 'pusher:signin', data: sdk.authenticateUser(socketId, { id: 'shallow' }) });
    const success = await within(client.next('pusher:signin_success'), 5000, 'signin after the deep one');
    assert.equal((success.data as { user_data: string }).user_data, good);
    await stillServes(client);
  });
});
