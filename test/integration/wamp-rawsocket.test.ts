import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { HERALD_BIN, LineProcess } from '../helpers/line-process.js';
import { within } from '../helpers/raw-client.js';
import { RawSocketClient, rawSocketFrame } from '../helpers/rawsocket-client.js';
import { RawWampClient } from '../helpers/wamp-client.js';

const GUARD_MS = 5000;
const hex = (s: string) => Buffer.from(s.replaceAll(' ', ''), 'hex');

/**
 * WAMP over RawSocket (docs/wamp.md, "RawSocket") byte by byte, on its own port and on the public port:
 * the handshake and each error reply, frames both ways, PING and PONG, the failures the spec asks for,
 * both sides' length limits, the connection limits, slow clients and shutdown.
 */
describe('WAMP over RawSocket, byte by byte', () => {
  let h: TestHerald;
  const clients: RawSocketClient[] = [];
  const track = <T extends RawSocketClient>(client: T) => {
    clients.push(client);
    return client;
  };
  const ports = () =>
    [
      ['its own port', h.herald.rawSocketPort!],
      ['the public port', h.port],
    ] as const;

  before(async () => {
    // 3000 bytes at most over RawSocket: the handshake announces 4 KiB (the next power of two).
    // WebSocket keeps its own limit (16 MiB by default).
    h = await startHerald({
      wamp: { rawsocket: { host: '127.0.0.1', port: 0 }, rawsocketMaxMessageBytes: 3000 },
    });
  });
  after(async () => {
    for (const c of clients) c.close();
    await h.stop();
  });

  for (const where of ['its own port', 'the public port'] as const) {
    const portOf = () => ports().find(([name]) => name === where)![1];

    for (const [serialization, id] of [
      ['json', 1],
      ['msgpack', 2],
      ['cbor', 3],
    ] as const) {
      test(`${where}, ${serialization}: the serializer is echoed with the router's length, then HELLO gets WELCOME`, async () => {
        const client = track(await RawSocketClient.connect(portOf()));
        const reply = await within(client.handshake([0x7f, 0xf0 | id, 0, 0]), GUARD_MS, 'the reply');
        // 4 KiB is 2^(9+3).
        assert.equal(reply.toString('hex'), `7f3${id}0000`);
        client.serialization = serialization;
        client.send([1, 'realm1', { roles: { subscriber: {} } }]);
        const welcome = await within(client.next(), GUARD_MS, 'WELCOME');
        assert.equal(welcome[0], 2);
      });
    }

    test(`${where}: unsupported serializers, a too short length and reserved bytes get the spec's error replies`, async () => {
      for (const [handshake, reply] of [
        ['7f f0 00 00', '7f100000'], // 0 is illegal
        ['7f f4 00 00', '7f100000'], // UBJSON
        ['7f f5 00 00', '7f100000'], // FlatBuffers
        ['7f ff 00 00', '7f100000'],
        ['7f 01 00 00', '7f200000'], // 512 bytes: not even WELCOME fits
        ['7f f1 00 01', '7f300000'],
        ['7f f1 80 00', '7f300000'],
      ] as const) {
        const client = track(await RawSocketClient.connect(portOf()));
        client.write(hex(handshake));
        const answer = await within(client.end(), GUARD_MS, `the answer to ${handshake}`);
        assert.equal(answer.toString('hex'), reply, handshake);
      }
    });

    test(`${where}: a handshake in pieces, and frames in the same packet as its last byte`, async () => {
      const client = track(await RawSocketClient.connect(portOf()));
      client.write(hex('7f'));
      client.write(hex('f1'));
      client.write(hex('00'));
      client.write(Buffer.concat([hex('00'), rawSocketFrame(0, '[1,"realm1",{"roles":{"caller":{}}}]')]));
      assert.equal((await within(client.reply(), GUARD_MS, 'the reply')).toString('hex'), '7f310000');
      assert.equal((await within(client.next(), GUARD_MS, 'WELCOME'))[0], 2);
    });
  }

  test('not RawSocket on the RawSocket port: the connection closes without a reply', async () => {
    const client = track(await RawSocketClient.connect(h.herald.rawSocketPort!));
    client.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.equal((await within(client.end(), GUARD_MS, 'the close')).length, 0);
  });

  test('PING is answered with one PONG echoing its payload; a PONG is taken in silence', async () => {
    const client = track(await RawSocketClient.join(h.herald.rawSocketPort!));
    client.write(rawSocketFrame(1, Buffer.from([0, 1, 2, 255])));
    const pong = await within(client.frame(2), GUARD_MS, 'PONG');
    assert.deepEqual([...pong.payload], [0, 1, 2, 255]);
    client.write(rawSocketFrame(1, Buffer.alloc(0)));
    assert.equal((await within(client.frame(2), GUARD_MS, 'empty PONG')).payload.length, 0);
    client.write(rawSocketFrame(2, 'unasked'));
    const request = client.id();
    client.send([32, request, {}, 'com.rs.after.pong']);
    assert.equal((await within(client.next(), GUARD_MS, 'SUBSCRIBED'))[0], 33);
    assert.deepEqual(client.frames, [], 'nothing answers a PONG');
  });

  for (const [header, why] of [
    ['10 000003', 'reserved bits set'],
    ['03 000003', 'transport message type 3'],
    ['08 000003', 'the 25th length bit with other length bits'],
    ['00 001388', 'a length of 5000 bytes, over the 4 KiB announced'],
  ] as const) {
    test(`a frame header with ${why} fails the connection; others are served`, async () => {
      const client = track(await RawSocketClient.join(h.herald.rawSocketPort!));
      const other = track(await RawSocketClient.join(h.port));
      client.write(Buffer.concat([hex(header), Buffer.from('[6,{},"wamp.close.normal"]').subarray(0, 3)]));
      await within(client.closed, GUARD_MS, 'the connection to fail');
      assert.deepEqual(client.messages, [], 'no ABORT: the connection is failed');
      other.write(rawSocketFrame(1, 'still there'));
      assert.equal((await within(other.frame(2), GUARD_MS, 'PONG')).payload.toString(), 'still there');
    });
  }

  test('a message over wamp.rawsocketMaxMessageBytes but within the announced length gets ABORT payload_size_exceeded', async () => {
    const client = track(await RawSocketClient.join(h.herald.rawSocketPort!));
    client.send([16, client.id(), {}, 'com.rs.big', ['x'.repeat(3500)]]);
    const abort = await within(client.next(), GUARD_MS, 'ABORT');
    assert.deepEqual([abort[0], abort[2]], [3, 'wamp.error.payload_size_exceeded']);
    await within(client.closed, GUARD_MS, 'the close after ABORT');
  });

  test('each transport has its limit: the same message over WebSocket is published', async () => {
    const ws = await RawWampClient.join(`ws://127.0.0.1:${h.port}/ws`);
    try {
      const request = ws.id();
      ws.send([16, request, { acknowledge: true }, 'com.rs.big', ['x'.repeat(3500)]]);
      const reply = await within(ws.reply(request, [17, 8]), GUARD_MS, 'PUBLISHED');
      assert.equal(reply[0], 17, JSON.stringify(reply));
    } finally {
      ws.close();
    }
  });

  test('a JSON message that is not UTF-8 fails the connection', async () => {
    const client = track(await RawSocketClient.join(h.herald.rawSocketPort!));
    client.write(rawSocketFrame(0, Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d])));
    await within(client.closed, GUARD_MS, 'the connection to fail');
    assert.deepEqual(client.messages, []);
  });

  test('a client accepting 1 KiB is sent no longer message: an event is skipped, a result becomes an error', async () => {
    const small = track(await RawSocketClient.join(h.herald.rawSocketPort!, 'msgpack', { exponent: 1 }));
    const request = small.id();
    small.send([32, request, {}, 'com.rs.sizes']);
    const subscription = (await within(small.next(), GUARD_MS, 'SUBSCRIBED'))[2];
    const publisher = await RawWampClient.join(`ws://127.0.0.1:${h.port}/ws`);
    const ws = await RawWampClient.join(`ws://127.0.0.1:${h.port}/ws`);
    try {
      const wsSubscription = await ws.subscribe('com.rs.sizes');
      publisher.send([16, publisher.id(), {}, 'com.rs.sizes', ['x'.repeat(2000)]]);
      publisher.send([16, publisher.id(), {}, 'com.rs.sizes', ['small']]);
      const [big, tiny] = [
        await within(ws.next(36), GUARD_MS, 'event'),
        await within(ws.next(36), GUARD_MS, 'event'),
      ];
      assert.deepEqual([big[1], (big[4] as string[])[0]!.length, tiny[4]], [wsSubscription, 2000, ['small']]);
      const event = await within(small.next(), GUARD_MS, 'the small event');
      assert.deepEqual([event[0], event[1], event[4]], [36, subscription, ['small']]);

      await ws.register('com.rs.long');
      small.send([48, 99, {}, 'com.rs.long', []]);
      const invocation = await within(ws.next(68), GUARD_MS, 'INVOCATION');
      ws.send([70, invocation[1], {}, ['y'.repeat(2000)]]);
      const answer = await within(small.next(), GUARD_MS, 'the answer');
      assert.deepEqual([answer[0], answer[2], answer[4]], [8, 99, 'wamp.error.payload_size_exceeded']);
    } finally {
      publisher.close();
      ws.close();
    }
  });

  test('the session meta API names the transport and its serializer', async () => {
    const client = track(await RawSocketClient.join(h.port, 'cbor'));
    client.send([48, 7, {}, 'wamp.session.get', [client.sessionId]]);
    const result = await within(client.next(), GUARD_MS, 'RESULT');
    const details = (result[3] as Record<string, unknown>[])[0]!;
    assert.deepEqual(
      [details.serializer, details.transport],
      ['cbor', { type: 'rawsocket', protocol: 'wamp.2.cbor' }],
    );
  });
});

