import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { constantTimeEqual } from '../../../src/core/constant-time.js';

test('equal strings are equal, any difference is not', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
      assert.equal(constantTimeEqual(a, a), true);
      assert.equal(constantTimeEqual(a, b), a === b);
    }),
  );
});

test('equal strings, and different ones of the same and of different lengths', () => {
  assert.equal(constantTimeEqual('', ''), true);
  assert.equal(constantTimeEqual('héllo 🎉', 'héllo 🎉'), true);
  assert.equal(constantTimeEqual('abc', 'abd'), false);
  assert.equal(constantTimeEqual('abc', 'ab'), false);
  assert.equal(constantTimeEqual('', 'a'), false);
  assert.equal(constantTimeEqual('abc', 'ABC'), false);
});

test('compares bytes, not UTF-16 units, and lengths that differ are unequal', () => {
  // Same length in UTF-16 code units, different UTF-8 byte lengths.
  assert.equal(constantTimeEqual('é', 'e'), false);
  assert.equal(constantTimeEqual('é', 'e\u0301'), false);
  assert.equal(constantTimeEqual('abc', 'abcd'), false);
  assert.equal(constantTimeEqual('', ''), true);
});
