import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { errorOf, RawHttp, type RawResponse, rawRequest, UPGRADE_HEADERS } from '../helpers/raw-http.js';

/**
 * Request targets and handshakes that are malformed at the HTTP level, sent on raw sockets (a client
 * library would refuse or normalise them): each gets a JSON refusal, and the server serves on.
 */

const GUARD_MS = 5000;
let server: TestHerald;

before(async () => {
  server = await startHerald();
});

after(async () => {
  await server?.stop();
});

/** Sends `GET target` (an upgrade when `upgrade`), reads the answer, and waits for the server to close. */
async function get(target: string, upgrade: boolean, extra = ''): Promise<RawResponse> {
  const http = await RawHttp.connect(server.port);
  try {
    const headers = upgrade ? UPGRADE_HEADERS : 'Connection: close\r\n';
    http.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}${extra}\r\n`);
    const response = await http.response(GUARD_MS);
    await http.waitClosed(GUARD_MS);
    return response;
  } finally {
    http.destroy();
  }
}

/** The server still accepts a Pusher connection and answers HTTP. */
async function stillServing(): Promise<void> {
  const { client } = await within(RawClient.connect(server.wsUrl()), GUARD_MS, 'a Pusher connection');
  client.close();
  const ready = await fetch(`${server.httpUrl}/ready`);
  assert.equal(ready.status, 200);
  await ready.arrayBuffer();
}

describe('malformed percent-encoding in the path', () => {
  for (const target of ['/app/%ZZ?protocol=7', '/app/%', '/app/%E0%A4%A']) {
    test(`an upgrade to ${target} → 400 JSON before the upgrade`, async () => {
      const response = await get(target, true);
      assert.equal(response.status, 400);
      assert.match(errorOf(response), /^Malformed percent-encoding in path: /);
      await stillServing();
    });
  }

  test('escapes that are not UTF-8 in the app key (/app/%E0%A4) → 400 JSON before the upgrade', async () => {
    const response = await get('/app/%E0%A4?protocol=7', true);
    assert.equal(response.status, 400);
    assert.match(errorOf(response), /^Malformed percent-encoding in path segment: "%E0%A4"$/);
    await stillServing();
  });

  test('well-formed escapes still reach the protocol: /app/app%2Dkey is the app key "app-key"', async () => {
    const http = await RawHttp.connect(server.port);
    http.write(`GET /app/app%2Dkey?protocol=7 HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE_HEADERS}\r\n`);
    const response = await http.response(GUARD_MS);
    http.destroy();
    assert.equal(response.status, 101);
  });

  test('the same targets as plain HTTP requests → 400 JSON', async () => {
    for (const target of ['/app/%ZZ?protocol=7', '/app/%', '/ready%', '/apps/%E0%A4%A/events']) {
      const response = await get(target, false);
      assert.equal(response.status, 400, target);
      assert.match(errorOf(response), /^Malformed percent-encoding in path/);
    }
  });
});

describe('request targets starting with // (a path, never an authority)', () => {
  for (const target of ['//[', '//a:99999/app/app-key', '//127.0.0.1/app/app-key']) {
    test(`an upgrade to ${target} → 404 JSON`, async () => {
      const response = await get(target, true);
      assert.equal(response.status, 404);
      assert.equal(errorOf(response), `No WebSocket endpoint at ${target}`);
      await stillServing();
    });

    test(`GET ${target} → 404 JSON`, async () => {
      const response = await get(target, false);
      assert.equal(response.status, 404);
      assert.equal(errorOf(response), `Not found: ${target}`);
    });
  }

  test('Connection: Upgrade without an Upgrade header reaches the router: 404 JSON', async () => {
    const response = await rawRequest(
      server.port,
      'GET //[ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\r\n',
    );
    assert.equal(response.status, 404);
    assert.equal(errorOf(response), 'Not found: //[');
  });

  test('an absolute-form target whose authority does not parse → 400 JSON; one that parses is served', async () => {
    for (const target of ['http://[/app/app-key', 'http://a:99999/app/app-key', 'ftp://x/app/app-key']) {
      for (const upgrade of [true, false]) {
        const response = await get(target, upgrade);
        assert.equal(response.status, 400, `${target} upgrade=${upgrade}`);
        assert.match(errorOf(response), /^Malformed request target: /);
      }
    }
    const http = await RawHttp.connect(server.port);
    http.write(
      `GET http://127.0.0.1/app/app-key?protocol=7 HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE_HEADERS}\r\n`,
    );
    assert.equal((await http.response(GUARD_MS)).status, 101);
    http.destroy();
    await stillServing();
  });
});

