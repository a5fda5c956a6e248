import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type PusherServer from 'pusher';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { APP, connected, nextEvent, sdkAuthorizer, startHerald, type TestHerald } from '../helpers/herald.js';
import type { PresenceChannel } from '../helpers/pusher-js.js';
import { within } from '../helpers/raw-client.js';

/**
 * pusher-js's browser build in headless Chromium against a real server: the page comes from a small
 * HTTP server that also plays the app's auth endpoint, signing with the `pusher` SDK.
 */

const GUARD_MS = 10_000;
const BROWSER_USER = { user_id: 'browser-1', user_info: { name: 'Browser' } };
const NODE_USER = { user_id: 'node-1', user_info: { name: 'Node' } };

/** What the page reports, in order; `next(kind)` takes the first unread report of that kind, waiting if needed. */
class Inbox {
  readonly #items: { kind: string; payload: unknown }[] = [];
  readonly #waiters: { kind: string; resolve: (payload: unknown) => void }[] = [];

  push(kind: string, payload: unknown): void {
    const i = this.#waiters.findIndex((w) => w.kind === kind);
    if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(payload);
    else this.#items.push({ kind, payload });
  }

  next<T>(kind: string): Promise<T> {
    const i = this.#items.findIndex((item) => item.kind === kind);
    if (i >= 0) return Promise.resolve(this.#items.splice(i, 1)[0]!.payload as T);
    return new Promise((resolve) => this.#waiters.push({ kind, resolve: resolve as (p: unknown) => void }));
  }

  all(kind: string): unknown[] {
    return this.#items.filter((item) => item.kind === kind).map((item) => item.payload);
  }
}

function page(herald: TestHerald): string {
  const options = {
    wsHost: '127.0.0.1',
    wsPort: herald.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    cluster: '',
    channelAuthorization: {
      endpoint: '/pusher/auth',
      transport: 'ajax',
      headers: { 'X-User-Id': BROWSER_USER.user_id },
    },
  };
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>herald</title>
<script src="/pusher.js"></script>
</head><body><script>
const pusher = (window.pusher = new Pusher(${JSON.stringify(APP.key)}, ${JSON.stringify(options)}));
pusher.connection.bind('state_change', (s) => {
  if (s.current === 'connected') report('connected', pusher.connection.socket_id);
  else if (s.current === 'failed' || s.current === 'unavailable') report('failed', s.current);
});
const news = pusher.subscribe('news');
news.bind('pusher:subscription_succeeded', () => report('news:subscribed', true));
news.bind('headline', (data) => report('news:headline', data));
const lobby = pusher.subscribe('presence-lobby');
lobby.bind('pusher:subscription_succeeded', (members) => {
  const list = [];
  members.each((m) => list.push(m));
  report('lobby:here', { count: members.count, me: members.me, members: list });
});
lobby.bind('pusher:subscription_error', (err) => report('lobby:error', err));
lobby.bind('pusher:member_added', (member) => report('lobby:member_added', member));
</script></body></html>`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The page, pusher-js's browser build and an auth endpoint; records each auth request it signs. */
function appServer(herald: TestHerald, sdk: PusherServer, auths: URLSearchParams[]): Server {
  const require = createRequire(import.meta.url);
  const pusherJs = readFileSync(require.resolve('pusher-js/dist/web/pusher.js'));
  return createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page(herald));
    } else if (req.method === 'GET' && req.url === '/pusher.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(pusherJs);
    } else if (req.method === 'POST' && req.url === '/pusher/auth') {
      const form = new URLSearchParams(await readBody(req));
      auths.push(form);
      const socketId = form.get('socket_id') ?? '';
      const channel = form.get('channel_name') ?? '';
      const user = req.headers['x-user-id'] === BROWSER_USER.user_id ? BROWSER_USER : undefined;
      if (channel.startsWith('presence-') && !user) {
        res.writeHead(403).end();
        return;
      }
      const auth = user
        ? sdk.authorizeChannel(socketId, channel, user)
        : sdk.authorizeChannel(socketId, channel);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(auth));
    } else {
      res.writeHead(404).end();
    }
  });
}

describe('pusher-js in headless Chromium', { skip: chromiumSkip }, () => {
  let herald: TestHerald;
  let sdk: PusherServer;
  let http: Server;
  let browser: Browser | undefined;
  let tab: Page;
  const inbox = new Inbox();
  const auths: URLSearchParams[] = [];

  before(async () => {
    herald = await startHerald();
    sdk = herald.sdk();
    http = appServer(herald, sdk, auths);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    browser = await within(launchChromium(), 30_000, 'chromium to start');
    tab = await browser.newPage();
    tab.on('pageerror', (err) => inbox.push('pageerror', err.message));
    await tab.exposeFunction('report', (kind: string, payload: unknown) => inbox.push(kind, payload));
    await tab.goto(`http://127.0.0.1:${(http.address() as AddressInfo).port}/`);
  });

