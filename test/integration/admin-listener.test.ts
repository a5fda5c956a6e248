import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import PusherServer from 'pusher';
import { APP, connected, nextEvent, startHerald, type TestHerald } from '../helpers/herald.js';
import { HERALD_BIN, LineProcess } from '../helpers/line-process.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { opensslSkip, TestPki } from '../helpers/tls.js';

/**
 * The admin listener (docs/operations.md, Admin listener): the HTTP API and /metrics also, or only, on
 * a second address, while the public port serves WebSockets; /health and /ready on both.
 */

const GUARD_MS = 10_000;

/** The `pusher` SDK publishing through the admin listener. */
function adminSdk(server: TestHerald): PusherServer {
  return new PusherServer({
    appId: APP.id,
    key: APP.key,
    secret: APP.secret,
    host: '127.0.0.1',
    port: String(server.apiPort),
    useTLS: false,
  });
}

/** `GET url`: the status and the body as JSON, or as text when it is not JSON. */
async function get(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url);
  const text = await response.text();
  const json = response.headers.get('content-type')?.startsWith('application/json');
  return { status: response.status, body: json ? JSON.parse(text) : text };
}

/** A pusher-js client of the public port subscribed to `channel`, and the next `event` it gets. */
async function subscriber(
  server: TestHerald,
  channel: string,
  event: string,
): Promise<{ received: Promise<unknown> }> {
  const client = server.client();
  await within(connected(client), GUARD_MS, 'pusher-js to connect');
  const subscription = client.subscribe(channel);
  await within(nextEvent(subscription, 'pusher:subscription_succeeded'), GUARD_MS, 'the subscription');
  return { received: nextEvent(subscription, event) };
}

describe('an admin listener beside the public port (api.public true)', () => {
  let server: TestHerald;
  before(async () => {
    server = await startHerald({ api: { port: 0 } });
  });
  after(() => server?.stop());

  test('it listens on a port of its own, known like the public one', () => {
    assert.equal(typeof server.apiPort, 'number');
    assert.notEqual(server.apiPort, 0);
    assert.notEqual(server.apiPort, server.port);
    assert.equal(server.apiUrl, `http://127.0.0.1:${server.apiPort}`);
  });

  test('the pusher SDK publishing through the admin port reaches a pusher-js subscriber on the public port', async () => {
    const { received } = await subscriber(server, 'admin-news', 'headline');
    assert.equal((await adminSdk(server).trigger('admin-news', 'headline', { via: 'admin' })).status, 200);
    assert.deepEqual(await within(received, GUARD_MS, 'the event'), { via: 'admin' });
    // The public port still serves the HTTP API too.
    const { received: again } = await subscriber(server, 'admin-news-2', 'headline');
    assert.equal((await server.sdk().trigger('admin-news-2', 'headline', { via: 'public' })).status, 200);
    assert.deepEqual(await within(again, GUARD_MS, 'the event'), { via: 'public' });
  });

  test('/health, /ready and /metrics on both', async () => {
    for (const base of [server.httpUrl, server.apiUrl]) {
      assert.deepEqual(await get(`${base}/health`), { status: 200, body: { status: 'ok' } });
      assert.deepEqual(await get(`${base}/ready`), { status: 200, body: { status: 'ready' } });
      const metrics = await get(`${base}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.body as string, /^herald_websocket_connections \d+$/m);
    }
  });

  test('WebSockets are not served on the admin port: the upgrade gets the 404 of an unknown path', async () => {
    await assert.rejects(RawClient.open(`ws://127.0.0.1:${server.apiPort}/app/${APP.key}?protocol=7`), {
      message: 'HTTP 404',
    });
  });
});

