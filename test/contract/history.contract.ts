import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type HistoryStore, MAX_HISTORY_LIMIT } from '../../src/core/history/store.js';
import { type StoreHarness, storeFixture } from './store-harness.js';

/**
 * The `HistoryStore` contract (docs/wamp.md, "Event history": the last events of each rule, read on any
 * node), run against every implementation.
 */

export function historyContract(harness: StoreHarness<HistoryStore>): void {
  describe(`HistoryStore contract: ${harness.name}`, { skip: harness.skip }, () => {
    const { store, namespace, shared } = storeFixture(harness);

    test('a log keeps its newest entries up to its limit, read newest first', async () => {
      const s = store();
      const ns = namespace();
      assert.deepEqual(await s.latest(ns, 'never written', 10), []);
      for (let i = 1; i <= 7; i++) await s.append(ns, 'exact\0com.a', `e${i}`, 5);
      assert.deepEqual(await s.latest(ns, 'exact\0com.a', 10), ['e7', 'e6', 'e5', 'e4', 'e3']);
      assert.deepEqual(await s.latest(ns, 'exact\0com.a', 2), ['e7', 'e6']);
      assert.deepEqual(await s.latest(ns, 'exact\0com.a', 0), []);
      assert.deepEqual(await s.latest(ns, 'prefix\0com.a', 10), [], 'another log');
      assert.deepEqual(await s.latest(namespace(), 'exact\0com.a', 10), [], 'another namespace');
    });

    test('a lower limit cuts the log on the next append; the hard cap holds', async () => {
      const s = store();
      const ns = namespace();
      for (let i = 1; i <= 4; i++) await s.append(ns, 'log', `e${i}`, 4);
      await s.append(ns, 'log', 'e5', 2);
      assert.deepEqual(await s.latest(ns, 'log', 10), ['e5', 'e4']);
      const entries = Array.from({ length: MAX_HISTORY_LIMIT + 3 }, (_, i) => `x${i}`);
      for (const e of entries) await s.append(ns, 'big', e, MAX_HISTORY_LIMIT);
      const kept = await s.latest(ns, 'big', MAX_HISTORY_LIMIT + 10);
      assert.equal(kept.length, MAX_HISTORY_LIMIT);
      assert.equal(kept[0], entries.at(-1));
      assert.equal(kept.at(-1), entries[3]);
    });

    test('what one node appends, another reads', shared, async () => {
      const [a, b] = [store(), store()];
      const ns = namespace();
      await a.append(ns, 'log', '{"publication":1}', 3);
      await b.append(ns, 'log', '{"publication":2}', 3);
      assert.deepEqual(await a.latest(ns, 'log', 3), ['{"publication":2}', '{"publication":1}']);
      assert.deepEqual(await b.latest(ns, 'log', 1), ['{"publication":2}']);
    });
  });
}
