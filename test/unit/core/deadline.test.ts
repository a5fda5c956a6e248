import assert from 'node:assert/strict';
import { test } from 'node:test';
import { atMost } from '../../../src/core/deadline.js';

test('gives the promise its value when it settles in time', async () => {
  assert.equal(await atMost(Promise.resolve('value'), 60_000), 'value');
});

test('passes the promise rejection on', async () => {
  await assert.rejects(atMost(Promise.reject(new Error('nope')), 60_000), /nope/);
});

test('gives undefined once the time is up, and leaves no timer behind', async () => {
  const never = new Promise<string>(() => {});
  assert.equal(await atMost(never, 1), undefined);
  // A timer left behind would show as an active handle of this process.
  const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout');
  assert.equal(timers.length, 0);
});

test('gives undefined at once when the signal aborts, before the time is up', async () => {
  const never = new Promise<string>(() => {});
  const stop = new AbortController();
  const waiting = atMost(never, 60_000, stop.signal);
  stop.abort();
  assert.equal(await waiting, undefined);
  const already = AbortSignal.abort();
  assert.equal(await atMost(never, 60_000, already), undefined);
  assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, 0);
});
