import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { ConfigInput } from '../../src/config/schema.js';
import { hashPassword } from '../../src/dashboard/auth.js';

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
