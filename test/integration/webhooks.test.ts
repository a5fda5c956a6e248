import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import type { z } from 'zod';
import type { appSchema, ConfigInput } from '../../src/config/schema.js';
import { APP, connected, nextEvent, sdkAuthorizer, startHerald, type TestHerald } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';
import { type ReceivedWebhook, type WebhookEventJson, WebhookReceiver } from '../helpers/webhook-receiver.js';

const GUARD_MS = 10_000;

/** Runs `body` with a server and receivers, and stops them all whatever happens. */
async function withServer(
  config: ConfigInput,
  receivers: WebhookReceiver[],
  body: (server: TestHerald) => Promise<void>,
): Promise<void> {
  let server: TestHerald | undefined;
  try {
    server = await startHerald(config);
    await body(server);
  } finally {
    await server?.stop();
    for (const r of receivers) await r.close();
  }
}

type AppInput = z.input<typeof appSchema>;

function app(webhooks: AppInput['webhooks'], fields: Partial<AppInput> = {}): AppInput {
  return { ...APP, clientEvents: true, webhooks, ...fields };
}

/** Checks a request as a receiver must (Pusher docs, Webhooks), with node:crypto and with the SDK. */
function assertSigned(
  server: TestHerald,
  request: ReceivedWebhook,
  credentials: { id: string; key: string; secret: string } = APP,
): void {
  assert.equal(request.headers['content-type'], 'application/json');
  assert.equal(request.headers['x-pusher-key'], credentials.key);
  const expected = createHmac('sha256', credentials.secret).update(request.rawBody).digest('hex');
  assert.equal(request.headers['x-pusher-signature'], expected);
  const webhook = server.sdk(credentials).webhook({ headers: request.headers, rawBody: request.rawBody });
  assert.equal(webhook.isValid(), true);
}

const label = (e: WebhookEventJson) =>
  `${e.name}:${e.channel}${e.user_id !== undefined ? `:${e.user_id}` : ''}`;

async function subscribePrivate(
  server: TestHerald,
  client: RawClient,
  socketId: string,
  channel: string,
  presence?: { user_id: string; user_info?: Record<string, unknown> },
) {
  const auth = presence
    ? server.sdk().authorizeChannel(socketId, channel, presence)
    : server.sdk().authorizeChannel(socketId, channel);
  const reply = await client.subscribe(channel, { ...auth });
  assert.equal(reply.event, 'pusher_internal:subscription_succeeded', `subscribed to ${channel}`);
}

