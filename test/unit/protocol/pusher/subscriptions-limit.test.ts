import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import PusherSdk from 'pusher';
import { MemoryAdapter } from '../../../../src/adapters/memory.js';
import { appSchema } from '../../../../src/config/schema.js';
import { StaticAppStore } from '../../../../src/core/apps/static-store.js';
import { MemoryLastEventStore } from '../../../../src/core/cache/memory.js';
import type { Connection } from '../../../../src/core/connection.js';
import type { Frame } from '../../../../src/core/frame.js';
import { LimitRefusals } from '../../../../src/core/limit-refusals.js';
import { MemoryPresenceStore } from '../../../../src/core/presence/memory.js';
import type { JoinResult, PresenceMember } from '../../../../src/core/presence/store.js';
import { PusherServer } from '../../../../src/protocol/pusher/server.js';
import { Subscriptions } from '../../../../src/protocol/pusher/subscriptions.js';
import { until } from '../../../helpers/wait.js';

/** A presence store whose joins wait until the test opens the gate. */
class GatedPresence extends MemoryPresenceStore {
  readonly waiting: (() => void)[] = [];

  override async join(
    namespace: string,
    channel: string,
    socketId: string,
    member: PresenceMember,
    maxMembers: number,
  ): Promise<JoinResult> {
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    return super.join(namespace, channel, socketId, member, maxMembers);
  }
}

test('subscribes admitted and still waiting on the presence store count against maxSubscriptionsPerConnection', async () => {
  const app = appSchema.parse({ id: 'a', key: 'k', secret: 's', maxSubscriptionsPerConnection: 3 });
  const presence = new GatedPresence();
  const refusals = new LimitRefusals();
  const server = new PusherServer({
    apps: new StaticAppStore([app]),
    adapter: new MemoryAdapter('node-a'),
    presence,
    cache: new MemoryLastEventStore(),
    logger: pino({ level: 'silent' }),
    activityTimeoutSeconds: 120,
    pongTimeoutSeconds: 30,
    maxMessageBytes: 65_536,
    limitRefusals: refusals,
  });
  const sent: string[] = [];
  const connection: Connection = {
    send: (frame: Frame) => sent.push(String(frame.text)),
    close: () => {},
    remoteAddress: '127.0.0.1',
  };
  const socket = server.open(connection, {
    params: ['k'],
    query: new URLSearchParams('protocol=7'),
    protocol: '',
    headers: {},
  });
  await until(() => socket.state === 'open', 'the handshake');
  // Called directly, without the socket's queue that runs one subscribe after another: all five are
  // in flight at once, the admitted ones waiting on the presence store.
  const subscriptions = new Subscriptions(server);
  const sdk = new PusherSdk({ appId: app.id, key: app.key, secret: app.secret, cluster: 'mt1' });
  const channels = ['presence-1', 'presence-2', 'presence-3', 'presence-4', 'presence-5'];
  const done = channels.map((channel) =>
    subscriptions.subscribe(socket, {
      channel,
      ...sdk.authorizeChannel(socket.id, channel, { user_id: 'u' }),
    }),
  );
  assert.equal(presence.waiting.length, 3, 'only the admitted subscribes reach the presence store');
  for (const open of presence.waiting) open();
  await Promise.all(done);

  assert.deepEqual([...socket.channels.keys()], channels.slice(0, 3));
  const frames = sent.map((text) => JSON.parse(text) as { event: string; channel?: string; data: unknown });
  const refused = frames.filter((f) => f.event === 'pusher:subscription_error');
  assert.deepEqual(
    refused.map((f) => [f.channel, (f.data as { status: number }).status]),
    [
      ['presence-4', 429],
      ['presence-5', 429],
    ],
  );
  const errors = frames.filter((f) => f.event === 'pusher:error');
  assert.deepEqual(
    errors.map((f) => (f.data as { code: number }).code),
    [4303, 4303],
  );
  assert.equal(refusals.get('subscriptions_per_connection'), 2);
  subscriptions.close();
  server.stop();
});
