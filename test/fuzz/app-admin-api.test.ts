import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { openAppCatalog } from '../../src/apps/open.js';
import { parseConfig } from '../../src/config/load.js';
import { appSchema } from '../../src/config/schema.js';
import { databaseSkip, dropAppTable, POSTGRES_URL, uniqueTable } from '../helpers/databases.js';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import { errorOf, RawHttp, type RawResponse } from '../helpers/raw-http.js';
import { anyJson, deepJsonText, fuzz, Observer } from './harness.js';

/**
 * The app management API (`/herald/apps…` on the admin listener) with generated methods, paths,
 * `Authorization` headers and bodies, written on raw sockets. Every answer must be JSON with a 2xx
 * or a documented 4xx status (never a 5xx, never a hang), a request without the right token is never
 * accepted and changes nothing, and the server keeps serving everyone else. Against the config file
 * (read-only: validation, refusals) and a PostgreSQL table (the writes reach the database).
 */

const DEADLINE_MS = 5000;
const MAX_BODY = 16 * 1024;
const TOKEN = 'fuzz-token-0123456789abcdef0123456789abcdef';
const OTHER = { id: 'other-id', key: 'other-key', secret: 'other-secret' };
/** Statuses docs/apps.md documents, and those of the HTTP edge before any route. */
const DOCUMENTED = new Set([200, 201, 400, 401, 404, 405, 409, 413, 431]);

// ---------------------------------------------------------------------------------------------------
// Generators