describe('HTTP API path parameters with bad percent-encoding, unsigned', () => {
  const cases: [string, string][] = [
    ['GET', '/apps/%ZZ/channels'],
    ['GET', '/apps/app-id/channels/%ZZ'],
    ['GET', '/apps/app-id/channels/%E0%A4/users'],
    ['POST', '/apps/app-id/users/%ZZ/terminate_connections'],
    ['POST', '/apps/app-id/users/%E0%A4/terminate_connections'],
    ['POST', '/apps/%E0%A4%A/events'],
    ['POST', '/apps/%E0%A4/batch_events'],
  ];
  for (const [method, path] of cases) {
    test(`${method} ${path} → 400 JSON`, async () => {
      const response = await rawRequest(
        server.port,
        `${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}`,
      );
      assert.equal(response.status, 400);
      assert.match(errorOf(response), /^Malformed percent-encoding in path/);
    });
  }
});

describe('handshakes ws would refuse, and requests Node would refuse, answer JSON', () => {
  test('no Sec-WebSocket-Key → 400 JSON', async () => {
    const response = await rawRequest(
      server.port,
      'GET /app/app-key HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    assert.equal(response.status, 400);
    assert.equal(errorOf(response), 'Missing or invalid Sec-WebSocket-Key header');
  });

  test('an unsupported Sec-WebSocket-Version → 400 JSON naming the versions spoken', async () => {
    const response = await rawRequest(
      server.port,
      'GET /app/app-key HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n',
    );
    assert.equal(response.status, 400);
    assert.equal(response.headers['sec-websocket-version'], '13, 8');
    assert.equal(errorOf(response), 'Missing or invalid Sec-WebSocket-Version header');
  });

  test('an upgrade with POST → 405 JSON with Allow: GET', async () => {
    const response = await rawRequest(
      server.port,
      `POST /app/app-key HTTP/1.1\r\nHost: x\r\n${UPGRADE_HEADERS}Content-Length: 0\r\n\r\n`,
    );
    assert.equal(response.status, 405);
    assert.equal(response.headers.allow, 'GET');
    assert.equal(errorOf(response), 'Invalid HTTP method');
  });

  test('a malformed Sec-WebSocket-Protocol on the WAMP path → 400 JSON', async () => {
    const response = await get('/ws', true, 'Sec-WebSocket-Protocol: wamp.2.json,,"\r\n');
    assert.equal(response.status, 400);
    assert.ok(errorOf(response).length > 0);
  });

  test('a request line Node cannot parse → 400 JSON', async () => {
    const response = await rawRequest(server.port, 'GET /a b c\r\nHost: x\r\n\r\n');
    assert.equal(response.status, 400);
    assert.match(errorOf(response), /^Malformed HTTP request: /);
  });

  test('headers past the size limit → 431 JSON', async () => {
    const response = await rawRequest(
      server.port,
      `GET /ready HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    assert.equal(response.status, 431);
    assert.match(errorOf(response), /^Malformed HTTP request: /);
  });

  test('a malformed request after a complete one on the same socket: the first answered, then 400 JSON', async () => {
    const http = await RawHttp.connect(server.port);
    try {
      // The body is declared empty, so "{" starts the next request, which can never be valid.
      http.write('GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n{');
      assert.equal((await http.response(GUARD_MS)).status, 200);
      const refusal = await http.response(GUARD_MS);
      assert.equal(refusal.status, 400);
      assert.match(errorOf(refusal), /^Malformed HTTP request: Parse Error/);
      await http.waitClosed(GUARD_MS);
    } finally {
      http.destroy();
    }
  });

  test('CONNECT → 405 JSON (no proxy here)', async () => {
    const response = await rawRequest(
      server.port,
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    );
    assert.equal(response.status, 405);
    assert.equal(errorOf(response), 'Method CONNECT not allowed');
    await stillServing();
  });

  test('HTTP/1.1 without Host → 400 JSON', async () => {
    const response = await rawRequest(server.port, 'GET /ready HTTP/1.1\r\n\r\n');
    assert.equal(response.status, 400);
    assert.equal(errorOf(response), 'Missing Host header');
  });

  test('an Expect other than 100-continue → 417 JSON', async () => {
    const response = await rawRequest(
      server.port,
      'GET /ready HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n',
    );
    assert.equal(response.status, 417);
    assert.equal(errorOf(response), 'Unsupported expectation: "teapot"');
    await stillServing();
  });
});
