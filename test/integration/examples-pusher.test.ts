import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { finished } from '../helpers/cli.js';
import { exampleFile, type RunningExample, startExample } from '../helpers/examples.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { PYTHON } from '../helpers/python.js';
import { within } from '../helpers/raw-client.js';
import { distinctColours } from '../helpers/screenshot.js';

/**
 * The Pusher examples in examples/, run as their READMEs say (`node examples/<name>/server.mjs`, the
 * example's herald.json when it has one) against a real server, their pages in headless Chromium: each
 * test does what a user does and checks what the page shows, and that its screenshot is not blank.
 */

const GUARD_MS = 15_000;
const run = promisify(execFile);

const pythonSkip =
  !existsSync(PYTHON) && process.env.CI !== 'true'
    ? `${PYTHON} is not installed (apt-get install python3)`
    : false;

describe('the Pusher examples in headless Chromium', { skip: chromiumSkip }, () => {
  let browser: Browser;
  let herald: TestHerald | undefined;
  const examples: RunningExample[] = [];
  /** Uncaught errors of every page a test opened; none is expected. */
  let pageErrors: string[];

  before(async () => {
    browser = await within(launchChromium(), 30_000, 'chromium to start');
  });
  after(async () => {
    await browser?.close();
  });
  beforeEach(() => {
    pageErrors = [];
  });
  afterEach(async () => {
    for (const page of browser.contexts().flatMap((context) => context.pages())) await page.close();
    for (const example of examples.splice(0)) await example.stop();
    await herald?.stop();
    herald = undefined;
    assert.deepEqual(pageErrors, [], 'errors in the pages');
  });

  /** Herald with the example's herald.json when it has one, as `npm start -- --config` would read it. */
  const heraldFor = async (name: string) => {
    const file = exampleFile(`${name}/herald.json`);
    herald = await startHerald(existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {});
    return herald;
  };
  const example = async (name: string, env: Record<string, string> = {}) => {
    const running = await startExample(`${name}/server.mjs`, herald!.port, env);
    examples.push(running);
    return running;
  };
  const open = async (url: string): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`));
    await page.goto(url);
    return page;
  };
  const text = (page: Page, selector: string, hasText: string | RegExp) =>
    page.locator(selector, { hasText }).first().waitFor({ timeout: GUARD_MS });
  const screenshot = async (page: Page, what: string) => {
    const colours = await distinctColours(browser, await page.screenshot());
    assert.ok(colours > 5, `the ${what} screenshot is blank (${colours} colours)`);
  };

  test('notifications: a toast for each my-event, from the CLI, send.py and the page form', async () => {
    await heraldFor('notifications');
    const site = await example('notifications');
    const page = await open(site.url);
    await text(page, '#state', 'listening');
    const toast = (message: string) => page.locator('.toast', { hasText: message });

    // (a) The command line.
    const cli = await finished([
      'trigger',
      'my-channel',
      'my-event',
      '{"message":"hello world"}',
      '--url',
      herald!.httpUrl,
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    await toast('hello world').waitFor({ timeout: GUARD_MS });

    // (c) The page's form, through the example's POST /notify; an empty message is refused.
    await page.fill('#notify input[name="message"]', 'from the form');
    await page.click('#notify button');
    await toast('from the form').waitFor({ timeout: GUARD_MS });
    const refused = await fetch(new URL('notify', site.url), { method: 'POST', body: 'message=' });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: string }).error, /message must be/);

    await screenshot(page, 'notifications');
    await toast('hello world').getByRole('button', { name: 'Close' }).click();
    await toast('hello world').waitFor({ state: 'detached', timeout: GUARD_MS });
    assert.equal(await toast('from the form').count(), 1);
    // Unclosed, a toast goes after five seconds.
    await toast('from the form').waitFor({ state: 'detached', timeout: GUARD_MS });
  });

  test('notifications: send.py signs as pusher-http-python does and the page shows its message', {
    skip: pythonSkip,
  }, async () => {
    await heraldFor('notifications');
    const page = await open((await example('notifications')).url);
    await text(page, '#state', 'listening');
    const env = { ...process.env, HERALD_HOST: '127.0.0.1', HERALD_PORT: String(herald!.port) };
    const sent = await run(PYTHON, [exampleFile('notifications/send.py'), 'hello from Python'], { env });
    assert.equal(sent.stdout.trim(), '{}');
    await text(page, '.toast', 'hello from Python');

    // A wrong secret: the script says what Herald answered and fails.
    const refused = await run(PYTHON, [exampleFile('notifications/send.py'), 'x'], {
      env: { ...env, HERALD_APP_SECRET: 'wrong' },
    }).catch((error: { code: number; stderr: string }) => error);
    assert.ok('code' in refused && refused.code === 1);
    assert.match(refused.stderr, /^Herald answered 401: .*Invalid signature/);
  });

  test('whos-online: two tabs list each other, see each other typing, and a closed tab leaves', async () => {
    await heraldFor('whos-online');
    const site = await example('whos-online');
    const ada = await open(`${site.url}?name=Ada`);
    await text(ada, '#state', 'joined as Ada');
    const bob = await open(site.url);
    await bob.fill('#join input[name="name"]', 'Bob');
    await bob.click('#join button');
    await text(bob, '#state', 'joined as Bob');
    assert.ok(await bob.locator('#join').isHidden());

    await text(ada, '#members li', 'Bob');
    await text(bob, '#members li', 'Ada');
    assert.deepEqual(await ada.locator('#members li').allTextContents(), ['Ada (you)', 'Bob']);
    assert.equal(await ada.textContent('#count'), '(2)');

    await bob.locator('#say input').pressSequentially('hi Ada');
    await text(ada, '#members li', 'Bob is typing…');
    await bob.click('#say button');
    await text(ada, '#messages li', 'Bob: hi Ada');
    await text(bob, '#messages li', 'Bob: hi Ada');
    // The message ends Bob's typing.
    assert.deepEqual(await ada.locator('#members li').allTextContents(), ['Ada (you)', 'Bob']);
    await screenshot(ada, 'whos-online');

    await bob.close();
    await ada.locator('#members li', { hasText: 'Bob' }).waitFor({ state: 'detached', timeout: GUARD_MS });
    assert.equal(await ada.textContent('#count'), '(1)');
  });

  test('live-prices: a price every second; a tab opened later shows the last price at once', async () => {
    await heraldFor('live-prices');
    // Nothing published yet: the cache channel answers with a cache miss.
    let site = await example('live-prices', { PRICE_EVERY_MS: '3600000' });
    const first = await open(site.url);
    await text(first, '#updated', 'Waiting for the first price…');
    await site.stop();

    site = await example('live-prices');
    const time = first.locator('#updated time');
    await time.waitFor({ timeout: GUARD_MS });
    const at = await time.getAttribute('datetime');
    // The next price, a second later.
    await first.locator(`#updated time:not([datetime="${at}"])`).waitFor({ timeout: GUARD_MS });
    assert.match((await first.textContent('#price'))!, /^\d+\.\d\d$/);
    await screenshot(first, 'live-prices');
    await site.stop();

    // Nothing is published any more: the new tab's price can only come from Herald's cache.
    site = await example('live-prices', { PRICE_EVERY_MS: '3600000' });
    const late = await open(site.url);
    await late.locator('#updated time').waitFor({ timeout: GUARD_MS });
    assert.equal(await late.textContent('#price'), await first.textContent('#price'));
    assert.equal(
      await late.locator('#updated time').getAttribute('datetime'),
      await first.locator('#updated time').getAttribute('datetime'),
    );
  });

  test('private-inbox: a message to one signed-in user, then that user disconnected', async () => {
    await heraldFor('private-inbox');
    const site = await example('private-inbox');
    const signIn = async (user: string) => {
      const page = await open(site.url);
      await page.fill('#signin input[name="user"]', user);
      await page.click('#signin button');
      await text(page, '#who', `Signed in as ${user}`);
      assert.ok(await page.locator('#signin').isHidden());
      return page;
    };
    const ada = await signIn('ada');
    const bob = await signIn('bob');

    // Bob's page, as the admin, sends to ada: ada's inbox shows it, bob's does not.
    await bob.fill('#send input[name="user"]', 'ada');
    await bob.fill('#send input[name="text"]', 'Your invoice is ready');
    await bob.click('#send button');
    await text(bob, '#admin-result', 'Sent to ada');
    await text(ada, '#inbox li', 'Your invoice is ready');
    await bob.fill('#send input[name="user"]', 'bob');
    await bob.fill('#send input[name="text"]', 'A note to self');
    await bob.click('#send button');
    await text(bob, '#inbox li', 'A note to self');
    assert.deepEqual(await bob.locator('#inbox li').allTextContents().then(strip), ['A note to self']);
    assert.deepEqual(await ada.locator('#inbox li').allTextContents().then(strip), ['Your invoice is ready']);

    await bob.fill('#disconnect input[name="user"]', 'ada');
    await bob.click('#disconnect button');
    await text(bob, '#admin-result', 'Disconnected ada');
    await text(ada, '#disconnected', 'Disconnected by the server: You got disconnected by the app.');
    await text(ada, '#state', '(disconnected)');
    assert.equal(await ada.textContent('#who'), 'Signed out');
    assert.equal(await bob.textContent('#state'), '(connected)');
    await screenshot(ada, 'private-inbox');

    // Reconnecting signs in again, and messages arrive again.
    await ada.click('#reconnect');
    await text(ada, '#who', 'Signed in as ada');
    assert.ok(await ada.locator('#disconnected').isHidden());
    await bob.fill('#send input[name="user"]', 'ada');
    await bob.fill('#send input[name="text"]', 'Welcome back');
    await bob.click('#send button');
    await text(ada, '#inbox li', 'Welcome back');
  });
});

/** Inbox lines without their time. */
const strip = (lines: string[]) => lines.map((line) => line.replace(/\d{1,2}:\d\d:\d\d.*$/, ''));
