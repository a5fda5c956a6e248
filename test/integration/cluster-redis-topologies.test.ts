import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RedisClusterSet, SentinelSet, uniquePrefix } from '../helpers/brokers.js';
import { startCluster } from '../helpers/cluster.js';
import { type Node, stopAll } from '../helpers/cluster-node.js';
import { presenceIds, subscribed } from '../helpers/cluster-watch.js';

/**
 * A cluster over Redis Sentinel, through a failover, and over a Redis Cluster, on brokers of the
 * tests' own (docs/clustering.md).
 */

/** Two nodes on a Redis of the test's own, started by `starting`; all stopped and removed afterwards. */
async function twoNodesOn<S extends { url: string; destroy(): Promise<void> }>(
  starting: Promise<S>,
  name: string,
  body: (n1: Node, n2: Node, set: S) => Promise<void>,
): Promise<void> {
  const set = await starting;
  let nodes: Node[] = [];
  try {
    nodes = await startCluster({
      driver: 'redis',
      url: set.url,
      prefix: uniquePrefix(`cluster-${name}`),
      timings: { heartbeatMs: 200, nodeTimeoutMs: 10_000, requestTimeoutMs: 2_000 },
      count: 2,
    });
    await body(nodes[0]!, nodes[1]!, set);
  } finally {
    try {
      await stopAll(nodes);
    } finally {
      await set.destroy();
    }
  }
}

test('over Redis Sentinel: two nodes find the master, and find it again after a failover', () =>
  twoNodesOn(SentinelSet.start(), 'sentinel', async (n1, n2, set) => {
    const reader = await subscribed(n2.client(), 'public-sentinel', 'reader@node2');
    const alice = await subscribed(n1.client('alice'), 'presence-sentinel', 'alice@node1');
    await subscribed(n2.client('bob'), 'presence-sentinel', 'bob@node2');
    await alice.next('pusher:member_added', (m: { id: string }) => m.id === 'bob');
    await n1.sdk.trigger('public-sentinel', 'before', {});
    await reader.next('before');

    // The master dies and the Sentinel promotes the replica: each node's bus connections find it.
    const marks = [n1, n2].map((n) => n.logs.length);
    await set.failover();
    await Promise.all(
      [n1, n2].map((n, i) => {
        const ready = new Set<unknown>();
        return n.log(
          (r) => {
            if (r.msg === 'redis ready') ready.add(r.client);
            return ready.size === 2;
          },
          'to reach the new master',
          marks[i],
        );
      }),
    );
    await n1.sdk.trigger('public-sentinel', 'after', {});
    await reader.next('after');
    // The members joined before the failover are on the new master too.
    const carol = await subscribed(n2.client('carol'), 'presence-sentinel', 'carol@node2');
    assert.deepEqual(presenceIds(carol), ['alice', 'bob', 'carol']);
    await alice.next('pusher:member_added', (m: { id: string }) => m.id === 'carol');
    const users = await n1.get<{ users: { id: string }[] }>('/channels/presence-sentinel/users');
    assert.deepEqual(users.users.map((u) => u.id).sort(), ['alice', 'bob', 'carol']);
  }));

test('over a Redis Cluster: presence, events and counts across two nodes', () =>
  twoNodesOn(RedisClusterSet.start(), 'rediscluster', async (n1, n2) => {
    const reader = await subscribed(n2.client(), 'public-rc', 'reader@node2');
    const channels = ['presence-rc-a', 'presence-rc-b', 'presence-rc-c'];
    // Several channels, so that their keys land on different masters.
    for (const channel of channels) {
      const alice = await subscribed(n1.client('alice'), channel, `alice@node1 ${channel}`);
      const bob = await subscribed(n2.client('bob'), channel, `bob@node2 ${channel}`);
      await alice.next('pusher:member_added', (m: { id: string }) => m.id === 'bob');
      assert.deepEqual(presenceIds(bob), ['alice', 'bob']);
      const users = await n1.get<{ users: { id: string }[] }>(`/channels/${channel}/users`);
      assert.deepEqual(users.users.map((u) => u.id).sort(), ['alice', 'bob']);
    }
    await n1.sdk.trigger('public-rc', 'across', { n: 1 });
    assert.deepEqual((await reader.next('across')) as unknown, { n: 1 });
    const info = await n1.get<{ channels: Record<string, unknown> }>('/channels', {
      filter_by_prefix: 'presence-rc',
    });
    assert.deepEqual(Object.keys(info.channels).sort(), channels);
  }));
