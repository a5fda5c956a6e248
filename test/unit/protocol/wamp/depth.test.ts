import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Encoder } from '@msgpack/msgpack';
import { exceedsDepth, MAX_PAYLOAD_DEPTH } from '../../../../src/protocol/wamp/depth.js';
import { callTimeoutMs, MAX_CALL_TIMEOUT_MS } from '../../../../src/protocol/wamp/options.js';

const nested = (depth: number) => JSON.parse(`${'['.repeat(depth - 1)}1${']'.repeat(depth - 1)}`) as unknown;

describe('the payload depth bound matches the MessagePack encoder', () => {
  const encoder = new Encoder();

  test('depth 100 encodes and is accepted; depth 101 throws in the encoder and is refused', () => {
    assert.doesNotThrow(() => encoder.encode(nested(MAX_PAYLOAD_DEPTH)));
    assert.equal(exceedsDepth(nested(MAX_PAYLOAD_DEPTH)), false);
    assert.throws(() => encoder.encode(nested(MAX_PAYLOAD_DEPTH + 1)), /Too deep objects in depth 101/);
    assert.equal(exceedsDepth(nested(MAX_PAYLOAD_DEPTH + 1)), true);
  });

  test('dicts count like lists, scalars and bytes as one level, empty containers too', () => {
    const dict = JSON.parse(`${'{"a":'.repeat(100)}1${'}'.repeat(100)}`) as unknown;
    assert.throws(() => encoder.encode(dict));
    assert.equal(exceedsDepth(dict), true);
    assert.equal(exceedsDepth(new Uint8Array(8), 1), false);
    assert.equal(exceedsDepth([[]], 2), false);
    assert.equal(exceedsDepth([[[]]], 2), true);
    assert.equal(exceedsDepth('x', 1), false);
  });

  test('a value far past any stack is measured without recursion', () => {
    assert.equal(exceedsDepth(JSON.parse(`${'['.repeat(200_000)}${']'.repeat(200_000)}`)), true);
  });
});

describe('CALL.Options.timeout is capped at the longest timer Node can arm', () => {
  test('up to 2^31 − 1 ms as given; beyond, the cap', () => {
    assert.equal(MAX_CALL_TIMEOUT_MS, 2_147_483_647);
    assert.equal(callTimeoutMs({}), 0);
    assert.equal(callTimeoutMs({ timeout: 0 }), 0);
    assert.equal(callTimeoutMs({ timeout: 200 }), 200);
    assert.equal(callTimeoutMs({ timeout: MAX_CALL_TIMEOUT_MS }), MAX_CALL_TIMEOUT_MS);
    assert.equal(callTimeoutMs({ timeout: 2 ** 32 }), MAX_CALL_TIMEOUT_MS);
    assert.equal(callTimeoutMs({ timeout: 2 ** 53 }), MAX_CALL_TIMEOUT_MS);
    assert.equal(callTimeoutMs({ timeout: 1e300 }), MAX_CALL_TIMEOUT_MS);
  });

  test('anything but a non-negative integer is still refused', () => {
    for (const timeout of [-1, 1.5, '100', Number.POSITIVE_INFINITY]) {
      assert.throws(() => callTimeoutMs({ timeout }), { code: 'ERR_WAMP_INVALID_ARGUMENT' });
    }
  });
});
