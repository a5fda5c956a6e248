import assert from 'node:assert/strict';
import { get } from 'node:https';
import { after, before, describe, test } from 'node:test';
import type { AutobahnSession } from '../helpers/autobahn.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { autobahnPythonSkip, cborPythonSkip } from '../helpers/python.js';
import { within } from '../helpers/raw-client.js';
import { RawSocketClient } from '../helpers/rawsocket-client.js';
import { opensslSkip, TestPki } from '../helpers/tls.js';
import { first, WampClients } from '../helpers/wamp-clients.js';

const bytesOf = (value: unknown) => (value instanceof Uint8Array ? [...value] : value);

/**
 * WAMP over RawSocket with the clients that speak it: autobahn-js in Node (JSON: its RawSocket
 * transport speaks nothing else) and autobahn-python's asyncio Component (JSON, MessagePack, CBOR), on
 * RawSocket's own port and on the public port, next to WebSocket sessions of every serializer.
 */
describe('WAMP over RawSocket with autobahn-js and autobahn-python', () => {
  let h: TestHerald;
  let clients: WampClients;
  const where = () =>
    [
      ['its own port', h.herald.rawSocketPort!],
      ['the public port', h.port],
    ] as const;

  before(async () => {
    h = await startHerald({ wamp: { rawsocket: { host: '127.0.0.1', port: 0 } } });
    clients = new WampClients(`ws://127.0.0.1:${h.port}/ws`);
  });
  after(async () => {
    await clients.close();
    await h.stop();
  });

  /** An autobahn-js session over RawSocket to `port` (JSON), closed with the others. */
  const rawsocketAutobahn = (port: number): Promise<AutobahnSession> =>
    clients.autobahn('json', { transports: [{ type: 'rawsocket', host: '127.0.0.1', port }] });

  test('autobahn-js over RawSocket: register, call, subscribe and publish with WebSocket sessions', async () => {
    for (const [name, port] of where()) {
      const raw = await rawsocketAutobahn(port);
      const procedure = `com.rs.js.${raw.id}.add`;
      await raw.register(procedure, (args) => (args[0] as number) + (args[1] as number));
      const cbor = await clients.autobahn('cbor');
      assert.equal(await cbor.call(procedure, [2, 3]), 5, name);
      assert.equal(await raw.call(procedure, [4, 5]), 9, name);

      const topic = `com.rs.js.${raw.id}.news`;
      const toRaw = first<unknown[]>((cb) => raw.subscribe(topic, (args) => cb(args)));
      await raw.subscribe(`${topic}.sync`, () => {});
      const msgpack = await clients.autobahn('msgpack');
      await msgpack.publish(topic, [new Uint8Array([1, 2]), 'over RawSocket'], {}, { acknowledge: true });
      // autobahn-js over JSON: binary in the WAMP spec's string form.
      assert.deepEqual(await within(toRaw, 2000, `event on ${name}`), ['\u0000AQI=', 'over RawSocket']);

      const toCbor = first<unknown[]>((cb) => cbor.subscribe(`${topic}.back`, (args) => cb(args)));
      await cbor.subscribe(`${topic}.back.sync`, () => {});
      await raw.publish(`${topic}.back`, ['\u0000AwQ='], {}, { acknowledge: true });
      assert.deepEqual((await within(toCbor, 2000, 'event over WebSocket')).map(bytesOf), [[3, 4]]);

      const details = (await raw.call('wamp.session.get', [raw.id])) as Record<string, unknown>;
      assert.deepEqual(details.transport, { type: 'rawsocket', protocol: 'wamp.2.json' });
    }
  });

  for (const serialization of ['json', 'msgpack', 'cbor'] as const) {
    const skip = serialization === 'cbor' ? cborPythonSkip() : autobahnPythonSkip();
    test(`autobahn-python asyncio Component over RawSocket (${serialization}): roundtrip with bytes`, {
      skip,
    }, async () => {
      for (const [name, port] of where()) {
        const p = clients.python(
          'rawsocket_client.py',
          'roundtrip',
          '127.0.0.1',
          String(port),
          serialization,
        );
        const joined = await within(p.next('joined'), 10_000, `join on ${name}`);
        assert.equal(joined.serializer, serialization);
        assert.deepEqual(await within(p.next('call'), 5000, 'call'), { call: 5 });
        assert.deepEqual(await within(p.next('event'), 5000, 'event'), {
          event: [['hello', { hex: '0102' }], { key: 'value' }],
        });
        assert.deepEqual(await within(p.next('left'), 5000, 'leave'), { left: 'wamp.close.goodbye_and_out' });
        assert.equal(await within(p.exited, 5000, 'exit'), 0);
      }
    });
  }

  test('a Python callee over RawSocket (msgpack) gets bytes from WebSocket JSON and CBOR callers', {
    skip: autobahnPythonSkip(),
  }, async () => {
    const p = clients.python(
      'rawsocket_client.py',
      'echo',
      '127.0.0.1',
      String(h.port),
      'msgpack',
      'com.rs.py.echo',
    );
    await within(p.next('ready'), 10_000, 'python callee');
    const json = await clients.autobahn('json');
    const fromJson = await json.call<{ args: unknown[]; kwargs: Record<string, unknown> }>('com.rs.py.echo', [
      '\u0000AQI=',
      7,
    ]);
    assert.deepEqual(
      [fromJson.args, fromJson.kwargs.types],
      [
        ['\u0000AQI=', 7],
        ['bytes', 'int'],
      ],
    );
    const cbor = await clients.autobahn('cbor');
    const fromCbor = await cbor.call<{ args: unknown[]; kwargs: Record<string, unknown> }>('com.rs.py.echo', [
      Buffer.from([0, 255]),
    ]);
    assert.deepEqual([bytesOf(fromCbor.args[0]), fromCbor.kwargs.types], [[0, 255], ['bytes']]);
  });
});

describe('RawSocket over TLS on the public port', { skip: opensslSkip }, () => {
  let pki: TestPki;
  let h: TestHerald;

  before(async () => {
    pki = await TestPki.create();
    const certificate = await pki.issue('server');
    h = await startHerald({ tls: { cert: certificate.cert, key: certificate.key } });
  });
  after(async () => {
    await h?.stop();
    await pki?.remove();
  });

  test('the first byte after the TLS handshake tells RawSocket from HTTPS', async () => {
    const client = await RawSocketClient.join(h.port, 'cbor', { tls: true });
    client.send([48, 1, {}, 'wamp.session.count', []]);
    assert.deepEqual((await within(client.next(), 5000, 'RESULT')).slice(0, 4), [50, 1, {}, [1]]);
    client.close();
    const status = await new Promise<number | undefined>((resolve, reject) => {
      get(`${h.httpUrl}/ready`, { ca: pki.root.certPem }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).once('error', reject);
    });
    assert.equal(status, 200);
  });
});
