import assert from 'node:assert/strict';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { dashboardOf, signInPage } from '../helpers/dashboard.js';
import { APP, connected, nextEvent, sdkAuthorizer, startHerald, type TestHerald } from '../helpers/herald.js';
import type { Options, Pusher } from '../helpers/pusher-js.js';
import { within } from '../helpers/raw-client.js';
import { distinctColours } from '../helpers/screenshot.js';
import { RawWampClient } from '../helpers/wamp-client.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * The dashboard's views in headless Chromium against a real server: pusher-js clients, a WAMP session
 * and a webhook endpoint that answers 500 make what the views show. Each view's screenshot is checked;
 * it goes to a temporary folder, or with HERALD_UPDATE_SCREENSHOTS=1 to docs/images for
 * docs/dashboard.md, so that a test run leaves the checkout as it was.
 */

const PASSWORD = 'dashboard ui test password';
const GUARD_MS = 10_000;
const IMAGES =
  process.env.HERALD_UPDATE_SCREENSHOTS === '1'
    ? new URL('../../../docs/images/', import.meta.url)
    : pathToFileURL(`${await mkdtemp(join(tmpdir(), 'herald-dashboard-'))}/`);

/**
 * Browser-side code, as source text: the project's types have no DOM. `rise(id, rgb)` is how high the
 * line of colour `rgb` goes on chart `id`, as a fraction of the chart's height above its zero line
 * (about 0 for a line at zero, -1 for no line).
 */
const RISE = `
function rise(id, [r, g, b]) {
  const canvas = document.getElementById(id);
  const { width, height } = canvas;
  const { data } = canvas.getContext('2d').getImageData(0, 0, width, height);
  // lineChart's zero line is 18 CSS pixels above the bottom, its top 8 below the top.
  const ratio = window.devicePixelRatio || 1;
  const zero = (canvas.clientHeight - 18) * ratio;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 40)
        return (zero - y) / (zero - 8 * ratio);
    }
  }
  return -1;
}`;

/** Each chart's lines: the canvas and the colour app.js draws each series in. */
const SERIES = {
  connections: ['chart-connections', [0x25, 0x63, 0xeb]],
  messagesIn: ['chart-messages', [0x16, 0xa3, 0x4a]],
  messagesOut: ['chart-messages', [0xd9, 0x77, 0x06]],
  apiRequests: ['chart-api', [0x7c, 0x3a, 0xed]],
  webhookFailures: ['chart-webhooks', [0xdc, 0x26, 0x26]],
} as const;
type Series = keyof typeof SERIES;
/** A line this high (a tenth of the chart) has a sample above zero: a line at zero rises about 0.01. */
const MOVED = 0.1;
/** The app whose charts the charts test watches from its first request on. */
const CHARTS = { id: 'charts', key: 'charts-key', secret: 'charts-secret' };

