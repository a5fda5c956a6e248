import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Outgoing } from '../../../../src/protocol/wamp/codec.js';
import { ProtocolViolation } from '../../../../src/protocol/wamp/errors.js';
import { MessageType, out, parseMessage } from '../../../../src/protocol/wamp/messages.js';
import { Payload } from '../../../../src/protocol/wamp/payload.js';
import { jsonSerializer as json, jsonArraySlices } from '../../../../src/protocol/wamp/serializers/json.js';
import {
  msgpackSerializer as msgpack,
  msgpackArraySlices,
} from '../../../../src/protocol/wamp/serializers/msgpack.js';

const hex = (s: string) => Buffer.from(s, 'hex');
const toHex = (b: string | Uint8Array) => Buffer.from(b as Uint8Array).toString('hex');

// Vectors from the WAMP spec's test suite (wamp-proto, testsuite/singlemessage: welcome.json, publish.json).
const WELCOME_MSGPACK = '9302cf00000002202394b481a5726f6c657382a662726f6b657280a66465616c657280';
const PUBLISH_MSGPACK =
  '9510ce0e49c1af80b2636f6d2e6d796170702e6d79746f7069633191ad48656c6c6f2c20776f726c6421';

describe('msgpack serializer', () => {
  test('encodes the WELCOME vector with the session ID as uint64, not float', () => {
    const bytes = msgpack.encode([2, 9129137332, { roles: { broker: {}, dealer: {} } }], undefined);
    assert.equal(toHex(bytes), WELCOME_MSGPACK);
  });

  test('encodes 2^53 − 1 as uint64 (cf)', () => {
    const bytes = msgpack.encode([2, 2 ** 53 - 1, {}], undefined) as Buffer;
    assert.equal(bytes[2], 0xcf);
  });

  test('decodes the PUBLISH vector and re-encodes it byte for byte, payload kept raw', () => {
    const { items, payload } = msgpack.decode(hex(PUBLISH_MSGPACK));
    const message = parseMessage(items, payload);
    assert.equal(message.type, MessageType.PUBLISH);
    assert.equal(message.type === 16 && message.topic, 'com.myapp.mytopic1');
    assert.equal(message.type === 16 && message.request, 239714735);
    assert.ok(payload);
    assert.equal(toHex(payload.parts(msgpack).args!), '91ad48656c6c6f2c20776f726c6421');
    const again = msgpack.encode([16, 239714735, {}, 'com.myapp.mytopic1'], payload);
    assert.equal(toHex(again), PUBLISH_MSGPACK);
  });

  test('reads uint64 IDs exactly and keeps IDs above 2^53 out of range', () => {
    const ok = msgpack.decode(msgpack.encode([34, 1, 2 ** 53], undefined) as Buffer);
    assert.deepEqual(ok.items, [34, 1, 2 ** 53]);
    const big = msgpack.decode(hex('9322 01 cf0020000000000001'.replaceAll(' ', '')));
    assert.throws(() => parseMessage(big.items, big.payload), ProtocolViolation);
  });

  test('accepts float64 IDs from msgpackr (wampy) when they are integers', () => {
    // [34, 1, 5e9] with 5e9 as float64 (cb), as msgpackr writes numbers above 2^32.
    const { items } = msgpack.decode(hex('932201cb41f2a05f20000000'));
    assert.deepEqual(items, [34, 1, 5e9]);
  });

  test('reads fixext 1 type 0 (msgpackr undefined) as undefined', () => {
    // [32, 1, {"match": undefined}, "a.b"] as wampy sends it.
    const { items } = msgpack.decode(hex('942001 81a56d61746368d40000 a3612e62'.replaceAll(' ', '')));
    const message = parseMessage(items, undefined);
    assert.ok(message.type === 32);
    assert.deepEqual(Object.entries(message.options), [['match', undefined]]);
  });

  test('finds the byte range of every element, whatever its format', () => {
    const value = [
      1,
      -1,
      300,
      -300,
      70000,
      2 ** 40,
      1.5,
      'x'.repeat(40),
      'y'.repeat(300),
      new Uint8Array(300),
      [1, [2, [3]]],
      { a: { b: [null, true, false] } },
      Array.from({ length: 20 }, (_, i) => i),
      Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
    ];
    const bytes = msgpack.encodeValue(value) as Uint8Array;
    const slices = msgpackArraySlices(bytes);
    assert.equal(slices.length, value.length);
    slices.forEach(([start, end], i) => {
      assert.deepEqual(msgpack.decodeValue(bytes.subarray(start, end)), value[i]);
    });
  });

  test('refuses text, truncated data, trailing bytes and non-arrays', () => {
    assert.throws(() => msgpack.decode('[1]'), ProtocolViolation);
    assert.throws(() => msgpack.decode(hex('9301')), ProtocolViolation);
    assert.throws(() => msgpack.decode(hex('910101')), ProtocolViolation);
    assert.throws(() => msgpack.decode(hex('81a16101')), ProtocolViolation);
    assert.throws(() => msgpack.decode(hex('90')), ProtocolViolation);
    assert.throws(() => msgpack.decode(hex('c1')), ProtocolViolation);
  });
});

