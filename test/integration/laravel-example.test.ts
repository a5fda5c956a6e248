import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { childOutput } from '../helpers/child-output.js';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { exampleFile, PHP, phpSkip, type RunningExample, startPhpExample } from '../helpers/examples.js';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { distinctColours } from '../helpers/screenshot.js';
import { until } from '../helpers/wait.js';

/**
 * examples/laravel as it runs: PHP's built-in server serves the order page, /broadcasting/auth and
 * resources/js/echo.js (with the .env's VITE_ values), the page runs in headless Chromium, and
 * trigger.php posts OrderShipped to Herald's HTTP API, once through Laravel's pusher connection and once
 * through its reverb connection (config/broadcasting.php, the .env's values overridden from the
 * environment).
 */

const GUARD_MS = 15_000;
/** A second app, which the reverb connection uses, so each connection's own settings are the ones used. */
const SHOP = { id: 'shop', key: 'shop-key', secret: 'shop-secret' } as const;

/** Runs `php examples/laravel/<script> ...args` with `env`; resolves with its exit code and output. */
function runPhp(script: string, args: string[], env: Record<string, string>) {
  const child = spawn(PHP, [exampleFile(`laravel/${script}`), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return within(childOutput(child), GUARD_MS, `php ${script} ${args.join(' ')} to exit`);
}

describe('examples/laravel: an Echo page, PHP auth and trigger.php', {
  skip: chromiumSkip || phpSkip,
}, () => {
  let herald: TestHerald;
  let browser: Browser;

  before(async () => {
    herald = await startHerald({
      apps: [
        { ...APP, clientEvents: true },
        { ...SHOP, clientEvents: false },
      ],
    });
    browser = await within(launchChromium(), 30_000, 'chromium to start');
  });

  after(async () => {
    await browser?.close();
    await herald?.stop();
  });

  for (const connection of ['pusher', 'reverb'] as const) {
    describe(`BROADCAST_CONNECTION=${connection}`, () => {
      const env = () => ({
        BROADCAST_CONNECTION: connection,
        PUSHER_HOST: '127.0.0.1',
        PUSHER_PORT: String(herald.port),
        REVERB_APP_ID: SHOP.id,
        REVERB_APP_KEY: SHOP.key,
        REVERB_APP_SECRET: SHOP.secret,
        REVERB_HOST: '127.0.0.1',
        REVERB_PORT: String(herald.port),
      });
      let php: RunningExample;
      let page: Page;
      const logged: string[] = [];

      before(async () => {
        php = await startPhpExample('laravel', env());
        page = await browser.newPage({ viewport: { width: 900, height: 480 } });
        page.on('console', (m) => logged.push(m.text()));
        page.on('pageerror', (err) => logged.push(`pageerror: ${err.message}`));
      });

      after(async () => {
        await page?.close();
        await php?.stop();
      });

      test('the page subscribes to private-orders.1 through /broadcasting/auth', async () => {
        await page.goto(php.url);
        await page
          .locator('#status', { hasText: 'Listening on private-orders.1' })
          .waitFor({ timeout: GUARD_MS });
        // The page is on the app of this connection's key, and only there.
        const [mine, other] = connection === 'reverb' ? [SHOP, APP] : [APP, SHOP];
        const occupied = async (app: typeof APP | typeof SHOP) => {
          const info = await herald.sdk(app).get({ path: '/channels/private-orders.1' });
          return ((await info.json()) as { occupied: boolean }).occupied;
        };
        assert.equal(await occupied(mine), true);
        assert.equal(await occupied(other), false);
      });

      test('trigger.php ships order 1: the page shows it; ->toOthers() leaves the page out', async () => {
        const socketId = await page.evaluate<string>('window.Echo.socketId()');
        const others = await runPhp('trigger.php', ['1', socketId], env());
        assert.equal(others.code, 0, others.stderr);
        const everyone = await runPhp('trigger.php', ['1'], env());
        assert.equal(everyone.code, 0, everyone.stderr);
        const tracking = /"tracking_number":"(HRLD\d+)"/.exec(everyone.stdout)?.[1];
        assert.ok(tracking, everyone.stdout);

        // Events on one channel arrive in order: had the first not been left out, it would show first.
        await page.locator('.shipped').first().waitFor({ timeout: GUARD_MS });
        assert.deepEqual(await page.locator('.shipped').allTextContents(), [
          `Order #1 (Espresso machine) has shipped: tracking number ${tracking}`,
        ]);
        // The event's data as Laravel's broadcaster sends it: the public properties, `socket` taken out.
        await until(() => logged.some((l) => l.startsWith('{')), 'the page to log the event');
        assert.deepEqual(
          logged.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)),
          [
            {
              order: {
                id: 1,
                user_id: 1,
                item: 'Espresso machine',
                status: 'shipped',
                tracking_number: tracking,
              },
            },
          ],
        );

        const png = await page.screenshot();
        assert.ok((await distinctColours(browser, png)) > 5, 'the page screenshot is blank');
        assert.deepEqual(
          logged.filter((l) => l.startsWith('pageerror')),
          [],
        );
      });
    });
  }

  test("the page of order 2, not user 1's: /broadcasting/auth answers 403 and the page says so", async () => {
    const php = await startPhpExample('laravel', {
      PUSHER_HOST: '127.0.0.1',
      PUSHER_PORT: String(herald.port),
    });
    const page = await browser.newPage();
    try {
      await page.goto(`${php.url}?order=2`);
      const status = page.locator('#status.error');
      await status.waitFor({ timeout: GUARD_MS });
      assert.equal(await status.textContent(), 'Not allowed to listen on private-orders.2 (HTTP 403)');
    } finally {
      await page.close();
      await php.stop();
    }
  });

  test('trigger.php with a wrong secret: Herald refuses the signature, trigger.php says so and fails', async () => {
    const run = await runPhp('trigger.php', ['1'], {
      PUSHER_HOST: '127.0.0.1',
      PUSHER_PORT: String(herald.port),
      PUSHER_APP_SECRET: 'not-the-secret',
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^broadcast failed: HTTP 401: .*Invalid signature/);
  });
});
