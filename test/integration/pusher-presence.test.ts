import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { APP, nextEvent, sdkAuthorizer, startHerald, type TestHerald } from '../helpers/herald.js';
import type { PresenceChannel } from '../helpers/pusher-js.js';
import { type PusherFrame, RawClient, within } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';

/**
 * Presence channels (Pusher docs, Presence channels): the member list on subscribe, user-level member
 * events, and the member and size limits.
 */

interface Member {
  user_id: string | number;
  user_info?: unknown;
}
interface PresenceData {
  ids: string[];
  hash: Record<string, unknown>;
  count: number;
}

let server: TestHerald;
const app = parseConfig({ apps: [APP] }).apps[0]!;
const opened: RawClient[] = [];
let syncs = 0;

before(async () => {
  server = await startHerald();
});
afterEach(() => {
  for (const client of opened.splice(0)) client.close();
});
after(() => server.stop());

async function connect(): Promise<{ client: RawClient; socketId: string }> {
  const connection = await within(RawClient.connect(server.wsUrl()), 5000, 'handshake');
  opened.push(connection.client);
  return connection;
}

/** Subscribes `client` to `channel` as `member`, signed as the app's auth endpoint would. */
function subscribeAs(client: RawClient, socketId: string, channel: string, member: Member) {
  const channelData = JSON.stringify(member);
  const hex = createHmac('sha256', APP.secret).update(`${socketId}:${channel}:${channelData}`).digest('hex');
  return within(
    client.subscribe(channel, { auth: `${APP.key}:${hex}`, channel_data: channelData }),
    5000,
    `presence subscription of ${String(member.user_id)} to ${channel}`,
  );
}

/** Opens a connection and joins `channel` as `member`; the subscription must succeed. */
async function join(channel: string, member: Member) {
  const connection = await connect();
  const reply = await subscribeAs(connection.client, connection.socketId, channel, member);
  return { ...connection, presence: presenceOf(reply) };
}

function presenceOf(reply: PusherFrame): PresenceData {
  assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
  assert.equal(typeof reply.data, 'string', 'presence data is a JSON string');
  return (JSON.parse(reply.data as string) as { presence: PresenceData }).presence;
}

/** `ids` unique strings, one `hash` key per id, `count` equal to the number of ids. */
function assertConsistent(presence: PresenceData): void {
  for (const id of presence.ids) assert.equal(typeof id, 'string');
  assert.equal(new Set(presence.ids).size, presence.ids.length, 'ids are unique');
  assert.deepEqual(Object.keys(presence.hash).sort(), [...presence.ids].sort());
  assert.equal(presence.count, presence.ids.length);
}

async function nextMember(client: RawClient, event: 'member_added' | 'member_removed', channel: string) {
  const frame = await within(
    client.next((f) => f.event === `pusher_internal:${event}` && f.channel === channel),
    5000,
    `${event} on ${channel}`,
  );
  assert.equal(typeof frame.data, 'string', 'member event data is a JSON string');
  return JSON.parse(frame.data as string) as { user_id: unknown; user_info?: unknown };
}

/**
 * Returns once every frame the server queued for `client` before now has arrived, by a round trip on
 * the same socket (subscribe replies keep request order), then takes its queued member events.
 */
async function memberEventsSoFar(client: RawClient): Promise<PusherFrame[]> {
  const channel = `sync-${++syncs}`;
  const reply = await within(client.subscribe(channel), 5000, 'sync subscription');
  assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
  const events: PusherFrame[] = [];
  for (let i = client.frames.length - 1; i >= 0; i--) {
    if (client.frames[i]!.event.startsWith('pusher_internal:member_'))
      events.unshift(...client.frames.splice(i, 1));
  }
  return events;
}

/** Waits until the server has processed the subscriptions ending on `channel` (no event tells). */
function subscribersAre(channel: string, n: number): Promise<void> {
  return until(() => server.herald.pusher.subscriptionCount(app, channel) === n, `${n} on ${channel}`);
}

