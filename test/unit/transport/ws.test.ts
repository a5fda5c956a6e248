import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, mock, test } from 'node:test';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import type { Connection, Session, UpgradeRequest } from '../../../src/core/connection.js';
import { Frame } from '../../../src/core/frame.js';
import { Traffic } from '../../../src/core/traffic.js';
import { encodeTextFrame } from '../../../src/transport/frame.js';
import { type WebSocketRoute, WebSocketTransport } from '../../../src/transport/ws.js';
import { RawClient, within } from '../../helpers/raw-client.js';
import { errorOf, RawHttp, rawRequest, UPGRADE_HEADERS } from '../../helpers/raw-http.js';

/**
 * The transport alone on an http.Server, with real sockets on the loopback: upgrades routed by path,
 * writes coalesced per connection, the cap on buffered bytes, the close handshake and its grace.
 */

const GUARD_MS = 5000;
/** How long the transport waits for a client to answer its close frame before cutting the socket. */
const CLOSE_GRACE_MS = 1000;

/** A server-side socket and every batch of chunks that reached it: one batch is one write to the OS. */
interface WatchedSocket {
  readonly socket: Socket;
  readonly writes: Buffer[][];
}

/** A session that records what the transport tells it; `react` answers each text message. */
class Recorder implements Session {
  overflows = 0;
  readonly closed: Promise<number>;
  #resolveClosed!: (code: number) => void;

