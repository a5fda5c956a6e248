import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closeAutobahn } from '../helpers/autobahn.js';
import {
  CLUSTER_EVENT_HISTORY,
  clusterSuites,
  onRunningCluster,
  openWamp,
  wampError,
} from '../helpers/cluster.js';
import type { Node } from '../helpers/cluster-node.js';

/**
 * Event history on a cluster (docs/wamp.md, "Event history"): the history lives in the broker, so what
 * is published on one node is read on any other, whether or not that node has a subscriber, and it is
 * the same bounded log everywhere.
 */

interface HistoryEvent {
  publication: number;
  topic: string;
  args?: unknown[];
  details: Record<string, unknown>;
}

const LIMIT = CLUSTER_EVENT_HISTORY[0]!.limit;

await clusterSuites((driver, sharedUrl) => {
  onRunningCluster(driver, sharedUrl, (nodes) => {
    test('WAMP: a publication on node 1 is in the history read on node 3, newest first and bounded', async () => {
      const [n1, n2, n3] = nodes as [Node, Node, Node];
      const a = await openWamp(n1);
      const b = await openWamp(n2);
      const c = await openWamp(n3);
      try {
        const published: number[] = [];
        for (let i = 1; i <= LIMIT + 2; i++) {
          const from = i % 2 === 0 ? b : a;
          const ack = await from.session.publish(`com.history.t${i}`, [i], {}, { acknowledge: true });
          published.push(ack!.id);
        }
        // Nobody subscribed anywhere while they were published: the history was kept regardless.
        const subscription = await c.session.subscribe('com.history.', () => {}, { match: 'prefix' });
        // An acknowledged publication is in the history already, on every node.
        const events = await c.session.call<HistoryEvent[]>('wamp.subscription.get_events', [
          subscription.id,
          100,
        ]);
        assert.deepEqual(
          events.map((e) => e.publication),
          published.slice(-LIMIT).reverse(),
        );
        assert.deepEqual(
          events.map((e) => [e.topic, e.details.topic, e.args]),
          Array.from({ length: LIMIT }, (_, k) => LIMIT + 2 - k).map((i) => [
            `com.history.t${i}`,
            `com.history.t${i}`,
            [i],
          ]),
        );
        // Node 2 reads the same log.
        const onNode2 = await b.session.subscribe('com.history.', () => {}, { match: 'prefix' });
        assert.equal(onNode2.id, subscription.id, 'one subscription ID on every node');
        const two = await b.session.call<HistoryEvent[]>('wamp.subscription.get_events', [onNode2.id, 2]);
        assert.deepEqual(
          two.map((e) => e.publication),
          published.slice(-2).reverse(),
        );
      } finally {
        for (const o of [a, b, c]) await closeAutobahn(o.connection);
      }
    });

    test('WAMP: get_events errors span the cluster: unknown, kept nowhere, bad arguments', async () => {
      const [n1, , n3] = nodes as [Node, Node, Node];
      const a = await openWamp(n1);
      const c = await openWamp(n3);
      try {
        const plain = await a.session.subscribe('com.history-less', () => {});
        await assert.rejects(
          c.session.call('wamp.subscription.get_events', [plain.id]),
          wampError('wamp.error.history_unavailable'),
          'a subscription on another node, kept by no rule',
        );
        await assert.rejects(
          c.session.call('wamp.subscription.get_events', [1]),
          wampError('wamp.error.no_such_subscription'),
        );
        await assert.rejects(
          c.session.call('wamp.subscription.get_events', ['x']),
          wampError('wamp.error.invalid_argument'),
        );
      } finally {
        for (const o of [a, c]) await closeAutobahn(o.connection);
      }
    });
  });
});
