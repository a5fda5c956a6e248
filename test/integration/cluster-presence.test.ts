import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterSuites, onRunningCluster } from '../helpers/cluster.js';
import type { Node } from '../helpers/cluster-node.js';
import { barrier, presenceIds, subscribed } from '../helpers/cluster-watch.js';

/**
 * Presence on a cluster: every node shows the same members, and each member event arrives once,
 * whichever node the member and the listener are on (docs/clustering.md).
 */

await clusterSuites((driver, sharedUrl) => {
  onRunningCluster(driver, sharedUrl, (nodes) => {
    test('presence: every node shows the same members and each member event once', async () => {
      const [n1, n2, n3] = nodes as [Node, Node, Node];
      const channel = 'presence-lobby';
      const alice = await subscribed(n1.client('alice'), channel, 'alice@node1');
      assert.deepEqual(presenceIds(alice), ['alice']);
      const bob = await subscribed(n2.client('bob'), channel, 'bob@node2');
      assert.deepEqual(presenceIds(bob), ['alice', 'bob']);
      await alice.next('pusher:member_added', (m: { id: string }) => m.id === 'bob');
      const carol = await subscribed(n3.client('carol'), channel, 'carol@node3');
      assert.deepEqual(presenceIds(carol), ['alice', 'bob', 'carol']);
      // Alice again, from another node: the same member, announced to nobody.
      const alice2 = await subscribed(n3.client('alice'), channel, 'alice@node3');
      assert.deepEqual(presenceIds(alice2), ['alice', 'bob', 'carol']);
      await alice.next('pusher:member_added', (m: { id: string }) => m.id === 'carol');
      await bob.next('pusher:member_added', (m: { id: string }) => m.id === 'carol');

      const watches = [alice, bob, carol, alice2];
      await barrier(nodes, channel, watches);
      assert.deepEqual(alice.members('pusher:member_added'), ['bob', 'carol']);
      assert.deepEqual(bob.members('pusher:member_added'), ['carol']);
      assert.deepEqual(carol.members('pusher:member_added'), []);
      assert.deepEqual(alice2.members('pusher:member_added'), []);
      for (const w of watches) assert.deepEqual(presenceIds(w), ['alice', 'bob', 'carol'], w.name);
      const added = alice.all<{ id: string; info: unknown }>('pusher:member_added');
      assert.deepEqual(added[1], { id: 'carol', info: { name: 'carol' } }, 'user_info crosses nodes');

      // Bob leaves: everyone else hears it once, whatever node they are on.
      bob.client.disconnect();
      for (const w of [alice, carol, alice2]) {
        await w.next('pusher:member_removed', (m: { id: string }) => m.id === 'bob');
      }
      await barrier(nodes, channel, [alice, carol, alice2]);
      for (const w of [alice, carol, alice2]) {
        assert.deepEqual(w.members('pusher:member_removed'), ['bob'], w.name);
        assert.deepEqual(presenceIds(w), ['alice', 'carol'], w.name);
      }
      for (const n of nodes) {
        const { users } = await n.get<{ users: { id: string }[] }>(`/channels/${channel}/users`);
        assert.deepEqual(users.map((u) => u.id).sort(), ['alice', 'carol'], n.name);
      }
    });
  });
});
