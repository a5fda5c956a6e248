import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { exampleFile, type RunningExample, startExample } from '../helpers/examples.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { autobahnPythonSkip, PYTHON } from '../helpers/python.js';
import { within } from '../helpers/raw-client.js';
import { distinctColours } from '../helpers/screenshot.js';

/**
 * The examples in examples/wamp as they run: `node examples/wamp/server.mjs` serves the pages (wampy
 * from node_modules, Herald's address in /config.js), opened in headless Chromium; the Python
 * publisher gets the router URL as its argument.
 */

const GUARD_MS = 15_000;

const pythonSkip = autobahnPythonSkip();

/** Console lines of one page; `line(pattern)` waits for the first unread one matching. */
class ConsoleLog {
  readonly lines: string[] = [];
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];

  push(line: string): void {
    const i = this.#waiters.findIndex((w) => w.pattern.test(line));
    if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(line);
    else this.lines.push(line);
  }

  line(pattern: RegExp): Promise<string> {
    const i = this.lines.findIndex((l) => pattern.test(l));
    if (i >= 0) return Promise.resolve(this.lines.splice(i, 1)[0]!);
    return new Promise((resolve) => this.#waiters.push({ pattern, resolve }));
  }
}

describe('WAMP examples', { skip: chromiumSkip }, () => {
  let herald: TestHerald;
  let example: RunningExample;
  let browser: Browser | undefined;

  /**
   * Opens `examples/wamp/<file>` from the example's server; resolves with its console, where page
   * errors and any request for a file from elsewhere (a CDN) show up too.
   */
  const open = async (file: string): Promise<{ page: Page; console: ConsoleLog }> => {
    const page = await browser!.newPage();
    const log = new ConsoleLog();
    page.on('console', (m) => log.push(m.text()));
    page.on('pageerror', (err) => log.push(`pageerror: ${err.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(example.url)) log.push(`elsewhere: ${r.url()}`);
    });
    await page.goto(new URL(file, example.url).href);
    return { page, console: log };
  };

  /** The lines of `page` that say something went wrong: none, when all is well. */
  const trouble = (page: { console: ConsoleLog }) =>
    page.console.lines.filter((l) => /^(pageerror|elsewhere): /.test(l));

  /** Checks that `page` shows something: its screenshot has more than the page's background. */
  const notBlank = async (page: { page: Page }, what: string) => {
    const colours = await distinctColours(browser!, await page.page.screenshot());
    assert.ok(colours > 5, `the ${what} screenshot is blank (${colours} colours)`);
  };

  before(async () => {
    herald = await startHerald();
    example = await startExample('wamp/server.mjs', herald.port);
    browser = await within(launchChromium(), 30_000, 'chromium to start');
  });

  after(async () => {
    await browser?.close();
    await example?.stop();
    await herald?.stop();
  });

  test('callee.html registers sum; caller.html calls it every second', async () => {
    const callee = await open('callee.html');
    await within(callee.console.line(/^registered sum$/), GUARD_MS, 'the callee to register');
    const caller = await open('caller.html');
    assert.equal(await within(caller.console.line(/^sum\(1\) = /), GUARD_MS, 'first call'), 'sum(1) = 1');
    assert.equal(
      await within(caller.console.line(/^sum\(1, 2\) = /), GUARD_MS, 'second call'),
      'sum(1, 2) = 3',
    );
    assert.equal(
      await within(callee.console.line(/^sum\(1, 2\) = /), GUARD_MS, 'callee log'),
      'sum(1, 2) = 3',
    );
    assert.deepEqual([...trouble(callee), ...trouble(caller)], []);
    await notBlank(callee, 'callee.html');
    await notBlank(caller, 'caller.html');
    await caller.page.close();
    await callee.page.close();
  });

  test('raw.html speaks WAMP over a bare WebSocket: session, subscribe, register, call, publish, errors', async () => {
    const raw = await open('raw.html');
    const next = (pattern: RegExp, what: string) => within(raw.console.line(pattern), GUARD_MS, what);
    assert.match(await next(/^joined /, 'WELCOME'), /^joined realm1 as session \d+ \(wamp\.2\.json\)$/);
    await next(/^subscribed to filewithext\.png$/, 'SUBSCRIBED');
    await next(/^registered sum$/, 'REGISTERED');
    // Its own call goes through the router to its own registration, and back.
    assert.equal(await next(/^answered sum/, 'INVOCATION'), 'answered sum(1, 2, 3) = 6');
    assert.equal(await next(/^sum\(/, 'RESULT'), 'sum(1, 2, 3) = 6');
    assert.match(await next(/^published /, 'PUBLISHED'), /^published filewithext\.png \(publication \d+\)$/);
    assert.equal(await next(/^filewithext\.png: /, 'its own EVENT'), 'filewithext.png: raw.png (42 bytes)');
    assert.equal(await next(/^call failed: /, 'ERROR'), 'call failed: wamp.error.no_such_procedure');

    // wampy's caller.html calls the sum that raw.html registered.
    const caller = await open('caller.html');
    assert.equal(await within(caller.console.line(/^sum\(1\) = /), GUARD_MS, 'a wampy call'), 'sum(1) = 1');
    assert.equal(
      await next(/^answered sum\(1\) = /, 'the INVOCATION from caller.html'),
      'answered sum(1) = 1',
    );

    // GOODBYE ends the session and its registration with it.
    await raw.page.click('#leave');
    assert.equal(await next(/^left: /, 'GOODBYE'), 'left: wamp.close.goodbye_and_out');
    await next(/^connection closed$/, 'the socket to close');
    assert.equal(
      await within(caller.console.line(/^call failed: /), GUARD_MS, 'a call after raw.html left'),
      'call failed: wamp.error.no_such_procedure',
    );
    assert.deepEqual([...trouble(raw), ...trouble(caller)], []);
    await notBlank(raw, 'raw.html');
    await caller.page.close();
    await raw.page.close();
  });

  test('raw.html finds sum taken by callee.html (an error URI) and calls that one', async () => {
    const callee = await open('callee.html');
    await within(callee.console.line(/^registered sum$/), GUARD_MS, 'the callee to register');
    const raw = await open('raw.html');
    assert.equal(
      await within(raw.console.line(/^register failed: /), GUARD_MS, 'REGISTER refused'),
      'register failed: wamp.error.procedure_already_exists',
    );
    assert.equal(await within(raw.console.line(/^sum\(/), GUARD_MS, 'RESULT'), 'sum(1, 2, 3) = 6');
    assert.equal(
      await within(callee.console.line(/^sum\(1, 2, 3\) = /), GUARD_MS, 'callee.html answering'),
      'sum(1, 2, 3) = 6',
    );
    assert.deepEqual(
      raw.console.lines.filter((l) => l.startsWith('answered')),
      [],
      'raw.html answered a call it did not register for',
    );
    assert.deepEqual([...trouble(raw), ...trouble(callee)], []);
    await raw.page.close();
    await callee.page.close();
  });

  test('publisher.py publishes filewithext.<ext>; subscriber.html gets png and txt only', {
    skip: pythonSkip,
  }, async () => {
    const subscriber = await open('subscriber.html');
    await within(subscriber.console.line(/^subscribed$/), GUARD_MS, 'the page to subscribe');
    const publisher = spawn(PYTHON, [exampleFile('wamp/publisher.py'), `ws://127.0.0.1:${herald.port}/ws`], {
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => publisher.on('exit', resolve));
    try {
      const png = await within(subscriber.console.line(/^filewithext\.png: /), GUARD_MS, 'a png event');
      const txt = await within(subscriber.console.line(/^filewithext\.txt: /), GUARD_MS, 'a txt event');
      assert.match(png, /^filewithext\.png: file\d+\.png \(\d+ bytes\)$/);
      assert.match(txt, /^filewithext\.txt: file\d+\.txt \(\d+ bytes\)$/);
      assert.deepEqual(
        subscriber.console.lines.filter((l) => /filewithext\.(pdf|csv)/.test(l)),
        [],
      );
      assert.deepEqual(trouble(subscriber), []);
      await notBlank(subscriber, 'subscriber.html');
    } finally {
      publisher.kill('SIGKILL');
      await exited;
      await subscriber.page.close();
    }
  });
});
