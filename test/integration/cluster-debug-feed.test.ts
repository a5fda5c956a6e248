import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DebugEvent } from '../../src/core/debug-feed.js';
import { brokerSkip, deleteRedisPrefix, REDIS_URL, uniquePrefix } from '../helpers/brokers.js';
import { collect, is } from '../helpers/debug-watch.js';
import { APP, connected, nextEvent, startHerald, type TestHerald } from '../helpers/herald.js';
import { until } from '../helpers/wait.js';
import { RawWampClient } from '../helpers/wamp-client.js';

/**
 * The debug feed across a two-node cluster over Redis: a watcher on node A gets what happens on node B,
 * with B's node id, and B forwards nothing before A watches or after A's watcher leaves.
 */

const NS = `pusher:${APP.id}`;

describe('the debug feed of a two-node cluster over redis', { skip: await brokerSkip('redis') }, () => {
  test("node B's events reach a watcher on node A, and stop once it leaves", async () => {
    const prefix = uniquePrefix('debug-feed');
    const config = {
      adapter: { driver: 'redis' as const, url: REDIS_URL, prefix, heartbeatMs: 100 },
      wamp: { realms: [{ name: 'realm1' }] },
    };
    const nodes: TestHerald[] = [];
    const clients: RawWampClient[] = [];
    try {
      const a = await startHerald(config);
      nodes.push(a);
      const b = await startHerald(config);
      nodes.push(b);
      const bFeed = b.herald.debugFeed;
      assert.equal(bFeed.watched(NS), false, 'B forwards nothing while nobody watches');

      const seen = collect(a.herald.debugFeed, NS);
      const realm = collect(a.herald.debugFeed, 'wamp:realm1');
      await until(() => bFeed.watched(NS) && bFeed.watched('wamp:realm1'), 'B told of the watchers');

      const client = b.client();
      const socketId = await connected(client);
      await nextEvent(client.subscribe('room'), 'pusher:subscription_succeeded');
      const subscribed = (await seen.find(
        is('subscribed', { socketId }),
        'the subscribe on B',
      )) as DebugEvent;
      assert.equal(subscribed.node, bFeed.node);
      assert.notEqual(subscribed.node, a.herald.debugFeed.node);
      assert.equal(subscribed.channel, 'room');
      const opened = (await seen.find(is('connection_opened', { socketId }), 'the connection')) as DebugEvent;
      assert.equal(opened.node, bFeed.node);

      const session = await RawWampClient.join(`ws://127.0.0.1:${b.port}/ws`);
      clients.push(session);
      const joined = (await realm.find(
        is('session_joined', { session: session.sessionId }),
        'the WAMP session on B',
      )) as DebugEvent;
      assert.equal(joined.node, bFeed.node);

      // Events of A itself come once: from A's own feed, not echoed back over the bus.
      const local = a.client();
      const localId = await connected(local);
      await seen.find(is('connection_opened', { socketId: localId }), 'the connection on A');
      await nextEvent(client.subscribe('room-2'), 'pusher:subscription_succeeded');
      await seen.find(is('subscribed', { channel: 'room-2' }), 'a later event from B');
      assert.equal(seen.items.filter(is('connection_opened', { socketId: localId })).length, 1);

      seen.watcher.close();
      realm.watcher.close();
      await until(() => !bFeed.watched(NS) && !bFeed.watched('wamp:realm1'), 'B no longer forwarding');
      const after = collect(b.herald.debugFeed, NS);
      client.unsubscribe('room-2');
      await after.find(is('unsubscribed', { channel: 'room-2' }), 'the unsubscribe, on B itself');
      assert.equal(
        seen.items.some((e) => e.type === 'unsubscribed'),
        false,
        'the closed watcher got nothing more',
      );
      after.watcher.close();
    } finally {
      for (const c of clients) c.close();
      for (const node of nodes.reverse()) await node.stop();
      await deleteRedisPrefix(prefix);
    }
  });
});
