import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AutobahnSession, autobahn } from '../helpers/autobahn.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { cborPythonSkip } from '../helpers/python.js';
import { within } from '../helpers/raw-client.js';
import { first, WampClients } from '../helpers/wamp-clients.js';

const bytesOf = (value: unknown) => (value instanceof Uint8Array ? [...value] : value);

/**
 * `wamp.2.cbor` and `wamp.2.cbor.batched` with the clients that speak them (autobahn-js with its CBOR
 * serializer, wampy with cbor-x, autobahn-python with cbor2), next to JSON and MessagePack sessions:
 * byte strings cross between them as the WAMP spec says (bin in MessagePack, `"\0" + base64` in JSON).
 */
describe('WAMP over CBOR', () => {
  let h: TestHerald;
  let clients: WampClients;

  before(async () => {
    h = await startHerald();
    clients = new WampClients(`ws://127.0.0.1:${h.port}/ws`);
  });
  after(async () => {
    await clients.close();
    await h.stop();
  });

  test('autobahn-js joins over wamp.2.cbor, which the session meta API reports', async () => {
    const session = await clients.autobahn('cbor');
    const details = (await session.call('wamp.session.get', [session.id])) as Record<string, unknown>;
    assert.equal(details.serializer, 'cbor');
    assert.equal((details.transport as Record<string, unknown>).protocol, 'wamp.2.cbor');
  });

  test('the session ID and publication IDs past 2^32 travel as CBOR integers, never floats', async () => {
    const client = await clients.raw('cbor');
    const welcome = client.frames[0] as Buffer;
    // [2, <session>, {...}]: 0x83, 0x02, then an unsigned integer head (major type 0), never 0xfb.
    assert.equal(welcome[0], 0x83);
    assert.equal(welcome[2]! >> 5, 0, `session ID head 0x${welcome[2]!.toString(16)}`);
    const request = client.id();
    client.send([16, request, { acknowledge: true }, 'com.cbor.ids']);
    const published = await within(client.reply(request, [17, 8]), 2000, 'PUBLISHED');
    assert.equal(published[0], 17);
    const frame = client.frames.at(-1) as Buffer;
    // [17, request, <publication>]: 0x83, 0x11, the request (one byte), then the publication ID.
    assert.equal(frame[3]! >> 5, 0, `publication ID head 0x${frame[3]!.toString(16)}`);
  });

  test('pub/sub with binary payloads between CBOR, MessagePack and JSON sessions', async () => {
    const topic = 'com.cbor.bytes';
    const [abCbor, abJson, abMsgpack] = [
      await clients.autobahn('cbor'),
      await clients.autobahn('json'),
      await clients.autobahn('msgpack'),
    ];
    const raw = await clients.raw('msgpack');
    const rawSubscription = await raw.subscribe(topic);
    const received = (s: AutobahnSession) =>
      first<[unknown[], Record<string, unknown>]>((cb) =>
        s.subscribe(topic, (args, kwargs) => cb([args, kwargs])),
      );
    const [toJson, toMsgpack] = [received(abJson), received(abMsgpack)];
    await abJson.subscribe(`${topic}.sync`, () => {});
    await abMsgpack.subscribe(`${topic}.sync`, () => {});

    // autobahn-js writes a Uint8Array in CBOR as tag 64, a Buffer as a plain byte string.
    await abCbor.publish(
      topic,
      [new Uint8Array([1, 2]), 'text'],
      { blob: Buffer.from([0xff]) },
      { acknowledge: true },
    );
    const [jsonArgs, jsonKwargs] = await within(toJson, 2000, 'JSON event');
    assert.deepEqual([jsonArgs, jsonKwargs], [['\u0000AQI=', 'text'], { blob: '\u0000/w==' }]);
    const [msgpackArgs, msgpackKwargs] = await within(toMsgpack, 2000, 'MessagePack event');
    assert.deepEqual([msgpackArgs.map(bytesOf), bytesOf(msgpackKwargs.blob)], [[[1, 2], 'text'], [0xff]]);
    const event = await within(
      raw.next((m) => m[0] === 36 && m[1] === rawSubscription),
      2000,
      'raw MessagePack event',
    );
    assert.ok((raw.frames.at(-1) as Buffer).includes(Buffer.from('92c4020102a474657874', 'hex')));
    assert.deepEqual(bytesOf((event[5] as Record<string, unknown>).blob), [0xff]);

    // The other way: autobahn-js JSON has no binary convention of its own, so it writes the string form.
    const back = first<unknown[]>((cb) => abCbor.subscribe(`${topic}.back`, (args) => cb(args)));
    await abCbor.subscribe(`${topic}.back.sync`, () => {});
    await abJson.publish(`${topic}.back`, ['\u0000AQI=', 'x'], {}, { acknowledge: true });
    const [bytes, text] = await within(back, 2000, 'CBOR event');
    assert.ok(bytes instanceof Uint8Array);
    assert.deepEqual([[...bytes], text], [[1, 2], 'x']);
  });

  test('RPC with binary arguments and results across serializers, and wampy with cbor-x', async () => {
    const callee = await clients.autobahn('cbor');
    await callee.register('com.cbor.reverse', (args) => {
      const [data] = args as [Uint8Array];
      return new autobahn.Result([Buffer.from([...data].reverse()), data instanceof Uint8Array]);
    });
    const json = await clients.autobahn('json');
    const result = await json.call<{ args: unknown[] }>('com.cbor.reverse', ['\u0000AQID']);
    assert.deepEqual(result.args, ['\u0000AwIB', true]);

    const msgpack = await clients.raw('msgpack');
    const answer = await msgpack.call('com.cbor.reverse', [new Uint8Array([9, 8])]);
    assert.deepEqual(
      [answer[0], bytesOf((answer[3] as unknown[])[0]), (answer[3] as unknown[])[1]],
      [50, [8, 9], true],
    );

    const wampy = await clients.wampy('cbor');
    const fromWampy = await wampy.call('com.cbor.reverse', { argsList: [new Uint8Array([1, 2, 3])] });
    assert.deepEqual([bytesOf(fromWampy.argsList![0]), fromWampy.argsList![1]], [[3, 2, 1], true]);
    // wampy's cbor-x writes IDs past 2^32 as floats: accepted as IDs (an UNSUBSCRIBE of its subscription).
    const subscription = await wampy.subscribe('com.cbor.wampy', () => {});
    await wampy.unsubscribe(subscription.subscriptionId);
  });

  test('autobahn-python (cbor and cbor.batched) exchanges binary with JSON and MessagePack clients', {
    skip: cborPythonSkip(),
  }, async () => {
    const echo = clients.python('client.py', 'echo', clients.url, 'cbor', 'com.py.echo');
    await within(echo.next('ready'), 10_000, 'python callee');
    const json = await clients.autobahn('json');
    const fromJson = await json.call<{ args: unknown[]; kwargs: Record<string, unknown> }>('com.py.echo', [
      '\u0000AQI=',
      'text',
    ]);
    // Python got bytes and a str, and sent the bytes back.
    assert.deepEqual(fromJson.args, ['\u0000AQI=', 'text']);
    assert.deepEqual(fromJson.kwargs.types, ['bytes', 'str']);
    const cbor = await clients.autobahn('cbor');
    const fromCbor = await cbor.call<{ args: unknown[]; kwargs: Record<string, unknown> }>('com.py.echo', [
      new Uint8Array([0, 255]),
    ]);
    assert.deepEqual([bytesOf(fromCbor.args[0]), fromCbor.kwargs.types], [[0, 255], ['bytes']]);

    // A Python caller on JSON calls a CBOR callee that answers in bytes.
    await cbor.register('com.cbor.double', (args) =>
      Buffer.concat([args[0] as Uint8Array, args[0] as Uint8Array]),
    );
    const caller = clients.python('client.py', 'caller', clients.url, 'json', 'com.cbor.double');
    assert.deepEqual(await within(caller.next('result'), 10_000, 'python result'), {
      result: { hex: '0001feff0001feff' },
    });

    // A Python publisher on cbor.batched reaches JSON and MessagePack subscribers.
    const msgpack = await clients.raw('msgpack');
    const subscription = await msgpack.subscribe('com.py.cbor.ticks');
    const toJson = first<unknown[]>((cb) => json.subscribe('com.py.cbor.ticks', (args) => cb(args)));
    await json.subscribe('com.py.cbor.ticks.sync', () => {});
    const publisher = clients.python(
      'client.py',
      'publisher',
      clients.url,
      'cbor-batched',
      'com.py.cbor.ticks',
    );
    await within(publisher.next('ready'), 10_000, 'python publisher');
    const [tick, bytes] = (await within(toJson, 5000, 'JSON tick')) as [{ n: number }, string];
    assert.deepEqual([typeof tick.n, bytes], ['number', '\u0000AQI=']);
    const event = await within(
      msgpack.next((m) => m[0] === 36 && m[1] === subscription),
      5000,
      'MessagePack tick',
    );
    assert.deepEqual(bytesOf((event[4] as unknown[])[1]), [1, 2]);
  });
});
