import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Outgoing, SERIALIZERS } from '../../../../../src/protocol/wamp/codec.js';
import { ProtocolViolation } from '../../../../../src/protocol/wamp/errors.js';
import { MessageType, out, parseMessage } from '../../../../../src/protocol/wamp/messages.js';
import { Payload } from '../../../../../src/protocol/wamp/payload.js';
import { cborBatchedSerializer } from '../../../../../src/protocol/wamp/serializers/batched.js';
import { cborSerializer as cbor } from '../../../../../src/protocol/wamp/serializers/cbor.js';
import { scanCborMessage } from '../../../../../src/protocol/wamp/serializers/cbor-scan.js';
import { jsonSerializer as json } from '../../../../../src/protocol/wamp/serializers/json.js';
import { msgpackSerializer as msgpack } from '../../../../../src/protocol/wamp/serializers/msgpack.js';

const hex = (s: string) => Buffer.from(s.replaceAll(' ', ''), 'hex');
const toHex = (b: string | Uint8Array) => Buffer.from(b as Uint8Array).toString('hex');

// Vectors from the WAMP spec's test suite (wamp-proto, testsuite/singlemessage/basic: welcome.json,
// publish.json, event.json), CBOR samples.
const WELCOME = '83021b00000002202394b4a165726f6c6573a26662726f6b6572a0666465616c6572a0';
const PUBLISH = '85101a0e49c1afa072636f6d2e6d796170702e6d79746f70696331816d48656c6c6f2c20776f726c6421';
const EVENT = '8518241a0095e5261b0000001a21a278bea0816d48656c6c6f2c206576656e7421';

