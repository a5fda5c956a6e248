import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DebugFeed, type DebugItem, RateCap } from '../../../src/core/debug-feed.js';

const NS = 'pusher:app-1';

function feedAt(clock: { t: number }, maxDataChars?: number): DebugFeed {
  return new DebugFeed({ node: 'node-a', now: () => clock.t, ...(maxDataChars ? { maxDataChars } : {}) });
}

test('nobody watching: watched is false and a report keeps nothing', () => {
  const feed = feedAt({ t: 1 });
  assert.equal(feed.watched(NS), false);
  feed.report(NS, { type: 'subscribed', channel: 'a' });
  const watcher = feed.watch(NS);
  assert.equal(watcher.size, 0, 'what was reported before the watcher came is not kept');
  assert.equal(feed.watched(NS), true);
  assert.equal(feed.watched('pusher:other'), false);
});

test('a watcher gets its namespace only, stamped with the time and the node', () => {
  const clock = { t: 1000 };
  const feed = feedAt(clock);
  const watcher = feed.watch(NS);
  feed.report(NS, { type: 'subscribed', channel: 'a', socketId: '1.2' });
  feed.report('pusher:other', { type: 'subscribed', channel: 'b' });
  assert.deepEqual(watcher.take(), [
    { type: 'subscribed', channel: 'a', socketId: '1.2', time: 1000, node: 'node-a' },
  ]);
  assert.deepEqual(watcher.take(), []);
});

test('a full queue drops, and the next event comes after a marker with the exact count', () => {
  const clock = { t: 0 };
  const feed = feedAt(clock);
  const watcher = feed.watch(NS, { maxQueued: 3, maxPerSecond: 1_000_000 });
  for (let i = 0; i < 10; i++) feed.report(NS, { type: 'client_event', event: `e${i}` });
  const first = watcher.take();
  assert.deepEqual(
    first.map((e) => ('event' in e ? e.event : e.type)),
    ['e0', 'e1', 'e2'],
  );
  feed.report(NS, { type: 'client_event', event: 'e10' });
  feed.report(NS, { type: 'client_event', event: 'e11' });
  const next = watcher.take();
  assert.deepEqual(next[0], { type: 'dropped', count: 7 });
  assert.deepEqual(
    next.slice(1).map((e) => ('event' in e ? e.event : e.type)),
    ['e10', 'e11'],
  );
});

test('over the rate cap events are dropped until the next second, then counted in a marker', () => {
  const clock = { t: 5000 };
  const feed = feedAt(clock);
  const watcher = feed.watch(NS, { maxQueued: 1000, maxPerSecond: 2 });
  for (let i = 0; i < 5; i++) feed.report(NS, { type: 'api_message', event: `e${i}` });
  assert.equal(watcher.take().length, 2);
  clock.t += 1000;
  feed.report(NS, { type: 'api_message', event: 'later' });
  const items = watcher.take();
  assert.deepEqual(items[0], { type: 'dropped', count: 3 });
  assert.equal((items[1] as { event?: string }).event, 'later');
});

test('a rate cap admits so many a second, counts the rest, and tells them once in a marker', () => {
  const cap = new RateCap(2);
  assert.deepEqual(
    [5100, 5200, 5300, 6099].map((t) => cap.admit(t)),
    [true, true, false, false],
  );
  cap.drop(5);
  assert.deepEqual(cap.takeMarker(), { type: 'dropped', count: 7 });
  assert.equal(cap.takeMarker(), undefined, 'told once');
  assert.equal(cap.admit(6100), true, 'a second after the window began, a new one');
  assert.equal(cap.admit(6101), true);
  assert.equal(cap.admit(6102), false);
  assert.equal(cap.admit(50), true, 'a clock that went back starts a new window');
  assert.deepEqual(cap.takeMarker(), { type: 'dropped', count: 1 });
});

