import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChannelHistory, StreamLimits } from '../../src/core/channel-history/store.js';
import { type StoreHarness, storeFixture } from './store-harness.js';

/**
 * The `ChannelHistory` contract (docs/recovery.md), run against every implementation: offsets from 1
 * increasing by one per channel, an epoch per stream, reads after a position with paging and the
 * `complete` flag when events were dropped by count or age or the position is not the stream's,
 * streams forgotten and begun anew under another epoch, and resume states taken once.
 */

export interface HistoryHarness extends StoreHarness<ChannelHistory> {
  /**
   * Moves the store's clock forward; absent for a store whose time is the broker's, where the cases
   * of expiry are skipped.
   */
  advance?(ms: number): void;
}

const LIMITS: StreamLimits = { maxEvents: 100, ttlMs: 60_000, streamTtlMs: 120_000 };
const text = (n: number) => `{"event":"e","channel":"c","data":"${n}"}`;

export function historyContract(harness: HistoryHarness): void {
  describe(`ChannelHistory contract: ${harness.name}`, { skip: harness.skip }, () => {
    const { store, namespace, shared } = storeFixture(harness);
    const timed = harness.advance ? {} : { skip: `${harness.name}: expiry follows the broker's clock` };

    test('offsets count from 1 per channel under one epoch per stream; position follows', async () => {
      const h = store();
      const ns = namespace();
      assert.equal(await h.position(ns, 'a'), undefined, 'no stream before the first event');
      const a1 = await h.append(ns, 'a', { text: text(1) }, LIMITS);
      const a2 = await h.append(ns, 'a', { text: text(2), except: '1.2' }, LIMITS);
      const b1 = await h.append(ns, 'b', { text: text(1) }, LIMITS);
      assert.equal(a1.offset, 1);
      assert.equal(a2.offset, 2);
      assert.equal(a2.epoch, a1.epoch);
      assert.equal(b1.offset, 1, 'each channel has its own offsets');
      assert.notEqual(b1.epoch, a1.epoch, 'each stream has its own epoch');
      assert.match(a1.epoch, /^[A-Za-z0-9_-]{1,64}$/);
      assert.deepEqual(await h.position(ns, 'a'), a2);
      assert.equal(await h.position(namespace(), 'a'), undefined, 'namespaces are apart');
    });

    test('read: events after a position, oldest first, with their text and except, paged by limit', async () => {
      const h = store();
      const ns = namespace();
      for (let n = 1; n <= 5; n++)
        await h.append(ns, 'c', n === 3 ? { text: text(n), except: '9.9' } : { text: text(n) }, LIMITS);
      const { epoch } = (await h.position(ns, 'c'))!;
      const all = await h.read(ns, 'c', { epoch, offset: 0 }, 100);
      assert.equal(all.complete, true);
      assert.deepEqual(all.position, { epoch, offset: 5 });
      assert.deepEqual(
        all.events.map((e) => [e.offset, e.text, e.except]),
        [1, 2, 3, 4, 5].map((n) => [n, text(n), n === 3 ? '9.9' : undefined]),
      );
      const page = await h.read(ns, 'c', { epoch, offset: 1 }, 2);
      assert.deepEqual(
        page.events.map((e) => e.offset),
        [2, 3],
      );
      assert.equal(page.complete, true);
      const end = await h.read(ns, 'c', { epoch, offset: 5 }, 10);
      assert.deepEqual(end.events, []);
      assert.equal(end.complete, true, 'nothing after the newest is nothing lost');
      const current = await h.read(ns, 'c', { offset: 3 }, 10);
      assert.deepEqual(
        current.events.map((e) => e.offset),
        [4, 5],
        'without an epoch, the current one',
      );
    });

    test('maxEvents drops the oldest; a read from before them is not complete', async () => {
      const h = store();
      const ns = namespace();
      const limits = { ...LIMITS, maxEvents: 3 };
      for (let n = 1; n <= 7; n++) await h.append(ns, 'c', { text: text(n) }, limits);
      const { epoch } = (await h.position(ns, 'c'))!;
      const lost = await h.read(ns, 'c', { epoch, offset: 2 }, 10);
      assert.equal(lost.complete, false);
      assert.deepEqual(
        lost.events.map((e) => e.offset),
        [5, 6, 7],
        'what is kept, from the oldest',
      );
      const edge = await h.read(ns, 'c', { epoch, offset: 4 }, 10);
      assert.equal(edge.complete, true, 'the oldest kept comes right after');
      assert.deepEqual(
        edge.events.map((e) => e.offset),
        [5, 6, 7],
      );
    });

    test('a position of another epoch, or past the newest, is not complete', async () => {
      const h = store();
      const ns = namespace();
      for (let n = 1; n <= 3; n++) await h.append(ns, 'c', { text: text(n) }, LIMITS);
      const other = await h.read(ns, 'c', { epoch: 'another-epoch', offset: 1 }, 10);
      assert.equal(other.complete, false);
      assert.deepEqual(
        other.events.map((e) => e.offset),
        [1, 2, 3],
      );
      const { epoch } = (await h.position(ns, 'c'))!;
      const ahead = await h.read(ns, 'c', { epoch, offset: 9 }, 10);
      assert.equal(ahead.complete, false);
      const none = await h.read(ns, 'nothing', { epoch, offset: 1 }, 10);
      assert.deepEqual(none, { position: undefined, events: [], complete: false });
      const fresh = await h.read(ns, 'nothing', { offset: 0 }, 10);
      assert.deepEqual(fresh, { position: undefined, events: [], complete: true });
      const unknown = await h.read(ns, 'nothing', { offset: 3 }, 10);
      assert.equal(unknown.complete, false, 'an offset of a stream that is not there');
    });

    test('events expire after ttlMs; the stream after streamTtlMs, then begins anew', timed, async () => {
      const h = store();
      const ns = namespace();
      const limits = { maxEvents: 10, ttlMs: 1000, streamTtlMs: 5000 };
      await h.append(ns, 'c', { text: text(1) }, limits);
      harness.advance!(600);
      await h.append(ns, 'c', { text: text(2) }, limits);
      harness.advance!(600);
      const { epoch } = (await h.position(ns, 'c'))!;
      const read = await h.read(ns, 'c', { epoch, offset: 0 }, 10);
      assert.deepEqual(
        read.events.map((e) => e.offset),
        [2],
      );
      assert.equal(read.complete, false, 'event 1 expired');
      harness.advance!(1000);
      assert.deepEqual(await h.position(ns, 'c'), { epoch, offset: 2 }, 'the stream outlives its events');
      const empty = await h.read(ns, 'c', { epoch, offset: 2 }, 10);
      assert.deepEqual(empty.events, []);
      assert.equal(empty.complete, true, 'nothing came after 2');
      harness.advance!(5000);
      assert.equal(await h.position(ns, 'c'), undefined, 'forgotten streamTtlMs after its last append');
      const again = await h.append(ns, 'c', { text: text(3) }, limits);
      assert.equal(again.offset, 1);
      assert.notEqual(again.epoch, epoch, 'a stream begun anew has another epoch');
    });

    test('resume states are kept for their ttl and taken once', async () => {
      const h = store();
      const ns = namespace();
      const state = { socketIds: ['1.1'], channels: { c: { epoch: 'e', base: 3, runs: [4, 2] } } };
      await h.saveResumeState(ns, 'token-1', state, 60_000);
      assert.equal(await h.takeResumeState(namespace(), 'token-1'), undefined, 'namespaces are apart');
      assert.deepEqual(await h.takeResumeState(ns, 'token-1'), state);
      assert.equal(await h.takeResumeState(ns, 'token-1'), undefined, 'taken once');
      assert.equal(await h.takeResumeState(ns, 'unknown'), undefined);
    });

    test('a resume state expires after its ttl', timed, async () => {
      const h = store();
      const ns = namespace();
      await h.saveResumeState(ns, 't', { a: 1 }, 1000);
      harness.advance!(1000);
      assert.equal(await h.takeResumeState(ns, 't'), undefined);
    });

    test('concurrent appends get distinct consecutive offsets', async () => {
      const h = store();
      const ns = namespace();
      const positions = await Promise.all(
        Array.from({ length: 50 }, (_, n) => h.append(ns, 'c', { text: text(n) }, LIMITS)),
      );
      assert.deepEqual(
        positions.map((p) => p.offset).sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, n) => n + 1),
      );
    });

    test('stores of two nodes share streams and resume states', shared, async () => {
      const a = store();
      const b = store();
      const ns = namespace();
      const p = await a.append(ns, 'c', { text: text(1) }, LIMITS);
      assert.deepEqual(await b.position(ns, 'c'), p);
      const q = await b.append(ns, 'c', { text: text(2) }, LIMITS);
      assert.deepEqual(q, { epoch: p.epoch, offset: 2 });
      await a.saveResumeState(ns, 't', { x: 1 }, 60_000);
      assert.deepEqual(await b.takeResumeState(ns, 't'), { x: 1 });
      assert.equal(await a.takeResumeState(ns, 't'), undefined);
    });
  });
}
