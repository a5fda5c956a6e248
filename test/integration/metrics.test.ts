import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
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

async function scrape(): Promise<{ type: string; values: Map<string, number> }> {
  const response = await fetch(`${server.httpUrl}/metrics`);
  assert.equal(response.status, 200);
  const values = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const m = /^(herald_[a-z_]+) (\S+)$/.exec(line);
    if (m) values.set(m[1]!, Number(m[2]));
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