describe('the HTTP API only on the admin listener (api.public false)', () => {
  let server: TestHerald;
  before(async () => {
    server = await startHerald({ api: { port: 0, public: false } });
  });
  after(() => server?.stop());

  test('the public port answers 404 JSON for /apps/... and /metrics, like any unknown path', async () => {
    await assert.rejects(server.sdk().trigger('hidden', 'x', {}), (err: { status: number; body: string }) => {
      assert.equal(err.status, 404);
      assert.deepEqual(JSON.parse(err.body), { error: `Not found: /apps/${APP.id}/events` });
      return true;
    });
    const channels = await get(`${server.httpUrl}/apps/${APP.id}/channels`);
    assert.deepEqual(channels, { status: 404, body: { error: `Not found: /apps/${APP.id}/channels` } });
    assert.deepEqual(await get(`${server.httpUrl}/metrics`), {
      status: 404,
      body: { error: 'Not found: /metrics' },
    });
  });

  test('the admin port serves them: an SDK publication reaches pusher-js on the public port', async () => {
    const { received } = await subscriber(server, 'backstage', 'deploy');
    assert.equal((await adminSdk(server).trigger('backstage', 'deploy', { rev: 7 })).status, 200);
    assert.deepEqual(await within(received, GUARD_MS, 'the event'), { rev: 7 });
    const channels = await adminSdk(server).get({ path: '/channels' });
    assert.deepEqual(await channels.json(), { channels: { backstage: {} } });
    const metrics = await get(`${server.apiUrl}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body as string, /^herald_websocket_connections 1$/m);
  });

  test('/health and /ready stay on both', async () => {
    for (const base of [server.httpUrl, server.apiUrl]) {
      assert.deepEqual(await get(`${base}/health`), { status: 200, body: { status: 'ok' } });
      assert.deepEqual(await get(`${base}/ready`), { status: 200, body: { status: 'ready' } });
    }
  });
});

describe('the admin listener with TLS on the public port', { skip: opensslSkip }, () => {
  let pki: TestPki;
  let server: TestHerald;
  before(async () => {
    pki = await TestPki.create();
    const certificate = await pki.issue('server');
    server = await startHerald({
      tls: { cert: certificate.cert, key: certificate.key },
      api: { port: 0, public: false },
    });
  });
  after(async () => {
    await server?.stop();
    await pki?.remove();
  });

  test('stays plain HTTP', async () => {
    assert.equal(server.httpUrl.startsWith('https://'), true);
    assert.equal((await adminSdk(server).trigger('plain', 'x', {})).status, 200);
    assert.deepEqual(await get(`${server.apiUrl}/ready`), { status: 200, body: { status: 'ready' } });
  });
});

describe('herald start --api-host --api-port', () => {
  const runs: LineProcess[] = [];
  const herald = (args: string[], env: Record<string, string> = {}) => {
    const run = new LineProcess([HERALD_BIN, 'start', '--host', '127.0.0.1', '--port', '0', ...args], env);
    runs.push(run);
    return run;
  };
  let taken: Server;
  before(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await Promise.all(runs.map((run) => run.stop('SIGKILL')));
    await new Promise((resolve) => taken.close(resolve));
  });

  test('logs the admin port it bound, and serves the HTTP API only there with HERALD_API_PUBLIC=false', async () => {
    const run = herald(['--api-host', '127.0.0.1', '--api-port', '0'], { HERALD_API_PUBLIC: 'false' });
    const line = await within(
      run.next((l) =>
        /^admin listener \(HTTP API, \/metrics\) on http:\/\/127\.0\.0\.1:\d+$/.test(String(l.msg)),
      ),
      GUARD_MS,
      'the admin listener line',
    );
    const apiPort = line.port as number;
    assert.equal(line.msg, `admin listener (HTTP API, /metrics) on http://127.0.0.1:${apiPort}`);
    const port = (await run.next((l) => String(l.msg).includes('listening on http://'))).port as number;
    assert.match(run.stdout(), new RegExp(`HTTP API: http://127\\.0\\.0\\.1:${apiPort}/apps/app-id/events`));
    assert.deepEqual(await get(`http://127.0.0.1:${apiPort}/ready`), {
      status: 200,
      body: { status: 'ready' },
    });
    assert.equal((await get(`http://127.0.0.1:${apiPort}/metrics`)).status, 200);
    assert.equal((await get(`http://127.0.0.1:${port}/metrics`)).status, 404);
    assert.deepEqual(await within(run.stop(), GUARD_MS, 'herald to stop'), { code: 0, signal: null });
  });

  test('an admin port in use, or an address not of this machine: exit 1 with the reason', async () => {
    const inUse = (taken.address() as { port: number }).port;
    const cases: [string[], string][] = [
      [
        ['--api-host', '127.0.0.1', '--api-port', String(inUse)],
        `herald: cannot listen on 127.0.0.1:${inUse} (api.host, api.port; --api-host, --api-port): the address ` +
          'is in use: another process (or the other listener) listens there\n',
      ],
      [
        ['--api-host', '192.0.2.1', '--api-port', '0'],
        'herald: cannot listen on 192.0.2.1:0 (api.host, api.port; --api-host, --api-port): 192.0.2.1 is not ' +
          'an address of this machine\n',
      ],
      [
        ['--port', String(inUse)],
        `herald: cannot listen on 127.0.0.1:${inUse} (host, port; --host, --port): the address is in use: ` +
          'another process (or the other listener) listens there\n',
      ],
    ];
    for (const [args, stderr] of cases) {
      const run = herald(args);
      assert.deepEqual(await within(run.exited, GUARD_MS, `herald ${args.join(' ')} to exit`), {
        code: 1,
        signal: null,
      });
      assert.equal(run.stderr(), stderr);
      assert.doesNotMatch(run.stdout(), /listening/);
    }
  });

  test('api.public false without an admin port is a configuration error (exit 2)', async () => {
    const run = herald([], { HERALD_API_PUBLIC: 'false' });
    assert.deepEqual(await within(run.exited, GUARD_MS, 'herald to exit'), { code: 2, signal: null });
    assert.match(
      run.stderr(),
      /^ {2}api\.public: false needs api\.port \(--api-port\): otherwise no listener serves the HTTP API$/m,
    );
  });
});
