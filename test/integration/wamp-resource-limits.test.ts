import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { LimitName } from '../../src/core/limit-refusals.js';
import type { AutobahnSession } from '../helpers/autobahn.js';
import { within } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';
import { RawWampClient } from '../helpers/wamp-client.js';
import { autobahnServer } from '../helpers/wamp-server.js';

/** Heap in use after a full collection (the test's own process holds the server). */
const collect = (() => {
  v8.setFlagsFromString('--expose_gc');
  return vm.runInNewContext('gc') as () => void;
})();
function settledHeap(): number {
  collect();
  return process.memoryUsage().heapUsed;
}

const GUARD_MS = 10_000;
const LIMIT_EXCEEDED = 'herald.error.limit_exceeded';
const KiB = 1024;
const MiB = 1024 * KiB;

/** The limits of the realm under test: small, so that each is reached in a few requests. */
const LIMITS = {
  maxSubscriptionsPerSession: 5,
  maxRegistrationsPerSession: 3,
  maxTestamentsPerSession: 3,
  maxTestamentBytes: 2 * KiB,
  maxRetainedBytes: 4 * MiB,
  maxRetainedEventBytes: 512 * KiB,
};
const HELLO_TIMEOUT_MS = 200;

/** Whether `err` is an autobahn-js error carrying `uri`. */
const refusedWith = (uri: string) => (err: unknown) => (err as { error?: string }).error === uri;

