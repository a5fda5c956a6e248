import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import { errorOf, RawHttp, type RawResponse } from '../helpers/raw-http.js';
import { anyJson, deepJsonText, fuzz, Observer } from './harness.js';

/**
 * Every HTTP route with generated methods, path parameters, query parameters and bodies, unsigned or
 * signed by the `pusher` SDK's own signing code (so that the requests reach validation), written on
 * raw sockets. Every answer must be a documented status: JSON `{"error"}` for each 4xx, JSON for each
 * 2xx (Prometheus text for /metrics), never a 5xx, never a hang.
 */

const DEADLINE_MS = 5000;
const MAX_BODY = 64 * 1024;
/** An app that is switched off: its signed requests get 403. */
const OFF = { id: 'off-id', key: 'off-key', secret: 'off-secret' };
/** An app allowed 3 requests a second: its signed requests get 429 past that. */
const SLOW = { id: 'slow-id', key: 'slow-key', secret: 'slow-secret' };
/** `pathPrefix`: the HTTP API answers under it too; a dot, which a pattern would take for any character. */
const PREFIX = '/rt.v1';
/** Statuses the HTTP API and the HTTP edge document (docs/pusher.md, "HTTP API"). */
const DOCUMENTED = new Set([200, 400, 401, 403, 404, 405, 413, 429, 431]);

/** The SDK's signing, used as is: what `pusher.trigger` and `pusher.get` put in the query string. */
const sdkRequire = createRequire(import.meta.url);
const { createSignedQueryString } = sdkRequire('pusher/lib/requests.js') as {
  createSignedQueryString(
    token: { key: string; sign(data: string): string },
    request: { method: string; path: string; params?: Record<string, string>; body?: string },
  ): string;
};
const Token = sdkRequire('pusher/lib/token.js') as new (
  key: string,
  secret: string,
) => { key: string; sign(data: string): string };

let server: TestHerald;
let observer: Observer;
const statuses = new Map<number, number>();

before(async () => {
  server = await startHerald({
    maxRequestBodyBytes: MAX_BODY,
    pathPrefix: PREFIX,
    apps: [
      {
        ...APP,
        clientEvents: true,
        history: { streams: [{ channels: ['fuzz-*', 'cache-fuzz', 'private-*'], maxEvents: 20 }] },
      },
      { ...OFF, enabled: false },
      { ...SLOW, maxHttpRequestsPerSecond: 3 },
    ],
  });
  observer = await Observer.connect(server);
});

after(async () => {
  observer?.close();
  await server?.stop();
});

// ---------------------------------------------------------------------------------------------------
// Generators

const appId = fc.oneof(
  { weight: 8, arbitrary: fc.constant(APP.id) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(OFF.id, SLOW.id, 'unknown-id', '%ZZ', '%E0%A4', 'app%2Did', '__proto__'),
  },
);

const channelName = fc.oneof(
  fc.constantFrom(
    'fuzz-a',
    'presence-fuzz',
    'private-fuzz',
    'private-encrypted-fuzz',
    'cache-fuzz',
    'presence-cache-fuzz',
    '#server-to-user-u1',
    '__proto__',
    'constructor',
    'toString',
  ),
  fc.stringMatching(/^[A-Za-z0-9_\-=@,.;]{1,30}$/),
  fc.constantFrom('', 'bad name', '%ZZ', 'é', 'x'.repeat(300), '#server-to-user-', 'pusher:x'),
);

/** A path parameter as it goes on the wire: plain, percent-encoded, or with broken encoding. */
const pathParam = (plain: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 4, arbitrary: plain.map((s) => encodeURIComponent(s)) },
    { weight: 1, arbitrary: fc.constantFrom('%ZZ', '%', '%E0%A4%A', '%E0%A4', '%2F', '..', '') },
  );

interface Route {
  method: string;
  path: string;
}

