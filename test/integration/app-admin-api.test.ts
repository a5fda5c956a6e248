import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';

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
