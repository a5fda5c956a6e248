import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { type Flushable, FlushScheduler, WriteQueue } from '../../../src/transport/write-queue.js';

/** A socket with `writableLength` bytes in its own buffer, recording what is written. */
function socketWith(writableLength: number) {
  const written: Buffer[] = [];
  const socket = {
    writableLength,
    writable: true,
    write: (b: Buffer) => written.push(b) > 0,
    cork: () => undefined,
    uncork: () => undefined,
  };
  return { socket: socket as unknown as Socket, written };
}

const owner: Flushable = { flush: () => undefined };

test('a frame past the cap is queued when nothing waits before it; the next one is refused', () => {
  const { socket } = socketWith(0);
  const queue = new WriteQueue(socket, new FlushScheduler(), 1000);
  assert.equal(queue.push(Buffer.alloc(5000), owner), true, 'one long message alone');
  assert.equal(queue.push(Buffer.alloc(1), owner), false, 'anything after it passes the cap');
});

test('with bytes waiting in the socket, a frame that would pass the cap is refused', () => {
  const { socket } = socketWith(600);
  const queue = new WriteQueue(socket, new FlushScheduler(), 1000);
  assert.equal(queue.push(Buffer.alloc(400), owner), true, 'up to the cap');
  assert.equal(queue.push(Buffer.alloc(1), owner), false, 'one byte past it');
  const { socket: busy } = socketWith(1);
  assert.equal(new WriteQueue(busy, new FlushScheduler(), 1000).push(Buffer.alloc(5000), owner), false);
});
