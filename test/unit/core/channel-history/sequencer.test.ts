import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type Release, StreamSequencer } from '../../../../src/core/channel-history/sequencer.js';
import type { HistoryEvent, HistoryPage } from '../../../../src/core/channel-history/store.js';

/** Events are their offsets; those read from the store are negative, to tell them apart. */
const fromStore = (event: HistoryEvent) => -event.offset;
const at = (offset: number, epoch = 'e1') => ({ epoch, offset });
const page = (from: number, to: number, complete = true, epoch = 'e1'): HistoryPage => ({
  position: { epoch, offset: to },
  events: Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => ({ offset: from + i, text: '' })),
  complete,
});
const sequencer = () => new StreamSequencer<number>({ maxHeld: 4, maxChannels: 2 });

test('in order: each event at once', () => {
  const s = sequencer();
  s.begin('c', at(3));
  for (const offset of [4, 5, 6]) assert.deepEqual(s.offer('c', at(offset), offset), { deliver: [offset] });
});

test('an early event waits for the ones before it, then they go out in order', () => {
  const s = sequencer();
  s.begin('c', at(0));
  assert.deepEqual(s.offer('c', at(3), 3), { deliver: [], missing: 'wait' });
  assert.deepEqual(s.offer('c', at(2), 2), { deliver: [], missing: 'wait' });
  assert.deepEqual(s.offer('c', at(1), 1), { deliver: [1, 2, 3] });
  assert.equal(s.gap('c'), undefined);
});

test('events at or before the beginning, or delivered already, are dropped', () => {
  const s = sequencer();
  s.begin('c', at(5));
  assert.deepEqual(s.offer('c', at(5), 5), { deliver: [] });
  assert.deepEqual(s.offer('c', at(6), 6), { deliver: [6] });
  assert.deepEqual(s.offer('c', at(6), 6), { deliver: [] });
});

test('events that came before the beginning are held, and those after it go out', () => {
  const s = sequencer();
  assert.deepEqual(s.offer('c', at(8), 8), { deliver: [], missing: 'wait' });
  assert.deepEqual(s.offer('c', at(7), 7), { deliver: [], missing: 'wait' });
  assert.deepEqual(s.offer('c', at(6), 6), { deliver: [], missing: 'wait' });
  assert.deepEqual(s.begin('c', at(6)), { deliver: [7, 8] });
  // A later beginning does not move it.
  assert.deepEqual(s.begin('c', at(20)), { deliver: [] });
  assert.deepEqual(s.offer('c', at(9), 9), { deliver: [9] });
});

test('a channel without a stream at its beginning takes offset 1 of any epoch first', () => {
  const s = sequencer();
  s.begin('c', undefined);
  assert.deepEqual(s.offer('c', at(2, 'new'), 2), { deliver: [], missing: 'wait' });
  assert.deepEqual(s.offer('c', at(1, 'new'), 1), { deliver: [1, 2] });
});

test('a missing event the broker lost is read from the store after the wait', () => {
  const s = sequencer();
  s.begin('c', at(0));
  s.offer('c', at(1), 1);
  s.offer('c', at(4), 4);
  assert.deepEqual(s.gap('c'), { epoch: 'e1', after: 1, limit: 3 });
  // The store has 2 to 4; 4 was held, and goes out once, as read.
  assert.deepEqual(s.filled('c', page(2, 4), fromStore), { deliver: [-2, -3, -4] });
  assert.equal(s.gap('c'), undefined);
  assert.deepEqual(s.offer('c', at(3), 3), { deliver: [] });
  assert.deepEqual(s.offer('c', at(5), 5), { deliver: [5] });
});

test('events the store no longer has are skipped: the channel goes on from what it has', () => {
  const s = sequencer();
  s.begin('c', at(0));
  s.offer('c', at(6), 6);
  assert.deepEqual(s.filled('c', page(5, 6, false), fromStore), { deliver: [-5, -6] });
  assert.deepEqual(s.offer('c', at(7), 7), { deliver: [7] });

  s.offer('c', at(9), 9);
  assert.deepEqual(s.filled('c', page(9, 8), fromStore), { deliver: [9] });
});

