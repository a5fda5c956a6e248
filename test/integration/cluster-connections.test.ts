import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { brokerSkip, freePort, Server, uniquePrefix } from '../helpers/brokers.js';
import { APP, startHerald } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * A node talks to its broker over one client set, shared by the adapter and every store (README
 * "Development"): two Redis connections (commands, subscriptions) or one NATS connection, however
 * many stores are in use, all closed when the node stops. Counted on a broker of the test's own, where
 * no other node is connected.
 */

type Counter = { names(): Promise<string[]>; close(): Promise<void> };

/** A private broker and a way to list the names of the clients connected to it. */
async function privateBroker(driver: 'redis' | 'nats'): Promise<{ url: string; counter: Counter }> {
  const port = await freePort();
  if (driver === 'redis') {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const server = await Server.start('redis-server', args, /Ready to accept connections/);
    const admin = new Redis(port, '127.0.0.1', { connectionName: 'test-admin' });
    return {
      url: `redis://127.0.0.1:${port}`,
      counter: {
        async names() {
          const list = (await admin.client('LIST')) as string;
          return list
            .split('\n')
            .filter((entry) => entry.trim() !== '')
            .map((entry) => /\bname=(\S*)/.exec(entry)?.[1] ?? '')
            .filter((name) => name !== 'test-admin');
        },
        async close() {
          admin.disconnect();
          await server.kill();
        },
      },
    };
  }
  const monitor = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'herald-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitor), '-js', '-sd', dir];
  const server = await Server.start('nats-server', args, /Server is ready/);
  return {
    url: `nats://127.0.0.1:${port}`,
    counter: {
      async names() {
        const connz = (await (await fetch(`http://127.0.0.1:${monitor}/connz`)).json()) as {
          connections?: { name?: string }[];
        };
        return (connz.connections ?? []).map((c) => c.name ?? '');
      },
      async close() {
        await server.kill();
        await rm(dir, { recursive: true, force: true });
      },
    },
  };
}

const EXPECTED = { redis: ['herald-commands', 'herald-subscriber'], nats: ['herald'] } as const;

for (const driver of ['redis', 'nats'] as const) {
  describe(`connections of a node over ${driver}`, { skip: await brokerSkip(driver) }, () => {
    test(`${EXPECTED[driver].length} while presence, occupancy, cache and the outbox are in use; none after stop`, async () => {
      const { url, counter } = await privateBroker(driver);
      const receiver = await WebhookReceiver.start();
      try {
        const server = await startHerald({
          adapter: { driver, url, prefix: uniquePrefix(`connections-${driver}`) },
          apps: [{ ...APP, clientEvents: true, webhooks: [{ url: receiver.url }] }],
        });
        try {
          const { client, socketId } = await RawClient.connect(server.wsUrl());
          const signed = server.sdk().authorizeChannel(socketId, 'presence-room', { user_id: 'u1' });
          const joined = await within(
            client.subscribe('presence-room', { ...signed }),
            5000,
            'the presence subscription',
          );
          assert.equal(joined.event, 'pusher_internal:subscription_succeeded');
          // The cache store: an event kept for the channel, and a subscriber that reads it back.
          await server.sdk().trigger('cache-room', 'price', { eur: 1 });
          const cached = await within(client.subscribe('cache-room'), 5000, 'the cache subscription');
          assert.equal(cached.event, 'pusher_internal:subscription_succeeded');
          // The outbox: the channel_occupied request was recorded there, then delivered.
          await within(
            receiver.event((e) => e.name === 'channel_occupied' && e.channel === 'presence-room'),
            5000,
            'the channel_occupied webhook',
          );
          assert.deepEqual((await counter.names()).sort(), [...EXPECTED[driver]]);
          client.close();
        } finally {
          await server.stop();
        }
        // The broker drops a closed connection on its own time: wait for it, then check.
        let names = await counter.names();
        const deadline = Date.now() + 5000;
        while (names.length > 0 && Date.now() < deadline) names = await counter.names();
        assert.deepEqual(names, [], 'connections left after stop');
      } finally {
        await receiver.close();
        await counter.close();
      }
    });
  });
}