const unprefixedRoute: fc.Arbitrary<Route> = fc.oneof(
  { weight: 4, arbitrary: appId.map((id) => ({ method: 'POST', path: `/apps/${id}/events` })) },
  { weight: 3, arbitrary: appId.map((id) => ({ method: 'POST', path: `/apps/${id}/batch_events` })) },
  { weight: 2, arbitrary: appId.map((id) => ({ method: 'GET', path: `/apps/${id}/channels` })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(appId, pathParam(channelName))
      .map(([id, name]) => ({ method: 'GET', path: `/apps/${id}/channels/${name}` })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(appId, pathParam(channelName))
      .map(([id, name]) => ({ method: 'GET', path: `/apps/${id}/channels/${name}/users` })),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(appId, pathParam(channelName))
      .map(([id, name]) => ({ method: 'GET', path: `/apps/${id}/channels/${name}/events` })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(appId, pathParam(fc.string({ minLength: 1, maxLength: 30 })))
      .map(([id, user]) => ({ method: 'POST', path: `/apps/${id}/users/${user}/terminate_connections` })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { method: 'GET', path: '/ready' },
      { method: 'GET', path: '/health' },
      { method: 'GET', path: '/metrics' },
      { method: 'GET', path: '/nope' },
      { method: 'GET', path: '/apps' },
      { method: 'POST', path: '/apps/app-id/nope' },
      { method: 'GET', path: '/apps/app-id/channels/a/b/c' },
    ),
  },
);

/** A route at its path, or under the prefix, a look-alike of it, or the prefix twice. */
const route: fc.Arbitrary<Route> = fc
  .tuple(fc.constantFrom('', '', '', PREFIX, '/rtXv1', `${PREFIX}${PREFIX}`), unprefixedRoute)
  .map(([prefix, r]) => ({ method: r.method, path: `${prefix}${r.path}` }));

const method = (routeMethod: string) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(routeMethod) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'CONNECT'),
    },
  );

const infoValue = fc.oneof(
  fc.constantFrom(
    'user_count',
    'subscription_count',
    'cache',
    'user_count,subscription_count',
    '',
    ',,',
    'nope',
  ),
  fc.string({ maxLength: 20 }),
);

/** A whole number as text, in range or not, or something else. */
const numberText = fc.oneof(
  fc.nat({ max: 2000 }).map(String),
  fc.constantFrom(
    '-1',
    '1.5',
    '1e3',
    '',
    ' 1',
    '0x10',
    '9007199254740991',
    '9007199254740992',
    '99999999999999999',
  ),
  fc.string({ maxLength: 12 }),
);

/** Query parameters besides the signature's own. */
const params: fc.Arbitrary<Record<string, string>> = fc.oneof(
  fc.constant({}),
  fc.record(
    {
      since_offset: numberText,
      epoch: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,16}$/), fc.string({ maxLength: 70 })),
      limit: numberText,
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      info: infoValue,
      filter_by_prefix: fc.constantFrom('presence-', 'private-', 'fuzz', '', '__proto__'),
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(fc.stringMatching(/^[a-z_]{1,10}$/), fc.stringMatching(/^[A-Za-z0-9_\-.,]{0,20}$/), {
    maxKeys: 4,
  }),
);

const socketId = fc.oneof(fc.constantFrom('123.456', '1.1', 'abc', '', '1.', '.1'), anyJson());

/** An event of `POST /events` or a batch item: fields valid or not, present or not. */
const event = fc.record(
  {
    name: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('fuzz-event', 'my-event', 'client-x') },
      {
        weight: 1,
        arbitrary: fc.constantFrom('pusher:x', 'pusher_internal:member_added', '', 'e'.repeat(250)),
      },
      { weight: 1, arbitrary: anyJson() },
    ),
    data: fc.oneof(
      { weight: 4, arbitrary: fc.string({ maxLength: 100 }) },
      { weight: 1, arbitrary: fc.integer({ min: 10_000, max: 12_000 }).map((n) => 'd'.repeat(n)) },
      { weight: 1, arbitrary: anyJson() },
    ),
    channels: fc.oneof(
      { weight: 4, arbitrary: fc.array(channelName, { minLength: 1, maxLength: 4 }) },
      { weight: 1, arbitrary: fc.array(anyJson(), { maxLength: 3 }) },
      { weight: 1, arbitrary: fc.constantFrom([{ toString: 1 }], [], 'fuzz-a', null) },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 99, max: 102 }).map((n) => Array.from({ length: n }, (_, i) => `c${i}`)),
      },
    ),
    channel: fc.oneof(channelName, anyJson(), fc.constant({ toString: 1 })),
    socket_id: socketId,
    info: infoValue,
  },
  { requiredKeys: [] },
);

