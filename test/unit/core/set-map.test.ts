import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SetMap } from '../../../src/core/set-map.js';

test('reports the first member added and the last removed, per key', () => {
  const m = new SetMap<string, number>();
  assert.equal(m.add('a', 1), true);
  assert.equal(m.add('a', 2), false);
  assert.equal(m.add('a', 2), false, 'adding a member twice is not a new first');
  assert.equal(m.add('b', 1), true);
  assert.deepEqual([...m.keys()], ['a', 'b']);
  assert.equal(m.remove('a', 3), false, 'unknown member');
  assert.equal(m.remove('c', 1), false, 'unknown key');
  assert.equal(m.remove('a', 1), false);
  assert.equal(m.has('a'), true);
  assert.equal(m.remove('a', 2), true);
  assert.equal(m.has('a'), false);
  assert.equal(m.get('a'), undefined);
  assert.equal(m.size, 1);
  assert.equal(m.add('a', 9), true, 'a key emptied and filled again starts over');
});
