import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ClientOptions, WebSocket } from 'ws';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';
import { RawWampClient } from '../helpers/wamp-client.js';

/** What an upgrade attempt got: the open socket, or the HTTP refusal with its JSON error. */
interface Outcome {
  status: number;
  error?: string;
  retryAfter?: string | undefined;
  ws?: WebSocket;
}

/** One upgrade attempt from a real socket (`localAddress` picks the loopback address it comes from). */
function attempt(url: string, options: ClientOptions = {}, protocols: string[] = []): Promise<Outcome> {
  return within(
    new Promise<Outcome>((resolve, reject) => {
      const ws = new WebSocket(url, protocols, options);
      ws.once('open', () => resolve({ status: 101, ws }));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => {
          try {
            assert.match(res.headers['content-type'] ?? '', /^application\/json/);
            const { error } = JSON.parse(body) as { error: string };
            resolve({ status: res.statusCode!, error, retryAfter: res.headers['retry-after'] });
          } catch (err) {
            reject(err);
          }
        });
      });
      ws.on('error', reject);
    }),
    10_000,
    `an upgrade of ${url}`,
  );
}

const WAMP = ['wamp.2.json'];

function wampUrl(server: TestHerald): string {
  return `ws://127.0.0.1:${server.port}/ws`;
}