describe('WAMP per-session and per-realm limits', () => {
  const server = autobahnServer({
    wamp: {
      helloTimeoutMs: HELLO_TIMEOUT_MS,
      realms: [{ name: 'realm1', ...LIMITS }],
      auth: {
        anonymous: { role: 'anonymous' },
        wampcra: { users: { slow: { secret: 'secret', role: 'anonymous' } } },
      },
    },
  });
  const join = (): Promise<AutobahnSession> => server.session();
  const raw = async (): Promise<RawWampClient> => server.track(await RawWampClient.open(server.url));
  const refusals = (limit: LimitName) => server.herald.herald.limitRefusals.get(limit);
  const realmStats = () => server.herald.herald.wamp.realmStats().find((r) => r.realm === 'realm1')!;

  test('exactly maxSubscriptionsPerSession subscriptions; the next is refused, a repeat is not, unsubscribing frees one', async () => {
    const session = await join();
    const held = [];
    for (let i = 0; i < LIMITS.maxSubscriptionsPerSession; i++) {
      held.push(await session.subscribe(`com.limits.sub.${i}`, () => {}));
    }
    const before = refusals('wamp_subscriptions_per_session');
    await assert.rejects(
      session.subscribe('com.limits.sub.more', () => {}),
      refusedWith(LIMIT_EXCEEDED),
    );
    // Another match policy on a held URI is another subscription: refused too.
    await assert.rejects(
      session.subscribe('com.limits.sub', () => {}, { match: 'prefix' }),
      refusedWith(LIMIT_EXCEEDED),
    );
    assert.equal(refusals('wamp_subscriptions_per_session'), before + 2);
    // Subscribing again to a held topic takes no new slot: the same subscription comes back.
    const again = await session.subscribe('com.limits.sub.0', () => {});
    assert.equal(again.id, held[0]!.id);
    await session.unsubscribe(held[1]!);
    const freed = await session.subscribe('com.limits.sub.more', () => {});
    assert.ok(freed.id > 0);
    await assert.rejects(
      session.subscribe('com.limits.sub.other', () => {}),
      refusedWith(LIMIT_EXCEEDED),
    );
    // The limit is per session: another session subscribes as before.
    const other = await join();
    assert.ok((await other.subscribe('com.limits.sub.more', () => {})).id > 0);
  });

  test('exactly maxRegistrationsPerSession registrations; the next is refused, unregistering frees one', async () => {
    const session = await join();
    const held = [];
    for (let i = 0; i < LIMITS.maxRegistrationsPerSession; i++) {
      held.push(await session.register(`com.limits.proc.${i}`, () => i));
    }
    const before = refusals('wamp_registrations_per_session');
    await assert.rejects(
      session.register('com.limits.proc.more', () => 0),
      refusedWith(LIMIT_EXCEEDED),
    );
    assert.equal(refusals('wamp_registrations_per_session'), before + 1);
    await session.unregister(held[0]!);
    await session.register('com.limits.proc.more', () => 'more');
    const caller = await join();
    assert.equal(await caller.call('com.limits.proc.more'), 'more');
    assert.equal(await caller.call('com.limits.proc.2'), 2, 'the registrations held still answer');
  });

  test('testaments: at most maxTestamentsPerSession and maxTestamentBytes; the kept ones are published at the end', async () => {
    const watcher = await join();
    const published: unknown[] = [];
    await watcher.subscribe('com.limits.will', (args) => published.push(args[0]));

    const leaving = await join();
    const add = (tag: string, size = 10) =>
      leaving.call('wamp.session.add_testament', ['com.limits.will', [tag, 'x'.repeat(size)]]);
    const before = refusals('wamp_testaments');
    await assert.rejects(add('too big', 3 * KiB), refusedWith(LIMIT_EXCEEDED));
    await add('a', 900);
    await assert.rejects(add('over the bytes', 1200), refusedWith(LIMIT_EXCEEDED));
    await add('b');
    await add('c');
    await assert.rejects(add('over the count'), refusedWith(LIMIT_EXCEEDED));
    assert.equal(refusals('wamp_testaments'), before + 3);
    // Flushing frees both the count and the bytes.
    await leaving.call('wamp.session.flush_testaments', [], {});
    await add('d', 1500);
    await add('e');

    leaving.leave();
    await until(() => published.length >= 2, 'the testaments published');
    assert.deepEqual(published, ['d', 'e']);
  });

  test('retained events stay under maxRetainedBytes, the newest kept; an event over maxRetainedEventBytes is delivered, not retained', async () => {
    const publisher = await join();
    const eventBytes = 256 * KiB;
    const count = 400; // 100 MiB published and retained, against a 4 MiB cap
    const heapBefore = settledHeap();
    const evictedBefore = refusals('wamp_retained_bytes');
    for (let i = 0; i < count; i++) {
      await publisher.publish(
        `com.limits.retained.${i}`,
        [i, 'x'.repeat(eventBytes)],
        {},
        {
          retain: true,
          acknowledge: true,
        },
      );
    }
    const stats = realmStats();
    assert.ok(stats.retainedBytes <= LIMITS.maxRetainedBytes, `${stats.retainedBytes} retained bytes`);
    assert.ok(
      stats.retainedBytes > LIMITS.maxRetainedBytes - 2 * eventBytes,
      'the cap is filled, not emptied',
    );
    const kept = Math.floor(LIMITS.maxRetainedBytes / eventBytes);
    assert.ok(stats.retainedTopics <= kept, `${stats.retainedTopics} retained topics`);
    assert.equal(refusals('wamp_retained_bytes') - evictedBefore, count - stats.retainedTopics);
    // Unbounded, the 100 MiB of retained payloads stay reachable; bounded, all but the cap's worth is
    // garbage. Measured on the heap after a full collection: RSS depends on when V8 collects.
    const grown = settledHeap() - heapBefore;
    assert.ok(grown < 40 * MiB, `the heap kept ${Math.round(grown / MiB)} MiB after a full collection`);

    const subscriber = await join();
    const got: unknown[] = [];
    await subscriber.subscribe('com.limits.retained', (args) => got.push(args[0]), {
      match: 'prefix',
      get_retained: true,
    });
    await until(() => got.length === stats.retainedTopics, 'the retained events');
    assert.ok(got.includes(count - 1), 'the newest event survives');
    assert.ok(!got.includes(0), 'the oldest is forgotten');

    // Over maxRetainedEventBytes: delivered to the subscriber, but not retained (nor the older one).
    const live: unknown[] = [];
    await subscriber.subscribe('com.limits.big', (args) => live.push(args[0]));
    await publisher.publish('com.limits.big', ['small'], {}, { retain: true, acknowledge: true });
    const refusedBefore = refusals('wamp_retained_bytes');
    await publisher.publish(
      'com.limits.big',
      ['big', 'x'.repeat(600 * KiB)],
      {},
      { retain: true, acknowledge: true },
    );
    await until(() => live.length === 2, 'both events delivered');
    assert.deepEqual(live, ['small', 'big']);
    assert.equal(refusals('wamp_retained_bytes'), refusedBefore + 1);
    const late = await raw();
    await late.hello('realm1');
    await late.subscribe('com.limits.big', { get_retained: true });
    const probe = await late.call('wamp.session.count');
    assert.equal(probe[0], 50, 'the session answers');
    assert.equal(late.messages.filter((m) => m[0] === 36).length, 0, 'no retained event for the topic');
  });

  test('a socket that never sends HELLO gets ABORT wamp.error.timeout and is closed; a joined session stays', async () => {
    const joined = await join();
    const before = refusals('wamp_hello_timeout');
    const idle = await raw();
    const closed = await within(idle.closed, GUARD_MS, 'the idle socket closed');
    assert.equal(closed.code, 1000);
    const abort = idle.messages.find((m) => m[0] === 3);
    assert.equal(abort?.[2], 'wamp.error.timeout');
    assert.equal(refusals('wamp_hello_timeout'), before + 1);
    // The session that joined before is still served, well past the timeout.
    assert.equal(joined.isOpen, true);
    assert.equal(typeof (await joined.call('wamp.session.count')), 'number');
  });

  test('a session challenged that never answers, and a transport idle after GOODBYE, are closed too', async () => {
    const before = refusals('wamp_hello_timeout');
    const challenged = await raw();
    const reply = await challenged.hello('realm1', { authmethods: ['wampcra'], authid: 'slow' });
    assert.equal(reply[0], 4, 'CHALLENGE');
    const afterGoodbye = await raw();
    assert.equal((await afterGoodbye.hello('realm1'))[0], 2, 'WELCOME');
    afterGoodbye.send([6, {}, 'wamp.close.close_realm']);
    assert.equal((await within(afterGoodbye.next(6), GUARD_MS, 'GOODBYE'))[0], 6);
    await within(challenged.closed, GUARD_MS, 'the challenged socket closed');
    await within(afterGoodbye.closed, GUARD_MS, 'the socket idle after GOODBYE closed');
    assert.equal(challenged.messages.find((m) => m[0] === 3)?.[2], 'wamp.error.timeout');
    assert.equal(refusals('wamp_hello_timeout'), before + 2);
  });

  test('every refusal shows on /metrics', async () => {
    const text = await (await fetch(`${server.herald.httpUrl}/metrics`)).text();
    const names: LimitName[] = [
      'wamp_subscriptions_per_session',
      'wamp_registrations_per_session',
      'wamp_retained_bytes',
      'wamp_testaments',
      'wamp_hello_timeout',
    ];
    for (const limit of names) {
      const line = text
        .split('\n')
        .find((l) => l.startsWith(`herald_limit_refusals_total{limit="${limit}"}`));
      assert.ok(line, `${limit} on /metrics`);
      assert.equal(Number(line.split(' ').at(-1)), refusals(limit));
      assert.ok(refusals(limit) > 0);
    }
    assert.match(text, /herald_wamp_retained_bytes\{realm="realm1"\} \d+/);
  });
});
