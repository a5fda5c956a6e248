import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeClientMessage,
  jsonTooDeep,
  MAX_JSON_DEPTH,
  objectData,
} from '../../../../src/protocol/pusher/codec.js';
import { nestedJsonText } from '../../../fuzz/harness.js';

test('jsonTooDeep counts nested objects and arrays up to the limit, and one past it', () => {
  for (const kind of ['array', 'object'] as const) {
    assert.equal(jsonTooDeep(nestedJsonText(MAX_JSON_DEPTH, kind)), false, kind);
    assert.equal(jsonTooDeep(nestedJsonText(MAX_JSON_DEPTH + 1, kind)), true, kind);
  }
  assert.equal(jsonTooDeep('[[[1]],[[2]],{"a":{"b":[3]}}]', 4), false, 'siblings do not add up');
  assert.equal(jsonTooDeep('[[[1]],[[2]],{"a":{"b":[3]}}]', 3), true);
  assert.equal(jsonTooDeep('[[[[1]]]]', 3), true);
});

test('jsonTooDeep ignores brackets inside strings, escaped quotes included', () => {
  const text = JSON.stringify({ s: '['.repeat(1000), t: '\\"{{{{', u: '"[[[' });
  assert.equal(jsonTooDeep(text, 1), false);
  assert.equal(jsonTooDeep(JSON.stringify(['\\', [[1]]]), 2), true, 'an escaped backslash ends');
});

test('deep frames and deep JSON strings are refused before parsing', () => {
  const frame = `{"event":"client-x","channel":"private-a","data":${nestedJsonText(MAX_JSON_DEPTH)}}`;
  const decoded = decodeClientMessage(frame);
  assert.equal(decoded.ok, false);
  assert.match(!decoded.ok ? decoded.error : '', /nested deeper than 64 levels/);
  assert.equal(decodeClientMessage(`{"event":"client-x","data":${nestedJsonText(63)}}`).ok, true);
  assert.equal(objectData(`{"channel":"a","x":${nestedJsonText(MAX_JSON_DEPTH)}}`), undefined);
  assert.deepEqual(objectData('{"channel":"a"}'), { channel: 'a' });
});
