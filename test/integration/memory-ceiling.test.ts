import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHerald } from '../helpers/herald.js';

test('/ready answers 503 "over-memory" while resident memory is over maxMemoryMB', async () => {
  // Any Node process holds more than 1 MiB: this server is over its ceiling from the start.
  const server = await startHerald({ maxMemoryMB: 1 });
  try {
    const ready = await fetch(`${server.httpUrl}/ready`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'over-memory' });
    const health = await fetch(`${server.httpUrl}/health`);
    assert.equal(health.status, 200, '/health says the process runs, whatever its memory');
    await health.arrayBuffer();
  } finally {
    await server.stop();
  }
  const roomy = await startHerald({ maxMemoryMB: 1024 * 1024 });
  try {
    const ready = await fetch(`${roomy.httpUrl}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready' });
  } finally {
    await roomy.stop();
  }
});
