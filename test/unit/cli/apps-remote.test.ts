import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { AppInputError } from '../../../src/apps/manage.js';
import { AppApiError, RemoteAppManager } from '../../../src/cli/apps-remote.js';
import { AppConflict, AppStoreReadOnly, AppStoreUnavailable } from '../../../src/core/apps/app.js';

/**
 * The remote client against a local HTTP server that answers each request with what the test sets:
 * the requests it sends, and what it makes of each answer. `test/integration/cli-apps.test.ts` runs it
 * against a real Herald.
 */

interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

const TOKEN = 'x'.repeat(40);
const APP = { id: '42', key: 'k', secret: 's', enabled: true, maxConnections: null, webhooks: [] };

let server: Server;
let base: URL;
let seen: Seen[] = [];
let answer: { status: number; body: string; contentType?: string } = { status: 200, body: '{}' };
/** When set, requests get no answer at all. */
let silent = false;

async function bodyOf(request: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of request) text += chunk;
  return text;
}

before(async () => {
  server = createServer(async (request, response) => {
    seen.push({
      method: request.method!,
      path: request.url!,
      authorization: request.headers.authorization,
      contentType: request.headers['content-type'],
      body: await bodyOf(request),
    });
    if (silent) return;
    response.writeHead(answer.status, { 'Content-Type': answer.contentType ?? 'application/json' });
    response.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  seen = [];
  silent = false;
});

const answerWith = (status: number, body: unknown) => {
  answer = { status, body: JSON.stringify(body) };
};

const remote = (url = base) => new RemoteAppManager(url, TOKEN, { timeoutMs: 2000 });

describe('RemoteAppManager requests', () => {
  test('each method is its route, with the bearer token and JSON bodies', async () => {
    const client = remote();
    answerWith(200, { apps: [APP] });
    assert.deepEqual(await client.list(), [APP]);
    answerWith(201, { app: APP });
    assert.deepEqual(await client.create({ maxConnections: 5 }), APP);
    answerWith(200, { app: APP });
    assert.deepEqual(await client.show('42'), APP);
    assert.deepEqual(await client.update('42', { clientEvents: true }), APP);
    assert.deepEqual(await client.enable('42'), APP);
    assert.deepEqual(await client.disable('42'), APP);
    assert.deepEqual(await client.rotateSecret('42', 60_000), APP);
    answerWith(200, { deleted: true });
    assert.equal(await client.delete('42'), true);

    assert.deepEqual(
      seen.map((s) => [s.method, s.path, s.body]),
      [
        ['GET', '/herald/apps', ''],
        ['POST', '/herald/apps', '{"maxConnections":5}'],
        ['GET', '/herald/apps/42', ''],
        ['PATCH', '/herald/apps/42', '{"clientEvents":true}'],
        ['POST', '/herald/apps/42/enable', ''],
        ['POST', '/herald/apps/42/disable', ''],
        ['POST', '/herald/apps/42/rotate-secret', '{"graceMs":60000}'],
        ['DELETE', '/herald/apps/42', ''],
      ],
    );
    assert.ok(seen.every((s) => s.authorization === `Bearer ${TOKEN}`));
    assert.ok(seen.every((s) => (s.body === '') === (s.contentType === undefined)));
    assert.ok(seen.filter((s) => s.body !== '').every((s) => s.contentType === 'application/json'));
  });

  test('an id is one path segment, whatever it holds', async () => {
    answerWith(200, { app: APP });
    await remote().show('a/b?c#d %');
    assert.equal(seen[0]!.path, '/herald/apps/a%2Fb%3Fc%23d%20%25');
  });

  test('a URL with a path (a proxy) keeps it; the description names where', async () => {
    answerWith(200, { apps: [] });
    const client = remote(new URL('/admin/', base));
    await client.list();
    assert.equal(seen[0]!.path, '/admin/herald/apps');
    assert.equal(client.description, `Herald at ${base.origin}/admin`);
    assert.equal(remote().description, `Herald at ${base.origin}`);
  });
});

describe('RemoteAppManager answers', () => {
  test('404 under an app id: no such app (undefined, false for delete)', async () => {
    answerWith(404, { error: 'No app with id "9"' });
    const client = remote();
    assert.equal(await client.show('9'), undefined);
    assert.equal(await client.update('9', { enabled: false }), undefined);
    assert.equal(await client.enable('9'), undefined);
    assert.equal(await client.disable('9'), undefined);
    assert.equal(await client.rotateSecret('9', 0), undefined);
    assert.equal(await client.delete('9'), false);
  });

  test("the router's own 404, or a 404 of the collection: no app management API there", async () => {
    answerWith(404, { error: 'Not found: /herald/apps/9' });
    await assert.rejects(remote().show('9'), (err: Error) => {
      assert.ok(err instanceof AppApiError);
      assert.match(
        err.message,
        /^Herald at http:\/\/127\.0\.0\.1:\d+ has no app management API \(GET \/herald\/apps\/9 answered 404\): give the URL of its admin listener/,
      );
      return true;
    });
    answerWith(404, { error: 'Not found: /herald/apps' });
    await assert.rejects(remote().list(), AppApiError);
    answer = { status: 404, body: '<html>nginx</html>', contentType: 'text/html' };
    await assert.rejects(remote().show('9'), AppApiError);
  });

  test('400: AppInputError with the problems', async () => {
    answerWith(400, {
      error: 'invalid app: maxConnections: Too small',
      problems: ['maxConnections: Too small', 'colour: Unrecognized key'],
    });
    await assert.rejects(remote().create({}), (err: Error) => {
      assert.ok(err instanceof AppInputError);
      assert.deepEqual(err.problems, ['maxConnections: Too small', 'colour: Unrecognized key']);
      return true;
    });
    answerWith(400, { error: 'Request body must be JSON' });
    await assert.rejects(remote().update('1', {}), (err: Error) => {
      assert.ok(err instanceof AppInputError);
      assert.deepEqual(err.problems, ['Request body must be JSON']);
      return true;
    });
  });

  test('401 and 403: a plain refusal that says which token to give', async () => {
    for (const status of [401, 403]) {
      answerWith(status, { error: 'The bearer token is not the api.token of this server' });
      await assert.rejects(remote().list(), (err: Error) => {
        assert.ok(err instanceof AppApiError);
        assert.match(
          err.message,
          new RegExp(
            `refused the token \\(${status}: The bearer token is not the api\\.token of this server\\): give its api\\.token with --api-token or HERALD_API_TOKEN$`,
          ),
        );
        return true;
      });
    }
  });

  test("405, 409, 503: the store's own exceptions, in the server's words", async () => {
    const readOnly = new AppStoreReadOnly('config file').message;
    answerWith(405, { error: readOnly });
    await assert.rejects(
      remote().create({}),
      (err: Error) => err instanceof AppStoreReadOnly && err.message === readOnly,
    );

    answerWith(409, { error: 'an app with key "k" exists already' });
    await assert.rejects(remote().create({ key: 'k' }), (err: Error) => {
      assert.ok(err instanceof AppConflict);
      assert.deepEqual([err.field, err.message], ['key', 'an app with key "k" exists already']);
      return true;
    });
    answerWith(409, { error: 'taken' });
    await assert.rejects(
      remote().create({}),
      (err: Error) => err instanceof AppConflict && err.message === 'taken',
    );

    answerWith(503, { error: 'postgres table herald_apps: connect ECONNREFUSED 127.0.0.1:5432' });
    await assert.rejects(
      remote().list(),
      (err: Error) =>
        err instanceof AppStoreUnavailable &&
        err.message === 'postgres table herald_apps: connect ECONNREFUSED 127.0.0.1:5432',
    );
  });

  test('anything else: AppApiError with the status and what came', async () => {
    answerWith(500, { error: 'Internal server error' });
    await assert.rejects(
      remote().list(),
      /answered GET \/herald\/apps with HTTP 500: Internal server error$/,
    );
    answer = { status: 502, body: 'Bad Gateway', contentType: 'text/plain' };
    await assert.rejects(
      remote().list(),
      (err: Error) => err instanceof AppApiError && /HTTP 502: Bad Gateway$/.test(err.message),
    );
  });

  test("a 2xx that is not the API's answer is refused, not printed as an app", async () => {
    answer = { status: 200, body: '<html>login</html>', contentType: 'text/html' };
    await assert.rejects(remote().list(), AppApiError);
    answerWith(200, { apps: [{ name: 'x' }] });
    await assert.rejects(remote().list(), /without "apps": is it Herald's admin listener\?/);
    answerWith(200, { ok: true });
    await assert.rejects(remote().show('1'), /without "app"/);
    await assert.rejects(remote().delete('1'), /without "deleted"/);
  });

  test('no server, or no answer in time: AppStoreUnavailable that says so', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(
      remote(new URL(`http://127.0.0.1:${port}`)).list(),
      (err: Error) =>
        err instanceof AppStoreUnavailable &&
        err.message === `cannot reach Herald at http://127.0.0.1:${port}: ECONNREFUSED`,
    );

    silent = true;
    const slow = new RemoteAppManager(base, TOKEN, { timeoutMs: 200 });
    await assert.rejects(
      slow.list(),
      (err: Error) => err instanceof AppStoreUnavailable && /: no answer within 0\.2 s$/.test(err.message),
    );
  });
});