/** `herald_limit_refusals_total{limit}` as GET /metrics reports it (0 when absent). */
async function refusals(server: TestHerald, limit: string): Promise<number> {
  const response = await fetch(`${server.httpUrl}/metrics`);
  assert.equal(response.status, 200);
  const text = await response.text();
  const m = new RegExp(`^herald_limit_refusals_total\\{limit="${limit}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

function closeAll(outcomes: Outcome[]): void {
  for (const o of outcomes) o.ws?.terminate();
}

test('a flood of upgrades from one address gets 429 after the burst while another address connects', async () => {
  const server = await startHerald({ connectionRatePerAddress: { perSecond: 10, burst: 20 } });
  const outcomes: Outcome[] = [];
  try {
    const total = 1000;
    const started = performance.now();
    let other: { client: RawClient; socketId: string } | undefined;
    for (let batch = 0; batch < 10; batch++) {
      outcomes.push(...(await Promise.all(Array.from({ length: 100 }, () => attempt(server.wsUrl())))));
      // In the middle of the flood, with 127.0.0.1 well past its burst, 127.0.0.2 has its own allowance.
      if (batch === 4) other = await RawClient.connect(server.wsUrl(), { localAddress: '127.0.0.2' });
    }
    const elapsedSeconds = (performance.now() - started) / 1000;
    assert.ok(other?.socketId, '127.0.0.2 got pusher:connection_established during the flood');
    other!.client.close();

    const accepted = outcomes.filter((o) => o.status === 101).length;
    const refused = outcomes.filter((o) => o.status === 429);
    assert.equal(accepted + refused.length, total, 'every attempt was either upgraded or refused with 429');
    assert.ok(accepted >= 20, `the burst of 20 is admitted (got ${accepted})`);
    // The bucket refills at 10 per second while the flood lasts: nothing more gets through.
    const allowance = 20 + Math.ceil(10 * elapsedSeconds) + 1;
    assert.ok(
      accepted <= allowance,
      `${accepted} upgraded in ${elapsedSeconds.toFixed(2)} s, at most ${allowance}`,
    );
    for (const r of refused) {
      assert.equal(r.error, 'Too many new connections from this address');
      assert.equal(r.retryAfter, '1');
    }
    assert.equal(await refusals(server, 'connection_rate_per_address'), refused.length);
  } finally {
    closeAll(outcomes);
    await server.stop();
  }
});

test('maxConnectionsPerAddress: the next upgrade gets 429, and a closed connection frees its place', async () => {
  const server = await startHerald({ maxConnectionsPerAddress: 2 });
  try {
    const a = await RawClient.connect(server.wsUrl());
    const b = await RawWampClient.open(wampUrl(server));
    const third = await attempt(server.wsUrl());
    assert.equal(third.status, 429, 'both protocols count towards the address');
    assert.equal(third.error, 'Too many connections from this address');
    assert.equal(third.retryAfter, undefined, 'waiting does not help: a connection has to close');
    const wamp = await attempt(wampUrl(server), {}, WAMP);
    assert.equal(wamp.status, 429);
    const elsewhere = await attempt(server.wsUrl(), { localAddress: '127.0.0.2' });
    assert.equal(elsewhere.status, 101, 'another address has its own allowance');

    a.client.close();
    await until(() => server.herald.connectionCount === 2, 'the server to see the close');
    const again = await RawClient.connect(server.wsUrl());
    assert.ok(again.socketId, 'a place freed by a close is taken again');
    assert.equal((await attempt(server.wsUrl())).status, 429, 'and the address is full again');
    assert.equal(await refusals(server, 'connections_per_address'), 3);

    // Connections the server closes itself (here: an unknown app key, 4001) free their place too.
    again.client.close();
    b.close();
    elsewhere.ws!.close();
    await until(() => server.herald.connectionCount === 0, 'every connection to close');
    for (let i = 0; i < 3; i++) {
      const unknown = await RawClient.open(server.wsUrl('no-such-key'));
      assert.equal((await within(unknown.closed, 5000, 'the server closing the socket')).code, 4001);
      await until(() => server.herald.connectionCount === 0, 'the server to forget the closed socket');
    }
    const x = await RawClient.connect(server.wsUrl());
    const y = await RawClient.connect(server.wsUrl());
    assert.equal((await attempt(server.wsUrl())).status, 429);
    x.client.close();
    y.client.close();
  } finally {
    await server.stop();
  }
});

test('behind a trusted proxy the forwarded address is limited; from anyone else the header is ignored', async () => {
  const server = await startHerald({ maxConnectionsPerAddress: 1, trustedProxies: ['127.0.0.1'] });
  const outcomes: Outcome[] = [];
  const from = (localAddress: string, forwardedFor: string) =>
    attempt(server.wsUrl(), { localAddress, headers: { 'X-Forwarded-For': forwardedFor } }).then((o) => {
      outcomes.push(o);
      return o.status;
    });
  try {
    // One proxy, two clients behind it: each has its own allowance.
    assert.equal(await from('127.0.0.1', '203.0.113.1'), 101);
    assert.equal(await from('127.0.0.1', '203.0.113.2'), 101);
    assert.equal(await from('127.0.0.1', '203.0.113.1'), 429, 'the forwarded address is what is limited');
    // A client writing its own X-Forwarded-For: the proxy appends the real address, which is read.
    assert.equal(
      await from('127.0.0.1', '198.51.100.7, 203.0.113.2'),
      429,
      'a forged left hop does not help',
    );

    // 127.0.0.2 is not a trusted proxy: its header is the client's own and is not believed.
    assert.equal(await from('127.0.0.2', '203.0.113.3'), 101);
    assert.equal(await from('127.0.0.2', '203.0.113.4'), 429, 'the socket address is what is limited');
    assert.equal(await refusals(server, 'connections_per_address'), 3);
  } finally {
    closeAll(outcomes);
    await server.stop();
  }
});

test('maxConnections: the next upgrade gets 503 on both the Pusher and WAMP paths; freed on close', async () => {
  const server = await startHerald({ maxConnections: 2 });
  try {
    const pusher = await RawClient.connect(server.wsUrl());
    const wamp = await RawWampClient.join(wampUrl(server));
    for (const [url, protocols] of [
      [server.wsUrl(), []],
      [wampUrl(server), WAMP],
    ] as const) {
      const refused = await attempt(url, { localAddress: '127.0.0.2' }, [...protocols]);
      assert.equal(refused.status, 503, `${url}: the limit is the server's, whatever the address`);
      assert.equal(refused.error, 'Server is at its connection limit');
      assert.equal(refused.retryAfter, '5');
    }
    assert.equal(await refusals(server, 'max_connections'), 2);

    wamp.ws.close();
    await until(() => server.herald.connectionCount === 1, 'the server to see the WAMP close');
    const again = await RawWampClient.join(wampUrl(server));
    assert.ok(again.sessionId > 0, 'the freed place is taken by a new WAMP session');
    assert.equal((await attempt(server.wsUrl())).status, 503);
    pusher.client.close();
    await until(() => server.herald.connectionCount === 1, 'the server to see the Pusher close');
    const last = await RawClient.connect(server.wsUrl());
    assert.ok(last.socketId);
    last.client.close();
    again.ws.close();
    assert.equal(await refusals(server, 'max_connections'), 3);
  } finally {
    await server.stop();
  }
});

