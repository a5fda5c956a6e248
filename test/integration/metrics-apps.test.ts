import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { closeAutobahn, openAutobahn } from '../helpers/autobahn.js';
import { APP, connected, nextEvent, sdkAuthorizer, startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * The per-app metrics after a known workload: pusher-js clients, a bare socket whose frames are
 * weighed, the `pusher` SDK, a webhook receiver that refuses the first attempt, and autobahn-js on a
 * WAMP realm. Every count is compared exactly.
 */

const GUARD_MS = 10_000;
const STRICT = { id: 'strict-id', key: 'strict-key', secret: 'strict-secret' } as const;
const CHANNEL = 'private-room';

let server: TestHerald;
let receiver: WebhookReceiver;

before(async () => {
  receiver = await WebhookReceiver.start((n) => (n === 0 ? 500 : 200));
  let ids = 0;
  server = await startHerald(
    {
      apps: [
        { ...APP, clientEvents: true, webhooks: [{ url: receiver.url, events: ['client_event'] }] },
        { ...STRICT, allowedOrigins: ['https://allowed.example'] },
      ],
      webhooks: { retryBaseDelayMs: 10, retryMaxDelayMs: 20 },
    },
    // Socket ids of one length, so that every client's connection_established weighs the same.
    { socketIds: () => `${++ids}.${ids}` },
  );
});
after(async () => {
  await server.stop();
  await receiver.close();
});

/** Bytes of a server's unmasked text frame carrying `payload` bytes (RFC 6455 section 5.2). */
const wire = (payload: number) => payload + (payload < 126 ? 2 : payload < 65_536 ? 4 : 10);

/** A bare socket that keeps every text it receives, as received, and weighs what it sends. */
class Tap {
  readonly ws: WebSocket;
  readonly received: string[] = [];
  readonly closed: Promise<number>;
  sentBytes = 0;
  #waiters: (() => void)[] = [];

  constructor(url: string, origin?: string) {
    this.ws = new WebSocket(url, origin ? { headers: { Origin: origin } } : {});
    this.ws.on('error', () => {});
    this.ws.on('message', (data) => {
      this.received.push(data.toString());
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => this.ws.on('close', (code) => resolve(code)));
  }

  /** The first frame received whose `event` is `event`, parsed. */
  async frame(event: string): Promise<{ event: string; data?: unknown }> {
    for (;;) {
      const found = this.received.map((t) => JSON.parse(t)).find((f) => f.event === event);
      if (found) return found;
      await within(new Promise<void>((resolve) => this.#waiters.push(resolve)), GUARD_MS, event);
    }
  }

  send(message: unknown): void {
    const text = JSON.stringify(message);
    this.sentBytes += Buffer.byteLength(text);
    this.ws.send(text);
  }

  /** Bytes on the wire of everything received. */
  get receivedWire(): number {
    return this.received.reduce((sum, text) => sum + wire(Buffer.byteLength(text)), 0);
  }
}

/** Every `herald_` sample: `name{label="value",…}` with the labels in name order → value. */
async function scrape(): Promise<Map<string, number>> {
  const response = await fetch(`${server.httpUrl}/metrics`);
  assert.equal(response.status, 200);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const m = /^(herald_[a-z0-9_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = [...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map(([, k, v]) => `${k}="${v}"`);
    samples.set(labels.length ? `${m[1]}{${labels.sort().join(',')}}` : m[1]!, Number(m[3]));
  }
  return samples;
}

/** The key of a sample, labels given in any order. */
function key(name: string, labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return `${name}{${parts.sort().join(',')}}`;
}

test('per-app connections, messages, bytes, HTTP requests, client events and webhooks, counted exactly', async () => {
  const sdk = server.sdk();
  const before = await scrape();
  // Nothing per app before any client met an app.
  assert.equal([...before.keys()].filter((k) => k.includes('app="app-id"')).length, 0);
  assert.ok(before.has('herald_nodejs_eventloop_lag_seconds'), 'event-loop lag, from the default metrics');
  assert.ok(before.has('herald_nodejs_eventloop_lag_p99_seconds'));
  assert.equal(before.get('herald_websocket_connections'), 0);

  // Two pusher-js clients and one bare socket, all on the private channel.
  const clients = [0, 1].map(() => server.client(sdkAuthorizer(sdk)));
  for (const client of clients) await within(connected(client), GUARD_MS, 'pusher-js connected');
  const channels = clients.map((client) => client.subscribe(CHANNEL));
  for (const channel of channels)
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'subscribed');
  const tap = new Tap(server.wsUrl());
  const established = await tap.frame('pusher:connection_established');
  const socketId = (JSON.parse(established.data as string) as { socket_id: string }).socket_id;
  tap.send({
    event: 'pusher:subscribe',
    data: { channel: CHANNEL, auth: sdk.authorizeChannel(socketId, CHANNEL).auth },
  });
  await tap.frame('pusher_internal:subscription_succeeded');

  // Two events through the HTTP API, one refused for its signature.
  const got = channels.map((channel) => nextEvent(channel, 'greet'));
  await sdk.trigger(CHANNEL, 'greet', { n: 1 });
  await within(Promise.all(got), GUARD_MS, 'the first event');
  const again = channels.map((channel) => nextEvent(channel, 'greet'));
  await sdk.trigger(CHANNEL, 'greet', { n: 2 });
  await within(Promise.all(again), GUARD_MS, 'the second event');
  await assert.rejects(server.sdk({ ...APP, secret: 'wrong' }).trigger(CHANNEL, 'greet', {}), {
    status: 401,
  });
  assert.equal((await fetch(`${server.httpUrl}/no/such/route`)).status, 404);

  // One client event from the bare socket reaches both pusher-js clients, and becomes a webhook
  // that the receiver refuses once.
  const relayed = channels.map((channel) => nextEvent(channel, 'client-hi'));
  tap.send({ event: 'client-hi', channel: CHANNEL, data: { hello: 'all' } });
  await within(Promise.all(relayed), GUARD_MS, 'the client event');
  await within(
    receiver.until(() => receiver.requests.length === 2),
    GUARD_MS,
    'the webhook and its retry',
  );
  await until(() => server.herald.webhooks.stats.delivered === 1, 'the delivery counted');

  // A connection refused for its origin: counted in its app, with the close code sent.
  const refused = new Tap(server.wsUrl(STRICT.key), 'https://elsewhere.example');
  assert.equal(await within(refused.closed, GUARD_MS, 'the refusal'), 4009);
  const strictApp = server.herald.traffic.of('pusher', STRICT.id);
  await until(() => strictApp.connections === 0, 'the refused connection gone');

  // One pusher-js client leaves.
  clients[1]!.disconnect();
  const pusherApp = server.herald.traffic.of('pusher', APP.id);
  await until(() => pusherApp.connections === 2, 'the disconnect counted');

  // autobahn-js on the WAMP realm: a subscriber, and a publisher whose publication is acknowledged.
  const url = `${server.httpUrl.replace('http', 'ws')}/ws`;
  const subscriber = await openAutobahn({ url, realm: 'realm1' });
  const publisher = await openAutobahn({ url, realm: 'realm1' });
  const event = new Promise(
    (resolve) => void subscriber.session.subscribe('com.metrics', (args) => resolve(args)),
  );
  await until(
    () => server.herald.wamp.realmStats().find((r) => r.realm === 'realm1')?.subscriptions === 1,
    'subscribed',
  );
  await publisher.session.publish('com.metrics', [1], {}, { acknowledge: true });
  assert.deepEqual(await within(event, GUARD_MS, 'the WAMP event'), [1]);
  await closeAutobahn(subscriber.connection);
  await closeAutobahn(publisher.connection);
  const realm = server.herald.traffic.of('wamp', 'realm1');
  await until(() => realm.connections === 0, 'the WAMP transports gone');

  const m = await scrape();
  const app = (labels: Record<string, string> = {}) => ({ protocol: 'pusher', app: APP.id, ...labels });
  const sample = (name: string, labels: Record<string, string>) => m.get(key(name, labels));

  // Pusher, the default app: 3 connections opened, 1 closed by its client.
  assert.equal(sample('herald_connections', app()), 2);
  assert.equal(sample('herald_connections_opened_total', app()), 3);
  assert.deepEqual(
    [...m].filter(([k]) => k.startsWith('herald_connections_closed_total') && k.includes(`app="${APP.id}"`)),
    [[key('herald_connections_closed_total', app({ code: '1000' })), 1]],
  );
  // Each client got connection_established, subscription_succeeded and two events; the two pusher-js
  // clients also got the client event.
  assert.equal(sample('herald_messages_out_total', app()), 3 * 4 + 2);
  // The tap got the same four frames as each pusher-js client (socket ids of one length).
  assert.equal(tap.received.length, 4);
  const relayedFrame = JSON.stringify({ event: 'client-hi', channel: CHANNEL, data: { hello: 'all' } });
  assert.equal(sample('herald_bytes_out_total', app()), 3 * tap.receivedWire + 2 * wire(relayedFrame.length));
  // Each client subscribed; the tap also sent the client event. pusher-js sends what the tap sends
  // for a subscription, with its own socket's signature (of the same length).
  assert.equal(sample('herald_messages_in_total', app()), 3 + 1);
  const subscribeBytes = (id: string) =>
    JSON.stringify({
      event: 'pusher:subscribe',
      data: { auth: sdk.authorizeChannel(id, CHANNEL).auth, channel: CHANNEL },
    }).length;
  assert.equal(sample('herald_bytes_in_total', app()), tap.sentBytes + 2 * subscribeBytes(socketId));
  assert.equal(m.get(key('herald_client_events_total', { app: APP.id })), 1);

  // The app refused for its origin: one connection, its pusher:error, closed with 4009.
  const strict = (labels: Record<string, string> = {}) => ({ protocol: 'pusher', app: STRICT.id, ...labels });
  assert.equal(sample('herald_connections', strict()), 0);
  assert.equal(sample('herald_connections_opened_total', strict()), 1);
  assert.equal(sample('herald_connections_closed_total', strict({ code: '4009' })), 1);
  assert.equal(sample('herald_messages_out_total', strict()), 1);
  assert.equal(sample('herald_bytes_out_total', strict()), refused.receivedWire);
  assert.equal(sample('herald_messages_in_total', strict()), 0);

  // WAMP, the realm name as the app: WELCOME, SUBSCRIBED, EVENT and GOODBYE to the subscriber;
  // WELCOME, PUBLISHED and GOODBYE to the publisher. In: SUBSCRIBE, PUBLISH and two GOODBYEs (HELLO
  // arrives before the realm is known).
  const wamp = (labels: Record<string, string> = {}) => ({ protocol: 'wamp', app: 'realm1', ...labels });
  assert.equal(sample('herald_connections', wamp()), 0);
  assert.equal(sample('herald_connections_opened_total', wamp()), 2);
  // autobahn-js closes its transport without a status code: 1005 (RFC 6455 section 7.4.1).
  assert.equal(sample('herald_connections_closed_total', wamp({ code: '1005' })), 2);
  assert.equal(sample('herald_messages_out_total', wamp()), 7);
  assert.equal(sample('herald_messages_in_total', wamp()), 4);

  // HTTP: two events published, one refused for its signature (its app was found), one unknown path,
  // and the first scrape.
  const http = (route: string, status: string, a = '') =>
    m.get(key('herald_http_requests_total', { route, app: a, status }));
  assert.equal(http('POST /apps/:id/events', '200', APP.id), 2);
  assert.equal(http('POST /apps/:id/events', '401', APP.id), 1);
  assert.equal(http('unmatched', '404'), 1);
  assert.equal(http('GET /metrics', '200'), 1);
  assert.equal([...m.keys()].filter((k) => k.startsWith('herald_http_requests_total')).length, 4);

  // Webhooks: the client event's request, refused once and then delivered.
  assert.equal(m.get(key('herald_webhook_deliveries_total', { app: APP.id })), 1);
  assert.equal(m.get(key('herald_webhook_retries_total', { app: APP.id })), 1);
  assert.equal(m.get(key('herald_webhook_failures_total', { app: APP.id })), 0);
  assert.equal(m.get('herald_webhooks_delivered_total'), 1);
  assert.equal(m.get('herald_webhooks_failed_attempts_total'), 1);

  // The node's totals are still there beside them.
  assert.equal(m.get('herald_websocket_connections'), 2);
  assert.equal(m.get(key('herald_wamp_realm_sessions', { realm: 'realm1' })), 0);
  tap.ws.close();
  await tap.closed;
});
