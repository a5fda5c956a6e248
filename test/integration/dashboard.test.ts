import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hashPassword } from '../../src/dashboard/auth.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';

/** The dashboard's sign-in, sessions and refusals, through real sockets. */

const PASSWORD = 'correct horse battery staple';
const SECRET = 'dashboard-test-secret-0123456789abcdef';
const json = { 'Content-Type': 'application/json' };

async function dashboardConfig() {
  return {
    enabled: true,
    users: [{ name: 'ada', passwordHash: await hashPassword(PASSWORD) }],
    sessionTtlMs: 60_000,
    sessionSecret: SECRET,
  };
}

async function login(base: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}/dashboard/api/login`, {
    method: 'POST',
    headers: { ...json, ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { response, text, cookie: response.headers.get('set-cookie') };
}

/** The `name=value` part of a Set-Cookie header. */
const cookiePair = (setCookie: string | null) => setCookie!.split(';')[0]!;

describe('dashboard on the public port', () => {
  let server: TestHerald;
  let clock = Date.now();
  before(async () => {
    server = await startHerald({ dashboard: await dashboardConfig() }, { now: () => clock });
  });
  after(() => server.stop());

  test('sign in, then the session and the page know who; sign out forgets the cookie', async () => {
    const { response, cookie } = await login(server.httpUrl, { name: 'ada', password: PASSWORD });
    assert.equal(response.status, 204);
    assert.match(
      cookie!,
      /^herald_dashboard=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}; Max-Age=60; Path=\/dashboard; HttpOnly; SameSite=Strict$/,
    );
    const headers = { cookie: cookiePair(cookie) };

    const session = await fetch(`${server.httpUrl}/dashboard/api/session`, { headers });
    assert.equal(session.status, 200);
    assert.equal(session.headers.get('cache-control'), 'no-store');
    assert.equal(((await session.json()) as { name: string }).name, 'ada');

    const page = await fetch(`${server.httpUrl}/dashboard`, { headers });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    assert.match(page.headers.get('content-security-policy')!, /^default-src 'self'/);
    const html = await page.text();
    assert.match(html, /<form id="login"/);
    assert.match(html, /<script src="\/dashboard\/app\.js" defer><\/script>/);

    // The page is the same for everyone; its script asks the session who is signed in.
    const anonymous = await fetch(`${server.httpUrl}/dashboard`);
    assert.equal(await anonymous.text(), html);
    const script = await fetch(`${server.httpUrl}/dashboard/app.js`);
    assert.match(script.headers.get('content-type')!, /^text\/javascript/);
    assert.match(await script.text(), /\/dashboard\/api/);

    const logout = await fetch(`${server.httpUrl}/dashboard/api/logout`, {
      method: 'POST',
      headers: { ...json, ...headers },
      body: '{}',
    });
    assert.equal(logout.status, 204);
    assert.match(logout.headers.get('set-cookie')!, /^herald_dashboard=; Max-Age=0; Path=\/dashboard;/);
  });

  test('a wrong password and an unknown name get the same 401', async () => {
    const wrong = await login(server.httpUrl, { name: 'ada', password: 'nope' });
    const unknown = await login(server.httpUrl, { name: 'eve', password: PASSWORD });
    assert.equal(wrong.response.status, 401);
    assert.equal(unknown.response.status, 401);
    assert.equal(wrong.text, unknown.text);
    assert.deepEqual(JSON.parse(wrong.text), { error: 'Wrong name or password' });
    assert.equal(wrong.cookie, null);
    const bad = await login(server.httpUrl, { name: 'ada' });
    assert.equal(bad.response.status, 400);
  });

  test('without a valid cookie every API route answers 401', async () => {
    const { cookie } = await login(server.httpUrl, { name: 'ada', password: PASSWORD });
    const [name, token] = cookiePair(cookie).split('=') as [string, string];
    const [payload, mac] = token.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ n: 'ada', e: clock + 1e9 })).toString('base64url');
    const cookies = [
      undefined,
      'other=1',
      `${name}=`,
      `${name}=${payload}.${mac.slice(0, -2)}AA`,
      `${name}=${forged}.${mac}`,
      `${name}=${payload}`,
    ];
    for (const c of cookies) {
      for (const [method, path] of [
        ['GET', 'session'],
        ['POST', 'logout'],
      ] as const) {
        const response = await fetch(`${server.httpUrl}/dashboard/api/${path}`, {
          method,
          headers: { ...json, ...(c === undefined ? {} : { cookie: c }) },
          ...(method === 'POST' ? { body: '{}' } : {}),
        });
        assert.equal(response.status, 401, `${method} ${path} with ${c}`);
        assert.deepEqual(await response.json(), { error: 'Sign in to the dashboard first' });
      }
    }
    // The real one works until it expires.
    const ok = await fetch(`${server.httpUrl}/dashboard/api/session`, {
      headers: { cookie: cookiePair(cookie) },
    });
    assert.equal(ok.status, 200);
    clock += 60_000;
    try {
      const expired = await fetch(`${server.httpUrl}/dashboard/api/session`, {
        headers: { cookie: cookiePair(cookie) },
      });
      assert.equal(expired.status, 401);
      await expired.arrayBuffer();
    } finally {
      clock -= 60_000;
    }
  });

  test('CSRF: another origin or a body not declared JSON is refused with 403', async () => {
    const { cookie } = await login(server.httpUrl, { name: 'ada', password: PASSWORD });
    const host = new URL(server.httpUrl).host;
    const cases: [Record<string, string>, number][] = [
      [{ ...json, origin: 'https://evil.example' }, 403],
      [{ ...json, origin: `http://${host}.evil.example` }, 403],
      [{ ...json, origin: 'null' }, 403],
      [{ 'Content-Type': 'text/plain' }, 403],
      [{ 'Content-Type': 'application/x-www-form-urlencoded' }, 403],
      [{ 'Content-Type': 'multipart/form-data; boundary=x' }, 403],
      [{ ...json, origin: `http://${host}` }, 204],
      [{ 'Content-Type': 'application/json; charset=utf-8' }, 204],
    ];
    for (const [headers, status] of cases) {
      const response = await fetch(`${server.httpUrl}/dashboard/api/logout`, {
        method: 'POST',
        headers: { ...headers, cookie: cookiePair(cookie) },
        body: '{}',
      });
      assert.equal(response.status, status, JSON.stringify(headers));
      await response.arrayBuffer();
    }
    const signIn = await login(
      server.httpUrl,
      { name: 'ada', password: PASSWORD },
      { origin: 'https://evil.example' },
    );
    assert.equal(signIn.response.status, 403);
    assert.equal(signIn.cookie, null);
  });
});

