import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { hashPassword, SessionTokens } from '../../src/dashboard/auth.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { RawHttp, type RawResponse } from '../helpers/raw-http.js';
import { anyJson, deepJsonText, fuzz, Observer } from './harness.js';

/**
 * The dashboard (`/dashboard…`) with generated methods, paths, cookies, `Authorization`, `Origin` and
 * `Content-Type` headers and bodies, written on raw sockets, none carrying a valid session or the
 * password. No request may sign in or be answered as signed in; every answer is JSON (or the page and
 * its script) with a 2xx or 4xx status, never a 5xx or a hang; and the server keeps serving everyone.
 */

const SECRET = 'fuzz-dashboard-secret-0123456789abcdef';
const PASSWORD = 'the-one-password-no-case-sends';
const MAX_BODY = 16 * 1024;
/** Statuses docs/dashboard.md documents, and those of the HTTP edge before any route. */
const DOCUMENTED = new Set([200, 400, 401, 403, 404, 405, 413, 429, 431]);

/** Header values: mostly printable, sometimes with control bytes (which the HTTP parser refuses, 400). */
const headerText = (maxLength: number) =>
  fc.oneof(
    {
      weight: 9,
      arbitrary: fc.string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
        maxLength,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.string({ unit: 'binary-ascii', maxLength }).map((s) => s.replace(/[\r\n\0]/g, '')),
    },
  );

/** Token-shaped text: ours from another secret, ours cut or stretched, or noise. */
const token = fc.oneof(
  fc.constantFrom(
    new SessionTokens({ secret: 'another-secret-0123456789abcdef012345', ttlMs: 60_000 }).issue('ada'),
    new SessionTokens({ secret: SECRET, ttlMs: -1 }).issue('ada'),
    new SessionTokens({ secret: SECRET, ttlMs: 60_000 }).issue('nobody'),
  ),
  fc
    .tuple(fc.base64String({ maxLength: 120 }), fc.stringMatching(/^[A-Za-z0-9_-]{43}$/))
    .map(([p, m]) => `${p.replace(/[+/=]/g, '_')}.${m}`),
  headerText(200),
);

const cookie = fc.option(
  fc.oneof(
    token.map((t) => `herald_dashboard=${t}`),
    token.map((t) => `a=1; herald_dashboard=${t}; herald_dashboard=${t}x`),
    headerText(200),
  ),
);

const origin = fc.option(
  fc.oneof(
    fc.constantFrom('null', 'http://127.0.0.1', 'https://evil.example', 'http://127.0.0.1.evil.example', '%'),
    headerText(80),
  ),
);

const contentType = fc.option(
  fc.oneof(
    fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'APPLICATION/JSON'),
    headerText(60),
  ),
);

const path = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(
      '/dashboard',
      '/dashboard/',
      '/dashboard/app.js',
      '/dashboard/app.css',
      '/dashboard/api/login',
      '/dashboard/api/logout',
      '/dashboard/api/session',
      '/dashboard/api/',
      '/dashboard/api/session/x',
      '/dashboard/api/%ZZ',
      '/dashboard/../dashboard/api/session',
      '/dashboard/api/session?x=%ZZ',
      '/dashboard//api/session',
      '/DASHBOARD/api/session',
    ),
  },
  fc.string({ maxLength: 40 }).map((s) => `/dashboard/${encodeURIComponent(s)}`),
  fc.string({ maxLength: 40 }).map((s) => `/dashboard/api/${encodeURIComponent(s)}`),
);

const body = fc.option(
  fc.oneof(
    fc
      .record(
        {
          name: fc.oneof(fc.constantFrom('ada', 'admin', ''), anyJson()),
          password: fc.oneof(fc.string(), anyJson()),
        },
        { requiredKeys: [] },
      )
      .map((b) => JSON.stringify(b)),
    anyJson().map((v) => JSON.stringify(v) ?? ''),
    fc.constantFrom('', '{', 'null', '[]', '{"__proto__":{"name":"ada"}}', 'name=ada&password=x'),
    fc.integer({ min: MAX_BODY - 10, max: MAX_BODY + 10 }).map((n) => 'x'.repeat(n)),
    deepJsonText(),
  ),
);

const request = fc.record({
  method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
  path,
  cookie,
  authorization: fc.option(fc.oneof(fc.constantFrom(`Bearer ${SECRET}`, 'Basic YWRhOnB3'), headerText(80))),
  origin,
  contentType,
  body,
  forwardedFor: fc.option(fc.constantFrom('203.0.113.9', '127.0.0.1', 'garbage')),
});

type Request = typeof request extends fc.Arbitrary<infer R> ? R : never;

function requestBytes(r: Request): Buffer {
  const lines = [`${r.method} ${r.path} HTTP/1.1`, 'Host: 127.0.0.1'];
  if (r.cookie !== null) lines.push(`Cookie: ${r.cookie}`);
  if (r.authorization !== null) lines.push(`Authorization: ${r.authorization}`);
  if (r.origin !== null) lines.push(`Origin: ${r.origin}`);
  if (r.contentType !== null) lines.push(`Content-Type: ${r.contentType}`);
  if (r.forwardedFor !== null) lines.push(`X-Forwarded-For: ${r.forwardedFor}`);
  const payload = Buffer.from(r.body ?? '', 'utf8');
  lines.push(`Content-Length: ${payload.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}

function checkAnswer(r: Request, response: RawResponse): void {
  const text = response.body.toString('utf8');
  const what = `${response.status} for ${r.method} ${r.path}: ${text.slice(0, 200)}`;
  assert.ok(DOCUMENTED.has(response.status), `undocumented ${what}`);
  assert.equal(
    response.headers['set-cookie']?.includes('Max-Age=0') ?? true,
    true,
    `a session was issued: ${what}`,
  );
  const type = response.headers['content-type'] ?? '';
  if (response.status === 200 && /^text\/html/.test(type)) {
    assert.match(text, /<form id="login"/, what);
    assert.equal(response.headers['cache-control'], 'no-store');
    return;
  }
  if (response.status === 200 && /^text\/(javascript|css)/.test(type)) {
    assert.match(r.path, /^\/dashboard\/app\.(js|css)/, what);
    return;
  }
  assert.match(type, /^application\/json/, what);
  // Nothing of the API answers 2xx without a session (a 204 logout needs one too).
  assert.ok(response.status >= 400, `answered as signed in: ${what}`);
  const parsed = JSON.parse(text) as { error?: unknown };
  assert.equal(typeof parsed.error, 'string', what);
}

let server: TestHerald;
let observer: Observer;
before(async () => {
  server = await startHerald({
    maxRequestBodyBytes: MAX_BODY,
    trustedProxies: ['127.0.0.1'],
    dashboard: {
      enabled: true,
      users: [
        { name: 'ada', passwordHash: await hashPassword(PASSWORD) },
        { name: 'admin', passwordHash: await hashPassword(PASSWORD) },
      ],
      sessionSecret: SECRET,
    },
  });
  observer = await Observer.connect(server);
});
after(async () => {
  observer?.close();
  await server?.stop();
});

test('generated dashboard requests never sign in, never fail, always answer JSON or the page', async () => {
  const statuses = new Map<number, number>();
  await fuzz('dashboard', 300, [request], async (r) => {
    const http = await RawHttp.connect(server.port);
    try {
      http.write(requestBytes(r));
      const response = await http.response(5000);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      checkAnswer(r, response);
    } finally {
      http.destroy();
    }
    await observer.check();
  });
  console.log(`# dashboard answers: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  assert.ok(statuses.has(200) && statuses.has(401) && statuses.has(403), JSON.stringify([...statuses]));
});
