import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterSuites, onRunningCluster, withOwnCluster } from '../helpers/cluster.js';
import { GUARD_MS, type Node } from '../helpers/cluster-node.js';
import { barrier, subscribed, type Watch } from '../helpers/cluster-watch.js';
import { APP } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';

/**
 * Publishing on a cluster: an HTTP trigger or a client event on one node reaches the channel's
 * subscribers on every node once, and cache channels' last events and subscription counts are the
 * cluster's (docs/clustering.md).
 */

await clusterSuites((driver, sharedUrl) => {
  onRunningCluster(driver, sharedUrl, (nodes) => {
    test('an HTTP trigger on any node reaches the subscribers on every node once', async () => {
      const channel = 'public-news';
      const watches: Watch[] = [];
      for (const n of nodes) watches.push(await subscribed(n.client(), channel, `reader@${n.name}`));
      const second = await subscribed(nodes[1]!.client(), channel, `reader2@${nodes[1]!.name}`);
      watches.push(second);
      const secondSocket = second.client.connection.socket_id;

      for (const n of nodes) await n.sdk.trigger(channel, 'news', { from: n.name });
      // Excluding a socket works from any node: node1 names a socket that lives on node2.
      await nodes[0]!.sdk.trigger(channel, 'news', { from: 'except' }, { socket_id: secondSocket });
      await barrier(nodes, channel, watches);
      for (const w of watches) {
        const from = w.all<{ from: string }>('news').map((d) => d.from);
        const expected = ['node1', 'node2', 'node3', ...(w === second ? [] : ['except'])];
        assert.deepEqual(from.sort(), expected.sort(), w.name);
      }
    });

    test('a client event on one node reaches the channel on the others, not its sender', async () => {
      const channel = 'private-chat';
      const [sender, ...others] = await Promise.all(
        nodes.map((n) => subscribed(n.client(), channel, `chatter@${n.name}`)),
      );
      sender!.channel.trigger('client-hello', { text: 'hi' });
      for (const w of others) assert.deepEqual(await w.next('client-hello'), { text: 'hi' });
      await barrier(nodes, channel, [sender!, ...others]);
      assert.deepEqual(sender!.all('client-hello'), []);
      for (const w of others) assert.equal(w.all('client-hello').length, 1, w.name);
    });
  });

  test("cache channels' last events and subscription counts are the cluster's", () =>
    withOwnCluster(
      driver,
      sharedUrl,
      'cache',
      {
        timings: { heartbeatMs: 200, nodeTimeoutMs: 3_000, requestTimeoutMs: 1_000 },
        count: 2,
        appFields: { subscriptionCount: true },
      },
      async (nodes, raws) => {
        const connect = async (node: Node) => {
          const { client } = await RawClient.connect(`ws://127.0.0.1:${node.port}/app/${APP.key}`);
          raws.push(client);
          return client;
        };
        const [n1, n2] = nodes as [Node, Node];
        // Published through node1 before anyone listens; a subscriber on node2 gets it replayed.
        await n1.sdk.trigger('cache-news', 'headline', { v: 1 });
        const late = await connect(n2);
        const joined = await within(late.subscribe('cache-news'), GUARD_MS, 'the cache channel');
        assert.equal(joined.event, 'pusher_internal:subscription_succeeded');
        const replay = await within(
          late.next((f) => f.channel === 'cache-news' && !f.event.startsWith('pusher_internal:')),
          GUARD_MS,
          'the replay',
        );
        assert.equal(replay.event, 'headline', JSON.stringify(replay));
        assert.deepEqual(JSON.parse(replay.data as string), { v: 1 });

        // One subscriber on each node: each hears the count of both.
        const counted = [await connect(n1), await connect(n2)];
        for (const c of counted) await within(c.subscribe('public-counted'), GUARD_MS, 'public-counted');
        for (const c of counted) {
          await within(
            (async () => {
              for (;;) {
                const f = await c.next('pusher_internal:subscription_count');
                if ((JSON.parse(f.data as string) as { subscription_count: number }).subscription_count === 2)
                  return;
              }
            })(),
            GUARD_MS,
            'a count of 2',
          );
        }
      },
    ));
});
