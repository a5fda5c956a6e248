import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterSuites, onRunningCluster, withOwnCluster } from '../helpers/cluster.js';
import { GUARD_MS, type Node } from '../helpers/cluster-node.js';
import { APP } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';

/**
 * Users on a cluster: watchlists hear of sign-ins and sign-outs on other nodes, events to a signed-in
 * user reach every node, and an app's connection quota and HTTP rate hold across nodes
 * (docs/clustering.md).
 */

await clusterSuites((driver, sharedUrl) => {
  onRunningCluster(driver, sharedUrl, (nodes) => {
    test('watchlists: a watcher hears of a user signing in and out on other nodes, once', async () => {
      const raws: RawClient[] = [];
      const WATCHLIST = 'pusher_internal:watchlist_events';
      const signedIn = async (node: Node, id: string, watchlist?: string[]) => {
        const { client, socketId } = await RawClient.connect(`ws://127.0.0.1:${node.port}/app/${APP.key}`);
        raws.push(client);
        const user = watchlist ? { id, watchlist } : { id };
        client.send({ event: 'pusher:signin', data: node.sdk.authenticateUser(socketId, user) });
        await within(client.next('pusher:signin_success'), GUARD_MS, `${id} signed in on ${node.name}`);
        return client;
      };
      const change = async (client: RawClient, what: string) =>
        (await within(client.next(WATCHLIST), GUARD_MS, what)).data;
      try {
        const [n1, n2, n3] = nodes as [Node, Node, Node];
        const watcher = await signedIn(n1, 'watcher', ['wendy']);
        assert.deepEqual(await change(watcher, 'the snapshot'), {
          events: [{ name: 'offline', user_ids: ['wendy'] }],
        });
        const onNode2 = await signedIn(n2, 'wendy');
        assert.deepEqual(await change(watcher, 'wendy online'), {
          events: [{ name: 'online', user_ids: ['wendy'] }],
        });
        // A second connection elsewhere, then the first one going away: she is online all along.
        const onNode3 = await signedIn(n3, 'wendy');
        onNode2.close();
        await within(onNode2.closed, GUARD_MS, 'the node2 connection to close');
        // A newcomer's snapshot, taken on node3, says she is online.
        const second = await signedIn(n3, 'watcher2', ['wendy']);
        assert.deepEqual(await change(second, 'the second snapshot'), {
          events: [{ name: 'online', user_ids: ['wendy'] }],
        });
        onNode3.close();
        assert.deepEqual(await change(watcher, 'wendy offline'), {
          events: [{ name: 'offline', user_ids: ['wendy'] }],
        });
        assert.deepEqual(await change(second, 'wendy offline, seen on node3'), {
          events: [{ name: 'offline', user_ids: ['wendy'] }],
        });
        watcher.send({ event: 'pusher:ping', data: {} });
        await within(watcher.next('pusher:pong'), GUARD_MS, 'pong');
        assert.deepEqual(
          watcher.frames.filter((f) => f.event === WATCHLIST),
          [],
          'no other watchlist event',
        );
      } finally {
        for (const client of raws) client.close();
      }
    });
  });

  test("an app's connection quota and events to a signed-in user hold across nodes", () =>
    withOwnCluster(
      driver,
      sharedUrl,
      'quota',
      {
        timings: { heartbeatMs: 200, nodeTimeoutMs: 3_000, requestTimeoutMs: 1_000 },
        appFields: { maxConnections: 3, maxHttpRequestsPerSecond: 3 },
      },
      async (nodes, raws) => {
        const [n1, n2, n3] = nodes as [Node, Node, Node];
        const open = async (node: Node) => {
          const client = await RawClient.open(`ws://127.0.0.1:${node.port}/app/${APP.key}`);
          raws.push(client);
          return client;
        };
        const connected = async (node: Node) => {
          const client = await open(node);
          const established = await within(client.next(), GUARD_MS, `a connection on ${node.name}`);
          assert.equal(established.event, 'pusher:connection_established', JSON.stringify(established));
          const { socket_id } = JSON.parse(established.data as string) as { socket_id: string };
          return { client, socketId: socket_id };
        };
        const zoe = await connected(n1);
        zoe.client.send({
          event: 'pusher:signin',
          data: n1.sdk.authenticateUser(zoe.socketId, { id: 'zoe' }),
        });
        await within(zoe.client.next('pusher:signin_success'), GUARD_MS, 'zoe signed in');
        // What pusher-js does after signing in.
        const own = await within(zoe.client.subscribe('#server-to-user-zoe'), GUARD_MS, 'her own channel');
        assert.equal(own.event, 'pusher_internal:subscription_succeeded');
        const second = await connected(n2);
        await connected(n3);

        // The fourth connection of the app, on any node, is over the quota.
        const fourth = await open(n1);
        const refused = await within(fourth.next('pusher:error'), GUARD_MS, 'the refusal');
        assert.equal((refused.data as { code: number }).code, 4004);
        assert.equal((await within(fourth.closed, GUARD_MS, 'the close')).code, 4004);

        // An event for zoe published on node2 reaches her connection on node1.
        await n2.sdk.sendToUser('zoe', 'hello', { from: 'node2' });
        const hello = await within(zoe.client.next('hello'), GUARD_MS, 'the event to zoe');
        assert.equal(hello.channel, '#server-to-user-zoe');
        assert.deepEqual(JSON.parse(hello.data as string), { from: 'node2' });

        // The app's HTTP rate is shared out: 3 per second over three nodes is one per node.
        await n1.sdk.trigger('public-rate', 'first', {});
        await assert.rejects(
          n1.sdk.trigger('public-rate', 'second', {}),
          (err: { status?: number; body?: string }) => {
            assert.equal(err.status, 429);
            assert.match(String(err.body), /allows 3 per second across 3 nodes/);
            return true;
          },
        );
        await n3.sdk.trigger('public-rate', 'elsewhere', {});

        // One leaves on node2: there is room again, on node3.
        second.client.close();
        await second.client.closed;
        await within(
          (async () => {
            for (;;) {
              const { client } = await connected(n3).catch(() => ({ client: undefined }));
              if (client) return;
            }
          })(),
          GUARD_MS,
          'room for another connection',
        );
      },
    ));
});
