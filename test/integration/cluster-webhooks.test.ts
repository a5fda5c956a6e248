import assert from 'node:assert/strict';
import { test } from 'node:test';
import { outboxEntries } from '../helpers/brokers.js';
import { clusterSuites, eventually, withWebhookCluster } from '../helpers/cluster.js';
import { GUARD_MS, type Node } from '../helpers/cluster-node.js';
import { presenceIds, subscribed } from '../helpers/cluster-watch.js';
import { APP } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';

/**
 * Webhooks on a cluster: occupancy and membership webhooks exactly once under churn, none for a hop
 * between nodes within the vacate delay, and what a dying node still owed sent by a survivor
 * (docs/webhooks.md).
 */

await clusterSuites((driver, sharedUrl) => {
  test('webhooks exactly once over 1,000 presence joins and leaves on random nodes', () =>
    withWebhookCluster(
      driver,
      sharedUrl,
      'churn',
      { timings: { heartbeatMs: 500, nodeTimeoutMs: 5_000, requestTimeoutMs: 2_000 } },
      async (nodes, webhooks) => {
        const clients: RawClient[] = [];
        try {
          const channel = 'presence-churn';
          const users = Array.from({ length: 50 }, (_, i) => `user${i}`);
          const cycles = 20;
          // Member removals per user, counted as the webhooks come (every request re-checks 50 waiters).
          const removed = new Map<string, number>();
          let counted = 0;
          const removals = (userId: string) => {
            for (const events = webhooks.events; counted < events.length; counted++) {
              const e = events[counted]!;
              if (e.name === 'member_removed')
                removed.set(e.user_id as string, (removed.get(e.user_id as string) ?? 0) + 1);
            }
            return removed.get(userId) ?? 0;
          };
          // Each user has a connection on every node and, one cycle after another, joins through a random
          // one and leaves again; the users run side by side, all on one channel.
          await Promise.all(
            users.map(async (userId) => {
              const sockets = await Promise.all(
                nodes.map(async (n) => {
                  const c = await RawClient.connect(`ws://127.0.0.1:${n.port}/app/${APP.key}?protocol=7`);
                  clients.push(c.client);
                  return { ...c, node: n };
                }),
              );
              for (let cycle = 1; cycle <= cycles; cycle++) {
                const { client, socketId, node } = sockets[Math.floor(Math.random() * sockets.length)]!;
                const auth = node.sdk.authorizeChannel(socketId, channel, { user_id: userId });
                const reply = await within(
                  client.subscribe(channel, { ...auth }),
                  GUARD_MS,
                  `${userId} join`,
                );
                assert.equal(reply.event, 'pusher_internal:subscription_succeeded', JSON.stringify(reply));
                client.send({ event: 'pusher:unsubscribe', data: { channel } });
                // The leave is done once its webhook arrived: the next join is a join again.
                await within(
                  webhooks.until(() => removals(userId) >= cycle),
                  GUARD_MS,
                  `${userId} leave ${cycle} webhook`,
                );
              }
            }),
          );
          const count = (name: string, userId?: string) =>
            webhooks.events.filter((e) => e.name === name && (userId === undefined || e.user_id === userId))
              .length;
          await within(
            webhooks.until(() => count('channel_vacated') === count('channel_occupied')),
            GUARD_MS,
            'every occupation vacated',
          );
          // A last round trip through every node: anything still on its way has arrived.
          const marker = 'presence-churn-marker';
          for (const n of nodes) {
            const { client, socketId } = await RawClient.connect(
              `ws://127.0.0.1:${n.port}/app/${APP.key}?protocol=7`,
            );
            clients.push(client);
            const auth = n.sdk.authorizeChannel(socketId, marker, { user_id: n.name });
            await within(client.subscribe(marker, { ...auth }), GUARD_MS, `${n.name} marker`);
            client.send({ event: 'pusher:unsubscribe', data: { channel: marker } });
            await within(
              webhooks.event(
                (e) => e.name === 'member_removed' && e.channel === marker && e.user_id === n.name,
              ),
              GUARD_MS,
              `${n.name} marker webhook`,
            );
          }
          for (const userId of users) {
            assert.equal(count('member_added', userId), cycles, `${userId} added`);
            assert.equal(count('member_removed', userId), cycles, `${userId} removed`);
            // A node reports a member's join before its leave, and the next join came after that leave.
            const order = webhooks.events.filter((e) => e.user_id === userId).map((e) => e.name);
            const alternating = Array.from({ length: cycles }, () => [
              'member_added',
              'member_removed',
            ]).flat();
            assert.deepEqual(order, alternating, `${userId}: each join reported before its leave`);
          }
          const churn = webhooks.events.filter((e) => e.channel === channel);
          const occupied = churn.filter((e) => e.name === 'channel_occupied').length;
          const vacated = churn.filter((e) => e.name === 'channel_vacated').length;
          assert.ok(occupied >= 1, 'the channel was occupied');
          assert.equal(vacated, occupied, 'every occupation ended in one vacate');
        } finally {
          for (const c of clients) c.close();
        }
      },
    ));

  test('leaving one node and coming back on another within the vacate delay makes no webhooks', () =>
    withWebhookCluster(
      driver,
      sharedUrl,
      'delay',
      {
        timings: { heartbeatMs: 500, nodeTimeoutMs: 5_000, requestTimeoutMs: 2_000 },
        vacateDelayMs: 1_000,
      },
      async (nodes, webhooks) => {
        const [n1, n2] = nodes as [Node, Node, Node];
        const channel = 'presence-hop';
        const first = n1.client('eve');
        const onFirst = await subscribed(first, channel, 'eve@node1');
        await webhooks.event((e) => e.name === 'member_added' && e.channel === channel);
        // Eve's page moves from node1 to node2: she leaves, and is back before the delay is over.
        first.unsubscribe(channel);
        const members = async () =>
          (await n1.get<{ users: unknown[] }>(`/channels/${channel}/users`)).users.length;
        await within(
          (async () => {
            while ((await members()) > 0); // each turn is a request to node1: gone once it handled the leave
          })(),
          GUARD_MS,
          'node1 to see eve leave',
        );
        const onSecond = await subscribed(n2.client('eve'), channel, 'eve@node2');
        assert.deepEqual(presenceIds(onSecond), ['eve']);
        assert.deepEqual(onFirst.members('pusher:member_removed'), []);
        // A removal node1 holds after eve's is released after hers: once it arrived, hers would have.
        const marker = await subscribed(n1.client('mallory'), 'presence-hop-marker', 'marker@node1');
        marker.client.unsubscribe('presence-hop-marker');
        await webhooks.event((e) => e.name === 'channel_vacated' && e.channel === 'presence-hop-marker');
        const hop = () => webhooks.events.filter((e) => e.channel === channel).map((e) => e.name);
        assert.deepEqual(hop(), ['channel_occupied', 'member_added']);

        // Leaving for good: one removal and one vacate, once the delay is over.
        onSecond.client.unsubscribe(channel);
        await webhooks.event((e) => e.name === 'channel_vacated' && e.channel === channel);
        assert.deepEqual(hop(), ['channel_occupied', 'member_added', 'member_removed', 'channel_vacated']);
      },
    ));

  test('a removal held by a node that dies is sent by a survivor, once, when it is due', () =>
    withWebhookCluster(
      driver,
      sharedUrl,
      'orphan',
      {
        timings: { heartbeatMs: 200, nodeTimeoutMs: 1_000, requestTimeoutMs: 1_000 },
        vacateDelayMs: 2_000,
      },
      async (nodes, webhooks, prefix) => {
        const [n1] = nodes as [Node, Node, Node];
        const channel = 'presence-orphan';
        const { client, socketId } = await RawClient.connect(`ws://127.0.0.1:${n1.port}/app/${APP.key}`);
        const auth = n1.sdk.authorizeChannel(socketId, channel, { user_id: 'eve' });
        const reply = await within(client.subscribe(channel, { ...auth }), GUARD_MS, 'eve joins');
        assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
        await within(
          webhooks.event((e) => e.name === 'member_added'),
          GUARD_MS,
          'member_added',
        );
        client.send({ event: 'pusher:unsubscribe', data: { channel } });
        // node1 holds eve's removal and the vacate back; once its outbox has them, it dies.
        await eventually(
          async () => (await outboxEntries(driver, prefix)).filter((e) => e.kind === 'held').length === 2,
          'the held removals in the outbox',
        );
        await n1.stop('SIGKILL');
        await within(
          webhooks.event((e) => e.name === 'channel_vacated'),
          GUARD_MS,
          'a survivor to send the vacate',
        );
        const names = webhooks.events.filter((e) => e.channel === channel).map((e) => e.name);
        assert.deepEqual(names, ['channel_occupied', 'member_added', 'member_removed', 'channel_vacated']);
      },
    ));

  test('requests a node could not deliver before it died are delivered by a survivor', () => {
    let answer = 500;
    return withWebhookCluster(
      driver,
      sharedUrl,
      'undelivered',
      {
        timings: { heartbeatMs: 200, nodeTimeoutMs: 1_000, requestTimeoutMs: 1_000 },
        respond: () => answer,
      },
      async (nodes, webhooks, prefix) => {
        const [n1] = nodes as [Node, Node, Node];
        await subscribed(n1.client('bob'), 'presence-undelivered', 'bob@node1');
        // The receiver is failing: node1 keeps channel_occupied to retry it, member_added queued behind
        // it (a channel's requests go one at a time), and dies.
        await within(
          webhooks.until(() => webhooks.requests.length > 0),
          GUARD_MS,
          'a first, failed attempt',
        );
        await eventually(
          async () => (await outboxEntries(driver, prefix)).filter((e) => e.kind === 'delivery').length === 2,
          'the undelivered requests in the outbox',
        );
        await n1.stop('SIGKILL');
        answer = 200;
        // A survivor delivers them; bob's going (with node1) is reported too.
        await within(
          webhooks.until(() => webhooks.events.length === 4),
          GUARD_MS,
          'four webhooks, two of them taken over',
        );
        const names = webhooks.events.map((e) => e.name).sort();
        assert.deepEqual(names, ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed']);
        assert.ok(
          webhooks.requests.slice(0, -4).every((r) => r.answer === 500),
          'failed attempts',
        );
      },
    );
  });
});
