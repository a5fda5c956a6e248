import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { OccupancyStore } from '../../src/core/channels/occupancy.js';
import { type StoreHarness, storeFixture } from './store-harness.js';

/**
 * The `OccupancyStore` contract (docs/clustering.md: occupied and vacated decided once cluster-wide),
 * run against every implementation.
 */

export type OccupancyHarness = StoreHarness<OccupancyStore>;

export function occupancyContract(harness: OccupancyHarness): void {
  describe(`OccupancyStore contract: ${harness.name}`, { skip: harness.skip }, () => {
    const { store, namespace, shared } = storeFixture(harness);

    test("a lone node's first and last subscriber are the channel's", async () => {
      const s = store();
      const ns = namespace();
      assert.equal(await s.occupy(ns, 'room'), true);
      assert.equal(await s.vacate(ns, 'room'), true);
      assert.equal(await s.occupy(ns, 'room'), true, 'occupied again after being vacated');
      assert.deepEqual(await s.removeNode(randomUUID()), []);
    });

    test('only the first node occupies and only the last one vacates', shared, async () => {
      const [a, b] = [store(), store()];
      const ns = namespace();
      assert.equal(await a.occupy(ns, 'room.*>'), true);
      assert.equal(await b.occupy(ns, 'room.*>'), false);
      assert.equal(await a.vacate(ns, 'room.*>'), false);
      assert.equal(await b.vacate(ns, 'room.*>'), true);
      assert.equal(await b.occupy(namespace(), 'room.*>'), true, 'another namespace is another channel');
    });

    test('concurrent reports from many nodes: one occupied, one vacated', shared, async () => {
      const nodes = Array.from({ length: 8 }, () => store());
      const ns = namespace();
      const occupied = await Promise.all(nodes.map((n) => n.occupy(ns, 'busy')));
      assert.equal(occupied.filter(Boolean).length, 1);
      const vacated = await Promise.all(nodes.map((n) => n.vacate(ns, 'busy')));
      assert.equal(vacated.filter(Boolean).length, 1);
    });

    test("removeNode vacates the dead node's channels once, even with two callers", shared, async () => {
      const deadId = randomUUID();
      const dead = store(deadId);
      const [b, c] = [store(), store()];
      const ns = namespace();
      await dead.occupy(ns, 'alone');
      await dead.occupy(ns, 'shared');
      await b.occupy(ns, 'shared');
      await dead.close();
      const [fromB, fromC] = await Promise.all([b.removeNode(deadId), c.removeNode(deadId)]);
      assert.deepEqual([...fromB, ...fromC], [{ namespace: ns, channel: 'alone' }]);
      assert.equal(await b.vacate(ns, 'shared'), true, 'the survivor is now the last node');
      assert.equal(await c.occupy(ns, 'alone'), true, 'the dead node no longer holds it');
    });
  });
}