/** A request body: JSON of the route's shape, other JSON, text that is not JSON, truncated, huge or deep. */
const body: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: event.map((e) => JSON.stringify(e)) },
  {
    weight: 3,
    arbitrary: fc
      .oneof(fc.array(event, { maxLength: 12 }), anyJson())
      .map((batch) => JSON.stringify({ batch })),
  },
  { weight: 1, arbitrary: anyJson().map((v) => JSON.stringify(v) ?? '') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', '{', 'null', '[]', '{"name":', 'not json', '{"__proto__":{"name":"x"}}'),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(event, fc.nat()).map(([e, n]) => {
      const text = JSON.stringify(e);
      return text.slice(0, n % (text.length + 1));
    }),
  },
  { weight: 1, arbitrary: fc.integer({ min: MAX_BODY - 10, max: MAX_BODY + 10 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: deepJsonText() },
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json',
  'text/plain',
  undefined,
  'a/b; charset=x',
  '',
);

/** How a request is signed: by the SDK (correctly), not at all, with the wrong secret, or too late. */
const signing = fc.constantFrom('sdk', 'sdk', 'sdk', 'none', 'wrong-secret', 'stale');

/**
 * How the body is framed: with its Content-Length, chunked, or with a Content-Length shorter than
 * the body (the rest then reads as the start of a next request, which is malformed).
 */
const framing = fc.constantFrom('length', 'length', 'length', 'chunked', 'short');

interface Request {
  route: Route;
  method: string;
  params: Record<string, string>;
  body: string | undefined;
  contentType: string | undefined;
  signing: string;
  framing: string;
}

const request: fc.Arbitrary<Request> = route.chain((r) =>
  fc.record({
    route: fc.constant(r),
    method: method(r.method),
    params,
    body: fc.oneof(
      { weight: r.method === 'POST' ? 6 : 1, arbitrary: body },
      { weight: 1, arbitrary: fc.constant(undefined) },
    ),
    contentType,
    signing,
    framing,
  }),
);

// ---------------------------------------------------------------------------------------------------
// Sending and checking

const CREDENTIALS = new Map<string, { key: string; secret: string }>([
  [APP.id, APP],
  [OFF.id, OFF],
  [SLOW.id, SLOW],
]);

/** The query string of `r`: signed the way the SDK signs, or deliberately not. */
function queryOf(r: Request): string {
  const id = /\/apps\/([^/]+)\//.exec(r.route.path)?.[1] ?? APP.id;
  const credentials = CREDENTIALS.get(id) ?? APP;
  const plain = Object.entries(r.params)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  if (r.signing === 'none') return plain;
  const secret = r.signing === 'wrong-secret' ? 'not-the-secret' : credentials.secret;
  let signed: string;
  try {
    signed = createSignedQueryString(new Token(credentials.key, secret), {
      method: r.method,
      path: r.route.path,
      params: r.params,
      ...(r.body ? { body: r.body } : {}),
    });
  } catch (err) {
    // The SDK refuses some parameter names (its own, and "__proto__" through its lookup table):
    // such a request goes unsigned, as no SDK user could sign it.
    assert.match((err as Error).message, /is a required parameter and cannot be overidden/);
    return plain;
  }
  // A timestamp from an hour ago; the signature no longer matters as the window is checked first.
  return r.signing === 'stale'
    ? signed.replace(/auth_timestamp=\d+/, `auth_timestamp=${Math.floor(Date.now() / 1000) - 3600}`)
    : signed;
}

function requestBytes(r: Request): Buffer {
  const query = queryOf(r);
  const lines = [`${r.method} ${r.route.path}${query ? `?${query}` : ''} HTTP/1.1`, 'Host: 127.0.0.1'];
  const payload = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body, 'utf8');
  if (r.contentType !== undefined && r.body !== undefined) lines.push(`Content-Type: ${r.contentType}`);
  let framed = payload;
  if (r.framing === 'chunked' && payload.length > 0) {
    lines.push('Transfer-Encoding: chunked');
    const half = payload.length >> 1;
    const chunk = (part: Buffer) =>
      Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]);
    framed = Buffer.concat([
      ...(half > 0 ? [chunk(payload.subarray(0, half))] : []),
      chunk(payload.subarray(half)),
      Buffer.from('0\r\n\r\n'),
    ]);
  } else if (r.framing === 'short' && payload.length > 0) {
    lines.push(`Content-Length: ${payload.length >> 1}`);
  } else if (r.body !== undefined || r.method === 'POST') {
    lines.push(`Content-Length: ${payload.length}`);
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), framed]);
}

