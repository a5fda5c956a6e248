import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { StreamTally } from '../../../../src/protocol/pusher/stream-tally.js';

const at = (epoch: string, offset: number) => ({ epoch, offset });

test('a count maps to the offset of the event that many sends in, base for none', () => {
  const tally = new StreamTally(100);
  tally.begin(at('e', 10));
  for (const offset of [11, 12, 14, 15]) tally.record(at('e', offset));
  assert.equal(tally.count, 4);
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((n) => tally.offsetAt(n)),
    [10, 11, 12, 14, 15],
  );
  assert.equal(tally.offsetAt(5), undefined, 'more than were sent');
  assert.equal(tally.offsetAt(-1), undefined);
  assert.equal(tally.offsetAt(1.5), undefined);
  assert.equal(tally.last, 15);
  assert.equal(tally.covers(at('e', 15)), true);
  assert.equal(tally.covers(at('e', 16)), false);
  assert.equal(tally.covers(at('other', 3)), false);
});

test('no stream yet: counting from 0, and the cache event counted at the base', () => {
  const tally = new StreamTally(10);
  tally.begin(undefined);
  assert.equal(tally.epoch, null);
  tally.recordAtBase();
  tally.record(at('e', 1));
  assert.deepEqual(
    [0, 1, 2].map((n) => tally.offsetAt(n)),
    [0, 0, 1],
  );
  assert.equal(tally.epoch, 'e', 'the first event names the epoch');
});

test('only the newest window of offsets is kept; older counts are not known', () => {
  const tally = new StreamTally(3);
  tally.begin(at('e', 0));
  for (let offset = 1; offset <= 10; offset++) tally.record(at('e', offset));
  assert.deepEqual(
    Array.from({ length: 11 }, (_, n) => tally.offsetAt(n)),
    [0, undefined, undefined, undefined, undefined, undefined, undefined, 7, 8, 9, 10],
  );
});

test('an event of another epoch begins counting anew under it', () => {
  const tally = new StreamTally(10);
  tally.begin(at('one', 5));
  tally.record(at('one', 6));
  tally.record(at('two', 1));
  tally.record(at('two', 2));
  assert.equal(tally.epoch, 'two');
  assert.deepEqual(
    [0, 1, 2, 3].map((n) => tally.offsetAt(n)),
    [undefined, 0, 1, 2],
  );
});

test('an event sent without an offset makes every count unknown', () => {
  const tally = new StreamTally(10);
  tally.begin(at('e', 0));
  tally.record(at('e', 1));
  tally.lost = true;
  assert.equal(tally.offsetAt(1), undefined);
});

test('toJSON and fromJSON give the same mapping; anything else is refused', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: 1, max: 3 })), { maxLength: 40 }),
      (window, steps) => {
        const tally = new StreamTally(window);
        tally.begin(at('a', 0));
        let offset = 0;
        let epoch = 'a';
        for (const [e, step] of steps) {
          if (e !== epoch) {
            epoch = e;
            offset = 0;
          }
          offset += step;
          tally.record(at(epoch, offset));
        }
        const copy = StreamTally.fromJSON(JSON.parse(JSON.stringify(tally)), window);
        assert.ok(copy);
        for (let n = 0; n <= tally.count + 1; n++) assert.equal(copy.offsetAt(n), tally.offsetAt(n));
        assert.equal(copy.last, tally.last);
      },
    ),
  );
  const good = new StreamTally(4).toJSON();
  for (const bad of [
    null,
    [],
    'x',
    { ...good, epoch: 7 },
    { ...good, base: -1 },
    { ...good, count: 1.5 },
    { ...good, runs: [1] },
    { ...good, runs: [1, 1], count: 0 },
    { ...good, runs: Array(20).fill(1) },
    { ...good, start: 3 },
    { ...good, lost: 'no' },
  ]) {
    assert.equal(StreamTally.fromJSON(bad, 4), undefined, JSON.stringify(bad));
  }
});

test('take counts what covers does not, and the mapping is that of every offset sent (a model)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 0, max: 5 }),
      fc.array(
        fc.oneof(
          fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: -2, max: 3 })),
          fc.constant('copy' as const),
        ),
        { maxLength: 60 },
      ),
      (window, base, steps) => {
        let tally = new StreamTally(window);
        tally.begin(at('a', base));
        // The model: the offsets counted under the current epoch, and the count they began at.
        let model = { epoch: 'a', base, start: 0, sent: [] as number[] };
        let count = 0;
        for (const step of steps) {
          if (step === 'copy') {
            const copy = StreamTally.fromJSON(JSON.parse(JSON.stringify(tally)), window);
            assert.ok(copy);
            tally = copy;
            continue;
          }
          const [epoch, delta] = step;
          const newest = model.epoch === epoch ? (model.sent.at(-1) ?? model.base) : 0;
          const position = at(epoch, Math.max(newest + delta, 1));
          const covered = tally.covers(position);
          assert.equal(tally.take(position), !covered);
          if (covered) continue;
          count++;
          if (epoch !== model.epoch) model = { epoch, base: 0, start: count - 1, sent: [] };
          model.sent.push(position.offset);
        }
        assert.equal(tally.count, count);
        assert.equal(tally.epoch, model.epoch);
        assert.equal(tally.last, model.sent.at(-1) ?? model.base);
        for (let n = 0; n <= count + 1; n++) {
          const i = n - model.start;
          const known = n <= count && (i === 0 || (i > 0 && i >= model.sent.length - window));
          const want = !known ? undefined : i === 0 ? model.base : model.sent[i - 1];
          assert.equal(tally.offsetAt(n), want, `n=${n}`);
        }
      },
    ),
    { numRuns: 500 },
  );
});
