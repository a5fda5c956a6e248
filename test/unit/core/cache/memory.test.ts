import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryLastEventStore } from '../../../../src/core/cache/memory.js';

/** A store on a clock that moves only when told. */
function storeWithClock() {
  const clock = { now: 5_000_000 };
  return { clock, store: new MemoryLastEventStore(() => clock.now) };
}

describe('MemoryLastEventStore (Pusher docs, Cache channels)', () => {
  test('keeps the last event with the time it has left', async () => {
    const { clock, store } = storeWithClock();
    await store.set('pusher:a', 'cache-x', { event: 'e1', data: '{"n":1}' }, 60_000);
    assert.deepEqual(await store.get('pusher:a', 'cache-x'), {
      event: { event: 'e1', data: '{"n":1}' },
      ttlMs: 60_000,
    });
    clock.now += 15_500;
    assert.equal((await store.get('pusher:a', 'cache-x'))?.ttlMs, 44_500);
    await store.close();
  });

  test('a newer event replaces the older one and restarts its time to live', async () => {
    const { clock, store } = storeWithClock();
    await store.set('pusher:a', 'cache-x', { event: 'e1', data: 'one' }, 10_000);
    clock.now += 9_000;
    await store.set('pusher:a', 'cache-x', { event: 'e2', data: 'two' }, 10_000);
    clock.now += 9_000;
    assert.deepEqual(await store.get('pusher:a', 'cache-x'), {
      event: { event: 'e2', data: 'two' },
      ttlMs: 1_000,
    });
    await store.close();
  });

  test('an event is gone once its time to live has passed, and stays gone', async () => {
    const { clock, store } = storeWithClock();
    await store.set('pusher:a', 'cache-x', { event: 'e', data: 'd' }, 1_000);
    clock.now += 999;
    assert.equal((await store.get('pusher:a', 'cache-x'))?.ttlMs, 1);
    clock.now += 1;
    assert.equal(await store.get('pusher:a', 'cache-x'), undefined);
    clock.now -= 500; // a clock going back does not revive it
    assert.equal(await store.get('pusher:a', 'cache-x'), undefined);
    await store.close();
  });

  test('channels and namespaces are kept apart', async () => {
    const { store } = storeWithClock();
    await store.set('pusher:a', 'cache-x', { event: 'a-x', data: '1' }, 1_000);
    await store.set('pusher:b', 'cache-x', { event: 'b-x', data: '2' }, 1_000);
    assert.equal((await store.get('pusher:a', 'cache-x'))?.event.event, 'a-x');
    assert.equal((await store.get('pusher:b', 'cache-x'))?.event.event, 'b-x');
    assert.equal(await store.get('pusher:a', 'cache-y'), undefined);
    assert.equal(await store.get('pusher:c', 'cache-x'), undefined);
    await store.close();
  });

  test('data strings are kept byte for byte', async () => {
    const { store } = storeWithClock();
    const data = 'not json \u00e9 "quoted" \\ \u{1f600}';
    await store.set('pusher:a', 'cache-x', { event: 'e', data }, 1_000);
    assert.equal((await store.get('pusher:a', 'cache-x'))?.event.data, data);
    await store.close();
  });

  test('close() is idempotent', async () => {
    const { store } = storeWithClock();
    await store.close();
    await store.close();
  });
});
