import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { ChannelMessage, MessageHandler, RequestHandler } from '../../../src/adapters/adapter.js';
import { MalformedBusMessage } from '../../../src/adapters/bus-payload.js';
import { DebugFeed } from '../../../src/core/debug-feed.js';
import { ClusterDebugFeed, FEED_CHANNEL, WATCH_OP } from '../../../src/dashboard/cluster-feed.js';
import { until } from '../../helpers/wait.js';

const NS = 'pusher:app-1';

/** The adapter surface the cluster feed uses, recording what it is asked to do. */
class FakeAdapter {
  readonly nodeId = 'node-b';
  readonly handlers = new Map<string, RequestHandler>();
  readonly messageHandlers: MessageHandler[] = [];
  readonly downHandlers: ((node: string) => void)[] = [];
  readonly broadcasts: unknown[] = [];
  readonly published: ChannelMessage[] = [];
  readonly interest = new Set<string>();
  handle(op: string, handler: RequestHandler) {
    this.handlers.set(op, handler);
  }
  onMessage(handler: MessageHandler) {
    this.messageHandlers.push(handler);
  }
  onNodeDown(handler: (node: string) => void) {
    this.downHandlers.push(handler);
  }
  async broadcast(op: string, payload: unknown) {
    this.broadcasts.push({ op, payload });
  }
  async publish(message: ChannelMessage) {
    this.published.push(message);
  }
  async addInterest(namespace: string, channel: string) {
    this.interest.add(`${namespace} ${channel}`);
  }
  async removeInterest(namespace: string, channel: string) {
    this.interest.delete(`${namespace} ${channel}`);
  }
  watchFrom(node: string, namespaces: unknown, leaseMs: unknown = 1000) {
    return this.handlers.get(WATCH_OP)!({ node, namespaces, leaseMs });
  }
}

function setUp(clock = { t: 0 }, forwardPerSecond?: number) {
  const adapter = new FakeAdapter();
  const feed = new DebugFeed({ node: adapter.nodeId, now: () => clock.t });
  const cluster = new ClusterDebugFeed({
    feed,
    adapter,
    logger: pino({ level: 'silent' }),
    renewMs: 5,
    leaseMs: 1000,
    now: () => clock.t,
    ...(forwardPerSecond ? { forwardPerSecond } : {}),
  });
  return { adapter, feed, cluster, clock };
}

/** What was published on the feed channel, each as its event name or its dropped count. */
const publishedItems = (adapter: FakeAdapter) =>
  adapter.published.map((m) => {
    const item = JSON.parse(m.text) as { type: string; event?: string; count?: number };
    return item.type === 'dropped' ? item.count : item.event;
  });

test('nothing is broadcast, forwarded or published while nobody watches', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const { adapter, feed, cluster } = setUp();
  cluster.start();
  try {
    feed.report(NS, { type: 'subscribed', channel: 'c' });
    t.mock.timers.tick(30); // several renewal periods
    assert.deepEqual(adapter.broadcasts, []);
    assert.deepEqual(adapter.published, []);
    assert.equal(feed.watched(NS), false);
  } finally {
    await cluster.stop();
  }
});

test('a local watcher takes interest in the feed channel and announces it; its leaving withdraws both', async () => {
  const { adapter, feed, cluster } = setUp();
  const watcher = feed.watch(NS);
  await until(() => adapter.interest.has(`debug:${NS} ${FEED_CHANNEL}`), 'the interest');
  assert.deepEqual(adapter.broadcasts.at(-1), {
    op: WATCH_OP,
    payload: { node: 'node-b', namespaces: [NS], leaseMs: 1000 },
  });
  watcher.close();
  await until(() => adapter.interest.size === 0, 'the interest removed');
  assert.deepEqual(adapter.broadcasts.at(-1), {
    op: WATCH_OP,
    payload: { node: 'node-b', namespaces: [], leaseMs: 1000 },
  });
  await cluster.stop();
});

test('a lease forwards the namespace until it expires, and one announcement replaces the last', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const { adapter, feed, cluster, clock } = setUp();
  cluster.start();
  try {
    adapter.watchFrom('node-a', [NS, 'wamp:realm1']);
    assert.equal(feed.watched(NS), true);
    assert.deepEqual(cluster.forwarded().sort(), [NS, 'wamp:realm1']);
    feed.report(NS, { type: 'subscribed', channel: 'c', socketId: '1.1' });
    const message = adapter.published[0]!;
    assert.equal(message.namespace, `debug:${NS}`);
    assert.equal(message.channel, FEED_CHANNEL);
    assert.deepEqual(JSON.parse(message.text), {
      type: 'subscribed',
      channel: 'c',
      socketId: '1.1',
      time: 0,
      node: 'node-b',
    });
    adapter.watchFrom('node-a', [NS]);
    assert.deepEqual(cluster.forwarded(), [NS], 'a namespace no longer named is dropped at once');
    clock.t = 999;
    t.mock.timers.tick(5);
    assert.equal(feed.watched(NS), true, 'not expired yet');
    clock.t = 1001;
    t.mock.timers.tick(5);
    assert.equal(feed.watched(NS), false, 'the lease expired');
    feed.report(NS, { type: 'subscribed', channel: 'c' });
    assert.equal(adapter.published.length, 1, 'nothing forwarded after the lease');
  } finally {
    await cluster.stop();
  }
});

