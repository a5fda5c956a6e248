import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type PusherServer from 'pusher';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { dashboardOf, signInPage } from '../helpers/dashboard.js';
import { connected, nextEvent, startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { RawWampClient } from '../helpers/wamp-client.js';

/**
 * The dashboard's debug console in headless Chromium against a real server: filters, pause and
 * resume, clear, copy as JSON, the marker of events dropped under a real overload, the bound on its
 * rows, and a WAMP realm's console. Each test watches an app of its own, so that no other test's
 * events show in it.
 */

const PASSWORD = 'console ui test password';
const GUARD_MS = 10_000;
/** The events a console keeps (app.js, MAX_ROWS; docs/dashboard.md, "the last 1,000 events"). */
const MAX_ROWS = 1000;
/** The most channels one HTTP API publish may name (the default `maxChannelsPerTrigger`). */
const CHANNELS_PER_TRIGGER = 100;
/** A name the browser is told is 127.0.0.1, to reach the server as another host (reserved by RFC 2606). */
const ELSEWHERE = 'dashboard.test';

const appNamed = (id: string) => ({ id, key: `${id}-key`, secret: `${id}-secret` });
const FILTERS = appNamed('filters');
const PAUSING = appNamed('pausing');
const COPYING = appNamed('copying');
const FLOOD = appNamed('flood');
const BOUND = appNamed('bound');

/** A console's rows as the page shows them, each the text of its cells; a marker is one cell. */
const table = (page: Page, console = '#app-console'): Promise<string[][]> =>
  page.evaluate<string[][]>(
    `[...document.querySelectorAll('${console} tbody tr.event')].map((tr) => [...tr.cells].map((td) => td.textContent))`,
  );

/** The console row of the event named exactly `name`. */
const eventRow = (page: Page, name: string) =>
  page.locator('#app-console tbody tr.event', {
    has: page.locator('td:nth-child(4)', { hasText: new RegExp(`^${name}$`) }),
  });

/** `{"type": "dropped", "count": n}` rows: their counts. */
const droppedCounts = (rows: string[][]) =>
  rows.flatMap((cells) => {
    const m = cells.length === 1 ? /^(\d+) events? dropped$/.exec(cells[0]!) : null;
    return m ? [Number(m[1])] : [];
  });

/** The names of `count` channels starting with `prefix`, as many as one publish may name. */
const channelNames = (prefix: string, count = CHANNELS_PER_TRIGGER) =>
  Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

describe('the debug console in headless Chromium', { skip: chromiumSkip }, () => {
  let server: TestHerald;
  let browser: Browser;
  let page: Page;
  const wamps: RawWampClient[] = [];

  before(async () => {
    server = await startHerald({
      apps: [FILTERS, PAUSING, COPYING, FLOOD, BOUND].map((app) => ({ ...app, clientEvents: true })),
      dashboard: await dashboardOf(PASSWORD),
    });
    browser = await launchChromium();
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      permissions: ['clipboard-read', 'clipboard-write'],
    });
    page = await context.newPage();
    await signInPage(page, server.httpUrl, 'ada', PASSWORD);
  });

  after(async () => {
    for (const wamp of wamps) wamp.close();
    await browser?.close();
    await server?.stop();
  });

  /** Switches the page to the console of `app` and waits until its stream is open and empty. */
  const watch = async (target: Page, app: { id: string }) => {
    await target.click('#tabs button[data-view="console"]');
    await target.selectOption('#app', app.id);
    await target
      .locator('#app-console .status', { hasText: /^0 events · live$/ })
      .waitFor({ timeout: GUARD_MS });
  };

  /**
   * Publishes `name-0`, `name-1`… on `channel` one at a time until one shows on the console: the ones
   * before it were shown or dropped, and its marker has come. Resolves with how many were published.
   */
  const publishUntilShown = async (sdk: PusherServer, channel: string, name: string) => {
    const deadline = Date.now() + GUARD_MS;
    for (let i = 0; ; i++) {
      await sdk.trigger(channel, `${name}-${i}`, { i });
      const shown = await eventRow(page, `${name}-${i}`)
        .waitFor({ timeout: 250 })
        .then(
          () => true,
          () => false,
        );
      if (shown) return i + 1;
      if (Date.now() > deadline) throw new Error(`no ${name} shown on the console`);
    }
  };

  test('filters by channel, event, socket id and type, alone and together, old events and new', async () => {
    await watch(page, FILTERS);
    const sdk = server.sdk(FILTERS);
    const [alice, bob] = [server.client({}, FILTERS.key), server.client({}, FILTERS.key)];
    const [aliceId] = await within(
      Promise.all([connected(alice), connected(bob)]),
      GUARD_MS,
      'pusher-js to connect',
    );
    const rooms = [alice.subscribe('room-alpha'), bob.subscribe('room-beta')];
    await within(
      Promise.all(rooms.map((room) => nextEvent(room, 'pusher:subscription_succeeded'))),
      GUARD_MS,
      'the subscriptions',
    );
    await sdk.trigger('room-alpha', 'greeting', { to: 'alpha' });
    await sdk.trigger('room-beta', 'farewell', { to: 'beta' });
    await eventRow(page, 'farewell').waitFor({ timeout: GUARD_MS });
    await eventRow(page, 'greeting').waitFor({ timeout: GUARD_MS });

    // Columns: time, type, channel, event, socket id, node.
    const all = await table(page);
    const filters = [
      ['channel', 2, 'ALPHA'],
      ['event', 3, 'farewell'],
      ['socketId', 4, aliceId],
      ['type', 1, 'subscribed'],
    ] as const;
    for (const [name, column, value] of filters) {
      await page.fill(`#app-console input[name="${name}"]`, value);
      const expected = all.filter((cells) => cells[column]!.toLowerCase().includes(value.toLowerCase()));
      assert.ok(expected.length > 0 && expected.length < all.length, `the ${name} filter picks some rows`);
      assert.deepEqual(await table(page), expected, `filtered by ${name} ${value}`);
      await page.fill(`#app-console input[name="${name}"]`, '');
    }
    assert.deepEqual(await table(page), all, 'every row is back once the filters are empty');
    const subscribed = all.filter((cells) => cells[1] === 'subscribed');
    assert.deepEqual(subscribed.map((cells) => cells[2]).sort(), ['room-alpha', 'room-beta']);

    // Together, and for events that come while they are set: a row shows only if it matches every one.
    await page.fill('#app-console input[name="channel"]', 'beta');
    await page.fill('#app-console input[name="type"]', 'api');
    assert.deepEqual(
      (await table(page)).map((cells) => cells[3]),
      ['farewell'],
    );
    await sdk.trigger('room-alpha', 'late-alpha', {});
    await sdk.trigger('room-beta', 'late-beta', {});
    await eventRow(page, 'late-beta').waitFor({ timeout: GUARD_MS });
    assert.deepEqual(
      (await table(page)).map((cells) => cells[3]),
      ['late-beta', 'farewell'],
    );
    await page.fill('#app-console input[name="channel"]', '');
    await page.fill('#app-console input[name="type"]', '');
    assert.equal(await eventRow(page, 'late-alpha').count(), 1, 'an event filtered out is kept, not lost');
    alice.disconnect();
    bob.disconnect();
  });

  test('pause holds what comes until resume; clear empties the console and what waits', async () => {
    await watch(page, PAUSING);
    const sdk = server.sdk(PAUSING);
    const status = page.locator('#app-console .status');
    const events = async () => (await table(page)).map((cells) => cells[3]);
    await sdk.trigger('news', 'before-pause', {});
    await eventRow(page, 'before-pause').waitFor({ timeout: GUARD_MS });

    await page.click('#app-console button.pause');
    assert.equal(await page.textContent('#app-console button.pause'), 'Resume');
    for (const name of ['while-1', 'while-2', 'while-3']) await sdk.trigger('news', name, {});
    await page
      .locator('#app-console .status', { hasText: 'paused, 3 waiting' })
      .waitFor({ timeout: GUARD_MS });
    assert.deepEqual(await events(), ['before-pause'], 'nothing new shows while paused');

    await page.click('#app-console button.pause');
    assert.equal(await page.textContent('#app-console button.pause'), 'Pause');
    assert.deepEqual(await events(), ['while-3', 'while-2', 'while-1', 'before-pause']);
    assert.equal(await status.textContent(), '4 events · live');

    await page.click('#app-console button.clear');
    assert.deepEqual(await table(page), []);
    assert.equal(await status.textContent(), '0 events · live');

    // Clearing while paused drops what waits too.
    await page.click('#app-console button.pause');
    await sdk.trigger('news', 'cleared-while-paused', {});
    await page
      .locator('#app-console .status', { hasText: 'paused, 1 waiting' })
      .waitFor({ timeout: GUARD_MS });
    await page.click('#app-console button.clear');
    assert.equal(await status.textContent(), '0 events · live · paused, 0 waiting');
    await page.click('#app-console button.pause');
    await sdk.trigger('news', 'after-clear', {});
    await eventRow(page, 'after-clear').waitFor({ timeout: GUARD_MS });
    assert.deepEqual(await events(), ['after-clear']);
  });

  test('copy as JSON puts the shown rows in the clipboard, or opens them as text without clipboard access', async () => {
    await watch(page, COPYING);
    const sdk = server.sdk(COPYING);
    const sent = [
      ['ticker', 'copy-a', { price: 1 }],
      ['ticker', 'copy-b', { text: '<b>"quoted"</b>' }],
      ['other', 'copy-c', { price: 3 }],
    ] as const;
    for (const [channel, name, data] of sent) await sdk.trigger(channel, name, data);
    await eventRow(page, 'copy-c').waitFor({ timeout: GUARD_MS });

    /** Checks `json` is the shown rows' events, newest first, cell for cell, with their data. */
    const assertShown = async (target: Page, json: string, names: string[]) => {
      const copied = JSON.parse(json) as Record<string, unknown>[];
      const rows = await table(target);
      assert.equal(copied.length, rows.length);
      assert.deepEqual(
        copied.map((e) => [
          new Date(e.time as number).toISOString().slice(11, 23),
          e.type,
          e.channel,
          e.event,
          e.socketId ?? '',
          e.node,
        ]),
        rows,
      );
      assert.deepEqual(
        copied.map((e) => e.event),
        names,
      );
      for (const e of copied) {
        const [, , data] = sent.find(([, name]) => name === e.event)!;
        assert.deepEqual(JSON.parse(e.data as string), data);
      }
    };

    await page.fill('#app-console input[name="channel"]', 'ticker');
    await page.click('#app-console button.copy');
    await page.locator('#app-console .status', { hasText: 'Copied' }).waitFor({ timeout: GUARD_MS });
    await assertShown(page, await page.evaluate<string>('navigator.clipboard.readText()'), [
      'copy-b',
      'copy-a',
    ]);
    await page.fill('#app-console input[name="channel"]', '');

    // Plain HTTP on a host other than this machine's own name is no secure context, so has no
    // clipboard: the JSON opens in a text box instead.
    const remote = await launchChromium([`--host-resolver-rules=MAP ${ELSEWHERE} 127.0.0.1`]);
    try {
      const other = await remote.newPage({ viewport: { width: 1280, height: 800 } });
      await signInPage(other, `http://${ELSEWHERE}:${server.port}`, 'ada', PASSWORD);
      assert.equal(await other.evaluate<boolean>('window.isSecureContext'), false);
      await watch(other, COPYING);
      await sdk.trigger('ticker', 'copy-a', { price: 1 });
      await other.locator('#app-console tbody tr.event').waitFor({ timeout: GUARD_MS });
      await other.click('#app-console button.copy');
      const area = other.locator('#app-console textarea.copied');
      await area.waitFor({ timeout: GUARD_MS });
      await assertShown(other, await area.inputValue(), ['copy-a']);
    } finally {
      await remote.close();
    }
  });

  test('a burst past the rate a console takes shows as a yellow "n events dropped" row; nothing goes unaccounted', async () => {
    await watch(page, FLOOD);
    const sdk = server.sdk(FLOOD);
    // 1,000 events at once, 100 channels per publish: far more than the 200 a second a console takes.
    const bursts = 10;
    const channels = channelNames('flood');
    await Promise.all(Array.from({ length: bursts }, (_, i) => sdk.trigger(channels, 'burst', { burst: i })));
    // The count of what was dropped comes before the next event the console gets.
    const tails = await publishUntilShown(sdk, 'flood-tail', 'tail');
    const marker = page.locator('#app-console tbody tr.dropped');
    await marker.first().waitFor({ timeout: GUARD_MS });

    const rows = await table(page);
    const dropped = droppedCounts(rows);
    const shown = rows.filter((cells) => cells[1] === 'api_message').length;
    assert.ok(dropped.length > 0 && dropped.every((n) => n > 0), `markers ${dropped}`);
    assert.equal(shown + dropped.reduce((a, b) => a + b, 0), bursts * channels.length + tails);
    assert.equal(rows.length, shown + dropped.length, 'every row is an event or a marker');
    const background = await page.evaluate<string>(
      "getComputedStyle(document.querySelector('#app-console tr.dropped td')).backgroundColor",
    );
    assert.equal(background, 'rgb(254, 243, 199)');

    // A marker shows whatever the filters: the events it stands for may be ones they match.
    await page.fill('#app-console input[name="event"]', 'tail');
    assert.equal(await marker.count(), dropped.length);
    assert.ok((await table(page)).every((cells) => cells.length === 1 || cells[3]!.startsWith('tail-')));
    await page.fill('#app-console input[name="event"]', '');
  });

  test('the console keeps the last 1,000 events: older ones go from memory and from the page, filtered or not', async () => {
    await watch(page, BOUND);
    const sdk = server.sdk(BOUND);
    await sdk.trigger('bound-first', 'first', {});
    const first = eventRow(page, 'first');
    await first.waitFor({ timeout: GUARD_MS });
    // Filtered down to the first event, with its payload open: both go when it is pushed out.
    await page.fill('#app-console input[name="channel"]', 'bound-first');
    await first.click();
    assert.equal(await page.locator('#app-console tr.payload').count(), 1);

    // Two publishes of 100 channels at a time until the first event is gone: the console takes 200 a
    // second, so that is more than 1,000 events in some seconds.
    const channels = channelNames('bound');
    const deadline = Date.now() + 6 * GUARD_MS;
    for (;;) {
      await Promise.all([sdk.trigger(channels, 'fill', {}), sdk.trigger(channels, 'fill', {})]);
      const gone = await first.waitFor({ state: 'detached', timeout: 300 }).then(
        () => true,
        () => false,
      );
      if (gone) break;
      assert.ok(Date.now() < deadline, 'the first event never left the console');
    }
    assert.equal(await page.locator('#app-console tr.payload').count(), 0);
    const events = async () => (await table(page)).filter((cells) => cells.length > 1);
    assert.deepEqual(await events(), [], 'only markers match the filter now');
    await page.fill('#app-console input[name="channel"]', '');
    assert.equal((await table(page)).length, MAX_ROWS);
    assert.match((await page.textContent('#app-console .status'))!, new RegExp(`^${MAX_ROWS} events · live`));

    // More events keep the count where it is, the newest on top.
    await publishUntilShown(sdk, 'bound-last', 'last');
    const rows = await table(page);
    assert.equal(rows.length, MAX_ROWS);
    assert.match(rows[0]![3]!, /^last-\d+$/);
    assert.equal(await first.count(), 0);
  });

  test("a WAMP realm's console shows sessions joining and leaving, publications and calls", async () => {
    const url = `ws://127.0.0.1:${server.port}/ws`;
    const callee = await RawWampClient.join(url, { realm: 'realm1' });
    wamps.push(callee);
    await callee.subscribe('com.example.news');
    await callee.register('com.example.add');
    await page.click('#tabs button[data-view="wamp"]');
    await page.locator('#realm-list tr', { hasText: 'realm1' }).click();
    await page
      .locator('#realm-console .status', { hasText: /^0 events · live$/ })
      .waitFor({ timeout: GUARD_MS });

    const caller = await RawWampClient.join(url, { realm: 'realm1' });
    wamps.push(caller);
    const published = caller.id();
    caller.send([16, published, { acknowledge: true }, 'com.example.news', ['hello']]);
    assert.equal((await within(caller.reply(published, [17, 8]), GUARD_MS, 'PUBLISHED'))[0], 17);
    const result = caller.call('com.example.add', [2, 3]);
    const invocation = await within(callee.next(68), GUARD_MS, 'the INVOCATION');
    callee.send([70, invocation[1], {}, [5]]);
    assert.deepEqual((await within(result, GUARD_MS, 'the RESULT'))[3], [5]);
    caller.close();
    await caller.closed;

    // Columns: time, type, topic or procedure, session, authid, node.
    const session = String(caller.sessionId);
    const left = page.locator('#realm-console tbody tr.event', { hasText: 'session_left' });
    await left.waitFor({ timeout: GUARD_MS });
    await page.fill('#realm-console input[name="session"]', session);
    const rows = await table(page, '#realm-console');
    assert.deepEqual(
      rows.map((cells) => [cells[1], cells[2], cells[3]]),
      [
        ['session_left', '', session],
        ['call', 'com.example.add', session],
        ['publication', 'com.example.news', session],
        ['session_joined', '', session],
      ],
    );
    assert.ok(rows[0]![4], 'the authid shows');
    assert.ok(
      rows.every((cells) => cells[4] === rows[0]![4]),
      'one authid on every row',
    );
    await page.fill('#realm-console input[name="session"]', '');
    await page.fill('#realm-console input[name="uri"]', 'add');
    assert.deepEqual(
      (await table(page, '#realm-console')).map((cells) => cells[1]),
      ['call'],
    );
    await page.fill('#realm-console input[name="uri"]', '');
    // The call's arguments open with the row.
    await page.locator('#realm-console tbody tr.event', { hasText: 'com.example.add' }).click();
    assert.match((await page.textContent('#realm-console tr.payload pre'))!, /\[2,3\]/);
  });
});
