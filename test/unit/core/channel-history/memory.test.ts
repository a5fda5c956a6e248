import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryChannelHistory } from '../../../../src/core/channel-history/memory.js';

test('a long stream keeps exactly its newest maxEvents, read back in pages', async () => {
  const history = new MemoryChannelHistory();
  const limits = { maxEvents: 300, ttlMs: 60_000, streamTtlMs: 60_000 };
  for (let n = 1; n <= 5000; n++) await history.append('ns', 'c', { text: String(n) }, limits);
  const seen: number[] = [];
  let after = 4700;
  for (;;) {
    const page = await history.read('ns', 'c', { offset: after }, 64);
    assert.equal(page.complete, true);
    if (page.events.length === 0) break;
    for (const e of page.events) {
      assert.equal(e.text, String(e.offset));
      seen.push(e.offset);
    }
    after = page.events.at(-1)!.offset;
  }
  assert.deepEqual(
    seen,
    Array.from({ length: 300 }, (_, i) => 4701 + i),
  );
  assert.equal((await history.read('ns', 'c', { offset: 4699 }, 1)).complete, false);
  await history.close();
});
