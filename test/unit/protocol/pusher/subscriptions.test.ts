import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChannelMessage } from '../../../../src/adapters/adapter.js';
import type { App } from '../../../../src/core/apps/app.js';
import { MemoryLastEventStore } from '../../../../src/core/cache/memory.js';
import { LimitRefusals } from '../../../../src/core/limit-refusals.js';
import { MemoryPresenceStore } from '../../../../src/core/presence/memory.js';
import type { JoinResult, PresenceMember } from '../../../../src/core/presence/store.js';
import { AppStates } from '../../../../src/protocol/pusher/app-states.js';
import type { SubscriptionsContext, SubscriptionsOptions } from '../../../../src/protocol/pusher/context.js';
import { answer } from '../../../../src/protocol/pusher/refusal.js';
import type { PusherSocket } from '../../../../src/protocol/pusher/socket.js';
import { Subscriptions } from '../../../../src/protocol/pusher/subscriptions.js';
import { bareSocket, connectionOf, RecordedEvents, sdkFor, silent, testApp } from './harness.js';

/** `Subscriptions` alone, on a context of fakes: no server, no socket. */

/** A promise and the functions that settle it. */
function gate<T = void>() {
  let open!: (value: T) => void;
  let fail!: (err: Error) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

/** An adapter that records what it is asked; interest resolves at once unless `interest` says otherwise. */
class FakeAdapter {
  readonly published: ChannelMessage[] = [];
  readonly interest: string[] = [];
  added: () => Promise<void> = async () => {};

  async publish(message: ChannelMessage): Promise<void> {
    this.published.push(message);
  }
  addInterest(_namespace: string, channel: string): Promise<void> {
    this.interest.push(`+${channel}`);
    return this.added();
  }
  async removeInterest(_namespace: string, channel: string): Promise<void> {
    this.interest.push(`-${channel}`);
  }
}

function setUp(app: App, options: Partial<SubscriptionsOptions> = {}, clusterCount = 0) {
  const adapter = new FakeAdapter();
  const events = new RecordedEvents();
  const presence = new MemoryPresenceStore();
  const cache = new MemoryLastEventStore();
  const states = new AppStates();
  const tracked = new Set<Promise<void>>();
  const refusals = new LimitRefusals();
  const ctx: SubscriptionsContext = {
    options: { adapter, presence, cache, logger: silent, ...options },
    events,
    now: Date.now,
    queries: { subscriptions: async () => clusterCount },
    state: (a) => states.of(a),
    track: (work) => void tracked.add(work),
    answer: (socket, err) => answer(socket, err, refusals),
  };
  const subscriptions = new Subscriptions(ctx);
  let ids = 0;
  const socket = () => bareSocket(app, `${++ids}.1`);
  const settled = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all(tracked);
  };
  return { subscriptions, adapter, events, presence, cache, states, refusals, socket, settled };
}

/** Two sockets subscribing to `news` at once, while the broker has not taken the interest yet. */
function twoWaitingOnTheBroker(app: App) {
  const parts = setUp(app);
  const broker = gate();
  parts.adapter.added = () => broker.promise;
  const [a, b] = [parts.socket(), parts.socket()];
  const subscribed = Promise.all([a, b].map((s) => parts.subscriptions.subscribe(s, { channel: 'news' })));
  return { ...parts, broker, a, b, subscribed };
}

const names = (socket: PusherSocket) => connectionOf(socket).sent.map((f) => f.event);

describe('interest in a channel', () => {
  test("the first subscriber adds the adapter's interest and the others wait for it; the last to leave removes it", async () => {
    const app = testApp();
    const { subscriptions, adapter, states, broker, a, b, subscribed } = twoWaitingOnTheBroker(app);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(adapter.interest, ['+news']);
    assert.deepEqual([names(a), names(b)], [[], []], 'no answer before the broker has the interest');
    broker.open();
    await subscribed;
    assert.deepEqual(
      [names(a), names(b)],
      [['pusher_internal:subscription_succeeded'], ['pusher_internal:subscription_succeeded']],
    );
    assert.equal(states.of(app).registry.count('news'), 2);

    await subscriptions.unsubscribe(a, app, 'news');
    assert.deepEqual(adapter.interest, ['+news']);
    await subscriptions.unsubscribe(b, app, 'news');
    assert.deepEqual(adapter.interest, ['+news', '-news']);
    assert.equal(states.of(app).registry.count('news'), 0);
  });

  test('a broker that refuses the interest: every waiting subscriber rolled back and told to retry (503)', async () => {
    const app = testApp();
    const { states, broker, a, b, subscribed } = twoWaitingOnTheBroker(app);
    broker.fail(new Error('broker down'));
    await subscribed;
    for (const s of [a, b]) {
      const [refused] = connectionOf(s).sent;
      assert.deepEqual(refused, {
        event: 'pusher:subscription_error',
        channel: 'news',
        data: { type: 'ServerError', error: 'Could not subscribe to news right now, try again', status: 503 },
      });
      assert.equal(s.channels.size, 0);
    }
    assert.equal(states.of(app).registry.count('news'), 0);
  });
});

