import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AutobahnSession, closeAutobahn } from '../helpers/autobahn.js';
import { clusterSuites, onRunningCluster, openWamp } from '../helpers/cluster.js';
import { GUARD_MS, type Node } from '../helpers/cluster-node.js';
import { within } from '../helpers/raw-client.js';
import { RawWampClient } from '../helpers/wamp-client.js';

/**
 * WAMP publish and subscribe on a cluster: publications and retained events cross nodes (WAMP spec,
 * Basic Profile, Publish & Subscribe), and a payload too deep to forward is refused where it arrives.
 */

await clusterSuites((driver, sharedUrl) => {
  onRunningCluster(driver, sharedUrl, (nodes) => {
    test('WAMP: a publication on one node reaches the realm’s subscribers on the others, retained ones too', async () => {
      const [n1, n2, n3] = nodes as [Node, Node, Node];
      const opened = [await openWamp(n1), await openWamp(n2)];
      try {
        const [subscriber, publisher] = opened.map((o) => o.session) as [AutobahnSession, AutobahnSession];
        const exact: unknown[] = [];
        const prefixed: unknown[] = [];
        let heard: () => void = () => {};
        const both = new Promise<void>((resolve) => (heard = resolve));
        const check = () => exact.length === 1 && prefixed.length === 1 && heard();
        await subscriber.subscribe('com.cluster.news', (args) => {
          exact.push(args);
          check();
        });
        await subscriber.subscribe(
          'com.cluster',
          (args, _kwargs, details) => {
            prefixed.push([args, details.topic]);
            check();
          },
          { match: 'prefix' },
        );
        await publisher.publish('com.cluster.news', ['from node2', { bytes: 3 }], {}, { acknowledge: true });
        await within(both, GUARD_MS, 'the events on node1');
        assert.deepEqual(exact, [['from node2', { bytes: 3 }]]);
        assert.deepEqual(prefixed, [[['from node2', { bytes: 3 }], 'com.cluster.news']]);

        // Retained on node2, asked for on node3.
        await publisher.publish('com.cluster.kept', ['kept'], {}, { acknowledge: true, retain: true });
        const late = await openWamp(n3);
        opened.push(late);
        const retained = await within(
          new Promise<unknown>((resolve) => {
            void late.session.subscribe('com.cluster.kept', (args) => resolve(args), {
              get_retained: true,
            });
          }),
          GUARD_MS,
          'the retained event on node3',
        );
        assert.deepEqual(retained, ['kept']);
      } finally {
        for (const o of opened) await closeAutobahn(o.connection);
      }
    });

    test('WAMP: a payload nested past 100 levels is refused where it arrives; MessagePack subscribers on every node live on', async () => {
      const [n1, n2, n3] = nodes as [Node, Node, Node];
      const url = (n: Node) => `ws://127.0.0.1:${n.port}/ws`;
      const topic = 'com.deep.cluster';
      const clients: RawWampClient[] = [];
      try {
        const subscribers = [
          await RawWampClient.join(url(n2), { serialization: 'msgpack' }),
          await RawWampClient.join(url(n3), { serialization: 'msgpack' }),
        ];
        clients.push(...subscribers);
        const subscriptions: number[] = [];
        for (const s of subscribers) subscriptions.push(await s.subscribe(topic));
        const publisher = await RawWampClient.join(url(n1));
        clients.push(publisher);
        const deep = `${'['.repeat(101)}1${']'.repeat(101)}`; // args 102 deep: past MessagePack's 100
        publisher.send(`[16,${publisher.id()},{},"${topic}",${deep}]`);
        const request = publisher.id();
        publisher.send(`[16,${request},{"acknowledge":true},"${topic}",${deep}]`);
        const refused = await within(publisher.reply(request, [17, 8]), GUARD_MS, 'the refusal');
        assert.deepEqual([refused[0], refused[4]], [8, 'wamp.error.invalid_argument']);
        publisher.send([16, publisher.id(), {}, topic, ['after']]);
        for (const [i, s] of subscribers.entries()) {
          const event = await within(
            s.next((m) => m[0] === 36 && m[1] === subscriptions[i]),
            GUARD_MS,
            `the EVENT on node${i + 2}`,
          );
          assert.deepEqual(event[4], ['after'], 'the deep publications never arrived');
        }
        for (const n of nodes) assert.equal(n.child.exitCode, null, `${n.name} is running`);
      } finally {
        for (const client of clients) client.close();
      }
    });
  });
});
