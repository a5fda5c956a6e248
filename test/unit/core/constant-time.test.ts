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

test('compares bytes, not UTF-16 units, and lengths that differ are unequal', () => {
  assert.equal(constantTimeEqual('é', 'e\u0301'), false);
  assert.equal(constantTimeEqual('abc', 'abcd'), false);
  assert.equal(constantTimeEqual('', ''), true);
});
