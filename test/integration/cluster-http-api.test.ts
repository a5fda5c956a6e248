import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { clusterSuites, onRunningCluster } from '../helpers/cluster.js';
import { GUARD_MS, type Node } from '../helpers/cluster-node.js';
import { subscribed } from '../helpers/cluster-watch.js';
import { APP } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';

/**
 * The HTTP API on a cluster: terminate_connections reaches a user on every node, and counts and lists
 * are cluster-wide whichever node answers (docs/clustering.md).
 */

await clusterSuites((driver, sharedUrl) => {
  onRunningCluster(driver, sharedUrl, (nodes) => {
    test('terminate_connections on one node closes the user on every node (4009)', async () => {
      const raws: RawClient[] = [];
      const signedIn = async (node: Node, id: string) => {
        const { client, socketId } = await RawClient.connect(
          `ws://127.0.0.1:${node.port}/app/${APP.key}?protocol=7&client=js&version=8.6.0&flash=false`,
        );
        raws.push(client);
        client.send({ event: 'pusher:signin', data: node.sdk.authenticateUser(socketId, { id }) });
        await within(client.next('pusher:signin_success'), GUARD_MS, `${id} signed in on ${node.name}`);
        return client;
      };
      try {
        const [n1, n2, n3] = nodes as [Node, Node, Node];
        const targets = [await signedIn(n1, 'leaver'), await signedIn(n3, 'leaver')];
        const bystander = await signedIn(n1, 'stayer');
        const response = await n2.sdk.terminateUserConnections('leaver');
        assert.equal(response.status, 200);
        for (const client of targets) {
          const error = await within(client.next('pusher:error'), GUARD_MS, 'pusher:error');
          assert.equal((error.data as { code: number }).code, 4009);
          assert.equal((await within(client.closed, GUARD_MS, 'the close')).code, 4009);
        }
        bystander.send({ event: 'pusher:ping', data: {} });
        await within(bystander.next('pusher:pong'), GUARD_MS, 'the bystander still served');
      } finally {
        for (const client of raws) client.close();
      }
    });

    test('the HTTP API on any node answers with cluster-wide counts and lists', async () => {
      const [n1, n2, n3] = nodes as [Node, Node, Node];
      const pub = `public-count-${randomUUID()}`;
      const pres = `presence-count-${randomUUID()}`;
      await subscribed(n1.client(), pub, 'p1');
      await subscribed(n1.client(), pub, 'p2');
      await subscribed(n2.client(), pub, 'p3');
      await subscribed(n1.client('u1'), pres, 'u1@node1');
      await subscribed(n2.client('u2'), pres, 'u2@node2');
      await subscribed(n3.client('u1'), pres, 'u1@node3');

      for (const n of nodes) {
        const channel = await n.get<Record<string, unknown>>(`/channels/${pub}`, {
          info: 'subscription_count',
        });
        assert.deepEqual(channel, { occupied: true, subscription_count: 3 }, n.name);
        const presence = await n.get<Record<string, unknown>>(`/channels/${pres}`, {
          info: 'user_count,subscription_count',
        });
        assert.deepEqual(presence, { occupied: true, user_count: 2, subscription_count: 3 }, n.name);
        const { users } = await n.get<{ users: { id: string }[] }>(`/channels/${pres}/users`);
        assert.deepEqual(users.map((u) => u.id).sort(), ['u1', 'u2'], n.name);
        const list = await n.get<{ channels: Record<string, Record<string, number>> }>('/channels', {
          filter_by_prefix: 'presence-count-',
          info: 'user_count',
        });
        assert.deepEqual(list.channels, { [pres]: { user_count: 2 } }, n.name);
        const all = await n.get<{ channels: Record<string, unknown> }>('/channels');
        assert.ok(pub in all.channels && pres in all.channels, `${n.name} lists channels of other nodes`);
      }
    });
  });
});