describe('webhooks', () => {
  test('every event type arrives, one per request, signed so that the pusher SDK accepts it', async () => {
    const receiver = await WebhookReceiver.start();
    const config = {
      apps: [app([{ url: receiver.url }], { subscriptionCount: true })],
      webhooks: { vacateDelayMs: 0 },
    };
    await withServer(config, [receiver], async (server) => {
      const { client, socketId } = await RawClient.connect(server.wsUrl());
      await subscribePrivate(server, client, socketId, 'presence-room', {
        user_id: 'u1',
        user_info: { n: 1 },
      });
      await subscribePrivate(server, client, socketId, 'private-p');
      client.send({ event: 'client-hello', channel: 'presence-room', data: { a: 1 } });
      client.send({ event: 'client-text', channel: 'private-p', data: 'plain text' });
      await client.subscribe('cache-c');
      await client.next('pusher:cache_miss');
      await client.subscribe('counted');
      await within(
        receiver.until(() => receiver.events.length === 11),
        GUARD_MS,
        'the events of joining',
      );
      client.close();
      await within(
        receiver.until(() => receiver.events.length === 16),
        GUARD_MS,
        'the events of leaving',
      );
      await server.stop();

      for (const request of receiver.requests) {
        assertSigned(server, request);
        assert.equal(request.body.events.length, 1, 'without batchWebhooks one event per request');
        assert.equal(typeof request.body.time_ms, 'number');
      }
      const events = receiver.events;
      const sorted = (list: readonly unknown[]) => list.map((e) => JSON.stringify(e)).sort();
      assert.deepEqual(
        sorted(events),
        sorted([
          ...['presence-room', 'private-p', 'cache-c', 'counted'].flatMap((channel) => [
            { name: 'channel_occupied', channel },
            { name: 'channel_vacated', channel },
          ]),
          { name: 'member_added', channel: 'presence-room', user_id: 'u1' },
          { name: 'member_removed', channel: 'presence-room', user_id: 'u1' },
          {
            name: 'client_event',
            channel: 'presence-room',
            event: 'client-hello',
            data: '{"a":1}',
            socket_id: socketId,
            user_id: 'u1',
          },
          {
            name: 'client_event',
            channel: 'private-p',
            event: 'client-text',
            data: 'plain text',
            socket_id: socketId,
          },
          { name: 'cache_miss', channel: 'cache-c' },
          ...['private-p', 'cache-c', 'counted'].map((channel) => ({
            name: 'subscription_count',
            channel,
            subscription_count: 1,
          })),
        ]),
      );
      const at = (l: string) => events.map(label).indexOf(l);
      assert.ok(at('channel_occupied:presence-room') < at('member_added:presence-room:u1'));
      assert.ok(at('member_removed:presence-room:u1') < at('channel_vacated:presence-room'));
      for (const channel of ['presence-room', 'private-p', 'cache-c', 'counted']) {
        assert.ok(at(`channel_occupied:${channel}`) < at(`channel_vacated:${channel}`), channel);
      }
    });
  });

  test('many subscribers to an empty cache channel make one cache_miss webhook', async () => {
    const receiver = await WebhookReceiver.start();
    // One request at a time: the sentinel's arrival proves everything before it has arrived.
    const config = {
      apps: [app([{ url: receiver.url, events: ['cache_miss'] }])],
      webhooks: { concurrency: 1 },
    };
    await withServer(config, [receiver], async (server) => {
      const clients: RawClient[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          const { client } = await RawClient.connect(server.wsUrl());
          clients.push(client);
          await client.subscribe('cache-empty');
          const miss = await client.next('pusher:cache_miss');
          assert.equal(miss.channel, 'cache-empty', 'each subscriber is told');
        }
        await clients[0]!.subscribe('cache-sentinel');
        await within(
          receiver.event((e) => e.channel === 'cache-sentinel'),
          GUARD_MS,
          'the sentinel cache_miss',
        );
        assert.deepEqual(receiver.events.map(label), ['cache_miss:cache-empty', 'cache_miss:cache-sentinel']);
      } finally {
        for (const c of clients) c.close();
      }
    });
  });

  test('a client that reconnects and resubscribes within the delay causes no removal and no re-add', async () => {
    const receiver = await WebhookReceiver.start();
    const config = { apps: [app([{ url: receiver.url }])], webhooks: { vacateDelayMs: 60_000 } };
    await withServer(config, [receiver], async (server) => {
      const appConfig = server.herald.config.apps[0]!;
      const client = server.client(sdkAuthorizer(server.sdk(), () => ({ user_id: 'u1' })));
      await connected(client);
      const channel = client.subscribe('presence-room');
      await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'the subscription');
      await within(
        receiver.until(() => receiver.events.length === 2),
        GUARD_MS,
        'occupied and added',
      );

      client.disconnect();
      await until(() => server.herald.pusher.connectionCount(appConfig) === 0, 'the server to see it go');
      client.connect();
      await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'the resubscription');

      // Leaving for good: the removals are held, and stop() releases and delivers them.
      await server.stop();
      assert.deepEqual(receiver.events.map(label), [
        'channel_occupied:presence-room',
        'member_added:presence-room:u1',
        'member_removed:presence-room:u1',
        'channel_vacated:presence-room',
      ]);
      assert.equal(server.herald.webhooks.stats.delivered, 4);
    });
  });

  test("a channel's occupied and vacated arrive in order, even when a request is retried", async () => {
    // The first request fails: its retry must still come before the channel's vacate.
    const receiver = await WebhookReceiver.start((n) => (n === 0 ? 500 : 200));
    const config = {
      apps: [app([{ url: receiver.url }])],
      webhooks: { vacateDelayMs: 0, retryBaseDelayMs: 20, retryMaxDelayMs: 40 },
    };
    await withServer(config, [receiver], async (server) => {
      const { client } = await RawClient.connect(server.wsUrl());
      await client.subscribe('ordered');
      client.send({ event: 'pusher:unsubscribe', data: { channel: 'ordered' } });
      await within(
        receiver.event((e) => e.name === 'channel_vacated'),
        GUARD_MS,
        'the first vacate',
      );
      for (let i = 0; i < 5; i++) {
        await client.subscribe('ordered');
        client.send({ event: 'pusher:unsubscribe', data: { channel: 'ordered' } });
      }
      await client.subscribe('sentinel');
      client.close();
      await server.stop();

      assert.equal(receiver.requests[0]!.answer, 500);
      const names = receiver.events.filter((e) => e.channel === 'ordered').map((e) => e.name);
      assert.ok(names.length >= 2);
      names.forEach((name, i) => {
        assert.equal(name, i % 2 === 0 ? 'channel_occupied' : 'channel_vacated', `event ${i} of ${names}`);
      });
      assert.equal(names.length % 2, 0, 'the channel ends vacated');
    });
  });

  test('with batchWebhooks events share a request; stop() sends what is still collected or held', async () => {
    const receiver = await WebhookReceiver.start();
    const config = {
      apps: [app([{ url: receiver.url }], { batchWebhooks: true })],
      webhooks: { batchWindowMs: 60_000, maxBatchEvents: 3, vacateDelayMs: 60_000 },
    };
    await withServer(config, [receiver], async (server) => {
      const before = Date.now();
      const { client } = await RawClient.connect(server.wsUrl());
      for (const channel of ['b1', 'b2', 'b3', 'b4']) await client.subscribe(channel);
      await within(
        receiver.until(() => receiver.requests.length === 1),
        GUARD_MS,
        'the full batch',
      );
      const [first] = receiver.requests;
      assertSigned(server, first!);
      assert.deepEqual(
        first!.body.events,
        ['b1', 'b2', 'b3'].map((channel) => ({ name: 'channel_occupied', channel })),
      );
      assert.ok(first!.body.time_ms >= before && first!.body.time_ms <= Date.now());

      client.close();
      await server.stop();
      for (const request of receiver.requests) assertSigned(server, request);
      assert.deepEqual(
        receiver.requests.map((r) => r.body.events.map(label)),
        [
          ['channel_occupied:b1', 'channel_occupied:b2', 'channel_occupied:b3'],
          ['channel_occupied:b4', 'channel_vacated:b1', 'channel_vacated:b2'],
          ['channel_vacated:b3', 'channel_vacated:b4'],
        ],
      );
    });
  });

  test('a receiver answering 500 three times then 200 gets the event exactly once', async () => {
    const receiver = await WebhookReceiver.start((n) => (n < 3 ? 500 : 200));
    const config = {
      apps: [app([{ url: receiver.url, events: ['channel_occupied'] }])],
      webhooks: { retryBaseDelayMs: 5, retryMaxDelayMs: 20, concurrency: 1 },
    };
    await withServer(config, [receiver], async (server) => {
      const { client } = await RawClient.connect(server.wsUrl());
      try {
        await client.subscribe('retried');
        await client.subscribe('sentinel');
        await within(
          receiver.event((e) => e.channel === 'sentinel'),
          GUARD_MS,
          'the sentinel',
        );
      } finally {
        client.close();
      }
      assert.deepEqual(
        receiver.requests.map((r) => r.answer),
        [500, 500, 500, 200, 200],
      );
      const attempts = receiver.requests.slice(0, 4);
      for (const a of attempts) {
        assert.equal(a.rawBody, attempts[0]!.rawBody, 'a retry sends the same signed body');
        assertSigned(server, a);
      }
      assert.deepEqual(receiver.events.map(label), ['channel_occupied:retried', 'channel_occupied:sentinel']);
      await server.stop();
      assert.deepEqual(
        { ...server.herald.webhooks.stats },
        { queued: 2, delivered: 2, failedAttempts: 3, dropped: 0, shed: 0 },
      );
    });
  });

  test("a receiver that never answers delays neither another URL's nor another app's webhooks", async () => {
    const dead = await WebhookReceiver.start(() => 'hang');
    const live = await WebhookReceiver.start();
    const other = await WebhookReceiver.start();
    const APP2 = { id: 'app-2', key: 'key-2', secret: 'secret-2' };
    const config = {
      apps: [app([{ url: dead.url }, { url: live.url }]), { ...APP2, webhooks: [{ url: other.url }] }],
      webhooks: { timeoutMs: 60_000, concurrency: 1, flushTimeoutMs: 100 },
    };
    await withServer(config, [dead, live, other], async (server) => {
      const { client } = await RawClient.connect(server.wsUrl());
      const { client: client2 } = await RawClient.connect(server.wsUrl(APP2.key));
      try {
        await client.subscribe('first');
        await within(
          dead.until(() => dead.hanging === 1),
          GUARD_MS,
          'the hanging request',
        );
        await client.subscribe('second');
        await client2.subscribe('elsewhere');
        await within(
          live.until(() => live.events.length === 2),
          GUARD_MS,
          'the live URL',
        );
        await within(
          other.until(() => other.events.length === 1),
          GUARD_MS,
          "the other app's URL",
        );
        assert.deepEqual(live.events.map(label), ['channel_occupied:first', 'channel_occupied:second']);
        assert.deepEqual(other.events.map(label), ['channel_occupied:elsewhere']);
        assertSigned(server, other.requests[0]!, APP2);
        assert.equal(dead.hanging, 1, 'the dead receiver still holds its first request');
        assert.equal(dead.requests.length, 1, 'and its lane waits behind it');
      } finally {
        client.close();
        client2.close();
      }
      await server.stop();
      assert.ok(server.herald.webhooks.stats.dropped >= 2, 'what the dead URL never got is counted');
    });
  });

  test('filter.channelPrefix limits a webhook to matching channels; events limits it to those named', async () => {
    const filtered = await WebhookReceiver.start();
    const occupiedOnly = await WebhookReceiver.start();
    const config = {
      apps: [
        app([
          { url: filtered.url, filter: { channelPrefix: 'private-' } },
          { url: occupiedOnly.url, events: ['channel_occupied'] },
        ]),
      ],
      webhooks: { vacateDelayMs: 60_000 },
    };
    await withServer(config, [filtered, occupiedOnly], async (server) => {
      const { client, socketId } = await RawClient.connect(server.wsUrl());
      await client.subscribe('public-one');
      await subscribePrivate(server, client, socketId, 'private-two');
      client.close();
      await server.stop();
      assert.deepEqual(filtered.events.map(label), [
        'channel_occupied:private-two',
        'channel_vacated:private-two',
      ]);
      assert.deepEqual(occupiedOnly.events.map(label), [
        'channel_occupied:public-one',
        'channel_occupied:private-two',
      ]);
    });
  });
});