test("a node that goes down loses its leases; this node's own announcement is no lease", async () => {
  const { adapter, feed, cluster } = setUp();
  adapter.watchFrom('node-b', [NS]);
  assert.equal(feed.watched(NS), false);
  adapter.watchFrom('node-a', [NS]);
  adapter.watchFrom('node-c', [NS]);
  for (const down of adapter.downHandlers) down('node-a');
  assert.equal(feed.watched(NS), true, 'node-c still watches');
  for (const down of adapter.downHandlers) down('node-c');
  assert.equal(feed.watched(NS), false);
  await cluster.stop();
});

test('a malformed announcement is refused as a malformed bus message', () => {
  const { adapter } = setUp();
  const bad: unknown[] = [
    () => adapter.handlers.get(WATCH_OP)!(null),
    () => adapter.watchFrom('node-a', 'pusher:x'),
    () => adapter.watchFrom('node-a', [1]),
    () => adapter.watchFrom('node-a', ['x'.repeat(600)]),
    () => adapter.watchFrom('node-a', [NS], -1),
    () => adapter.watchFrom('node-a', [NS], 'soon'),
  ];
  for (const call of bad) assert.throws(call as () => unknown, MalformedBusMessage);
});

test('events from other nodes reach local watchers; this node’s own echo is skipped', () => {
  const { adapter, feed } = setUp();
  const watcher = feed.watch(NS);
  const event = { type: 'occupied', channel: 'c', time: 5, node: 'node-a', extra: 'dropped' };
  const deliver = (text: string, remote: boolean) => {
    for (const h of adapter.messageHandlers)
      h({ namespace: `debug:${NS}`, channel: FEED_CHANNEL, text, ...(remote ? { remote } : {}) });
  };
  deliver(JSON.stringify(event), false);
  assert.equal(watcher.size, 0);
  deliver(JSON.stringify(event), true);
  assert.deepEqual(watcher.take(), [{ type: 'occupied', channel: 'c', time: 5, node: 'node-a' }]);
  assert.throws(() => deliver('{', true), MalformedBusMessage);
  assert.throws(() => deliver(JSON.stringify({ ...event, type: 'dropped' }), true), MalformedBusMessage);
  assert.equal(watcher.size, 0);
});

test('a namespace forwards so many events a second; the rest go as a dropped marker, before the next or at renewal', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const { adapter, feed, cluster, clock } = setUp({ t: 0 }, 3);
  cluster.start();
  try {
    adapter.watchFrom('node-a', [NS, 'wamp:realm1']);
    const report = (ns: string, event: string) => feed.report(ns, { type: 'client_event', event });
    for (let i = 0; i < 10; i++) report(NS, `e${i}`);
    report('wamp:realm1', 'other namespace');
    assert.deepEqual(publishedItems(adapter), ['e0', 'e1', 'e2', 'other namespace'], 'a cap per namespace');
    clock.t = 1000;
    adapter.watchFrom('node-a', [NS]); // renewed
    report(NS, 'next second');
    assert.deepEqual(publishedItems(adapter).slice(4), [7, 'next second'], 'the marker comes first');

    for (let i = 0; i < 4; i++) report(NS, `late${i}`);
    assert.deepEqual(publishedItems(adapter).slice(6), ['late0', 'late1']);
    t.mock.timers.tick(5);
    assert.deepEqual(publishedItems(adapter).slice(8), [2], 'told at the renewal when nothing follows');
    t.mock.timers.tick(5);
    assert.equal(adapter.published.length, 9, 'and told once');
    assert.ok(adapter.published.every((m) => m.channel === FEED_CHANNEL));
  } finally {
    await cluster.stop();
  }
});

test("another node's dropped marker reaches the local watchers; a malformed one is refused", () => {
  const { adapter, feed } = setUp();
  const watcher = feed.watch(NS);
  const deliver = (item: unknown) => {
    for (const h of adapter.messageHandlers)
      h({ namespace: `debug:${NS}`, channel: FEED_CHANNEL, text: JSON.stringify(item), remote: true });
  };
  deliver({ type: 'dropped', count: 12, node: 'node-a' });
  assert.deepEqual(watcher.take(), [{ type: 'dropped', count: 12 }]);
  for (const count of [0, -1, 1.5, '3', null, 2 ** 53]) {
    assert.throws(() => deliver({ type: 'dropped', count }), MalformedBusMessage, String(count));
  }
  assert.throws(() => deliver({ type: 'dropped' }), MalformedBusMessage);
  assert.equal(watcher.size, 0);
});