test('a channel that waited without a beginning settles on the oldest event it holds', () => {
  const s = sequencer();
  s.offer('c', at(12), 12);
  s.offer('c', at(10), 10);
  assert.equal(s.gap('c'), undefined);
  assert.deepEqual(s.settle('c'), { deliver: [10], missing: 'wait' });
  assert.deepEqual(s.gap('c'), { epoch: 'e1', after: 10, limit: 2 });
});

test('a stream begun anew (another epoch) counts from 1; late events of the old one are dropped', () => {
  const s = sequencer();
  s.begin('c', at(40));
  s.offer('c', at(43), 43);
  assert.deepEqual(s.offer('c', at(2, 'e2'), 2), { deliver: [], missing: 'wait' });
  assert.deepEqual(s.offer('c', at(41), 41), { deliver: [] });
  assert.deepEqual(s.offer('c', at(1, 'e2'), 1), { deliver: [1, 2] });
  // The store that began anew is read under its own epoch.
  s.offer('c', at(5, 'e2'), 5);
  assert.deepEqual(s.filled('c', page(3, 5, true, 'e2'), fromStore), { deliver: [-3, -4, -5] });
  assert.deepEqual(s.gap('c'), undefined);
});

test('past the held events of a channel, the rest is read from the store at once', () => {
  const s = sequencer();
  s.begin('c', at(0));
  for (const offset of [2, 3, 4, 5]) assert.equal(s.offer('c', at(offset), offset).missing, 'wait');
  assert.equal(s.offer('c', at(6), 6).missing, 'read');
  assert.deepEqual(s.gap('c'), { epoch: 'e1', after: 0, limit: 6 });
  assert.deepEqual(s.filled('c', page(1, 6), fromStore), { deliver: [-1, -2, -3, -4, -5, -6] });
});

test('past the channels holding events, another channel reads from the store at once', () => {
  const s = sequencer();
  for (const key of ['a', 'b', 'c']) s.begin(key, at(0));
  assert.equal(s.offer('a', at(2), 2).missing, 'wait');
  assert.equal(s.offer('b', at(2), 2).missing, 'wait');
  assert.equal(s.offer('c', at(2), 2).missing, 'read');
  // Once one channel holds nothing, another may hold.
  assert.deepEqual(s.offer('a', at(1), 1), { deliver: [1, 2] });
  assert.equal(s.offer('c', at(3), 3).missing, 'wait');
});

test('a channel forgotten begins again', () => {
  const s = sequencer();
  s.begin('c', at(0));
  s.offer('c', at(3), 3);
  s.forget('c');
  assert.equal(s.size, 0);
  assert.deepEqual(s.begin('c', at(7)), { deliver: [] });
  assert.deepEqual(s.offer('c', at(8), 8), { deliver: [8] });
});

test('any arrival order, any losses: each event once, in offset order, none missing after the fills', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 30 }).chain((n) =>
        fc.tuple(
          fc.shuffledSubarray(
            Array.from({ length: n }, (_, i) => i + 1),
            { minLength: 0, maxLength: n },
          ),
          fc.constant(n),
        ),
      ),
      fc.integer({ min: 1, max: 8 }),
      ([arrivals, n], maxHeld) => {
        const s = new StreamSequencer<number>({ maxHeld, maxChannels: 1 });
        s.begin('c', at(0));
        const out: number[] = [];
        const take = (r: Release<number>) => out.push(...r.deliver.map(Math.abs));
        for (const offset of arrivals) take(s.offer('c', at(offset), offset));
        // The store has everything: fill what is missing until nothing is (the broker lost the rest).
        take(s.offer('c', at(n), n));
        for (let gap = s.gap('c'), i = 0; gap && i < 100; gap = s.gap('c'), i++) {
          take(s.filled('c', page(gap.after + 1, Math.min(n, gap.after + gap.limit)), fromStore));
        }
        assert.deepEqual(
          out,
          Array.from({ length: n }, (_, i) => i + 1),
        );
      },
    ),
    { numRuns: 500 },
  );
});
