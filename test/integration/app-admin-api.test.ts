import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { addAppAdminApi } from '../../src/apps/admin-api.js';
import { AppManager } from '../../src/apps/manage.js';
import { openAppCatalog } from '../../src/apps/open.js';
import { parseConfig } from '../../src/config/load.js';
import { appSchema } from '../../src/config/schema.js';
import type { App, AppCatalog } from '../../src/core/apps/app.js';
import { Router } from '../../src/http/router.js';
import { databaseSkip, dropAppTable, POSTGRES_URL, uniqueTable } from '../helpers/databases.js';
import { APP, connected, nextEvent, startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';

/**
 * The app management API (docs/apps.md, "App management API") on real sockets: `/herald/apps` on the
 * admin listener only, behind the bearer token, answering JSON.
 */

const TOKEN = 'test-token-0123456789abcdef0123456789abcdef';
const OTHER = { id: 'other-id', key: 'other-key', secret: 'other-secret' } as const;

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** A request to `base` + `path`; the answer's body parsed as JSON (every answer of this API is JSON). */
async function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string | null; authorization?: string; body?: unknown; raw?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? TOKEN : options.token;
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  else if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | undefined = options.raw;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, `${method} ${path}`);
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

describe('the app management API over the config file (read-only)', () => {
  let server: TestHerald;
  let api: (method: string, path: string, options?: Parameters<typeof call>[3]) => Promise<Answer>;

  before(async () => {
    server = await startHerald({
      api: { port: 0, token: TOKEN },
      maxRequestBodyBytes: 4096,
      apps: [
        { ...OTHER, enabled: false },
        { ...APP, clientEvents: true },
      ],
    });
    api = (method, path, options) => call(server.apiUrl!, method, path, options);
  });
  after(() => server?.stop());

  test('without the token, or with another, every route answers 401 with a Bearer challenge', async () => {
    const routes = [
      ['GET', '/herald/apps'],
      ['POST', '/herald/apps'],
      ['GET', `/herald/apps/${APP.id}`],
      ['PATCH', `/herald/apps/${APP.id}`],
      ['DELETE', `/herald/apps/${APP.id}`],
      ['POST', `/herald/apps/${APP.id}/enable`],
      ['POST', `/herald/apps/${APP.id}/disable`],
      ['POST', `/herald/apps/${APP.id}/rotate-secret`],
    ] as const;
    for (const [method, path] of routes) {
      const missing = await api(method, path, { token: null });
      assert.equal(missing.status, 401, `${method} ${path}`);
      assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
      assert.equal(typeof missing.body.error, 'string');
      assert.deepEqual(Object.keys(missing.body), ['error']);

      const wrong = await api(method, path, { token: `${TOKEN.slice(0, -1)}x` });
      assert.equal(wrong.status, 401, `${method} ${path}`);
      assert.equal(wrong.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
      assert.deepEqual(Object.keys(wrong.body), ['error']);
    }
    for (const authorization of [TOKEN, `Basic ${TOKEN}`, 'Bearer', 'Bearer ', `Bearer ${TOKEN}${TOKEN}`]) {
      const answer = await api('GET', '/herald/apps', { authorization });
      assert.equal(answer.status, 401, authorization);
      assert.equal(answer.body.apps, undefined);
    }
    // The scheme is case-insensitive (RFC 9110 section 11.1, "Authentication Scheme").
    assert.equal((await api('GET', '/herald/apps', { authorization: `bearer ${TOKEN}` })).status, 200);
  });

  test('the public port does not serve it, token or not (404 like any unknown path)', async () => {
    for (const token of [TOKEN, null]) {
      for (const [method, path] of [
        ['GET', '/herald/apps'],
        ['GET', `/herald/apps/${APP.id}`],
        ['POST', '/herald/apps'],
      ]) {
        const answer = await call(server.httpUrl, method!, path!, { token });
        assert.equal(answer.status, 404, `${method} ${path} on the public port`);
        assert.equal(answer.body.apps, undefined);
        assert.equal(answer.body.app, undefined);
      }
    }
  });

  test('GET lists the config file apps by id, and shows one whole, secret included', async () => {
    const list = await api('GET', '/herald/apps');
    assert.equal(list.status, 200);
    const apps = list.body.apps as Record<string, unknown>[];
    assert.deepEqual(
      apps.map((a) => [a.id, a.key, a.secret, a.enabled]),
      [
        [APP.id, APP.key, APP.secret, true],
        [OTHER.id, OTHER.key, OTHER.secret, false],
      ],
    );

    const one = await api('GET', `/herald/apps/${APP.id}`);
    assert.equal(one.status, 200);
    const app = one.body.app as Record<string, unknown>;
    assert.equal(app.secret, APP.secret);
    assert.equal(app.clientEvents, true);
    assert.equal(app.previousSecret, null);
    assert.equal(app.previousSecretExpiresAt, null);
    assert.ok('maxConnections' in app, 'camelCase fields as the App type has them');
    assert.deepEqual(app, apps[0]);
  });

  test('writes answer 405 saying the config file is read-only', async () => {
    const writes = [
      ['POST', '/herald/apps', {}, 'GET'],
      ['PATCH', `/herald/apps/${APP.id}`, { enabled: false }, 'GET'],
      ['DELETE', `/herald/apps/${APP.id}`, undefined, 'GET'],
      ['POST', `/herald/apps/${APP.id}/enable`, undefined, ''],
      ['POST', `/herald/apps/${APP.id}/disable`, undefined, ''],
      ['POST', `/herald/apps/${APP.id}/rotate-secret`, { graceMs: 0 }, ''],
    ] as const;
    for (const [method, path, body, allow] of writes) {
      const answer = await api(method, path, body === undefined ? {} : { body });
      assert.equal(answer.status, 405, `${method} ${path}`);
      assert.match(String(answer.body.error), /config file, which is read-only/);
      assert.equal(answer.headers.get('allow'), allow, `${method} ${path}`);
    }
    // Nothing changed.
    const app = (await api('GET', `/herald/apps/${APP.id}`)).body.app as Record<string, unknown>;
    assert.equal(app.enabled, true);
    assert.equal(app.secret, APP.secret);
  });

  test('a body that is not JSON is a 400', async () => {
    for (const [method, path] of [
      ['POST', '/herald/apps'],
      ['PATCH', `/herald/apps/${APP.id}`],
      ['POST', `/herald/apps/${APP.id}/rotate-secret`],
    ]) {
      const answer = await api(method!, path!, { raw: '{"name": ' });
      assert.equal(answer.status, 400, `${method} ${path}`);
      assert.equal(answer.body.error, 'Request body must be JSON');
    }
  });

  test('invalid fields are a 400 listing every problem', async () => {
    const created = await api('POST', '/herald/apps', {
      body: { key: '', maxConnections: 'many', colour: 'blue' },
    });
    assert.equal(created.status, 400);
    const problems = created.body.problems as string[];
    assert.ok(Array.isArray(problems));
    for (const field of ['key', 'maxConnections', 'colour']) {
      assert.ok(
        problems.some((p) => p.startsWith(`${field}:`)),
        `${field} in ${JSON.stringify(problems)}`,
      );
    }
    assert.match(String(created.body.error), /^invalid app: /);

    const patched = await api('PATCH', `/herald/apps/${APP.id}`, { body: { id: 'another' } });
    assert.equal(patched.status, 400);
    assert.deepEqual(patched.body.problems, ['id: an app keeps its id']);

    for (const body of [[], 'text', 7, null]) {
      const answer = await api('POST', '/herald/apps', { body });
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.deepEqual(answer.body.problems, ['an object of app fields']);
    }

    for (const body of [
      { graceMs: -1 },
      { graceMs: '10m' },
      { graceMs: 1.5 },
      { graceMs: 1e300 },
      { grace: 5 },
    ]) {
      const answer = await api('POST', `/herald/apps/${APP.id}/rotate-secret`, { body });
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.ok((answer.body.problems as string[]).length > 0);
    }
  });

  test('an unknown app is a 404', async () => {
    for (const [method, path, body] of [
      ['GET', '/herald/apps/no-such-app', undefined],
      ['PATCH', '/herald/apps/no-such-app', { enabled: false }],
      ['GET', '/herald/apps/%E2%9C%93', undefined],
    ] as const) {
      const answer = await api(method, path, body === undefined ? {} : { body });
      assert.equal(answer.status, 404, `${method} ${path}`);
      assert.match(String(answer.body.error), /^No app with id "/);
    }
  });

  test('a body over maxRequestBodyBytes is a 413', async () => {
    const answer = await api('POST', '/herald/apps', { body: { name: 'x'.repeat(5000) } });
    assert.equal(answer.status, 413);
    assert.equal(typeof answer.body.error, 'string');
  });
});

describe('without api.token the app management API is off', () => {
  let server: TestHerald;
  before(async () => {
    server = await startHerald({ api: { port: 0 } });
  });
  after(() => server?.stop());

  test('/herald/apps is an unknown path on both listeners', async () => {
    for (const base of [server.apiUrl!, server.httpUrl]) {
      const answer = await call(base, 'GET', '/herald/apps');
      assert.equal(answer.status, 404);
      assert.match(String(answer.body.error), /^Not found/);
    }
  });
});

const GUARD_MS = 10_000;
const silent = pino({ level: 'silent' });

/** A pino logger at info that keeps its records, for the server in this process. */
function recordingLogger(): { logger: pino.Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => records.push(JSON.parse(line)) });
  return { logger, records };
}