/** An `Authorization` header: the right token (some spellings of it), none, or a wrong one. */
const authorization: fc.Arbitrary<{ right: boolean; header: string | undefined }> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .constantFrom(`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `BEARER  ${TOKEN}`, `Bearer\t${TOKEN} `)
      .map((header) => ({ right: true, header })),
  },
  {
    weight: 4,
    arbitrary: fc
      .oneof(
        fc.constant(undefined),
        fc.constantFrom(
          TOKEN,
          'Bearer',
          'Bearer ',
          `Basic ${TOKEN}`,
          `Bearer ${TOKEN.slice(0, -1)}`,
          `Bearer ${TOKEN}x`,
          `Bearer x${TOKEN}`,
          `Bearer ${TOKEN.toUpperCase()}`,
          `Bearer ${TOKEN} ${TOKEN}`,
          `Bearer${TOKEN}`,
          'Bearer \u00e9',
        ),
        fc.stringMatching(/^[\x21-\x7e]{1,80}$/).map((s) => `Bearer ${s}`),
        fc.string({ unit: 'binary-ascii', maxLength: 80 }).map((s) => s.replace(/[\r\n\0]/g, '')),
      )
      .map((header) => ({ right: false, header })),
  },
);

/** An app id in a path: one of `ids` mostly, else an unknown one or a broken encoding. */
const appIdParam = (ids: readonly string[]) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...ids) },
    {
      weight: 2,
      arbitrary: fc.constantFrom('no-such-app', '%ZZ', '%E0%A4', '%2F', '__proto__', 'constructor', '..'),
    },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent) },
  );

interface Target {
  method: string;
  path: string;
}

const route = (ids: readonly string[]): fc.Arbitrary<Target> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom({ method: 'GET', path: '/herald/apps' }) },
    { weight: 4, arbitrary: fc.constant({ method: 'POST', path: '/herald/apps' }) },
    ...(['GET', 'PATCH', 'DELETE'] as const).map((method) => ({
      weight: 3,
      arbitrary: appIdParam(ids).map((id) => ({ method, path: `/herald/apps/${id}` })),
    })),
    ...(['enable', 'disable', 'rotate-secret'] as const).map((action) => ({
      weight: 3,
      arbitrary: appIdParam(ids).map((id) => ({ method: 'POST', path: `/herald/apps/${id}/${action}` })),
    })),
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        { method: 'GET', path: '/herald/apps/' },
        { method: 'GET', path: '/herald/appsx' },
        { method: 'GET', path: '/herald/apps?x=%ZZ' },
        { method: 'POST', path: `/herald/apps/${APP.id}/nope` },
        { method: 'GET', path: `/herald/apps/${APP.id}/enable/x` },
        { method: 'GET', path: '/herald/APPS' },
        { method: 'GET', path: '/herald' },
      ),
    },
  );

const method = (routeMethod: string) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant(routeMethod) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE'),
    },
  );

const webhook = fc.record(
  {
    url: fc.oneof(fc.constantFrom('https://example.com/hook', 'ftp://x', ''), anyJson()),
    events: fc.oneof(fc.constantFrom(['channel_occupied'], ['nope'], []), anyJson()),
  },
  { requiredKeys: [] },
);

/** App fields, valid and not: what create and update are given. */
const appFields = fc.record(
  {
    id: fc.oneof(fc.constantFrom(APP.id, OTHER.id, '', 'x'.repeat(300)), fc.string({ maxLength: 20 })),
    key: fc.oneof(fc.constantFrom(APP.key, OTHER.key, ''), fc.string({ maxLength: 20 })),
    secret: fc.oneof(fc.constant(''), fc.string({ maxLength: 40 }), anyJson()),
    enabled: fc.oneof(fc.boolean(), anyJson()),
    clientEvents: fc.oneof(fc.boolean(), anyJson()),
    allowedOrigins: fc.oneof(
      fc.constantFrom(['*'], ['example.com'], ['https://a.example:8443'], ['bad origin'], []),
      anyJson(),
    ),
    maxConnections: fc.oneof(fc.constantFrom(null, 0, 1, -1, 1.5, 2 ** 53), fc.integer(), anyJson()),
    maxEventPayloadBytes: fc.oneof(fc.integer({ min: -5, max: 100_000 }), anyJson()),
    previousSecret: fc.oneof(fc.constantFrom(null, 'old'), anyJson()),
    previousSecretExpiresAt: fc.oneof(
      fc.constantFrom(null, '2030-01-01T00:00:00Z', 'yesterday', '2030-13-01T00:00:00Z'),
      anyJson(),
    ),
    webhooks: fc.oneof(fc.array(webhook, { maxLength: 3 }), anyJson()),
    unknownField: anyJson(),
  },
  { requiredKeys: [] },
);

/** Any text a JSON string can carry, NUL and lone surrogates included. */
const anyText = (minLength: number) => fc.string({ unit: 'binary', minLength, maxLength: 60 });

/** App fields the schema takes, with any text in the string fields: these reach the store. */
const validFields = fc.record(
  {
    id: anyText(1),
    key: anyText(1),
    secret: anyText(1),
    previousSecret: fc.option(anyText(1)),
    enabled: fc.boolean(),
    allowedOrigins: fc.constantFrom(['*'], ['example.com', '*.example.org']),
    maxConnections: fc.option(fc.integer({ min: 1, max: 2 ** 40 })),
    webhooks: fc.array(
      fc.record({
        url: fc.constantFrom('https://example.com/hook'),
        events: fc.constant(['channel_occupied']),
      }),
      { maxLength: 2 },
    ),
  },
  { requiredKeys: [] },
);

/** A body: app fields, a rotation's grace, any JSON, text that is not JSON, huge or deep. */
const body: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 4, arbitrary: appFields.map((f) => JSON.stringify(f)) },
  { weight: 3, arbitrary: validFields.map((f) => JSON.stringify(f)) },
  {
    weight: 2,
    arbitrary: fc
      .record(
        {
          graceMs: fc.oneof(
            fc.constantFrom(0, 600_000, -1, 1.5, 1e300, 365 * 86_400_000, 365 * 86_400_000 + 1),
            anyJson(),
          ),
          extra: anyJson(),
        },
        { requiredKeys: [] },
      )
      .map((b) => JSON.stringify(b)),
  },
  { weight: 2, arbitrary: anyJson().map((v) => JSON.stringify(v) ?? '') },
  { weight: 1, arbitrary: fc.constantFrom('', '{', 'null', '[]', '{"__proto__":{"enabled":false}}', 'x') },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_BODY - 10, max: MAX_BODY + 10 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: deepJsonText() },
);

interface Request {
  target: Target;
  method: string;
  auth: { right: boolean; header: string | undefined };
  body: string | undefined;
}

/** Requests whose paths name the apps `ids` (the ones a case may change) or others. */
const request = (ids: readonly string[]): fc.Arbitrary<Request> =>
  route(ids).chain((target) =>
    fc.record({ target: fc.constant(target), method: method(target.method), auth: authorization, body }),
  );

// ---------------------------------------------------------------------------------------------------
// Sending and checking

function requestBytes(r: Request): Buffer {
  const lines = [`${r.method} ${r.target.path} HTTP/1.1`, 'Host: 127.0.0.1'];
  if (r.auth.header !== undefined) lines.push(`Authorization: ${r.auth.header}`);
  const payload = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body, 'utf8');
  if (r.body !== undefined) lines.push('Content-Type: application/json');
  if (r.body !== undefined || r.method === 'POST' || r.method === 'PATCH') {
    lines.push(`Content-Length: ${payload.length}`);
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}

function checkAnswer(r: Request, response: RawResponse): void {
  const what = `${response.status} for ${r.method} ${r.target.path} (${r.auth.right ? 'right' : 'wrong'} token): ${response.body.toString('utf8').slice(0, 300)}`;
  assert.ok(DOCUMENTED.has(response.status), `undocumented ${what}`);
  assert.match(response.headers['content-type'] ?? '', /^application\/json/, what);
  if (!r.auth.right) assert.ok(response.status >= 400, `accepted without the token: ${what}`);
  if (response.status === 401) assert.match(response.headers['www-authenticate'] ?? '', /^Bearer/, what);
  // A HEAD answer has no body (RFC 9110 section 9.3.2).
  if (r.method === 'HEAD') return;
  if (response.status >= 400) {
    errorOf(response);
  } else {
    const parsed = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
    assert.ok(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed), what);
    assert.ok('app' in parsed || 'apps' in parsed || parsed.deleted === true, what);
  }
}

/** Every app as the API lists it, in one string to compare before and after a case. */
async function snapshot(server: TestHerald): Promise<string> {
  const response = await fetch(`${server.apiUrl}/herald/apps`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(response.status, 200);
  return response.text();
}

async function oneCase(server: TestHerald, r: Request, statuses: Map<number, number>): Promise<void> {
  const before = r.auth.right ? undefined : await snapshot(server);
  const http = await RawHttp.connect(server.apiPort!);
  try {
    http.write(requestBytes(r));
    const response = await http.response(DEADLINE_MS, r.method === 'HEAD');
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    checkAnswer(r, response);
  } finally {
    http.destroy();
  }
  if (before !== undefined)
    assert.equal(await snapshot(server), before, 'a request without the token changed apps');
}

/** A server under test. */
interface Started {
  server: TestHerald;
  /** The apps the cases may change; never the observer's (`APP`) where writes are taken. */
  targets: readonly string[];
  /** Run before each case: puts back what earlier cases deleted. */
  prepare?: () => Promise<void>;
  /** Run once the server stopped. */
  cleanUp?: () => Promise<void>;
}

/**
 * The property against one server: `start` gives a server whose admin listener serves the API with
 * `TOKEN` and whose apps include `APP` (the observer's), or the reason to skip.
 */
function suite(name: string, runs: number, start: () => Promise<Started | string>): void {
  describe(name, () => {
    let started: Started | undefined;
    let skip: string | undefined;
    let observer: Observer | undefined;
    before(async () => {
      const result = await start();
      if (typeof result === 'string') skip = result;
      else {
        started = result;
        observer = await Observer.connect(result.server);
      }
    });
    after(async () => {
      observer?.close();
      await started?.server.stop();
      await started?.cleanUp?.();
    });

    test('generated methods, paths, tokens and bodies: JSON answers, 2xx only with the token', async (t) => {
      if (skip) return t.skip(skip);
      const { server, targets, prepare } = started!;
      const statuses = new Map<number, number>();
      await fuzz(`app admin api (${name})`, runs, [request(targets)], async (r) => {
        await prepare?.();
        await oneCase(server, r, statuses);
        await observer!.check();
      });
      console.log(`# ${name} answers: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
      assert.ok(statuses.has(200) && statuses.has(400) && statuses.has(401), JSON.stringify([...statuses]));
    });
  });
}