describe('cbor serializer', () => {
  test('is offered as wamp.2.cbor and wamp.2.cbor.batched', () => {
    assert.equal(SERIALIZERS.get('wamp.2.cbor'), cbor);
    assert.equal(SERIALIZERS.get('wamp.2.cbor.batched'), cborBatchedSerializer);
  });

  test('encodes the WELCOME vector: the session ID past 2^32 as an integer (1b), never a float', () => {
    const bytes = cbor.encode([2, 9129137332, { roles: { broker: {}, dealer: {} } }], undefined);
    assert.equal(toHex(bytes), WELCOME);
    assert.equal((cbor.encode([2, 2 ** 53 - 1, {}], undefined) as Buffer)[2], 0x1b);
    assert.equal(
      toHex(cbor.encode([36, -(2 ** 40), {}], undefined)),
      '83 18 24 3b 000000ffffffffff a0'.replaceAll(' ', ''),
    );
  });

  test('decodes the PUBLISH vector and re-encodes it byte for byte, the payload kept raw', () => {
    const { items, payload } = cbor.decode(hex(PUBLISH));
    const message = parseMessage(items, payload);
    assert.equal(message.type, MessageType.PUBLISH);
    assert.ok(message.type === 16 && message.topic === 'com.myapp.mytopic1' && message.request === 239714735);
    assert.equal(toHex(payload!.parts(cbor).args!), '816d48656c6c6f2c20776f726c6421');
    assert.equal(toHex(cbor.encode([16, 239714735, {}, 'com.myapp.mytopic1'], payload)), PUBLISH);
  });

  test('encodes the EVENT vector from its MessagePack and JSON forms alike', () => {
    const event = out.event(9823526, 112233445566, {}, Payload.of(['Hello, event!']));
    assert.equal(toHex(event.frame(cbor).text), EVENT);
    const fromJson = json.decode('[16,1,{},"t",["Hello, event!"]]').payload;
    assert.equal(toHex(cbor.encode([36, 9823526, 112233445566, {}], fromJson)), EVENT);
    const fromMsgpack = msgpack.decode(
      msgpack.encodeValue([16, 1, {}, 't', ['Hello, event!']]) as Buffer,
    ).payload;
    assert.equal(toHex(cbor.encode([36, 9823526, 112233445566, {}], fromMsgpack)), EVENT);
  });

  test('reads uint64 IDs exactly and keeps IDs above 2^53 out of range', () => {
    const ok = cbor.decode(cbor.encode([34, 1, 2 ** 53], undefined) as Buffer);
    assert.deepEqual(ok.items, [34, 1, 2 ** 53]);
    const big = cbor.decode(hex('83 1822 01 1b0020000000000001'));
    assert.throws(() => parseMessage(big.items, big.payload), ProtocolViolation);
  });

  test('converts byte strings to JSON ("\\u0000" + base64) and MessagePack (bin), and back', () => {
    // [16, 1, {}, "t", [h'0102', 64(h'0304'), "x"], {"k": h'05'}]: plain and tag-64 byte strings.
    const publish = cbor.decode(hex('86 10 01 a0 6174 83 420102 d840420304 6178 a1 616b 4105'));
    assert.equal(publish.payload!.parts(json).args, '["\\u0000AQI=","\\u0000AwQ=","x"]');
    assert.equal(publish.payload!.parts(json).kwargs, '{"k":"\\u0000BQ=="}');
    assert.equal(toHex(publish.payload!.parts(msgpack).args!), '93c4020102c4020304a178');
    // To CBOR peers the tag-64 byte string goes as a plain one, which cbor2 reads as bytes too.
    assert.equal(toHex(publish.payload!.parts(cbor).args!), '834201024203046178');
    assert.equal(toHex(publish.payload!.parts(cbor).kwargs!), 'a1616b4105');

    const fromJson = json.decode('[16,1,{},"t",["\\u0000AQI=","text"]]');
    assert.equal(toHex(fromJson.payload!.parts(cbor).args!), '824201026474657874');
    const fromMsgpack = msgpack.decode(
      msgpack.encodeValue([16, 1, {}, 't', [new Uint8Array([1, 2])]]) as Buffer,
    );
    assert.equal(toHex(fromMsgpack.payload!.parts(cbor).args!), '81420102');
    const values = publish.payload!.values();
    assert.deepEqual([...(values.args[0] as Uint8Array)], [1, 2]);
    assert.deepEqual([...(values.kwargs.k as Uint8Array)], [5]);
  });

  test('leaves out undefined option values and writes undefined list items as null', () => {
    const bytes = cbor.encode([32, 1, { match: undefined, get_retained: true }, 't'], undefined);
    assert.deepEqual(cbor.decode(bytes as Buffer).items, [32, 1, { get_retained: true }, 't']);
    assert.equal(toHex(cbor.encodeValue([undefined, 1])), '82f601');
    // CBOR's undefined (f7) on the way in counts as absent, as in MessagePack.
    const { items } = cbor.decode(hex('84 1820 01 a1 656d61746368 f7 6161'));
    const message = parseMessage(items, undefined);
    assert.ok(message.type === 32);
    assert.deepEqual(Object.entries(message.options), [['match', undefined]]);
  });

  test('accepts indefinite-length arrays and maps, and payload kwargs keep their presence', () => {
    const { items, payload } = cbor.decode(hex('9f 1846 05 bf ff 9f 01 ff bf 6161 02 ff ff'));
    const message = parseMessage(items, payload);
    assert.ok(message.type === 70 && message.payload?.hasKwargs);
    assert.deepEqual(message.payload.values(), { args: [1], kwargs: { a: 2 } });
    assert.equal(json.encode([50, 5, {}], message.payload), '[50,5,{},[1],{"a":2}]');
  });

  test('shares one encoding per serializer between recipients', () => {
    const message = new Outgoing([36, 1, 2, {}], Payload.of(['x']));
    assert.equal(message.frame(cbor), message.frame(cbor));
    assert.notEqual(message.frame(cbor), message.frame(msgpack));
    assert.equal(toHex(message.frame(cbor).text), '8518240102a0816178');
  });

  test('marks a payload too deep for every serializer without building it', () => {
    const publish = (levels: number) =>
      Buffer.concat([hex('85 10 01 a0 6174'), Buffer.alloc(levels, 0x81), Buffer.from([0x01])]);
    const tooDeep = (bytes: Buffer) => {
      const { items, payload } = cbor.decode(bytes);
      const message = parseMessage(items, payload);
      assert.equal(message.type, 16);
      return 'tooDeep' in message && message.tooDeep === true;
    };
    assert.equal(tooDeep(publish(30_000)), true);
    // 99 lists around 1 is 100 levels, the most a payload may nest.
    assert.equal(tooDeep(publish(99)), false);
    assert.equal(tooDeep(publish(100)), true);
    const kwargs = cbor.decode(
      Buffer.concat([hex('86 10 01 a0 6174 80 a1 6161'), Buffer.alloc(200, 0x81), hex('01')]),
    );
    const m = parseMessage(kwargs.items, kwargs.payload);
    assert.ok(m.type === 16 && m.tooDeep);
    assert.throws(
      () => cbor.decode(Buffer.concat([hex('84 1820 01'), Buffer.alloc(200, 0x81), hex('a0 6174')])),
      /nests deeper than 100 levels/,
    );
  });

  for (const [bad, why] of [
    ['', 'a message must be an array'],
    ['01', 'a message must be an array'],
    ['a0', 'a message must be an array'],
    ['830102', 'truncated'],
    ['9f01', 'truncated'],
    ['8301020304', 'bytes after the message'],
    ['8101ff', 'bytes after the message'],
    ['81ff', 'unexpected break'],
    ['81 bf 6161 ff', 'unexpected break'],
    ['81 d840 01', 'tag 64 must wrap a byte string'],
    ['81 c1 1a514b67b0', 'tag 1 is not supported'],
    ['82 d81c 81 d81d 00', 'tag 28 is not supported'],
    ['81 c2 41 01', 'tag 2 is not supported'],
    ['81 f0', 'simple values'],
    ['81 f8 20', 'simple values'],
    ['81 1c', 'reserved head'],
    ['81 5f 41 01 ff', 'indefinite-length strings'],
    ['81 a1 f5 01', 'map keys must be text or integers'],
    ['81 a1 81 01 01', 'map keys must be text or integers'],
    ['81 a1 69 5f5f70726f746f5f5f 01', 'the key __proto__ is not allowed'],
    ['81 5b ffffffffffffffff', 'truncated'],
    ['81 9b 00000000ffffffff', 'truncated'],
  ] as const) {
    test(`refuses ${bad || 'nothing'} (${why})`, () => {
      assert.throws(
        () => cbor.decode(hex(bad)),
        (err: Error) => {
          assert.ok(err instanceof ProtocolViolation);
          assert.match(err.message, new RegExp(why.replace(/[()]/g, '\\$&')));
          return true;
        },
      );
    });
  }

  test('refuses text frames and an empty array', () => {
    assert.throws(() => cbor.decode('[1]'), /text message on a wamp.2.cbor session/);
    assert.throws(() => cbor.decode(hex('80')), /non-empty CBOR array/);
  });
});