describe('webhook reports', () => {
  test('made at once when none is pending and no store decides', async () => {
    const app = testApp();
    const { subscriptions, events, socket } = setUp(app);
    const s = socket();
    await subscriptions.subscribe(s, { channel: 'news' });
    assert.deepEqual(events.calls, [['occupied', 'news']]);
    await subscriptions.unsubscribe(s, app, 'news');
    assert.deepEqual(events.calls, [
      ['occupied', 'news'],
      ['vacated', 'news'],
    ]);
  });

  test("a channel's reports keep their order while the occupancy store answers out of order", async () => {
    const app = testApp();
    const occupied = gate<boolean>();
    const occupancy = { occupy: () => occupied.promise, vacate: async () => true };
    const { subscriptions, events, socket, settled } = setUp(app, { occupancy });
    const s = socket();
    await subscriptions.subscribe(s, { channel: 'news' });
    await subscriptions.unsubscribe(s, app, 'news');
    assert.deepEqual(events.calls, [], 'the vacate waits for the occupy decision');
    occupied.open(true);
    await settled();
    assert.deepEqual(events.calls, [
      ['occupied', 'news'],
      ['vacated', 'news'],
    ]);
  });
});

describe('presence', () => {
  test('members join and leave once per user; the first and last connection are announced to the others', async () => {
    const app = testApp();
    const { subscriptions, adapter, events, presence, socket, settled } = setUp(app);
    const sdk = sdkFor(app);
    const join = (s: PusherSocket, userId: string) =>
      subscriptions.subscribe(s, {
        channel: 'presence-room',
        ...sdk.authorizeChannel(s.id, 'presence-room', { user_id: userId }),
      });
    const [a, b, b2] = [socket(), socket(), socket()];
    await join(a, 'u1');
    await join(b, 'u2');
    await join(b2, 'u2');
    assert.equal(await presence.count(`pusher:${app.id}`, 'presence-room'), 2);
    const announced = adapter.published.map((m) => [JSON.parse(m.text).event, m.except]);
    assert.deepEqual(announced, [
      ['pusher_internal:member_added', a.id],
      ['pusher_internal:member_added', b.id],
    ]);
    await subscriptions.unsubscribe(b, app, 'presence-room');
    await subscriptions.unsubscribe(b2, app, 'presence-room');
    await settled();
    assert.deepEqual(JSON.parse(adapter.published.at(-1)!.text), {
      event: 'pusher_internal:member_removed',
      channel: 'presence-room',
      data: '{"user_id":"u2"}',
    });
    assert.deepEqual(events.calls.slice(1), [
      ['member_added', 'presence-room', 'u1'],
      ['member_added', 'presence-room', 'u2'],
      ['member_removed', 'presence-room', 'u2'],
    ]);
  });

  test('a full channel refuses the next user (403), and records nothing for it', async () => {
    const app = testApp({ maxPresenceMembers: 1 });
    const { subscriptions, presence, socket } = setUp(app);
    const sdk = sdkFor(app);
    const [a, b] = [socket(), socket()];
    for (const [s, userId] of [[a, 'u1'] as const, [b, 'u2'] as const]) {
      await subscriptions.subscribe(s, {
        channel: 'presence-room',
        ...sdk.authorizeChannel(s.id, 'presence-room', { user_id: userId }),
      });
    }
    const [refused] = connectionOf(b).sent;
    assert.deepEqual(refused?.data, {
      type: 'LimitReached',
      error: 'Presence channel presence-room is full (1 members)',
      status: 403,
    });
    assert.deepEqual(
      (await presence.members(`pusher:${app.id}`, 'presence-room')).map((m) => m.userId),
      ['u1'],
    );
  });
});