test("another node's drops reach every watcher at once, added to its own and to a marker still queued", () => {
  const clock = { t: 0 };
  const feed = feedAt(clock);
  let ready = 0;
  const a = feed.watch(NS, { maxPerSecond: 1, onReady: () => ready++ });
  const b = feed.watch(NS);
  const other = feed.watch('pusher:other');
  feed.deliverDropped(NS, 4);
  assert.equal(ready, 1, 'told at once, without waiting for an event');
  feed.deliverDropped(NS, 2);
  assert.deepEqual(b.take(), [{ type: 'dropped', count: 6 }]);
  assert.deepEqual(a.take(), [{ type: 'dropped', count: 6 }]);
  feed.report(NS, { type: 'occupied', channel: 'c' });
  feed.report(NS, { type: 'vacated', channel: 'c' }); // over a's cap of 1 a second
  feed.deliverDropped(NS, 3);
  assert.deepEqual(
    a.take().map((i) => (i.type === 'dropped' ? i.count : i.type)),
    ['occupied', 4],
  );
  feed.deliverDropped(NS, 0);
  assert.equal(a.size, 0, 'nothing dropped, nothing told');
  a.close();
  feed.deliverDropped(NS, 1);
  assert.equal(a.size, 0, 'a closed watcher is told nothing');
  assert.equal(other.size, 0, 'another namespace is told nothing');
});

test('data is kept as text and cut to the bound', () => {
  const feed = feedAt({ t: 0 }, 8);
  const watcher = feed.watch(NS);
  feed.report(NS, { type: 'api_message', data: 'short' });
  feed.report(NS, { type: 'api_message', data: 'a much longer payload' });
  feed.report(NS, { type: 'publication', data: { args: [1] } });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  feed.report(NS, { type: 'publication', data: cyclic });
  const [short, long, json, odd] = watcher.take() as Array<{ data?: string; truncated?: true }>;
  assert.equal(short?.data, 'short');
  assert.equal(short?.truncated, undefined);
  assert.equal(long?.data, 'a much l');
  assert.equal(long?.truncated, true);
  assert.equal(json?.data, '{"args":');
  assert.equal(json?.truncated, true);
  assert.equal(odd?.data, '[object ');
});

test('unsubscribing stops the events, and the last watcher leaving unwatches the namespace', () => {
  const feed = feedAt({ t: 0 });
  const changes: Array<[string, boolean]> = [];
  feed.onWatch((ns, watching) => changes.push([ns, watching]));
  const a = feed.watch(NS);
  const b = feed.watch(NS);
  a.close();
  a.close();
  feed.report(NS, { type: 'occupied', channel: 'c' });
  assert.equal(a.size, 0);
  assert.equal(b.size, 1);
  assert.equal(feed.watched(NS), true);
  b.close();
  assert.equal(feed.watched(NS), false);
  assert.deepEqual(changes, [
    [NS, true],
    [NS, false],
  ]);
});

test('onReady fires when the queue gets its first item, and again after it is taken', () => {
  const feed = feedAt({ t: 0 });
  let ready = 0;
  const watcher = feed.watch(NS, { onReady: () => ready++ });
  feed.report(NS, { type: 'occupied' });
  feed.report(NS, { type: 'vacated' });
  assert.equal(ready, 1);
  watcher.take();
  feed.report(NS, { type: 'occupied' });
  assert.equal(ready, 2);
});

test('sinks get local reports but not events delivered from other nodes', () => {
  const feed = feedAt({ t: 0 });
  const sunk: DebugItem[] = [];
  const remove = feed.addSink(NS, (e) => sunk.push(e));
  assert.equal(feed.watched(NS), true, 'a sink alone makes the namespace watched');
  const watcher = feed.watch(NS);
  feed.report(NS, { type: 'subscribed', channel: 'x' });
  feed.deliver(NS, { type: 'subscribed', channel: 'y', time: 1, node: 'node-b' });
  assert.equal(sunk.length, 1);
  assert.deepEqual(
    watcher.take().map((e) => (e as { node: string }).node),
    ['node-a', 'node-b'],
  );
  watcher.close();
  assert.equal(feed.watched(NS), true);
  remove();
  assert.equal(feed.watched(NS), false);
});