function checkAnswer(r: Request, response: RawResponse): void {
  const what = `${response.status} for ${r.method} ${r.route.path} (${r.signing}): ${response.body.toString('utf8').slice(0, 300)}`;
  assert.ok(DOCUMENTED.has(response.status), `undocumented ${what}`);
  const type = response.headers['content-type'] ?? '';
  if (r.route.path === '/metrics' && response.status === 200) {
    assert.match(type, /^text\/plain/, what);
    return;
  }
  assert.match(type, /^application\/json/, what);
  // A HEAD answer has no body (RFC 9110 section 9.3.2).
  if (r.method === 'HEAD') return;
  if (response.status >= 400) {
    errorOf(response);
  } else {
    const parsed = JSON.parse(response.body.toString('utf8')) as unknown;
    assert.ok(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed), what);
  }
}

async function oneCase(r: Request): Promise<void> {
  const http = await RawHttp.connect(server.port);
  try {
    http.write(requestBytes(r));
    const response = await http.response(DEADLINE_MS, r.method === 'HEAD');
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    checkAnswer(r, response);
    if (response.headers.connection?.toLowerCase() === 'close') {
      await http.waitClosed(DEADLINE_MS);
    } else {
      http.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const next = await http.response(DEADLINE_MS);
      if (r.framing === 'short' && next.status !== 200) {
        // The body's unread rest came first, and is no request: a JSON 400, then the end.
        assert.equal(next.status, 400, next.body.toString('utf8'));
        errorOf(next);
        await http.waitClosed(DEADLINE_MS);
      } else {
        assert.equal(next.status, 200, 'the kept-alive socket is not usable');
      }
    }
  } finally {
    http.destroy();
  }
}

test('every route with generated methods, parameters and bodies, unsigned and signed: documented answers only', async () => {
  await withLastFailure((record) =>
    fuzz('http api', 400, [request], async (r) => {
      await record(async () => {
        await oneCase(r);
        await observer.check();
      });
    }),
  );
  console.log(
    `# http api answers: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`,
  );
  // Signed requests must get past authentication: some are accepted, some refused by validation.
  assert.ok(statuses.has(200) && statuses.has(400) && statuses.has(401), JSON.stringify([...statuses]));
});

test('whatever was requested, the metrics label requests only with route templates and configured apps', async () => {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const labels = [
    ...text.matchAll(/^herald_http_requests_total\{route="([^"]*)",app="([^"]*)",status="(\d+)"\}/gm),
  ];
  assert.ok(labels.length > 0, 'the generated requests were counted');
  const routes = new Set(labels.map(([, route]) => route));
  const apps = new Set(labels.map(([, , app]) => app));
  for (const route of routes) {
    assert.match(route!, /^(unmatched|(GET|POST) (\/rt\.v1)?(\/:?[a-z_]+)+)$/, route);
  }
  // Ten routes (the HTTP API, /health, /ready, /metrics), the seven of the HTTP API under the prefix,
  // and unmatched.
  assert.ok(routes.size <= 18, [...routes].join(', '));
  assert.deepEqual(
    [...apps].filter((app) => ![APP.id, OFF.id, SLOW.id, ''].includes(app!)),
    [],
  );
});

/**
 * Runs a fuzz property and, when it fails, adds the error of the last failing case (fast-check reports
 * only the counterexample) to the failure.
 */
async function withLastFailure(
  run: (record: (body: () => Promise<void>) => Promise<void>) => Promise<void>,
): Promise<void> {
  let last: unknown;
  const record = async (body: () => Promise<void>) => {
    try {
      await body();
    } catch (err) {
      last = err;
      throw err;
    }
  };
  try {
    await run(record);
  } catch (err) {
    const detail = last instanceof Error ? (last.stack ?? last.message) : String(last);
    throw new Error(`${(err as Error).message}\nLast failing case: ${detail}`);
  }
}
