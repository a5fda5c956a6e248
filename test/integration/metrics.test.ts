import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { closeAutobahn, openAutobahn } from '../helpers/autobahn.js';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

let server: TestHerald;
let receiver: WebhookReceiver;

before(async () => {
  receiver = await WebhookReceiver.start((n) => (n === 0 ? 500 : 200));
  server = await startHerald({
    apps: [{ ...APP, webhooks: [{ url: receiver.url, events: ['channel_occupied'] }] }],
    webhooks: { retryBaseDelayMs: 10, retryMaxDelayMs: 20 },
  });
});
after(async () => {
  await server.stop();
  await receiver.close();
});

/** Each sample by name, a realm label appended as `name{realm}`. */
async function scrape(): Promise<{ type: string; values: Map<string, number> }> {
  const response = await fetch(`${server.httpUrl}/metrics`);
  assert.equal(response.status, 200);
  const values = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const m = /^(herald_[a-z_]+)(?:\{realm="([^"]+)"\})? (\S+)$/.exec(line);
    if (m) values.set(m[2] ? `${m[1]}{${m[2]}}` : m[1]!, Number(m[3]));
  }
  return { type: response.headers.get('content-type') ?? '', values };
}

test('GET /metrics reports open connections and webhook delivery in the Prometheus format', async () => {
  const before = await scrape();
  assert.match(before.type, /^text\/plain/);
  assert.equal(before.values.get('herald_websocket_connections'), 0);
  assert.equal(before.values.get('herald_webhooks_delivered_total'), 0);
  assert.ok((before.values.get('herald_process_resident_memory_bytes') ?? 0) > 0, 'default process metrics');

  const { client } = await RawClient.connect(server.wsUrl());
  await client.subscribe('metered');
  // The receiver refuses the first attempt and accepts the retry.
  await within(
    receiver.event((e) => e.name === 'channel_occupied' && e.channel === 'metered'),
    10_000,
    'channel_occupied webhook',
  );
  await until(() => server.herald.webhooks.stats.delivered === 1, 'delivery counted');
  const during = await scrape();
  assert.equal(during.values.get('herald_websocket_connections'), 1);
  assert.equal(during.values.get('herald_webhooks_queued_total'), 1);
  assert.equal(during.values.get('herald_webhooks_failed_attempts_total'), 1);
  assert.equal(during.values.get('herald_webhooks_delivered_total'), 1);
  assert.equal(during.values.get('herald_webhooks_dropped_total'), 0);
  client.close();
  await client.closed;
  await until(() => server.herald.pusher.connectionCount(server.herald.config.apps[0]!) === 0, 'socket gone');
  assert.equal((await scrape()).values.get('herald_websocket_connections'), 0);
});

test('GET /metrics reports each WAMP realm: sessions, subscriptions, registrations, events, calls, retention', async () => {
  const url = `${server.httpUrl.replace('http', 'ws')}/ws`;
  const before = await scrape();
  assert.equal(before.values.get('herald_wamp_realm_sessions{realm1}'), 0);
  assert.equal(before.values.get('herald_wamp_events_total{realm1}'), 0);
  const subscriber = await openAutobahn({ url, realm: 'realm1' });
  const callee = await openAutobahn({ url, realm: 'realm1' });
  try {
    let resolveEvent: (args: unknown) => void = () => {};
    const got = new Promise((resolve) => (resolveEvent = resolve));
    await subscriber.session.subscribe('com.metrics.tick', (args) => resolveEvent(args));
    await callee.session.register(
      'com.metrics.add',
      (args) => (args as number[])[0]! + (args as number[])[1]!,
    );
    assert.equal(await subscriber.session.call('com.metrics.add', [2, 3]), 5);
    await callee.session.publish('com.metrics.tick', [1], {}, { acknowledge: true, retain: true });
    assert.deepEqual(await within(got, 5000, 'the event'), [1]);

    const during = (await scrape()).values;
    assert.equal(during.get('herald_wamp_realm_sessions{realm1}'), 2);
    assert.equal(during.get('herald_wamp_subscriptions{realm1}'), 1);
    assert.equal(during.get('herald_wamp_registrations{realm1}'), 1);
    assert.equal(during.get('herald_wamp_events_total{realm1}'), 1);
    assert.equal(during.get('herald_wamp_calls_total{realm1}'), 1);
    assert.equal(during.get('herald_wamp_retained_topics{realm1}'), 1);
    // Publications include the router's meta events (session joins), which nobody subscribed to.
    assert.ok((during.get('herald_wamp_publications_total{realm1}') ?? 0) >= 1);
  } finally {
    await closeAutobahn(subscriber.connection);
    await closeAutobahn(callee.connection);
  }
  const after = (await scrape()).values;
  assert.equal(after.get('herald_wamp_realm_sessions{realm1}'), 0);
  assert.equal(after.get('herald_wamp_subscriptions{realm1}'), 0);
  assert.equal(after.get('herald_wamp_registrations{realm1}'), 0);
});