describe('cache channels and limits', () => {
  test('the last event right after subscription_succeeded, or pusher:cache_miss and its webhook', async () => {
    const app = testApp();
    const { subscriptions, cache, events, socket } = setUp(app);
    await cache.set(`pusher:${app.id}`, 'cache-prices', { event: 'price', data: '{"eur":1}' }, 60_000);
    const [hit, miss] = [socket(), socket()];
    await subscriptions.subscribe(hit, { channel: 'cache-prices' });
    await subscriptions.subscribe(miss, { channel: 'cache-empty' });
    assert.deepEqual(connectionOf(hit).sent.slice(1), [
      { event: 'price', channel: 'cache-prices', data: { eur: 1 } },
    ]);
    assert.deepEqual(connectionOf(miss).sent.slice(1), [
      { event: 'pusher:cache_miss', channel: 'cache-empty' },
    ]);
    assert.deepEqual(events.calls.at(-1), ['cache_miss', 'cache-empty']);
  });

  test('over the memory ceiling a new channel is refused (4304); a channel already held is answered as before', async () => {
    const app = testApp();
    const memory = { over: false };
    const { subscriptions, socket } = setUp(app, { memory });
    const s = socket();
    await subscriptions.subscribe(s, { channel: 'held' });
    memory.over = true;
    await subscriptions.subscribe(s, { channel: 'new' });
    await subscriptions.subscribe(s, { channel: 'held' });
    assert.deepEqual(
      connectionOf(s).sent.map((f) => [f.event, f.channel ?? (f.data as { code: number }).code]),
      [
        ['pusher_internal:subscription_succeeded', 'held'],
        ['pusher:subscription_error', 'new'],
        ['pusher:error', 4304],
        ['pusher_internal:subscription_succeeded', 'held'],
      ],
    );
  });

  test("subscription counts: the cluster's count to the channel's subscribers on every node, and to webhooks", async () => {
    const app = testApp({ subscriptionCount: true });
    const { subscriptions, adapter, events, socket, settled } = setUp(app, {}, 7);
    await subscriptions.subscribe(socket(), { channel: 'news' });
    await settled();
    assert.deepEqual(JSON.parse(adapter.published.at(-1)!.text), {
      event: 'pusher_internal:subscription_count',
      channel: 'news',
      data: '{"subscription_count":7}',
    });
    assert.deepEqual(events.calls.at(-1), ['subscription_count', 'news', 7]);
  });
});

/** A presence store whose joins wait until the test opens the gate. */
class GatedPresence extends MemoryPresenceStore {
  readonly waiting: (() => void)[] = [];

  override async join(
    namespace: string,
    channel: string,
    socketId: string,
    member: PresenceMember,
    maxMembers: number,
  ): Promise<JoinResult> {
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    return super.join(namespace, channel, socketId, member, maxMembers);
  }
}

describe('subscriptions per connection', () => {
  test('subscribes admitted and still waiting on the presence store count against maxSubscriptionsPerConnection', async () => {
    const app = testApp({ maxSubscriptionsPerConnection: 3 });
    const gated = new GatedPresence();
    const { subscriptions, refusals, socket } = setUp(app, { presence: gated });
    const sdk = sdkFor(app);
    const s = socket();
    // Called directly, without the socket's queue that runs one subscribe after another: all five are
    // in flight at once, the admitted ones waiting on the presence store.
    const channels = ['presence-1', 'presence-2', 'presence-3', 'presence-4', 'presence-5'];
    const done = channels.map((channel) =>
      subscriptions.subscribe(s, {
        channel,
        ...sdk.authorizeChannel(s.id, channel, { user_id: 'u' }),
      }),
    );
    assert.equal(gated.waiting.length, 3, 'only the admitted subscribes reach the presence store');
    for (const open of gated.waiting) open();
    await Promise.all(done);

    assert.deepEqual([...s.channels.keys()], channels.slice(0, 3));
    const sent = connectionOf(s).sent;
    const refused = sent.filter((f) => f.event === 'pusher:subscription_error');
    assert.deepEqual(
      refused.map((f) => [f.channel, (f.data as { status: number }).status]),
      [
        ['presence-4', 429],
        ['presence-5', 429],
      ],
    );
    const errors = sent.filter((f) => f.event === 'pusher:error');
    assert.deepEqual(
      errors.map((f) => (f.data as { code: number }).code),
      [4303, 4303],
    );
    assert.equal(refusals.get('subscriptions_per_connection'), 2);
    subscriptions.close();
  });
});
