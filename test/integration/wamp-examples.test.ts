import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { autobahnPythonSkip, PYTHON } from '../helpers/python.js';
import { within } from '../helpers/raw-client.js';

/**
 * The examples in examples/wamp, unchanged but for the router URL (a query parameter for the pages, an
 * argument for the Python publisher): pages in headless Chromium, the CDN script served from
 * node_modules.
 */

const EXAMPLES = fileURLToPath(new URL('../../../examples/wamp/', import.meta.url));
const WAMPY_CDN = 'https://cdn.jsdelivr.net/npm/wampy@8.0.2/dist/browser/wampy.min.js';
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
  let http: Server;
  let browser: Browser | undefined;
  // wampy's browser build: dist/browser next to the dist/cjs entry point.
  const wampyBundle = readFileSync(
    join(dirname(createRequire(import.meta.url).resolve('wampy')), '../browser/wampy.min.js'),
  );

  /** Opens `examples/wamp/<file>` pointed at the test router; resolves with its console. */
  const open = async (file: string): Promise<{ page: Page; console: ConsoleLog }> => {
    const page = await browser!.newPage();
    const log = new ConsoleLog();
    page.on('console', (m) => log.push(m.text()));
    page.on('pageerror', (err) => log.push(`pageerror: ${err.message}`));
    await page.route(WAMPY_CDN, (route) =>
      route.fulfill({ body: wampyBundle, contentType: 'text/javascript' }),
    );
    const router = `ws://127.0.0.1:${herald.port}/ws`;
    await page.goto(
      `http://127.0.0.1:${(http.address() as AddressInfo).port}/${file}?router=${encodeURIComponent(router)}`,
    );
    return { page, console: log };
  };

  before(async () => {
    herald = await startHerald();
    http = createServer((req, res) => {
      const name = new URL(req.url ?? '/', 'http://x').pathname.slice(1);
      if (!/^[a-z]+\.html$/.test(name)) return void res.writeHead(404).end();
      res
        .writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
        .end(readFileSync(join(EXAMPLES, name)));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    browser = await within(launchChromium(), 30_000, 'chromium to start');
  });

  after(async () => {
    await browser?.close();
    http?.closeAllConnections();
    await new Promise((resolve) => (http ? http.close(resolve) : resolve(undefined)));
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
    await caller.page.close();
    await callee.page.close();
  });

  test('publisher.py publishes filewithext.<ext>; subscriber.html gets png and txt only', {
    skip: pythonSkip,
  }, async () => {
    const subscriber = await open('subscriber.html');
    await within(subscriber.console.line(/^subscribed$/), GUARD_MS, 'the page to subscribe');
    const publisher = spawn(PYTHON, [join(EXAMPLES, 'publisher.py'), `ws://127.0.0.1:${herald.port}/ws`], {
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => publisher.on('exit', resolve));
    try {
      const png = await within(subscriber.console.line(/^filewithext\.png: /), GUARD_MS, 'a png event');
      const txt = await within(subscriber.console.line(/^filewithext\.txt: /), GUARD_MS, 'a txt event');
      assert.match(png, /^filewithext\.png: file\d+\.png \(\d+ bytes\)$/);
      assert.match(txt, /^filewithext\.txt: file\d+\.txt \(\d+ bytes\)$/);
      assert.deepEqual(
        subscriber.console.lines.filter((l) => /filewithext\.(pdf|csv)|pageerror/.test(l)),
        [],
      );
    } finally {
      publisher.kill('SIGKILL');
      await exited;
      await subscriber.page.close();
    }
  });
});
