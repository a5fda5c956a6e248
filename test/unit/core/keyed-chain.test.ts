import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedChain } from '../../../src/core/keyed-chain.js';

/** A promise and the functions that settle it. */
function gate<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('work on one key runs in the order given, each after the one before has settled', async () => {
  const chain = new KeyedChain();
  const order: string[] = [];
  const first = gate();
  const a = chain.run('k', async () => {
    order.push('a start');
    await first.promise;
    order.push('a end');
    return 1;
  });
  const b = chain.run('k', () => {
    order.push('b');
    return 2;
  });
  assert.deepEqual(order, ['a start'], 'the first step starts at once, the second waits');
  first.resolve();
  assert.equal(await a, 1);
  assert.equal(await b, 2);
  assert.deepEqual(order, ['a start', 'a end', 'b']);
  await chain.settled('k');
  assert.equal(chain.size, 0, 'a key is forgotten once its work has settled');
});

test('keys are independent: a slow key does not hold another', async () => {
  const chain = new KeyedChain();
  const slow = gate();
  void chain.run('slow', () => slow.promise);
  assert.equal(await chain.run('other', async () => 'done'), 'done');
  assert.equal(chain.has('slow'), true);
  slow.resolve();
  await chain.allSettled();
  assert.equal(chain.has('slow'), false);
});

test('a failed step rejects its own promise and the chain goes on', async () => {
  const chain = new KeyedChain();
  const failing = chain.run('k', async () => {
    throw new Error('boom');
  });
  const after = chain.run('k', () => 'still runs');
  await assert.rejects(failing, /boom/);
  assert.equal(await after, 'still runs');
  await assert.rejects(
    chain.run('k', () => {
      throw new Error('thrown synchronously');
    }),
    /thrown synchronously/,
  );
});

test('a synchronous step with nothing pending runs at once and leaves nothing behind', async () => {
  const chain = new KeyedChain();
  let ran = false;
  const result = chain.run('k', () => {
    ran = true;
    return 7;
  });
  assert.equal(ran, true);
  assert.equal(chain.has('k'), false);
  assert.equal(await result, 7);
});

test('settled() waits for the work given so far and never rejects', async () => {
  const chain = new KeyedChain();
  const g = gate();
  const run = chain.run('k', () => g.promise);
  let settled = false;
  const waiting = chain.settled('k').then(() => {
    settled = true;
  });
  await Promise.resolve();
  assert.equal(settled, false);
  g.reject(new Error('failed'));
  await assert.rejects(run, /failed/);
  await waiting;
  assert.equal(settled, true);
});
