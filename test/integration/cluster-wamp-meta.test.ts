import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closeAutobahn } from '../helpers/autobahn.js';
import { clusterSuites, onRunningCluster, openWamp, wampError } from '../helpers/cluster.js';
import { GUARD_MS, type Node } from '../helpers/cluster-node.js';
import { within } from '../helpers/raw-client.js';
import { RawWampClient } from '../helpers/wamp-client.js';

/**
 * The WAMP meta API on a cluster (WAMP spec, Advanced Profile, Session Meta API, Subscription and
 * Registration Meta API): sessions, subscriptions and registrations of every node, kills that cross
 * nodes, and meta events from all of them.
 */

await clusterSuites((driver, sharedUrl) => {
  onRunningCluster(driver, sharedUrl, (nodes) => {
    test('WAMP: wamp.session.count, .list and .get answer for the whole cluster', async () => {
      const opened = await Promise.all((nodes as Node[]).map(openWamp));
      try {
        const ids = opened.map((o) => o.session.id).sort();
        const [first] = opened as [(typeof opened)[0]];
        assert.equal(await first.session.call('wamp.session.count'), 3);
        assert.deepEqual(((await first.session.call('wamp.session.list')) as number[]).sort(), ids);
        assert.equal(await first.session.call('wamp.session.count', [['nobody']]), 0);
        const onNode3 = (await first.session.call('wamp.session.get', [opened[2]!.session.id])) as {
          session: number;
          authrole: string;
        };
        assert.deepEqual([onNode3.session, onNode3.authrole], [opened[2]!.session.id, 'anonymous']);
        await assert.rejects(
          first.session.call('wamp.session.get', [1]),
          wampError('wamp.error.no_such_session'),
        );
      } finally {
        for (const o of opened) await closeAutobahn(o.connection);
      }
    });

    test('WAMP: the subscription, registration and kill meta procedures and the meta events span the cluster', async () => {
      const [n1, n2, n3] = nodes as [Node, Node, Node];
      const url = (n: Node) => `ws://127.0.0.1:${n.port}/ws`;
      const clients: RawWampClient[] = [];
      const join = async (n: Node) => {
        const client = await RawWampClient.join(url(n));
        clients.push(client);
        return client;
      };
      const meta = async (
        client: RawWampClient,
        procedure: string,
        args: unknown[] = [],
        kwargs?: object,
      ) => {
        const request = client.id();
        client.send(kwargs ? [48, request, {}, procedure, args, kwargs] : [48, request, {}, procedure, args]);
        const reply = await within(client.reply(request, [50, 8]), GUARD_MS, procedure);
        if (reply[0] === 8) throw new Error(reply[4] as string);
        return (reply[3] as unknown[] | undefined)?.[0];
      };
      try {
        const watcher = await join(n1);
        const joins = await watcher.subscribe('wamp.session.on_join');
        const leaves = await watcher.subscribe('wamp.session.on_leave');
        const registers = await watcher.subscribe('wamp.registration.on_register');
        const created = await watcher.subscribe('wamp.subscription.on_create');
        const event = (subscription: number, test: (args: unknown[]) => boolean, what: string) =>
          within(
            watcher.next((m) => m[0] === 36 && m[1] === subscription && test(m[4] as unknown[])),
            GUARD_MS,
            what,
          );

        const onNode2 = await join(n2);
        const joined = await event(
          joins,
          (a) => (a[0] as { session: number }).session === onNode2.sessionId,
          'on_join',
        );
        assert.equal((joined[4] as [{ authrole: string }])[0].authrole, 'anonymous');
        const registration = await onNode2.register('com.meta.proc');
        await event(registers, (a) => a[0] === onNode2.sessionId && a[1] === registration, 'on_register');
        const subscription = await onNode2.subscribe('com.meta.topic');
        const creation = await event(created, (a) => a[0] === onNode2.sessionId, 'on_create');
        assert.deepEqual((creation[4] as [number, { id: number; uri: string }])[1].uri, 'com.meta.topic');
        const onNode3 = await join(n3);
        assert.equal(await onNode3.subscribe('com.meta.topic'), subscription, 'one ID on every node');

        assert.equal(await meta(watcher, 'wamp.subscription.lookup', ['com.meta.topic']), subscription);
        assert.deepEqual(await meta(watcher, 'wamp.subscription.match', ['com.meta.topic']), [subscription]);
        const listed = (await meta(watcher, 'wamp.subscription.list')) as Record<string, number[]>;
        assert.ok(listed.exact!.includes(subscription), 'listed among the exact subscriptions');
        assert.equal(
          ((await meta(watcher, 'wamp.subscription.get', [subscription])) as { uri: string }).uri,
          'com.meta.topic',
        );
        assert.equal(await meta(watcher, 'wamp.subscription.count_subscribers', [subscription]), 2);
        assert.deepEqual(
          ((await meta(watcher, 'wamp.subscription.list_subscribers', [subscription])) as number[]).sort(),
          [onNode2.sessionId, onNode3.sessionId].sort(),
        );
        assert.equal(await meta(watcher, 'wamp.registration.lookup', ['com.meta.proc']), registration);
        assert.equal(await meta(watcher, 'wamp.registration.match', ['com.meta.proc']), registration);
        assert.deepEqual(await meta(watcher, 'wamp.registration.list_callees', [registration]), [
          onNode2.sessionId,
        ]);
        assert.equal(await meta(watcher, 'wamp.registration.count_callees', [registration]), 1);
        assert.equal(
          ((await meta(watcher, 'wamp.registration.get', [registration])) as { uri: string }).uri,
          'com.meta.proc',
        );
        await assert.rejects(
          meta(watcher, 'wamp.subscription.get', [1]),
          /wamp\.error\.no_such_subscription/,
        );
        await assert.rejects(
          meta(watcher, 'wamp.registration.count_callees', [1]),
          /wamp\.error\.no_such_registration/,
        );

        // Kills reach the sessions on other nodes, and their on_leave comes back.
        await meta(watcher, 'wamp.session.kill', [onNode3.sessionId], { message: 'from node1' });
        const goodbye = await within(onNode3.next(6), GUARD_MS, 'the GOODBYE on node3');
        assert.deepEqual([goodbye[1], goodbye[2]], [{ message: 'from node1' }, 'wamp.close.killed']);
        await event(leaves, (a) => a[0] === onNode3.sessionId, 'on_leave of the session on node3');
        await assert.rejects(meta(watcher, 'wamp.session.kill', [onNode3.sessionId]), /no_such_session/);
        const details = (await meta(watcher, 'wamp.session.get', [onNode2.sessionId])) as {
          authid: string;
        };
        assert.deepEqual(await meta(watcher, 'wamp.session.kill_by_authid', [details.authid]), [
          onNode2.sessionId,
        ]);
        await within(onNode2.next(6), GUARD_MS, 'the GOODBYE on node2');
        assert.equal(
          await meta(watcher, 'wamp.subscription.lookup', ['com.meta.topic']),
          null,
          'gone with its subscribers',
        );
      } finally {
        for (const client of clients) client.close();
      }
    });
  });
});
