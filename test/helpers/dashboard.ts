import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { ConfigInput } from '../../src/config/schema.js';
import type { DebugItem } from '../../src/core/debug-feed.js';
import { hashPassword } from '../../src/dashboard/auth.js';
import { until } from './wait.js';

/** A test server's `dashboard` setting: on, for one user `ada` signing in with `password`, and `more`. */
export async function dashboardOf(
  password: string,
  more: Partial<NonNullable<ConfigInput['dashboard']>> = {},
): Promise<ConfigInput['dashboard']> {
  return { enabled: true, users: [{ name: 'ada', passwordHash: await hashPassword(password) }], ...more };
}

/**
 * Signs in to the dashboard at `base` (a listener's `http://host:port`) as an operator's browser
 * does; the session cookie's `name=value`, to send back in a `cookie` header.
 */
export async function dashboardSession(base: string, name: string, password: string): Promise<string> {
  const response = await fetch(`${base}/dashboard/api/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, password }),
  });
  assert.equal(response.status, 204, `sign-in as ${name}`);
  return response.headers.get('set-cookie')!.split(';')[0]!;
}

/**
 * Signs in to the dashboard at `base` in `page` through its form, as an operator does, and waits for
 * the views and the console's stream of the first app.
 */
export async function signInPage(page: Page, base: string, name: string, password: string): Promise<void> {
  await page.goto(`${base}/dashboard`);
  await page.fill('#login input[name="name"]', name);
  await page.fill('#login input[name="password"]', password);
  await page.click('#login button[type="submit"]');
  await page.locator('#main').waitFor({ timeout: 10_000 });
  await page.locator('#app-console .status', { hasText: 'live' }).waitFor({ timeout: 10_000 });
}

/** A debug console stream of the dashboard, read as the page reads it, its items parsed as they come. */
export interface ConsoleStream {
  readonly contentType: string;
  /** The events and dropped markers received so far, in order. */
  readonly items: DebugItem[];
  /** Resolves with the first item received so far or later that `match` accepts. */
  find(match: (item: DebugItem) => boolean, what: string): Promise<DebugItem>;
  /** Resolves once `condition` (of `items`, say) holds. */
  until(condition: () => boolean, what: string): Promise<void>;
  close(): void;
}

/**
 * Opens the console at `path` below `/dashboard/api` (`/apps/<id>/console`, `/realms/<name>/console`)
 * with the session `cookie`, and resolves once the stream says it is watching: what happens from then
 * on is in `items`.
 */
export async function openConsole(base: string, path: string, cookie: string): Promise<ConsoleStream> {
  const abort = new AbortController();
  const response = await fetch(`${base}/dashboard/api${path}`, { headers: { cookie }, signal: abort.signal });
  assert.equal(response.status, 200, path);
  const items: DebugItem[] = [];
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  let watching = false;
  const read = async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      pending += decoder.decode(value, { stream: true });
      const blocks = pending.split('\n\n');
      pending = blocks.pop()!;
      for (const block of blocks) {
        if (block === ': watching') watching = true;
        if (block.startsWith('data: ')) items.push(JSON.parse(block.slice(6)) as DebugItem);
      }
    }
  };
  let failure: Error | undefined;
  read().catch((err: Error) => {
    // Closing the stream aborts the read; anything else fails the next wait.
    if (!abort.signal.aborted) failure = err;
  });
  /** Waits for `condition`; fails at once when the read failed. */
  const waitFor = (condition: () => boolean, what: string) =>
    until(() => {
      if (failure) throw failure;
      return condition();
    }, what);
  await waitFor(() => watching, `${path} to say it is watching`);
  return {
    contentType: response.headers.get('content-type') ?? '',
    items,
    until: waitFor,
    async find(match, what) {
      await waitFor(() => items.some(match), what);
      return items.find(match)!;
    },
    close: () => abort.abort(),
  };
}