  constructor(
    readonly connection: Connection,
    readonly request: UpgradeRequest,
    readonly react?: (text: string, session: Recorder) => void,
  ) {
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  onMessage(text: string): void {
    this.react?.(text, this);
  }
  onBinary(): void {}
  onActivity(): void {}
  onOverflow(): void {
    this.overflows++;
  }
  onClose(code: number): void {
    this.#resolveClosed(code);
  }
}

interface Harness {
  readonly transport: WebSocketTransport;
  readonly port: number;
  readonly logs: Record<string, unknown>[];
  /** The server's side of each TCP connection, in the order they were accepted. */
  readonly sockets: WatchedSocket[];
  close(): Promise<void>;
}

/** Counts the writes that reach the socket: a corked batch leaves in one `_writev`. */
function watch(socket: Socket): WatchedSocket {
  const writes: Buffer[][] = [];
  const write = socket._write.bind(socket);
  const writev = socket._writev!.bind(socket);
  socket._write = (chunk: Buffer, encoding, done) => {
    writes.push([chunk]);
    write(chunk, encoding, done);
  };
  socket._writev = (chunks, done) => {
    writes.push(chunks.map((c) => c.chunk as Buffer));
    writev(chunks, done);
  };
  return { socket, writes };
}

async function listen(routes: WebSocketRoute[], maxBufferedBytes = 1024 * 1024): Promise<Harness> {
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const transport = new WebSocketTransport({
    logger: pino({ level: 'debug' }, stream),
    maxPayloadBytes: 1024 * 1024,
    maxBufferedBytes,
  });
  for (const route of routes) transport.route(route);
  const server = createServer((_req, res) => res.end());
  const sockets: WatchedSocket[] = [];
  server.on('connection', (socket: Socket) => sockets.push(watch(socket)));
  transport.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = async () => {
    for (const { socket } of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  return { transport, port, logs, sockets, close };
}

/** A route whose sessions are recorders, kept in the order they opened. */
function recording(
  pattern: RegExp,
  react?: (text: string, session: Recorder) => void,
  protocols?: readonly string[],
): WebSocketRoute & { sessions: Recorder[] } {
  const sessions: Recorder[] = [];
  const open = (connection: Connection, request: UpgradeRequest) => {
    const session = new Recorder(connection, request, react);
    sessions.push(session);
    return session;
  };
  return protocols ? { pattern, protocols, open, sessions } : { pattern, open, sessions };
}

/** A client on `path`, once its upgrade succeeded (bounded, so a transport that never answers fails). */
function connect(h: Harness, path: string): Promise<RawClient> {
  return within(RawClient.open(`ws://127.0.0.1:${h.port}${path}`), GUARD_MS, `the upgrade to ${path}`);
}

const event = (data: unknown) => new Frame(JSON.stringify({ event: 'test', data }));

describe('the upgrade path', () => {
  let h: Harness;
  before(async () => {
    const broken: WebSocketRoute = {
      pattern: /^\/broken\/([^/]+)$/,
      open: () => {
        throw new Error('a protocol that fails to open');
      },
    };
    h = await listen([broken, recording(/^\/fine$/)]);
  });
  after(() => h.close());

  function open(path: string): Promise<{ code: number }> {
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}${path}`);
    ws.on('error', () => {});
    return new Promise((resolve) => ws.once('close', (code) => resolve({ code })));
  }

  test('a session that throws while opening: that socket is cut and the fault logged; others connect', async () => {
    const closed = await within(open('/broken/x'), GUARD_MS, 'the broken socket to close');
    // 1006: cut without a close frame.
    assert.equal(closed.code, 1006);
    const logged = h.logs.find((l) => l.msg === 'websocket session failed to open');
    assert.ok(logged, JSON.stringify(h.logs));
    assert.equal(logged.level, 50);
    assert.equal((logged.err as { message: string }).message, 'a protocol that fails to open');
    assert.equal(h.transport.connectionCount, 0);

    const fine = new WebSocket(`ws://127.0.0.1:${h.port}/fine`);
    await within(
      new Promise((resolve, reject) => fine.once('open', resolve).once('error', reject)),
      GUARD_MS,
      'open',
    );
    fine.terminate();
  });

  test('once refusing new connections: 503 JSON before any parsing, even of a malformed target', async () => {
    h.transport.refuseNew();
    for (const target of ['/fine', '/broken/%ZZ']) {
      const response = await rawRequest(
        h.port,
        `GET ${target} HTTP/1.1\r\nHost: x\r\n${UPGRADE_HEADERS}\r\n`,
      );
      assert.equal(response.status, 503);
      assert.equal(errorOf(response), 'Server is shutting down');
    }
  });

  test('a refused upgrade is closed by the server even when the client keeps its side open', async () => {
    const http = await RawHttp.connect(h.port);
    http.write(`GET /nowhere HTTP/1.1\r\nHost: x\r\n${UPGRADE_HEADERS}\r\n`);
    assert.equal((await http.response(GUARD_MS)).status, 503);
    await http.waitClosed(GUARD_MS);
  });
});

describe('routing by path', () => {
  const app = recording(/^\/app\/([^/]+)$/);
  const other = recording(/^\/other$/);
  const wamp = recording(/^\/ws$/, undefined, ['wamp.2.json', 'wamp.2.msgpack']);
  let h: Harness;
  before(async () => {
    h = await listen([app, other, wamp]);
  });
  after(() => h.close());

  test('each path reaches its own route, with its captures decoded and its query', async () => {
    const a = await connect(h, '/app/key%20one?protocol=7');
    const b = await connect(h, '/other');
    assert.equal(app.sessions.length, 1);
    assert.equal(other.sessions.length, 1);
    const request = app.sessions[0]!.request;
    assert.deepEqual(request.params, ['key one']);
    assert.equal(request.query.get('protocol'), '7');
    assert.equal(request.protocol, '');
    a.ws.terminate();
    b.ws.terminate();
  });

  test('a path no route matches is refused with 404 JSON', async () => {
    const response = await rawRequest(h.port, `GET /nowhere HTTP/1.1\r\nHost: x\r\n${UPGRADE_HEADERS}\r\n`);
    assert.equal(response.status, 404);
    assert.equal(errorOf(response), 'No WebSocket endpoint at /nowhere');
  });

  test("subprotocols: the client's first offer the route speaks is chosen; offering none of them is a 400", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws`, ['wamp.2.cbor', 'wamp.2.msgpack', 'wamp.2.json']);
    await within(
      new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)),
      GUARD_MS,
      'open',
    );
    assert.equal(ws.protocol, 'wamp.2.msgpack');
    assert.equal(wamp.sessions.at(-1)!.request.protocol, 'wamp.2.msgpack');
    ws.terminate();

    const offer = 'Sec-WebSocket-Protocol: wamp.2.cbor\r\n';
    const response = await rawRequest(
      h.port,
      `GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE_HEADERS}${offer}\r\n`,
    );
    assert.equal(response.status, 400);
    assert.equal(errorOf(response), 'Offer one of the WebSocket subprotocols wamp.2.json, wamp.2.msgpack');
  });
});

describe('writes', () => {
  const greeting = ['hello', 'from', 'the session'];
  const route = recording(/^\/$/, (text, session) => {
    if (text === 'burst') for (let i = 0; i < 5; i++) session.connection.send(event(i));
  });
  const greeted: WebSocketRoute = {
    pattern: /^\/greet$/,
    open(connection, request) {
      for (const word of greeting) connection.send(event(word));
      return new Recorder(connection, request);
    },
  };
  let h: Harness;
  before(async () => {
    h = await listen([route, greeted]);
  });
  after(() => h.close());

  test('the 101 response and the frames a session sends as it opens leave in one write', async () => {
    const client = await connect(h, '/greet');
    for (const word of greeting) assert.equal((await within(client.next(), GUARD_MS, word)).data, word);
    const { writes } = h.sockets.at(-1)!;
    assert.equal(writes.length, 1);
    assert.equal(writes[0]!.length, 1 + greeting.length);
    assert.match(writes[0]![0]!.toString('latin1'), /^HTTP\/1\.1 101 /);
    client.ws.terminate();
  });

  test('frames sent within one event-loop turn leave in one write, in order', async () => {
    const client = await connect(h, '/');
    const { writes } = h.sockets.at(-1)!;
    const before = writes.length;
    client.send('burst');
    for (let i = 0; i < 5; i++) assert.equal((await within(client.next(), GUARD_MS, `frame ${i}`)).data, i);
    assert.equal(writes.length, before + 1);
    assert.equal(writes.at(-1)!.length, 5);
    client.ws.terminate();
  });

  test('a frame sent to several connections is encoded once: each socket is handed the same bytes', async () => {
    const a = await connect(h, '/');
    const b = await connect(h, '/');
    const [sa, sb] = h.sockets.slice(-2);
    const frame = event('to both');
    for (const session of route.sessions.slice(-2)) session.connection.send(frame);
    assert.equal((await within(a.next(), GUARD_MS, 'a')).data, 'to both');
    assert.equal((await within(b.next(), GUARD_MS, 'b')).data, 'to both');
    assert.ok(frame.wire);
    assert.equal(sa!.writes.at(-1)![0], frame.wire);
    assert.equal(sb!.writes.at(-1)![0], frame.wire);
    a.ws.terminate();
    b.ws.terminate();
  });
});

describe('buffered bytes are capped', () => {
  const CAP = 256 * 1024;
  const big = event('x'.repeat(64 * 1024));
  let h: Harness;
  /** The most bytes seen waiting on a server-side socket before a send. */
  let mostWaiting = 0;
  const route = recording(/^\/$/, (text, session) => {
    if (text === 'ping') session.connection.send(event('pong'));
    if (text !== 'flood') return;
    const socket = h.sockets.at(-1)!.socket;
    let open = true;
    void session.closed.then(() => (open = false));
    const pump = () => {
      if (!open) return;
      mostWaiting = Math.max(mostWaiting, socket.writableLength);
      session.connection.send(big);
      setImmediate(pump);
    };
    pump();
  });
  before(async () => {
    h = await listen([route], CAP);
  });
  after(() => h.close());

  test('a client that stops reading is cut once its bytes pass the cap; the others are served', async () => {
    const other = await connect(h, '/');
    const slow = await connect(h, '/');
    const session = route.sessions.at(-1)!;
    slow.send('flood');
    slow.ws.pause();
    // 1006: cut at once, without a close handshake the client would not read.
    assert.equal(await within(session.closed, GUARD_MS, 'the slow client to be cut'), 1006);
    assert.equal(session.overflows, 1);
    assert.ok(mostWaiting <= CAP, `${mostWaiting} bytes waited on the socket`);
    const logged = h.logs.find((l) => l.msg === 'slow client disconnected');
    assert.equal(logged?.level, 40);
    assert.equal(h.transport.connectionCount, 1);

    other.send('ping');
    assert.equal((await within(other.next(), GUARD_MS, 'pong')).data, 'pong');
    other.ws.terminate();
    slow.ws.terminate();
  });
});

describe('closing', () => {
  const reason = 'é'.repeat(100);
  const afterClose = event('after close');
  const route = recording(/^\/$/, (text, session) => {
    if (text !== 'bye') return;
    session.connection.send(event(1));
    session.connection.send(event(2));
    session.connection.close(4001, reason);
    session.connection.send(afterClose);
  });
  let h: Harness;
  before(async () => {
    h = await listen([route]);
  });
  after(() => h.close());

  test('close sends what is queued, then the close frame (its reason cut to 123 bytes), then nothing', async () => {
    const client = await connect(h, '/');
    client.send('bye');
    const closed = await within(client.closed, GUARD_MS, 'the close frame');
    assert.deepEqual(
      client.frames.map((f) => f.data),
      [1, 2],
    );
    // 61 two-byte characters: the longest whole prefix within 123 bytes.
    assert.deepEqual(closed, { code: 4001, reason: 'é'.repeat(61) });
    // A frame sent once closing is dropped before it is even encoded.
    assert.equal(afterClose.wire, undefined);
    assert.equal(await within(route.sessions.at(-1)!.closed, GUARD_MS, 'onClose'), 4001);
  });

  test('a client that does not answer the close frame is cut when the grace period ends', async () => {
    const client = await connect(h, '/');
    client.ws.pause();
    const session = route.sessions.at(-1)!;
    const { socket } = h.sockets.at(-1)!;
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      session.connection.close(4000, 'bye');
      mock.timers.tick(CLOSE_GRACE_MS - 1);
      assert.equal(socket.destroyed, false);
      mock.timers.tick(1);
      assert.equal(socket.destroyed, true);
    } finally {
      mock.timers.reset();
    }
    assert.equal(await within(session.closed, GUARD_MS, 'onClose'), 1006);
    client.ws.terminate();
  });
});

describe('counting in an app', () => {
  const traffic = new Traffic();
  const elsewhere = new Traffic();
  const route = recording(/^\/$/, (text, session) => {
    const { connection } = session;
    if (text === 'join') {
      connection.countIn!(traffic);
      connection.countIn!(elsewhere);
      connection.send(event('joined'));
    }
    if (text === 'burst') for (let i = 0; i < 5; i++) connection.send(event(i));
    if (text === 'bye') connection.close(4009, 'bye');
  });
  let h: Harness;
  before(async () => {
    h = await listen([route]);
  });
  after(() => h.close());

  test('from countIn on: the open, messages and bytes both ways, and the code this side closed with', async () => {
    const client = await connect(h, '/');
    client.send('not yet');
    client.send('join');
    assert.equal((await within(client.next(), GUARD_MS, 'joined')).data, 'joined');
    assert.equal(traffic.opened, 1);
    assert.equal(traffic.connections, 1);
    client.send('burst');
    for (let i = 0; i < 5; i++) await within(client.next(), GUARD_MS, `frame ${i}`);
    client.send('bye');
    const closed = await within(client.closed, GUARD_MS, 'the close');
    assert.equal(closed.code, 4009);
    await within(route.sessions.at(-1)!.closed, GUARD_MS, 'onClose');

    const sent = ['joined', 0, 1, 2, 3, 4].map((d) => encodeTextFrame(event(d).text as string).length);
    assert.deepEqual(
      { ...traffic, closed: Object.fromEntries(traffic.closed) },
      {
        connections: 0,
        opened: 1,
        closed: { 4009: 1 },
        // 'join' itself came in before the session counted the connection.
        messagesIn: 2,
        bytesIn: 'burst'.length + 'bye'.length,
        messagesOut: 6,
        bytesOut: sent.reduce((a, b) => a + b, 0),
        clientEvents: 0,
      },
    );
    assert.equal(elsewhere.opened, 0, 'a second countIn is ignored');
    route.sessions.at(-1)!.connection.countIn!(elsewhere);
    assert.equal(elsewhere.opened, 0, 'and so is one after the close');
  });

  test('a close the client starts counts its code; codes outside the known ranges count as other', async () => {
    for (const code of [1000, 3000]) {
      const client = await connect(h, '/');
      client.send('join');
      await within(client.next(), GUARD_MS, 'joined');
      client.ws.close(code);
      await within(route.sessions.at(-1)!.closed, GUARD_MS, 'onClose');
    }
    assert.equal(traffic.closed.get('1000'), 1);
    assert.equal(traffic.closed.get('other'), 1);
    assert.equal(traffic.connections, 0);
    assert.equal(traffic.opened, 3);
  });
});
