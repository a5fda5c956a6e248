import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryCeiling } from '../../../src/core/memory-ceiling.js';

test('over past the ceiling, and again under only below the resume mark', () => {
  let rss = 50;
  let now = 0;
  const changes: [boolean, number][] = [];
  const ceiling = new MemoryCeiling({
    maxBytes: 100,
    resumeRatio: 0.8,
    sampleEveryMs: 10,
    rss: () => rss,
    now: () => now,
    onChange: (over, bytes) => changes.push([over, bytes]),
  });
  assert.equal(ceiling.over, false);
  rss = 101;
  assert.equal(ceiling.over, false, 'the sample is still fresh');
  now += 10;
  assert.equal(ceiling.over, true);
  rss = 90; // below the ceiling, above the resume mark
  now += 10;
  assert.equal(ceiling.over, true);
  rss = 79;
  now += 10;
  assert.equal(ceiling.over, false);
  assert.deepEqual(changes, [
    [true, 101],
    [false, 79],
  ]);
});

test('no ceiling: never over, memory never read', () => {
  const ceiling = new MemoryCeiling({
    maxBytes: null,
    rss: () => {
      throw new Error('read');
    },
  });
  assert.equal(ceiling.over, false);
});