  after(async () => {
    await browser?.close();
    http?.closeAllConnections();
    await new Promise((resolve) => (http ? http.close(resolve) : resolve(undefined)));
    await herald?.stop();
  });

  test('the page connects and gets a socket id', async () => {
    const socketId = await within(inbox.next<string>('connected'), GUARD_MS, 'the page to connect');
    assert.match(socketId, /^\d+\.\d+$/);
    assert.deepEqual(inbox.all('failed'), []);
  });

  test('a public subscription receives an event triggered with the SDK', async () => {
    assert.equal(await within(inbox.next('news:subscribed'), GUARD_MS, 'news subscription'), true);
    const response = await sdk.trigger('news', 'headline', { title: 'Ünïcode & <tags>', n: 3 });
    assert.equal(response.status, 200);
    assert.deepEqual(await within(inbox.next('news:headline'), GUARD_MS, 'the headline'), {
      title: 'Ünïcode & <tags>',
      n: 3,
    });
  });

  test('a presence subscription authorized by the auth endpoint sees itself', async () => {
    const here = await within(
      inbox.next<{ count: number; me: unknown; members: unknown[] }>('lobby:here'),
      GUARD_MS,
      'presence subscription',
    );
    assert.deepEqual(inbox.all('lobby:error'), []);
    assert.equal(here.count, 1);
    assert.deepEqual(here.me, { id: BROWSER_USER.user_id, info: BROWSER_USER.user_info });
    assert.deepEqual(here.members, [{ id: BROWSER_USER.user_id, info: BROWSER_USER.user_info }]);

    // pusher-js asked the endpoint with the socket id it connected with, and only for the presence channel.
    const socketId = await tab.evaluate(
      () =>
        (globalThis as unknown as { pusher: { connection: { socket_id: string } } }).pusher.connection
          .socket_id,
    );
    assert.deepEqual(
      auths.map((a) => [a.get('socket_id'), a.get('channel_name')]),
      [[socketId, 'presence-lobby']],
    );
  });

  test('the page sees member_added when a Node pusher-js client joins', async () => {
    const client = herald.client(sdkAuthorizer(sdk, () => NODE_USER));
    await within(connected(client), GUARD_MS, 'the Node client to connect');
    const lobby = client.subscribe('presence-lobby') as PresenceChannel;
    const members = await within(
      nextEvent<{ count: number; get(id: string): unknown }>(lobby, 'pusher:subscription_succeeded'),
      GUARD_MS,
      'Node presence subscription',
    );
    assert.equal(members.count, 2);
    assert.deepEqual(members.get(BROWSER_USER.user_id), {
      id: BROWSER_USER.user_id,
      info: BROWSER_USER.user_info,
    });

    assert.deepEqual(await within(inbox.next('lobby:member_added'), GUARD_MS, 'member_added in the page'), {
      id: NODE_USER.user_id,
      info: NODE_USER.user_info,
    });
    assert.deepEqual(inbox.all('pageerror'), []);
  });
});
