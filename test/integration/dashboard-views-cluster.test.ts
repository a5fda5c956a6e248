import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as pause } from 'node:timers/promises';
import { hashPassword } from '../../src/dashboard/auth.js';
import { brokerSkip, deleteRedisPrefix, REDIS_URL, uniquePrefix } from '../helpers/brokers.js';
import { dashboardSession } from '../helpers/dashboard.js';
import { APP, connected, nextEvent, startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { RawWampClient } from '../helpers/wamp-client.js';

/**
 * The dashboard's views of a two-node cluster over Redis: node A's stats, channels and realm views
 * include what happens on node B.
 */

const PASSWORD = 'cluster views password';

describe("the dashboard's views of a two-node cluster over redis", {
  skip: await brokerSkip('redis'),
}, () => {
  test("node A's views include node B's connection, channel and WAMP session", async () => {
    const prefix = uniquePrefix('dashboard-views');
    const config = {
      adapter: { driver: 'redis' as const, url: REDIS_URL, prefix, heartbeatMs: 100 },
      wamp: { realms: [{ name: 'realm1' }] },
      dashboard: {
        enabled: true,
        users: [{ name: 'ada', passwordHash: await hashPassword(PASSWORD) }],
        sessionSecret: 'a shared secret of at least thirty-two characters',
      },
    };
    const nodes: TestHerald[] = [];
    const wamp: RawWampClient[] = [];
    try {
      const a = await startHerald(config);
      nodes.push(a);
      const b = await startHerald(config);
      nodes.push(b);
      const cookie = await dashboardSession(a.httpUrl, 'ada', PASSWORD);
      const view = async <T>(path: string): Promise<T> => {
        const response = await fetch(`${a.httpUrl}/dashboard/api${path}`, { headers: { cookie } });
        assert.equal(response.status, 200, path);
        return (await response.json()) as T;
      };
      /** Asks A again (every 50 ms) until `ok`: A asks B only once B's heartbeat reached it. */
      const until = async <T>(path: string, ok: (body: T) => boolean, what: string): Promise<T> => {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const body = await view<T>(path);
          if (ok(body)) return body;
          assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
          await pause(50);
        }
      };

      const client = b.client();
      await within(connected(client), 5000, 'pusher-js on B');
      await within(
        nextEvent(client.subscribe('on-b'), 'pusher:subscription_succeeded'),
        5000,
        'subscription',
      );

      const { channels } = await until<{ channels: unknown[] }>(
        `/apps/${APP.id}/channels?filter=on-b`,
        (body) => body.channels.length > 0,
        "B's channel in A's list",
      );
      assert.deepEqual(channels, [{ name: 'on-b', subscriptionCount: 1, kind: 'public' }]);

      // B's samples, asked through A: A has no connection of its own, so a connection seen is B's.
      await until<{ samples: { connections: number }[] }>(
        `/apps/${APP.id}/stats`,
        (body) => body.samples.some((s) => s.connections === 1),
        "B's connection in A's stats",
      );
      assert.equal(a.herald.connectionCount, 0);

      const session = await RawWampClient.join(`ws://127.0.0.1:${b.port}/ws`);
      wamp.push(session);
      const realm = await view<{ sessions: { id: number }[] }>('/realms/realm1');
      assert.deepEqual(
        realm.sessions.map((s) => s.id),
        [session.sessionId],
      );
      const { realms } = await view<{ realms: { name: string; sessions: number }[] }>('/realms');
      assert.deepEqual(realms, [{ name: 'realm1', sessions: 1 }]);
      client.disconnect();
    } finally {
      for (const s of wamp) s.close();
      await Promise.all(nodes.map((n) => n.stop()));
      await deleteRedisPrefix(prefix);
    }
  });
});
