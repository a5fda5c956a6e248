import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';

/**
 * pusher-js's browser build in headless Chromium, loaded from two local HTTP servers on different
 * ports (two origins), against an app that allows only the first (README "App settings").
 */

const GUARD_MS = 10_000;

/** What a page reports; `next(kind)` takes the first unread report of that kind, waiting if needed. */
class Inbox {
  readonly items: { kind: string; payload: unknown }[] = [];
  readonly #waiters: { kind: string; resolve: (payload: unknown) => void }[] = [];

  push(kind: string, payload: unknown): void {
    const i = this.#waiters.findIndex((w) => w.kind === kind);
    if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(payload);
    else this.items.push({ kind, payload });
  }

  next<T>(kind: string): Promise<T> {
    const i = this.items.findIndex((item) => item.kind === kind);
    if (i >= 0) return Promise.resolve(this.items.splice(i, 1)[0]!.payload as T);
    return new Promise((resolve) => this.#waiters.push({ kind, resolve: resolve as (p: unknown) => void }));
  }

  all(kind: string): unknown[] {
    return this.items.filter((item) => item.kind === kind).map((item) => item.payload);
  }
}

function page(wsPort: number): string {
  const options = { wsHost: '127.0.0.1', wsPort, forceTLS: false, enabledTransports: ['ws'], cluster: '' };
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>herald origins</title>
<script src="/pusher.js"></script>
</head><body><script>
const pusher = (window.pusher = new Pusher(${JSON.stringify(APP.key)}, ${JSON.stringify(options)}));
pusher.connection.bind('state_change', (s) => report('state', s.current));
pusher.connection.bind('error', (err) => report('error', err));
const news = pusher.subscribe('news');
news.bind('pusher:subscription_succeeded', () => report('news:subscribed', true));
news.bind('headline', (data) => report('news:headline', data));
</script></body></html>`;
}

/** The page and pusher-js's browser build; `wsPort` is read when the page is asked for. */
function pageServer(wsPort: () => number): Server {
  const require = createRequire(import.meta.url);
  const pusherJs = readFileSync(require.resolve('pusher-js/dist/web/pusher.js'));
  return createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page(wsPort()));
    } else if (req.method === 'GET' && req.url === '/pusher.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(pusherJs);
    } else {
      res.writeHead(404).end();
    }
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('pusher-js in headless Chromium from an allowed and a refused origin', {
  skip: chromiumSkip,
}, () => {
  let herald: TestHerald | undefined;
  let allowedSite: Server | undefined;
  let refusedSite: Server | undefined;
  let browser: Browser | undefined;
  let allowedOrigin: string;
  let refusedOrigin: string;

  async function visit(url: string): Promise<{ tab: Page; inbox: Inbox }> {
    const inbox = new Inbox();
    const tab = await browser!.newPage();
    tab.on('pageerror', (err) => inbox.push('pageerror', err.message));
    await tab.exposeFunction('report', (kind: string, payload: unknown) => inbox.push(kind, payload));
    await tab.goto(`${url}/`);
    return { tab, inbox };
  }

  before(async () => {
    allowedSite = pageServer(() => herald!.port);
    refusedSite = pageServer(() => herald!.port);
    allowedOrigin = await listen(allowedSite);
    refusedOrigin = await listen(refusedSite);
    assert.notEqual(allowedOrigin, refusedOrigin);
    herald = await startHerald({ apps: [{ ...APP, allowedOrigins: [allowedOrigin] }] });
    browser = await within(launchChromium(), 30_000, 'chromium to start');
  });

  after(async () => {
    await browser?.close();
    await close(allowedSite);
    await close(refusedSite);
    await herald?.stop();
  });

  test('the page from the allowed origin connects and receives an event', async () => {
    const { inbox } = await visit(allowedOrigin);
    assert.equal(await within(inbox.next('state'), GUARD_MS, 'connecting'), 'connecting');
    assert.equal(await within(inbox.next('state'), GUARD_MS, 'connected'), 'connected');
    assert.equal(await within(inbox.next('news:subscribed'), GUARD_MS, 'news subscription'), true);
    const response = await herald!.sdk().trigger('news', 'headline', { title: 'from the allowed origin' });
    assert.equal(response.status, 200);
    assert.deepEqual(await within(inbox.next('news:headline'), GUARD_MS, 'the headline'), {
      title: 'from the allowed origin',
    });
    assert.deepEqual(inbox.all('error'), []);
    assert.deepEqual(inbox.all('pageerror'), []);
  });

  test('the page from another origin sees pusher:error 4009 and does not connect or retry', async () => {
    const { tab, inbox } = await visit(refusedOrigin);
    assert.equal(await within(inbox.next('state'), GUARD_MS, 'connecting'), 'connecting');
    assert.deepEqual(await within(inbox.next('error'), GUARD_MS, 'the 4009 error'), {
      type: 'WebSocketError',
      error: { type: 'PusherError', data: { code: 4009, message: 'Origin not allowed' } },
    });
    // 4000–4099 means "do not reconnect" to pusher-js (Pusher docs, "Connection closure").
    assert.equal(await within(inbox.next('state'), GUARD_MS, 'disconnected'), 'disconnected');
    const after = await tab.evaluate(() => {
      const connection = (
        globalThis as unknown as {
          pusher: { connection: { state: string; retryTimer: unknown; runner: unknown } };
        }
      ).pusher.connection;
      return {
        state: connection.state,
        retryPending: (connection.retryTimer ?? null) !== null,
        connecting: (connection.runner ?? null) !== null,
      };
    });
    assert.deepEqual(after, { state: 'disconnected', retryPending: false, connecting: false });
    assert.deepEqual(inbox.all('news:subscribed'), []);
    assert.deepEqual(inbox.all('state'), []);
    assert.deepEqual(inbox.all('pageerror'), []);
  });
});