describe('json serializer', () => {
  test('passes Arguments and ArgumentsKw through byte for byte', () => {
    const text = '[48, 7, {"receive_progress":true}, "com.x", [1.0, "a\\"],[", {"b":1e3}] , {"k" : [ ]} ]';
    const { items, payload } = json.decode(text);
    const message = parseMessage(items, payload);
    assert.equal(message.type, MessageType.CALL);
    const invocation = json.encode([68, 1, 99, {}], payload);
    assert.equal(invocation, '[68,1,99,{},[1.0, "a\\"],[", {"b":1e3}],{"k" : [ ]}]');
  });

  test('splits top-level elements around strings with escapes and brackets', () => {
    const text = ' [ 1 , "a\\\\" , "]\\"," , [ {"x":"}"} ] , {} ] ';
    const slices = jsonArraySlices(text).map(([s, e]) => text.slice(s, e));
    assert.deepEqual(slices, ['1', '"a\\\\"', '"]\\","', '[ {"x":"}"} ]', '{}']);
    assert.deepEqual(jsonArraySlices('[]'), []);
  });

  test('converts binary between JSON (\\u0000 + base64) and MessagePack (bin)', () => {
    const fromJson = json.decode('[16,1,{},"t",["\\u0000AQI=","text"]]');
    const asMsgpack = fromJson.payload!.parts(msgpack).args as Uint8Array;
    assert.equal(toHex(asMsgpack), '92c4020102a474657874');

    const fromMsgpack = msgpack.decode(
      msgpack.encodeValue([16, 1, {}, 't', [new Uint8Array([1, 2])]]) as Buffer,
    );
    assert.equal(fromMsgpack.payload!.parts(json).args, '["\\u0000AQI="]');
  });

  test('encodes the PUBLISHED and ERROR messages the router sends', () => {
    assert.equal(out.published(5, 2 ** 53 - 1).frame(json).text, '[17,5,9007199254740991]');
    const error = out.refusal(34, 3, 'wamp.error.no_such_subscription', 'not subscribed');
    assert.equal(error.frame(json).text, '[8,34,3,{},"wamp.error.no_such_subscription",["not subscribed"]]');
  });

  test('refuses binary data, invalid JSON and non-arrays', () => {
    assert.throws(() => json.decode(Buffer.from('[1]')), ProtocolViolation);
    assert.throws(() => json.decode('[1,'), ProtocolViolation);
    assert.throws(() => json.decode('{"a":1}'), ProtocolViolation);
    assert.throws(() => json.decode('[]'), ProtocolViolation);
  });
});

describe('payload', () => {
  test('keeps kwargs presence and builds [] args for kwargs-only payloads', () => {
    const p = Payload.of(undefined, { a: 1 });
    assert.equal(json.encode([50, 1, {}], p), '[50,1,{},[],{"a":1}]');
    assert.equal(json.encode([50, 1, {}], Payload.of([1])), '[50,1,{},[1]]');
  });

  test('decodes values from either serializer', () => {
    const p = json.decode('[70,1,{},[1,"\\u0000AQI="],{"k":true}]').payload!;
    const { args, kwargs } = p.values();
    assert.equal(args[0], 1);
    assert.deepEqual([...(args[1] as Uint8Array)], [1, 2]);
    assert.deepEqual(kwargs, { k: true });
  });

  test('shares one encoding per serializer between recipients', () => {
    const message = new Outgoing([36, 1, 2, {}], Payload.of(['x']));
    assert.equal(message.frame(json), message.frame(json));
    assert.notEqual(message.frame(json), message.frame(msgpack));
    assert.ok(Buffer.isBuffer(message.frame(msgpack).text));
  });
});

describe('message layouts', () => {
  const parse = (text: string) => {
    const { items, payload } = json.decode(text);
    return parseMessage(items, payload);
  };

  test('names the fields of each client message', () => {
    assert.deepEqual(parse('[1,"realm1",{"roles":{}}]'), {
      type: 1,
      realm: 'realm1',
      details: { roles: {} },
    });
    assert.deepEqual(parse('[34,2,77]'), { type: 34, request: 2, subscription: 77 });
    assert.deepEqual(parse('[49,3,{"mode":"kill"}]'), { type: 49, request: 3, options: { mode: 'kill' } });
    const error = parse('[8,68,4,{},"com.app.err",["x"],{"y":1}]');
    assert.ok(error.type === 8 && error.requestType === 68 && error.error === 'com.app.err' && error.payload);
  });

  for (const bad of [
    '[99,1]',
    '[2,1,{}]',
    '["1","realm1",{}]',
    '[1,"realm1"]',
    '[1,"realm1",{},1]',
    '[32,0,{},"t"]',
    '[32,9007199254740994,{},"t"]',
    '[32,1.5,{},"t"]',
    '[32,1,[],"t"]',
    '[32,1,{},7]',
    '[16,1,{},"t",{}]',
    '[16,1,{},"t",[],[]]',
    '[48,1,{},"p",[],{},1]',
    '[6,{},"wamp.close.normal",[]]',
  ]) {
    test(`refuses ${bad}`, () => assert.throws(() => parse(bad), ProtocolViolation));
  }
});