test('sign-in attempts are limited per client address: the eleventh in a minute gets 429', async () => {
  const server = await startHerald({ dashboard: await dashboardConfig(), trustedProxies: ['127.0.0.1'] });
  try {
    const from = (address: string) => ({ 'x-forwarded-for': address });
    for (let i = 0; i < 10; i++) {
      const { response } = await login(
        server.httpUrl,
        { name: 'ada', password: 'nope' },
        from('203.0.113.1'),
      );
      assert.equal(response.status, 401);
    }
    const refused = await login(server.httpUrl, { name: 'ada', password: PASSWORD }, from('203.0.113.1'));
    assert.equal(refused.response.status, 429);
    assert.equal(refused.response.headers.get('retry-after'), '60');
    assert.equal(refused.cookie, null);
    // Another address is not held back by that one.
    const other = await login(server.httpUrl, { name: 'ada', password: PASSWORD }, from('203.0.113.2'));
    assert.equal(other.response.status, 204);
  } finally {
    await server.stop();
  }
});

test('with an admin listener the dashboard is there only, and off by default', async () => {
  const server = await startHerald({ dashboard: await dashboardConfig(), api: { port: 0 } });
  try {
    for (const path of ['/dashboard', '/dashboard/api/session', '/dashboard/api/login']) {
      const response = await fetch(`${server.httpUrl}${path}`);
      assert.equal(response.status, 404, path);
      await response.arrayBuffer();
    }
    assert.equal((await login(server.httpUrl, { name: 'ada', password: PASSWORD })).response.status, 404);
    const { response, cookie } = await login(server.apiUrl!, { name: 'ada', password: PASSWORD });
    assert.equal(response.status, 204);
    const session = await fetch(`${server.apiUrl}/dashboard/api/session`, {
      headers: { cookie: cookiePair(cookie) },
    });
    assert.equal(session.status, 200);
    await session.arrayBuffer();
  } finally {
    await server.stop();
  }
  const off = await startHerald({});
  try {
    const response = await fetch(`${off.httpUrl}/dashboard`);
    assert.equal(response.status, 404);
    await response.arrayBuffer();
  } finally {
    await off.stop();
  }
});

test('another node with the same session secret accepts the cookie', async () => {
  const dashboard = await dashboardConfig();
  const [a, b] = [await startHerald({ dashboard }), await startHerald({ dashboard })];
  try {
    const { cookie } = await login(a.httpUrl, { name: 'ada', password: PASSWORD });
    const session = await fetch(`${b.httpUrl}/dashboard/api/session`, {
      headers: { cookie: cookiePair(cookie) },
    });
    assert.equal(session.status, 200);
    await session.arrayBuffer();
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('a session shorter than a second still gets a cookie the browser keeps (Max-Age rounded up)', async () => {
  const server = await startHerald({ dashboard: { ...(await dashboardConfig()), sessionTtlMs: 500 } });
  try {
    const { response, cookie } = await login(server.httpUrl, { name: 'ada', password: PASSWORD });
    assert.equal(response.status, 204);
    assert.match(cookie!, /; Max-Age=1; /);
  } finally {
    await server.stop();
  }
});