test('over maxMemoryMB new upgrades get 503 and /ready 503 while established clients keep their events', async () => {
  const MiB = 1024 * 1024;
  let rss = 50 * MiB;
  const server = await startHerald({ maxMemoryMB: 100 }, { rss: () => rss });
  try {
    const { client } = await RawClient.connect(server.wsUrl());
    assert.equal((await client.subscribe('news')).event, 'pusher_internal:subscription_succeeded');
    const wamp = await RawWampClient.join(wampUrl(server));

    rss = 150 * MiB;
    await until(() => server.herald.memory.over, 'the ceiling to sample the new resident memory');
    for (const [url, protocols] of [
      [server.wsUrl(), []],
      [wampUrl(server), WAMP],
    ] as const) {
      const refused = await attempt(url, {}, [...protocols]);
      assert.equal(refused.status, 503);
      assert.equal(refused.error, 'Server is over its memory limit');
      assert.equal(refused.retryAfter, '5');
    }
    const ready = await fetch(`${server.httpUrl}/ready`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'over-memory' });

    // Those already connected are served as before.
    const event = client.next((f) => f.event === 'update' && f.channel === 'news');
    await server.sdk().trigger('news', 'update', { n: 1 });
    assert.deepEqual(JSON.parse((await within(event, 5000, 'the event while over memory')).data as string), {
      n: 1,
    });
    assert.equal(server.herald.connectionCount, 2, 'no established connection was dropped');

    rss = 80 * MiB;
    await until(() => !server.herald.memory.over, 'the ceiling to sample memory back under');
    const again = await RawClient.connect(server.wsUrl());
    assert.ok(again.socketId, 'accepting again once memory is back under');
    const readyAgain = await fetch(`${server.httpUrl}/ready`);
    assert.equal(readyAgain.status, 200);
    await readyAgain.arrayBuffer();
    assert.equal(await refusals(server, 'memory'), 2);
    again.client.close();
    client.close();
    wamp.ws.close();
  } finally {
    await server.stop();
  }
});

test('a connection cut for not reading frees its place for its address', async () => {
  const server = await startHerald({ maxConnectionsPerAddress: 1, maxBufferedBytes: 64 * 1024 });
  try {
    const { client } = await RawClient.connect(server.wsUrl());
    await client.subscribe('firehose');
    client.ws.pause();
    assert.equal((await attempt(server.wsUrl())).status, 429);
    const sdk = server.sdk();
    const batch = Array.from({ length: 10 }, () => ({
      channel: 'firehose',
      name: 'chunk',
      data: 'x'.repeat(9000),
    }));
    // Past the kernel's socket buffers the server's own queue fills, and the client is cut (overflow).
    for (let sent = 0; server.herald.connectionCount > 0; sent++) {
      assert.ok(sent < 500, 'the stalled client is cut before 45 MB were sent to it');
      assert.equal((await sdk.triggerBatch(batch)).status, 200);
    }
    const again = await RawClient.connect(server.wsUrl());
    assert.ok(again.socketId, 'the address has its place back');
    again.client.close();
  } finally {
    await server.stop();
  }
});
