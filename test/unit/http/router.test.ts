import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { httpError } from '../../../src/http/errors.js';
import { UNMATCHED_ROUTE } from '../../../src/http/request-counts.js';
import { Router } from '../../../src/http/router.js';
import { rawRequest } from '../../helpers/raw-http.js';

/** The router on a real http.Server: path templates, and every answer counted by route, app and status. */

describe('the router', () => {
  const router = new Router(pino({ level: 'silent' }), 1024);
  let server: Server;
  let base = '';

  before(async () => {
    router.add('GET', '/things/:id/parts/:part_name', (request) => ({
      status: 200,
      body: { params: request.params },
    }));
    router.add('POST', '/apps/:id/events', (request) => {
      // The handler names the app once it knows it; a refusal after that still carries it.
      if (request.params[0] === 'known') request.app = 'known';
      if (request.headers['x-refuse']) throw httpError('NOT_FOUND', 'refused');
      if (request.headers['x-fault']) throw new Error('a handler fault');
      return { status: 200, body: {} };
    });
    router.add('GET', /^\/legacy\/([^/]+)$/, () => ({
      status: 200,
      body: 'legacy',
      contentType: 'text/plain',
    }));
    // As the server creates it: the router answers a missing Host itself.
    server = createServer({ requireHostHeader: false }, router.listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  const counted = () =>
    [...router.counts.entries()].map(({ route, app, status, count }) => `${route} ${app} ${status} ${count}`);

  test("a template's :name segments capture one path segment each, decoded", async () => {
    const response = await fetch(`${base}/things/a%20b/parts/c`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { params: ['a b', 'c'] });
    assert.equal((await fetch(`${base}/things/a/b/parts/c`)).status, 404);
  });

  test('only letters, _, - and :name segments make a template', () => {
    for (const path of ['things', '/things/', '/a.b', '/a/:', '/a/*', '/a/(x)', '/a/:b-c']) {
      assert.throws(
        () => router.add('GET', path, () => ({ status: 200, body: {} })),
        /not a path template/,
        path,
      );
    }
  });

  test('each answer is counted by its route template, the app the handler named and the status', async () => {
    const post = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${base}${path}`, { method: 'POST', headers, body: '{}' }).then((r) => r.status);
    assert.equal(await post('/apps/known/events'), 200);
    assert.equal(await post('/apps/known/events'), 200);
    assert.equal(await post('/apps/known/events', { 'x-refuse': '1' }), 404);
    assert.equal(await post('/apps/unknown/events', { 'x-refuse': '1' }), 404);
    assert.equal(await post('/apps/known/events', { 'x-fault': '1' }), 500);
    assert.equal((await fetch(`${base}/legacy/x`)).status, 200);
    assert.equal((await fetch(`${base}/apps/known/events`)).status, 405);
    assert.equal((await fetch(`${base}/nowhere/at/all`)).status, 404);
    const noHost = await rawRequest(Number(new URL(base).port), 'GET /things/a/parts/b HTTP/1.1\r\n\r\n');
    assert.equal(noHost.status, 400);

    // A pattern route is labelled by its source.
    assert.deepEqual(
      counted().sort(),
      [
        'GET /things/:id/parts/:part_name  200 1',
        'GET ^\\/legacy\\/([^/]+)$  200 1',
        'POST /apps/:id/events  404 1',
        'POST /apps/:id/events known 200 2',
        'POST /apps/:id/events known 404 1',
        'POST /apps/:id/events known 500 1',
        `${UNMATCHED_ROUTE}  400 1`,
        `${UNMATCHED_ROUTE}  404 2`,
        `${UNMATCHED_ROUTE}  405 1`,
      ].sort(),
    );
  });
});

describe('the router: a prefix before a template', () => {
  const router = new Router(pino({ level: 'silent' }), 1024);
  let server: Server;
  let base = '';

  before(async () => {
    const handler = (request: { params: readonly string[] }) => ({
      status: 200,
      body: { params: request.params },
    });
    router.add('GET', '/apps/:id/channels', handler);
    router.add('GET', '/apps/:id/channels', handler, '/rt.v1');
    server = createServer({ requireHostHeader: false }, router.listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  test('the prefix is matched literally, captures nothing and labels the route', async () => {
    const get = (path: string) => fetch(`${base}${path}`).then(async (r) => [r.status, await r.json()]);
    assert.deepEqual(await get('/rt.v1/apps/a%20b/channels'), [200, { params: ['a b'] }]);
    assert.deepEqual(await get('/apps/a/channels'), [200, { params: ['a'] }]);
    assert.equal((await get('/rtXv1/apps/a/channels'))[0], 404);
    assert.equal((await get('/rt.v1/rt.v1/apps/a/channels'))[0], 404);
    const routes = [...router.counts.entries()].map(({ route, status }) => `${route} ${status}`).sort();
    assert.deepEqual(routes, [
      'GET /apps/:id/channels 200',
      'GET /rt.v1/apps/:id/channels 200',
      `${UNMATCHED_ROUTE} 404`,
    ]);
  });

  test('a prefix goes before a template only', () => {
    assert.throws(
      () => router.add('GET', /^\/x$/, () => ({ status: 200, body: {} }), '/rt'),
      /before a path template only/,
    );
  });
});

describe('the router: what a result adds to the response', () => {
  const router = new Router(pino({ level: 'silent' }), 1024);
  let server: Server;
  let base = '';

  before(async () => {
    router.add('POST', '/things/:id/turn-over', (request) => ({
      status: 503,
      body: { params: request.params },
      headers: { 'Retry-After': '5' },
    }));
    server = createServer(router.listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  test('a literal segment may hold -, and the headers a result names are sent with it', async () => {
    const response = await fetch(`${base}/things/a/turn-over`, { method: 'POST' });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '5');
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.deepEqual(await response.json(), { params: ['a'] });
  });
});
