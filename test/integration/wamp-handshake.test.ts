import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { encode } from '@msgpack/msgpack';
import { WebSocket } from 'ws';
import { ROUTER_ROLES } from '../../src/protocol/wamp/router.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { CLIENT_ROLES, decodeWamp, encodeWamp, RawWampClient } from '../helpers/wamp-client.js';

describe('WAMP opening handshake, lifecycle and bad input', () => {
  let h: TestHerald;
  let url: string;
  const clients: RawWampClient[] = [];
  const open = async (...args: Parameters<typeof RawWampClient.open>) => {
    const c = await RawWampClient.open(...args);
    clients.push(c);
    return c;
  };
  const join = async (...args: Parameters<typeof RawWampClient.join>) => {
    const c = await RawWampClient.join(...args);
    clients.push(c);
    return c;
  };
  /** ABORT with `reason`, then the transport closes. */
  const aborted = async (c: RawWampClient, reason: string) => {
    const abort = await within(c.next(3), 2000, `ABORT ${reason}`);
    assert.equal(abort[2], reason);
    assert.equal(typeof (abort[1] as { message?: unknown }).message, 'string');
    await within(c.closed, 2000, 'close after ABORT');
  };
  /** Another session still routes calls: a failing session affects nobody else. */
  let checks = 0;
  const othersUnaffected = async () => {
    const callee = await join(url);
    const caller = await join(url, { serialization: 'msgpack' });
    const procedure = `com.check.echo${++checks}`;
    await callee.register(procedure);
    const result = caller.call(procedure, ['ok']);
    const invocation = await within(callee.next(68), 2000, 'INVOCATION');
    callee.send([70, invocation[1], {}, invocation[4]]);
    assert.deepEqual((await within(result, 2000, 'RESULT')).slice(0, 4), [50, 1, {}, ['ok']]);
  };

  before(async () => {
    h = await startHerald({
      wamp: {
        maxMessageBytes: 4096,
        realms: [{ name: 'realm1' }, { name: 'com.example.other' }],
      },
    });
    url = `ws://127.0.0.1:${h.port}/ws`;
  });
  after(async () => {
    for (const c of clients) c.close();
    await h.stop();
  });

  test('an upgrade offering wamp.2.json gets it', async () => {
    const c = await open(url, 'json', 'wamp.2.json');
    assert.equal(c.ws.protocol, 'wamp.2.json');
  });

  test("the client's order wins: msgpack, json selects msgpack", async () => {
    const c = await open(url, 'msgpack', ['wamp.2.msgpack', 'wamp.2.json']);
    assert.equal(c.ws.protocol, 'wamp.2.msgpack');
  });

  test('no acceptable subprotocol, or none, is refused with HTTP 400', async () => {
    await assert.rejects(RawWampClient.open(url, 'json', 'foo.bar'), /HTTP 400/);
    await assert.rejects(RawWampClient.open(url, 'json', []), /HTTP 400/);
  });

  /** A raw socket on a batched subprotocol: the frames as they come. */
  const batchedSocket = async (protocol: string) => {
    const ws = new WebSocket(url, protocol);
    await once(ws, 'open');
    const frames: (string | Buffer)[] = [];
    let wake: () => void = () => {};
    ws.on('message', (data: Buffer, binary) => {
      frames.push(binary ? data : data.toString());
      wake();
    });
    const frame = async () => {
      while (frames.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return frames.shift()!;
    };
    return { ws, frame };
  };
  const hello = ['realm1', { roles: CLIENT_ROLES }] as const;

  test('wamp.2.json.batched: autobahn-python’s 0x18 framing is read and answered in kind', async () => {
    const { ws, frame } = await batchedSocket('wamp.2.json.batched');
    try {
      assert.equal(ws.protocol, 'wamp.2.json.batched');
      ws.send(`${JSON.stringify([1, ...hello])}\x18`);
      const welcome = (await within(frame(), 2000, 'WELCOME')) as string;
      assert.ok(welcome.endsWith('\x18'), JSON.stringify(welcome));
      assert.equal(JSON.parse(welcome.slice(0, -1))[0], 2);
      // Two messages in one frame: a SUBSCRIBE and a PUBLISH to it (not excluded), each answered.
      ws.send(
        `${JSON.stringify([32, 1, {}, 'com.batch.t'])}\x18${JSON.stringify([16, 2, { exclude_me: false }, 'com.batch.t', [7]])}\x18`,
      );
      const subscribed = JSON.parse(((await within(frame(), 2000, 'SUBSCRIBED')) as string).slice(0, -1));
      assert.equal(subscribed[0], 33);
      const event = JSON.parse(((await within(frame(), 2000, 'EVENT')) as string).slice(0, -1));
      assert.deepEqual([event[0], event[4]], [36, [7]]);
    } finally {
      ws.close();
    }
  });

  for (const serialization of ['msgpack', 'cbor'] as const) {
    test(`wamp.2.${serialization}.batched: length-prefixed messages in, one per frame out; a torn batch aborts`, async () => {
      const { ws, frame } = await batchedSocket(`wamp.2.${serialization}.batched`);
      const framed = (...messages: unknown[][]) =>
        Buffer.concat(
          messages.flatMap((m) => {
            const bytes = encodeWamp(m, serialization) as Buffer;
            const length = Buffer.alloc(4);
            length.writeUInt32BE(bytes.length);
            return [length, bytes];
          }),
        );
      const unframe = (data: Buffer) => {
        assert.equal(data.readUInt32BE(0), data.length - 4, 'one length-prefixed message');
        return decodeWamp(data.subarray(4), serialization);
      };
      try {
        ws.send(framed([1, ...hello]));
        assert.equal(unframe((await within(frame(), 2000, 'WELCOME')) as Buffer)[0], 2);
        ws.send(
          framed(
            [32, 1, {}, `com.batch.${serialization}`],
            [16, 2, { exclude_me: false }, `com.batch.${serialization}`, [8]],
          ),
        );
        assert.equal(unframe((await within(frame(), 2000, 'SUBSCRIBED')) as Buffer)[0], 33);
        const event = unframe((await within(frame(), 2000, 'EVENT')) as Buffer);
        assert.deepEqual([event[0], event[4]], [36, [8]]);
        ws.send(framed([16, 3, {}, `com.batch.${serialization}`]).subarray(0, 6)); // cut inside the message
        const abort = unframe((await within(frame(), 2000, 'ABORT')) as Buffer);
        assert.deepEqual([abort[0], abort[2]], [3, 'wamp.error.protocol_violation']);
      } finally {
        ws.close();
      }
    });
  }

  test('a binary frame on wamp.2.json aborts with protocol_violation', async () => {
    const c = await open(url);
    c.send(Buffer.from(JSON.stringify([1, 'realm1', { roles: CLIENT_ROLES }])));
    await aborted(c, 'wamp.error.protocol_violation');
  });

  test('a text frame on wamp.2.msgpack aborts with protocol_violation', async () => {
    const c = await open(url, 'msgpack');
    c.send(JSON.stringify([1, 'realm1', { roles: CLIENT_ROLES }]));
    await aborted(c, 'wamp.error.protocol_violation');
  });

  test('HELLO without authmethods joins as anonymous', async () => {
    const c = await open(url);
    const welcome = await c.hello('realm1');
    assert.equal(welcome[0], 2);
    const details = welcome[2] as Record<string, unknown>;
    assert.equal(details.authmethod, 'anonymous');
    assert.equal(details.authrole, 'anonymous');
    assert.equal(details.realm, 'realm1');
    assert.equal(typeof details.authid, 'string');
  });

  test('WELCOME announces broker and dealer features as boolean maps', async () => {
    const c = await open(url);
    const details = (await c.hello('realm1'))[2] as {
      roles: Record<string, { features: Record<string, unknown> }>;
    };
    assert.deepEqual(Object.keys(details.roles).sort(), ['broker', 'dealer']);
    for (const role of ['broker', 'dealer'] as const) {
      const features = details.roles[role]!.features;
      assert.equal(typeof features, 'object');
      assert.ok(Object.values(features).every((v) => v === true));
    }
    assert.deepEqual(details.roles, ROUTER_ROLES);
  });

  test('the session ID is an integer in [1, 2^53], a msgpack uint (never float)', async () => {
    for (let i = 0; i < 5; i++) {
      const c = await open(url, 'msgpack');
      const welcome = await c.hello('realm1');
      const id = welcome[1] as number;
      assert.ok(Number.isSafeInteger(id) && id >= 1 && id <= 2 ** 53);
      const frame = c.frames[0] as Buffer;
      assert.deepEqual([frame[0], frame[1]], [0x93, 0x02]);
      assert.ok(frame[2]! <= 0x7f || [0xcc, 0xcd, 0xce, 0xcf].includes(frame[2]!), `type byte ${frame[2]}`);
    }
  });

  test('an unknown realm gets ABORT no_such_realm', async () => {
    const c = await open(url);
    const reply = await c.hello('com.nowhere');
    assert.equal(reply[0], 3);
    assert.equal(reply[2], 'wamp.error.no_such_realm');
    await within(c.closed, 2000, 'close');
  });

  test('an invalid realm URI gets ABORT invalid_uri; every configured realm is joinable', async () => {
    const bad = await open(url);
    assert.deepEqual((await bad.hello('bad realm')).slice(2), ['wamp.error.invalid_uri']);
    const other = await open(url);
    assert.equal(
      ((await other.hello('com.example.other'))[2] as { realm: string }).realm,
      'com.example.other',
    );
  });

  test('HELLO without client roles is a protocol violation', async () => {
    const c = await open(url);
    c.send([1, 'realm1', {}]);
    await aborted(c, 'wamp.error.protocol_violation');
  });

  test('a second HELLO after WELCOME aborts and closes', async () => {
    const c = await join(url);
    c.send([1, 'realm1', { roles: CLIENT_ROLES }]);
    await aborted(c, 'wamp.error.protocol_violation');
  });

  test('message type 99 after WELCOME aborts', async () => {
    const c = await join(url);
    c.send([99, 1, {}]);
    await aborted(c, 'wamp.error.protocol_violation');
  });

  test('router-only messages from a client abort (WELCOME, EVENT, INVOCATION)', async () => {
    for (const message of [
      [2, 1, {}],
      [36, 1, 2, {}],
      [68, 1, 2, {}],
    ]) {
      const c = await join(url);
      c.send(message);
      await aborted(c, 'wamp.error.protocol_violation');
    }
  });

  test('SUBSCRIBE before HELLO aborts', async () => {
    const c = await open(url);
    c.send([32, 1, {}, 'com.x']);
    await aborted(c, 'wamp.error.protocol_violation');
  });

  test('GOODBYE or ERROR before WELCOME abort', async () => {
    const a = await open(url);
    a.send([6, {}, 'wamp.close.normal']);
    await aborted(a, 'wamp.error.protocol_violation');
    const b = await open(url);
    b.send([8, 68, 1, {}, 'wamp.error.runtime_error']);
    await aborted(b, 'wamp.error.protocol_violation');
  });

  test("GOODBYE is echoed, the session's subscriptions go, the transport can carry a new session", async () => {
    const c = await join(url);
    const watcher = await join(url);
    await c.subscribe('com.goodbye.topic');
    c.send([6, {}, 'wamp.close.normal']);
    assert.deepEqual(await within(c.next(6), 2000, 'GOODBYE'), [6, {}, 'wamp.close.goodbye_and_out']);
    const lookup = await watcher.call('wamp.subscription.lookup', ['com.goodbye.topic']);
    assert.deepEqual(lookup.slice(0, 4), [50, lookup[1], {}, [null]]);
    const again = await c.hello('realm1');
    assert.equal(again[0], 2);
    assert.notEqual(again[1], 0);
  });

  test('a message over wamp.maxMessageBytes aborts with payload_size_exceeded, others unaffected', async () => {
    const c = await join(url);
    c.send([16, 1, {}, 'com.big', ['x'.repeat(5000)]]);
    await aborted(c, 'wamp.error.payload_size_exceeded');
    await othersUnaffected();
  });

  test('invalid UTF-8 in a text frame closes that connection (1007), others unaffected', async () => {
    const c = await join(url);
    c.ws.send(Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d]), { binary: false });
    assert.equal((await within(c.closed, 2000, 'close')).code, 1007);
    await othersUnaffected();
  });

  for (const [what, message] of [
    ['invalid JSON', '[16, 1, {'],
    ['an empty array', '[]'],
    ['a non-array', '{"type":16}'],
    ['an ID above 2^53', '[32, 9007199254740994, {}, "com.x"]'],
    ['an ID of 0', '[32, 0, {}, "com.x"]'],
    ['a string ID', '[32, "1", {}, "com.x"]'],
    ['options that are a list', '[32, 1, [], "com.x"]'],
    ['too many elements', '[34, 1, 2, 3]'],
    ['too few elements', '[48, 1, {}]'],
    ['Arguments that are a dict', '[16, 1, {}, "com.x", {"a": 1}]'],
    ['ERROR of a type other than INVOCATION', '[8, 48, 1, {}, "com.err"]'],
  ] as const) {
    test(`${what} aborts the session with protocol_violation`, async () => {
      const c = await join(url);
      c.send(message);
      await aborted(c, 'wamp.error.protocol_violation');
    });
  }

  test('msgpack: an ID above 2^53 (uint64) and garbage bytes abort the session', async () => {
    const big = await join(url, { serialization: 'msgpack' });
    big.send(Buffer.from('9322' + '01' + 'cf0020000000000002', 'hex'));
    await aborted(big, 'wamp.error.protocol_violation');
    const garbage = await join(url, { serialization: 'msgpack' });
    garbage.send(Buffer.from([0xc1, 0x00]));
    await aborted(garbage, 'wamp.error.protocol_violation');
    const truncated = await join(url, { serialization: 'msgpack' });
    truncated.send(Buffer.from(encode([16, 1, {}, 'com.x', ['y']])).subarray(0, 8));
    await aborted(truncated, 'wamp.error.protocol_violation');
    await othersUnaffected();
  });

  test('a client ABORT ends the session silently', async () => {
    const c = await join(url);
    const sub = await c.subscribe('com.abort.topic');
    c.send([3, {}, 'wamp.error.cannot_authenticate']);
    await within(c.closed, 2000, 'close');
    const watcher = await join(url);
    const count = await watcher.call('wamp.subscription.count_subscribers', [sub]);
    assert.deepEqual([count[0], count[4]], [8, 'wamp.error.no_such_subscription']);
  });
});

describe('WAMP shutdown', () => {
  test('stop() closes WAMP transports with 1001 and no GOODBYE, so clients reconnect', async () => {
    const h = await startHerald();
    const c = await RawWampClient.join(`ws://127.0.0.1:${h.port}/ws`);
    try {
      await h.stop();
      assert.equal((await within(c.closed, 2000, 'close')).code, 1001);
      assert.deepEqual(
        c.messages.filter((m) => m[0] === 6 || m[0] === 3),
        [],
      );
    } finally {
      c.close();
      await h.stop();
    }
  });
});
