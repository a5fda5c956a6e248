import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { PresenceStore } from '../../src/core/presence/store.js';
import { type StoreHarness, storeFixture } from './store-harness.js';

/**
 * The `PresenceStore` contract (members per user, Pusher docs, Presence channels; one member list for
 * the cluster, docs/clustering.md), run against every implementation: join results, leave on a user's
 * last socket, the member limit under concurrent joins, and removal of a dead node's members exactly once.
 */

export type PresenceHarness = StoreHarness<PresenceStore>;

type Departure = { namespace: string; channel: string; userId: string };
const byKey = (a: Departure, b: Departure) =>
  `${a.namespace}/${a.channel}/${a.userId}`.localeCompare(`${b.namespace}/${b.channel}/${b.userId}`);

export function presenceContract(harness: PresenceHarness): void {
  describe(`PresenceStore contract: ${harness.name}`, { skip: harness.skip }, () => {
    const { store, namespace, shared } = storeFixture(harness);

    test('join says added, existing or full; members and count follow', async () => {
      const s = store();
      const ns = namespace();
      const ch = 'presence-room';
      const alice = { userId: 'alice', info: { name: 'Alice', tags: ['a'] } };
      assert.equal(await s.join(ns, ch, '1.1', alice, 2), 'added');
      assert.equal(await s.join(ns, ch, '1.2', alice, 2), 'existing', "a user's second socket");
      assert.equal(await s.join(ns, ch, '1.2', alice, 2), 'existing', 'the same socket again');
      assert.equal(await s.join(ns, ch, '2.1', { userId: 'bob', info: null }, 2), 'added');
      assert.equal(await s.join(ns, ch, '3.1', { userId: 'carol', info: null }, 2), 'full');
      assert.equal(await s.join(ns, ch, '1.3', alice, 2), 'existing', 'a present user joins a full channel');
      assert.equal(await s.count(ns, ch), 2);
      const members = (await s.members(ns, ch)).sort((a, b) => a.userId.localeCompare(b.userId));
      assert.deepEqual(members, [alice, { userId: 'bob', info: null }]);
      // A refused join left nothing behind.
      assert.equal(await s.leave(ns, ch, '3.1', 'carol'), false);
      assert.equal(await s.count(ns, ch), 2);
    });

    test("leave is true only on a user's last socket", async () => {
      const s = store();
      const ns = namespace();
      const ch = 'presence-room';
      const alice = { userId: 'alice', info: null };
      await s.join(ns, ch, '1.1', alice, 10);
      await s.join(ns, ch, '1.2', alice, 10);
      assert.equal(await s.leave(ns, ch, '1.1', 'alice'), false);
      assert.equal(await s.count(ns, ch), 1);
      assert.equal(await s.leave(ns, ch, '9.9', 'alice'), false, 'an unknown socket');
      assert.equal(await s.leave(ns, ch, '1.2', 'alice'), true);
      assert.equal(await s.leave(ns, ch, '1.2', 'alice'), false, 'the same socket again');
      assert.equal(await s.count(ns, ch), 0);
      assert.deepEqual(await s.members(ns, ch), []);
      // The emptied channel takes a member again.
      assert.equal(await s.join(ns, ch, '1.3', alice, 1), 'added');
    });

    test('channels and namespaces are separate, whatever characters their names hold', async () => {
      const s = store();
      const [ns1, ns2] = [namespace(), namespace()];
      const names = ['presence-a', 'presence-a.b*c>d', 'presence-ünï çødé', 'presence-=;,@'];
      for (const [i, ch] of names.entries()) {
        assert.equal(await s.join(ns1, ch, `${i}.1`, { userId: `u${i}`, info: i }, 10), 'added');
      }
      for (const [i, ch] of names.entries()) {
        assert.deepEqual(await s.members(ns1, ch), [{ userId: `u${i}`, info: i }]);
        assert.equal(await s.count(ns2, ch), 0);
      }
      assert.equal(await s.join(ns2, 'presence-a', '9.1', { userId: 'u0', info: 'other' }, 10), 'added');
      assert.deepEqual(await s.members(ns1, 'presence-a'), [{ userId: 'u0', info: 0 }]);
    });

    test('user ids named like Object.prototype members are members like any other', async () => {
      const s = store();
      const ns = namespace();
      const ch = 'presence-proto';
      const ids = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
      for (const [i, userId] of ids.entries()) {
        assert.equal(await s.join(ns, ch, `${i}.1`, { userId, info: { n: userId } }, 10), 'added', userId);
      }
      assert.equal(await s.join(ns, ch, '0.2', { userId: '__proto__', info: null }, 10), 'existing');
      assert.equal(await s.count(ns, ch), ids.length);
      const members = (await s.members(ns, ch)).sort((a, b) => a.userId.localeCompare(b.userId));
      assert.deepEqual(
        members,
        [...ids].sort((a, b) => a.localeCompare(b)).map((userId) => ({ userId, info: { n: userId } })),
      );
      assert.equal(await s.leave(ns, ch, '0.1', '__proto__'), false, 'a second socket holds it');
      assert.equal(await s.leave(ns, ch, '0.2', '__proto__'), true);
      assert.equal(await s.count(ns, ch), ids.length - 1);
    });

    test('concurrent joins never exceed the member limit', async () => {
      const nodes = harness.shared ? [store(), store(), store()] : [store()];
      const ns = namespace();
      const ch = 'presence-crowd';
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          nodes[i % nodes.length]!.join(ns, ch, `${i}.0`, { userId: `user-${i}`, info: { i } }, 10),
        ),
      );
      assert.equal(results.filter((r) => r === 'added').length, 10);
      assert.equal(results.filter((r) => r === 'full').length, 40);
      const members = await nodes[0]!.members(ns, ch);
      assert.equal(members.length, 10);
      const admitted = results.flatMap((r, i) => (r === 'added' ? [`user-${i}`] : []));
      assert.deepEqual(members.map((m) => m.userId).sort(), admitted.sort());
      assert.equal(await nodes[nodes.length - 1]!.count(ns, ch), 10);
    });

    test("one user's concurrent sockets: one 'added', and one true leave", async () => {
      const nodes = harness.shared ? [store(), store()] : [store()];
      const ns = namespace();
      const ch = 'presence-tabs';
      const sockets = Array.from({ length: 20 }, (_, i) => `${i}.7`);
      const joins = await Promise.all(
        sockets.map((id, i) => nodes[i % nodes.length]!.join(ns, ch, id, { userId: 'alice', info: null }, 5)),
      );
      assert.equal(joins.filter((r) => r === 'added').length, 1);
      assert.equal(joins.filter((r) => r === 'existing').length, 19);
      const leaves = await Promise.all(
        sockets.map((id, i) => nodes[i % nodes.length]!.leave(ns, ch, id, 'alice')),
      );
      assert.equal(leaves.filter(Boolean).length, 1);
      assert.equal(await nodes[0]!.count(ns, ch), 0);
    });

    test('removeNode of a node that held nothing returns nothing', async () => {
      const s = store();
      await s.join(namespace(), 'presence-x', '1.1', { userId: 'u', info: null }, 10);
      assert.deepEqual(await s.removeNode(randomUUID()), []);
    });

    test('removeNode returns each departed member once, even with two callers at once', shared, async () => {
      const deadId = randomUUID();
      const dead = store(deadId);
      const [b, c] = [store(), store()];
      const ns = namespace();
      const other = namespace();
      // On the dead node: alice (also on b), bob (only there), carol in a second channel and namespace.
      await dead.join(ns, 'presence-1', 'd.1', { userId: 'alice', info: null }, 10);
      await dead.join(ns, 'presence-1', 'd.2', { userId: 'bob', info: null }, 10);
      await dead.join(ns, 'presence-1', 'd.3', { userId: 'bob', info: null }, 10);
      await dead.join(other, 'presence-2', 'd.4', { userId: 'carol', info: null }, 10);
      await b.join(ns, 'presence-1', 'b.1', { userId: 'alice', info: null }, 10);
      await b.join(other, 'presence-2', 'b.2', { userId: 'dave', info: null }, 10);
      await dead.close();

      const [fromB, fromC] = await Promise.all([b.removeNode(deadId), c.removeNode(deadId)]);
      assert.deepEqual(
        [...fromB, ...fromC].sort(byKey),
        [
          { namespace: ns, channel: 'presence-1', userId: 'bob' },
          { namespace: other, channel: 'presence-2', userId: 'carol' },
        ].sort(byKey),
      );
      assert.deepEqual(
        (await c.members(ns, 'presence-1')).map((m) => m.userId),
        ['alice'],
      );
      assert.deepEqual(
        (await c.members(other, 'presence-2')).map((m) => m.userId),
        ['dave'],
      );
      assert.deepEqual(await b.removeNode(deadId), [], 'nothing is left to remove');
      // The survivors' own sockets still leave normally.
      assert.equal(await b.leave(ns, 'presence-1', 'b.1', 'alice'), true);
    });
  });
}