/** The catalog of a PostgreSQL apps table, as the server opens it from `appStore`. */
function postgresCatalog(table: string): AppCatalog {
  return openAppCatalog(parseConfig({ appStore: { driver: 'postgres', url: POSTGRES_URL, table } }), silent);
}

describe('the app management API over a PostgreSQL table', { skip: await databaseSkip('postgres') }, () => {
  const table = uniqueTable();
  const { logger, records } = recordingLogger();
  /** Every secret the API answered, none of which may be logged. */
  const secrets = new Set<string>();
  let server: TestHerald;
  let api: (method: string, path: string, options?: Parameters<typeof call>[3]) => Promise<Answer>;
  /** The app the API answered (201 or 200), checked to be an App exactly, its secrets noted. */
  const appOf = (answer: Answer, status = 200): App => {
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    const app = answer.body.app as App;
    // Every field of the App type, camelCase, and nothing else.
    assert.deepEqual(appSchema.parse(app), app);
    secrets.add(app.secret);
    if (app.previousSecret !== null) secrets.add(app.previousSecret);
    return app;
  };

  before(async () => {
    const catalog = postgresCatalog(table);
    try {
      await catalog.migrate();
    } finally {
      await catalog.close();
    }
    server = await startHerald(
      { api: { port: 0, token: TOKEN }, appStore: { driver: 'postgres', url: POSTGRES_URL, table } },
      { logger },
    );
    api = (method, path, options) => call(server.apiUrl!, method, path, options);
  });
  after(async () => {
    await server?.stop();
    await dropAppTable('postgres', table);
  });

  let created: App;

  test('an empty table lists no apps', async () => {
    const list = await api('GET', '/herald/apps');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body, { apps: [] });
  });

  test('create: 201 with generated credentials, which pusher-js and the pusher SDK then use', async () => {
    created = appOf(await api('POST', '/herald/apps', { body: { clientEvents: true } }), 201);
    assert.match(created.id, /^\d{7}$/);
    assert.match(created.key, /^[0-9a-f]{20}$/);
    assert.match(created.secret, /^[0-9a-f]{32}$/);
    assert.equal(created.enabled, true);
    assert.equal(created.clientEvents, true);
    assert.deepEqual(appOf(await api('GET', `/herald/apps/${created.id}`)), created);
    assert.deepEqual((await api('GET', '/herald/apps')).body, { apps: [created] });

    const client = server.client({}, created.key);
    await within(connected(client), GUARD_MS, 'pusher-js to connect with the new key');
    const channel = client.subscribe('news');
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'the subscription');
    const received = nextEvent<{ n: number }>(channel, 'headline');
    const response = await server.sdk(created).trigger('news', 'headline', { n: 7 });
    assert.equal(response.status, 200);
    assert.deepEqual(await within(received, GUARD_MS, 'the event'), { n: 7 });
    client.disconnect();
  });

  test('create with given credentials keeps them; a taken id or key is a 409', async () => {
    const given = { id: 'given-id', key: 'given-key', secret: 'given-secret' };
    const app = appOf(await api('POST', '/herald/apps', { body: given }), 201);
    assert.deepEqual([app.id, app.key, app.secret], [given.id, given.key, given.secret]);

    const sameKey = await api('POST', '/herald/apps', { body: { key: created.key } });
    assert.equal(sameKey.status, 409);
    assert.equal(sameKey.body.error, `an app with key "${created.key}" exists already`);
    const sameId = await api('POST', '/herald/apps', { body: { id: created.id } });
    assert.equal(sameId.status, 409);
    assert.equal(sameId.body.error, `an app with id "${created.id}" exists already`);
    const patched = await api('PATCH', `/herald/apps/${given.id}`, { body: { key: created.key } });
    assert.equal(patched.status, 409);
    assert.match(String(patched.body.error), /key/);
    // Nothing changed by the refusals.
    assert.equal(appOf(await api('GET', `/herald/apps/${given.id}`)).key, given.key);
    const ids = ((await api('GET', '/herald/apps')).body.apps as App[]).map((a) => a.id);
    assert.deepEqual(ids.sort(), [created.id, given.id].sort());
  });

  test('text the table cannot keep (NUL, a lone surrogate) is a 400, not a failed statement', async () => {
    const answer = await api('POST', '/herald/apps', { body: { secret: 'a\u0000b', key: 'k\uD800' } });
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.deepEqual(
      (answer.body.problems as string[]).map((p) => p.slice(0, p.indexOf(':'))),
      ['key', 'secret'],
    );
    const patched = await api('PATCH', `/herald/apps/${created.id}`, { body: { secret: '\u0000' } });
    assert.equal(patched.status, 400);
  });

  test('PATCH changes the fields given and keeps the others', async () => {
    const changes = { maxConnections: 10, clientEvents: false, allowedOrigins: ['example.com'] };
    const app = appOf(await api('PATCH', `/herald/apps/${created.id}`, { body: changes }));
    assert.deepEqual(app, { ...created, ...changes });
    assert.deepEqual(appOf(await api('GET', `/herald/apps/${created.id}`)), app);
    const invalid = await api('PATCH', `/herald/apps/${created.id}`, { body: { maxConnections: -1 } });
    assert.equal(invalid.status, 400);
    assert.ok((invalid.body.problems as string[]).some((p) => p.startsWith('maxConnections:')));
    created = app;
  });

  test('disable refuses the HTTP API (403) until enable', async () => {
    assert.equal(appOf(await api('POST', `/herald/apps/${created.id}/disable`)).enabled, false);
    await assert.rejects(server.sdk(created).trigger('news', 'x', {}), { status: 403 });
    assert.equal(appOf(await api('POST', `/herald/apps/${created.id}/enable`)).enabled, true);
    assert.equal((await server.sdk(created).trigger('news', 'x', {})).status, 200);
  });

  test('rotate-secret: a new secret, the one before kept for the grace given (10 minutes by default)', async () => {
    const before = appOf(await api('GET', `/herald/apps/${created.id}`));
    let asked = Date.now();
    const rotated = appOf(await api('POST', `/herald/apps/${created.id}/rotate-secret`));
    let answered = Date.now();
    assert.match(rotated.secret, /^[0-9a-f]{32}$/);
    assert.notEqual(rotated.secret, before.secret);
    assert.equal(rotated.previousSecret, before.secret);
    const expires = Date.parse(rotated.previousSecretExpiresAt!);
    assert.ok(expires >= asked + 600_000 && expires <= answered + 600_000, rotated.previousSecretExpiresAt!);
    assert.deepEqual(
      { ...rotated, secret: '', previousSecret: '', previousSecretExpiresAt: '' },
      {
        ...before,
        secret: '',
        previousSecret: '',
        previousSecretExpiresAt: '',
      },
    );
    // The new secret signs HTTP API requests, and the one before still does during its grace.
    assert.equal((await server.sdk(rotated).trigger('news', 'x', {})).status, 200);
    assert.equal((await server.sdk(before).trigger('news', 'x', {})).status, 200);

    asked = Date.now();
    const again = appOf(
      await api('POST', `/herald/apps/${created.id}/rotate-secret`, { body: { graceMs: 60_000 } }),
    );
    answered = Date.now();
    assert.equal(again.previousSecret, rotated.secret);
    const soon = Date.parse(again.previousSecretExpiresAt!);
    assert.ok(soon >= asked + 60_000 && soon <= answered + 60_000, again.previousSecretExpiresAt!);

    const now = appOf(
      await api('POST', `/herald/apps/${created.id}/rotate-secret`, { body: { graceMs: 0 } }),
    );
    assert.notEqual(now.secret, again.secret);
    assert.equal(now.previousSecret, null);
    assert.equal(now.previousSecretExpiresAt, null);
    // Without grace the secret before is refused at once.
    await assert.rejects(server.sdk(again).trigger('news', 'x', {}), { status: 401 });
    assert.equal((await server.sdk(now).trigger('news', 'x', {})).status, 200);
    assert.deepEqual(appOf(await api('GET', `/herald/apps/${created.id}`)), now);
    created = now;
  });

  test('DELETE removes the app: 404 after', async () => {
    const deleted = await api('DELETE', `/herald/apps/${created.id}`);
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.body, { deleted: true });
    for (const [method, path] of [
      ['GET', `/herald/apps/${created.id}`],
      ['DELETE', `/herald/apps/${created.id}`],
      ['PATCH', `/herald/apps/${created.id}`],
      ['POST', `/herald/apps/${created.id}/enable`],
      ['POST', `/herald/apps/${created.id}/rotate-secret`],
    ] as const) {
      const answer = await api(method, path);
      assert.equal(answer.status, 404, `${method} ${path}`);
      assert.equal(answer.body.error, `No app with id "${created.id}"`);
    }
    const ids = ((await api('GET', '/herald/apps')).body.apps as App[]).map((a) => a.id);
    assert.deepEqual(ids, ['given-id']);
  });

  test('each change is logged at info with the app and what happened, never a secret', () => {
    const changes = records
      .filter((r) => r.component === 'app-admin-api')
      .map((r) => [r.level, r.app, r.change, r.msg]);
    const id = created.id;
    assert.deepEqual(changes, [
      [30, id, 'created', 'app created'],
      [30, 'given-id', 'created', 'app created'],
      [30, id, 'updated', 'app updated'],
      [30, id, 'disabled', 'app disabled'],
      [30, id, 'enabled', 'app enabled'],
      [30, id, 'secret rotated', 'app secret rotated'],
      [30, id, 'secret rotated', 'app secret rotated'],
      [30, id, 'secret rotated', 'app secret rotated'],
      [30, id, 'deleted', 'app deleted'],
    ]);
    const updated = records.find((r) => r.change === 'updated');
    assert.deepEqual(updated?.fields, ['maxConnections', 'clientEvents', 'allowedOrigins']);
    const text = JSON.stringify(records);
    assert.ok(secrets.size >= 5);
    for (const secret of secrets) assert.ok(!text.includes(secret), 'a secret was logged');
  });
});

describe('the app management API over a store that cannot answer', {
  skip: await databaseSkip('postgres'),
}, () => {
  // A table never migrated: the store refuses lookups until it is, which the API answers 503.
  const table = uniqueTable();
  const catalog = postgresCatalog(table);
  let server: Server;
  let base = '';

  before(async () => {
    const router = new Router(silent, 1024);
    addAppAdminApi(router, { manager: new AppManager(catalog), token: TOKEN });
    server = createServer(router.listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await catalog.close();
    await dropAppTable('postgres', table);
  });

  test('503 with Retry-After and what to do', async () => {
    for (const [method, path] of [
      ['GET', '/herald/apps'],
      ['GET', '/herald/apps/x'],
      ['POST', '/herald/apps'],
    ]) {
      const answer = await call(base, method!, path!);
      assert.equal(answer.status, 503, `${method} ${path}`);
      assert.equal(answer.headers.get('retry-after'), '5');
      assert.match(String(answer.body.error), /migrat/);
    }
    // The token is checked first all the same.
    assert.equal((await call(base, 'GET', '/herald/apps', { token: null })).status, 401);
  });
});
