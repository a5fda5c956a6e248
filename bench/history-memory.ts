#!/usr/bin/env node
/**
 * Memory per stored event of a channel stream on one node (docs/recovery.md, "Limits and memory"):
 * appends 100,000 events to the in-process store, each its own frame as publishing makes them, over
 * 100 channels, and divides the heap's growth (after full collections) by their number.
 *
 *   node --expose-gc dist/bench/history-memory.js      (after npm run build)
 */
import { MemoryChannelHistory } from '../src/core/channel-history/memory.js';
import { encodeChannelEvent } from '../src/protocol/pusher/codec.js';

const EVENTS = 100_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc');
  process.exit(2);
}

for (const size of [100, 1000, 10_000]) {
  gc();
  const before = process.memoryUsage().heapUsed;
  const history = new MemoryChannelHistory();
  for (let i = 0; i < EVENTS; i++) {
    const channel = `orders-${i % 100}`;
    const data = JSON.stringify({ n: i, v: 'x'.repeat(size) });
    // A flat string of its own, as a frame read from the network or encoded from a request is.
    const text = Buffer.from(encodeChannelEvent('price', channel, data)).toString();
    await history.append(
      'pusher:bench',
      channel,
      { text },
      {
        maxEvents: EVENTS,
        ttlMs: 3_600_000,
        streamTtlMs: 3_600_000,
      },
    );
  }
  gc();
  const perEvent = (process.memoryUsage().heapUsed - before) / EVENTS;
  const frame = encodeChannelEvent(
    'price',
    'orders-10',
    JSON.stringify({ n: 99_999, v: 'x'.repeat(size) }),
  ).length;
  console.log(`data of ${size} B, frame of ${frame} B: ${Math.round(perEvent)} B of heap per stored event`);
  await history.close();
}
