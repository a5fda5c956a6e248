import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import type { Session } from '../../../src/core/connection.js';
import { WebSocketTransport } from '../../../src/transport/ws.js';
import { within } from '../../helpers/raw-client.js';
import { errorOf, RawHttp, rawRequest, UPGRADE_HEADERS } from '../../helpers/raw-http.js';

/** The transport alone on an http.Server: routes that fail, and the refusals of the upgrade path. */

const GUARD_MS = 5000;
const logs: Record<string, unknown>[] = [];
let server: Server;
let transport: WebSocketTransport;
let port: number;

const quietSession: Session = {
  onMessage() {},
  onBinary() {},
  onActivity() {},
  onOverflow() {},
  onClose() {},
};

before(async () => {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  transport = new WebSocketTransport({
    logger: pino({ level: 'debug' }, stream),
    maxPayloadBytes: 1024 * 1024,
    maxBufferedBytes: 1024 * 1024,
  });
  transport.route({
    pattern: /^\/broken\/([^/]+)$/,
    open: () => {
      throw new Error('a protocol that fails to open');
    },
  });
  transport.route({ pattern: /^\/fine$/, open: () => quietSession });
  server = createServer((_req, res) => res.end());
  transport.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function open(path: string): Promise<{ code: number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  ws.on('error', () => {});
  return new Promise((resolve) => ws.once('close', (code) => resolve({ code })));
}

describe('the upgrade path', () => {
  test('a session that throws while opening: that socket is cut and the fault logged; others connect', async () => {
    const closed = await within(open('/broken/x'), GUARD_MS, 'the broken socket to close');
    // 1006: cut without a close frame.
    assert.equal(closed.code, 1006);
    const logged = logs.find((l) => l.msg === 'websocket session failed to open');
    assert.ok(logged, JSON.stringify(logs));
    assert.equal(logged.level, 50);
    assert.equal((logged.err as { message: string }).message, 'a protocol that fails to open');
    assert.equal(transport.connectionCount, 0);

    const fine = new WebSocket(`ws://127.0.0.1:${port}/fine`);
    await within(
      new Promise((resolve, reject) => fine.once('open', resolve).once('error', reject)),
      GUARD_MS,
      'open',
    );
    fine.terminate();
  });

  test('once refusing new connections: 503 JSON before any parsing, even of a malformed target', async () => {
    transport.refuseNew();
    for (const target of ['/fine', '/broken/%ZZ']) {
      const response = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: x\r\n${UPGRADE_HEADERS}\r\n`);
      assert.equal(response.status, 503);
      assert.equal(errorOf(response), 'Server is shutting down');
    }
  });

  test('a refused upgrade is closed by the server even when the client keeps its side open', async () => {
    const http = await RawHttp.connect(port);
    http.write(`GET /nowhere HTTP/1.1\r\nHost: x\r\n${UPGRADE_HEADERS}\r\n`);
    assert.equal((await http.response(GUARD_MS)).status, 503);
    await http.waitClosed(GUARD_MS);
  });
});
