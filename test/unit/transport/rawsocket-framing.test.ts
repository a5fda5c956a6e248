import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  encodeRawSocketFrame,
  handshakeReply,
  lengthExponent,
  RawSocketFrameReader,
  RawSocketViolation,
  readHandshake,
  refusalReply,
} from '../../../src/transport/rawsocket-framing.js';

const hex = (s: string) => Buffer.from(s.replaceAll(' ', ''), 'hex');
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('RawSocket handshake', () => {
  test('reads the serializer and the longest message the client accepts', () => {
    assert.deepEqual(readHandshake(hex('7f f1 00 00'), 1024), {
      ok: true,
      serializer: 1,
      maxLength: 2 ** 24,
    });
    assert.deepEqual(readHandshake(hex('7f 12 00 00'), 1024), { ok: true, serializer: 2, maxLength: 1024 });
    assert.deepEqual(readHandshake(hex('7f a3 00 00'), 1024), {
      ok: true,
      serializer: 3,
      maxLength: 2 ** 19,
    });
  });

  test('refuses unknown serializers (0, UBJSON, FlatBuffers, reserved), short lengths and reserved bytes', () => {
    for (const serializer of [0, 4, 5, 6, 15]) {
      const answer = readHandshake(Buffer.from([0x7f, 0xf0 | serializer, 0, 0]), 1024);
      assert.ok(!answer.ok && answer.refusal === 1, `serializer ${serializer}`);
    }
    const short = readHandshake(hex('7f 01 00 00'), 1024);
    assert.ok(!short.ok && short.refusal === 2);
    for (const reserved of ['7f f1 01 00', '7f f1 00 80']) {
      const answer = readHandshake(hex(reserved), 1024);
      assert.ok(!answer.ok && answer.refusal === 3, reserved);
    }
  });

  test('replies echo the serializer with the router length; errors have the low bits clear', () => {
    assert.equal(toHex(handshakeReply(3, 11)), '7fb30000');
    assert.equal(toHex(refusalReply(1)), '7f100000');
    assert.equal(toHex(refusalReply(4)), '7f400000');
  });

  test('the length exponent announces the next power of two, from 512 bytes to 16 MiB', () => {
    assert.equal(lengthExponent(1), 0);
    assert.equal(lengthExponent(512), 0);
    assert.equal(lengthExponent(513), 1);
    assert.equal(lengthExponent(1024 * 1024), 11);
    assert.equal(lengthExponent(2 ** 24), 15);
    assert.equal(lengthExponent(2 ** 30), 15);
  });
});

describe('RawSocket frames', () => {
  test('a header of type and 24-bit length before the payload; exactly 16 MiB sets the 25th bit', () => {
    assert.equal(toHex(encodeRawSocketFrame(0, '[1]')), '000000035b315d');
    assert.equal(toHex(encodeRawSocketFrame(1, Buffer.from([9]))), '0100000109');
    assert.equal(toHex(encodeRawSocketFrame(2, Buffer.alloc(0))), '02000000');
    assert.equal(toHex(encodeRawSocketFrame(0, 'é')), '00000002c3a9');
    const full = encodeRawSocketFrame(0, Buffer.alloc(2 ** 24 - 1));
    assert.equal(toHex(full.subarray(0, 4)), '00ffffff');
    const x = encodeRawSocketFrame(0, Buffer.alloc(2 ** 24));
    assert.equal(toHex(x.subarray(0, 4)), '08000000');
  });

  test('the reader splits frames however the bytes arrive', () => {
    const stream = Buffer.concat([
      encodeRawSocketFrame(0, '[1,2]'),
      encodeRawSocketFrame(1, Buffer.alloc(0)),
      encodeRawSocketFrame(2, Buffer.from('pong')),
    ]);
    const whole = new RawSocketFrameReader(1024).push(stream);
    assert.deepEqual(
      whole.map((f) => [f.type, f.payload.toString()]),
      [
        [0, '[1,2]'],
        [1, ''],
        [2, 'pong'],
      ],
    );
    const reader = new RawSocketFrameReader(1024);
    const bytewise = [...stream].flatMap((byte) => reader.push(Buffer.from([byte])));
    assert.deepEqual(
      bytewise.map((f) => [f.type, f.payload.toString()]),
      whole.map((f) => [f.type, f.payload.toString()]),
    );
  });

  test('a frame of exactly 16 MiB is read from its 25th bit', () => {
    const reader = new RawSocketFrameReader(2 ** 24);
    const [frame] = reader.push(encodeRawSocketFrame(0, Buffer.alloc(2 ** 24, 7)));
    assert.equal(frame!.payload.length, 2 ** 24);
  });

  for (const [header, why] of [
    ['10 000001', /reserved bits/],
    ['80 000001', /reserved bits/],
    ['03 000001', /frame type 3/],
    ['07 000001', /frame type 7/],
    ['08 000001', /bit 25 set with other length bits/],
    ['00 000401', /1025 bytes, over the 1024 announced/],
    ['08 000000', /16777216 bytes, over the 1024 announced/],
  ] as const) {
    test(`refuses the header ${header} (${why.source}) before its payload`, () => {
      assert.throws(
        () => new RawSocketFrameReader(1024).push(hex(header)),
        (err: Error) => err instanceof RawSocketViolation && why.test(err.message),
      );
    });
  }
});
