import assert from 'node:assert/strict';

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