describe('scanCborMessage', () => {
  test('finds the extent and depth of every element, whatever its form', () => {
    // [1, "ab", h'01', 64(h'02'), [], [[1]], {"a": {"b": [null, true, 1.5]}}]
    const bytes = hex('87 01 626162 4101 d8404102 80 8181 01 a1 6161 a1 6162 83 f6 f5 f93e00');
    const { slices, depths, tagged } = scanCborMessage(bytes);
    assert.deepEqual(
      slices.map(([s, e]) => toHex(bytes.subarray(s, e))),
      ['01', '626162', '4101', 'd8404102', '80', '818101', 'a16161a1616283f6f5f93e00'],
    );
    assert.deepEqual(depths, [1, 1, 1, 1, 1, 3, 4]);
    assert.deepEqual(tagged, [false, false, false, true, false, false, false]);
  });

  test('indefinite containers end at their break', () => {
    const bytes = hex('9f 9f 01 02 ff bf 6161 9f 01 ff ff ff');
    const { slices, depths } = scanCborMessage(bytes);
    assert.deepEqual(
      slices.map(([s, e]) => toHex(bytes.subarray(s, e))),
      ['9f0102ff', 'bf61619f01ffff'],
    );
    assert.deepEqual(depths, [2, 3]);
  });
});

describe('cbor.batched serializer', () => {
  test('splits length-prefixed messages and frames each message it sends', () => {
    const batch = Buffer.concat([hex('00000003 820102'), hex('00000002 8103')]);
    assert.deepEqual(
      cborBatchedSerializer.split!(batch).map((m) => toHex(m as Uint8Array)),
      ['820102', '8103'],
    );
    assert.equal(toHex(cborBatchedSerializer.encode([17, 1, 2], undefined)), '0000000483110102');
    assert.throws(() => cborBatchedSerializer.split!(hex('00000009 8101')), /ends inside a message/);
    assert.throws(() => cborBatchedSerializer.split!(hex('0000')), /ends inside a length/);
    assert.throws(() => cborBatchedSerializer.split!('[1]'), /text message on a wamp.2.cbor.batched session/);
  });
});