const serverConfig = { api: { port: 0, token: TOKEN }, maxRequestBodyBytes: MAX_BODY };

suite('config file', 300, async () => ({
  server: await startHerald({ ...serverConfig, apps: [{ ...APP, clientEvents: true }, OTHER] }),
  targets: [APP.id, OTHER.id],
}));

// The writes reach the database: whatever the fields, a bad one is a 400, never a failed statement.
suite('postgres table', 300, async () => {
  const skip = await databaseSkip('postgres');
  if (skip) return skip;
  const table = uniqueTable();
  const appStore = { driver: 'postgres' as const, url: POSTGRES_URL, table };
  const catalog = openAppCatalog(parseConfig({ appStore }), pino({ level: 'silent' }));
  try {
    await catalog.migrate();
    await catalog.create(appSchema.parse({ ...APP, clientEvents: true }));
  } finally {
    await catalog.close();
  }
  const server = await startHerald({ ...serverConfig, appStore });
  const targets = [OTHER.id, 'spare-id'];
  const authorization = `Bearer ${TOKEN}`;
  return {
    server,
    targets,
    prepare: async () => {
      for (const id of targets) {
        const url = `${server.apiUrl}/herald/apps`;
        const found = await fetch(`${url}/${id}`, { headers: { authorization } });
        await found.arrayBuffer();
        if (found.status !== 404) continue;
        // Its key generated: a case may have given its old key to another app.
        const created = await fetch(url, {
          method: 'POST',
          headers: { authorization },
          body: JSON.stringify({ id }),
        });
        assert.equal(created.status, 201, await created.text());
      }
    },
    cleanUp: () => dropAppTable('postgres', table),
  };
});