describe('RawSocket connections: limits, slow clients, timeouts, shutdown', () => {
  test('maxConnections counts RawSocket and WebSocket connections together; a refusal gets error 4', async () => {
    const h = await startHerald({ maxConnections: 1, wamp: { rawsocket: { host: '127.0.0.1', port: 0 } } });
    try {
      const raw = await RawSocketClient.join(h.herald.rawSocketPort!);
      await assert.rejects(RawWampClient.open(`ws://127.0.0.1:${h.port}/ws`), /HTTP 503/);
      raw.close();
      await within(
        (async () => {
          while (h.herald.connectionCount > 0) await new Promise((resolve) => setImmediate(resolve));
        })(),
        GUARD_MS,
        'the close to be seen',
      );
      const ws = await RawWampClient.open(`ws://127.0.0.1:${h.port}/ws`);
      for (const port of [h.herald.rawSocketPort!, h.port]) {
        const refused = await RawSocketClient.connect(port);
        refused.write(hex('7f f1 00 00'));
        assert.equal((await within(refused.end(), GUARD_MS, 'error 4')).toString('hex'), '7f400000');
      }
      ws.close();
    } finally {
      await h.stop();
    }
  });

  test('a client that stops reading is cut; everyone else is served', async () => {
    const h = await startHerald({ maxBufferedBytes: 64 * 1024 });
    try {
      const stalled = await RawSocketClient.join(h.port);
      stalled.send([32, 1, {}, 'com.rs.firehose']);
      await within(stalled.next(), GUARD_MS, 'SUBSCRIBED');
      stalled.socket.pause();
      const publisher = await RawSocketClient.join(h.port);
      // Past the kernel's socket buffers the server's own queue fills, and the client is cut (overflow).
      for (let sent = 0; h.herald.connectionCount > 1; sent++) {
        assert.ok(sent < 5000, 'the stalled client is cut before 45 MB were sent to it');
        const request = publisher.id();
        publisher.send([16, request, { acknowledge: true }, 'com.rs.firehose', ['x'.repeat(9000)]]);
        await within(
          publisher.next((m) => m[0] === 17 && m[1] === request),
          GUARD_MS,
          'PUBLISHED',
        );
      }
      publisher.write(rawSocketFrame(1, 'alive'));
      assert.equal((await within(publisher.frame(2), GUARD_MS, 'PONG')).payload.toString(), 'alive');
      publisher.close();
      stalled.close();
    } finally {
      await h.stop();
    }
  });

  test('a client that never completes its handshake is closed after wamp.helloTimeoutMs', async () => {
    const h = await startHerald({ wamp: { helloTimeoutMs: 200, rawsocket: { host: '127.0.0.1', port: 0 } } });
    try {
      const silent = await RawSocketClient.connect(h.herald.rawSocketPort!);
      const partial = await RawSocketClient.connect(h.port);
      partial.write(hex('7f f1'));
      assert.equal((await within(silent.end(), GUARD_MS, 'the silent one closed')).length, 0);
      assert.equal((await within(partial.end(), GUARD_MS, 'the partial one closed')).length, 0);
    } finally {
      await h.stop();
    }
  });

  test('on shutdown, sessions end with their transport (no GOODBYE) and handshakes under way are cut', async () => {
    const h = await startHerald({ wamp: { rawsocket: { host: '127.0.0.1', port: 0 } } });
    const joined = await RawSocketClient.join(h.herald.rawSocketPort!);
    const pending = await RawSocketClient.connect(h.herald.rawSocketPort!);
    pending.write(hex('7f'));
    // The handshake's first byte has reached the server once another connection's round trip is done.
    const probe = await RawSocketClient.open(h.herald.rawSocketPort!);
    probe.close();
    const stopped = h.stop();
    await within(joined.closed, GUARD_MS, 'the close');
    assert.deepEqual(joined.messages, [], 'no GOODBYE or ABORT: clients reconnect elsewhere');
    await within(pending.closed, GUARD_MS, 'the connection still in its handshake is cut');
    await within(stopped, GUARD_MS, 'stop');
  });
});

test('herald start with HERALD_WAMP_RAWSOCKET_PORT: the listener is logged and serves RawSocket', async () => {
  const run = new LineProcess([HERALD_BIN, 'start', '--host', '127.0.0.1', '--port', '0'], {
    HERALD_WAMP_RAWSOCKET_HOST: '127.0.0.1',
    HERALD_WAMP_RAWSOCKET_PORT: '0',
  });
  try {
    const line = await within(
      run.next((l) => /^WAMP RawSocket listener on tcp:\/\/127\.0\.0\.1:\d+$/.test(String(l.msg))),
      10_000,
      'the RawSocket listener line',
    );
    const client = await RawSocketClient.join(line.port as number, 'msgpack');
    assert.ok(client.sessionId > 0);
    client.close();
  } finally {
    assert.deepEqual(await within(run.stop(), 10_000, 'herald to stop'), { code: 0, signal: null });
  }
});