describe('member list on subscribe', () => {
  test('ids, hash and count include the subscriber; hash has a key for every id', async () => {
    const channel = 'presence-list';
    const first = await join(channel, { user_id: 'u1', user_info: { name: 'One' } });
    assert.deepEqual(first.presence, { ids: ['u1'], hash: { u1: { name: 'One' } }, count: 1 });
    await join(channel, { user_id: 'u2' });
    const third = await join(channel, { user_id: 'u3', user_info: { name: 'Three', tags: [1, 2] } });
    assertConsistent(third.presence);
    assert.deepEqual([...third.presence.ids].sort(), ['u1', 'u2', 'u3']);
    assert.deepEqual(third.presence.hash.u1, { name: 'One' });
    assert.deepEqual(third.presence.hash.u3, { name: 'Three', tags: [1, 2] });
    // No user_info: hosted behaviour is uncertain between null and {}; either is accepted.
    assert.ok(
      third.presence.hash.u2 === null || JSON.stringify(third.presence.hash.u2) === '{}',
      `hash value without user_info: ${JSON.stringify(third.presence.hash.u2)}`,
    );
  });

  test('pusher-js members, member_added and member_removed with the SDK authorizer', async () => {
    const sdk = server.sdk();
    const alice = server.client(
      sdkAuthorizer(sdk, () => ({ user_id: 'alice', user_info: { name: 'Alice' } })),
    );
    const bob = server.client(sdkAuthorizer(sdk, () => ({ user_id: 'bob', user_info: { name: 'Bob' } })));
    try {
      const aliceChannel = alice.subscribe('presence-lobby') as PresenceChannel;
      await within(nextEvent(aliceChannel, 'pusher:subscription_succeeded'), 5000, 'alice subscribed');
      assert.equal(aliceChannel.members.count, 1);
      assert.deepEqual(aliceChannel.members.me, { id: 'alice', info: { name: 'Alice' } });

      const added = nextEvent<{ id: string; info: unknown }>(aliceChannel, 'pusher:member_added');
      const bobChannel = bob.subscribe('presence-lobby') as PresenceChannel;
      const bobSelfAdded: unknown[] = [];
      bobChannel.bind('pusher:member_added', (m: unknown) => bobSelfAdded.push(m));
      await within(nextEvent(bobChannel, 'pusher:subscription_succeeded'), 5000, 'bob subscribed');
      assert.equal(bobChannel.members.count, 2);
      assert.deepEqual(bobChannel.members.get('alice'), { id: 'alice', info: { name: 'Alice' } });
      assert.deepEqual(await within(added, 5000, 'member_added at alice'), {
        id: 'bob',
        info: { name: 'Bob' },
      });
      assert.equal(aliceChannel.members.count, 2);

      // Frames on one socket keep their order: once bob's next subscription succeeds, any member
      // event about himself would have arrived.
      const after = bob.subscribe('after-join');
      await within(nextEvent(after, 'pusher:subscription_succeeded'), 5000, 'bob second subscription');
      assert.deepEqual(bobSelfAdded, []);

      const removed = nextEvent<{ id: string; info: unknown }>(aliceChannel, 'pusher:member_removed');
      bob.disconnect();
      assert.deepEqual(await within(removed, 5000, 'member_removed at alice'), {
        id: 'bob',
        info: { name: 'Bob' },
      });
      assert.equal(aliceChannel.members.count, 1);
      assert.equal(aliceChannel.members.get('bob'), null);
    } finally {
      alice.disconnect();
      bob.disconnect();
    }
  });
});

describe('member events', () => {
  test('numeric user_id 10 is "10" in ids, hash keys, member events and the users API', async () => {
    const channel = 'presence-numeric';
    const observer = await join(channel, { user_id: 'observer' });
    const ten = await join(channel, { user_id: 10, user_info: { name: 'Ten' } });
    assertConsistent(ten.presence);
    assert.deepEqual([...ten.presence.ids].sort(), ['10', 'observer']);
    assert.deepEqual(ten.presence.hash['10'], { name: 'Ten' });
    assert.deepEqual(await nextMember(observer.client, 'member_added', channel), {
      user_id: '10',
      user_info: { name: 'Ten' },
    });

    const users = await server.sdk().get({ path: `/channels/${channel}/users` });
    const body = (await users.json()) as { users: { id: unknown }[] };
    assert.deepEqual(body.users.map((u) => u.id).sort(), ['10', 'observer']);

    ten.client.send({ event: 'pusher:unsubscribe', data: { channel } });
    assert.deepEqual(await nextMember(observer.client, 'member_removed', channel), { user_id: '10' });
  });

  test('a second connection of a user adds nobody; closing one of two removes nobody; the last does', async () => {
    const channel = 'presence-multi';
    const observer = await join(channel, { user_id: 'observer' });
    const first = await join(channel, { user_id: 'u1', user_info: { n: 1 } });
    assert.deepEqual(await nextMember(observer.client, 'member_added', channel), {
      user_id: 'u1',
      user_info: { n: 1 },
    });

    const second = await join(channel, { user_id: 'u1', user_info: { n: 1 } });
    assertConsistent(second.presence);
    assert.deepEqual([...second.presence.ids].sort(), ['observer', 'u1'], 'one id per user');
    assert.deepEqual(await memberEventsSoFar(observer.client), [], 'no member_added for a second connection');
    assert.deepEqual(await memberEventsSoFar(first.client), [], 'nothing to the user’s first connection');

    first.client.close();
    await within(first.client.closed, 5000, 'first connection closed');
    await subscribersAre(channel, 2);
    assert.deepEqual(
      await memberEventsSoFar(observer.client),
      [],
      'no member_removed while u1 has a connection',
    );
    assert.deepEqual(await memberEventsSoFar(second.client), []);

    second.client.close();
    assert.deepEqual(await nextMember(observer.client, 'member_removed', channel), { user_id: 'u1' });
    await subscribersAre(channel, 1);
    assert.deepEqual(await memberEventsSoFar(observer.client), [], 'exactly one member_removed');
  });

  test('member_added and member_removed never reach the connection that caused them', async () => {
    const channel = 'presence-self';
    const observer = await join(channel, { user_id: 'observer' });
    const joiner = await join(channel, { user_id: 'joiner' });
    await nextMember(observer.client, 'member_added', channel);
    assert.deepEqual(await memberEventsSoFar(joiner.client), [], 'no member_added to the joiner');

    joiner.client.send({ event: 'pusher:unsubscribe', data: { channel } });
    assert.deepEqual(await nextMember(observer.client, 'member_removed', channel), { user_id: 'joiner' });
    assert.deepEqual(await memberEventsSoFar(joiner.client), [], 'no member_removed to the leaver');
    assert.deepEqual(await memberEventsSoFar(observer.client), []);
  });
});

