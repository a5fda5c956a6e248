import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { Router } from '../../../src/http/router.js';

const logger = pino({ level: 'silent' });

describe('Router#include', () => {
  const shared = new Router(logger, 1024);
  let calls = 0;
  shared.add('GET', /^\/shared$/, () => ({ status: 200, body: { calls: ++calls } }));
  const own = new Router(logger, 1024);
  own.add('GET', /^\/own$/, () => ({ status: 200, body: 'own' }));
  own.include(shared);
  shared.add('GET', /^\/later$/, () => ({ status: 200, body: 'later' }));
  let server: Server;
  let base: string;
  before(async () => {
    server = createServer(own.listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  const get = async (path: string) => {
    const response = await fetch(base + path);
    return { status: response.status, body: await response.json() };
  };

  test('serves its own routes and the included ones, the same handlers with their state', async () => {
    assert.deepEqual(await get('/own'), { status: 200, body: 'own' });
    assert.deepEqual(await get('/shared'), { status: 200, body: { calls: 1 } });
    assert.deepEqual(await get('/shared'), { status: 200, body: { calls: 2 } });
  });

  test('routes added to the other router afterwards are not included: 404 like any unknown path', async () => {
    assert.deepEqual(await get('/later'), { status: 404, body: { error: 'Not found: /later' } });
  });
});
