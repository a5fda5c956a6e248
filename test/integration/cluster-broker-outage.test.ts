import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PrivateBroker, uniquePrefix } from '../helpers/brokers.js';
import { clusterSuites, startCluster } from '../helpers/cluster.js';
import { type Node, stopAll } from '../helpers/cluster-node.js';
import { barrier, presenceIds, subscribed, Watch } from '../helpers/cluster-watch.js';

/**
 * The broker going away: a node still stops cleanly on SIGTERM, and a broker restart mid-session
 * leaves local service running and the cluster whole again afterwards (docs/clustering.md).
 */

await clusterSuites((driver) => {
  test('a node stops on SIGTERM, exit code 0, while its broker is down', async () => {
    const broker = await PrivateBroker.create(driver);
    const timings = { heartbeatMs: 200, nodeTimeoutMs: 1_500, requestTimeoutMs: 1_000 };
    let nodes: Node[] = [];
    try {
      await broker.start();
      const prefix = uniquePrefix(`cluster-stop-${driver}`);
      nodes = await startCluster({ driver, url: broker.url, prefix, timings, count: 1 });
      const [node] = nodes as [Node];
      const reader = await subscribed(node.client(), 'public-alone', 'reader');
      const mark = node.logs.length;
      await broker.kill();
      await node.log((r) => /redis reconnecting|nats disconnected/.test(r.msg), 'to lose the broker', mark);
      const closed = new Promise<number>((resolve) =>
        reader.client.connection.bind('state_change', () => {
          if (reader.client.connection.state !== 'connected') resolve(Date.now());
        }),
      );
      const stopping = Date.now();
      await node.stop();
      assert.deepEqual(await node.exited, { code: 0, signal: null });
      // Clean-up it cannot write costs at most shutdownTimeoutMs (default 5 s) and the goodbye it
      // cannot send at most the request timeout: bounded, not the whole outage.
      const took = Date.now() - stopping;
      assert.ok(took < 5_000 + timings.requestTimeoutMs + 2_000, `stopped after ${took} ms`);
      assert.ok((await closed) >= stopping, 'its client was let go first');
    } finally {
      try {
        await stopAll(nodes);
      } finally {
        await broker.destroy();
      }
    }
  });

  test('a broker restart mid-session: local service goes on, then the cluster heals', async () => {
    const broker = await PrivateBroker.create(driver);
    const prefix = uniquePrefix(`cluster-restart-${driver}`);
    // The outage below outlasts the node timeout: no node may take the others for dead.
    const timings = { heartbeatMs: 200, nodeTimeoutMs: 1_500, requestTimeoutMs: 1_000 };
    let nodes: Node[] = [];
    try {
      await broker.start();
      nodes = await startCluster({ driver, url: broker.url, prefix, timings });
      const [n1, n2, n3] = nodes as [Node, Node, Node];
      const channel = 'public-restart';
      const readers = await Promise.all(
        nodes.map((n) => subscribed(n.client(), channel, `reader@${n.name}`)),
      );
      const [r1, r2, r3] = readers as [Watch, Watch, Watch];
      const alice = await subscribed(n1.client('alice'), 'presence-restart', 'alice@node1');
      const bob = await subscribed(n2.client('bob'), 'presence-restart', 'bob@node2');
      await alice.next('pusher:member_added', (m: { id: string }) => m.id === 'bob');
      await n1.sdk.trigger(channel, 'before', {});
      for (const r of readers) await r.next('before');

      const marks = nodes.map((n) => n.logs.length);
      await broker.kill();
      // Every node notices it is cut off, and stays so for longer than the node timeout.
      await Promise.all(
        nodes.map((n, i) => n.log((r) => r.msg === 'cut off from the broker', 'to be cut off', marks[i])),
      );

      // Meanwhile each node still serves its own clients: a trigger reaches node2's reader...
      const during = n2.sdk.trigger(channel, 'during', { n: 1 });
      await r2.next('during');
      // ...and a newcomer on node3 subscribes to a channel new to the cluster.
      const late = await subscribed(n3.client(), 'public-late', 'late@node3');
      // A presence subscription needs the shared store. NATS requests time out during the outage and
      // the client is told, with nothing left half-joined (Redis queues the commands until it is back).
      if (driver === 'nats') {
        const daveClient = n3.client('dave');
        const dave = new Watch('dave@node3', daveClient, daveClient.subscribe('presence-outage'));
        const refusal = await dave.next<{ type: string; status: number }>('pusher:subscription_error');
        assert.deepEqual([refusal.type, refusal.status], ['ServerError', 503]);
        assert.deepEqual(dave.all('pusher:subscription_succeeded'), []);
      }

      const reconnected = nodes.map((n) => n.logs.length);
      await broker.start();
      const back = await Promise.all(
        nodes.map(async (n, i) => {
          const record = await n.log((r) => r.msg === 'back on the broker', 'to be back', reconnected[i]);
          // The NATS stores have connections of their own: each that dropped must be back too.
          const dropped = new Set(
            n.logs.slice(marks[i]).flatMap((r) => (r.msg === 'nats disconnected' ? [r.client] : [])),
          );
          for (const client of dropped) {
            await n.log(
              (r) => r.msg === 'nats reconnected' && r.client === client,
              `${client} back`,
              marks[i],
            );
          }
          return record;
        }),
      );
      // node2 published 'during' for the others while cut off, and says so.
      assert.ok((back[1]!.publishedWhileCutOff as number) >= 1, JSON.stringify(back[1]));
      assert.equal((await during).status, 200);

      await n1.sdk.trigger(channel, 'after', { n: 2 });
      for (const r of [r1, r2, r3]) assert.deepEqual(await r.next('after'), { n: 2 });
      await n1.sdk.trigger('public-late', 'after', { n: 3 });
      assert.deepEqual(await late.next('after'), { n: 3 });
      // Nobody was taken for gone: presence is intact and keeps working.
      for (const n of nodes) {
        const { users } = await n.get<{ users: { id: string }[] }>('/channels/presence-restart/users');
        assert.deepEqual(users.map((u) => u.id).sort(), ['alice', 'bob'], n.name);
        const outage = await n.get<{ users: { id: string }[] }>('/channels/presence-outage/users');
        assert.deepEqual(outage.users, [], `${n.name}: a refused member is not a member`);
      }
      const carol = await subscribed(n3.client('carol'), 'presence-restart', 'carol@node3');
      assert.deepEqual(presenceIds(carol), ['alice', 'bob', 'carol']);
      for (const w of [alice, bob])
        await w.next('pusher:member_added', (m: { id: string }) => m.id === 'carol');
      await barrier(nodes, 'presence-restart', [alice, bob, carol]);
      for (const w of [alice, bob, carol]) assert.deepEqual(w.members('pusher:member_removed'), [], w.name);
      for (const n of nodes) {
        assert.deepEqual(
          n.logs.filter((r) => r.msg.startsWith('node down')),
          [],
          `${n.name} took a live node for dead`,
        );
      }
    } finally {
      try {
        await stopAll(nodes);
      } finally {
        await broker.destroy();
      }
    }
  });
});