describe('limits', () => {
  test('the 101st distinct user is refused; the 100 members are unaffected', async () => {
    const channel = 'presence-full';
    const members = await Promise.all(
      Array.from({ length: 100 }, (_, i) => join(channel, { user_id: `user-${i + 1}` })),
    );
    const observer = members[0]!;
    const extra = await connect();
    const refused = await subscribeAs(extra.client, extra.socketId, channel, { user_id: 'user-101' });
    assert.equal(refused.event, 'pusher:subscription_error');
    assert.equal(refused.channel, channel);
    assert.equal(typeof (refused.data as { status: unknown }).status, 'number');

    // Another connection of an existing member is not a new member, so it still fits.
    const again = await connect();
    const reply = await subscribeAs(again.client, again.socketId, channel, { user_id: 'user-2' });
    assert.equal(presenceOf(reply).count, 100);

    const seen = await memberEventsSoFar(observer.client);
    assert.ok(!seen.some((f) => String(f.data).includes('user-101')), 'user-101 was never announced');
    assert.equal(seen.length, 99, 'every other member was announced once');
    await server.sdk().trigger(channel, 'still-served', 'ok');
    for (const member of [observer, members[99]!]) {
      const event = await within(member.client.next('still-served'), 5000, 'event to a member');
      assert.equal(event.data, 'ok');
    }
    const users = await server.sdk().get({ path: `/channels/${channel}/users` });
    assert.equal(((await users.json()) as { users: unknown[] }).users.length, 100);

    // Once someone leaves there is room again.
    members[99]!.client.send({ event: 'pusher:unsubscribe', data: { channel } });
    await nextMember(observer.client, 'member_removed', channel);
    const retry = await subscribeAs(extra.client, extra.socketId, channel, { user_id: 'user-101' });
    assert.equal(presenceOf(retry).count, 100);
    assert.equal((await nextMember(observer.client, 'member_added', channel)).user_id, 'user-101');
  });

  test('user_info over 1 KB, user_id over 128 chars and bad channel_data are refused', async () => {
    const channel = 'presence-sizes';
    const observer = await join(channel, { user_id: 'observer' });
    const { client, socketId } = await connect();
    // {"n":"…"} is 8 bytes plus the string: 1016 characters make exactly 1024 bytes.
    const refusedMembers: Member[] = [
      { user_id: 'big', user_info: { n: 'x'.repeat(1017) } },
      { user_id: 'big', user_info: { n: 'é'.repeat(509) } },
      { user_id: 'u'.repeat(129) },
    ];
    for (const member of refusedMembers) {
      const reply = await subscribeAs(client, socketId, channel, member);
      assert.equal(reply.event, 'pusher:subscription_error', JSON.stringify(member).slice(0, 60));
      assert.equal(reply.channel, channel);
    }
    const hex = (data: string) =>
      createHmac('sha256', APP.secret).update(`${socketId}:${channel}:${data}`).digest('hex');
    const badData = ['{"user_info":{}}', '{"user_id":""}', '[1]', 'not json'];
    for (const data of badData) {
      const reply = await within(
        client.subscribe(channel, { auth: `${APP.key}:${hex(data)}`, channel_data: data }),
        5000,
        data,
      );
      assert.equal(reply.event, 'pusher:subscription_error', data);
    }
    const privateStyle = createHmac('sha256', APP.secret).update(`${socketId}:${channel}`).digest('hex');
    const noData = await within(
      client.subscribe(channel, { auth: `${APP.key}:${privateStyle}` }),
      5000,
      'no data',
    );
    assert.equal(noData.event, 'pusher:subscription_error', 'channel_data is required when not signed in');
    assert.deepEqual(await memberEventsSoFar(observer.client), [], 'refused users are never announced');

    const atLimit = await subscribeAs(client, socketId, channel, {
      user_id: 'u'.repeat(128),
      user_info: { n: 'x'.repeat(1016) },
    });
    assert.equal(presenceOf(atLimit).count, 2, 'exactly 1024 bytes and 128 characters are allowed');
  });
});
