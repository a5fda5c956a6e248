import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type PusherServer from 'pusher';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { publishOrders, range } from '../helpers/recovery.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/wait.js';

/**
 * Message recovery in headless Chromium (docs/recovery.md): pusher-js's browser build with the
 * recovery helper loaded without a bundler, once as a classic script (`window.HeraldRecovery`) and once
 * as an ES module, connected through a TCP proxy that cuts the connection while events are published.
 */

const GUARD_MS = 20_000;
const built = (file: string) =>
  readFileSync(new URL(`../../../packages/herald-recovery/dist/${file}`, import.meta.url));

/** The page of `kind`: the helper from a `<script>` tag, or imported by a module script. */
function page(kind: 'script' | 'module', port: number): string {
  const options = {
    wsHost: '127.0.0.1',
    wsPort: port,
    forceTLS: false,
    enabledTransports: ['ws'],
    cluster: '',
  };
  const channel = `orders-${kind}`;
  const body = `
const pusher = new Pusher(${JSON.stringify(APP.key)}, ${JSON.stringify(options)});
withRecovery(pusher, { onResumed: (resumed) => report('resumed', resumed) });
const channel = pusher.subscribe(${JSON.stringify(channel)});
channel.bind('pusher:subscription_succeeded', () => report('subscribed', true));
channel.bind('order', (data) => report('order', data.n));`;
  const loader =
    kind === 'script'
      ? `<script src="/herald-recovery.global.js"></script><script>const { withRecovery } = window.HeraldRecovery;${body}</script>`
      : `<script type="module">import { withRecovery } from '/herald-recovery.js';${body}</script>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>recovery</title>
<script src="/pusher.js"></script></head><body>${loader}</body></html>`;
}

/** The two pages, pusher-js's browser build and the helper's two builds. */
function pageServer(port: () => number): Server {
  const require = createRequire(import.meta.url);
  const files: Record<string, Buffer> = {
    '/pusher.js': readFileSync(require.resolve('pusher-js/dist/web/pusher.js')),
    '/herald-recovery.js': built('herald-recovery.js'),
    '/herald-recovery.global.js': built('herald-recovery.global.js'),
  };
  return createServer((req, res) => {
    const kind = req.url === '/script' ? 'script' : req.url === '/module' ? 'module' : undefined;
    if (kind) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page(kind, port()));
    } else if (req.url && files[req.url]) {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(files[req.url]);
    } else {
      res.writeHead(404).end();
    }
  });
}

/** What one page reported, in order. */
interface Reports {
  orders: number[];
  resumed: { channel: string; recovered: boolean; epoch: string | null }[];
  subscribed: boolean;
  errors: string[];
}

describe('recovery in headless Chromium', { skip: chromiumSkip }, () => {
  let herald: TestHerald;
  let sdk: PusherServer;
  let proxy: TcpProxy;
  let http: Server;
  let browser: Browser | undefined;
  const reports = new Map<string, Reports>();

  async function open(kind: 'script' | 'module'): Promise<Page> {
    const tab = await browser!.newPage();
    const seen: Reports = { orders: [], resumed: [], subscribed: false, errors: [] };
    reports.set(kind, seen);
    tab.on('pageerror', (err) => seen.errors.push(err.message));
    await tab.exposeFunction('report', (what: string, payload: never) => {
      if (what === 'order') seen.orders.push(payload);
      else if (what === 'resumed') seen.resumed.push(payload);
      else if (what === 'subscribed') seen.subscribed = true;
    });
    await tab.goto(`http://127.0.0.1:${(http.address() as AddressInfo).port}/${kind}`);
    return tab;
  }

  before(async () => {
    herald = await startHerald({
      apps: [{ ...APP, maxBatchSize: 100, history: { streams: [{ channels: ['orders-*'] }] } }],
    });
    sdk = herald.sdk();
    proxy = await TcpProxy.start(herald.httpUrl, 0);
    http = pageServer(() => proxy.port);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    browser = await within(launchChromium(), 30_000, 'chromium to start');
  });

  after(async () => {
    await browser?.close();
    http?.closeAllConnections();
    await new Promise((resolve) => (http ? http.close(resolve) : resolve(undefined)));
    await proxy?.close();
    await herald?.stop();
  });

  test('events published while the connection is cut arrive after it, once each and in order', async () => {
    const tabs = [await open('script'), await open('module')];
    const kinds = ['script', 'module'] as const;
    await until(() => kinds.every((k) => reports.get(k)!.subscribed), 'both pages subscribed', GUARD_MS);
    for (const kind of kinds) await publishOrders(sdk, `orders-${kind}`, 1, 3);
    await until(() => kinds.every((k) => reports.get(k)!.orders.length === 3), 'events 1–3', GUARD_MS);
    proxy.cut();
    for (const kind of kinds) await publishOrders(sdk, `orders-${kind}`, 4, 50);
    proxy.release();
    await until(() => kinds.every((k) => reports.get(k)!.resumed.length === 1), 'herald:resumed', GUARD_MS);
    for (const kind of kinds) {
      const seen = reports.get(kind)!;
      assert.deepEqual(
        seen.resumed.map((r) => [r.channel, r.recovered]),
        [[`orders-${kind}`, true]],
        kind,
      );
      assert.deepEqual(seen.orders, range(1, 50), kind);
      assert.deepEqual(seen.errors, [], kind);
    }
    for (const tab of tabs) await tab.close();
  });
});