describe('the dashboard in headless Chromium', { skip: chromiumSkip }, () => {
  let server: TestHerald;
  let receiver: WebhookReceiver;
  let browser: Browser;
  let page: Page;
  const clients: Pusher[] = [];
  let wamp: RawWampClient | undefined;

  before(async () => {
    receiver = await WebhookReceiver.start(() => 500);
    server = await startHerald({
      apps: [APP, CHARTS].map((app) => ({ ...app, clientEvents: true, webhooks: [{ url: receiver.url }] })),
      dashboard: await dashboardOf(PASSWORD),
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await mkdir(IMAGES, { recursive: true });
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    wamp?.close();
    await browser?.close();
    await server?.stop();
    await receiver?.close();
  });

  /** Saves the page as dashboard-`view`.png in IMAGES and checks it is not of one colour. */
  const screenshot = async (view: string) => {
    const png = await page.screenshot({ path: new URL(`dashboard-${view}.png`, IMAGES).pathname });
    assert.ok((await distinctColours(browser, png)) > 5, `the ${view} screenshot is blank`);
  };
  const consoleRow = (text: string) => page.locator('#app-console tbody tr.event', { hasText: text }).first();
  const tab = (view: string) => page.click(`#tabs button[data-view="${view}"]`);
  /** A pusher-js client of `key` with `options`, connected and subscribed to `name`. */
  const subscriber = async (name: string, options: Partial<Options> = {}, key: string = APP.key) => {
    const client = server.client(options, key);
    clients.push(client);
    await within(connected(client), GUARD_MS, 'pusher-js to connect');
    const channel = client.subscribe(name);
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, `${name} subscribed`);
    return channel;
  };

  const rise = (series: Series) =>
    `rise(${JSON.stringify(SERIES[series][0])}, ${JSON.stringify(SERIES[series][1])})`;
  /**
   * Waits until `condition` (browser-side source over `rise`) holds, checked on each frame the page
   * draws (waitForFunction evaluates a string, which the dashboard's Content-Security-Policy forbids).
   */
  const charted = (condition: string, what: string) =>
    within(
      page.evaluate<boolean>(
        `(() => { ${RISE}; return new Promise((resolve) => { const check = () => ((${condition}) ? resolve(true) : requestAnimationFrame(check)); check(); }); })()`,
      ),
      GUARD_MS,
      what,
    );
  const heights = () =>
    page.evaluate<number[]>(
      `(() => { ${RISE}; return [${Object.keys(SERIES).map((series) => rise(series as Series))}]; })()`,
    );

  test('a wrong password shows the error; the right one opens the console', async () => {
    await page.goto(`${server.httpUrl}/dashboard`);
    await page.locator('#login').waitFor();
    await screenshot('sign-in');
    await page.fill('#login input[name="name"]', 'ada');
    await page.fill('#login input[name="password"]', 'wrong');
    await page.click('#login button[type="submit"]');
    await page.locator('#login-error', { hasText: 'Wrong name or password' }).waitFor({ timeout: GUARD_MS });
    await page.fill('#login input[name="password"]', PASSWORD);
    await page.click('#login button[type="submit"]');
    await page.locator('#main').waitFor({ timeout: GUARD_MS });
    assert.equal(await page.textContent('#user'), 'ada');
    assert.equal(await page.inputValue('#app'), APP.id);
    await page.locator('#app-console .status', { hasText: 'live' }).waitFor({ timeout: GUARD_MS });
  });

  test("the console shows a client's connection, its client event and a failed webhook", async () => {
    const client = server.client(sdkAuthorizer(server.sdk()));
    clients.push(client);
    const socketId = await within(connected(client), GUARD_MS, 'pusher-js to connect');
    await consoleRow(socketId).waitFor({ timeout: GUARD_MS });
    assert.match((await consoleRow(socketId).textContent())!, /connection_opened/);

    const room = client.subscribe('private-room');
    await within(nextEvent(room, 'pusher:subscription_succeeded'), GUARD_MS, 'subscribed');
    room.trigger('client-hello', { text: '<img src=x onerror=alert(1)>' });
    const row = consoleRow('client-hello');
    await row.waitFor({ timeout: GUARD_MS });
    assert.match((await row.textContent())!, /client_event/);
    // The payload opens as text: markup in it stays text.
    await row.click();
    const payload = page.locator('#app-console tr.payload pre').first();
    assert.match((await payload.textContent())!, /<img src=x onerror=alert\(1\)>/);
    assert.equal(await page.locator('#app-console tr.payload img').count(), 0);

    // The channel's occupied webhook goes to an endpoint that answers 500.
    await consoleRow('webhook_failed').waitFor({ timeout: GUARD_MS });
    assert.ok(receiver.requests.some((r) => r.answer === 500));

    await screenshot('console');
    await page.fill('#app-console input[name="type"]', 'client_event');
    assert.equal(await page.locator('#app-console tbody tr.event').count(), 1);
    await page.fill('#app-console input[name="type"]', '');
  });

  test('the event creator refuses data that is not JSON, then sends an event the client receives', async () => {
    const news = await subscriber('news');
    await tab('events');
    await page.fill('#event-form input[name="channel"]', 'news');
    await page.fill('#event-form input[name="event"]', 'headline');
    await page.fill('#event-form textarea[name="data"]', '{"title": ');
    await page.click('#event-form button[type="submit"]');
    await page.locator('#event-status', { hasText: 'not JSON' }).waitFor({ timeout: GUARD_MS });
    await page.fill('#event-form textarea[name="data"]', '{"title": "Hello"}');
    const received = nextEvent(news, 'headline');
    await page.click('#event-form button[type="submit"]');
    assert.deepEqual(await within(received, GUARD_MS, 'the headline'), { title: 'Hello' });
    await page.locator('#event-status', { hasText: 'Sent headline on news' }).waitFor({ timeout: GUARD_MS });
    await screenshot('events');
    await tab('console');
    const row = consoleRow('headline');
    await row.waitFor({ timeout: GUARD_MS });
    assert.match((await row.textContent())!, /api_message/);
  });

  test('each chart moves when its traffic happens: API requests, connections, messages in and out, webhook failures', async () => {
    await page.selectOption('#app', CHARTS.id);
    try {
      await tab('charts');
      // Nothing has happened in the app yet: once its stats are drawn, no chart has a line.
      const all = Object.keys(SERIES) as Series[];
      await charted(all.map((series) => `${rise(series)} === -1`).join(' && '), 'the empty charts');
      assert.deepEqual(await heights(), [-1, -1, -1, -1, -1]);

      // Requests to the HTTP API alone, before any client connects.
      const sdk = server.sdk(CHARTS);
      for (let i = 0; i < 3; i++) await sdk.trigger('prices', 'tick', { i });
      await charted(`${rise('apiRequests')} > ${MOVED}`, 'the API requests chart to rise');

      // Two clients: one sends client events on a private channel it has alone (messages in, more than
      // out, so that the in line shows above the out line where they share a second), the other gets
      // an event published to it (messages out). The private channel's occupied webhook goes to an
      // endpoint that answers 500.
      const [solo, news] = await Promise.all([
        subscriber('private-solo', sdkAuthorizer(sdk), CHARTS.key),
        subscriber('news', {}, CHARTS.key),
      ]);
      for (let i = 0; i < 8; i++) solo.trigger('client-note', { i });
      const headline = nextEvent(news, 'headline');
      await sdk.trigger('news', 'headline', {});
      await within(headline, GUARD_MS, 'the headline');
      for (const series of ['connections', 'messagesIn', 'messagesOut', 'webhookFailures'] as const) {
        await charted(`${rise(series)} > ${MOVED}`, `the ${series} line to rise`);
      }
      assert.ok(receiver.requests.some((r) => r.answer === 500));
      assert.ok((await heights()).every((height) => height > MOVED));
      await screenshot('charts');
    } finally {
      await page.selectOption('#app', APP.id);
    }
  });

  test("a cache channel's cached event shows in the channels view", async () => {
    const prices = await subscriber('cache-prices');
    await tab('channels');
    await page.fill('#channel-filter', 'prices');
    const entry = page.locator('#channel-list tr', { hasText: 'cache-prices' });
    await entry.waitFor({ timeout: GUARD_MS });
    assert.deepEqual(await entry.locator('td').allTextContents(), ['cache-prices', 'cache', '1']);
    // Nothing was published yet: the channel has no cached event.
    await entry.click();
    const detail = page.locator('#channel-detail');
    await detail.locator('h3', { hasText: 'cache-prices' }).waitFor({ timeout: GUARD_MS });
    assert.match((await detail.textContent())!, /Cached event\s*None/);

    const received = nextEvent(prices, 'price');
    await server.sdk().trigger('cache-prices', 'price', { eur: 1.25 });
    assert.deepEqual(await within(received, GUARD_MS, 'the price'), { eur: 1.25 });
    await entry.click();
    const cached = detail.locator('pre');
    await cached.waitFor({ timeout: GUARD_MS });
    const shown = JSON.parse((await cached.textContent())!) as { event: string; data: string };
    assert.equal(shown.event, 'price');
    assert.deepEqual(JSON.parse(shown.data), { eur: 1.25 });
  });

  test('a presence member appears with its info in the channels view', async () => {
    const grace = () => ({ user_id: 'grace', user_info: { name: 'Grace Hopper' } });
    await subscriber('presence-lobby', sdkAuthorizer(server.sdk(), grace));
    await tab('channels');
    await page.fill('#channel-filter', 'lobby');
    const entry = page.locator('#channel-list tr', { hasText: 'presence-lobby' });
    await entry.waitFor({ timeout: GUARD_MS });
    // The other channels go once the filter is applied.
    await page.locator('#channel-list tr').nth(1).waitFor({ state: 'detached', timeout: GUARD_MS });
    assert.equal(await page.locator('#channel-list tr').count(), 1);
    await entry.click();
    await page.locator('#channel-detail .members li', { hasText: 'grace' }).waitFor({ timeout: GUARD_MS });
    assert.match((await page.textContent('#channel-detail'))!, /Grace Hopper/);
    await screenshot('channels');
  });

  test('a WAMP session shows in its realm', async () => {
    wamp = await RawWampClient.join(`ws://127.0.0.1:${server.port}/ws`, { realm: 'realm1' });
    await wamp.subscribe('com.example.news');
    await tab('wamp');
    const realm = page.locator('#realm-list tr', { hasText: 'realm1' });
    await realm.waitFor({ timeout: GUARD_MS });
    await realm.click();
    await page
      .locator('#realm-sessions tr', { hasText: String(wamp.sessionId) })
      .waitFor({ timeout: GUARD_MS });
    assert.match((await page.textContent('#realm-subscriptions'))!, /com\.example\.news/);
    await page.locator('#realm-console .status', { hasText: 'live' }).waitFor({ timeout: GUARD_MS });
    // A publication shows on the realm's console, with the session that made it.
    const request = wamp.id();
    wamp.send([16, request, { acknowledge: true }, 'com.example.news', ['hello']]);
    await within(wamp.reply(request, [17, 8]), GUARD_MS, 'PUBLISHED');
    const row = page.locator('#realm-console tbody tr.event', { hasText: 'publication' });
    await row.waitFor({ timeout: GUARD_MS });
    assert.match((await row.textContent())!, new RegExp(`com\\.example\\.news${wamp.sessionId}`));
    await screenshot('wamp');
  });

  test('the page fits a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await tab('console');
    // A row in the console: its long cells wrap within the screen. The console was closed when the
    // app changed on another view; it opens again with its view.
    await page.locator('#app-console .status', { hasText: 'live' }).waitFor({ timeout: GUARD_MS });
    await server.sdk().trigger('news', 'headline', { title: 'On a phone' });
    await consoleRow('headline').waitFor({ timeout: GUARD_MS });
    const width = await page.evaluate<number>('document.documentElement.scrollWidth');
    assert.ok(width <= 390, `the page is ${width}px wide`);
    await screenshot('phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('sign-out, then a reload shows the sign-in form', async () => {
    await page.click('#logout');
    await page.locator('#login').waitFor({ timeout: GUARD_MS });
    await page.reload();
    await page.locator('#login').waitFor({ timeout: GUARD_MS });
    assert.equal(await page.locator('#main').isHidden(), true);
  });
});

describe('a dashboard session that ends while its page is open, in headless Chromium', {
  skip: chromiumSkip,
}, () => {
  /** Long enough to sign in and open a view on a busy machine; short enough to wait for. */
  const TTL_MS = 4000;
  let server: TestHerald;
  let browser: Browser;

  before(async () => {
    server = await startHerald({
      dashboard: await dashboardOf(PASSWORD, { sessionTtlMs: TTL_MS }),
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** A page of its own browser context (its own cookies), signed in, showing `view`. */
  const signedIn = async (view: string) => {
    const page = await (await browser.newContext()).newPage();
    await signInPage(page, server.httpUrl, 'ada', PASSWORD);
    await page.click(`#tabs button[data-view="${view}"]`);
    return page;
  };

  /** Waits for the sign-in form in place of the views, and checks the server no longer knows the page. */
  const signedOut = async (page: Page, within: number) => {
    await page.locator('#login').waitFor({ timeout: within });
    assert.equal(await page.locator('#main').isHidden(), true);
    const status = await page.evaluate<number>(
      "fetch('/dashboard/api/session', { credentials: 'same-origin' }).then((r) => r.status)",
    );
    assert.equal(status, 401);
  };

  test('the console, streaming, and an idle view both return to the sign-in form when the session expires', async () => {
    const [streaming, idle] = await Promise.all([signedIn('console'), signedIn('channels')]);
    await streaming.locator('#app-console .status', { hasText: 'live' }).waitFor({ timeout: GUARD_MS });
    await idle.locator('#view-channels').waitFor({ timeout: GUARD_MS });
    await Promise.all([signedOut(streaming, TTL_MS + GUARD_MS), signedOut(idle, TTL_MS + GUARD_MS)]);
    assert.equal(await streaming.textContent('#app-console .status'), '0 events · stopped');
  });

  test('a session the browser lost (its cookie gone) shows the sign-in form at the next request', async () => {
    const page = await signedIn('charts');
    await page.context().clearCookies();
    // The charts ask for their stats every second.
    await signedOut(page, GUARD_MS);
  });
});
