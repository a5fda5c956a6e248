import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { appSchema, webhooksSchema } from '../../../src/config/schema.js';
import type { TimedEvent, WebhookDelivery } from '../../../src/core/webhook-outbox.js';
import { Batcher } from '../../../src/webhooks/batcher.js';
import { RemovalDelay } from '../../../src/webhooks/delay.js';
import type { PostWebhook } from '../../../src/webhooks/sender.js';
import { Webhooks } from '../../../src/webhooks/webhooks.js';
import { within } from '../../helpers/raw-client.js';

const logger = pino({ level: 'silent' });

/** A post function that records deliveries and answers 2xx. */
function recorder() {
  const deliveries: WebhookDelivery[] = [];
  let waiters: (() => void)[] = [];
  const post: PostWebhook = async (delivery) => {
    deliveries.push(delivery);
    const w = waiters;
    waiters = [];
    for (const wake of w) wake();
    return { ok: true, status: 200 };
  };
  const until = async (n: number) => {
    while (deliveries.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  const events = () =>
    deliveries.flatMap((d) => (JSON.parse(d.body) as { events: Record<string, unknown>[] }).events);
  return { post, deliveries, until, events };
}

function app(fields: Record<string, unknown> = {}) {
  return appSchema.parse({
    id: 'a1',
    key: 'k1',
    secret: 's1',
    webhooks: [{ url: 'http://receiver.test/hook' }],
    ...fields,
  });
}

describe('Batcher', () => {
  test('without batching every item leaves alone, at once', () => {
    const out: string[][] = [];
    const batcher = new Batcher<string>({
      windowMs: 60_000,
      maxItems: 10,
      emit: (_k, items) => out.push(items),
    });
    batcher.add('k', 'a', false);
    batcher.add('k', 'b', false);
    assert.deepEqual(out, [['a'], ['b']]);
    assert.equal(batcher.size, 0);
  });

  test('a batch closes when it is full, in arrival order, per key', () => {
    const out: [string, string[]][] = [];
    const batcher = new Batcher<string>({
      windowMs: 60_000,
      maxItems: 3,
      emit: (k, items) => out.push([k, items]),
    });
    for (const item of ['a', 'b', 'c', 'd']) batcher.add('k1', item, true);
    batcher.add('k2', 'x', true);
    assert.deepEqual(out, [['k1', ['a', 'b', 'c']]]);
    batcher.flush();
    assert.deepEqual(out, [
      ['k1', ['a', 'b', 'c']],
      ['k1', ['d']],
      ['k2', ['x']],
    ]);
    batcher.close();
  });

  test('a batch closes when its window ends', async () => {
    let emitted: (items: string[]) => void = () => {};
    const done = new Promise<string[]>((resolve) => (emitted = resolve));
    const batcher = new Batcher<string>({ windowMs: 10, maxItems: 100, emit: (_k, items) => emitted(items) });
    batcher.add('k', 'a', true);
    batcher.add('k', 'b', true);
    assert.equal(batcher.size, 1);
    assert.deepEqual(await within(done, 5000, 'the window to close'), ['a', 'b']);
    assert.equal(batcher.size, 0);
  });

  test('switching batching off sends what was collected first', () => {
    const out: string[][] = [];
    const batcher = new Batcher<string>({
      windowMs: 60_000,
      maxItems: 10,
      emit: (_k, items) => out.push(items),
    });
    batcher.add('k', 'a', true);
    batcher.add('k', 'b', false);
    assert.deepEqual(out, [['a'], ['b']]);
  });
});

describe('RemovalDelay', () => {
  const A = app();
  const names = (released: TimedEvent[]) =>
    released.map(
      (r) => `${r.event.name}:${r.event.channel}${'user_id' in r.event ? `:${r.event.user_id}` : ''}`,
    );

  test('a channel occupied again within the delay cancels the vacate and its re-occupation', () => {
    const released: TimedEvent[] = [];
    const delay = new RemovalDelay(60_000, (_app, e) => released.push(e));
    delay.channelVacated(A, 'c', 1);
    assert.equal(delay.channelOccupied(A.id, 'c'), true);
    assert.equal(delay.channelOccupied(A.id, 'c'), false, 'only the held vacate is cancelled');
    delay.memberRemoved(A, 'presence-p', 'u1', 2);
    assert.equal(delay.memberAdded(A.id, 'presence-p', 'u2'), false, 'another user is a real join');
    assert.equal(delay.memberAdded(A.id, 'presence-p', 'u1'), true);
    assert.equal(delay.size, 0);
    delay.releaseAll();
    assert.deepEqual(released, []);
    delay.close();
  });

  test('removals are released after the delay, with the time they happened', async () => {
    let resolve: () => void = () => {};
    const done = new Promise<void>((r) => (resolve = r));
    const released: TimedEvent[] = [];
    const delay = new RemovalDelay(5, (_app, e) => {
      released.push(e);
      if (released.length === 2) resolve();
    });
    delay.memberRemoved(A, 'presence-p', 'u1', 111);
    delay.channelVacated(A, 'presence-p', 112);
    await within(done, 5000, 'the held removals');
    assert.deepEqual(names(released), ['member_removed:presence-p:u1', 'channel_vacated:presence-p']);
    assert.deepEqual(
      released.map((r) => r.timeMs),
      [111, 112],
    );
    delay.close();
  });

  test("a channel's member removals are released before its vacate, whatever order they came in", () => {
    const released: TimedEvent[] = [];
    const delay = new RemovalDelay(60_000, (_app, e) => released.push(e));
    delay.channelVacated(A, 'other', 1);
    delay.channelVacated(A, 'presence-p', 2);
    delay.memberRemoved(A, 'presence-p', 'u1', 3);
    delay.memberRemoved(A, 'presence-p', 'u2', 4);
    delay.releaseAll();
    assert.deepEqual(names(released), [
      'channel_vacated:other',
      'member_removed:presence-p:u1',
      'member_removed:presence-p:u2',
      'channel_vacated:presence-p',
    ]);
    delay.close();
  });
});

describe('RemovalDelay: removals taken over from a dead node', () => {
  const A = app();
  const removal = (user: string, timeMs: number): TimedEvent => ({
    event: { name: 'member_removed', channel: 'presence-p', user_id: user },
    timeMs,
  });
  const vacate = (timeMs: number): TimedEvent => ({
    event: { name: 'channel_vacated', channel: 'presence-p' },
    timeMs,
  });

  test('one already due is released at once; one held later is journaled, cancelled like any other', () => {
    const released: TimedEvent[] = [];
    const journal: string[] = [];
    const delay = new RemovalDelay(60_000, (_app, e) => released.push(e), {
      held: (key, _app, _event, dueAt) =>
        journal.push(`held ${key.replaceAll('\n', '/')} ${dueAt > Date.now()}`),
      gone: (key) => journal.push(`gone ${key.replaceAll('\n', '/')}`),
    });
    delay.adopt(`${A.id}\npresence-p\nu1`, A, removal('u1', 10), -5);
    assert.deepEqual(released, [removal('u1', 10)]);
    delay.adopt(`${A.id}\npresence-p\nu2`, A, removal('u2', 11), 60_000);
    assert.equal(delay.size, 1);
    assert.equal(delay.memberAdded(A.id, 'presence-p', 'u2'), true, 'u2 came back: neither is reported');
    assert.equal(delay.size, 0);
    assert.deepEqual(journal, [`held ${A.id}/presence-p/u2 true`, `gone ${A.id}/presence-p/u2`]);
    delay.close();
  });

  test('each is released on its own timer, a vacate after its members, before older entries fall due', async () => {
    let resolve: () => void = () => {};
    const done = new Promise<void>((r) => (resolve = r));
    const released: TimedEvent[] = [];
    const delay = new RemovalDelay(60_000, (_app, e) => {
      released.push(e);
      if (released.length === 2) resolve();
    });
    delay.channelVacated(A, 'other', 1); // held here for a minute: must not hold up the adopted ones
    delay.adopt(`${A.id}\npresence-p\nu3`, A, removal('u3', 12), 30_000);
    delay.adopt(`${A.id}\npresence-p`, A, vacate(13), 5);
    await within(done, 5000, 'the adopted removals');
    assert.deepEqual(released, [removal('u3', 12), vacate(13)]);
    assert.equal(delay.size, 1, 'the local vacate is still held');
    delay.close();
  });
});

describe('Webhooks routing and batching', () => {
  const config = (fields: Record<string, unknown> = {}) =>
    webhooksSchema.parse({ vacateDelayMs: 60_000, batchWindowMs: 60_000, ...fields });

  test('without batchWebhooks each event is its own request, fields exactly as Pusher docs, Webhooks', async () => {
    const r = recorder();
    let t = 1000;
    const hooks = new Webhooks({ config: config(), logger, post: r.post, now: () => t++ });
    const a = app();
    hooks.channelOccupied(a, 'presence-room');
    hooks.memberAdded(a, 'presence-room', '42');
    hooks.clientEvent(a, {
      channel: 'presence-room',
      event: 'client-x',
      data: '{"a":1}',
      socketId: '1.2',
      userId: '42',
    });
    hooks.clientEvent(a, { channel: 'private-p', event: 'client-y', data: 'text', socketId: '1.2' });
    hooks.cacheMiss(a, 'cache-c');
    hooks.subscriptionCount(a, 'counted', 3);
    await within(r.until(6), 5000, 'six requests');
    assert.deepEqual(
      r.deliveries.map((d) => JSON.parse(d.body)),
      [
        { time_ms: 1000, events: [{ name: 'channel_occupied', channel: 'presence-room' }] },
        { time_ms: 1001, events: [{ name: 'member_added', channel: 'presence-room', user_id: '42' }] },
        {
          time_ms: 1002,
          events: [
            {
              name: 'client_event',
              channel: 'presence-room',
              event: 'client-x',
              data: '{"a":1}',
              socket_id: '1.2',
              user_id: '42',
            },
          ],
        },
        {
          time_ms: 1003,
          events: [
            { name: 'client_event', channel: 'private-p', event: 'client-y', data: 'text', socket_id: '1.2' },
          ],
        },
        { time_ms: 1004, events: [{ name: 'cache_miss', channel: 'cache-c' }] },
        {
          time_ms: 1005,
          events: [{ name: 'subscription_count', channel: 'counted', subscription_count: 3 }],
        },
      ],
    );
    for (const d of r.deliveries) {
      assert.equal(d.url, 'http://receiver.test/hook');
      assert.equal(d.headers['X-Pusher-Key'], 'k1');
    }
    await hooks.close();
  });

  test('with batchWebhooks events share a request, up to maxBatchEvents, in order', async () => {
    const r = recorder();
    const hooks = new Webhooks({ config: config({ maxBatchEvents: 3 }), logger, post: r.post, now: () => 5 });
    const a = app({ batchWebhooks: true });
    for (const channel of ['c1', 'c2', 'c3', 'c4']) hooks.channelOccupied(a, channel);
    await within(r.until(1), 5000, 'the full batch');
    assert.equal(r.deliveries.length, 1, 'the fourth event waits in the next batch');
    assert.deepEqual(JSON.parse(r.deliveries[0]!.body), {
      time_ms: 5,
      events: ['c1', 'c2', 'c3'].map((channel) => ({ name: 'channel_occupied', channel })),
    });
    assert.deepEqual(r.deliveries[0]!.channels, ['c1', 'c2', 'c3']);
    await hooks.flush(5000);
    assert.deepEqual(
      r.events().map((e) => e.channel),
      ['c1', 'c2', 'c3', 'c4'],
    );
  });

  test("each webhook gets only the events it lists and the channels its filter's prefix matches", async () => {
    const r = recorder();
    const hooks = new Webhooks({ config: config(), logger, post: r.post });
    const a = app({
      webhooks: [
        { url: 'http://all.test/' },
        { url: 'http://private.test/', filter: { channelPrefix: 'private-' } },
        { url: 'http://members.test/', events: ['member_added'] },
      ],
    });
    hooks.channelOccupied(a, 'public-1');
    hooks.channelOccupied(a, 'private-1');
    hooks.memberAdded(a, 'presence-1', 'u');
    await within(r.until(5), 5000, 'five requests');
    await hooks.flush(5000);
    const seen = (url: string) =>
      r.deliveries
        .filter((d) => d.url === url)
        .flatMap((d) => (JSON.parse(d.body) as { events: { name: string; channel: string }[] }).events)
        .map((e) => `${e.name}:${e.channel}`);
    assert.deepEqual(seen('http://all.test/'), [
      'channel_occupied:public-1',
      'channel_occupied:private-1',
      'member_added:presence-1',
    ]);
    assert.deepEqual(seen('http://private.test/'), ['channel_occupied:private-1']);
    assert.deepEqual(seen('http://members.test/'), ['member_added:presence-1']);
  });

  test('cache_miss is sent once per channel within cacheMissIntervalMs', async () => {
    const r = recorder();
    const hooks = new Webhooks({ config: config(), logger, post: r.post });
    const a = app();
    hooks.cacheMiss(a, 'cache-1');
    hooks.cacheMiss(a, 'cache-1');
    hooks.cacheMiss(a, 'cache-2');
    hooks.cacheMiss(a, 'cache-1');
    await hooks.flush(5000);
    assert.deepEqual(
      r.events().map((e) => e.channel),
      ['cache-1', 'cache-2'],
    );
  });

  test('a comeback within the delay sends nothing; flush releases what is still held', async () => {
    const r = recorder();
    const hooks = new Webhooks({ config: config(), logger, post: r.post });
    const a = app();
    hooks.channelOccupied(a, 'presence-p');
    hooks.memberAdded(a, 'presence-p', 'u1');
    // The connection drops and comes back.
    hooks.memberRemoved(a, 'presence-p', 'u1');
    hooks.channelVacated(a, 'presence-p');
    hooks.channelOccupied(a, 'presence-p');
    hooks.memberAdded(a, 'presence-p', 'u1');
    // It leaves for good.
    hooks.memberRemoved(a, 'presence-p', 'u1');
    hooks.channelVacated(a, 'presence-p');
    await hooks.flush(5000);
    assert.deepEqual(
      r.events().map((e) => e.name),
      ['channel_occupied', 'member_added', 'member_removed', 'channel_vacated'],
    );
  });

  test('apps without webhooks cost nothing and events after close are ignored', async () => {
    const r = recorder();
    const hooks = new Webhooks({ config: config(), logger, post: r.post });
    hooks.channelOccupied(app({ webhooks: [] }), 'c');
    hooks.channelVacated(app({ webhooks: [] }), 'c');
    await hooks.close();
    hooks.channelOccupied(app(), 'c');
    await hooks.flush(5000);
    assert.equal(r.deliveries.length, 0);
  });
});
