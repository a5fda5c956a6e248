import assert from 'node:assert/strict';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { hashPassword } from '../../src/dashboard/auth.js';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { APP, connected, nextEvent, sdkAuthorizer, startHerald, type TestHerald } from '../helpers/herald.js';
import type { Pusher } from '../helpers/pusher-js.js';
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
 * Browser-side code, as source text: the project's types have no DOM. `bluePixels(id)` counts a
 * canvas's blue pixels, the colour of the connections line.
 */
const BLUE_PIXELS = `
function bluePixels(id) {
  const canvas = document.getElementById(id);
  const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let n = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i + 2] > 200 && data[i] < 80) n++;
  return n;
}`;

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
      apps: [{ ...APP, clientEvents: true, webhooks: [{ url: receiver.url }] }],
      dashboard: { enabled: true, users: [{ name: 'ada', passwordHash: await hashPassword(PASSWORD) }] },
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
    const client = server.client();
    clients.push(client);
    await within(connected(client), GUARD_MS, 'pusher-js to connect');
    const news = client.subscribe('news');
    await within(nextEvent(news, 'pusher:subscription_succeeded'), GUARD_MS, 'subscribed');
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

  test('the charts are drawn from the stats', async () => {
    await tab('charts');
    // The connections line is blue: its pixels show the samples were drawn, not just the axes.
    const blue = `(() => { ${BLUE_PIXELS}; return bluePixels('chart-connections'); })()`;
    // Checked on each frame the page draws, in the page (waitForFunction evaluates a string, which the
    // dashboard's Content-Security-Policy forbids).
    const drawn = `new Promise((resolve) => { const check = () => ((${blue}) > 0 ? resolve(true) : requestAnimationFrame(check)); check(); })`;
    await within(page.evaluate<boolean>(drawn), GUARD_MS, 'the connections chart drawn');
    assert.ok((await page.evaluate<number>(blue)) > 0);
    await screenshot('charts');
  });

  test('a presence member appears with its info in the channels view', async () => {
    const sdk = server.sdk();
    const client = server.client(
      sdkAuthorizer(sdk, () => ({ user_id: 'grace', user_info: { name: 'Grace Hopper' } })),
    );
    clients.push(client);
    await within(connected(client), GUARD_MS, 'pusher-js to connect');
    const lobby = client.subscribe('presence-lobby');
    await within(nextEvent(lobby, 'pusher:subscription_succeeded'), GUARD_MS, 'subscribed');
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
    await screenshot('wamp');
  });

  test('the page fits a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await tab('console');
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
